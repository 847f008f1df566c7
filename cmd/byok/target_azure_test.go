package main

import (
	"bytes"
	"context"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/byok-go/byok"
	"github.com/byok-go/byok/azkv"
	"github.com/byok-go/byok/azkv/azkvtest"
)

// azureKEK returns a test KEK: its private key and its public key as
// az keyvault key download writes it, in a file.
func azureKEK(t *testing.T) (*rsa.PrivateKey, string) {
	t.Helper()
	b, err := os.ReadFile(keyFile("rsa3072.pkcs8.pem"))
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(b)
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	priv := k.(*rsa.PrivateKey)
	der, _ := x509.MarshalPKIXPublicKey(&priv.PublicKey)
	path := filepath.Join(t.TempDir(), "KEK.pem")
	os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o644)
	return priv, path
}

const azureKEKID = "https://contoso.vault.azure.net/keys/KEKforBYOK/0123456789abcdef0123456789abcdef"

// byok wrap --for azure writes a .byok file that the KEK's private key
// undoes into the key's PKCS#8, and prints the az command that imports it.
func TestWrapForAzure(t *testing.T) {
	priv, kekPEM := azureKEK(t)
	out := filepath.Join(t.TempDir(), "key.byok")
	env := cleanEnv(t)
	r := mustByok(t, 0, env, "wrap", "--for", "azure", "--kek-id", azureKEKID, "--kek-public", kekPEM, "--out", out, "--json", keyFile("p384.pkcs8.pem"))
	doc := decode[map[string]any](t, r)
	if doc["target"] != "azure" || doc["ok"] != true || doc["enc"] != "CKM_RSA_AES_KEY_WRAP" || doc["kek_spec"] != "RSA_3072" {
		t.Fatalf("%s", r)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	f, err := azkv.ParseTransferFile(b)
	if err != nil || f.KID != azureKEKID {
		t.Fatalf("%v %+v", err, f)
	}
	got, err := byok.UnwrapKeyMaterial(priv, byok.RSAAESKeyWrapSHA1, f.Ciphertext)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := os.ReadFile(keyFile("p384.pkcs8.pem"))
	m, err := byok.LoadKeyFile(kb, byok.LoadOptions{})
	if err != nil || !bytes.Equal(got, m.Bytes()) {
		t.Fatalf("the file does not carry the key's PKCS#8: %v", err)
	}
	if fi, _ := os.Stat(out); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v", fi.Mode())
	}

	// Human output: the import command, with EC's type and curve.
	out2 := filepath.Join(t.TempDir(), "k.byok")
	r = mustByok(t, 0, env, "wrap", "--for=azure", "--kek-id", azureKEKID, "--kek-public", kekPEM, "--out", out2, "--azure-key", "signing", keyFile("p256.sec1.pem"))
	if !strings.Contains(r.stdout, "az keyvault key import --vault-name contoso --name signing \\\n    --byok-file "+out2+" \\\n    --kty EC-HSM --curve-name P-256") {
		t.Fatalf("%s", r)
	}
	for _, l := range strings.Split(r.stdout, "\n") {
		if len(l) > 100 {
			t.Errorf("line over 100 columns: %q", l)
		}
	}

	// Refusals: an existing file, HMAC, AES into a key vault, no version.
	mustByok(t, 2, env, "wrap", "--for", "azure", "--kek-id", azureKEKID, "--kek-public", kekPEM, "--out", out, keyFile("p256.sec1.pem"))
	r = mustByok(t, 1, env, "wrap", "--for", "azure", "--kek-id", azureKEKID, "--kek-public", kekPEM, "--out", filepath.Join(t.TempDir(), "h.byok"), "--key-spec", "HMAC_256", keyFile("hmac256.b64"))
	if !strings.Contains(r.stderr, "HMAC") {
		t.Fatalf("%s", r)
	}
	r = mustByok(t, 1, env, "wrap", "--for", "azure", "--kek-id", azureKEKID, "--kek-public", kekPEM, "--out", filepath.Join(t.TempDir(), "a.byok"), "--key-spec", "SYMMETRIC_DEFAULT", keyFile("aes256.bin"))
	if !strings.Contains(r.stderr, "Managed HSM") {
		t.Fatalf("%s", r)
	}
	mustByok(t, 0, env, "wrap", "--for", "azure", "--azure-managed-hsm", "--kek-id", azureKEKID, "--kek-public", kekPEM, "--out", filepath.Join(t.TempDir(), "a.byok"), "--key-spec", "SYMMETRIC_DEFAULT", keyFile("aes256.bin"))
	mustByok(t, 2, env, "wrap", "--for", "azure", "--kek-id", "https://contoso.vault.azure.net/keys/KEK", "--kek-public", kekPEM, "--out", filepath.Join(t.TempDir(), "v.byok"), keyFile("p256.sec1.pem"))
	mustByok(t, 2, env, "wrap", "--for", "gcp", "--params", "x", keyFile("p256.sec1.pem"))
}

// azureEnv starts the fake Key Vault and returns the environment that has
// byok trust its certificate and use its token (files named by
// BYOK_AZURE_CA_FILE and BYOK_AZURE_TOKEN_FILE), and its request log.
func azureEnv(t *testing.T, opts ...azkvtest.Option) (*azkvtest.Server, []string, *syncBuffer) {
	t.Helper()
	logs := &syncBuffer{}
	srv, err := azkvtest.New(append(opts, azkvtest.WithLog(logs))...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL())
	conn, err := tls.Dial("tcp", u.Host, &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	cert := conn.ConnectionState().PeerCertificates[0]
	conn.Close()
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca.pem")
	os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}), 0o644)
	// The tenant and resource are the ones the vault's challenge names.
	resp, err := srv.ClientOptions().Transport.(*http.Client).Get(srv.URL() + "/keys/x?api-version=7.6")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	ch := resp.Header.Get("WWW-Authenticate")
	m := regexp.MustCompile(`authorization="https://login\.microsoftonline\.com/([^"/]+)"`).FindStringSubmatch(ch)
	r := regexp.MustCompile(`resource="([^"]+)"`).FindStringSubmatch(ch)
	if m == nil || r == nil {
		t.Fatalf("challenge %q", ch)
	}
	tok, err := srv.Credential().GetToken(context.Background(), policy.TokenRequestOptions{Scopes: []string{r[1] + "/.default"}, TenantID: m[1]})
	if err != nil {
		t.Fatal(err)
	}
	tokFile := filepath.Join(dir, "token")
	os.WriteFile(tokFile, []byte(tok.Token+"\n"), 0o600)
	return srv, cleanEnv(t, "BYOK_AZURE_CA_FILE="+ca, "BYOK_AZURE_TOKEN_FILE="+tokFile), logs
}

// byok import --to azure against the fake Key Vault through the real
// azkeys client: imported and PASSED; --dry-run makes no request; a key
// Azure does not take is refused before any request.
func TestImportToAzure(t *testing.T) {
	srv, env, logs := azureEnv(t)
	r := mustByok(t, 0, env, "import", "--to", "azure", "--azure-vault", srv.URL(), "--azure-key", "plan", "--dry-run", "--json", keyFile("rsa2048.pkcs8.pem"))
	if n := strings.Count(logs.String(), "\n"); n != 1 { // the test's own challenge request
		t.Fatalf("--dry-run made requests:\n%s", logs)
	}
	plan := decode[map[string]any](t, r)
	if plan["dry_run"] != true || plan["wrapping_algorithm"] != "RSA_AES_KEY_WRAP_SHA_1" || plan["target"] != "azure" {
		t.Fatalf("%s", r)
	}
	r = mustByok(t, 0, env, "import", "--to", "azure", "--azure-vault", srv.URL(), "--azure-key", "signing", "--tag", "team=x", "--json", keyFile("rsa2048.pkcs8.pem"))
	doc := decode[map[string]any](t, r)
	v, _ := doc["verification"].(map[string]any)
	if doc["ok"] != true || doc["target"] != "azure" || doc["created"] != true || doc["kek_created"] != true || v["verdict"] != "PASSED" ||
		!strings.HasPrefix(doc["key_id"].(string), srv.URL()+"/keys/signing/") {
		t.Fatalf("%s", r)
	}
	if rc, _ := doc["remove_commands"].([]any); len(rc) != 1 {
		t.Fatalf("remove_commands: %s", r)
	}
	// Human output, the KEK reused.
	r = mustByok(t, 0, env, "import", "--to", "azure", "--azure-vault", srv.URL(), "--azure-key", "signing2", "--azure-kek", "signing-kek", keyFile("p256.sec1.pem"))
	if !strings.Contains(r.stdout, "PASSED") {
		t.Fatalf("%s", r)
	}
	before := strings.Count(logs.String(), "\n")
	r = mustByok(t, 1, env, "import", "--to", "azure", "--azure-vault", srv.URL(), "--azure-key", "mac", "--json", "--key-spec", "HMAC_256", keyFile("hmac256.b64"))
	if e, _ := decode[map[string]any](t, r)["error"].(map[string]any); e == nil || !strings.Contains(e["message"].(string), "HMAC") {
		t.Fatalf("%s", r)
	}
	if strings.Count(logs.String(), "\n") != before {
		t.Fatalf("a refused key made requests:\n%s", logs)
	}
	mustByok(t, 2, env, "import", "--to", "azure", "--azure-key", "x", keyFile("p256.sec1.pem"))
}

// AES keys go into a Managed HSM, proven by A256KW.
func TestImportToAzureManagedHSM(t *testing.T) {
	srv, env, _ := azureEnv(t, azkvtest.WithManagedHSM())
	r := mustByok(t, 0, env, "import", "--to", "azure", "--azure-vault", srv.URL(), "--azure-managed-hsm", "--azure-key", "data",
		"--key-spec", "SYMMETRIC_DEFAULT", "--json", keyFile("aes256.bin"))
	doc := decode[map[string]any](t, r)
	v, _ := doc["verification"].(map[string]any)
	if v["verdict"] != "PASSED" || doc["managed_hsm"] != true {
		t.Fatalf("%s", r)
	}
}
