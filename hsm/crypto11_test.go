package hsm_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"errors"
	"fmt"
	"math/big"
	"testing"

	"github.com/ThalesGroup/crypto11"
	"github.com/byok-go/byok/hsm"
	"github.com/byok-go/byok/hsm/hsmtest"
	"github.com/decred/dcrd/dcrec/secp256k1/v4"
	secpecdsa "github.com/decred/dcrd/dcrec/secp256k1/v4/ecdsa"
	"github.com/miekg/pkcs11"
)

// The experiments of docs/hsm.md, "crypto11 and hsm in one process": can
// github.com/ThalesGroup/crypto11 (v1.6.2) give the HSM-side crypto.Signer
// of the proof, sharing the module that hsm loaded? These tests keep the
// answer true: if a crypto11 release starts to share an initialised
// module, TestCrypto11AfterHSM fails and says what to revisit.

// crypto11Config is a crypto11 configuration for the test token.
func crypto11Config(path, label string, pin []byte) *crypto11.Config {
	return &crypto11.Config{Path: path, TokenLabel: label, Pin: string(pin), MaxSessions: 4}
}

// TestCrypto11AfterHSM: with the module loaded and initialised by hsm (as
// it is whenever a Source is open), crypto11.Configure fails, because it
// calls C_Initialize itself and treats CKR_CRYPTOKI_ALREADY_INITIALIZED as
// an error; crypto11 has no way to be given an initialised *pkcs11.Ctx.
func TestCrypto11AfterHSM(t *testing.T) {
	needSoftHSM(t)
	m, err := hsm.OpenModule(hsmtest.SoftHSMPath)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	c, err := crypto11.Configure(crypto11Config(hsmtest.SoftHSMPath, softLabel, softUserPIN))
	if err == nil {
		c.Close()
		t.Fatal("crypto11.Configure shared the module hsm initialised: crypto11 can now replace hsm/signer.go (see docs/hsm.md)")
	}
	if !errors.Is(err, pkcs11.Error(pkcs11.CKR_CRYPTOKI_ALREADY_INITIALIZED)) {
		t.Fatalf("crypto11.Configure: %v; want CKR_CRYPTOKI_ALREADY_INITIALIZED", err)
	}
	t.Logf("crypto11.Configure after hsm.OpenModule: %v", err)
	if _, err := m.Tokens(); err != nil {
		t.Fatalf("hsm's module after crypto11's failed attempt: %v", err)
	}
}

// TestCrypto11AfterHSMOpenCryptoki is the same experiment with
// opencryptoki, whose module the tests keep loaded for the process.
func TestCrypto11AfterHSMOpenCryptoki(t *testing.T) {
	info := hsmtest.OpenCryptoki(t)
	m, err := hsm.OpenModule(hsmtest.OpenCryptokiPath)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	c, err := crypto11.Configure(crypto11Config(hsmtest.OpenCryptokiPath, info.Label, hsmtest.OpenCryptokiUserPIN))
	if err == nil {
		c.Close()
		t.Fatal("crypto11.Configure shared the module hsm initialised: crypto11 can now replace hsm/signer.go (see docs/hsm.md)")
	}
	if !errors.Is(err, pkcs11.Error(pkcs11.CKR_CRYPTOKI_ALREADY_INITIALIZED)) {
		t.Fatalf("crypto11.Configure: %v; want CKR_CRYPTOKI_ALREADY_INITIALIZED", err)
	}
	t.Logf("crypto11.Configure after hsm.OpenModule (opencryptoki): %v", err)
}

// TestCrypto11CrossCheck uses crypto11 where it can serve: as a second,
// independent implementation of the HSM-side signer. crypto11 initialises
// the module first (hsm then finds it initialised and leaves finalising to
// crypto11), both sign the same digest with the same SoftHSM key, and the
// signatures must verify with crypto/rsa and crypto/ecdsa — and RSASSA-PKCS1
// v1.5 signatures, being deterministic, must be identical. It also shows
// why the order cannot be used in production: closing crypto11's Context
// finalises the library under hsm's open Source.
func TestCrypto11CrossCheck(t *testing.T) {
	needSoftHSM(t)
	ctx := context.Background()
	k1, err := secp256k1.GeneratePrivateKey()
	if err != nil {
		t.Fatal(err)
	}
	keys := map[string]crypto.PrivateKey{"rsa2048": loadRSA(t, "rsa2048-len8"), "secp256k1": k1}
	for _, curve := range []elliptic.Curve{elliptic.P256(), elliptic.P384(), elliptic.P521()} {
		k, err := ecdsa.GenerateKey(curve, rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		keys[curve.Params().Name] = k
	}
	// Token objects, so that crypto11's sessions see them; a prefix of this
	// run's own, so that -count=2 finds no keys of an earlier run.
	prefix := fmt.Sprintf("c11-%x-", random(4))
	softSession(t, func(api hsm.PKCS11, sh pkcs11.SessionHandle) {
		for name, k := range keys {
			o := hsmtest.KeyOptions{Label: prefix + name, ID: []byte(prefix + name), Token: true}
			if _, err := hsmtest.ImportPrivate(api, sh, k, o); err != nil {
				t.Fatal(err)
			}
			if priv, ok := k.(*rsa.PrivateKey); ok {
				pub := &priv.PublicKey
				// crypto11 finds a key pair by its public key object, which
				// hsmtest does not make for RSA keys.
				_, err := api.CreateObject(sh, []*pkcs11.Attribute{
					pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_PUBLIC_KEY), pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_RSA),
					pkcs11.NewAttribute(pkcs11.CKA_TOKEN, true), pkcs11.NewAttribute(pkcs11.CKA_VERIFY, true),
					pkcs11.NewAttribute(pkcs11.CKA_LABEL, o.Label), pkcs11.NewAttribute(pkcs11.CKA_ID, o.ID),
					pkcs11.NewAttribute(pkcs11.CKA_MODULUS, pub.N.Bytes()),
					pkcs11.NewAttribute(pkcs11.CKA_PUBLIC_EXPONENT, big.NewInt(int64(pub.E)).Bytes()),
				})
				if err != nil {
					t.Fatal(err)
				}
			}
		}
	})

	c11, err := crypto11.Configure(crypto11Config(hsmtest.SoftHSMPath, softLabel, softUserPIN))
	if err != nil {
		t.Fatalf("crypto11.Configure with no hsm module open: %v", err)
	}
	c11Closed := false
	defer func() {
		if !c11Closed {
			c11.Close()
		}
	}()
	digest := sha256.Sum256([]byte("byok: two implementations of the HSM-side signer"))
	var last *hsm.Source
	for name, k := range keys {
		t.Run(name, func(t *testing.T) {
			src, err := hsm.Open(ctx, hsm.Config{Module: hsmtest.SoftHSMPath, Token: hsm.TokenSelector{Label: softLabel},
				Key: "label=" + prefix + name, PIN: softUserPIN})
			if err != nil {
				t.Fatalf("hsm.Open after crypto11.Configure: %v", err)
			}
			if last != nil {
				last.Close()
			}
			last = src
			ours, err := src.Signer(ctx)
			if err != nil {
				t.Fatal(err)
			}
			sign := func(s crypto.Signer, opts crypto.SignerOpts) []byte {
				t.Helper()
				sig, err := s.Sign(rand.Reader, digest[:], opts)
				if err != nil {
					t.Fatalf("%T.Sign(%T): %v", s, opts, err)
				}
				return sig
			}
			theirs, err := c11.FindKeyPair([]byte(prefix+name), nil)
			if k1, ok := k.(*secp256k1.PrivateKey); ok {
				// crypto11 knows the curves of crypto/elliptic only; hsm's
				// signer is checked with the decred implementation alone.
				if err == nil {
					t.Error("crypto11 found a secp256k1 key pair: it can now cross-check secp256k1 signatures too")
				}
				t.Logf("crypto11 FindKeyPair of a secp256k1 key: %v", err)
				sig, err := secpecdsa.ParseDERSignature(sign(ours, crypto.SHA256))
				if err != nil || !sig.Verify(digest[:], k1.PubKey()) {
					t.Errorf("secp256k1 ECDSA by hsm does not verify: %v", err)
				}
				return
			}
			if err != nil || theirs == nil {
				t.Fatalf("crypto11 FindKeyPair: %v, %v", theirs, err)
			}
			if !k.(crypto.Signer).Public().(interface{ Equal(crypto.PublicKey) bool }).Equal(ours.Public()) ||
				!k.(crypto.Signer).Public().(interface{ Equal(crypto.PublicKey) bool }).Equal(theirs.Public()) {
				t.Fatalf("public keys differ: the file's, hsm's %T, crypto11's %T", ours.Public(), theirs.Public())
			}
			switch pub := k.(crypto.Signer).Public().(type) {
			case *rsa.PublicKey:
				a, b := sign(ours, crypto.SHA256), sign(theirs, crypto.SHA256)
				if string(a) != string(b) {
					t.Error("RSASSA-PKCS1-v1_5: hsm's and crypto11's signatures of one digest differ")
				}
				if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], a); err != nil {
					t.Errorf("RSASSA-PKCS1-v1_5: %v", err)
				}
				pss := &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: crypto.SHA256}
				for who, s := range map[string]crypto.Signer{"hsm": ours, "crypto11": theirs} {
					if err := rsa.VerifyPSS(pub, crypto.SHA256, digest[:], sign(s, pss), pss); err != nil {
						t.Errorf("RSASSA-PSS by %s: %v", who, err)
					}
				}
			case *ecdsa.PublicKey:
				for who, s := range map[string]crypto.Signer{"hsm": ours, "crypto11": theirs} {
					if !ecdsa.VerifyASN1(pub, digest[:], sign(s, crypto.SHA256)) {
						t.Errorf("ECDSA by %s does not verify", who)
					}
				}
			}
		})
	}
	if last == nil {
		t.Fatal("no key was tried")
	}
	defer last.Close()
	s, err := last.Signer(ctx)
	if err != nil {
		t.Fatal(err)
	}
	c11.Close()
	c11Closed = true
	_, err = s.Sign(rand.Reader, digest[:], crypto.SHA256)
	if err == nil {
		t.Fatal("hsm signed after crypto11 closed its Context: crypto11 no longer finalises the library it initialised")
	}
	t.Logf("hsm's Source after crypto11's Context closed: %v", err)
}
