package migrate

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// progress draws a progress bar with the rate and the time left: redrawn in
// place on a terminal, one line every interval otherwise.
type progress struct {
	w     io.Writer
	tty   bool
	total int
	start time.Time
	now   func() time.Time

	mu      sync.Mutex
	done    int // finished: imported, skipped or failed
	failed  int
	skipped int // already done by an earlier run
	samples []sample
	stop    chan struct{}
	wg      sync.WaitGroup
	last    int // length of the last line drawn, to blank it
}

type sample struct {
	t time.Time
	n int
}

// rateWindow is how far back the rate is measured.
const rateWindow = 60 * time.Second

func newProgress(w io.Writer, tty bool, total int, interval time.Duration) *progress {
	p := &progress{w: w, tty: tty, total: total, start: time.Now(), now: time.Now, stop: make(chan struct{})}
	if w == nil {
		return p
	}
	if interval <= 0 {
		interval = 10 * time.Second
		if tty {
			interval = 250 * time.Millisecond
		}
	}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				p.draw(false)
			case <-p.stop:
				return
			}
		}
	}()
	return p
}

func (p *progress) finish(failed, skipped bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done++
	if failed {
		p.failed++
	}
	if skipped {
		p.skipped++
	}
}

// rate returns keys per second over the last rateWindow (keys skipped as
// already done do not count: they took no time).
func (p *progress) rate(now time.Time) float64 {
	n := p.done - p.skipped
	p.samples = append(p.samples, sample{now, n})
	for len(p.samples) > 1 && now.Sub(p.samples[0].t) > rateWindow {
		p.samples = p.samples[1:]
	}
	first := p.samples[0]
	if len(p.samples) < 2 || now.Sub(p.start) < 2*time.Second {
		first = sample{p.start, 0}
	}
	d := now.Sub(first.t).Seconds()
	if d <= 0 {
		return 0
	}
	return float64(n-first.n) / d
}

func (p *progress) line(now time.Time) string {
	rate := p.rate(now)
	frac := 0.0
	if p.total > 0 {
		frac = float64(p.done) / float64(p.total)
	}
	const width = 30
	fill := int(frac * width)
	bar := strings.Repeat("=", fill)
	if fill < width {
		bar += ">" + strings.Repeat(" ", width-fill-1)
	}
	eta := "--"
	if left := p.total - p.done; rate > 0 && left > 0 {
		eta = time.Duration(float64(left) / rate * float64(time.Second)).Round(time.Second).String()
	} else if left == 0 {
		eta = "0s"
	}
	s := fmt.Sprintf("[%s] %d/%d keys %5.1f%%  %.2f keys/s  ETA %s  elapsed %s", bar, p.done, p.total, 100*frac, rate, eta,
		now.Sub(p.start).Round(time.Second))
	if p.failed > 0 {
		s += fmt.Sprintf("  failed %d", p.failed)
	}
	if p.skipped > 0 {
		s += fmt.Sprintf("  already done %d", p.skipped)
	}
	return s
}

func (p *progress) draw(final bool) {
	if p.w == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.line(p.now())
	if p.tty {
		pad := ""
		if n := p.last - len(s); n > 0 {
			pad = strings.Repeat(" ", n)
		}
		p.last = len(s)
		end := ""
		if final {
			end = "\n"
		}
		fmt.Fprintf(p.w, "\r%s%s%s", s, pad, end)
		return
	}
	fmt.Fprintln(p.w, s)
}

// close stops the redrawing and draws the final state.
func (p *progress) close() {
	if p.w == nil {
		return
	}
	select {
	case <-p.stop:
		return
	default:
	}
	close(p.stop)
	p.wg.Wait()
	p.draw(true)
}
