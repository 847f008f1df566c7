package azkvtest

import (
	"crypto/aes"
	"crypto/subtle"
	"encoding/binary"
	"errors"
)

// AES Key Wrap (RFC 3394, section 2.2.1 and 2.2.2, default IV A6A6A6A6A6A6A6A6),
// the A128KW/A192KW/A256KW algorithms of Managed HSM's wrapKey/unwrapKey
// (docAlgorithmsMHSM: "AES-KW — AES Key Wrap (RFC3394)"). It is
// deterministic, so a holder of the AES key can reproduce the vault's
// answer. Tested against RFC 3394's section 4 vectors.

var errKW = errors.New("azkvtest: AES key wrap: integrity check failed or bad length")

var kwIV = [8]byte{0xA6, 0xA6, 0xA6, 0xA6, 0xA6, 0xA6, 0xA6, 0xA6}

func kwWrap(kek, p []byte) ([]byte, error) {
	if len(p) < 16 || len(p)%8 != 0 {
		return nil, errKW
	}
	b, err := aes.NewCipher(kek)
	if err != nil {
		return nil, err
	}
	n := len(p) / 8
	out := make([]byte, 8+len(p))
	copy(out[:8], kwIV[:])
	copy(out[8:], p)
	var buf [16]byte
	for j := 0; j < 6; j++ {
		for i := 1; i <= n; i++ {
			copy(buf[:8], out[:8])
			copy(buf[8:], out[8*i:8*i+8])
			b.Encrypt(buf[:], buf[:])
			t := uint64(n*j + i)
			binary.BigEndian.PutUint64(out[:8], binary.BigEndian.Uint64(buf[:8])^t)
			copy(out[8*i:8*i+8], buf[8:])
		}
	}
	clear(buf[:])
	return out, nil
}

func kwUnwrap(kek, c []byte) ([]byte, error) {
	if len(c) < 24 || len(c)%8 != 0 {
		return nil, errKW
	}
	b, err := aes.NewCipher(kek)
	if err != nil {
		return nil, err
	}
	n := len(c)/8 - 1
	a := make([]byte, 8)
	copy(a, c[:8])
	r := make([]byte, len(c)-8)
	copy(r, c[8:])
	var buf [16]byte
	for j := 5; j >= 0; j-- {
		for i := n; i >= 1; i-- {
			t := uint64(n*j + i)
			binary.BigEndian.PutUint64(buf[:8], binary.BigEndian.Uint64(a)^t)
			copy(buf[8:], r[8*(i-1):8*i])
			b.Decrypt(buf[:], buf[:])
			copy(a, buf[:8])
			copy(r[8*(i-1):8*i], buf[8:])
		}
	}
	clear(buf[:])
	if subtle.ConstantTimeCompare(a, kwIV[:]) != 1 {
		clear(r)
		return nil, errKW
	}
	return r, nil
}
