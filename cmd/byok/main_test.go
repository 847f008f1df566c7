package main

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/byok-go/byok"
	"github.com/byok-go/byok/driver"
)

// runCLI runs byok in this process (no binary, no network).
func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestUsageErrors(t *testing.T) {
	p256 := keyFile("p256.pkcs8.pem")
	for _, tc := range []struct {
		args []string
		code int
		msg  string
	}{
		{nil, 2, ""},
		{[]string{"nosuch"}, 2, `unknown command "nosuch"`},
		{[]string{"demo", "--nosuch"}, 2, "flag provided but not defined"},
		{[]string{"demo", "extra"}, 2, `unexpected argument "extra"`},
		{[]string{"import"}, 2, "no source key"},
		{[]string{"import", p256, p256 + "x"}, 2, "one source key at a time"},
		{[]string{"import", p256, "--source", "other.pem"}, 2, "the source is given twice"},
		{[]string{"import", p256, "--valid-to", "+30d", "--no-expiry"}, 2, "contradict"},
		{[]string{"import", p256, "--valid-to", "+400d"}, 2, "more than 365 days"},
		{[]string{"import", p256, "--valid-to", "2001-01-01"}, 2, "not in the future"},
		{[]string{"import", p256, "--valid-to", "soon"}, 2, "want an RFC 3339 time"},
		{[]string{"import", p256, "--tag", "novalue"}, 2, "want KEY=VALUE"},
		{[]string{"import", p256, "--tag", "a=1", "--tag", "a=2"}, 2, "given twice"},
		{[]string{"import", p256, "--key-id", "k", "--alias", "a"}, 2, "are for a new key"},
		{[]string{"import", p256, "--algorithm", "RSAES_PKCS1_V1_5"}, 2, "2023-10-10"},
		{[]string{"import", p256, "--wrapping-key-spec", "RSA_1024"}, 2, "wrapping key spec"},
		{[]string{"import", p256, "--key-spec", "ML_DSA_44"}, 2, "not importable"},
		{[]string{"import", p256, "--usage", "SIGN"}, 2, "want ENCRYPT_DECRYPT"},
		{[]string{"import", p256, "--import-type", "X"}, 2, "NEW_KEY_MATERIAL"},
		{[]string{"import", p256, "--endpoint-url", "localhost:8555"}, 2, "want a URL"},
		{[]string{"import", p256, "--policy", "/nonexistent/policy.json"}, 2, "--policy"},
		{[]string{"import", p256, "--pin-env", "A", "--pin-file", "B", "--driver", "pkcs11"}, 2, "not both"},
		{[]string{"import", p256, "--module", "/x.so", "--driver", "software"}, 2, "are for HSM sources"},
		{[]string{"import", p256, "--driver", "nosuch"}, 2, `unknown driver`},
		{[]string{"import", "pkcs11:token=t;object=o", "--module", "/nonexistent/libpkcs11.so"}, 1, "/nonexistent/libpkcs11.so"},
		{[]string{"params"}, 2, "--out DIR is required"},
		{[]string{"params", "--out", t.TempDir()}, 2, "say which key"},
		{[]string{"params", "--out", t.TempDir(), p256, "--public-key", p256}, 2, "not both"},
		{[]string{"params", "--out", t.TempDir(), "--console-zip", "x.zip", "--alias", "a"}, 2, "do not apply"},
		{[]string{"wrap", p256}, 2, "--params DIR|ZIP is required"},
		{[]string{"wrap", "--params", t.TempDir()}, 2, "no source key"},
		{[]string{"wrap", "--params", t.TempDir(), p256}, 1, "has no byok-params.json"},
		{[]string{"upload"}, 2, "--params DIR is required"},
		{[]string{"upload", "--params", "p", p256}, 2, "--source SOURCE"},
		{[]string{"verify", p256}, 2, "--key-id is required"},
		{[]string{"inspect"}, 2, "no source key"},
		{[]string{"inspect", "/nonexistent/key.pem"}, 1, "no such file"},
		{[]string{"help"}, 0, ""},
	} {
		code, _, errOut := runCLI(t, tc.args...)
		if code != tc.code || !strings.Contains(errOut, tc.msg) {
			t.Errorf("byok %v: exit %d, stderr %q; want exit %d and %q", tc.args, code, errOut, tc.code, tc.msg)
		}
	}
	// A PKCS#11 driver this build lacks is named, with what the build has.
	for _, name := range hsmDrivers {
		if slices.Contains(driver.Drivers(), name) {
			continue
		}
		code, _, errOut := runCLI(t, "inspect", "--driver", name, "label=k")
		if code != 1 || !strings.Contains(errOut, `driver "`+name+`" is not in this build`) {
			t.Errorf("missing driver %s: exit %d, %q", name, code, errOut)
		}
	}
	code, out, _ := runCLI(t, "version")
	if code != 0 || !strings.HasPrefix(out, "byok ") {
		t.Errorf("version: exit %d, %q", code, out)
	}
}

func TestHelp(t *testing.T) {
	code, out, _ := runCLI(t, "help")
	if code != 0 {
		t.Fatalf("byok help: exit %d", code)
	}
	for _, want := range []string{"Exit codes:", "0  success", "1  the job failed", "2  the command line was wrong", "3  verification FAILED", "4  verification UNPROVEN",
		"AWS_PROFILE", "AWS_REGION", "AWS_ENDPOINT_URL_KMS", "--pin-env"} {
		if !strings.Contains(out, want) {
			t.Errorf("byok help lacks %q:\n%s", want, out)
		}
	}
	for _, c := range commands() {
		if !strings.Contains(out, "  "+c.name+" ") {
			t.Errorf("byok help does not list %s", c.name)
		}
		if c.name == "version" {
			continue
		}
		code, errOut, _ := runCLI(t, c.name, "--help") // help asked for goes to stdout
		if code != 0 {
			t.Errorf("byok %s --help: exit %d", c.name, code)
		}
		if !strings.Contains(errOut, "Usage: byok "+c.name) || !strings.Contains(errOut, "Examples:") || !strings.Contains(errOut, "byok "+c.name+" ") {
			t.Errorf("byok %s --help lacks a usage line or examples:\n%s", c.name, errOut)
		}
	}
}

// TestNoSecretFlags checks that no command accepts a PIN, passphrase or
// password as a flag value: secrets on the command line end up in shell
// history and in every process listing.
func TestNoSecretFlags(t *testing.T) {
	for _, c := range commands() {
		if c.name == "version" {
			continue
		}
		for _, f := range []string{"--pin", "--passphrase", "--password", "--pin-value", "--secret"} {
			code, _, errOut := runCLI(t, c.name, f, "1234")
			if code != 2 || !strings.Contains(errOut, "flag provided but not defined: -"+f[2:]) {
				t.Errorf("byok %s %s 1234: exit %d, %q; want the flag refused as undefined", c.name, f, code, errOut)
			}
		}
		_, help, _ := runCLI(t, c.name, "--help") // help asked for goes to stdout
		for _, line := range strings.Split(help, "\n") {
			line = strings.TrimSpace(line)
			if !strings.HasPrefix(line, "--") {
				continue
			}
			name, _, _ := strings.Cut(line[2:], " ")
			words := strings.Split(name, "-")
			secret := slices.ContainsFunc(words, func(w string) bool {
				return w == "pin" || w == "passphrase" || w == "password" || w == "secret"
			})
			if secret && !strings.HasSuffix(name, "-env") && !strings.HasSuffix(name, "-file") {
				t.Errorf("byok %s has a flag --%s that could take a secret as its value", c.name, name)
			}
		}
	}
}

func TestParseArgsInterspersed(t *testing.T) {
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	a := fs.String("a", "", "")
	b := fs.Bool("b", false, "")
	pos, err := parseArgs(fs, []string{"one", "--a", "v", "two", "-b", "--", "--three"})
	if err != nil {
		t.Fatal(err)
	}
	if *a != "v" || !*b || !slices.Equal(pos, []string{"one", "two", "--three"}) {
		t.Errorf("a=%q b=%v pos=%q", *a, *b, pos)
	}
}

func TestDriverSelection(t *testing.T) {
	dir := t.TempDir()
	odd := filepath.Join(dir, "label=file.pem")
	os.WriteFile(odd, nil, 0o600)
	for _, tc := range []struct {
		sf   sourceFlags
		want string
	}{
		{sourceFlags{source: "key.pem"}, "software"},
		{sourceFlags{source: "pkcs11:token=a;object=b"}, "pkcs11"},
		{sourceFlags{source: "PKCS11:object=b"}, "pkcs11"},
		{sourceFlags{source: "label=signing"}, "pkcs11"},
		{sourceFlags{source: "id=0a0b"}, "pkcs11"},
		{sourceFlags{source: "handle=7"}, "pkcs11"},
		{sourceFlags{source: "pkcs11:object=b", driver: "softhsm"}, "softhsm"},
		{sourceFlags{source: "label=signing", driver: "cloudhsm"}, "cloudhsm"},
		{sourceFlags{source: "key", module: "/usr/lib/x.so"}, "pkcs11"},
		{sourceFlags{source: odd}, "software"},
	} {
		if got := tc.sf.driverName(); got != tc.want {
			t.Errorf("%+v: driver %q; want %q", tc.sf, got, tc.want)
		}
	}
}

// TestDemoJSON runs the demo in this process (under the race detector when
// the tests are), with the emulator's pre-generated wrapping keys.
func TestDemoJSON(t *testing.T) {
	code, out, errOut := runCLI(t, "demo", "--fast", "--json")
	if code != 0 {
		t.Fatalf("exit %d; stderr:\n%s", code, errOut)
	}
	rows := decode[demoOutput](t, result{stdout: out}).Results
	checkDemoRows(t, rows)
}

func checkDemoRows(t *testing.T, rows []demoRow) {
	t.Helper()
	seen := map[byok.KeySpec]bool{}
	arns := map[string]bool{}
	generated := 0
	for _, r := range rows {
		if r.Source != "generated" {
			continue // SoftHSM's keys: TestDemoSoftHSM
		}
		generated++
		seen[r.KeySpec] = true
		if !r.OK || !r.Verified || r.Error != nil {
			t.Errorf("%s: not ok: %+v", r.KeySpec, r.Error)
		}
		if r.ChecksRun == 0 || r.ChecksPassed != r.ChecksRun {
			t.Errorf("%s: %d of %d checks passed", r.KeySpec, r.ChecksPassed, r.ChecksRun)
		}
		want, err := byok.ChooseWrapping(r.KeySpec, nil)
		if err != nil {
			t.Fatal(err)
		}
		if r.Algorithm != want.Algorithm || r.WrappingKeySpec != want.WrappingKeySpec || r.Reason != want.Reason {
			t.Errorf("%s: wrapped with %s/%s; the chooser says %s/%s", r.KeySpec, r.Algorithm, r.WrappingKeySpec, want.Algorithm, want.WrappingKeySpec)
		}
		if !strings.HasPrefix(r.KeyARN, "arn:aws:kms:us-east-1:111122223333:key/") || arns[r.KeyARN] {
			t.Errorf("%s: KMS key ARN %q missing or repeated", r.KeySpec, r.KeyARN)
		}
		arns[r.KeyARN] = true
		if r.KeyUsage != r.KeySpec.Usages()[0] || r.Fingerprint == "" {
			t.Errorf("%s: usage %s, fingerprint %q", r.KeySpec, r.KeyUsage, r.Fingerprint)
		}
	}
	for _, spec := range byok.KeySpecs() {
		if !seen[spec] {
			t.Errorf("the demo did not cover %s", spec)
		}
	}
	if generated != len(byok.KeySpecs()) {
		t.Errorf("%d generated rows; want one per importable spec (%d)", generated, len(byok.KeySpecs()))
	}
}
