package migrate

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// writeLargeManifest writes a YAML manifest of n keys in the layout
// fleettest writes (a block sequence of block mappings), naming one key
// file: OpenManifest does not open key files.
// With anchors, each entry merges a source defined in the header.
func writeLargeManifest(tb testing.TB, n int, anchors bool) string {
	tb.Helper()
	var b strings.Builder
	b.WriteString("version: 1\nid: large\ndefaults:\n  target: {region: us-east-1}\n")
	if anchors {
		b.WriteString("  source: &src {key_spec: SYMMETRIC_DEFAULT}\n")
	}
	b.WriteString("keys:\n")
	for i := range n {
		src := "key_spec: SYMMETRIC_DEFAULT"
		if anchors {
			src = "<<: *src"
		}
		fmt.Fprintf(&b, "  - name: key-%06d\n    source:\n      key: keys/key-%06d.aes.hex\n      %s\n    target:\n      region: %s\n      alias: alias/large/key-%06d\n",
			i, i, src, []string{"us-east-1", "eu-west-1", "ap-southeast-2"}[i%3], i)
	}
	p := filepath.Join(tb.TempDir(), "large.yaml")
	if err := os.WriteFile(p, []byte(b.String()), 0o600); err != nil {
		tb.Fatal(err)
	}
	return p
}

// peakHeap samples the heap in use every 5 ms while f runs and returns the
// highest value seen above the heap in use before f.
func peakHeap(f func()) uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := ms.HeapInuse
	var peak atomic.Uint64
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > base && ms.HeapInuse-base > peak.Load() {
				peak.Store(ms.HeapInuse - base)
			}
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()
	f()
	close(stop)
	<-done
	return peak.Load()
}

// BenchmarkManifest100k opens a 100 000-key YAML manifest (validation: the
// whole file) and reads every key back (Keys), reporting the time and the
// peak heap in use above the heap before; "anchors" is a manifest whose
// entries merge an anchored mapping (<<: *src), decoded whole:
//
//	go test ./migrate -run '^$' -bench Manifest100k -benchtime 3x
func BenchmarkManifest100k(b *testing.B) {
	b.Run("streamed", func(b *testing.B) { benchManifest(b, false) })
	b.Run("anchors", func(b *testing.B) { benchManifest(b, true) })
}

func benchManifest(b *testing.B, anchors bool) {
	p := writeLargeManifest(b, 100000, anchors)
	b.ResetTimer()
	var peak uint64
	for range b.N {
		peak = max(peak, peakHeap(func() {
			m, err := OpenManifest(p)
			if err != nil {
				b.Fatal(err)
			}
			n := 0
			for _, err := range m.Keys() {
				if err != nil {
					b.Fatal(err)
				}
				n++
			}
			if n != 100000 || m.Len != 100000 {
				b.Fatalf("%d keys, Len %d", n, m.Len)
			}
		}))
	}
	b.ReportMetric(float64(peak)/(1<<20), "peak-MiB")
}
