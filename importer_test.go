package byok_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"fmt"
	"path/filepath"
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
)

// keyFiles names a key file of every importable spec in testdata/keys, with
// the LoadOptions it needs.
var keyFiles = []struct {
	spec byok.KeySpec
	file string
	opts byok.LoadOptions
}{
	{byok.SymmetricDefault, "aes256.bin", byok.LoadOptions{KeySpec: byok.SymmetricDefault}},
	{byok.HMAC224, "hmac224.hex", byok.LoadOptions{KeySpec: byok.HMAC224}},
	{byok.HMAC256, "hmac256.b64", byok.LoadOptions{KeySpec: byok.HMAC256}},
	{byok.HMAC384, "hmac384.bin", byok.LoadOptions{KeySpec: byok.HMAC384}},
	{byok.HMAC512, "hmac512.hex", byok.LoadOptions{KeySpec: byok.HMAC512}},
	{byok.RSA2048, "rsa2048.pkcs8.pem", byok.LoadOptions{}},
	{byok.RSA3072, "rsa3072.pkcs1.pem", byok.LoadOptions{}},
	{byok.RSA4096, "rsa4096.pkcs8.pem", byok.LoadOptions{}},
	{byok.ECCNISTP256, "p256.sec1.pem", byok.LoadOptions{}},
	{byok.ECCNISTP384, "p384.pkcs8.pem", byok.LoadOptions{}},
	{byok.ECCNISTP521, "p521.pkcs8.pem", byok.LoadOptions{}},
	{byok.ECCSECGP256K1, "secp256k1.sec1.pem", byok.LoadOptions{}},
}

func newServer(t *testing.T, opts ...kmstest.Option) (*kmstest.Server, *kms.Client) {
	t.Helper()
	srv := kmstest.NewServer(append([]kmstest.Option{kmstest.WithWrappingKeyCache(true)}, opts...)...)
	t.Cleanup(srv.Close)
	return srv, kms.NewFromConfig(srv.AWSConfig())
}

func openSource(t *testing.T, file string, opts byok.LoadOptions, so software.Options) *software.Source {
	t.Helper()
	src, err := software.Open(filepath.Join("testdata", "keys", file), opts, so)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { src.Close() })
	return src
}

// countingKMS counts the calls that reach KMS.
type countingKMS struct {
	byok.KMSAPI
	calls atomic.Int64
}

func (c *countingKMS) CreateKey(ctx context.Context, in *kms.CreateKeyInput, o ...func(*kms.Options)) (*kms.CreateKeyOutput, error) {
	c.calls.Add(1)
	return c.KMSAPI.CreateKey(ctx, in, o...)
}

func (c *countingKMS) GetParametersForImport(ctx context.Context, in *kms.GetParametersForImportInput, o ...func(*kms.Options)) (*kms.GetParametersForImportOutput, error) {
	c.calls.Add(1)
	return c.KMSAPI.GetParametersForImport(ctx, in, o...)
}

// TestImportEveryKeyFile takes a key file of every importable type through
// the whole flow into the emulator, with the negotiated algorithm, and
// checks the proof.
func TestImportEveryKeyFile(t *testing.T) {
	_, client := newServer(t)
	for _, kf := range keyFiles {
		t.Run(string(kf.spec), func(t *testing.T) {
			src := openSource(t, kf.file, kf.opts, software.Options{})
			want, err := byok.ChooseWrapping(kf.spec, nil)
			if err != nil {
				t.Fatal(err)
			}
			res, err := new(byok.Importer).Import(context.Background(), src, &byok.KMS{Client: client})
			if err != nil {
				t.Fatalf("Import: %v", err)
			}
			if res.KeySpec != kf.spec || res.Algorithm != want.Algorithm || res.WrappingKeySpec != want.WrappingKeySpec {
				t.Errorf("result %s/%s/%s; want %s/%s/%s", res.KeySpec, res.Algorithm, res.WrappingKeySpec, kf.spec, want.Algorithm, want.WrappingKeySpec)
			}
			if !res.Created || res.KeyARN == "" || res.Reason == "" {
				t.Errorf("result lacks key ARN, Created or Reason: %+v", res)
			}
			checkVerified(t, res)
			md := describe(t, client, res.KeyARN)
			if md.KeyState != types.KeyStateEnabled || md.Origin != types.OriginTypeExternal || byok.KeySpec(md.KeySpec) != kf.spec {
				t.Errorf("KMS key is %s/%s/%s; want Enabled/EXTERNAL/%s", md.KeyState, md.Origin, md.KeySpec, kf.spec)
			}
			if md.ExpirationModel != types.ExpirationModelTypeKeyMaterialDoesNotExpire {
				t.Errorf("ExpirationModel %s; want KEY_MATERIAL_DOES_NOT_EXPIRE", md.ExpirationModel)
			}
		})
	}
}

func checkVerified(t *testing.T, res *byok.Result) {
	t.Helper()
	v := res.Verification
	if v == nil || !v.Verified || len(v.Checks) == 0 {
		t.Fatalf("not verified: %+v", v)
	}
	min := map[byok.MaterialKind]int{byok.KindSymmetric: 1, byok.KindHMAC: 1, byok.KindRSA: 4, byok.KindEC: 3}[res.KeySpec.Kind()]
	if res.KeyUsage == byok.EncryptDecrypt && res.KeySpec.Kind() == byok.KindRSA {
		min = 2 // the public key, and KMS decrypting what it encrypts
	}
	if len(v.Checks) < min {
		t.Errorf("%d checks; want at least %d: %+v", len(v.Checks), min, v.Checks)
	}
	for _, c := range v.Checks {
		if !c.OK {
			t.Errorf("check %q failed: %s", c.Name, c.Detail)
		}
	}
}

func describe(t *testing.T, client *kms.Client, id string) *types.KeyMetadata {
	t.Helper()
	out, err := client.DescribeKey(context.Background(), &kms.DescribeKeyInput{KeyId: aws.String(id)})
	if err != nil {
		t.Fatal(err)
	}
	return out.KeyMetadata
}

// TestImportEveryCombination: every importable spec × every allowed
// algorithm × every wrapping key spec, through the real SDK client, each
// one verified; every disallowed one refused before any request.
func TestImportEveryCombination(t *testing.T) {
	if testing.Short() {
		t.Skip("144 combinations; run without -short")
	}
	_, client := newServer(t)
	counting := &countingKMS{KMSAPI: client}
	imported, refused := 0, 0
	for _, kf := range keyFiles {
		for _, alg := range byok.WrappingAlgorithms() {
			for _, w := range byok.WrappingKeySpecs() {
				name := fmt.Sprintf("%s/%s/%s", kf.spec, alg, w)
				src := openSource(t, kf.file, kf.opts, software.Options{})
				im := &byok.Importer{Algorithm: alg, WrappingKeySpec: w}
				before := counting.calls.Load()
				res, err := im.Import(context.Background(), src, &byok.KMS{Client: counting})
				if rule := byok.CheckCompatible(kf.spec, alg, w); rule != nil {
					refused++
					if !errors.Is(err, byok.ErrIncompatible) {
						t.Errorf("%s: err %v; want ErrIncompatible", name, err)
					}
					if counting.calls.Load() != before {
						t.Errorf("%s: a refused combination reached KMS", name)
					}
					continue
				}
				imported++
				if err != nil {
					t.Errorf("%s: %v", name, err)
					continue
				}
				if res.Algorithm != alg || res.WrappingKeySpec != w {
					t.Errorf("%s: imported with %s/%s", name, res.Algorithm, res.WrappingKeySpec)
				}
				checkVerified(t, res)
			}
		}
	}
	if imported != 94 || refused != 50 {
		t.Errorf("%d imported, %d refused; AWS's rules allow 94 of the 144", imported, refused)
	}
}

// lister is a source that can perform only some algorithms, as an HSM.
type lister struct {
	*software.Source
	algs []byok.WrappingAlgorithm
}

func (l lister) WrappingAlgorithms(context.Context) ([]byok.WrappingAlgorithm, error) {
	return l.algs, nil
}

func TestImportNegotiatesWithTheSource(t *testing.T) {
	_, client := newServer(t)
	src := lister{openSource(t, "hmac256.hex", byok.LoadOptions{KeySpec: byok.HMAC256}, software.Options{}), []byok.WrappingAlgorithm{byok.RSAESOAEPSHA1, byok.RSAAESKeyWrapSHA256}}
	res, err := new(byok.Importer).Import(context.Background(), src, &byok.KMS{Client: client})
	if err != nil {
		t.Fatal(err)
	}
	if res.Algorithm != byok.RSAESOAEPSHA1 || !res.Fallback {
		t.Errorf("negotiated %s (fallback %v); want RSAES_OAEP_SHA_1 as a fallback", res.Algorithm, res.Fallback)
	}
	checkVerified(t, res)

	// An RSA key from a source without RSA_AES_KEY_WRAP cannot go.
	rsaSrc := lister{openSource(t, "rsa2048.pkcs8.pem", byok.LoadOptions{}, software.Options{}), []byok.WrappingAlgorithm{byok.RSAESOAEPSHA256}}
	counting := &countingKMS{KMSAPI: client}
	_, err = new(byok.Importer).Import(context.Background(), rsaSrc, &byok.KMS{Client: counting})
	if !errors.Is(err, byok.ErrIncompatible) || counting.calls.Load() != 0 {
		t.Errorf("err %v after %d calls; want ErrIncompatible before any call", err, counting.calls.Load())
	}
}

func TestImportIntoExistingKey(t *testing.T) {
	_, client := newServer(t)
	ctx := context.Background()
	create := func(spec types.KeySpec, usage types.KeyUsageType, origin types.OriginType) string {
		out, err := client.CreateKey(ctx, &kms.CreateKeyInput{KeySpec: spec, KeyUsage: usage, Origin: origin})
		if err != nil {
			t.Fatal(err)
		}
		return *out.KeyMetadata.Arn
	}
	src := openSource(t, "p256.pkcs8.pem", byok.LoadOptions{}, software.Options{})
	id := create(types.KeySpecEccNistP256, types.KeyUsageTypeSignVerify, types.OriginTypeExternal)
	res, err := new(byok.Importer).Import(ctx, src, &byok.KMS{Client: client, KeyID: id})
	if err != nil {
		t.Fatal(err)
	}
	if res.KeyARN != id || res.Created {
		t.Errorf("imported into %s (created %v); want %s", res.KeyARN, res.Created, id)
	}
	checkVerified(t, res)

	for name, tc := range map[string]struct {
		id   string
		want string
	}{
		"not EXTERNAL":  {create(types.KeySpecEccNistP256, types.KeyUsageTypeSignVerify, types.OriginTypeAwsKms), "Origin AWS_KMS"},
		"another spec":  {create(types.KeySpecEccNistP384, types.KeyUsageTypeSignVerify, types.OriginTypeExternal), "is a ECC_NIST_P384 key"},
		"another usage": {create(types.KeySpecEccNistP256, types.KeyUsageTypeKeyAgreement, types.OriginTypeExternal), "key usage KEY_AGREEMENT"},
	} {
		_, err := new(byok.Importer).Import(ctx, src, &byok.KMS{Client: client, KeyID: tc.id})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err %v; want one mentioning %q", name, err, tc.want)
		}
	}
}

// liar describes one key and wraps another: KMS accepts the material, and
// only the proof can notice.
type liar struct {
	*software.Source
	other *software.Source
}

func (l liar) Describe(ctx context.Context) (byok.KeyInfo, error) { return l.other.Describe(ctx) }

func TestVerificationCatchesAnotherKey(t *testing.T) {
	_, client := newServer(t)
	a, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	b, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ma, _ := byok.NewKeyMaterial(a)
	mb, _ := byok.NewKeyMaterial(b)
	sa, _ := software.New(ma, software.Options{})
	sb, _ := software.New(mb, software.Options{})
	res, err := new(byok.Importer).Import(context.Background(), liar{sa, sb}, &byok.KMS{Client: client})
	if !errors.Is(err, byok.ErrVerification) {
		t.Fatalf("err %v; want ErrVerification", err)
	}
	if res == nil || res.KeyARN == "" || res.Verification == nil || res.Verification.Verified {
		t.Fatalf("result %+v should name the key and the failed proof", res)
	}
	failed := 0
	for _, c := range res.Verification.Checks {
		if !c.OK {
			failed++
		}
	}
	if failed < 2 {
		t.Errorf("%d failed checks; the public key and both signatures should fail: %+v", failed, res.Verification.Checks)
	}

	// The same with HMAC keys: KMS's MAC differs from the source's.
	k1, k2 := make([]byte, 32), make([]byte, 32)
	rand.Read(k1)
	rand.Read(k2)
	h1, _ := byok.NewSecretKeyMaterial(byok.HMAC256, k1)
	h2, _ := byok.NewSecretKeyMaterial(byok.HMAC256, k2)
	s1, _ := software.New(h1, software.Options{})
	s2, _ := software.New(h2, software.Options{})
	_, err = new(byok.Importer).Import(context.Background(), macLiar{s1, s2}, &byok.KMS{Client: client})
	if !errors.Is(err, byok.ErrVerification) {
		t.Fatalf("HMAC: err %v; want ErrVerification", err)
	}
}

// macLiar wraps one HMAC key and computes MACs with another.
type macLiar struct {
	*software.Source
	other *software.Source
}

func (l macLiar) MAC(ctx context.Context, m []byte) ([]byte, error) { return l.other.MAC(ctx, m) }

func TestImportRSAEncryptionKeyAndExpiry(t *testing.T) {
	_, client := newServer(t)
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	m, _ := byok.NewKeyMaterial(k)
	src, err := software.New(m, software.Options{Usage: byok.EncryptDecrypt})
	if err != nil {
		t.Fatal(err)
	}
	validTo := time.Now().Add(48 * time.Hour).Truncate(time.Second)
	res, err := new(byok.Importer).Import(context.Background(), src, &byok.KMS{Client: client, ValidTo: validTo, Alias: "migrated-rsa", Tags: map[string]string{"source": "test"}})
	if err != nil {
		t.Fatal(err)
	}
	checkVerified(t, res)
	md := describe(t, client, "alias/migrated-rsa")
	if md.KeyUsage != types.KeyUsageTypeEncryptDecrypt || md.ExpirationModel != types.ExpirationModelTypeKeyMaterialExpires || md.ValidTo == nil || !md.ValidTo.Equal(validTo) {
		t.Errorf("key %s usage %s expiration %s valid to %v; want ENCRYPT_DECRYPT, KEY_MATERIAL_EXPIRES, %v", *md.Arn, md.KeyUsage, md.ExpirationModel, md.ValidTo, validTo)
	}
	if _, err := software.New(m, software.Options{Usage: byok.GenerateVerifyMAC}); err == nil {
		t.Error("an RSA key with usage GENERATE_VERIFY_MAC was accepted")
	}
}

// A forced algorithm AWS forbids for the spec is refused naming the rule.
func TestForcedAlgorithmNamesTheRule(t *testing.T) {
	src := openSource(t, "rsa2048.pkcs8.pem", byok.LoadOptions{}, software.Options{})
	_, _, err := (&byok.Importer{Algorithm: byok.RSAESOAEPSHA256}).Plan(context.Background(), src)
	var ce *byok.CompatibilityError
	if !errors.As(err, &ce) || ce.Rule != byok.RuleKeyWrapOnly {
		t.Errorf("err %v; want a CompatibilityError with RuleKeyWrapOnly", err)
	}
}
