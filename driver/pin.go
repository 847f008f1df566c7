package driver

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/byok-go/byok/internal/readfile"
)

// PINSource supplies a secret (a PKCS#11 PIN, a key file passphrase) when it
// is needed. The caller clears the returned bytes after use.
type PINSource interface {
	PIN(ctx context.Context) ([]byte, error)
}

// PINFunc adapts a function to PINSource.
type PINFunc func(ctx context.Context) ([]byte, error)

// PIN calls f.
func (f PINFunc) PIN(ctx context.Context) ([]byte, error) { return f(ctx) }

// PINFromEnv reads the secret from an environment variable. It fails if the
// variable is unset or empty.
func PINFromEnv(name string) PINSource {
	return PINFunc(func(context.Context) ([]byte, error) {
		v, ok := os.LookupEnv(name)
		if !ok || v == "" {
			return nil, fmt.Errorf("driver: the environment variable %s holding the secret (PIN or passphrase) is not set", name)
		}
		return []byte(v), nil
	})
}

// PINFromFile reads the secret from the first line of a file (a trailing
// newline is dropped). The file should be readable by its owner only. It
// must be a regular file of at most 4 KiB: a device, a FIFO or a directory
// is refused without reading (or blocking on) it.
func PINFromFile(path string) PINSource {
	return PINFunc(func(context.Context) ([]byte, error) {
		b, err := readfile.ReadFile(path, "PIN or passphrase file", readfile.Secret)
		if err != nil {
			return nil, fmt.Errorf("driver: reading the PIN or passphrase file: %w", err)
		}
		line, _, _ := bytes.Cut(b, []byte("\n"))
		line = bytes.TrimSuffix(line, []byte("\r"))
		out := append([]byte(nil), line...)
		clear(b)
		if len(out) == 0 {
			return nil, fmt.Errorf("driver: the PIN or passphrase file %s is empty", path)
		}
		return out, nil
	})
}

// PINPrompt asks for the secret on out and reads one line from in. A
// terminal's echo is not turned off by this function; callers with a
// terminal should turn it off first (the byok command does).
func PINPrompt(prompt string, in io.Reader, out io.Writer) PINSource {
	return PINFunc(func(context.Context) ([]byte, error) {
		fmt.Fprint(out, prompt)
		line, err := bufio.NewReader(in).ReadBytes('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("driver: reading the PIN: %w", err)
		}
		line = bytes.TrimRight(line, "\r\n")
		if len(line) == 0 {
			return nil, errors.New("driver: no PIN was entered")
		}
		return line, nil
	})
}
