package main

// Messages in the CLI's own words: cases from issue 12 ("Messages speak the
// CLI's language"), each failing without its fix.

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/kms"
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
	// byok params with the source prints a wrap command that runs as
	// printed.
	dir := filepath.Join(t.TempDir(), "p")
	code, stdout, stderr := runCLI(t, "params", "--out", dir, keyFile("hmac256.hex"), "--key-spec", "HMAC_256")
	_, hint, _ := strings.Cut(stdout, "\n  byok wrap ")
	hint, _, _ = strings.Cut(hint, "\n")
	if code != 0 || hint == "" || strings.Contains(hint, "SOURCE") {
		t.Fatalf("params prints no runnable wrap command: exit %d\n%s%s", code, stdout, stderr)
	}
	if code, stdout, stderr := runCLI(t, append([]string{"wrap"}, shellWords(t, hint)...)...); code != 0 {
		t.Errorf("the printed %q: exit %d\n%s%s", "byok wrap "+hint, code, stdout, stderr)
	}

	// upload --source with a console zip's parameters: the key spec comes
	// from DescribeKey (the zip does not record it).
	zipFile, _ := consoleZip(t, f.srv.URL, "SYMMETRIC_DEFAULT", "RSAES_OAEP_SHA_256", "Wrapping algorithm: RSAES_OAEP_SHA_256\n")
	out := filepath.Join(t.TempDir(), "p")
	if code, stdout, stderr := runCLI(t, "wrap", "--params", zipFile, "--out", out, keyFile("aes256.hex"), "--key-spec", "SYMMETRIC_DEFAULT"); code != 0 {
		t.Fatalf("wrap from a zip: %s%s", stdout, stderr)
	}
	describes := f.count("DescribeKey")
	code, stdout, stderr = runCLI(t, "upload", "--params", out, "--source", keyFile("aes256.b64"))
	if code != 0 || !strings.Contains(stdout, "PASSED") || f.count("DescribeKey") <= describes {
		t.Errorf("upload --source of a raw key, spec from DescribeKey: exit %d\n%s%s", code, stdout, stderr)
	}
}

// TestReimportDifferentAESSuggestsImportType: importing other AES material
// into a key that holds material points to --import-type NEW_KEY_MATERIAL,
// as KMS's own message does (before, the hint said material can never
// change); the suggested command works. HMAC keys never change material,
// and are not told otherwise.
func TestReimportDifferentAESSuggestsImportType(t *testing.T) {
	newFaultyKMS(t)
	dir := t.TempDir()
	other := filepath.Join(dir, "other.hex")
	os.WriteFile(other, []byte(strings.Repeat("5a", 32)+"\n"), 0o600)
	code, stdout, stderr := runCLI(t, "import", "--json", keyFile("aes256.hex"), "--key-spec", "SYMMETRIC_DEFAULT")
	if code != 0 {
		t.Fatalf("import: %s%s", stdout, stderr)
	}
	var out struct {
		KeyARN string `json:"key_arn"`
	}
	json.Unmarshal([]byte(stdout), &out)
	code, stdout, stderr = runCLI(t, "import", "--key-id", out.KeyARN, other, "--key-spec", "SYMMETRIC_DEFAULT")
	if code != 1 || !strings.Contains(stderr, "run again with --import-type NEW_KEY_MATERIAL") || !strings.Contains(stderr, "aws kms rotate-key-on-demand --key-id "+out.KeyARN) {
		t.Fatalf("re-import of other AES material: exit %d\n%s%s", code, stdout, stderr)
	}
	if code, stdout, stderr = runCLI(t, "import", "--key-id", out.KeyARN, other, "--key-spec", "SYMMETRIC_DEFAULT", "--import-type", "NEW_KEY_MATERIAL"); code != 0 {
		t.Errorf("the suggested --import-type NEW_KEY_MATERIAL: exit %d\n%s%s", code, stdout, stderr)
	}

	otherHMAC := filepath.Join(dir, "other-hmac.hex")
	os.WriteFile(otherHMAC, []byte(strings.Repeat("5a", 32)+"\n"), 0o600)
	code, stdout, stderr = runCLI(t, "import", "--json", keyFile("hmac256.hex"), "--key-spec", "HMAC_256")
	if code != 0 {
		t.Fatalf("import: %s%s", stdout, stderr)
	}
	json.Unmarshal([]byte(stdout), &out)
	code, _, stderr = runCLI(t, "import", "--key-id", out.KeyARN, otherHMAC, "--key-spec", "HMAC_256")
	if code != 1 || strings.Contains(stderr, "NEW_KEY_MATERIAL") && strings.Contains(stderr, "run again") {
		t.Errorf("HMAC re-import: exit %d, %s", code, stderr)
	}
}

// TestHelpAgrees: byok help CMD and byok CMD --help print the same text on
// stdout; flags show as --name with a metavar (never a Go type name) and
// the default; no line is wider than 100 columns except examples.
func TestHelpAgrees(t *testing.T) {
	for _, c := range commands() {
		code1, out1, err1 := runCLI(t, "help", c.name)
		code2, out2, err2 := runCLI(t, c.name, "--help")
		code3, out3, _ := runCLI(t, c.name, "-h")
		if code1 != 0 || code2 != 0 || code3 != 0 || out1 == "" || out1 != out2 || out2 != out3 || err1 != "" || err2 != "" {
			t.Errorf("%s: byok help %s (exit %d, %d bytes, stderr %q) and byok %s --help (exit %d, %d bytes, stderr %q) differ",
				c.name, c.name, code1, len(out1), err1, c.name, code2, len(out2), err2)
			continue
		}
		if !strings.Contains(out1, "Usage: byok "+c.name) {
			t.Errorf("%s: the help has no synopsis:\n%s", c.name, out1)
		}
		_, flagsPart, ok := strings.Cut(out1, "\nFlags:\n")
		if !ok {
			continue // a command without flags
		}
		for _, l := range strings.Split(flagsPart, "\n") {
			if len(l) > 100 {
				t.Errorf("%s: a flags line is %d columns: %q", c.name, len(l), l)
			}
			if strings.HasPrefix(l, "  ") && !strings.HasPrefix(l, "        ") && !strings.HasPrefix(l, "  --") {
				t.Errorf("%s: a flag without --: %q", c.name, l)
			}
			for _, goType := range []string{" string", " value", " int", " float", " duration", " uint"} {
				if strings.HasPrefix(l, "  --") && strings.HasSuffix(l, goType) {
					t.Errorf("%s: a flag whose metavar is a Go type: %q", c.name, l)
				}
			}
		}
	}
	// A flag with a non-zero default shows it.
	_, out, _ := runCLI(t, "help", "emulator")
	if !strings.Contains(out, "(default ") {
		t.Errorf("emulator --help shows no default:\n%s", out)
	}
}

// TestVersion: byok version and byok --version print the module version
// from the build information, "(devel)" for an unstamped build.
func TestVersion(t *testing.T) {
	code1, out1, _ := runCLI(t, "version")
	code2, out2, _ := runCLI(t, "--version")
	if code1 != 0 || code2 != 0 || out1 != out2 {
		t.Fatalf("version %q (exit %d) and --version %q (exit %d) differ", out1, code1, out2, code2)
	}
	want := "(devel)"
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		want = bi.Main.Version
	}
	if !strings.HasPrefix(out1, "byok "+want) {
		t.Errorf("version %q; want byok %s…", out1, want)
	}
	// The binary built from this source tree says (devel), not a made-up
	// version.
	r := mustByok(t, 0, cleanEnv(t), "--version")
	if !strings.HasPrefix(r.stdout, "byok (devel)") {
		t.Errorf("go build binary: %q", r.stdout)
	}
}

// TestProgressWhenStepStarts: each progress line appears when its step
// starts: when KMS serves CreateKey, stderr does not yet announce the
// import parameters, and so on (before, every line was printed up front).
func TestProgressWhenStepStarts(t *testing.T) {
	f := newFaultyKMS(t)
	var errb syncBuffer
	seen := map[string]string{}
	var mu sync.Mutex
	f.mu.Lock()
	f.hook = func(op string) {
		mu.Lock()
		defer mu.Unlock()
		if _, ok := seen[op]; !ok {
			seen[op] = errb.String()
		}
	}
	f.mu.Unlock()
	for _, args := range [][]string{
		{"import", keyFile("p256.pkcs8.pem"), "--alias", "progress"},
		{"params", "--out", t.TempDir(), "--key-spec", "HMAC_256", "--alias", "progress-params"},
	} {
		mu.Lock()
		clear(seen)
		mu.Unlock()
		var out bytes.Buffer
		errb = syncBuffer{}
		if code := run(context.Background(), args, &out, &errb); code != 0 {
			t.Fatalf("%v: exit %d\n%s", args, code, errb.String())
		}
		mu.Lock()
		for _, tc := range []struct{ op, said, notYet string }{
			{"CreateKey", "creating a KMS key", "creating alias"},
			{"CreateAlias", "creating alias", "getting import parameters"},
			{"GetParametersForImport", "getting import parameters", "parameters valid until"},
			{"ImportKeyMaterial", "importing", "verifying"},
		} {
			got, ok := seen[tc.op]
			if !ok {
				if args[0] == "params" && tc.op == "ImportKeyMaterial" {
					continue
				}
				t.Errorf("%s: no %s request", args[0], tc.op)
				continue
			}
			if !strings.Contains(got, tc.said) || strings.Contains(got, tc.notYet) {
				t.Errorf("%s: when %s was served, stderr was:\n%s\nwant %q said and %q not yet", args[0], tc.op, got, tc.said, tc.notYet)
			}
		}
		mu.Unlock()
	}
}

// TestExistingKeyMessagesInCLIWords: refusing an existing key with another
// origin names the fix in the CLI's words, not the library's field name
// (it said "leave KeyID empty").
func TestExistingKeyMessagesInCLIWords(t *testing.T) {
	f := newFaultyKMS(t)
	out, err := f.srv.Client().CreateKey(context.Background(), &kms.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := runCLI(t, "import", "--key-id", *out.KeyMetadata.Arn, keyFile("aes256.hex"), "--key-spec", "SYMMETRIC_DEFAULT")
	if code != 1 || !strings.Contains(stderr, "Origin AWS_KMS") || !strings.Contains(stderr, "import into a new key") {
		t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
	}
	for _, goName := range []string{"KeyID", "SkipVerify", "LoadOptions", "byok.KMS", "Importer"} {
		if strings.Contains(stderr, goName) {
			t.Errorf("the error names the Go identifier %s:\n%s", goName, stderr)
		}
	}
}
