package azkvtest

import (
	"slices"
	"strings"
	"testing"

	"github.com/byok-go/byok/internal/testenv"
)

// TestIndependentOfByok: the fake judges byok's Azure target, so it must not
// be built from byok. `go list -deps` must name no package of this module
// outside azkv/azkvtest (the root package, internal/*, kmstest and azkv
// itself all count as byok's). The test's own use of internal/testenv is not
// in the package's dependencies.
func TestIndependentOfByok(t *testing.T) {
	const module = "github.com/byok-go/byok"
	var self, bad []string
	for path := range testenv.Deps(t, ".") {
		if path != module && !strings.HasPrefix(path, module+"/") {
			continue
		}
		if path == module+"/azkv/azkvtest" {
			self = append(self, path)
			continue
		}
		bad = append(bad, path)
	}
	if len(self) == 0 {
		t.Fatal("go list -deps did not list azkvtest itself; the check would pass vacuously")
	}
	if len(bad) > 0 {
		slices.Sort(bad)
		t.Errorf("azkvtest depends on byok's own packages %v: the fake must judge byok with independent code", bad)
	}
}
