package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/byok-go/byok"
	"github.com/byok-go/byok/kmstest"
	"github.com/decred/dcrd/dcrec/secp256k1/v4"
)

// cliKeyFiles is a key file of every importable spec, with the flags the
// CLI needs for it.
var cliKeyFiles = []struct {
	spec  byok.KeySpec
	file  string
	flags []string
}{
	{byok.SymmetricDefault, "aes256.bin", []string{"--key-spec", "SYMMETRIC_DEFAULT"}},
	{byok.HMAC224, "hmac224.bin", []string{"--key-spec", "HMAC_224"}},
	{byok.HMAC256, "hmac256.bin", []string{"--key-spec", "HMAC_256"}},
	{byok.HMAC384, "hmac384.bin", []string{"--key-spec", "HMAC_384"}},
	{byok.HMAC512, "hmac512.bin", []string{"--key-spec", "HMAC_512"}},
	{byok.RSA2048, "rsa2048.pkcs8.pem", nil},
	{byok.RSA3072, "rsa3072.pkcs8.pem", nil},
	{byok.RSA4096, "rsa4096.pkcs8.pem", nil},
	{byok.ECCNISTP256, "p256.pkcs8.pem", nil},
	{byok.ECCNISTP384, "p384.pkcs8.pem", nil},
	{byok.ECCNISTP521, "p521.pkcs8.pem", nil},
	{byok.ECCSECGP256K1, "secp256k1.pkcs8.pem", nil},
}

// writeOtherKey writes a fresh key of spec into dir (raw bytes for secret
// keys, PKCS#8 PEM otherwise) and returns its path.
func writeOtherKey(t *testing.T, dir string, spec byok.KeySpec) string {
	t.Helper()
	name := filepath.Join(dir, "other-"+string(spec))
	if k := spec.Kind(); k == byok.KindSymmetric || k == byok.KindHMAC {
		b := make([]byte, spec.MaterialLen())
		rand.Read(b)
		b[0] = 0xff // never readable as hex or base64 text
		if err := os.WriteFile(name, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return name
	}
	var k any
	var err error
	switch spec {
	case byok.RSA2048, byok.RSA3072, byok.RSA4096:
		k, err = rsa.GenerateKey(rand.Reader, spec.Bits())
	case byok.ECCNISTP256:
		k, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case byok.ECCNISTP384:
		k, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case byok.ECCNISTP521:
		k, err = ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	case byok.ECCSECGP256K1:
		k, err = secp256k1.GeneratePrivateKey()
	}
	if err != nil {
		t.Fatal(err)
	}
	m, err := byok.NewKeyMaterial(k) // KMS's form: PKCS#8 DER
	if err != nil {
		t.Fatal(err)
	}
	defer m.Destroy()
	if err := os.WriteFile(name, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: m.Bytes()}), 0o600); err != nil {
		t.Fatal(err)
	}
	return name
}

// identityName is the check that tells the right key from another in byok
// verify, per kind of spec.
func identityName(spec byok.KeySpec) string {
	switch spec.Kind() {
	case byok.KindSymmetric:
		return "re-import: KMS accepts the source's key material again"
	case byok.KindHMAC:
		return "KMS GenerateMac (HMAC_SHA_"
	}
	return "GetPublicKey equals the source public key"
}

func fits100(t *testing.T, what, out string) {
	t.Helper()
	for _, l := range strings.Split(out, "\n") {
		if len(l) > 100 && !strings.Contains(l, "arn:aws:kms:") {
			t.Errorf("%s: a line of %d columns:\n%s", what, len(l), l)
		}
	}
}

// TestCLIVerifyMatrix: for every importable spec, byok import, then byok
// verify with the same key passes (exit 0, verdict PASSED, the identity
// check named) and with another key of the same spec fails (exit 3, the
// failing check named in the table and the JSON).
func TestCLIVerifyMatrix(t *testing.T) {
	t.Parallel()
	url, _ := startEmulator(t)
	env := emulatorEnv(t, url)
	dir := t.TempDir()
	for _, kf := range cliKeyFiles {
		t.Run(string(kf.spec), func(t *testing.T) {
			o := decode[importOut](t, mustByok(t, 0, env, append([]string{"import", "--json", keyFile(kf.file)}, kf.flags...)...))
			if o.Verification == nil || o.Verification.Verdict != byok.VerdictPassed || !strings.HasPrefix(o.Verification.Checks[0].Name, "KMS unwrapped and accepted exactly") {
				t.Fatalf("import: %+v", o.Verification)
			}
			want := identityName(kf.spec)

			r := mustByok(t, 0, env, append([]string{"verify", "--key-id", o.KeyARN, keyFile(kf.file)}, kf.flags...)...)
			if !strings.Contains(r.stdout, "PASSED: KMS holds the source key") || !strings.Contains(r.stdout, "ok    "+want) {
				t.Errorf("the right key:\n%s", r)
			}
			flat := strings.Join(strings.Fields(r.stdout), " ")
			if kf.spec == byok.SymmetricDefault && (!strings.Contains(flat, "cost: one GetParametersForImport") || !strings.Contains(flat, "KEY_MATERIAL_DOES_NOT_EXPIRE left unchanged")) {
				t.Errorf("the re-import does not say what it cost and kept:\n%s", r.stdout)
			}
			fits100(t, "verify", r.stdout)
			v := decode[verifyOut](t, mustByok(t, 0, env, append([]string{"verify", "--json", "--key-id", o.KeyARN, keyFile(kf.file)}, kf.flags...)...))
			if !v.OK || v.Verdict != byok.VerdictPassed || v.Verification.Verdict != byok.VerdictPassed || v.Verification.Skipped == nil {
				t.Errorf("the right key, JSON: %+v %+v", v, v.Verification)
			}

			other := writeOtherKey(t, dir, kf.spec)
			r = mustByok(t, 3, env, append([]string{"verify", "--key-id", o.KeyARN, other}, kf.flags...)...)
			if !strings.Contains(r.stdout, "FAILED:") || !strings.Contains(r.stdout, "FAIL  "+want) || !strings.Contains(r.stderr, "verification failed") {
				t.Errorf("another key:\n%s", r)
			}
			v = decode[verifyOut](t, mustByok(t, 3, env, append([]string{"verify", "--json", "--key-id", o.KeyARN, other}, kf.flags...)...))
			failed := ""
			for _, c := range v.Verification.Checks {
				if !c.OK {
					failed = c.Name
					break
				}
			}
			if v.OK || v.Verdict != byok.VerdictFailed || !strings.HasPrefix(failed, want) || v.Error == nil || v.Error.Kind != kindProofFailed {
				t.Errorf("another key, JSON: verdict %s, first failed check %q, error %+v", v.Verdict, failed, v.Error)
			}
		})
	}
}

// TestCLIVerifyUnproven: --no-reimport, and an ImportKeyMaterial denied
// with AccessDeniedException, leave a SYMMETRIC_DEFAULT key UNPROVEN: exit
// 4, in the table, the JSON and the message.
func TestCLIVerifyUnproven(t *testing.T) {
	t.Parallel()
	var deny atomic.Bool
	srv := kmstest.NewServer(kmstest.WithWrappingKeyCache(true), kmstest.WithFault(func(op string) error {
		if deny.Load() && op == "ImportKeyMaterial" {
			return &kmstest.FaultError{Type: "AccessDeniedException", Message: "User is not authorized to perform: kms:ImportKeyMaterial"}
		}
		return nil
	}))
	t.Cleanup(srv.Close)
	env := emulatorEnv(t, srv.URL)
	src := []string{keyFile("aes256.bin"), "--key-spec", "SYMMETRIC_DEFAULT"}
	o := decode[importOut](t, mustByok(t, 0, env, append([]string{"import", "--json"}, src...)...))

	r := mustByok(t, 4, env, append([]string{"verify", "--no-reimport", "--key-id", o.KeyARN}, src...)...)
	if !strings.Contains(r.stdout, "UNPROVEN:") || !strings.Contains(r.stdout, "skip  the re-import proof was declined (--no-reimport)") ||
		!strings.Contains(r.stderr, "not proven") || strings.Contains(r.stdout, "PASSED") {
		t.Errorf("--no-reimport:\n%s", r)
	}
	fits100(t, "verify --no-reimport", r.stdout)
	v := decode[verifyOut](t, mustByok(t, 4, env, append([]string{"verify", "--json", "--no-reimport", "--key-id", o.KeyARN}, src...)...))
	if v.OK || v.Verdict != byok.VerdictUnproven || v.Verification.Verified || len(v.Verification.Skipped) == 0 {
		t.Errorf("--no-reimport, JSON: %+v %+v", v, v.Verification)
	}

	deny.Store(true)
	r = mustByok(t, 4, env, append([]string{"verify", "--key-id", o.KeyARN}, src...)...)
	if !strings.Contains(r.stdout, "UNPROVEN:") || !strings.Contains(r.stdout, "ImportKeyMaterial was refused") || !strings.Contains(r.stdout, "AccessDeniedException") {
		t.Errorf("ImportKeyMaterial denied:\n%s", r)
	}
	deny.Store(false)
	mustByok(t, 0, env, append([]string{"verify", "--key-id", o.KeyARN}, src...)...)
}

// TestCLIUploadSymmetric: byok upload --source of a SYMMETRIC_DEFAULT key
// proves the source by re-import (the blob was wrapped by another process),
// and --no-reimport leaves it UNPROVEN, exit 4, until byok verify passes.
func TestCLIUploadSymmetric(t *testing.T) {
	t.Parallel()
	url, _ := startEmulator(t)
	env := emulatorEnv(t, url)
	src := []string{keyFile("aes256.bin"), "--key-spec", "SYMMETRIC_DEFAULT"}
	for _, decline := range []bool{false, true} {
		dir := filepath.Join(t.TempDir(), "params")
		p := decode[paramsOut](t, mustByok(t, 0, env, "params", "--json", "--out", dir, "--key-spec", "SYMMETRIC_DEFAULT"))
		mustByok(t, 0, env, append([]string{"wrap", "--params", dir}, src...)...)
		args := append([]string{"upload", "--json", "--params", dir, "--source"}, src...)
		if decline {
			args = append(args, "--no-reimport")
			u := decode[uploadOut](t, mustByok(t, 4, env, args...))
			if u.OK || u.Verification == nil || u.Verification.Verdict != byok.VerdictUnproven || u.Error == nil || u.Error.Kind != kindUnproven || !strings.Contains(u.Error.Message, "not proven") {
				t.Errorf("upload --no-reimport: %+v", u)
			}
			mustByok(t, 0, env, append([]string{"verify", "--key-id", p.Meta.KeyARN}, src...)...)
			continue
		}
		u := decode[uploadOut](t, mustByok(t, 0, env, args...))
		if !u.OK || u.Verification == nil || u.Verification.Verdict != byok.VerdictPassed || len(u.Verification.Checks) != 2 ||
			!strings.HasPrefix(u.Verification.Checks[1].Name, "re-import: KMS accepts the source's key material again") || !u.Verification.Checks[1].Identity {
			t.Errorf("upload: %+v", u.Verification)
		}
	}
}
