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
	dir := filepath.Join(t.TempDir(), "params")
	// `ulimit -f 1`: files of at most 512 bytes (sh counts in 512-byte
	// blocks). The RSA_2048 wrapping key (294 bytes) and the emulator's
	// token fit; byok-params.json (over 600 bytes) does not.
	cmd := exec.Command("sh", "-c", `ulimit -f 1 && exec "$@"`, "sh", byokBinary(t),
		"params", "--out", dir, "--key-spec", "ECC_NIST_P256", "--wrapping-key-spec", "RSA_2048")
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
	// Nothing half-written is left: the directory byok created is gone,
	// or empty.
	if ents, err := os.ReadDir(dir); err == nil && len(ents) > 0 {
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		t.Errorf("a failed byok params left %q in --out", names)
	} else if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	// The printed command, run as printed, finishes the job.
	m := regexp.MustCompile("`(byok params [^`]*--key-id (arn:aws:kms:[^` ]+))`").FindStringSubmatch(msg)
	if m == nil {
		t.Fatalf("no `byok params … --key-id ARN` command in:\n%s", msg)
	}
	args := strings.Fields(m[1])[1:]
	r := runByok(t, env, args...)
	if r.code != 0 {
		t.Fatalf("the printed command %q: %s", m[1], r)
	}
	set, err := params.ReadDir(dir)
	if err != nil || set.Meta.KeyARN != m[2] {
		t.Fatalf("after the printed command: %v, key %q, want %q", err, set.Meta.KeyARN, m[2])
	}
}
