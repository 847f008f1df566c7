package gcpkms

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"testing"

	"github.com/byok-go/byok"
	"github.com/byok-go/byok/driver/software"
)

// The expected names are written out from Cloud KMS's algorithm list
// (https://cloud.google.com/kms/docs/algorithms), not computed.
func TestAlgorithmFor(t *testing.T) {
	for _, c := range []struct {
		spec  byok.KeySpec
		usage byok.KeyUsage
		want  string
	}{
		{byok.SymmetricDefault, "", "GOOGLE_SYMMETRIC_ENCRYPTION"},
		{byok.HMAC224, "", "HMAC_SHA224"},
		{byok.HMAC256, "", "HMAC_SHA256"},
		{byok.HMAC384, "", "HMAC_SHA384"},
		{byok.HMAC512, byok.GenerateVerifyMAC, "HMAC_SHA512"},
		{byok.RSA2048, "", "RSA_SIGN_PKCS1_2048_SHA256"},
		{byok.RSA3072, byok.SignVerify, "RSA_SIGN_PKCS1_3072_SHA256"},
		{byok.RSA4096, "", "RSA_SIGN_PKCS1_4096_SHA256"},
		{byok.RSA2048, byok.EncryptDecrypt, "RSA_DECRYPT_OAEP_2048_SHA256"},
		{byok.RSA3072, byok.EncryptDecrypt, "RSA_DECRYPT_OAEP_3072_SHA256"},
		{byok.RSA4096, byok.EncryptDecrypt, "RSA_DECRYPT_OAEP_4096_SHA256"},
		{byok.ECCNISTP256, "", "EC_SIGN_P256_SHA256"},
		{byok.ECCNISTP384, byok.SignVerify, "EC_SIGN_P384_SHA384"},
		{byok.ECCSECGP256K1, "", "EC_SIGN_SECP256K1_SHA256"},
	} {
		got, err := AlgorithmFor(c.spec, c.usage)
		if err != nil || got != c.want {
			t.Errorf("AlgorithmFor(%s, %q) = %q, %v; want %q", c.spec, c.usage, got, err, c.want)
		}
	}
}

func TestAlgorithmForRefuses(t *testing.T) {
	for _, c := range []struct {
		spec  byok.KeySpec
		usage byok.KeyUsage
		rule  Rule
	}{
		{byok.ECCNISTP521, "", RuleAlgorithms},
		{byok.ECCNISTP521, byok.KeyAgreement, RuleNoKeyAgreement},
		{byok.ECCNISTP256, byok.KeyAgreement, RuleNoKeyAgreement},
		{byok.ECCNISTP384, byok.KeyAgreement, RuleNoKeyAgreement},
	} {
		_, err := AlgorithmFor(c.spec, c.usage)
		if !errors.Is(err, c.rule) || !errors.Is(err, byok.ErrNotImportable) {
			t.Errorf("AlgorithmFor(%s, %q) = %v; want rule %s and ErrNotImportable", c.spec, c.usage, err, c.rule)
		}
	}
	if _, err := AlgorithmFor("ML_DSA_44", ""); !errors.Is(err, byok.ErrNotImportable) {
		t.Errorf("ML_DSA_44: %v", err)
	}
}

func TestImportMethods(t *testing.T) {
	for _, c := range []struct {
		alg  byok.WrappingAlgorithm
		wks  byok.WrappingKeySpec
		want string
	}{
		{byok.RSAAESKeyWrapSHA256, byok.WrappingRSA4096, "RSA_OAEP_4096_SHA256_AES_256"},
		{byok.RSAAESKeyWrapSHA256, byok.WrappingRSA3072, "RSA_OAEP_3072_SHA256_AES_256"},
		{byok.RSAAESKeyWrapSHA1, byok.WrappingRSA4096, "RSA_OAEP_4096_SHA1_AES_256"},
		{byok.RSAAESKeyWrapSHA1, byok.WrappingRSA3072, "RSA_OAEP_3072_SHA1_AES_256"},
		{byok.RSAESOAEPSHA256, byok.WrappingRSA4096, "RSA_OAEP_4096_SHA256"},
		{byok.RSAESOAEPSHA256, byok.WrappingRSA3072, "RSA_OAEP_3072_SHA256"},
	} {
		if got, err := ImportMethod(c.alg, c.wks); err != nil || got != c.want {
			t.Errorf("ImportMethod(%s, %s) = %q, %v; want %s", c.alg, c.wks, got, err, c.want)
		}
	}
	for _, c := range []struct {
		alg byok.WrappingAlgorithm
		wks byok.WrappingKeySpec
	}{
		{byok.RSAESOAEPSHA1, byok.WrappingRSA4096},
		{byok.RSAESOAEPSHA1, byok.WrappingRSA3072},
		{byok.RSAAESKeyWrapSHA256, byok.WrappingRSA2048},
		{byok.RSAESOAEPSHA256, byok.WrappingRSA2048},
	} {
		if _, err := ImportMethod(c.alg, c.wks); !errors.Is(err, RuleMethods) || !errors.Is(err, byok.ErrIncompatible) {
			t.Errorf("ImportMethod(%s, %s) = %v; want RuleMethods", c.alg, c.wks, err)
		}
	}
}

func newTestTarget(t *testing.T, o Options) *Target {
	t.Helper()
	if o.KeyRing == "" {
		o.KeyRing = "projects/p/locations/global/keyRings/r"
	}
	if o.KeyID == "" {
		o.KeyID = "k"
	}
	tg, err := New(noCalls{}, o)
	if err != nil {
		t.Fatal(err)
	}
	return tg
}

// noCalls is an API that must not be called: every method panics.
type noCalls struct{ API }

var (
	sha1Only    = []byok.WrappingAlgorithm{byok.RSAESOAEPSHA1, byok.RSAAESKeyWrapSHA1} // SoftHSM: OAEP SHA-1, two-step key wrap
	oaepSHA1    = []byok.WrappingAlgorithm{byok.RSAESOAEPSHA1}                         // SoftHSM secret keys, as hsm lists them
	allSHA256KW = []byok.WrappingAlgorithm{byok.RSAAESKeyWrapSHA256}
)

func TestChooseWrapping(t *testing.T) {
	tg := newTestTarget(t, Options{})
	for _, c := range []struct {
		spec     byok.KeySpec
		can      []byok.WrappingAlgorithm
		alg      byok.WrappingAlgorithm
		wks      byok.WrappingKeySpec
		wantAlg  byok.WrappingAlgorithm
		wantWKS  byok.WrappingKeySpec
		fallback bool
	}{
		{byok.SymmetricDefault, nil, "", "", byok.RSAESOAEPSHA256, byok.WrappingRSA4096, false},
		{byok.HMAC512, nil, "", "", byok.RSAESOAEPSHA256, byok.WrappingRSA4096, false},
		{byok.HMAC256, allSHA256KW, "", "", byok.RSAAESKeyWrapSHA256, byok.WrappingRSA4096, false},
		{byok.HMAC256, sha1Only, "", "", byok.RSAAESKeyWrapSHA1, byok.WrappingRSA4096, true},
		{byok.RSA2048, nil, "", "", byok.RSAAESKeyWrapSHA256, byok.WrappingRSA4096, false},
		{byok.RSA4096, sha1Only, "", "", byok.RSAAESKeyWrapSHA1, byok.WrappingRSA4096, true},
		{byok.ECCNISTP256, nil, "", "", byok.RSAAESKeyWrapSHA256, byok.WrappingRSA4096, false},
		{byok.ECCNISTP384, nil, "", byok.WrappingRSA3072, byok.RSAAESKeyWrapSHA256, byok.WrappingRSA3072, false},
		{byok.SymmetricDefault, nil, byok.RSAAESKeyWrapSHA1, "", byok.RSAAESKeyWrapSHA1, byok.WrappingRSA4096, false},
	} {
		ch, err := tg.ChooseWrapping(byok.KeyInfo{Spec: c.spec}, c.can, c.alg, c.wks)
		if err != nil || ch.Algorithm != c.wantAlg || ch.WrappingKeySpec != c.wantWKS || ch.Fallback != c.fallback || ch.Reason == "" {
			t.Errorf("%s can=%v alg=%q wks=%q: %+v, %v; want %s %s fallback=%v", c.spec, c.can, c.alg, c.wks, ch, err, c.wantAlg, c.wantWKS, c.fallback)
		}
	}
}

func TestChooseWrappingRefuses(t *testing.T) {
	tg := newTestTarget(t, Options{})
	for _, c := range []struct {
		spec byok.KeySpec
		can  []byok.WrappingAlgorithm
		alg  byok.WrappingAlgorithm
		wks  byok.WrappingKeySpec
		rule Rule
	}{
		{byok.SymmetricDefault, oaepSHA1, "", "", RuleMethods},
		{byok.HMAC256, oaepSHA1, "", "", RuleMethods},
		{byok.RSA2048, []byok.WrappingAlgorithm{byok.RSAESOAEPSHA256}, "", "", RuleMethods},
		{byok.RSA2048, nil, "", byok.WrappingRSA2048, RuleMethods},
		{byok.SymmetricDefault, nil, byok.RSAESOAEPSHA1, "", RuleMethods},
		{byok.ECCNISTP256, nil, byok.RSAESOAEPSHA256, "", RuleOAEPSymmetricOnly},
		{byok.RSA3072, nil, byok.RSAESOAEPSHA256, byok.WrappingRSA4096, RuleOAEPSymmetricOnly},
		{byok.ECCNISTP521, nil, "", "", RuleAlgorithms},
	} {
		_, err := tg.ChooseWrapping(byok.KeyInfo{Spec: c.spec}, c.can, c.alg, c.wks)
		if !errors.Is(err, c.rule) {
			t.Errorf("%s can=%v alg=%q wks=%q: %v; want rule %s", c.spec, c.can, c.alg, c.wks, err, c.rule)
		}
		if c.rule != RuleAlgorithms && !errors.Is(err, byok.ErrIncompatible) {
			t.Errorf("%s: %v does not match byok.ErrIncompatible", c.spec, err)
		}
	}
}

func TestProtectionLevelAndAlgorithmRules(t *testing.T) {
	sw := newTestTarget(t, Options{ProtectionLevel: "SOFTWARE"})
	if _, err := sw.ChooseWrapping(byok.KeyInfo{Spec: byok.ECCSECGP256K1}, nil, "", ""); !errors.Is(err, RuleSecp256k1HSM) {
		t.Errorf("secp256k1 in SOFTWARE: %v", err)
	}
	if _, err := sw.ChooseWrapping(byok.KeyInfo{Spec: byok.ECCNISTP256}, nil, "", ""); err != nil {
		t.Errorf("P-256 in SOFTWARE: %v", err)
	}
	pss := newTestTarget(t, Options{Algorithm: "RSA_SIGN_PSS_2048_SHA256"})
	if _, err := pss.ChooseWrapping(byok.KeyInfo{Spec: byok.RSA2048}, nil, "", ""); err != nil {
		t.Errorf("PSS 2048 for RSA_2048: %v", err)
	}
	for _, info := range []byok.KeyInfo{{Spec: byok.RSA3072}, {Spec: byok.RSA2048, Usage: byok.EncryptDecrypt}, {Spec: byok.ECCNISTP256}} {
		if _, err := pss.ChooseWrapping(info, nil, "", ""); !errors.Is(err, RuleAlgorithmFits) {
			t.Errorf("PSS 2048 for %s %s: %v", info.Spec, info.Usage, err)
		}
	}
	for _, o := range []Options{
		{KeyRing: "projects/p/keyRings/r", KeyID: "k"},
		{KeyRing: "projects/p/locations/l/keyRings/r/", KeyID: "k"},
		{KeyRing: "projects/p/locations/l/keyRings/r", KeyID: "a/b"},
		{KeyRing: "projects/p/locations/l/keyRings/r", KeyID: "k", ProtectionLevel: "EXTERNAL"},
		{KeyRing: "projects/p/locations/l/keyRings/r", KeyID: "k", Algorithm: "RSA_SIGN_PSS_1024"},
		{KeyRing: "projects/p/locations/l/keyRings/r", KeyID: "k", ImportJobID: "x y"},
	} {
		if _, err := New(noCalls{}, o); err == nil {
			t.Errorf("New(%+v) accepted", o)
		}
	}
	if _, err := New(nil, Options{KeyRing: "projects/p/locations/l/keyRings/r", KeyID: "k"}); err == nil {
		t.Error("New(nil) accepted")
	}
}

// TestRefusedBeforeAnyCall: the importer asks the target's rules before
// Prepare, so a P-521 key and a forced RSA_2048 wrapping key never reach
// the client (noCalls panics on any call).
func TestRefusedBeforeAnyCall(t *testing.T) {
	ctx := context.Background()
	k, err := ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	m, err := byok.NewKeyMaterial(k)
	if err != nil {
		t.Fatal(err)
	}
	src, err := software.New(m, software.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	tg := newTestTarget(t, Options{})
	if _, err := new(byok.Importer).Import(ctx, src, tg); !errors.Is(err, RuleAlgorithms) || !errors.Is(err, byok.ErrNotImportable) {
		t.Fatalf("P-521: %v", err)
	}
	p256 := softwareKey(t, byok.ECCNISTP256)
	im := &byok.Importer{WrappingKeySpec: byok.WrappingRSA2048}
	if _, err := im.Import(ctx, p256, tg); !errors.Is(err, RuleMethods) || !errors.Is(err, byok.ErrIncompatible) {
		t.Fatalf("RSA_2048 wrapping key: %v", err)
	}
	im = &byok.Importer{Algorithm: byok.RSAESOAEPSHA256}
	if _, err := im.Import(ctx, p256, tg); !errors.Is(err, RuleOAEPSymmetricOnly) {
		t.Fatalf("RSAES_OAEP_SHA_256 for P-256: %v", err)
	}
}
