package kmstest

import (
	"crypto"
	"crypto/rsa"
	_ "crypto/sha1" // RSAES_OAEP_SHA_1, RSA_AES_KEY_WRAP_SHA_1
	_ "crypto/sha256"
	"errors"
	"slices"

	kwp "github.com/tink-crypto/tink-go/v2/kwp/subtle"
)

// The emulator unwraps with crypto/rsa and Tink's RFC 5649 implementation,
// never with byok's code, so that a bug byok's wrap and unwrap share cannot
// pass its tests. The algorithms, as AWS documents them in "Importing key
// material step 2: Select a wrapping algorithm"
// (https://docs.aws.amazon.com/kms/latest/developerguide/importing-keys-get-public-key-and-token.html)
// and the GetParametersForImport API Reference
// (https://docs.aws.amazon.com/kms/latest/APIReference/API_GetParametersForImport.html):
//
//   - RSAES_OAEP_SHA_*: the key material is RSA-OAEP encrypted directly
//     under the wrapping public key, with SHA-1 or SHA-256 as the hash and
//     MGF1 with the same hash, empty label.
//   - RSA_AES_KEY_WRAP_SHA_*: an ephemeral 256-bit AES key, RSA-OAEP
//     encrypted as above, followed by the key material wrapped under that AES
//     key with AES Key Wrap with Padding (RFC 5649).
//
// Tink's KWP takes 16 to 8192 bytes of plaintext; the key-wrap algorithms
// carry only RSA and EC private keys (checkWrapping), from 121 bytes
// (secp256k1 PKCS#8) to about 2.4 KB (RSA_4096 PKCS#8), well inside.

// errUnwrap is every unwrap failure: KMS does not say why.
var errUnwrap = errors.New("kmstest: the encrypted key material does not unwrap")

// ephemeralKeyLen is the AES key length of RSA_AES_KEY_WRAP_*: AES-256.
const ephemeralKeyLen = 32

// oaepHash is the hash of a wrapping algorithm's RSA-OAEP.
func oaepHash(alg string) (crypto.Hash, bool) {
	switch alg {
	case algOAEPSHA1, algKeyWrapSHA1:
		return crypto.SHA1, true
	case algOAEPSHA256, algKeyWrapSHA256:
		return crypto.SHA256, true
	}
	return 0, false
}

// unwrapMaterial recovers the key material from EncryptedKeyMaterial wrapped
// with alg under the wrapping key priv. The caller clears the result.
func unwrapMaterial(priv *rsa.PrivateKey, alg string, blob []byte) ([]byte, error) {
	h, ok := oaepHash(alg)
	if !ok || priv == nil {
		return nil, errUnwrap
	}
	k := priv.Size()
	if alg == algOAEPSHA1 || alg == algOAEPSHA256 {
		// The RSA-OAEP ciphertext is exactly as long as the modulus.
		if len(blob) != k {
			return nil, errUnwrap
		}
		out, err := rsa.DecryptOAEP(h.New(), nil, priv, blob, nil)
		if err != nil || len(out) == 0 {
			return nil, errUnwrap
		}
		return out, nil
	}
	if len(blob) <= k || len(blob) > maxEncryptedKeyMaterial {
		return nil, errUnwrap
	}
	aesKey, err := rsa.DecryptOAEP(h.New(), nil, priv, blob[:k], nil)
	if err != nil {
		return nil, errUnwrap
	}
	defer clear(aesKey)
	if len(aesKey) != ephemeralKeyLen {
		return nil, errUnwrap
	}
	w, err := kwp.NewKWP(aesKey)
	if err != nil {
		return nil, errUnwrap
	}
	buf, err := w.Unwrap(blob[k:])
	if err != nil {
		return nil, errUnwrap
	}
	// buf is a window on Tink's working buffer: copy it out, clear the rest.
	out := slices.Clone(buf)
	clear(buf[:cap(buf)])
	return out, nil
}
