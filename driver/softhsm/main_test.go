package softhsm_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"testing"

	"github.com/byok-go/byok/hsm"
	"github.com/byok-go/byok/hsm/hsmtest"
	"github.com/miekg/pkcs11"
)

// The example token: a throwaway SoftHSM (SOFTHSM2_CONF points at a
// temporary directory) with a token "byok-example" holding an extractable
// AES-256 key "example-aes" and the RSA-2048 key "example-rsa", and the
// user PIN in BYOK_EXAMPLE_PIN, as a user would have them.
const exampleToken = "byok-example"

var examplePIN = hsmtest.PIN("example-pin-1")

func TestMain(m *testing.M) {
	if _, err := os.Stat(hsmtest.SoftHSMPath); err != nil {
		if hsmtest.OnCI() {
			fmt.Fprintf(os.Stderr, "softhsm tests: %s is required on CI: %v; %s\n", hsmtest.SoftHSMPath, err, hsmtest.SoftHSMHint)
			os.Exit(1)
		}
		fmt.Printf("softhsm tests: skipping the package, %s is missing; to run them, %s\n", hsmtest.SoftHSMPath, hsmtest.SoftHSMHint)
		os.Exit(0)
	}
	dir, err := os.MkdirTemp("", "byok-softhsm-driver-")
	if err == nil {
		err = setup(dir)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "softhsm tests: setting up the throwaway token:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func setup(dir string) error {
	s, err := hsmtest.NewSoftHSM(hsmtest.SoftHSMPath, dir)
	if err != nil {
		return err
	}
	if _, err := s.InitToken(exampleToken, hsmtest.PIN("example-so-pin"), examplePIN); err != nil {
		return err
	}
	os.Setenv("BYOK_EXAMPLE_PIN", string(examplePIN))
	ctx := context.Background()
	mod, err := hsm.OpenModule(hsmtest.SoftHSMPath)
	if err != nil {
		return err
	}
	defer mod.Close()
	tok, err := mod.OpenToken(ctx, hsm.TokenSelector{Label: exampleToken}, hsm.TokenOptions{PIN: examplePIN})
	if err != nil {
		return err
	}
	defer tok.Close()
	rsaKey, err := hsmtest.RSAKey("rsa2048-len8")
	if err != nil {
		return err
	}
	return tok.WithSession(ctx, func(sh pkcs11.SessionHandle) error {
		v := make([]byte, 32)
		rand.Read(v)
		if _, err := hsmtest.ImportSecret(mod.API(), sh, pkcs11.CKK_AES, v, hsmtest.KeyOptions{Label: "example-aes", Token: true}); err != nil {
			return err
		}
		_, err := hsmtest.ImportPrivate(mod.API(), sh, rsaKey, hsmtest.KeyOptions{Label: "example-rsa", ID: []byte{1}, Token: true})
		return err
	})
}
