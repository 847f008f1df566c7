package azkvtest

import (
	"crypto/rsa"
	"crypto/sha1"
	"errors"
	"slices"

	kwp "github.com/tink-crypto/tink-go/v2/kwp/subtle"
)

// The fake unwraps with crypto/rsa and Tink's RFC 5649 implementation, never
// with byok's code, so that a bug byok's wrap and unwrap share cannot pass
// its tests. Row 6, from the BYOK specification (docBYOKSpec):
//
//	"An ephemeral AES key is generated and encrypted with the wrapping RSA
//	key using RSA-OAEP with SHA1. The encoded plaintext key is encrypted
//	using the AES key using AES Key Wrap with Padding. The encrypted AES key
//	and the encrypted plaintext key are concatenated to produce the final
//	ciphertext blob."
//
// RSA-OAEP with SHA-1 means MGF1 with SHA-1 and an empty label (RFC 8017's
// defaults); the RSA part is exactly the KEK's modulus length. The
// specification does not fix the AES key's size; the fake takes AES-256
// only (strict; the size CKM_RSA_AES_KEY_WRAP tools use by default).

var errUnwrap = errors.New("azkvtest: the transfer blob does not unwrap")

const ephemeralKeyLen = 32

// maxWrapped bounds the KWP part: an RSA-4096 PKCS#8 is about 2.4 KB.
const maxWrapped = 8 << 10

// unwrapTransfer recovers the target key plaintext. The caller clears it.
func unwrapTransfer(kek *rsa.PrivateKey, ct []byte) ([]byte, error) {
	k := kek.Size()
	if len(ct) <= k || len(ct)-k > maxWrapped {
		return nil, errUnwrap
	}
	aesKey, err := rsa.DecryptOAEP(sha1.New(), nil, kek, ct[:k], nil)
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
	buf, err := w.Unwrap(ct[k:])
	if err != nil {
		return nil, errUnwrap
	}
	out := slices.Clone(buf)
	clear(buf[:cap(buf)])
	return out, nil
}
