package gcpkms

import (
	"strings"
	"testing"

	"github.com/byok-go/byok/internal/testenv"
)

// TestRootLinksNoGoogleSDK: the Cloud KMS client stays out of the root
// package; only programs that import gcpkms link it.
func TestRootLinksNoGoogleSDK(t *testing.T) {
	for p := range testenv.Deps(t, "github.com/byok-go/byok") {
		if strings.HasPrefix(p, "cloud.google.com/") || strings.HasPrefix(p, "google.golang.org/grpc") || strings.Contains(p, "/gcpkms") {
			t.Errorf("the root package depends on %s", p)
		}
	}
}
