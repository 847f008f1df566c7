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
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
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
	size := len(plaintext)
	if size == 0 {
		return nil, errors.New("kwp: plaintext is empty; RFC 5649 wraps 1 byte or more")
	}
	if uint64(size) > MaxPlaintext {
		return nil, fmt.Errorf("kwp: plaintext is %d bytes; RFC 5649 wraps at most %d", size, uint64(MaxPlaintext))
	}
	n := (size + 7) / 8 // 64-bit semiblocks after padding
	w := load(plaintext, n)
	aiv := uint64(aivPrefix)<<32 | uint64(size)
	if n == 1 {
		// RFC 5649 §4.1: a single 64-bit block is encrypted once, in ECB
		// mode; w is already A || P[1].
		binary.BigEndian.PutUint64(w[:8], aiv)
		b.Encrypt(w, w)
		return w, nil
	}
	a := wrapCore(b, w, bits.ReverseBytes64(aiv))
	// Compact the work area into C[0] || C[1] || ... || C[n], in place:
	// semiblock i moves from 16i+8 down to 8i+8, never over one not yet read.
	binary.LittleEndian.PutUint64(w[:8], a)
	for i := 1; i < n; i++ {
		binary.LittleEndian.PutUint64(w[8+8*i:], binary.LittleEndian.Uint64(w[16*i+8:]))
	}
	out := w[: 8+8*n : 8+8*n]
	clear(w[8+8*n:]) // intermediate values; keep nothing past the result
	return out, nil
}

// load lays src (zero-padded to n semiblocks) out as the work area the core
// loops use: 16 bytes per semiblock, R[i] in the upper half of block i-1 and
// the lower half a slot where A is stored before that block is enciphered.
//
// This layout is what makes the loop fast. Each step stores the 8 bytes of A
// and then hands the block to AES, which loads all 16 bytes at once. A
// 16-byte load cannot be forwarded from a pending 8-byte store, so it waits
// for that store to reach the cache; pure Go has no way to write the block
// with one 16-byte store, so one such wait per step is the floor. Here R[i]
// was written by AES n steps earlier and is long in the cache, so the loop
// copies no R[i] in or out and adds no second pending store to wait for (as
// reusing one 16-byte buffer for every step would).
func load(src []byte, n int) []byte {
	w := make([]byte, 16*n)
	full := len(src) / 8
	for i := 0; i < full; i++ {
		binary.LittleEndian.PutUint64(w[16*i+8:], binary.LittleEndian.Uint64(src[8*i:]))
	}
	if full < n {
		copy(w[16*full+8:], src[8*full:]) // the padding bytes stay zero
	}
	return w
}

// wrapCore runs the RFC 3394 W function over the work area w (see load),
// n = len(w)/16 >= 2 semiblocks, with the initial value a (A as loaded
// little-endian from its big-endian bytes). It returns the final A in the
// same form and leaves the final R[i] in w.
func wrapCore(b cipher.Block, w []byte, a uint64) uint64 {
	t := uint64(1)
	for j := 0; j < 6; j++ {
		for r := w; len(r) >= 16; r = r[16:] {
			blk := r[:16:16]
			binary.LittleEndian.PutUint64(blk, a)
			b.Encrypt(blk, blk)
			// A = MSB64(B) ^ t, t big-endian: xor the byte-swapped t
			// instead of swapping A twice.
			a = binary.LittleEndian.Uint64(blk) ^ bits.ReverseBytes64(t)
			t++
		}
	}
	return a
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
	n := len(wrapped)/8 - 1
	w := load(wrapped[8:], n)
	if n == 1 {
		copy(w[:8], wrapped[:8])
		b.Decrypt(w, w)
	} else {
		a := unwrapCore(b, w, binary.LittleEndian.Uint64(wrapped))
		binary.LittleEndian.PutUint64(w[:8], a)
	}
	defer clear(w)

	// Every check below is branch-free arithmetic on the decrypted values;
	// the only branch is on the combined result.
	aiv := binary.BigEndian.Uint64(w[:8])
	mli := aiv & 0xFFFFFFFF
	padded := uint64(8 * n)
	ok := isZero(aiv>>32 ^ aivPrefix)
	// 8(n-1) < mli <= 8n; mli >= 1 follows since 8(n-1) >= 0.
	ok &= lessOrEq(mli, padded) & lessOrEq(padded-7, mli)
	// The padding is the bytes of R[n] past mli; mli is clamped to
	// [8(n-1), 8n] so a bad length still indexes within R[n].
	m := mli
	m = m + (padded-8-m)&-(1-lessOrEq(padded-8, m)) // max(m, padded-8)
	m = m + (padded-m)&-(1-lessOrEq(m, padded))     // min(m, padded)
	last := binary.BigEndian.Uint64(w[16*n-8:])
	// Keep the low 8n-m bytes of last: shift counts 0..64 bits, and Go
	// defines a 64-bit shift by 64 as 0.
	pad := last & (^uint64(0) >> ((m - (padded - 8)) * 8))
	ok &= isZero(pad)
	if ok != 1 {
		return nil, ErrUnwrap
	}
	out := make([]byte, mli)
	full := int(mli / 8)
	for i := 0; i < full; i++ {
		binary.LittleEndian.PutUint64(out[8*i:], binary.LittleEndian.Uint64(w[16*i+8:]))
	}
	if full < n {
		copy(out[8*full:], w[16*full+8:]) // the partial last semiblock
	}
	return out, nil
}

// unwrapCore runs the RFC 3394 W⁻¹ function over the work area w (see
// load), n = len(w)/16 >= 2 semiblocks, from A = C[0] given as a (loaded
// little-endian). It returns the final A the same way and leaves the
// final R[i] in w.
func unwrapCore(b cipher.Block, w []byte, a uint64) uint64 {
	t := uint64(6 * (len(w) / 16))
	for j := 0; j < 6; j++ {
		for off := len(w) - 16; off >= 0; off -= 16 {
			blk := w[off : off+16 : off+16]
			binary.LittleEndian.PutUint64(blk, a^bits.ReverseBytes64(t))
			b.Decrypt(blk, blk)
			a = binary.LittleEndian.Uint64(blk)
			t--
		}
	}
	return a
}

// isZero returns 1 if x == 0 and 0 otherwise, without branching.
func isZero(x uint64) uint64 {
	return 1 ^ (x|-x)>>63
}

// lessOrEq returns 1 if x <= y and 0 otherwise, without branching. Both
// must be below 1<<63.
func lessOrEq(x, y uint64) uint64 {
	return 1 ^ (y-x)>>63
}
