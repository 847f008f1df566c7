package hsm_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"strings"
	"testing"

	"github.com/byok-go/byok"
	"github.com/byok-go/byok/driver/software"
	"github.com/byok-go/byok/hsm"
	"github.com/byok-go/byok/hsm/hsmtest"
	"github.com/miekg/pkcs11"
)

// otherSoftware returns a software source of a fresh key of spec (secret
// or RSA): a key different from the one in the token.
func otherSoftware(t testing.TB, spec byok.KeySpec) *software.Source {
	t.Helper()
	var m *byok.KeyMaterial
	var err error
	if spec.Kind() == byok.KindRSA {
		var k *rsa.PrivateKey
		if k, err = rsa.GenerateKey(rand.Reader, spec.Bits()); err == nil {
			m, err = byok.NewKeyMaterial(k)
		}
	} else {
		m, err = byok.NewSecretKeyMaterial(spec, random(spec.MaterialLen()))
	}
	if err != nil {
		t.Fatal(err)
	}
	s, err := software.New(m, software.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestSoftHSMVerifyKey: for every spec SoftHSM can hand to KMS, a key in
// the token is imported; byok.KMS.VerifyKey with the token's key passes
// (SYMMETRIC_DEFAULT by the token wrapping its key again for the re-import
// proof), and the token's key against a KMS key holding another key of the
// same spec fails, naming the check.
func TestSoftHSMVerifyKey(t *testing.T) {
	needSoftHSM(t)
	keys := allKeys(t)
	softSession(t, func(api hsm.PKCS11, sh pkcs11.SessionHandle) {
		for _, k := range keys {
			k.create(t, api, sh, hsmtest.KeyOptions{Label: "verify-" + k.name, ID: []byte("v-" + k.name), Token: true})
		}
	})
	target := newKMS(t)
	ctx := context.Background()
	tested := map[byok.KeySpec]bool{}
	for _, k := range keys {
		if k.spec.Kind() == byok.KindEC {
			continue // SoftHSM cannot wrap an EC key for KMS (TestSoftHSMMigrate)
		}
		t.Run(k.name, func(t *testing.T) {
			src := openSoft(t, "pkcs11:token="+softLabel+";object=verify-"+k.name, k.materialLen)
			res, err := new(byok.Importer).Import(ctx, src, target)
			if err != nil {
				t.Fatalf("Import: %v", err)
			}
			kp, err := target.VerifyKey(ctx, res.KeyARN, src, byok.VerifyOptions{})
			if v := kp.Verification; err != nil || v.Verdict != byok.VerdictPassed {
				t.Fatalf("the token's key: %v, %s %+v %v", err, v.Verdict, v.Checks, v.Skipped)
			}
			otherRes, err := new(byok.Importer).Import(ctx, otherSoftware(t, k.spec), target)
			if err != nil {
				t.Fatal(err)
			}
			kp, err = target.VerifyKey(ctx, otherRes.KeyARN, src, byok.VerifyOptions{})
			v := kp.Verification
			if err != nil || v.Verdict != byok.VerdictFailed || len(v.Failures()) == 0 {
				t.Fatalf("another key: %v, %s %+v", err, v.Verdict, v.Checks)
			}
			// An HSM's public key is read from the token, not derived from
			// its private key, so for RSA the identity check that fails is
			// KMS verifying the token's signature.
			want := map[byok.MaterialKind]string{byok.KindSymmetric: "re-import:", byok.KindHMAC: "KMS GenerateMac", byok.KindRSA: "KMS verifies a"}[k.spec.Kind()]
			found := false
			for _, f := range v.Failures() {
				found = found || strings.HasPrefix(f.Name, want) && f.Identity
			}
			if !found {
				t.Errorf("failed checks %+v; want an identity check %q…", v.Failures(), want)
			}
			tested[k.spec] = true
		})
	}
	t.Logf("specs proven both ways from SoftHSM: %v", tested)
	if !tested[byok.SymmetricDefault] {
		t.Error("SYMMETRIC_DEFAULT was not tested from SoftHSM")
	}
}
