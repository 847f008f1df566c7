package main

// Review findings (issue 15, Azure side): each test fails on the code it
// was written against and passes once the finding is fixed.

import (
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
