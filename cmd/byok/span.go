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

// nonNegativeSpan parses a window such as --warn-within: not negative.
func nonNegativeSpan(flag, s string) (time.Duration, error) {
	d, err := parseSpan(s)
	if err == nil && d < 0 {
		err = errors.New("must not be negative")
	}
	if err != nil {
		return 0, fmt.Errorf("%w: %s %v", errUsage, flag, err)
	}
	return d, nil
}
