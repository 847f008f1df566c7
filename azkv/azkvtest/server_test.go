package azkvtest

import (
	"bytes"
	"context"
	"crypto/elliptic"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azkeys"
)

func rawRequest(t *testing.T, srv *Server, method, path, token string, body string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL()+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := srv.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func TestUnauthenticated(t *testing.T) {
	srv, c := newVault(t)
	createKEK(t, c, "kek", 2048)
	for _, tok := range []string{"", "not-the-token"} {
		resp := rawRequest(t, srv, http.MethodGet, "/keys/kek?api-version=7.6", tok, "")
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("token %q: status %d, want 401", tok, resp.StatusCode)
		}
		h := resp.Header.Get("WWW-Authenticate")
		if !strings.HasPrefix(h, `Bearer authorization="https://login.microsoftonline.com/`) || !strings.Contains(h, `resource="https://vault.azure.net"`) {
			t.Fatalf("WWW-Authenticate %q", h)
		}
	}
	// With the token the same request works: the 401 was the token's doing.
	tok, err := srv.Credential().GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{"https://vault.azure.net/.default"}, TenantID: srv.tenant})
	if err != nil {
		t.Fatal(err)
	}
	if resp := rawRequest(t, srv, http.MethodGet, "/keys/kek?api-version=7.6", tok.Token, ""); resp.StatusCode != http.StatusOK {
		t.Fatalf("authenticated GET: %d", resp.StatusCode)
	}
	// The credential hands out the token only for the challenge's scope and tenant.
	if _, err := srv.Credential().GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{"https://management.azure.com/.default"}, TenantID: srv.tenant}); err == nil {
		t.Fatal("the credential gave a token for another scope")
	}
	if _, err := srv.Credential().GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{"https://vault.azure.net/.default"}, TenantID: "other"}); err == nil {
		t.Fatal("the credential gave a token for another tenant")
	}
	// A client whose credential's token the server does not accept fails with 401.
	bad, _ := azkeys.NewClient(srv.URL(), staticCred("wrong"), srv.ClientOptions())
	_, err = bad.GetKey(ctx, "kek", "", nil)
	var re *azcore.ResponseError
	if !errors.As(err, &re) || re.StatusCode != http.StatusUnauthorized {
		t.Fatalf("a wrong token: %v", err)
	}
}

type staticCred string

func (s staticCred) GetToken(_ context.Context, _ policy.TokenRequestOptions) (azcore.AccessToken, error) {
	return azcore.AccessToken{Token: string(s), ExpiresOn: time.Now().Add(time.Hour)}, nil
}

func TestManagedHSMChallenge(t *testing.T) {
	srv, c := newVault(t, WithManagedHSM())
	resp := rawRequest(t, srv, http.MethodGet, "/keys/x?api-version=7.6", "", "")
	if h := resp.Header.Get("WWW-Authenticate"); !strings.Contains(h, `resource="https://managedhsm.azure.net"`) {
		t.Fatalf("WWW-Authenticate %q", h)
	}
	if _, err := c.CreateKey(ctx, "aes", azkeys.CreateKeyParameters{Kty: to.Ptr(azkeys.KeyTypeOctHSM)}, nil); err != nil {
		t.Fatal(err)
	}
}

func TestAPIVersion(t *testing.T) {
	srv, _ := newVault(t)
	for _, q := range []string{"", "?api-version=", "?api-version=7.0", "?api-version=2099-01-01"} {
		resp := rawRequest(t, srv, http.MethodGet, "/keys/kek"+q, srv.token, "")
		if resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("%q: status %d, want 400", q, resp.StatusCode)
		}
	}
	for _, v := range []string{"7.4", "7.5", "7.6", "2025-07-01", "2026-04-01"} {
		if resp := rawRequest(t, srv, http.MethodGet, "/keys/kek?api-version="+v, srv.token, ""); resp.StatusCode != http.StatusNotFound {
			t.Fatalf("%s: status %d, want 404 (no such key)", v, resp.StatusCode)
		}
	}
}

func TestGetKeyAndVersions(t *testing.T) {
	_, c := newVault(t)
	kid1, _ := createKEK(t, c, "k", 2048)
	kid2, pub2 := createKEK(t, c, "k", 3072)
	if kid1 == kid2 {
		t.Fatal("a new version has the same kid")
	}
	latest, err := c.GetKey(ctx, "k", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if string(*latest.Key.KID) != kid2 || !rsaPublic(t, latest.Key).Equal(pub2) {
		t.Fatal("GetKey without a version is not the latest version")
	}
	if len(latest.Key.D) != 0 || len(latest.Key.P) != 0 || len(latest.Key.Q) != 0 || len(latest.Key.DP) != 0 || len(latest.Key.K) != 0 {
		t.Fatal("GetKey answered private parts")
	}
	id1 := azkeys.ID(kid1)
	first, err := c.GetKey(ctx, "k", id1.Version(), nil)
	if err != nil || string(*first.Key.KID) != kid1 {
		t.Fatalf("GetKey of the first version: %v", err)
	}
	_, err = c.GetKey(ctx, "k", strings.Repeat("a", 32), nil)
	wantCode(t, err, http.StatusNotFound, codeKeyNotFound)
	_, err = c.GetKey(ctx, "nokey", "", nil)
	wantCode(t, err, http.StatusNotFound, codeKeyNotFound)
	_, err = c.GetKey(ctx, "bad_name", "", nil)
	wantCode(t, err, http.StatusBadRequest, codeBadParameter)

	n := 0
	for pager := c.NewListKeyPropertiesVersionsPager("k", nil); pager.More(); {
		page, err := pager.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		n += len(page.Value)
	}
	if n != 2 {
		t.Fatalf("%d versions listed, want 2", n)
	}
	if _, err := c.DeleteKey(ctx, "k", nil); err != nil {
		t.Fatal(err)
	}
	_, err = c.GetKey(ctx, "k", "", nil)
	wantCode(t, err, http.StatusNotFound, codeKeyNotFound)
}

func TestKeyOpsEnforced(t *testing.T) {
	_, c := newVault(t)
	_, err := c.CreateKey(ctx, "verify-only", azkeys.CreateKeyParameters{Kty: to.Ptr(azkeys.KeyTypeECHSM), Curve: to.Ptr(azkeys.CurveNameP256),
		KeyOps: []*azkeys.KeyOperation{to.Ptr(azkeys.KeyOperationVerify)}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	d := sha256.Sum256([]byte("x"))
	_, err = c.Sign(ctx, "verify-only", "", azkeys.SignParameters{Algorithm: to.Ptr(azkeys.SignatureAlgorithmES256), Value: d[:]}, nil)
	wantCode(t, err, http.StatusForbidden, codeForbidden)
	_, err = c.Verify(ctx, "verify-only", "", azkeys.VerifyParameters{Algorithm: to.Ptr(azkeys.SignatureAlgorithmES256), Digest: d[:], Signature: make([]byte, 64)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.CreateKey(ctx, "enc-only", azkeys.CreateKeyParameters{Kty: to.Ptr(azkeys.KeyTypeRSAHSM),
		KeyOps: []*azkeys.KeyOperation{to.Ptr(azkeys.KeyOperationEncrypt)}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.WrapKey(ctx, "enc-only", "", azkeys.KeyOperationParameters{Algorithm: to.Ptr(azkeys.EncryptionAlgorithmRSAOAEP256), Value: make([]byte, 32)}, nil)
	wantCode(t, err, http.StatusForbidden, codeForbidden)
	_, err = c.Decrypt(ctx, "enc-only", "", azkeys.KeyOperationParameters{Algorithm: to.Ptr(azkeys.EncryptionAlgorithmRSAOAEP256), Value: make([]byte, 256)}, nil)
	wantCode(t, err, http.StatusForbidden, codeForbidden)
	// EC keys cannot have encrypt.
	_, err = c.CreateKey(ctx, "ec-enc", azkeys.CreateKeyParameters{Kty: to.Ptr(azkeys.KeyTypeECHSM),
		KeyOps: []*azkeys.KeyOperation{to.Ptr(azkeys.KeyOperationEncrypt)}}, nil)
	wantCode(t, err, http.StatusBadRequest, codeBadParameter)
}

func TestWithFault(t *testing.T) {
	_, c := newVault(t, WithFault("ImportKey", http.StatusConflict, "Conflict"), WithFault("Sign", http.StatusForbidden, "ForbiddenByPolicy"))
	kid, kek := createKEK(t, c, "kek", 2048)
	_, err := importBYOK(c, "t", azkeys.KeyTypeECHSM, azkeys.CurveNameP256, blob(kid, blobEnc, wrapGo(t, kek, ecPKCS8(t, elliptic.P256()))))
	wantCode(t, err, http.StatusConflict, "Conflict")
	_, err = c.Sign(ctx, "kek", "", azkeys.SignParameters{Algorithm: to.Ptr(azkeys.SignatureAlgorithmRS256), Value: make([]byte, 32)}, nil)
	wantCode(t, err, http.StatusForbidden, "ForbiddenByPolicy")
	if _, err := New(WithFault("NoSuchOp", 500, "X")); err == nil {
		t.Fatal("New accepted a fault for an unknown operation")
	}
	if _, err := New(WithFault("Sign", 200, "X")); err == nil {
		t.Fatal("New accepted a fault with a success status")
	}
}

// syncBuffer is a bytes.Buffer safe for the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestWithLogAndClock(t *testing.T) {
	var log syncBuffer
	at := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	_, c := newVault(t, WithLog(&log), WithClock(func() time.Time { return at }))
	kid, kek := createKEK(t, c, "kek", 2048)
	material := rsaPKCS8(t, 2048)
	ct := wrapGo(t, kek, material)
	resp, err := importBYOK(c, "t", azkeys.KeyTypeRSAHSM, "", blob(kid, blobEnc, ct))
	if err != nil {
		t.Fatal(err)
	}
	if !resp.Attributes.Created.Equal(at) {
		t.Fatalf("created %v, want %v", resp.Attributes.Created, at)
	}
	out := log.String()
	for _, want := range []string{"POST /keys/kek/create 401\n", "POST /keys/kek/create 200\n", "PUT /keys/t 200\n"} {
		if !strings.Contains(out, want) {
			t.Fatalf("log lacks %q:\n%s", want, out)
		}
	}
	for _, secret := range [][]byte{material[len(material)-32:], ct[len(ct)-32:]} {
		if strings.Contains(out, hex.EncodeToString(secret)) || strings.Contains(out, b64.EncodeToString(secret)) || strings.Contains(out, string(secret)) {
			t.Fatal("the log holds key bytes")
		}
	}
}

func TestConcurrentImports(t *testing.T) {
	_, c := newVault(t)
	kid, kek := createKEK(t, c, "kek", 2048)
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			name := "k" + string(rune('a'+i))
			if _, err := importBYOK(c, name, azkeys.KeyTypeECHSM, azkeys.CurveNameP256, blob(kid, blobEnc, wrapGo(t, kek, ecPKCS8(t, elliptic.P256()))), azkeys.KeyOperationSign); err != nil {
				errs <- err
				return
			}
			d := sha256.Sum256([]byte(name))
			if _, err := c.Sign(ctx, name, "", azkeys.SignParameters{Algorithm: to.Ptr(azkeys.SignatureAlgorithmES256), Value: d[:]}, nil); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	n := 0
	for pager := c.NewListKeyPropertiesPager(nil); pager.More(); {
		page, err := pager.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		n += len(page.Value)
	}
	if n != 9 {
		t.Fatalf("%d keys listed, want 9", n)
	}
}

func TestUpdateKey(t *testing.T) {
	_, c := newVault(t)
	if _, err := c.CreateKey(ctx, "ec", azkeys.CreateKeyParameters{Kty: to.Ptr(azkeys.KeyTypeECHSM)}, nil); err != nil {
		t.Fatal(err)
	}
	d := sha256.Sum256(nil)
	sign := func() error {
		_, err := c.Sign(ctx, "ec", "", azkeys.SignParameters{Algorithm: to.Ptr(azkeys.SignatureAlgorithmES256), Value: d[:]}, nil)
		return err
	}
	if err := sign(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.UpdateKey(ctx, "ec", "", azkeys.UpdateKeyParameters{KeyAttributes: &azkeys.KeyAttributes{Enabled: to.Ptr(false)}}, nil); err != nil {
		t.Fatal(err)
	}
	wantCode(t, sign(), http.StatusForbidden, codeForbidden)
	if _, err := c.UpdateKey(ctx, "ec", "", azkeys.UpdateKeyParameters{KeyAttributes: &azkeys.KeyAttributes{Enabled: to.Ptr(true)},
		KeyOps: []*azkeys.KeyOperation{to.Ptr(azkeys.KeyOperationVerify)}, Tags: map[string]*string{"source": to.Ptr("hsm")}}, nil); err != nil {
		t.Fatal(err)
	}
	wantCode(t, sign(), http.StatusForbidden, codeForbidden)
	got, err := c.GetKey(ctx, "ec", "", nil)
	if err != nil || *got.Tags["source"] != "hsm" || !*got.Attributes.Enabled {
		t.Fatalf("GetKey after UpdateKey: %v", err)
	}
	// A key exchange key stays one.
	createKEK(t, c, "kek", 2048)
	_, err = c.UpdateKey(ctx, "kek", "", azkeys.UpdateKeyParameters{KeyOps: []*azkeys.KeyOperation{to.Ptr(azkeys.KeyOperationSign)}}, nil)
	wantCode(t, err, http.StatusBadRequest, codeBadParameter)
	_, err = c.UpdateKey(ctx, "ec", "", azkeys.UpdateKeyParameters{KeyOps: []*azkeys.KeyOperation{to.Ptr(azkeys.KeyOperationImport)}}, nil)
	wantCode(t, err, http.StatusBadRequest, codeBadParameter)
}
