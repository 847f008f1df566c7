// Package validto parses the expiration time of imported key material, as
// byok's --valid-to flag and a migration manifest's valid_to field take it:
// an RFC 3339 time, a date (midnight UTC) or +Nd, +Nh, +Nm from now. The
// time must be in the future and at most 365 days ahead, as
// ImportKeyMaterial requires
// (https://docs.aws.amazon.com/kms/latest/APIReference/API_ImportKeyMaterial.html#KMS-ImportKeyMaterial-request-ValidTo).
package validto

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"time"
)

// ErrSyntax is returned, unwrapped, when s is none of the accepted forms;
// callers that name the field but not the value add the value themselves.
var ErrSyntax = errors.New("want an RFC 3339 time (2027-01-31T00:00:00Z), a date (2027-01-31) or +90d / +36h")

// MaxAhead is the furthest ahead an expiration may lie.
const MaxAhead = 365 * 24 * time.Hour

var relative = regexp.MustCompile(`^\+([0-9]+)([dhm])$`)

// Parse parses an expiration time relative to now and returns it in UTC,
// truncated to the second.
func Parse(s string, now time.Time) (time.Time, error) {
	var t time.Time
	if m := relative.FindStringSubmatch(s); m != nil {
		n, err := strconv.Atoi(m[1])
		if err != nil || n > 100000 {
			return t, errors.New("the number is too large")
		}
		unit := map[string]time.Duration{"d": 24 * time.Hour, "h": time.Hour, "m": time.Minute}[m[2]]
		t = now.Add(time.Duration(n) * unit)
	} else if d, err := time.Parse(time.DateOnly, s); err == nil {
		t = d
	} else if d, err := time.Parse(time.RFC3339, s); err == nil {
		t = d
	} else {
		return t, ErrSyntax
	}
	switch {
	case !t.After(now):
		return t, fmt.Errorf("%s is not in the future", t.UTC().Format(time.RFC3339))
	case t.After(now.Add(MaxAhead)):
		return t, fmt.Errorf("%s is more than 365 days ahead; KMS allows at most 365 days", t.UTC().Format(time.RFC3339))
	}
	return t.UTC().Truncate(time.Second), nil
}
