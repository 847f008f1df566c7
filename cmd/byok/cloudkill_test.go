package main

import (
	"bytes"
	cryptorand "crypto/rand"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/byok-go/byok/migrate"
)

var (
	fakeCloudOnce sync.Once
	fakeCloudBin  string
	fakeCloudErr  error
)

// fakeCloudBinary builds byok with -tags byokfakecloud: gcp and azure
// targets whose state is in files (target_fake.go), so that a process
// killed with SIGKILL can be resumed by another.
func fakeCloudBinary(t *testing.T) string {
	t.Helper()
	fakeCloudOnce.Do(func() {
		dir, err := os.MkdirTemp("", "byok-fakecloud")
		if err != nil {
			fakeCloudErr = err
			return
		}
		fakeCloudBin = filepath.Join(dir, "byok")
		out, err := exec.Command("go", "build", "-tags", "byokfakecloud", "-o", fakeCloudBin, ".").CombinedOutput()
		if err != nil {
			fakeCloudErr = fmt.Errorf("%v: %s", err, out)
		}
	})
	if fakeCloudErr != nil {
		t.Fatalf("building byok with the fake clouds: %v", fakeCloudErr)
	}
	return fakeCloudBin
}

// TestMigrateKill9AcrossClouds kills `byok migrate` with SIGKILL at random
// points of a run that moves 30 keys each into an AWS Region (`byok
// emulator`), a Cloud KMS key ring and a Key Vault (file-backed fakes
// behind the CloudTarget seam), resumes, and repeats until a run
// finishes: then every key is in each of its three targets exactly once —
// one CreateKey and one ImportKeyMaterial per key in AWS, one import per
// key in each other cloud — and proven in each.
func TestMigrateKill9AcrossClouds(t *testing.T) {
	if testing.Short() {
		t.Skip("kill test: not in -short")
	}
	bin := fakeCloudBinary(t)
	url, logs := startEmulator(t, "--state", t.TempDir())
	dir, cloud := t.TempDir(), t.TempDir()
	const n = 30
	os.MkdirAll(filepath.Join(dir, "keys"), 0o700)
	var b strings.Builder
	b.WriteString("version: 1\nid: kill9-clouds\ndefaults:\n  source: {key_spec: SYMMETRIC_DEFAULT}\n  targets:\n")
	b.WriteString("    - aws: {region: us-east-1}\n    - gcp: {key_ring: projects/kill/locations/global/keyRings/r}\n    - azure: {vault: https://kill.vault.azure.net}\nkeys:\n")
	for i := range n {
		name := fmt.Sprintf("key-%02d", i)
		k := make([]byte, 32)
		cryptorand.Read(k)
		os.WriteFile(filepath.Join(dir, "keys", name+".hex"), []byte(hex.EncodeToString(k)+"\n"), 0o600)
		fmt.Fprintf(&b, "  - {name: %s, source: {key: keys/%s.hex}}\n", name, name)
	}
	manifest := filepath.Join(dir, "fleet.yaml")
	os.WriteFile(manifest, []byte(b.String()), 0o600)
	env := append(emulatorEnv(t, url), "BYOK_FAKE_CLOUD_DIR="+cloud)
	// GetParametersForImport at 3/s and Key Vault imports at 4/s: a run
	// takes about ten seconds, and kills land all through it.
	args := []string{"migrate", manifest, "--quota-scale", "3", "--quota", "azure:create=4", "--progress", "none"}
	seed := uint64(time.Now().UnixNano())
	rng := rand.New(rand.NewPCG(seed, 0))
	t.Logf("seed %d", seed)
	kills := 0
	for run := 1; ; run++ {
		if run > 40 {
			t.Fatalf("no run finished after %d kills", kills)
		}
		cmd := exec.Command(bin, args...)
		cmd.Env = env
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		var timer <-chan time.Time
		if kills < 8 {
			timer = time.After(150*time.Millisecond + time.Duration(rng.IntN(1500))*time.Millisecond)
		}
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("run %d failed: %v\n%s", run, err, out.String())
			}
			t.Logf("killed %d times; the last run said:\n%s", kills, out.String())
		case <-timer:
			cmd.Process.Signal(syscall.SIGKILL)
			<-done
			kills++
			continue
		}
		break
	}
	if kills == 0 {
		t.Error("no run was killed")
	}
	// The other clouds: one import per key each.
	imports, err := os.ReadFile(filepath.Join(cloud, "imports.log"))
	if err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	for _, l := range strings.Split(strings.TrimSpace(string(imports)), "\n") {
		count[l]++
	}
	for i := range n {
		name := fmt.Sprintf("key-%02d", i)
		for _, l := range []string{"gcp projects/kill/locations/global/keyRings/r/cryptoKeys/" + name, "azure https://kill.vault.azure.net/keys/" + name} {
			if count[l] != 1 {
				t.Errorf("%s: imported %d times, want once", l, count[l])
			}
		}
	}
	if len(count) != 2*n {
		t.Errorf("%d cloud keys imported, want %d", len(count), 2*n)
	}
	// AWS: one CreateKey and one ImportKeyMaterial per key.
	if c := strings.Count(logs.String(), "TrentService.CreateKey 200"); c != n {
		t.Errorf("%d successful CreateKey requests; want %d", c, n)
	}
	if c := strings.Count(logs.String(), "TrentService.ImportKeyMaterial 200"); c != n {
		t.Errorf("%d successful ImportKeyMaterial requests; want %d", c, n)
	}
	// The journal: every key proven in each of its three targets.
	entries, err := migrate.ReadJournal(filepath.Join(dir, "fleet.journal.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	verified, finished, found := map[string]bool{}, map[string]bool{}, 0
	for _, e := range entries {
		switch {
		case e.Step == migrate.StepVerify && e.Phase == migrate.PhaseDone:
			verified[e.Key+"@"+e.Region+e.Target] = true
		case e.Step == migrate.StepKey && e.Phase == migrate.PhaseDone:
			finished[e.Key] = true
		case e.Step == migrate.StepImport && e.Phase == migrate.PhaseDone && e.Target != "" && strings.Contains(e.Detail, "interrupted"):
			found++
		}
	}
	if len(verified) != 3*n || len(finished) != n {
		t.Errorf("journal: %d of %d targets proven, %d of %d keys finished", len(verified), 3*n, len(finished), n)
	}
	t.Logf("cloud imports found done after a kill (KeyState): %d", found)
}
