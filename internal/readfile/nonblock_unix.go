//go:build unix

package readfile

import "syscall"

// nonblock makes open(2) of a FIFO return at once instead of waiting for a
// writer; it changes nothing for a regular file.
const nonblock = syscall.O_NONBLOCK
