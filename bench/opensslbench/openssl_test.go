//go:build openssl && cgo

package opensslbench

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"strings"
	"testing"

	"github.com/byok-go/byok"
	"github.com/byok-go/byok/internal/kwp"
)

func TestVersion(t *testing.T) {
	if v := Version(); !strings.HasPrefix(v, "OpenSSL 3") {
		t.Errorf("Version() = %q, want OpenSSL 3", v)
	}
	if !Available {
		t.Error("Available is false in an openssl build")
	}
}

// TestWrapPadAgrees checks OpenSSL's RFC 5649 output against byok's, so
// that the side-by-side figures compare the same computation.
func TestWrapPadAgrees(t *testing.T) {
	for _, kl := range []int{16, 24, 32} {
		for _, n := range []int{1, 8, 9, 32, 2375} {
			kek, pt := make([]byte, kl), make([]byte, n)
			rand.Read(kek)
			rand.Read(pt)
			got, err := WrapPad(kek, pt, 3)
			if err != nil {
				t.Fatal(err)
			}
			want, err := kwp.Wrap(kek, pt)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("kek %d, %d bytes: OpenSSL and byok differ", kl, n)
			}
		}
	}
	if _, err := WrapPad(make([]byte, 20), []byte("x"), 1); err == nil {
		t.Error("a 20-byte KEK was accepted")
	}
	if _, err := WrapPad(make([]byte, 32), nil, 1); err == nil {
		t.Error("an empty plaintext was accepted")
	}
}

// TestWrapUnwraps checks that OpenSSL's output of every wrapping
// algorithm unwraps with byok.UnwrapKeyMaterial, as KMS would unwrap it.
func TestWrapUnwraps(t *testing.T) {
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	spki, err := x509.MarshalPKIXPublicKey(&priv.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	k, err := ParsePublicKey(spki)
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	for _, alg := range byok.WrappingAlgorithms() {
		for _, n := range []int{32, 190, 1216} {
			if !alg.IsKeyWrap() && n > 256-2*alg.Hash().Size()-2 { // RSA-OAEP limit (RFC 8017, 7.1.1)
				continue
			}
			mat := make([]byte, n)
			rand.Read(mat)
			out, err := k.Wrap(alg, mat, 2)
			if err != nil {
				t.Fatalf("%s, %d bytes: %v", alg, n, err)
			}
			want := 256 // one RSA block; RSA_AES_KEY_WRAP adds RFC 5649 of the material
			if alg.IsKeyWrap() {
				want += 8 + (n+7)&^7
			}
			if len(out) != want {
				t.Errorf("%s, %d bytes: %d bytes out", alg, n, len(out))
			}
			back, err := byok.UnwrapKeyMaterial(priv, alg, out)
			if err != nil || !bytes.Equal(back, mat) {
				t.Errorf("%s, %d bytes: does not unwrap: %v", alg, n, err)
			}
		}
	}
	if _, err := k.Wrap(byok.RSAESOAEPSHA256, make([]byte, 300), 1); err == nil {
		t.Error("OAEP of 300 bytes under RSA-2048 succeeded")
	}
	if _, err := k.Wrap(byok.RSAESPKCS1V15, make([]byte, 32), 1); err == nil {
		t.Error("RSAES_PKCS1_V1_5 was accepted")
	}
	k.Close()
	k.Close()
	if _, err := k.Wrap(byok.RSAESOAEPSHA256, make([]byte, 32), 1); err == nil {
		t.Error("a closed key wrapped")
	}
}

func TestParsePublicKeyErrors(t *testing.T) {
	if _, err := ParsePublicKey(nil); err == nil {
		t.Error("an empty key parsed")
	}
	if _, err := ParsePublicKey([]byte("not DER")); err == nil {
		t.Error("garbage parsed")
	}
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	spki, _ := x509.MarshalPKIXPublicKey(&ec.PublicKey)
	if _, err := ParsePublicKey(spki); err == nil {
		t.Error("an EC key was taken as a wrapping key")
	}
}
