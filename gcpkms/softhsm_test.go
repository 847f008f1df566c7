package gcpkms

import (
	"context"
	"fmt"
	"os"
	"testing"

	"github.com/miekg/pkcs11"

	"github.com/byok-go/byok"
	"github.com/byok-go/byok/hsm"
	"github.com/byok-go/byok/hsm/hsmtest"
)

// A throwaway SoftHSM token for this test binary: SOFTHSM2_CONF points at a
// temporary directory, set in TestMain before the library is loaded.
var (
	softhsmErr error
	softLabel  = "byok-gcpkms-test"
	softSO     = hsmtest.PIN("so-secret-1")
	softUser   = hsmtest.PIN("user-secret-1")
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "byok-gcpkms-softhsm-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if _, err := os.Stat(hsmtest.SoftHSMPath); err != nil {
		softhsmErr = err
	} else if s, err := hsmtest.NewSoftHSM(hsmtest.SoftHSMPath, dir); err != nil {
		softhsmErr = err
	} else {
		_, softhsmErr = s.InitToken(softLabel, softSO, softUser)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// softKey puts k in the token as label and opens it as a byok source.
func softKey(t *testing.T, k hsmtest.Key, label string) *hsm.Source {
	t.Helper()
	hsmtest.MustHaveModule(t, hsmtest.SoftHSMPath, hsmtest.SoftHSMHint)
	if softhsmErr != nil {
		t.Fatalf("setting up the throwaway SoftHSM token: %v", softhsmErr)
	}
	ctx := context.Background()
	mod, err := hsm.OpenModule(hsmtest.SoftHSMPath)
	if err != nil {
		t.Fatal(err)
	}
	defer mod.Close()
	tok, err := mod.OpenToken(ctx, hsm.TokenSelector{Label: softLabel}, hsm.TokenOptions{PIN: softUser})
	if err != nil {
		t.Fatal(err)
	}
	defer tok.Close()
	err = tok.WithSession(ctx, func(sh pkcs11.SessionHandle) error {
		return k.Create(mod.API(), sh, hsmtest.KeyOptions{Label: label, ID: []byte(label), Token: true})
	})
	if err != nil {
		t.Fatal(err)
	}
	src, err := hsm.Open(ctx, hsm.Config{Module: hsmtest.SoftHSMPath, Token: hsm.TokenSelector{Label: softLabel},
		Key: "label=" + label, PIN: softUser, MaterialLen: k.MaterialLen})
	if err != nil {
		t.Fatalf("opening %s: %v", label, err)
	}
	t.Cleanup(func() { src.Close() })
	return src
}

func testKeys(t *testing.T) map[string]hsmtest.Key {
	t.Helper()
	ks, err := hsmtest.Keys()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]hsmtest.Key{}
	for _, k := range ks {
		out[k.Name] = k
	}
	return out
}

// TestSoftHSMRSAFallback: SoftHSM does RSA-OAEP with SHA-1 only, and its
// RSA-AES key wrap is byok's two-step construction, so an RSA key reaches
// Cloud KMS with RSA_OAEP_4096_SHA1_AES_256, flagged as a fallback, and is
// proven by the token's own signature under Cloud KMS's public key (the
// token's public key is read from the token, so equality alone is not an
// identity check).
func TestSoftHSMRSAFallback(t *testing.T) {
	keys := testKeys(t)
	_, client := newFake(t)
	for _, name := range []string{"rsa2048", "rsa3072"} {
		t.Run(name, func(t *testing.T) {
			src := softKey(t, keys[name], "gcp-"+name)
			res, err := new(byok.Importer).Import(context.Background(), src, fakeTarget(t, client, Options{KeyID: "softhsm-" + name}))
			if err != nil {
				t.Fatalf("Import: %v", err)
			}
			if !res.Fallback || res.Algorithm != byok.RSAAESKeyWrapSHA1 || res.WrappingKeySpec != byok.WrappingRSA4096 {
				t.Errorf("wrapped with %s %s, fallback %v; want the SHA-1 key wrap as a fallback", res.Algorithm, res.WrappingKeySpec, res.Fallback)
			}
			v := res.Verification
			if v.Verdict != byok.VerdictPassed {
				t.Fatalf("verdict %s: %+v", v.Verdict, v.Checks)
			}
			for _, c := range v.Checks {
				if c.Name == CheckPublicKey && c.Identity {
					t.Errorf("GetPublicKey counted as identity for a token's public key")
				}
			}
		})
	}
}

// TestSoftHSMSecretFallback: SoftHSM carries AES and HMAC keys with its
// two-step RSA-AES key wrap, SHA-1 only (Cloud KMS has no direct RSA-OAEP
// SHA-1 method): RSA_OAEP_4096_SHA1_AES_256, flagged as a fallback. The
// HMAC key is PASSED by the token's own HMAC; the AES key is UNPROVEN
// (GOOGLE_SYMMETRIC_ENCRYPTION ciphertexts are opaque).
func TestSoftHSMSecretFallback(t *testing.T) {
	keys := testKeys(t)
	_, client := newFake(t)
	for _, c := range []struct {
		name string
		want byok.Verdict
	}{{"hmac256", byok.VerdictPassed}, {"aes256", byok.VerdictUnproven}} {
		t.Run(c.name, func(t *testing.T) {
			src := softKey(t, keys[c.name], "gcp-secret-"+c.name)
			res, err := new(byok.Importer).Import(context.Background(), src, fakeTarget(t, client, Options{KeyID: "softhsm-" + c.name}))
			if res == nil || res.Verification == nil {
				t.Fatalf("Import: %v", err)
			}
			if !res.Fallback || res.Algorithm != byok.RSAAESKeyWrapSHA1 || res.WrappingKeySpec != byok.WrappingRSA4096 {
				t.Errorf("wrapped with %s %s, fallback %v; want the SHA-1 key wrap as a fallback", res.Algorithm, res.WrappingKeySpec, res.Fallback)
			}
			if res.Verification.Verdict != c.want {
				t.Errorf("verdict %s (%v), want %s: %+v %v", res.Verification.Verdict, err, c.want, res.Verification.Checks, res.Verification.Skipped)
			}
		})
	}
}
