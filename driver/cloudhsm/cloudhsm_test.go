package cloudhsm_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/byok-go/byok"
	"github.com/byok-go/byok/driver"
	"github.com/byok-go/byok/driver/cloudhsm"
	"github.com/byok-go/byok/hsm"
	"github.com/byok-go/byok/hsm/hsmtest"
	"github.com/byok-go/byok/kmstest"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/miekg/pkcs11"
)

// The crypto user's PIN, in CloudHSM's "user:password" form.
var cuPIN = hsmtest.PIN("crypto_user:Cu-Passw0rd")

// cloudHSMFake is a fake PKCS#11 module that behaves as AWS documents
// CloudHSM's PKCS #11 library (Client SDK 5): "user:password" login;
// CKM_RSA_PKCS_OAEP and CKM_RSA_AES_KEY_WRAP for wrapping with SHA-1 to
// SHA-512 and the matching MGF1; no standard AES key wrap with padding
// (CloudHSM's own are vendor mechanisms).
func cloudHSMFake() *hsmtest.Fake {
	return &hsmtest.Fake{
		TokenLabel:   "cloudhsm",
		PIN:          cuPIN,
		UserPassword: true,
		Mechanisms: []uint{pkcs11.CKM_RSA_PKCS_OAEP, pkcs11.CKM_RSA_AES_KEY_WRAP, pkcs11.CKM_AES_KEY_GEN, pkcs11.CKM_GENERIC_SECRET_KEY_GEN,
			pkcs11.CKM_EC_KEY_PAIR_GEN, pkcs11.CKM_RSA_PKCS, pkcs11.CKM_RSA_PKCS_PSS, pkcs11.CKM_ECDSA,
			pkcs11.CKM_SHA224_HMAC, pkcs11.CKM_SHA256_HMAC, pkcs11.CKM_SHA384_HMAC, pkcs11.CKM_SHA512_HMAC},
		OAEPHashes: []uint{pkcs11.CKM_SHA_1, pkcs11.CKM_SHA224, pkcs11.CKM_SHA256, pkcs11.CKM_SHA384, pkcs11.CKM_SHA512},
	}
}

// TestMigrate migrates a key of every type through the cloudhsm driver
// into the KMS emulator, checking every blob and that the calls are the
// ones CloudHSM documents: SHA-256 everywhere, RSA-AES for private keys,
// RSA-OAEP for secret keys, the wrapping key a session object.
func TestMigrate(t *testing.T) {
	ctx := context.Background()
	f := cloudHSMFake()
	setup, err := hsm.NewModule("cloudhsm-fake", f)
	if err != nil {
		t.Fatal(err)
	}
	defer setup.Close()
	tok, err := setup.OpenToken(ctx, hsm.TokenSelector{}, hsm.TokenOptions{PIN: cuPIN, Profile: &cloudhsm.Profile})
	if err != nil {
		t.Fatal(err)
	}
	defer tok.Close()
	keys, err := hsmtest.Keys()
	if err != nil {
		t.Fatal(err)
	}
	srv := kmstest.NewServer(kmstest.WithWrappingKeyCache(true))
	defer srv.Close()
	target := &byok.KMS{Client: kms.NewFromConfig(srv.AWSConfig())}
	for _, k := range keys {
		t.Run(k.Name, func(t *testing.T) {
			err := tok.WithSession(ctx, func(sh pkcs11.SessionHandle) error {
				return k.Create(setup.API(), sh, hsmtest.KeyOptions{Label: k.Name, ID: []byte(k.Name), Token: true})
			})
			if err != nil {
				t.Fatal(err)
			}
			src, err := cloudhsm.Open(ctx, cloudhsm.Config{API: f, Key: "label=" + k.Name, PIN: cuPIN})
			if err != nil {
				t.Fatal(err)
			}
			defer src.Close()
			hsmtest.CheckWraps(t, src, k)
			n := len(f.Calls())
			res, err := new(byok.Importer).Import(ctx, src, target)
			if err != nil {
				t.Fatalf("Import: %v", err)
			}
			hsmtest.CheckVerified(t, res)
			want := byok.RSAESOAEPSHA256
			if k.Spec.Kind() != byok.KindSymmetric && k.Spec.Kind() != byok.KindHMAC {
				want = byok.RSAAESKeyWrapSHA256
			}
			if res.Algorithm != want || res.Fallback {
				t.Errorf("imported with %s; want %s", res.Algorithm, want)
			}
			checkCloudHSMCalls(t, f.Calls()[n:], want)
		})
	}
}

func checkCloudHSMCalls(t *testing.T, calls []hsmtest.Call, alg byok.WrappingAlgorithm) {
	t.Helper()
	oaep := pkcs11.NewOAEPParams(pkcs11.CKM_SHA256, pkcs11.CKG_MGF1_SHA256, pkcs11.CKZ_DATA_SPECIFIED, nil)
	var wraps int
	for _, c := range calls {
		switch c.Func {
		case "C_CreateObject":
			want := []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_TOKEN, false), pkcs11.NewAttribute(pkcs11.CKA_WRAP, true)}
			if diff := hsmtest.TemplateDiff(want, c.Template); diff != "" {
				t.Errorf("the KMS wrapping key is not a session object with CKA_WRAP=true (-want +got):\n%s", diff)
			}
		case "C_GenerateKey":
			t.Errorf("a key was generated (%#x): CloudHSM has CKM_RSA_AES_KEY_WRAP, no two-step path is needed", c.Mechanism)
		case "C_WrapKey":
			wraps++
			switch {
			case alg == byok.RSAAESKeyWrapSHA256 && c.Mechanism == pkcs11.CKM_RSA_AES_KEY_WRAP:
				if diff := cmp.Diff(&pkcs11.RSAAESKeyWrapParams{AESKeyBits: 256, OAEPParams: *oaep}, c.RSAAES, cmpopts.EquateEmpty()); diff != "" {
					t.Errorf("CK_RSA_AES_KEY_WRAP_PARAMS: want 256 bits and OAEP SHA-256/MGF1-SHA-256, no label (-want +got):\n%s", diff)
				}
			case alg == byok.RSAESOAEPSHA256 && c.Mechanism == pkcs11.CKM_RSA_PKCS_OAEP:
				if diff := hsmtest.OAEPDiff(oaep, c.OAEP); diff != "" {
					t.Errorf("CK_RSA_PKCS_OAEP_PARAMS: want SHA-256/MGF1-SHA-256, no label (-want +got):\n%s", diff)
				}
			default:
				t.Errorf("C_WrapKey with mechanism %#x for %s", c.Mechanism, alg)
			}
		}
	}
	if wraps != 1 {
		t.Errorf("%d C_WrapKey calls in the import; want 1", wraps)
	}
}

// TestLogin: C_Login as CKU_USER with the "user:password" PIN; a PIN
// without the user name never reaches the module.
func TestLogin(t *testing.T) {
	ctx := context.Background()
	f := cloudHSMFake()
	src, err := cloudhsm.Open(ctx, cloudhsm.Config{API: f, Key: "label=none", PIN: cuPIN})
	if !errors.Is(err, hsm.ErrKeyNotFound) {
		t.Fatalf("got %v, %v; want ErrKeyNotFound after a successful login", src, err)
	}
	logins := f.CallsTo("C_Login")
	if len(logins) != 1 || logins[0].UserType != pkcs11.CKU_USER || logins[0].Err != nil {
		t.Fatalf("C_Login calls %+v; want one, as CKU_USER, succeeding", logins)
	}
	g := cloudHSMFake()
	_, err = cloudhsm.Open(ctx, cloudhsm.Config{API: g, Key: "label=none", PIN: hsmtest.PIN("Cu-Passw0rd")})
	if !errors.Is(err, hsm.ErrPINIncorrect) || !strings.Contains(err.Error(), `"user:password"`) || strings.Contains(err.Error(), "Cu-Passw0rd") {
		t.Fatalf("got %v; want ErrPINIncorrect explaining user:password without showing the PIN", err)
	}
	if n := len(g.CallsTo("C_Login")); n != 0 {
		t.Errorf("the PIN without a user name reached C_Login %d times", n)
	}
}

// TestDefaultModule: the registered driver looks for the library where
// CloudHSM installs it and says so when it is not there.
func TestDefaultModule(t *testing.T) {
	if _, err := cloudhsm.Profile.DefaultModule(); err == nil {
		t.Skip("a CloudHSM library is installed here")
	}
	_, err := driver.Open(context.Background(), "cloudhsm", driver.Config{Key: "label=x", PIN: cuPIN})
	if !errors.Is(err, hsm.ErrModuleNotFound) || !strings.Contains(err.Error(), "/opt/cloudhsm/lib/libcloudhsm_pkcs11.so") {
		t.Fatalf("got %v; want ErrModuleNotFound naming the default path", err)
	}
}
