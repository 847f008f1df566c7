package byok_test

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"testing/cryptotest"

	"github.com/c2sp/wycheproof"

	"github.com/byok-go/byok"
	"github.com/byok-go/byok/internal/kwp"
)

// ---------------------------------------------------------------------------
// Test-only wrapping keys (testdata/interop, made by testdata/interop/gen.sh).
// Generating RSA-3072/4096 keys on every run would be slow, so the tests load
// these instead, once per test binary.

// wrapFixtureDir holds the test-only RSA keys.
const wrapFixtureDir = "testdata/interop"

// wrapKeyBits are the modulus sizes of KMS wrapping keys.
var wrapKeyBits = []int{2048, 3072, 4096}

var wrapFixtures struct {
	once  sync.Once
	keys  map[string]*rsa.PrivateKey // by file name without extension
	err   error
	files []string
}

// wrapFixtureKey returns the test-only private key testdata/interop/name.pem.
func wrapFixtureKey(t testing.TB, name string) *rsa.PrivateKey {
	t.Helper()
	wrapFixtures.once.Do(func() {
		wrapFixtures.keys = map[string]*rsa.PrivateKey{}
		names := []string{"small-rsa1024"}
		for _, bits := range wrapKeyBits {
			names = append(names, fmt.Sprintf("wrap-rsa%d", bits), fmt.Sprintf("other-rsa%d", bits))
		}
		for _, n := range names {
			k, err := loadPKCS8RSAFile(filepath.Join(wrapFixtureDir, n+".pem"))
			if err != nil {
				wrapFixtures.err = err
				return
			}
			wrapFixtures.keys[n] = k
		}
	})
	if wrapFixtures.err != nil {
		t.Fatalf("loading test wrapping keys: %v", wrapFixtures.err)
	}
	k, ok := wrapFixtures.keys[name]
	if !ok {
		t.Fatalf("no test key %q", name)
	}
	return k
}

func loadPKCS8RSAFile(path string) (*rsa.PrivateKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("%s: want a PKCS#8 PEM block", path)
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	rk, ok := k.(*rsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("%s: %T, want RSA", path, k)
	}
	return rk, nil
}

// wrapKey returns the test wrapping key with a modulus of bits bits.
func wrapKey(t testing.TB, bits int) *rsa.PrivateKey {
	t.Helper()
	k := wrapFixtureKey(t, fmt.Sprintf("wrap-rsa%d", bits))
	if k.N.BitLen() != bits {
		t.Fatalf("test key wrap-rsa%d has %d bits", bits, k.N.BitLen())
	}
	return k
}

// otherWrapKey returns a second test key of the same size as wrapKey(bits).
func otherWrapKey(t testing.TB, bits int) *rsa.PrivateKey {
	t.Helper()
	return wrapFixtureKey(t, fmt.Sprintf("other-rsa%d", bits))
}

// wrapKeyFile returns the path of a fixture PEM file: the PKCS#8 private key,
// or the SubjectPublicKeyInfo public key if pub is true.
func wrapKeyFile(t testing.TB, bits int, pub bool) string {
	t.Helper()
	name := fmt.Sprintf("wrap-rsa%d.pem", bits)
	if pub {
		name = fmt.Sprintf("wrap-rsa%d.pub.pem", bits)
	}
	p, err := filepath.Abs(filepath.Join(wrapFixtureDir, name))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// wrapAlgOtherHash returns alg with the other hash (SHA-1 ↔ SHA-256).
func wrapAlgOtherHash(alg byok.WrappingAlgorithm) byok.WrappingAlgorithm {
	switch alg {
	case byok.RSAESOAEPSHA1:
		return byok.RSAESOAEPSHA256
	case byok.RSAESOAEPSHA256:
		return byok.RSAESOAEPSHA1
	case byok.RSAAESKeyWrapSHA1:
		return byok.RSAAESKeyWrapSHA256
	case byok.RSAAESKeyWrapSHA256:
		return byok.RSAAESKeyWrapSHA1
	}
	panic(alg)
}

// wrapAlgOtherFamily returns alg with the same hash in the other family
// (RSAES_OAEP ↔ RSA_AES_KEY_WRAP).
func wrapAlgOtherFamily(alg byok.WrappingAlgorithm) byok.WrappingAlgorithm {
	switch alg {
	case byok.RSAESOAEPSHA1:
		return byok.RSAAESKeyWrapSHA1
	case byok.RSAESOAEPSHA256:
		return byok.RSAAESKeyWrapSHA256
	case byok.RSAAESKeyWrapSHA1:
		return byok.RSAESOAEPSHA1
	case byok.RSAAESKeyWrapSHA256:
		return byok.RSAESOAEPSHA256
	}
	panic(alg)
}

// wrapAlgHash is the OAEP hash of alg, written out independently of
// WrappingAlgorithm.Hash.
func wrapAlgHash(alg byok.WrappingAlgorithm) crypto.Hash {
	switch alg {
	case "RSAES_OAEP_SHA_1", "RSA_AES_KEY_WRAP_SHA_1":
		return crypto.SHA1
	case "RSAES_OAEP_SHA_256", "RSA_AES_KEY_WRAP_SHA_256":
		return crypto.SHA256
	}
	panic(alg)
}

func wrapIsKeyWrap(alg byok.WrappingAlgorithm) bool {
	return alg == "RSA_AES_KEY_WRAP_SHA_1" || alg == "RSA_AES_KEY_WRAP_SHA_256"
}

func randBytes(t testing.TB, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// mustUnwrapFail asserts that UnwrapKeyMaterial fails with exactly ErrUnwrap.
func mustUnwrapFail(t *testing.T, what string, priv *rsa.PrivateKey, alg byok.WrappingAlgorithm, blob []byte) {
	t.Helper()
	out, err := byok.UnwrapKeyMaterial(priv, alg, blob)
	if err != byok.ErrUnwrap || !errors.Is(err, byok.ErrUnwrap) || out != nil {
		t.Errorf("%s: UnwrapKeyMaterial = %x, %v; want nil, exactly ErrUnwrap", what, out, err)
	}
}

// ---------------------------------------------------------------------------
// Wycheproof RSA-OAEP decryption vectors.

type wycheproofOAEPFile struct {
	Algorithm     string `json:"algorithm"`
	NumberOfTests int    `json:"numberOfTests"`
	TestGroups    []struct {
		KeySize         int    `json:"keySize"`
		SHA             string `json:"sha"`
		MGF             string `json:"mgf"`
		MGFSHA          string `json:"mgfSha"`
		PrivateKeyPKCS8 string `json:"privateKeyPkcs8"`
		Tests           []struct {
			TcID    int      `json:"tcId"`
			Comment string   `json:"comment"`
			Msg     string   `json:"msg"`
			CT      string   `json:"ct"`
			Label   string   `json:"label"`
			Result  string   `json:"result"`
			Flags   []string `json:"flags"`
		} `json:"tests"`
	} `json:"testGroups"`
}

func loadWycheproofOAEP(t *testing.T, name string) *wycheproofOAEPFile {
	t.Helper()
	data, err := fs.ReadFile(wycheproof.TestVectors, name)
	if err != nil {
		t.Fatalf("reading Wycheproof %s: %v", name, err)
	}
	var f wycheproofOAEPFile
	if err := json.Unmarshal(data, &f); err != nil {
		t.Fatalf("parsing Wycheproof %s: %v", name, err)
	}
	if f.Algorithm != "RSAES-OAEP" || f.NumberOfTests <= 0 || len(f.TestGroups) == 0 {
		t.Fatalf("Wycheproof %s: algorithm %q, %d tests, %d groups: not an RSA-OAEP vector file",
			name, f.Algorithm, f.NumberOfTests, len(f.TestGroups))
	}
	return &f
}

func wycheproofHash(t *testing.T, name string) crypto.Hash {
	switch name {
	case "SHA-1":
		return crypto.SHA1
	case "SHA-256":
		return crypto.SHA256
	}
	t.Fatalf("unexpected Wycheproof hash %q", name)
	return 0
}

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatalf("bad hex %q: %v", s, err)
	}
	return b
}

// wycheproofGroupKey parses a group's private key and reports whether it is
// a size KMS uses for wrapping keys.
func wycheproofGroupKey(t *testing.T, pkcs8Hex string, keySize int) (*rsa.PrivateKey, bool) {
	t.Helper()
	k, err := x509.ParsePKCS8PrivateKey(unhex(t, pkcs8Hex))
	if err != nil {
		t.Fatalf("privateKeyPkcs8: %v", err)
	}
	priv, ok := k.(*rsa.PrivateKey)
	if !ok {
		t.Fatalf("privateKeyPkcs8 is a %T", k)
	}
	bits := priv.N.BitLen()
	if bits != keySize {
		t.Fatalf("group keySize %d, but the key has %d bits", keySize, bits)
	}
	return priv, bits == 2048 || bits == 3072 || bits == 4096
}

// TestWycheproofOAEP runs Wycheproof's RSA-OAEP decryption vectors whose
// OAEP and MGF1 hashes agree through UnwrapKeyMaterial: the valid ones with an
// empty label decrypt to the message; everything else (invalid padding or
// ciphertext, a non-empty label, an empty message) is exactly ErrUnwrap.
func TestWycheproofOAEP(t *testing.T) {
	files := []struct {
		name string
		alg  byok.WrappingAlgorithm
		hash string
	}{
		{"rsa_oaep_2048_sha1_mgf1sha1_test.json", byok.RSAESOAEPSHA1, "SHA-1"},
		{"rsa_oaep_2048_sha256_mgf1sha256_test.json", byok.RSAESOAEPSHA256, "SHA-256"},
		{"rsa_oaep_3072_sha256_mgf1sha256_test.json", byok.RSAESOAEPSHA256, "SHA-256"},
		{"rsa_oaep_4096_sha256_mgf1sha256_test.json", byok.RSAESOAEPSHA256, "SHA-256"},
	}
	total := 0
	for _, file := range files {
		t.Run(file.name, func(t *testing.T) {
			t.Parallel()
			f := loadWycheproofOAEP(t, file.name)
			ran, decrypted, refused := 0, 0, 0
			for _, g := range f.TestGroups {
				if g.SHA != file.hash || g.MGFSHA != file.hash || g.MGF != "MGF1" {
					t.Fatalf("group hashes %s/%s %s, want %s for both", g.SHA, g.MGF, g.MGFSHA, file.hash)
				}
				h := wycheproofHash(t, g.SHA)
				priv, usable := wycheproofGroupKey(t, g.PrivateKeyPKCS8, g.KeySize)
				if !usable {
					t.Logf("skipping a group: %d-bit key; KMS wrapping keys are 2048, 3072 or 4096 bits", g.KeySize)
					continue
				}
				for _, tc := range g.Tests {
					ran++
					msg, ct, label := unhex(t, tc.Msg), unhex(t, tc.CT), unhex(t, tc.Label)
					out, err := byok.UnwrapKeyMaterial(priv, file.alg, ct)
					switch {
					case tc.Result == "valid" && len(label) == 0 && len(msg) > 0:
						if err != nil || !bytes.Equal(out, msg) {
							t.Errorf("tcId %d (%s): UnwrapKeyMaterial = %x, %v; want %x", tc.TcID, tc.Comment, out, err, msg)
						}
						decrypted++
					case tc.Result == "valid" || tc.Result == "invalid":
						// Invalid, labelled (KMS uses an empty label) or empty
						// (no key material is empty).
						if err != byok.ErrUnwrap || !errors.Is(err, byok.ErrUnwrap) || out != nil {
							t.Errorf("tcId %d (%s, %s, label %q, %d-byte msg): UnwrapKeyMaterial = %x, %v; want exactly ErrUnwrap",
								tc.TcID, tc.Result, tc.Comment, tc.Label, len(msg), out, err)
						}
						if tc.Result == "valid" && len(label) > 0 {
							// The vector is sound: with its label it decrypts.
							pt, err := priv.Decrypt(nil, ct, &rsa.OAEPOptions{Hash: h, Label: label})
							if err != nil || !bytes.Equal(pt, msg) {
								t.Errorf("tcId %d: crypto/rsa with label %x = %x, %v; want %x", tc.TcID, label, pt, err, msg)
							}
						}
						refused++
					default:
						t.Errorf("tcId %d: unexpected result %q", tc.TcID, tc.Result)
					}
				}
			}
			if ran == 0 || ran != f.NumberOfTests {
				t.Fatalf("exercised %d vectors, the file has %d", ran, f.NumberOfTests)
			}
			if decrypted == 0 || refused == 0 {
				t.Fatalf("%d decrypted, %d refused: want both > 0", decrypted, refused)
			}
			t.Logf("%d vectors: %d decrypted, %d refused with ErrUnwrap", ran, decrypted, refused)
		})
		total++
	}
	if total != len(files) {
		t.Fatalf("ran %d files, want %d", total, len(files))
	}
}

// TestWycheproofOAEPMixedMGF shows that UnwrapKeyMaterial uses MGF1 with the
// OAEP hash: the valid ciphertexts of Wycheproof's SHA-256/MGF1-SHA-1 files
// decrypt with crypto/rsa told about MGF1-SHA-1, but RSAES_OAEP_SHA_256 (and
// RSAES_OAEP_SHA_1) must refuse them.
func TestWycheproofOAEPMixedMGF(t *testing.T) {
	files := []string{
		"rsa_oaep_2048_sha256_mgf1sha1_test.json",
		"rsa_oaep_3072_sha256_mgf1sha1_test.json",
		"rsa_oaep_4096_sha256_mgf1sha1_test.json",
	}
	for _, name := range files {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := loadWycheproofOAEP(t, name)
			seen, refused, valid := 0, 0, 0
			for _, g := range f.TestGroups {
				if g.SHA != "SHA-256" || g.MGFSHA != "SHA-1" {
					t.Fatalf("group hashes %s/%s, want SHA-256/SHA-1", g.SHA, g.MGFSHA)
				}
				priv, usable := wycheproofGroupKey(t, g.PrivateKeyPKCS8, g.KeySize)
				if !usable {
					t.Logf("skipping a group: %d-bit key; KMS wrapping keys are 2048, 3072 or 4096 bits", g.KeySize)
					continue
				}
				for _, tc := range g.Tests {
					seen++
					msg, ct, label := unhex(t, tc.Msg), unhex(t, tc.CT), unhex(t, tc.Label)
					if tc.Result == "valid" {
						valid++
						pt, err := priv.Decrypt(nil, ct, &rsa.OAEPOptions{Hash: crypto.SHA256, MGFHash: crypto.SHA1, Label: label})
						if err != nil || !bytes.Equal(pt, msg) {
							t.Fatalf("tcId %d: crypto/rsa with MGF1-SHA-1 = %x, %v; want %x (the vector is not what it claims)", tc.TcID, pt, err, msg)
						}
					}
					for _, alg := range []byok.WrappingAlgorithm{byok.RSAESOAEPSHA256, byok.RSAESOAEPSHA1} {
						out, err := byok.UnwrapKeyMaterial(priv, alg, ct)
						if err != byok.ErrUnwrap || out != nil {
							t.Errorf("tcId %d (%s, %s): %s: UnwrapKeyMaterial = %x, %v; want exactly ErrUnwrap (MGF1 hash must equal the OAEP hash)",
								tc.TcID, tc.Result, tc.Comment, alg, out, err)
						}
					}
					refused++
				}
			}
			if seen == 0 || seen != f.NumberOfTests || valid == 0 {
				t.Fatalf("exercised %d vectors (%d valid), the file has %d", seen, valid, f.NumberOfTests)
			}
			t.Logf("%d vectors (%d valid under MGF1-SHA-1) all refused", refused, valid)
		})
	}
}

// ---------------------------------------------------------------------------
// An independent RSA-OAEP encoder (RFC 8017 §7.1.1), for known answers.

// mgf1 is RFC 8017 B.2.1's MGF1 with hash h.
func mgf1(h crypto.Hash, seed []byte, n int) []byte {
	var out []byte
	for counter := uint32(0); len(out) < n; counter++ {
		d := h.New()
		d.Write(seed)
		d.Write(binary.BigEndian.AppendUint32(nil, counter))
		out = d.Sum(out)
	}
	return out[:n]
}

func xorBytes(a, b []byte) []byte {
	out := make([]byte, len(a))
	for i := range a {
		out[i] = a[i] ^ b[i]
	}
	return out
}

// handOAEPEncrypt is RSAES-OAEP-ENCRYPT with hash h for OAEP and MGF1, an
// empty label and the given seed, then RSAEP with math/big.
func handOAEPEncrypt(t testing.TB, pub *rsa.PublicKey, h crypto.Hash, msg, seed []byte) []byte {
	t.Helper()
	k := (pub.N.BitLen() + 7) / 8
	hLen := h.Size()
	if len(seed) != hLen || len(msg) > k-2*hLen-2 {
		t.Fatalf("handOAEPEncrypt: seed %d bytes, message %d bytes, k %d", len(seed), len(msg), k)
	}
	lHash := h.New().Sum(nil) // the hash of the empty label
	db := make([]byte, 0, k-hLen-1)
	db = append(db, lHash...)
	db = append(db, make([]byte, k-len(msg)-2*hLen-2)...) // PS
	db = append(db, 0x01)
	db = append(db, msg...)
	maskedDB := xorBytes(db, mgf1(h, seed, k-hLen-1))
	maskedSeed := xorBytes(seed, mgf1(h, maskedDB, hLen))
	em := append(append([]byte{0x00}, maskedSeed...), maskedDB...)
	m := new(big.Int).SetBytes(em)
	c := new(big.Int).Exp(m, big.NewInt(int64(pub.E)), pub.N)
	return c.FillBytes(make([]byte, k))
}

// kat material: fixed bytes, so that the known answers depend only on the
// seed of the random stream.
func katMaterial(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + 3)
	}
	return b
}

// TestWrapKnownAnswer checks WrapKeyMaterial against an independent
// encoder. With testing/cryptotest.SetGlobalRandom the randomness is a known
// stream: RSA-OAEP reads its hLen-byte seed from it, and RSA_AES_KEY_WRAP first
// reads the 32-byte AES key K, then the seed. The expected output is computed
// from those bytes with handOAEPEncrypt and kwp.Wrap.
//
// This relies on how crypto/rsa consumes randomness, which Go documents as
// not guaranteed (though OAEP's is "a well-specified number of random bytes
// ... in a well-specified way"); if a Go release changes it, the "stream"
// check fails while the others still hold.
//
// Not parallel: SetGlobalRandom affects the whole process.
func TestWrapKnownAnswer(t *testing.T) {
	for _, bits := range wrapKeyBits {
		priv := wrapKey(t, bits)
		pub := &priv.PublicKey
		k := pub.Size()
		for _, alg := range byok.WrappingAlgorithms() {
			h := wrapAlgHash(alg)
			material := katMaterial(32)
			if wrapIsKeyWrap(alg) {
				material = katMaterial(241)
			}
			t.Run(fmt.Sprintf("%s/RSA_%d", alg, bits), func(t *testing.T) {
				wrapSeeded := func(seed uint64) []byte {
					cryptotest.SetGlobalRandom(t, seed)
					out, err := byok.WrapKeyMaterial(pub, alg, material)
					if err != nil {
						t.Fatalf("WrapKeyMaterial: %v", err)
					}
					return out
				}
				a, b, c := wrapSeeded(1), wrapSeeded(1), wrapSeeded(2)
				if !bytes.Equal(a, b) {
					t.Fatalf("same seed, different output:\n%x\n%x", a, b)
				}
				if bytes.Equal(a, c) {
					t.Fatalf("seeds 1 and 2 gave the same output %x", a)
				}

				// The stream: what WrapKeyMaterial read from the randomness.
				cryptotest.SetGlobalRandom(t, 1)
				var stream []byte
				if wrapIsKeyWrap(alg) {
					stream = randBytes(t, 32+h.Size())
				} else {
					stream = randBytes(t, h.Size())
				}
				var want []byte
				if wrapIsKeyWrap(alg) {
					key, seed := stream[:32], stream[32:]
					tail, err := kwp.Wrap(key, material)
					if err != nil {
						t.Fatal(err)
					}
					want = append(handOAEPEncrypt(t, pub, h, key, seed), tail...)
				} else {
					want = handOAEPEncrypt(t, pub, h, material, stream)
				}
				if !bytes.Equal(a, want) {
					t.Errorf("stream: WrapKeyMaterial under seed 1 =\n%x\nthe independent encoder, from the same random stream, gives\n%x", a, want)
				}

				// An independent encoder agrees with crypto/rsa's and our decoder.
				seed := bytes.Repeat([]byte{0x5c}, h.Size())
				payload := material
				if wrapIsKeyWrap(alg) {
					payload = katMaterial(32) // K
				}
				ct := handOAEPEncrypt(t, pub, h, payload, seed)
				if pt, err := rsa.DecryptOAEP(h.New(), nil, priv, ct, nil); err != nil || !bytes.Equal(pt, payload) {
					t.Errorf("rsa.DecryptOAEP(hand-made ciphertext) = %x, %v; want %x", pt, err, payload)
				}
				blob := ct
				if wrapIsKeyWrap(alg) {
					tail, err := kwp.Wrap(payload, material)
					if err != nil {
						t.Fatal(err)
					}
					blob = append(append([]byte(nil), ct...), tail...)
				}
				if out, err := byok.UnwrapKeyMaterial(priv, alg, blob); err != nil || !bytes.Equal(out, material) {
					t.Errorf("UnwrapKeyMaterial(hand-made blob) = %x, %v; want %x", out, err, material)
				}

				// RSA_AES_KEY_WRAP: the head is OAEP(K), the tail kwp.Wrap(K, material).
				if wrapIsKeyWrap(alg) {
					for _, out := range [][]byte{a, c} {
						key, err := rsa.DecryptOAEP(h.New(), nil, priv, out[:k], nil)
						if err != nil || len(key) != 32 {
							t.Fatalf("rsa.DecryptOAEP(head) = %d bytes, %v; want a 32-byte AES key", len(key), err)
						}
						tail, err := kwp.Wrap(key, material)
						if err != nil {
							t.Fatal(err)
						}
						if !bytes.Equal(out[k:], tail) {
							t.Errorf("tail = %x, want kwp.Wrap(K, material) = %x", out[k:], tail)
						}
					}
				} else if pt, err := rsa.DecryptOAEP(h.New(), nil, priv, a, nil); err != nil || !bytes.Equal(pt, material) {
					t.Errorf("rsa.DecryptOAEP(WrapKeyMaterial output) = %x, %v", pt, err)
				}
			})
		}
	}
}

// ---------------------------------------------------------------------------
// Round trips and tampering.

// wrapMaterialSizes: raw symmetric/HMAC lengths, the PKCS#8 lengths of P-256,
// P-384, P-521 and secp256k1 keys, and typical PKCS#8 RSA-2048/3072/4096 keys.
var wrapMaterialSizes = []int{32, 28, 48, 64, 138, 185, 241, 135, 1218, 1793, 2375}

// oaepLimit is RFC 8017's k − 2·hLen − 2, written out independently.
func oaepLimit(bits int, h crypto.Hash) int { return bits/8 - 2*h.Size() - 2 }

// wrappedLen is the expected blob length, written out independently.
func wrappedLen(alg byok.WrappingAlgorithm, bits, n int) int {
	if !wrapIsKeyWrap(alg) {
		return bits / 8
	}
	return bits/8 + 8 + 8*((n+7)/8)
}

func TestWrapRoundTrip(t *testing.T) {
	for _, alg := range byok.WrappingAlgorithms() {
		for _, bits := range wrapKeyBits {
			for _, n := range wrapMaterialSizes {
				t.Run(fmt.Sprintf("%s/RSA_%d/%d", alg, bits, n), func(t *testing.T) {
					t.Parallel()
					priv := wrapKey(t, bits)
					material := randBytes(t, n)
					out, err := byok.WrapKeyMaterial(&priv.PublicKey, alg, material)
					if !wrapIsKeyWrap(alg) && n > oaepLimit(bits, wrapAlgHash(alg)) {
						if !errors.Is(err, byok.ErrIncompatible) || out != nil {
							t.Fatalf("%d bytes over the OAEP limit %d: WrapKeyMaterial = %d bytes, %v; want ErrIncompatible",
								n, oaepLimit(bits, wrapAlgHash(alg)), len(out), err)
						}
						return
					}
					if err != nil {
						t.Fatalf("WrapKeyMaterial: %v", err)
					}
					if len(out) != wrappedLen(alg, bits, n) {
						t.Fatalf("blob is %d bytes; want %d", len(out), wrappedLen(alg, bits, n))
					}
					back, err := byok.UnwrapKeyMaterial(priv, alg, out)
					if err != nil || !bytes.Equal(back, material) {
						t.Fatalf("UnwrapKeyMaterial = %x, %v; want the material", back, err)
					}
					again, err := byok.WrapKeyMaterial(&priv.PublicKey, alg, material)
					if err != nil || bytes.Equal(again, out) {
						t.Fatalf("wrapping twice gave the same blob (%v): the wrap is not randomized", err)
					}
					wrapTamper(t, priv, alg, out)
				})
			}
		}
	}
}

// wrapTamper checks that every kind of damage to a valid blob gives ErrUnwrap.
func wrapTamper(t *testing.T, priv *rsa.PrivateKey, alg byok.WrappingAlgorithm, blob []byte) {
	t.Helper()
	k := priv.Size()
	flip := map[string]int{
		"first byte of the RSA block": 0,
		"last byte of the RSA block":  k - 1,
		"middle of the RSA block":     k / 2,
		"last byte":                   len(blob) - 1,
	}
	if wrapIsKeyWrap(alg) {
		flip["first KWP byte"] = k
		flip["first KWP data byte"] = k + 8
	}
	for what, i := range flip {
		for _, mask := range []byte{0x01, 0x80} {
			b := bytes.Clone(blob)
			b[i] ^= mask
			mustUnwrapFail(t, fmt.Sprintf("flipped %s (%d ^ %#x)", what, i, mask), priv, alg, b)
		}
	}
	mustUnwrapFail(t, "truncated by one byte", priv, alg, blob[:len(blob)-1])
	mustUnwrapFail(t, "extended by one byte", priv, alg, append(bytes.Clone(blob), 0))
	mustUnwrapFail(t, "empty", priv, alg, nil)
	if wrapIsKeyWrap(alg) {
		mustUnwrapFail(t, "truncated by one KWP block", priv, alg, blob[:len(blob)-8])
		mustUnwrapFail(t, "extended by one KWP block", priv, alg, append(bytes.Clone(blob), make([]byte, 8)...))
		mustUnwrapFail(t, "RSA block only", priv, alg, blob[:k])
		mustUnwrapFail(t, "KWP block only", priv, alg, blob[k:])
	}
	mustUnwrapFail(t, "wrong hash", priv, wrapAlgOtherHash(alg), blob)
	mustUnwrapFail(t, "wrong family", priv, wrapAlgOtherFamily(alg), blob)
	mustUnwrapFail(t, "wrong private key", otherWrapKey(t, priv.N.BitLen()), alg, blob)
}

// TestWrapSizeLimits checks the edges: OAEP at exactly k − 2·hLen − 2 bytes
// and one more; RSA_AES_KEY_WRAP at exactly 6144 bytes of blob and one more.
func TestWrapSizeLimits(t *testing.T) {
	for _, bits := range wrapKeyBits {
		priv := wrapKey(t, bits)
		for _, alg := range byok.WrappingAlgorithms() {
			t.Run(fmt.Sprintf("%s/RSA_%d", alg, bits), func(t *testing.T) {
				t.Parallel()
				max := oaepLimit(bits, wrapAlgHash(alg))
				if wrapIsKeyWrap(alg) {
					max = 6144 - bits/8 - 8 // the largest multiple of 8 that fits
				}
				m := randBytes(t, max)
				out, err := byok.WrapKeyMaterial(&priv.PublicKey, alg, m)
				if err != nil {
					t.Fatalf("%d bytes (the limit): %v", max, err)
				}
				if len(out) > 6144 {
					t.Fatalf("blob is %d bytes", len(out))
				}
				if back, err := byok.UnwrapKeyMaterial(priv, alg, out); err != nil || !bytes.Equal(back, m) {
					t.Fatalf("%d bytes: round trip failed: %v", max, err)
				}
				out, err = byok.WrapKeyMaterial(&priv.PublicKey, alg, randBytes(t, max+1))
				if !errors.Is(err, byok.ErrIncompatible) || out != nil {
					t.Fatalf("%d bytes (one over the limit): WrapKeyMaterial = %d bytes, %v; want ErrIncompatible", max+1, len(out), err)
				}
			})
		}
	}
}

// TestWrapErrors checks the refusals that do not depend on the ciphertext.
func TestWrapErrors(t *testing.T) {
	priv := wrapKey(t, 2048)
	pub := &priv.PublicKey
	material := randBytes(t, 32)

	// A public key of an odd size: only its modulus length matters, since
	// WrapKeyMaterial must refuse it before encrypting.
	n2056 := new(big.Int).Lsh(big.NewInt(1), 2055)
	n2056.Add(n2056, big.NewInt(0xff))
	badPubs := map[string]*rsa.PublicKey{
		"nil":                nil,
		"no modulus":         {E: 65537},
		"1024 bits":          &wrapFixtureKey(t, "small-rsa1024").PublicKey,
		"2056 bits":          {N: n2056, E: 65537},
		"2040 bits":          {N: new(big.Int).Rsh(pub.N, 8), E: 65537},
		"even exponent":      {N: pub.N, E: 65536},
		"exponent 1":         {N: pub.N, E: 1},
		"4104-bit (too big)": {N: new(big.Int).Lsh(pub.N, 2056), E: 65537},
	}
	for name, bad := range badPubs {
		for _, alg := range byok.WrappingAlgorithms() {
			out, err := byok.WrapKeyMaterial(bad, alg, material)
			if !errors.Is(err, byok.ErrWrappingKey) || out != nil {
				t.Errorf("wrapping key %s, %s: WrapKeyMaterial = %x, %v; want ErrWrappingKey", name, alg, out, err)
			}
		}
	}
	blob, err := byok.WrapKeyMaterial(pub, byok.RSAESOAEPSHA256, material)
	if err != nil {
		t.Fatal(err)
	}
	for name, bad := range map[string]*rsa.PrivateKey{"nil": nil, "1024 bits": wrapFixtureKey(t, "small-rsa1024")} {
		out, err := byok.UnwrapKeyMaterial(bad, byok.RSAESOAEPSHA256, blob)
		if !errors.Is(err, byok.ErrWrappingKey) || out != nil {
			t.Errorf("private key %s: UnwrapKeyMaterial = %x, %v; want ErrWrappingKey", name, out, err)
		}
	}

	for alg, want := range map[byok.WrappingAlgorithm]error{
		"RSAES_PKCS1_V1_5":   byok.ErrDeprecatedAlgorithm,
		"SM2PKE":             byok.ErrDeprecatedAlgorithm,
		"RSAES_OAEP_SHA_512": byok.ErrUnknownAlgorithm,
		"rsaes_oaep_sha_256": byok.ErrUnknownAlgorithm,
		"":                   byok.ErrUnknownAlgorithm,
	} {
		if out, err := byok.WrapKeyMaterial(pub, alg, material); !errors.Is(err, want) || out != nil {
			t.Errorf("WrapKeyMaterial(%q) = %x, %v; want %v", alg, out, err, want)
		}
		if out, err := byok.UnwrapKeyMaterial(priv, alg, blob); !errors.Is(err, want) || out != nil {
			t.Errorf("UnwrapKeyMaterial(%q) = %x, %v; want %v", alg, out, err, want)
		}
	}

	for _, alg := range byok.WrappingAlgorithms() {
		for _, empty := range [][]byte{nil, {}} {
			if out, err := byok.WrapKeyMaterial(pub, alg, empty); !errors.Is(err, byok.ErrInvalidMaterial) || out != nil {
				t.Errorf("%s, empty material %#v: WrapKeyMaterial = %x, %v; want ErrInvalidMaterial", alg, empty, out, err)
			}
		}
	}
}

func TestParseWrappingPublicKey(t *testing.T) {
	for _, bits := range wrapKeyBits {
		want := &wrapKey(t, bits).PublicKey
		der, err := x509.MarshalPKIXPublicKey(want)
		if err != nil {
			t.Fatal(err)
		}
		pemFile, err := os.ReadFile(wrapKeyFile(t, bits, true))
		if err != nil {
			t.Fatal(err)
		}
		for name, in := range map[string][]byte{
			"DER":            der,
			"PEM (OpenSSL)":  pemFile,
			"PEM (encoded)":  pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}),
			"PEM with CRLFs": bytes.ReplaceAll(pemFile, []byte("\n"), []byte("\r\n")),
		} {
			got, err := byok.ParseWrappingPublicKey(in)
			if err != nil || !got.Equal(want) {
				t.Errorf("RSA_%d %s: ParseWrappingPublicKey = %v, %v; want the key", bits, name, got, err)
			}
			if spec, err := byok.WrappingKeySpecOf(got); err != nil || spec.Bits() != bits {
				t.Errorf("RSA_%d %s: WrappingKeySpecOf = %q, %v", bits, name, spec, err)
			}
		}
	}

	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ecDER, _ := x509.MarshalPKIXPublicKey(&ecKey.PublicKey)
	edPub, _, _ := ed25519.GenerateKey(rand.Reader)
	edDER, _ := x509.MarshalPKIXPublicKey(edPub)
	small := &wrapFixtureKey(t, "small-rsa1024").PublicKey
	smallDER, _ := x509.MarshalPKIXPublicKey(small)
	rsaPub := &wrapKey(t, 2048).PublicKey
	pkcs1 := x509.MarshalPKCS1PublicKey(rsaPub)
	goodDER, _ := x509.MarshalPKIXPublicKey(rsaPub)
	for name, in := range map[string][]byte{
		"EC SPKI DER":              ecDER,
		"EC SPKI PEM":              pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: ecDER}),
		"Ed25519 SPKI":             edDER,
		"RSA 1024 SPKI":            smallDER,
		"PKCS#1 DER":               pkcs1,
		"PKCS#1 PEM":               pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: pkcs1}),
		"certificate-typed PEM":    pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: goodDER}),
		"garbage":                  []byte("this is not a key"),
		"random bytes":             randBytes(t, 300),
		"empty":                    nil,
		"truncated DER":            goodDER[:len(goodDER)-1],
		"DER with trailing data":   append(bytes.Clone(goodDER), 0),
		"base64 of DER (not PEM)":  []byte(base64.StdEncoding.EncodeToString(goodDER)),
		"PEM with broken base64":   []byte("-----BEGIN PUBLIC KEY-----\n!!!!\n-----END PUBLIC KEY-----\n"),
		"private key PEM (PKCS#8)": mustReadFile(t, wrapKeyFile(t, 2048, false)),
	} {
		got, err := byok.ParseWrappingPublicKey(in)
		if !errors.Is(err, byok.ErrWrappingKey) || got != nil {
			t.Errorf("%s: ParseWrappingPublicKey = %v, %v; want ErrWrappingKey", name, got, err)
		}
	}
}

func mustReadFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
