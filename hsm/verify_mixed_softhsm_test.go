package hsm_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/asn1"
	"testing"

	"github.com/byok-go/byok"
	"github.com/byok-go/byok/driver/software"
	"github.com/byok-go/byok/hsm"
	"github.com/byok-go/byok/hsm/hsmtest"
	"github.com/miekg/pkcs11"
)

// TestSoftHSMVerifyMixedECKey: the token holds key B's private key next to
// a public-key object of key A (same label and ID); the KMS key holds A,
// usage KEY_AGREEMENT. GetPublicKey equals the token's public key, but that
// object is not derived from the private key, so it proves nothing: the
// verdict must not be PASSED (the re-import, which has the token wrap B,
// would refute it; SoftHSM cannot wrap EC keys for KMS, so it is
// UNPROVEN).
func TestSoftHSMVerifyMixedECKey(t *testing.T) {
	needSoftHSM(t)
	a, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	b, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	label, id := "mixka", []byte("mixka-id")
	softSession(t, func(api hsm.PKCS11, sh pkcs11.SessionHandle) {
		if _, err := hsmtest.ImportPrivate(api, sh, b, hsmtest.KeyOptions{Label: label, ID: id, Token: true}); err != nil {
			t.Fatal(err)
		}
		// Replace B's public-key object with A's.
		if err := api.FindObjectsInit(sh, []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_PUBLIC_KEY),
			pkcs11.NewAttribute(pkcs11.CKA_LABEL, label)}); err != nil {
			t.Fatal(err)
		}
		hs, _, err := api.FindObjects(sh, 10)
		api.FindObjectsFinal(sh)
		if err != nil || len(hs) != 1 {
			t.Fatalf("B's public-key object: %v, %d found", err, len(hs))
		}
		if err := api.DestroyObject(sh, hs[0]); err != nil {
			t.Fatal(err)
		}
		params, err := hsm.ECParams("P-256")
		if err != nil {
			t.Fatal(err)
		}
		point, err := a.PublicKey.Bytes()
		if err != nil {
			t.Fatal(err)
		}
		der, _ := asn1.Marshal(point)
		if _, err := api.CreateObject(sh, []*pkcs11.Attribute{
			pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_PUBLIC_KEY),
			pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_EC),
			pkcs11.NewAttribute(pkcs11.CKA_TOKEN, true),
			pkcs11.NewAttribute(pkcs11.CKA_VERIFY, true),
			pkcs11.NewAttribute(pkcs11.CKA_EC_PARAMS, params),
			pkcs11.NewAttribute(pkcs11.CKA_EC_POINT, der),
			pkcs11.NewAttribute(pkcs11.CKA_LABEL, label),
			pkcs11.NewAttribute(pkcs11.CKA_ID, id),
		}); err != nil {
			t.Fatal(err)
		}
	})
	ctx := context.Background()
	src := openSoft(t, "pkcs11:token="+softLabel+";object="+label+";type=private", 0)
	info, err := src.Describe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.PublicKeyFromPrivate {
		t.Error("an HSM source claims its public key is derived from its private key")
	}

	m, err := byok.NewKeyMaterial(a)
	if err != nil {
		t.Fatal(err)
	}
	sa, err := software.New(m, software.Options{Usage: byok.KeyAgreement})
	if err != nil {
		t.Fatal(err)
	}
	defer sa.Close()
	target := newKMS(t)
	res, err := new(byok.Importer).Import(ctx, sa, target)
	if err != nil {
		t.Fatal(err)
	}
	kp, err := target.VerifyKey(ctx, res.KeyARN, src, byok.VerifyOptions{})
	v := kp.Verification
	if v.Verdict == byok.VerdictPassed || v.Verified {
		t.Fatalf("B's private key verified as A: %v, %s %+v %v", err, v.Verdict, v.Checks, v.Skipped)
	}
	for _, c := range v.Checks {
		if c.Name == "GetPublicKey equals the source public key" && c.Identity {
			t.Errorf("GetPublicKey of a token's public-key object counted as identity: %+v", c)
		}
	}
	t.Logf("verdict %s; checks %+v; skipped %v", v.Verdict, v.Checks, v.Skipped)
}
