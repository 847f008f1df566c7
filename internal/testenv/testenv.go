// Package testenv holds helpers for tests that depend on the environment
// they run in, such as external programs used as independent reference
// implementations.
package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"testing"
)

// installHints says how to install the external programs byok's tests use.
var installHints = map[string]string{
	"openssl": "install OpenSSL 3, e.g. `apt-get install openssl` (Debian/Ubuntu), `dnf install openssl` (Fedora), `brew install openssl@3` (macOS)",
}

// InstallHint returns a sentence saying how to install the program name.
func InstallHint(name string) string {
	if h, ok := installHints[name]; ok {
		return h
	}
	return fmt.Sprintf("install %s and make sure it is on $PATH", name)
}

// OnCI reports whether the tests run on a continuous integration system, as
// the CI environment variable set to "true" says (GitHub Actions, GitLab CI
// and most others set it).
func OnCI() bool { return os.Getenv("CI") == "true" }

// MustHaveExecPath returns the path of the executable name, looked up in
// $PATH like exec.LookPath does.
//
// If name cannot be found, the test stops: on CI (see OnCI) with t.Fatalf,
// because a CI image without the tool is broken and silently skipping would
// hide it; elsewhere with t.Skipf, saying why and how to install the tool.
func MustHaveExecPath(t testing.TB, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err == nil {
		return path
	}
	if OnCI() {
		t.Fatalf("testenv: %s is required on CI but not available: %v; %s", name, err, InstallHint(name))
	} else {
		t.Skipf("testenv: skipping, %s is not available: %v; to run this test, %s", name, err, InstallHint(name))
	}
	return ""
}
