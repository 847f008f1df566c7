package driver

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestPINFromFileBounded: a PIN or passphrase file that is a device, a
// FIFO, a directory or over 4 KiB is refused, promptly.
func TestPINFromFileBounded(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	big := filepath.Join(dir, "big")
	os.WriteFile(big, []byte(strings.Repeat("x", 4<<10)+"\n"), 0o600)
	ok := filepath.Join(dir, "ok")
	os.WriteFile(ok, []byte("1234\r\nrest"), 0o600)
	for path, want := range map[string]string{
		"/dev/zero": "/dev/zero is a character device, not a regular file",
		fifo:        "is a FIFO (named pipe)",
		dir:         "is a directory",
		big:         "is larger than 4 KiB",
	} {
		done := make(chan error, 1)
		go func() { _, err := PINFromFile(path).PIN(context.Background()); done <- err }()
		select {
		case err := <-done:
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("%s: err = %v, want %q", path, err, want)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: PINFromFile blocked", path)
		}
	}
	if pin, err := PINFromFile(ok).PIN(context.Background()); err != nil || string(pin) != "1234" {
		t.Errorf("a good PIN file: %q, %v", pin, err)
	}
}
