package main

// Check before side effects; nothing left unnamed (issue 12): each case
// fails without its fix. The CLI runs in this process against an in-process
// emulator whose fault hook counts the operations and fails chosen ones.

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/byok-go/byok"
	"github.com/byok-go/byok/hsm"
	"github.com/byok-go/byok/internal/testenv"
	"github.com/byok-go/byok/kmstest"
)

// faultyKMS is an emulator that counts operations and fails those named in
// fail (each as often as its count says; -1: always).
type faultyKMS struct {
	srv   *kmstest.Server
	mu    sync.Mutex
	calls map[string]int
	fail  map[string]int
	hook  func(op string) // called as each request arrives, if set
}

func newFaultyKMS(t *testing.T) *faultyKMS {
	t.Helper()
	f := &faultyKMS{calls: map[string]int{}, fail: map[string]int{}}
	f.srv = kmstest.NewServer(kmstest.WithWrappingKeyCache(true), kmstest.WithFault(func(op string) error {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.calls[op]++
		if f.hook != nil {
			f.hook(op)
		}
		if n := f.fail[op]; n != 0 {
			if n > 0 {
				f.fail[op] = n - 1
			}
			// A client error: the SDK does not retry it.
			return &kmstest.FaultError{Type: "AccessDeniedException", Message: "injected failure of " + op}
		}
		return nil
	}))
	t.Cleanup(f.srv.Close)
	setEmulatorEnv(t, f.srv.URL)
	return f
}

func (f *faultyKMS) failNext(op string, n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fail[op] = n
}

func (f *faultyKMS) count(op string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[op]
}

func (f *faultyKMS) describe(t *testing.T, id string) *types.KeyMetadata {
	t.Helper()
	out, err := f.srv.Client().DescribeKey(context.Background(), &kms.DescribeKeyInput{KeyId: aws.String(id)})
	if err != nil {
		t.Fatalf("DescribeKey %s: %v", id, err)
	}
	return out.KeyMetadata
}

// TestParamsOutDirCheckedBeforeCreateKey: an --out that cannot be written
// fails before any KMS key exists (before the fix, CreateKey ran, then the
// write failed without naming the key).
func TestParamsOutDirCheckedBeforeCreateKey(t *testing.T) {
	f := newFaultyKMS(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	os.WriteFile(file, []byte("x"), 0o600)
	full := filepath.Join(dir, "full")
	os.Mkdir(full, 0o700)
	os.WriteFile(filepath.Join(full, "ImportToken.bin"), []byte("x"), 0o600)
	for _, out := range []string{file, filepath.Join(file, "sub"), full} {
		code, stdout, stderr := runCLI(t, "params", "--out", out, "--key-spec", "ECC_NIST_P256", "--alias", "never")
		if code != 1 || !strings.Contains(stderr, out) || strings.Contains(stdout, "arn:aws:kms") {
			t.Errorf("--out %s: exit %d\n%s%s", out, code, stdout, stderr)
		}
	}
	if n := f.count("CreateKey"); n != 0 {
		t.Errorf("%d CreateKey calls for unwritable --out directories; want 0", n)
	}
	// A missing directory is created (mode 0700) and written.
	out := filepath.Join(dir, "new", "params")
	if code, _, stderr := runCLI(t, "params", "--out", out, "--key-spec", "ECC_NIST_P256"); code != 0 {
		t.Fatalf("new --out: exit %d %s", code, stderr)
	}
	if st, err := os.Stat(out); err != nil || st.Mode().Perm() != 0o700 {
		t.Errorf("--out %s: %v %v", out, st, err)
	}
	if ents, _ := os.ReadDir(out); len(ents) != 3 {
		t.Errorf("--out holds %d files; want the 3 parameter files (no probe file left)", len(ents))
	}
}

// TestFailureAfterCreateKeyNamesKey: a failure after CreateKey names the
// key's ARN and the exact command that schedules its deletion, in the text
// and in the JSON, for import and params.
func TestFailureAfterCreateKeyNamesKey(t *testing.T) {
	f := newFaultyKMS(t)
	for _, tc := range []struct {
		op   string
		args []string
	}{
		{"ImportKeyMaterial", []string{"import", keyFile("p256.pkcs8.pem")}},
		{"GetParametersForImport", []string{"import", keyFile("p256.pkcs8.pem"), "--alias", "half-done"}},
		{"GetParametersForImport", []string{"params", "--out", t.TempDir(), "--key-spec", "ECC_NIST_P256"}},
	} {
		before := f.count("CreateKey")
		f.failNext(tc.op, -1)
		code, stdout, stderr := runCLI(t, append(tc.args, "--json")...)
		f.failNext(tc.op, 0)
		if code != 1 || f.count("CreateKey") != before+1 {
			t.Fatalf("%v with %s failing: exit %d, %d CreateKey\n%s%s", tc.args, tc.op, code, f.count("CreateKey")-before, stdout, stderr)
		}
		var doc struct {
			Error errorOut `json:"error"`
		}
		err := json.Unmarshal([]byte(stdout), &doc)
		out := doc.Error
		if err != nil || out.LeftKey == nil || out.KeyARN != out.LeftKey.KeyARN {
			t.Fatalf("%v: JSON %v: %s", tc.args, err, stdout)
		}
		arn := out.LeftKey.KeyARN
		want := "aws kms schedule-key-deletion --key-id " + arn + " --pending-window-in-days 7 --region us-east-1"
		if !strings.HasPrefix(arn, "arn:aws:kms:us-east-1:") || out.LeftKey.DeleteCommand != want || !out.LeftKey.CreatedNow ||
			!strings.Contains(out.Message, want) || !strings.Contains(stderr, want) || !strings.Contains(stderr, "--cleanup-on-failure") {
			t.Errorf("%v with %s failing: the key and its removal are not named:\n%s%s", tc.args, tc.op, stdout, stderr)
		}
		if md := f.describe(t, arn); md.KeyState != types.KeyStatePendingImport {
			t.Errorf("%s: state %s; without --cleanup-on-failure the key stays", arn, md.KeyState)
		}
	}
}

// TestCleanupOnFailure: --cleanup-on-failure schedules the deletion of the
// key the run created, with the minimum waiting period, and reports the date.
func TestCleanupOnFailure(t *testing.T) {
	f := newFaultyKMS(t)
	for _, args := range [][]string{
		{"import", keyFile("p256.pkcs8.pem"), "--alias", "cleaned"},
		{"params", "--out", t.TempDir(), "--key-spec", "ECC_NIST_P256", "--alias", "cleaned-params"},
	} {
		for _, asJSON := range []bool{false, true} {
			op := "ImportKeyMaterial"
			if args[0] == "params" {
				op = "GetParametersForImport"
				args[2] = t.TempDir()
			}
			f.failNext(op, -1)
			a := append(append([]string{}, args...), "--cleanup-on-failure")
			if asJSON {
				a = append(a, "--json")
			}
			start := time.Now()
			code, stdout, stderr := runCLI(t, a...)
			f.failNext(op, 0)
			if code != 1 {
				t.Fatalf("%v: exit %d\n%s%s", a, code, stdout, stderr)
			}
			msg := stderr
			if asJSON {
				var doc struct {
					Error errorOut `json:"error"`
				}
				err := json.Unmarshal([]byte(stdout), &doc)
				out := doc.Error
				if err != nil || out.LeftKey == nil || out.LeftKey.DeletionDate == nil {
					t.Fatalf("%v: %v %s", a, err, stdout)
				}
				if d := out.LeftKey.DeletionDate.Sub(start); d < 7*24*time.Hour-time.Minute || d > 7*24*time.Hour+time.Hour {
					t.Errorf("deletion date %s is not 7 days ahead", out.LeftKey.DeletionDate)
				}
			}
			i := strings.Index(msg, "cleanup: the KMS key arn:aws:kms:")
			if i < 0 || !strings.Contains(msg, "scheduled its deletion") || !strings.Contains(msg, "(7 days)") || !strings.Contains(msg, "aws kms cancel-key-deletion") {
				t.Fatalf("%v: the cleanup is not reported:\n%s", a, msg)
			}
			arn := arnRE.FindString(msg[i:])
			md := f.describe(t, arn)
			if md.KeyState != types.KeyStatePendingDeletion || md.DeletionDate == nil || !strings.Contains(msg, fmtTime(*md.DeletionDate)) {
				t.Errorf("%s: state %s, deletion %v; want PendingDeletion on the reported date:\n%s", arn, md.KeyState, md.DeletionDate, msg)
			}
			// The alias was removed, so that a new run can take it at once.
			if _, err := f.srv.Client().DescribeKey(context.Background(), &kms.DescribeKeyInput{KeyId: aws.String("alias/" + a[len(args)-1])}); err == nil {
				t.Errorf("the alias of the cleaned-up key still exists")
			}
			// A rerun with the same alias succeeds.
			code, stdout, stderr = runCLI(t, args...)
			if code != 0 {
				t.Errorf("rerun %v after cleanup: exit %d\n%s%s", args, code, stdout, stderr)
			}
			f.srv.Client().DeleteAlias(context.Background(), &kms.DeleteAliasInput{AliasName: aws.String("alias/" + args[len(args)-1])})
		}
	}
}

// TestAliasRerun: re-running an interrupted import --alias finishes the key
// the alias names instead of creating a second one that fails on
// CreateAlias; an alias naming another key is refused before CreateKey,
// naming the alias, the key and the fix.
func TestAliasRerun(t *testing.T) {
	f := newFaultyKMS(t)
	key := keyFile("p256.pkcs8.pem")
	for _, cmd := range [][]string{{"import", key}, {"params", "--out", "", key}} {
		alias := "rerun-" + cmd[0]
		args := func() []string {
			a := append([]string{}, cmd...)
			if a[0] == "params" {
				a[2] = t.TempDir()
			}
			return append(a, "--alias", alias)
		}
		f.failNext("GetParametersForImport", -1)
		if code, stdout, stderr := runCLI(t, args()...); code != 1 {
			t.Fatalf("interrupted %s: exit %d\n%s%s", cmd[0], code, stdout, stderr)
		}
		f.failNext("GetParametersForImport", 0)
		first := f.describe(t, "alias/"+alias)
		creates := f.count("CreateKey")
		code, stdout, stderr := runCLI(t, args()...)
		if code != 0 || f.count("CreateKey") != creates || !strings.Contains(stderr, "already names "+*first.Arn) || !strings.Contains(stderr, "no new key is created") {
			t.Fatalf("rerun %s: exit %d, %d new keys\n%s%s", cmd[0], code, f.count("CreateKey")-creates, stdout, stderr)
		}
		if !strings.Contains(stdout, *first.Arn) {
			t.Errorf("rerun %s does not report the key %s:\n%s", cmd[0], *first.Arn, stdout)
		}
		if cmd[0] == "import" && !strings.Contains(stdout, "created by an earlier, interrupted run; alias "+alias) {
			t.Errorf("rerun import does not say where the key came from:\n%s", stdout)
		}
	}
	// alias/rerun-import now names an Enabled key: another import with that
	// alias is refused before anything is created.
	creates := f.count("CreateKey")
	target := f.describe(t, "alias/rerun-import")
	code, stdout, stderr := runCLI(t, "import", keyFile("p384.pkcs8.pem"), "--alias", "rerun-import")
	if code != 1 || f.count("CreateKey") != creates {
		t.Fatalf("alias in use: exit %d, %d CreateKey\n%s%s", code, f.count("CreateKey")-creates, stdout, stderr)
	}
	for _, want := range []string{"alias/rerun-import", *target.Arn, "nothing was created", "aws kms update-alias"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("alias in use: the error lacks %q:\n%s", want, stderr)
		}
	}
}

// TestFailedImportIsNotSkippedVerification: an import that fails after the
// key was created prints the proof as not run, never as skipped by
// --no-verify, a flag that was not given.
func TestFailedImportIsNotSkippedVerification(t *testing.T) {
	f := newFaultyKMS(t)
	f.failNext("ImportKeyMaterial", -1)
	code, stdout, stderr := runCLI(t, "import", keyFile("p256.pkcs8.pem"))
	if code != 1 {
		t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
	}
	if strings.Contains(stdout+stderr, "SKIPPED") || strings.Contains(stdout+stderr, "--no-verify") {
		t.Errorf("a failed import reports a skipped proof:\n%s%s", stdout, stderr)
	}
	if !strings.Contains(stdout, "NOT RUN: the import failed") {
		t.Errorf("the proof is not reported as not run:\n%s", stdout)
	}
}

// hsmKeyStub reports a non-extractable HSM key.
type hsmKeyStub struct{ byok.KeySource }

func (hsmKeyStub) Key() *hsm.Key { return &hsm.Key{Label: "prod-aes", Extractable: false} }

// TestNonExtractableRefusedFirst: a non-extractable HSM key is refused
// before any AWS call, naming the attribute and the fix. (The softhsm case
// through the whole CLI is in TestNonExtractableSoftHSM.)
func TestNonExtractableRefusedFirst(t *testing.T) {
	err := hsmExtractable(hsmKeyStub{})
	if err == nil || !strings.Contains(err.Error(), "CKA_EXTRACTABLE is false") || !strings.Contains(err.Error(), "nothing was created in KMS") {
		t.Fatalf("non-extractable: %v", err)
	}
}

// TestNonExtractableSoftHSM: a non-extractable AES key in a SoftHSM token
// is refused by import and params before any KMS call (before, import
// created the KMS key and failed at the wrap).
func TestNonExtractableSoftHSM(t *testing.T) {
	lib := "/usr/lib/softhsm/libsofthsm2.so"
	if _, err := os.Stat(lib); err != nil {
		if testenv.OnCI() {
			t.Fatalf("SoftHSM is not installed (%s): apt-get install softhsm2", lib)
		}
		t.Skipf("SoftHSM is not installed (%s)", lib)
	}
	testenv.MustHaveExecPath(t, "softhsm2-util")
	testenv.MustHaveExecPath(t, "pkcs11-tool")
	f := newFaultyKMS(t)
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "tokens"), 0o700)
	conf := filepath.Join(dir, "softhsm2.conf")
	os.WriteFile(conf, []byte("directories.tokendir = "+filepath.Join(dir, "tokens")+"\nobjectstore.backend = file\nlog.level = ERROR\n"), 0o600)
	keyPath := filepath.Join(dir, "aes.bin")
	key := make([]byte, 32)
	rand.Read(key)
	os.WriteFile(keyPath, key, 0o600)
	const pin = "ne-1234"
	for _, args := range [][]string{
		{"softhsm2-util", "--init-token", "--free", "--label", "ne", "--so-pin", "so-" + pin, "--pin", pin},
		{"pkcs11-tool", "--module", lib, "--token-label", "ne", "--login", "--pin", pin,
			"--write-object", keyPath, "--type", "secrkey", "--key-type", "AES:32", "--label", "locked", "--sensitive"},
	} {
		cmd := exec.Command(args[0], args[1:]...)
		cmd.Env = append(os.Environ(), "SOFTHSM2_CONF="+conf)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%v: %v\n%s", args, err, out)
		}
	}
	t.Setenv("SOFTHSM2_CONF", conf)
	t.Setenv("BYOK_NE_PIN", pin)
	uri := "pkcs11:token=ne;object=locked;type=secret-key"
	src := []string{uri, "--driver", "softhsm", "--pin-env", "BYOK_NE_PIN", "--key-spec", "SYMMETRIC_DEFAULT"}
	code, stdout, _ := runCLI(t, append([]string{"inspect", "--json"}, src...)...)
	if code != 0 || !strings.Contains(stdout, `"extractable": false`) {
		t.Fatalf("the fixture key is not non-extractable: exit %d\n%s", code, stdout)
	}
	for _, args := range [][]string{
		append([]string{"import", "--alias", "locked"}, src...),
		append([]string{"params", "--out", filepath.Join(dir, "p")}, src...),
	} {
		code, stdout, stderr := runCLI(t, args...)
		if code != 1 || !strings.Contains(stderr, "CKA_EXTRACTABLE is false") || !strings.Contains(stderr, "nothing was created in KMS") {
			t.Errorf("byok %s of a non-extractable key: exit %d\n%s%s", args[0], code, stdout, stderr)
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.calls) != 0 {
		t.Errorf("KMS calls for a non-extractable key: %v; want none", f.calls)
	}
}
