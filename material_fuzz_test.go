package byok

import (
	"bytes"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/byok-go/byok/internal/keyfile"
)

// fuzzSpecs are the key specs the fuzz targets pick from; "" (no spec) first.
var fuzzSpecs = append([]KeySpec{""}, KeySpecs()...)

func specIndex(s KeySpec) uint8 {
	for i, x := range fuzzSpecs {
		if x == s {
			return uint8(i)
		}
	}
	return 0
}

// fixtureSpec returns the spec a fixture file is of, "" for asymmetric keys
// (detected) and bad inputs.
func fixtureSpec(name string) KeySpec {
	for _, f := range secretFixtures {
		if strings.HasPrefix(name, f.name+".") {
			return f.spec
		}
	}
	return ""
}

func checkFuzzError(t *testing.T, err error) {
	t.Helper()
	if !errors.Is(err, ErrInvalidMaterial) {
		t.Fatalf("error does not wrap ErrInvalidMaterial: %v", err)
	}
	if !strings.HasPrefix(err.Error(), "byok: ") {
		t.Fatalf("error does not start with \"byok: \": %v", err)
	}
}

func FuzzLoadKeyFile(f *testing.F) {
	old := keyfile.MaxPBKDF2Iterations
	keyfile.MaxPBKDF2Iterations = 4096 // keep executions fast; the fixtures use 2048
	f.Cleanup(func() { keyfile.MaxPBKDF2Iterations = old })
	files, err := filepath.Glob(filepath.Join("testdata", "keys", "*"))
	if err != nil {
		f.Fatal(err)
	}
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		name := filepath.Base(file)
		if strings.HasSuffix(name, ".md") {
			continue
		}
		f.Add(data, specIndex(fixtureSpec(name)), strings.Contains(name, ".enc"))
	}
	f.Add([]byte{}, uint8(0), false)
	f.Add([]byte("-----BEGIN PRIVATE KEY-----\n-----END PRIVATE KEY-----\n"), uint8(0), false)

	f.Fuzz(func(t *testing.T, data []byte, specIdx uint8, withPass bool) {
		opts := LoadOptions{KeySpec: fuzzSpecs[int(specIdx)%len(fuzzSpecs)]}
		if withPass {
			opts.Passphrase = []byte(testPassphrase)
		}
		m, err := LoadKeyFile(data, opts)
		if err != nil {
			checkFuzzError(t, err)
			return
		}
		if opts.KeySpec != "" && m.Spec() != opts.KeySpec {
			t.Fatalf("asked for %s, got %s", opts.KeySpec, m.Spec())
		}
		b := m.Bytes()
		if len(b) == 0 || len(b) != m.Len() || len(b) > m.Spec().MaterialLen() {
			t.Fatalf("%s material of %d bytes (MaterialLen %d)", m.Spec(), len(b), m.Spec().MaterialLen())
		}
		// What LoadKeyFile produces, the strict parser accepts unchanged.
		p, err := ParseKeyMaterial(m.Spec(), b)
		if err != nil {
			t.Fatalf("ParseKeyMaterial(%s, LoadKeyFile output): %v", m.Spec(), err)
		}
		if !p.Equal(m) {
			t.Fatal("ParseKeyMaterial changed the material")
		}
		if kind := m.Spec().Kind(); kind == KindRSA || kind == KindEC {
			// Loading the KMS form again is the identity.
			again, err := LoadKeyFile(b, LoadOptions{})
			if err != nil || !again.Equal(m) {
				t.Fatalf("reloading the KMS form: %v", err)
			}
			if m.Public() == nil || m.PublicKeyDER() == nil {
				t.Fatal("no public key")
			}
		}
		if s := fmt.Sprintf("%v %x %s", m, m, *m); strings.Contains(s, hex.EncodeToString(b[:16])) {
			t.Fatalf("Format shows the material: %s", s)
		}
	})
}

func FuzzParseKeyMaterial(f *testing.F) {
	for _, fx := range asymFixtures {
		der := readKey(f, fx.name+".pkcs8.der")
		f.Add(specIndex(fx.spec), der)
		bad, lenient := pkcs8Variants(f, fx.name, fx.spec)
		for _, b := range bad {
			f.Add(specIndex(fx.spec), b)
		}
		for _, b := range lenient {
			f.Add(specIndex(fx.spec), b)
		}
	}
	for _, fx := range secretFixtures {
		f.Add(specIndex(fx.spec), readKey(f, fx.name+".bin"))
	}

	f.Fuzz(func(t *testing.T, specIdx uint8, material []byte) {
		spec := KeySpecs()[int(specIdx)%len(KeySpecs())]
		m, err := ParseKeyMaterial(spec, material)
		if err != nil {
			checkFuzzError(t, err)
			return
		}
		// Strict means canonical: the material is kept byte for byte.
		if m.Spec() != spec || !bytes.Equal(m.Bytes(), material) {
			t.Fatalf("ParseKeyMaterial(%s) changed the material", spec)
		}
		kind := spec.Kind()
		if kind == KindSymmetric || kind == KindHMAC {
			return
		}
		// LoadKeyFile agrees.
		l, err := LoadKeyFile(material, LoadOptions{KeySpec: spec})
		if err != nil || !l.Equal(m) {
			t.Fatalf("LoadKeyFile disagrees with ParseKeyMaterial: %v", err)
		}
		// So does the standard library, where it can parse the key.
		if spec == ECCSECGP256K1 {
			return
		}
		key, err := x509.ParsePKCS8PrivateKey(material)
		if err != nil {
			t.Fatalf("crypto/x509 refuses material ParseKeyMaterial accepted: %v", err)
		}
		again, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil || !bytes.Equal(again, material) {
			t.Fatalf("crypto/x509 re-encodes the material differently: %v", err)
		}
	})
}
