package azkvtest

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azkeys"
)

// TestImportGoMadeBlob imports a blob made with crypto/rsa and Tink (not byok)
// and proves the key with RS256 both ways.
func TestImportGoMadeBlob(t *testing.T) {
	_, c := newVault(t)
	kid, kekPub := createKEK(t, c, "kek", 2048)
	src, _ := rsa.GenerateKey(rand.Reader, 2048)
	der, _ := x509.MarshalPKCS8PrivateKey(src)
	resp, err := importBYOK(c, "target", azkeys.KeyTypeRSAHSM, "", blob(kid, "CKM_RSA_AES_KEY_WRAP", wrapGo(t, kekPub, der)),
		azkeys.KeyOperationSign, azkeys.KeyOperationVerify)
	if err != nil {
		t.Fatal(err)
	}
	if got := rsaPublic(t, resp.Key); !got.Equal(&src.PublicKey) {
		t.Fatal("imported public key differs from the source's")
	}
	digest := sha256.Sum256([]byte("hello"))
	sr, err := c.Sign(ctx, "target", "", azkeys.SignParameters{Algorithm: to.Ptr(azkeys.SignatureAlgorithmRS256), Value: digest[:]}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := rsa.VerifyPKCS1v15(&src.PublicKey, crypto.SHA256, digest[:], sr.Result); err != nil {
		t.Fatal("vault signature does not verify under the source key:", err)
	}
	local, _ := rsa.SignPKCS1v15(nil, src, crypto.SHA256, digest[:])
	vr, err := c.Verify(ctx, "target", "", azkeys.VerifyParameters{Algorithm: to.Ptr(azkeys.SignatureAlgorithmRS256), Digest: digest[:], Signature: local}, nil)
	if err != nil || !*vr.Value {
		t.Fatal("vault does not verify the source's signature", err)
	}
}
