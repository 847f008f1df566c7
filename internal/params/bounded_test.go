package params

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestReadDirNonRegular: a parameters file that is a FIFO or a device is
// refused at once (a plain open of a FIFO blocks), and so is an over-cap
// file; IsZip does not block on a FIFO either.
func TestReadDirNonRegular(t *testing.T) {
	for _, c := range []struct{ name, want string }{
		{"fifo", "is a FIFO (named pipe), not a regular file"},
		{"zero", "/dev/zero is a character device"},
		{"big", "is larger than 64 KiB"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			meta := filepath.Join(dir, MetadataFile)
			switch c.name {
			case "fifo":
				if err := syscall.Mkfifo(meta, 0o600); err != nil {
					t.Fatal(err)
				}
			case "zero":
				if err := os.Symlink("/dev/zero", meta); err != nil {
					t.Fatal(err)
				}
				c.want = meta + " is a character device"
			case "big":
				if err := os.WriteFile(meta, make([]byte, 64<<10+1), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			done := make(chan error, 1)
			go func() { _, err := ReadDir(dir); done <- err }()
			select {
			case err := <-done:
				if err == nil || !strings.Contains(err.Error(), c.want) {
					t.Errorf("err = %v, want %q", err, c.want)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("ReadDir blocked")
			}
			if c.name == "fifo" {
				go func() { IsZip(meta); done <- nil }()
				select {
				case <-done:
				case <-time.After(10 * time.Second):
					t.Fatal("IsZip blocked on a FIFO")
				}
				if _, err := ReadConsoleZipFile(meta, ""); err == nil || !strings.Contains(err.Error(), "FIFO") {
					t.Errorf("ReadConsoleZipFile on a FIFO: %v", err)
				}
			}
		})
	}
}
