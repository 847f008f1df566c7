package testenv

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// recorder is a testing.TB that records Fatalf and Skipf instead of stopping
// the test, so that MustHaveExecPath's choice between them can be checked.
type recorder struct {
	testing.TB  // nil: only the methods below may be called
	fatal, skip string
}

func (r *recorder) Helper()                           {}
func (r *recorder) Fatalf(format string, args ...any) { r.fatal = fmt.Sprintf(format, args...) }
func (r *recorder) Skipf(format string, args ...any)  { r.skip = fmt.Sprintf(format, args...) }

func TestMustHaveExecPath(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("the fake executable below is a Unix shell script")
	}
	dir := t.TempDir()
	tool := filepath.Join(dir, "byok-fake-tool")
	if err := os.WriteFile(tool, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir)

	t.Run("found", func(t *testing.T) {
		var r recorder
		if got := MustHaveExecPath(&r, "byok-fake-tool"); got != tool {
			t.Errorf("MustHaveExecPath = %q, want %q", got, tool)
		}
		if r.fatal != "" || r.skip != "" {
			t.Errorf("found tool, but Fatalf(%q) / Skipf(%q) was called", r.fatal, r.skip)
		}
	})
	t.Run("missing/local", func(t *testing.T) {
		t.Setenv("CI", "")
		var r recorder
		if got := MustHaveExecPath(&r, "openssl"); got != "" {
			t.Errorf("MustHaveExecPath = %q, want \"\"", got)
		}
		if r.fatal != "" || r.skip == "" {
			t.Fatalf("outside CI: want Skipf only; got Fatalf(%q), Skipf(%q)", r.fatal, r.skip)
		}
		if !strings.Contains(r.skip, "openssl") || !strings.Contains(r.skip, "apt-get install openssl") {
			t.Errorf("skip message %q does not name the tool and how to install it", r.skip)
		}
	})
	t.Run("missing/CI", func(t *testing.T) {
		t.Setenv("CI", "true")
		var r recorder
		MustHaveExecPath(&r, "byok-no-such-tool")
		if r.fatal == "" || r.skip != "" {
			t.Fatalf("on CI: want Fatalf only; got Fatalf(%q), Skipf(%q)", r.fatal, r.skip)
		}
		if !strings.Contains(r.fatal, "byok-no-such-tool") || !strings.Contains(r.fatal, "install byok-no-such-tool") {
			t.Errorf("fatal message %q does not name the tool and how to install it", r.fatal)
		}
	})
}
