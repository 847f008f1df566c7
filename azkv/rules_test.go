package azkv_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/byok-go/byok"
	"github.com/byok-go/byok/azkv"
	"github.com/byok-go/byok/driver/software"
)

// Azure's rules, as the importer meets them: RSA_AES_KEY_WRAP_SHA_1
// (CKM_RSA_AES_KEY_WRAP) is the rule, not a fallback; the KEK size is the
// one asked for, the target's, or 4096.
func TestChooseWrapping(t *testing.T) {
	ctx := context.Background()
	src := openKey(t, "p256.sec1.pem", byok.LoadOptions{}, software.Options{})
	info, _ := src.Describe(ctx)
	aesSrc := openKey(t, "aes256.bin", byok.LoadOptions{KeySpec: byok.SymmetricDefault}, software.Options{})
	aes, _ := aesSrc.Describe(ctx)
	newT := func(o azkv.Options) *azkv.Target {
		o.KeyName = "k"
		tg, err := azkv.New(&recorder{}, "https://contoso.vault.azure.net", o)
		if err != nil {
			t.Fatal(err)
		}
		return tg
	}
	hsmCan := []byok.WrappingAlgorithm{byok.RSAESOAEPSHA1, byok.RSAAESKeyWrapSHA1}
	cases := []struct {
		name string
		tg   *azkv.Target
		info byok.KeyInfo
		can  []byok.WrappingAlgorithm
		wks  byok.WrappingKeySpec
		want byok.WrappingKeySpec
		rule error
	}{
		{"default", newT(azkv.Options{}), info, nil, "", byok.WrappingRSA4096, nil},
		{"kek size", newT(azkv.Options{KEKSize: 2048}), info, nil, "", byok.WrappingRSA2048, nil},
		{"asked", newT(azkv.Options{}), info, nil, byok.WrappingRSA3072, byok.WrappingRSA3072, nil},
		{"softhsm-like", newT(azkv.Options{}), info, hsmCan, "", byok.WrappingRSA4096, nil},
		{"aes on managed hsm", newT(azkv.Options{ManagedHSM: true}), aes, nil, "", byok.WrappingRSA4096, nil},
		{"aes from an hsm", newT(azkv.Options{ManagedHSM: true}), aes, []byok.WrappingAlgorithm{byok.RSAESOAEPSHA256}, "", "", azkv.RuleCKMRSAAESKeyWrap},
		{"aes in a vault", newT(azkv.Options{}), aes, nil, "", "", azkv.RuleOctManagedHSM},
		{"sha-256 only source", newT(azkv.Options{}), info, []byok.WrappingAlgorithm{byok.RSAAESKeyWrapSHA256}, "", "", azkv.RuleCKMRSAAESKeyWrap},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ch, err := c.tg.ChooseWrapping(c.info, c.can, "", c.wks)
			if c.rule != nil {
				if !errors.Is(err, c.rule) || !errors.Is(err, byok.ErrIncompatible) {
					t.Fatalf("err = %v; want %v", err, c.rule)
				}
				return
			}
			if err != nil || ch.Algorithm != byok.RSAAESKeyWrapSHA1 || ch.WrappingKeySpec != c.want || ch.Fallback || !strings.Contains(ch.Reason, "CKM_RSA_AES_KEY_WRAP") {
				t.Fatalf("%+v, %v", ch, err)
			}
		})
	}
	// A Managed HSM host implies Managed HSM.
	tg, err := azkv.New(&recorder{}, "https://contoso.managedhsm.azure.net/", azkv.Options{KeyName: "k"})
	if err != nil || !tg.ManagedHSM() || !strings.Contains(tg.RemoveCommand("k"), "--hsm-name contoso") {
		t.Fatalf("%v %+v", err, tg)
	}
}

// FuzzParseTransferFile: whatever the input, ParseTransferFile returns a
// file that marshals and parses back the same, or an error; never panics.
func FuzzParseTransferFile(f *testing.F) {
	f.Add([]byte(`{"schema_version":"1.0.0","header":{"kid":"https://a.vault.azure.net/keys/k/1","alg":"dir","enc":"CKM_RSA_AES_KEY_WRAP"},"ciphertext":"AAAA","generator":"x"}`))
	f.Add([]byte(`{"a":{"b":[1,{"c":2}]}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		tf, err := azkv.ParseTransferFile(b)
		if err != nil {
			return
		}
		out, err := tf.Marshal()
		if err != nil {
			t.Fatalf("a parsed file does not marshal: %v", err)
		}
		back, err := azkv.ParseTransferFile(out)
		if err != nil || back.KID != tf.KID || string(back.Ciphertext) != string(tf.Ciphertext) {
			t.Fatalf("round trip: %v", err)
		}
	})
}
