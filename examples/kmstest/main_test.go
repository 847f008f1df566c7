package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/byok-go/byok"
	"github.com/byok-go/byok/driver/software"
	"github.com/byok-go/byok/kmstest"
)

// importKnownKey imports a fresh P-256 key into the emulator and returns
// the KMS key ARN and the key, so that the test can check what KMS signs.
func importKnownKey(t *testing.T, client byok.KMSAPI) (string, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	m, err := byok.NewKeyMaterial(key)
	if err != nil {
		t.Fatal(err)
	}
	src, err := software.New(m, software.Options{Label: "test key"})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	res, err := new(byok.Importer).Import(context.Background(), src, &byok.KMS{Client: client})
	if err != nil {
		t.Fatal(err)
	}
	return res.KeyARN, key
}

func TestDocumentSigner(t *testing.T) {
	// An emulator on a loopback port, and a real AWS SDK client for it.
	srv := kmstest.NewServer(kmstest.WithWrappingKeyCache(true))
	defer srv.Close()
	client := srv.Client()

	arn, key := importKnownKey(t, client)
	s := &DocumentSigner{Client: client, KeyID: arn}
	doc := []byte("invoice 2026-0042: 1,250.00 EUR")
	sig, err := s.Sign(context.Background(), doc)
	if err != nil {
		t.Fatal(err)
	}
	digest := sha256.Sum256(doc)
	if !ecdsa.VerifyASN1(&key.PublicKey, digest[:], sig) {
		t.Error("the signature does not verify under the imported key")
	}
	digest[0] ^= 1
	if ecdsa.VerifyASN1(&key.PublicKey, digest[:], sig) {
		t.Error("the signature verifies for another document")
	}
}

// TestDocumentSignerErrors checks the error paths the emulator can produce:
// a disabled key, and a KMS failure injected with kmstest.WithFault.
func TestDocumentSignerErrors(t *testing.T) {
	ctx := context.Background()
	var throttle atomic.Bool
	srv := kmstest.NewServer(kmstest.WithWrappingKeyCache(true), kmstest.WithFault(func(op string) error {
		if throttle.Load() && op == "Sign" {
			return errors.New("injected failure")
		}
		return nil
	}))
	defer srv.Close()
	client := srv.Client(func(o *kms.Options) { o.Retryer = aws.NopRetryer{} })
	arn, _ := importKnownKey(t, client)
	s := &DocumentSigner{Client: client, KeyID: arn}

	throttle.Store(true)
	var internal *types.KMSInternalException
	if _, err := s.Sign(ctx, []byte("x")); !errors.As(err, &internal) {
		t.Errorf("injected fault: %v", err)
	}
	throttle.Store(false)

	if _, err := client.DisableKey(ctx, &kms.DisableKeyInput{KeyId: aws.String(arn)}); err != nil {
		t.Fatal(err)
	}
	var disabled *types.DisabledException
	if _, err := s.Sign(ctx, []byte("x")); !errors.As(err, &disabled) {
		t.Errorf("disabled key: %v", err)
	}
}
