package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCloudEndpointEnvCheckedOnce: a BYOK_GCP_ENDPOINT that is no loopback
// HOST:PORT is one usage error (exit 2) of byok migrate and byok status,
// naming the variable, before any key is touched — not an error per key
// or per row.
func TestCloudEndpointEnvCheckedOnce(t *testing.T) {
	url, logs := startEmulator(t)
	setEmulatorEnv(t, url)
	t.Setenv(envGCPEndpoint, "kms.example.com:443")
	dir := t.TempDir()
	p256, _ := filepath.Abs(keyFile("p256.pkcs8.pem"))
	manifest := filepath.Join(dir, "ep.yaml")
	os.WriteFile(manifest, []byte(`version: 1
id: ep
keys:
  - name: a
    source: {key: `+p256+`}
    targets:
      - aws: {region: us-east-1}
      - gcp: {key_ring: projects/p/locations/global/keyRings/r}
  - name: b
    source: {key: `+p256+`}
    targets:
      - gcp: {key_ring: projects/p/locations/global/keyRings/r}
`), 0o600)
	for _, args := range [][]string{{"migrate", manifest, "--progress", "none"}, {"status", manifest}} {
		code, out, errOut := byokCLI(t, args...)
		if code != 2 || strings.Count(errOut, envGCPEndpoint) != 1 || strings.Contains(out, envGCPEndpoint) {
			t.Errorf("%s: want exit 2 and one error naming %s: exit %d\n%s\n%s", args[0], envGCPEndpoint, code, out, errOut)
		}
	}
	if n := strings.Count(logs.String(), "TrentService.CreateKey"); n != 0 {
		t.Errorf("%d AWS keys created", n)
	}
}
