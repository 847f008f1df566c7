package hsm_test

import (
	"fmt"
	"os"
	"testing"

	"github.com/byok-go/byok/hsm"
	"github.com/byok-go/byok/hsm/hsmtest"
)

// The throwaway SoftHSM of this test binary: SOFTHSM2_CONF points at a
// temporary directory with one token, made in TestMain before the library
// is loaded.
var (
	softhsm    *hsmtest.SoftHSM
	softhsmErr error
	softToken  hsm.TokenInfo
)

const softLabel = "byok-hsm-test"

var (
	softSOPIN   = hsmtest.PIN("so-secret-1")
	softUserPIN = hsmtest.PIN("user-secret-1")
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "byok-softhsm-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if _, err := os.Stat(hsmtest.SoftHSMPath); err != nil {
		softhsmErr = err
	} else if softhsm, softhsmErr = hsmtest.NewSoftHSM(hsmtest.SoftHSMPath, dir); softhsmErr == nil {
		softToken, softhsmErr = softhsm.InitToken(softLabel, softSOPIN, softUserPIN)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// needSoftHSM stops the test when the throwaway SoftHSM is not available:
// a failure on CI, a skip elsewhere.
func needSoftHSM(t testing.TB) {
	t.Helper()
	hsmtest.MustHaveModule(t, hsmtest.SoftHSMPath, hsmtest.SoftHSMHint)
	if softhsmErr != nil {
		t.Fatalf("setting up the throwaway SoftHSM token: %v", softhsmErr)
	}
}
