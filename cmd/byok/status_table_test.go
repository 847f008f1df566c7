package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/byok-go/byok/migrate"
)

// TestStatusTable: what the table shows for the cases it used to get
// wrong: expired material is "expired", not "never"; a long name is
// printed in full; PendingDeletion is not clipped; lines fit 100 columns.
func TestStatusTable(t *testing.T) {
	long := "payments-ledger-signing-key-eu-2026"
	rows := []migrate.KeyStatus{
		{Key: "gone", Region: "us-east-1", State: "PendingImport", ExpirationModel: "KEY_MATERIAL_EXPIRES", Source: migrate.SourceNotChecked,
			KeyARN: "arn:aws:kms:us-east-1:111122223333:key/00000000-0000-0000-0000-000000000000", Attention: []string{"PendingImport"}},
		{Key: "forever", Region: "us-east-1", State: "Enabled", ExpirationModel: "KEY_MATERIAL_DOES_NOT_EXPIRE", Source: migrate.SourceNotChecked},
		{Key: long, Region: "ap-southeast-2", State: "PendingDeletion", ExpirationModel: "KEY_MATERIAL_DOES_NOT_EXPIRE", Source: migrate.SourceNotChecked},
	}
	var b bytes.Buffer
	printStatus(&b, "t", rows, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	out := b.String()
	lines := strings.Split(out, "\n")
	find := func(prefix string) string {
		for _, l := range lines {
			if strings.HasPrefix(l, prefix) {
				return l
			}
		}
		t.Fatalf("no line for %q:\n%s", prefix, out)
		return ""
	}
	if l := find("gone "); strings.Fields(l)[3] != "expired" {
		t.Errorf("expired material: %q", l)
	}
	if l := find("forever "); strings.Fields(l)[3] != "never" {
		t.Errorf("material that does not expire: %q", l)
	}
	if !strings.Contains(out, long) || !strings.Contains(out, "PendingDeletion ") {
		t.Errorf("a name or a state clipped:\n%s", out)
	}
	for _, l := range lines {
		if n := len([]rune(l)); n > 100 {
			t.Errorf("%d columns: %q", n, l)
		}
	}
	for d, want := range map[time.Duration]string{720 * time.Hour: "30d", 36 * time.Hour: "36h", 0: "0d", 90 * time.Minute: "1h30m0s"} {
		if got := migrate.FormatSpan(d); got != want {
			t.Errorf("FormatSpan(%v) = %q, want %q", d, got, want)
		}
	}
}

// TestStatusAdviceNotMigrated: keys never migrated are told to migrate,
// not to renew.
func TestStatusAdviceNotMigrated(t *testing.T) {
	dir := t.TempDir()
	manifest := lifecycleFleet(t, dir, "never-migrated", "one=+300d")
	t.Setenv("AWS_ENDPOINT_URL_KMS", "http://127.0.0.1:1")
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	t.Setenv("AWS_REGION", "us-east-1")
	code, out, errOut := byokCLI(t, "status", manifest, "--skip-source")
	if code != exitAttention || !strings.Contains(out, "migrate first") || strings.Contains(out, "--renew-within") {
		t.Errorf("exit %d\n%s\n%s", code, out, errOut)
	}
}
