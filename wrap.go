package byok

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"

	"github.com/byok-go/byok/internal/kwp"
)

// aesKeyLen is the length of the ephemeral AES key of RSA_AES_KEY_WRAP:
// AES-256, as KMS and CKM_RSA_AES_KEY_WRAP with ulAESKeyBits = 256 use.
const aesKeyLen = 32

// WrapKeyMaterial encrypts key material under a KMS wrapping public key with
// alg, producing the EncryptedKeyMaterial of ImportKeyMaterial.
//
//   - RSAES_OAEP_SHA_1/256: RSA-OAEP with that hash for both OAEP and MGF1,
//     and an empty label. The material must fit: at most k − 2·hLen − 2
//     bytes, k the modulus length in bytes.
//   - RSA_AES_KEY_WRAP_SHA_1/256: a fresh random AES-256 key K; the result is
//     RSA-OAEP(wrappingKey, K) (k bytes) followed by RFC 5649 AES key wrap
//     with padding of the material under K. K is cleared before returning.
//
// WrapKeyMaterial checks what it can know from its arguments: the algorithm
// (RSAES_PKCS1_V1_5 is refused), the wrapping key (RSA 2048, 3072 or 4096
// bits), the OAEP size limit and the 6144-byte limit on the result. Which
// algorithm a key spec may use is the business of CheckCompatible; use
// KeyMaterial.Wrap to have both checked.
func WrapKeyMaterial(wrappingKey *rsa.PublicKey, alg WrappingAlgorithm, material []byte) ([]byte, error) {
	if err := alg.Validate(); err != nil {
		return nil, err
	}
	if _, err := checkWrappingKey(wrappingKey); err != nil {
		return nil, err
	}
	if len(material) == 0 {
		return nil, fmt.Errorf("%w: key material is empty", ErrInvalidMaterial)
	}
	k := wrappingKey.Size()
	h := alg.Hash()
	if !alg.IsKeyWrap() {
		if max := oaepMaxPlaintext(k, h.Size()); len(material) > max {
			return nil, fmt.Errorf("%w: %d bytes of key material do not fit in %s under a %d-bit wrapping key (at most %d: %s); use RSA_AES_KEY_WRAP_SHA_256 or a larger wrapping key",
				ErrIncompatible, len(material), alg, k*8, max, RuleOAEPSize)
		}
		out, err := rsa.EncryptOAEP(h.New(), rand.Reader, wrappingKey, material, nil)
		if err != nil {
			return nil, fmt.Errorf("byok: %s encryption failed: %w", alg, err)
		}
		return out, nil
	}
	if n := wrappedLen(alg, k, len(material)); n > maxWrappedLen {
		return nil, fmt.Errorf("%w: %d bytes of key material wrap to %d bytes under a %d-bit wrapping key; %s",
			ErrIncompatible, len(material), n, k*8, RuleMaxBlob)
	}
	var key [aesKeyLen]byte
	defer clear(key[:])
	if _, err := rand.Read(key[:]); err != nil {
		return nil, fmt.Errorf("byok: reading randomness for the ephemeral AES key: %w", err)
	}
	head, err := rsa.EncryptOAEP(h.New(), rand.Reader, wrappingKey, key[:], nil)
	if err != nil {
		return nil, fmt.Errorf("byok: %s encryption of the ephemeral AES key failed: %w", alg, err)
	}
	tail, err := kwp.Wrap(key[:], material)
	if err != nil {
		return nil, fmt.Errorf("byok: %s: %w", alg, err)
	}
	return append(head, tail...), nil
}

// UnwrapKeyMaterial reverses WrapKeyMaterial with the wrapping private key.
// It is what KMS does on import; byok uses it in its KMS emulator and tests.
//
// Every decryption or integrity failure returns ErrUnwrap and nothing more
// specific, so that the function is no oracle about which check failed. An
// unusable key or algorithm gets a specific error: those are not secret.
// The caller owns the returned material and should clear it after use.
func UnwrapKeyMaterial(wrappingKey *rsa.PrivateKey, alg WrappingAlgorithm, wrapped []byte) ([]byte, error) {
	if err := alg.Validate(); err != nil {
		return nil, err
	}
	if wrappingKey == nil {
		return nil, fmt.Errorf("%w: the wrapping private key is nil", ErrWrappingKey)
	}
	if _, err := checkWrappingKey(&wrappingKey.PublicKey); err != nil {
		return nil, err
	}
	k := wrappingKey.Size()
	h := alg.Hash()
	if !alg.IsKeyWrap() {
		if len(wrapped) != k {
			return nil, ErrUnwrap
		}
		out, err := rsa.DecryptOAEP(h.New(), nil, wrappingKey, wrapped, nil)
		if err != nil || len(out) == 0 {
			return nil, ErrUnwrap
		}
		return out, nil
	}
	// The RSA block comes first; RFC 5649 output is at least 16 bytes.
	if len(wrapped) < k+16 || len(wrapped) > maxWrappedLen {
		return nil, ErrUnwrap
	}
	key, err := rsa.DecryptOAEP(h.New(), nil, wrappingKey, wrapped[:k], nil)
	if err != nil {
		return nil, ErrUnwrap
	}
	defer clear(key)
	if len(key) != aesKeyLen {
		return nil, ErrUnwrap
	}
	out, err := kwp.Unwrap(key, wrapped[k:])
	if err != nil {
		return nil, ErrUnwrap
	}
	return out, nil
}

// checkWrappingKey accepts the RSA public keys KMS hands out as wrapping
// keys: 2048, 3072 or 4096 bits, public exponent odd and greater than 1.
func checkWrappingKey(pub *rsa.PublicKey) (WrappingKeySpec, error) {
	if pub == nil || pub.N == nil {
		return "", fmt.Errorf("%w: the wrapping public key is nil", ErrWrappingKey)
	}
	w, ok := wrappingKeySpecForBits(pub.N.BitLen())
	if !ok {
		return "", fmt.Errorf("%w: the wrapping key is a %d-bit RSA key; KMS wrapping keys are RSA_2048, RSA_3072 or RSA_4096 — use the PublicKey GetParametersForImport returned", ErrWrappingKey, pub.N.BitLen())
	}
	if pub.E < 3 || pub.E%2 == 0 {
		return "", fmt.Errorf("%w: the wrapping key's public exponent %d is not a valid RSA exponent", ErrWrappingKey, pub.E)
	}
	return w, nil
}

// WrappingKeySpecOf returns the wrapping key spec of an RSA public key, or an
// error wrapping ErrWrappingKey if KMS would never hand out such a key.
func WrappingKeySpecOf(pub *rsa.PublicKey) (WrappingKeySpec, error) { return checkWrappingKey(pub) }

// ParseWrappingPublicKey parses the PublicKey GetParametersForImport returns
// (DER SubjectPublicKeyInfo; PEM is accepted too, as the console's
// ImportParameters.zip and `openssl` produce it) and checks that it is a
// wrapping key KMS would hand out.
func ParseWrappingPublicKey(data []byte) (*rsa.PublicKey, error) {
	der := data
	if block, _ := pem.Decode(data); block != nil {
		if block.Type != "PUBLIC KEY" {
			return nil, fmt.Errorf("%w: PEM block is %q; want \"PUBLIC KEY\" (the wrapping public key from GetParametersForImport)", ErrWrappingKey, block.Type)
		}
		der = block.Bytes
	}
	pub, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return nil, fmt.Errorf("%w: not a DER SubjectPublicKeyInfo (%v); pass the PublicKey from GetParametersForImport as it came, base64-decoded", ErrWrappingKey, err)
	}
	rsaPub, ok := pub.(*rsa.PublicKey)
	if !ok {
		return nil, fmt.Errorf("%w: the wrapping key is a %T; KMS wrapping keys are RSA", ErrWrappingKey, pub)
	}
	if _, err := checkWrappingKey(rsaPub); err != nil {
		return nil, err
	}
	return rsaPub, nil
}
