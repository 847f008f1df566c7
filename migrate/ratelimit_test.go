package migrate

import (
	"path/filepath"

	"context"
	"github.com/byok-go/byok/kmstest"
	"github.com/byok-go/byok/migrate/fleettest"
	"math"
	"sync"
	"testing"
	"time"
)

// fakeClock is a Clock whose Sleep advances time instantly.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if d > 0 {
		c.t = c.t.Add(d)
	}
	return ctx.Err()
}

func TestLimiterPacesAtHeadroom(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1e9, 0)}
	l := NewLimiter(DefaultQuotas(), 0, clk)
	start := clk.Now()
	for range 101 {
		if err := l.Wait(context.Background(), "us-east-1", "GetParametersForImport"); err != nil {
			t.Fatal(err)
		}
	}
	// The first goes at once; 100 more at 0.98/s.
	got := clk.Now().Sub(start).Seconds()
	if want := 100 / 0.98; math.Abs(got-want) > 0.01 {
		t.Errorf("101 requests took %.3f s; want %.3f", got, want)
	}
	// Another Region has its own bucket, an unpaced operation does not wait.
	before := clk.Now()
	l.Wait(context.Background(), "eu-west-1", "GetParametersForImport")
	for range 1000 {
		l.Wait(context.Background(), "us-east-1", "Encrypt")
	}
	if clk.Now() != before {
		t.Errorf("waited %s", clk.Now().Sub(before))
	}
}

func TestLimiterBurstOfRaisedQuota(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1e9, 0)}
	l := NewLimiter(Quotas{"CreateKey": 100}, 0.98, clk)
	start := clk.Now()
	for range 98 {
		l.Wait(context.Background(), "r", "CreateKey")
	}
	if clk.Now() != start {
		t.Errorf("the first second's burst waited %s", clk.Now().Sub(start))
	}
	l.Wait(context.Background(), "r", "CreateKey")
	if d := clk.Now().Sub(start); d <= 0 || d > 20*time.Millisecond {
		t.Errorf("after the burst: waited %s", d)
	}
}

func TestLimiterAIMD(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1e9, 0)}
	l := NewLimiter(Quotas{"GetParametersForImport": 10}, 1, clk)
	const op = "GetParametersForImport"
	l.Throttled("r", op)
	if r := l.Rate("r", op); math.Abs(r-7) > 1e-9 {
		t.Errorf("after a throttle: %v/s; want 7", r)
	}
	// Throttles of one burst cut once.
	for range 10 {
		l.Throttled("r", op)
	}
	if r := l.Rate("r", op); math.Abs(r-7) > 1e-9 {
		t.Errorf("after a burst of throttles: %v/s; want 7", r)
	}
	for range 90 {
		clk.Sleep(context.Background(), 10*time.Second)
		l.Throttled("r", op)
	}
	if r := l.Rate("r", op); math.Abs(r-0.5) > 1e-9 {
		t.Errorf("after 91 throttles 10 s apart: %v/s; want the floor, 0.5", r)
	}
	// Each success wins back 5% of the quota.
	for range 9 {
		l.Succeeded("r", op)
	}
	if r := l.Rate("r", op); math.Abs(r-5) > 1e-9 {
		t.Errorf("after 9 successes: %v/s; want 5", r)
	}
	for range 100 {
		l.Succeeded("r", op)
	}
	if r := l.Rate("r", op); r != 10 {
		t.Errorf("recovered to %v/s; want the quota, 10", r)
	}
	st := l.Stats()
	if len(st) != 1 || st[0].Throttles != 101 || st[0].Quota != 10 {
		t.Errorf("stats %+v", st)
	}
}

func TestLimiterWaitHonoursContext(t *testing.T) {
	l := NewLimiter(Quotas{"GetParametersForImport": 1}, 1, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := l.Wait(ctx, "r", "GetParametersForImport"); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := l.Wait(ctx, "r", "GetParametersForImport"); err == nil || time.Since(start) > 500*time.Millisecond {
		t.Errorf("Wait returned %v after %s; want the context's error at once", err, time.Since(start))
	}
}

// TestMigrateAdaptsToThrottling: the engine believes the quota is 20/s, the
// emulator allows 4/s: it is throttled, slows down, and every key arrives.
func TestMigrateAdaptsToThrottling(t *testing.T) {
	m := fleet(t, 16, fleettest.Options{ID: "thr"})
	srv := emulator(t, kmstest.WithQuota("GetParametersForImport", 4))
	q := fastQuotas()
	q["GetParametersForImport"] = 20
	sum, err := (&Migration{Manifest: m, Client: clientsOf(srv), Journal: filepath.Join(t.TempDir(), "j"), Quotas: q}).Run(context.Background())
	if err != nil {
		t.Fatalf("%v %+v", err, sum.Failures)
	}
	var st OpStats
	for _, o := range sum.Ops {
		if o.Op == "GetParametersForImport" {
			st = o
		}
	}
	if st.Throttles == 0 || st.Rate >= 20*0.98 {
		t.Errorf("GetParametersForImport: %+v; want throttles and a lower rate", st)
	}
}
