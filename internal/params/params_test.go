package params

import (
	"archive/zip"
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/byok-go/byok"
)

var (
	keyOnce sync.Once
	testKey *rsa.PrivateKey
)

func wrappingKey(t testing.TB) (*rsa.PublicKey, []byte) {
	keyOnce.Do(func() {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		testKey = k
	})
	der, err := x509.MarshalPKIXPublicKey(&testKey.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return &testKey.PublicKey, der
}

const (
	keyID = "1234abcd-12ab-34cd-56ef-1234567890ab"
	arn   = "arn:aws:kms:eu-west-1:111122223333:key/" + keyID
)

func testSet(t testing.TB) *Set {
	pub, der := wrappingKey(t)
	p := byok.ImportParameters{KeyID: arn, Algorithm: byok.RSAESOAEPSHA256, WrappingKeySpec: byok.WrappingRSA2048,
		WrappingKey: pub, ImportToken: []byte("token bytes"), ValidTo: time.Now().Add(24 * time.Hour)}
	return New(p, der, byok.ECCNISTP256, byok.SignVerify, time.Now())
}

func TestWriteReadDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "p")
	s := testSet(t)
	s.Meta.Source = &Source{Label: "key.pem", KeySpec: byok.ECCNISTP256, Fingerprint: "sha256:ab", PublicKey: []byte{1, 2}}
	if err := Write(dir, s, false); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(dir)
	if err != nil || st.Mode().Perm() != 0o700 {
		t.Errorf("directory mode: %v %v", err, st)
	}
	if err := Write(dir, s, false); err == nil || !strings.Contains(err.Error(), "already holds") {
		t.Errorf("second Write: %v", err)
	}
	got, err := ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got.Meta.KeyARN != arn || got.Meta.Region != "eu-west-1" || got.Meta.Algorithm != byok.RSAESOAEPSHA256 ||
		!bytes.Equal(got.ImportToken, s.ImportToken) || got.WrappingKey.N.Cmp(s.WrappingKey.N) != 0 ||
		got.Encrypted != nil || got.Meta.Source.Fingerprint != "sha256:ab" || got.Expired(time.Now()) || !got.Expired(time.Now().Add(25*time.Hour)) {
		t.Errorf("read back: %+v", got.Meta)
	}
	ip := got.ImportParameters()
	if ip.KeyID != arn || ip.ValidTo.IsZero() || ip.WrappingKey == nil {
		t.Errorf("ImportParameters: %+v", ip)
	}
	if err := WriteWrapped(dir, got, []byte("wrapped"), Source{Label: "key.pem"}, time.Now()); err != nil {
		t.Fatal(err)
	}
	got, err = ReadDir(dir)
	if err != nil || string(got.Encrypted) != "wrapped" || got.Meta.Wrapped.Bytes != 7 {
		t.Fatalf("after WriteWrapped: %v %+v", err, got)
	}
	// Each file swapped for another is caught.
	for _, f := range []string{ImportTokenFile, WrappingKeyFile, EncryptedKeyMaterialFile} {
		d2 := filepath.Join(t.TempDir(), "p")
		if err := Write(d2, testSet(t), false); err != nil {
			t.Fatal(err)
		}
		WriteWrapped(d2, got, []byte("wrapped"), Source{}, time.Now())
		os.WriteFile(filepath.Join(d2, f), []byte("something else"), 0o600)
		if _, err := ReadDir(d2); err == nil {
			t.Errorf("%s replaced: not caught", f)
		}
	}
}

func TestCheck(t *testing.T) {
	for name, mutate := range map[string]func(*Set){
		"format":            func(s *Set) { s.Meta.Format = "v0" },
		"no key":            func(s *Set) { s.Meta.KeyARN = "" },
		"no token":          func(s *Set) { s.ImportToken = nil; s.Meta.ImportTokenSHA256 = "" },
		"wrapping key spec": func(s *Set) { s.Meta.WrappingKeySpec = byok.WrappingRSA4096 },
		"algorithm":         func(s *Set) { s.Meta.Algorithm = byok.RSAESPKCS1V15 },
		"key spec":          func(s *Set) { s.Meta.KeySpec = "ML_DSA_44" },
		"usage":             func(s *Set) { s.Meta.KeyUsage = byok.EncryptDecrypt },
		"incompatible":      func(s *Set) { s.Meta.KeySpec, s.Meta.KeyUsage = byok.RSA2048, byok.SignVerify },
		"not a key":         func(s *Set) { s.WrappingKeyDER = []byte("junk"); s.Meta.WrappingKeySHA256 = "" },
	} {
		s := testSet(t)
		mutate(s)
		if err := s.Check(); err == nil {
			t.Errorf("%s: Check passed", name)
		}
	}
	if err := testSet(t).Check(); err != nil {
		t.Error(err)
	}
}

func TestParseMetadataStrict(t *testing.T) {
	var m Metadata
	for _, in := range []string{`{"format":"x","extra":1}`, `{"format":"x"} {}`, `[]`, ``, `{"parameters_valid_to":"yesterday"}`} {
		if err := ParseMetadata([]byte(in), &m); err == nil {
			t.Errorf("ParseMetadata(%q) accepted", in)
		}
	}
}

func TestRegionOf(t *testing.T) {
	for in, want := range map[string]string{
		arn: "eu-west-1",
		"arn:aws-cn:kms:cn-north-1:111122223333:key/mrk-1234": "cn-north-1",
		keyID:                       "",
		"alias/x":                   "",
		"arn:aws:s3:::bucket/x:y:z": "",
	} {
		if got := RegionOf(in); got != want {
			t.Errorf("RegionOf(%q) = %q; want %q", in, got, want)
		}
	}
}

func makeZip(t testing.TB, files map[string][]byte) []byte {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for n, b := range files {
		w, err := zw.Create(n)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(b)
	}
	zw.Close()
	return buf.Bytes()
}

func readZip(t testing.TB, b []byte, alg byok.WrappingAlgorithm) (*Set, error) {
	return ReadConsoleZip(bytes.NewReader(b), int64(len(b)), alg)
}

func TestReadConsoleZip(t *testing.T) {
	_, der := wrappingKey(t)
	pemKey := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	tok := []byte("an import token")
	readme := []byte("KMS key " + arn + "\nwrapping algorithm RSA_AES_KEY_WRAP_SHA_256, wrapping key spec RSA_2048\n")

	for name, tc := range map[string]struct {
		files map[string][]byte
		alg   byok.WrappingAlgorithm
		want  byok.WrappingAlgorithm
		arn   string
		err   string
	}{
		"plain": {files: map[string][]byte{"wrappingKey_" + keyID: der, "importToken_" + keyID: tok, "README_" + keyID + ".txt": readme},
			want: byok.RSAAESKeyWrapSHA256, arn: arn},
		"timestamped, in a folder, PEM key": {files: map[string][]byte{"ImportParameters/wrappingKey_" + keyID + "_0123101112": pemKey,
			"ImportParameters/importToken_" + keyID + "_0123101112": tok, "ImportParameters/README_" + keyID + "_0123101112.txt": readme},
			want: byok.RSAAESKeyWrapSHA256, arn: arn},
		"multi-Region key ID, no README": {files: map[string][]byte{"wrappingKey_mrk-0123456789abcdef0123456789abcdef": der, "importToken_mrk-0123456789abcdef0123456789abcdef": tok},
			want: "", arn: "mrk-0123456789abcdef0123456789abcdef"},
		"algorithm given": {files: map[string][]byte{"wrappingKey_" + keyID: der, "importToken_" + keyID: tok},
			alg: byok.RSAESOAEPSHA1, want: byok.RSAESOAEPSHA1, arn: keyID},
		"ambiguous README": {files: map[string][]byte{"wrappingKey_" + keyID: der, "importToken_" + keyID: tok, "README_" + keyID + ".txt": []byte("RSAES_OAEP_SHA_1 or RSAES_OAEP_SHA_256")},
			want: "", arn: keyID},
		"README disagrees": {files: map[string][]byte{"wrappingKey_" + keyID: der, "importToken_" + keyID: tok, "README_" + keyID + ".txt": readme},
			alg: byok.RSAESOAEPSHA256, err: "says the parameters are for RSA_AES_KEY_WRAP_SHA_256"},
		"README wrong wrapping key spec": {files: map[string][]byte{"wrappingKey_" + keyID: der, "importToken_" + keyID: tok, "README_" + keyID + ".txt": []byte("RSA_4096")},
			err: "holds an RSA_2048 key"},
		"two keys": {files: map[string][]byte{"wrappingKey_" + keyID: der, "importToken_" + strings.Replace(keyID, "1", "2", 1): tok},
			err: "two KMS keys"},
		"no token":         {files: map[string][]byte{"wrappingKey_" + keyID: der}, err: "lacks importToken"},
		"not a public key": {files: map[string][]byte{"wrappingKey_" + keyID: tok, "importToken_" + keyID: tok}, err: "wrapping key"},
		"too large":        {files: map[string][]byte{"wrappingKey_" + keyID: der, "importToken_" + keyID: make([]byte, maxFile+1)}, err: "larger than"},
	} {
		s, err := readZip(t, makeZip(t, tc.files), tc.alg)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: err %v; want %q", name, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if s.Meta.Algorithm != tc.want || s.Meta.KeyARN != tc.arn || s.Meta.WrappingKeySpec != byok.WrappingRSA2048 ||
			!bytes.Equal(s.WrappingKeyDER, der) || !bytes.Equal(s.ImportToken, tok) || s.Meta.From != FromConsoleZip || s.Meta.ValidTo != nil {
			t.Errorf("%s: %+v", name, s.Meta)
		}
	}
	if _, err := readZip(t, []byte("not a zip"), ""); err == nil {
		t.Error("not a zip: accepted")
	}
}

func TestIsZip(t *testing.T) {
	dir := t.TempDir()
	z := filepath.Join(dir, "a.zip")
	os.WriteFile(z, makeZip(t, map[string][]byte{"x": nil}), 0o600)
	os.WriteFile(filepath.Join(dir, "b"), []byte("PK"), 0o600)
	if !IsZip(z) || IsZip(dir) || IsZip(filepath.Join(dir, "b")) || IsZip(filepath.Join(dir, "none")) {
		t.Error("IsZip")
	}
}

func FuzzReadConsoleZip(f *testing.F) {
	_, der := wrappingKey(f)
	f.Add(makeZip(f, map[string][]byte{"wrappingKey_" + keyID: der, "importToken_" + keyID: []byte("t"), "README_" + keyID + ".txt": []byte("RSAES_OAEP_SHA_256 " + arn)}))
	f.Add(makeZip(f, map[string][]byte{"wrappingKey_" + keyID + "_1": der, "importToken_" + keyID + "_1": []byte("t")}))
	f.Add([]byte("PK\x03\x04"))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := ReadConsoleZip(bytes.NewReader(b), int64(len(b)), "")
		if err != nil {
			return
		}
		if err := s.Check(); err != nil {
			t.Fatalf("ReadConsoleZip returned a set that fails Check: %v", err)
		}
		if s.WrappingKey == nil || len(s.ImportToken) == 0 || s.Meta.KeyARN == "" {
			t.Fatalf("incomplete set: %+v", s.Meta)
		}
	})
}

func FuzzParseMetadata(f *testing.F) {
	s := testSet(f)
	dir := f.TempDir()
	if err := Write(dir, s, false); err != nil {
		f.Fatal(err)
	}
	b, _ := os.ReadFile(filepath.Join(dir, MetadataFile))
	f.Add(b)
	f.Add([]byte(`{"format":"byok-import-parameters/1"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var m Metadata
		if ParseMetadata(b, &m) != nil {
			return
		}
		set := &Set{Meta: m, WrappingKeyDER: s.WrappingKeyDER, ImportToken: s.ImportToken}
		set.Check() // must not panic
	})
}

// failNth makes the nth call (from 1) of the returned function fail with
// err, and counts the calls.
func failNth(n int, err error) (func() error, *int) {
	calls := 0
	return func() error {
		calls++
		if calls == n {
			return err
		}
		return nil
	}, &calls
}

// dirNames lists the names in dir.
func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

// TestWriteAllOrNothing: a Write that fails part way (the disk fills up on
// the second file, a rename fails) leaves the directory as it found it:
// empty for a new set, so that the same command runs again without
// --force; the old set whole with --force. Same for WriteWrapped. Every
// write and every rename is made to fail in turn.
func TestWriteAllOrNothing(t *testing.T) {
	enospc := &os.PathError{Op: "write", Path: "x", Err: syscall.ENOSPC}
	defer func(w func(*os.File, []byte) (int, error), r func(string, string) error) { fileWrite, rename = w, r }(fileWrite, rename)
	reset := func() { fileWrite, rename = (*os.File).Write, os.Rename }
	// inject makes the nth write or rename fail; the count says whether
	// there was an nth.
	inject := func(step string, n int) *int {
		fail, calls := failNth(n, enospc)
		reset()
		if step == "write" {
			fileWrite = func(f *os.File, b []byte) (int, error) {
				if err := fail(); err != nil {
					return 0, err
				}
				return f.Write(b)
			}
		} else {
			rename = func(from, to string) error {
				if err := fail(); err != nil {
					return err
				}
				return os.Rename(from, to)
			}
		}
		return calls
	}
	// oldSet writes a complete, wrapped set into a new directory.
	oldSet := func() (string, []string) {
		reset()
		dir := t.TempDir()
		old := testSet(t)
		if err := Write(dir, old, false); err != nil {
			t.Fatal(err)
		}
		if err := WriteWrapped(dir, old, []byte("old wrapped"), Source{}, time.Now()); err != nil {
			t.Fatal(err)
		}
		return dir, dirNames(t, dir)
	}
	scenarios := []struct {
		name string
		// run fails the nth step and checks the directory; it reports
		// whether there was an nth step.
		run func(t *testing.T, step string, n int) bool
	}{
		{"new set", func(t *testing.T, step string, n int) bool {
			dir := t.TempDir()
			calls := inject(step, n)
			err := Write(dir, testSet(t), false)
			reset()
			if *calls < n {
				return false
			}
			if !errors.Is(err, syscall.ENOSPC) {
				t.Errorf("Write returned %v", err)
			}
			if names := dirNames(t, dir); len(names) != 0 {
				t.Errorf("Write left %q", names)
			}
			if err := Write(dir, testSet(t), false); err != nil {
				t.Errorf("the same Write again, without force: %v", err)
			}
			return true
		}},
		{"--force over a wrapped set", func(t *testing.T, step string, n int) bool {
			dir, before := oldSet()
			calls := inject(step, n)
			s := testSet(t)
			s.ImportToken = []byte("new token")
			err := Write(dir, s, true)
			reset()
			if *calls < n {
				return false
			}
			if !errors.Is(err, syscall.ENOSPC) {
				t.Errorf("Write returned %v", err)
			}
			got, err := ReadDir(dir)
			if err != nil || string(got.ImportToken) != "token bytes" || string(got.Encrypted) != "old wrapped" {
				t.Errorf("the old set is not whole: %v", err)
			}
			if after := dirNames(t, dir); !slices.Equal(after, before) {
				t.Errorf("files %q, before %q", after, before)
			}
			return true
		}},
		{"WriteWrapped over wrapped material", func(t *testing.T, step string, n int) bool {
			dir, before := oldSet()
			got, err := ReadDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			calls := inject(step, n)
			err = WriteWrapped(dir, got, []byte("new wrapped"), Source{}, time.Now())
			reset()
			if *calls < n {
				return false
			}
			if !errors.Is(err, syscall.ENOSPC) {
				t.Errorf("WriteWrapped returned %v", err)
			}
			got, err = ReadDir(dir)
			if err != nil || string(got.Encrypted) != "old wrapped" {
				t.Errorf("the old material is not kept: %v", err)
			}
			if after := dirNames(t, dir); !slices.Equal(after, before) {
				t.Errorf("files %q, before %q", after, before)
			}
			return true
		}},
	}
	for _, sc := range scenarios {
		for _, step := range []string{"write", "rename"} {
			n := 1
			for ; sc.run(t, step, n); n++ {
				if t.Failed() {
					t.Fatalf("%s, %s %d fails", sc.name, step, n)
				}
			}
			if n == 1 {
				t.Errorf("%s: no %s to fail", sc.name, step)
			}
		}
	}
}
