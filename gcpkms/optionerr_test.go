package gcpkms

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/byok-go/byok"
)

// TestOptionErrorNamesField: New and the key rules refuse an option with an
// *OptionError naming the Options field, so that a caller can name its own
// flag; a rule's refusal is still reachable with errors.Is.
func TestOptionErrorNamesField(t *testing.T) {
	ring := "projects/p/locations/global/keyRings/r"
	for _, c := range []struct {
		o     Options
		field string
		rule  Rule
	}{
		{Options{KeyRing: "projects/p/keyRings/r", KeyID: "k"}, "KeyRing", ""},
		{Options{KeyRing: ring, KeyID: "k 3"}, "KeyID", ""},
		{Options{KeyRing: ring, KeyID: "k", ImportJobID: "x/y"}, "ImportJobID", ""},
		{Options{KeyRing: ring, KeyID: "k", ProtectionLevel: "EXTERNAL"}, "ProtectionLevel", RuleProtectionLevel},
		{Options{KeyRing: ring, KeyID: "k", Algorithm: "ec_sign_p256_sha256"}, "Algorithm", RuleAlgorithmFits},
	} {
		_, err := New(offline{}, c.o)
		var oe *OptionError
		if !errors.As(err, &oe) || oe.Field != c.field || strings.Contains(err.Error(), "Options.") {
			t.Errorf("%+v: %v", c.o, err)
			continue
		}
		if c.rule != "" && !errors.Is(err, c.rule) {
			t.Errorf("%+v: %v does not match %s", c.o, err, c.rule)
		}
	}
	for _, c := range []struct {
		spec  byok.KeySpec
		o     Options
		field string
		rule  Rule
	}{
		{byok.ECCNISTP256, Options{Algorithm: "EC_SIGN_P384_SHA384"}, "Algorithm", RuleAlgorithmFits},
		{byok.ECCSECGP256K1, Options{ProtectionLevel: "software"}, "ProtectionLevel", RuleSecp256k1HSM},
	} {
		c.o.KeyRing, c.o.KeyID = ring, "k"
		tg, err := New(offline{}, c.o)
		if err != nil {
			t.Fatal(err)
		}
		_, err = tg.ChooseWrapping(byok.KeyInfo{Spec: c.spec}, nil, "", "")
		var oe *OptionError
		if !errors.As(err, &oe) || oe.Field != c.field || !errors.Is(err, c.rule) || !errors.Is(err, byok.ErrIncompatible) || strings.Contains(err.Error(), "Options.") {
			t.Errorf("%s %+v: %v", c.spec, c.o, err)
		}
	}
}

// offline is a client New accepts; the tests above make no call.
type offline struct{ API }

// TestExistingKeyOfAnotherAlgorithm: an existing key of another algorithm
// is refused as a key that exists with another setting (not as a wrapping
// problem), matching byok.ErrIncompatible.
func TestExistingKeyOfAnotherAlgorithm(t *testing.T) {
	_, client := newFake(t)
	ctx := context.Background()
	if _, err := new(byok.Importer).Import(ctx, softwareKey(t, byok.ECCNISTP256), fakeTarget(t, client, Options{KeyID: "p256"})); err != nil {
		t.Fatal(err)
	}
	_, err := new(byok.Importer).Import(ctx, softwareKey(t, byok.ECCNISTP384), fakeTarget(t, client, Options{KeyID: "p256"}))
	var ke *KeyExistsError
	if !errors.As(err, &ke) || ke.What != "algorithm" || ke.Has != "EC_SIGN_P256_SHA256" || ke.Wants != "EC_SIGN_P384_SHA384" || ke.Field != "" {
		t.Fatalf("%v (%+v)", err, ke)
	}
	if !errors.Is(err, byok.ErrIncompatible) || strings.Contains(err.Error(), byok.ErrIncompatible.Error()) {
		t.Errorf("want ErrIncompatible matched but not in the text: %v", err)
	}
	// PSS into a PKCS#1 key: the key's algorithm fits the source key too.
	if _, err := new(byok.Importer).Import(ctx, softwareKey(t, byok.RSA2048, byok.SignVerify), fakeTarget(t, client, Options{KeyID: "pkcs1"})); err != nil {
		t.Fatal(err)
	}
	_, err = new(byok.Importer).Import(ctx, softwareKey(t, byok.RSA2048, byok.SignVerify), fakeTarget(t, client, Options{KeyID: "pkcs1", Algorithm: "RSA_SIGN_PSS_2048_SHA256"}))
	if !errors.As(err, &ke) || ke.Field != "Algorithm" || ke.Has != "RSA_SIGN_PKCS1_2048_SHA256" {
		t.Errorf("%v (%+v)", err, ke)
	}
}

func TestArticle(t *testing.T) {
	for in, want := range map[string]string{
		"ECC_NIST_P521": "an ECC_NIST_P521", "RSA_4096": "an RSA_4096", "HMAC_256": "an HMAC_256",
		"SYMMETRIC_DEFAULT": "a SYMMETRIC_DEFAULT", "ECC_SECG_P256K1": "an ECC_SECG_P256K1", "HSM": "an HSM", "SOFTWARE": "a SOFTWARE",
	} {
		if got := a(in); got != want {
			t.Errorf("a(%q) = %q, want %q", in, got, want)
		}
	}
}
