package main

// Bad input files through the CLI: every file byok reads refuses a device,
// a FIFO (promptly, without blocking), a directory and an over-cap regular
// file, naming the flag, the file and what to give instead.

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/byok-go/byok"
	"software.sslmate.com/src/go-pkcs12"
)

// badInputFiles returns the bad files for one kind: /dev/zero, a FIFO, a
// directory and a regular file of limit+1 bytes.
func badInputFiles(t *testing.T, limit int) []struct{ name, path, want string } {
	t.Helper()
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	big := filepath.Join(dir, "big")
	if err := os.WriteFile(big, bytes.Repeat([]byte{'{'}, limit+1), 0o600); err != nil {
		t.Fatal(err)
	}
	sub := filepath.Join(dir, "subdir")
	os.Mkdir(sub, 0o700)
	return []struct{ name, path, want string }{
		{"/dev/zero", "/dev/zero", "/dev/zero is a character device, not a regular file"},
		{"fifo", fifo, "is a FIFO (named pipe), not a regular file"},
		{"directory", sub, "is a directory, not a regular file"},
		{"over the cap", big, "is larger than "},
	}
}

// promptly runs a CLI invocation, failing the test if byok blocks for
// longer than limit.
func promptly(t *testing.T, limit time.Duration, run func(*testing.T, ...string) (int, string, string), args ...string) (int, string, string) {
	t.Helper()
	type res struct {
		code     int
		out, err string
	}
	done := make(chan res, 1)
	go func() {
		c, o, e := run(t, args...)
		done <- res{c, o, e}
	}()
	select {
	case r := <-done:
		return r.code, r.out, r.err
	case <-time.After(limit):
		t.Fatalf("byok %s blocked", strings.Join(args, " "))
		return 0, "", ""
	}
}

// runCLIPromptly is runCLI failing the test if byok blocks.
func runCLIPromptly(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	return promptly(t, 20*time.Second, runCLI, args...)
}

func TestCLIBoundedInputFiles(t *testing.T) {
	p256 := keyFile("p256.pkcs8.pem")
	enc := keyFile("p256.enc.pem")
	for _, kind := range []struct {
		name  string
		limit int
		args  func(path string) []string
		cap   string // the cap as the message says it
		flag  string // the flag the message names, if any
	}{
		{"key file", 1 << 20, func(p string) []string { return []string{"inspect", p, "--key-spec", "SYMMETRIC_DEFAULT"} }, "1 MiB", ""},
		{"key file, any spec", 1 << 20, func(p string) []string { return []string{"inspect", p} }, "1 MiB", ""},
		{"passphrase file", 4 << 10, func(p string) []string { return []string{"inspect", enc, "--passphrase-file", p} }, "4 KiB", "--passphrase-file"},
		{"policy", 32 << 10, func(p string) []string { return []string{"import", p256, "--policy", p} }, "32 KiB", "--policy"},
		{"public key", 64 << 10, func(p string) []string { return []string{"params", "--out", t.TempDir(), "--public-key", p} }, "64 KiB", "--public-key"},
	} {
		for _, bad := range badInputFiles(t, kind.limit) {
			t.Run(kind.name+"/"+bad.name, func(t *testing.T) {
				t.Setenv("AWS_REGION", "us-east-1")
				t.Setenv("AWS_ENDPOINT_URL_KMS", "http://127.0.0.1:1") // never reached
				code, _, errOut := runCLIPromptly(t, kind.args(bad.path)...)
				want := bad.want
				if bad.name == "over the cap" {
					want += kind.cap
				}
				if code == 0 || !strings.Contains(errOut, want) || !strings.Contains(errOut, bad.path) || !strings.Contains(errOut, kind.flag) {
					t.Errorf("byok %v: exit %d\n%s\nwant %q naming %s %s", kind.args(bad.path), code, errOut, want, kind.flag, bad.path)
				}
			})
		}
	}
}

// migrateCLIPromptly is migrateCLI failing the test if byok blocks.
func migrateCLIPromptly(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	return promptly(t, 30*time.Second, migrateCLI, args...)
}

// TestMigrateBoundedInputFiles: the manifest, a manifest's key and
// policy_file, and the journal refuse what is not a regular file of
// bounded size, without blocking.
func TestMigrateBoundedInputFiles(t *testing.T) {
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_ENDPOINT_URL_KMS", "http://127.0.0.1:1") // never reached
	dir := t.TempDir()
	key, err := filepath.Abs(keyFile("p256.pkcs8.pem"))
	if err != nil {
		t.Fatal(err)
	}
	manifest := func(name, key, extraTarget string) string {
		p := filepath.Join(dir, name+".yaml")
		doc := "version: 1\nid: x\nkeys:\n  - name: a\n    source: " + key + "\n    target:\n      region: us-east-1\n" + extraTarget
		if err := os.WriteFile(p, []byte(doc), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	// A manifest of 300 MiB of zeros, sparse on disk: over the total cap
	// (256 MiB) and without line breaks.
	sparse := filepath.Join(dir, "sparse.yaml")
	f, err := os.Create(sparse)
	if err != nil {
		t.Fatal(err)
	}
	f.Truncate(300 << 20)
	f.Close()
	// A YAML manifest with one line over the line cap.
	long := filepath.Join(dir, "long.yaml")
	os.WriteFile(long, append([]byte("version: 1\nid: x\ndescription: "), bytes.Repeat([]byte{'a'}, 2<<20)...), 0o600)

	for _, bad := range badInputFiles(t, 32<<10) {
		t.Run("manifest/"+bad.name, func(t *testing.T) {
			if bad.name == "over the cap" {
				return // below: the manifest's cap is 256 MiB
			}
			code, _, errOut := migrateCLIPromptly(t, bad.path, "--dry-run")
			if code == 0 || !strings.Contains(errOut, bad.want) || !strings.Contains(errOut, "manifest") {
				t.Errorf("exit %d\n%s\nwant %q", code, errOut, bad.want)
			}
		})
		t.Run("policy_file/"+bad.name, func(t *testing.T) {
			m := manifest("policy", key, "      policy_file: "+bad.path+"\n")
			want := bad.want
			if bad.name == "over the cap" {
				want += "32 KiB, the most byok reads from a key policy JSON file"
			}
			code, _, errOut := migrateCLIPromptly(t, m, "--dry-run")
			if code == 0 || !strings.Contains(errOut, want) || !strings.Contains(errOut, "policy_file") {
				t.Errorf("exit %d\n%s\nwant %q", code, errOut, want)
			}
		})
		t.Run("journal/"+bad.name, func(t *testing.T) {
			if bad.name == "over the cap" {
				return // the journal's cap is 1 GiB: see internal/readfile
			}
			m := manifest("journal", key, "")
			for _, dry := range []string{"--dry-run", "--progress=none"} {
				code, _, errOut := migrateCLIPromptly(t, m, dry, "--journal", bad.path)
				if code == 0 || !strings.Contains(errOut, "journal") || !strings.Contains(errOut, bad.path) {
					t.Errorf("%s: exit %d\n%s", dry, code, errOut)
				}
			}
		})
	}
	for _, bad := range badInputFiles(t, 1<<20) {
		t.Run("key/"+bad.name, func(t *testing.T) {
			m := manifest("key", bad.path, "")
			code, out, errOut := migrateCLIPromptly(t, m, "--progress=none", "--journal", filepath.Join(t.TempDir(), "j"))
			want := bad.want
			if bad.name == "over the cap" {
				want += "1 MiB, the most byok reads from a key file"
			}
			if code == 0 || !strings.Contains(out+errOut, want) {
				t.Errorf("exit %d\n%s\n%s\nwant %q", code, out, errOut, want)
			}
		})
	}
	for _, bad := range badInputFiles(t, 4<<10) {
		t.Run("passphrase_file/"+bad.name, func(t *testing.T) {
			enc, _ := filepath.Abs(keyFile("p256.enc.pem"))
			m := manifest("pass", "{key: "+enc+", passphrase_file: "+bad.path+"}", "")
			code, out, errOut := migrateCLIPromptly(t, m, "--progress=none", "--journal", filepath.Join(t.TempDir(), "j"))
			want := bad.want
			if bad.name == "over the cap" {
				want += "4 KiB, the most byok reads from a PIN or passphrase file"
			}
			if code == 0 || !strings.Contains(out+errOut, want) {
				t.Errorf("exit %d\n%s\n%s\nwant %q", code, out, errOut, want)
			}
		})
	}
	t.Run("manifest/over the cap", func(t *testing.T) {
		code, _, errOut := migrateCLIPromptly(t, sparse, "--dry-run")
		if code == 0 || !strings.Contains(errOut, "has a line longer than 1 MiB") {
			t.Errorf("exit %d\n%s", code, errOut)
		}
		code, _, errOut = migrateCLIPromptly(t, long, "--dry-run")
		if code == 0 || !strings.Contains(errOut, "has a line longer than 1 MiB, the most byok reads in one line of a manifest") {
			t.Errorf("exit %d\n%s", code, errOut)
		}
	})
}

// TestPINFileFlagBounded: --pin-file and --passphrase-file errors name the
// flag and the file (the PIN is read only once an HSM module is open, so
// this calls the PIN source the flag builds).
func TestPINFileFlagBounded(t *testing.T) {
	for _, bad := range badInputFiles(t, 4<<10) {
		for _, flagName := range []string{"--pin-file", "--passphrase-file"} {
			_, err := fileSecret(flagName, bad.path).PIN(t.Context())
			if err == nil || !strings.Contains(err.Error(), flagName+" "+bad.path) || !strings.Contains(err.Error(), bad.want) {
				t.Errorf("%s %s: %v", flagName, bad.name, err)
			}
		}
	}
}

// TestCLIKeyFormat: a raw-length secret key file that also reads as hex or
// base64 is refused with a hint naming --key-format; with the flag, each
// format reads what it names.
func TestCLIKeyFormat(t *testing.T) {
	dir := t.TempDir()
	ambiguous := filepath.Join(dir, "k32")
	os.WriteFile(ambiguous, []byte(strings.Repeat("0f", 16)), 0o600) // 32 bytes, or hex of 16
	fp := func(args ...string) string {
		t.Helper()
		code, out, errOut := runCLI(t, append([]string{"inspect", "--json", "--key-spec", "SYMMETRIC_DEFAULT"}, args...)...)
		if code != 0 {
			t.Fatalf("byok inspect %v: exit %d\n%s", args, code, errOut)
		}
		var r struct{ Fingerprint string }
		if err := json.Unmarshal([]byte(out), &r); err != nil || r.Fingerprint == "" {
			t.Fatalf("byok inspect %v: %v\n%s", args, err, out)
		}
		return r.Fingerprint
	}
	code, _, errOut := runCLI(t, "inspect", ambiguous, "--key-spec", "SYMMETRIC_DEFAULT")
	if code == 0 || !strings.Contains(errOut, "encoding is ambiguous") || !strings.Contains(errOut, "--key-format raw") || strings.Contains(errOut, "LoadOptions") {
		t.Errorf("an ambiguous key file: exit %d\n%s", code, errOut)
	}
	asRaw, err := byok.NewSecretKeyMaterial(byok.SymmetricDefault, []byte(strings.Repeat("0f", 16)))
	if err != nil {
		t.Fatal(err)
	}
	if got := fp(ambiguous, "--key-format", "raw"); got != asRaw.Fingerprint() {
		t.Errorf("--key-format raw: fingerprint %s, want that of the 32 ASCII bytes", got)
	}
	hexFile := keyFile("aes256.hex")
	if a, b := fp(hexFile), fp(hexFile, "--key-format", "hex"); a != b {
		t.Errorf("hex: %s without --key-format, %s with", a, b)
	}
	if a, b := fp(keyFile("aes256.bin")), fp(keyFile("aes256.b64"), "--key-format", "base64"); a != b {
		t.Errorf("the raw and base64 files differ: %s, %s", a, b)
	}
	for _, tc := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"inspect", hexFile, "--key-spec", "SYMMETRIC_DEFAULT", "--key-format", "base64url"}, 2, "--key-format \"base64url\": want raw, hex or base64"},
		{[]string{"inspect", hexFile, "--key-spec", "SYMMETRIC_DEFAULT", "--key-format", "base64"}, 1, "decodes to 48 bytes"},
		{[]string{"inspect", hexFile, "--key-spec", "SYMMETRIC_DEFAULT", "--key-format", "raw"}, 1, "is the format hex or base64?"},
		{[]string{"inspect", keyFile("p256.pkcs8.pem"), "--key-format", "hex"}, 1, "leave --key-format out"},
		{[]string{"inspect", "label=x", "--driver", "softhsm", "--key-format", "hex"}, 2, "--key-format is for raw AES and HMAC key files"},
		{[]string{"inspect", hexFile, "--key-format", "hex", "--driver-option", "key_format=raw"}, 2, "not both"},
		{[]string{"inspect", keyFile("aes256.bin")}, 1, "--key-spec"},
	} {
		code, _, errOut := runCLI(t, tc.args...)
		if code != tc.code || !strings.Contains(errOut, tc.msg) || strings.Contains(errOut, "LoadOptions") {
			t.Errorf("byok %v: exit %d\n%s\nwant %d and %q", tc.args, code, errOut, tc.code, tc.msg)
		}
	}
}

// TestMigrateKeyFormat: a manifest entry naming an ambiguous secret key
// file fails with the manifest's way to say the format, and plans with it.
func TestMigrateKeyFormat(t *testing.T) {
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_ENDPOINT_URL_KMS", "http://127.0.0.1:1") // never reached
	t.Setenv("AWS_ACCESS_KEY_ID", "x")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "y")
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "k32"), []byte(strings.Repeat("0f", 16)), 0o600)
	m := filepath.Join(dir, "m.yaml")
	doc := "version: 1\nid: x\nkeys:\n  - name: a\n    source: {key: k32, key_spec: SYMMETRIC_DEFAULT%s}\n    target:\n      region: us-east-1\n"
	os.WriteFile(m, []byte(fmt.Sprintf(doc, "")), 0o600)
	code, out, errOut := migrateCLI(t, m, "--dry-run")
	if code == 0 || !strings.Contains(out+errOut, "encoding is ambiguous") || !strings.Contains(out+errOut, "options: {key_format: raw}") {
		t.Errorf("ambiguous: exit %d\n%s\n%s", code, out, errOut)
	}
	os.WriteFile(m, []byte(fmt.Sprintf(doc, ", options: {key_format: raw}")), 0o600)
	if code, out, errOut := migrateCLI(t, m, "--dry-run"); code != 0 || !strings.Contains(out, "1 keys planned") {
		t.Errorf("key_format raw: exit %d\n%s\n%s", code, out, errOut)
	}
}

// TestCLIPKCS12 reads a .p12 with --passphrase-file, and a PEM key with its
// certificate: both give the key's own fingerprint.
func TestCLIPKCS12(t *testing.T) {
	dir := t.TempDir()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "p12"}, NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour)}
	certDER, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(certDER)
	pfx, err := pkcs12.Modern2023.Encode(key, cert, nil, "p12 pass")
	if err != nil {
		t.Fatal(err)
	}
	p12 := filepath.Join(dir, "key.p12")
	pass := filepath.Join(dir, "pass")
	os.WriteFile(p12, pfx, 0o600)
	os.WriteFile(pass, []byte("p12 pass\n"), 0o600)
	der, _ := x509.MarshalPKCS8PrivateKey(key)
	bundle := filepath.Join(dir, "key-and-cert.pem")
	os.WriteFile(bundle, append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: certDER}), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})...), 0o600)
	want, err := byok.NewKeyMaterial(key)
	if err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{p12, "--passphrase-file", pass}, {bundle}} {
		code, out, errOut := runCLI(t, append([]string{"inspect", "--json"}, args...)...)
		var r struct{ Fingerprint string }
		if code != 0 || json.Unmarshal([]byte(out), &r) != nil || r.Fingerprint != want.Fingerprint() {
			t.Errorf("byok inspect %v: exit %d, fingerprint %q, want %q\n%s", args, code, r.Fingerprint, want.Fingerprint(), errOut)
		}
	}
	if stdinIsTerminal() {
		t.Skip("standard input is a terminal: byok would prompt")
	}
	code, _, errOut := runCLI(t, "inspect", p12)
	if code == 0 || !strings.Contains(errOut, "PKCS#12") || !strings.Contains(errOut, "--passphrase-file") {
		t.Errorf("without a passphrase: exit %d\n%s", code, errOut)
	}
	os.WriteFile(pass, []byte("wrong\n"), 0o600)
	code, _, errOut = runCLI(t, "inspect", p12, "--passphrase-file", pass)
	if code == 0 || !strings.Contains(errOut, "wrong passphrase") || strings.Contains(errOut, "wrong\n") {
		t.Errorf("a wrong passphrase: exit %d\n%s", code, errOut)
	}
}
