package azkvtest

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"encoding/base64"
	"encoding/json"
	"errors"
	"hash"
	"math/big"
	"net/http"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azkeys"
	kwp "github.com/tink-crypto/tink-go/v2/kwp/subtle"
)

var ctx = context.Background()

// newVault starts a fake and returns it with a real azkeys client.
func newVault(t *testing.T, opts ...Option) (*Server, *azkeys.Client) {
	t.Helper()
	srv, err := New(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	c, err := azkeys.NewClient(srv.URL(), srv.Credential(), srv.ClientOptions())
	if err != nil {
		t.Fatal(err)
	}
	return srv, c
}

// createKEK creates an RSA-HSM key with ops and returns its kid and public
// key as the client sees them.
func createKEK(t *testing.T, c *azkeys.Client, name string, bits int32, ops ...azkeys.KeyOperation) (string, *rsa.PublicKey) {
	t.Helper()
	if ops == nil {
		ops = []azkeys.KeyOperation{azkeys.KeyOperationImport}
	}
	p := azkeys.CreateKeyParameters{Kty: to.Ptr(azkeys.KeyTypeRSAHSM), KeySize: to.Ptr(bits)}
	for _, op := range ops {
		p.KeyOps = append(p.KeyOps, to.Ptr(op))
	}
	resp, err := c.CreateKey(ctx, name, p, nil)
	if err != nil {
		t.Fatalf("CreateKey %s: %v", name, err)
	}
	return string(*resp.Key.KID), rsaPublic(t, resp.Key)
}

func rsaPublic(t *testing.T, k *azkeys.JSONWebKey) *rsa.PublicKey {
	t.Helper()
	if len(k.N) == 0 || len(k.E) == 0 {
		t.Fatal("the key has no n or e")
	}
	return &rsa.PublicKey{N: new(big.Int).SetBytes(k.N), E: int(new(big.Int).SetBytes(k.E).Int64())}
}

// wrapGo makes a CKM_RSA_AES_KEY_WRAP ciphertext with crypto/rsa and Tink,
// not with byok's code.
func wrapGo(t *testing.T, kek *rsa.PublicKey, material []byte) []byte {
	t.Helper()
	aesKey := make([]byte, 32)
	_, _ = rand.Read(aesKey)
	head, err := rsa.EncryptOAEP(sha1.New(), rand.Reader, kek, aesKey, nil)
	if err != nil {
		t.Fatal(err)
	}
	w, err := kwp.NewKWP(aesKey)
	if err != nil {
		t.Fatal(err)
	}
	tail, err := w.Wrap(material)
	if err != nil {
		t.Fatal(err)
	}
	return append(head, tail...)
}

// blob is the .byok JSON of the BYOK specification.
func blob(kid, enc string, ct []byte) []byte {
	b, _ := json.Marshal(map[string]any{
		"schema_version": "1.0.0",
		"header":         map[string]string{"kid": kid, "alg": "dir", "enc": enc},
		"ciphertext":     base64.RawURLEncoding.EncodeToString(ct),
		"generator":      "azkvtest tests",
	})
	return b
}

func importBYOK(c *azkeys.Client, name string, kty azkeys.KeyType, crv azkeys.CurveName, byok []byte, ops ...azkeys.KeyOperation) (azkeys.ImportKeyResponse, error) {
	jwk := &azkeys.JSONWebKey{Kty: to.Ptr(kty), T: byok}
	if crv != "" {
		jwk.Crv = to.Ptr(crv)
	}
	for _, op := range ops {
		jwk.KeyOps = append(jwk.KeyOps, to.Ptr(op))
	}
	return c.ImportKey(ctx, name, azkeys.ImportKeyParameters{Key: jwk}, nil)
}

// wantCode asserts err is a Key Vault error with status and code.
func wantCode(t *testing.T, err error, status int, code string) {
	t.Helper()
	var re *azcore.ResponseError
	if !errors.As(err, &re) {
		t.Fatalf("want a %d %s error, got %v", status, code, err)
	}
	if re.StatusCode != status || re.ErrorCode != code {
		t.Fatalf("want %d %s, got %d %s: %v", status, code, re.StatusCode, re.ErrorCode, err)
	}
}

var _ = http.StatusOK

func sha1New() hash.Hash { return sha1.New() }

// wrapGoWithKey is wrapGo with a given AES key and RSA head.
func wrapGoWithKey(t *testing.T, kek *rsa.PublicKey, material, aesKey, head []byte) []byte {
	t.Helper()
	w, err := kwp.NewKWP(aesKey)
	if err != nil {
		t.Fatal(err)
	}
	tail, err := w.Wrap(material)
	if err != nil {
		t.Fatal(err)
	}
	return append(append([]byte(nil), head...), tail...)
}
