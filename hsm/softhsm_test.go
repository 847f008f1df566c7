package hsm_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/byok-go/byok"
	"github.com/byok-go/byok/hsm"
	"github.com/byok-go/byok/hsm/hsmtest"
	"github.com/decred/dcrd/dcrec/secp256k1/v4"
	secpecdsa "github.com/decred/dcrd/dcrec/secp256k1/v4/ecdsa"
	"github.com/miekg/pkcs11"
)

// softSession runs fn in a logged-in session of the test token.
func softSession(t testing.TB, fn func(api hsm.PKCS11, sh pkcs11.SessionHandle)) {
	t.Helper()
	needSoftHSM(t)
	ctx := context.Background()
	m, err := hsm.OpenModule(hsmtest.SoftHSMPath)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	tok, err := m.OpenToken(ctx, hsm.TokenSelector{Label: softLabel}, hsm.TokenOptions{PIN: softUserPIN})
	if err != nil {
		t.Fatal(err)
	}
	defer tok.Close()
	if err := tok.WithSession(ctx, func(sh pkcs11.SessionHandle) error { fn(m.API(), sh); return nil }); err != nil {
		t.Fatal(err)
	}
}

func openSoft(t testing.TB, key string, materialLen int) *hsm.Source {
	t.Helper()
	src, err := hsm.Open(context.Background(), hsm.Config{Module: hsmtest.SoftHSMPath, Token: hsm.TokenSelector{Label: softLabel},
		Key: key, PIN: softUserPIN, MaterialLen: materialLen})
	if err != nil {
		t.Fatalf("opening %s: %v", key, err)
	}
	t.Cleanup(func() { src.Close() })
	return src
}

// TestSoftHSMQuirks records what the probe finds in SoftHSM 2.6.1: the
// quirks byok works around, as evidence.
func TestSoftHSMQuirks(t *testing.T) {
	needSoftHSM(t)
	softSession(t, func(api hsm.PKCS11, sh pkcs11.SessionHandle) {
		testKey{name: "quirk-aes", keyType: pkcs11.CKK_AES, value: random(32)}.create(t, api, sh, hsmtest.KeyOptions{Label: "quirk-aes", Token: true})
	})
	src := openSoft(t, "label=quirk-aes", 0)
	c, err := src.Token().Capabilities(context.Background(), true)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range c.Findings {
		t.Logf("probe: %s", f)
	}
	if !c.Probed || !c.ECProbed {
		t.Fatalf("not probed: %+v", c)
	}
	// SHA-1 OAEP only, no CKM_RSA_AES_KEY_WRAP, a CKM_AES_KEY_WRAP_PAD that
	// zero-fills, no OAEP of private keys, no public key in EC PKCS#8.
	want := hsm.Capabilities{OAEP: []crypto.Hash{crypto.SHA1}, AESKeyWrap: pkcs11.CKM_AES_KEY_WRAP_PAD, AESKeyWrapZeroFills: true}
	if diff := hsmtest.CapabilitiesDiff(want, *c); diff != "" {
		t.Errorf("SoftHSM 2.6.1's capabilities (-want +probed):\n%s", diff)
	}
	joined := strings.Join(c.Findings, "\n")
	for _, want := range []string{"SHA-256: pkcs11: 0x7: CKR_ARGUMENTS_BAD", "CKM_AES_KEY_WRAP_KWP: pkcs11: 0x70: CKR_MECHANISM_INVALID",
		"zero-fills a 28-byte key to 32 bytes", "CKR_KEY_NOT_WRAPPABLE", "has no public key"} {
		if !strings.Contains(joined, want) {
			t.Errorf("the findings do not mention %q", want)
		}
	}
}

// TestSoftHSMMigrate takes a key of every importable type, created in
// SoftHSM from known bytes and extractable, through the wrap (each blob
// unwrapped and compared byte for byte with the key) and the whole import
// into the KMS emulator, verified; or, where SoftHSM cannot produce what
// KMS imports, checks that byok refuses and says why.
func TestSoftHSMMigrate(t *testing.T) {
	needSoftHSM(t)
	keys := allKeys(t)
	softSession(t, func(api hsm.PKCS11, sh pkcs11.SessionHandle) {
		for _, k := range keys {
			k.create(t, api, sh, hsmtest.KeyOptions{Label: "migrate-" + k.name, ID: []byte(k.name), Token: true})
		}
	})
	target := newKMS(t)
	for _, k := range keys {
		t.Run(k.name, func(t *testing.T) {
			ctx := context.Background()
			src := openSoft(t, "pkcs11:token="+softLabel+";object=migrate-"+k.name, k.materialLen)
			info, err := src.Describe(ctx)
			if err != nil || info.Spec != k.spec {
				t.Fatalf("Describe: %v, spec %s; want %s", err, info.Spec, k.spec)
			}
			if k.spec.Kind() == byok.KindEC {
				_, err := src.WrappingAlgorithms(ctx)
				if !errors.Is(err, hsm.ErrNoWrapping) || !errors.Is(err, byok.ErrIncompatible) || !strings.Contains(err.Error(), "has no public key") {
					t.Fatalf("EC key: got %v; want ErrNoWrapping naming the missing public key", err)
				}
				t.Logf("refused as expected: %v", err)
				_, err = new(byok.Importer).Import(ctx, src, target)
				if !errors.Is(err, hsm.ErrNoWrapping) {
					t.Fatalf("Import: %v; want ErrNoWrapping", err)
				}
				return
			}
			want := k.material(t)
			algs := checkWrapsExactly(t, src, want)
			// SoftHSM's OAEP is SHA-1 only, and its RSA-AES is the two-step
			// (OAEP, then CKM_AES_KEY_WRAP_PAD, exact for these lengths).
			// Secret keys are listed with both, though AWS takes only OAEP
			// for them: other clouds (Azure) take RSA_AES_KEY_WRAP.
			wantAlgs := []byok.WrappingAlgorithm{byok.RSAESOAEPSHA1, byok.RSAAESKeyWrapSHA1}
			if len(want)%8 != 0 {
				// The module's key wrap would add zero bytes (HMAC_224's 28).
				wantAlgs = wantAlgs[:1]
			}
			if k.spec.Kind() == byok.KindRSA {
				wantAlgs = []byok.WrappingAlgorithm{byok.RSAAESKeyWrapSHA1}
			}
			if !slices.Equal(algs, wantAlgs) {
				t.Errorf("algorithms %v; want %v", algs, wantAlgs)
			}
			if _, choice, err := new(byok.Importer).Plan(ctx, src); err != nil || choice.Algorithm != wantAlgs[0] {
				t.Errorf("for AWS the importer chose %+v, %v; want %s (AWS's table)", choice, err, wantAlgs[0])
			}
			res, err := new(byok.Importer).Import(ctx, src, target)
			if err != nil {
				t.Fatalf("Import: %v", err)
			}
			if res.Algorithm != wantAlgs[0] || !res.Fallback {
				t.Errorf("imported with %s (fallback %v); want %s, flagged as the SHA-1 fallback", res.Algorithm, res.Fallback, wantAlgs[0])
			}
			checkVerified(t, res)
			if k.value != nil {
				m, _ := byok.NewSecretKeyMaterial(k.spec, k.value)
				if info.Fingerprint != m.Fingerprint() {
					t.Errorf("fingerprint %q; want %q (byok's, computed inside the module)", info.Fingerprint, m.Fingerprint())
				}
			}
		})
	}
}

// TestSoftHSMRSALength: with SoftHSM's zero-filling key wrap, an RSA key
// migrates only when its PKCS#8 length is known and a multiple of 8.
func TestSoftHSMRSALength(t *testing.T) {
	needSoftHSM(t)
	odd := loadRSA(t, "rsa2048-len-odd")
	oddLen := len(testKey{priv: odd}.material(t))
	if oddLen%8 == 0 {
		t.Fatalf("testdata/rsa2048-len-odd.pem is %d bytes of PKCS#8, a multiple of 8", oddLen)
	}
	softSession(t, func(api hsm.PKCS11, sh pkcs11.SessionHandle) {
		if _, err := hsmtest.ImportPrivate(api, sh, odd, hsmtest.KeyOptions{Label: "rsa-odd", Token: true}); err != nil {
			t.Fatal(err)
		}
		// And one generated inside SoftHSM, whose encoding nobody knows.
		_, _, err := api.GenerateKeyPair(sh, []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_RSA_PKCS_KEY_PAIR_GEN, nil)},
			[]*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_TOKEN, true), pkcs11.NewAttribute(pkcs11.CKA_MODULUS_BITS, 2048),
				pkcs11.NewAttribute(pkcs11.CKA_PUBLIC_EXPONENT, []byte{1, 0, 1}), pkcs11.NewAttribute(pkcs11.CKA_LABEL, "rsa-generated")},
			[]*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_TOKEN, true), pkcs11.NewAttribute(pkcs11.CKA_EXTRACTABLE, true),
				pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, true), pkcs11.NewAttribute(pkcs11.CKA_SIGN, true), pkcs11.NewAttribute(pkcs11.CKA_LABEL, "rsa-generated")})
		if err != nil {
			t.Fatal(err)
		}
	})
	ctx := context.Background()
	for _, c := range []struct {
		key  string
		len  int
		want string
	}{
		{"label=rsa-odd", oddLen, fmt.Sprintf("this key's material is %d bytes, not a multiple of 8", oddLen)},
		{"label=rsa-odd", 0, "give it as the material length"},
		{"label=rsa-generated;type=private", 0, "give it as the material length"},
	} {
		src := openSoft(t, c.key, c.len)
		_, err := src.WrappingAlgorithms(ctx)
		if !errors.Is(err, hsm.ErrNoWrapping) || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "zero-fills") {
			t.Errorf("%s with material length %d: %v; want ErrNoWrapping saying %q", c.key, c.len, err, c.want)
		}
		if _, err := src.Wrap(ctx, params(byok.RSAAESKeyWrapSHA1)); !errors.Is(err, hsm.ErrNoWrapping) {
			t.Errorf("Wrap anyway: %v; want ErrNoWrapping", err)
		}
	}
	t.Logf("e.g. %v", func() error {
		_, err := openSoft(t, "label=rsa-generated;type=private", 0).WrappingAlgorithms(ctx)
		return err
	}())
}

// TestSoftHSMSigners signs inside SoftHSM with every asymmetric key type
// and checks the signatures in Go (the import tests check them in KMS).
func TestSoftHSMSigners(t *testing.T) {
	needSoftHSM(t)
	keys := allKeys(t)
	softSession(t, func(api hsm.PKCS11, sh pkcs11.SessionHandle) {
		for _, k := range keys {
			if k.priv != nil {
				k.create(t, api, sh, hsmtest.KeyOptions{Label: "sign-" + k.name, ID: []byte("sign-" + k.name), Token: true})
			}
		}
	})
	digest := sha256.Sum256([]byte("byok"))
	for _, k := range keys {
		if k.priv == nil {
			continue
		}
		t.Run(k.name, func(t *testing.T) {
			src := openSoft(t, "label=sign-"+k.name, 0)
			s, err := src.Signer(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			switch pub := s.Public().(type) {
			case *rsa.PublicKey:
				sig, err := s.Sign(rand.Reader, digest[:], crypto.SHA256)
				if err != nil || rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], sig) != nil {
					t.Fatalf("PKCS#1 v1.5: %v", err)
				}
				pss := &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: crypto.SHA256}
				sig, err = s.Sign(rand.Reader, digest[:], pss)
				if err != nil || rsa.VerifyPSS(pub, crypto.SHA256, digest[:], sig, pss) != nil {
					t.Fatalf("PSS: %v", err)
				}
			case *ecdsa.PublicKey:
				sig, err := s.Sign(rand.Reader, digest[:], crypto.SHA256)
				if err != nil || !ecdsa.VerifyASN1(pub, digest[:], sig) {
					t.Fatalf("ECDSA: %v", err)
				}
			case *secp256k1.PublicKey:
				sig, err := s.Sign(rand.Reader, digest[:], crypto.SHA256)
				if err != nil {
					t.Fatal(err)
				}
				parsed, err := secpecdsa.ParseDERSignature(sig)
				if err != nil || !parsed.Verify(digest[:], pub) {
					t.Fatalf("secp256k1 ECDSA: %v", err)
				}
			default:
				t.Fatalf("public key %T", pub)
			}
		})
	}
}

// TestSoftHSMErrors checks the sentinels of the failures a user meets
// first, and that no PIN ever shows in an error.
func TestSoftHSMErrors(t *testing.T) {
	needSoftHSM(t)
	softSession(t, func(api hsm.PKCS11, sh pkcs11.SessionHandle) {
		testKey{keyType: pkcs11.CKK_AES, value: random(32)}.create(t, api, sh, hsmtest.KeyOptions{Label: "non-extractable", Token: true, NotExtractable: true})
		testKey{keyType: pkcs11.CKK_AES, value: random(16)}.create(t, api, sh, hsmtest.KeyOptions{Label: "aes128", Token: true})
		testKey{keyType: pkcs11.CKK_AES, value: random(32)}.create(t, api, sh, hsmtest.KeyOptions{Label: "twice", Token: true})
		testKey{keyType: pkcs11.CKK_GENERIC_SECRET, value: random(32)}.create(t, api, sh, hsmtest.KeyOptions{Label: "twice", Token: true})
	})
	ctx := context.Background()
	open := func(cfg hsm.Config) error {
		if cfg.Module == "" {
			cfg.Module = hsmtest.SoftHSMPath
		}
		if cfg.Token == (hsm.TokenSelector{}) {
			cfg.Token.Label = softLabel
		}
		if cfg.PIN == nil {
			cfg.PIN = softUserPIN
		}
		src, err := hsm.Open(ctx, cfg)
		if err == nil {
			defer src.Close()
			_, err = src.Wrap(ctx, params(byok.RSAESOAEPSHA1))
		}
		return err
	}
	notLib := filepath.Join(t.TempDir(), "not-a-library.so")
	os.WriteFile(notLib, []byte("not ELF"), 0o600)
	wrongPIN := hsmtest.PIN("Wr0ng-PIN-do-not-print")
	for _, c := range []struct {
		name string
		cfg  hsm.Config
		want error
		fix  string
	}{
		{"module not found", hsm.Config{Module: "/nonexistent/libpkcs11.so", Key: "label=x"}, hsm.ErrModuleNotFound, "install"},
		{"module not loadable", hsm.Config{Module: notLib, Key: "label=x"}, hsm.ErrModuleNotLoadable, "ldd"},
		{"token not found", hsm.Config{Token: hsm.TokenSelector{Label: "no-such-token"}, Key: "label=x"}, hsm.ErrTokenNotFound, softLabel},
		{"wrong PIN", hsm.Config{Key: "label=x", PIN: wrongPIN}, hsm.ErrPINIncorrect, "check the PIN"},
		{"key not found", hsm.Config{Key: "label=no-such-key"}, hsm.ErrKeyNotFound, "list-objects"},
		{"ambiguous", hsm.Config{Key: "label=twice"}, hsm.ErrAmbiguousKey, "type=private or type=secret-key"},
		{"not extractable", hsm.Config{Key: "label=non-extractable"}, hsm.ErrNotExtractable, "CKA_EXTRACTABLE"},
		{"AES-128", hsm.Config{Key: "label=aes128"}, hsm.ErrUnsupportedKey, "AES-256"},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := open(c.cfg)
			if !errors.Is(err, c.want) {
				t.Fatalf("got %v; want %v", err, c.want)
			}
			if !strings.Contains(err.Error(), c.fix) {
				t.Errorf("%q does not say %q", err, c.fix)
			}
			for _, pin := range [][]byte{wrongPIN, softUserPIN, softSOPIN} {
				if strings.Contains(err.Error(), string(pin)) {
					t.Fatalf("the error shows a PIN: %v", err)
				}
			}
			if c.want == hsm.ErrPINIncorrect {
				var rv pkcs11.Error
				if !errors.As(err, &rv) || rv != pkcs11.CKR_PIN_INCORRECT {
					t.Errorf("errors.As pkcs11.Error: %v", rv)
				}
			}
			t.Logf("%v", err)
		})
	}
}

// TestSoftHSMModuleShared: one module per path, reference-counted.
func TestSoftHSMModuleShared(t *testing.T) {
	needSoftHSM(t)
	a, err := hsm.OpenModule(hsmtest.SoftHSMPath)
	if err != nil {
		t.Fatal(err)
	}
	real, _ := filepath.EvalSymlinks(hsmtest.SoftHSMPath)
	b, err := hsm.OpenModule(real)
	if err != nil {
		t.Fatal(err)
	}
	if a != b {
		t.Fatalf("two Modules for one library (%s and %s)", hsmtest.SoftHSMPath, real)
	}
	b.Close()
	if _, err := a.Tokens(); err != nil {
		t.Fatalf("the module was finalised while a reference remained: %v", err)
	}
	a.Close()
}
