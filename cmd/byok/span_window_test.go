package main

import (
	"errors"
	"strings"
	"testing"
)

// TestWindowOver365Days: --warn-within and --renew-within over 365 days
// are refused as usage errors (KMS's ValidTo is at most 365 days ahead);
// 365d itself is accepted.
func TestWindowOver365Days(t *testing.T) {
	for _, flag := range []string{"--warn-within", "--renew-within"} {
		for _, s := range []string{"366d", "400d", "8761h"} {
			_, err := nonNegativeSpan(flag, s)
			if !errors.Is(err, errUsage) || !strings.Contains(err.Error(), "365") || !strings.Contains(err.Error(), flag) {
				t.Errorf("%s %s: %v", flag, s, err)
			}
		}
		if d, err := nonNegativeSpan(flag, "365d"); err != nil || d != maxWindow {
			t.Errorf("%s 365d: %v %v", flag, d, err)
		}
	}
	code, _, errOut := byokCLI(t, "status", "nonexistent.yaml", "--warn-within", "400d")
	if code != 2 || !strings.Contains(errOut, "365d") {
		t.Errorf("status --warn-within 400d: exit %d\n%s", code, errOut)
	}
}
