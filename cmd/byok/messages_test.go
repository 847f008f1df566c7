package main

// Messages in the CLI's own words: cases from issue 12 ("Messages speak the
// CLI's language"), each failing without its fix.

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
)

// TestPINInURIRefusedNeverEchoed: a PKCS#11 URI with pin-value= is refused
// by every source-taking command, in every output mode, and the PIN's bytes
// appear nowhere in stdout or stderr (before the fix, import and
// import --dry-run echoed it in the progress line, inspect --json in its
// "source" field).
func TestPINInURIRefusedNeverEchoed(t *testing.T) {
	const pin = "Sup3rS3cretPIN"
	uris := []string{
		"pkcs11:token=prod;object=signing-key?pin-value=" + pin,
		"pkcs11:token=prod;object=signing-key?module-path=/x.so&pin-value=" + pin + "&x=y",
		"pkcs11:token=prod;object=signing-key;pin-value=" + pin,
		"pkcs11:token=prod;object=signing-key?PIN-VALUE=" + pin,
		"pkcs11:token=prod;object=signing-key?pin%2Dvalue=" + pin,
	}
	dir := t.TempDir()
	for _, uri := range uris {
		for _, args := range [][]string{
			{"import", uri},
			{"import", "--dry-run", uri},
			{"import", "--json", uri},
			{"import", "--dry-run", "--json", uri},
			{"import", "--source", uri, "--json"},
			{"import", uri, "--source", uri + "x"},
			{"inspect", uri},
			{"inspect", "--json", uri},
			{"verify", "--key-id", "alias/k", "--json", uri},
			{"params", "--out", dir, "--json", uri},
			{"wrap", "--params", dir, "--json", uri},
			{"upload", "--params", dir, "--json", "--source", uri},
			{"import", uri, "--driver", "softhsm", "--pin-env", "X"},
		} {
			code, stdout, stderr := runCLI(t, args...)
			if code != 2 {
				t.Errorf("byok %v: exit %d; want 2 (refused)\n%s%s", redactSource(strings.Join(args, " ")), code, stdout, stderr)
			}
			if strings.Contains(stdout+stderr, pin) {
				t.Errorf("byok %v printed the PIN:\n%s%s", redactSource(strings.Join(args, " ")), stdout, stderr)
			}
			if !strings.Contains(stderr, "pin-value") || !strings.Contains(stderr, "--pin-env") {
				t.Errorf("byok %v: the refusal does not name pin-value and the fix: %s", redactSource(strings.Join(args, " ")), stderr)
			}
		}
	}
}

// shellWords splits a command line as a POSIX shell would for the quoting
// byok prints (single quotes, backslash-free words); a # starts a comment.
func shellWords(t *testing.T, line string) []string {
	t.Helper()
	var words []string
	var cur strings.Builder
	in, inWord := false, false
	for _, r := range line {
		switch {
		case in && r == '\'':
			in = false
		case in:
			cur.WriteRune(r)
		case r == '\'':
			in, inWord = true, true
		case r == '#' && !inWord:
			return words
		case r == ' ' || r == '\t':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		case r == '\\' || r == '"' || r == '$' || r == '`':
			t.Fatalf("shellWords: %q needs a real shell", line)
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if in {
		t.Fatalf("unterminated quote in %q", line)
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words
}

// TestKeySpecInferred: a raw AES or HMAC key needs --key-spec once, for
// byok params; wrap takes it from the parameters file, upload --source from
// the parameters or DescribeKey, verify from DescribeKey. The upload
// command wrap prints runs as printed and proves the import.
func TestKeySpecInferred(t *testing.T) {
	f := newFaultyKMS(t)
	for _, k := range []struct{ file, spec string }{{"aes256.hex", "SYMMETRIC_DEFAULT"}, {"hmac384.b64", "HMAC_384"}} {
		dir := filepath.Join(t.TempDir(), "p q") // a space: the hint must quote it
		if code, _, stderr := runCLI(t, "params", "--out", dir, "--key-spec", k.spec); code != 0 {
			t.Fatalf("params: %s", stderr)
		}
		code, stdout, stderr := runCLI(t, "wrap", "--params", dir, keyFile(k.file))
		if code != 0 {
			t.Fatalf("wrap %s without --key-spec: exit %d\n%s%s", k.file, code, stdout, stderr)
		}
		var hint string
		for _, l := range strings.Split(stdout, "\n") {
			if strings.HasPrefix(strings.TrimSpace(l), "byok upload ") {
				hint = strings.TrimSpace(l)
			}
		}
		if hint == "" || strings.Contains(hint, "SOURCE") {
			t.Fatalf("wrap prints no runnable upload command:\n%s", stdout)
		}
		args := shellWords(t, hint)[1:]
		code, stdout, stderr = runCLI(t, append(args, "--json")...)
		if code != 0 || !strings.Contains(stdout, `"verified": true`) {
			t.Fatalf("the printed hint %q: exit %d\n%s%s", hint, code, stdout, stderr)
		}
		var out struct {
			KeyARN string `json:"key_arn"`
		}
		json.Unmarshal([]byte(stdout), &out)
		code, stdout, stderr = runCLI(t, "verify", "--key-id", out.KeyARN, keyFile(k.file))
		if code != 0 || !strings.Contains(stdout, "PASSED") {
			t.Errorf("verify %s without --key-spec: exit %d\n%s%s", k.file, code, stdout, stderr)
		}
	}
	// upload --source with a console zip's parameters: the key spec comes
	// from DescribeKey (the zip does not record it).
	zipFile, _ := consoleZip(t, f.srv.URL, "SYMMETRIC_DEFAULT", "RSAES_OAEP_SHA_256", "Wrapping algorithm: RSAES_OAEP_SHA_256\n")
	out := filepath.Join(t.TempDir(), "p")
	if code, stdout, stderr := runCLI(t, "wrap", "--params", zipFile, "--out", out, keyFile("aes256.hex"), "--key-spec", "SYMMETRIC_DEFAULT"); code != 0 {
		t.Fatalf("wrap from a zip: %s%s", stdout, stderr)
	}
	describes := f.count("DescribeKey")
	code, stdout, stderr := runCLI(t, "upload", "--params", out, "--source", keyFile("aes256.b64"))
	if code != 0 || !strings.Contains(stdout, "PASSED") || f.count("DescribeKey") != describes+1 {
		t.Errorf("upload --source of a raw key, spec from DescribeKey: exit %d\n%s%s", code, stdout, stderr)
	}
}
