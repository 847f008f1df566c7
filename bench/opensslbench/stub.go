//go:build !(openssl && cgo)

// Package opensslbench runs OpenSSL 3 side by side with byok for the
// benchmark suite. This build has no OpenSSL: build with -tags openssl
// (and cgo, and libcrypto) to have it; here every function returns
// ErrUnavailable.
package opensslbench

import (
	"errors"

	"github.com/byok-go/byok"
)

// Available reports whether the package was built with OpenSSL.
const Available = false

// ErrUnavailable is returned by every function of a build without
// -tags openssl (or without cgo).
var ErrUnavailable = errors.New("opensslbench: built without -tags openssl (or without cgo)")

// Version returns "" in a build without OpenSSL.
func Version() string { return "" }

// WrapPad returns ErrUnavailable in a build without OpenSSL.
func WrapPad(kek, plaintext []byte, iters int) ([]byte, error) { return nil, ErrUnavailable }

// PublicKey is a wrapping public key loaded into OpenSSL; in a build
// without OpenSSL there is none.
type PublicKey struct{}

// ParsePublicKey returns ErrUnavailable in a build without OpenSSL.
func ParsePublicKey(spki []byte) (*PublicKey, error) { return nil, ErrUnavailable }

// Close does nothing.
func (k *PublicKey) Close() {}

// Wrap returns ErrUnavailable in a build without OpenSSL.
func (k *PublicKey) Wrap(alg byok.WrappingAlgorithm, material []byte, iters int) ([]byte, error) {
	return nil, ErrUnavailable
}
