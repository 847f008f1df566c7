package azkvtest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
	"slices"
	"time"

	"github.com/decred/dcrd/dcrec/secp256k1/v4"
)

// keyEntry is a key name with its versions, oldest first.
type keyEntry struct {
	versions []*keyVersion
}

// keyVersion is one version of a key. Exactly one of rsaKey, ecKey, k1Key,
// octKey is set. It is immutable once stored: UpdateKey stores a changed
// copy.
type keyVersion struct {
	name, version string
	kty           string // as created or imported, e.g. "RSA-HSM"
	ops           []string
	created       time.Time
	updated       time.Time
	enabled       bool
	tags          map[string]string
	imported      bool

	rsaKey *rsa.PrivateKey
	ecKey  *ecdsa.PrivateKey // P-256, P-384, P-521
	k1Key  *secp256k1.PrivateKey
	octKey []byte
}

func (k *keyVersion) curve() string {
	switch {
	case k.k1Key != nil:
		return "P-256K"
	case k.ecKey != nil:
		return k.ecKey.Curve.Params().Name
	}
	return ""
}

func (k *keyVersion) hasOp(op string) bool { return slices.Contains(k.ops, op) }

// kid is the key identifier: {vault}/keys/{name}/{version}.
func (s *Server) kid(k *keyVersion) string { return s.URL() + "/keys/" + k.name + "/" + k.version }

// The JSON shapes of the REST API (KeyBundle, JsonWebKey, KeyAttributes).
type jsonWebKey struct {
	Kid    string   `json:"kid,omitempty"`
	Kty    string   `json:"kty,omitempty"`
	KeyOps []string `json:"key_ops,omitempty"`
	N      string   `json:"n,omitempty"`
	E      string   `json:"e,omitempty"`
	Crv    string   `json:"crv,omitempty"`
	X      string   `json:"x,omitempty"`
	Y      string   `json:"y,omitempty"`
	// Request-only members, never answered.
	D      string `json:"d,omitempty"`
	DP     string `json:"dp,omitempty"`
	DQ     string `json:"dq,omitempty"`
	QI     string `json:"qi,omitempty"`
	P      string `json:"p,omitempty"`
	Q      string `json:"q,omitempty"`
	K      string `json:"k,omitempty"`
	KeyHSM string `json:"key_hsm,omitempty"`
}

type keyAttributes struct {
	Enabled         *bool  `json:"enabled,omitempty"`
	Created         int64  `json:"created,omitempty"`
	Updated         int64  `json:"updated,omitempty"`
	RecoveryLevel   string `json:"recoveryLevel,omitempty"`
	RecoverableDays int    `json:"recoverableDays,omitempty"`
	Exportable      *bool  `json:"exportable,omitempty"`
	HSMPlatform     string `json:"hsmPlatform,omitempty"`
	// Request members the fake accepts and ignores (documented in doc.go).
	NotBefore *int64 `json:"nbf,omitempty"`
	Expires   *int64 `json:"exp,omitempty"`
}

type keyBundle struct {
	Key        jsonWebKey        `json:"key"`
	Attributes keyAttributes     `json:"attributes"`
	Tags       map[string]string `json:"tags,omitempty"`
	Managed    *bool             `json:"managed,omitempty"`
}

var b64 = base64.RawURLEncoding

func ptr[T any](v T) *T { return &v }

// bundle is the public view of k: never a private part, never oct key bytes.
func (s *Server) bundle(k *keyVersion) keyBundle {
	jwk := jsonWebKey{Kid: s.kid(k), Kty: k.kty, KeyOps: slices.Clone(k.ops)}
	switch {
	case k.rsaKey != nil:
		jwk.N = b64.EncodeToString(k.rsaKey.N.Bytes())
		jwk.E = b64.EncodeToString(big.NewInt(int64(k.rsaKey.E)).Bytes())
	case k.ecKey != nil:
		size := (k.ecKey.Curve.Params().BitSize + 7) / 8
		jwk.Crv = k.curve()
		jwk.X = b64.EncodeToString(k.ecKey.X.FillBytes(make([]byte, size)))
		jwk.Y = b64.EncodeToString(k.ecKey.Y.FillBytes(make([]byte, size)))
	case k.k1Key != nil:
		pub := k.k1Key.PubKey().SerializeUncompressed() // 0x04 ‖ X ‖ Y
		jwk.Crv = "P-256K"
		jwk.X = b64.EncodeToString(pub[1:33])
		jwk.Y = b64.EncodeToString(pub[33:65])
	}
	updated := k.updated
	if updated.IsZero() {
		updated = k.created
	}
	attrs := keyAttributes{
		Enabled: ptr(k.enabled), Created: k.created.Unix(), Updated: updated.Unix(),
		RecoveryLevel: "Recoverable+Purgeable", RecoverableDays: 90,
		Exportable: ptr(false),
	}
	if !s.cfg.managedHSM {
		attrs.HSMPlatform = "2"
	}
	return keyBundle{Key: jwk, Attributes: attrs, Tags: k.tags}
}

// lookup returns the named version (latest when version is ""). The caller
// holds s.mu.
func (s *Server) lookup(name, version string) (*keyVersion, *kvError) {
	e := s.keys[name]
	if e == nil || len(e.versions) == 0 {
		return nil, keyNotFound("A key with (name/id) %s was not found in this key vault.", name)
	}
	if version == "" {
		return e.versions[len(e.versions)-1], nil
	}
	for _, v := range e.versions {
		if v.version == version {
			return v, nil
		}
	}
	return nil, keyNotFound("A key with (name/id) %s/%s was not found in this key vault.", name, version)
}

// store adds k as the newest version of its name.
func (s *Server) store(k *keyVersion) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.keys[k.name]
	if e == nil {
		e = &keyEntry{}
		s.keys[k.name] = e
	}
	e.versions = append(e.versions, k)
}

// checkCreateType is row 14 (and 8 for sizes): which key types this resource
// holds.
func (s *Server) checkType(kty string) *kvError {
	switch kty {
	case ktyRSAHSM, ktyECHSM:
		return nil
	case ktyRSA, ktyEC:
		if s.cfg.managedHSM {
			return badParam("Managed HSM supports only HSM-protected keys; use kty %s-HSM (%s)", kty, docAboutKeys)
		}
		return nil
	case ktyOctHSM:
		if !s.cfg.managedHSM {
			return badParam("oct-HSM (symmetric) keys are supported on Managed HSM only, not in vaults (%s)", docAboutKeys)
		}
		return nil
	case ktyOct:
		return badParam("software oct keys are not supported; on Managed HSM use kty oct-HSM (%s)", docAboutKeys)
	}
	return badParam("kty %q is not a key type Key Vault supports (RSA, RSA-HSM, EC, EC-HSM, oct-HSM)", kty)
}

// checkKeyOps is rows 2 and 10: ops must be known and allowed for the key
// family; "import" only on an RSA-HSM key and alone. Empty ops mean every
// operation the family allows (Key Vault's default), never "import".
func checkKeyOps(kty string, ops []string) ([]string, *kvError) {
	allowed := allowedOps[family(kty)]
	if len(ops) == 0 {
		return slices.Clone(allowed), nil
	}
	seen := map[string]bool{}
	for _, op := range ops {
		if seen[op] {
			return nil, badParam("key_ops names %q twice", op)
		}
		seen[op] = true
		if op == opImport {
			if kty != ktyRSAHSM {
				return nil, badParam("key operation import is for a key exchange key, which must be an RSA-HSM key, not %s (%s)", kty, docBYOKSpec)
			}
			continue
		}
		if !slices.Contains(allowed, op) {
			return nil, badParam("key operation %q is not supported for a %s key", op, kty)
		}
	}
	if seen[opImport] && len(ops) != 1 {
		return nil, badParam("key operation import is mutually exclusive with all other key operations (%s)", docBYOKKeyVault)
	}
	return slices.Clone(ops), nil
}

type createRequest struct {
	Kty            string            `json:"kty"`
	KeySize        *int              `json:"key_size,omitempty"`
	PublicExponent *int              `json:"public_exponent,omitempty"`
	Crv            string            `json:"crv,omitempty"`
	KeyOps         []string          `json:"key_ops,omitempty"`
	Attributes     *keyAttributes    `json:"attributes,omitempty"`
	Tags           map[string]string `json:"tags,omitempty"`
	ReleasePolicy  json.RawMessage   `json:"release_policy,omitempty"`
}

func (s *Server) createKey(rt routed, r *http.Request) (int, any, *kvError) {
	var req createRequest
	if e := decodeBody(r, &req); e != nil {
		return 0, nil, e
	}
	if req.Kty == "" {
		return 0, nil, badParam("kty is required")
	}
	if e := s.checkType(req.Kty); e != nil {
		return 0, nil, e
	}
	if len(req.ReleasePolicy) > 0 {
		return 0, nil, notImplemented("azkvtest does not emulate release policies")
	}
	if e := checkTags(req.Tags); e != nil {
		return 0, nil, e
	}
	ops, e := checkKeyOps(req.Kty, req.KeyOps)
	if e != nil {
		return 0, nil, e
	}
	k := &keyVersion{name: rt.name, version: randomHex(16), kty: req.Kty, ops: ops,
		created: s.cfg.now(), enabled: enabledAttr(req.Attributes), tags: req.Tags}
	switch family(req.Kty) {
	case ktyRSA:
		if req.Crv != "" {
			return 0, nil, badParam("crv is not valid for an RSA key")
		}
		size := 2048
		if req.KeySize != nil {
			size = *req.KeySize
		}
		if !rsaSizes[size] {
			return 0, nil, badParam("RSA key size %d is not supported (2048, 3072, 4096)", size)
		}
		if req.PublicExponent != nil && *req.PublicExponent != 65537 {
			return 0, nil, badParam("public_exponent %d is not supported; the fake generates e = 65537", *req.PublicExponent)
		}
		priv, err := rsa.GenerateKey(rand.Reader, size)
		if err != nil {
			return 0, nil, &kvError{http.StatusInternalServerError, "InternalError", "cannot generate an RSA key"}
		}
		k.rsaKey = priv
	case ktyEC:
		if req.KeySize != nil {
			return 0, nil, badParam("key_size is not valid for an EC key; name the curve with crv")
		}
		crv := req.Crv
		if crv == "" {
			crv = "P-256"
		}
		if e := genEC(k, crv); e != nil {
			return 0, nil, e
		}
	case ktyOct:
		size := 256
		if req.KeySize != nil {
			size = *req.KeySize
		}
		if !octSizes[size] {
			return 0, nil, badParam("oct-HSM key size %d is not supported (128, 192, 256)", size)
		}
		k.octKey = make([]byte, size/8)
		_, _ = rand.Read(k.octKey)
	}
	s.store(k)
	return http.StatusOK, s.bundle(k), nil
}

func genEC(k *keyVersion, crv string) *kvError {
	var c elliptic.Curve
	switch crv {
	case "P-256":
		c = elliptic.P256()
	case "P-384":
		c = elliptic.P384()
	case "P-521":
		c = elliptic.P521()
	case "P-256K":
		priv, err := secp256k1.GeneratePrivateKey()
		if err != nil {
			return &kvError{http.StatusInternalServerError, "InternalError", "cannot generate a key"}
		}
		k.k1Key = priv
		return nil
	default:
		return badParam("curve %q is not supported (P-256, P-256K, P-384, P-521)", crv)
	}
	priv, err := ecdsa.GenerateKey(c, rand.Reader)
	if err != nil {
		return &kvError{http.StatusInternalServerError, "InternalError", "cannot generate a key"}
	}
	k.ecKey = priv
	return nil
}

func enabledAttr(a *keyAttributes) bool {
	if a == nil || a.Enabled == nil {
		return true
	}
	return *a.Enabled
}

// checkTags: at most 15 tags, names and values of at most 256 characters
// ("Key tags", docAlgorithms).
func checkTags(tags map[string]string) *kvError {
	if len(tags) > 15 {
		return badParam("a key can have at most 15 tags (%s)", docAlgorithms)
	}
	for k, v := range tags {
		if len(k) > 256 || len(v) > 256 {
			return badParam("tag names and values are at most 256 characters (%s)", docAlgorithms)
		}
	}
	return nil
}

func (s *Server) getKey(rt routed) (int, any, *kvError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k, e := s.lookup(rt.name, rt.version)
	if e != nil {
		return 0, nil, e
	}
	return http.StatusOK, s.bundle(k), nil
}

// deleteKey deletes every version of a key at once, as Key Vault does, and
// answers the DeletedKeyBundle. The fake then forgets the key (no soft-delete
// state: GetDeletedKey, RecoverDeletedKey and PurgeDeletedKey answer 501).
func (s *Server) deleteKey(rt routed) (int, any, *kvError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k, e := s.lookup(rt.name, "")
	if e != nil {
		return 0, nil, e
	}
	delete(s.keys, rt.name)
	now := s.cfg.now().Unix()
	type deletedBundle struct {
		keyBundle
		RecoveryID         string `json:"recoveryId"`
		DeletedDate        int64  `json:"deletedDate"`
		ScheduledPurgeDate int64  `json:"scheduledPurgeDate"`
	}
	return http.StatusOK, deletedBundle{s.bundle(k), s.URL() + "/deletedkeys/" + rt.name, now, now + 90*24*3600}, nil
}

type keyItem struct {
	Kid        string            `json:"kid"`
	Attributes keyAttributes     `json:"attributes"`
	Tags       map[string]string `json:"tags,omitempty"`
}

type keyList struct {
	Value    []keyItem `json:"value"`
	NextLink *string   `json:"nextLink"`
}

func (s *Server) item(k *keyVersion, kid string) keyItem {
	b := s.bundle(k)
	return keyItem{Kid: kid, Attributes: b.Attributes, Tags: b.Tags}
}

func (s *Server) listKeys() (int, any, *kvError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	names := make([]string, 0, len(s.keys))
	for n := range s.keys {
		names = append(names, n)
	}
	slices.Sort(names)
	out := keyList{Value: []keyItem{}}
	for _, n := range names {
		e := s.keys[n]
		out.Value = append(out.Value, s.item(e.versions[len(e.versions)-1], s.URL()+"/keys/"+n))
	}
	return http.StatusOK, out, nil
}

func (s *Server) listVersions(rt routed) (int, any, *kvError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.keys[rt.name]
	out := keyList{Value: []keyItem{}}
	if e != nil {
		for _, v := range e.versions {
			out.Value = append(out.Value, s.item(v, s.kid(v)))
		}
	}
	return http.StatusOK, out, nil
}

type updateRequest struct {
	KeyOps        []string          `json:"key_ops,omitempty"`
	Attributes    *keyAttributes    `json:"attributes,omitempty"`
	Tags          map[string]string `json:"tags,omitempty"`
	ReleasePolicy json.RawMessage   `json:"release_policy,omitempty"`
}

// updateKey is PATCH /keys/{name}/{version}: enabled, tags and key_ops of
// one version. key_ops follow rows 2 and 10; whether a key is a key exchange
// key is fixed when it is created (strict: the pages do not say whether
// "import" can be added or removed later).
func (s *Server) updateKey(rt routed, r *http.Request) (int, any, *kvError) {
	var req updateRequest
	if e := decodeBody(r, &req); e != nil {
		return 0, nil, e
	}
	if len(req.ReleasePolicy) > 0 {
		return 0, nil, notImplemented("azkvtest does not emulate release policies")
	}
	if e := checkTags(req.Tags); e != nil {
		return 0, nil, e
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	k, e := s.lookup(rt.name, rt.version)
	if e != nil {
		return 0, nil, e
	}
	nk := *k
	if req.KeyOps != nil {
		ops, e := checkKeyOps(k.kty, req.KeyOps)
		if e != nil {
			return 0, nil, e
		}
		if slices.Contains(ops, opImport) != k.hasOp(opImport) {
			return 0, nil, badParam("key operation import is fixed when a key exchange key is created (%s)", docBYOKSpec)
		}
		nk.ops = ops
	}
	if req.Attributes != nil && req.Attributes.Enabled != nil {
		nk.enabled = *req.Attributes.Enabled
	}
	if req.Tags != nil {
		nk.tags = req.Tags
	}
	nk.updated = s.cfg.now()
	for i, v := range s.keys[rt.name].versions {
		if v == k {
			s.keys[rt.name].versions[i] = &nk
		}
	}
	return http.StatusOK, s.bundle(&nk), nil
}
