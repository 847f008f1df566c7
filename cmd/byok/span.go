package main

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"time"
)

var spanDays = regexp.MustCompile(`^([+-]?)([0-9]{1,6})d$`)

// parseSpan parses a length of time for --warn-within, --renew-within and
// --time-offset: a whole number of days (30d) or a Go duration (36h, 90m,
// 1h30m). A leading - counts backwards.
func parseSpan(s string) (time.Duration, error) {
	if m := spanDays.FindStringSubmatch(s); m != nil {
		n, _ := strconv.Atoi(m[2])
		d := time.Duration(n) * 24 * time.Hour
		if m[1] == "-" {
			d = -d
		}
		return d, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || s == "" {
		return 0, fmt.Errorf("%q: want a number of days (30d) or hours and minutes (36h, 90m)", s)
	}
	return d, nil
}

// maxWindow is the longest --warn-within or --renew-within: KMS sets an
// imported key material's ValidTo at most 365 days ahead, so no material
// expires later than that
// (https://docs.aws.amazon.com/kms/latest/APIReference/API_ImportKeyMaterial.html).
const maxWindow = 365 * 24 * time.Hour

// nonNegativeSpan parses a window such as --warn-within: not negative, and
// at most 365 days.
func nonNegativeSpan(flag, s string) (time.Duration, error) {
	d, err := parseSpan(s)
	switch {
	case err != nil:
	case d < 0:
		err = errors.New("must not be negative")
	case d > maxWindow:
		err = fmt.Errorf("%s is over 365d: KMS sets ValidTo at most 365 days ahead, so no key material expires later; give 365d or less", s)
	}
	if err != nil {
		return 0, fmt.Errorf("%w: %s %v", errUsage, flag, err)
	}
	return d, nil
}
