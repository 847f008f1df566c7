package main

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/byok-go/byok"
	"github.com/byok-go/byok/driver"
	"github.com/byok-go/byok/hsm/hsmtest"
)

// softhsmDemoDirs counts the demo's SoftHSM token directories in os.TempDir().
func softhsmDemoDirs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir(os.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range ents {
		if e.IsDir() && strings.HasPrefix(e.Name(), softhsmDemoDirPrefix) {
			n++
		}
	}
	return n
}

// TestDemoSoftHSM runs the demo in this process with SoftHSM installed: the
// keys generated inside the throwaway token are imported (wrapped inside
// the module with RSAES_OAEP_SHA_1, SoftHSM 2.6.1's only exact wrap for
// them) and proven, and the token directory is gone afterwards.
func TestDemoSoftHSM(t *testing.T) {
	hsmtest.MustHaveModule(t, softhsmModule, hsmtest.SoftHSMHint)
	// Its own os.TempDir, so that nothing else's directories are counted.
	t.Setenv("TMPDIR", t.TempDir())
	before := softhsmDemoDirs(t)

	// Count the token directories while the demo holds the sources, to
	// know that the one removed was really made in os.TempDir().
	during := -1
	orig := hsmDemoSources
	t.Cleanup(func() { hsmDemoSources = orig })
	hsmDemoSources = func(ctx context.Context, module string, say func(string, ...any)) ([]driver.Source, error) {
		srcs, err := orig(ctx, module, say)
		during = softhsmDemoDirs(t)
		return srcs, err
	}

	var out, errb bytes.Buffer
	start := time.Now()
	code := run(context.Background(), []string{"demo", "--json", "--fast"}, &out, &errb)
	t.Logf("byok demo --json --fast (with SoftHSM) took %s", time.Since(start))
	if code != 0 {
		t.Fatalf("exit %d; stderr:\n%s", code, errb.String())
	}
	rows := decode[demoOutput](t, result{stdout: out.String()}).Results

	got := map[byok.KeySpec]demoRow{}
	for _, r := range rows {
		if r.Source != "softhsm" {
			continue
		}
		if _, dup := got[r.KeySpec]; dup {
			t.Errorf("two softhsm rows for %s", r.KeySpec)
		}
		got[r.KeySpec] = r
	}
	for _, spec := range []byok.KeySpec{byok.SymmetricDefault, byok.HMAC256, byok.HMAC512} {
		r, ok := got[spec]
		if !ok {
			t.Errorf("no softhsm row for %s; rows: %+v", spec, rows)
			continue
		}
		if !r.OK || !r.Verified || r.Error != nil {
			t.Errorf("%s (softhsm): ok %v, verified %v, error %+v", spec, r.OK, r.Verified, r.Error)
		}
		if r.ChecksRun < 1 || r.ChecksPassed != r.ChecksRun {
			t.Errorf("%s (softhsm): %d of %d checks passed; want all, at least 1", spec, r.ChecksPassed, r.ChecksRun)
		}
		if r.Algorithm != byok.RSAESOAEPSHA1 {
			t.Errorf("%s (softhsm): wrapped with %s; want %s (SoftHSM 2.6.1 wraps with OAEP SHA-1 only)", spec, r.Algorithm, byok.RSAESOAEPSHA1)
		}
		if r.KeyUsage != spec.Usages()[0] || r.Fingerprint == "" || !strings.HasPrefix(r.KeyARN, "arn:aws:kms:") {
			t.Errorf("%s (softhsm): usage %s, fingerprint %q, ARN %q", spec, r.KeyUsage, r.Fingerprint, r.KeyARN)
		}
	}
	if len(got) != 3 {
		t.Errorf("%d softhsm rows; want 3", len(got))
	}

	if during != before+1 {
		t.Errorf("%d token directories in %s while the demo ran (%d before); want one more", during, os.TempDir(), before)
	}
	if after := softhsmDemoDirs(t); after != before {
		t.Errorf("%d token directories in %s after the demo; want %d, as before", after, os.TempDir(), before)
	}
	if v, ok := os.LookupEnv("SOFTHSM2_CONF"); ok && strings.HasPrefix(v, os.TempDir()) {
		t.Errorf("SOFTHSM2_CONF is still %s after the demo", v)
	}
}

// TestDemoSoftHSMCleanup checks the failure path: SoftHSM already loaded in
// the process under another configuration (here: the first call's) is
// refused rather than given a token, and the refused call leaves no
// directory behind and SOFTHSM2_CONF as it found it; closing the sources
// in any order removes the first call's directory once, after the last.
func TestDemoSoftHSMCleanup(t *testing.T) {
	hsmtest.MustHaveModule(t, softhsmModule, hsmtest.SoftHSMHint)
	t.Setenv("TMPDIR", t.TempDir())
	t.Setenv("SOFTHSM2_CONF", "/nonexistent/softhsm2.conf")
	ctx := context.Background()
	quiet := func(string, ...any) {}
	srcs, err := softhsmDemoSources(ctx, softhsmModule, quiet)
	if err != nil {
		t.Fatal(err)
	}
	if len(srcs) != len(softhsmDemoKeys) || softhsmDemoDirs(t) != 1 {
		t.Fatalf("%d sources, %d directories; want %d and 1", len(srcs), softhsmDemoDirs(t), len(softhsmDemoKeys))
	}
	conf := os.Getenv("SOFTHSM2_CONF")
	if _, err := softhsmDemoSources(ctx, softhsmModule, quiet); err == nil || !strings.Contains(err.Error(), "already loaded") {
		t.Errorf("a second throwaway token while the first is open: %v; want a refusal", err)
	}
	if n := softhsmDemoDirs(t); n != 1 || os.Getenv("SOFTHSM2_CONF") != conf {
		t.Errorf("after the refusal: %d directories, SOFTHSM2_CONF %q; want 1 and %q", n, os.Getenv("SOFTHSM2_CONF"), conf)
	}
	for _, i := range []int{1, 0, 2} {
		if n := softhsmDemoDirs(t); n != 1 {
			t.Fatalf("%d directories before the last Close; want 1", n)
		}
		if err := srcs[i].Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		if err := srcs[i].Close(); err != nil {
			t.Errorf("second Close: %v", err)
		}
	}
	if n := softhsmDemoDirs(t); n != 0 {
		t.Errorf("%d directories after the last Close; want 0", n)
	}
	if got := os.Getenv("SOFTHSM2_CONF"); got != "/nonexistent/softhsm2.conf" {
		t.Errorf("SOFTHSM2_CONF is %q after the last Close; want it restored", got)
	}
}
