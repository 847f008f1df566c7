package hsmtest

import (
	"os"
	"testing"
)

// OnCI reports whether the tests run on a continuous integration system
// (CI=true), where a missing HSM library is a broken image, not a reason to
// skip.
func OnCI() bool { return os.Getenv("CI") == "true" }

// MustHaveModule returns path if the PKCS#11 library exists. Otherwise the
// test stops: with t.Fatalf on CI, with t.Skipf elsewhere, saying what to
// install (hint).
func MustHaveModule(t testing.TB, path, hint string) string {
	t.Helper()
	if _, err := os.Stat(path); err == nil {
		return path
	}
	if OnCI() {
		t.Fatalf("hsmtest: the PKCS#11 library %s is required on CI but missing; %s", path, hint)
	}
	t.Skipf("hsmtest: skipping, the PKCS#11 library %s is missing; to run this test, %s", path, hint)
	return ""
}
