package main

// Review findings (issue 15, Cloud KMS side): tests that fail on the code
// they were written against. Each says what it shows.

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	kms "cloud.google.com/go/kms/apiv1"
	"cloud.google.com/go/kms/apiv1/kmspb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/byok-go/byok/gcpkms/gcpkmstest"
)

// gcpReviewFake starts gcpkmstest and points byok migrate and byok status
// at it (BYOK_GCP_ENDPOINT), closing the shared client afterwards.
func gcpReviewFake(t *testing.T) *gcpkmstest.Server {
	t.Helper()
	srv, err := gcpkmstest.New()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		gcpClient.Lock()
		if gcpClient.c != nil {
			gcpClient.c.Close()
			gcpClient.c = nil
		}
		gcpClient.Unlock()
		srv.Close()
	})
	t.Setenv(envGCPEndpoint, srv.Addr())
	return srv
}

// p521Fleet writes a manifest whose one key (P-521) has an AWS target and a
// gcp target; Cloud KMS has no P-521 algorithm (gcpkms.RuleAlgorithms), a
// rule byok applies before any call.
func p521Fleet(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	p521, _ := filepath.Abs(keyFile("p521.pkcs8.pem"))
	manifest := filepath.Join(dir, "p521.yaml")
	os.WriteFile(manifest, []byte(`version: 1
id: review-p521
keys:
  - name: p521
    source: {key: `+p521+`}
    targets:
      - aws: {region: us-east-1}
      - gcp: {key_ring: projects/byok-review/locations/europe-west1/keyRings/a-key-ring-with-a-long-name}
`), 0o600)
	return manifest
}

// TestReviewMigrateChecksCloudRulesBeforeAWS: a key whose gcp target Cloud
// KMS's rules refuse before any call (the dry run says the key "failed to
// plan" and lists no AWS step) still has its AWS key created and imported
// by the real run, which then fails on the gcp target: the key is left
// half-migrated. Check, then act (STYLE 20): every target's rules are known
// before the first side effect.
func TestReviewMigrateChecksCloudRulesBeforeAWS(t *testing.T) {
	url, logs := startEmulator(t)
	setEmulatorEnv(t, url)
	gcpReviewFake(t)
	manifest := p521Fleet(t)
	code, out, errOut := migrateCLI(t, manifest, "--progress", "none")
	if code == 0 {
		t.Fatalf("a P-521 key migrated into Cloud KMS:\n%s\n%s", out, errOut)
	}
	if n := strings.Count(logs.String(), "TrentService.CreateKey"); n != 0 {
		t.Errorf("the gcp target was refused by a rule known before any call, yet %d AWS KMS key(s) were created (and imported):\n%s", n, out)
	}
}

// TestReviewMigrateFailedKeysWithin100Columns: the summary of byok migrate
// names a failed gcp target in one line of more than 300 columns (human
// output fits 100 columns).
func TestReviewMigrateFailedKeysWithin100Columns(t *testing.T) {
	url, _ := startEmulator(t)
	setEmulatorEnv(t, url)
	gcpReviewFake(t)
	manifest := p521Fleet(t)
	for _, args := range [][]string{{"--progress", "none", "--dry-run"}, {"--progress", "none"}} {
		_, out, _ := migrateCLI(t, append([]string{manifest}, args...)...)
		for _, l := range strings.Split(out, "\n") {
			if n := len([]rune(l)); n > 100 {
				t.Errorf("migrate %v: a line of %d columns: %.80s…", args, n, l)
			}
		}
	}
}

// TestReviewImportGCPErrorsNameFlags: bad --gcp-* values are refused, but
// the message names the library's option ("key ring", "key ID",
// "Options.ProtectionLevel") rather than the flag the user typed.
func TestReviewImportGCPErrorsNameFlags(t *testing.T) {
	ring := "projects/p/locations/global/keyRings/r"
	key := keyFile("p256.pkcs8.pem")
	for _, c := range []struct {
		args []string
		flag string
	}{
		{[]string{"--gcp-key-ring", "projects/p/keyRings/r", "--gcp-key", "k"}, "--gcp-key-ring"},
		{[]string{"--gcp-key-ring", ring, "--gcp-key", "k 3"}, "--gcp-key"},
		{[]string{"--gcp-key-ring", ring, "--gcp-key", "k", "--gcp-import-job", "x/y"}, "--gcp-import-job"},
		{[]string{"--gcp-key-ring", ring, "--gcp-key", "k", "--gcp-algorithm", "ec_sign_p256_sha256"}, "--gcp-algorithm"},
		{[]string{"--gcp-key-ring", ring, "--gcp-key", "k", "--gcp-algorithm", "EC_SIGN_P384_SHA384"}, "--gcp-algorithm"},
	} {
		args := append(append([]string{"import", "--to", "gcp", "--dry-run"}, c.args...), key)
		code, _, errOut := byokCLI(t, args...)
		if code == 0 {
			t.Errorf("%v: accepted", c.args)
			continue
		}
		if !strings.Contains(errOut, c.flag) {
			t.Errorf("%v: the error does not name %s:\n%s", c.args, c.flag, errOut)
		}
	}
	code, _, errOut := byokCLI(t, "import", "--to", "gcp", "--dry-run", "--gcp-key-ring", ring, "--gcp-key", "k",
		"--gcp-protection-level", "software", keyFile("secp256k1.pkcs8.pem"))
	if code == 0 || strings.Contains(errOut, "Options.") {
		t.Errorf("secp256k1 at SOFTWARE: exit %d; the CLI's error names a Go identifier:\n%s", code, errOut)
	}
}

// TestReviewExistingKeyMismatchMessage: an existing crypto key of another
// algorithm is refused with errors.Is(err, byok.ErrIncompatible), whose
// text leads the message: "wrapping algorithm cannot carry this key
// material" — but the wrapping algorithm is not the problem, the key's
// version template is.
func TestReviewExistingKeyMismatchMessage(t *testing.T) {
	srv := gcpReviewFake(t)
	ring := "projects/p/locations/global/keyRings/r"
	gcp := []string{"import", "--to", "gcp", "--gcp-key-ring", ring, "--gcp-key", "k", "--gcp-endpoint", srv.Addr()}
	if code, out, errOut := byokCLI(t, append(gcp, keyFile("p256.pkcs8.pem"))...); code != 0 {
		t.Fatalf("first import: exit %d\n%s\n%s", code, out, errOut)
	}
	code, _, errOut := byokCLI(t, append(gcp, keyFile("p384.pkcs8.pem"))...)
	if code == 0 {
		t.Fatal("a P-384 key imported into a P-256 crypto key")
	}
	if strings.Contains(errOut, "wrapping algorithm cannot carry") {
		t.Errorf("the refusal blames the wrapping algorithm:\n%s", errOut)
	}
}

// TestReviewMigrateReprovesGCPImport: the first run imports an HMAC key
// into Cloud KMS, but MacSign is refused once (UNPROVEN). The journal holds
// the import but not the version's name (gcpkms returns it as
// Imported.KeyARN; the journal keeps KeyMaterialID), so the rerun calls
// VerifyImport without the version and the proof stops every time: the
// import can never be proven by running byok migrate again.
func TestReviewMigrateReprovesGCPImport(t *testing.T) {
	srv := gcpReviewFake(t)
	dir := t.TempDir()
	mac := filepath.Join(dir, "mac.hex")
	os.WriteFile(mac, []byte("00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n"), 0o600)
	manifest := filepath.Join(dir, "reprove.yaml")
	os.WriteFile(manifest, []byte(`version: 1
id: review-reprove
keys:
  - name: mac
    source: {key: `+mac+`, key_spec: HMAC_256}
    targets:
      - gcp: {key_ring: projects/byok-review/locations/us-east1/keyRings/r}
`), 0o600)
	srv.InjectFault("MacSign", status.Error(codes.PermissionDenied, "Permission 'cloudkms.cryptoKeyVersions.useToSign' denied"))
	code, out, errOut := migrateCLI(t, manifest, "--progress", "none")
	if code == 0 || !strings.Contains(out, "1 UNPROVEN") {
		t.Fatalf("first run: want UNPROVEN: exit %d\n%s\n%s", code, out, errOut)
	}
	code, out, errOut = migrateCLI(t, manifest, "--progress", "none")
	if code != 0 || !strings.Contains(out, "1 PASSED") {
		t.Errorf("rerun (MacSign allowed now): want PASSED: exit %d\n%s\n%s", code, out, errOut)
	}
}

// TestReviewManifestGCPFieldsCheckedUpFront: the manifest check (exit 2,
// "the manifest has mistakes", FILE:LINE and the field's path) accepts a
// key_ring and an algorithm that gcpkms.New refuses; the refusal comes per
// key at run time (exit 1), naming neither the field nor its line, and
// after any AWS target of the key was created and imported.
func TestReviewManifestGCPFieldsCheckedUpFront(t *testing.T) {
	gcpReviewFake(t)
	dir := t.TempDir()
	p256, _ := filepath.Abs(keyFile("p256.pkcs8.pem"))
	for _, c := range []struct{ item, field string }{
		{"{key_ring: projects/My_Project/locations/global/keyRings/r}", "key_ring"},
		{"{key_ring: projects/p/locations/global/keyRings/r, algorithm: EC_SIGN_P256_SHA512}", "algorithm"},
	} {
		manifest := filepath.Join(dir, c.field+".yaml")
		os.WriteFile(manifest, []byte(`version: 1
id: review-fields
keys:
  - name: sig
    source: {key: `+p256+`}
    targets:
      - gcp: `+c.item+`
`), 0o600)
		code, out, errOut := migrateCLI(t, manifest, "--progress", "none", "--dry-run")
		if code != 2 || !strings.Contains(errOut, "targets[0].gcp."+c.field) {
			t.Errorf("%s: want exit 2 naming targets[0].gcp.%s: exit %d\n%s\n%s", c.item, c.field, code, out, errOut)
		}
	}
}

// TestReviewStatusGCPHint: a Cloud KMS key whose imported version was
// destroyed needs attention, and byok status tells the user to run
// `byok migrate --renew-within`, which leaves Cloud KMS targets alone
// ("targets in Google Cloud KMS or Azure Key Vault left alone").
func TestReviewStatusGCPHint(t *testing.T) {
	srv := gcpReviewFake(t)
	dir := t.TempDir()
	p256, _ := filepath.Abs(keyFile("p256.pkcs8.pem"))
	ring := "projects/byok-review/locations/us-east1/keyRings/st"
	manifest := filepath.Join(dir, "st.yaml")
	os.WriteFile(manifest, []byte(`version: 1
id: review-status
keys:
  - name: sig
    source: {key: `+p256+`}
    targets:
      - gcp: {key_ring: `+ring+`}
`), 0o600)
	if code, out, errOut := migrateCLI(t, manifest, "--progress", "none"); code != 0 {
		t.Fatalf("migrate: exit %d\n%s\n%s", code, out, errOut)
	}
	client, err := kms.NewKeyManagementClient(context.Background(), srv.ClientOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	if _, err := client.DestroyCryptoKeyVersion(context.Background(), &kmspb.DestroyCryptoKeyVersionRequest{Name: ring + "/cryptoKeys/sig/cryptoKeyVersions/1"}); err != nil {
		t.Fatal(err)
	}
	code, out, _ := byokCLI(t, "status", manifest)
	if code == 0 {
		t.Fatalf("a destroyed version needs no attention:\n%s", out)
	}
	if strings.Contains(out, "--renew-within") {
		t.Errorf("status suggests a renewal, which leaves Cloud KMS targets alone:\n%s", out)
	}
}

// TestReviewMigrateNoGCPCredentialsBeforeAWS: without usable Google
// credentials (here GOOGLE_APPLICATION_CREDENTIALS names no file), byok
// migrate creates and imports every key's AWS target, then fails each key
// on "connecting to Cloud KMS": the client is opened per key, after the
// AWS side effects, and a fleet is left half-migrated. The dry run already
// knows (it fails to open the target).
func TestReviewMigrateNoGCPCredentialsBeforeAWS(t *testing.T) {
	url, logs := startEmulator(t)
	setEmulatorEnv(t, url)
	t.Setenv(envGCPEndpoint, "")
	t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", filepath.Join(t.TempDir(), "no-such-credentials.json"))
	dir := t.TempDir()
	p256, _ := filepath.Abs(keyFile("p256.pkcs8.pem"))
	manifest := filepath.Join(dir, "nocreds.yaml")
	os.WriteFile(manifest, []byte(`version: 1
id: review-nocreds
keys:
  - name: sig
    source: {key: `+p256+`}
    targets:
      - aws: {region: us-east-1}
      - gcp: {key_ring: projects/byok-review/locations/us-east1/keyRings/r}
`), 0o600)
	code, out, errOut := migrateCLI(t, manifest, "--progress", "none")
	if code == 0 {
		t.Fatalf("migrated without Google credentials:\n%s\n%s", out, errOut)
	}
	if n := strings.Count(logs.String(), "TrentService.CreateKey"); n != 0 {
		t.Errorf("no Google credentials, yet %d AWS KMS key(s) were created and imported before the gcp target failed:\n%s", n, out)
	}
}
