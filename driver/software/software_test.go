package software_test

import (
	"context"
	"crypto"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"errors"
	"path/filepath"
	"testing"

	"github.com/byok-go/byok"
	"github.com/byok-go/byok/driver"
	"github.com/byok-go/byok/driver/software"
)

func key(name string) string { return filepath.Join("..", "..", "testdata", "keys", name) }

func TestOpenThroughRegistry(t *testing.T) {
	ctx := context.Background()
	src, err := driver.Open(ctx, "software", driver.Config{Key: key("p384.sec1.pem")})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	info, err := src.Describe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.Spec != byok.ECCNISTP384 || info.Label != key("p384.sec1.pem") || len(info.PublicKeyDER) == 0 {
		t.Errorf("Describe = %+v", info)
	}

	_, err = driver.Open(ctx, "software", driver.Config{Key: key("p256.enc.pem")})
	if !errors.Is(err, byok.ErrEncrypted) {
		t.Errorf("encrypted key without passphrase: %v; want ErrEncrypted", err)
	}
	_, err = driver.Open(ctx, "software", driver.Config{Key: key("hmac256.hex")})
	if err == nil {
		t.Error("a hex secret key without a key spec was accepted")
	}
	_, err = driver.Open(ctx, "software", driver.Config{Key: key("p256.pkcs8.pem"), Usage: byok.GenerateVerifyMAC})
	if err == nil {
		t.Error("an EC key with usage GENERATE_VERIFY_MAC was accepted")
	}
	_, err = driver.Open(ctx, "software", driver.Config{})
	if err == nil {
		t.Error("no key file named, yet no error")
	}
}

func TestSignerVerifiesUnderPublicKey(t *testing.T) {
	ctx := context.Background()
	for _, f := range []string{"rsa2048.pkcs8.pem", "p256.pkcs8.pem", "p384.pkcs8.pem", "p521.pkcs8.pem", "secp256k1.pkcs8.pem"} {
		src, err := software.Open(key(f), byok.LoadOptions{}, software.Options{})
		if err != nil {
			t.Fatal(err)
		}
		signer, err := src.Signer(ctx)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		h := crypto.SHA256
		if src.Material().Spec() == byok.ECCNISTP521 {
			h = crypto.SHA512
		}
		d := h.New()
		d.Write([]byte("message"))
		digest := d.Sum(nil)
		sig, err := signer.Sign(rand.Reader, digest, h)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		// The public key the signer reports is the material's.
		pub, err := byok.ParsePublicKeyDER(src.Material().PublicKeyDER())
		if err != nil {
			t.Fatal(err)
		}
		if rp, ok := pub.(*rsa.PublicKey); ok {
			if err := rsa.VerifyPKCS1v15(rp, h, digest, sig); err != nil {
				t.Errorf("%s: %v", f, err)
			}
		}
		if e, ok := signer.Public().(interface{ Equal(crypto.PublicKey) bool }); ok && !e.Equal(pub) {
			t.Errorf("%s: the signer's public key is not the material's", f)
		}
		src.Close()
		if _, err := src.Signer(ctx); err == nil {
			t.Errorf("%s: a closed source still signs", f)
		}
	}
}

func TestMAC(t *testing.T) {
	ctx := context.Background()
	k := make([]byte, 64)
	rand.Read(k)
	m, err := byok.NewSecretKeyMaterial(byok.HMAC512, k)
	if err != nil {
		t.Fatal(err)
	}
	src, err := software.New(m, software.Options{})
	if err != nil {
		t.Fatal(err)
	}
	got, err := src.MAC(ctx, []byte("msg"))
	if err != nil {
		t.Fatal(err)
	}
	want := hmac.New(sha512.New, k)
	want.Write([]byte("msg"))
	if !hmac.Equal(got, want.Sum(nil)) {
		t.Error("MAC differs from HMAC-SHA-512")
	}
	wrong := hmac.New(sha256.New, k)
	wrong.Write([]byte("msg"))
	if hmac.Equal(got, wrong.Sum(nil)) {
		t.Error("MAC used the wrong hash")
	}
	aes, _ := byok.NewSecretKeyMaterial(byok.SymmetricDefault, k[:32])
	s2, _ := software.New(aes, software.Options{})
	if _, err := s2.MAC(ctx, nil); err == nil {
		t.Error("an AES key computed an HMAC")
	}
	if _, err := s2.Signer(ctx); err == nil {
		t.Error("an AES key produced a signer")
	}
	if _, err := software.New(nil, software.Options{}); err == nil {
		t.Error("New(nil) succeeded")
	}
}
