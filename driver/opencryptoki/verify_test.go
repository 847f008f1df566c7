package opencryptoki_test

import (
	"context"
	"crypto/rand"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/byok-go/byok"
	"github.com/byok-go/byok/driver/opencryptoki"
	"github.com/byok-go/byok/driver/software"
	"github.com/byok-go/byok/hsm"
	"github.com/byok-go/byok/hsm/hsmtest"
	"github.com/byok-go/byok/kmstest"
	"github.com/miekg/pkcs11"
)

// TestVerifyKey: keys of every spec opencryptoki's software token can hand
// to KMS (SYMMETRIC_DEFAULT and HMAC) are imported; byok.KMS.VerifyKey with
// the token's key passes and against a KMS key holding another key of the
// same spec fails. HMAC_224, whose HMAC the 3.8 token cannot compute
// (no CKM_SHA224_HMAC), is proven by re-import instead of GenerateMac.
func TestVerifyKey(t *testing.T) {
	m, tok, tokInfo := openToken(t)
	ctx := context.Background()
	keys, err := hsmtest.Keys()
	if err != nil {
		t.Fatal(err)
	}
	srv := kmstest.NewServer(kmstest.WithWrappingKeyCache(true))
	defer srv.Close()
	target := &byok.KMS{Client: kms.NewFromConfig(srv.AWSConfig())}
	tested := 0
	for _, k := range keys {
		if k.Value == nil || k.KeyType == pkcs11.CKK_SHA256_HMAC {
			continue // asymmetric keys and CKK_SHA256_HMAC: see TestMigrate
		}
		t.Run(k.Name, func(t *testing.T) {
			label := "byok-verify-" + k.Name
			var createErr error
			tok.WithSession(ctx, func(sh pkcs11.SessionHandle) error {
				createErr = k.Create(m.API(), sh, hsmtest.KeyOptions{Label: label, ID: []byte("v-" + k.Name)})
				return nil
			})
			if createErr != nil {
				t.Fatal(createErr)
			}
			src, err := opencryptoki.Open(ctx, opencryptoki.Config{Token: hsm.TokenSelector{Label: tokInfo.Label}, Key: "label=" + label, PIN: hsmtest.OpenCryptokiUserPIN, KeySpec: k.Spec})
			if err != nil {
				t.Fatal(err)
			}
			defer src.Close()
			res, err := new(byok.Importer).Import(ctx, src, target)
			if err != nil || res.Verification.Verdict != byok.VerdictPassed {
				t.Fatalf("Import: %v", err)
			}
			kp, err := target.VerifyKey(ctx, res.KeyARN, src, byok.VerifyOptions{})
			v := kp.Verification
			if err != nil || v.Verdict != byok.VerdictPassed {
				t.Fatalf("the token's key: %v, %s %+v %v", err, v.Verdict, v.Checks, v.Skipped)
			}
			want := "re-import:"
			if k.Spec.Kind() == byok.KindHMAC && k.Spec != byok.HMAC224 {
				want = "KMS GenerateMac"
			}
			if !proves(v, want, true) {
				t.Errorf("no passed %q check: %+v %v", want, v.Checks, v.Skipped)
			}

			b := make([]byte, k.Spec.MaterialLen())
			rand.Read(b)
			om, _ := byok.NewSecretKeyMaterial(k.Spec, b)
			other, err := software.New(om, software.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer other.Close()
			otherRes, err := new(byok.Importer).Import(ctx, other, target)
			if err != nil {
				t.Fatal(err)
			}
			kp, err = target.VerifyKey(ctx, otherRes.KeyARN, src, byok.VerifyOptions{})
			v = kp.Verification
			if err != nil || v.Verdict != byok.VerdictFailed || !proves(v, want, false) {
				t.Fatalf("another key: %v, %s %+v", err, v.Verdict, v.Checks)
			}
			tested++
		})
	}
	if tested < 5 {
		t.Errorf("%d specs proven both ways from opencryptoki; want SYMMETRIC_DEFAULT and the four HMAC specs", tested)
	}
}

func proves(v byok.Verification, prefix string, ok bool) bool {
	for _, c := range v.Checks {
		if strings.HasPrefix(c.Name, prefix) && c.OK == ok && c.Identity {
			return true
		}
	}
	return false
}
