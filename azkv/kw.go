package azkv

import (
	"crypto/aes"
	"encoding/binary"
	"errors"
)

// aesKW is AES key wrap without padding, RFC 3394 section 2.2.1 (the
// A128KW/A192KW/A256KW of JWA, RFC 7518 section 4.4): deterministic, so a
// key vault's WrapKey output can be compared with the source's own.
func aesKW(kek, p []byte) ([]byte, error) {
	if len(p) < 16 || len(p)%8 != 0 {
		return nil, errors.New("azkv: AES key wrap takes a multiple of 8 bytes, at least 16")
	}
	b, err := aes.NewCipher(kek)
	if err != nil {
		return nil, err
	}
	n := len(p) / 8
	a := uint64(0xA6A6A6A6A6A6A6A6) // the default initial value, 2.2.3.1
	r := append([]byte(nil), p...)
	var buf [16]byte
	for j := 0; j < 6; j++ {
		for i := 1; i <= n; i++ {
			binary.BigEndian.PutUint64(buf[:8], a)
			copy(buf[8:], r[(i-1)*8:i*8])
			b.Encrypt(buf[:], buf[:])
			a = binary.BigEndian.Uint64(buf[:8]) ^ uint64(n*j+i)
			copy(r[(i-1)*8:i*8], buf[8:])
		}
	}
	clear(buf[:])
	out := binary.BigEndian.AppendUint64(make([]byte, 0, 8+len(r)), a)
	return append(out, r...), nil
}
