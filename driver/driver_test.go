package driver_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/byok-go/byok/driver"
	_ "github.com/byok-go/byok/driver/software"
)

type nopDriver struct{}

func (nopDriver) Open(context.Context, driver.Config) (driver.Source, error) { return nil, nil }

func TestRegistry(t *testing.T) {
	if !slices.Contains(driver.Drivers(), "software") {
		t.Fatalf("software is not registered: %v", driver.Drivers())
	}
	driver.Register("test-nop", nopDriver{})
	names := driver.Drivers()
	if !slices.IsSorted(names) || !slices.Contains(names, "test-nop") {
		t.Errorf("Drivers() = %v; want sorted with test-nop", names)
	}
	mustPanic(t, "duplicate", func() { driver.Register("test-nop", nopDriver{}) })
	mustPanic(t, "nil", func() { driver.Register("test-nil", nil) })
	_, err := driver.Open(context.Background(), "luna-not-imported", driver.Config{})
	if err == nil || !strings.Contains(err.Error(), `unknown driver "luna-not-imported" (forgotten import?)`) {
		t.Errorf("err %v; want the forgotten-import hint", err)
	}
}

func mustPanic(t *testing.T, what string, f func()) {
	t.Helper()
	defer func() {
		if recover() == nil {
			t.Errorf("%s registration did not panic", what)
		}
	}()
	f()
}

func TestPINSources(t *testing.T) {
	ctx := context.Background()
	t.Setenv("BYOK_TEST_PIN", "1234")
	if p, err := driver.PINFromEnv("BYOK_TEST_PIN").PIN(ctx); err != nil || string(p) != "1234" {
		t.Errorf("env: %q, %v", p, err)
	}
	if _, err := driver.PINFromEnv("BYOK_TEST_PIN_UNSET").PIN(ctx); err == nil || !strings.Contains(err.Error(), "BYOK_TEST_PIN_UNSET") {
		t.Errorf("unset env: %v; want an error naming the variable", err)
	}
	f := filepath.Join(t.TempDir(), "pin")
	os.WriteFile(f, []byte("s3cret\r\nignored\n"), 0o600)
	if p, err := driver.PINFromFile(f).PIN(ctx); err != nil || string(p) != "s3cret" {
		t.Errorf("file: %q, %v", p, err)
	}
	os.WriteFile(f, []byte("\n"), 0o600)
	if _, err := driver.PINFromFile(f).PIN(ctx); err == nil {
		t.Error("an empty PIN file was accepted")
	}
	var prompt strings.Builder
	if p, err := driver.PINPrompt("PIN: ", strings.NewReader("9876\n"), &prompt).PIN(ctx); err != nil || string(p) != "9876" || prompt.String() != "PIN: " {
		t.Errorf("prompt: %q, %v, prompt %q", p, err, prompt.String())
	}
	if _, err := driver.PINPrompt("PIN: ", strings.NewReader("\n"), &prompt).PIN(ctx); err == nil {
		t.Error("an empty PIN was accepted")
	}
}
