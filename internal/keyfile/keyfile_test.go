package keyfile

import (
	"bytes"
	"crypto/x509"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func isInvalid(err error) bool { return errors.Is(err, ErrInvalid) }

// fixtures returns the key files of the root package's testdata.
func fixtures(t testing.TB) map[string][]byte {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("..", "..", "testdata", "keys", "*"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no fixtures: %v", err)
	}
	out := map[string][]byte{}
	for _, f := range files {
		if strings.HasSuffix(f, ".md") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out[filepath.Base(f)] = b
	}
	return out
}

const testPassphrase = "byok-test-passphrase"

// TestLoadFixtures loads every importable RSA and EC fixture in each of its
// encodings and compares the KMS form with OpenSSL's (pkcs8.der), byte for
// byte; the root's tests cover the rest through LoadKeyFile.
func TestLoadFixtures(t *testing.T) {
	fx := fixtures(t)
	n := 0
	for name, data := range fx {
		base, _, _ := strings.Cut(name, ".")
		want, ok := fx[base+".pkcs8.der"]
		if !ok || strings.HasPrefix(name, "bad-") || strings.Contains(name, ".pub.") {
			continue
		}
		k, err := Load(data, Options{Passphrase: []byte(testPassphrase)})
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		got := k.PKCS8()
		// The encoder wrote into the one buffer it sized (build), so that
		// clearing got clears every copy.
		size := 0
		if k.ec != nil {
			size = 96 + len(k.ec.d) + len(k.ec.pub) + 1
		} else {
			size = len(x509.MarshalPKCS1PrivateKey(k.rsa)) + 33
		}
		if cap(got) != size {
			t.Errorf("%s: the encoder outgrew its buffer (cap %d, want %d)", name, cap(got), size)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s: PKCS8 differs from `openssl pkcs8 -topk8 -nocrypt -outform DER`", name)
		}
		if pub, err := k.PublicDER(); err != nil || !bytes.Equal(pub, fx[base+".pub.der"]) {
			t.Errorf("%s: PublicDER differs from `openssl pkey -pubout -outform DER` (%v)", name, err)
		}
		s, err := ParsePKCS8(got, k.Spec(), true)
		if err != nil || s.Spec() != k.Spec() || !bytes.Equal(s.PKCS8(), got) {
			t.Errorf("%s: the strict parser does not take the KMS form back unchanged: %v", name, err)
		}
		k.Clear()
		n++
	}
	if n < 30 {
		t.Errorf("loaded only %d fixtures", n)
	}
}

// TestParseECPublic reads back the SubjectPublicKeyInfo of each curve and
// refuses one with another algorithm.
func TestParseECPublic(t *testing.T) {
	fx := fixtures(t)
	for _, c := range curves {
		base := map[string]string{"ECC_NIST_P256": "p256", "ECC_NIST_P384": "p384", "ECC_NIST_P521": "p521", "ECC_SECG_P256K1": "secp256k1"}[c.Spec]
		spki := fx[base+".pub.der"]
		if _, err := ParseECPublic(spki); err != nil {
			t.Errorf("%s: %v", c.Spec, err)
		}
		if _, err := ParseECPublic(append(bytes.Clone(spki), 0)); err == nil {
			t.Errorf("%s: trailing byte accepted", c.Spec)
		}
	}
	if _, err := ParseECPublic(fx["rsa2048.pub.der"]); err == nil {
		t.Error("an RSA SubjectPublicKeyInfo was read as EC")
	}
}
