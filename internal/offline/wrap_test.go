package offline

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/byok-go/byok"
	"github.com/byok-go/byok/driver"
	"github.com/byok-go/byok/driver/software"
	"github.com/byok-go/byok/internal/params"
)

var (
	wrappingKeyOnce sync.Once
	wrappingKey     *rsa.PrivateKey
)

// writeParams writes a parameters directory for a SYMMETRIC_DEFAULT key,
// valid until validTo, and returns it with the wrapping private key.
func writeParams(t *testing.T, validTo time.Time) (string, *rsa.PrivateKey) {
	t.Helper()
	wrappingKeyOnce.Do(func() {
		var err error
		if wrappingKey, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			panic(err)
		}
	})
	der, err := x509.MarshalPKIXPublicKey(&wrappingKey.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	ip := byok.ImportParameters{
		KeyID:     "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
		Algorithm: byok.RSAESOAEPSHA256, WrappingKeySpec: byok.WrappingRSA2048,
		WrappingKey: &wrappingKey.PublicKey, ImportToken: []byte("an import token"), ValidTo: validTo,
	}
	dir := filepath.Join(t.TempDir(), "params")
	if err := params.Write(dir, params.New(ip, der, byok.SymmetricDefault, byok.EncryptDecrypt, time.Now()), false); err != nil {
		t.Fatal(err)
	}
	return dir, wrappingKey
}

// secretSource opens a software source of the given spec and material.
func secretSource(t *testing.T, spec byok.KeySpec, material []byte) func(context.Context, byok.KeySpec) (driver.Source, error) {
	return func(context.Context, byok.KeySpec) (driver.Source, error) {
		m, err := byok.ParseKeyMaterial(spec, bytes.Clone(material))
		if err != nil {
			t.Fatal(err)
		}
		return software.New(m, software.Options{Label: "test-key"})
	}
}

func TestWrapWritesWhatUnwrapsToTheSource(t *testing.T) {
	dir, priv := writeParams(t, time.Now().Add(24*time.Hour))
	key := make([]byte, 32)
	rand.Read(key)
	r, err := Wrap(context.Background(), WrapInput{Params: dir, Open: secretSource(t, byok.SymmetricDefault, key), Label: "aes.bin"})
	if err != nil {
		t.Fatal(err)
	}
	if r.File != filepath.Join(dir, params.EncryptedKeyMaterialFile) || r.Info == nil || r.Info.Spec != byok.SymmetricDefault {
		t.Fatalf("result %+v", r)
	}
	wrapped, err := os.ReadFile(r.File)
	if err != nil || len(wrapped) != r.Bytes {
		t.Fatalf("read %d bytes (%v), result says %d", len(wrapped), err, r.Bytes)
	}
	got, err := byok.UnwrapKeyMaterial(priv, byok.RSAESOAEPSHA256, wrapped)
	if err != nil || !bytes.Equal(got, key) {
		t.Fatalf("EncryptedKeyMaterial.bin does not unwrap to the source key (%v)", err)
	}
	set, err := params.ReadDir(dir)
	if err != nil || set.Meta.Wrapped == nil || set.Meta.Wrapped.Source.Label != "aes.bin" || set.Meta.Wrapped.Bytes != len(wrapped) {
		t.Fatalf("the wrap is not recorded: %+v, %v", set.Meta.Wrapped, err)
	}

	// A second wrap needs Force.
	_, err = Wrap(context.Background(), WrapInput{Params: dir, Open: secretSource(t, byok.SymmetricDefault, key), Label: "aes.bin"})
	if err == nil || !strings.Contains(err.Error(), "already holds "+params.EncryptedKeyMaterialFile) {
		t.Errorf("second wrap: %v", err)
	}
	if _, err := Wrap(context.Background(), WrapInput{Params: dir, Force: true, Open: secretSource(t, byok.SymmetricDefault, key), Label: "aes.bin"}); err != nil {
		t.Errorf("second wrap with Force: %v", err)
	}
}

func TestWrapRefuses(t *testing.T) {
	key := make([]byte, 32)
	rand.Read(key)
	valid, _ := writeParams(t, time.Now().Add(24*time.Hour))
	expired, _ := writeParams(t, time.Now().Add(-time.Minute))
	opened := false
	open := func(ctx context.Context, spec byok.KeySpec) (driver.Source, error) {
		opened = true
		return secretSource(t, spec, key)(ctx, spec)
	}
	for _, c := range []struct {
		name  string
		in    WrapInput
		want  string
		usage bool
	}{
		{"expired", WrapInput{Params: expired, Open: open}, "expired at", false},
		{"other algorithm", WrapInput{Params: valid, Algorithm: byok.RSAESOAEPSHA1, Open: open}, "the parameters were fetched for RSAES_OAEP_SHA_256", true},
		{"other key spec", WrapInput{Params: valid, Open: secretSource(t, byok.HMAC256, key)}, "is SYMMETRIC_DEFAULT, but the source is an HMAC_256 key", false},
	} {
		opened = false
		r, err := Wrap(context.Background(), c.in)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v; want %q", c.name, err, c.want)
		}
		if errors.Is(err, ErrUsage) != c.usage {
			t.Errorf("%s: errors.Is(err, ErrUsage) = %v", c.name, !c.usage)
		}
		if opened {
			t.Errorf("%s: the source was opened before a refusal of the parameters", c.name)
		}
		if r == nil {
			t.Fatalf("%s: no result", c.name)
		}
		if _, err := os.Stat(filepath.Join(c.in.Params, params.EncryptedKeyMaterialFile)); err == nil {
			t.Errorf("%s: EncryptedKeyMaterial.bin written", c.name)
		}
	}
}

func TestCheckWrapSourceFingerprint(t *testing.T) {
	dir, _ := writeParams(t, time.Now().Add(24*time.Hour))
	set, err := params.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	set.Meta.Source = &params.Source{Label: "recorded.pem", KeySpec: byok.SymmetricDefault, Fingerprint: "sha256:aaaa"}
	info := byok.KeyInfo{Spec: byok.SymmetricDefault, Fingerprint: "sha256:bbbb"}
	err = CheckWrapSource(context.Background(), set, info, specSource{info})
	if err == nil || !strings.Contains(err.Error(), "byok params recorded sha256:aaaa (recorded.pem)") {
		t.Errorf("another key than recorded: %v", err)
	}
	info.Fingerprint = "sha256:aaaa"
	if err := CheckWrapSource(context.Background(), set, info, specSource{info}); err != nil {
		t.Errorf("the recorded key: %v", err)
	}
}
