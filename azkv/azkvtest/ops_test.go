package azkvtest

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azkeys"
)

// TestKeyWrapRFC3394 checks kw.go against RFC 3394 section 4's vectors.
func TestKeyWrapRFC3394(t *testing.T) {
	h := func(s string) []byte { b, _ := hex.DecodeString(s); return b }
	vectors := []struct{ kek, data, want string }{
		{"000102030405060708090A0B0C0D0E0F", "00112233445566778899AABBCCDDEEFF", "1FA68B0A8112B447AEF34BD8FB5A7B829D3E862371D2CFE5"},
		{"000102030405060708090A0B0C0D0E0F1011121314151617", "00112233445566778899AABBCCDDEEFF", "96778B25AE6CA435F92B5B97C050AED2468AB8A17AD84E5D"},
		{"000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F", "00112233445566778899AABBCCDDEEFF", "64E8C3F9CE0F5BA263E9777905818A2A93C8191E7D6E8AE7"},
		{"000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F", "00112233445566778899AABBCCDDEEFF0001020304050607", "A8F9BC1612C68B3FF6E6F4FBE30E71E4769C8B80A32CB8958CD5D17D6B254DA1"},
		{"000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F", "00112233445566778899AABBCCDDEEFF000102030405060708090A0B0C0D0E0F", "28C9F404C4B810F4CBCCB35CFB87F8263F5786E2D80ED326CBC7F0E71A99F43BFB988B9B7A02DD21"},
	}
	for _, v := range vectors {
		got, err := kwWrap(h(v.kek), h(v.data))
		if err != nil || !bytes.Equal(got, h(v.want)) {
			t.Fatalf("wrap %s: %X, %v", v.want, got, err)
		}
		back, err := kwUnwrap(h(v.kek), got)
		if err != nil || !bytes.Equal(back, h(v.data)) {
			t.Fatalf("unwrap %s: %v", v.want, err)
		}
		got[5] ^= 1
		if _, err := kwUnwrap(h(v.kek), got); err == nil {
			t.Fatal("unwrap accepted a corrupted wrap")
		}
	}
}

func TestRSAEncryptWrapInterop(t *testing.T) {
	_, c := newVault(t)
	resp, err := c.CreateKey(ctx, "rsa", azkeys.CreateKeyParameters{Kty: to.Ptr(azkeys.KeyTypeRSAHSM), KeySize: to.Ptr[int32](2048)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	pub := rsaPublic(t, resp.Key)
	secret := []byte("thirty-two bytes of key material")
	// A local RSA-OAEP-256 encryption under the vault's public key decrypts in the vault.
	ct, _ := rsa.EncryptOAEP(sha256.New(), rand.Reader, pub, secret, nil)
	dr, err := c.Decrypt(ctx, "rsa", "", azkeys.KeyOperationParameters{Algorithm: to.Ptr(azkeys.EncryptionAlgorithmRSAOAEP256), Value: ct}, nil)
	if err != nil || !bytes.Equal(dr.Result, secret) {
		t.Fatalf("Decrypt RSA-OAEP-256: %v", err)
	}
	// SHA-1 OAEP (RSA-OAEP) is a different algorithm: the same ciphertext fails.
	_, err = c.Decrypt(ctx, "rsa", "", azkeys.KeyOperationParameters{Algorithm: to.Ptr(azkeys.EncryptionAlgorithmRSAOAEP), Value: ct}, nil)
	wantCode(t, err, http.StatusBadRequest, codeBadParameter)
	ct1, _ := rsa.EncryptOAEP(sha1.New(), rand.Reader, pub, secret, nil)
	ur, err := c.UnwrapKey(ctx, "rsa", "", azkeys.KeyOperationParameters{Algorithm: to.Ptr(azkeys.EncryptionAlgorithmRSAOAEP), Value: ct1}, nil)
	if err != nil || !bytes.Equal(ur.Result, secret) {
		t.Fatalf("UnwrapKey RSA-OAEP: %v", err)
	}
	wr, err := c.WrapKey(ctx, "rsa", "", azkeys.KeyOperationParameters{Algorithm: to.Ptr(azkeys.EncryptionAlgorithmRSAOAEP256), Value: secret}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ur, err = c.UnwrapKey(ctx, "rsa", "", azkeys.KeyOperationParameters{Algorithm: to.Ptr(azkeys.EncryptionAlgorithmRSAOAEP256), Value: wr.Result}, nil)
	if err != nil || !bytes.Equal(ur.Result, secret) {
		t.Fatalf("WrapKey/UnwrapKey round trip: %v", err)
	}
	_, err = c.WrapKey(ctx, "rsa", "", azkeys.KeyOperationParameters{Algorithm: to.Ptr(azkeys.EncryptionAlgorithmA256KW), Value: secret}, nil)
	wantCode(t, err, http.StatusBadRequest, codeBadParameter)
}

func TestSignatureAlgorithmRules(t *testing.T) {
	_, c := newVault(t)
	for name, p := range map[string]azkeys.CreateKeyParameters{
		"rsa":  {Kty: to.Ptr(azkeys.KeyTypeRSAHSM)},
		"p384": {Kty: to.Ptr(azkeys.KeyTypeECHSM), Curve: to.Ptr(azkeys.CurveNameP384)},
	} {
		if _, err := c.CreateKey(ctx, name, p, nil); err != nil {
			t.Fatal(err)
		}
	}
	d32, d48 := make([]byte, 32), make([]byte, 48)
	bad := []struct {
		key string
		alg azkeys.SignatureAlgorithm
		d   []byte
	}{
		{"rsa", azkeys.SignatureAlgorithmRS256, d48},  // digest length
		{"rsa", azkeys.SignatureAlgorithmES256, d32},  // EC algorithm, RSA key
		{"p384", azkeys.SignatureAlgorithmES256, d32}, // curve mismatch
		{"p384", azkeys.SignatureAlgorithmPS384, d48}, // RSA algorithm, EC key
		{"p384", azkeys.SignatureAlgorithm("ES999"), d48},
	}
	for _, b := range bad {
		_, err := c.Sign(ctx, b.key, "", azkeys.SignParameters{Algorithm: to.Ptr(b.alg), Value: b.d}, nil)
		wantCode(t, err, http.StatusBadRequest, codeBadParameter)
	}
	if _, err := c.Sign(ctx, "p384", "", azkeys.SignParameters{Algorithm: to.Ptr(azkeys.SignatureAlgorithmES384), Value: d48}, nil); err != nil {
		t.Fatal(err)
	}
}

func TestAESGCMManagedHSM(t *testing.T) {
	_, c := newVault(t, WithManagedHSM())
	if _, err := c.CreateKey(ctx, "aes", azkeys.CreateKeyParameters{Kty: to.Ptr(azkeys.KeyTypeOctHSM), KeySize: to.Ptr[int32](128)}, nil); err != nil {
		t.Fatal(err)
	}
	aad := []byte("context")
	er, err := c.Encrypt(ctx, "aes", "", azkeys.KeyOperationParameters{Algorithm: to.Ptr(azkeys.EncryptionAlgorithmA128GCM), Value: []byte("plaintext"), AdditionalAuthenticatedData: aad}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(er.IV) != 12 || len(er.AuthenticationTag) != 16 {
		t.Fatalf("iv %d, tag %d bytes", len(er.IV), len(er.AuthenticationTag))
	}
	dr, err := c.Decrypt(ctx, "aes", "", azkeys.KeyOperationParameters{Algorithm: to.Ptr(azkeys.EncryptionAlgorithmA128GCM), Value: er.Result,
		IV: er.IV, AuthenticationTag: er.AuthenticationTag, AdditionalAuthenticatedData: aad}, nil)
	if err != nil || string(dr.Result) != "plaintext" {
		t.Fatalf("decrypt: %v", err)
	}
	_, err = c.Decrypt(ctx, "aes", "", azkeys.KeyOperationParameters{Algorithm: to.Ptr(azkeys.EncryptionAlgorithmA128GCM), Value: er.Result,
		IV: er.IV, AuthenticationTag: er.AuthenticationTag, AdditionalAuthenticatedData: []byte("other")}, nil)
	wantCode(t, err, http.StatusBadRequest, codeBadParameter)
	// The algorithm's AES size must be the key's.
	_, err = c.Encrypt(ctx, "aes", "", azkeys.KeyOperationParameters{Algorithm: to.Ptr(azkeys.EncryptionAlgorithmA256GCM), Value: []byte("x")}, nil)
	wantCode(t, err, http.StatusBadRequest, codeBadParameter)
}
