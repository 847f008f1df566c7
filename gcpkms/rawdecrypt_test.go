package gcpkms

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"testing"

	"cloud.google.com/go/kms/apiv1/kmspb"
)

// TestRawDecrypt: the local side of the raw AES proof reads Cloud KMS's
// layouts (GCM: ciphertext || tag, 12-byte IV; CBC: no padding or PKCS#7;
// CTR: 16-byte IV), and refuses a wrong key.
func TestRawDecrypt(t *testing.T) {
	key, other := randomBytes(32), randomBytes(32)
	msg := randomBytes(rawPlaintextLen)
	block, _ := aes.NewCipher(key)
	aad := []byte("byok verify")

	iv := randomBytes(12)
	g, _ := cipher.NewGCM(block)
	gcm := g.Seal(nil, iv, msg, aad)
	if got, err := rawDecrypt(kmspb.CryptoKeyVersion_AES_256_GCM, key, iv, gcm, aad, 16); err != nil || !bytes.Equal(got, msg) {
		t.Errorf("GCM: %v", err)
	}
	if _, err := rawDecrypt(kmspb.CryptoKeyVersion_AES_256_GCM, other, iv, gcm, aad, 16); err == nil {
		t.Error("GCM opened with another key")
	}

	iv16 := randomBytes(16)
	cbc := make([]byte, len(msg))
	cipher.NewCBCEncrypter(block, iv16).CryptBlocks(cbc, msg)
	padded := append(append([]byte(nil), msg...), bytes.Repeat([]byte{16}, 16)...)
	cbcPadded := make([]byte, len(padded))
	cipher.NewCBCEncrypter(block, iv16).CryptBlocks(cbcPadded, padded)
	for _, ct := range [][]byte{cbc, cbcPadded} {
		if got, err := rawDecrypt(kmspb.CryptoKeyVersion_AES_256_CBC, key, iv16, ct, nil, 0); err != nil || !bytes.Equal(got, msg) {
			t.Errorf("CBC (%d bytes): %v", len(ct), err)
		}
	}
	if got, _ := rawDecrypt(kmspb.CryptoKeyVersion_AES_256_CBC, other, iv16, cbc, nil, 0); bytes.Equal(got, msg) {
		t.Error("CBC decrypted with another key")
	}

	ctr := make([]byte, len(msg))
	cipher.NewCTR(block, iv16).XORKeyStream(ctr, msg)
	if got, err := rawDecrypt(kmspb.CryptoKeyVersion_AES_256_CTR, key, iv16, ctr, nil, 0); err != nil || !bytes.Equal(got, msg) {
		t.Errorf("CTR: %v", err)
	}
	if _, err := rawDecrypt(kmspb.CryptoKeyVersion_AES_256_CTR, key, iv, ctr, nil, 0); err == nil {
		t.Error("CTR with a 12-byte IV accepted")
	}
}
