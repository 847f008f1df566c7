package migrate

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/byok-go/byok/kmstest"
)

// importCounter counts successful ImportKeyMaterial calls per key ARN.
type importCounter struct {
	mu sync.Mutex
	n  map[string]int
}

func (ic *importCounter) wrap(f func(context.Context, string) (API, error)) func(context.Context, string) (API, error) {
	return func(ctx context.Context, region string) (API, error) {
		api, err := f(ctx, region)
		return countingAPI{API: api, ic: ic}, err
	}
}

type countingAPI struct {
	API
	ic *importCounter
}

func (c countingAPI) ImportKeyMaterial(ctx context.Context, in *kms.ImportKeyMaterialInput, o ...func(*kms.Options)) (*kms.ImportKeyMaterialOutput, error) {
	out, err := c.API.ImportKeyMaterial(ctx, in, o...)
	if err == nil {
		c.ic.mu.Lock()
		c.ic.n[aws.ToString(in.KeyId)]++
		c.ic.mu.Unlock()
	}
	return out, err
}

// setValidTo rewrites every valid_to of the manifest at p.
func setValidTo(t *testing.T, p, to string) {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), "valid_to:") {
			l = `      valid_to: "` + to + `"`
		}
		out = append(out, l)
	}
	os.WriteFile(p, []byte(strings.Join(out, "\n")), 0o600)
}

// TestRenewFleet: three days after a migration over two Regions, a renewal
// within 30 days renews the keys inside the window, restores the expired
// one, leaves the others, and proves each; run again, it renews nothing.
func TestRenewFleet(t *testing.T) {
	clock := &skewClock{}
	srv := emulator(t, kmstest.WithClock(clock.now))
	dir := t.TempDir()
	p := lifeFleet(t, dir, "renew", []lifeKey{
		{name: "inside", validTo: "+10d"},
		{name: "outside", validTo: "+300d"},
		{name: "expired", validTo: "+2d"},
		{name: "eu-inside", validTo: "+20d", region: "eu-west-1"},
		{name: "eu-outside", validTo: "+200d", region: "eu-west-1"},
		{name: "global", validTo: "+12d", replica: "eu-west-1"},
		{name: "global-far", validTo: "+250d", replica: "eu-west-1"},
	})
	migrateLife(t, srv, p, nil)
	clock.advance(3 * 24 * time.Hour)
	setValidTo(t, p, "+365d")
	ic := &importCounter{n: map[string]int{}}
	sum := migrateLife(t, srv, p, func(m *Migration) {
		m.Renew, m.RenewWithin = true, 30*24*time.Hour
		m.Client = ic.wrap(m.Client)
	})
	if sum.Renewed != 4 || sum.NotDue != 3 || sum.Failed != 0 || sum.NotStarted != 0 {
		t.Fatalf("renewed %d, not due %d, failed %d, not started %d; want 4, 3, 0, 0\n%+v", sum.Renewed, sum.NotDue, sum.Failed, sum.NotStarted, sum)
	}
	due := map[string]bool{}
	for _, id := range []string{"inside@us-east-1", "expired@us-east-1", "eu-inside@eu-west-1", "global@us-east-1", "global@eu-west-1"} {
		name, region, _ := strings.Cut(id, "@")
		due[arnOf(t, dir, name, region)] = true
	}
	for arn, n := range ic.n {
		if !due[arn] || n != 1 {
			t.Errorf("%s imported %d times (due: %v)", arn, n, due[arn])
		}
	}
	if len(ic.n) != len(due) {
		t.Errorf("%d keys imported; want %d", len(ic.n), len(due))
	}
	// Every renewed key: Enabled, ValidTo about a year ahead; the others
	// as they were.
	for _, id := range []string{"inside@us-east-1", "outside@us-east-1", "expired@us-east-1", "eu-inside@eu-west-1", "eu-outside@eu-west-1", "global@us-east-1", "global@eu-west-1", "global-far@eu-west-1"} {
		name, region, _ := strings.Cut(id, "@")
		arn := arnOf(t, dir, name, region)
		c := srv.Client(func(o *kms.Options) { o.Region = region })
		d, err := c.DescribeKey(context.Background(), &kms.DescribeKeyInput{KeyId: aws.String(arn)})
		if err != nil {
			t.Fatal(err)
		}
		left := d.KeyMetadata.ValidTo.Sub(clock.now()) / (24 * time.Hour)
		if d.KeyMetadata.KeyState != types.KeyStateEnabled || (due[arn] && left < 360) || (!due[arn] && left > 300) {
			t.Errorf("%s: %s, %d days left (due %v)", id, d.KeyMetadata.KeyState, left, due[arn])
		}
	}
	// The audit log: one renewal record per due key and Region, PASSED.
	b, _ := os.ReadFile(filepath.Join(dir, "audit.jsonl"))
	renewed := 0
	for _, l := range bytes.Split(bytes.TrimSpace(b), []byte("\n")) {
		var rec AuditRecord
		json.Unmarshal(l, &rec)
		if rec.Outcome == OutcomeRenewed {
			renewed++
			if !rec.Verified || rec.Verdict != "PASSED" || !due[rec.KeyARN] || rec.ValidTo == nil {
				t.Errorf("renewal record: %s", l)
			}
		}
	}
	if renewed != len(due) {
		t.Errorf("%d renewal records; want %d", renewed, len(due))
	}
	// A manifest whose valid_to falls inside the window: refused, not
	// renewed into another short expiry.
	setValidTo(t, p, "+20d")
	m, _ := OpenManifest(p)
	sum, err := (&Migration{Manifest: m, Client: ic.wrap(clientsOf(srv)), Journal: filepath.Join(dir, "journal.jsonl"), Quotas: fastQuotas(), Renew: true, RenewWithin: 400 * 24 * time.Hour}).Run(context.Background())
	if err == nil || sum.Failed != 7 || !strings.Contains(sum.Failures[0].Err, "is itself within the renewal window") || len(ic.n) != len(due) {
		t.Errorf("valid_to inside the window: %v %+v", err, sum)
	}
	setValidTo(t, p, "+365d")
	// Again: a new round, nothing due.
	sum = migrateLife(t, srv, p, func(m *Migration) {
		m.Renew, m.RenewWithin = true, 30*24*time.Hour
		m.Client = ic.wrap(m.Client)
	})
	if sum.Renewed != 0 || sum.NotDue != 7 || len(ic.n) != len(due) {
		t.Errorf("the second renewal: renewed %d, not due %d, %d keys imported", sum.Renewed, sum.NotDue, len(ic.n))
	}
}

// TestRenewResumes: a renewal interrupted mid-way (its context cancelled
// at random points, some while an ImportKeyMaterial is in flight) is
// resumed: every due key is imported exactly once, as the emulator counts
// the requests it received, and proven.
func TestRenewResumes(t *testing.T) {
	clock := &skewClock{}
	var arrived atomic.Int64
	srv := emulator(t, kmstest.WithClock(clock.now), kmstest.WithFault(func(op string) error {
		if op == "ImportKeyMaterial" {
			arrived.Add(1)
		}
		return nil
	}))
	dir := t.TempDir()
	var keys []lifeKey
	for i := range 12 {
		k := lifeKey{name: "k" + string(rune('a'+i)), validTo: "+5d"}
		if i%4 == 0 {
			k.replica = "eu-west-1"
		}
		keys = append(keys, k)
	}
	p := lifeFleet(t, dir, "resume", keys)
	migrateLife(t, srv, p, nil)
	arrived.Store(0)
	clock.advance(10 * 24 * time.Hour) // every key expired
	setValidTo(t, p, "+365d")
	interrupted := 0
	for run := 0; ; run++ {
		m, _ := OpenManifest(p)
		ctx, cancel := context.WithCancel(context.Background())
		q := fastQuotas()
		q["ImportKeyMaterial"] = 20 // slow enough to interrupt
		mig := &Migration{Manifest: m, Client: clientsOf(srv), Journal: filepath.Join(dir, "journal.jsonl"), Audit: &bytes.Buffer{}, Quotas: q, Renew: true}
		if run < 3 {
			time.AfterFunc(time.Duration(50+run*70)*time.Millisecond, cancel)
		}
		sum, err := mig.Run(ctx)
		cancel()
		if err == nil {
			if sum.Renewed+sum.AlreadyDone != len(keys) {
				t.Fatalf("the last run: %+v", sum)
			}
			break
		}
		t.Logf("run %d: %v (renewed %d, already done %d)", run, err, sum.Renewed, sum.AlreadyDone)
		if err != ErrInterrupted || run > 10 {
			t.Fatalf("run %d: %v", run, err)
		}
		interrupted++
	}
	if interrupted == 0 {
		t.Error("no run was interrupted")
	}
	if n := arrived.Load(); n != 15 {
		dumpRenewJournal(t, dir)
		t.Errorf("the emulator received %d ImportKeyMaterial requests; want 15 (12 keys, 3 with a replica), once each", n)
	}
	// Every key Enabled, proven in this round.
	entries, _ := ReadJournal(filepath.Join(dir, "journal.jsonl"))
	verified := map[string]bool{}
	for _, e := range entries {
		if e.Renewal != "" && e.Step == StepVerify && e.Phase == PhaseDone {
			verified[e.ARN] = true
		}
	}
	for _, k := range keys {
		regions := []string{"us-east-1"}
		if k.replica != "" {
			regions = append(regions, k.replica)
		}
		for _, region := range regions {
			arn := arnOf(t, dir, k.name, region)
			d, err := srv.Client(func(o *kms.Options) { o.Region = region }).DescribeKey(context.Background(), &kms.DescribeKeyInput{KeyId: aws.String(arn)})
			if err != nil || d.KeyMetadata.KeyState != types.KeyStateEnabled || !verified[arn] {
				t.Errorf("%s in %s: %v %v, verified %v", k.name, region, err, d, verified[arn])
			}
		}
	}
}

func dumpRenewJournal(t *testing.T, dir string) {
	entries, _ := ReadJournal(filepath.Join(dir, "journal.jsonl"))
	for _, e := range entries {
		if e.Renewal != "" {
			t.Logf("%s %s %s %s %s %s %s", e.Renewal[:4], e.Key, e.Region, e.Step, e.Phase, e.Detail, e.Error)
		}
	}
}
