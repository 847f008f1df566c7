package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/byok-go/byok/internal/params"
)

// TestParamsWriteFailureRecovery: `byok params` that fails writing its
// files (here a file size limit, as a full disk would) after creating the
// KMS key leaves no partial parameters behind, and the command it prints
// to finish the import into that key runs as printed.
func TestParamsWriteFailureRecovery(t *testing.T) {
	url, _ := startEmulator(t)
	env := emulatorEnv(t, url)
	// limited runs byok params under `ulimit -f 1`: files of at most 512
	// bytes (sh counts in 512-byte blocks). The RSA_2048 wrapping key (294
	// bytes) and the emulator's token fit; byok-params.json (over 600
	// bytes) does not. It returns the printed command and the key's ARN.
	limited := func(t *testing.T, dir string, extra ...string) (string, string) {
		t.Helper()
		cmd := exec.Command("sh", append([]string{"-c", `ulimit -f 1 && exec "$@"`, "sh", byokBinary(t),
			"params", "--out", dir, "--key-spec", "ECC_NIST_P256", "--wrapping-key-spec", "RSA_2048"}, extra...)...)
		cmd.Env = env
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		err := cmd.Run()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 1 {
			t.Fatalf("byok params under a 512-byte file size limit: %v, want exit 1 (did the limit bite?)\n%s", err, stderr.String())
		}
		msg := stderr.String()
		if !strings.Contains(msg, "file too large") || !strings.Contains(msg, "aws kms schedule-key-deletion --key-id arn:aws:kms:") {
			t.Errorf("the failure does not say why or name the key and its deletion:\n%s", msg)
		}
		m := regexp.MustCompile("`(byok params [^`]*--key-id (arn:aws:kms:[^` ]+))`").FindStringSubmatch(msg)
		if m == nil {
			t.Fatalf("no `byok params … --key-id ARN` command in:\n%s", msg)
		}
		return m[1], m[2]
	}
	// asPrinted runs the printed command (no quoting in it: the paths have
	// none) and checks that dir then holds the parameters of arn.
	asPrinted := func(t *testing.T, command, dir, arn string) {
		t.Helper()
		r := runByok(t, env, strings.Fields(command)[1:]...)
		if r.code != 0 {
			t.Fatalf("the printed command %q: %s", command, r)
		}
		set, err := params.ReadDir(dir)
		if err != nil || set.Meta.KeyARN != arn {
			t.Fatalf("after the printed command: %v, want the parameters of %s", err, arn)
		}
	}

	t.Run("new directory", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "params")
		command, arn := limited(t, dir)
		// Nothing half-written is left: the directory byok created is
		// gone, or empty.
		if ents, err := os.ReadDir(dir); err == nil && len(ents) > 0 {
			var names []string
			for _, e := range ents {
				names = append(names, e.Name())
			}
			t.Errorf("a failed byok params left %q in --out", names)
		} else if err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Fatal(err)
		}
		asPrinted(t, command, dir, arn)
	})

	t.Run("--force over parameters", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "params")
		mustByok(t, 0, env, "params", "--out", dir, "--key-spec", "ECC_NIST_P256")
		old, err := params.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		command, arn := limited(t, dir, "--force")
		// The old parameters are as they were.
		if set, err := params.ReadDir(dir); err != nil || set.Meta.KeyARN != old.Meta.KeyARN {
			t.Errorf("after the failed --force run, --out does not hold the old parameters whole: %v", err)
		}
		if !strings.Contains(command, " --force") {
			t.Errorf("the printed command %q lacks --force, which replacing the parameters in --out needs", command)
		}
		asPrinted(t, command, dir, arn)
	})
}
