package migrate

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"maps"
	"sort"
	"sync"
	"time"

	"github.com/byok-go/byok"
	"github.com/byok-go/byok/driver"
	"github.com/byok-go/byok/internal/readfile"
)

// The tags byok puts on every KMS key a migration creates, so that a run
// interrupted between CreateKey and its journal entry finds the key again
// instead of creating a second one.
const (
	TagMigration   = "byok:migration"          // the manifest's id
	TagKeyName     = "byok:key"                // the manifest entry's name
	TagFingerprint = "byok:source-fingerprint" // the source key's fingerprint
)

var reservedTags = []string{TagMigration, TagKeyName, TagFingerprint}

// Defaults of a Migration.
const (
	DefaultConcurrency       = 64
	DefaultRegionConcurrency = 16
	DefaultHSMSessions       = 4
)

// maxAutoConcurrency bounds the concurrency chosen from raised quotas.
const maxAutoConcurrency = 256

// ErrInterrupted is returned by Run when its context ends before every key
// is done; the journal lets the next run carry on.
var ErrInterrupted = errors.New("migrate: interrupted; run again with the same journal to resume")

// ErrKeysFailed is returned by Run when some keys failed; the Summary names
// them and says why.
var ErrKeysFailed = errors.New("migrate: some keys failed")

// Migration moves the keys of a manifest into AWS KMS. Set Manifest,
// Client and Journal; the zero value of every other field is a documented
// default. A Migration runs once (Run).
type Migration struct {
	// Manifest lists the keys (OpenManifest).
	Manifest *Manifest
	// Targets open the targets outside AWS a manifest may name, by kind
	// (KindGCP, KindAzure). A manifest naming a kind without an opener is
	// refused before any request (*MissingTargetError). The migrate
	// package imports no cloud SDK: the program provides the openers.
	Targets map[string]TargetOpener
	// Client returns the KMS client of a Region (for example
	// kms.NewFromConfig(cfg, func(o *kms.Options) { o.Region = region })).
	// The migration turns off the client's own retries per call and
	// retries itself, pacing by Quotas.
	Client func(ctx context.Context, region string) (API, error)
	// Journal is the journal file: created if missing, resumed from if
	// present. Required unless DryRun.
	Journal string
	// Audit receives the audit log (JSON lines, AuditRecord); nil: none.
	Audit io.Writer

	// Quotas override AWS's default request quotas (DefaultQuotas) per
	// operation, for an account whose quotas were raised.
	Quotas Quotas
	// Headroom is the fraction of each quota aimed at; 0 means 0.98.
	Headroom float64
	// Concurrency bounds the keys in progress at once; 0 means
	// DefaultConcurrency, or twice RegionConcurrency if that is more (up
	// to 256). RegionConcurrency bounds them per Region; 0 means
	// DefaultRegionConcurrency, or twice the GetParametersForImport quota
	// if that is more (up to 256) (with raised quotas and a network's latency, keys in
	// flight per Region bound the rate). HSMSessions bounds the keys open
	// at once in one HSM token (driver, module and token); 0 means
	// DefaultHSMSessions.
	Concurrency       int
	RegionConcurrency int
	HSMSessions       int

	// DryRun opens every source and plans every key, reads the journal and
	// describes existing target keys, and changes nothing.
	DryRun bool

	// Renew turns the run into a renewal of keys an earlier run migrated
	// (per the journal): in every Region, the key material that expires
	// within RenewWithin, or has expired already (PendingImport), is
	// imported again from the same source with the manifest's ValidTo,
	// and proven. Each renewal is journaled (a round that a killed run
	// resumes, each key renewed once) and audited (OutcomeRenewed).
	Renew       bool
	RenewWithin time.Duration

	// OnProgress, when set, is called once before the first key and again
	// each time a key finishes, with the counts so far (from one goroutine
	// at a time; keep it quick: the run waits for it). A progress bar is
	// drawn from it (byok migrate draws one).
	OnProgress func(Progress)
	// OnResult, when set, is called once per key as it finishes (from
	// several goroutines, one call at a time).
	OnResult func(Result)
	// OpenSource opens a key source; nil means driver.Open with the
	// source's driver (import the driver packages the manifest names).
	OpenSource func(ctx context.Context, s Source) (driver.Source, error)
	// Logger receives warnings and debugging; nil: none. Nothing secret is
	// logged.
	Logger *slog.Logger
	// Clock paces requests; nil means real time.
	Clock Clock
}

// Result is the outcome of one key.
type Result struct {
	Key  string
	Line int
	// Outcome is OutcomeImported, OutcomeAlreadyDone (an earlier run
	// finished it), OutcomePlanned (DryRun) or OutcomeFailed.
	Outcome Outcome
	Regions []RegionResult
	// Plan says what DryRun would do.
	Plan    string `json:",omitempty"`
	Err     error  `json:"-"`
	Elapsed time.Duration
}

// RegionResult is the outcome of one key in one Region, or in one target
// outside AWS (Target gcp or azure, KeyName the cloud key).
type RegionResult struct {
	Target        string
	Region        string
	KeyARN        string
	KeyName       string
	Role          string
	KeyMaterialID string
	Verified      bool
	// Verdict is the proof's outcome (empty when it did not run).
	Verdict byok.Verdict
}

// Failure names a key that failed and why.
type Failure struct {
	Key  string
	Line int
	Err  string
}

// Summary is what a run did.
type Summary struct {
	Migration string
	Run       string
	// Total is the number of keys in the manifest; the others count
	// outcomes. Total = Imported + AlreadyDone + Failed + Planned +
	// NotStarted.
	Total, Imported, AlreadyDone, Failed, Planned, NotStarted int
	// Renewed and NotDue count the keys of a renewal (Migration.Renew)
	// renewed, and not due for renewal; they are part of Total.
	Renewed, NotDue int
	// Failures names every key that failed, in manifest order.
	Failures []Failure
	// Orphans are KMS keys tagged with this migration that the run found
	// in PendingImport and that no manifest key claims (left by an earlier
	// run's crash between CreateKey and its journal entry, beyond the one
	// adopted). They are reported, never deleted.
	Orphans []string
	// GetParametersForImport counts the calls per Region (DryRun: the
	// calls the run would make).
	GetParametersForImport map[string]int
	// CloudImports counts the imports into targets outside AWS per quota
	// scope (CloudSpec.Scope: gcp:projects/P/locations/L, azure:VAULT);
	// DryRun: the imports the run would make.
	CloudImports map[string]int
	// NotRenewed counts the targets outside AWS a renewal left alone:
	// renewal is for AWS KMS's expiring key material only.
	NotRenewed int
	// ExpiredTokens counts imports redone after ExpiredImportTokenException.
	ExpiredTokens int
	Started       time.Time
	Elapsed       time.Duration
	// Ops are the request counts, throttles and waiting per operation and
	// Region.
	Ops []OpStats
}

// Rate returns the keys imported (or renewed) per second of the run.
func (s *Summary) Rate() float64 {
	if s.Elapsed <= 0 {
		return 0
	}
	return float64(s.Imported+s.Renewed) / s.Elapsed.Seconds()
}

// Binding returns the operation whose requests waited longest for the rate
// limiter: the quota that bounded the run, or "" when no request waited a
// noticeable time (then the run was bound by something else: latency,
// CPU, the sources).
func (s *Summary) Binding() string {
	best, bestW := "", time.Duration(0)
	for _, o := range s.Ops {
		if o.Waited > bestW {
			best, bestW = o.Op+" in "+o.Region, o.Waited
		}
	}
	if bestW < s.Elapsed/10 {
		return ""
	}
	return best
}

type runner struct {
	m       *Migration
	log     *slog.Logger
	clock   Clock
	lim     *Limiter
	journal *journal
	replay  *replay
	audit   *auditLog
	runID   string
	renewal string // the renewal round (Migration.Renew)

	mu       sync.Mutex
	clients  map[string]API
	sessions map[string]chan struct{}
	scans    map[string]*scan
	gpfi     map[string]int
	// cloudImports counts imports per scope of targets outside AWS.
	cloudImports map[string]int
	notRenewed   int
	expired      int
	resultMu     sync.Mutex
}

// Run migrates every key of the manifest, resuming from the journal. It
// returns the summary and, when some keys failed, an error wrapping
// ErrKeysFailed (ErrInterrupted when ctx ended first).
func (m *Migration) Run(ctx context.Context) (*Summary, error) {
	if m.Manifest == nil {
		return nil, errors.New("migrate: no Manifest")
	}
	if m.Client == nil {
		return nil, errors.New("migrate: no Client")
	}
	if m.Journal == "" && !m.DryRun {
		return nil, errors.New("migrate: no Journal: a migration without a journal cannot be resumed safely")
	}
	// Every kind of target the manifest names must be there before
	// anything is called.
	if err := checkOpeners(m.Manifest, m.Targets); err != nil {
		return nil, err
	}
	// Every cloud target of every key is opened once before anything is
	// done: its settings are checked as its cloud's target checks them
	// (a mistake is the manifest's, *ManifestError), and its client is
	// made (no credentials: the run stops here, not after the AWS keys).
	// A renewal leaves the other clouds alone and needs no client of
	// theirs.
	if mistakes, other := checkCloudTargets(ctx, m.Manifest, m.Targets); mistakes != nil {
		return nil, mistakes
	} else if other != nil && !m.Renew {
		return nil, other
	}
	r := &runner{m: m, log: m.Logger, clock: m.Clock, clients: map[string]API{}, sessions: map[string]chan struct{}{},
		scans: map[string]*scan{}, gpfi: map[string]int{}, cloudImports: map[string]int{}, audit: &auditLog{w: m.Audit}}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	if r.clock == nil {
		r.clock = realClock{}
	}
	q := DefaultQuotas()
	maps.Copy(q, DefaultCloudQuotas())
	for k, v := range m.Quotas {
		q[k] = v
	}
	r.lim = NewLimiter(q, m.Headroom, r.clock)
	var idb [8]byte
	rand.Read(idb[:])
	r.runID = hex.EncodeToString(idb[:])

	r.replay = &replay{keys: map[string]*keyState{}}
	switch {
	case !m.DryRun:
		j, rp, err := openJournalKeep(m.Journal, m.Renew)
		if err != nil {
			return nil, err
		}
		defer j.Close()
		r.journal, r.replay = j, rp
	case m.Journal != "":
		f, err := readfile.Open(m.Journal, "journal")
		switch {
		case err == nil:
			rp, _, err := replayJournalKeep(f, m.Journal, m.Renew)
			f.Close()
			if err != nil {
				return nil, err
			}
			r.replay = rp
		case !errors.Is(err, fs.ErrNotExist):
			return nil, fmt.Errorf("migrate: opening the journal: %w", err)
		}
	}
	if r.replay.migration != "" && r.replay.migration != m.Manifest.ID {
		return nil, fmt.Errorf("migrate: the journal %s belongs to migration %q, the manifest is %q; use another journal file", m.Journal, r.replay.migration, m.Manifest.ID)
	}
	sum := &Summary{Migration: m.Manifest.ID, Run: r.runID, Total: m.Manifest.Len, Started: time.Now()}
	detail := "start"
	if r.replay.lines > 0 {
		detail = fmt.Sprintf("resume after %d journal entries", r.replay.lines)
	}
	if m.Renew {
		detail = r.startRenewal()
	}
	if err := r.note(Entry{Step: StepRun, Phase: PhaseIntent, Detail: detail}); err != nil {
		return nil, err
	}
	err := r.dispatch(ctx, sum)
	if m.Renew && err == nil && ctx.Err() == nil {
		// The round is complete: the next renewal starts a new one.
		if nerr := r.note(Entry{Step: StepRenew, Phase: PhaseDone, Detail: "renewal round complete"}); nerr != nil {
			err = nerr
		}
	}
	r.audit.sync()
	sum.Elapsed = time.Since(sum.Started)
	sum.Ops = r.lim.Stats()
	sum.GetParametersForImport = r.gpfi
	sum.CloudImports = r.cloudImports
	sum.NotRenewed = r.notRenewed
	sum.ExpiredTokens = r.expired
	for _, s := range r.scans {
		sum.Orphans = append(sum.Orphans, s.orphans()...)
	}
	sort.Strings(sum.Orphans)
	sort.Slice(sum.Failures, func(i, j int) bool { return sum.Failures[i].Line < sum.Failures[j].Line })
	sum.NotStarted = sum.Total - sum.Imported - sum.AlreadyDone - sum.Failed - sum.Planned - sum.Renewed - sum.NotDue
	r.note(Entry{Step: StepRun, Phase: PhaseDone, Detail: fmt.Sprintf("imported %d, already done %d, failed %d, not started %d",
		sum.Imported, sum.AlreadyDone, sum.Failed, sum.NotStarted)})
	switch {
	case err != nil:
		return sum, err
	case ctx.Err() != nil:
		return sum, ErrInterrupted
	case sum.Failed > 0:
		return sum, fmt.Errorf("%w: %d of %d", ErrKeysFailed, sum.Failed, sum.Total)
	}
	return sum, nil
}

// note appends a journal entry (not in a dry run).
func (r *runner) note(e Entry) error {
	if r.journal == nil {
		return nil
	}
	e.Migration = r.m.Manifest.ID
	e.Run = r.runID
	e.Renewal = r.renewal
	return r.journal.Append(e)
}

func (r *runner) client(ctx context.Context, region string) (API, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if c := r.clients[region]; c != nil {
		return c, nil
	}
	api, err := r.m.Client(ctx, region)
	if err != nil {
		return nil, fmt.Errorf("migrate: the KMS client for %s: %w", region, err)
	}
	c := &limitedClient{api: api, region: region, lim: r.lim, clock: r.clock, log: r.log, maxAttempts: 40}
	r.clients[region] = c
	return c, nil
}
