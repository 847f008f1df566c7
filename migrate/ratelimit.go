package migrate

import (
	"context"
	"maps"
	"math"
	"sort"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Quotas are request rates, in requests per second per account and Region,
// by KMS operation name.
type Quotas map[string]float64

// DefaultQuotas returns AWS KMS's default request quotas for the operations
// a migration calls, as the KMS Developer Guide ("Request quotas") lists
// them. GetParametersForImport, at 1 per second, binds a migration.
// Cryptographic operations (Encrypt, Sign, …) share pools of thousands per
// second and are not limited ahead of time; a ThrottlingException still
// slows them down.
func DefaultQuotas() Quotas {
	return Quotas{
		"CreateKey":              5,
		"GetParametersForImport": 1,
		"ImportKeyMaterial":      15,
		"DescribeKey":            2000,
		"ListKeys":               500,
		"ListAliases":            500,
		"CreateAlias":            5,
		"TagResource":            10,
		"ListResourceTags":       100,
		"ReplicateKey":           5,
		"RotateKeyOnDemand":      5,
		"ListKeyRotations":       100,
		"GetPublicKey":           2000,
	}
}

// Clock is the time source of a Limiter; tests replace it with a fake.
type Clock interface {
	Now() time.Time
	// Sleep waits for d or until ctx is done.
	Sleep(ctx context.Context, d time.Duration) error
}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

func (realClock) Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Limiter paces requests per operation and Region, each with a token
// bucket (golang.org/x/time/rate) starting from a quota and adapting to
// ThrottlingException: each throttle cuts the rate by a third, each success
// wins back 5% of the quota, up to Headroom × the quota (AIMD, as TCP
// does). The zero value is not usable; use NewLimiter.
type Limiter struct {
	quotas   Quotas
	headroom float64
	clock    Clock

	mu      sync.Mutex
	buckets map[string]*bucket
}

type bucket struct {
	lim     *rate.Limiter // nil: not paced
	burst   int
	ceiling float64   // headroom × quota
	rate    float64   // current rate
	lastCut time.Time // when the rate was last cut

	calls, throttles int
	waited           time.Duration
}

// NewLimiter returns a limiter for quotas (an operation without a quota is
// not paced). headroom is the fraction of a quota to aim at (0 means 0.98):
// aiming a little below the quota keeps network jitter from turning into
// throttles. clock nil means real time.
func NewLimiter(quotas Quotas, headroom float64, clock Clock) *Limiter {
	if headroom <= 0 || headroom > 1 {
		headroom = 0.98
	}
	if clock == nil {
		clock = realClock{}
	}
	return &Limiter{quotas: maps.Clone(quotas), headroom: headroom, clock: clock, buckets: map[string]*bucket{}}
}

func (l *Limiter) bucket(region, op string) *bucket {
	k := region + "\x00" + op
	b := l.buckets[k]
	if b == nil {
		b = &bucket{}
		if q := l.quotas[op]; q > 0 {
			b.ceiling = q * l.headroom
			b.rate = b.ceiling
			// AWS's buckets hold one second of requests; so does this
			// one, minus the headroom, and at least one request. It
			// starts full.
			b.burst = max(1, int(b.ceiling))
			b.lim = rate.NewLimiter(rate.Limit(b.rate), b.burst)
		}
		l.buckets[k] = b
	}
	return b
}

// Wait blocks until a request of op in region may be sent. A token is
// taken when a request is let go (AllowN), not reserved ahead: a process
// that was stalled (a busy machine, a long GC) does not release a burst of
// waiting requests when it runs again.
func (l *Limiter) Wait(ctx context.Context, region, op string) error {
	return l.WaitN(ctx, region, op, 1)
}

// WaitN is Wait for a call that makes n requests of op at once (a call of
// a target outside AWS, which paces by call): it takes n tokens, or the
// whole bucket when n is more than it holds.
func (l *Limiter) WaitN(ctx context.Context, region, op string, n int) error {
	l.mu.Lock()
	b := l.bucket(region, op)
	b.calls++
	start := l.clock.Now()
	n = max(1, min(n, b.burst))
	for {
		if b.lim == nil {
			l.mu.Unlock()
			return ctx.Err()
		}
		now := l.clock.Now()
		if b.lim.AllowN(now, n) {
			b.waited += now.Sub(start)
			l.mu.Unlock()
			return ctx.Err()
		}
		// Round up, and at least a microsecond: a wait rounded down to
		// nothing would spin.
		wait := max(time.Microsecond, time.Duration(math.Ceil((float64(n)-b.lim.TokensAt(now))/b.rate*float64(time.Second))))
		l.mu.Unlock()
		if err := l.clock.Sleep(ctx, wait); err != nil {
			return err
		}
		l.mu.Lock()
	}
}

// Throttled records a ThrottlingException for op in region: the rate drops
// to 70% (not below 5% of the quota), at most once per interval between
// requests (throttles of one burst are one signal, as TCP cuts its window
// once per round trip), and the bucket empties, so the retry waits a full
// interval.
func (l *Limiter) Throttled(region, op string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.bucket(region, op)
	b.throttles++
	if b.lim == nil {
		return
	}
	now := l.clock.Now()
	if b.lastCut.IsZero() || now.Sub(b.lastCut) >= time.Duration(float64(time.Second)/b.rate) {
		b.rate = max(b.ceiling*0.05, b.rate*0.7)
		b.lastCut = now
	}
	// A new bucket at the new rate, emptied now.
	b.lim = rate.NewLimiter(rate.Limit(b.rate), b.burst)
	b.lim.AllowN(now, b.burst)
}

// Succeeded records a request op in region that was not throttled: the rate
// grows by 5% of the quota, up to Headroom × the quota.
func (l *Limiter) Succeeded(region, op string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.bucket(region, op)
	if b.lim != nil && b.rate < b.ceiling {
		b.rate = min(b.ceiling, b.rate+b.ceiling*0.05)
		b.lim.SetLimitAt(l.clock.Now(), rate.Limit(b.rate))
	}
}

// Rate returns the current rate for op in region (0: not paced).
func (l *Limiter) Rate(region, op string) float64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.bucket(region, op).rate
}

// OpStats are a limiter's counts for one operation in one Region.
type OpStats struct {
	Region    string
	Op        string
	Quota     float64 // requests per second; 0: not paced
	Rate      float64 // the rate at the end
	Calls     int     // requests sent (retries included)
	Throttles int     // ThrottlingExceptions received
	// Waited is the total time requests waited for the limiter: the
	// operation with the most waiting is the one that binds.
	Waited time.Duration
}

// Stats returns the counts of every operation and Region seen, sorted by
// Region and operation.
func (l *Limiter) Stats() []OpStats {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []OpStats
	for k, b := range l.buckets {
		var region, op string
		for i := 0; i < len(k); i++ {
			if k[i] == 0 {
				region, op = k[:i], k[i+1:]
				break
			}
		}
		out = append(out, OpStats{Region: region, Op: op, Quota: l.quotas[op], Rate: b.rate,
			Calls: b.calls, Throttles: b.throttles, Waited: b.waited})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Region != out[j].Region {
			return out[i].Region < out[j].Region
		}
		return out[i].Op < out[j].Op
	})
	return out
}
