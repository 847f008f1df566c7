package main

import (
	"net/http"
	"strings"
	"testing"

	"github.com/byok-go/byok/azkv/azkvtest"
)

// Every azkv.New refusal names its flag, exit 2, before any request.
func TestAzureOptionErrorsNameTheFlag(t *testing.T) {
	srv, env, logs := azureEnv(t)
	before := logs.String() // azureEnv's own request for the challenge
	for _, c := range []struct {
		flag string
		args []string
	}{
		{"--azure-vault", []string{"--azure-vault", "https://contoso.vault.azure.net/x", "--azure-key", "k"}},
		{"--azure-key", []string{"--azure-vault", srv.URL(), "--azure-key", "k_1"}},
		{"--azure-kek", []string{"--azure-vault", srv.URL(), "--azure-key", "k", "--azure-kek", "a.b"}},
		{"--azure-kek", []string{"--azure-vault", srv.URL(), "--azure-key", "k", "--azure-kek", "K"}},
		{"--azure-kek-size", []string{"--azure-vault", srv.URL(), "--azure-key", "k", "--azure-kek-size", "1024"}},
	} {
		r := runByok(t, env, append(append([]string{"import", "--to", "azure"}, c.args...), keyFile("p256.sec1.pem"))...)
		if r.code != 2 || !strings.Contains(r.stderr, c.flag+" ") || strings.Contains(r.stderr, "azkv:") {
			t.Errorf("%v: want exit 2 naming %s in the CLI's words: %s", c.args, c.flag, r)
		}
	}
	if logs.String() != before {
		t.Fatalf("requests were made:\n%s", logs)
	}
}

// The verdict names the service: Key Vault, Managed HSM; --no-verify's
// row too.
func TestAzureVerdictNamesTheService(t *testing.T) {
	srv, env, _ := azureEnv(t)
	r := mustByok(t, 0, env, "import", "--to", "azure", "--azure-vault", srv.URL(), "--azure-key", "a", keyFile("p256.sec1.pem"))
	if !strings.Contains(r.stdout, "PASSED: Key Vault holds the source key") {
		t.Errorf("key vault:\n%s", r.stdout)
	}
	r = mustByok(t, 0, env, "import", "--to", "azure", "--no-verify", "--azure-vault", srv.URL(), "--azure-key", "b", keyFile("p256.sec1.pem"))
	if !strings.Contains(r.stdout, "nothing proves that Key Vault holds the source key") || strings.Contains(r.stdout, "KMS") {
		t.Errorf("--no-verify:\n%s", r.stdout)
	}
	hsm, env, _ := azureEnv(t, azkvtest.WithManagedHSM())
	r = mustByok(t, 0, env, "import", "--to", "azure", "--azure-managed-hsm", "--azure-vault", hsm.URL(), "--azure-key", "c", keyFile("p256.sec1.pem"))
	if !strings.Contains(r.stdout, "PASSED: Managed HSM holds the source key") || strings.Contains(r.stdout, "KMS") {
		t.Errorf("managed HSM:\n%s", r.stdout)
	}
}

// ImportKey answered 503: sent once, the vault asked, the KEK byok
// created named once with its remove command.
func TestAzureImportKeyFailureNamesKEKOnce(t *testing.T) {
	srv, env, logs := azureEnv(t, azkvtest.WithFault("ImportKey", http.StatusServiceUnavailable, "ServiceUnavailable"))
	r := runByok(t, env, "import", "--to", "azure", "--azure-vault", srv.URL(), "--azure-key", "k", "--azure-kek-size", "2048", keyFile("p256.sec1.pem"))
	if r.code == 0 || !strings.Contains(r.stderr, "nothing was imported") {
		t.Fatalf("%s", r)
	}
	if n := strings.Count(r.stderr, "az keyvault key delete --vault-name 127 --name k-kek"); n != 1 {
		t.Errorf("the KEK's remove command appears %d times:\n%s", n, r.stderr)
	}
	if n := strings.Count(logs.String(), "PUT /keys/k "); n != 1 {
		t.Errorf("%d ImportKey requests:\n%s", n, logs)
	}
}
