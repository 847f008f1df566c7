package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/byok-go/byok/migrate"
)

// TestProgressBarFromCallbacks: the bar shows what OnProgress reported,
// the rate of keys that took time, and the time left.
func TestProgressBarFromCallbacks(t *testing.T) {
	var out bytes.Buffer
	b := newProgressBar(&out, false, 100, time.Hour)
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	now := start.Add(40 * time.Second)
	b.now = func() time.Time { return now }
	b.update(migrate.Progress{Total: 100, Done: 30, Imported: 18, AlreadyDone: 10, Failed: 2, Started: start})
	b.close()
	got := out.String()
	for _, want := range []string{"[======>", "30/100 keys 30.0%", "0.50 keys/s", "ETA 2m20s", "elapsed 40s", "failed 2", "done before 10"} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in %q", want, got)
		}
	}
	if strings.Count(got, "\n") != 1 || len(strings.TrimSpace(got)) > 100 {
		t.Errorf("want one line of at most 100 columns: %q", got)
	}
}
