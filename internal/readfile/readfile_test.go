package readfile

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The bad files every kind of input must refuse, promptly.
func badFiles(t *testing.T) map[string]struct {
	path string
	want string
} {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link")
	if err := os.Symlink("/dev/zero", link); err != nil {
		t.Fatal(err)
	}
	return map[string]struct {
		path string
		want string
	}{
		"/dev/zero":         {"/dev/zero", "is a character device, not a regular file"},
		"fifo":              {fifo, "is a FIFO (named pipe), not a regular file"},
		"directory":         {dir, "is a directory, not a regular file"},
		"link to /dev/zero": {link, "is a character device"},
	}
}

func TestReadFileRefusesNonRegular(t *testing.T) {
	for name, c := range badFiles(t) {
		t.Run(name, func(t *testing.T) {
			done := make(chan error, 1)
			go func() {
				_, err := ReadFile(c.path, "key file", KeyFile)
				done <- err
			}()
			select {
			case err := <-done:
				var fe *Error
				if !errors.As(err, &fe) || !errors.Is(err, ErrNotRegular) || !strings.Contains(err.Error(), c.want) ||
					!strings.Contains(err.Error(), "give the path of a key file") {
					t.Fatalf("err = %v, want an *Error saying %q", err, c.want)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("ReadFile blocked on a non-regular file")
			}
		})
	}
}

func TestReadFileCap(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []int{0, 1, 4095, 4096, 4097, 10000} {
		p := filepath.Join(dir, "f")
		data := bytes.Repeat([]byte{'x'}, n)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		got, err := ReadFile(p, "policy file", 4096)
		switch {
		case n <= 4096 && (err != nil || !bytes.Equal(got, data)):
			t.Errorf("%d bytes: %v", n, err)
		case n > 4096 && (!errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "larger than 4 KiB, the most byok reads from a policy file")):
			t.Errorf("%d bytes: err = %v, want too large", n, err)
		}
	}
	if _, err := ReadFile(filepath.Join(dir, "none"), "key file", 10); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}

// TestReadAllZeroMemory reads an endless source through the cap: the
// allocation is O(cap), not O(input).
func TestReadAllZeroMemory(t *testing.T) {
	f, err := os.Open("/dev/zero") // a reader that never ends, not via ReadFile
	if err != nil {
		t.Skip(err)
	}
	defer f.Close()
	const limit = 1 << 20
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	_, err = ReadAll(f, "/dev/zero", "key file", limit)
	runtime.ReadMemStats(&after)
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("err = %v", err)
	}
	if got := after.TotalAlloc - before.TotalAlloc; got > 4*limit {
		t.Errorf("reading an endless input with a %d-byte cap allocated %d bytes", limit, got)
	}
}

func BenchmarkReadAllZero(b *testing.B) {
	f, err := os.Open("/dev/zero")
	if err != nil {
		b.Skip(err)
	}
	defer f.Close()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ReadAll(f, "/dev/zero", "key file", KeyFile); !errors.Is(err, ErrTooLarge) {
			b.Fatal(err)
		}
	}
}

func TestReaderCaps(t *testing.T) {
	read := func(data string, limit, line int64) error {
		_, err := io.Copy(io.Discard, Reader(strings.NewReader(data), "m.yaml", "manifest", limit, line))
		return err
	}
	if err := read("ab\ncd\n", 6, 2); err != nil {
		t.Errorf("at the caps: %v", err)
	}
	if err := read("ab\ncd\ne", 6, 2); !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "larger than 6 bytes") {
		t.Errorf("over the total: %v", err)
	}
	if err := read("ab\ncde\n", 100, 2); !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "has a line longer than 2 bytes") {
		t.Errorf("over the line cap: %v", err)
	}
	z, err := os.Open("/dev/zero")
	if err != nil {
		t.Skip(err)
	}
	defer z.Close()
	if _, err := io.Copy(io.Discard, Reader(z, "/dev/zero", "journal", 1<<20, 0)); !errors.Is(err, ErrTooLarge) {
		t.Errorf("endless: %v", err)
	}
}

func TestOpenFileCreates(t *testing.T) {
	p := filepath.Join(t.TempDir(), "journal")
	f, err := OpenFile(p, "journal", os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	if _, err := OpenFile(filepath.Dir(p), "journal", os.O_RDWR|os.O_CREATE, 0o600); err == nil {
		t.Error("a directory opened as a journal")
	}
}
