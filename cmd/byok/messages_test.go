package main

// Messages in the CLI's own words: cases from issue 12 ("Messages speak the
// CLI's language"), each failing without its fix.

import (
	"strings"
	"testing"
)

// TestPINInURIRefusedNeverEchoed: a PKCS#11 URI with pin-value= is refused
// by every source-taking command, in every output mode, and the PIN's bytes
// appear nowhere in stdout or stderr (before the fix, import and
// import --dry-run echoed it in the progress line, inspect --json in its
// "source" field).
func TestPINInURIRefusedNeverEchoed(t *testing.T) {
	const pin = "Sup3rS3cretPIN"
	uris := []string{
		"pkcs11:token=prod;object=signing-key?pin-value=" + pin,
		"pkcs11:token=prod;object=signing-key?module-path=/x.so&pin-value=" + pin + "&x=y",
		"pkcs11:token=prod;object=signing-key;pin-value=" + pin,
		"pkcs11:token=prod;object=signing-key?PIN-VALUE=" + pin,
		"pkcs11:token=prod;object=signing-key?pin%2Dvalue=" + pin,
	}
	dir := t.TempDir()
	for _, uri := range uris {
		for _, args := range [][]string{
			{"import", uri},
			{"import", "--dry-run", uri},
			{"import", "--json", uri},
			{"import", "--dry-run", "--json", uri},
			{"import", "--source", uri, "--json"},
			{"import", uri, "--source", uri + "x"},
			{"inspect", uri},
			{"inspect", "--json", uri},
			{"verify", "--key-id", "alias/k", "--json", uri},
			{"params", "--out", dir, "--json", uri},
			{"wrap", "--params", dir, "--json", uri},
			{"upload", "--params", dir, "--json", "--source", uri},
			{"import", uri, "--driver", "softhsm", "--pin-env", "X"},
		} {
			code, stdout, stderr := runCLI(t, args...)
			if code != 2 {
				t.Errorf("byok %v: exit %d; want 2 (refused)\n%s%s", redactSource(strings.Join(args, " ")), code, stdout, stderr)
			}
			if strings.Contains(stdout+stderr, pin) {
				t.Errorf("byok %v printed the PIN:\n%s%s", redactSource(strings.Join(args, " ")), stdout, stderr)
			}
			if !strings.Contains(stderr, "pin-value") || !strings.Contains(stderr, "--pin-env") {
				t.Errorf("byok %v: the refusal does not name pin-value and the fix: %s", redactSource(strings.Join(args, " ")), stderr)
			}
		}
	}
}
