package gcpkmstest_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/byok-go/byok/internal/testenv"
)

// TestIndependentOfByok: the fake checks byok, so it must not be built from
// byok. `go list -deps` must name no package of this module outside
// gcpkms/gcpkmstest (the root package, internal/kwp, kmstest and every other
// one count as byok's).
func TestIndependentOfByok(t *testing.T) {
	const module = "github.com/byok-go/byok"
	const self = module + "/gcpkms/gcpkmstest"
	var found bool
	var bad []string
	for path := range testenv.Deps(t, ".") {
		if path != module && !strings.HasPrefix(path, module+"/") {
			continue
		}
		if path == self {
			found = true
			continue
		}
		bad = append(bad, path)
	}
	if !found {
		t.Fatal("go list -deps did not list gcpkmstest itself; the check would pass vacuously")
	}
	if len(bad) > 0 {
		slices.Sort(bad)
		t.Errorf("gcpkmstest depends on byok's own packages %v: the fake must check byok with independent code", bad)
	}
}
