package main

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/byok-go/byok/migrate"
)

// TestRenewKill9: a fleet migrated into a persistent `byok emulator`, then
// seen three days later (--time-offset 3d): keys whose material expired
// (PendingImport), keys inside the 30-day window, keys outside it, and
// multi-Region keys whose replicas are in a second Region. `byok migrate
// --renew-within 30d` is killed with SIGKILL at random points and resumed
// until a run finishes: every due KMS key is then imported exactly once
// (the emulator's request log), proven (the journal), and byok status
// finds nothing to report.
func TestRenewKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("kill test: not in -short")
	}
	state := t.TempDir()
	url, _ := startEmulator(t, "--state", state)
	setEmulatorEnv(t, url)
	dir := t.TempDir()
	var keys []string
	due := 0
	for i := range 30 {
		name := fmt.Sprintf("k%02d", i)
		regions := 1
		if i%5 == 0 {
			name += "*" // multi-Region, replica in eu-west-1
			regions = 2
		}
		vt := "+2d" // expired three days later
		switch i % 3 {
		case 1:
			vt = "+10d" // inside the window
		case 2:
			vt = "+300d" // outside
		}
		if i%3 != 2 {
			due += regions
		}
		keys = append(keys, name+"="+vt)
	}
	manifest := lifecycleFleet(t, dir, "renew-kill9", keys...)
	if code, out, errOut := migrateCLI(t, manifest, "--quota-scale", "100", "--progress", "none"); code != 0 {
		t.Fatalf("migrate: exit %d\n%s\n%s", code, out, errOut)
	}
	later, logs := startEmulator(t, "--state", state, "--time-offset", "3d")
	env := emulatorEnv(t, later)
	b, _ := os.ReadFile(manifest)
	for _, vt := range []string{"+2d", "+10d", "+300d"} {
		b = bytes.ReplaceAll(b, []byte(`"`+vt+`"`), []byte(`"+365d"`))
	}
	os.WriteFile(manifest, b, 0o600)
	r := runByok(t, env, "status", manifest, "--skip-source")
	if r.code != exitAttention || !strings.Contains(r.stdout, "PendingImport") {
		t.Fatalf("status before the renewal:\n%s", r)
	}

	seed := uint64(time.Now().UnixNano())
	rng := rand.New(rand.NewPCG(seed, 0))
	t.Logf("seed %d", seed)
	args := []string{manifest, "--renew-within", "30d", "--quota-scale", "2", "--progress", "none"}
	last, kills := killUntilDone(t, env, args, rng, 6, 40, 200*time.Millisecond)
	t.Logf("killed %d times; the last run said:\n%s", kills, last)
	if kills == 0 {
		t.Error("no run was killed")
	}
	if c := strings.Count(logs.String(), "TrentService.ImportKeyMaterial 200"); c != due {
		t.Errorf("%d successful ImportKeyMaterial requests; want %d (each due KMS key once)", c, due)
	}
	if c := strings.Count(logs.String(), "TrentService.CreateKey"); c != 0 {
		t.Errorf("the renewal created %d keys", c)
	}
	entries, err := migrate.ReadJournal(manifestBase(manifest) + ".journal.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	verified := map[string]bool{}
	for _, e := range entries {
		if e.Renewal != "" && e.Step == migrate.StepVerify && e.Phase == migrate.PhaseDone {
			verified[e.ARN] = true
		}
	}
	if len(verified) != due {
		t.Errorf("%d KMS keys proven in the renewal; want %d", len(verified), due)
	}
	r = runByok(t, env, "status", manifest, "--warn-within", "30d")
	if r.code != 0 {
		t.Errorf("status after the renewal:\n%s", r)
	}
	// Once more: nothing is due.
	r = runByok(t, env, append([]string{"migrate"}, args...)...)
	if r.code != 0 || !strings.Contains(r.stdout, "renewed 0, not due 30") {
		t.Errorf("a second renewal:\n%s", r)
	}
}
