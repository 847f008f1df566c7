package kmstest_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/smithy-go"
	"github.com/byok-go/byok"
	"github.com/byok-go/byok/kmstest"
	"github.com/decred/dcrd/dcrec/secp256k1/v4"
)

// newServer starts an emulator with the wrapping key cache (fast) and closes
// it at the end of the test.
func newServer(t testing.TB, opts ...kmstest.Option) *kmstest.Server {
	t.Helper()
	srv := kmstest.NewServer(append([]kmstest.Option{kmstest.WithWrappingKeyCache(true)}, opts...)...)
	t.Cleanup(srv.Close)
	return srv
}

// noRetry makes a client give up at the first error.
func noRetry(o *kms.Options) { o.Retryer = aws.NopRetryer{} }

func inRegion(r string) func(*kms.Options) { return func(o *kms.Options) { o.Region = r } }

// srcKey is a key generated in Go, the source of an import.
type srcKey struct {
	km   *byok.KeyMaterial
	priv any // *rsa.PrivateKey, *ecdsa.PrivateKey, *secp256k1.PrivateKey, or nil
}

var (
	srcMu    sync.Mutex
	srcCache = map[byok.KeySpec]*srcKey{}
)

// sourceKey returns a key of spec, generated once per test binary.
func sourceKey(t testing.TB, spec byok.KeySpec) *srcKey {
	t.Helper()
	srcMu.Lock()
	defer srcMu.Unlock()
	if k := srcCache[spec]; k != nil {
		return k
	}
	k := newSourceKey(t, spec)
	srcCache[spec] = k
	return k
}

// newSourceKey generates a fresh key of spec.
func newSourceKey(t testing.TB, spec byok.KeySpec) *srcKey {
	t.Helper()
	var priv any
	var err error
	switch spec.Kind() {
	case byok.KindSymmetric, byok.KindHMAC:
		b := make([]byte, spec.MaterialLen())
		rand.Read(b)
		km, err := byok.NewSecretKeyMaterial(spec, b)
		if err != nil {
			t.Fatal(err)
		}
		return &srcKey{km: km}
	case byok.KindRSA:
		priv, err = rsa.GenerateKey(rand.Reader, spec.Bits())
	default:
		switch spec {
		case byok.ECCNISTP256:
			priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		case byok.ECCNISTP384:
			priv, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
		case byok.ECCNISTP521:
			priv, err = ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
		case byok.ECCSECGP256K1:
			priv, err = secp256k1.GeneratePrivateKey()
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	km, err := byok.NewKeyMaterial(priv)
	if err != nil {
		t.Fatal(err)
	}
	if km.Spec() != spec {
		t.Fatalf("generated a %s key, want %s", km.Spec(), spec)
	}
	return &srcKey{km: km, priv: priv}
}

// createExternal creates a KMS key with origin EXTERNAL.
func createExternal(t testing.TB, c *kms.Client, spec byok.KeySpec, usage byok.KeyUsage, mod ...func(*kms.CreateKeyInput)) string {
	t.Helper()
	in := &kms.CreateKeyInput{Origin: types.OriginTypeExternal, KeySpec: types.KeySpec(spec), KeyUsage: types.KeyUsageType(usage)}
	for _, f := range mod {
		f(in)
	}
	out, err := c.CreateKey(context.Background(), in)
	if err != nil {
		t.Fatalf("CreateKey %s %s: %v", spec, usage, err)
	}
	if out.KeyMetadata.KeyState != types.KeyStatePendingImport {
		t.Fatalf("new EXTERNAL key is %s, want PendingImport", out.KeyMetadata.KeyState)
	}
	return *out.KeyMetadata.KeyId
}

// params gets a wrapping key and import token.
func params(t testing.TB, c *kms.Client, keyID string, alg byok.WrappingAlgorithm, wks byok.WrappingKeySpec) (*rsa.PublicKey, []byte) {
	t.Helper()
	out, err := c.GetParametersForImport(context.Background(), &kms.GetParametersForImportInput{
		KeyId: aws.String(keyID), WrappingAlgorithm: types.AlgorithmSpec(alg), WrappingKeySpec: types.WrappingKeySpec(wks)})
	if err != nil {
		t.Fatalf("GetParametersForImport %s %s: %v", alg, wks, err)
	}
	pub, err := byok.ParseWrappingPublicKey(out.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := byok.WrappingKeySpecOf(pub); got != wks {
		t.Fatalf("wrapping key is %s, want %s", got, wks)
	}
	return pub, out.ImportToken
}

// importWith imports km into keyID with alg and wks, never expiring unless
// mod says otherwise.
func importWith(t testing.TB, c *kms.Client, keyID string, km *byok.KeyMaterial, alg byok.WrappingAlgorithm, wks byok.WrappingKeySpec, mod ...func(*kms.ImportKeyMaterialInput)) (*kms.ImportKeyMaterialOutput, error) {
	t.Helper()
	pub, token := params(t, c, keyID, alg, wks)
	wrapped, err := km.Wrap(pub, alg)
	if err != nil {
		t.Fatalf("Wrap %s: %v", alg, err)
	}
	in := &kms.ImportKeyMaterialInput{KeyId: aws.String(keyID), ImportToken: token, EncryptedKeyMaterial: wrapped,
		ExpirationModel: types.ExpirationModelTypeKeyMaterialDoesNotExpire}
	for _, f := range mod {
		f(in)
	}
	return c.ImportKeyMaterial(context.Background(), in)
}

// mustImport imports with the algorithm and wrapping key byok would choose
// among those that fit an RSA_2048 wrapping key, or RSA_3072.
func mustImport(t testing.TB, c *kms.Client, keyID string, km *byok.KeyMaterial, mod ...func(*kms.ImportKeyMaterialInput)) *kms.ImportKeyMaterialOutput {
	t.Helper()
	alg, wks := cheapWrapping(km.Spec())
	out, err := importWith(t, c, keyID, km, alg, wks, mod...)
	if err != nil {
		t.Fatalf("ImportKeyMaterial %s: %v", km.Spec(), err)
	}
	return out
}

// cheapWrapping picks a SHA-256 algorithm AWS allows for spec and the
// smallest wrapping key it fits.
func cheapWrapping(spec byok.KeySpec) (byok.WrappingAlgorithm, byok.WrappingKeySpec) {
	for _, alg := range byok.AllowedAlgorithms(spec) {
		for _, w := range []byok.WrappingKeySpec{byok.WrappingRSA2048, byok.WrappingRSA3072, byok.WrappingRSA4096} {
			if byok.CheckCompatible(spec, alg, w) == nil {
				return alg, w
			}
		}
	}
	panic("no wrapping for " + spec)
}

// wantAs fails unless err is (wraps) the SDK's typed error T.
func wantAs[T error](t testing.TB, err error) T {
	t.Helper()
	var target T
	if err == nil {
		t.Fatalf("no error, want %T", target)
	}
	if !errors.As(err, &target) {
		t.Fatalf("error %v (%T), want %T", err, err, target)
	}
	return target
}

// wantCode fails unless err is an AWS API error with that code.
func wantCode(t testing.TB, err error, code string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want %s", code)
	}
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("error %v (%T) is not an API error; want %s", err, err, code)
	}
	if ae.ErrorCode() != code {
		t.Fatalf("error code %s (%v), want %s", ae.ErrorCode(), err, code)
	}
}

// clock is a settable clock for WithClock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Now().UTC().Truncate(time.Second)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func describe(t testing.TB, c *kms.Client, keyID string, opts ...func(*kms.Options)) *types.KeyMetadata {
	t.Helper()
	out, err := c.DescribeKey(context.Background(), &kms.DescribeKeyInput{KeyId: aws.String(keyID)}, opts...)
	if err != nil {
		t.Fatalf("DescribeKey %s: %v", keyID, err)
	}
	return out.KeyMetadata
}

func name(parts ...any) string { return fmt.Sprint(parts...) }
