package bench

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/subtle"
	"encoding/binary"
	"math/bits"
	"testing"
)

// BenchmarkAESChainStall shows what bounds the RFC 5649 loop in pure Go
// (docs/benchmarks.md, "The KWP loop and its bound"). Each variant runs
// 6·n = 1782 chained AES-256 encryptions through crypto/aes, the work of
// wrapping 2375 bytes, and differs only in how the next block's input is
// made from the previous block's output:
//
//   - bound: the output is the next input (AES stores 16 bytes, AES loads
//     them): the latency bound of OpKWP, as BenchmarkAESChainBound in
//     internal/kwp and the aes-chain-bound row measure it.
//   - store8-load16: what a KWP step must do in Go: load A (8 bytes), xor
//     t, store A (8 bytes) into the block AES then loads (16 bytes). A
//     16-byte load cannot be forwarded from a pending 8-byte store.
//   - xor16: the same xor of t, done with 16-byte loads and stores
//     (crypto/subtle.XORBytes): forwarding works, but the extra call and
//     memory round trip cost as much.
//   - temp16: A and a constant R written to a [16]byte with two 8-byte
//     stores and copied with one 16-byte move: the failed forwarding moves
//     to the copy.
//   - no-store-back: the load and xor of A off the chain (the next input
//     does not depend on A): the extra instructions themselves are free.
//   - ctr: the block made in a register by CTR mode's assembly (the IV is
//     passed as two uint64), which avoids the stall but needs a new
//     cipher.Stream, and an allocation, per block.
func BenchmarkAESChainStall(b *testing.B) {
	const steps = 6 * ((2375 + 7) / 8)
	c, err := aes.NewCipher(kwpKEK)
	if err != nil {
		b.Fatal(err)
	}
	var buf, mask, tmp, zero [16]byte
	variants := []struct {
		name string
		f    func()
	}{
		{"bound", func() {
			for range steps {
				c.Encrypt(buf[:], buf[:])
			}
		}},
		{"store8-load16", func() {
			for t := uint64(1); t <= steps; t++ {
				c.Encrypt(buf[:], buf[:])
				a := binary.LittleEndian.Uint64(buf[:8]) ^ bits.ReverseBytes64(t)
				binary.LittleEndian.PutUint64(buf[:8], a)
			}
		}},
		{"xor16", func() {
			for t := uint64(1); t <= steps; t++ {
				c.Encrypt(buf[:], buf[:])
				binary.BigEndian.PutUint64(mask[:8], t)
				subtle.XORBytes(buf[:], buf[:], mask[:])
			}
		}},
		{"temp16", func() {
			for t := uint64(1); t <= steps; t++ {
				c.Encrypt(buf[:], buf[:])
				a := binary.LittleEndian.Uint64(buf[:8]) ^ bits.ReverseBytes64(t)
				binary.LittleEndian.PutUint64(tmp[:8], a)
				binary.LittleEndian.PutUint64(tmp[8:], t)
				buf = tmp
			}
		}},
		{"no-store-back", func() {
			var acc uint64
			for t := uint64(1); t <= steps; t++ {
				c.Encrypt(buf[:], buf[:])
				acc ^= binary.LittleEndian.Uint64(buf[:8]) ^ bits.ReverseBytes64(t)
			}
			binary.LittleEndian.PutUint64(mask[:8], acc)
		}},
		{"ctr", func() {
			for t := uint64(1); t <= steps; t++ {
				cipher.NewCTR(c, buf[:]).XORKeyStream(buf[:], zero[:])
				a := binary.LittleEndian.Uint64(buf[:8]) ^ bits.ReverseBytes64(t)
				binary.LittleEndian.PutUint64(buf[:8], a)
			}
		}},
	}
	for _, v := range variants {
		b.Run(v.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				v.f()
			}
			sink = buf[:]
		})
	}
}
