// Package kwp implements AES Key Wrap with Padding (RFC 5649, also NIST SP
// 800-38F KWP) for 128-, 192- and 256-bit key-encryption keys.
//
// It is the second half of the RSA_AES_KEY_WRAP construction AWS KMS (and
// PKCS#11's CKM_RSA_AES_KEY_WRAP) uses. The standard library has no key wrap,
// and golang.org/x/crypto has none either, so this package implements it;
// it is checked against RFC 5649 §6, every Wycheproof aes_kwp vector and
// OpenSSL 3's id-aes256-wrap-pad.
package kwp

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
)

// aivPrefix is the RFC 5649 §3 alternative initial value's constant half.
const aivPrefix = 0xA65959A6

// MaxPlaintext is the largest plaintext RFC 5649 can wrap (the 32-bit
// message length indicator).
const MaxPlaintext = 1<<32 - 1

// ErrUnwrap is returned for every integrity failure during Unwrap. It
// deliberately does not say which check failed.
var ErrUnwrap = errors.New("kwp: unwrap failed: ciphertext is not authentic under this key")

func newCipher(kek []byte) (cipher.Block, error) {
	switch len(kek) {
	case 16, 24, 32:
	default:
		return nil, fmt.Errorf("kwp: key-encryption key is %d bytes; want 16, 24 or 32 (AES-128/192/256)", len(kek))
	}
	return aes.NewCipher(kek)
}

// Wrap wraps plaintext (1 to MaxPlaintext bytes) under kek as RFC 5649
// specifies. The result is 8 bytes longer than plaintext rounded up to a
// multiple of 8.
func Wrap(kek, plaintext []byte) ([]byte, error) {
	b, err := newCipher(kek)
	if err != nil {
		return nil, err
	}
	n := len(plaintext)
	if n == 0 {
		return nil, errors.New("kwp: plaintext is empty; RFC 5649 wraps 1 byte or more")
	}
	if uint64(n) > MaxPlaintext {
		return nil, fmt.Errorf("kwp: plaintext is %d bytes; RFC 5649 wraps at most %d", n, uint64(MaxPlaintext))
	}
	padded := (n + 7) &^ 7
	out := make([]byte, 8+padded)
	binary.BigEndian.PutUint32(out[0:4], aivPrefix)
	binary.BigEndian.PutUint32(out[4:8], uint32(n))
	copy(out[8:], plaintext) // the padding bytes stay zero
	if padded == 8 {
		// RFC 5649 §4.1: a single 64-bit block is encrypted once, in ECB mode.
		b.Encrypt(out, out)
		return out, nil
	}
	wrapCore(b, out)
	return out, nil
}

// wrapCore runs the RFC 3394 W function in place over out = A || R[1..n].
func wrapCore(b cipher.Block, out []byte) {
	n := len(out)/8 - 1
	var buf [16]byte
	copy(buf[:8], out[:8])
	t := uint64(1)
	for j := 0; j < 6; j++ {
		for i := 1; i <= n; i++ {
			r := out[8*i : 8*i+8]
			copy(buf[8:], r)
			b.Encrypt(buf[:], buf[:])
			a := binary.BigEndian.Uint64(buf[:8]) ^ t
			binary.BigEndian.PutUint64(buf[:8], a)
			copy(r, buf[8:])
			t++
		}
	}
	copy(out[:8], buf[:8])
}

// Unwrap reverses Wrap. It checks, in constant time with respect to the
// plaintext, the alternative initial value, the length indicator's range and
// that the padding bytes are zero, and returns ErrUnwrap when any check fails.
func Unwrap(kek, wrapped []byte) ([]byte, error) {
	b, err := newCipher(kek)
	if err != nil {
		return nil, err
	}
	if len(wrapped) < 16 || len(wrapped)%8 != 0 {
		return nil, ErrUnwrap
	}
	buf := make([]byte, len(wrapped))
	copy(buf, wrapped)
	if len(buf) == 16 {
		b.Decrypt(buf, buf)
	} else {
		unwrapCore(b, buf)
	}
	padded := len(buf) - 8
	mli := binary.BigEndian.Uint32(buf[4:8])
	ok := subtle.ConstantTimeCompare(buf[0:4], []byte{0xA6, 0x59, 0x59, 0xA6})
	// padded-8 < mli <= padded, with mli >= 1.
	lenOK := 1
	if uint64(mli) > uint64(padded) || uint64(mli)+8 <= uint64(padded) || mli == 0 {
		lenOK = 0
	}
	ok &= lenOK
	// Every byte past mli must be zero; clamp mli so a bad length indexes safely.
	m := int(mli)
	if m > padded {
		m = padded
	}
	var pad byte
	for i := padded - 8; i < padded; i++ {
		// Only bytes at index >= m count toward the padding check.
		inPad := subtle.ConstantTimeLessOrEq(m, i) // 1 when m <= i
		pad |= buf[8+i] & byte(-inPad)
	}
	ok &= subtle.ConstantTimeByteEq(pad, 0)
	if ok != 1 {
		clear(buf)
		return nil, ErrUnwrap
	}
	out := make([]byte, mli)
	copy(out, buf[8:8+mli])
	clear(buf)
	return out, nil
}

// unwrapCore runs the RFC 3394 W⁻¹ function in place over buf = C[0..n].
func unwrapCore(b cipher.Block, buf []byte) {
	n := len(buf)/8 - 1
	var blk [16]byte
	copy(blk[:8], buf[:8])
	t := uint64(6 * n)
	for j := 5; j >= 0; j-- {
		for i := n; i >= 1; i-- {
			r := buf[8*i : 8*i+8]
			a := binary.BigEndian.Uint64(blk[:8]) ^ t
			binary.BigEndian.PutUint64(blk[:8], a)
			copy(blk[8:], r)
			b.Decrypt(blk[:], blk[:])
			copy(r, blk[8:])
			t--
		}
	}
	copy(buf[:8], blk[:8])
	clear(blk[:])
}
