package byok

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/byok-go/byok/internal/keyfile"
	"github.com/decred/dcrd/dcrec/secp256k1/v4"
	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// testPassphrase is the passphrase testdata/gen-keys.sh encrypts with.
const testPassphrase = "byok-test-passphrase"

// asymFixtures are the importable RSA and EC keys in testdata/keys.
var asymFixtures = []struct {
	name   string
	spec   KeySpec
	usages []KeyUsage
}{
	{"rsa2048", RSA2048, []KeyUsage{SignVerify, EncryptDecrypt}},
	{"rsa3072", RSA3072, []KeyUsage{SignVerify, EncryptDecrypt}},
	{"rsa4096", RSA4096, []KeyUsage{SignVerify, EncryptDecrypt}},
	{"p256", ECCNISTP256, []KeyUsage{SignVerify, KeyAgreement}},
	{"p384", ECCNISTP384, []KeyUsage{SignVerify, KeyAgreement}},
	{"p521", ECCNISTP521, []KeyUsage{SignVerify, KeyAgreement}},
	{"secp256k1", ECCSECGP256K1, []KeyUsage{SignVerify}},
}

// secretFixtures are the secret keys in testdata/keys.
var secretFixtures = []struct {
	name   string
	spec   KeySpec
	usages []KeyUsage
}{
	{"aes256", SymmetricDefault, []KeyUsage{EncryptDecrypt}},
	{"hmac224", HMAC224, []KeyUsage{GenerateVerifyMAC}},
	{"hmac256", HMAC256, []KeyUsage{GenerateVerifyMAC}},
	{"hmac384", HMAC384, []KeyUsage{GenerateVerifyMAC}},
	{"hmac512", HMAC512, []KeyUsage{GenerateVerifyMAC}},
}

// encodings lists the fixture files that hold key name, in every encoding.
func encodings(name string, spec KeySpec) []string {
	e := []string{".pkcs8.pem", ".pkcs8.der", ".enc.pem", ".enc.der"}
	if spec.Kind() == KindRSA {
		e = append(e, ".pkcs1.pem", ".pkcs1.der")
	} else {
		e = append(e, ".sec1.pem", ".sec1.der", ".sec1-nopub.pem", ".sec1-nopub.der", ".pkcs8-nopub.pem", ".ecparam.pem")
	}
	if name == "p256" {
		e = append(e, ".enc-sha1-aes-128-cbc.pem", ".enc-sha224-aes-192-cbc.pem", ".enc-sha384-aes-256-cbc.pem", ".enc-sha512-aes-128-cbc.pem")
	}
	for i := range e {
		e[i] = name + e[i]
	}
	return e
}

func readKey(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "keys", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func pemBytes(t testing.TB, name string) []byte {
	t.Helper()
	b, _ := pem.Decode(readKey(t, name))
	if b == nil {
		t.Fatalf("%s: no PEM block", name)
	}
	return b.Bytes
}

// TestLoadKeyFileFixtures loads every encoding of every importable
// asymmetric key and compares the result with OpenSSL's: the KMS form with
// `openssl pkcs8 -topk8 -nocrypt -outform DER`, the public key with `openssl
// pkey -pubout -outform DER`, byte for byte.
func TestLoadKeyFileFixtures(t *testing.T) {
	for _, f := range asymFixtures {
		t.Run(f.name, func(t *testing.T) {
			want := readKey(t, f.name+".pkcs8.der")
			wantPub := readKey(t, f.name+".pub.der")
			sum := sha256.Sum256(wantPub)
			wantFP := "sha256:" + hex.EncodeToString(sum[:])
			if f.spec.Kind() == KindEC && len(want) != f.spec.MaterialLen() || len(want) > f.spec.MaterialLen() {
				t.Errorf("OpenSSL's PKCS#8 is %d bytes; MaterialLen is %d", len(want), f.spec.MaterialLen())
			}
			for _, file := range encodings(f.name, f.spec) {
				for _, spec := range []KeySpec{"", f.spec} {
					m, err := LoadKeyFile(readKey(t, file), LoadOptions{KeySpec: spec, Passphrase: []byte(testPassphrase)})
					if err != nil {
						t.Fatalf("%s (KeySpec %q): %v", file, spec, err)
					}
					if m.Spec() != f.spec {
						t.Errorf("%s: Spec() = %s, want %s", file, m.Spec(), f.spec)
					}
					if !bytes.Equal(m.Bytes(), want) {
						t.Errorf("%s: LoadKeyFile output differs from `openssl pkcs8 -topk8 -nocrypt -outform DER`", file)
					}
					if m.Len() != len(want) {
						t.Errorf("%s: Len() = %d, want %d", file, m.Len(), len(want))
					}
					if !bytes.Equal(m.PublicKeyDER(), wantPub) {
						t.Errorf("%s: PublicKeyDER differs from `openssl pkey -pubout -outform DER`", file)
					}
					if m.Fingerprint() != wantFP {
						t.Errorf("%s: Fingerprint() = %s, want %s", file, m.Fingerprint(), wantFP)
					}
					if !slices.Equal(m.Usages(), f.usages) {
						t.Errorf("%s: Usages() = %v, want %v", file, m.Usages(), f.usages)
					}
				}
			}

			m, err := LoadKeyFile(readKey(t, f.name+".pkcs8.pem"), LoadOptions{})
			if err != nil {
				t.Fatal(err)
			}
			checkPublic(t, m, wantPub)

			// Round trip through the strict parser.
			p, err := ParseKeyMaterial(f.spec, m.Bytes())
			if err != nil {
				t.Fatalf("ParseKeyMaterial(LoadKeyFile(x).Bytes()): %v", err)
			}
			if !p.Equal(m) || !bytes.Equal(p.PublicKeyDER(), wantPub) {
				t.Error("ParseKeyMaterial changed the key")
			}
		})
	}
}

// checkPublic checks Public's type and value against the SubjectPublicKeyInfo.
func checkPublic(t *testing.T, m *KeyMaterial, wantPub []byte) {
	t.Helper()
	switch pub := m.Public().(type) {
	case *rsa.PublicKey:
		if m.Spec().Kind() != KindRSA {
			t.Fatalf("Public() is %T for %s", pub, m.Spec())
		}
		der, err := x509.MarshalPKIXPublicKey(pub)
		if err != nil || !bytes.Equal(der, wantPub) {
			t.Errorf("Public() does not encode to the SubjectPublicKeyInfo (%v)", err)
		}
	case *ecdsa.PublicKey:
		if m.Spec().Kind() != KindEC || m.Spec() == ECCSECGP256K1 {
			t.Fatalf("Public() is %T for %s", pub, m.Spec())
		}
		der, err := x509.MarshalPKIXPublicKey(pub)
		if err != nil || !bytes.Equal(der, wantPub) {
			t.Errorf("Public() does not encode to the SubjectPublicKeyInfo (%v)", err)
		}
	case *secp256k1.PublicKey:
		if m.Spec() != ECCSECGP256K1 {
			t.Fatalf("Public() is %T for %s", pub, m.Spec())
		}
		if !bytes.HasSuffix(wantPub, pub.SerializeUncompressed()) {
			t.Error("Public() is not the point in the SubjectPublicKeyInfo")
		}
	default:
		t.Fatalf("Public() is %T for %s", pub, m.Spec())
	}
}

func TestLoadKeyFileSecretFixtures(t *testing.T) {
	for _, f := range secretFixtures {
		t.Run(f.name, func(t *testing.T) {
			raw := readKey(t, f.name+".bin")
			if len(raw) != f.spec.MaterialLen() {
				t.Fatalf("fixture is %d bytes", len(raw))
			}
			hexText := strings.TrimSpace(string(readKey(t, f.name+".hex")))
			b64 := base64.StdEncoding.EncodeToString(raw)
			inputs := map[string][]byte{
				"raw":              raw,
				"hex file":         readKey(t, f.name+".hex"),
				"base64 file":      readKey(t, f.name+".b64"),
				"hex":              []byte(hexText),
				"HEX":              []byte(strings.ToUpper(hexText)),
				"hex CRLF":         []byte(hexText + "\r\n"),
				"0x hex":           []byte("0x" + hexText + "\n"),
				"base64":           []byte(b64),
				"base64 newline":   []byte(b64 + "\n"),
				"base64 unpadded":  []byte(base64.RawStdEncoding.EncodeToString(raw) + "\n"),
				"base64url":        []byte(base64.URLEncoding.EncodeToString(raw)),
				"base64 wrapped 8": []byte(wrap(b64, 8)),
			}
			for name, in := range inputs {
				m, err := LoadKeyFile(in, LoadOptions{KeySpec: f.spec})
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				if !bytes.Equal(m.Bytes(), raw) || m.Spec() != f.spec || m.Len() != len(raw) {
					t.Errorf("%s: got different material", name)
				}
				if !slices.Equal(m.Usages(), f.usages) {
					t.Errorf("%s: Usages() = %v, want %v", name, m.Usages(), f.usages)
				}
				if m.Public() != nil || m.PublicKeyDER() != nil {
					t.Errorf("%s: a secret key has a public key", name)
				}
				sum := sha256.Sum256(slices.Concat([]byte("byok key material fingerprint v1\x00"), []byte(f.spec), []byte{0}, raw))
				if want := "sha256:" + hex.EncodeToString(sum[:]); m.Fingerprint() != want {
					t.Errorf("%s: Fingerprint() = %s, want %s", name, m.Fingerprint(), want)
				}
			}
			if _, err := ParseKeyMaterial(f.spec, raw); err != nil {
				t.Errorf("ParseKeyMaterial: %v", err)
			}
		})
	}
}

func wrap(s string, n int) string {
	var b strings.Builder
	for len(s) > n {
		b.WriteString(s[:n] + "\n")
		s = s[n:]
	}
	b.WriteString(s + "\n")
	return b.String()
}

// DER tags the tests build with.
const (
	tagInteger     = 0x02
	tagBitString   = 0x03
	tagOctetString = 0x04
	tagNull        = 0x05
	tagSequence    = 0x30
	tagContext0    = 0xa0
	tagContext1    = 0xa1
)

// derTLV encodes one DER element whose content is the concatenation of
// parts (the tests build altered keys with it).
func derTLV(tag byte, parts ...[]byte) []byte {
	b := cryptobyte.NewBuilder(nil)
	b.AddASN1(cbasn1.Tag(tag), func(b *cryptobyte.Builder) {
		for _, p := range parts {
			b.AddBytes(p)
		}
	})
	return b.BytesOrPanic()
}

// derElems takes DER apart: the whole encodings of the elements of b.
func derElems(t testing.TB, b []byte) [][]byte {
	t.Helper()
	s := cryptobyte.String(b)
	var out [][]byte
	for !s.Empty() {
		var full cryptobyte.String
		if !s.ReadAnyASN1Element(&full, nil) {
			t.Fatal("derElems: invalid DER")
		}
		out = append(out, full)
	}
	return out
}

// derContent returns the content of the one element b encodes.
func derContent(t testing.TB, b []byte) []byte {
	t.Helper()
	s := cryptobyte.String(b)
	var c cryptobyte.String
	var tag cbasn1.Tag
	if !s.ReadAnyASN1(&c, &tag) || !s.Empty() {
		t.Fatal("derContent: not one DER element")
	}
	return c
}

// pkcs8Variants builds altered PKCS#8 encodings of key name. Each must be
// refused by ParseKeyMaterial; the "lenient" ones are still loaded by
// LoadKeyFile to the same material.
func pkcs8Variants(t testing.TB, name string, spec KeySpec) (bad map[string][]byte, lenient map[string][]byte) {
	t.Helper()
	orig := readKey(t, name+".pkcs8.der")
	top := derElems(t, derContent(t, orig)) // version, algorithm, OCTET STRING
	inner := derContent(t, top[2])          // RSAPrivateKey or ECPrivateKey
	innerElems := derElems(t, derContent(t, inner))
	seq := func(parts ...[]byte) []byte { return derTLV(tagSequence, parts...) }
	octet := func(b []byte) []byte { return derTLV(tagOctetString, b) }
	null := []byte{tagNull, 0}

	bad = map[string][]byte{
		"trailing byte":                  append(slices.Clone(orig), 0),
		"trailing element":               append(slices.Clone(orig), null...),
		"truncated":                      orig[:len(orig)-1],
		"element after PKCS#8 fields":    seq(top[0], top[1], top[2], null),
		"data after the inner structure": seq(top[0], top[1], octet(append(slices.Clone(inner), 0))),
		"element inside the inner":       seq(top[0], top[1], octet(seq(append(slices.Clone(innerElems), null)...))),
		"algorithm with extra element":   seq(top[0], seq(append(derElems(t, derContent(t, top[1])), null)...), top[2]),
		"version 1":                      seq([]byte{tagInteger, 1, 1}, top[1], top[2]),
		"attributes":                     seq(top[0], top[1], top[2], derTLV(tagContext0)),
		"long-form length":               append([]byte{tagSequence, 0x83, 0, byte(len(derContent(t, orig)) >> 8), byte(len(derContent(t, orig)))}, derContent(t, orig)...),
		"empty":                          nil,
	}
	lenient = map[string][]byte{
		"attributes": bad["attributes"],
		"version 1":  bad["version 1"],
	}
	if spec.Kind() == KindEC {
		c := keyfile.CurveBySpec(string(spec))
		params, _ := asn1.Marshal(c.OID)
		withParams := seq(innerElems[0], innerElems[1], derTLV(tagContext0, params), innerElems[2])
		noPub := seq(innerElems[0], innerElems[1])
		pubBits := derContent(t, derContent(t, innerElems[2]))
		compressed := append([]byte{0, 2 | pubBits[len(pubBits)-1]&1}, pubBits[2:2+c.Size]...)
		lenient["inner curve parameters"] = seq(top[0], top[1], octet(withParams))
		lenient["no public key"] = seq(top[0], top[1], octet(noPub))
		lenient["compressed public key"] = seq(top[0], top[1], octet(seq(innerElems[0], innerElems[1], derTLV(tagContext1, derTLV(tagBitString, compressed)))))

		d := derContent(t, innerElems[1])
		flipped := slices.Clone(d)
		flipped[len(flipped)-1] ^= 1
		bad["wrong public key"] = seq(top[0], top[1], octet(seq(innerElems[0], octet(flipped), innerElems[2])))
		bad["scalar zero"] = seq(top[0], top[1], octet(seq(innerElems[0], octet(make([]byte, c.Size)))))
		bad["scalar n"] = seq(top[0], top[1], octet(seq(innerElems[0], octet(c.Order))))
		bad["scalar short"] = seq(top[0], top[1], octet(seq(innerElems[0], octet(d[1:]), innerElems[2])))
		if d[0] == 0 { // the same scalar, without its leading zero
			lenient["scalar short"] = bad["scalar short"]
		}
		bad["explicit wrapper with extra"] = seq(top[0], top[1], octet(seq(innerElems[0], innerElems[1], derTLV(tagContext1, derContent(t, innerElems[2]), null))))
		bad["compressed public key"] = lenient["compressed public key"]
		bad["inner curve parameters"] = lenient["inner curve parameters"]
		bad["no public key"] = lenient["no public key"]
		bad["ECPrivateKey version 2"] = seq(top[0], top[1], octet(seq([]byte{tagInteger, 1, 2}, innerElems[1], innerElems[2])))
		other := ECCNISTP384
		if spec == ECCNISTP384 {
			other = ECCNISTP256
		}
		bad["other curve"] = seq(top[0], keyfile.CurveBySpec(string(other)).AlgorithmIdentifier(), top[2])
	} else {
		bad["no NULL parameters"] = seq(top[0], seq(derElems(t, derContent(t, top[1]))[0]), top[2])
		lenient["no NULL parameters"] = bad["no NULL parameters"]
		bad["multi-prime version"] = seq(top[0], top[1], octet(seq(append([][]byte{{tagInteger, 1, 1}}, innerElems[1:]...)...)))
		e := slices.Clone(innerElems)
		e[2] = []byte{tagInteger, 1, 3} // public exponent 3: inconsistent with d
		bad["wrong exponent"] = seq(top[0], top[1], octet(seq(e...)))
		e = slices.Clone(innerElems)
		e[8] = []byte{tagInteger, 1, 1} // qInv
		bad["wrong qInv"] = seq(top[0], top[1], octet(seq(e...)))
		e = slices.Clone(innerElems)
		n := derContent(t, e[1])
		e[1] = derTLV(tagInteger, append([]byte{0}, n...)) // non-minimal
		bad["non-minimal modulus"] = seq(top[0], top[1], octet(seq(e...)))
		e = slices.Clone(innerElems)
		e[1] = derTLV(tagInteger, append([]byte{0xff}, n[1:]...)) // negative
		bad["negative modulus"] = seq(top[0], top[1], octet(seq(e...)))
	}
	return bad, lenient
}

func TestParseKeyMaterialRejectsVariants(t *testing.T) {
	for _, f := range asymFixtures {
		t.Run(f.name, func(t *testing.T) {
			want := readKey(t, f.name+".pkcs8.der")
			bad, lenient := pkcs8Variants(t, f.name, f.spec)
			for name, b := range bad {
				if _, err := ParseKeyMaterial(f.spec, b); !errors.Is(err, ErrInvalidMaterial) {
					t.Errorf("%s: ParseKeyMaterial: %v, want ErrInvalidMaterial", name, err)
				} else if !strings.HasPrefix(err.Error(), "byok: ") {
					t.Errorf("%s: message %q does not start with byok:", name, err)
				}
				if _, ok := lenient[name]; ok {
					continue
				}
				if _, err := LoadKeyFile(b, LoadOptions{}); !errors.Is(err, ErrInvalidMaterial) {
					t.Errorf("%s: LoadKeyFile: %v, want ErrInvalidMaterial", name, err)
				}
			}
			for name, b := range lenient {
				m, err := LoadKeyFile(b, LoadOptions{})
				if err != nil {
					t.Errorf("%s: LoadKeyFile: %v", name, err)
					continue
				}
				if !bytes.Equal(m.Bytes(), want) {
					t.Errorf("%s: LoadKeyFile did not re-encode to the KMS form", name)
				}
			}

			// Every single-bit change is refused (RSA: a sample).
			step := 1
			if f.spec.Kind() == KindRSA {
				step = len(want)/97 + 1
			}
			for i := 0; i < len(want); i += step {
				for _, bit := range []byte{0x01, 0x80} {
					b := slices.Clone(want)
					b[i] ^= bit
					if _, err := ParseKeyMaterial(f.spec, b); err == nil {
						t.Errorf("byte %d ^ %#x accepted", i, bit)
					}
				}
			}

			// The other specs refuse it.
			for _, spec := range KeySpecs() {
				if spec == f.spec {
					continue
				}
				_, err := ParseKeyMaterial(spec, want)
				if !errors.Is(err, ErrInvalidMaterial) {
					t.Errorf("ParseKeyMaterial(%s, %s key) = %v", spec, f.spec, err)
				}
				if spec.Kind() == KindRSA || spec.Kind() == KindEC {
					if !errors.Is(err, ErrSpecMismatch) && !errors.Is(err, ErrUnsupportedKey) {
						t.Errorf("ParseKeyMaterial(%s, %s key) = %v, want ErrSpecMismatch", spec, f.spec, err)
					}
				}
			}
		})
	}
}

func TestLoadKeyFilePEMVariants(t *testing.T) {
	pemFile := readKey(t, "p384.sec1.pem")
	want := readKey(t, "p384.pkcs8.der")
	variants := map[string][]byte{
		"CRLF":             bytes.ReplaceAll(pemFile, []byte("\n"), []byte("\r\n")),
		"text before":      slices.Concat([]byte("Bag Attributes\n    localKeyID: 01\nKey Attributes: <No Attributes>\n"), pemFile),
		"whitespace after": slices.Concat(pemFile, []byte("\n\t \r\n\n")),
		"no final newline": bytes.TrimSuffix(pemFile, []byte("\n")),
	}
	for name, data := range variants {
		m, err := LoadKeyFile(data, LoadOptions{})
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if !bytes.Equal(m.Bytes(), want) {
			t.Errorf("%s: wrong material", name)
		}
	}
}

func TestLoadKeyFileSEC1WithoutCurve(t *testing.T) {
	orig := readKey(t, "secp256k1.sec1.der")
	e := derElems(t, derContent(t, orig)) // version, scalar, [0] params, [1] public key
	noCurve := derTLV(tagSequence, e[0], e[1], e[3])
	_, err := LoadKeyFile(noCurve, LoadOptions{})
	if !errors.Is(err, ErrInvalidMaterial) || !strings.Contains(err.Error(), "does not name its curve") || !strings.Contains(err.Error(), "give its key spec (ECC_*)") {
		t.Fatalf("got %v", err)
	}
	m, err := LoadKeyFile(noCurve, LoadOptions{KeySpec: ECCSECGP256K1})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(m.Bytes(), readKey(t, "secp256k1.pkcs8.der")) {
		t.Error("SEC 1 without curve, with KeySpec: wrong material")
	}
	// With the wrong curve the public key does not match.
	if _, err := LoadKeyFile(noCurve, LoadOptions{KeySpec: ECCNISTP256}); !errors.Is(err, ErrInvalidMaterial) || !strings.Contains(err.Error(), "does not match") {
		t.Errorf("wrong curve hint: %v", err)
	}
}

func TestLoadKeyFileRejects(t *testing.T) {
	p256DER := readKey(t, "p256.pkcs8.der")
	p256PEM := readKey(t, "p256.pkcs8.pem")
	pass := []byte(testPassphrase)
	corruptPEM := bytes.Replace(slices.Clone(p256PEM), []byte("\n"), []byte("\n!"), 2)
	certDER := pemBytes(t, "bad-p256.cert.pem")
	rawPlusNewline := append(bytes.Repeat([]byte{0}, 32), '\n')
	ssh := pem.EncodeToMemory(&pem.Block{Type: "OPENSSH PRIVATE KEY", Bytes: []byte("openssh-key-v1\x00")})
	unknown := pem.EncodeToMemory(&pem.Block{Type: "FOO", Bytes: []byte{1}})

	tests := []struct {
		name string
		data []byte
		opts LoadOptions
		is   []error
		frag []string
	}{
		{"RSA 1024", readKey(t, "bad-rsa1024.pem"), LoadOptions{}, []error{ErrUnsupportedKey}, []string{"1024-bit RSA key", "2048, 3072 or 4096", "openssl genpkey"}},
		{"RSA 2056", readKey(t, "bad-rsa2056.pem"), LoadOptions{}, []error{ErrUnsupportedKey}, []string{"2056-bit RSA key"}},
		{"RSA three primes PKCS#8", readKey(t, "bad-rsa2048-3prime.pem"), LoadOptions{}, []error{ErrUnsupportedKey}, []string{"multi-prime", "two-prime"}},
		{"RSA three primes PKCS#1", readKey(t, "bad-rsa2048-3prime.pkcs1.pem"), LoadOptions{}, []error{ErrUnsupportedKey}, []string{"multi-prime"}},
		{"explicit parameters SEC 1", readKey(t, "bad-p256-explicit.sec1.pem"), LoadOptions{}, []error{ErrUnsupportedKey}, []string{"explicit parameters", "-param_enc named_curve"}},
		{"explicit parameters PKCS#8", readKey(t, "bad-p256-explicit.pkcs8.pem"), LoadOptions{}, []error{ErrUnsupportedKey}, []string{"explicit parameters", "named curve"}},
		{"P-224", readKey(t, "bad-p224.pem"), LoadOptions{}, []error{ErrUnsupportedKey}, []string{"P-224", "P-256, P-384, P-521 and secp256k1"}},
		{"brainpool PKCS#8", readKey(t, "bad-brainpoolP256r1.pem"), LoadOptions{}, []error{ErrUnsupportedKey}, []string{"brainpoolP256r1"}},
		{"brainpool SEC 1", readKey(t, "bad-brainpoolP256r1.sec1.pem"), LoadOptions{}, []error{ErrUnsupportedKey}, []string{"brainpoolP256r1"}},
		{"Ed25519", readKey(t, "bad-ed25519.pem"), LoadOptions{}, []error{ErrUnsupportedKey, ErrNotImportable}, []string{"Ed25519", "does not import"}},
		{"X25519", readKey(t, "bad-x25519.pem"), LoadOptions{}, []error{ErrUnsupportedKey}, []string{"X25519", "KEY_AGREEMENT"}},
		{"AES as HMAC_224", readKey(t, "aes256.bin"), LoadOptions{KeySpec: HMAC224}, nil, []string{"HMAC_224 key material is 28 bytes", "32 bytes of binary data"}},
		{"HMAC_224 hex as AES", readKey(t, "hmac224.hex"), LoadOptions{KeySpec: SymmetricDefault}, nil, []string{"SYMMETRIC_DEFAULT key material is 32 bytes", "56 hex digits (28 bytes)"}},
		{"HMAC_512 base64 as HMAC_384", readKey(t, "hmac512.b64"), LoadOptions{KeySpec: HMAC384}, nil, []string{"HMAC_384", "base64 of 64 bytes"}},
		{"31 raw bytes", readKey(t, "aes256.bin")[:31], LoadOptions{KeySpec: SymmetricDefault}, nil, []string{"is 32 bytes", "31 bytes"}},
		{"raw with newline", rawPlusNewline, LoadOptions{KeySpec: SymmetricDefault}, nil, []string{"33 bytes of binary data"}},
		{"text neither hex nor base64", []byte("not a key!\n"), LoadOptions{KeySpec: HMAC256}, nil, []string{"neither hex nor base64"}},
		{"trailing data after DER", append(slices.Clone(p256DER), 0), LoadOptions{}, nil, []string{"unexpected data after the PKCS#8 PrivateKeyInfo"}},
		{"trailing data after DER, spec set", append(slices.Clone(p256DER), 0), LoadOptions{KeySpec: ECCNISTP256}, nil, []string{"unexpected data after"}},
		{"trailing data inside DER", derTLV(tagSequence, append(derElems(t, derContent(t, p256DER)), []byte{tagNull, 0})...), LoadOptions{}, nil, []string{"unexpected data after the PKCS#8 private key"}},
		{"truncated DER", p256DER[:len(p256DER)-10], LoadOptions{}, nil, []string{"truncated"}},
		{"truncated PEM", p256PEM[:len(p256PEM)/2], LoadOptions{}, nil, []string{"truncated or corrupt"}},
		{"PEM without END", p256PEM[:len(p256PEM)-30], LoadOptions{}, nil, []string{"truncated or corrupt"}},
		{"corrupt PEM", corruptPEM, LoadOptions{}, nil, []string{"truncated or corrupt"}},
		{"encrypted PEM without passphrase", readKey(t, "p256.enc.pem"), LoadOptions{}, []error{ErrEncrypted}, []string{"no passphrase was given", "give the key's passphrase"}},
		{"encrypted DER without passphrase", readKey(t, "rsa2048.enc.der"), LoadOptions{}, []error{ErrEncrypted}, []string{"passphrase"}},
		{"wrong passphrase", readKey(t, "p256.enc.pem"), LoadOptions{Passphrase: []byte("wrong")}, []error{ErrWrongPassphrase}, []string{"did not decrypt", "check the passphrase"}},
		{"wrong passphrase RSA", readKey(t, "rsa3072.enc.pem"), LoadOptions{Passphrase: []byte{}}, []error{ErrWrongPassphrase}, []string{"did not decrypt"}},
		{"scrypt", readKey(t, "bad-p256.enc-scrypt.pem"), LoadOptions{Passphrase: pass}, []error{ErrUnsupportedEncryption}, []string{"scrypt", "openssl pkcs8 -topk8 -v2 aes-256-cbc"}},
		{"scrypt without passphrase", readKey(t, "bad-p256.enc-scrypt.pem"), LoadOptions{}, []error{ErrUnsupportedEncryption}, []string{"scrypt", "openssl pkcs8 -topk8 -v2 aes-256-cbc"}},
		{"PBES1", readKey(t, "bad-p256.enc-pbes1.pem"), LoadOptions{Passphrase: pass}, []error{ErrUnsupportedEncryption}, []string{"PBES1", "openssl pkcs8 -topk8 -v2 aes-256-cbc"}},
		{"PBES2 3DES", readKey(t, "bad-p256.enc-des3.pem"), LoadOptions{Passphrase: pass}, []error{ErrUnsupportedEncryption}, []string{"3DES", "openssl pkcs8 -topk8 -v2 aes-256-cbc"}},
		{"legacy PEM encryption", readKey(t, "bad-p256.legacy-enc.pem"), LoadOptions{Passphrase: pass}, []error{ErrUnsupportedEncryption}, []string{"Proc-Type", "AES-256-CBC", "openssl pkcs8 -topk8 -v2 aes-256-cbc"}},
		{"legacy PEM encryption without passphrase", readKey(t, "bad-p256.legacy-enc.pem"), LoadOptions{}, []error{ErrUnsupportedEncryption}, []string{"Proc-Type"}},
		{"PUBLIC KEY", readKey(t, "bad-p256.pub.pem"), LoadOptions{}, []error{ErrPublicKeyOnly}, []string{`"PUBLIC KEY"`, "load the private key file"}},
		{"RSA PUBLIC KEY", readKey(t, "bad-rsa2048.pkcs1-pub.pem"), LoadOptions{}, []error{ErrPublicKeyOnly}, []string{`"RSA PUBLIC KEY"`}},
		{"certificate", readKey(t, "bad-p256.cert.pem"), LoadOptions{}, []error{ErrPublicKeyOnly}, []string{`"CERTIFICATE"`, "private key"}},
		{"DER public key", readKey(t, "p256.pub.der"), LoadOptions{}, []error{ErrPublicKeyOnly}, []string{"DER public key"}},
		{"DER PKCS#1 public key", pemBytes(t, "bad-rsa2048.pkcs1-pub.pem"), LoadOptions{}, []error{ErrPublicKeyOnly}, []string{"DER public key"}},
		{"DER certificate", certDER, LoadOptions{}, []error{ErrPublicKeyOnly}, []string{"DER certificate"}},
		{"spec mismatch EC/RSA", p256PEM, LoadOptions{KeySpec: RSA2048}, []error{ErrSpecMismatch}, []string{"key spec given is RSA_2048", "ECC_NIST_P256"}},
		{"spec mismatch RSA size", readKey(t, "rsa2048.pkcs1.pem"), LoadOptions{KeySpec: RSA3072}, []error{ErrSpecMismatch}, []string{"RSA_3072", "RSA_2048"}},
		{"spec mismatch curve", readKey(t, "secp256k1.sec1.pem"), LoadOptions{KeySpec: ECCNISTP256}, []error{ErrSpecMismatch}, []string{"ECC_SECG_P256K1"}},
		{"spec mismatch secret/PEM", p256PEM, LoadOptions{KeySpec: SymmetricDefault}, []error{ErrSpecMismatch}, []string{"SYMMETRIC_DEFAULT", "PEM"}},
		{"empty", nil, LoadOptions{}, nil, []string{"empty"}},
		{"whitespace", []byte(" \n\t\n"), LoadOptions{KeySpec: HMAC256}, nil, []string{"empty"}},
		{"two PEM blocks", readKey(t, "bad-two-keys.pem"), LoadOptions{}, nil, []string{"2 private keys", `"PRIVATE KEY", "PRIVATE KEY"`, "ambiguous", "keep only"}},
		{"EC PARAMETERS of another curve", readKey(t, "bad-p256.ecparam-p384.pem"), LoadOptions{}, nil, []string{`"EC PARAMETERS" block names P-384 (secp384r1)`, "the key is on P-256 (prime256v1)"}},
		{"EC PARAMETERS explicit", readKey(t, "bad-p256.ecparam-explicit.pem"), LoadOptions{}, []error{ErrUnsupportedKey}, []string{`"EC PARAMETERS" block spells out`, "named curve"}},
		{"EC PARAMETERS only", pem.EncodeToMemory(&pem.Block{Type: "EC PARAMETERS", Bytes: pemBytes(t, "p256.ecparam.pem")}), LoadOptions{}, nil, []string{"no key"}},
		{"EC PARAMETERS and two keys", append(readKey(t, "p256.ecparam.pem"), readKey(t, "p256.sec1.pem")...), LoadOptions{}, nil, []string{"2 private keys", "ambiguous"}},
		{"secret key without KeySpec", []byte("00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n"), LoadOptions{}, nil, []string{"give its key spec (SYMMETRIC_DEFAULT or HMAC_*)"}},
		{"binary without KeySpec", append([]byte{0x30, 0x82}, bytes.Repeat([]byte{1}, 30)...), LoadOptions{}, nil, []string{"neither PEM nor valid DER (truncated)", "give its key spec (SYMMETRIC_DEFAULT or HMAC_*)"}},
		{"unknown KeySpec", p256PEM, LoadOptions{KeySpec: "AES_128"}, []error{ErrUnknownKeySpec}, []string{"AES_128"}},
		{"OpenSSH", ssh, LoadOptions{}, []error{ErrUnsupportedKey}, []string{"ssh-keygen -p -m PKCS8"}},
		{"unknown PEM type", unknown, LoadOptions{}, nil, []string{`"FOO"`, `"PRIVATE KEY"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := LoadKeyFile(tt.data, tt.opts)
			if err == nil {
				t.Fatalf("accepted: %v", m)
			}
			is := tt.is
			if tt.opts.KeySpec != "AES_128" {
				is = append(is, ErrInvalidMaterial)
			}
			for _, target := range is {
				if !errors.Is(err, target) {
					t.Errorf("error %q is not %v", err, target)
				}
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, "byok: ") {
				t.Errorf("error %q does not start with \"byok: \"", msg)
			}
			for _, f := range tt.frag {
				if !strings.Contains(msg, f) {
					t.Errorf("error %q does not contain %q", msg, f)
				}
			}
			assertNoSecret(t, msg, tt.data)
		})
	}
}

// assertNoSecret checks that s shows no part of data: no 16-byte window of
// it in hex or base64, nor raw.
func assertNoSecret(t *testing.T, s string, data []byte) {
	t.Helper()
	low := strings.ToLower(s)
	for i := 0; i+16 <= len(data); i += 8 {
		w := data[i : i+16]
		if strings.Contains(low, hex.EncodeToString(w)) || strings.Contains(s, string(w)) && isBinaryish(w) {
			t.Errorf("%q shows input bytes %d..%d", s, i, i+16)
		}
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawURLEncoding} {
		if e := enc.EncodeToString(data); len(e) >= 24 && strings.Contains(s, e[:24]) {
			t.Errorf("%q shows the input in base64", s)
		}
	}
}

func isBinaryish(b []byte) bool {
	for _, c := range b {
		if c < 0x20 || c > 0x7e {
			return true
		}
	}
	return false
}

// TestLoadKeyFileMaxIterations checks the iteration bound.
func TestLoadKeyFileMaxIterations(t *testing.T) {
	old := keyfile.MaxPBKDF2Iterations
	keyfile.MaxPBKDF2Iterations = 1000 // the fixtures use 2048
	defer func() { keyfile.MaxPBKDF2Iterations = old }()
	_, err := LoadKeyFile(readKey(t, "p256.enc.pem"), LoadOptions{Passphrase: []byte(testPassphrase)})
	if !errors.Is(err, ErrUnsupportedEncryption) || !strings.Contains(err.Error(), "2048 iterations") {
		t.Errorf("got %v", err)
	}
}

// TestKeyfileErrors checks the mapping of internal/keyfile's sentinels onto
// byok's: the same words, and errors.Is matching byok's sentinel (and
// ErrInvalidMaterial for every refinement) through fromKeyfile.
func TestKeyfileErrors(t *testing.T) {
	if len(keyfileErrors) != len(keyfile.Sentinels) {
		t.Fatalf("%d sentinels mapped, internal/keyfile has %d", len(keyfileErrors), len(keyfile.Sentinels))
	}
	for _, p := range keyfileErrors {
		if p.in.Error() != p.out.Error() {
			t.Errorf("internal %q, byok %q: the words differ", p.in, p.out)
		}
		err := fromKeyfile(fmt.Errorf("%w: detail", p.in))
		if !errors.Is(err, p.out) || !errors.Is(err, p.in) {
			t.Errorf("%v: errors.Is does not match %v", err, p.out)
		}
		if p.out != ErrNotImportable && !errors.Is(err, ErrInvalidMaterial) {
			t.Errorf("%v does not match ErrInvalidMaterial", err)
		}
		for _, q := range keyfileErrors {
			if q.out != p.out && q.out != ErrInvalidMaterial && errors.Is(err, q.out) {
				t.Errorf("%v also matches %v", err, q.out)
			}
		}
	}
	if fromKeyfile(nil) != nil {
		t.Error("fromKeyfile(nil) is not nil")
	}
	for spec, why := range map[KeySpec]string{specEd25519: keyfile.WhyEd25519, specMLDSA65: keyfile.WhyMLDSA, specMLKEM768: keyfile.WhyMLKEM, specSM2: keyfile.WhySM2} {
		if notImportable[spec] != why {
			t.Errorf("internal/keyfile says %q for %s, ParseKeySpec %q", why, spec, notImportable[spec])
		}
	}
}
