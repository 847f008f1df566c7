//go:build openssl && cgo

package kwp

import (
	"bytes"
	"crypto/aes"
	"crypto/rand"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"
)

// TestOpenSSLAgrees checks Wrap against OpenSSL 3's EVP_aes_*_wrap_pad
// byte for byte, for every KEK size and a spread of plaintext lengths.
func TestOpenSSLAgrees(t *testing.T) {
	lengths := []int{1, 2, 7, 8, 9, 15, 16, 17, 24, 31, 32, 33, 64, 255, 256, 257, 1000, 2375, 4096}
	for _, kl := range []int{16, 24, 32} {
		for _, n := range lengths {
			for rep := 0; rep < 3; rep++ {
				kek := make([]byte, kl)
				pt := make([]byte, n)
				rand.Read(kek)
				rand.Read(pt)
				want, err := opensslWrapPad(kek, pt)
				if err != nil {
					t.Fatalf("kek %d, len %d: %v", kl, n, err)
				}
				got, err := Wrap(kek, pt)
				if err != nil {
					t.Fatalf("kek %d, len %d: Wrap: %v", kl, n, err)
				}
				if !bytes.Equal(got, want) {
					t.Fatalf("kek %d, len %d: Wrap = %x, OpenSSL = %x", kl, n, got, want)
				}
				back, err := Unwrap(kek, want)
				if err != nil || !bytes.Equal(back, pt) {
					t.Fatalf("kek %d, len %d: Unwrap(OpenSSL output) = %x, %v", kl, n, back, err)
				}
			}
		}
	}
}

// BenchmarkOpenSSLWrap times OpenSSL's EVP_aes_256_wrap_pad doing a whole
// wrap (context, key schedule, wrap) per operation, like Wrap does. The loop
// runs inside C so no cgo call overhead is counted.
func BenchmarkOpenSSLWrap(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			kek, pt := benchInput(32, n)
			b.SetBytes(int64(n))
			b.ResetTimer()
			if _, err := opensslWrapPadLoop(kek, pt, b.N); err != nil {
				b.Fatal(err)
			}
		})
	}
}

// TestSpeedRatio (run with KWP_SPEED=1) times Wrap, OpenSSL's wrap and the
// AES chain bound of BenchmarkAESChainBound for 2375 bytes under AES-256,
// interleaved round by round so that load from other processes hits all
// three alike, and logs the per-round ratios' medians and the minima.
func TestSpeedRatio(t *testing.T) {
	if os.Getenv("KWP_SPEED") == "" {
		t.Skip("set KWP_SPEED=1 to measure")
	}
	const size, rounds, reps = 2375, 31, 40
	kek, pt := benchInput(32, size)
	c, err := aes.NewCipher(kek)
	if err != nil {
		t.Fatal(err)
	}
	var buf [16]byte
	perOp := func(f func()) float64 {
		start := time.Now()
		f()
		return float64(time.Since(start).Nanoseconds()) / reps
	}
	var ours, ossl, bound, rOSSL, rBound []float64
	for range rounds {
		o := perOp(func() {
			for range reps {
				sink, _ = Wrap(kek, pt)
			}
		})
		s := perOp(func() {
			if _, err := opensslWrapPadLoop(kek, pt, reps); err != nil {
				t.Fatal(err)
			}
		})
		b := perOp(func() {
			for range reps {
				for range 6 * ((size + 7) / 8) {
					c.Encrypt(buf[:], buf[:])
				}
			}
		})
		ours, ossl, bound = append(ours, o), append(ossl, s), append(bound, b)
		rOSSL, rBound = append(rOSSL, o/s), append(rBound, o/b)
	}
	med := func(x []float64) float64 { x = slices.Clone(x); slices.Sort(x); return x[len(x)/2] }
	t.Logf("ns/op median (min): ours %.0f (%.0f), OpenSSL %.0f (%.0f), bound %.0f (%.0f)",
		med(ours), slices.Min(ours), med(ossl), slices.Min(ossl), med(bound), slices.Min(bound))
	t.Logf("per-round ratio medians: ours/OpenSSL %.3f, ours/bound %.3f; ratio of minima: %.3f, %.3f",
		med(rOSSL), med(rBound), slices.Min(ours)/slices.Min(ossl), slices.Min(ours)/slices.Min(bound))
}
