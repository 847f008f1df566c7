package kmstest

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"os/exec"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/kms"
)

// TestScaleCreateKey measures CreateKey throughput with WithStateDir, 8
// concurrent clients, at 1 000 and at 5 000 existing keys, in interleaved
// runs (issue 13, "kmstest scales"). It is a measurement, not a check: it
// runs only with KMSTEST_SCALE=1 (KMSTEST_SCALE_RUNS sets the runs per size,
// 5 by default; KMSTEST_SCALE_REQUESTS the requests per client, 40 by
// default) and prints the rates and the machine's load.
//
//	KMSTEST_SCALE=1 go test -run TestScaleCreateKey -v ./kmstest/
func TestScaleCreateKey(t *testing.T) {
	if os.Getenv("KMSTEST_SCALE") == "" {
		t.Skip("a measurement: set KMSTEST_SCALE=1 to run it")
	}
	runs := 5
	if s := os.Getenv("KMSTEST_SCALE_RUNS"); s != "" {
		fmt.Sscan(s, &runs)
	}
	const clients = 8
	perClient := 40
	if s := os.Getenv("KMSTEST_SCALE_REQUESTS"); s != "" {
		fmt.Sscan(s, &perClient)
	}
	rates := map[int][]float64{}
	for r := 0; r < runs; r++ {
		for _, n := range []int{1000, 5000} {
			rate := measureCreateKey(t, n, clients, perClient)
			rates[n] = append(rates[n], rate)
			t.Logf("run %d: %5d keys: %6.0f CreateKey/s   load: %s", r+1, n, rate, loadAvg())
		}
	}
	for _, n := range []int{1000, 5000} {
		rs := append([]float64(nil), rates[n]...)
		sort.Float64s(rs)
		t.Logf("%5d existing keys: %.0f–%.0f CreateKey/s (median %.0f) over %d runs, %d clients × %d requests",
			n, rs[0], rs[len(rs)-1], rs[len(rs)/2], len(rs), clients, perClient)
	}
}

func loadAvg() string {
	out, err := exec.Command("uptime").Output()
	if err != nil {
		return "?"
	}
	s := strings.TrimSpace(string(out))
	if i := strings.Index(s, "load average"); i >= 0 {
		return s[i:]
	}
	return s
}

// measureCreateKey starts an emulator with a state directory holding n keys
// and returns the CreateKey rate of clients concurrent clients.
func measureCreateKey(t *testing.T, n, clients, perClient int) float64 {
	t.Helper()
	dir := t.TempDir()
	srv := NewServer(WithStateDir(dir))
	defer srv.Close()
	e := srv.Emulator
	e.mu.Lock()
	rs := e.region(e.opts.region)
	now := e.opts.now()
	for i := 0; i < n; i++ {
		mat := make([]byte, 32)
		rand.Read(mat)
		id := newUUID()
		rs.Keys[id] = &key{ID: id, Region: e.opts.region, Created: now, Description: fmt.Sprintf("preloaded key %d", i),
			Spec: "SYMMETRIC_DEFAULT", Usage: usageEncrypt, Origin: originAWSKMS, Policy: e.defaultPolicy(),
			Tags:      []tag{{Key: "fleet", Value: "scale"}},
			Materials: []*material{{ID: materialID(id, mat), Bytes: mat, State: matCurrent}}}
		rs.Order = append(rs.Order, id)
	}
	err := e.save()
	e.mu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	c := srv.Client()
	// One request first, so connection setup is not measured.
	if _, err := c.CreateKey(ctx, &kms.CreateKeyInput{}); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	start := time.Now()
	for g := 0; g < clients; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < perClient; i++ {
				if _, err := c.CreateKey(ctx, &kms.CreateKeyInput{}); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	return float64(clients*perClient) / elapsed.Seconds()
}
