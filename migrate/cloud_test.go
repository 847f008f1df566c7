package migrate

import (
	"bufio"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/byok-go/byok"
	"github.com/byok-go/byok/kmstest"
)

const (
	testRing  = "projects/p-test/locations/global/keyRings/fleet"
	testVault = "https://fleet-test.vault.azure.net"
)

// cloudFleet writes a manifest of AES keys: alpha into two AWS Regions, a
// Cloud KMS key ring and a Key Vault; beta into the key ring and the vault
// only; gamma into us-east-1 only (the old form).
func cloudFleet(t *testing.T, dir string) string {
	t.Helper()
	os.MkdirAll(filepath.Join(dir, "keys"), 0o700)
	for _, k := range []string{"alpha", "beta", "gamma"} {
		writeAES(t, filepath.Join(dir, "keys", k+".hex"))
	}
	text := `version: 1
id: clouds
defaults:
  source: {key_spec: SYMMETRIC_DEFAULT}
keys:
  - name: alpha
    source: {key: keys/alpha.hex}
    targets:
      - aws: {regions: [us-east-1, eu-west-1]}
      - gcp: {key_ring: ` + testRing + `, protection_level: HSM}
      - azure: {vault: ` + testVault + `, kek_name: kek-1}
  - name: beta
    source: {key: keys/beta.hex}
    targets:
      - gcp: {key_ring: ` + testRing + `, key_id: beta-key}
      - azure: {vault: ` + testVault + `}
  - name: gamma
    source: {key: keys/gamma.hex}
    target: {region: us-east-1}
`
	p := filepath.Join(dir, "fleet.yaml")
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// keyBytes reads a test key file's material.
func keyBytes(t *testing.T, dir, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "keys", name+".hex"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := hex.DecodeString(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func readAudit(t *testing.T, p string) []AuditRecord {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []AuditRecord
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var r AuditRecord
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	return out
}

type cloudRun struct {
	dir, manifest string
	srv           *kmstest.Server
	gcp, azure    *fakeCloud
}

func newCloudRun(t *testing.T) *cloudRun {
	dir := t.TempDir()
	return &cloudRun{dir: dir, manifest: cloudFleet(t, dir), srv: emulator(t), gcp: newFakeCloud(t, KindGCP), azure: newFakeCloud(t, KindAzure)}
}

func (c *cloudRun) migration(t *testing.T, ctx context.Context, tweak func(*Migration)) (*Summary, []Result, error) {
	t.Helper()
	m, err := OpenManifest(c.manifest)
	if err != nil {
		t.Fatal(err)
	}
	audit, err := os.OpenFile(filepath.Join(c.dir, "audit.jsonl"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer audit.Close()
	var results []Result
	mig := &Migration{Manifest: m, Client: clientsOf(c.srv), Journal: filepath.Join(c.dir, "journal.jsonl"), Audit: audit,
		Quotas: fastCloudQuotas(), Targets: map[string]TargetOpener{KindGCP: c.gcp.opener(), KindAzure: c.azure.opener()},
		OnResult: func(r Result) { results = append(results, r) }}
	if tweak != nil {
		tweak(mig)
	}
	sum, err := mig.Run(ctx)
	return sum, results, err
}

// fastCloudQuotas are every quota raised a thousandfold.
func fastCloudQuotas() Quotas {
	q := fastQuotas()
	for k, v := range DefaultCloudQuotas() {
		q[k] = 1000 * v
	}
	return q
}

// TestMigrateAcrossClouds: one source key goes into two AWS Regions (the
// emulator), a Cloud KMS key ring and a Key Vault (in-test fakes behind
// the CloudTarget seam): each imported once with the material of the key
// file, proven once, audited per target; the summary has a row per target
// and counts the imports per cloud; status shows every target; a second
// run calls nothing; renewal leaves the other clouds alone and shred
// refuses them.
func TestMigrateAcrossClouds(t *testing.T) {
	c := newCloudRun(t)
	ctx := context.Background()
	sum, results, err := c.migration(t, ctx, nil)
	if err != nil {
		t.Fatalf("%v\n%+v", err, sum)
	}
	if sum.Imported != 3 || sum.Failed != 0 {
		t.Fatalf("summary %+v", sum)
	}
	// AWS: one key per Region, as before.
	counts, notEnabled := emulatorKeys(t, c.srv)
	if want := map[string]int{"alpha@us-east-1": 1, "alpha@eu-west-1": 1, "gamma@us-east-1": 1}; !mapsEqual(counts, want) || len(notEnabled) > 0 {
		t.Errorf("AWS keys %v (not enabled: %v), want %v", counts, notEnabled, want)
	}
	// The other clouds: each key imported once, with the key file's bytes.
	for _, cl := range []struct {
		f     *fakeCloud
		names map[string]string // manifest key -> cloud key name
	}{
		{c.gcp, map[string]string{"alpha": testRing + "/cryptoKeys/alpha", "beta": testRing + "/cryptoKeys/beta-key"}},
		{c.azure, map[string]string{"alpha": testVault + "/keys/alpha", "beta": testVault + "/keys/beta"}},
	} {
		for key, name := range cl.names {
			if n := cl.f.count("Import", name); n != 1 {
				t.Errorf("%s %s: %d imports, want 1", cl.f.kind, name, n)
			}
			if n := cl.f.count("Verify", name); n != 1 {
				t.Errorf("%s %s: %d proofs, want 1", cl.f.kind, name, n)
			}
			if got := cl.f.material[name]; string(got) != string(keyBytes(t, c.dir, key)) {
				t.Errorf("%s %s holds %x, want the key file's material", cl.f.kind, name, got)
			}
		}
		if n := cl.f.count("Import", ""); n != 2 {
			t.Errorf("%s: %d imports in all, want 2", cl.f.kind, n)
		}
	}
	if got, want := sum.CloudImports, map[string]int{"gcp:projects/p-test/locations/global": 2, "azure:" + testVault: 2}; !mapsEqual(got, want) {
		t.Errorf("CloudImports = %v, want %v", got, want)
	}
	// A row per target in the results.
	for _, r := range results {
		var rows []string
		for _, rr := range r.Regions {
			if rr.Verdict != byok.VerdictPassed {
				t.Errorf("%s %s %s%s: verdict %q", r.Key, rr.Target, rr.Region, rr.KeyName, rr.Verdict)
			}
			rows = append(rows, rr.Target)
		}
		want := map[string][]string{"alpha": {"aws", "aws", "gcp", "azure"}, "beta": {"gcp", "azure"}, "gamma": {"aws"}}[r.Key]
		if !slices.Equal(rows, want) {
			t.Errorf("%s: rows %v, want %v", r.Key, rows, want)
		}
	}
	// The audit log: a record per key and target, with its checks.
	recs := readAudit(t, filepath.Join(c.dir, "audit.jsonl"))
	got := map[string]int{}
	for _, r := range recs {
		where := r.Region
		if r.Target != KindAWS {
			where = r.KeyName
			if r.KeyARN != "" || r.Region != "" || r.ExpirationModel != "" {
				t.Errorf("%s record %+v carries AWS fields", r.Target, r)
			}
			if r.Algorithm != byok.RSAESOAEPSHA256 || r.WrappingKeySpec != byok.WrappingRSA2048 {
				t.Errorf("%s record: %s with %s, want the target's own choice", r.Target, r.Algorithm, r.WrappingKeySpec)
			}
		}
		got[r.Key+" "+r.Target+" "+where]++
		if r.Verdict != byok.VerdictPassed || !r.Verified || len(r.Checks) == 0 || r.Outcome != OutcomeImported {
			t.Errorf("record %s %s %s: verdict %s, %d checks, outcome %s", r.Key, r.Target, where, r.Verdict, len(r.Checks), r.Outcome)
		}
	}
	wantRecs := map[string]int{
		"alpha aws us-east-1": 1, "alpha aws eu-west-1": 1,
		"alpha gcp " + testRing + "/cryptoKeys/alpha": 1, "alpha azure " + testVault + "/keys/alpha": 1,
		"beta gcp " + testRing + "/cryptoKeys/beta-key": 1, "beta azure " + testVault + "/keys/beta": 1,
		"gamma aws us-east-1": 1,
	}
	if !mapsEqual(got, wantRecs) {
		t.Errorf("audit records %v, want %v", got, wantRecs)
	}

	// Status: every target of every key.
	m, _ := OpenManifest(c.manifest)
	q := StatusQuery{Manifest: m, Client: clientsOf(c.srv), AuditLog: filepath.Join(c.dir, "audit.jsonl"), Journal: filepath.Join(c.dir, "journal.jsonl"),
		WarnWithin: 30 * 24 * time.Hour, Targets: map[string]TargetOpener{KindGCP: c.gcp.opener(), KindAzure: c.azure.opener()}}
	rows, err := Status(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	var seen []string
	for _, r := range rows {
		seen = append(seen, r.Key+" "+r.Target+" "+r.Region+r.KeyName+" "+r.State+" "+r.Source)
		if len(r.Attention) > 0 {
			t.Errorf("%s %s: attention %v", r.Key, r.Target, r.Attention)
		}
	}
	wantRows := []string{
		"alpha aws eu-west-1 Enabled matches", "alpha aws us-east-1 Enabled matches",
		"alpha azure " + testVault + "/keys/alpha Enabled matches", "alpha gcp " + testRing + "/cryptoKeys/alpha ENABLED matches",
		"beta azure " + testVault + "/keys/beta Enabled matches", "beta gcp " + testRing + "/cryptoKeys/beta-key ENABLED matches",
		"gamma aws us-east-1 Enabled matches",
	}
	if !slices.Equal(seen, wantRows) {
		t.Errorf("status rows\n%s\nwant\n%s", strings.Join(seen, "\n"), strings.Join(wantRows, "\n"))
	}
	// A Cloud KMS version destroyed: that row, and only it, needs attention.
	c.gcp.state[testRing+"/cryptoKeys/beta-key"] = "DESTROYED"
	rows, _ = Status(ctx, q)
	n := 0
	for _, r := range rows {
		if len(r.Attention) > 0 {
			n++
			if r.Key != "beta" || r.Target != KindGCP || !strings.Contains(r.Attention[0], "DESTROYED") {
				t.Errorf("attention on %s %s: %v", r.Key, r.Target, r.Attention)
			}
		}
	}
	if n != 1 || !NeedsAttention(rows) {
		t.Errorf("%d rows need attention, want 1", n)
	}
	delete(c.gcp.state, testRing+"/cryptoKeys/beta-key")

	// Run again: everything is done; no cloud is called.
	before := [2]int{len(c.gcp.calls), len(c.azure.calls)}
	sum, _, err = c.migration(t, ctx, nil)
	if err != nil || sum.AlreadyDone != 3 {
		t.Fatalf("second run: %v %+v", err, sum)
	}
	if after := [2]int{len(c.gcp.calls), len(c.azure.calls)}; after != before {
		t.Errorf("the second run called the clouds: %v -> %v", before, after)
	}

	// Renewal is AWS's: the four targets elsewhere are left alone.
	sum, _, err = c.migration(t, ctx, func(m *Migration) { m.Renew, m.RenewWithin = true, 30*24*time.Hour })
	if err != nil || sum.NotRenewed != 4 || sum.NotDue != 3 {
		t.Errorf("renewal: %v, not renewed %d (want 4), not due %d (want 3)", err, sum.NotRenewed, sum.NotDue)
	}
	if after := [2]int{c.gcp.count("Import", ""), c.azure.count("Import", "")}; after != [2]int{2, 2} {
		t.Errorf("the renewal imported into the other clouds: %v", after)
	}
	// Shred refuses a key that lives in another cloud too.
	if _, err := ShredTargets(m, filepath.Join(c.dir, "audit.jsonl"), []string{"alpha"}); err == nil || !strings.Contains(err.Error(), "AWS KMS key material only") {
		t.Errorf("ShredTargets(alpha) = %v, want a refusal", err)
	}
	if st, err := ShredTargets(m, filepath.Join(c.dir, "audit.jsonl"), []string{"gamma"}); err != nil || len(st) != 1 {
		t.Errorf("ShredTargets(gamma) = %v, %v; want its one AWS key", st, err)
	}
}

func mapsEqual[V comparable](a, b map[string]V) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// TestMigrateCloudResume: a run stops right after the material reached
// the Key Vault, before its answer was journaled (the context ends inside
// the import, as a kill would leave it); the next run finishes without
// redoing anything finished — no second CreateKey or import in AWS, no
// second import or proof in Cloud KMS — and, asking the vault (KeyState),
// without a second import there. A run stopped before anything was sent
// to a target imports it once when resumed.
func TestMigrateCloudResume(t *testing.T) {
	c := newCloudRun(t)
	ctx, cancel := context.WithCancel(context.Background())
	alphaVault := testVault + "/keys/alpha"
	c.azure.onImport = func(name string) error {
		if name == alphaVault {
			cancel()
			return context.Canceled // the material arrived; the answer did not
		}
		return nil
	}
	betaRing := testRing + "/cryptoKeys/beta-key"
	c.gcp.onPrepare = func(name string) error {
		if name == betaRing {
			cancel()
			return context.Canceled // nothing sent yet
		}
		return nil
	}
	_, _, err := c.migration(t, ctx, func(m *Migration) { m.Concurrency = 1 })
	if !errors.Is(err, ErrInterrupted) {
		t.Fatalf("first run: %v, want ErrInterrupted", err)
	}
	if c.azure.count("Import", alphaVault) != 1 || c.gcp.count("Import", betaRing) != 0 {
		t.Fatalf("the crash did not land as meant: %v %v", c.azure.calls, c.gcp.calls)
	}
	awsBefore, _ := emulatorKeys(t, c.srv)
	gcpAlpha := testRing + "/cryptoKeys/alpha"
	gcpImports, gcpProofs := c.gcp.count("Import", gcpAlpha), c.gcp.count("Verify", gcpAlpha)
	if gcpImports != 1 || gcpProofs != 1 {
		t.Fatalf("alpha in Cloud KMS before the crash: %d imports, %d proofs", gcpImports, gcpProofs)
	}

	c.azure.onImport, c.gcp.onPrepare = nil, nil
	sum, _, err := c.migration(t, context.Background(), nil)
	if err != nil || sum.Failed != 0 {
		t.Fatalf("resumed run: %v %+v", err, sum)
	}
	awsAfter, _ := emulatorKeys(t, c.srv)
	if !mapsEqual(awsBefore, map[string]int{"alpha@us-east-1": 1, "alpha@eu-west-1": 1}) && !mapsEqual(awsAfter, awsBefore) {
		t.Errorf("AWS keys before %v, after %v", awsBefore, awsAfter)
	}
	if awsAfter["alpha@us-east-1"] != 1 || awsAfter["alpha@eu-west-1"] != 1 {
		t.Errorf("AWS keys after the resume: %v", awsAfter)
	}
	for _, chk := range []struct {
		f            *fakeCloud
		name         string
		imports, ver int
	}{
		{c.gcp, gcpAlpha, 1, 1},     // finished before the crash: not redone
		{c.azure, alphaVault, 1, 1}, // arrived before the crash: found by KeyState
		{c.gcp, betaRing, 1, 1},     // never sent: imported once now
		{c.azure, testVault + "/keys/beta", 1, 1},
	} {
		if n, v := chk.f.count("Import", chk.name), chk.f.count("Verify", chk.name); n != chk.imports || v != chk.ver {
			t.Errorf("%s %s: %d imports and %d proofs, want %d and %d", chk.f.kind, chk.name, n, v, chk.imports, chk.ver)
		}
	}
	if c.azure.count("KeyState", alphaVault) == 0 {
		t.Error("the resumed run did not ask the vault whether the interrupted import arrived")
	}
	entries, err := ReadJournal(filepath.Join(c.dir, "journal.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, e := range entries {
		if e.Target == "azure:"+alphaVault && e.Step == StepImport && e.Phase == PhaseDone && strings.Contains(e.Detail, "interrupted run") {
			found = true
		}
	}
	if !found {
		t.Error("the journal does not say the vault's import was found after the interrupted run")
	}
}

// TestMigrateRefusesMissingTarget: a manifest naming a cloud for which no
// opener was given is refused before anything is called or written.
func TestMigrateRefusesMissingTarget(t *testing.T) {
	c := newCloudRun(t)
	_, _, err := c.migration(t, context.Background(), func(m *Migration) { delete(m.Targets, KindGCP) })
	var mt *MissingTargetError
	if !errors.As(err, &mt) || mt.Kind != KindGCP || mt.Line != 10 {
		t.Fatalf("err = %v (%#v), want a MissingTargetError for gcp at line 10", err, mt)
	}
	if len(c.srv.Emulator.Keys()) != 0 || len(c.azure.calls) != 0 || c.azure.opened != 0 {
		t.Errorf("something was called: %d AWS keys, azure calls %v", len(c.srv.Emulator.Keys()), c.azure.calls)
	}
	if _, err := os.Stat(filepath.Join(c.dir, "journal.jsonl")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the journal was created: %v", err)
	}
	m, _ := OpenManifest(c.manifest)
	_, err = Status(context.Background(), StatusQuery{Manifest: m, Client: clientsOf(c.srv), Targets: map[string]TargetOpener{KindGCP: c.gcp.opener()}})
	if !errors.As(err, &mt) || mt.Kind != KindAzure {
		t.Errorf("Status without an azure opener: %v", err)
	}
}

// TestMigrateCloudPacing: the calls into each cloud are paced by that
// cloud's own quota (per kind and scope), and a throttled call slows its
// quota down and is tried again.
func TestMigrateCloudPacing(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "keys"), 0o700)
	var b strings.Builder
	b.WriteString("version: 1\nid: paced\ndefaults:\n  source: {key_spec: SYMMETRIC_DEFAULT}\n  targets:\n")
	b.WriteString("    - gcp: {key_ring: " + testRing + "}\n    - azure: {vault: " + testVault + "}\nkeys:\n")
	const n = 12
	for i := range n {
		name := fmt.Sprintf("k%02d", i)
		writeAES(t, filepath.Join(dir, "keys", name+".hex"))
		fmt.Fprintf(&b, "  - {name: %s, source: {key: keys/%s.hex}}\n", name, name)
	}
	p := filepath.Join(dir, "fleet.yaml")
	os.WriteFile(p, []byte(b.String()), 0o600)
	c := &cloudRun{dir: dir, manifest: p, srv: emulator(t), gcp: newFakeCloud(t, KindGCP), azure: newFakeCloud(t, KindAzure)}
	c.azure.throttle = 1
	q := fastCloudQuotas()
	q["azure:create"] = 5 // bucket of 4 (0.98 × 5), then 4.9 imports a second
	start := time.Now()
	sum, _, err := c.migration(t, context.Background(), func(m *Migration) { m.Quotas = q })
	if err != nil {
		t.Fatalf("%v %+v", err, sum)
	}
	elapsed := time.Since(start)
	// 12 imports + 1 throttled try at 4.9/s after a bucket of 4: at least
	// (13-4)/4.9 s, less a little for timer slack.
	if min := time.Duration(1652) * time.Millisecond; elapsed < min { // (13-4)/4.9 s, less 10%
		t.Errorf("12 Key Vault imports took %s; paced at 5/s they take at least %s", elapsed, min)
	}
	// In any second, at most the bucket plus a second's rate.
	ts := append(c.azure.times("Import"), c.azure.times("Throttled")...)
	slices.SortFunc(ts, func(a, b time.Time) int { return a.Compare(b) })
	for i := range ts {
		in := 0
		for _, u := range ts[i:] {
			if u.Sub(ts[i]) < time.Second {
				in++
			}
		}
		if in > 4+5 {
			t.Fatalf("%d Key Vault imports within a second from %s; the quota allows 9", in, ts[i].Format(time.StampMilli))
		}
	}
	// Cloud KMS, at its raised quota, was not held back by Key Vault's.
	gcpImports := c.gcp.times("Import")
	if len(gcpImports) != n || gcpImports[n-1].Sub(start) > elapsed/2+500*time.Millisecond {
		t.Errorf("Cloud KMS imports: %d, the last %s into a %s run", len(gcpImports), gcpImports[len(gcpImports)-1].Sub(start), elapsed)
	}
	var azOps, gcpOps *OpStats
	for i, o := range sum.Ops {
		switch {
		case o.Op == "azure:create" && o.Region == "azure:"+testVault:
			azOps = &sum.Ops[i]
		case o.Op == "gcp:write" && o.Region == "gcp:projects/p-test/locations/global":
			gcpOps = &sum.Ops[i]
		}
	}
	if azOps == nil || gcpOps == nil {
		t.Fatalf("ops %+v lack azure:create or gcp:write", sum.Ops)
	}
	if azOps.Calls != n+1 || azOps.Throttles != 1 || azOps.Quota != 5 {
		t.Errorf("azure:create: %+v, want %d calls (one throttled), quota 5", *azOps, n+1)
	}
	if gcpOps.Calls != 2*n || gcpOps.Throttles != 0 {
		t.Errorf("gcp:write: %+v, want %d calls (Prepare and Import per key)", *gcpOps, 2*n)
	}
	if c.azure.count("Import", "") != n {
		t.Errorf("%d Key Vault imports, want %d (the throttled one tried again)", c.azure.count("Import", ""), n)
	}
	if k := c.azure.count("KeyState", ""); k != 1 {
		t.Errorf("%d KeyState calls; want 1: a throttled import is asked about before the material is sent again", k)
	}
}
