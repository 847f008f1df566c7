package gcpkmstest

import (
	"crypto/rsa"
	_ "crypto/sha1" // RSA_OAEP_*_SHA1_AES_256
	_ "crypto/sha256"
	"slices"

	kwp "github.com/tink-crypto/tink-go/v2/kwp/subtle"
)

// The fake unwraps with crypto/rsa and Tink's RFC 5649 implementation, never
// with byok's code, so that a bug byok's wrap and unwrap share cannot pass its
// tests. ImportCryptoKeyVersionRequest.wrapped_key
// (https://cloud.google.com/kms/docs/reference/rpc/google.cloud.kms.v1):
//
//   - RSA_OAEP_{3072,4096}_SHA{1,256}_AES_256: "the concatenation of: An
//     ephemeral AES-256 wrapping key wrapped with the public_key using
//     RSAES-OAEP with SHA-1/SHA-256, MGF1 with SHA-1/SHA-256, and an empty
//     label. The formatted key to be imported, wrapped with the ephemeral
//     AES-256 key using AES-KWP (RFC 5649)." — the format of PKCS#11
//     CKM_RSA_AES_KEY_WRAP.
//   - RSA_OAEP_{3072,4096}_SHA256: "the formatted key to be imported, wrapped
//     with the public_key using RSAES-OAEP with SHA-256, MGF1 with SHA-256,
//     and an empty label."
//
// Length problems are reported with the messages "Troubleshooting failed
// imports" (https://cloud.google.com/kms/docs/troubleshooting-failed-imports)
// lists as detectable before unwrapping; every other failure is reasonUnwrap,
// which says nothing about the cause.

// unwrapMaterial recovers the formatted key material from wrapped, made
// with method m under the public half of priv. It returns the material, or
// nil and the import failure reason. The caller clears the material.
func unwrapMaterial(priv *rsa.PrivateKey, m methodRule, wrapped []byte) ([]byte, string) {
	k := priv.Size()
	if !m.kwp {
		// The RSA-OAEP ciphertext is exactly as long as the modulus.
		if len(wrapped) != k {
			return nil, reasonLength
		}
		out, err := rsa.DecryptOAEP(m.hash.New(), nil, priv, wrapped, nil)
		if err != nil || len(out) == 0 {
			return nil, reasonUnwrap
		}
		return out, ""
	}
	// RSA-OAEP block, then at least two 64-bit blocks of AES-KWP.
	if len(wrapped) < k+16 {
		return nil, reasonTooShort
	}
	if (len(wrapped)-k)%8 != 0 {
		return nil, reasonBlocks
	}
	aesKey, err := rsa.DecryptOAEP(m.hash.New(), nil, priv, wrapped[:k], nil)
	if err != nil {
		return nil, reasonUnwrap
	}
	defer clear(aesKey)
	if len(aesKey) != ephemeralKeyLen {
		return nil, reasonUnwrap
	}
	w, err := kwp.NewKWP(aesKey)
	if err != nil {
		return nil, reasonUnwrap
	}
	buf, err := w.Unwrap(wrapped[k:])
	if err != nil {
		return nil, reasonUnwrap
	}
	// buf is a window on Tink's working buffer: copy it out, clear the rest.
	out := slices.Clone(buf)
	clear(buf[:cap(buf)])
	return out, ""
}
