package hsm

import (
	"bytes"
	"context"
	"crypto/ecdh"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"encoding/hex"
	"fmt"
	"math/big"
	"strings"

	"github.com/byok-go/byok"
	"github.com/decred/dcrd/dcrec/secp256k1/v4"
	"github.com/miekg/pkcs11"
)

// Key describes a key object in a token: what it is, whether it can leave
// the module, and the KMS key spec it maps to. It holds no secret.
type Key struct {
	// Handle is the object handle (valid in this process's use of the module).
	Handle pkcs11.ObjectHandle
	// Class is CKO_SECRET_KEY or CKO_PRIVATE_KEY; Type the CKK_ key type.
	Class, Type uint
	// Label and ID are CKA_LABEL and CKA_ID.
	Label string
	ID    []byte
	// Bits is the AES or HMAC key length in bits, the RSA modulus size or
	// the EC field size; 0 when the module does not say.
	Bits int
	// Curve names the EC curve ("P-256", "P-384", "P-521", "secp256k1").
	Curve string
	// Extractable, Sensitive, NeverExtractable and WrapWithTrusted are the
	// CKA_ attributes of those names; CanSign is CKA_SIGN. Extractable and
	// CanSign are true when the module does not show the attribute (it then
	// refuses by itself, if it must).
	Extractable, Sensitive, NeverExtractable, WrapWithTrusted, CanSign bool
	// Spec is the KMS key spec the key maps to.
	Spec byok.KeySpec
	// PublicKeyDER is the DER SubjectPublicKeyInfo of an RSA or EC key.
	PublicKeyDER []byte
}

// ClassName returns "private key" or "secret key".
func (k *Key) ClassName() string {
	if k.Class == pkcs11.CKO_PRIVATE_KEY {
		return "private key"
	}
	return "secret key"
}

// String names the key by class, label and ID, for messages.
func (k *Key) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %q", k.ClassName(), k.Label)
	if len(k.ID) > 0 {
		fmt.Fprintf(&b, " (id %s)", hex.EncodeToString(k.ID))
	}
	return b.String()
}

// FindKey finds the private or secret key ref names, which must match
// exactly one object, and describes it. spec, when not empty, is the key
// spec the caller expects (needed when the module does not report a secret
// key's length).
func (t *Token) FindKey(ctx context.Context, ref KeyRef, spec byok.KeySpec) (*Key, error) {
	var k *Key
	err := t.WithSession(ctx, func(sh pkcs11.SessionHandle) error {
		h, err := t.findKey(sh, ref)
		if err != nil {
			return err
		}
		k, err = t.describe(sh, h, spec)
		return err
	})
	return k, err
}

func (t *Token) findKey(sh pkcs11.SessionHandle, ref KeyRef) (pkcs11.ObjectHandle, error) {
	api := t.mod.api
	if ref.HasHandle {
		class, ok := ulongAttr(api, sh, pkcs11.ObjectHandle(ref.Handle), pkcs11.CKA_CLASS)
		if !ok {
			return 0, &Error{Op: fmt.Sprintf("finding key %s in %s", ref, t), Kind: ErrKeyNotFound,
				Fix: "no object has this handle (handles are only valid within one process's use of the module); name the key by label or id"}
		}
		if class != pkcs11.CKO_PRIVATE_KEY && class != pkcs11.CKO_SECRET_KEY {
			return 0, &Error{Op: fmt.Sprintf("finding key %s in %s", ref, t), Kind: ErrKeyNotFound,
				Fix: "the object is not a private or secret key; byok migrates private and secret keys"}
		}
		return pkcs11.ObjectHandle(ref.Handle), nil
	}
	if ref.Label == "" && len(ref.ID) == 0 {
		return 0, &Error{Op: "finding a key in " + t.String(), Kind: ErrKeyNotFound, Fix: "no key named: give a label, an id or a handle"}
	}
	classes := []uint{pkcs11.CKO_PRIVATE_KEY, pkcs11.CKO_SECRET_KEY}
	switch ref.Class {
	case "private":
		classes = classes[:1]
	case "secret-key":
		classes = classes[1:]
	}
	var found []pkcs11.ObjectHandle
	for _, c := range classes {
		tmpl := []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_CLASS, c)}
		if ref.Label != "" {
			tmpl = append(tmpl, pkcs11.NewAttribute(pkcs11.CKA_LABEL, ref.Label))
		}
		if len(ref.ID) > 0 {
			tmpl = append(tmpl, pkcs11.NewAttribute(pkcs11.CKA_ID, ref.ID))
		}
		hs, err := findObjects(api, sh, tmpl, 8)
		if err != nil {
			return 0, rvError(fmt.Sprintf("finding key %s in %s (C_FindObjects)", ref, t), err, false)
		}
		found = append(found, hs...)
	}
	switch len(found) {
	case 1:
		return found[0], nil
	case 0:
		fix := "no private or secret key matches; list the token's keys (pkcs11-tool --module " + t.mod.name + " --list-objects --login) and check the label or id"
		if t.opts.PIN == nil {
			fix += "; keys are usually private objects, visible only after login: give a PIN"
		}
		return 0, &Error{Op: fmt.Sprintf("finding key %s in %s", ref, t), Kind: ErrKeyNotFound, Fix: fix}
	}
	return 0, &Error{Op: fmt.Sprintf("finding key %s in %s", ref, t), Kind: ErrAmbiguousKey,
		Fix: fmt.Sprintf("%d keys match; name one by id, or add type=private or type=secret-key", len(found))}
}

func findObjects(api PKCS11, sh pkcs11.SessionHandle, tmpl []*pkcs11.Attribute, max int) ([]pkcs11.ObjectHandle, error) {
	if err := api.FindObjectsInit(sh, tmpl); err != nil {
		return nil, err
	}
	hs, _, err := api.FindObjects(sh, max)
	if ferr := api.FindObjectsFinal(sh); err == nil {
		err = ferr
	}
	return hs, err
}

// Named EC curves: DER OIDs as they appear in CKA_EC_PARAMS.
var curves = []struct {
	name string
	oid  asn1.ObjectIdentifier
	spec byok.KeySpec
	size int // field size in bytes
	bits int
}{
	{"P-256", asn1.ObjectIdentifier{1, 2, 840, 10045, 3, 1, 7}, byok.ECCNISTP256, 32, 256},
	{"P-384", asn1.ObjectIdentifier{1, 3, 132, 0, 34}, byok.ECCNISTP384, 48, 384},
	{"P-521", asn1.ObjectIdentifier{1, 3, 132, 0, 35}, byok.ECCNISTP521, 66, 521},
	{"secp256k1", asn1.ObjectIdentifier{1, 3, 132, 0, 10}, byok.ECCSECGP256K1, 32, 256},
}

var oidECPublicKey = asn1.ObjectIdentifier{1, 2, 840, 10045, 2, 1}

// ECParams returns the DER CKA_EC_PARAMS (a named curve OID) of a curve
// named "P-256", "P-384", "P-521" or "secp256k1".
func ECParams(curve string) ([]byte, error) {
	for _, c := range curves {
		if c.name == curve {
			return asn1.Marshal(c.oid)
		}
	}
	return nil, fmt.Errorf("hsm: unknown curve %q", curve)
}

func (t *Token) describe(sh pkcs11.SessionHandle, h pkcs11.ObjectHandle, want byok.KeySpec) (*Key, error) {
	api := t.mod.api
	k := &Key{Handle: h}
	var ok bool
	if k.Class, ok = ulongAttr(api, sh, h, pkcs11.CKA_CLASS); !ok {
		return nil, &Error{Op: fmt.Sprintf("reading CKA_CLASS of object %d in %s", h, t), Kind: ErrKeyNotFound}
	}
	if k.Type, ok = ulongAttr(api, sh, h, pkcs11.CKA_KEY_TYPE); !ok {
		return nil, &Error{Op: fmt.Sprintf("reading CKA_KEY_TYPE of object %d in %s", h, t), Kind: ErrUnsupportedKey}
	}
	if v, err := attr(api, sh, h, pkcs11.CKA_LABEL); err == nil {
		k.Label = string(v)
	}
	if v, err := attr(api, sh, h, pkcs11.CKA_ID); err == nil && len(v) > 0 {
		k.ID = v
	}
	// A module that does not show CKA_EXTRACTABLE or CKA_SIGN gets to say
	// no itself, when asked to wrap or sign (the refusal maps to the same
	// sentinels).
	var known bool
	if k.Extractable, known = boolAttr(api, sh, h, pkcs11.CKA_EXTRACTABLE); !known {
		k.Extractable = true
	}
	if k.CanSign, known = boolAttr(api, sh, h, pkcs11.CKA_SIGN); !known {
		k.CanSign = true
	}
	k.Sensitive, _ = boolAttr(api, sh, h, pkcs11.CKA_SENSITIVE)
	k.NeverExtractable, _ = boolAttr(api, sh, h, pkcs11.CKA_NEVER_EXTRACTABLE)
	k.WrapWithTrusted, _ = boolAttr(api, sh, h, pkcs11.CKA_WRAP_WITH_TRUSTED)
	op := fmt.Sprintf("describing %s in %s", k, t)
	unsupported := func(why string) error { return &Error{Op: op, Kind: ErrUnsupportedKey, Fix: why} }
	switch {
	case k.Class == pkcs11.CKO_SECRET_KEY:
		n, _ := ulongAttr(api, sh, h, pkcs11.CKA_VALUE_LEN)
		if n == pkcs11.CK_UNAVAILABLE_INFORMATION {
			n = 0
		}
		k.Bits = int(n) * 8
		spec, err := secretSpec(k.Type, int(n), want)
		if err != nil {
			return nil, unsupported(err.Error())
		}
		k.Spec = spec
	case k.Class == pkcs11.CKO_PRIVATE_KEY && k.Type == pkcs11.CKK_RSA:
		mod, err1 := attr(api, sh, h, pkcs11.CKA_MODULUS)
		exp, err2 := attr(api, sh, h, pkcs11.CKA_PUBLIC_EXPONENT)
		if err1 != nil || err2 != nil || len(mod) == 0 || len(exp) == 0 || len(exp) > 8 {
			return nil, &Error{Op: op, Kind: ErrUnsupportedKey, Err: err1, Fix: "the module does not show the RSA key's modulus and public exponent"}
		}
		e := new(big.Int).SetBytes(exp)
		pub := &rsa.PublicKey{N: new(big.Int).SetBytes(mod), E: int(e.Int64())}
		k.Bits = pub.N.BitLen()
		switch k.Bits {
		case 2048:
			k.Spec = byok.RSA2048
		case 3072:
			k.Spec = byok.RSA3072
		case 4096:
			k.Spec = byok.RSA4096
		default:
			return nil, unsupported(fmt.Sprintf("a %d-bit RSA key: KMS imports RSA keys of 2048, 3072 or 4096 bits", k.Bits))
		}
		if !e.IsInt64() || pub.E < 3 || pub.E%2 == 0 {
			return nil, unsupported("the RSA public exponent is not one KMS accepts")
		}
		var err error
		if k.PublicKeyDER, err = x509.MarshalPKIXPublicKey(pub); err != nil {
			return nil, unsupported(err.Error())
		}
	case k.Class == pkcs11.CKO_PRIVATE_KEY && k.Type == pkcs11.CKK_EC:
		if err := t.describeEC(sh, k); err != nil {
			return nil, err
		}
	case k.Class == pkcs11.CKO_PRIVATE_KEY && k.Type == CKK_EC_EDWARDS:
		return nil, &Error{Op: op, Kind: ErrUnsupportedKey, Err: byok.ErrNotImportable,
			Fix: "Ed25519 and Ed448 keys are generated inside KMS; KMS does not import them"}
	default:
		return nil, unsupported(fmt.Sprintf("a key of class %#x and type %#x: KMS imports AES-256, HMAC, RSA and EC (P-256, P-384, P-521, secp256k1) keys", k.Class, k.Type))
	}
	if want != "" && want != k.Spec {
		return nil, &Error{Op: op, Kind: byok.ErrSpecMismatch, Fix: fmt.Sprintf("the key is %s, not %s", k.Spec, want)}
	}
	return k, nil
}

// secretSpec maps a secret key's type and length to a KMS key spec. n is 0
// when the module does not report the length; then want decides.
func secretSpec(typ uint, n int, want byok.KeySpec) (byok.KeySpec, error) {
	hmacByLen := map[int]byok.KeySpec{28: byok.HMAC224, 32: byok.HMAC256, 48: byok.HMAC384, 64: byok.HMAC512}
	hmacByType := map[uint]byok.KeySpec{pkcs11.CKK_SHA224_HMAC: byok.HMAC224, pkcs11.CKK_SHA256_HMAC: byok.HMAC256,
		pkcs11.CKK_SHA384_HMAC: byok.HMAC384, pkcs11.CKK_SHA512_HMAC: byok.HMAC512}
	switch {
	case typ == pkcs11.CKK_AES:
		if n == 0 {
			if want == byok.SymmetricDefault {
				return want, nil
			}
			return "", fmt.Errorf("the module does not report the AES key's length (CKA_VALUE_LEN); if it is AES-256, give the key spec SYMMETRIC_DEFAULT")
		}
		if n != 32 {
			return "", fmt.Errorf("an AES-%d key: KMS imports AES-256 keys only (SYMMETRIC_DEFAULT)", n*8)
		}
		return byok.SymmetricDefault, nil
	case typ == pkcs11.CKK_GENERIC_SECRET:
		if n == 0 {
			if want.Kind() == byok.KindHMAC {
				return want, nil
			}
			return "", fmt.Errorf("the module does not report the generic secret's length (CKA_VALUE_LEN); give the key spec (HMAC_224, HMAC_256, HMAC_384 or HMAC_512)")
		}
		if s, ok := hmacByLen[n]; ok {
			return s, nil
		}
		return "", fmt.Errorf("a %d-byte generic secret: KMS imports HMAC keys of exactly 28, 32, 48 or 64 bytes (HMAC_224 to HMAC_512)", n)
	default:
		s, ok := hmacByType[typ]
		if !ok {
			return "", fmt.Errorf("a secret key of type %#x: KMS imports AES-256 and HMAC keys only", typ)
		}
		if n != 0 && n != s.MaterialLen() {
			return "", fmt.Errorf("a %d-byte %s key: KMS's %s keys are exactly %d bytes", n, s, s, s.MaterialLen())
		}
		return s, nil
	}
}

func (t *Token) describeEC(sh pkcs11.SessionHandle, k *Key) error {
	api := t.mod.api
	op := fmt.Sprintf("describing %s in %s", k, t)
	params, err := attr(api, sh, k.Handle, pkcs11.CKA_EC_PARAMS)
	if err != nil {
		return &Error{Op: op, Kind: ErrUnsupportedKey, Err: err, Fix: "the module does not show the key's curve (CKA_EC_PARAMS)"}
	}
	var oid asn1.ObjectIdentifier
	if rest, err := asn1.Unmarshal(params, &oid); err != nil || len(rest) != 0 {
		return &Error{Op: op, Kind: ErrUnsupportedKey, Fix: "the key's CKA_EC_PARAMS is not a named curve OID (explicit curve parameters are not importable)"}
	}
	ci := -1
	for i, c := range curves {
		if c.oid.Equal(oid) {
			ci = i
		}
	}
	if ci < 0 {
		return &Error{Op: op, Kind: ErrUnsupportedKey, Fix: fmt.Sprintf("a key on curve %s: KMS imports EC keys on P-256, P-384, P-521 and secp256k1 only", oid)}
	}
	c := curves[ci]
	k.Curve, k.Spec, k.Bits = c.name, c.spec, c.bits
	// The public point: some modules keep it on the private key object;
	// most keep it on the public key object with the same CKA_ID.
	point, _ := attr(api, sh, k.Handle, pkcs11.CKA_EC_POINT)
	if len(point) == 0 {
		point, err = t.findECPoint(sh, k, params)
		if err != nil {
			return err
		}
	}
	raw, err := decodeECPoint(point, c.size)
	if err != nil {
		return &Error{Op: op, Kind: ErrUnsupportedKey, Fix: "the public key's CKA_EC_POINT " + err.Error()}
	}
	if c.spec == byok.ECCSECGP256K1 {
		if _, err := secp256k1.ParsePubKey(raw); err != nil {
			return &Error{Op: op, Kind: ErrUnsupportedKey, Fix: "the public point is not on secp256k1"}
		}
	} else {
		curve := map[string]ecdh.Curve{"P-256": ecdh.P256(), "P-384": ecdh.P384(), "P-521": ecdh.P521()}[c.name]
		if _, err := curve.NewPublicKey(raw); err != nil {
			return &Error{Op: op, Kind: ErrUnsupportedKey, Fix: "the public point is not on " + c.name}
		}
	}
	k.PublicKeyDER, err = asn1.Marshal(struct {
		Algo struct {
			Algorithm asn1.ObjectIdentifier
			Curve     asn1.ObjectIdentifier
		}
		Point asn1.BitString
	}{Algo: struct {
		Algorithm asn1.ObjectIdentifier
		Curve     asn1.ObjectIdentifier
	}{oidECPublicKey, c.oid}, Point: asn1.BitString{Bytes: raw, BitLength: 8 * len(raw)}})
	return err
}

// findECPoint reads CKA_EC_POINT from the public key object that goes with
// the EC private key k: same CKA_ID (or, without an ID, same label) and
// same curve.
func (t *Token) findECPoint(sh pkcs11.SessionHandle, k *Key, params []byte) ([]byte, error) {
	api := t.mod.api
	tmpl := []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_PUBLIC_KEY),
		pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_EC), pkcs11.NewAttribute(pkcs11.CKA_EC_PARAMS, params)}
	switch {
	case len(k.ID) > 0:
		tmpl = append(tmpl, pkcs11.NewAttribute(pkcs11.CKA_ID, k.ID))
	case k.Label != "":
		tmpl = append(tmpl, pkcs11.NewAttribute(pkcs11.CKA_LABEL, k.Label))
	}
	hs, err := findObjects(api, sh, tmpl, 2)
	op := fmt.Sprintf("finding the public key of %s in %s", k, t)
	if err != nil {
		return nil, rvError(op, err, false)
	}
	if len(hs) != 1 || (len(k.ID) == 0 && k.Label == "") {
		return nil, &Error{Op: op, Kind: ErrUnsupportedKey,
			Fix: "KMS needs the EC public key, and the private key object does not carry it (CKA_EC_POINT): put the public key object in the token with the same CKA_ID as the private key (e.g. pkcs11-tool --write-object pub.der --type pubkey --id ID)"}
	}
	point, err := attr(api, sh, hs[0], pkcs11.CKA_EC_POINT)
	if err != nil {
		return nil, rvError(op+" (CKA_EC_POINT)", err, false)
	}
	return point, nil
}

// decodeECPoint accepts CKA_EC_POINT as PKCS#11 specifies it (a DER OCTET
// STRING around the uncompressed point) or as some modules give it (the
// bare point), and returns the uncompressed point.
func decodeECPoint(v []byte, size int) ([]byte, error) {
	n := 1 + 2*size
	if len(v) == n && v[0] == 4 {
		return v, nil
	}
	var raw []byte
	if rest, err := asn1.Unmarshal(v, &raw); err == nil && len(rest) == 0 && len(raw) == n && raw[0] == 4 {
		return raw, nil
	}
	return nil, fmt.Errorf("is not an uncompressed point of the key's curve")
}

// secretFingerprintDomain is byok's domain string for secret key
// fingerprints (see byok.KeyMaterial.Fingerprint); the module hashes the
// key after it, so the fingerprint equals the one of the same key loaded
// from a file.
const secretFingerprintDomain = "byok key material fingerprint v1\x00"

// fingerprint identifies the key as byok.KeyMaterial.Fingerprint does:
// SHA-256 of the public key for RSA and EC keys; for secret keys, SHA-256
// computed inside the module with C_DigestKey over byok's domain string, the
// spec and the key. Modules that cannot digest a key (CKR_KEY_INDIGESTIBLE,
// CKR_FUNCTION_NOT_SUPPORTED) give "".
func (t *Token) fingerprint(ctx context.Context, k *Key) string {
	if k.PublicKeyDER != nil {
		sum := sha256.Sum256(k.PublicKeyDER)
		return "sha256:" + hex.EncodeToString(sum[:])
	}
	var fp string
	t.WithSession(ctx, func(sh pkcs11.SessionHandle) error {
		api := t.mod.api
		if err := api.DigestInit(sh, []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_SHA256, nil)}); err != nil {
			return nil
		}
		prefix := append([]byte(secretFingerprintDomain+string(k.Spec)), 0)
		if api.DigestUpdate(sh, prefix) != nil || api.DigestKey(sh, k.Handle) != nil {
			api.DigestFinal(sh) // end the operation; its result is not wanted
			return nil
		}
		sum, err := api.DigestFinal(sh)
		if err == nil && len(sum) == sha256.Size && !bytes.Equal(sum, make([]byte, sha256.Size)) {
			fp = "sha256:" + hex.EncodeToString(sum)
		}
		return nil
	})
	return fp
}
