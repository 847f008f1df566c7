package main

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/byok-go/byok/migrate"
)

// progressBar draws byok migrate's progress from the engine's OnProgress
// callbacks, with the rate and the time left: redrawn in place on a
// terminal, one line every interval otherwise.
type progressBar struct {
	w   io.Writer
	tty bool
	now func() time.Time

	mu      sync.Mutex
	p       migrate.Progress
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

// newProgressBar starts drawing on w: every interval (0: 10 s without a
// terminal, 250 ms with one) until close.
func newProgressBar(w io.Writer, tty bool, total int, interval time.Duration) *progressBar {
	b := &progressBar{w: w, tty: tty, now: time.Now, stop: make(chan struct{}), p: migrate.Progress{Total: total, Started: time.Now()}}
	if interval <= 0 {
		interval = 10 * time.Second
		if tty {
			interval = 250 * time.Millisecond
		}
	}
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				b.draw(false)
			case <-b.stop:
				return
			}
		}
	}()
	return b
}

// update is the Migration's OnProgress.
func (b *progressBar) update(p migrate.Progress) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.p = p
}

// rate returns keys per second over the last rateWindow (keys skipped as
// already done do not count: they took no time).
func (b *progressBar) rate(now time.Time) float64 {
	n := b.p.Done - b.p.AlreadyDone
	b.samples = append(b.samples, sample{now, n})
	for len(b.samples) > 1 && now.Sub(b.samples[0].t) > rateWindow {
		b.samples = b.samples[1:]
	}
	first := b.samples[0]
	if len(b.samples) < 2 || now.Sub(b.p.Started) < 2*time.Second {
		first = sample{b.p.Started, 0}
	}
	d := now.Sub(first.t).Seconds()
	if d <= 0 {
		return 0
	}
	return float64(n-first.n) / d
}

func (b *progressBar) line(now time.Time) string {
	p := b.p
	rate := b.rate(now)
	frac := 0.0
	if p.Total > 0 {
		frac = float64(p.Done) / float64(p.Total)
	}
	const width = 20
	fill := int(frac * width)
	bar := strings.Repeat("=", fill)
	if fill < width {
		bar += ">" + strings.Repeat(" ", width-fill-1)
	}
	eta := "--"
	if left := p.Total - p.Done; rate > 0 && left > 0 {
		eta = time.Duration(float64(left) / rate * float64(time.Second)).Round(time.Second).String()
	} else if left == 0 {
		eta = "0s"
	}
	// At most 100 columns for a manifest of up to 100 000 keys.
	s := fmt.Sprintf("[%s] %d/%d keys %.1f%% %.2f keys/s ETA %s elapsed %s", bar, p.Done, p.Total, 100*frac, rate, eta,
		now.Sub(p.Started).Round(time.Second))
	if p.Failed > 0 {
		s += fmt.Sprintf(" failed %d", p.Failed)
	}
	if p.AlreadyDone > 0 {
		s += fmt.Sprintf(" done before %d", p.AlreadyDone)
	}
	return s
}

func (b *progressBar) draw(final bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := b.line(b.now())
	if b.tty {
		pad := ""
		if n := b.last - len(s); n > 0 {
			pad = strings.Repeat(" ", n)
		}
		b.last = len(s)
		end := ""
		if final {
			end = "\n"
		}
		fmt.Fprintf(b.w, "\r%s%s%s", s, pad, end)
		return
	}
	fmt.Fprintln(b.w, s)
}

// close stops the redrawing and draws the final state.
func (b *progressBar) close() {
	select {
	case <-b.stop:
		return
	default:
	}
	close(b.stop)
	b.wg.Wait()
	b.draw(true)
}
