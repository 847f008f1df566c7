package main

import (
	"bytes"
	"context"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/byok-go/byok"
)

// TestDemoClouds: byok demo --clouds imports the example keys into the
// Cloud KMS and Azure Managed HSM fakes too, every import PASSED, and the
// keys a cloud does not take are named in notes with the reason. What each
// cloud takes is written here from its documentation
// (https://cloud.google.com/kms/docs/algorithms: no P-521;
// https://learn.microsoft.com/azure/key-vault/keys/about-keys: no HMAC; AES
// on Managed HSM only), not from byok's tables.
func TestDemoClouds(t *testing.T) {
	if testing.Short() {
		t.Skip("about 30 s")
	}
	var out, errb bytes.Buffer
	code := run(context.Background(), []string{"demo", "--clouds", "--fast", "--json"}, &out, &errb)
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out.String(), errb.String())
	}
	doc := decode[demoOutput](t, result{stdout: out.String()})
	gcp := []byok.KeySpec{byok.SymmetricDefault, byok.HMAC224, byok.HMAC256, byok.HMAC384, byok.HMAC512,
		byok.RSA2048, byok.RSA3072, byok.RSA4096, byok.ECCNISTP256, byok.ECCNISTP384, byok.ECCSECGP256K1}
	azure := []byok.KeySpec{byok.SymmetricDefault, byok.RSA2048, byok.RSA3072, byok.RSA4096,
		byok.ECCNISTP256, byok.ECCNISTP384, byok.ECCNISTP521, byok.ECCSECGP256K1}
	got := map[string][]byok.KeySpec{}
	for _, r := range doc.Results {
		if !r.OK || r.Verdict != byok.VerdictPassed {
			t.Errorf("%s %s into %s: ok %v, verdict %s, error %+v", r.Source, r.KeySpec, r.Target, r.OK, r.Verdict, r.Error)
		}
		if r.Source == "generated" {
			got[r.Target] = append(got[r.Target], r.KeySpec)
		} else if r.Target != demoAWS && (r.KeySpec == byok.SymmetricDefault || r.Target == demoAzure) {
			t.Errorf("the HSM's %s went into %s, which cannot prove it or does not take it", r.KeySpec, r.Target)
		}
		switch r.Target {
		case demoGCP:
			if !strings.HasPrefix(r.KeyARN, "projects/demo/locations/global/keyRings/byok/cryptoKeys/") {
				t.Errorf("gcp row names %q", r.KeyARN)
			}
		case demoAzure:
			if !strings.HasPrefix(r.KeyARN, "https://127.0.0.1:") {
				t.Errorf("azure row names %q", r.KeyARN)
			}
			if r.Algorithm != byok.RSAAESKeyWrapSHA1 {
				t.Errorf("azure %s wrapped with %s; Azure documents CKM_RSA_AES_KEY_WRAP with SHA-1 only", r.KeySpec, r.Algorithm)
			}
		}
	}
	for target, want := range map[string][]byok.KeySpec{demoAWS: byok.KeySpecs(), demoGCP: gcp, demoAzure: azure} {
		have := got[target]
		slices.Sort(have)
		slices.Sort(want)
		if !slices.Equal(have, want) {
			t.Errorf("generated keys into %s: %v; want %v", target, have, want)
		}
	}
	notes := strings.Join(doc.Notes, "\n")
	for _, want := range []string{"ECC_NIST_P521: not into Google Cloud KMS", "HMAC_256: not into Azure"} {
		if !strings.Contains(notes, want) {
			t.Errorf("notes lack %q:\n%s", want, notes)
		}
	}
	if _, err := os.Stat(softhsmModule); err == nil && !strings.Contains(notes, "softhsm SYMMETRIC_DEFAULT: not into Google Cloud KMS") {
		t.Errorf("notes do not say why the HSM's AES key stays out of the other clouds:\n%s", notes)
	}
}
