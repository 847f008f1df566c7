package kmstest_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/byok-go/byok/internal/testenv"
)

// TestIndependentOfByok: the emulator checks byok, so it must not be built
// from byok. `go list -deps` must name no package of this module outside
// kmstest/... (internal/kwp, the root package and every other one count as
// byok's).
func TestIndependentOfByok(t *testing.T) {
	const module = "github.com/byok-go/byok"
	var self, bad []string
	for path := range testenv.Deps(t, ".") {
		if path != module && !strings.HasPrefix(path, module+"/") {
			continue
		}
		if path == module+"/kmstest" || strings.HasPrefix(path, module+"/kmstest/") {
			self = append(self, path)
			continue
		}
		bad = append(bad, path)
	}
	if len(self) == 0 {
		t.Fatal("go list -deps did not list kmstest itself; the check would pass vacuously")
	}
	if len(bad) > 0 {
		slices.Sort(bad)
		t.Errorf("kmstest depends on byok's own packages %v: the emulator must check byok with independent code", bad)
	}
}
