package testenv

import (
	"os/exec"
	"strings"
	"testing"
)

// Deps returns the import paths of the packages pkg (a `go list` pattern
// such as ".") depends on, itself included, as `go list -deps` lists them
// for the test's working directory. The go command is required (see
// MustHaveExecPath); in -short mode the test is skipped.
func Deps(t testing.TB, pkg string) map[string]bool {
	t.Helper()
	if testing.Short() {
		t.Skip("testenv: runs the go command")
	}
	goCmd := MustHaveExecPath(t, "go")
	out, err := exec.Command(goCmd, "list", "-deps", pkg).CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps %s: %v\n%s", pkg, err, out)
	}
	deps := map[string]bool{}
	for _, p := range strings.Fields(string(out)) {
		deps[p] = true
	}
	return deps
}
