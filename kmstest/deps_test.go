package kmstest_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestIndependentOfByok: the emulator checks byok, so it must not be built
// from byok. `go list -deps` must name no package of this module outside
// kmstest/... (internal/kwp, the root package and every other one count as
// byok's).
func TestIndependentOfByok(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the go command")
	}
	goCmd, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command on PATH")
	}
	out, err := exec.Command(goCmd, "list", "-deps", "-f", "{{.ImportPath}} {{.Module}}", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	const module = "github.com/byok-go/byok"
	var self, bad []string
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		path, mod, _ := strings.Cut(line, " ")
		if path != module && !strings.HasPrefix(path, module+"/") {
			continue
		}
		if path == module+"/kmstest" || strings.HasPrefix(path, module+"/kmstest/") {
			self = append(self, path)
			continue
		}
		bad = append(bad, path+" ("+mod+")")
	}
	if len(self) == 0 {
		t.Fatalf("go list -deps did not list kmstest itself; the check would pass vacuously:\n%s", out)
	}
	if len(bad) > 0 {
		t.Errorf("kmstest depends on byok's own packages %v: the emulator must check byok with independent code", bad)
	}
}
