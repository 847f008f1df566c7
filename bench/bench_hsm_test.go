//go:build cgo

package bench

import (
	"context"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/byok-go/byok"
	"github.com/byok-go/byok/hsm"
	"github.com/byok-go/byok/hsm/hsmtest"
)

// TestMain keeps opencryptoki loaded for the whole test binary: version
// 3.8.1 crashes (SIGSEGV in C_Initialize) when it is initialised a second
// time in a process where libcrypto is in use, and every test that uses it
// would otherwise load and finalise it anew.
func TestMain(m *testing.M) {
	var ock *hsm.Module
	if _, err := os.Stat(hsmtest.OpenCryptokiPath); err == nil {
		ock, _ = hsm.OpenModule(hsmtest.OpenCryptokiPath)
	}
	code := m.Run()
	if ock != nil {
		ock.Close()
	}
	os.Exit(code)
}

// TestRunOpenCryptoki does the same with opencryptoki's software token,
// which wraps AES and HMAC keys with RSAES_OAEP_SHA_256 and _SHA_1.
func TestRunOpenCryptoki(t *testing.T) {
	tok := hsmtest.OpenCryptoki(t)
	h := HSM{Backend: BackendOpenCryptoki, Module: hsmtest.OpenCryptokiPath, Token: tok.Label, PIN: hsmtest.OpenCryptokiUserPIN}
	rep, err := Run(context.Background(), Options{Short: true, Backends: []string{BackendOpenCryptoki}, HSMs: []HSM{h}})
	if err != nil {
		t.Fatal(err)
	}
	checkHSMReport(t, rep, BackendOpenCryptoki, []Case{
		{byok.RSAESOAEPSHA256, byok.WrappingRSA4096, byok.SymmetricDefault},
		{byok.RSAESOAEPSHA1, byok.WrappingRSA2048, byok.HMAC384},
	})
}

// TestRunSoftHSM runs the short suite with a throwaway SoftHSM token and
// checks the PKCS#11 rows: SoftHSM 2.6.1 wraps AES and HMAC keys with
// RSAES_OAEP_SHA_1 and an RSA key whose PKCS#8 is a multiple of 8 bytes
// (the RSA_2048 fixture, 1216) with RSA_AES_KEY_WRAP_SHA_1 in two steps.
func TestRunSoftHSM(t *testing.T) {
	h := throwawaySoftHSM(t)
	rep, err := Run(context.Background(), Options{Short: true, Backends: []string{BackendGo, BackendSoftHSM}, HSMs: []HSM{h}})
	if err != nil {
		t.Fatal(err)
	}
	checkHSMReport(t, rep, BackendSoftHSM, []Case{
		{byok.RSAESOAEPSHA1, byok.WrappingRSA4096, byok.SymmetricDefault},
		{byok.RSAESOAEPSHA1, byok.WrappingRSA2048, byok.HMAC224},
		{byok.RSAESOAEPSHA1, byok.WrappingRSA3072, byok.HMAC512},
		{byok.RSAAESKeyWrapSHA1, byok.WrappingRSA4096, byok.RSA2048},
	})
}

// TestRunBothHSMs runs SoftHSM and opencryptoki in one run, as
// `byok bench` does: both libraries loaded in one process.
func TestRunBothHSMs(t *testing.T) {
	tok := hsmtest.OpenCryptoki(t)
	soft := throwawaySoftHSM(t)
	ock := HSM{Backend: BackendOpenCryptoki, Module: hsmtest.OpenCryptokiPath, Token: tok.Label, PIN: hsmtest.OpenCryptokiUserPIN}
	rep, err := Run(context.Background(), Options{Short: true, Backends: []string{BackendSoftHSM, BackendOpenCryptoki},
		HSMs: []HSM{soft, ock}, Match: regexp.MustCompile(`SYMMETRIC_DEFAULT`)})
	if err != nil {
		t.Fatal(err)
	}
	n := map[string]int{}
	for _, r := range rep.Rows {
		n[r.Backend]++
	}
	if n[BackendSoftHSM] == 0 || n[BackendOpenCryptoki] == 0 {
		t.Errorf("rows per backend: %v", n)
	}
}

func throwawaySoftHSM(t *testing.T) HSM {
	t.Helper()
	hsmtest.MustHaveModule(t, hsmtest.SoftHSMPath, hsmtest.SoftHSMHint)
	h, release, err := ThrowawaySoftHSM(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := release(); err != nil {
			t.Error(err)
		}
	})
	return h
}

func checkHSMReport(t *testing.T, rep *Report, backend string, want []Case) {
	t.Helper()
	rows := map[string]Row{}
	for _, r := range rep.Rows {
		rows[r.Name] = r
		if r.NsPerOp <= 0 || r.AllocsPerOp < 0 {
			t.Errorf("%s: ns/op %v, allocs %d", r.Name, r.NsPerOp, r.AllocsPerOp)
		}
	}
	for _, c := range want {
		if _, ok := rows[rowName(OpWrap, string(c.Algorithm), string(c.WrappingKeySpec), string(c.KeySpec), backend)]; !ok {
			t.Errorf("no %s row for %s", backend, c)
		}
	}
	found := false
	for _, c := range rep.Comparisons {
		if strings.Contains(c.Name, "a bare C_WrapKey loop") && strings.Contains(c.Name, backend) {
			found = true
			if c.Ratio <= 0 || c.Limit != LimitHSMvsBare {
				t.Errorf("%+v", c)
			}
		}
	}
	if !found {
		t.Errorf("no PKCS#11 overhead comparison for %s", backend)
	}
	hasModule := false
	for _, m := range rep.Environment.Modules {
		hasModule = hasModule || strings.Contains(m.Name, "PKCS#11")
	}
	if !hasModule {
		t.Errorf("the environment lists no PKCS#11 module: %+v", rep.Environment.Modules)
	}
	t.Logf("%d rows; notes: %q", len(rep.Rows), rep.Notes)
}
