package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
)

// The program runs up to opening the HSM: with no cloudhsm library at the path
// given it reports each key as failed, naming the library, and fails.
func TestWithoutHSM(t *testing.T) {
	none := filepath.Join(t.TempDir(), "none")
	t.Setenv("AWS_CONFIG_FILE", none)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", none)
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("CLOUDHSM_MODULE", filepath.Join(t.TempDir(), "libcloudhsm-missing.so"))
	var out bytes.Buffer
	if err := run(context.Background(), nil, &out); err == nil || !strings.Contains(err.Error(), "usage") {
		t.Errorf("no keys: %v", err)
	}
	err := run(context.Background(), []string{"label=k1", "label=k2"}, &out)
	if err == nil || !strings.Contains(err.Error(), "2 of 2 keys failed") {
		t.Errorf("run: %v", err)
	}
	if !strings.Contains(out.String(), "label=k1: FAILED") || !strings.Contains(out.String(), "libcloudhsm-missing.so") {
		t.Errorf("output does not name the key and the missing library:\n%s", out.String())
	}
}
