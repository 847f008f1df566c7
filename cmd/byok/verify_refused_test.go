package main

import (
	"encoding/json"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/byok-go/byok"
	"github.com/byok-go/byok/kmstest"
)

// TestCLIVerifyDescribeKeyRefused: DescribeKey denied is UNPROVEN, exit 4,
// with the verdict and the refused call in the table and in the JSON (a
// verification object, checks [], skipped naming DescribeKey); a raw key
// file whose spec only DescribeKey could have told is told to pass
// --key-spec.
func TestCLIVerifyDescribeKeyRefused(t *testing.T) {
	t.Parallel()
	var deny atomic.Bool
	srv := kmstest.NewServer(kmstest.WithWrappingKeyCache(true), kmstest.WithFault(func(op string) error {
		if deny.Load() && op == "DescribeKey" {
			return &kmstest.FaultError{Type: "AccessDeniedException", Message: "User is not authorized to perform: kms:DescribeKey"}
		}
		return nil
	}))
	t.Cleanup(srv.Close)
	env := emulatorEnv(t, srv.URL)
	aes := decode[importOut](t, mustByok(t, 0, env, "import", "--json", keyFile("aes256.bin"), "--key-spec", "SYMMETRIC_DEFAULT"))
	ec := decode[importOut](t, mustByok(t, 0, env, "import", "--json", keyFile("p256.pkcs8.pem")))
	deny.Store(true)

	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"raw key with --key-spec", []string{"--key-id", aes.KeyARN, keyFile("aes256.bin"), "--key-spec", "SYMMETRIC_DEFAULT"}, "allow kms:DescribeKey"},
		{"raw key without --key-spec", []string{"--key-id", aes.KeyARN, keyFile("aes256.bin")}, "pass --key-spec"},
		{"EC key", []string{"--key-id", ec.KeyARN, keyFile("p256.pkcs8.pem")}, "allow kms:DescribeKey"},
	} {
		r := mustByok(t, 4, env, append([]string{"verify"}, c.args...)...)
		if !strings.Contains(r.stdout, "UNPROVEN:") || !strings.Contains(r.stdout, "DescribeKey was refused") ||
			!strings.Contains(strings.Join(strings.Fields(r.stdout), " "), c.want) || !strings.Contains(r.stderr, "not proven") {
			t.Errorf("%s:\n%s", c.name, r)
		}
		fits100(t, "verify, DescribeKey refused", r.stdout)
		r = mustByok(t, 4, env, append([]string{"verify", "--json"}, c.args...)...)
		v := decode[verifyOut](t, r)
		if v.OK || v.Verdict != byok.VerdictUnproven || v.Verification == nil || v.Verification.Verdict != byok.VerdictUnproven ||
			v.Verification.Verified || len(v.Verification.Skipped) == 0 || !strings.Contains(v.Verification.Skipped[0], "DescribeKey was refused") {
			t.Errorf("%s, JSON: %+v %+v", c.name, v, v.Verification)
		}
		var raw map[string]any
		json.Unmarshal([]byte(r.stdout), &raw)
		if vr, _ := raw["verification"].(map[string]any); vr == nil || vr["checks"] == nil {
			t.Errorf("%s, JSON: verification or its checks missing or null:\n%s", c.name, r.stdout)
		}
	}
}
