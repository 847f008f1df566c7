package byok_test

import (
	"strings"
	"testing"

	"github.com/byok-go/byok/internal/testenv"
)

// cloudSDKs are the module paths of the other clouds' SDKs and their
// transports.
var cloudSDKs = []string{
	"cloud.google.com/go/",
	"google.golang.org/grpc",
	"google.golang.org/api/",
	"github.com/Azure/azure-sdk-for-go/",
	"github.com/byok-go/byok/gcpkms",
	"github.com/byok-go/byok/azkv",
}

func linkedCloudSDKs(deps map[string]bool) []string {
	var found []string
	for p := range deps {
		for _, sdk := range cloudSDKs {
			if strings.HasPrefix(p, sdk) {
				found = append(found, p)
				break
			}
		}
	}
	return found
}

// TestAWSOnlyBuildLinksNoOtherCloud: a program that imports byok, its AWS
// target, the key sources, hsm, migrate or the AWS emulator links neither
// Google's nor Azure's SDK, nor byok's targets for them; only the cloud's
// own target package (and the CLI, which wires them in) do.
func TestAWSOnlyBuildLinksNoOtherCloud(t *testing.T) {
	for _, pkg := range []string{".", "./driver/...", "./hsm", "./migrate", "./internal/...", "./kmstest"} {
		if found := linkedCloudSDKs(testenv.Deps(t, pkg)); len(found) > 0 {
			t.Errorf("%s links %d packages of another cloud's SDK, e.g. %s; keep them in gcpkms and azkv", pkg, len(found), found[0])
		}
	}
	// Not vacuous: the cloud targets do link their SDKs.
	for pkg, want := range map[string]string{
		"./gcpkms": "cloud.google.com/go/kms/apiv1",
		"./azkv":   "github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azkeys",
	} {
		if !testenv.Deps(t, pkg)[want] {
			t.Errorf("go list -deps %s does not list %s; the check above would pass vacuously", pkg, want)
		}
	}
}
