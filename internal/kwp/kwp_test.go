package kwp

import (
	"bytes"
	"crypto/aes"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io/fs"
	"strconv"
	"testing"

	"github.com/c2sp/wycheproof"
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatalf("bad hex %q: %v", s, err)
	}
	return b
}

func randBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// refWrapRaw is an independent, deliberately naive RFC 5649 wrap used as a
// reference and to forge malformed ciphertexts: it wraps the given 8-byte
// initial value (AIV prefix || length indicator, any values) and the
// already-padded plaintext (any padding bytes, a multiple of 8 bytes).
func refWrapRaw(t testing.TB, kek []byte, iv [8]byte, padded []byte) []byte {
	t.Helper()
	if len(padded) == 0 || len(padded)%8 != 0 {
		t.Fatalf("refWrapRaw: padded length %d", len(padded))
	}
	c, err := aes.NewCipher(kek)
	if err != nil {
		t.Fatal(err)
	}
	out := append(iv[:], padded...)
	if len(padded) == 8 {
		c.Encrypt(out, out)
		return out
	}
	// RFC 3394 §2.2.1, index-based form.
	n := len(padded) / 8
	a := append([]byte(nil), iv[:]...)
	r := make([][]byte, n+1)
	for i := 1; i <= n; i++ {
		r[i] = append([]byte(nil), padded[8*(i-1):8*i]...)
	}
	var b [16]byte
	for j := 0; j <= 5; j++ {
		for i := 1; i <= n; i++ {
			copy(b[:8], a)
			copy(b[8:], r[i])
			c.Encrypt(b[:], b[:])
			tt := uint64(n*j + i)
			a = binary.BigEndian.AppendUint64(nil, binary.BigEndian.Uint64(b[:8])^tt)
			r[i] = append([]byte(nil), b[8:]...)
		}
	}
	out = append(out[:0], a...)
	for i := 1; i <= n; i++ {
		out = append(out, r[i]...)
	}
	return out
}

// refIV builds an RFC 5649 initial value: prefix || big-endian mli.
func refIV(prefix, mli uint32) [8]byte {
	var iv [8]byte
	binary.BigEndian.PutUint32(iv[:4], prefix)
	binary.BigEndian.PutUint32(iv[4:], mli)
	return iv
}

// refWrap is the reference RFC 5649 wrap of plaintext.
func refWrap(t testing.TB, kek, plaintext []byte) []byte {
	padded := make([]byte, (len(plaintext)+7)&^7)
	copy(padded, plaintext)
	return refWrapRaw(t, kek, refIV(aivPrefix, uint32(len(plaintext))), padded)
}

func TestRFC5649Examples(t *testing.T) {
	kek := unhex(t, "5840df6e29b02af1ab493b705bf16ea1ae8338f4dcc176a8")
	for _, tc := range []struct{ pt, ct string }{
		{"c37b7e6492584340bed12207808941155068f738", "138bdeaa9b8fa7fc61f97742e72248ee5ae6ae5360d1ae6a5f54f373fa543b6a"},
		{"466f7250617369", "afbeb0f07dfbf5419200f2ccb50bb24f"},
	} {
		pt, ct := unhex(t, tc.pt), unhex(t, tc.ct)
		got, err := Wrap(kek, pt)
		if err != nil || !bytes.Equal(got, ct) {
			t.Errorf("Wrap(%s) = %x, %v; want %x", tc.pt, got, err, ct)
		}
		back, err := Unwrap(kek, ct)
		if err != nil || !bytes.Equal(back, pt) {
			t.Errorf("Unwrap(%s) = %x, %v; want %x", tc.ct, back, err, pt)
		}
		if ref := refWrap(t, kek, pt); !bytes.Equal(ref, ct) {
			t.Errorf("reference wrap of %s = %x; want %x (test helper broken)", tc.pt, ref, ct)
		}
	}
}

type wycheproofFile struct {
	Algorithm     string `json:"algorithm"`
	NumberOfTests int    `json:"numberOfTests"`
	TestGroups    []struct {
		KeySize int `json:"keySize"`
		Tests   []struct {
			TcID    int      `json:"tcId"`
			Comment string   `json:"comment"`
			Flags   []string `json:"flags"`
			Key     string   `json:"key"`
			Msg     string   `json:"msg"`
			Ct      string   `json:"ct"`
			Result  string   `json:"result"`
		} `json:"tests"`
	} `json:"testGroups"`
}

func TestWycheproof(t *testing.T) {
	data, err := fs.ReadFile(wycheproof.TestVectors, "aes_kwp_test.json")
	if err != nil {
		t.Fatal(err)
	}
	var f wycheproofFile
	if err := json.Unmarshal(data, &f); err != nil {
		t.Fatal(err)
	}
	if f.Algorithm != "AES-KWP" {
		t.Fatalf("algorithm %q, want AES-KWP", f.Algorithm)
	}
	counts := map[string]int{}
	total := 0
	for _, g := range f.TestGroups {
		for _, tc := range g.Tests {
			total++
			counts[tc.Result]++
			key, msg, ct := unhex(t, tc.Key), unhex(t, tc.Msg), unhex(t, tc.Ct)
			name := "tcId " + strconv.Itoa(tc.TcID) + " (" + tc.Comment + ")"
			if len(key)*8 != g.KeySize {
				t.Errorf("%s: key is %d bits, group says %d", name, len(key)*8, g.KeySize)
			}
			validKEK := len(key) == 16 || len(key) == 24 || len(key) == 32
			switch tc.Result {
			case "valid":
				got, err := Wrap(key, msg)
				if err != nil || !bytes.Equal(got, ct) {
					t.Errorf("%s: Wrap = %x, %v; want %x", name, got, err, ct)
				}
				back, err := Unwrap(key, ct)
				if err != nil || !bytes.Equal(back, msg) {
					t.Errorf("%s: Unwrap = %x, %v; want %x", name, back, err, msg)
				}
			case "invalid":
				back, err := Unwrap(key, ct)
				if err == nil {
					t.Errorf("%s: Unwrap accepted an invalid ciphertext, returned %x", name, back)
				} else if validKEK && err != ErrUnwrap {
					t.Errorf("%s: Unwrap error %v, want ErrUnwrap", name, err)
				}
				if back != nil {
					t.Errorf("%s: Unwrap returned data with an error", name)
				}
			default:
				t.Errorf("%s: unexpected result %q", name, tc.Result)
			}
		}
	}
	if total != f.NumberOfTests {
		t.Errorf("ran %d cases, file says numberOfTests = %d", total, f.NumberOfTests)
	}
	// The pinned vectors (c2sp/wycheproof 3fa63dd0344a) hold 254 cases.
	want := map[string]int{"valid": 77, "invalid": 177}
	for r, n := range want {
		if counts[r] != n {
			t.Errorf("ran %d %q cases, want %d", counts[r], r, n)
		}
	}
	if len(counts) != len(want) {
		t.Errorf("result kinds %v, want %v", counts, want)
	}
	t.Logf("ran %d Wycheproof cases: %v", total, counts)
}

var kekSizes = []int{16, 24, 32}

// TestRoundTripSizes checks the boundary sizes for every KEK size against
// the reference implementation and back through Unwrap.
func TestRoundTripSizes(t *testing.T) {
	sizes := []int{1, 2, 7, 8, 9, 15, 16, 17, 24, 255, 256, 2375, 4096}
	for _, kl := range kekSizes {
		for _, n := range sizes {
			kek, pt := randBytes(kl), randBytes(n)
			got, err := Wrap(kek, pt)
			if err != nil {
				t.Fatalf("kek %d len %d: Wrap: %v", kl, n, err)
			}
			if want := 8 + (n+7)&^7; len(got) != want {
				t.Fatalf("kek %d len %d: wrapped length %d, want %d", kl, n, len(got), want)
			}
			if ref := refWrap(t, kek, pt); !bytes.Equal(got, ref) {
				t.Fatalf("kek %d len %d: Wrap disagrees with reference", kl, n)
			}
			back, err := Unwrap(kek, got)
			if err != nil || !bytes.Equal(back, pt) {
				t.Fatalf("kek %d len %d: Unwrap = %v", kl, n, err)
			}
		}
	}
}

func TestWrapDoesNotModifyInput(t *testing.T) {
	kek, pt := randBytes(32), randBytes(100)
	kc, pc := bytes.Clone(kek), bytes.Clone(pt)
	ct, err := Wrap(kek, pt)
	if err != nil {
		t.Fatal(err)
	}
	cc := bytes.Clone(ct)
	if _, err := Unwrap(kek, ct); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(kek, kc) || !bytes.Equal(pt, pc) || !bytes.Equal(ct, cc) {
		t.Fatal("Wrap or Unwrap modified its input")
	}
}

func TestBadKEKSizes(t *testing.T) {
	for _, kl := range []int{0, 1, 8, 15, 17, 23, 25, 31, 33, 64} {
		kek := make([]byte, kl)
		if ct, err := Wrap(kek, []byte("secret key bytes")); err == nil || ct != nil {
			t.Errorf("Wrap with %d-byte KEK = %x, %v; want an error", kl, ct, err)
		}
		wrapped := make([]byte, 24)
		if pt, err := Unwrap(kek, wrapped); err == nil || pt != nil {
			t.Errorf("Unwrap with %d-byte KEK = %x, %v; want an error", kl, pt, err)
		}
	}
}

func TestWrapEmpty(t *testing.T) {
	for _, pt := range [][]byte{nil, {}} {
		if ct, err := Wrap(make([]byte, 16), pt); err == nil || ct != nil {
			t.Errorf("Wrap(empty) = %x, %v; want an error", ct, err)
		}
	}
}

// integrityFailures forges ciphertexts that must each fail Unwrap under kek.
// Each is built with the raw W function (or the single-block ECB path), so
// it decrypts to exactly the chosen AIV, length and padding.
func integrityFailures(t testing.TB, kek []byte) map[string][]byte {
	cases := map[string][]byte{}
	for _, n := range []int{1, 5, 8, 9, 13, 16, 20, 64} {
		padded := (n + 7) &^ 7
		body := randBytes(padded)
		clear(body[n:])
		sfx := " n=" + strconv.Itoa(n)
		good := refWrapRaw(t, kek, refIV(aivPrefix, uint32(n)), body)
		if back, err := Unwrap(kek, good); err != nil || !bytes.Equal(back, body[:n]) {
			t.Fatalf("control case%s does not unwrap: %v", sfx, err)
		}
		for _, p := range []uint32{0xA65959A7, 0xA6595926, 0x265959A6, 0xA65A59A6, 0, 0xFFFFFFFF, 0x59A6A659} {
			cases["AIV prefix "+strconv.FormatUint(uint64(p), 16)+sfx] = refWrapRaw(t, kek, refIV(p, uint32(n)), body)
		}
		// RFC 3394's default IV: a KW ciphertext is not a KWP ciphertext.
		if padded >= 16 {
			var iv [8]byte
			binary.BigEndian.PutUint64(iv[:], 0xA6A6A6A6A6A6A6A6)
			cases["RFC 3394 IV"+sfx] = refWrapRaw(t, kek, iv, body)
		}
		for _, m := range []uint32{uint32(padded) + 1, uint32(padded) + 8, uint32(padded) + 9, 1 << 31, 0xFFFFFFFF} {
			cases["mli too large "+strconv.FormatUint(uint64(m), 10)+sfx] = refWrapRaw(t, kek, refIV(aivPrefix, m), body)
		}
		if padded > 8 {
			for _, m := range []uint32{uint32(padded) - 8, uint32(padded) - 9, 1} {
				cases["mli too small "+strconv.FormatUint(uint64(m), 10)+sfx] = refWrapRaw(t, kek, refIV(aivPrefix, m), body)
			}
		}
		if padded > 8 {
			// The last semiblock is all zero, so only the lower bound on the
			// length indicator rejects these (the padding check cannot).
			zt := bytes.Clone(body)
			clear(zt[padded-8:])
			for _, m := range []uint32{uint32(padded) - 8, uint32(padded) - 16, 1} {
				if m >= 1 && m <= uint32(padded)-8 {
					cases["mli too small, zero tail "+strconv.FormatUint(uint64(m), 10)+sfx] = refWrapRaw(t, kek, refIV(aivPrefix, m), zt)
				}
			}
		}
		cases["mli zero"+sfx] = refWrapRaw(t, kek, refIV(aivPrefix, 0), body)
		for i := n; i < padded; i++ {
			for _, v := range []byte{1, 0x80, 0xFF} {
				bad := bytes.Clone(body)
				bad[i] = v
				cases["padding byte "+strconv.Itoa(i)+"="+strconv.Itoa(int(v))+sfx] = refWrapRaw(t, kek, refIV(aivPrefix, uint32(n)), bad)
			}
		}
		wrongKEK := randBytes(len(kek))
		cases["wrong KEK"+sfx] = refWrapRaw(t, wrongKEK, refIV(aivPrefix, uint32(n)), body)
		flip := bytes.Clone(good)
		flip[len(flip)-1] ^= 1
		cases["last bit flipped"+sfx] = flip
		flip = bytes.Clone(good)
		flip[0] ^= 0x80
		cases["first bit flipped"+sfx] = flip
		if len(good) > 16 {
			cases["truncated by 8"+sfx] = good[:len(good)-8]
			cases["first block dropped"+sfx] = good[8:]
			swapped := bytes.Clone(good)
			copy(swapped[8:16], good[16:24])
			copy(swapped[16:24], good[8:16])
			cases["blocks swapped"+sfx] = swapped
		}
		cases["extended by 8"+sfx] = append(bytes.Clone(good), make([]byte, 8)...)
		// Lengths that are not a multiple of 8, or too short.
		cases["truncated by 1"+sfx] = good[:len(good)-1]
		cases["extended by 1"+sfx] = append(bytes.Clone(good), 0)
	}
	cases["empty"] = nil
	cases["8 bytes"] = make([]byte, 8)
	cases["15 bytes"] = make([]byte, 15)
	cases["1 byte"] = []byte{0xA6}
	cases["zero 16 bytes"] = make([]byte, 16)
	cases["zero 24 bytes"] = make([]byte, 24)
	return cases
}

func TestUnwrapStrict(t *testing.T) {
	for _, kl := range kekSizes {
		kek := randBytes(kl)
		cases := integrityFailures(t, kek)
		if len(cases) < 200 {
			t.Fatalf("only %d forged cases", len(cases))
		}
		for name, ct := range cases {
			pt, err := Unwrap(kek, ct)
			if err == nil {
				t.Errorf("kek %d, %s: Unwrap accepted it: %x", kl, name, pt)
			}
			if pt != nil {
				t.Errorf("kek %d, %s: Unwrap returned data with the error", kl, name)
			}
		}
	}
}

// TestUnwrapSingleError checks that every integrity failure returns the
// very same error value, so the error says nothing about which check failed.
func TestUnwrapSingleError(t *testing.T) {
	kek := randBytes(32)
	for name, ct := range integrityFailures(t, kek) {
		_, err := Unwrap(kek, ct)
		if err != ErrUnwrap { // identity, not errors.Is: no wrapping either
			t.Errorf("%s: error %#v, want the ErrUnwrap value itself", name, err)
		}
	}
	if !errors.Is(ErrUnwrap, ErrUnwrap) || ErrUnwrap.Error() == "" {
		t.Fatal("ErrUnwrap is unusable")
	}
}

func FuzzUnwrap(f *testing.F) {
	rfcKEK, _ := hex.DecodeString("5840df6e29b02af1ab493b705bf16ea1ae8338f4dcc176a8")
	ct1, _ := hex.DecodeString("138bdeaa9b8fa7fc61f97742e72248ee5ae6ae5360d1ae6a5f54f373fa543b6a")
	ct2, _ := hex.DecodeString("afbeb0f07dfbf5419200f2ccb50bb24f")
	f.Add(rfcKEK, ct1)
	f.Add(rfcKEK, ct2)
	for _, kl := range kekSizes {
		kek := bytes.Repeat([]byte{byte(kl)}, kl)
		for _, n := range []int{1, 8, 9, 16, 17, 40} {
			ct, err := Wrap(kek, bytes.Repeat([]byte{0x5A}, n))
			if err != nil {
				f.Fatal(err)
			}
			f.Add(kek, ct)
		}
	}
	f.Add(make([]byte, 16), make([]byte, 8))
	f.Add(make([]byte, 15), make([]byte, 24))
	f.Fuzz(func(t *testing.T, kek, wrapped []byte) {
		in := bytes.Clone(wrapped)
		pt, err := Unwrap(kek, wrapped)
		if !bytes.Equal(in, wrapped) {
			t.Fatal("Unwrap modified its input")
		}
		if err != nil {
			if pt != nil {
				t.Fatal("Unwrap returned data with an error")
			}
			if len(kek) == 16 || len(kek) == 24 || len(kek) == 32 {
				if err != ErrUnwrap {
					t.Fatalf("Unwrap error %v, want ErrUnwrap", err)
				}
			}
			return
		}
		if len(pt) == 0 || len(wrapped) != 8+(len(pt)+7)&^7 {
			t.Fatalf("Unwrap returned %d bytes from %d", len(pt), len(wrapped))
		}
		again, err := Wrap(kek, pt)
		if err != nil {
			t.Fatalf("Wrap of an unwrapped plaintext: %v", err)
		}
		if !bytes.Equal(again, wrapped) {
			t.Fatalf("Wrap(Unwrap(x)) = %x, x = %x", again, wrapped)
		}
	})
}

func FuzzRoundTrip(f *testing.F) {
	rfcKEK, _ := hex.DecodeString("5840df6e29b02af1ab493b705bf16ea1ae8338f4dcc176a8")
	rfcPT, _ := hex.DecodeString("c37b7e6492584340bed12207808941155068f738")
	f.Add(rfcKEK, rfcPT)
	f.Add(rfcKEK, []byte("ForPasi"))
	f.Add(make([]byte, 16), []byte{0})
	f.Add(make([]byte, 32), make([]byte, 8))
	f.Add(make([]byte, 32), make([]byte, 9))
	f.Add(make([]byte, 17), make([]byte, 9))
	f.Fuzz(func(t *testing.T, kek, pt []byte) {
		ct, err := Wrap(kek, pt)
		validKEK := len(kek) == 16 || len(kek) == 24 || len(kek) == 32
		if !validKEK || len(pt) == 0 {
			if err == nil || ct != nil {
				t.Fatalf("Wrap(%d-byte KEK, %d bytes) = %x, %v; want an error", len(kek), len(pt), ct, err)
			}
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		if ref := refWrap(t, kek, pt); !bytes.Equal(ct, ref) {
			t.Fatalf("Wrap = %x, reference = %x", ct, ref)
		}
		back, err := Unwrap(kek, ct)
		if err != nil || !bytes.Equal(back, pt) {
			t.Fatalf("Unwrap(Wrap(x)) = %x, %v; x = %x", back, err, pt)
		}
		ct[len(ct)/2] ^= 1
		if back, err := Unwrap(kek, ct); err != ErrUnwrap || back != nil {
			t.Fatalf("Unwrap accepted a tampered ciphertext: %x, %v", back, err)
		}
	})
}

var benchSizes = []int{32, 256, 2375, 4096}

func benchInput(kekLen, n int) (kek, pt []byte) {
	kek = make([]byte, kekLen)
	pt = make([]byte, n)
	for i := range kek {
		kek[i] = byte(i * 7)
	}
	for i := range pt {
		pt[i] = byte(i)
	}
	return kek, pt
}

var sink []byte

func BenchmarkWrap(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			kek, pt := benchInput(32, n)
			b.SetBytes(int64(n))
			b.ReportAllocs()
			for b.Loop() {
				ct, err := Wrap(kek, pt)
				if err != nil {
					b.Fatal(err)
				}
				sink = ct
			}
		})
	}
}

func BenchmarkUnwrap(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			kek, pt := benchInput(32, n)
			ct, err := Wrap(kek, pt)
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(n))
			b.ReportAllocs()
			for b.Loop() {
				out, err := Unwrap(kek, ct)
				if err != nil {
					b.Fatal(err)
				}
				sink = out
			}
		})
	}
}

// BenchmarkAESChainBound is the latency floor for wrapping 2375 bytes
// (n = 297 semiblocks) under AES-256: 6·n AES encryptions through
// crypto/aes, each one's input being the previous one's output.
func BenchmarkAESChainBound(b *testing.B) {
	const n = (2375 + 7) / 8
	kek, _ := benchInput(32, 0)
	c, err := aes.NewCipher(kek)
	if err != nil {
		b.Fatal(err)
	}
	var buf [16]byte
	for b.Loop() {
		for range 6 * n {
			c.Encrypt(buf[:], buf[:])
		}
	}
	sink = buf[:]
}
