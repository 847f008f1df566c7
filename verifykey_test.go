package byok_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/byok-go/byok"
	"github.com/byok-go/byok/driver/software"
	"github.com/byok-go/byok/kmstest"
	"github.com/decred/dcrd/dcrec/secp256k1/v4"
)

// otherKey returns a fresh key of spec, different from every key file.
func otherKey(t testing.TB, spec byok.KeySpec) *software.Source {
	t.Helper()
	var m *byok.KeyMaterial
	var err error
	switch spec.Kind() {
	case byok.KindSymmetric, byok.KindHMAC:
		b := make([]byte, spec.MaterialLen())
		rand.Read(b)
		m, err = byok.NewSecretKeyMaterial(spec, b)
	case byok.KindRSA:
		var k *rsa.PrivateKey
		if k, err = rsa.GenerateKey(rand.Reader, spec.Bits()); err == nil {
			m, err = byok.NewKeyMaterial(k)
		}
	case byok.KindEC:
		var k any
		switch spec {
		case byok.ECCNISTP256:
			k, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		case byok.ECCNISTP384:
			k, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
		case byok.ECCNISTP521:
			k, err = ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
		case byok.ECCSECGP256K1:
			k, err = secp256k1.GeneratePrivateKey()
		}
		if err == nil {
			m, err = byok.NewKeyMaterial(k)
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	src, err := software.New(m, software.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { src.Close() })
	return src
}

// identityCheck is the check that proves (or refutes) identity for spec
// when VerifyKey runs against a key file's own source.
func identityCheck(spec byok.KeySpec) string {
	switch spec.Kind() {
	case byok.KindSymmetric:
		return "re-import: KMS accepts the source's key material again"
	case byok.KindHMAC:
		return "KMS GenerateMac (HMAC_SHA_"
	}
	return "GetPublicKey equals the source public key"
}

func hasCheck(v byok.Verification, prefix string, ok bool) bool {
	for _, c := range v.Checks {
		if strings.HasPrefix(c.Name, prefix) && c.OK == ok && c.Identity {
			return true
		}
	}
	return false
}

// TestVerifyKeyMatrix: for every importable spec, import a key file into
// the emulator; VerifyKey with that key passes, with another key of the
// same spec fails naming the check; the key's expiration is unchanged.
func TestVerifyKeyMatrix(t *testing.T) {
	_, client := newServer(t)
	ctx := context.Background()
	for _, kf := range keyFiles {
		t.Run(string(kf.spec), func(t *testing.T) {
			src := openSource(t, kf.file, kf.opts, software.Options{})
			target := &byok.KMS{Client: client}
			if kf.spec == byok.SymmetricDefault {
				// An expiring key: the re-import must keep its ValidTo.
				target.ValidTo = time.Now().Add(72 * time.Hour).Truncate(time.Second)
			}
			res, err := new(byok.Importer).Import(ctx, src, target)
			if err != nil {
				t.Fatalf("Import: %v", err)
			}
			if v := res.Verification; v.Verdict != byok.VerdictPassed || !hasCheck(*v, "KMS unwrapped and accepted exactly the material the source wrapped", true) {
				t.Fatalf("import proof: %+v", v)
			}
			before := describe(t, client, res.KeyARN)

			kp, err := (&byok.KMS{Client: client}).VerifyKey(ctx, res.KeyARN, src, byok.VerifyOptions{})
			v := kp.Verification
			if err != nil || v.Verdict != byok.VerdictPassed || !v.Verified || v.Err(res.KeyARN) != nil {
				t.Fatalf("the imported key: %v, %+v", err, v)
			}
			if !hasCheck(v, identityCheck(kf.spec), true) {
				t.Errorf("no passed %q check: %+v", identityCheck(kf.spec), v.Checks)
			}
			if kp.KeyARN != res.KeyARN || kp.KeySpec != kf.spec || kp.KeyState != "Enabled" {
				t.Errorf("proof of %s/%s/%s", kp.KeyARN, kp.KeySpec, kp.KeyState)
			}

			other := otherKey(t, kf.spec)
			kp, err = (&byok.KMS{Client: client}).VerifyKey(ctx, res.KeyARN, other, byok.VerifyOptions{})
			v = kp.Verification
			if err != nil || v.Verdict != byok.VerdictFailed || v.Verified {
				t.Fatalf("another key: %v, verdict %s: %+v", err, v.Verdict, v.Checks)
			}
			if !hasCheck(v, identityCheck(kf.spec), false) {
				t.Errorf("the failed check is not %q: %+v", identityCheck(kf.spec), v.Checks)
			}
			if err := v.Err(res.KeyARN); !errors.Is(err, byok.ErrVerification) || !strings.Contains(err.Error(), identityCheck(kf.spec)) {
				t.Errorf("Err: %v", err)
			}

			after := describe(t, client, res.KeyARN)
			if after.ExpirationModel != before.ExpirationModel || !aws.ToTime(after.ValidTo).Equal(aws.ToTime(before.ValidTo)) ||
				aws.ToString(after.CurrentKeyMaterialId) != aws.ToString(before.CurrentKeyMaterialId) || after.KeyState != types.KeyStateEnabled {
				t.Errorf("the key changed: %s %v %s %s -> %s %v %s %s", before.ExpirationModel, before.ValidTo, aws.ToString(before.CurrentKeyMaterialId), before.KeyState,
					after.ExpirationModel, after.ValidTo, aws.ToString(after.CurrentKeyMaterialId), after.KeyState)
			}
			if kf.spec == byok.SymmetricDefault && after.ExpirationModel != types.ExpirationModelTypeKeyMaterialExpires {
				t.Errorf("ExpirationModel %s; the test key expires", after.ExpirationModel)
			}
		})
	}
}

// noMAC hides a source's MACSource: an HMAC source that cannot compute an
// HMAC (as an HSM without the mechanism).
type noMAC struct{ s *software.Source }

func (n noMAC) Describe(ctx context.Context) (byok.KeyInfo, error) { return n.s.Describe(ctx) }
func (n noMAC) Wrap(ctx context.Context, p byok.ImportParameters) ([]byte, error) {
	return n.s.Wrap(ctx, p)
}

// TestVerifyKeyReimportFallback: an HMAC source that cannot MAC, and an
// asymmetric key whose GetPublicKey, Sign and Verify are denied, are
// proven by re-import instead, which still tells the right key from
// another.
func TestVerifyKeyReimportFallback(t *testing.T) {
	var deny atomic.Bool
	_, client := newServer(t, kmstest.WithFault(func(op string) error {
		if deny.Load() && (op == "GetPublicKey" || op == "Sign" || op == "Verify") {
			return &kmstest.FaultError{Type: "AccessDeniedException", Message: "not allowed: " + op}
		}
		return nil
	}))
	ctx := context.Background()
	for _, kf := range []int{2, 8} { // HMAC_256, ECC_NIST_P256
		k := keyFiles[kf]
		t.Run(string(k.spec), func(t *testing.T) {
			src := openSource(t, k.file, k.opts, software.Options{})
			deny.Store(false)
			res, err := new(byok.Importer).Import(ctx, src, &byok.KMS{Client: client})
			if err != nil {
				t.Fatal(err)
			}
			deny.Store(true)
			var right, wrong byok.KeySource = src, otherKey(t, k.spec)
			if k.spec.Kind() == byok.KindHMAC {
				right, wrong = noMAC{src}, noMAC{otherKey(t, k.spec)}
			}
			kp, err := (&byok.KMS{Client: client}).VerifyKey(ctx, res.KeyARN, right, byok.VerifyOptions{})
			if v := kp.Verification; err != nil || v.Verdict != byok.VerdictPassed || !hasCheck(v, "re-import:", true) {
				t.Fatalf("right key: %v, %s %+v %v", err, v.Verdict, v.Checks, v.Skipped)
			}
			kp, err = (&byok.KMS{Client: client}).VerifyKey(ctx, res.KeyARN, wrong, byok.VerifyOptions{})
			if v := kp.Verification; err != nil || v.Verdict != byok.VerdictFailed || !hasCheck(v, "re-import:", false) {
				t.Fatalf("another key: %v, %s %+v", err, v.Verdict, v.Checks)
			}
			kp, _ = (&byok.KMS{Client: client}).VerifyKey(ctx, res.KeyARN, right, byok.VerifyOptions{NoReimport: true})
			if v := kp.Verification; v.Verdict != byok.VerdictUnproven || v.Verified || !errors.Is(v.Err(res.KeyARN), byok.ErrUnproven) {
				t.Errorf("declined: %s %+v", v.Verdict, v)
			}
		})
	}
}

// TestVerifyKeyUnproven: where the proof cannot run, the verdict is
// UNPROVEN, never PASSED: declined, ImportKeyMaterial or
// GetParametersForImport denied, the key disabled.
func TestVerifyKeyUnproven(t *testing.T) {
	var denied atomic.Value
	denied.Store("")
	_, client := newServer(t, kmstest.WithFault(func(op string) error {
		if op == denied.Load().(string) {
			return &kmstest.FaultError{Type: "AccessDeniedException", Message: "User is not authorized to perform: kms:" + op}
		}
		return nil
	}))
	ctx := context.Background()
	src := openSource(t, "aes256.bin", byok.LoadOptions{KeySpec: byok.SymmetricDefault}, software.Options{})
	res, err := new(byok.Importer).Import(ctx, src, &byok.KMS{Client: client})
	if err != nil {
		t.Fatal(err)
	}
	target := &byok.KMS{Client: client}
	unproven := func(name string, opts byok.VerifyOptions, want string) {
		t.Helper()
		kp, err := target.VerifyKey(ctx, res.KeyARN, src, opts)
		v := kp.Verification
		if err != nil || v.Verdict != byok.VerdictUnproven || v.Verified {
			t.Errorf("%s: %v, verdict %s, checks %+v", name, err, v.Verdict, v.Checks)
			return
		}
		e := v.Err(res.KeyARN)
		if !errors.Is(e, byok.ErrUnproven) || errors.Is(e, byok.ErrVerification) || !strings.Contains(e.Error(), want) {
			t.Errorf("%s: Err %v; want ErrUnproven mentioning %q", name, e, want)
		}
	}
	unproven("declined", byok.VerifyOptions{NoReimport: true}, "declined")
	denied.Store("ImportKeyMaterial")
	unproven("ImportKeyMaterial denied", byok.VerifyOptions{}, "ImportKeyMaterial was refused")
	denied.Store("GetParametersForImport")
	unproven("GetParametersForImport denied", byok.VerifyOptions{}, "GetParametersForImport was refused")
	denied.Store("")
	unproven("another key material", byok.VerifyOptions{KeyMaterialID: strings.Repeat("ab", 32)}, "is not one of the key's key materials")
	if _, err := client.DisableKey(ctx, &kms.DisableKeyInput{KeyId: aws.String(res.KeyARN)}); err != nil {
		t.Fatal(err)
	}
	unproven("disabled", byok.VerifyOptions{}, "Disabled, not Enabled")
	if _, err := client.EnableKey(ctx, &kms.EnableKeyInput{KeyId: aws.String(res.KeyARN)}); err != nil {
		t.Fatal(err)
	}
	if kp, err := target.VerifyKey(ctx, res.KeyARN, src, byok.VerifyOptions{}); err != nil || kp.Verification.Verdict != byok.VerdictPassed {
		t.Errorf("enabled again: %v, %+v", err, kp.Verification)
	}

	// A key KMS generated, or of another spec, is FAILED.
	gen, err := client.CreateKey(ctx, &kms.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	kp, err := target.VerifyKey(ctx, aws.ToString(gen.KeyMetadata.Arn), src, byok.VerifyOptions{})
	if err != nil || kp.Verification.Verdict != byok.VerdictFailed || !hasFailed(kp.Verification, "DescribeKey: Origin EXTERNAL") {
		t.Errorf("an AWS_KMS key: %v, %+v", err, kp.Verification)
	}
	hmacSrc := openSource(t, "hmac256.b64", byok.LoadOptions{KeySpec: byok.HMAC256}, software.Options{})
	kp, err = target.VerifyKey(ctx, res.KeyARN, hmacSrc, byok.VerifyOptions{})
	if err != nil || kp.Verification.Verdict != byok.VerdictFailed || !hasFailed(kp.Verification, "DescribeKey: Origin EXTERNAL and the source's key spec") {
		t.Errorf("another spec: %v, %+v", err, kp.Verification)
	}
}

func hasFailed(v byok.Verification, prefix string) bool {
	for _, c := range v.Failures() {
		if strings.HasPrefix(c.Name, prefix) {
			return true
		}
	}
	return false
}

// plainTarget is a KMS target that cannot verify.
type plainTarget struct{ t *byok.KMS }

func (p plainTarget) Prepare(ctx context.Context, i byok.KeyInfo, a byok.WrappingAlgorithm, w byok.WrappingKeySpec) (byok.ImportParameters, error) {
	return p.t.Prepare(ctx, i, a, w)
}
func (p plainTarget) Import(ctx context.Context, ip byok.ImportParameters, b []byte) (byok.Imported, error) {
	return p.t.Import(ctx, ip, b)
}

// usabilityOnly is a verifier whose only check is a usability check: it
// must not make the verdict PASSED, whatever Verified it claims.
type usabilityOnly struct{ plainTarget }

func (u usabilityOnly) VerifyImport(context.Context, byok.Imported, byok.KeyInfo, byok.KeySource) (byok.Verification, error) {
	return byok.Verification{Verified: true, Verdict: byok.VerdictPassed, Checks: []byok.Check{{Name: "round trip", OK: true}}}, nil
}

// TestImportUnproven: an import whose proof cannot show identity returns
// ErrUnproven with the verdict UNPROVEN, and the import-time proof names
// its integrity check; denied calls are skipped, not failed.
func TestImportUnproven(t *testing.T) {
	_, client := newServer(t)
	ctx := context.Background()
	src := openSource(t, "hmac384.bin", byok.LoadOptions{KeySpec: byok.HMAC384}, software.Options{})
	for name, dst := range map[string]byok.KMSTarget{
		"no verifier":    plainTarget{&byok.KMS{Client: client}},
		"usability only": usabilityOnly{plainTarget{&byok.KMS{Client: client}}},
	} {
		res, err := new(byok.Importer).Import(ctx, src, dst)
		if !errors.Is(err, byok.ErrUnproven) || errors.Is(err, byok.ErrVerification) || res == nil || res.Verification == nil ||
			res.Verification.Verdict != byok.VerdictUnproven || res.Verification.Verified {
			t.Errorf("%s: %v, %+v", name, err, res)
		}
	}

	var deny atomic.Bool
	_, denyClient := newServer(t, kmstest.WithFault(func(op string) error {
		if deny.Load() && op == "GenerateMac" {
			return &kmstest.FaultError{Type: "AccessDeniedException", Message: "no"}
		}
		return nil
	}))
	deny.Store(true)
	res, err := new(byok.Importer).Import(ctx, src, &byok.KMS{Client: denyClient})
	if err != nil || res.Verification.Verdict != byok.VerdictPassed || len(res.Verification.Checks) != 1 ||
		!strings.Contains(res.Verification.Checks[0].Name, "RSAES_OAEP_SHA_256: OAEP integrity") || len(res.Verification.Skipped) != 1 ||
		!strings.Contains(res.Verification.Skipped[0], "GenerateMac was refused") {
		t.Errorf("GenerateMac denied at import: %v, %+v", err, res.Verification)
	}
}

// TestVerificationJSON: snake_case keys, the verdict, [] never null.
func TestVerificationJSON(t *testing.T) {
	var v byok.Verification
	b, err := v.MarshalJSON()
	if err != nil || string(b) != `{"verdict":"UNPROVEN","verified":false,"checks":[],"skipped":[]}` {
		t.Errorf("zero Verification: %s, %v", b, err)
	}
	v.Add(byok.Check{Name: "n", OK: true, Identity: true})
	b, _ = v.MarshalJSON()
	if string(b) != `{"verdict":"PASSED","verified":true,"checks":[{"name":"n","ok":true,"detail":"","identity":true}],"skipped":[]}` {
		t.Errorf("passed: %s", b)
	}
	v.Add(byok.Check{Name: "m", OK: false, Detail: "d"})
	if v.Verdict != byok.VerdictFailed || v.Verified {
		t.Errorf("a failed usability check leaves %s", v.Verdict)
	}
}
