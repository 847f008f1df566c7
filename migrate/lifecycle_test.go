package migrate

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/byok-go/byok/kmstest"
)

// skewClock is an emulator clock that tests move forward.
type skewClock struct{ skew atomic.Int64 }

func (c *skewClock) now() time.Time          { return time.Now().Add(time.Duration(c.skew.Load())) }
func (c *skewClock) advance(d time.Duration) { c.skew.Add(int64(d)) }

// lifeKey is one key of a lifecycle test's manifest.
type lifeKey struct {
	name    string
	validTo string // "" for KEY_MATERIAL_DOES_NOT_EXPIRE
	region  string
	replica string // a replica Region: a multi-Region key
}

// lifeFleet writes a manifest of AES keys (each its own random key file)
// and returns its path.
func lifeFleet(t *testing.T, dir, id string, keys []lifeKey) string {
	t.Helper()
	os.MkdirAll(filepath.Join(dir, "keys"), 0o700)
	var b strings.Builder
	fmt.Fprintf(&b, "version: 1\nid: %s\nkeys:\n", id)
	for _, k := range keys {
		writeAES(t, filepath.Join(dir, "keys", k.name+".hex"))
		region := k.region
		if region == "" {
			region = "us-east-1"
		}
		fmt.Fprintf(&b, "  - name: %s\n    source: {key: keys/%s.hex, key_spec: SYMMETRIC_DEFAULT}\n    target:\n      region: %s\n", k.name, k.name, region)
		if k.validTo != "" {
			fmt.Fprintf(&b, "      valid_to: %q\n", k.validTo)
		}
		if k.replica != "" {
			fmt.Fprintf(&b, "      multi_region: true\n      replica_regions: [%s]\n", k.replica)
		}
	}
	p := filepath.Join(dir, "fleet.yaml")
	if err := os.WriteFile(p, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func writeAES(t *testing.T, p string) {
	t.Helper()
	b := make([]byte, 32)
	rand.Read(b)
	if err := os.WriteFile(p, []byte(hex.EncodeToString(b)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
}

// migrateLife runs a migration of the manifest at p into srv, with its
// journal and audit log next to it.
func migrateLife(t *testing.T, srv *kmstest.Server, p string, tweak func(*Migration)) *Summary {
	t.Helper()
	m, err := OpenManifest(p)
	if err != nil {
		t.Fatal(err)
	}
	audit, err := os.OpenFile(filepath.Join(filepath.Dir(p), "audit.jsonl"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer audit.Close()
	mig := &Migration{Manifest: m, Client: clientsOf(srv), Journal: filepath.Join(filepath.Dir(p), "journal.jsonl"), Audit: audit, Quotas: fastQuotas()}
	if tweak != nil {
		tweak(mig)
	}
	sum, err := mig.Run(context.Background())
	if err != nil {
		t.Fatalf("%v\n%+v", err, sum)
	}
	return sum
}

// arnOf returns the KMS key ARN the journal names for key in region.
func arnOf(t *testing.T, dir, key, region string) string {
	t.Helper()
	entries, err := ReadJournal(filepath.Join(dir, "journal.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Key == key && e.Region == region && e.ARN != "" && e.Phase == PhaseDone {
			return e.ARN
		}
	}
	t.Fatalf("no ARN for %s in %s", key, region)
	return ""
}

// TestStatusEveryState: a fleet with a key in every state, seen three days
// after its migration.
func TestStatusEveryState(t *testing.T) {
	clock := &skewClock{}
	srv := emulator(t, kmstest.WithClock(clock.now))
	dir := t.TempDir()
	p := lifeFleet(t, dir, "status", []lifeKey{
		{name: "fine", validTo: "+300d"},
		{name: "soon", validTo: "+10d"},
		{name: "expired", validTo: "+2d"},
		{name: "disabled", validTo: "+300d"},
		{name: "changed", validTo: "+300d"},
		{name: "forever"},
		{name: "global", validTo: "+12d", replica: "eu-west-1"},
	})
	migrateLife(t, srv, p, nil)
	clock.advance(3 * 24 * time.Hour)
	c := srv.Client(func(o *kms.Options) { o.Region = "us-east-1" })
	if _, err := c.DisableKey(context.Background(), &kms.DisableKeyInput{KeyId: aws.String(arnOf(t, dir, "disabled", "us-east-1"))}); err != nil {
		t.Fatal(err)
	}
	writeAES(t, filepath.Join(dir, "keys", "changed.hex")) // another key now
	// A key added to the manifest after the migration.
	f, _ := os.OpenFile(p, os.O_APPEND|os.O_WRONLY, 0)
	fmt.Fprintf(f, "  - name: later\n    source: {key: keys/fine.hex, key_spec: SYMMETRIC_DEFAULT}\n    target: {region: us-east-1}\n")
	f.Close()

	m, err := OpenManifest(p)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := Status(context.Background(), StatusQuery{Manifest: m, Client: clientsOf(srv), AuditLog: filepath.Join(dir, "audit.jsonl"),
		WarnWithin: 30 * 24 * time.Hour, Now: clock.now})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]KeyStatus{}
	for _, r := range rows {
		got[r.Key+"@"+r.Region] = r
	}
	if len(rows) != 9 {
		t.Fatalf("%d rows; want 9 (8 keys, one in two Regions): %+v", len(rows), rows)
	}
	days := func(r KeyStatus) int {
		d, ok := r.TimeLeft()
		if !ok {
			return -1
		}
		return int((d + 12*time.Hour) / (24 * time.Hour))
	}
	check := func(id, state, source string, attention string, left int) {
		t.Helper()
		r, ok := got[id]
		if !ok {
			t.Errorf("%s: no row", id)
			return
		}
		if r.State != state || r.Source != source || days(r) != left {
			t.Errorf("%s: state %s, source %s, %d days left; want %s, %s, %d (%+v)", id, r.State, r.Source, days(r), state, source, left, r)
		}
		if joined := strings.Join(r.Attention, "; "); (attention == "") != (joined == "") || !strings.Contains(joined, attention) {
			t.Errorf("%s: attention %q; want %q", id, joined, attention)
		}
		if state != StateNotMigrated && (r.KeyARN == "" || r.LastProof == nil || r.LastVerdict != "PASSED") {
			t.Errorf("%s: ARN %q, last proof %v %s; want the migration's PASSED proof", id, r.KeyARN, r.LastProof, r.LastVerdict)
		}
	}
	check("fine@us-east-1", "Enabled", SourceMatches, "", 297)
	check("soon@us-east-1", "Enabled", SourceMatches, "expires within 30d", 7)
	check("expired@us-east-1", "PendingImport", SourceMatches, "PendingImport", -1)
	check("disabled@us-east-1", "Disabled", SourceMatches, "", 297)
	check("changed@us-east-1", "Enabled", SourceMismatch, "the source is another key now", 297)
	check("forever@us-east-1", "Enabled", SourceMatches, "", -1)
	check("global@us-east-1", "Enabled", SourceMatches, "expires within 30d", 9)
	check("global@eu-west-1", "Enabled", SourceMatches, "expires within 30d", 9)
	check("later@us-east-1", StateNotMigrated, SourceNotChecked, "not migrated", -1)
	if r := got["forever@us-east-1"]; r.ExpirationModel != "KEY_MATERIAL_DOES_NOT_EXPIRE" || r.ValidTo != nil {
		t.Errorf("forever: %s %v", r.ExpirationModel, r.ValidTo)
	}
	if !NeedsAttention(rows) {
		t.Error("NeedsAttention: false")
	}
}
