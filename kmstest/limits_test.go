package kmstest_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/kms"
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
