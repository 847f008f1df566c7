package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestStatusWithoutAuditLog: the journal records the KMS keys too, so a
// missing or unreadable audit log does not turn a migrated fleet into
// "not migrated"; with neither readable, status says so and exits 1.
func TestStatusWithoutAuditLog(t *testing.T) {
	url, _ := startEmulator(t)
	setEmulatorEnv(t, url)
	dir := t.TempDir()
	manifest := lifecycleFleet(t, dir, "status-journal", "one=+300d", "two=+300d")
	if code, out, errOut := migrateCLI(t, manifest, "--quota-scale", "100", "--progress", "none"); code != 0 {
		t.Fatalf("migrate: exit %d\n%s\n%s", code, out, errOut)
	}
	audit := filepath.Join(dir, "fleet.audit.jsonl")
	journal := filepath.Join(dir, "fleet.journal.jsonl")
	if _, err := os.Stat(journal); err != nil {
		t.Fatal(err)
	}
	// The audit log missing: the ARNs come from the journal.
	if err := os.Rename(audit, audit+".aside"); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := byokCLI(t, "status", manifest, "--skip-source")
	if code != 0 || strings.Contains(out, "not-migrated") || strings.Count(out, "arn:aws:kms:us-east-1:") != 2 {
		t.Errorf("audit log missing: exit %d\n%s\n%s", code, out, errOut)
	}
	// The audit log unreadable (a directory), the journal there: the same.
	if err := os.Mkdir(audit, 0o700); err != nil {
		t.Fatal(err)
	}
	code, out, errOut = byokCLI(t, "status", manifest, "--skip-source")
	if code != 0 || strings.Contains(out, "not-migrated") {
		t.Errorf("audit log unreadable: exit %d\n%s\n%s", code, out, errOut)
	}
	// Neither: exit 1, saying why, not a fleet of "not migrated".
	if err := os.Rename(journal, journal+".aside"); err != nil {
		t.Fatal(err)
	}
	code, out, errOut = byokCLI(t, "status", manifest, "--skip-source")
	if code != 1 || strings.Contains(out, "not-migrated") || !strings.Contains(errOut, "audit log") {
		t.Errorf("neither readable: exit %d\n%s\n%s", code, out, errOut)
	}
}
