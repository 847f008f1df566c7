package azkvtest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

type importRequest struct {
	Key           *jsonWebKey       `json:"key"`
	HSM           *bool             `json:"Hsm,omitempty"`
	Attributes    *keyAttributes    `json:"attributes,omitempty"`
	Tags          map[string]string `json:"tags,omitempty"`
	ReleasePolicy json.RawMessage   `json:"release_policy,omitempty"`
}

// transferBlob is the .byok file (row 4).
type transferBlob struct {
	SchemaVersion string `json:"schema_version"`
	Header        struct {
		Kid string `json:"kid"`
		Alg string `json:"alg"`
		Enc string `json:"enc"`
	} `json:"header"`
	Ciphertext string `json:"ciphertext"`
	Generator  string `json:"generator"`
}

// importKey is PUT /keys/{name} with key.key_hsm: BYOK. Importing plain key
// material (a JWK with d or k) is not emulated.
func (s *Server) importKey(rt routed, r *http.Request) (int, any, *kvError) {
	var req importRequest
	if e := decodeBody(r, &req); e != nil {
		return 0, nil, e
	}
	if req.Key == nil {
		return 0, nil, badParam("key is required (%s)", docImportREST)
	}
	jwk := req.Key
	if jwk.KeyHSM == "" {
		if jwk.D != "" || jwk.K != "" {
			return 0, nil, notImplemented("azkvtest imports only HSM-protected keys in a BYOK transfer blob (key.key_hsm), not plain key material")
		}
		return 0, nil, badParam("key.key_hsm is required: the BYOK transfer blob (%s)", docBYOKSpec)
	}
	if jwk.D != "" || jwk.DP != "" || jwk.DQ != "" || jwk.QI != "" || jwk.P != "" || jwk.Q != "" || jwk.K != "" ||
		jwk.N != "" || jwk.E != "" || jwk.X != "" || jwk.Y != "" || jwk.Kid != "" {
		return 0, nil, badParam("with key.key_hsm the key carries only kty, crv and key_ops (%s)", docBYOKSpec)
	}
	if req.HSM != nil && !*req.HSM {
		return 0, nil, badParam("a BYOK transfer blob imports an HSM key; Hsm must not be false (%s)", docBYOKSpec)
	}
	if len(req.ReleasePolicy) > 0 {
		return 0, nil, notImplemented("azkvtest does not emulate release policies")
	}
	if e := checkTags(req.Tags); e != nil {
		return 0, nil, e
	}
	if e := s.checkImportType(jwk.Kty, jwk.Crv); e != nil {
		return 0, nil, e
	}
	for _, op := range jwk.KeyOps {
		if op == opImport {
			return 0, nil, badParam("an imported key cannot be a key exchange key: a KEK is generated in the vault (%s)", docBYOKSpec)
		}
	}
	ops, e := checkKeyOps(jwk.Kty, jwk.KeyOps)
	if e != nil {
		return 0, nil, e
	}
	// Row 5: key_hsm is the .byok file, in the JWK byte encoding.
	raw, err := b64.DecodeString(jwk.KeyHSM)
	if err != nil {
		return 0, nil, badParam("key.key_hsm is not base64url (unpadded, as every JWK byte member): %v", err)
	}
	blob, e := parseTransferBlob(raw)
	if e != nil {
		return 0, nil, e
	}
	kek, e := s.checkKEK(blob.Header.Kid)
	if e != nil {
		return 0, nil, e
	}
	ct, err := b64.DecodeString(blob.Ciphertext)
	if err != nil {
		return 0, nil, badParam("the transfer blob's ciphertext is not BASE64URL: %v (%s)", err, docBYOKSpec)
	}
	material, err := unwrapTransfer(kek.rsaKey, ct)
	if err != nil {
		return 0, nil, badParam("the transfer blob's ciphertext does not unwrap under the key exchange key %s (%s)", blob.Header.Kid, docBYOKSpec)
	}
	defer clear(material)
	k := &keyVersion{name: rt.name, version: randomHex(16), kty: jwk.Kty, ops: ops,
		created: s.cfg.now(), enabled: enabledAttr(req.Attributes), tags: req.Tags, imported: true}
	if e := parseMaterial(k, jwk.Kty, jwk.Crv, material); e != nil {
		return 0, nil, e
	}
	s.store(k)
	return http.StatusOK, s.bundle(k), nil
}

// checkImportType is rows 8 and 14 for a BYOK import: an -HSM key type the
// resource holds; crv for EC-HSM only, and required there.
func (s *Server) checkImportType(kty, crv string) *kvError {
	switch kty {
	case "":
		return badParam("key.kty is required (%s)", docBYOKSpec)
	case ktyRSAHSM, ktyECHSM, ktyOctHSM:
	case ktyRSA, ktyEC, ktyOct:
		// Strict: the BYOK specification's requests name RSA-HSM and
		// EC-HSM; a transfer blob imports an HSM-protected key.
		return badParam("a BYOK transfer blob imports an HSM-protected key: use kty %s-HSM, not %s (%s)", kty, kty, docBYOKSpec)
	default:
		return badParam("key.kty %q is not a key type Key Vault supports", kty)
	}
	if e := s.checkType(kty); e != nil {
		return e
	}
	if kty == ktyECHSM {
		if crv == "" {
			return badParam("to import an EC key, name its curve: key.crv is required (%s)", docBYOKSpec)
		}
		if !ecCurves[crv] {
			return badParam("curve %q is not supported (P-256, P-256K, P-384, P-521) (%s)", crv, docAboutKeys)
		}
	} else if crv != "" {
		return badParam("key.crv is only for EC-HSM keys, not %s", kty)
	}
	return nil
}

// parseTransferBlob is row 4: the .byok JSON, every member required, by
// its exact name, once, and no other. (encoding/json alone would take
// "Ciphertext" for "ciphertext" and keep the last of a repeated member.)
func parseTransferBlob(raw []byte) (*transferBlob, *kvError) {
	top, err := exactObject(raw, "schema_version", "header", "ciphertext", "generator")
	if err != nil {
		return nil, badParam("key.key_hsm is not a BYOK transfer blob (the .byok JSON): %v (%s)", err, docBYOKSpec)
	}
	var hdr map[string]json.RawMessage
	if h, ok := top["header"]; ok {
		if hdr, err = exactObject(h, "kid", "alg", "enc"); err != nil {
			return nil, badParam("the transfer blob's header: %v (%s)", err, docBYOKSpec)
		}
	}
	var b transferBlob
	for _, m := range []struct {
		from map[string]json.RawMessage
		name string
		to   *string
	}{
		{top, "schema_version", &b.SchemaVersion}, {hdr, "kid", &b.Header.Kid}, {hdr, "alg", &b.Header.Alg},
		{hdr, "enc", &b.Header.Enc}, {top, "ciphertext", &b.Ciphertext}, {top, "generator", &b.Generator},
	} {
		v, ok := m.from[m.name]
		if !ok {
			continue // required: the checks below name it
		}
		if len(v) == 0 || v[0] != '"' || json.Unmarshal(v, m.to) != nil {
			return nil, badParam("the transfer blob's %s is not a string (%s)", m.name, docBYOKSpec)
		}
	}
	switch {
	case b.SchemaVersion != blobSchemaVersion:
		return nil, badParam("transfer blob schema_version %q is not supported; it is %q (%s)", b.SchemaVersion, blobSchemaVersion, docBYOKSpec)
	case b.Header.Kid == "":
		return nil, badParam("the transfer blob's header.kid (the key exchange key) is required (%s)", docBYOKSpec)
	case b.Header.Alg != blobAlg:
		return nil, badParam("transfer blob header.alg %q is not supported; it is %q (%s)", b.Header.Alg, blobAlg, docBYOKSpec)
	case b.Header.Enc != blobEnc:
		return nil, badParam("transfer blob header.enc %q is not supported; it is %q (%s)", b.Header.Enc, blobEnc, docBYOKSpec)
	case b.Ciphertext == "":
		return nil, badParam("the transfer blob's ciphertext is required (%s)", docBYOKSpec)
	case b.Generator == "":
		return nil, badParam("the transfer blob's generator (BYOK tool and source HSM) is required (%s)", docBYOKSpec)
	}
	return &b, nil
}

// exactObject reads raw as one JSON object, and nothing after it, whose
// member names are among names, compared byte for byte, each at most once.
// It returns the members' values undecoded.
func exactObject(raw []byte, names ...string) (map[string]json.RawMessage, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil, errors.New("not a JSON object")
	}
	out := map[string]json.RawMessage{}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, err
		}
		name, _ := t.(string)
		if !slices.Contains(names, name) {
			return nil, fmt.Errorf("unknown member %q (the members are %s)", name, strings.Join(names, ", "))
		}
		if _, dup := out[name]; dup {
			return nil, fmt.Errorf("member %q given twice", name)
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, err
		}
		out[name] = v
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return nil, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("data after the JSON object")
	}
	return out, nil
}

// checkKEK is rows 1 to 3: kid names an existing version of a key in this
// vault that was generated here as an RSA-HSM key with key_ops ["import"].
func (s *Server) checkKEK(kid string) (*keyVersion, *kvError) {
	u, err := url.Parse(kid)
	if err != nil || u.Scheme != "https" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return nil, badParam("the transfer blob's kid %q is not a key identifier https://{vault}/keys/{name}/{version} (%s)", kid, docBYOKSpec)
	}
	self, _ := url.Parse(s.URL())
	if !strings.EqualFold(u.Host, self.Host) {
		return nil, badParam("the key exchange key %s is not in this vault (%s): the KEK must be in the vault the key is imported into (%s)", kid, s.URL(), docBYOKSpec)
	}
	seg := strings.Split(strings.TrimPrefix(u.Path, "/"), "/")
	if len(seg) != 3 || seg[0] != "keys" || !keyNameRE.MatchString(seg[1]) || !versionRE.MatchString(seg[2]) {
		return nil, badParam("the transfer blob's kid %q is not a key identifier with a version, https://{vault}/keys/{name}/{version} (%s)", kid, docBYOKSpec)
	}
	s.mu.Lock()
	kek, e := s.lookup(seg[1], seg[2])
	s.mu.Unlock()
	if e != nil {
		return nil, badParam("the key exchange key %s does not exist in this vault (%s)", kid, docBYOKSpec)
	}
	switch {
	case kek.kty != ktyRSAHSM || kek.rsaKey == nil || kek.imported:
		return nil, badParam("the key exchange key %s is not an RSA-HSM key generated in this vault (%s)", kid, docBYOKSpec)
	case !rsaSizes[kek.rsaKey.N.BitLen()]:
		return nil, badParam("the key exchange key %s is not 2048, 3072 or 4096 bits (%s)", kid, docBYOKSpec)
	case len(kek.ops) != 1 || kek.ops[0] != opImport:
		return nil, badParam("the key exchange key %s must have key_ops exactly [\"import\"], it has %q (%s)", kid, kek.ops, docBYOKSpec)
	case !kek.enabled:
		return nil, forbidden("the key exchange key %s is disabled", kid)
	}
	return kek, nil
}
