//go:build goexperiment.simd && amd64

package bench

// A prototype, in test code only, of the RFC 5649 loop with the AES
// rounds as compiler intrinsics (simd/archsimd, GOEXPERIMENT=simd, Go
// 1.26): A stays in a register, so no 16-byte load waits for an 8-byte
// store. It shows what the pure-Go loop loses to the store-forwarding
// stall (docs/benchmarks.md). Not for production: the package is
// experimental, and the key expansion here is a table-based one written
// for the experiment.
//
//	GOEXPERIMENT=simd go test -run KWPSIMD -bench KWPSIMD ./bench/

import (
	"bytes"
	"crypto/aes"
	"crypto/rand"
	"encoding/binary"
	"math/bits"
	"simd/archsimd"
	"testing"

	"github.com/byok-go/byok/internal/kwp"
)

var simdSbox = func() (s [256]byte) {
	p, q := byte(1), byte(1)
	for {
		hi := p & 0x80
		p ^= p << 1
		if hi != 0 {
			p ^= 0x1b
		}
		q ^= q << 1
		q ^= q << 2
		q ^= q << 4
		if q&0x80 != 0 {
			q ^= 0x09
		}
		s[p] = q ^ bits.RotateLeft8(q, 1) ^ bits.RotateLeft8(q, 2) ^ bits.RotateLeft8(q, 3) ^ bits.RotateLeft8(q, 4) ^ 0x63
		if p == 1 {
			break
		}
	}
	s[0] = 0x63
	return s
}()

// simdExpand256 returns AES-256's 15 round keys as AESENC takes them.
func simdExpand256(key []byte) (rk [15][4]uint32) {
	sub := func(w uint32) uint32 {
		return uint32(simdSbox[w>>24])<<24 | uint32(simdSbox[w>>16&0xff])<<16 | uint32(simdSbox[w>>8&0xff])<<8 | uint32(simdSbox[w&0xff])
	}
	var w [60]uint32
	for i := range 8 {
		w[i] = binary.BigEndian.Uint32(key[4*i:])
	}
	rcon := uint32(1)
	for i := 8; i < 60; i++ {
		t := w[i-1]
		switch i % 8 {
		case 0:
			t = sub(bits.RotateLeft32(t, 8)) ^ rcon<<24
			rcon <<= 1
		case 4:
			t = sub(t)
		}
		w[i] = w[i-8] ^ t
	}
	for r := range 15 {
		for c := range 4 {
			rk[r][c] = bits.ReverseBytes32(w[4*r+c])
		}
	}
	return rk
}

type simdKeys struct {
	k0                                                          archsimd.Uint64x2
	k1, k2, k3, k4, k5, k6, k7, k8, k9, k10, k11, k12, k13, k14 archsimd.Uint32x4
}

func newSIMDKeys(key []byte) *simdKeys {
	rk := simdExpand256(key)
	return &simdKeys{archsimd.LoadUint32x4(&rk[0]).AsUint64x2(),
		archsimd.LoadUint32x4(&rk[1]), archsimd.LoadUint32x4(&rk[2]), archsimd.LoadUint32x4(&rk[3]),
		archsimd.LoadUint32x4(&rk[4]), archsimd.LoadUint32x4(&rk[5]), archsimd.LoadUint32x4(&rk[6]),
		archsimd.LoadUint32x4(&rk[7]), archsimd.LoadUint32x4(&rk[8]), archsimd.LoadUint32x4(&rk[9]),
		archsimd.LoadUint32x4(&rk[10]), archsimd.LoadUint32x4(&rk[11]), archsimd.LoadUint32x4(&rk[12]),
		archsimd.LoadUint32x4(&rk[13]), archsimd.LoadUint32x4(&rk[14])}
}

// rounds runs AES-256 rounds 1 to 14 on a state already xored with k0.
func (k *simdKeys) rounds(s archsimd.Uint8x16) archsimd.Uint8x16 {
	return s.AESEncryptOneRound(k.k1).AESEncryptOneRound(k.k2).AESEncryptOneRound(k.k3).AESEncryptOneRound(k.k4).
		AESEncryptOneRound(k.k5).AESEncryptOneRound(k.k6).AESEncryptOneRound(k.k7).AESEncryptOneRound(k.k8).
		AESEncryptOneRound(k.k9).AESEncryptOneRound(k.k10).AESEncryptOneRound(k.k11).AESEncryptOneRound(k.k12).
		AESEncryptOneRound(k.k13).AESEncryptLastRound(k.k14)
}

// simdWrap is RFC 5649 wrap under a 32-byte key of 9 bytes or more, A
// kept in a vector register: each step inserts R[i] into lane 1 and xors
// in t and round key 0 (a vector built off the chain).
func simdWrap(key, pt []byte) []byte {
	k := newSIMDKeys(key)
	n := (len(pt) + 7) / 8
	r := make([]uint64, n)
	var last [8]byte
	for i := range n {
		if 8*i+8 <= len(pt) {
			r[i] = binary.LittleEndian.Uint64(pt[8*i:])
		} else {
			copy(last[:], pt[8*i:])
			r[i] = binary.LittleEndian.Uint64(last[:])
		}
	}
	var z archsimd.Uint64x2
	av := z.SetElem(0, bits.ReverseBytes64(uint64(0xA65959A6)<<32|uint64(len(pt))))
	tk := k.k0
	t := uint64(1)
	for range 6 {
		for i := range r {
			s := k.rounds(av.SetElem(1, r[i]).Xor(tk).AsUint8x16())
			av = s.AsUint64x2()
			r[i] = av.GetElem(1)
			tk = z.SetElem(0, bits.ReverseBytes64(t)).Xor(k.k0)
			t++
		}
	}
	out := make([]byte, 8+8*n)
	binary.LittleEndian.PutUint64(out, av.Xor(tk).Xor(k.k0).GetElem(0))
	for i, v := range r {
		binary.LittleEndian.PutUint64(out[8+8*i:], v)
	}
	return out
}

// simdChain runs steps chained AES-256 encryptions, the state in a
// register: the latency of the AES rounds alone.
func simdChain(k *simdKeys, steps int) uint64 {
	var s archsimd.Uint8x16
	k0 := k.k0.AsUint8x16()
	for range steps {
		s = k.rounds(s.Xor(k0))
	}
	return s.AsUint64x2().GetElem(0)
}

func TestKWPSIMDAgrees(t *testing.T) {
	if !archsimd.X86.AVXAES() {
		t.Skip("no AVX and AES-NI")
	}
	for range 50 {
		key := make([]byte, 32)
		rand.Read(key)
		for _, n := range []int{9, 16, 17, 100, 2375, 4096} {
			pt := make([]byte, n)
			rand.Read(pt)
			want, err := kwp.Wrap(key, pt)
			if err != nil {
				t.Fatal(err)
			}
			if got := simdWrap(key, pt); !bytes.Equal(got, want) {
				t.Fatalf("%d bytes: the prototype disagrees with kwp.Wrap", n)
			}
		}
		c, _ := aes.NewCipher(key)
		var want [16]byte
		c.Encrypt(want[:], want[:])
		var got [8]byte
		binary.LittleEndian.PutUint64(got[:], simdChain(newSIMDKeys(key), 1))
		if !bytes.Equal(got[:], want[:8]) {
			t.Fatal("the prototype's AES disagrees with crypto/aes")
		}
	}
}

// BenchmarkKWPSIMD compares, for 2375 bytes under AES-256: kwp.Wrap (pure
// Go, crypto/aes), the prototype, the chain bound through crypto/aes and
// the chain in a register.
func BenchmarkKWPSIMD(b *testing.B) {
	if !archsimd.X86.AVXAES() {
		b.Skip("no AVX and AES-NI")
	}
	pt := fixturesOrFatal(b)
	c, _ := aes.NewCipher(kwpKEK)
	keys := newSIMDKeys(kwpKEK)
	const steps = 6 * ((2375 + 7) / 8)
	var buf [16]byte
	var u uint64
	for _, v := range []struct {
		name string
		f    func()
	}{
		{"kwp.Wrap", func() { sink, _ = kwp.Wrap(kwpKEK, pt) }},
		{"prototype", func() { sink = simdWrap(kwpKEK, pt) }},
		{"bound-crypto-aes", func() {
			for range steps {
				c.Encrypt(buf[:], buf[:])
			}
		}},
		{"bound-in-register", func() { u ^= simdChain(keys, steps) }},
	} {
		b.Run(v.name, func(b *testing.B) {
			for b.Loop() {
				v.f()
			}
		})
	}
	sink = binary.LittleEndian.AppendUint64(buf[:], u)
}

func fixturesOrFatal(tb testing.TB) []byte {
	if err := loadFixtures(); err != nil {
		tb.Fatal(err)
	}
	return fixtures.material["RSA_4096"]
}
