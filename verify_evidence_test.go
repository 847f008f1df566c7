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
