package validto

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	for in, want := range map[string]time.Time{
		"+90d":                      now.Add(90 * 24 * time.Hour),
		"+36h":                      now.Add(36 * time.Hour),
		"+15m":                      now.Add(15 * time.Minute),
		"+365d":                     now.Add(365 * 24 * time.Hour),
		"2027-01-31":                time.Date(2027, 1, 31, 0, 0, 0, 0, time.UTC),
		"2027-01-31T10:00:00Z":      time.Date(2027, 1, 31, 10, 0, 0, 0, time.UTC),
		"2027-01-31T10:00:00+01:00": time.Date(2027, 1, 31, 9, 0, 0, 0, time.UTC),
		"2027-01-31T10:00:00.9Z":    time.Date(2027, 1, 31, 10, 0, 0, 0, time.UTC),
	} {
		got, err := Parse(in, now)
		if err != nil || !got.Equal(want) || got.Location() != time.UTC {
			t.Errorf("Parse(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for in, want := range map[string]string{
		"+366d":                "more than 365 days ahead",
		"+0d":                  "not in the future",
		"2026-11-23":           "not in the future",
		"2020-01-01T00:00:00Z": "not in the future",
		"90d":                  ErrSyntax.Error(),
		"+90w":                 ErrSyntax.Error(),
		"":                     ErrSyntax.Error(),
		"+99999999999d":        "too large",
	} {
		_, err := Parse(in, now)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Parse(%q) = %v; want an error containing %q", in, err, want)
		}
		if (want == ErrSyntax.Error()) != errors.Is(err, ErrSyntax) {
			t.Errorf("Parse(%q): errors.Is(err, ErrSyntax) = %v", in, errors.Is(err, ErrSyntax))
		}
	}
}
