package migrate

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/byok-go/byok"
	_ "github.com/byok-go/byok/driver/software"
	"github.com/byok-go/byok/kmstest"
	"github.com/byok-go/byok/migrate/fleettest"
)

// fastQuotas are AWS's default quotas raised a thousandfold, for tests that
// are about correctness rather than pacing.
func fastQuotas() Quotas {
	q := DefaultQuotas()
	for k := range q {
		q[k] *= 1000
	}
	return q
}

func emulator(t testing.TB, opts ...kmstest.Option) *kmstest.Server {
	t.Helper()
	srv := kmstest.NewServer(append([]kmstest.Option{kmstest.WithWrappingKeyCache(true)}, opts...)...)
	t.Cleanup(srv.Close)
	return srv
}

func clientsOf(srv *kmstest.Server) func(context.Context, string) (API, error) {
	return func(_ context.Context, region string) (API, error) {
		return srv.Client(func(o *kms.Options) { o.Region = region }), nil
	}
}

func fleet(t testing.TB, n int, o fleettest.Options) *Manifest {
	t.Helper()
	p, err := fleettest.Write(t.TempDir(), n, o)
	if err != nil {
		t.Fatal(err)
	}
	m, err := OpenManifest(p)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// keysByName counts the emulator's keys per byok:key tag and Region, and
// returns the keys that are not Enabled.
func emulatorKeys(t testing.TB, srv *kmstest.Server) (map[string]int, []string) {
	t.Helper()
	counts := map[string]int{}
	var notEnabled []string
	for _, md := range srv.Emulator.Keys() {
		region := strings.Split(aws.ToString(md.Arn), ":")[3]
		c := srv.Client(func(o *kms.Options) { o.Region = region })
		tags, err := c.ListResourceTags(context.Background(), &kms.ListResourceTagsInput{KeyId: md.Arn})
		if err != nil {
			t.Fatal(err)
		}
		name := ""
		for _, tg := range tags.Tags {
			if aws.ToString(tg.TagKey) == TagKeyName {
				name = aws.ToString(tg.TagValue)
			}
		}
		counts[name+"@"+region]++
		if md.KeyState != types.KeyStateEnabled {
			notEnabled = append(notEnabled, aws.ToString(md.Arn)+" "+string(md.KeyState))
		}
	}
	return counts, notEnabled
}

func TestMigrateFleet(t *testing.T) {
	regions := []string{"us-east-1", "eu-west-1", "ap-southeast-2"}
	m := fleet(t, 40, fleettest.Options{ID: "t1", Regions: regions, MultiRegionEvery: 5, RSAEvery: 13, Aliases: true})
	srv := emulator(t)
	var audit bytes.Buffer
	var prog []Progress
	journal := filepath.Join(t.TempDir(), "journal.jsonl")
	mig := &Migration{Manifest: m, Client: clientsOf(srv), Journal: journal, Audit: &audit, Quotas: fastQuotas(),
		OnProgress: func(p Progress) { prog = append(prog, p) }}
	sum, err := mig.Run(context.Background())
	if err != nil {
		t.Fatalf("%v\n%+v", err, sum.Failures)
	}
	if sum.Imported != 40 || sum.Failed != 0 {
		t.Fatalf("summary %+v", sum)
	}
	counts, notEnabled := emulatorKeys(t, srv)
	// 8 multi-Region keys (every 5th) in 3 Regions, 32 single-Region keys.
	if want := 8*3 + 32; len(counts) != want {
		t.Errorf("%d keys in the emulator; want %d", len(counts), want)
	}
	for k, n := range counts {
		if n != 1 {
			t.Errorf("%s: %d KMS keys", k, n)
		}
	}
	if len(notEnabled) > 0 {
		t.Errorf("keys not Enabled: %v", notEnabled)
	}
	// The audit log: one line per key and Region, all verified, no secret.
	lines := strings.Split(strings.TrimSpace(audit.String()), "\n")
	if len(lines) != 8*3+32 {
		t.Errorf("%d audit lines; want %d", len(lines), 8*3+32)
	}
	replicaChecked := 0
	for _, l := range lines {
		var rec AuditRecord
		if err := json.Unmarshal([]byte(l), &rec); err != nil {
			t.Fatal(err)
		}
		if !rec.Verified || rec.Verdict != byok.VerdictPassed || rec.Outcome != "imported" || rec.KeyARN == "" || rec.Fingerprint == "" || rec.Algorithm == "" {
			t.Errorf("audit record %s", l)
		}
		if len(rec.Checks) == 0 || !strings.HasPrefix(rec.Checks[0].Name, "KMS unwrapped and accepted exactly") || !strings.Contains(l, `"skipped":[`) ||
			!strings.Contains(l, `"checks":[{"name":`) {
			t.Errorf("the audit record does not name its checks: %s", l)
		}
		for _, c := range rec.Checks {
			if strings.Contains(c.Name, "decrypts in") && c.OK {
				replicaChecked++
			}
		}
	}
	if replicaChecked != 8*2 {
		t.Errorf("%d cross-Region decrypt checks; want 16", replicaChecked)
	}
	// OnProgress: once before the first key, then once per key, counting up.
	if len(prog) != 41 || prog[0].Done != 0 || prog[0].Total != 40 {
		t.Fatalf("%d progress calls, first %+v", len(prog), prog[0])
	}
	for i, p := range prog {
		if p.Done != i || p.Imported != i || p.Total != 40 || p.Started.IsZero() {
			t.Errorf("progress call %d: %+v", i, p)
		}
	}
	// A second run finds everything done and calls nothing that changes.
	sum2, err := (&Migration{Manifest: m, Client: clientsOf(srv), Journal: journal, Quotas: fastQuotas()}).Run(context.Background())
	if err != nil || sum2.AlreadyDone != 40 || sum2.Imported != 0 {
		t.Fatalf("second run: %v %+v", err, sum2)
	}
	if c2, _ := emulatorKeys(t, srv); len(c2) != len(counts) {
		t.Errorf("the second run changed the key count: %d -> %d", len(counts), len(c2))
	}
}

func TestMigrateJSONManifestAndDryRun(t *testing.T) {
	m := fleet(t, 9, fleettest.Options{ID: "t2", Regions: []string{"us-east-1", "eu-west-1"}, MultiRegionEvery: 3, JSON: true})
	srv := emulator(t)
	var plans []string
	sum, err := (&Migration{Manifest: m, Client: clientsOf(srv), DryRun: true, Quotas: fastQuotas(),
		OnResult: func(r Result) { plans = append(plans, r.Plan) }}).Run(context.Background())
	if err != nil || sum.Planned != 9 {
		t.Fatalf("%v %+v", err, sum)
	}
	if n := len(srv.Emulator.Keys()); n != 0 {
		t.Errorf("a dry run created %d keys", n)
	}
	// 3 multi-Region keys take 2 GetParametersForImport calls each (one per
	// Region), 6 single-Region keys one.
	total := 0
	for _, n := range sum.GetParametersForImport {
		total += n
	}
	if total != 12 {
		t.Errorf("planned %v GetParametersForImport calls; want 12 in all", sum.GetParametersForImport)
	}
	if !strings.Contains(strings.Join(plans, "\n"), "replicate to eu-west-1") {
		t.Errorf("plans: %q", plans)
	}
}

func TestMigrateReportsFailures(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "good.hex"), []byte(strings.Repeat("ab", 32)), 0o600)
	os.WriteFile(filepath.Join(dir, "m.yaml"), []byte(`version: 1
id: fail
keys:
  - name: good
    source: {key: good.hex, key_spec: SYMMETRIC_DEFAULT}
    target: {region: us-east-1}
  - name: missing-file
    source: {key: nope.pem}
    target: {region: us-east-1}
  - name: wrong-existing
    source: {key: good.hex, key_spec: SYMMETRIC_DEFAULT}
    target: {key_id: "arn:aws:kms:us-east-1:111122223333:key/00000000-0000-4000-8000-000000000000"}
`), 0o600)
	m, err := OpenManifest(filepath.Join(dir, "m.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	srv := emulator(t)
	var audit bytes.Buffer
	sum, err := (&Migration{Manifest: m, Client: clientsOf(srv), Journal: filepath.Join(dir, "j"), Audit: &audit, Quotas: fastQuotas()}).Run(context.Background())
	if !errors.Is(err, ErrKeysFailed) || sum.Failed != 2 || sum.Imported != 1 {
		t.Fatalf("%v %+v", err, sum)
	}
	if sum.Failures[0].Key != "missing-file" || !strings.Contains(sum.Failures[0].Err, "nope.pem") ||
		sum.Failures[1].Key != "wrong-existing" || !strings.Contains(sum.Failures[1].Err, "NotFound") {
		t.Errorf("failures %+v", sum.Failures)
	}
	// One audit record per key outcome: a key that fails before it
	// reaches KMS (its file is missing) or on its first call (its target
	// does not exist) is recorded once, as failed, with the error.
	want := map[string]Outcome{"good": OutcomeImported, "missing-file": OutcomeFailed, "wrong-existing": OutcomeFailed}
	got := map[string][]Outcome{}
	for _, line := range strings.Split(strings.TrimSpace(audit.String()), "\n") {
		var rec AuditRecord
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("audit line %q: %v", line, err)
		}
		got[rec.Key] = append(got[rec.Key], rec.Outcome)
		if rec.Outcome == OutcomeFailed && rec.Error == "" {
			t.Errorf("%s: failed record without the error", rec.Key)
		}
	}
	for key, outcome := range want {
		if len(got[key]) != 1 || got[key][0] != outcome {
			t.Errorf("%s: audit records %v, want one %s", key, got[key], outcome)
		}
	}
}
