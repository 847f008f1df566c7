package main

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/byok-go/byok/gcpkms/gcpkmstest"
)

// runByok runs the built binary and returns its exit code, stdout and stderr.
func runGCPBinary(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(byokBinary(t), args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return code, out.String(), errb.String()
}

// TestImportGCPBinary runs `byok import --to gcp` (the built binary) against
// gcpkmstest, a fake of the Cloud KMS API, with the real Go client inside
// byok: a P-256 key is PASSED, an AES key UNPROVEN (exit 4), and what Cloud
// KMS cannot take, or a misuse of the flags, is refused before any call.
func TestImportGCPBinary(t *testing.T) {
	var log syncBuffer
	srv, err := gcpkmstest.New(gcpkmstest.WithLog(&log))
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	ring := "projects/byok-cli/locations/europe-west1/keyRings/cli"
	gcp := func(key string, extra ...string) []string {
		return append([]string{"import", "--to", "gcp", "--gcp-key-ring", ring, "--gcp-key", key, "--gcp-endpoint", srv.Addr()}, extra...)
	}

	code, stdout, stderr := runGCPBinary(t, append(gcp("p256", keyFile("p256.pkcs8.pem")), "--json")...)
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
	}
	var doc map[string]any
	d := json.NewDecoder(strings.NewReader(stdout))
	d.UseNumber()
	if err := d.Decode(&doc); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, stdout)
	}
	checkContract(t, "import --to gcp", doc, "")
	v, _ := doc["verification"].(map[string]any)
	if doc["ok"] != true || doc["target"] != "gcp" || doc["key_name"] != ring+"/cryptoKeys/p256" || doc["created"] != true ||
		!strings.HasPrefix(doc["version_name"].(string), ring+"/cryptoKeys/p256/cryptoKeyVersions/") ||
		doc["cloud_kms_algorithm"] != "EC_SIGN_P256_SHA256" || doc["import_method"] != "RSA_OAEP_4096_SHA256_AES_256" || v["verdict"] != "PASSED" {
		t.Errorf("unexpected result:\n%s", stdout)
	}

	// Human output, an AES key: UNPROVEN, exit 4, lines within 100 columns.
	code, stdout, stderr = runGCPBinary(t, gcp("aes", keyFile("aes256.hex"), "--key-spec", "SYMMETRIC_DEFAULT", "--key-format", "hex")...)
	if code != 4 || !strings.Contains(stdout, "UNPROVEN") || !strings.Contains(stderr, "WAS imported") {
		t.Errorf("AES: exit %d\n%s%s", code, stdout, stderr)
	}
	for _, l := range strings.Split(stdout, "\n") {
		if len(l) > 100 {
			t.Errorf("a line of %d columns: %q", len(l), l)
		}
	}

	// Refused before any call: the fake sees no request.
	before := strings.Count(log.String(), "\n")
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{gcp("p521", keyFile("p521.pkcs8.pem")), 1, "P-521"},
		{gcp("rsa", keyFile("rsa2048.pkcs8.pem"), "--wrapping-key-spec", "RSA_2048"), 1, "RSA 3072 or 4096"},
		{gcp("rsa", keyFile("rsa2048.pkcs8.pem"), "--alias", "x"), 2, "--alias, --key-id and --region do not apply"},
		{gcp("k1", keyFile("secp256k1.pkcs8.pem"), "--gcp-protection-level", "software"), 1, "HSM protection level"},
		{[]string{"import", keyFile("p256.pkcs8.pem"), "--gcp-key", "k"}, 2, "-gcp-key"},
		{[]string{"import", "--to", "gcp", "--gcp-key-ring", ring, "--gcp-key", "k", "--gcp-endpoint", "kms.example.com:443", keyFile("p256.pkcs8.pem")}, 2, "loopback"},
		{[]string{"import", "--to", "gcp", "--gcp-key", "k", keyFile("p256.pkcs8.pem")}, 2, "--gcp-key-ring"},
		{[]string{"import", "--to", "oracle", keyFile("p256.pkcs8.pem")}, 2, "azure and gcp"},
		{[]string{"wrap", "--for", "gcp", keyFile("p256.pkcs8.pem")}, 2, "use byok import --to gcp"},
	} {
		code, stdout, stderr := runGCPBinary(t, c.args...)
		if code != c.code || !strings.Contains(stderr, c.want) {
			t.Errorf("byok %s: exit %d, want %d and %q\n%s%s", strings.Join(c.args, " "), code, c.code, c.want, stdout, stderr)
		}
	}
	if after := strings.Count(log.String(), "\n"); after != before {
		t.Errorf("refused imports made %d Cloud KMS calls:\n%s", after-before, log.String())
	}

	// The help of --to gcp: flags within 100 columns.
	code, stdout, _ = runGCPBinary(t, "import", "--to", "gcp", "--help")
	_, flags, _ := strings.Cut(stdout, "\nFlags:\n")
	if code != 0 || !strings.Contains(stdout, "Usage: byok import --to gcp") || !strings.Contains(flags, "--gcp-endpoint") {
		t.Errorf("import --to gcp --help: exit %d\n%s", code, stdout)
	}
	for _, l := range strings.Split(flags, "\n") {
		if len(l) > 100 {
			t.Errorf("a help line of %d columns: %q", len(l), l)
		}
	}

	// A dry run makes no call either, and says what it would do.
	code, stdout, _ = runGCPBinary(t, append(gcp("dry", keyFile("rsa3072.pkcs8.pem"), "--dry-run"), "--json")...)
	if code != 0 || !strings.Contains(stdout, `"dry_run": true`) || !strings.Contains(stdout, "RSA_SIGN_PKCS1_3072_SHA256") {
		t.Errorf("dry run: exit %d\n%s", code, stdout)
	}
	if after := strings.Count(log.String(), "\n"); after != before {
		t.Errorf("a dry run made Cloud KMS calls")
	}
}

// TestMigrateGCPTarget: byok migrate and byok status with a manifest's gcp
// targets open the real Cloud KMS target (the real Go client, pointed at
// gcpkmstest by BYOK_GCP_ENDPOINT): two keys imported and PASSED, a rerun
// does nothing, status sees them ENABLED.
func TestMigrateGCPTarget(t *testing.T) {
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
	dir := t.TempDir()
	mac := filepath.Join(dir, "mac.hex")
	b := make([]byte, 32)
	rand.Read(b)
	os.WriteFile(mac, []byte(hex.EncodeToString(b)+"\n"), 0o600)
	p256, _ := filepath.Abs(keyFile("p256.pkcs8.pem"))
	ring := "projects/byok-migrate/locations/us-central1/keyRings/fleet"
	manifest := filepath.Join(dir, "gcp.yaml")
	os.WriteFile(manifest, []byte(`version: 1
id: gcp-migrate
keys:
  - name: mac
    source: {key: `+mac+`, key_spec: HMAC_256}
    targets:
      - gcp: {key_ring: `+ring+`}
  - name: sig
    source: {key: `+p256+`}
    targets:
      - gcp: {key_ring: `+ring+`, key_id: sig-2026, protection_level: SOFTWARE}
`), 0o600)
	code, out, errOut := migrateCLI(t, manifest, "--progress", "none")
	if code != 0 || !strings.Contains(out, "imported 2, already done 0, failed 0") || !strings.Contains(out, "proofs: 2 PASSED, 0 FAILED, 0 UNPROVEN") {
		t.Fatalf("migrate: exit %d\n%s\n%s", code, out, errOut)
	}
	code, out, errOut = migrateCLI(t, manifest, "--progress", "none")
	if code != 0 || !strings.Contains(out, "imported 0, already done 2") {
		t.Errorf("rerun: exit %d\n%s\n%s", code, out, errOut)
	}
	code, out, errOut = byokCLI(t, "status", manifest)
	if code != 0 || strings.Count(out, "ENABLED") != 2 || !strings.Contains(out, ring+"/cryptoKeys/sig-2026") {
		t.Errorf("status: exit %d\n%s\n%s", code, out, errOut)
	}
}
