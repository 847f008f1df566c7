package luna_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/byok-go/byok"
	"github.com/byok-go/byok/driver/luna"
	"github.com/byok-go/byok/hsm"
	"github.com/byok-go/byok/hsm/hsmtest"
	"github.com/byok-go/byok/kmstest"
	"github.com/miekg/pkcs11"
)

var partitionPIN = hsmtest.PIN("partition-Passw0rd")

// lunaFake is a fake PKCS#11 module that behaves as Thales documents the
// Luna 7 library: CKM_RSA_PKCS_OAEP with a selectable hash (0 meaning the
// firmware's default, SHA-1), the wrapping key needing CKA_ENCRYPT as well
// as CKA_WRAP (the cmu import procedure sets both), and — when kwp — AES
// key wrap with padding (CKM_AES_KWP, taken here as PKCS#11 v3.0's 0x210B).
// No CKM_RSA_AES_KEY_WRAP.
func lunaFake(kwp bool) *hsmtest.Fake {
	mechs := []uint{pkcs11.CKM_RSA_PKCS_OAEP, pkcs11.CKM_AES_KEY_GEN, pkcs11.CKM_GENERIC_SECRET_KEY_GEN, pkcs11.CKM_EC_KEY_PAIR_GEN,
		pkcs11.CKM_RSA_PKCS, pkcs11.CKM_RSA_PKCS_PSS, pkcs11.CKM_ECDSA,
		pkcs11.CKM_SHA224_HMAC, pkcs11.CKM_SHA256_HMAC, pkcs11.CKM_SHA384_HMAC, pkcs11.CKM_SHA512_HMAC}
	if kwp {
		mechs = append(mechs, hsm.CKM_AES_KEY_WRAP_KWP)
	}
	return &hsmtest.Fake{
		TokenLabel:       "partition1",
		PIN:              partitionPIN,
		Mechanisms:       mechs,
		OAEPHashes:       []uint{pkcs11.CKM_SHA_1, pkcs11.CKM_SHA224, pkcs11.CKM_SHA256, pkcs11.CKM_SHA384, pkcs11.CKM_SHA512},
		OAEPZeroIsSHA1:   true,
		WrapNeedsEncrypt: true,
	}
}

// TestMigrate migrates a key of every type through the luna driver: secret
// keys with RSA-OAEP, the hash set to SHA-256 explicitly; private keys,
// when the library has AES key wrap with padding, with the two-step
// RSA_AES_KEY_WRAP_SHA_256; without it, private keys are refused.
func TestMigrate(t *testing.T) {
	for _, kwp := range []bool{true, false} {
		name := "with AES KWP"
		if !kwp {
			name = "OAEP only"
		}
		t.Run(name, func(t *testing.T) { migrate(t, kwp) })
	}
}

func migrate(t *testing.T, kwp bool) {
	ctx := context.Background()
	f := lunaFake(kwp)
	setup, err := hsm.NewModule("luna-fake", f)
	if err != nil {
		t.Fatal(err)
	}
	defer setup.Close()
	tok, err := setup.OpenToken(ctx, hsm.TokenSelector{}, hsm.TokenOptions{PIN: partitionPIN, Profile: &luna.Profile})
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
			src, err := luna.Open(ctx, luna.Config{API: f, Token: hsm.TokenSelector{Label: "partition1"}, Key: "label=" + k.Name, PIN: partitionPIN})
			if err != nil {
				t.Fatal(err)
			}
			defer src.Close()
			secret := k.Spec.Kind() == byok.KindSymmetric || k.Spec.Kind() == byok.KindHMAC
			if !secret && !kwp {
				_, err := src.WrappingAlgorithms(ctx)
				if !errors.Is(err, hsm.ErrNoWrapping) || !strings.Contains(err.Error(), "no AES key wrap with padding") {
					t.Fatalf("got %v; want ErrNoWrapping naming the missing AES key wrap", err)
				}
				return
			}
			hsmtest.CheckWraps(t, src, k)
			n := len(f.Calls())
			res, err := new(byok.Importer).Import(ctx, src, target)
			if err != nil {
				t.Fatalf("Import: %v", err)
			}
			hsmtest.CheckVerified(t, res)
			want := byok.RSAESOAEPSHA256
			if !secret {
				want = byok.RSAAESKeyWrapSHA256
			}
			if res.Algorithm != want {
				t.Errorf("imported with %s; want %s", res.Algorithm, want)
			}
			checkLunaCalls(t, f.Calls()[n:], want)
		})
	}
}

func checkLunaCalls(t *testing.T, calls []hsmtest.Call, alg byok.WrappingAlgorithm) {
	t.Helper()
	var eph pkcs11.ObjectHandle
	var destroyed bool
	var oaep, kwps int
	for _, c := range calls {
		switch c.Func {
		case "C_CreateObject":
			want := []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_TOKEN, false), pkcs11.NewAttribute(pkcs11.CKA_WRAP, true),
				pkcs11.NewAttribute(pkcs11.CKA_ENCRYPT, true)}
			if diff := hsmtest.TemplateDiff(want, c.Template); diff != "" {
				t.Errorf("the KMS wrapping key: Luna wants CKA_WRAP and CKA_ENCRYPT true, a session object (-want +got):\n%s", diff)
			}
		case "C_GenerateKey":
			eph = c.Object
		case "C_DestroyObject":
			destroyed = destroyed || c.Object == eph
		case "C_WrapKey":
			switch c.Mechanism {
			case pkcs11.CKM_RSA_PKCS_OAEP:
				oaep++
				want := pkcs11.NewOAEPParams(pkcs11.CKM_SHA256, pkcs11.CKG_MGF1_SHA256, pkcs11.CKZ_DATA_SPECIFIED, nil)
				if diff := hsmtest.OAEPDiff(want, c.OAEP); diff != "" {
					t.Errorf("OAEP parameters: want the hash set to CKM_SHA256 (Luna's default is SHA-1) and MGF1-SHA-256 (-want +got):\n%s", diff)
				}
			case hsm.CKM_AES_KEY_WRAP_KWP:
				kwps++
			default:
				t.Errorf("C_WrapKey with %#x", c.Mechanism)
			}
		}
	}
	if alg.IsKeyWrap() && (oaep != 1 || kwps != 1 || eph == 0 || !destroyed) {
		t.Errorf("two-step path: %d OAEP, %d KWP, ephemeral key %d destroyed %v; want one each and the key destroyed", oaep, kwps, eph, destroyed)
	}
	if !alg.IsKeyWrap() && (oaep != 1 || kwps != 0 || eph != 0) {
		t.Errorf("OAEP path: %d OAEP, %d KWP, ephemeral key %d", oaep, kwps, eph)
	}
}

// TestWrappingKeyNeedsEncrypt: without the profile's CKA_ENCRYPT on the
// wrapping key, Luna-like modules refuse every wrap; byok says nothing fits
// rather than failing obscurely.
func TestWrappingKeyNeedsEncrypt(t *testing.T) {
	ctx := context.Background()
	f := lunaFake(true)
	setup, err := hsm.NewModule("luna-fake", f)
	if err != nil {
		t.Fatal(err)
	}
	defer setup.Close()
	tok, err := setup.OpenToken(ctx, hsm.TokenSelector{}, hsm.TokenOptions{PIN: partitionPIN})
	if err != nil {
		t.Fatal(err)
	}
	defer tok.Close()
	keys, _ := hsmtest.Keys()
	tok.WithSession(ctx, func(sh pkcs11.SessionHandle) error {
		return keys[0].Create(setup.API(), sh, hsmtest.KeyOptions{Label: "aes", Token: true})
	})
	src, err := tok.OpenKey(ctx, hsm.KeyRef{Label: "aes"}, hsm.SourceOptions{}) // generic profile: no CKA_ENCRYPT
	if err != nil {
		t.Fatal(err)
	}
	_, err = src.WrappingAlgorithms(ctx)
	if !errors.Is(err, hsm.ErrNoWrapping) {
		t.Fatalf("got %v; want ErrNoWrapping", err)
	}
}
