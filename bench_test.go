package byok_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/byok-go/byok"
	"github.com/byok-go/byok/bench"
	"github.com/byok-go/byok/driver/software"
)

// The Go benchmarks of byok's own speed. The keys are bench's fixtures
// (the RSA_4096 material is 2375 bytes of PKCS#8). Run them with
//
//	go test -run '^$' -bench 'WrapKeyMaterial|ImportOverhead' -benchmem .
//
// `byok bench` (package bench) measures the same operations side by side
// with OpenSSL; TestBenchmarkBodies runs every benchmark's body once, so
// that plain `go test` (CI) exercises them.

var benchSink []byte

// wrapOp returns one WrapKeyMaterial of case c, checked once to unwrap to
// the material.
func wrapOp(tb testing.TB, c bench.Case) func() error {
	tb.Helper()
	m, err := bench.Material(c.KeySpec)
	if err != nil {
		tb.Fatal(err)
	}
	mat := m.Bytes()
	m.Destroy()
	wk, err := bench.WrappingKey(c.WrappingKeySpec)
	if err != nil {
		tb.Fatal(err)
	}
	out, err := byok.WrapKeyMaterial(&wk.PublicKey, c.Algorithm, mat)
	if err != nil {
		tb.Fatalf("%s: %v", c, err)
	}
	if back, err := byok.UnwrapKeyMaterial(wk, c.Algorithm, out); err != nil || !bytes.Equal(back, mat) {
		tb.Fatalf("%s: the wrapped material does not unwrap: %v", c, err)
	}
	return func() error {
		out, err := byok.WrapKeyMaterial(&wk.PublicKey, c.Algorithm, mat)
		benchSink = out
		return err
	}
}

// BenchmarkWrapKeyMaterial/<algorithm>/<wrapping key spec>/<key spec>
// times byok.WrapKeyMaterial for every combination AWS KMS accepts.
func BenchmarkWrapKeyMaterial(b *testing.B) {
	for _, c := range bench.Cases() {
		b.Run(c.String(), func(b *testing.B) {
			op := wrapOp(b, c)
			b.ReportAllocs()
			for b.Loop() {
				if err := op(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// cannedSource answers Describe and Wrap with values computed beforehand.
type cannedSource struct {
	info    byok.KeyInfo
	wrapped []byte
}

// Describe returns the precomputed description.
func (c *cannedSource) Describe(context.Context) (byok.KeyInfo, error) { return c.info, nil }

// Wrap returns the precomputed wrapped material.
func (c *cannedSource) Wrap(context.Context, byok.ImportParameters) ([]byte, error) {
	return c.wrapped, nil
}

// importOps returns one Import of the spec's fixture into bench.NullTarget
// with a software source (full: the source describes the key and wraps it)
// and with a canned source (orchestration: byok.Importer's own work only).
func importOps(tb testing.TB, spec byok.KeySpec) (full, orchestration func() error) {
	tb.Helper()
	ctx := context.Background()
	m, err := bench.Material(spec)
	if err != nil {
		tb.Fatal(err)
	}
	src, err := software.New(m, software.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { src.Close() })
	im := &byok.Importer{SkipVerify: true}
	res, err := im.Import(ctx, src, bench.NullTarget{})
	if err != nil {
		tb.Fatalf("%s: %v", spec, err)
	}
	info, err := src.Describe(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	p, err := bench.NullTarget{}.Prepare(ctx, info, res.Algorithm, res.WrappingKeySpec)
	if err != nil {
		tb.Fatal(err)
	}
	wrapped, err := src.Wrap(ctx, p)
	if err != nil {
		tb.Fatal(err)
	}
	wk, err := bench.WrappingKey(res.WrappingKeySpec)
	if err != nil {
		tb.Fatal(err)
	}
	if back, err := byok.UnwrapKeyMaterial(wk, res.Algorithm, wrapped); err != nil || !bytes.Equal(back, m.Bytes()) {
		tb.Fatalf("%s: the source's wrap does not unwrap: %v", spec, err)
	}
	canned := &cannedSource{info: info, wrapped: wrapped}
	full = func() error {
		_, err := im.Import(ctx, src, bench.NullTarget{})
		return err
	}
	orchestration = func() error {
		_, err := im.Import(ctx, canned, bench.NullTarget{})
		return err
	}
	return full, orchestration
}

// BenchmarkImportOverhead/<key spec>/{full,orchestration} times an Import
// into bench.NullTarget, a target that does nothing, so that only byok's
// work is measured: "full" with a software source (describe, wrap with
// the algorithm byok chooses, import), "orchestration" with a source whose
// answers are precomputed, leaving byok.Importer's own per-key work.
func BenchmarkImportOverhead(b *testing.B) {
	for _, spec := range byok.KeySpecs() {
		b.Run(string(spec), func(b *testing.B) {
			full, orch := importOps(b, spec)
			for _, op := range []struct {
				name string
				f    func() error
			}{{"full", full}, {"orchestration", orch}} {
				b.Run(op.name, func(b *testing.B) {
					b.ReportAllocs()
					for b.Loop() {
						if err := op.f(); err != nil {
							b.Fatal(err)
						}
					}
				})
			}
		})
	}
}

// TestBenchmarkBodies runs the body of every benchmark above once.
func TestBenchmarkBodies(t *testing.T) {
	for _, c := range bench.Cases() {
		if err := wrapOp(t, c)(); err != nil {
			t.Errorf("%s: %v", c, err)
		}
	}
	for _, spec := range byok.KeySpecs() {
		full, orch := importOps(t, spec)
		if err := full(); err != nil {
			t.Errorf("%s: full: %v", spec, err)
		}
		if err := orch(); err != nil {
			t.Errorf("%s: orchestration: %v", spec, err)
		}
	}
}
