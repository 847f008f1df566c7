package azkv_test

import (
	"strings"
	"testing"

	"github.com/byok-go/byok/internal/testenv"
)

// The Azure SDK stays out of byok's root package and its AWS target, the
// drivers and hsm: a program that imports only those links none of it.
// azkv itself does link it (the check is not vacuous).
func TestAzureOnlyInAzkv(t *testing.T) {
	const azure = "github.com/Azure/"
	for _, pkg := range []string{"github.com/byok-go/byok", "github.com/byok-go/byok/driver/...", "github.com/byok-go/byok/hsm", "github.com/byok-go/byok/migrate"} {
		for p := range testenv.Deps(t, pkg) {
			if strings.HasPrefix(p, azure) || strings.HasSuffix(p, "/azkv") {
				t.Errorf("%s depends on %s", pkg, p)
			}
		}
	}
	if !testenv.Deps(t, ".")["github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azkeys"] {
		t.Fatal("azkv does not list azkeys among its dependencies: the check would pass vacuously")
	}
}
