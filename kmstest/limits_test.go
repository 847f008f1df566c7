package kmstest_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/byok-go/byok"
	"github.com/byok-go/byok/kmstest"
)

// TestTagFlood: CreateKey requests of nearly 1 MiB with 25 000 tags are
// refused by the 50-tag limit before any per-tag work, so they do not hold
// the emulator up (issue 13 measured a ListKeys blocked for 24 s by 16 of
// them, when duplicates were searched pair by pair first).
func TestTagFlood(t *testing.T) {
	srv := newServer(t, kmstest.WithStateDir(t.TempDir()))
	c := srv.Client(noRetry)
	ctx := context.Background()
	// The body is made once and sent raw: the SDK's serialization of
	// 25 000 tags, 16 times, would dominate the test (under -race).
	var b strings.Builder
	b.WriteString(`{"Tags":[`)
	for i := 0; i < 25000; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"TagKey":"t%05d","TagValue":""}`, i)
	}
	b.WriteString(`]}`)
	body := b.String()
	floods := 16
	if raceEnabled {
		floods = 4 // the point is the lock, not the race detector's speed
	}
	var wg sync.WaitGroup
	start := make(chan struct{})
	for g := 0; g < floods; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			status, m := raw(t, srv, "TrentService.CreateKey", "application/x-amz-json-1.1", testAuth, body)
			if status != 400 || m["__type"] != kmstest.ErrTag {
				t.Errorf("CreateKey with 25 000 tags: HTTP %d %v, want 400 %s", status, m["__type"], kmstest.ErrTag)
			}
		}()
	}
	close(start)
	time.Sleep(50 * time.Millisecond)
	t0 := time.Now()
	if _, err := c.ListKeys(ctx, &kms.ListKeysInput{}); err != nil {
		t.Fatal(err)
	}
	took := time.Since(t0)
	wg.Wait()
	t.Logf("ListKeys during %d CreateKey requests with 25 000 tags each: %v", floods, took)
	if took > 10*time.Second {
		t.Errorf("ListKeys took %v while oversized CreateKey requests were refused", took)
	}
	if keys := srv.Emulator.Keys(); len(keys) != 0 {
		t.Errorf("%d keys created by refused requests", len(keys))
	}
}

// TestConcurrentUnlockedCrypto: imports, signatures and decryptions run
// their crypto without holding the emulator; racing imports of different
// key material into one key still leave exactly one of them imported.
func TestConcurrentUnlockedCrypto(t *testing.T) {
	srv := newServer(t, kmstest.WithStateDir(t.TempDir()))
	c := srv.Client(noRetry)
	ctx := context.Background()
	id := createExternal(t, c, byok.ECCNISTP256, byok.SignVerify)
	rsaKey, err := c.CreateKey(ctx, &kms.CreateKeyInput{KeySpec: types.KeySpecRsa2048, KeyUsage: types.KeyUsageTypeEncryptDecrypt})
	if err != nil {
		t.Fatal(err)
	}
	enc, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: rsaKey.KeyMetadata.KeyId, Plaintext: []byte("p"),
		EncryptionAlgorithm: types.EncryptionAlgorithmSpecRsaesOaepSha256})
	if err != nil {
		t.Fatal(err)
	}
	const n = 8
	var wg sync.WaitGroup
	var mu sync.Mutex
	won := 0
	for i := 0; i < n; i++ {
		src := newSourceKey(t, byok.ECCNISTP256)
		wg.Add(2)
		go func() {
			defer wg.Done()
			_, err := importWith(t, c, id, src.km, byok.RSAESOAEPSHA256, byok.WrappingRSA2048)
			if err == nil {
				mu.Lock()
				won++
				mu.Unlock()
				return
			}
			wantAs[*types.IncorrectKeyMaterialException](t, err)
		}()
		go func() {
			defer wg.Done()
			dec, err := c.Decrypt(ctx, &kms.DecryptInput{KeyId: rsaKey.KeyMetadata.KeyId, CiphertextBlob: enc.CiphertextBlob,
				EncryptionAlgorithm: types.EncryptionAlgorithmSpecRsaesOaepSha256})
			if err != nil || string(dec.Plaintext) != "p" {
				t.Errorf("Decrypt: %v", err)
			}
		}()
	}
	wg.Wait()
	if won != 1 {
		t.Errorf("%d of %d racing imports of different material succeeded, want 1", won, n)
	}
	if md := describe(t, c, id); md.KeyState != types.KeyStateEnabled {
		t.Errorf("after the race: %s", md.KeyState)
	}
}
