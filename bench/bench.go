// Package bench measures byok: every wrapping algorithm × wrapping key
// spec × key spec AWS KMS accepts, in pure Go and side by side with
// OpenSSL 3 (build tag openssl), RFC 5649 key wrap against OpenSSL and
// against its latency bound, and byok's own per-key overhead in an import.
// Benchmark suites that compare wrap mechanisms use it to know byok's
// speed rather than guess it; `byok bench` prints its report.
//
//	rep, err := bench.Run(ctx, bench.Options{})
//	rep.WriteText(os.Stdout)
//
// The rows of a group (the same work done by different backends, or the
// work and its bound) are measured in interleaved rounds, and each figure
// is the median over the rounds, so that load from other processes, which
// comes and goes, falls on all of them alike. See docs/benchmarks.md.
package bench

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/byok-go/byok"
	"github.com/byok-go/byok/bench/opensslbench"
)

// The backends.
const (
	BackendGo           = "go"           // byok in pure Go
	BackendOpenSSL      = "openssl"      // OpenSSL 3 through cgo (build tag openssl)
	BackendSoftHSM      = "softhsm"      // SoftHSM 2 through PKCS#11
	BackendOpenCryptoki = "opencryptoki" // opencryptoki's soft token through PKCS#11
)

// Backends returns every backend name, in report order.
func Backends() []string {
	return []string{BackendGo, BackendOpenSSL, BackendSoftHSM, BackendOpenCryptoki}
}

// The operations a row can measure.
const (
	// OpWrap is one wrap of key material for ImportKeyMaterial
	// (byok.WrapKeyMaterial, or the backend's equivalent).
	OpWrap = "wrap"
	// OpKWP is one RFC 5649 key wrap with padding (AES-256) of the
	// RSA-4096 PKCS#8 fixture, 2375 bytes.
	OpKWP = "kwp"
	// OpAESChain is the latency bound of OpKWP: 6·n chained AES-256 block
	// encryptions through crypto/aes, n = 297 semiblocks, each block the
	// previous one's output.
	OpAESChain = "aes-chain-bound"
	// OpImport is one byok.Importer.Import of a software key (driver
	// software) into NullTarget, verification off.
	OpImport = "import"
	// OpImportOrchestration is OpImport with a source whose Describe and
	// Wrap return precomputed values: byok.Importer's own work only.
	OpImportOrchestration = "import-orchestration"
	// OpHSMWrap is OpWrap through a PKCS#11 driver (hsm.Source.Wrap:
	// wrapping key imported as a session object, C_WrapKey, object
	// destroyed), measured against OpCWrapKey.
	OpHSMWrap = "hsm-wrap"
	// OpCWrapKey is a bare C_WrapKey of the same key with the same
	// mechanism, in a session of the same pool, the wrapping key imported
	// once: the floor of OpHSMWrap.
	OpCWrapKey = "C_WrapKey"
	// OpCWrapKeyImport is OpCWrapKey with the wrapping key imported and
	// destroyed around each call (C_CreateObject, C_WrapKey,
	// C_DestroyObject), as OpHSMWrap does: the difference to OpHSMWrap is
	// byok's Go code alone.
	OpCWrapKeyImport = "C_CreateObject+C_WrapKey+C_DestroyObject"
)

// Options configure Run. The zero value measures everything available
// with the default time.
type Options struct {
	// Short runs each row a few times only, to check that the suite works
	// (CI). Its figures are not measurements.
	Short bool
	// Time is the time spent measuring each row, spread over the rounds;
	// 0 means 150 ms. The groups the comparisons use get five times as
	// much.
	Time time.Duration
	// Rounds is the number of interleaved rounds per group; 0 means 5 (the
	// comparisons' groups get 25 times as many, each shorter).
	Rounds int
	// Backends restricts the run to these backends; nil means all
	// available. Naming one that is not available is an error.
	Backends []string
	// Match, if not nil, keeps only the rows whose Name it matches (the
	// targets are computed from the rows kept).
	Match *regexp.Regexp
	// HSMs are the PKCS#11 tokens of the softhsm and opencryptoki
	// backends; a PKCS#11 backend is available when a token is given for
	// it. See ThrowawaySoftHSM for a SoftHSM token made for the run.
	HSMs []HSM
	// Progress, if not nil, is told what is being measured.
	Progress func(format string, args ...any)
}

// Row is one measured operation on one backend.
type Row struct {
	// Name identifies the row: operation, algorithm, wrapping key spec,
	// key spec (those that apply) and backend, joined by "/".
	Name string `json:"name"`
	// Group names the rows measured together; RatioToFastest is within it.
	Group string `json:"group"`
	// Operation is one of the Op constants.
	Operation string `json:"operation"`
	// Algorithm, WrappingKeySpec and KeySpec are the combination wrapped
	// (empty for OpKWP and OpAESChain).
	Algorithm       byok.WrappingAlgorithm `json:"algorithm,omitempty"`
	WrappingKeySpec byok.WrappingKeySpec   `json:"wrapping_key_spec,omitempty"`
	KeySpec         byok.KeySpec           `json:"key_spec,omitempty"`
	// Backend is one of the Backend constants.
	Backend string `json:"backend"`
	// MaterialBytes is the length of the plaintext wrapped.
	MaterialBytes int `json:"material_bytes"`
	// Ops is the number of operations timed.
	Ops int `json:"ops"`
	// NsPerOp is the median over the rounds of the time per operation;
	// OpsPerSec is 1e9 / NsPerOp.
	NsPerOp   float64 `json:"ns_per_op"`
	OpsPerSec float64 `json:"ops_per_sec"`
	// AllocsPerOp and BytesPerOp count Go heap allocations per operation;
	// -1 where the work happens outside the Go heap (OpenSSL), where they
	// would say nothing.
	AllocsPerOp int64 `json:"allocs_per_op"`
	BytesPerOp  int64 `json:"bytes_per_op"`
	// RatioToFastest is NsPerOp over the fastest NsPerOp of the group.
	RatioToFastest float64 `json:"ratio_to_fastest"`
}

// Comparison is a ratio between two rows of one group, the median of the
// per-round ratios, and the limit the project set for it, if any.
type Comparison struct {
	// Name says what is compared.
	Name string `json:"name"`
	// Of and To are the rows' names: Ratio is Of's time over To's.
	Of    string  `json:"of"`
	To    string  `json:"to"`
	Ratio float64 `json:"ratio"`
	// Limit is the largest acceptable Ratio; 0 means none (a figure only).
	Limit float64 `json:"limit,omitempty"`
	// Met says whether Ratio <= Limit (false when there is no limit).
	Met bool `json:"met"`
	// Note adds absolute figures or an explanation.
	Note string `json:"note,omitempty"`
}

// Report is the outcome of Run.
type Report struct {
	Environment Environment `json:"environment"`
	// Short says the run was a short one, whose figures mean nothing.
	Short bool `json:"short"`
	// TimePerRow and Rounds are the options the run used. (JSON:
	// time_per_row_seconds, see MarshalJSON.)
	TimePerRow time.Duration `json:"-"`
	Rounds     int           `json:"rounds"`
	Rows       []Row         `json:"rows"`
	// Comparisons are the ratios the project holds byok to, and byok's
	// own overhead per imported key.
	Comparisons []Comparison `json:"comparisons"`
	// Notes say what was not measured, and why.
	Notes []string `json:"notes"`
}

// Run measures byok as the options say and returns the report. It stops
// at the first failure, including an output that does not unwrap to the
// material (every backend's output is checked before it is timed).
func Run(ctx context.Context, o Options) (*Report, error) {
	if o.Time <= 0 {
		o.Time = 150 * time.Millisecond
	}
	if o.Rounds <= 0 {
		o.Rounds = 5
	}
	if o.Progress == nil {
		o.Progress = func(string, ...any) {}
	}
	rep := &Report{Environment: environment(), Short: o.Short, TimePerRow: o.Time, Rounds: o.Rounds}
	backends, notes, err := selectBackends(o.Backends, o.HSMs)
	if err != nil {
		return nil, err
	}
	if err := loadFixtures(); err != nil {
		return nil, err
	}
	s := &suite{opts: &o, backends: backends, notes: notes}
	defer s.close()
	for _, h := range o.HSMs {
		if !s.has(h.Backend) {
			continue
		}
		o.Progress("setting up %s: token %q", h.Backend, h.Token)
		b, err := s.setupHSM(ctx, h, &rep.Environment)
		if err != nil {
			return nil, fmt.Errorf("bench: %s: %w", h.Backend, err)
		}
		s.hsms = append(s.hsms, b)
	}
	groups, err := s.groups()
	if err != nil {
		return nil, err
	}
	for _, g := range groups {
		if len(g.members) == 0 {
			continue
		}
		o.Progress("measuring %s (%d rows)", g.name, len(g.members))
		if err := g.measure(ctx, &o); err != nil {
			return nil, fmt.Errorf("bench: %s: %w", g.name, err)
		}
		for _, m := range g.members {
			rep.Rows = append(rep.Rows, *m.row)
		}
	}
	rep.Comparisons = s.comparisons()
	rep.Notes = s.notes
	rep.Environment.LoadEnd = loadAverage()
	return rep, nil
}

// selectBackends returns the backends to run and notes on those left out.
func selectBackends(want []string, hsms []HSM) ([]string, []string, error) {
	available := map[string]string{BackendGo: ""}
	if opensslbench.Available {
		available[BackendOpenSSL] = ""
	} else {
		available[BackendOpenSSL] = "openssl: not measured: " + opensslbench.ErrUnavailable.Error()
	}
	for _, b := range []string{BackendSoftHSM, BackendOpenCryptoki} {
		available[b] = b + ": not measured: no token given (Options.HSMs; `byok bench` makes a throwaway SoftHSM token, and takes --opencryptoki-token)"
	}
	for i, h := range hsms {
		if err := h.check(); err != nil {
			return nil, nil, err
		}
		for _, o := range hsms[:i] {
			if o.Backend == h.Backend {
				return nil, nil, fmt.Errorf("bench: two tokens given for %s", h.Backend)
			}
		}
		available[h.Backend] = ""
	}
	var out, notes []string
	if want == nil {
		for _, b := range Backends() {
			if why := available[b]; why != "" {
				notes = append(notes, why)
			} else {
				out = append(out, b)
			}
		}
		return out, notes, nil
	}
	for _, b := range want {
		why, known := available[b]
		switch {
		case !known:
			return nil, nil, fmt.Errorf("bench: unknown backend %q; want one of %v", b, Backends())
		case why != "":
			return nil, nil, errors.New("bench: " + why)
		case !slices.Contains(out, b):
			out = append(out, b)
		}
	}
	return out, nil, nil
}

// rowName joins the non-empty parts of a row's identity.
func rowName(parts ...string) string {
	var p []string
	for _, s := range parts {
		if s != "" {
			p = append(p, s)
		}
	}
	return strings.Join(p, "/")
}
