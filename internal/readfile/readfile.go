// Package readfile reads the files a user names (key files, passphrase and
// PIN files, key policies, public keys, import parameters, manifests and
// journals) with a size cap fitting each kind, and refuses anything that is
// not a regular file before reading a byte of it.
//
// A plain open of a FIFO blocks until a writer appears, and Stat().Size() is
// 0 for /dev/zero, which never ends: so a file is opened with O_NONBLOCK,
// checked with fstat on the opened descriptor (no race with a rename), and
// read through a limit that is enforced while reading.
package readfile

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
)

// Caps for each kind of file. They are generous for the real thing and
// small enough that memory stays flat whatever the input.
const (
	// KeyFile: a 4096-bit RSA key in PEM is under 4 KiB; a PKCS#12 file
	// with a certificate chain a few tens of KiB.
	KeyFile = 1 << 20
	// Secret: a passphrase or PIN file. PKCS#11 PINs are at most a few
	// hundred bytes (CloudHSM's user:password included).
	Secret = 4 << 10
	// Policy: KMS takes key policies of at most 32 KiB
	// (https://docs.aws.amazon.com/kms/latest/APIReference/API_CreateKey.html,
	// Policy: "maximum length of 32768").
	Policy = 32 << 10
	// PublicKey: a SubjectPublicKeyInfo is under 1 KiB; PEM, comments and
	// a certificate chain fit comfortably.
	PublicKey = 64 << 10
	// Params: a wrapping public key is under 600 bytes, an import token a
	// few KiB, encrypted key material at most 6144 bytes.
	Params = 64 << 10
	// ConsoleZip: the ImportParameters.zip the KMS console downloads.
	ConsoleZip = 1 << 20
	// Manifest: a migration manifest is streamed, never held whole; 256
	// MiB is over a million keys.
	Manifest = 256 << 20
	// ManifestLine bounds one line of a YAML manifest, so that a file
	// without line breaks cannot grow the line buffer to the whole cap.
	ManifestLine = 1 << 20
	// Journal: a migration journal is replayed line by line; 1 GiB is
	// millions of entries.
	Journal = 1 << 30
	// JournalLine bounds one journal line (an entry is under 1 KiB).
	JournalLine = 1 << 20
)

// Error is a file refused: not a regular file, or larger than its cap.
type Error struct {
	Path string // the file as named
	What string // what the file should be: "key file", "passphrase file", …
	// Type is what the file is when it is not a regular file ("a
	// directory", "a FIFO (named pipe)", "a character device", …); empty
	// for an over-cap file.
	Type  string
	Limit int64 // the cap, for an over-cap file
	Line  bool  // the cap is on one line, not the whole file
}

func (e *Error) Error() string {
	if e.Type != "" {
		return fmt.Sprintf("%s is %s, not a regular file: give the path of a %s (byok reads only regular files, so that it cannot block or read without end)", e.Path, e.Type, e.What)
	}
	if e.Line {
		return fmt.Sprintf("%s has a line longer than %s, the most byok reads in one line of a %s: it is not a %s", e.Path, Size(e.Limit), e.What, e.What)
	}
	return fmt.Sprintf("%s is larger than %s, the most byok reads from a %s: it is not a %s, or give a smaller one", e.Path, Size(e.Limit), e.What, e.What)
}

// ErrTooLarge is matched (errors.Is) by every over-cap *Error.
var ErrTooLarge = errors.New("readfile: file too large")

// ErrNotRegular is matched (errors.Is) by every non-regular-file *Error.
var ErrNotRegular = errors.New("readfile: not a regular file")

// Is makes errors.Is(err, ErrTooLarge) and errors.Is(err, ErrNotRegular)
// work.
func (e *Error) Is(target error) bool {
	switch target {
	case ErrTooLarge:
		return e.Type == ""
	case ErrNotRegular:
		return e.Type != ""
	}
	return false
}

// Size formats a byte count as byok's messages do: "32 KiB", "1 MiB".
func Size(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%d GiB", n>>30)
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

// describe names a non-regular file mode.
func describe(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&fs.ModeNamedPipe != 0:
		return "a FIFO (named pipe)"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a block device"
	case m&fs.ModeIrregular != 0:
		return "an irregular file"
	}
	return "not a regular file (" + m.Type().String() + ")"
}

// OpenFile opens path with flag (os.O_RDONLY, or os.O_RDWR|os.O_CREATE for
// a journal) without blocking, and returns it only if it is a regular file;
// otherwise it closes it and returns an *Error naming what the file is.
// Symbolic links are followed: a link to /dev/zero is a character device.
func OpenFile(path, what string, flag int, perm fs.FileMode) (*os.File, error) {
	f, err := os.OpenFile(path, flag|nonblock, perm)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat() // fstat on the opened descriptor
	if err != nil {
		f.Close()
		return nil, err
	}
	if !st.Mode().IsRegular() {
		f.Close()
		return nil, &Error{Path: path, What: what, Type: describe(st.Mode())}
	}
	return f, nil
}

// Open opens path for reading (see OpenFile).
func Open(path, what string) (*os.File, error) {
	return OpenFile(path, what, os.O_RDONLY, 0)
}

// ReadFile reads a regular file of at most limit bytes. A larger file is
// refused with an *Error after reading limit+1 bytes, whatever its size
// claims to be; memory use is O(limit).
func ReadFile(path, what string, limit int64) ([]byte, error) {
	f, err := Open(path, what)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ReadAll(f, path, what, limit)
}

// ReadAll reads r to its end, refusing more than limit bytes with an *Error
// naming path. The buffer grows by doubling up to limit+1 and never beyond.
// On error the bytes read so far are cleared (they may be a secret).
func ReadAll(r io.Reader, path, what string, limit int64) ([]byte, error) {
	buf := make([]byte, 0, min(limit+1, 4096))
	lr := io.LimitReader(r, limit+1)
	for {
		if len(buf) == cap(buf) {
			// Grow by hand, clearing the old buffer: append's growth
			// would leave copies of a secret behind.
			nb := make([]byte, len(buf), min(2*cap(buf), int(limit+1)))
			copy(nb, buf)
			clear(buf)
			buf = nb
		}
		n, err := lr.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if int64(len(buf)) > limit {
			clear(buf)
			return nil, &Error{Path: path, What: what, Limit: limit}
		}
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			clear(buf)
			return nil, err
		}
	}
}

// Reader returns a reader of r that fails with an *Error naming path once
// more than limit bytes have been read in total, or, with line > 0, more
// than line bytes without a '\n'. It is for files that are streamed (a
// manifest, a journal): the caller's buffers stay bounded by line.
func Reader(r io.Reader, path, what string, limit, line int64) io.Reader {
	return &capReader{r: r, path: path, what: what, left: limit, limit: limit, line: line}
}

type capReader struct {
	r                 io.Reader
	path, what        string
	left, limit, line int64
	run               int64 // bytes since the last '\n'
	err               error
}

func (c *capReader) Read(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	// Read one byte more than allowed to tell "exactly at the cap" from
	// "over it".
	if int64(len(p)) > c.left+1 {
		p = p[:c.left+1]
	}
	n, err := c.r.Read(p)
	if int64(n) > c.left {
		c.err = &Error{Path: c.path, What: c.what, Limit: c.limit}
		return 0, c.err
	}
	c.left -= int64(n)
	if c.line > 0 {
		for rest := p[:n]; ; {
			i := bytes.IndexByte(rest, '\n')
			if i < 0 {
				c.run += int64(len(rest))
			} else {
				c.run += int64(i)
			}
			if c.run > c.line {
				c.err = &Error{Path: c.path, What: c.what, Limit: c.line, Line: true}
				return 0, c.err
			}
			if i < 0 {
				break
			}
			c.run, rest = 0, rest[i+1:]
		}
	}
	return n, err
}
