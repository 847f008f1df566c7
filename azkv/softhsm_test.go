package azkv_test

import (
	"bytes"
	"context"
	"os"
	"testing"

	"github.com/byok-go/byok"
	"github.com/byok-go/byok/azkv"
	"github.com/byok-go/byok/driver"
	_ "github.com/byok-go/byok/driver/softhsm"
	"github.com/byok-go/byok/hsm"
	"github.com/byok-go/byok/hsm/hsmtest"
	"github.com/byok-go/byok/internal/testenv"
	"github.com/miekg/pkcs11"
)

// A key in SoftHSM is wrapped inside the module into a .byok file (SoftHSM
// has CKM_RSA_PKCS_OAEP with SHA-1 only and no CKM_RSA_AES_KEY_WRAP, so
// byok takes the two-step path: OAEP of a fresh AES key, then
// CKM_AES_KEY_WRAP_PAD), which OpenSSL undoes into the key's PKCS#8; the
// same source then imports into the fake through the real client, PASSED.
func TestSoftHSMTransferFile(t *testing.T) {
	if _, err := os.Stat(hsmtest.SoftHSMPath); err != nil {
		if hsmtest.OnCI() {
			t.Fatalf("%s is required on CI: %v", hsmtest.SoftHSMPath, err)
		}
		t.Skipf("%s is missing; %s", hsmtest.SoftHSMPath, hsmtest.SoftHSMHint)
	}
	openssl := testenv.MustHaveExecPath(t, "openssl")
	ctx := context.Background()
	s, err := hsmtest.NewSoftHSM(hsmtest.SoftHSMPath, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	pin := hsmtest.PIN("azkv-user-pin")
	if _, err := s.InitToken("azkv", hsmtest.PIN("azkv-so-pin"), pin); err != nil {
		t.Fatal(err)
	}
	// SoftHSM's AES key wrap zero-fills to 8 bytes, so the test key's
	// PKCS#8 is a multiple of 8 long (see the softhsm driver's tests).
	rsaKey, err := hsmtest.RSAKey("rsa2048-len8")
	if err != nil {
		t.Fatal(err)
	}
	func() {
		mod, err := hsm.OpenModule(hsmtest.SoftHSMPath)
		if err != nil {
			t.Fatal(err)
		}
		defer mod.Close()
		tok, err := mod.OpenToken(ctx, hsm.TokenSelector{Label: "azkv"}, hsm.TokenOptions{PIN: pin})
		if err != nil {
			t.Fatal(err)
		}
		defer tok.Close()
		if err := tok.WithSession(ctx, func(sh pkcs11.SessionHandle) error {
			_, err := hsmtest.ImportPrivate(mod.API(), sh, rsaKey, hsmtest.KeyOptions{Label: "azkv-rsa", ID: []byte{7}, Token: true})
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}()
	m, err := byok.NewKeyMaterial(rsaKey)
	if err != nil {
		t.Fatal(err)
	}
	want := m.Bytes()
	src, err := driver.Open(ctx, "softhsm", driver.Config{Token: "azkv", Key: "label=azkv-rsa", PIN: pin,
		Options: map[string]string{"material-length": "1216"}})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()

	priv, kekPEM := kekPair(t, 3072)
	b, err := azkv.NewTransferFile(ctx, src, azkv.KEK{ID: testKID, PublicKey: &priv.PublicKey}, azkv.FileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	f, err := azkv.ParseTransferFile(b)
	if err != nil || f.Enc != azkv.EncCKMRSAAESKeyWrap {
		t.Fatalf("%v %+v", err, f)
	}
	if got := opensslUnwrap(t, openssl, kekPEM, 384, "sha1", f.Ciphertext); !bytes.Equal(got, want) {
		t.Fatalf("OpenSSL unwrapped %d bytes, not the key's %d-byte PKCS#8", len(got), len(want))
	}

	srv, client := newFake(t, false)
	tg, _ := target(t, srv, client, azkv.Options{KeyName: "from-softhsm"})
	res, err := new(byok.Importer).Import(ctx, src, tg)
	if err != nil {
		t.Fatal(err)
	}
	v := res.Verification
	if v.Verdict != byok.VerdictPassed || !checkNamed(v, "Key Vault verifies a RS256 signature made by the source", true) {
		t.Fatalf("%s %+v %v", v.Verdict, v.Checks, v.Skipped)
	}
	// An HSM's public key is read from the token: equal, but not identity.
	for _, c := range v.Checks {
		if c.Name == azkv.CheckPublicKey && (c.Identity || !c.OK) {
			t.Fatalf("public key check: %+v", c)
		}
	}
}
