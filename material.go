package byok

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"log/slog"
	"sync"

	"github.com/byok-go/byok/internal/keyfile"
)

// KeyMaterial holds key material in exactly the form KMS imports: 32 raw
// bytes for SYMMETRIC_DEFAULT, the spec's length in raw bytes for HMAC_*,
// and PKCS#8 DER PrivateKeyInfo for RSA (two primes) and EC keys (named
// curve, public key included).
//
// It is secret. It never prints its bytes: every fmt verb and slog show the
// key spec and fingerprint only, and Bytes is the one way out. Destroy clears
// it. A KeyMaterial is safe for concurrent use. Copies of a KeyMaterial value
// share the key (and Destroy); the zero value holds no key.
type KeyMaterial struct {
	k *keyMaterial
}

type keyMaterial struct {
	mu     sync.RWMutex
	spec   KeySpec
	b      []byte // nil once destroyed
	pubDER []byte // SubjectPublicKeyInfo; nil for secret keys
	fp     string
}

// NewKeyMaterial encodes an in-memory private key in the form KMS imports
// and detects its key spec. It takes *rsa.PrivateKey (two primes, 2048,
// 3072 or 4096 bits), *ecdsa.PrivateKey (P-256, P-384, P-521, or
// secp256k1 through an elliptic.Curve such as decred's S256),
// *ecdh.PrivateKey (P-256, P-384, P-521) and *secp256k1.PrivateKey from
// github.com/decred/dcrd/dcrec/secp256k1/v4. The key is checked (its public
// half must match its private half) and not modified.
func NewKeyMaterial(key crypto.PrivateKey) (*KeyMaterial, error) {
	k, err := keyfile.FromPrivateKey(key)
	if err != nil {
		return nil, fromKeyfile(err)
	}
	defer k.Clear()
	return newAsymmetric(k)
}

// NewSecretKeyMaterial makes key material of a symmetric or HMAC key spec
// from raw key bytes, which must be exactly the spec's length (32 bytes for
// SYMMETRIC_DEFAULT; 28, 32, 48 or 64 for HMAC_224 to HMAC_512). key is
// copied; the caller may clear it afterwards.
func NewSecretKeyMaterial(spec KeySpec, key []byte) (*KeyMaterial, error) {
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	if kind := spec.Kind(); kind != KindSymmetric && kind != KindHMAC {
		return nil, fmt.Errorf("%w: %s is an asymmetric key spec; use NewKeyMaterial or LoadKeyFile for %s keys", ErrSpecMismatch, spec, kind)
	}
	if want := spec.MaterialLen(); len(key) != want {
		return nil, fmt.Errorf("%w: %s key material must be exactly %d bytes, got %d; generate %d random bytes (e.g. `openssl rand -out key.bin %d`) or check the key spec", ErrInvalidMaterial, spec, want, len(key), want, want)
	}
	b := make([]byte, len(key))
	copy(b, key)
	return &KeyMaterial{&keyMaterial{spec: spec, b: b, fp: secretFingerprint(spec, b)}}, nil
}

// ParseKeyMaterial checks material as KMS would after unwrapping it, for
// key spec spec, and returns it as KeyMaterial. It is strict, accepting
// only the exact form KMS imports (and LoadKeyFile produces):
//
//   - symmetric and HMAC specs: exactly the spec's length;
//   - RSA specs: PKCS#8 DER, version 0, rsaEncryption with NULL parameters,
//     no attributes, around a two-prime PKCS#1 RSAPrivateKey whose modulus
//     has the spec's size and whose values are consistent;
//   - EC specs: PKCS#8 DER, version 0, id-ecPublicKey with the spec's named
//     curve (explicit parameters refused), no attributes, around an
//     ECPrivateKey of version 1 with the full-length scalar in [1, n-1], no
//     parameters, and the uncompressed public key, equal to d·G.
//
// DER must be canonical, and no structure, outer or inner, may have data
// after it. The material is copied.
func ParseKeyMaterial(spec KeySpec, material []byte) (*KeyMaterial, error) {
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	if kind := spec.Kind(); kind == KindSymmetric || kind == KindHMAC {
		return NewSecretKeyMaterial(spec, material)
	}
	if len(material) == 0 {
		return nil, fmt.Errorf("%w: %s key material is empty; send the PKCS#8 DER of the key", ErrInvalidMaterial, spec)
	}
	k, err := keyfile.ParsePKCS8(material, string(spec), true)
	if err != nil {
		return nil, fromKeyfile(err)
	}
	defer k.Clear()
	if got := KeySpec(k.Spec()); got != spec {
		return nil, fmt.Errorf("%w: the material is an %s key, not %s; import it into a KMS key of spec %s, or send the right key", ErrSpecMismatch, got, spec, got)
	}
	m, err := newAsymmetric(k)
	if err != nil {
		return nil, err
	}
	if subtle.ConstantTimeCompare(m.k.b, material) != 1 {
		m.Destroy()
		return nil, fmt.Errorf("%w: the %s PKCS#8 DER is not in the canonical form KMS takes (an optional field, a non-minimal encoding or a parameter too many); load it with LoadKeyFile, which re-encodes it in memory", ErrInvalidMaterial, spec)
	}
	return m, nil
}

// newAsymmetric encodes k in the KMS form. k stays the caller's to clear.
func newAsymmetric(k *keyfile.Key) (*KeyMaterial, error) {
	spec := KeySpec(k.Spec())
	if spec == "" {
		return nil, fmt.Errorf("%w: unsupported key size; KMS imports RSA keys of 2048, 3072 or 4096 bits", ErrUnsupportedKey)
	}
	pubDER, err := k.PublicDER()
	if err != nil {
		return nil, fmt.Errorf("%w: the RSA public key cannot be encoded (%v)", ErrInvalidMaterial, err)
	}
	sum := sha256.Sum256(pubDER)
	return &KeyMaterial{&keyMaterial{spec: spec, b: k.PKCS8(), pubDER: pubDER, fp: "sha256:" + hex.EncodeToString(sum[:])}}, nil
}

// parseECPublic decodes an EC SubjectPublicKeyInfo on a curve KMS imports:
// *ecdsa.PublicKey for the NIST curves, *secp256k1.PublicKey for secp256k1.
func parseECPublic(spki []byte) (any, error) { return keyfile.ParseECPublic(spki) }

// secretFingerprintDomain separates secret-key fingerprints from any other
// use of SHA-256 over the key.
const secretFingerprintDomain = "byok key material fingerprint v1\x00"

func secretFingerprint(spec KeySpec, b []byte) string {
	h := sha256.New()
	h.Write([]byte(secretFingerprintDomain))
	h.Write([]byte(spec))
	h.Write([]byte{0})
	h.Write(b)
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}

// Spec returns the key spec of the material ("" for the zero value).
func (m *KeyMaterial) Spec() KeySpec {
	if m == nil || m.k == nil {
		return ""
	}
	return m.k.spec
}

// Usages returns the KMS key usages a key of this spec can take, the usual
// one first.
func (m *KeyMaterial) Usages() []KeyUsage { return m.Spec().Usages() }

// Len returns the length of the material in bytes, 0 once destroyed.
func (m *KeyMaterial) Len() int {
	if m == nil || m.k == nil {
		return 0
	}
	m.k.mu.RLock()
	defer m.k.mu.RUnlock()
	return len(m.k.b)
}

// Public returns the public key: *rsa.PublicKey, *ecdsa.PublicKey, or
// *secp256k1.PublicKey (github.com/decred/dcrd/dcrec/secp256k1/v4) for
// ECC_SECG_P256K1; nil for symmetric and HMAC keys. Each call returns a new
// value. It works after Destroy: the public key is not secret.
func (m *KeyMaterial) Public() crypto.PublicKey {
	der := m.PublicKeyDER()
	if der == nil {
		return nil
	}
	if m.k.spec == ECCSECGP256K1 {
		pub, err := parseECPublic(der)
		if err != nil {
			return nil
		}
		return pub
	}
	pub, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return nil
	}
	return pub
}

// PublicKeyDER returns the public key as a DER SubjectPublicKeyInfo, what
// KMS GetPublicKey returns once the material is imported: for EC keys
// id-ecPublicKey with the named curve (1.3.132.0.10 for secp256k1) and the
// uncompressed point. It is nil for symmetric and HMAC keys. The result is a
// copy.
func (m *KeyMaterial) PublicKeyDER() []byte {
	if m == nil || m.k == nil || m.k.pubDER == nil {
		return nil
	}
	return append([]byte(nil), m.k.pubDER...)
}

// Fingerprint identifies the key without revealing it, for logs:
// "sha256:" and the hex SHA-256 of PublicKeyDER for RSA and EC keys (compare
// `openssl pkey -pubout -outform DER | sha256sum`), and for secret keys the
// hex SHA-256 of "byok key material fingerprint v1\x00" || spec || 0x00 ||
// material. A secret key's fingerprint lets anyone who holds a candidate key
// test it, so it reveals a key that is guessable (not random) anyway.
func (m *KeyMaterial) Fingerprint() string {
	if m == nil || m.k == nil {
		return ""
	}
	return m.k.fp
}

// Wrap encrypts the material under a KMS wrapping public key with alg, for
// ImportKeyMaterial. It first applies AWS's rules for this key spec and the
// material's actual length (see CheckCompatible); a refusal is a
// *CompatibilityError. Then it calls WrapKeyMaterial.
func (m *KeyMaterial) Wrap(wrappingKey *rsa.PublicKey, alg WrappingAlgorithm) ([]byte, error) {
	if m == nil || m.k == nil {
		return nil, fmt.Errorf("%w: the KeyMaterial is empty; make it with LoadKeyFile, NewKeyMaterial or NewSecretKeyMaterial", ErrInvalidMaterial)
	}
	if err := alg.Validate(); err != nil {
		return nil, err
	}
	if _, err := checkWrappingKey(wrappingKey); err != nil {
		return nil, err
	}
	m.k.mu.RLock()
	defer m.k.mu.RUnlock()
	if m.k.b == nil {
		return nil, fmt.Errorf("%w: %s %s was destroyed; load the key again", ErrDestroyed, m.k.spec, m.k.fp)
	}
	if err := checkLen(m.k.spec, alg, wrappingKey.Size(), len(m.k.b)); err != nil {
		return nil, err
	}
	return WrapKeyMaterial(wrappingKey, alg, m.k.b)
}

// Bytes returns a copy of the material, nil once destroyed. The caller owns
// the copy and should clear it (clear(b)) when done.
func (m *KeyMaterial) Bytes() []byte {
	if m == nil || m.k == nil {
		return nil
	}
	m.k.mu.RLock()
	defer m.k.mu.RUnlock()
	if m.k.b == nil {
		return nil
	}
	return append([]byte(nil), m.k.b...)
}

// Equal reports whether m and o hold the same key spec and material,
// comparing the bytes in constant time (for a given length). Destroyed or
// empty material equals nothing.
func (m *KeyMaterial) Equal(o *KeyMaterial) bool {
	if m == nil || m.k == nil || o == nil || o.k == nil || m.k.spec != o.k.spec {
		return false
	}
	// Never hold both locks: copy one side.
	a := m.Bytes()
	defer clear(a)
	if a == nil {
		return false
	}
	o.k.mu.RLock()
	defer o.k.mu.RUnlock()
	return o.k.b != nil && subtle.ConstantTimeCompare(a, o.k.b) == 1
}

// Destroy clears the material. Afterwards Bytes returns nil, Len 0, Equal
// false and Wrap an error wrapping ErrDestroyed; Spec, Fingerprint, Public
// and PublicKeyDER keep working. Clearing is best effort: Go gives no
// guarantee that no other copy exists (the runtime may have copied buffers,
// and the standard library keeps its own copies of parsed keys), and copies
// handed out by Bytes are the caller's to clear.
func (m *KeyMaterial) Destroy() {
	if m == nil || m.k == nil {
		return
	}
	m.k.mu.Lock()
	defer m.k.mu.Unlock()
	clear(m.k.b)
	m.k.b = nil
}

// LogValue makes slog log the key spec and fingerprint only, never the
// material.
func (m *KeyMaterial) LogValue() slog.Value {
	if m == nil || m.k == nil {
		return slog.GroupValue()
	}
	attrs := []slog.Attr{slog.String("spec", string(m.k.spec)), slog.String("fingerprint", m.k.fp)}
	if m.Len() == 0 {
		attrs = append(attrs, slog.Bool("destroyed", true))
	}
	return slog.GroupValue(attrs...)
}

// Format prints m redacted, the same for every verb and flag, e.g.
// byok.KeyMaterial{ECC_NIST_P256 sha256:ab12… REDACTED}, so that %v, %+v,
// %#v, %s, %x and %q never show the material. It has a value receiver so
// that a KeyMaterial value prints the same way as a pointer (a nil pointer
// prints as <nil>).
func (m KeyMaterial) Format(f fmt.State, verb rune) {
	switch {
	case m.k == nil:
		fmt.Fprint(f, "byok.KeyMaterial{}")
	case m.Len() == 0:
		fmt.Fprintf(f, "byok.KeyMaterial{%s %s DESTROYED}", m.k.spec, m.k.fp)
	default:
		fmt.Fprintf(f, "byok.KeyMaterial{%s %s REDACTED}", m.k.spec, m.k.fp)
	}
}
