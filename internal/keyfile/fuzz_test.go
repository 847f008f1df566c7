package keyfile

import (
	"bytes"
	"strings"
	"testing"
)

func checkError(t *testing.T, err error) {
	t.Helper()
	if !isInvalid(err) {
		t.Fatalf("error does not wrap ErrInvalid: %v", err)
	}
	if !strings.HasPrefix(err.Error(), "byok: ") {
		t.Fatalf("error does not start with \"byok: \": %v", err)
	}
}

// FuzzLoad checks that Load fails cleanly or yields a key whose KMS form
// the strict parser takes back unchanged.
func FuzzLoad(f *testing.F) {
	old := MaxPBKDF2Iterations
	MaxPBKDF2Iterations = 4096 // keep executions fast; the fixtures use 2048
	f.Cleanup(func() { MaxPBKDF2Iterations = old })
	for name, data := range fixtures(f) {
		f.Add(data, strings.Contains(name, ".enc"))
	}
	f.Fuzz(func(t *testing.T, data []byte, withPass bool) {
		opts := Options{}
		if withPass {
			opts.Passphrase = []byte(testPassphrase)
		}
		k, err := Load(data, opts)
		if err != nil {
			checkError(t, err)
			return
		}
		defer k.Clear()
		der := k.PKCS8()
		s, err := ParsePKCS8(der, "", true)
		if err != nil || s.Spec() != k.Spec() || !bytes.Equal(s.PKCS8(), der) {
			t.Fatalf("the KMS form of a loaded %s key does not parse back unchanged: %v", k.Spec(), err)
		}
	})
}

// FuzzParsePKCS8 checks that the strict parser accepts only the canonical
// form: whatever it accepts re-encodes to the same bytes, and whatever the
// lenient parser accepts re-encodes to something the strict one takes.
func FuzzParsePKCS8(f *testing.F) {
	for name, data := range fixtures(f) {
		if strings.HasSuffix(name, ".pkcs8.der") {
			f.Add(data)
		}
	}
	f.Fuzz(func(t *testing.T, der []byte) {
		if k, err := ParsePKCS8(der, "", true); err != nil {
			checkError(t, err)
		} else if !bytes.Equal(k.PKCS8(), der) {
			t.Fatalf("strict ParsePKCS8 accepted a non-canonical %s encoding", k.Spec())
		}
		k, err := ParsePKCS8(der, "", false)
		if err != nil {
			checkError(t, err)
			return
		}
		if _, err := ParsePKCS8(k.PKCS8(), k.Spec(), true); err != nil {
			t.Fatalf("the re-encoded %s key is not canonical: %v", k.Spec(), err)
		}
	})
}
