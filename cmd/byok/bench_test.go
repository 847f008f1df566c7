package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/byok-go/byok/bench"
	"github.com/byok-go/byok/bench/opensslbench"
	"github.com/byok-go/byok/hsm"
	"github.com/byok-go/byok/hsm/hsmtest"
)

func runBenchCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(context.Background(), append([]string{"bench"}, args...), &out, &errb)
	return code, out.String(), errb.String()
}

// benchBackends are the backends a default run of this build measures.
func benchBackends() []string {
	if opensslbench.Available {
		return []string{bench.BackendGo, bench.BackendOpenSSL}
	}
	return []string{bench.BackendGo}
}

// TestBenchOpenCryptoki runs the opencryptoki rows. opencryptoki 3.8.1
// crashes (SIGSEGV in C_Initialize) when initialised a second time in a
// process where libcrypto is in use, so the test holds the module for its
// whole length: the token set-up and the run share one initialisation.
func TestBenchOpenCryptoki(t *testing.T) {
	hsmtest.MustHaveModule(t, hsmtest.OpenCryptokiPath, hsmtest.OpenCryptokiHint)
	if m, err := hsm.OpenModule(hsmtest.OpenCryptokiPath); err == nil {
		defer m.Close()
	}
	tok := hsmtest.OpenCryptoki(t)
	t.Setenv("BYOK_BENCH_TEST_OCK_PIN", string(hsmtest.OpenCryptokiUserPIN))
	code, out, errOut := runBenchCLI(t, "--short", "--json", "--backend", "go,opencryptoki", "--run", "SYMMETRIC_DEFAULT|HMAC_256",
		"--opencryptoki-token", tok.Label, "--opencryptoki-pin-env", "BYOK_BENCH_TEST_OCK_PIN")
	if code != 0 {
		t.Fatalf("exit %d; stderr:\n%s", code, errOut)
	}
	var rep bench.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	rows := map[string]bool{}
	for _, r := range rep.Rows {
		rows[r.Name] = true
	}
	for _, name := range []string{
		"wrap/RSAES_OAEP_SHA_256/RSA_4096/SYMMETRIC_DEFAULT/opencryptoki",
		"wrap/RSAES_OAEP_SHA_1/RSA_2048/HMAC_256/opencryptoki",
		"hsm-wrap/RSAES_OAEP_SHA_256/RSA_4096/SYMMETRIC_DEFAULT/opencryptoki",
		"C_WrapKey/RSAES_OAEP_SHA_256/RSA_4096/SYMMETRIC_DEFAULT/opencryptoki",
	} {
		if !rows[name] {
			t.Errorf("no row %s", name)
		}
	}
}

func TestBenchShortJSON(t *testing.T) {
	code, out, errOut := runBenchCLI(t, "--short", "--json")
	if code != 0 {
		t.Fatalf("exit %d; stderr:\n%s", code, errOut)
	}
	var rep bench.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, out)
	}
	if !rep.Short || rep.Environment.GoVersion == "" || rep.Environment.Cores < 1 || rep.Environment.CPU == "" {
		t.Errorf("environment %+v, short %v", rep.Environment, rep.Short)
	}
	if opensslbench.Available && !strings.HasPrefix(rep.Environment.OpenSSL, "OpenSSL") {
		t.Errorf("OpenSSL version %q", rep.Environment.OpenSSL)
	}
	rows := map[string]bench.Row{}
	for _, r := range rep.Rows {
		rows[r.Name] = r
		if r.NsPerOp <= 0 || r.OpsPerSec <= 0 || r.RatioToFastest < 1 || r.Ops < 1 {
			t.Errorf("%s: ns/op %v, ops/s %v, ratio %v, ops %d", r.Name, r.NsPerOp, r.OpsPerSec, r.RatioToFastest, r.Ops)
		}
		if r.Backend == bench.BackendGo && (r.AllocsPerOp < 0 || r.BytesPerOp < 0) {
			t.Errorf("%s: allocs %d, bytes %d", r.Name, r.AllocsPerOp, r.BytesPerOp)
		}
	}
	cases := bench.Cases()
	if len(cases) == 0 {
		t.Fatal("no cases")
	}
	for _, c := range cases {
		for _, b := range benchBackends() {
			r, ok := rows["wrap/"+c.String()+"/"+b]
			if !ok {
				t.Errorf("no row for %s on %s", c, b)
				continue
			}
			if r.Algorithm != c.Algorithm || r.WrappingKeySpec != c.WrappingKeySpec || r.KeySpec != c.KeySpec || r.MaterialBytes <= 0 {
				t.Errorf("row %s: %+v", r.Name, r)
			}
		}
	}
	for _, name := range []string{"kwp/2375B/go", "aes-chain-bound/2375B/go"} {
		if _, ok := rows[name]; !ok {
			t.Errorf("no row %s", name)
		}
	}
	// SoftHSM, when installed, runs in a throwaway token: 2.6.1 wraps AES
	// and HMAC keys with RSAES_OAEP_SHA_1 only.
	if _, err := os.Stat(hsmtest.SoftHSMPath); err == nil || hsmtest.OnCI() {
		for _, name := range []string{
			"wrap/RSAES_OAEP_SHA_1/RSA_4096/SYMMETRIC_DEFAULT/softhsm",
			"wrap/RSAES_OAEP_SHA_1/RSA_3072/HMAC_224/softhsm",
			"C_WrapKey/RSAES_OAEP_SHA_1/RSA_4096/SYMMETRIC_DEFAULT/softhsm",
		} {
			if _, ok := rows[name]; !ok {
				t.Errorf("no row %s", name)
			}
		}
	}
	if len(rep.Comparisons) == 0 {
		t.Error("no comparisons")
	}
	for _, c := range rep.Comparisons {
		if c.Ratio <= 0 {
			t.Errorf("comparison %q: ratio %v", c.Name, c.Ratio)
		}
	}
}

func TestBenchShortTable(t *testing.T) {
	// --wide: every column, as before.
	code, out, errOut := runBenchCLI(t, "--short", "--wide")
	if code != 0 {
		t.Fatalf("exit %d; stderr:\n%s", code, errOut)
	}
	for _, want := range []string{"SHORT RUN", "machine:", "Go: go", "OpenSSL:", "NS/OP", "OPS/S", "ALLOCS/OP", "×FASTEST", "Comparisons"} {
		if !strings.Contains(out, want) {
			t.Errorf("the table lacks %q", want)
		}
	}
	for _, c := range bench.Cases() {
		for _, b := range benchBackends() {
			// OPERATION ALGORITHM WRAPPING-KEY KEY-SPEC BYTES BACKEND NS/OP OPS/S
			re := regexp.MustCompile(`(?m)^\s*wrap\s+` + string(c.Algorithm) + `\s+` + string(c.WrappingKeySpec) + `\s+` +
				string(c.KeySpec) + `\s+[1-9]\d*\s+` + b + `\s+[1-9]\d*\s+[0-9.]*[1-9][0-9.]*\s`)
			if !re.MatchString(out) {
				t.Errorf("no wide table line for %s on %s", c, b)
			}
		}
	}
	// The default: 100 columns, a line per row, no blank-line floods, no
	// verdict on a run too short to judge.
	code, out, errOut = runBenchCLI(t, "--short")
	if code != 0 {
		t.Fatalf("exit %d; stderr:\n%s", code, errOut)
	}
	blank := 0
	for _, l := range strings.Split(out, "\n") {
		if n := utf8.RuneCountInString(l); n > 100 {
			t.Errorf("a line of %d columns: %s", n, l)
		}
		if strings.TrimSpace(l) == "" {
			blank++
		}
	}
	if blank > 4 || strings.Contains(out, "NOT MET") || !strings.Contains(out, "not judged: run too short") {
		t.Errorf("%d blank lines, or a verdict on a short run:\n%s", blank, out)
	}
	for _, c := range bench.Cases() {
		for _, b := range benchBackends() {
			// ALGORITHM WRAPPING-KEY KEY-SPEC BACKEND NS/OP ×FASTEST
			re := regexp.MustCompile(`(?m)^\s+` + string(c.Algorithm) + `\s+` + string(c.WrappingKeySpec) + `\s+` +
				string(c.KeySpec) + `\s+` + b + `\s+[1-9]\d*\s+[0-9]+\.[0-9]{2}$`)
			if !re.MatchString(out) {
				t.Errorf("no table line for %s on %s", c, b)
			}
		}
	}
	if !strings.Contains(errOut, "measuring") {
		t.Errorf("no progress on stderr:\n%s", errOut)
	}
}

func TestBenchUsage(t *testing.T) {
	for _, args := range [][]string{
		{"--nope"},
		{"extra"},
		{"--time", "0s"},
		{"--rounds", "0"},
		{"--backend", "go,nope"},
		{"--run", "("},
		{"--softhsm-token", "x"},
		{"--softhsm-pin-env", "X"},
		{"--opencryptoki-token", "x"},
		{"--opencryptoki-module", "/x.so"},
		{"--backend", "opencryptoki"},
	} {
		if code, _, errOut := runBenchCLI(t, args...); code != 2 {
			t.Errorf("byok bench %v: exit %d, want 2; stderr:\n%s", args, code, errOut)
		}
	}
	code, helpOut, _ := runBenchCLI(t, "--help") // help asked for goes to stdout
	if code != 0 || !strings.Contains(helpOut, "Examples:") || !strings.Contains(helpOut, "byok bench --json") {
		t.Errorf("--help: exit %d, stdout:\n%s", code, helpOut)
	}
	if code, _, _ := runBenchCLI(t, "--short", "--run", "^no such row$"); code != 1 {
		t.Errorf("a --run matching nothing: exit %d, want 1", code)
	}
}
