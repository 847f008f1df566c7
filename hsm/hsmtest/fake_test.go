package hsmtest_test

import (
	"context"
	"testing"

	"github.com/byok-go/byok/hsm"
	"github.com/byok-go/byok/hsm/hsmtest"
	"github.com/miekg/pkcs11"
)

func TestMechanismParams(t *testing.T) {
	oaep, _ := hsmtest.MechanismParams(pkcs11.NewMechanism(pkcs11.CKM_RSA_PKCS_OAEP,
		pkcs11.NewOAEPParams(pkcs11.CKM_SHA256, pkcs11.CKG_MGF1_SHA256, pkcs11.CKZ_DATA_SPECIFIED, []byte("label"))))
	if oaep == nil || oaep.HashAlg != pkcs11.CKM_SHA256 || oaep.MGF != pkcs11.CKG_MGF1_SHA256 || string(oaep.SourceData) != "label" {
		t.Errorf("OAEP parameters %+v", oaep)
	}
	_, rsaaes := hsmtest.MechanismParams(pkcs11.NewMechanism(pkcs11.CKM_RSA_AES_KEY_WRAP,
		&pkcs11.RSAAESKeyWrapParams{AESKeyBits: 256, OAEPParams: *pkcs11.NewOAEPParams(pkcs11.CKM_SHA_1, pkcs11.CKG_MGF1_SHA1, pkcs11.CKZ_DATA_SPECIFIED, nil)}))
	if rsaaes == nil || rsaaes.AESKeyBits != 256 || rsaaes.OAEPParams.HashAlg != pkcs11.CKM_SHA_1 {
		t.Errorf("RSA-AES parameters %+v", rsaaes)
	}
	if o, r := hsmtest.MechanismParams(pkcs11.NewMechanism(pkcs11.CKM_AES_KEY_WRAP_PAD, nil)); o != nil || r != nil {
		t.Errorf("parameters of a mechanism without: %v %v", o, r)
	}
}

// TestFakeSessionObjects: the fake destroys a session's objects when it
// closes, as PKCS#11 says, and hides private objects before login.
func TestFakeSessionObjects(t *testing.T) {
	f := &hsmtest.Fake{PIN: []byte("1234")}
	m, err := hsm.NewModule("fake", f)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	sh, _ := f.OpenSession(hsmtest.FakeSlot, 0)
	if _, err := hsmtest.ImportSecret(f, sh, pkcs11.CKK_AES, make([]byte, 32), hsmtest.KeyOptions{Label: "k"}); err != nil {
		t.Fatal(err)
	}
	if n := f.SessionObjects(); n != 1 {
		t.Fatalf("%d session objects", n)
	}
	f.FindObjectsInit(sh, []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_LABEL, "k")})
	found, _, _ := f.FindObjects(sh, 2)
	f.FindObjectsFinal(sh)
	if len(found) != 0 {
		t.Error("a private object is visible before login")
	}
	f.CloseSession(sh)
	if n := f.SessionObjects(); n != 0 {
		t.Fatalf("%d session objects after the session closed", n)
	}
	tok, err := m.OpenToken(context.Background(), hsm.TokenSelector{}, hsm.TokenOptions{PIN: hsmtest.PIN("1234")})
	if err != nil {
		t.Fatal(err)
	}
	tok.Close()
	for _, c := range f.Calls() {
		if c.Func == "C_Login" && c.Template != nil {
			t.Error("C_Login recorded a template")
		}
	}
}
