package main

import (
	"context"
	"encoding/pem"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// With BYOK_AZURE_TOKEN_FILE, azureClient turns off the SDK's check that
// the resource a vault's challenge names belongs to the vault's host
// (DisableChallengeResourceVerification). The token, whose audience is
// every Key Vault (https://vault.azure.net), then goes to any host an
// --azure-vault flag or a manifest's vault names: here example.com, which
// is no Key Vault, answers the challenge and receives it. With
// DefaultAzureCredential the SDK refuses such a host.
func TestReviewTokenFileNotSentToNonVaultHost(t *testing.T) {
	var mu sync.Mutex
	var got string
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if a := r.Header.Get("Authorization"); a != "" {
			mu.Lock()
			got = a
			mu.Unlock()
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusNotFound)
			w.Write([]byte(`{"error":{"code":"KeyNotFound","message":"no"}}`))
			return
		}
		w.Header().Set("WWW-Authenticate", `Bearer authorization="https://login.microsoftonline.com/00000000-0000-0000-0000-000000000000", resource="https://vault.azure.net"`)
		w.WriteHeader(http.StatusUnauthorized)
	}))
	defer srv.Close()
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca.pem")
	os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600)
	tok := filepath.Join(dir, "token")
	os.WriteFile(tok, []byte("eyJ.secret-vault-token.sig\n"), 0o600)
	t.Setenv(envAzureTokenFile, tok)
	t.Setenv(envAzureCAFile, ca)
	// example.com (a name httptest's certificate carries) resolves to the
	// test server, as a typo'd or planted vault name would to its owner.
	tr := http.DefaultTransport.(*http.Transport).Clone()
	addr := srv.Listener.Addr().String()
	tr.DialContext = func(ctx context.Context, network, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, addr)
	}
	old := http.DefaultTransport
	http.DefaultTransport = tr
	defer func() { http.DefaultTransport = old }()

	c, err := azureClient("https://example.com")
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.GetKey(context.Background(), "signing", "", nil)
	mu.Lock()
	defer mu.Unlock()
	if got != "" {
		t.Fatalf("the Key Vault access token went to https://example.com: Authorization %q (GetKey: %v)", got, err)
	}
}
