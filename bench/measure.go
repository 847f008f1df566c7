package bench

import (
	"context"
	"math"
	"runtime"
	"slices"
	"time"
)

// member is one row of a group being measured: run performs n operations.
type member struct {
	row     *Row
	run     func(n int) error
	goHeap  bool      // allocations happen on the Go heap (AllocsPerOp is meaningful)
	samples []float64 // ns/op of each round
	perOp   float64   // calibration estimate
}

// group is a set of rows doing comparable work, measured in interleaved
// rounds so that load from other processes falls on all of them alike.
type group struct {
	name    string
	members []*member
	weight  int // multiplies Options.Time, and its square the rounds: groups the comparisons use
}

// timeRun returns how long run(n) takes.
func timeRun(m *member, n int) (time.Duration, error) {
	start := time.Now()
	err := m.run(n)
	return time.Since(start), err
}

// measure runs the group: calibration, then rounds of k operations for
// each member in turn (the order rotating from round to round), then one
// pass counting allocations. It fills in the members' rows.
func (g *group) measure(ctx context.Context, o *Options) error {
	// The compared groups get weight× the time in weight²× the rounds:
	// shorter rounds, so that a change of load falls within a round more
	// often than between two rows of one.
	rounds := o.Rounds * g.weight * g.weight
	perRound := time.Duration(int64(o.Time) * int64(g.weight) / int64(rounds))
	if o.Short {
		rounds, perRound = 1, 0
	}
	runtime.GC()
	ks := make([]int, len(g.members))
	for i, m := range g.members {
		// One operation warms up (and was verified when the member was set
		// up); then grow the batch until it takes a tenth of a round.
		d, err := timeRun(m, 1)
		if err != nil {
			return err
		}
		n := 1
		for !o.Short && d < perRound/10 {
			next := int(float64(n) * 1.5 * float64(perRound/10) / float64(max(d, time.Microsecond)))
			n = min(max(next, n+1), 100*n, 1<<30)
			if d, err = timeRun(m, n); err != nil {
				return err
			}
		}
		m.perOp = float64(d) / float64(n)
		ks[i] = 1
		if !o.Short {
			ks[i] = max(1, int(math.Round(float64(perRound)/m.perOp)))
		}
	}
	for r := range rounds {
		if err := ctx.Err(); err != nil {
			return err
		}
		for j := range g.members {
			i := (j + r) % len(g.members)
			m := g.members[i]
			d, err := timeRun(m, ks[i])
			if err != nil {
				return err
			}
			m.samples = append(m.samples, float64(d.Nanoseconds())/float64(ks[i]))
		}
	}
	for i, m := range g.members {
		row := m.row
		row.Ops = ks[i] * rounds
		row.NsPerOp = median(m.samples)
		if row.NsPerOp > 0 {
			row.OpsPerSec = 1e9 / row.NsPerOp
		}
		row.AllocsPerOp, row.BytesPerOp = -1, -1
		if m.goHeap {
			n := min(ks[i], 50)
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			if err := m.run(n); err != nil {
				return err
			}
			runtime.ReadMemStats(&after)
			row.AllocsPerOp = int64(after.Mallocs-before.Mallocs) / int64(n)
			row.BytesPerOp = int64(after.TotalAlloc-before.TotalAlloc) / int64(n)
		}
	}
	fastest := math.Inf(1)
	for _, m := range g.members {
		fastest = min(fastest, m.row.NsPerOp)
	}
	for _, m := range g.members {
		if fastest > 0 {
			m.row.RatioToFastest = m.row.NsPerOp / fastest
		}
	}
	return nil
}

// median returns the median of x (the mean of the middle two for an even
// count), or 0 for none.
func median(x []float64) float64 {
	if len(x) == 0 {
		return 0
	}
	s := slices.Clone(x)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// roundRatio returns the median over rounds of a's time over b's, both
// members of one group (so measured in the same rounds).
func roundRatio(a, b *member) float64 {
	n := min(len(a.samples), len(b.samples))
	r := make([]float64, 0, n)
	for i := range n {
		if b.samples[i] > 0 {
			r = append(r, a.samples[i]/b.samples[i])
		}
	}
	return median(r)
}
