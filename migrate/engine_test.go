package migrate

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/byok-go/byok"
	"github.com/byok-go/byok/driver"
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

// lossy wraps an API and loses the answer of the n-th call of an operation
// (the call is made; the caller gets a connection error), as a crash or a
// network failure between KMS and byok would.
type lossy struct {
	API
	op    string
	every int64
	n     atomic.Int64
}

var errLost = &lostErr{}

type lostErr struct{}

func (*lostErr) Error() string   { return "read tcp: connection reset by peer" }
func (*lostErr) Timeout() bool   { return false }
func (*lostErr) Temporary() bool { return true }

func (l *lossy) lose(op string) bool {
	return op == l.op && l.n.Add(1)%l.every == 0
}

func (l *lossy) CreateKey(ctx context.Context, in *kms.CreateKeyInput, o ...func(*kms.Options)) (*kms.CreateKeyOutput, error) {
	out, err := l.API.CreateKey(ctx, in, o...)
	if err == nil && l.lose("CreateKey") {
		return nil, errLost
	}
	return out, err
}

func (l *lossy) ImportKeyMaterial(ctx context.Context, in *kms.ImportKeyMaterialInput, o ...func(*kms.Options)) (*kms.ImportKeyMaterialOutput, error) {
	out, err := l.API.ImportKeyMaterial(ctx, in, o...)
	if err == nil && l.lose("ImportKeyMaterial") {
		return nil, errLost
	}
	return out, err
}

func (l *lossy) ReplicateKey(ctx context.Context, in *kms.ReplicateKeyInput, o ...func(*kms.Options)) (*kms.ReplicateKeyOutput, error) {
	out, err := l.API.ReplicateKey(ctx, in, o...)
	if err == nil && l.lose("ReplicateKey") {
		return nil, errLost
	}
	return out, err
}

// TestMigrateLostAnswers: when the answer to CreateKey, ReplicateKey or
// ImportKeyMaterial is lost, the engine finds what KMS did (by tag, by
// DescribeKey) instead of doing it twice.
func TestMigrateLostAnswers(t *testing.T) {
	for _, op := range []string{"CreateKey", "ReplicateKey", "ImportKeyMaterial"} {
		t.Run(op, func(t *testing.T) {
			m := fleet(t, 12, fleettest.Options{ID: "lost", Regions: []string{"us-east-1", "eu-west-1"}, MultiRegionEvery: 2})
			srv := emulator(t)
			clients := func(_ context.Context, region string) (API, error) {
				return &lossy{API: srv.Client(func(o *kms.Options) { o.Region = region }), op: op, every: 3}, nil
			}
			sum, err := (&Migration{Manifest: m, Client: clients, Journal: filepath.Join(t.TempDir(), "j"), Quotas: fastQuotas()}).Run(context.Background())
			if err != nil {
				t.Fatalf("%v %+v", err, sum.Failures)
			}
			counts, notEnabled := emulatorKeys(t, srv)
			for k, n := range counts {
				if n != 1 {
					t.Errorf("%s: %d keys", k, n)
				}
			}
			if len(counts) != 6*2+6 || len(notEnabled) > 0 {
				t.Errorf("%d keys, not enabled: %v", len(counts), notEnabled)
			}
		})
	}
}

// TestMigrateResumesFromDanglingCreate: a journal that says CreateKey was
// about to be sent, and a tagged key in KMS, as a kill -9 between CreateKey
// and its journal entry leaves them: the resumed run adopts the key.
func TestMigrateResumesFromDanglingCreate(t *testing.T) {
	for _, dups := range []int{1, 2} {
		t.Run(fmt.Sprint(dups), func(t *testing.T) { testDanglingCreate(t, dups) })
	}
}

// testDanglingCreate leaves dups tagged keys for the first key: one is
// adopted, any other is reported as an orphan.
func testDanglingCreate(t *testing.T, dups int) {
	m := fleet(t, 3, fleettest.Options{ID: "dangle"})
	srv := emulator(t)
	journal := filepath.Join(t.TempDir(), "journal.jsonl")
	// The first key's fingerprint, and the key KMS created before the kill.
	var fp string
	for k := range m.Keys() {
		src, err := driver.Open(context.Background(), "software", driver.Config{Key: k.Source.Key, KeySpec: k.Source.KeySpec})
		if err != nil {
			t.Fatal(err)
		}
		info, _ := src.Describe(context.Background())
		src.Close()
		fp = info.Fingerprint
		for range dups {
			_, err = srv.Client().CreateKey(context.Background(), &kms.CreateKeyInput{Origin: types.OriginTypeExternal, Tags: []types.Tag{
				{TagKey: aws.String(TagMigration), TagValue: aws.String("dangle")},
				{TagKey: aws.String(TagKeyName), TagValue: aws.String(k.Name)},
				{TagKey: aws.String(TagFingerprint), TagValue: aws.String(fp)}}})
			if err != nil {
				t.Fatal(err)
			}
		}
		break
	}
	f, _ := os.Create(journal)
	json.NewEncoder(f).Encode(Entry{Migration: "dangle", Key: "key-00000", Step: StepSource, Phase: PhaseDone, Fingerprint: fp})
	json.NewEncoder(f).Encode(Entry{Migration: "dangle", Key: "key-00000", Region: "us-east-1", Step: StepCreate, Phase: PhaseIntent})
	f.WriteString(`{"t":"2026-01-01T00:00:00Z","migration":"dangle","key":"key-0`) // torn by the kill
	f.Close()
	sum, err := (&Migration{Manifest: m, Client: clientsOf(srv), Journal: journal, Quotas: fastQuotas()}).Run(context.Background())
	if err != nil {
		t.Fatalf("%v %+v", err, sum.Failures)
	}
	counts, notEnabled := emulatorKeys(t, srv)
	if len(counts) != 3 || len(notEnabled) != dups-1 || len(sum.Orphans) != dups-1 {
		t.Errorf("keys %v, not enabled %v, orphans %v", counts, notEnabled, sum.Orphans)
	}
	for k, n := range counts {
		if want := map[bool]int{true: dups, false: 1}[k == "key-00000@us-east-1"]; n != want {
			t.Errorf("%s: %d keys; want %d", k, n, want)
		}
	}
	es, err := ReadJournal(journal)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, e := range es {
		if e.Step == StepCreate && e.Phase == PhaseDone && strings.Contains(e.Detail, "tags") {
			found = true
		}
	}
	if !found {
		t.Error("the journal does not say the key was found by its tags")
	}
}

func TestMigrateExpiredTokenIsFetchedAgain(t *testing.T) {
	m := fleet(t, 6, fleettest.Options{ID: "exp"})
	var n atomic.Int64
	srv := emulator(t, kmstest.WithFault(func(op string) error {
		if op == "ImportKeyMaterial" && n.Add(1)%2 == 1 {
			return &kmstest.FaultError{Type: kmstest.ErrExpiredImportToken, Message: "The import token expired"}
		}
		return nil
	}))
	sum, err := (&Migration{Manifest: m, Client: clientsOf(srv), Journal: filepath.Join(t.TempDir(), "j"), Quotas: fastQuotas()}).Run(context.Background())
	if err != nil {
		t.Fatalf("%v %+v", err, sum.Failures)
	}
	if sum.ExpiredTokens != 6 || sum.GetParametersForImport["us-east-1"] != 12 {
		t.Errorf("expired %d, GetParametersForImport %v; want 6 and 12", sum.ExpiredTokens, sum.GetParametersForImport)
	}
}

// TestMigrateAdaptsToThrottling: the engine believes the quota is 20/s, the
// emulator allows 4/s: it is throttled, slows down, and every key arrives.
func TestMigrateAdaptsToThrottling(t *testing.T) {
	m := fleet(t, 16, fleettest.Options{ID: "thr"})
	srv := emulator(t, kmstest.WithQuota("GetParametersForImport", 4))
	q := fastQuotas()
	q["GetParametersForImport"] = 20
	sum, err := (&Migration{Manifest: m, Client: clientsOf(srv), Journal: filepath.Join(t.TempDir(), "j"), Quotas: q}).Run(context.Background())
	if err != nil {
		t.Fatalf("%v %+v", err, sum.Failures)
	}
	var st OpStats
	for _, o := range sum.Ops {
		if o.Op == "GetParametersForImport" {
			st = o
		}
	}
	if st.Throttles == 0 || st.Rate >= 20*0.98 {
		t.Errorf("GetParametersForImport: %+v; want throttles and a lower rate", st)
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
	sum, err := (&Migration{Manifest: m, Client: clientsOf(srv), Journal: filepath.Join(dir, "j"), Quotas: fastQuotas()}).Run(context.Background())
	if !errors.Is(err, ErrKeysFailed) || sum.Failed != 2 || sum.Imported != 1 {
		t.Fatalf("%v %+v", err, sum)
	}
	if sum.Failures[0].Key != "missing-file" || !strings.Contains(sum.Failures[0].Err, "nope.pem") ||
		sum.Failures[1].Key != "wrong-existing" || !strings.Contains(sum.Failures[1].Err, "NotFound") {
		t.Errorf("failures %+v", sum.Failures)
	}
}

// TestMigrateRotation migrates a multi-Region symmetric key, then rotates it
// to new key material: NEW_KEY_MATERIAL into the primary, the same material
// as EXISTING_KEY_MATERIAL into the replica, RotateKeyOnDemand. With lost
// answers to ImportKeyMaterial, the engine finds the imports by
// ListKeyRotations instead of repeating them.
func TestMigrateRotation(t *testing.T) {
	for _, lose := range []bool{false, true} {
		t.Run(map[bool]string{false: "plain", true: "lost-answers"}[lose], func(t *testing.T) {
			dir := t.TempDir()
			os.WriteFile(filepath.Join(dir, "old.hex"), []byte(strings.Repeat("11", 32)), 0o600)
			os.WriteFile(filepath.Join(dir, "new.hex"), []byte(strings.Repeat("22", 32)), 0o600)
			os.WriteFile(filepath.Join(dir, "m1.yaml"), []byte(`version: 1
id: rot
keys:
  - name: data
    source: {key: old.hex, key_spec: SYMMETRIC_DEFAULT}
    target: {region: us-east-1, multi_region: true, replica_regions: [eu-west-1]}
`), 0o600)
			srv := emulator(t)
			clients := clientsOf(srv)
			if lose {
				clients = func(_ context.Context, region string) (API, error) {
					return &lossy{API: srv.Client(func(o *kms.Options) { o.Region = region }), op: "ImportKeyMaterial", every: 1}, nil
				}
			}
			m1, err := OpenManifest(filepath.Join(dir, "m1.yaml"))
			if err != nil {
				t.Fatal(err)
			}
			var arn string
			_, err = (&Migration{Manifest: m1, Client: clients, Journal: filepath.Join(dir, "j1"), Quotas: fastQuotas(),
				OnResult: func(r Result) { arn = r.Regions[0].KeyARN }}).Run(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			c := srv.Client()
			before, _ := c.Encrypt(context.Background(), &kms.EncryptInput{KeyId: aws.String(arn), Plaintext: []byte("before")})
			oldID := *describe(t, c, arn).CurrentKeyMaterialId

			os.WriteFile(filepath.Join(dir, "m2.yaml"), []byte(`version: 1
id: rot-2027
keys:
  - name: data-2027
    source: {key: new.hex, key_spec: SYMMETRIC_DEFAULT}
    target: {key_id: "`+arn+`", rotate: true, key_material_description: rotation 2027}
`), 0o600)
			m2, err := OpenManifest(filepath.Join(dir, "m2.yaml"))
			if err != nil {
				t.Fatal(err)
			}
			var audit bytes.Buffer
			sum, err := (&Migration{Manifest: m2, Client: clients, Journal: filepath.Join(dir, "j2"), Audit: &audit, Quotas: fastQuotas()}).Run(context.Background())
			if err != nil {
				t.Fatalf("%v %+v", err, sum.Failures)
			}
			newID := *describe(t, c, arn).CurrentKeyMaterialId
			eu := srv.Client(func(o *kms.Options) { o.Region = "eu-west-1" })
			euARN := strings.Replace(arn, "us-east-1", "eu-west-1", 1)
			if newID == oldID || *describe(t, eu, euARN).CurrentKeyMaterialId != newID {
				t.Errorf("current key material: primary %s, replica %s; was %s", newID, *describe(t, eu, euARN).CurrentKeyMaterialId, oldID)
			}
			rot, err := c.ListKeyRotations(context.Background(), &kms.ListKeyRotationsInput{KeyId: aws.String(arn)})
			if err != nil || len(rot.Rotations) != 1 || rot.Rotations[0].RotationType != types.RotationTypeOnDemand || *rot.Rotations[0].KeyMaterialId != newID {
				t.Errorf("rotations %+v %v", rot, err)
			}
			// What was encrypted before still decrypts, in both Regions.
			for _, cl := range []*kms.Client{c, eu} {
				if _, err := cl.Decrypt(context.Background(), &kms.DecryptInput{CiphertextBlob: before.CiphertextBlob}); err != nil {
					t.Errorf("old ciphertext: %v", err)
				}
			}
			if n := strings.Count(audit.String(), `"rotated":true`); n != 2 {
				t.Errorf("%d audit records say rotated; want 2:\n%s", n, audit.String())
			}
		})
	}
}

func describe(t *testing.T, c *kms.Client, id string) *types.KeyMetadata {
	t.Helper()
	d, err := c.DescribeKey(context.Background(), &kms.DescribeKeyInput{KeyId: aws.String(id)})
	if err != nil {
		t.Fatal(err)
	}
	return d.KeyMetadata
}

// TestMigrateEventualConsistency: right after CreateKey, KMS may answer
// NotFoundException for the new key for a while; the engine waits.
func TestMigrateEventualConsistency(t *testing.T) {
	m := fleet(t, 4, fleettest.Options{ID: "ec"})
	var n atomic.Int64
	srv := emulator(t, kmstest.WithFault(func(op string) error {
		if op == "DescribeKey" && n.Add(1)%2 == 1 {
			return &kmstest.FaultError{Type: kmstest.ErrNotFound, Message: "Key does not exist (yet)"}
		}
		return nil
	}))
	sum, err := (&Migration{Manifest: m, Client: clientsOf(srv), Journal: filepath.Join(t.TempDir(), "j"), Quotas: fastQuotas()}).Run(context.Background())
	if err != nil || sum.Imported != 4 {
		t.Fatalf("%v %+v", err, sum.Failures)
	}
}
