package kmstest

import (
	"sync"
	"time"
)

// limiter applies request quotas: a token bucket per quota and Region,
// holding one second's worth of requests (at least one), refilled
// continuously in real time.
type limiter struct {
	quotas map[string]float64

	mu      sync.Mutex
	buckets map[string]*bucket
}

type bucket struct {
	tokens float64
	last   time.Time
}

func newLimiter(q map[string]float64) *limiter {
	return &limiter{quotas: q, buckets: map[string]*bucket{}}
}

// allow takes a token from the bucket of quota name in region, reporting
// false when it is empty. A name without a quota is always allowed.
func (l *limiter) allow(region, name string) bool {
	rate, ok := l.quotas[name]
	if !ok || rate <= 0 {
		return true
	}
	capacity := max(rate, 1)
	now := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	k := region + "\x00" + name
	b := l.buckets[k]
	if b == nil {
		b = &bucket{tokens: capacity, last: now}
		l.buckets[k] = b
	}
	b.tokens = min(capacity, b.tokens+now.Sub(b.last).Seconds()*rate)
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}
