package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/byok-go/byok"
	"github.com/byok-go/byok/bench/opensslbench"
)

// TestCases checks Cases against AWS's rules, counted independently of
// the code: symmetric and HMAC (5 specs) × 2 OAEP × 3 wrapping keys; RSA
// (3) × 2 key-wrap × 3; P-256, P-384, secp256k1 × 4 × 3; P-521 × 4 × 3
// less RSAES_OAEP_* under RSA_2048.
func TestCases(t *testing.T) {
	cs := Cases()
	const want = 5*2*3 + 3*2*3 + 3*4*3 + (4*3 - 2)
	if len(cs) != want {
		t.Errorf("%d cases, want %d", len(cs), want)
	}
	seen := map[Case]bool{}
	for _, c := range cs {
		if seen[c] {
			t.Errorf("%s twice", c)
		}
		seen[c] = true
		if err := byok.CheckCompatible(c.KeySpec, c.Algorithm, c.WrappingKeySpec); err != nil {
			t.Errorf("%s: %v", c, err)
		}
	}
}

func TestFixtures(t *testing.T) {
	for _, spec := range byok.KeySpecs() {
		m, err := Material(spec)
		if err != nil {
			t.Fatalf("%s: %v", spec, err)
		}
		if m.Spec() != spec {
			t.Errorf("%s fixture is %s", spec, m.Spec())
		}
		if spec == byok.RSA4096 && m.Len() != 2375 {
			t.Errorf("the RSA_4096 fixture is %d bytes; the RFC 5649 figures are quoted for 2375", m.Len())
		}
	}
	for _, w := range byok.WrappingKeySpecs() {
		k, err := WrappingKey(w)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := byok.WrappingKeySpecOf(&k.PublicKey); err != nil || got != w {
			t.Errorf("%s fixture: %s, %v", w, got, err)
		}
	}
	if _, err := Material("RSA_1024"); err == nil {
		t.Error("Material of an unknown spec succeeded")
	}
}

func TestNullTarget(t *testing.T) {
	ctx := context.Background()
	m, err := Material(byok.ECCNISTP256)
	if err != nil {
		t.Fatal(err)
	}
	p, err := NullTarget{}.Prepare(ctx, byok.KeyInfo{}, byok.RSAESOAEPSHA256, byok.WrappingRSA3072)
	if err != nil {
		t.Fatal(err)
	}
	if p.WrappingKey.N.BitLen() != 3072 || len(p.ImportToken) == 0 || p.KeyID != NullKeyARN {
		t.Fatalf("parameters %+v", p)
	}
	wrapped, err := m.Wrap(p.WrappingKey, p.Algorithm)
	if err != nil {
		t.Fatal(err)
	}
	imp, err := NullTarget{}.Import(ctx, p, wrapped)
	if err != nil || imp.KeyARN != NullKeyARN {
		t.Fatalf("Import = %+v, %v", imp, err)
	}
	if _, err := (NullTarget{}).Import(ctx, p, nil); err == nil {
		t.Error("Import accepted nothing")
	}
}

// TestRunShort runs the whole suite in short mode, as CI does, and checks
// the report: every case on every backend, positive figures, the
// comparisons, and the text and JSON forms.
func TestRunShort(t *testing.T) {
	start := time.Now()
	rep, err := Run(context.Background(), Options{Short: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("short run: %d rows in %s", len(rep.Rows), time.Since(start).Round(time.Millisecond))
	checkReport(t, rep)
	var text bytes.Buffer
	if err := rep.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"SHORT RUN", "RSA_AES_KEY_WRAP_SHA_256", "aes-chain-bound", "Comparisons", "not judged: run too short"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("the text report lacks %q", want)
		}
	}
	blank := 0
	for _, l := range strings.Split(text.String(), "\n") {
		if n := len([]rune(l)); n > 100 {
			t.Errorf("a text line of %d columns: %s", n, l)
		}
		if strings.TrimSpace(l) == "" {
			blank++
		}
	}
	if blank > 4 || strings.Contains(text.String(), "NOT MET") {
		t.Errorf("the short report has %d blank lines, or a NOT MET verdict:\n%s", blank, text.String())
	}
	var wide bytes.Buffer
	if err := rep.WriteWideText(&wide); err != nil || !strings.Contains(wide.String(), "ALLOCS/OP") {
		t.Errorf("the wide report lacks ALLOCS/OP: %v", err)
	}
	var js bytes.Buffer
	if err := rep.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(js.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if len(back.Rows) != len(rep.Rows) || back.Rows[0] != rep.Rows[0] {
		t.Error("the JSON report does not round-trip")
	}
}

// checkReport checks a full report (no Match, default backends).
func checkReport(t *testing.T, rep *Report) {
	t.Helper()
	backends := []string{BackendGo}
	if opensslbench.Available {
		backends = append(backends, BackendOpenSSL)
	}
	rows := map[string]Row{}
	for _, r := range rep.Rows {
		if _, dup := rows[r.Name]; dup {
			t.Errorf("row %s twice", r.Name)
		}
		rows[r.Name] = r
		if r.NsPerOp <= 0 || r.OpsPerSec <= 0 || r.Ops <= 0 || r.RatioToFastest < 1 {
			t.Errorf("%s: ns/op %v, ops/s %v, ops %d, ratio %v", r.Name, r.NsPerOp, r.OpsPerSec, r.Ops, r.RatioToFastest)
		}
		if r.Backend == BackendGo && (r.AllocsPerOp < 0 || r.BytesPerOp < 0) {
			t.Errorf("%s: Go row without allocation figures", r.Name)
		}
	}
	for _, c := range Cases() {
		for _, b := range backends {
			name := rowName(OpWrap, string(c.Algorithm), string(c.WrappingKeySpec), string(c.KeySpec), b)
			if _, ok := rows[name]; !ok {
				t.Errorf("no row %s", name)
			}
		}
	}
	for _, spec := range byok.KeySpecs() {
		n := 0
		for _, r := range rep.Rows {
			if r.KeySpec == spec && (r.Operation == OpImport || r.Operation == OpImportOrchestration) {
				n++
			}
		}
		if n != 2 {
			t.Errorf("%s: %d import rows, want 2", spec, n)
		}
	}
	for _, name := range []string{"kwp/2375B/go", "aes-chain-bound/2375B/go"} {
		if _, ok := rows[name]; !ok {
			t.Errorf("no row %s", name)
		}
	}
	wantCmp := 1 + len(byok.KeySpecs())
	if opensslbench.Available {
		wantCmp += 2
	}
	if len(rep.Comparisons) != wantCmp {
		t.Errorf("%d comparisons, want %d", len(rep.Comparisons), wantCmp)
	}
	for _, c := range rep.Comparisons {
		if c.Ratio <= 0 || rows[c.Of].Group != rows[c.To].Group {
			t.Errorf("comparison %q: ratio %v of %s to %s", c.Name, c.Ratio, c.Of, c.To)
		}
	}
}

func TestRunOptions(t *testing.T) {
	ctx := context.Background()
	if _, err := Run(ctx, Options{Short: true, Backends: []string{"nope"}}); err == nil {
		t.Error("an unknown backend was accepted")
	}
	if _, err := Run(ctx, Options{Short: true, Backends: []string{BackendSoftHSM}}); err == nil {
		t.Error("an unavailable backend was accepted")
	}
	if !opensslbench.Available {
		if _, err := Run(ctx, Options{Short: true, Backends: []string{BackendOpenSSL}}); err == nil {
			t.Error("openssl was accepted in a build without it")
		}
	}
	rep, err := Run(ctx, Options{Time: 20 * time.Millisecond, Rounds: 2, Backends: []string{BackendGo},
		Match: regexp.MustCompile(`^wrap/RSAES_OAEP_SHA_256/RSA_2048/`)})
	if err != nil {
		t.Fatal(err)
	}
	want := 0
	for _, c := range Cases() {
		if c.Algorithm == byok.RSAESOAEPSHA256 && c.WrappingKeySpec == byok.WrappingRSA2048 {
			want++
		}
	}
	if len(rep.Rows) != want || want == 0 {
		t.Errorf("%d rows, want %d", len(rep.Rows), want)
	}
	for _, r := range rep.Rows {
		if r.Backend != BackendGo || r.Ops < 2 {
			t.Errorf("%s: backend %s, %d ops", r.Name, r.Backend, r.Ops)
		}
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := Run(cctx, Options{Short: true, Backends: []string{BackendGo}}); err == nil {
		t.Error("Run ignored a cancelled context")
	}
}

// TestRunFull runs the whole suite with the default options and logs the
// report (BYOK_BENCH=1; it takes about a minute).
func TestRunFull(t *testing.T) {
	if os.Getenv("BYOK_BENCH") == "" {
		t.Skip("set BYOK_BENCH=1 to measure")
	}
	rep, err := Run(context.Background(), Options{Progress: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	checkReport(t, rep)
	var b strings.Builder
	rep.WriteText(&b)
	t.Log("\n" + b.String())
}

// TestReportJSONContract: the JSON report gives durations in seconds, []
// for empty lists, and judges no comparison of a short run.
func TestReportJSONContract(t *testing.T) {
	rep := &Report{Short: true, TimePerRow: 150 * time.Millisecond, Rounds: 5,
		Comparisons: []Comparison{{Name: "c", Of: "a", To: "b", Ratio: 2, Limit: 1.1, Met: false}}}
	b, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"time_per_row_seconds":0.15`, `"rows":[]`, `"notes":[]`, `"modules":[]`, `"judged":false`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("the report lacks %s: %s", want, b)
		}
	}
	if strings.Contains(string(b), "null") || strings.Contains(string(b), "_ns\"") {
		t.Errorf("null or nanoseconds in %s", b)
	}
	var text strings.Builder
	rep.WriteText(&text)
	if strings.Contains(text.String(), "NOT MET") || !strings.Contains(text.String(), "not judged: run too short") {
		t.Errorf("a short run's comparison is judged:\n%s", text.String())
	}
	rep.Short = false
	text.Reset()
	rep.WriteText(&text)
	if !strings.Contains(text.String(), "NOT MET") {
		t.Errorf("a full run's failed limit is not NOT MET:\n%s", text.String())
	}
	if b, _ := json.Marshal(rep); !strings.Contains(string(b), `"judged":true`) {
		t.Errorf("a full run's comparison is not judged: %s", b)
	}
}
