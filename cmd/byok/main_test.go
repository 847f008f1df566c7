package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/byok-go/byok"
)

func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestDemoJSON(t *testing.T) {
	code, out, errOut := runCLI(t, "demo", "--json")
	if code != 0 {
		t.Fatalf("exit %d; stderr:\n%s", code, errOut)
	}
	var rows []demoRow
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, out)
	}
	seen := map[byok.KeySpec]demoRow{}
	for _, r := range rows {
		seen[r.KeySpec] = r
		if !r.OK || r.Error != "" {
			t.Errorf("%s: not ok: %s", r.KeySpec, r.Error)
		}
		want, err := byok.ChooseWrapping(r.KeySpec, nil)
		if err != nil {
			t.Fatal(err)
		}
		if r.Algorithm != want.Algorithm || r.WrappingKeySpec != want.WrappingKeySpec {
			t.Errorf("%s: wrapped with %s/%s; the chooser says %s/%s", r.KeySpec, r.Algorithm, r.WrappingKeySpec, want.Algorithm, want.WrappingKeySpec)
		}
		if wl := byok.WrappedLen(r.Algorithm, r.WrappingKeySpec.Bits()/8, r.MaterialBytes); r.WrappedBytes != wl {
			t.Errorf("%s: wrapped blob is %d bytes; want %d", r.KeySpec, r.WrappedBytes, wl)
		}
	}
	for _, spec := range byok.KeySpecs() {
		if _, ok := seen[spec]; !ok {
			t.Errorf("the demo did not cover %s", spec)
		}
	}
	if len(rows) != len(byok.KeySpecs()) {
		t.Errorf("%d rows; want one per importable spec (%d)", len(rows), len(byok.KeySpecs()))
	}
}

func TestDemoAllCombinations(t *testing.T) {
	if testing.Short() {
		t.Skip("generates three RSA wrapping keys and every example key; skipped in -short")
	}
	code, out, errOut := runCLI(t, "demo", "--all", "--json")
	if code != 0 {
		t.Fatalf("exit %d; stderr:\n%s", code, errOut)
	}
	var rows []demoRow
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		t.Fatal(err)
	}
	// Counted from AWS's rules, independently of the code: symmetric and
	// HMAC (5 specs) × 2 OAEP × 3 wrapping keys; RSA (3) × 2 key-wrap × 3;
	// P-256, P-384, secp256k1 × 4 × 3; P-521 × 4 × 3 less OAEP-SHA-1 and
	// OAEP-SHA-256 under RSA_2048.
	const want = 5*2*3 + 3*2*3 + 3*4*3 + (4*3 - 2)
	if len(rows) != want {
		t.Errorf("%d combinations; want %d", len(rows), want)
	}
	for _, r := range rows {
		if !r.OK {
			t.Errorf("%s %s %s: %s", r.KeySpec, r.Algorithm, r.WrappingKeySpec, r.Error)
		}
		if r.KeySpec == byok.ECCNISTP521 && r.WrappingKeySpec == byok.WrappingRSA2048 && !r.Algorithm.IsKeyWrap() {
			t.Errorf("P-521 under RSA_2048 with %s should not have been attempted", r.Algorithm)
		}
	}
}

func TestDemoTableText(t *testing.T) {
	code, out, errOut := runCLI(t, "demo")
	if code != 0 {
		t.Fatalf("exit %d; stderr:\n%s", code, errOut)
	}
	for _, spec := range byok.KeySpecs() {
		if !strings.Contains(out, string(spec)+" ") {
			t.Errorf("table lacks a row for %s:\n%s", spec, out)
		}
	}
	if !strings.Contains(out, "12 wrapped and unwrapped, 0 failed") {
		t.Errorf("summary line missing or wrong:\n%s", out)
	}
	if !strings.Contains(errOut, "generating an RSA_4096 wrapping key pair") {
		t.Errorf("no progress on stderr:\n%s", errOut)
	}
}

func TestUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
		msg  string
	}{
		{nil, 2, ""},
		{[]string{"nosuch"}, 2, `unknown command "nosuch"`},
		{[]string{"demo", "--nosuch"}, 2, "flag provided but not defined"},
		{[]string{"demo", "extra"}, 2, `unexpected argument "extra"`},
		{[]string{"help"}, 0, ""},
	} {
		code, _, errOut := runCLI(t, tc.args...)
		if code != tc.code || !strings.Contains(errOut, tc.msg) {
			t.Errorf("byok %v: exit %d, stderr %q; want exit %d and %q", tc.args, code, errOut, tc.code, tc.msg)
		}
	}
	code, out, _ := runCLI(t, "version")
	if code != 0 || !strings.HasPrefix(out, "byok ") {
		t.Errorf("version: exit %d, %q", code, out)
	}
}
