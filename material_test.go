package byok

import (
	"bytes"
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/decred/dcrd/dcrec/secp256k1/v4"
)

var (
	rsaKeysOnce sync.Once
	rsaKeys     map[int]*rsa.PrivateKey
)

// goRSAKeys generates one RSA key of each importable size, once.
func goRSAKeys(t *testing.T) map[int]*rsa.PrivateKey {
	t.Helper()
	rsaKeysOnce.Do(func() {
		rsaKeys = map[int]*rsa.PrivateKey{}
		for _, bits := range []int{2048, 3072, 4096} {
			k, err := rsa.GenerateKey(rand.Reader, bits)
			if err != nil {
				panic(err)
			}
			rsaKeys[bits] = k
		}
	})
	return rsaKeys
}

func TestNewKeyMaterialGoKeys(t *testing.T) {
	rk := goRSAKeys(t)
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	p521, _ := ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	x256, _ := ecdh.P256().GenerateKey(rand.Reader)
	k1, err := secp256k1.GeneratePrivateKey()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		key  any
		spec KeySpec
		pub  any // the key's public key
	}{
		{"RSA 2048", rk[2048], RSA2048, &rk[2048].PublicKey},
		{"RSA 3072", rk[3072], RSA3072, &rk[3072].PublicKey},
		{"RSA 4096", rk[4096], RSA4096, &rk[4096].PublicKey},
		{"ECDSA P-256", p256, ECCNISTP256, &p256.PublicKey},
		{"ECDSA P-384", p384, ECCNISTP384, &p384.PublicKey},
		{"ECDSA P-521", p521, ECCNISTP521, &p521.PublicKey},
		{"ECDH P-256", x256, ECCNISTP256, nil},
		{"secp256k1", k1, ECCSECGP256K1, k1.PubKey()},
		{"secp256k1 as ecdsa", k1.ToECDSA(), ECCSECGP256K1, k1.PubKey()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := NewKeyMaterial(tt.key)
			if err != nil {
				t.Fatal(err)
			}
			if m.Spec() != tt.spec || !slices.Equal(m.Usages(), tt.spec.Usages()) {
				t.Errorf("Spec() = %s, Usages() = %v", m.Spec(), m.Usages())
			}
			b := m.Bytes()
			if len(b) != m.Len() || len(b) > tt.spec.MaterialLen() || tt.spec.Kind() == KindEC && len(b) != tt.spec.MaterialLen() {
				t.Errorf("Len() = %d, len(Bytes()) = %d, MaterialLen = %d", m.Len(), len(b), tt.spec.MaterialLen())
			}
			// The strict parser takes it back.
			p, err := ParseKeyMaterial(tt.spec, b)
			if err != nil {
				t.Fatalf("ParseKeyMaterial: %v", err)
			}
			if !p.Equal(m) || !bytes.Equal(p.PublicKeyDER(), m.PublicKeyDER()) {
				t.Error("ParseKeyMaterial changed the key")
			}
			if tt.spec != ECCSECGP256K1 {
				// The standard library agrees on the encodings.
				want, err := x509.MarshalPKCS8PrivateKey(tt.key)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(b, want) {
					t.Error("Bytes() differs from x509.MarshalPKCS8PrivateKey")
				}
				pub, err := x509.ParsePKIXPublicKey(m.PublicKeyDER())
				if err != nil {
					t.Fatal(err)
				}
				if tt.pub != nil && !pub.(interface{ Equal(crypto.PublicKey) bool }).Equal(tt.pub) {
					t.Error("PublicKeyDER is not the key's public key")
				}
			} else {
				pub, ok := m.Public().(*secp256k1.PublicKey)
				if !ok || !pub.IsEqual(tt.pub.(*secp256k1.PublicKey)) {
					t.Errorf("Public() = %T, not the key's public key", m.Public())
				}
				// id-ecPublicKey, secp256k1, the uncompressed point.
				wantDER := append(hexBytes(t, "3056301006072a8648ce3d020106052b8104000a034200"), pub.SerializeUncompressed()...)
				if !bytes.Equal(m.PublicKeyDER(), wantDER) {
					t.Errorf("PublicKeyDER = %x", m.PublicKeyDER())
				}
			}
			if tt.pub != nil {
				if eq, ok := m.Public().(interface{ Equal(crypto.PublicKey) bool }); ok && !eq.Equal(tt.pub) {
					t.Error("Public() is not the key's public key")
				}
			}
		})
	}
}

func hexBytes(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestNewKeyMaterialDoesNotModifyKey(t *testing.T) {
	k := *goRSAKeys(t)[2048]
	k.Precomputed = rsa.PrecomputedValues{}
	if _, err := NewKeyMaterial(&k); err != nil {
		t.Fatal(err)
	}
	if k.Precomputed.Dp != nil {
		t.Error("NewKeyMaterial filled in the caller's Precomputed values")
	}
}

func TestNewKeyMaterialRejects(t *testing.T) {
	rsa1024, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	//lint:ignore SA1019 multi-prime keys are what is being refused
	multi, err := rsa.GenerateMultiPrimeKey(rand.Reader, 3, 2048) //nolint:staticcheck
	if err != nil {
		t.Fatal(err)
	}
	p224, _ := ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	x25519, _ := ecdh.X25519().GenerateKey(rand.Reader)
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	mismatched := *p256
	mismatched.PublicKey = other.PublicKey
	badRSA := *goRSAKeys(t)[2048]
	badRSA.D = new(big.Int).Add(badRSA.D, big.NewInt(1))
	badRSA.Precomputed = rsa.PrecomputedValues{}

	tests := []struct {
		name string
		key  any
		is   []error
		frag string
	}{
		{"RSA 1024", rsa1024, []error{ErrUnsupportedKey}, "1024-bit RSA key"},
		{"RSA three primes", multi, []error{ErrUnsupportedKey}, "3 primes"},
		{"RSA inconsistent", &badRSA, nil, "RSA private key is invalid"},
		{"P-224", p224, []error{ErrUnsupportedKey}, "P-224"},
		{"Ed25519", ed, []error{ErrUnsupportedKey, ErrNotImportable}, "Ed25519"},
		{"*Ed25519", &ed, []error{ErrUnsupportedKey, ErrNotImportable}, "Ed25519"},
		{"X25519", x25519, []error{ErrUnsupportedKey}, "X25519"},
		{"mismatched public key", &mismatched, nil, "does not match"},
		{"nil", nil, nil, "the private key is nil"},
		{"nil RSA", (*rsa.PrivateKey)(nil), nil, "nil"},
		{"nil secp256k1", (*secp256k1.PrivateKey)(nil), nil, "nil"},
		{"RSA by value", *rsa1024, nil, "pass an *rsa.PrivateKey"},
		{"bytes", []byte("key"), nil, "[]uint8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewKeyMaterial(tt.key)
			if err == nil {
				t.Fatal("accepted")
			}
			for _, target := range append(tt.is, ErrInvalidMaterial) {
				if !errors.Is(err, target) {
					t.Errorf("%q is not %v", err, target)
				}
			}
			if !strings.HasPrefix(err.Error(), "byok: ") || !strings.Contains(err.Error(), tt.frag) {
				t.Errorf("%q does not contain %q", err, tt.frag)
			}
		})
	}
}

func TestNewSecretKeyMaterial(t *testing.T) {
	for _, spec := range KeySpecs() {
		n := spec.MaterialLen()
		if kind := spec.Kind(); kind != KindSymmetric && kind != KindHMAC {
			_, err := NewSecretKeyMaterial(spec, make([]byte, 32))
			if !errors.Is(err, ErrSpecMismatch) || !strings.Contains(err.Error(), "NewKeyMaterial or LoadKeyFile") {
				t.Errorf("%s: %v", spec, err)
			}
			continue
		}
		key := make([]byte, n)
		rand.Read(key)
		m, err := NewSecretKeyMaterial(spec, key)
		if err != nil {
			t.Fatalf("%s: %v", spec, err)
		}
		orig := slices.Clone(key)
		clear(key)
		if !bytes.Equal(m.Bytes(), orig) {
			t.Errorf("%s: the material was not copied", spec)
		}
		if b := m.Bytes(); &b[0] == &m.Bytes()[0] {
			t.Errorf("%s: Bytes() does not copy", spec)
		}
		for _, l := range []int{0, n - 1, n + 1} {
			_, err := NewSecretKeyMaterial(spec, make([]byte, l))
			if !errors.Is(err, ErrInvalidMaterial) || !strings.Contains(err.Error(), fmt.Sprintf("exactly %d bytes, got %d", n, l)) {
				t.Errorf("%s, %d bytes: %v", spec, l, err)
			}
			if _, err := ParseKeyMaterial(spec, make([]byte, l)); !errors.Is(err, ErrInvalidMaterial) {
				t.Errorf("ParseKeyMaterial(%s, %d bytes): %v", spec, l, err)
			}
		}
	}
	if _, err := NewSecretKeyMaterial("AES_128", make([]byte, 16)); !errors.Is(err, ErrUnknownKeySpec) {
		t.Errorf("AES_128: %v", err)
	}
	if _, err := ParseKeyMaterial(specEd25519, make([]byte, 48)); !errors.Is(err, ErrNotImportable) {
		t.Errorf("ParseKeyMaterial(ECC_NIST_EDWARDS25519): %v", err)
	}
}

// redactionKeys returns key material of several kinds, with their bytes.
func redactionKeys(t *testing.T) map[string]*KeyMaterial {
	t.Helper()
	ascii := []byte("0123456789abcdefghijklmnopqrstuv") // printable, to catch %s
	hm, err := NewSecretKeyMaterial(HMAC256, ascii)
	if err != nil {
		t.Fatal(err)
	}
	r := make([]byte, 64)
	rand.Read(r)
	h512, _ := NewSecretKeyMaterial(HMAC512, r)
	ec, err := LoadKeyFile(readKey(t, "p256.pkcs8.pem"), LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	k1, err := LoadKeyFile(readKey(t, "secp256k1.sec1.pem"), LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rs, err := LoadKeyFile(readKey(t, "rsa2048.pkcs1.pem"), LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return map[string]*KeyMaterial{"HMAC ascii": hm, "HMAC_512": h512, "P-256": ec, "secp256k1": k1, "RSA": rs}
}

// secretForms returns renderings of the secret in b that must never be
// printed: the whole material and, for asymmetric keys, the private scalar
// or exponent, in hex, base64 and raw.
func secretForms(t *testing.T, m *KeyMaterial) []string {
	t.Helper()
	b := m.Bytes()
	secrets := [][]byte{b}
	switch m.Spec().Kind() {
	case KindEC:
		// PrivateKeyInfo → OCTET STRING → ECPrivateKey → the scalar.
		inner := derContent(t, derElems(t, derContent(t, b))[2])
		d := derContent(t, derElems(t, derContent(t, inner))[1])
		secrets = append(secrets, slices.Clone(d))
	case KindRSA:
		k, err := x509.ParsePKCS8PrivateKey(b)
		if err != nil {
			t.Fatal(err)
		}
		secrets = append(secrets, k.(*rsa.PrivateKey).D.Bytes(), k.(*rsa.PrivateKey).Primes[0].Bytes())
	}
	var forms []string
	for _, s := range secrets {
		// A 12-byte window is enough to identify a leak.
		for i := 0; i+12 <= len(s); i += 12 {
			w := s[i : i+12]
			forms = append(forms, hex.EncodeToString(w), strings.ToUpper(hex.EncodeToString(w)), string(w))
		}
		for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawURLEncoding} {
			forms = append(forms, enc.EncodeToString(s)[:16])
		}
	}
	// The Go syntax of the first bytes, as %#v of a []byte prints them.
	forms = append(forms, fmt.Sprintf("%#v", b)[:20], fmt.Sprint(b)[:20])
	return forms
}

func TestKeyMaterialFormatRedacts(t *testing.T) {
	for name, m := range redactionKeys(t) {
		t.Run(name, func(t *testing.T) {
			out := fmt.Sprintf("%v %+v %#v %s %x %X %q %d", m, m, m, m, m, m, m, m) +
				fmt.Sprintf("%v %+v %#v %s %x %X %q %d", *m, *m, *m, *m, *m, *m, *m, *m) +
				fmt.Sprint(m, *m, []*KeyMaterial{m}, map[string]*KeyMaterial{"k": m}, struct{ K *KeyMaterial }{m}) +
				fmt.Sprintf("%v %+v %#v", struct{ K KeyMaterial }{*m}, []KeyMaterial{*m}, struct{ K *KeyMaterial }{m})
			for _, f := range secretForms(t, m) {
				if strings.Contains(out, f) {
					t.Fatalf("fmt output shows the material (%q) in:\n%s", f, out)
				}
			}
			want := fmt.Sprintf("byok.KeyMaterial{%s %s REDACTED}", m.Spec(), m.Fingerprint())
			if got := fmt.Sprintf("%x", m); got != want {
				t.Errorf("%%x = %q, want %q", got, want)
			}
			if !strings.Contains(out, want) {
				t.Errorf("output lacks %q", want)
			}

			var buf bytes.Buffer
			log := slog.New(slog.NewJSONHandler(&buf, nil))
			log.Info("loaded", "key", m, "value", *m, "list", []*KeyMaterial{m})
			slog.New(slog.NewTextHandler(&buf, nil)).Info("loaded", "key", m, slog.Any("value", *m))
			for _, f := range secretForms(t, m) {
				if strings.Contains(buf.String(), f) {
					t.Fatalf("slog output shows the material (%q) in:\n%s", f, buf.String())
				}
			}
			wantJSON := fmt.Sprintf(`"key":{"spec":"%s","fingerprint":"%s"}`, m.Spec(), m.Fingerprint())
			if !strings.Contains(buf.String(), wantJSON) {
				t.Errorf("slog JSON %s lacks %s", buf.String(), wantJSON)
			}
		})
	}
	var nilM *KeyMaterial
	if got := fmt.Sprintf("%v %s", nilM, &KeyMaterial{}); got != "<nil> byok.KeyMaterial{}" {
		t.Errorf("nil and zero KeyMaterial print as %q", got)
	}
}

func TestKeyMaterialDestroy(t *testing.T) {
	for name, m := range redactionKeys(t) {
		t.Run(name, func(t *testing.T) {
			inner := m.k.b
			spec, fp, pub := m.Spec(), m.Fingerprint(), m.PublicKeyDER()
			twin, err := ParseKeyMaterial(spec, m.Bytes())
			if err != nil {
				t.Fatal(err)
			}
			copyOfValue := *m
			m.Destroy()
			m.Destroy() // idempotent
			if !bytes.Equal(inner, make([]byte, len(inner))) {
				t.Error("Destroy did not clear the bytes")
			}
			if m.Bytes() != nil || m.Len() != 0 || copyOfValue.Bytes() != nil {
				t.Error("the material survives Destroy")
			}
			if m.Equal(twin) || twin.Equal(m) || m.Equal(m) {
				t.Error("destroyed material equals something")
			}
			if m.Spec() != spec || m.Fingerprint() != fp || !bytes.Equal(m.PublicKeyDER(), pub) {
				t.Error("Destroy lost the public information")
			}
			if got := fmt.Sprint(m); !strings.Contains(got, "DESTROYED") {
				t.Errorf("destroyed material prints as %q", got)
			}
			wk := readRSAPublic(t, "rsa4096")
			_, err = m.Wrap(wk, AllowedAlgorithms(spec)[0])
			if !errors.Is(err, ErrDestroyed) || !errors.Is(err, ErrInvalidMaterial) {
				t.Errorf("Wrap after Destroy: %v", err)
			}
		})
	}
	var zero KeyMaterial
	zero.Destroy()
	if zero.Bytes() != nil || zero.Len() != 0 || zero.Spec() != "" || zero.Public() != nil || zero.PublicKeyDER() != nil || zero.Equal(&zero) {
		t.Error("the zero KeyMaterial is not empty")
	}
	if _, err := zero.Wrap(readRSAPublic(t, "rsa2048"), RSAESOAEPSHA256); !errors.Is(err, ErrInvalidMaterial) {
		t.Errorf("Wrap of the zero value: %v", err)
	}
}

func readRSAPublic(t *testing.T, name string) *rsa.PublicKey {
	t.Helper()
	pub, err := ParseWrappingPublicKey(readKey(t, name+".pub.der"))
	if err != nil {
		t.Fatal(err)
	}
	return pub
}

func readRSAPrivate(t *testing.T, name string) *rsa.PrivateKey {
	t.Helper()
	k, err := x509.ParsePKCS8PrivateKey(readKey(t, name+".pkcs8.der"))
	if err != nil {
		t.Fatal(err)
	}
	return k.(*rsa.PrivateKey)
}

func TestKeyMaterialEqual(t *testing.T) {
	a, _ := LoadKeyFile(readKey(t, "p256.sec1.pem"), LoadOptions{})
	b, _ := LoadKeyFile(readKey(t, "p256.pkcs8.der"), LoadOptions{})
	c, _ := LoadKeyFile(readKey(t, "p384.pkcs8.der"), LoadOptions{})
	if !a.Equal(b) || !b.Equal(a) || !a.Equal(a) {
		t.Error("the same key in two encodings is not Equal")
	}
	if a.Equal(c) || a.Equal(nil) || (*KeyMaterial)(nil).Equal(a) {
		t.Error("different keys are Equal")
	}
	key := make([]byte, 32)
	rand.Read(key)
	aes, _ := NewSecretKeyMaterial(SymmetricDefault, key)
	hm, _ := NewSecretKeyMaterial(HMAC256, key)
	if aes.Equal(hm) {
		t.Error("the same bytes under different specs are Equal")
	}
}

func TestKeyMaterialWrap(t *testing.T) {
	wrapping := map[int]*rsa.PrivateKey{}
	for _, bits := range []int{2048, 3072, 4096} {
		wrapping[bits] = readRSAPrivate(t, fmt.Sprintf("rsa%d", bits))
	}
	load := func(name string, spec KeySpec) *KeyMaterial {
		t.Helper()
		var opts LoadOptions
		if spec.Kind() == KindSymmetric || spec.Kind() == KindHMAC {
			opts.KeySpec = spec
		}
		m, err := LoadKeyFile(readKey(t, name), opts)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	tests := []struct {
		file string
		spec KeySpec
		alg  WrappingAlgorithm
		bits int
		rule Rule // "" = accepted
	}{
		{"aes256.bin", SymmetricDefault, RSAESOAEPSHA256, 2048, ""},
		{"aes256.bin", SymmetricDefault, RSAESOAEPSHA1, 4096, ""},
		{"aes256.bin", SymmetricDefault, RSAAESKeyWrapSHA256, 4096, RuleOAEPOnly},
		{"hmac512.bin", HMAC512, RSAESOAEPSHA256, 2048, ""},
		{"hmac224.hex", HMAC224, RSAAESKeyWrapSHA1, 2048, RuleOAEPOnly},
		{"rsa4096.pkcs8.pem", RSA4096, RSAAESKeyWrapSHA256, 4096, ""},
		{"rsa2048.pkcs1.pem", RSA2048, RSAAESKeyWrapSHA1, 2048, ""},
		{"rsa2048.pkcs1.pem", RSA2048, RSAESOAEPSHA256, 4096, RuleKeyWrapOnly},
		{"p521.sec1.pem", ECCNISTP521, RSAESOAEPSHA256, 2048, RuleNoP521OAEP2048},
		{"p521.sec1.pem", ECCNISTP521, RSAESOAEPSHA256, 3072, ""},
		{"p521.sec1.pem", ECCNISTP521, RSAAESKeyWrapSHA256, 2048, ""},
		{"p384.pkcs8.pem", ECCNISTP384, RSAESOAEPSHA256, 2048, ""},
		{"secp256k1.sec1-nopub.pem", ECCSECGP256K1, RSAESOAEPSHA1, 2048, ""},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s/%s/%d", tt.spec, tt.alg, tt.bits), func(t *testing.T) {
			m := load(tt.file, tt.spec)
			wk := wrapping[tt.bits]
			blob, err := m.Wrap(&wk.PublicKey, tt.alg)
			if tt.rule != "" {
				var ce *CompatibilityError
				if !errors.As(err, &ce) || ce.Rule != tt.rule || !errors.Is(err, ErrIncompatible) {
					t.Fatalf("got %v, want a CompatibilityError with rule %q", err, tt.rule)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got, err := UnwrapKeyMaterial(wk, tt.alg, blob)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, m.Bytes()) {
				t.Error("unwrapped material differs")
			}
			if _, err := ParseKeyMaterial(tt.spec, got); err != nil {
				t.Errorf("ParseKeyMaterial of the unwrapped material: %v", err)
			}
		})
	}
	m := load("aes256.bin", SymmetricDefault)
	if _, err := m.Wrap(nil, RSAESOAEPSHA256); !errors.Is(err, ErrWrappingKey) {
		t.Errorf("nil wrapping key: %v", err)
	}
	if _, err := m.Wrap(&wrapping[2048].PublicKey, RSAESPKCS1V15); !errors.Is(err, ErrDeprecatedAlgorithm) {
		t.Errorf("RSAES_PKCS1_V1_5: %v", err)
	}
}

// TestKeyMaterialConcurrent is for the race detector.
func TestKeyMaterialConcurrent(t *testing.T) {
	wk := readRSAPublic(t, "rsa2048")
	for range 20 {
		m, err := LoadKeyFile(readKey(t, "p256.pkcs8.pem"), LoadOptions{})
		if err != nil {
			t.Fatal(err)
		}
		o, _ := LoadKeyFile(readKey(t, "p256.sec1.der"), LoadOptions{})
		var wg sync.WaitGroup
		for i := range 8 {
			wg.Go(func() {
				switch i % 4 {
				case 0:
					_ = m.Bytes()
					_ = m.Len()
				case 1:
					_ = m.Equal(o)
					_ = o.Equal(m)
				case 2:
					if _, err := m.Wrap(wk, RSAESOAEPSHA256); err != nil && !errors.Is(err, ErrDestroyed) {
						t.Error(err)
					}
				case 3:
					_ = fmt.Sprint(m)
					m.Destroy()
				}
			})
		}
		wg.Wait()
	}
}
