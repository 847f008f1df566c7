package migrate

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/byok-go/byok/kmstest"
	"github.com/byok-go/byok/migrate/fleettest"
)

// benchFleet migrates b.N keys into an emulator that enforces AWS's
// default request quotas multiplied by scale, with the engine's quotas
// multiplied likewise, and reports the rates. Run it with a key count:
//
//	go test ./migrate -run '^$' -bench 'Fleet/default' -benchtime 1000x -timeout 0
//
// BYOK_FLEET_LATENCY=50ms delays every emulator response, as a network
// does; BYOK_FLEET_REGION_CONCURRENCY=N sets Migration.RegionConcurrency.
// BYOK_FLEET_FRESH_WRAPPING_KEYS=1 makes the emulator generate an RSA-4096
// wrapping key pair per GetParametersForImport, as AWS does, instead of
// reusing one (which costs about a second of CPU per call on the emulator's
// side, on the same machine).
func benchFleet(b *testing.B, scale float64, regions []string) {
	if b.N < 2 {
		// The probe run testing makes with b.N = 1: a fleet of one
		// measures nothing. Give a key count: -benchtime 120x.
		return
	}
	b.StopTimer()
	dir := b.TempDir()
	p, err := fleettest.Write(dir, b.N, fleettest.Options{ID: "bench", Regions: regions, RSAEvery: 50})
	if err != nil {
		b.Fatal(err)
	}
	m, err := OpenManifest(p)
	if err != nil {
		b.Fatal(err)
	}
	opts := []kmstest.Option{kmstest.WithDefaultQuotas(), kmstest.WithWrappingKeyCache(os.Getenv("BYOK_FLEET_FRESH_WRAPPING_KEYS") != "1")}
	if d, err := time.ParseDuration(os.Getenv("BYOK_FLEET_LATENCY")); err == nil {
		opts = append(opts, kmstest.WithLatency(d))
	}
	q := DefaultQuotas()
	for op, v := range kmstest.DefaultQuotas() {
		opts = append(opts, kmstest.WithQuota(op, v*scale))
	}
	for op := range q {
		q[op] *= scale
	}
	srv := kmstest.NewServer(opts...)
	defer srv.Close()
	mig := &Migration{Manifest: m, Client: clientsOf(srv), Journal: filepath.Join(dir, "journal.jsonl"), Quotas: q}
	if n, err := strconv.Atoi(os.Getenv("BYOK_FLEET_REGION_CONCURRENCY")); err == nil {
		mig.RegionConcurrency = n
	}
	if f := os.Getenv("BYOK_FLEET_DEBUG"); f != "" {
		w, err := os.Create(f)
		if err != nil {
			b.Fatal(err)
		}
		defer w.Close()
		mig.Logger = slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	if os.Getenv("BYOK_FLEET_PROGRESS") == "1" {
		var last time.Time
		mig.OnProgress = func(p Progress) {
			if time.Since(last) >= 15*time.Second || p.Done == p.Total {
				last = time.Now()
				fmt.Fprintf(os.Stderr, "%d/%d keys, %s\n", p.Done, p.Total, time.Since(p.Started).Round(time.Second))
			}
		}
	}
	b.StartTimer()
	sum, err := mig.Run(context.Background())
	b.StopTimer()
	if err != nil {
		b.Fatalf("%v: %+v", err, sum.Failures)
	}
	gpfi := 0
	for _, n := range sum.GetParametersForImport {
		gpfi += n
	}
	quota := scale * float64(len(regions)) // GetParametersForImport per second, all Regions
	rate := float64(gpfi) / sum.Elapsed.Seconds()
	b.ReportMetric(sum.Rate(), "keys/s")
	b.ReportMetric(rate, "GPFI/s")
	b.ReportMetric(100*rate/quota, "%quota")
	throttles := 0
	for _, o := range sum.Ops {
		throttles += o.Throttles
	}
	b.ReportMetric(float64(throttles), "throttles")
	b.Logf("%d keys in %s: %.3f keys/s, GetParametersForImport %.3f/s = %.1f%% of %.0f/s; %d throttles; failed %d; binding: %s",
		b.N, sum.Elapsed.Round(time.Millisecond), sum.Rate(), rate, 100*rate/quota, quota, throttles, sum.Failed, sum.Binding())
	for _, o := range sum.Ops {
		if o.Calls > 0 {
			b.Logf("  %-10s %-24s quota %7.1f/s  calls %6d  throttles %4d  waited %s", o.Region, o.Op, o.Quota, o.Calls, o.Throttles, o.Waited.Round(time.Millisecond))
		}
	}
	if sum.Failed > 0 || sum.Imported != b.N {
		b.Fatalf("imported %d of %d, failed %d", sum.Imported, b.N, sum.Failed)
	}
}

// BenchmarkFleet measures a migration's sustained rate against the
// emulator with AWS's default quotas (GetParametersForImport 1/s per
// Region) in one Region and in three, and with every quota raised 20× and
// 100×. b.N is the number of keys.
func BenchmarkFleet(b *testing.B) {
	b.Run("default", func(b *testing.B) { benchFleet(b, 1, []string{"us-east-1"}) })
	b.Run("raised20x", func(b *testing.B) { benchFleet(b, 20, []string{"us-east-1"}) })
	b.Run("raised100x", func(b *testing.B) { benchFleet(b, 100, []string{"us-east-1"}) })
	b.Run("raised1000x", func(b *testing.B) { benchFleet(b, 1000, []string{"us-east-1"}) })
	b.Run("regions3", func(b *testing.B) { benchFleet(b, 1, []string{"us-east-1", "eu-west-1", "ap-southeast-2"}) })
}
