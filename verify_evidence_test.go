package byok_test

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/byok-go/byok"
	"github.com/byok-go/byok/driver/software"
	"github.com/byok-go/byok/kmstest"
)

// A wrong RSA ENCRYPT_DECRYPT key whose GetPublicKey is denied: KMS
// refusing (InvalidCiphertextException) a ciphertext made with the source
// public key is evidence of another key, so the verdict is FAILED with the
// decrypt check named, not UNPROVEN as if the proof had stopped.
func TestVerifyKeyDecryptRefusedIsFailed(t *testing.T) {
	var deny atomic.Bool
	_, client := newServer(t, kmstest.WithFault(func(op string) error {
		if deny.Load() && op == "GetPublicKey" {
			return &kmstest.FaultError{Type: "AccessDeniedException", Message: "not allowed: " + op}
		}
		return nil
	}))
	ctx := context.Background()
	src := openSource(t, "rsa2048.pkcs8.pem", byok.LoadOptions{}, software.Options{Usage: byok.EncryptDecrypt})
	res, err := new(byok.Importer).Import(ctx, src, &byok.KMS{Client: client})
	if err != nil {
		t.Fatal(err)
	}
	deny.Store(true)
	kp, err := (&byok.KMS{Client: client}).VerifyKey(ctx, res.KeyARN, src, byok.VerifyOptions{NoReimport: true})
	if v := kp.Verification; err != nil || v.Verdict != byok.VerdictPassed || !hasCheck(v, "KMS decrypts RSAES_OAEP_SHA_256", true) {
		t.Fatalf("the right key: %v, %s %+v %v", err, v.Verdict, v.Checks, v.Skipped)
	}
	kp, err = (&byok.KMS{Client: client}).VerifyKey(ctx, res.KeyARN, otherKey(t, byok.RSA2048), byok.VerifyOptions{NoReimport: true})
	if v := kp.Verification; err != nil || v.Verdict != byok.VerdictFailed || !hasFailed(v, "KMS decrypts RSAES_OAEP_SHA_256") {
		t.Fatalf("another key: %v, %s %+v %v", err, v.Verdict, v.Checks, v.Skipped)
	}
}

// tokenLike is a source whose public key comes from elsewhere than its
// private key, as an HSM's public-key object does: Describe reports pubOf's
// public key, not derived from the private key; Wrap wraps priv's material.
type tokenLike struct{ pubOf, priv *software.Source }

func (s tokenLike) Describe(ctx context.Context) (byok.KeyInfo, error) {
	info, err := s.pubOf.Describe(ctx)
	info.PublicKeyFromPrivate = false
	return info, err
}

func (s tokenLike) Wrap(ctx context.Context, p byok.ImportParameters) ([]byte, error) {
	return s.priv.Wrap(ctx, p)
}

// A source whose public key is not derived from its private key (an HSM
// holding key B's private key next to key A's public-key object) does not
// pass on GetPublicKey equality: for KEY_AGREEMENT the re-import proof must
// run, and it tells A's private key from B's.
func TestVerifyKeyPublicKeyNotFromPrivate(t *testing.T) {
	_, client := newServer(t)
	ctx := context.Background()
	a := openSource(t, "p256.sec1.pem", byok.LoadOptions{}, software.Options{Usage: byok.KeyAgreement})
	b := otherKey(t, byok.ECCNISTP256)
	res, err := new(byok.Importer).Import(ctx, a, &byok.KMS{Client: client})
	if err != nil {
		t.Fatal(err)
	}
	target := &byok.KMS{Client: client}

	// A software source derives its public key: GetPublicKey proves it.
	kp, err := target.VerifyKey(ctx, res.KeyARN, a, byok.VerifyOptions{NoReimport: true})
	if v := kp.Verification; err != nil || v.Verdict != byok.VerdictPassed || !hasCheck(v, "GetPublicKey equals", true) {
		t.Fatalf("software source: %v, %s %+v %v", err, v.Verdict, v.Checks, v.Skipped)
	}

	// B's private key behind A's public key: never PASSED.
	wrong := tokenLike{pubOf: a, priv: b}
	kp, err = target.VerifyKey(ctx, res.KeyARN, wrong, byok.VerifyOptions{NoReimport: true})
	if v := kp.Verification; err != nil || v.Verdict != byok.VerdictUnproven || hasCheck(v, "GetPublicKey equals", true) {
		t.Fatalf("mixed source, no re-import: %v, %s %+v %v", err, v.Verdict, v.Checks, v.Skipped)
	}
	kp, err = target.VerifyKey(ctx, res.KeyARN, wrong, byok.VerifyOptions{})
	if v := kp.Verification; err != nil || v.Verdict != byok.VerdictFailed || !hasFailed(v, "re-import:") {
		t.Fatalf("mixed source: %v, %s %+v %v", err, v.Verdict, v.Checks, v.Skipped)
	}

	// A's private key behind A's public key, not derived: the re-import
	// proves it.
	kp, err = target.VerifyKey(ctx, res.KeyARN, tokenLike{pubOf: a, priv: a}, byok.VerifyOptions{})
	if v := kp.Verification; err != nil || v.Verdict != byok.VerdictPassed || !hasCheck(v, "re-import:", true) {
		t.Fatalf("consistent token-like source: %v, %s %+v %v", err, v.Verdict, v.Checks, v.Skipped)
	}
}
