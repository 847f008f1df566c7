package opencryptoki_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/byok-go/byok"
	"github.com/byok-go/byok/driver"
	"github.com/byok-go/byok/driver/opencryptoki"
	"github.com/byok-go/byok/hsm"
	"github.com/byok-go/byok/hsm/hsmtest"
	"github.com/byok-go/byok/kmstest"
	"github.com/miekg/pkcs11"
)

// TestMigrate migrates keys from opencryptoki's software token into the
// KMS emulator: the one real module here whose RSA-OAEP does SHA-256. Keys
// are session objects of known value (the token is the system's); every
// blob is unwrapped and compared byte for byte, every import verified.
func TestMigrate(t *testing.T) {
	m, tok, tokInfo := openToken(t)
	ctx := context.Background()
	caps, err := tok.Capabilities(ctx, true)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range caps.Findings {
		t.Logf("probe: %s", f)
	}
	// The profile documents what the probe finds: OAEP with SHA-256 and
	// SHA-1, nothing else.
	if diff := hsmtest.CapabilitiesDiff(opencryptoki.Profile.Documented, *caps); diff != "" {
		t.Errorf("the probe and opencryptoki.Profile.Documented disagree (-profile +probe):\n%s", diff)
	}
	keys, err := hsmtest.Keys()
	if err != nil {
		t.Fatal(err)
	}
	srv := kmstest.NewServer(kmstest.WithWrappingKeyCache(true))
	defer srv.Close()
	target := &byok.KMS{Client: kms.NewFromConfig(srv.AWSConfig())}
	for _, k := range keys {
		t.Run(k.Name, func(t *testing.T) {
			label := "byok-test-" + k.Name
			var createErr error
			tok.WithSession(ctx, func(sh pkcs11.SessionHandle) error {
				createErr = k.Create(m.API(), sh, hsmtest.KeyOptions{Label: label, ID: []byte(k.Name)})
				return nil
			})
			if k.KeyType == pkcs11.CKK_SHA256_HMAC {
				// opencryptoki 3.8 does not know the key type CKK_SHA256_HMAC
				// (its HMAC keys are CKK_GENERIC_SECRET).
				if !errors.Is(createErr, pkcs11.Error(pkcs11.CKR_ATTRIBUTE_VALUE_INVALID)) {
					t.Fatalf("creating a CKK_SHA256_HMAC key: %v; want CKR_ATTRIBUTE_VALUE_INVALID", createErr)
				}
				return
			}
			if createErr != nil {
				t.Fatal(createErr)
			}
			// opencryptoki does not report CKA_VALUE_LEN of a secret key made
			// with C_CreateObject, so the key spec is given, as the driver
			// documentation says.
			var spec byok.KeySpec
			if k.Value != nil {
				spec = k.Spec
			}
			src, err := opencryptoki.Open(ctx, opencryptoki.Config{Token: hsm.TokenSelector{Label: tokInfo.Label}, Key: "label=" + label, PIN: hsmtest.OpenCryptokiUserPIN,
				KeySpec: spec, MaterialLen: k.MaterialLen})
			if err != nil {
				t.Fatal(err)
			}
			defer src.Close()
			algs, err := src.WrappingAlgorithms(ctx)
			if k.Spec.Kind() == byok.KindEC {
				if !errors.Is(err, hsm.ErrNoWrapping) || !strings.Contains(err.Error(), "does not wrap private keys") {
					t.Fatalf("EC: %v; want ErrNoWrapping", err)
				}
				t.Logf("refused as expected: %v", err)
				return
			}
			if k.Spec.Kind() == byok.KindRSA {
				if !errors.Is(err, hsm.ErrNoWrapping) || !strings.Contains(err.Error(), "no AES key wrap with padding") {
					t.Fatalf("RSA: %v; want ErrNoWrapping naming the missing AES key wrap", err)
				}
				t.Logf("refused as expected: %v", err)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(algs, []byok.WrappingAlgorithm{byok.RSAESOAEPSHA256, byok.RSAESOAEPSHA1}) {
				t.Errorf("algorithms %v; want RSAES_OAEP_SHA_256 and RSAES_OAEP_SHA_1", algs)
			}
			want, _ := k.Material()
			for _, alg := range algs {
				blob, err := src.Wrap(ctx, hsmtest.ImportParameters(alg))
				if err != nil {
					t.Fatalf("Wrap %s: %v", alg, err)
				}
				got, err := byok.UnwrapKeyMaterial(hsmtest.WrappingKey(), alg, blob)
				if err != nil || !bytes.Equal(got, want) {
					t.Fatalf("%s: unwrapped %d bytes (%v); want the key's %d bytes", alg, len(got), err, len(want))
				}
			}
			res, err := new(byok.Importer).Import(ctx, src, target)
			if k.Spec == byok.HMAC224 {
				// The 3.8 software token has no CKM_SHA224_HMAC, so it cannot
				// compute the HMAC the proof compares with KMS GenerateMac:
				// that check is skipped, and the import is proven by
				// ImportKeyMaterial's integrity (byok verify re-imports; see
				// TestVerifyKey).
				if err != nil || res.Verification.Verdict != byok.VerdictPassed || len(res.Verification.Skipped) == 0 ||
					!strings.Contains(res.Verification.Skipped[0], "could not compute an HMAC") {
					t.Fatalf("HMAC_224: %v, %+v; want PASSED with the HMAC check skipped", err, res.Verification)
				}
				return
			}
			if err != nil {
				t.Fatalf("Import: %v", err)
			}
			if res.Algorithm != byok.RSAESOAEPSHA256 || res.Fallback {
				t.Errorf("imported with %s (fallback %v); want RSAES_OAEP_SHA_256", res.Algorithm, res.Fallback)
			}
			if v := res.Verification; v == nil || !v.Verified {
				t.Fatalf("not verified: %+v", v)
			}
		})
	}
}

// TestDriverOpen opens a key through the registry, as the byok command does.
func TestDriverOpen(t *testing.T) {
	m, tok, tokInfo := openToken(t)
	ctx := context.Background()
	tok.WithSession(ctx, func(sh pkcs11.SessionHandle) error {
		_, err := hsmtest.ImportSecret(m.API(), sh, pkcs11.CKK_AES, make([]byte, 32), hsmtest.KeyOptions{Label: "byok-test-driver"})
		return err
	})
	t.Setenv("BYOK_TEST_OCK_PIN", string(hsmtest.OpenCryptokiUserPIN))
	src, err := driver.Open(ctx, "opencryptoki", driver.Config{Key: "pkcs11:token=" + tokInfo.Label + ";object=byok-test-driver;type=secret-key",
		PIN: driver.PINFromEnv("BYOK_TEST_OCK_PIN"), KeySpec: byok.SymmetricDefault})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	info, err := src.Describe(ctx)
	if err != nil || info.Spec != byok.SymmetricDefault {
		t.Fatalf("Describe: %+v, %v", info, err)
	}
	t.Logf("described: %+v", info)
	if !slices.Contains(driver.Drivers(), "opencryptoki") {
		t.Errorf("registered drivers %v", driver.Drivers())
	}
}

// TestSigner signs inside opencryptoki with an RSA key (the proof's
// HSM-side signer; the key cannot migrate from this token, but its
// signatures are checked the same way) and verifies the signatures with
// crypto/rsa: RSASSA-PKCS1-v1_5 with SHA-256, SHA-384 and SHA-512, and PSS.
func TestSigner(t *testing.T) {
	m, tok, tokInfo := openToken(t)
	ctx := context.Background()
	key, err := hsmtest.RSAKey("rsa2048-len8")
	if err != nil {
		t.Fatal(err)
	}
	err = tok.WithSession(ctx, func(sh pkcs11.SessionHandle) error {
		_, err := hsmtest.ImportPrivate(m.API(), sh, key, hsmtest.KeyOptions{Label: "byok-test-signer", ID: []byte("signer")})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	src, err := opencryptoki.Open(ctx, opencryptoki.Config{Token: hsm.TokenSelector{Label: tokInfo.Label}, Key: "label=byok-test-signer",
		PIN: hsmtest.OpenCryptokiUserPIN})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	s, err := src.Signer(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !key.PublicKey.Equal(s.Public()) {
		t.Fatalf("the signer's public key %T is not the key's", s.Public())
	}
	msg := []byte("byok: signed inside opencryptoki")
	for _, h := range []crypto.Hash{crypto.SHA256, crypto.SHA384, crypto.SHA512} {
		hh := h.New()
		hh.Write(msg)
		digest := hh.Sum(nil)
		sig, err := s.Sign(rand.Reader, digest, h)
		if err != nil {
			t.Fatalf("PKCS#1 v1.5 %v: %v", h, err)
		}
		if err := rsa.VerifyPKCS1v15(&key.PublicKey, h, digest, sig); err != nil {
			t.Errorf("PKCS#1 v1.5 %v: %v", h, err)
		}
		// PKCS#1 v1.5 is deterministic: the module's signature is Go's.
		if goSig, _ := rsa.SignPKCS1v15(nil, key, h, digest); !bytes.Equal(sig, goSig) {
			t.Errorf("PKCS#1 v1.5 %v: the module's signature differs from crypto/rsa's", h)
		}
		pss := &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: h}
		sig, err = s.Sign(rand.Reader, digest, pss)
		if err != nil {
			t.Fatalf("PSS %v: %v", h, err)
		}
		if err := rsa.VerifyPSS(&key.PublicKey, h, digest, sig, pss); err != nil {
			t.Errorf("PSS %v: %v", h, err)
		}
	}
}
