package gcpkms

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	kms "cloud.google.com/go/kms/apiv1"

	"github.com/byok-go/byok"
	"github.com/byok-go/byok/gcpkms/gcpkmstest"
)

// These tests run the real Cloud KMS Go client against gcpkmstest, a fake
// of the published API that unwraps and checks imports itself. They are
// not tests against Google Cloud.

func newFake(t testing.TB, opts ...gcpkmstest.Option) (*gcpkmstest.Server, *kms.KeyManagementClient) {
	t.Helper()
	srv, err := gcpkmstest.New(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	client, err := kms.NewKeyManagementClient(context.Background(), srv.ClientOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	return srv, client
}

func fakeTarget(t testing.TB, client API, o Options) *Target {
	t.Helper()
	if o.KeyRing == "" {
		o.KeyRing = "projects/byok-test/locations/us-east1/keyRings/byok"
	}
	o.PollInterval = 10 * time.Millisecond
	if o.Timeout == 0 {
		o.Timeout = 30 * time.Second
	}
	tg, err := New(client, o)
	if err != nil {
		t.Fatal(err)
	}
	return tg
}

func checkNames(t *testing.T, v *byok.Verification) []string {
	t.Helper()
	var n []string
	for _, c := range v.Checks {
		n = append(n, c.Name)
	}
	return n
}

// TestImportEverySpec imports a fresh software key of every spec Cloud KMS
// holds through byok.Importer and asserts the verdict and what proved it.
func TestImportEverySpec(t *testing.T) {
	_, client := newFake(t)
	ctx := context.Background()
	for _, c := range []struct {
		name  string
		spec  byok.KeySpec
		usage byok.KeyUsage
		alg   string
		want  byok.Verdict
		// identity is a check name prefix that must be among the passed
		// identity checks.
		identity string
	}{
		{"rsa2048-sign", byok.RSA2048, byok.SignVerify, "", byok.VerdictPassed, CheckPKCS1Equal},
		{"rsa3072-sign", byok.RSA3072, byok.SignVerify, "", byok.VerdictPassed, CheckSrcSignature},
		{"rsa4096-sign", byok.RSA4096, byok.SignVerify, "", byok.VerdictPassed, CheckPKCS1Equal},
		{"rsa2048-pss", byok.RSA2048, byok.SignVerify, "RSA_SIGN_PSS_2048_SHA256", byok.VerdictPassed, CheckSrcSignature},
		{"rsa2048-decrypt", byok.RSA2048, byok.EncryptDecrypt, "", byok.VerdictPassed, CheckDecrypt},
		{"rsa3072-decrypt", byok.RSA3072, byok.EncryptDecrypt, "", byok.VerdictPassed, CheckDecrypt},
		{"rsa4096-decrypt", byok.RSA4096, byok.EncryptDecrypt, "", byok.VerdictPassed, CheckDecrypt},
		{"p256", byok.ECCNISTP256, "", "", byok.VerdictPassed, CheckSrcSignature},
		{"p384", byok.ECCNISTP384, "", "", byok.VerdictPassed, CheckSrcSignature},
		{"secp256k1", byok.ECCSECGP256K1, "", "", byok.VerdictPassed, CheckSrcSignature},
		{"hmac224", byok.HMAC224, "", "", byok.VerdictPassed, CheckMAC},
		{"hmac256", byok.HMAC256, "", "", byok.VerdictPassed, CheckMAC},
		{"hmac384", byok.HMAC384, "", "", byok.VerdictPassed, CheckMAC},
		{"hmac512", byok.HMAC512, "", "", byok.VerdictPassed, CheckMAC},
		{"aes256", byok.SymmetricDefault, "", "", byok.VerdictUnproven, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			var src byok.KeySource
			if c.usage != "" {
				src = softwareKey(t, c.spec, c.usage)
			} else {
				src = softwareKey(t, c.spec)
			}
			tg := fakeTarget(t, client, Options{KeyID: c.name, Algorithm: c.alg})
			res, err := new(byok.Importer).Import(ctx, src, tg)
			if res == nil || res.Verification == nil {
				t.Fatalf("Import: %v", err)
			}
			v := res.Verification
			if v.Verdict != c.want {
				t.Fatalf("verdict %s, want %s: %v\nchecks %+v\nskipped %v", v.Verdict, c.want, err, v.Checks, v.Skipped)
			}
			if c.want == byok.VerdictPassed && err != nil {
				t.Fatalf("PASSED with an error: %v", err)
			}
			if c.want == byok.VerdictUnproven && !errors.Is(err, byok.ErrUnproven) {
				t.Fatalf("UNPROVEN without ErrUnproven: %v", err)
			}
			if !res.Created || res.KeyID != tg.KeyName() || !strings.HasPrefix(res.KeyARN, tg.KeyName()+"/cryptoKeyVersions/") {
				t.Errorf("result names %q, %q (created %v); want key %s and a version of it", res.KeyID, res.KeyARN, res.Created, tg.KeyName())
			}
			if res.Fallback || res.Algorithm.Hash().Size() != 32 || res.WrappingKeySpec != byok.WrappingRSA4096 {
				t.Errorf("a software key wrapped with %s %s (fallback %v)", res.Algorithm, res.WrappingKeySpec, res.Fallback)
			}
			if c.identity != "" {
				found := false
				for _, ch := range v.Checks {
					found = found || (ch.OK && ch.Identity && strings.HasPrefix(ch.Name, c.identity))
				}
				if !found {
					t.Errorf("no passed identity check %q among %q", c.identity, checkNames(t, v))
				}
			}
			st, err := tg.KeyState(ctx, tg.KeyName())
			if err != nil || st != "ENABLED" {
				t.Errorf("KeyState = %q, %v; want ENABLED", st, err)
			}
		})
	}
}

func gcpkmstestFault(method string, err error) gcpkmstest.Option {
	return gcpkmstest.WithFault(method, err)
}
func gcpkmstestJobDelay(d time.Duration) gcpkmstest.Option { return gcpkmstest.WithImportJobDelay(d) }
