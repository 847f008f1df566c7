package byok_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestNoCredentialChain: the root package takes an aws.Config (NewKMS) and
// never loads one, so a program that imports byok, such as an air-gapped
// wrapping tool, does not link AWS's credential providers. `go list -deps`
// of the root must name the KMS client and none of the packages the SDK's
// default configuration chain pulls in.
func TestNoCredentialChain(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the go command")
	}
	goCmd, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command on PATH")
	}
	out, err := exec.Command(goCmd, "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	deps := map[string]bool{}
	for _, p := range strings.Fields(string(out)) {
		deps[p] = true
	}
	const sdk = "github.com/aws/aws-sdk-go-v2/"
	if !deps[sdk+"service/kms"] {
		t.Fatalf("go list -deps does not list %sservice/kms; the check would pass vacuously:\n%s", sdk, out)
	}
	for _, p := range []string{
		"config", "credentials", "credentials/ec2rolecreds", "credentials/ssocreds", "credentials/stscreds",
		"feature/ec2/imds", "service/sso", "service/ssooidc", "service/sts",
	} {
		if deps[sdk+p] {
			t.Errorf("the root package links %s%s: load the AWS configuration in the caller and pass it to NewKMS", sdk, p)
		}
	}
}
