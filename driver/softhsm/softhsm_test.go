package softhsm_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/byok-go/byok"
	"github.com/byok-go/byok/driver"
	"github.com/byok-go/byok/driver/softhsm"
	"github.com/byok-go/byok/hsm"
	"github.com/byok-go/byok/hsm/hsmtest"
	"github.com/byok-go/byok/kmstest"
)

// TestMaterialLength migrates an RSA key from SoftHSM through the
// registry: only with the material-length option, since SoftHSM's AES key
// wrap zero-fills.
func TestMaterialLength(t *testing.T) {
	ctx := context.Background()
	k, err := hsmtest.RSAKey("rsa2048-len8")
	if err != nil {
		t.Fatal(err)
	}
	m, _ := byok.NewKeyMaterial(k)
	cfg := driver.Config{Token: exampleToken, Key: "label=example-rsa", PIN: examplePIN}
	src, err := driver.Open(ctx, "softhsm", cfg)
	if err != nil {
		t.Fatal(err)
	}
	_, err = src.(byok.AlgorithmLister).WrappingAlgorithms(ctx)
	src.Close()
	if !errors.Is(err, hsm.ErrNoWrapping) || !strings.Contains(err.Error(), "material-length") {
		t.Fatalf("without material-length: %v; want ErrNoWrapping pointing at the option", err)
	}

	cfg.Options = map[string]string{"material-length": "1216"}
	if m.Len() != 1216 {
		t.Fatalf("the test key's PKCS#8 is %d bytes", m.Len())
	}
	src, err = driver.Open(ctx, "softhsm", cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	srv := kmstest.NewServer(kmstest.WithWrappingKeyCache(true))
	defer srv.Close()
	res, err := new(byok.Importer).Import(ctx, src, &byok.KMS{Client: kms.NewFromConfig(srv.AWSConfig())})
	if err != nil {
		t.Fatal(err)
	}
	if res.Algorithm != byok.RSAAESKeyWrapSHA1 || !res.Fallback {
		t.Errorf("imported with %s (fallback %v); want RSA_AES_KEY_WRAP_SHA_1 as the SHA-1 fallback", res.Algorithm, res.Fallback)
	}
	hsmtest.CheckVerified(t, res)
}

// TestDirect builds the source from the package's config struct, without
// the registry.
func TestDirect(t *testing.T) {
	src, err := softhsm.Open(context.Background(), softhsm.Config{Token: hsm.TokenSelector{Label: exampleToken}, Key: "label=example-aes", PIN: examplePIN})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	if info, err := src.Describe(context.Background()); err != nil || info.Spec != byok.SymmetricDefault {
		t.Fatalf("Describe: %+v, %v", info, err)
	}
	if !slices.Contains(driver.Drivers(), "softhsm") {
		t.Errorf("drivers %v lack softhsm", driver.Drivers())
	}
	if _, err := driver.Open(context.Background(), "softhsm", driver.Config{Key: "label=example-aes", PIN: examplePIN,
		Options: map[string]string{"colour": "red"}}); err == nil || !strings.Contains(err.Error(), "unknown driver option") {
		t.Errorf("an unknown option: %v", err)
	}
}

// TestProfile: what Profile documents is what the probe finds in the
// SoftHSM installed here (2.6.1 on Debian 12), so that probe=off gives the
// same choices as probing.
func TestProfile(t *testing.T) {
	src, err := softhsm.Open(context.Background(), softhsm.Config{Token: hsm.TokenSelector{Label: exampleToken}, Key: "label=example-aes", PIN: examplePIN})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	caps, err := src.Token().Capabilities(context.Background(), true)
	if err != nil {
		t.Fatal(err)
	}
	if diff := hsmtest.CapabilitiesDiff(softhsm.Profile.Documented, *caps); diff != "" {
		t.Errorf("the probe and softhsm.Profile.Documented disagree (-profile +probe):\n%s", diff)
	}
}
