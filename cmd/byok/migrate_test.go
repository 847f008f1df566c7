package main

import (
	"bytes"
	"context"
	cryptorand "crypto/rand"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/byok-go/byok/internal/testenv"
	"github.com/byok-go/byok/migrate"
	"github.com/byok-go/byok/migrate/fleettest"
)

// migrateCLI runs `byok migrate` in this process, mapping its error to the
// exit code run() gives.
func migrateCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	err := runMigrate(context.Background(), args, &out, &errb)
	code := 0
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
	case errors.Is(err, errUsage):
		code = 2
		fmt.Fprintf(&errb, "byok migrate: %v\n", err)
	default:
		code = 1
		fmt.Fprintf(&errb, "byok migrate: %v\n", err)
	}
	return code, out.String(), errb.String()
}

// setEmulatorEnv points the AWS SDK of this process at an emulator.
func setEmulatorEnv(t *testing.T, url string) {
	for _, kv := range emulatorEnv(t, url) {
		k, v, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "AWS_") {
			t.Setenv(k, v)
		}
	}
}

func TestMigrateCLIUsage(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("version: 1\nid: x\nkeys:\n  - name: a\n    source: a.pem\n    target:\n      region: us-east-1\n      alais: foo\n"), 0o600)
	for _, tc := range []struct {
		args []string
		msg  string
	}{
		{nil, "no manifest"},
		{[]string{"a.yaml", "b.yaml"}, "one manifest at a time"},
		{[]string{"x.yaml", "--quota", "Sign=5"}, "not an operation with a quota"},
		{[]string{"x.yaml", "--quota", "CreateKey=fast"}, "positive number"},
		{[]string{"x.yaml", "--progress", "loud"}, "want auto, bar, lines or none"},
		{[]string{bad}, `bad.yaml:8: keys[0].target.alais: unknown field (did you mean "alias"?)`},
	} {
		code, _, errOut := migrateCLI(t, tc.args...)
		if code != 2 || !strings.Contains(errOut, tc.msg) {
			t.Errorf("byok migrate %v: exit %d, %q; want 2 and %q", tc.args, code, errOut, tc.msg)
		}
	}
	code, _, errOut := migrateCLI(t, "--help")
	if code != 0 || !strings.Contains(errOut, "Examples:") || !strings.Contains(errOut, "--dry-run") {
		t.Errorf("--help: exit %d\n%s", code, errOut)
	}
}

// TestMigrateManifestInputExit2: every manifest that cannot be used —
// missing, a device, a FIFO, a directory, over its cap, with mistakes, or
// naming a bad policy_file — exits 2 ("the manifest is wrong", as --help
// says), with or without --dry-run and --json, before any AWS call.
func TestMigrateManifestInputExit2(t *testing.T) {
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_ENDPOINT_URL_KMS", "http://127.0.0.1:1") // never reached
	dir := t.TempDir()
	key, err := filepath.Abs(keyFile("p256.pkcs8.pem"))
	if err != nil {
		t.Fatal(err)
	}
	write := func(name, doc string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(doc), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cases := map[string]struct{ path, want string }{
		"missing":     {filepath.Join(dir, "nope.yaml"), "no such file"},
		"long line":   {write("long.yaml", "version: 1\nid: x\ndescription: "+strings.Repeat("a", 2<<20)), "has a line longer than 1 MiB"},
		"mistakes":    {write("typo.yaml", "version: 1\nid: x\nkeys:\n  - name: a\n    source: "+key+"\n    target: {region: us-east-1, alais: a}\n"), "unknown field"},
		"policy_file": {write("policy.yaml", "version: 1\nid: x\nkeys:\n  - name: a\n    source: "+key+"\n    target: {region: us-east-1, policy_file: /dev/zero}\n"), "policy_file"},
	}
	for _, bad := range badInputFiles(t, 1<<10) {
		if bad.name != "over the cap" { // the manifest's cap is 256 MiB: "long line" is its line cap
			cases[bad.name] = struct{ path, want string }{bad.path, bad.want}
		}
	}
	for name, c := range cases {
		for _, flags := range [][]string{{"--dry-run"}, {"--progress", "none", "--journal", filepath.Join(dir, "j")}, {"--json", "--progress", "none", "--journal", filepath.Join(dir, "j")}} {
			code, _, errOut := runCLIPromptly(t, append([]string{"migrate", c.path}, flags...)...)
			if code != 2 || !strings.Contains(errOut, c.want) {
				t.Errorf("%s %v: exit %d, want 2 and %q\n%s", name, flags, code, c.want, errOut)
			}
		}
	}
}

func TestMigrateCLI(t *testing.T) {
	url, logs := startEmulator(t)
	setEmulatorEnv(t, url)
	dir := t.TempDir()
	manifest, err := fleettest.Write(dir, 12, fleettest.Options{ID: "cli", Regions: []string{"us-east-1", "eu-west-1"}, MultiRegionEvery: 4, Aliases: true})
	if err != nil {
		t.Fatal(err)
	}
	code, out, errOut := migrateCLI(t, manifest, "--dry-run", "--quota-scale", "100")
	if code != 0 || !strings.Contains(out, "key-00000 (line") || !strings.Contains(out, "replicate to eu-west-1") || !strings.Contains(out, "12 keys planned") {
		t.Fatalf("dry run: exit %d\n%s\n%s", code, out, errOut)
	}
	if n := strings.Count(logs.String(), "TrentService."); n != 0 {
		t.Errorf("the dry run sent %d requests", n)
	}
	code, out, errOut = migrateCLI(t, manifest, "--quota-scale", "100", "--progress", "lines")
	if code != 0 || !strings.Contains(out, "imported 12, already done 0, failed 0") || !strings.Contains(errOut, "12/12 keys") {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	if !strings.Contains(out, "proofs: 15 PASSED, 0 FAILED, 0 UNPROVEN; every check, by name, is in the audit log") {
		t.Errorf("no count of the proofs (3 multi-Region keys in 2 Regions, 9 single):\n%s", out)
	}
	audit, err := os.ReadFile(strings.TrimSuffix(manifest, ".yaml") + ".audit.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	if n := bytes.Count(audit, []byte("\n")); n != 3*2+9 {
		t.Errorf("%d audit lines; want 15", n)
	}
	// Again: everything is done; --json gives the summary.
	code, out, _ = migrateCLI(t, manifest, "--quota-scale", "100", "--json", "--progress", "none")
	var doc struct {
		OK      bool `json:"ok"`
		Summary struct {
			AlreadyDone int `json:"already_done"`
		} `json:"summary"`
		Results []struct {
			Outcome string `json:"outcome"`
		} `json:"results"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &doc) != nil || !doc.OK || doc.Summary.AlreadyDone != 12 || len(doc.Results) != 12 {
		t.Fatalf("second run: exit %d\n%s", code, out)
	}
}

// migrateCommand returns a command running `byok migrate args` with the
// byok binary.
func migrateCommand(t *testing.T, env []string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(byokBinary(t), append([]string{"migrate"}, args...)...)
	cmd.Env = env
	return cmd
}

// TestMigrateKill9 kills `byok migrate` with SIGKILL at random points of a
// 200-key run into a persistent `byok emulator`, resumes, and repeats until
// a run finishes; then every key must be imported exactly once and
// verified, and the emulator must hold no orphaned key.
func TestMigrateKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("kill test: not in -short")
	}
	state := t.TempDir()
	url, logs := startEmulator(t, "--state", state)
	dir := t.TempDir()
	regions := []string{"us-east-1", "eu-west-1", "ap-southeast-2"}
	const n = 200
	manifest, err := fleettest.Write(dir, n, fleettest.Options{ID: "kill9", Regions: regions, MultiRegionEvery: 10, RSAEvery: 40, Aliases: true})
	if err != nil {
		t.Fatal(err)
	}
	seed := uint64(time.Now().UnixNano())
	rng := rand.New(rand.NewPCG(seed, 0))
	t.Logf("seed %d", seed)
	env := emulatorEnv(t, url)
	// GetParametersForImport at 3/s per Region: a full run takes half a minute, so
	// every kill lands in the middle of one.
	args := []string{manifest, "--quota-scale", "3", "--progress", "none"}
	// Kill the first 10 runs at a random point; let the later ones finish.
	last, kills := killUntilDone(t, env, args, rng, 10, 60, 150*time.Millisecond)
	t.Logf("killed %d times; the last run said:\n%s", kills, last)
	if kills == 0 {
		t.Error("no run was killed: the runs are faster than the kill points")
	}

	// Every key once, Enabled, in its Regions; nothing else in the emulator.
	want := map[string]bool{}
	creates := 0
	for k, err := range mustManifest(t, manifest).Keys() {
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range k.Target.AllRegions() {
			want[k.Name+"@"+r] = true
		}
		creates += len(k.Target.Regions)
	}
	got := map[string]int{}
	orphans := 0
	for _, region := range regions {
		c := kms.New(kms.Options{Region: region, BaseEndpoint: aws.String(url), Credentials: credentials.NewStaticCredentialsProvider("test", "test", "")})
		p := kms.NewListKeysPaginator(c, &kms.ListKeysInput{})
		for p.HasMorePages() {
			page, err := p.NextPage(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			for _, k := range page.Keys {
				d, err := c.DescribeKey(context.Background(), &kms.DescribeKeyInput{KeyId: k.KeyId})
				if err != nil {
					t.Fatal(err)
				}
				tags, err := c.ListResourceTags(context.Background(), &kms.ListResourceTagsInput{KeyId: k.KeyId})
				if err != nil {
					t.Fatal(err)
				}
				name := ""
				for _, tg := range tags.Tags {
					if aws.ToString(tg.TagKey) == migrate.TagKeyName {
						name = aws.ToString(tg.TagValue)
					}
				}
				id := name + "@" + region
				got[id]++
				if !want[id] || got[id] > 1 || d.KeyMetadata.KeyState != types.KeyStateEnabled {
					orphans++
					t.Errorf("orphan or duplicate: %s %s (%s)", aws.ToString(k.KeyArn), id, d.KeyMetadata.KeyState)
				}
			}
		}
	}
	t.Logf("KMS keys: %d expected, %d found, %d orphaned or duplicated", len(want), len(got), orphans)
	if len(got) != len(want) {
		t.Errorf("%d distinct keys; want %d", len(got), len(want))
	}
	// Exactly once: one successful CreateKey per key and Region, one
	// successful ImportKeyMaterial per KMS key (replicas included).
	if c := strings.Count(logs.String(), "TrentService.CreateKey 200"); c != creates {
		t.Errorf("%d successful CreateKey requests; want %d", c, creates)
	}
	if c := strings.Count(logs.String(), "TrentService.ImportKeyMaterial 200"); c != len(want) {
		t.Errorf("%d successful ImportKeyMaterial requests; want %d (once per KMS key)", c, len(want))
	}
	// The journal says every key was verified, in every Region.
	entries, err := migrate.ReadJournal(strings.TrimSuffix(manifest, ".yaml") + ".journal.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	verified, finished := map[string]bool{}, map[string]bool{}
	runs := 0
	recovered := map[string]int{} // steps an interrupted run left that a later run found done
	for _, e := range entries {
		if strings.HasPrefix(e.Detail, "found") && e.Phase == migrate.PhaseDone {
			recovered[e.Step]++
		}
		switch {
		case e.Step == migrate.StepVerify && e.Phase == migrate.PhaseDone:
			verified[e.Key+"@"+e.Region] = true
		case e.Step == migrate.StepKey && e.Phase == migrate.PhaseDone:
			finished[e.Key] = true
		case e.Step == migrate.StepRun && e.Phase == migrate.PhaseIntent:
			runs++
		}
	}
	if len(verified) != len(want) || len(finished) != n {
		t.Errorf("journal: %d of %d verified, %d of %d keys finished", len(verified), len(want), len(finished), n)
	}
	t.Logf("journal: %d entries over %d runs; found done after a kill: %v", len(entries), runs, recovered)
}

func mustManifest(t *testing.T, path string) *migrate.Manifest {
	t.Helper()
	m, err := migrate.OpenManifest(path)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestMigrateMemory measures the engine's peak live heap for a 100-, a 1000-
// and a 10 000-key manifest against `byok emulator` in another process (so that
// the emulator's own key store is not counted): it must not grow with the
// manifest. It takes a few minutes: BYOK_FLEET_MEM=1 runs it
// (BYOK_FLEET_MEM_KEYS=N changes the large size).
func TestMigrateMemory(t *testing.T) {
	if os.Getenv("BYOK_FLEET_MEM") != "1" {
		t.Skip("set BYOK_FLEET_MEM=1 to measure the engine's memory (minutes)")
	}
	large := 10000
	if n, err := strconv.Atoi(os.Getenv("BYOK_FLEET_MEM_KEYS")); err == nil {
		large = n
	}
	url, _ := startEmulator(t, "--quiet")
	q := migrate.DefaultQuotas()
	for k := range q {
		q[k] *= 1000
	}
	peaks := map[int]uint64{}
	for _, n := range []int{100, 1000, large} {
		dir := t.TempDir()
		p, err := fleettest.Write(dir, n, fleettest.Options{ID: fmt.Sprintf("mem%d", n), RSAEvery: 50})
		if err != nil {
			t.Fatal(err)
		}
		runtime.GC()
		var peak atomic.Uint64
		stop := make(chan struct{})
		sampled := make(chan struct{})
		// The live heap: sampled right after a forced collection, four
		// times a second (the heap in use between collections is up to
		// twice the live heap with GOGC=100, whatever the manifest).
		go func() {
			defer close(sampled)
			var ms runtime.MemStats
			for {
				runtime.GC()
				runtime.ReadMemStats(&ms)
				if ms.HeapAlloc > peak.Load() {
					peak.Store(ms.HeapAlloc)
					if f := os.Getenv("BYOK_FLEET_MEM_PROFILE"); f != "" && n == large {
						if w, err := os.Create(f); err == nil {
							pprof.WriteHeapProfile(w)
							w.Close()
						}
					}
				}
				select {
				case <-stop:
					return
				case <-time.After(250 * time.Millisecond):
				}
			}
		}()
		start := time.Now()
		m, err := migrate.OpenManifest(p)
		if err != nil {
			t.Fatal(err)
		}
		// The concurrency of AWS's default quotas (16 keys in flight per
		// Region), not the larger one raised quotas would choose: keys in
		// flight cost memory (some 60 KiB each), the manifest must not.
		mig := &migrate.Migration{Manifest: m, Journal: filepath.Join(dir, "journal.jsonl"), Audit: io.Discard, Quotas: q,
			RegionConcurrency: migrate.DefaultRegionConcurrency, Concurrency: migrate.DefaultConcurrency,
			Client: func(_ context.Context, region string) (migrate.API, error) {
				return kms.New(kms.Options{Region: region, BaseEndpoint: aws.String(url),
					Credentials: credentials.NewStaticCredentialsProvider("test", "test", "")}), nil
			}}
		sum, err := mig.Run(context.Background())
		close(stop)
		<-sampled
		if err != nil || sum.Imported != n {
			t.Fatalf("%d keys: %v %+v", n, err, sum)
		}
		peaks[n] = peak.Load()
		t.Logf("%5d keys: peak live heap %.1f MiB, %s, %.0f keys/s", n, float64(peak.Load())/(1<<20), time.Since(start).Round(time.Second), sum.Rate())
	}
	// From 100 to 1000 keys the connection pool and the SDK's caches warm
	// up (about a MiB, once); past that the live heap must stay flat.
	if r := float64(peaks[large]) / float64(peaks[1000]); r > 1.3 {
		t.Errorf("the peak live heap grew %.2f× from 1000 to %d keys", r, large)
	}
}

// TestMigrateFromSoftHSM migrates AES keys held in a throwaway SoftHSM token
// (wrapped inside SoftHSM, PIN from the environment) together with software
// keys, one of them into a multi-Region key, with `byok migrate`.
func TestMigrateFromSoftHSM(t *testing.T) {
	testenv.MustHaveExecPath(t, "softhsm2-util")
	tool := testenv.MustHaveExecPath(t, "pkcs11-tool")
	module := "/usr/lib/softhsm/libsofthsm2.so"
	if _, err := os.Stat(module); err != nil {
		if testenv.OnCI() {
			t.Fatalf("%s is required on CI: %v", module, err)
		}
		t.Skipf("%s is missing: apt-get install softhsm2", module)
	}
	dir := t.TempDir()
	conf := filepath.Join(dir, "softhsm2.conf")
	os.MkdirAll(filepath.Join(dir, "tokens"), 0o700)
	os.WriteFile(conf, []byte("directories.tokendir = "+filepath.Join(dir, "tokens")+"\nobjectstore.backend = file\nlog.level = ERROR\n"), 0o600)
	hsmEnv := append(os.Environ(), "SOFTHSM2_CONF="+conf)
	run := func(name string, args ...string) {
		t.Helper()
		cmd := exec.Command(name, args...)
		cmd.Env = hsmEnv
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s %v: %v\n%s", name, args, err, out)
		}
	}
	const pin = "fleet-pin-1234"
	run("softhsm2-util", "--init-token", "--free", "--label", "fleet", "--so-pin", "fleet-so-1234", "--pin", pin)
	var manifest strings.Builder
	manifest.WriteString("version: 1\nid: hsm-fleet\ndefaults:\n  target: {region: us-east-1}\nkeys:\n")
	for i := range 4 {
		aes := filepath.Join(dir, fmt.Sprintf("aes%d.bin", i))
		b := make([]byte, 32)
		cryptorand.Read(b)
		os.WriteFile(aes, b, 0o600)
		run(tool, "--module", module, "--token-label", "fleet", "--login", "--pin", pin, "--write-object", aes,
			"--type", "secrkey", "--key-type", "AES:32", "--label", fmt.Sprintf("hsm-aes-%d", i), "--extractable")
		os.Remove(aes)
		fmt.Fprintf(&manifest, "  - name: hsm-aes-%d\n    source: {driver: softhsm, module: %s, key: \"pkcs11:token=fleet;object=hsm-aes-%d\", pin_env: FLEET_PIN}\n", i, module, i)
		if i == 0 {
			manifest.WriteString("    target: {multi_region: true, replica_regions: [eu-west-1]}\n")
		}
	}
	manifest.WriteString("  - name: software-p256\n    source: " + mustAbs(t, keyFile("p256.pkcs8.pem")) + "\n")
	mf := filepath.Join(dir, "fleet.yaml")
	os.WriteFile(mf, []byte(manifest.String()), 0o600)

	url, _ := startEmulator(t)
	env := emulatorEnv(t, url, "SOFTHSM2_CONF="+conf, "FLEET_PIN="+pin)
	cmd := migrateCommand(t, env, mf, "--quota-scale", "50", "--progress", "none")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("byok migrate: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "imported 5, already done 0, failed 0") {
		t.Fatalf("%s", out)
	}
	audit, _ := os.ReadFile(filepath.Join(dir, "fleet.audit.jsonl"))
	if n := strings.Count(string(audit), `"source":"softhsm:pkcs11:token=fleet;object=hsm-aes-`); n != 5 || strings.Contains(string(audit), pin) {
		t.Errorf("%d audit records from SoftHSM; want 5 (4 keys, one with a replica):\n%s", n, audit)
	}
	t.Logf("algorithms: %d RSAES_OAEP_SHA_1, %d RSAES_OAEP_SHA_256", strings.Count(string(audit), `"RSAES_OAEP_SHA_1"`), strings.Count(string(audit), `"RSAES_OAEP_SHA_256"`))
	if !strings.Contains(string(audit), `"role":"replica"`) || strings.Count(string(audit), `"verified":true`) != 6 {
		t.Errorf("audit log:\n%s", audit)
	}
}

func mustAbs(t *testing.T, p string) string {
	t.Helper()
	a, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// TestMigrateInterrupt: Ctrl-C stops `byok migrate` promptly with exit
// status 1, saying how to resume; the next run finishes the job.
func TestMigrateInterrupt(t *testing.T) {
	url, _ := startEmulator(t)
	dir := t.TempDir()
	manifest, err := fleettest.Write(dir, 30, fleettest.Options{ID: "intr"})
	if err != nil {
		t.Fatal(err)
	}
	env := emulatorEnv(t, url)
	cmd := migrateCommand(t, env, manifest, "--progress", "none") // AWS's quotas: 30 s of work
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Interrupt once some keys are imported and proven (the journal says so), not
	// after a fixed time: on a loaded machine 3 s imported none.
	journal := strings.TrimSuffix(manifest, ".yaml") + ".journal.jsonl"
	for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(100 * time.Millisecond) {
		b, _ := os.ReadFile(journal)
		if bytes.Contains(b, []byte(`"step":"verify","phase":"done"`)) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no key imported after 2 minutes; journal:\n%s", b)
		}
	}
	cmd.Process.Signal(os.Interrupt)
	start := time.Now()
	err = cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 || time.Since(start) > 5*time.Second ||
		!strings.Contains(out.String(), "interrupted; run again with the same journal to resume") || !strings.Contains(out.String(), "not started") {
		t.Fatalf("after Ctrl-C: %v after %s\n%s", err, time.Since(start), out.String())
	}
	r := mustByok(t, 0, env, append([]string{"migrate"}, manifest, "--quota-scale", "50", "--progress", "none")...)
	if !strings.Contains(r.stdout, "failed 0, not started 0") || strings.Contains(r.stdout, "already done 0,") {
		t.Errorf("resumed run:\n%s", r)
	}
}

// killUntilDone runs `byok migrate args…` again and again, killing each of
// the first maxKills runs with SIGKILL at a random point between minDelay
// and minDelay+1.5 s (seeded by rng, logged by the caller), until a run
// finishes; a finished run that fails fails the test. It returns the last
// run's output and how many runs were killed.
func killUntilDone(t *testing.T, env []string, args []string, rng *rand.Rand, maxKills, maxRuns int, minDelay time.Duration) (string, int) {
	t.Helper()
	kills := 0
	for run := 1; ; run++ {
		if run > maxRuns {
			t.Fatalf("no run finished after %d kills", kills)
		}
		cmd := migrateCommand(t, env, args...)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		var timer <-chan time.Time
		if kills < maxKills {
			timer = time.After(minDelay + time.Duration(rng.IntN(1500))*time.Millisecond)
		}
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("run %d failed: %v\n%s", run, err, out.String())
			}
			return out.String(), kills
		case <-timer:
			cmd.Process.Signal(syscall.SIGKILL)
			<-done
			kills++
		}
	}
}
