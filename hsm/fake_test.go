package hsm_test

import (
	"context"
	"crypto"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/byok-go/byok"
	"github.com/byok-go/byok/hsm"
	"github.com/byok-go/byok/hsm/hsmtest"
	"github.com/miekg/pkcs11"
)

var fakePIN = hsmtest.PIN("fake-pin-1234")

// fakeMechanisms are the mechanisms of a module that can do everything.
var fakeMechanisms = []uint{pkcs11.CKM_RSA_PKCS_OAEP, pkcs11.CKM_RSA_AES_KEY_WRAP, pkcs11.CKM_AES_KEY_WRAP_PAD, hsm.CKM_AES_KEY_WRAP_KWP,
	pkcs11.CKM_AES_KEY_GEN, pkcs11.CKM_GENERIC_SECRET_KEY_GEN, pkcs11.CKM_EC_KEY_PAIR_GEN, pkcs11.CKM_RSA_PKCS, pkcs11.CKM_RSA_PKCS_PSS,
	pkcs11.CKM_ECDSA, pkcs11.CKM_SHA224_HMAC, pkcs11.CKM_SHA256_HMAC, pkcs11.CKM_SHA384_HMAC, pkcs11.CKM_SHA512_HMAC}

func without(ms []uint, drop ...uint) []uint {
	return slices.DeleteFunc(slices.Clone(ms), func(m uint) bool { return slices.Contains(drop, m) })
}

// Variants of a capable module: native CKM_RSA_AES_KEY_WRAP; the two-step
// path with CKM_AES_KEY_WRAP_KWP; OAEP only (private keys included).
func fakeVariants() map[string]func() *hsmtest.Fake {
	return map[string]func() *hsmtest.Fake{
		"native": func() *hsmtest.Fake {
			return &hsmtest.Fake{PIN: fakePIN, Mechanisms: fakeMechanisms, OAEPHashes: []uint{pkcs11.CKM_SHA_1, pkcs11.CKM_SHA256}}
		},
		"two-step": func() *hsmtest.Fake {
			return &hsmtest.Fake{PIN: fakePIN, Mechanisms: without(fakeMechanisms, pkcs11.CKM_RSA_AES_KEY_WRAP),
				OAEPHashes: []uint{pkcs11.CKM_SHA_1, pkcs11.CKM_SHA256}}
		},
		"oaep-only": func() *hsmtest.Fake {
			return &hsmtest.Fake{PIN: fakePIN, PrivateKeyOAEP: true,
				Mechanisms: without(fakeMechanisms, pkcs11.CKM_RSA_AES_KEY_WRAP, pkcs11.CKM_AES_KEY_WRAP_PAD, hsm.CKM_AES_KEY_WRAP_KWP),
				OAEPHashes: []uint{pkcs11.CKM_SHA_1, pkcs11.CKM_SHA256}}
		},
	}
}

// fakeToken opens the fake's token, logged in.
func fakeToken(t testing.TB, f *hsmtest.Fake, prof *hsm.Profile) *hsm.Token {
	t.Helper()
	m, err := hsm.NewModule("fake", f)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	tok, err := m.OpenToken(context.Background(), hsm.TokenSelector{}, hsm.TokenOptions{PIN: fakePIN, Profile: prof, MaxSessions: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tok.Close() })
	return tok
}

// fakeSource puts k in the fake (as a session object) and opens it.
func fakeSource(t testing.TB, tok *hsm.Token, k testKey, o hsmtest.KeyOptions) *hsm.Source {
	t.Helper()
	if o.Label == "" {
		o.Label = k.name
	}
	err := tok.WithSession(context.Background(), func(sh pkcs11.SessionHandle) error {
		k.create(t, tok.Module().API(), sh, o)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	src, err := tok.OpenKey(context.Background(), hsm.KeyRef{Label: o.Label}, hsm.SourceOptions{MaterialLen: k.materialLen})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { src.Close() })
	return src
}

// TestFakeEveryKeyEveryPath migrates a key of every type through each way
// a module can wrap (native CKM_RSA_AES_KEY_WRAP, the two-step path, OAEP
// only), checking every blob byte for byte and every import.
func TestFakeEveryKeyEveryPath(t *testing.T) {
	keys := allKeys(t)
	target := newKMS(t)
	for name, newFake := range fakeVariants() {
		t.Run(name, func(t *testing.T) {
			f := newFake()
			tok := fakeToken(t, f, nil)
			for _, k := range keys {
				t.Run(k.name, func(t *testing.T) {
					src := fakeSource(t, tok, k, hsmtest.KeyOptions{ID: []byte(k.name)})
					algs, err := src.WrappingAlgorithms(context.Background())
					if name == "oaep-only" && k.spec.Kind() == byok.KindRSA {
						if !errors.Is(err, hsm.ErrNoWrapping) {
							t.Fatalf("RSA with OAEP only: %v; want ErrNoWrapping", err)
						}
						return
					}
					if err != nil {
						t.Fatal(err)
					}
					if algs[0].Hash() != crypto.SHA256 {
						t.Errorf("algorithms %v; a SHA-256 form first", algs)
					}
					checkWrapsExactly(t, src, k.material(t))
					before := f.SessionObjects()
					res, err := new(byok.Importer).Import(context.Background(), src, target)
					if err != nil {
						t.Fatalf("Import: %v", err)
					}
					if res.Fallback || res.Algorithm.Hash() != crypto.SHA256 {
						t.Errorf("imported with %s; want a SHA-256 form", res.Algorithm)
					}
					checkVerified(t, res)
					if after := f.SessionObjects(); after != before {
						t.Errorf("%d session objects before the import, %d after: byok left some behind", before, after)
					}
				})
			}
		})
	}
}

// TestFakeParameters checks what reaches the module: OAEP with hash and MGF
// set explicitly and no source data, CK_RSA_AES_KEY_WRAP_PARAMS with a
// 256-bit AES key, the wrapping key as a session object that may wrap, and
// the ephemeral key as an extractable AES-256 session key, destroyed.
func TestFakeParameters(t *testing.T) {
	for name, newFake := range fakeVariants() {
		t.Run(name, func(t *testing.T) {
			f := newFake()
			tok := fakeToken(t, f, nil)
			src := fakeSource(t, tok, allKeys(t)[9], hsmtest.KeyOptions{ID: []byte("p256")}) // P-256: every path applies
			algs, err := src.WrappingAlgorithms(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			for _, alg := range algs {
				n := len(f.Calls())
				if _, err := src.Wrap(context.Background(), params(alg)); err != nil {
					t.Fatal(err)
				}
				calls := f.Calls()[n:]
				checkCalls(t, alg, calls)
			}
		})
	}
}

func checkCalls(t *testing.T, alg byok.WrappingAlgorithm, calls []hsmtest.Call) {
	t.Helper()
	wantHash, wantMGF := uint(pkcs11.CKM_SHA256), uint(pkcs11.CKG_MGF1_SHA256)
	if alg.Hash() == crypto.SHA1 {
		wantHash, wantMGF = pkcs11.CKM_SHA_1, pkcs11.CKG_MGF1_SHA1
	}
	checkOAEP := func(p *pkcs11.OAEPParams) {
		t.Helper()
		want := pkcs11.NewOAEPParams(wantHash, wantMGF, pkcs11.CKZ_DATA_SPECIFIED, nil)
		if diff := hsmtest.OAEPDiff(want, p); diff != "" {
			t.Errorf("%s: OAEP parameters: want the hash and MGF1 of %s, CKZ_DATA_SPECIFIED, no source data (-want +got):\n%s", alg, alg, diff)
		}
	}
	created := map[pkcs11.ObjectHandle]string{}
	destroyed := map[pkcs11.ObjectHandle]bool{}
	var wraps int
	for _, c := range calls {
		switch c.Func {
		case "C_CreateObject":
			tm := c.Template
			want := []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_TOKEN, false), pkcs11.NewAttribute(pkcs11.CKA_WRAP, true),
				pkcs11.NewAttribute(pkcs11.CKA_MODULUS, wrappingKey().N.Bytes())}
			if diff := hsmtest.TemplateDiff(want, tm); diff != "" {
				t.Errorf("%s: the wrapping key is not the KMS key as a session object with CKA_WRAP=true (-want +got):\n%s", alg, diff)
			}
			created[c.Object] = "wrapping key"
		case "C_GenerateKey":
			want := []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_TOKEN, false), pkcs11.NewAttribute(pkcs11.CKA_EXTRACTABLE, true),
				pkcs11.NewAttribute(pkcs11.CKA_VALUE_LEN, 32)}
			if c.Mechanism != pkcs11.CKM_AES_KEY_GEN {
				t.Errorf("%s: the ephemeral key is made with %#x; want CKM_AES_KEY_GEN", alg, c.Mechanism)
			}
			if diff := hsmtest.TemplateDiff(want, c.Template); diff != "" {
				t.Errorf("%s: the ephemeral key is not an extractable 32-byte AES session key (-want +got):\n%s", alg, diff)
			}
			created[c.Object] = "ephemeral key"
		case "C_DestroyObject":
			destroyed[c.Object] = true
		case "C_WrapKey":
			wraps++
			switch c.Mechanism {
			case pkcs11.CKM_RSA_PKCS_OAEP:
				checkOAEP(c.OAEP)
			case pkcs11.CKM_RSA_AES_KEY_WRAP:
				if c.RSAAES == nil || c.RSAAES.AESKeyBits != 256 {
					t.Errorf("%s: CK_RSA_AES_KEY_WRAP_PARAMS %+v; want 256-bit AES", alg, c.RSAAES)
				} else {
					checkOAEP(&c.RSAAES.OAEPParams)
				}
			case hsm.CKM_AES_KEY_WRAP_KWP, pkcs11.CKM_AES_KEY_WRAP_PAD:
				if len(c.Raw) != 0 {
					t.Errorf("%s: AES key wrap with parameters %x", alg, c.Raw)
				}
			default:
				t.Errorf("%s: C_WrapKey with mechanism %#x", alg, c.Mechanism)
			}
		}
	}
	for h, what := range created {
		if !destroyed[h] {
			t.Errorf("%s: the %s (object %d) was not destroyed", alg, what, h)
		}
	}
	if wraps == 0 {
		t.Errorf("%s: no C_WrapKey", alg)
	}
}

// TestFakeEphemeralDestroyedOnErrors: the two-step path's ephemeral key is
// destroyed whichever step fails; if destroying it fails, the session is
// closed (which destroys session objects).
func TestFakeEphemeralDestroyedOnErrors(t *testing.T) {
	k := allKeys(t)[6] // RSA-2048: the two-step path
	for _, c := range []struct {
		name string
		fail func(c *hsmtest.Call) error
	}{
		{"OAEP of the ephemeral key", func(c *hsmtest.Call) error {
			if c.Func == "C_WrapKey" && c.Mechanism == pkcs11.CKM_RSA_PKCS_OAEP {
				return pkcs11.Error(pkcs11.CKR_DEVICE_MEMORY)
			}
			return nil
		}},
		{"key wrap of the key", func(c *hsmtest.Call) error {
			if c.Func == "C_WrapKey" && c.Mechanism == hsm.CKM_AES_KEY_WRAP_KWP {
				return pkcs11.Error(pkcs11.CKR_KEY_NOT_WRAPPABLE)
			}
			return nil
		}},
		{"destroying the ephemeral key", func(c *hsmtest.Call) error {
			if c.Func == "C_DestroyObject" {
				return pkcs11.Error(pkcs11.CKR_DEVICE_ERROR)
			}
			return nil
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := fakeVariants()["two-step"]()
			tok := fakeToken(t, f, nil)
			src := fakeSource(t, tok, k, hsmtest.KeyOptions{Token: true})
			if _, err := src.WrappingAlgorithms(context.Background()); err != nil { // probe before injecting
				t.Fatal(err)
			}
			n := len(f.Calls())
			f.Fail = c.fail
			_, err := src.Wrap(context.Background(), params(byok.RSAAESKeyWrapSHA256))
			f.Fail = nil
			if err == nil {
				t.Fatal("Wrap succeeded despite the failure")
			}
			t.Logf("%v", err)
			var eph pkcs11.ObjectHandle
			destroyed, closed := false, false
			for _, call := range f.Calls()[n:] {
				switch call.Func {
				case "C_GenerateKey":
					eph = call.Object
				case "C_DestroyObject":
					destroyed = destroyed || call.Object == eph && call.Err == nil
				case "C_CloseSession":
					closed = true
				}
			}
			if eph == 0 {
				t.Fatal("no ephemeral key was generated")
			}
			if !destroyed && !closed {
				t.Error("the ephemeral key was neither destroyed nor its session closed")
			}
			if got := f.SessionObjects(); got != 0 {
				t.Errorf("%d session objects remain", got)
			}
		})
	}
}

// TestFakeErrors maps the module's errors to sentinels with a fix, the
// pkcs11.Error still reachable.
func TestFakeErrors(t *testing.T) {
	for _, c := range []struct {
		rv   uint
		want error
		fix  string
	}{
		{pkcs11.CKR_KEY_UNEXTRACTABLE, hsm.ErrNotExtractable, "cannot be migrated"},
		{pkcs11.CKR_KEY_NOT_WRAPPABLE, hsm.ErrNotWrappable, "CKA_WRAP_WITH_TRUSTED"},
		{pkcs11.CKR_MECHANISM_INVALID, hsm.ErrMechanism, "let byok negotiate"},
		{pkcs11.CKR_MECHANISM_PARAM_INVALID, hsm.ErrMechanism, "let byok negotiate"},
		{pkcs11.CKR_ARGUMENTS_BAD, hsm.ErrMechanism, "let byok negotiate"},
		{pkcs11.CKR_USER_NOT_LOGGED_IN, hsm.ErrNotLoggedIn, "log in as the user that owns the key"},
	} {
		t.Run(pkcs11.Error(c.rv).Error(), func(t *testing.T) {
			f := fakeVariants()["native"]()
			tok := fakeToken(t, f, nil)
			src := fakeSource(t, tok, allKeys(t)[0], hsmtest.KeyOptions{})
			if _, err := src.WrappingAlgorithms(context.Background()); err != nil {
				t.Fatal(err)
			}
			f.Fail = func(call *hsmtest.Call) error {
				if call.Func == "C_WrapKey" {
					return pkcs11.Error(c.rv)
				}
				return nil
			}
			_, err := src.Wrap(context.Background(), params(byok.RSAESOAEPSHA256))
			if !errors.Is(err, c.want) || !strings.Contains(err.Error(), c.fix) {
				t.Fatalf("got %v; want %v saying %q", err, c.want, c.fix)
			}
			var rv pkcs11.Error
			if !errors.As(err, &rv) || uint(rv) != c.rv {
				t.Errorf("errors.As found %v; want %v", rv, pkcs11.Error(c.rv))
			}
		})
	}
}

// TestFakeWrapWithTrusted: a key with CKA_WRAP_WITH_TRUSTED cannot be
// wrapped under the (untrusted) KMS wrapping key.
func TestFakeWrapWithTrusted(t *testing.T) {
	f := fakeVariants()["native"]()
	tok := fakeToken(t, f, nil)
	k := allKeys(t)[0]
	err := tok.WithSession(context.Background(), func(sh pkcs11.SessionHandle) error {
		_, err := f.CreateObject(sh, []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_SECRET_KEY),
			pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_AES), pkcs11.NewAttribute(pkcs11.CKA_VALUE, k.value),
			pkcs11.NewAttribute(pkcs11.CKA_EXTRACTABLE, true), pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, true),
			pkcs11.NewAttribute(pkcs11.CKA_WRAP_WITH_TRUSTED, true), pkcs11.NewAttribute(pkcs11.CKA_LABEL, "trusted-only")})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	src, err := tok.OpenKey(context.Background(), hsm.KeyRef{Label: "trusted-only"}, hsm.SourceOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := src.Wrap(context.Background(), params(byok.RSAESOAEPSHA256)); !errors.Is(err, hsm.ErrNotWrappable) {
		t.Fatalf("got %v; want ErrNotWrappable", err)
	}
}

// TestFakeNothingFits: a module without OAEP or RSA-AES wrap is refused
// before anything is created in KMS, with byok.ErrIncompatible.
func TestFakeNothingFits(t *testing.T) {
	f := &hsmtest.Fake{PIN: fakePIN, Mechanisms: []uint{pkcs11.CKM_AES_KEY_GEN, pkcs11.CKM_GENERIC_SECRET_KEY_GEN, pkcs11.CKM_AES_KEY_WRAP_PAD}}
	tok := fakeToken(t, f, nil)
	src := fakeSource(t, tok, allKeys(t)[0], hsmtest.KeyOptions{})
	target := newKMS(t)
	_, err := new(byok.Importer).Import(context.Background(), src, target)
	if !errors.Is(err, hsm.ErrNoWrapping) || !errors.Is(err, byok.ErrIncompatible) || !strings.Contains(err.Error(), "never exports the plaintext") {
		t.Fatalf("got %v; want ErrNoWrapping and byok.ErrIncompatible", err)
	}
}

// TestFakeConcurrent uses one source from many goroutines with a pool of
// two sessions (run with -race).
func TestFakeConcurrent(t *testing.T) {
	f := fakeVariants()["native"]()
	tok := fakeToken(t, f, nil)
	src := fakeSource(t, tok, allKeys(t)[2], hsmtest.KeyOptions{}) // HMAC-256
	var wg sync.WaitGroup
	errs := make(chan error, 32)
	for i := 0; i < 16; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := src.Wrap(context.Background(), params(byok.RSAESOAEPSHA256)); err != nil {
				errs <- err
			}
			if _, err := src.MAC(context.Background(), []byte("message")); err != nil {
				errs <- err
			}
			if n := f.OpenSessions(); n > 2 {
				errs <- errors.New("more than two sessions open")
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestFakeProbeOnce: the probe runs once per module and token; with
// NoProbe the profile's documented capabilities are used unprobed.
func TestFakeProbeOnce(t *testing.T) {
	f := fakeVariants()["native"]()
	tok := fakeToken(t, f, nil)
	k := allKeys(t)
	a := fakeSource(t, tok, k[0], hsmtest.KeyOptions{Label: "a"})
	b := fakeSource(t, tok, k[1], hsmtest.KeyOptions{Label: "b"})
	a.WrappingAlgorithms(context.Background())
	n := len(f.CallsTo("C_WrapKey"))
	b.WrappingAlgorithms(context.Background())
	if m := len(f.CallsTo("C_WrapKey")); m != n {
		t.Errorf("the second source probed again (%d more C_WrapKey)", m-n)
	}

	g := fakeVariants()["native"]()
	prof := &hsm.Profile{Name: "documented", NoProbe: true, Documented: hsm.Capabilities{OAEP: []crypto.Hash{crypto.SHA256}}}
	tok = fakeToken(t, g, prof)
	src := fakeSource(t, tok, k[0], hsmtest.KeyOptions{})
	algs, err := src.WrappingAlgorithms(context.Background())
	if err != nil || !slices.Equal(algs, []byok.WrappingAlgorithm{byok.RSAESOAEPSHA256}) {
		t.Fatalf("algorithms %v, %v; want the documented RSAES_OAEP_SHA_256", algs, err)
	}
	if n := len(g.CallsTo("C_WrapKey")); n != 0 {
		t.Errorf("%d C_WrapKey calls: probed although NoProbe", n)
	}
}

// TestFakeUserPassword: a CloudHSM-style PIN without "user:" is refused
// before it reaches the module.
func TestFakeUserPassword(t *testing.T) {
	f := &hsmtest.Fake{PIN: []byte("cu:pw"), UserPassword: true, Mechanisms: fakeMechanisms, OAEPHashes: []uint{pkcs11.CKM_SHA256}}
	m, err := hsm.NewModule("fake", f)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	_, err = m.OpenToken(context.Background(), hsm.TokenSelector{}, hsm.TokenOptions{PIN: hsmtest.PIN("pw-only"),
		Profile: &hsm.Profile{Name: "AWS CloudHSM", PINFormat: hsm.PINUserPassword}})
	if !errors.Is(err, hsm.ErrPINIncorrect) || !strings.Contains(err.Error(), `"user:password"`) || strings.Contains(err.Error(), "pw-only") {
		t.Fatalf("got %v; want ErrPINIncorrect explaining user:password, without the PIN", err)
	}
	if n := len(f.CallsTo("C_Login")); n != 0 {
		t.Errorf("the malformed PIN reached C_Login %d times", n)
	}
}

// TestFakeKeepLoaded: a profile with KeepLoaded leaves the library
// initialised when its last user closes (no C_Finalize, here on the path
// where the key is not found); others finalise each time.
func TestFakeKeepLoaded(t *testing.T) {
	for _, keep := range []bool{false, true} {
		f := &hsmtest.Fake{TokenLabel: "fake", PIN: []byte("1234"), Mechanisms: fakeMechanisms, OAEPHashes: []uint{pkcs11.CKM_SHA256}}
		prof := &hsm.Profile{Name: "fake", KeepLoaded: keep}
		for range 2 {
			_, err := hsm.Open(context.Background(), hsm.Config{API: f, Key: "label=absent", PIN: hsmtest.PIN("1234"), Profile: prof})
			if !errors.Is(err, hsm.ErrKeyNotFound) {
				t.Fatalf("got %v; want ErrKeyNotFound", err)
			}
		}
		inits, finals := len(f.CallsTo("C_Initialize")), len(f.CallsTo("C_Finalize"))
		want := 2 // each failed Open finalises what it initialised
		if keep {
			want = 0
		}
		if inits != 2 || finals != want {
			t.Errorf("KeepLoaded %v: %d C_Initialize and %d C_Finalize calls after two opens; want 2 and %d", keep, inits, finals, want)
		}
	}
}
