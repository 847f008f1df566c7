//go:build !unix

package readfile

// nonblock is 0 where O_NONBLOCK does not exist (Windows has no FIFOs in
// the file system).
const nonblock = 0
