package azkv_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azkeys"

	"github.com/byok-go/byok"
	"github.com/byok-go/byok/azkv"
	"github.com/byok-go/byok/azkv/azkvtest"
	"github.com/byok-go/byok/driver/software"
)

// newFake starts the verifying fake Key Vault (a Managed HSM when managed)
// and returns the real azkeys client for it.
func newFake(t *testing.T, managed bool, opts ...azkvtest.Option) (*azkvtest.Server, *azkeys.Client) {
	t.Helper()
	if managed {
		opts = append(opts, azkvtest.WithManagedHSM())
	}
	srv, err := azkvtest.New(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	c, err := azkeys.NewClient(srv.URL(), srv.Credential(), srv.ClientOptions())
	if err != nil {
		t.Fatal(err)
	}
	return srv, c
}

// recorder counts the calls that reach Key Vault, and can answer some
// with 403 once a key was imported.
type recorder struct {
	azkv.API
	mu       sync.Mutex
	calls    []string
	imported atomic.Bool
	deny     map[string]bool // after ImportKey
}

func (r *recorder) note(op string) error {
	r.mu.Lock()
	r.calls = append(r.calls, op)
	r.mu.Unlock()
	if r.imported.Load() && r.deny[op] {
		return &azcore.ResponseError{StatusCode: http.StatusForbidden, ErrorCode: "Forbidden"}
	}
	return nil
}

func (r *recorder) Calls() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.calls...)
}

func (r *recorder) GetKey(ctx context.Context, n, v string, o *azkeys.GetKeyOptions) (azkeys.GetKeyResponse, error) {
	if err := r.note("GetKey"); err != nil {
		return azkeys.GetKeyResponse{}, err
	}
	return r.API.GetKey(ctx, n, v, o)
}

func (r *recorder) CreateKey(ctx context.Context, n string, p azkeys.CreateKeyParameters, o *azkeys.CreateKeyOptions) (azkeys.CreateKeyResponse, error) {
	r.note("CreateKey")
	return r.API.CreateKey(ctx, n, p, o)
}

func (r *recorder) ImportKey(ctx context.Context, n string, p azkeys.ImportKeyParameters, o *azkeys.ImportKeyOptions) (azkeys.ImportKeyResponse, error) {
	r.note("ImportKey")
	out, err := r.API.ImportKey(ctx, n, p, o)
	if err == nil {
		r.imported.Store(true)
	}
	return out, err
}

func (r *recorder) Sign(ctx context.Context, n, v string, p azkeys.SignParameters, o *azkeys.SignOptions) (azkeys.SignResponse, error) {
	if err := r.note("Sign"); err != nil {
		return azkeys.SignResponse{}, err
	}
	return r.API.Sign(ctx, n, v, p, o)
}

func (r *recorder) Verify(ctx context.Context, n, v string, p azkeys.VerifyParameters, o *azkeys.VerifyOptions) (azkeys.VerifyResponse, error) {
	if err := r.note("Verify"); err != nil {
		return azkeys.VerifyResponse{}, err
	}
	return r.API.Verify(ctx, n, v, p, o)
}

func (r *recorder) Decrypt(ctx context.Context, n, v string, p azkeys.KeyOperationParameters, o *azkeys.DecryptOptions) (azkeys.DecryptResponse, error) {
	if err := r.note("Decrypt"); err != nil {
		return azkeys.DecryptResponse{}, err
	}
	return r.API.Decrypt(ctx, n, v, p, o)
}

func (r *recorder) WrapKey(ctx context.Context, n, v string, p azkeys.KeyOperationParameters, o *azkeys.WrapKeyOptions) (azkeys.WrapKeyResponse, error) {
	if err := r.note("WrapKey"); err != nil {
		return azkeys.WrapKeyResponse{}, err
	}
	return r.API.WrapKey(ctx, n, v, p, o)
}

func (r *recorder) UnwrapKey(ctx context.Context, n, v string, p azkeys.KeyOperationParameters, o *azkeys.UnwrapKeyOptions) (azkeys.UnwrapKeyResponse, error) {
	if err := r.note("UnwrapKey"); err != nil {
		return azkeys.UnwrapKeyResponse{}, err
	}
	return r.API.UnwrapKey(ctx, n, v, p, o)
}

func keyName(spec byok.KeySpec) string {
	return strings.ToLower(strings.ReplaceAll(string(spec), "_", "-"))
}

func checkNamed(v *byok.Verification, prefix string, identity bool) bool {
	for _, c := range v.Checks {
		if strings.HasPrefix(c.Name, prefix) && c.OK && c.Identity == identity {
			return true
		}
	}
	return false
}

// Every spec Azure imports, from software keys, through the real azkeys
// client against the fake (a Managed HSM, which takes AES too; and a key
// vault for the asymmetric specs): imported, and PASSED by identity checks.
func TestImportEverySpec(t *testing.T) {
	ctx := context.Background()
	for _, managed := range []bool{false, true} {
		srv, client := newFake(t, managed)
		for _, k := range azureKeys {
			if k.spec == byok.SymmetricDefault && !managed {
				continue
			}
			name := map[bool]string{false: "vault", true: "mhsm"}[managed] + "/" + string(k.spec)
			t.Run(name, func(t *testing.T) {
				src := openKey(t, k.file, k.opts, software.Options{})
				tg, err := azkv.New(client, srv.URL(), azkv.Options{KeyName: keyName(k.spec), ManagedHSM: managed, Tags: map[string]string{"team": "x"}})
				if err != nil {
					t.Fatal(err)
				}
				res, err := new(byok.Importer).Import(ctx, src, tg)
				if err != nil {
					t.Fatalf("Import: %v (%+v)", err, res)
				}
				v := res.Verification
				if v.Verdict != byok.VerdictPassed || res.Algorithm != byok.RSAAESKeyWrapSHA1 || res.WrappingKeySpec != byok.WrappingRSA4096 || res.Fallback || !res.Created {
					t.Fatalf("%+v %s %+v %v", res, v.Verdict, v.Checks, v.Skipped)
				}
				switch k.spec.Kind() {
				case byok.KindSymmetric:
					if !checkNamed(v, azkv.CheckOctWrap, true) {
						t.Fatalf("no A256KW identity check: %+v", v.Checks)
					}
				default:
					if !checkNamed(v, azkv.CheckPublicKey, true) || !checkNamed(v, "Key Vault verifies a ", true) || !checkNamed(v, "a Key Vault ", true) {
						t.Fatalf("checks: %+v", v.Checks)
					}
					if k.spec.Kind() == byok.KindRSA && !checkNamed(v, "Key Vault's and the source's RSASSA-PKCS1-v1_5", true) {
						t.Fatalf("no byte-identical RS256: %+v", v.Checks)
					}
				}
				if !strings.HasPrefix(res.KeyID, tg.KeyURL()+"/") {
					t.Fatalf("key ID %s, want a version of %s", res.KeyID, tg.KeyURL())
				}
				if st, err := tg.KeyState(ctx, res.KeyID); err != nil || st != "enabled" {
					t.Fatalf("KeyState = %q, %v", st, err)
				}
			})
		}
	}
}

// target returns a target on the fake, its calls recorded.
func target(t *testing.T, srv *azkvtest.Server, client *azkeys.Client, opts azkv.Options) (*azkv.Target, *recorder) {
	t.Helper()
	rec := &recorder{API: client}
	tg, err := azkv.New(rec, srv.URL(), opts)
	if err != nil {
		t.Fatal(err)
	}
	return tg, rec
}

// RSA ENCRYPT_DECRYPT: the vault decrypts what the source public key
// encrypted.
func TestImportRSADecrypt(t *testing.T) {
	srv, client := newFake(t, false)
	src := openKey(t, "rsa3072.pkcs8.pem", byok.LoadOptions{}, software.Options{Usage: byok.EncryptDecrypt})
	tg, rec := target(t, srv, client, azkv.Options{KeyName: "rsa-enc", KEKSize: 2048})
	res, err := new(byok.Importer).Import(context.Background(), src, tg)
	if err != nil || !checkNamed(res.Verification, azkv.CheckDecrypt, true) || res.WrappingKeySpec != byok.WrappingRSA2048 {
		t.Fatalf("%v %+v", err, res)
	}
	if tg.CreatedKEK() != "rsa-enc-kek" || !contains(rec.Calls(), "Decrypt") {
		t.Fatalf("KEK %q, calls %v", tg.CreatedKEK(), rec.Calls())
	}
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// liar describes one key and wraps another.
type liar struct {
	*software.Source
	wraps byok.KeySource
}

func (l liar) Wrap(ctx context.Context, p byok.ImportParameters) ([]byte, error) {
	return l.wraps.Wrap(ctx, p)
}

// A source that wraps another key than it describes: the proof FAILS (the
// vault's public key and signatures, or its A256KW output, are another
// key's).
func TestImportLyingSource(t *testing.T) {
	ctx := context.Background()
	srv, client := newFake(t, true)
	cases := []struct {
		name       string
		said, real *software.Source
	}{
		{"ec", openKey(t, "p256.sec1.pem", byok.LoadOptions{}, software.Options{}), otherEC(t)},
		{"rsa", openKey(t, "rsa2048.pkcs8.pem", byok.LoadOptions{}, software.Options{}), otherRSA(t)},
		{"aes", openKey(t, "aes256.bin", byok.LoadOptions{KeySpec: byok.SymmetricDefault}, software.Options{}), otherAES(t)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.said.Material().Equal(c.real.Material()) {
				t.Fatal("the two test keys are the same key")
			}
			tg, _ := target(t, srv, client, azkv.Options{KeyName: "liar-" + c.name, ManagedHSM: true})
			res, err := new(byok.Importer).Import(ctx, liar{c.said, c.real}, tg)
			if !errors.Is(err, byok.ErrVerification) || res.Verification.Verdict != byok.VerdictFailed {
				t.Fatalf("err %v, %+v", err, res.Verification)
			}
			want := azkv.CheckPublicKey
			if c.name == "aes" {
				want = azkv.CheckOctWrap
			}
			failed := false
			for _, f := range res.Verification.Failures() {
				failed = failed || f.Name == want
			}
			if !failed {
				t.Fatalf("%q did not fail: %+v", want, res.Verification.Checks)
			}
		})
	}
}

func fresh(t *testing.T, k crypto.PrivateKey, err error) *software.Source {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	m, err := byok.NewKeyMaterial(k)
	if err != nil {
		t.Fatal(err)
	}
	s, err := software.New(m, software.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func otherRSA(t *testing.T) *software.Source {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	return fresh(t, k, err)
}

func otherEC(t *testing.T) *software.Source {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	return fresh(t, k, err)
}

func otherAES(t *testing.T) *software.Source {
	m, err := byok.NewSecretKeyMaterial(byok.SymmetricDefault, []byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := software.New(m, software.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// Every use of the key refused with 403 after the import: UNPROVEN, not
// PASSED, with each refusal named.
func TestImportForbiddenIsUnproven(t *testing.T) {
	srv, client := newFake(t, true)
	for _, k := range []struct {
		file string
		opts byok.LoadOptions
	}{{"p384.pkcs8.pem", byok.LoadOptions{}}, {"aes256.bin", byok.LoadOptions{KeySpec: byok.SymmetricDefault}}} {
		src := openKey(t, k.file, k.opts, software.Options{})
		tg, rec := target(t, srv, client, azkv.Options{KeyName: "denied-" + strings.Split(k.file, ".")[0], ManagedHSM: true})
		rec.deny = map[string]bool{"GetKey": true, "Sign": true, "Verify": true, "WrapKey": true}
		res, err := new(byok.Importer).Import(context.Background(), src, tg)
		if !errors.Is(err, byok.ErrUnproven) || res.Verification.Verdict != byok.VerdictUnproven || len(res.Verification.Skipped) == 0 {
			t.Fatalf("%s: %v %+v", k.file, err, res.Verification)
		}
	}
}

// What Azure does not take is refused before any request.
func TestRefusedBeforeAnyRequest(t *testing.T) {
	ctx := context.Background()
	srv, client := newFake(t, false)
	cases := []struct {
		name string
		src  byok.KeySource
		im   byok.Importer
		opts azkv.Options
		rule error
	}{
		{"hmac", openKey(t, "hmac256.b64", byok.LoadOptions{KeySpec: byok.HMAC256}, software.Options{}), byok.Importer{}, azkv.Options{}, azkv.RuleNoHMAC},
		{"aes in a vault", openKey(t, "aes256.bin", byok.LoadOptions{KeySpec: byok.SymmetricDefault}, software.Options{}), byok.Importer{}, azkv.Options{}, azkv.RuleOctManagedHSM},
		{"key agreement", openKey(t, "p256.sec1.pem", byok.LoadOptions{}, software.Options{Usage: byok.KeyAgreement}), byok.Importer{}, azkv.Options{}, azkv.RuleNoKeyAgreement},
		{"sha-256 asked", openKey(t, "p256.sec1.pem", byok.LoadOptions{}, software.Options{}), byok.Importer{Algorithm: byok.RSAAESKeyWrapSHA256}, azkv.Options{}, azkv.RuleCKMRSAAESKeyWrap},
		{"oaep asked", openKey(t, "p256.sec1.pem", byok.LoadOptions{}, software.Options{}), byok.Importer{Algorithm: byok.RSAESOAEPSHA256}, azkv.Options{}, azkv.RuleCKMRSAAESKeyWrap},
		{"kek size", openKey(t, "p256.sec1.pem", byok.LoadOptions{}, software.Options{}), byok.Importer{WrappingKeySpec: byok.WrappingRSA2048}, azkv.Options{KEKSize: 3072}, azkv.RuleKEKSize},
		{"oaep-only source", oaepOnly{openKey(t, "p256.sec1.pem", byok.LoadOptions{}, software.Options{})}, byok.Importer{}, azkv.Options{}, azkv.RuleCKMRSAAESKeyWrap},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.opts.KeyName = "refused"
			tg, rec := target(t, srv, client, c.opts)
			_, err := c.im.Import(ctx, c.src, tg)
			if !errors.Is(err, c.rule) || !errors.Is(err, byok.ErrIncompatible) {
				t.Fatalf("err = %v; want rule %v", err, c.rule)
			}
			if calls := rec.Calls(); len(calls) != 0 {
				t.Fatalf("requests were made: %v", calls)
			}
		})
	}
	if _, err := azkv.New(client, srv.URL(), azkv.Options{KeyName: "a", KEKName: "a"}); err == nil {
		t.Fatal("KEK named like the key accepted")
	}
	if _, err := azkv.New(client, "http://x", azkv.Options{KeyName: "a"}); err == nil {
		t.Fatal("http vault URL accepted")
	}
	if _, err := azkv.New(client, srv.URL(), azkv.Options{KeyName: "a", KEKSize: 1024}); !errors.Is(err, azkv.RuleKEKSize) {
		t.Fatalf("1024-bit KEK: %v", err)
	}
}

// oaepOnly is a source that can perform only RSAES_OAEP (as an HSM whose
// key-wrap mechanisms are missing).
type oaepOnly struct{ *software.Source }

func (oaepOnly) WrappingAlgorithms(context.Context) ([]byok.WrappingAlgorithm, error) {
	return []byok.WrappingAlgorithm{byok.RSAESOAEPSHA256, byok.RSAESOAEPSHA1}, nil
}

// An existing key of that name is left alone, before any KEK is made; an
// existing KEK is reused when it is one, and refused, named, when not.
func TestExistingKeys(t *testing.T) {
	ctx := context.Background()
	srv, client := newFake(t, false)
	src := openKey(t, "p256.sec1.pem", byok.LoadOptions{}, software.Options{})
	tg, _ := target(t, srv, client, azkv.Options{KeyName: "first", KEKName: "shared-kek"})
	if _, err := new(byok.Importer).Import(ctx, src, tg); err != nil {
		t.Fatal(err)
	}
	// The same name again: refused, nothing created.
	tg, rec := target(t, srv, client, azkv.Options{KeyName: "first", KEKName: "another-kek"})
	if _, err := new(byok.Importer).Import(ctx, src, tg); err == nil || !strings.Contains(err.Error(), "already has a key first") || contains(rec.Calls(), "CreateKey") {
		t.Fatalf("%v %v", err, rec.Calls())
	}
	// The KEK again: reused.
	tg, rec = target(t, srv, client, azkv.Options{KeyName: "second", KEKName: "shared-kek"})
	if _, err := new(byok.Importer).Import(ctx, src, tg); err != nil || contains(rec.Calls(), "CreateKey") || tg.CreatedKEK() != "" {
		t.Fatalf("%v %v", err, rec.Calls())
	}
	// A KEK of another size than asked: refused, naming the fix.
	tg, _ = target(t, srv, client, azkv.Options{KeyName: "third", KEKName: "shared-kek", KEKSize: 2048})
	if _, err := new(byok.Importer).Import(ctx, src, tg); err == nil || !strings.Contains(err.Error(), "--azure-kek-size 4096") {
		t.Fatalf("%v", err)
	}
	// A signing key as the KEK: refused.
	tg, _ = target(t, srv, client, azkv.Options{KeyName: "fourth", KEKName: "first"})
	if _, err := new(byok.Importer).Import(ctx, src, tg); err == nil || !strings.Contains(err.Error(), "cannot be the key exchange key") {
		t.Fatalf("%v", err)
	}
	if st, err := tg.KeyState(ctx, "nothing-here"); err != nil || st != "not_found" {
		t.Fatalf("KeyState = %q, %v", st, err)
	}
}
