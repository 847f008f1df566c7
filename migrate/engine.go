package migrate

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"iter"
	"log/slog"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
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

	// Progress receives a progress bar (nil: none); ProgressTTY redraws it
	// in place, otherwise a line is printed every ProgressInterval (0: 10 s
	// without a terminal, 250 ms with one).
	Progress         io.Writer
	ProgressTTY      bool
	ProgressInterval time.Duration
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
	// Outcome is "imported", "already-done" (an earlier run finished it),
	// "planned" (DryRun) or "failed".
	Outcome string
	Regions []RegionResult
	// Plan says what DryRun would do.
	Plan    string `json:",omitempty"`
	Err     error  `json:"-"`
	Elapsed time.Duration
}

// RegionResult is the outcome of one key in one Region.
type RegionResult struct {
	Region        string
	KeyARN        string
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
	// ExpiredTokens counts imports redone after ExpiredImportTokenException.
	ExpiredTokens int
	Started       time.Time
	Elapsed       time.Duration
	// Ops are the request counts, throttles and waiting per operation and
	// Region.
	Ops []OpStats
}

// Rate returns the keys imported per second of the run.
func (s *Summary) Rate() float64 {
	if s.Elapsed <= 0 {
		return 0
	}
	return float64(s.Imported) / s.Elapsed.Seconds()
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
	prog    *progress

	mu       sync.Mutex
	clients  map[string]API
	sessions map[string]chan struct{}
	scans    map[string]*scan
	gpfi     map[string]int
	expired  int
	resultMu sync.Mutex
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
	r := &runner{m: m, log: m.Logger, clock: m.Clock, clients: map[string]API{}, sessions: map[string]chan struct{}{},
		scans: map[string]*scan{}, gpfi: map[string]int{}, audit: &auditLog{w: m.Audit}}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	if r.clock == nil {
		r.clock = realClock{}
	}
	q := DefaultQuotas()
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
		j, rp, err := openJournal(m.Journal)
		if err != nil {
			return nil, err
		}
		defer j.Close()
		r.journal, r.replay = j, rp
	case m.Journal != "":
		f, err := readfile.Open(m.Journal, "journal")
		switch {
		case err == nil:
			rp, _, err := replayJournal(f, m.Journal)
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
	if err := r.note(Entry{Step: StepRun, Phase: PhaseIntent, Detail: detail}); err != nil {
		return nil, err
	}
	r.prog = newProgress(m.Progress, m.ProgressTTY, m.Manifest.Len, m.ProgressInterval)
	err := r.dispatch(ctx, sum)
	r.prog.close()
	r.audit.sync()
	sum.Elapsed = time.Since(sum.Started)
	sum.Ops = r.lim.Stats()
	sum.GetParametersForImport = r.gpfi
	sum.ExpiredTokens = r.expired
	for _, s := range r.scans {
		sum.Orphans = append(sum.Orphans, s.orphans()...)
	}
	sort.Strings(sum.Orphans)
	sort.Slice(sum.Failures, func(i, j int) bool { return sum.Failures[i].Line < sum.Failures[j].Line })
	sum.NotStarted = sum.Total - sum.Imported - sum.AlreadyDone - sum.Failed - sum.Planned
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

type doneMsg struct {
	regions []string
	res     Result
}

// dispatch streams the manifest's keys and runs them with bounded
// concurrency overall and per Region, looking ahead in the manifest for a
// key whose Regions have room.
func (r *runner) dispatch(ctx context.Context, sum *Summary) error {
	perRegion := r.m.RegionConcurrency
	if perRegion <= 0 {
		// Enough keys in flight to keep GetParametersForImport busy when
		// each key spends a couple of seconds in flight (network latency
		// times a dozen calls): 16 at AWS's default quota, more when it
		// was raised.
		perRegion = min(maxAutoConcurrency, max(DefaultRegionConcurrency, int(2*r.lim.quotas["GetParametersForImport"])))
	}
	conc := r.m.Concurrency
	if conc <= 0 {
		conc = min(maxAutoConcurrency, max(DefaultConcurrency, 2*perRegion))
	}
	// How far ahead in the manifest to look for a key whose Regions have
	// room: bounded, so that memory does not grow with the manifest.
	window := min(1024, max(256, 4*conc))
	next, stop := iter.Pull2(r.m.Manifest.Keys())
	defer stop()
	type pending struct {
		k       Key
		regions []string
	}
	var queue []pending
	load := map[string]int{}
	inflight := 0
	done := make(chan doneMsg)
	exhausted := false
	var iterErr error
	finish := func(res Result) {
		r.prog.finish(res.Outcome == "failed", res.Outcome == "already-done")
		switch res.Outcome {
		case "imported":
			sum.Imported++
		case "already-done":
			sum.AlreadyDone++
		case "planned":
			sum.Planned++
		case "failed":
			sum.Failed++
			sum.Failures = append(sum.Failures, Failure{Key: res.Key, Line: res.Line, Err: res.Err.Error()})
		}
		if r.m.OnResult != nil {
			r.m.OnResult(res)
		}
	}
	for {
		for !exhausted && len(queue) < window && ctx.Err() == nil {
			k, err, ok := next()
			if !ok {
				exhausted = true
				break
			}
			if err != nil {
				iterErr, exhausted = err, true
				break
			}
			if st := r.replay.keys[k.Name]; st != nil && st.finished {
				finish(Result{Key: k.Name, Line: k.Line, Outcome: "already-done"})
				continue
			}
			queue = append(queue, pending{k, k.Target.AllRegions()})
		}
		if ctx.Err() == nil {
			for i := 0; i < len(queue) && inflight < conc; {
				p := queue[i]
				fits := true
				for _, reg := range p.regions {
					if load[reg] >= perRegion {
						fits = false
					}
				}
				if !fits {
					i++
					continue
				}
				queue = slices.Delete(queue, i, i+1)
				inflight++
				for _, reg := range p.regions {
					load[reg]++
				}
				go func() {
					res := r.migrateKey(ctx, p.k)
					done <- doneMsg{p.regions, res}
				}()
			}
		}
		if inflight == 0 && (ctx.Err() != nil || (exhausted && len(queue) == 0)) {
			return iterErr
		}
		if inflight == 0 {
			continue
		}
		msg := <-done
		inflight--
		for _, reg := range msg.regions {
			load[reg]--
		}
		if msg.res.Outcome != "" {
			finish(msg.res)
		}
	}
}

// job is one manifest key in progress.
type job struct {
	k       Key
	st      *keyState
	src     driver.Source
	release func()
	info    byok.KeyInfo
	choice  byok.Choice
	started time.Time
	results []RegionResult
	records []*AuditRecord
	plan    []string
}

func (j *job) rs(region string) *regionState { return j.st.region(region) }

func (r *runner) migrateKey(ctx context.Context, k Key) (res Result) {
	j := &job{k: k, st: r.replay.keys[k.Name], started: time.Now()}
	if j.st == nil {
		j.st = &keyState{}
	}
	res = Result{Key: k.Name, Line: k.Line}
	defer func() {
		res.Elapsed = time.Since(j.started)
		res.Regions = j.results
		if ctx.Err() != nil && res.Err != nil {
			res.Outcome = "" // interrupted: neither done nor failed
			return
		}
		if res.Err != nil {
			res.Outcome = "failed"
			r.note(Entry{Key: k.Name, Step: StepKey, Phase: PhaseFailed, Error: res.Err.Error()})
		}
		for _, rec := range j.records {
			if res.Err != nil && rec.Outcome == "imported" && !rec.Verified {
				rec.Outcome = "failed"
				rec.Error = res.Err.Error()
			}
			rec.Finished = time.Now().UTC()
			if err := r.audit.write(rec); err != nil {
				r.log.Warn("migrate: writing the audit log", "err", err)
			}
		}
	}()
	if err := r.open(ctx, j); err != nil {
		res.Err = err
		j.records = append(j.records, r.record(j, "", "", ""))
		return res
	}
	defer j.closeSource()
	var err error
	t := k.Target
	switch {
	case t.KeyID != "" && t.Rotate:
		err = r.rotate(ctx, j)
	case t.KeyID != "":
		err = r.existing(ctx, j)
	case t.MultiRegion:
		err = r.multiRegion(ctx, j)
	default:
		for _, region := range t.Regions {
			if err = r.single(ctx, j, region); err != nil {
				break
			}
		}
	}
	if err != nil {
		res.Err = err
		return res
	}
	if r.m.DryRun {
		res.Outcome = "planned"
		res.Plan = strings.Join(j.plan, "; ")
		for _, rec := range j.records {
			rec.Outcome = "dry-run"
		}
		return res
	}
	if err := r.note(Entry{Key: k.Name, Step: StepKey, Phase: PhaseDone, Fingerprint: j.info.Fingerprint}); err != nil {
		res.Err = err
		return res
	}
	res.Outcome = "imported"
	return res
}

// hsmSession takes a slot of the source's HSM token, if it is one.
func (r *runner) hsmSession(ctx context.Context, s Source) (func(), error) {
	if s.Driver == "software" {
		return func() {}, nil
	}
	n := r.m.HSMSessions
	if n <= 0 {
		n = DefaultHSMSessions
	}
	key := s.Driver + "\x00" + s.Module + "\x00" + s.Token
	r.mu.Lock()
	sem := r.sessions[key]
	if sem == nil {
		sem = make(chan struct{}, n)
		r.sessions[key] = sem
	}
	r.mu.Unlock()
	select {
	case sem <- struct{}{}:
		return func() { <-sem }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// closeSource closes the job's source and frees its HSM session slot.
func (j *job) closeSource() {
	if j.src != nil {
		j.src.Close()
		j.src = nil
	}
	if j.release != nil {
		j.release()
		j.release = nil
	}
}

// open opens the source, plans the wrapping and journals the fingerprint.
func (r *runner) open(ctx context.Context, j *job) error {
	s := j.k.Source
	release, err := r.hsmSession(ctx, s)
	if err != nil {
		return err
	}
	var src driver.Source
	if r.m.OpenSource != nil {
		src, err = r.m.OpenSource(ctx, s)
	} else {
		cfg := driver.Config{Key: s.Key, Module: s.Module, Token: s.Token, KeySpec: s.KeySpec, Usage: s.Usage, Options: s.Options}
		switch {
		case s.PINEnv != "":
			cfg.PIN = driver.PINFromEnv(s.PINEnv)
		case s.PINFile != "":
			cfg.PIN = driver.PINFromFile(s.PINFile)
		}
		switch {
		case s.PassphraseEnv != "":
			cfg.Passphrase = driver.PINFromEnv(s.PassphraseEnv)
		case s.PassphraseFile != "":
			cfg.Passphrase = driver.PINFromFile(s.PassphraseFile)
		}
		src, err = driver.Open(ctx, s.Driver, cfg)
	}
	if err != nil {
		release()
		if errors.Is(err, byok.ErrAmbiguousEncoding) {
			return fmt.Errorf("opening the source (%s): %w; in the manifest, give the source options: {key_format: raw} (or hex, or base64)", sourceLabel(s), err)
		}
		return fmt.Errorf("opening the source (%s): %w", sourceLabel(s), err)
	}
	// The source itself, not a wrapper: VerifyImport looks for its
	// optional capabilities (SignerSource, MACSource).
	j.src, j.release = src, release
	im := &byok.Importer{Algorithm: j.k.Options.Algorithm, WrappingKeySpec: j.k.Options.WrappingKeySpec}
	j.info, j.choice, err = im.Plan(ctx, src)
	if err != nil {
		j.closeSource()
		return err
	}
	if j.choice.Fallback {
		r.log.Warn("migrate: the source cannot perform a SHA-256 wrapping algorithm; using SHA-1", "key", j.k.Name, "algorithm", j.choice.Algorithm)
	}
	if fp := j.st.fingerprint; fp != "" && fp != j.info.Fingerprint {
		j.closeSource()
		return fmt.Errorf("the source key changed since the journaled run: it was %s, it is now %s; a key cannot change in the middle of a migration — give it a new name", fp, j.info.Fingerprint)
	}
	if j.st.fingerprint == "" {
		if err := r.note(Entry{Key: j.k.Name, Step: StepSource, Phase: PhaseDone, Fingerprint: j.info.Fingerprint,
			Detail: fmt.Sprintf("%s %s", j.info.Spec, usageOf(j.info))}); err != nil {
			j.closeSource()
			return err
		}
		j.st.fingerprint = j.info.Fingerprint
	}
	return nil
}

// sourceLabel names a source for logs: driver and key, without any PIN.
func sourceLabel(s Source) string {
	key := s.Key
	if strings.HasPrefix(strings.ToLower(key), "pkcs11:") {
		// RFC 7512 allows pin-value in the query: never show it.
		if i := strings.IndexAny(key, "?"); i >= 0 {
			var keep []string
			for _, a := range strings.Split(key[i+1:], "&") {
				if !strings.HasPrefix(strings.ToLower(a), "pin-") {
					keep = append(keep, a)
				}
			}
			key = key[:i]
			if len(keep) > 0 {
				key += "?" + strings.Join(keep, "&")
			}
		}
	}
	return s.Driver + ":" + key
}

func usageOf(info byok.KeyInfo) byok.KeyUsage {
	if info.Usage != "" {
		return info.Usage
	}
	if u := info.Spec.Usages(); len(u) > 0 {
		return u[0]
	}
	return ""
}

func (r *runner) record(j *job, region, arn, role string) *AuditRecord {
	rec := &AuditRecord{Time: time.Now().UTC(), Migration: r.m.Manifest.ID, Run: r.runID, Key: j.k.Name,
		Source: sourceLabel(j.k.Source), Fingerprint: j.info.Fingerprint, KeySpec: j.info.Spec, KeyUsage: usageOf(j.info),
		Region: region, KeyARN: arn, Role: role, Algorithm: j.choice.Algorithm, WrappingKeySpec: j.choice.WrappingKeySpec,
		Outcome: "imported", Started: j.started.UTC(), Checks: []byok.Check{}, Skipped: []string{}}
	if !j.k.Target.ValidTo.IsZero() {
		vt := j.k.Target.ValidTo
		rec.ValidTo, rec.ExpirationModel = &vt, string(types.ExpirationModelTypeKeyMaterialExpires)
	} else {
		rec.ExpirationModel = string(types.ExpirationModelTypeKeyMaterialDoesNotExpire)
	}
	j.records = append(j.records, rec)
	return rec
}

// tags returns the tags of a key the migration creates.
func (r *runner) tags(j *job) []types.Tag {
	var out []types.Tag
	keys := make([]string, 0, len(j.k.Target.Tags))
	for k := range j.k.Target.Tags {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		out = append(out, types.Tag{TagKey: aws.String(k), TagValue: aws.String(j.k.Target.Tags[k])})
	}
	return append(out,
		types.Tag{TagKey: aws.String(TagMigration), TagValue: aws.String(r.m.Manifest.ID)},
		types.Tag{TagKey: aws.String(TagKeyName), TagValue: aws.String(j.k.Name)},
		types.Tag{TagKey: aws.String(TagFingerprint), TagValue: aws.String(j.info.Fingerprint)})
}

func (r *runner) description(j *job) string {
	if j.k.Target.Description != "" {
		return j.k.Target.Description
	}
	return fmt.Sprintf("imported by byok migration %s: %s (%s)", r.m.Manifest.ID, j.k.Name, j.info.Fingerprint)
}

func (r *runner) policy(j *job) (*string, error) {
	t := j.k.Target
	if t.PolicyFile != "" {
		b, err := readfile.ReadFile(t.PolicyFile, "key policy JSON file", readfile.Policy)
		if err != nil {
			return nil, fmt.Errorf("reading the key policy: %w", err)
		}
		return aws.String(string(b)), nil
	}
	if t.Policy != "" {
		return aws.String(t.Policy), nil
	}
	return nil, nil
}

// createKey creates the KMS key of j in region, or finds the one an earlier
// run created: by the journal, or by its tags when the run stopped between
// CreateKey and the journal entry.
func (r *runner) createKey(ctx context.Context, j *job, region string, multi bool) (string, error) {
	rs := j.rs(region)
	if rs.created && rs.arn != "" {
		j.plan = append(j.plan, "key "+rs.arn+" (created earlier)")
		return rs.arn, nil
	}
	if rs.createIntent {
		arn, err := r.findTagged(ctx, region, j, false)
		if err != nil {
			return "", err
		}
		if arn != "" {
			return arn, r.createdNote(j, region, arn, "found again by its tags after an interrupted run")
		}
	}
	if r.m.DryRun {
		kind := "single-Region"
		if multi {
			kind = "multi-Region primary"
		}
		j.plan = append(j.plan, fmt.Sprintf("create %s %s %s key in %s", kind, j.info.Spec, usageOf(j.info), region))
		return "", nil
	}
	c, err := r.client(ctx, region)
	if err != nil {
		return "", err
	}
	pol, err := r.policy(j)
	if err != nil {
		return "", err
	}
	in := &kms.CreateKeyInput{
		Origin:      types.OriginTypeExternal,
		KeySpec:     types.KeySpec(j.info.Spec),
		KeyUsage:    types.KeyUsageType(usageOf(j.info)),
		Description: aws.String(r.description(j)),
		Policy:      pol,
		Tags:        r.tags(j),
	}
	if multi {
		in.MultiRegion = aws.Bool(true)
	}
	if err := r.note(Entry{Key: j.k.Name, Region: region, Step: StepCreate, Phase: PhaseIntent}); err != nil {
		return "", err
	}
	rs.createIntent = true
	for attempt := 1; ; attempt++ {
		out, err := c.CreateKey(ctx, in)
		if err == nil {
			arn := aws.ToString(out.KeyMetadata.Arn)
			return arn, r.createdNote(j, region, arn, "")
		}
		if !isTransient(err) || attempt >= 4 {
			r.note(Entry{Key: j.k.Name, Region: region, Step: StepCreate, Phase: PhaseFailed, Error: err.Error()})
			return "", fmt.Errorf("CreateKey in %s: %w", region, err)
		}
		// KMS may or may not have created the key: look before trying again.
		arn, ferr := r.findTagged(ctx, region, j, true)
		if ferr != nil {
			return "", ferr
		}
		if arn != "" {
			return arn, r.createdNote(j, region, arn, "found by its tags after CreateKey failed: "+err.Error())
		}
	}
}

func (r *runner) createdNote(j *job, region, arn, detail string) error {
	r.mu.Lock()
	sc := r.scans[region]
	r.mu.Unlock()
	if sc != nil {
		sc.mu.Lock()
		sc.adopted[j.k.Name+"\x00"+j.info.Fingerprint] = arn
		sc.mu.Unlock()
	}
	rs := j.rs(region)
	rs.arn, rs.created = arn, true
	return r.note(Entry{Key: j.k.Name, Region: region, Step: StepCreate, Phase: PhaseDone, ARN: arn, Fingerprint: j.info.Fingerprint, Detail: detail})
}

// scan is what a search of one Region for keys tagged with this migration
// found: keys in PendingImport, by manifest key name and fingerprint; and
// the key each name ended up with in this run.
type scan struct {
	mu      sync.Mutex
	done    bool
	found   map[string][]string // key name NUL fingerprint -> ARNs
	adopted map[string]string   // key name NUL fingerprint -> the ARN it has
}

// orphans are keys found that are not the key their name has: a second
// key created for the same manifest key (by a crash, or by a journal lost).
func (s *scan) orphans() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for id, arns := range s.found {
		for _, a := range arns {
			if have := s.adopted[id]; have != "" && have != a {
				out = append(out, a)
			}
		}
	}
	return out
}

// findTagged looks in region for a key in PendingImport tagged with this
// migration, the job's key name and fingerprint. The Region is listed once
// per run (again when fresh is set).
func (r *runner) findTagged(ctx context.Context, region string, j *job, fresh bool) (string, error) {
	r.mu.Lock()
	s := r.scans[region]
	if s == nil {
		s = &scan{found: map[string][]string{}, adopted: map[string]string{}}
		r.scans[region] = s
	}
	r.mu.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.done || fresh {
		found, err := r.listTagged(ctx, region)
		if err != nil {
			return "", fmt.Errorf("looking in %s for keys this migration created: %w", region, err)
		}
		s.found, s.done = found, true
	}
	id := j.k.Name + "\x00" + j.info.Fingerprint
	if a := s.adopted[id]; a != "" {
		return a, nil
	}
	arns := s.found[id]
	if len(arns) == 0 {
		return "", nil
	}
	s.adopted[id] = arns[0]
	return arns[0], nil
}

// listTagged lists the Region's EXTERNAL keys in PendingImport tagged with
// this migration: ListKeys, DescribeKey, then ListResourceTags.
func (r *runner) listTagged(ctx context.Context, region string) (map[string][]string, error) {
	c, err := r.client(ctx, region)
	if err != nil {
		return nil, err
	}
	found := map[string][]string{}
	var marker *string
	for {
		out, err := c.ListKeys(ctx, &kms.ListKeysInput{Marker: marker, Limit: aws.Int32(1000)})
		if err != nil {
			return nil, err
		}
		for _, k := range out.Keys {
			d, err := c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: k.KeyId})
			if err != nil {
				var nf *types.NotFoundException
				if errors.As(err, &nf) {
					continue
				}
				return nil, err
			}
			md := d.KeyMetadata
			if md.Origin != types.OriginTypeExternal || md.KeyState != types.KeyStatePendingImport {
				continue
			}
			if md.MultiRegionConfiguration != nil && md.MultiRegionConfiguration.MultiRegionKeyType == types.MultiRegionKeyTypeReplica {
				continue
			}
			var name, fp, mig string
			var tm *string
			for {
				t, err := c.ListResourceTags(ctx, &kms.ListResourceTagsInput{KeyId: k.KeyId, Marker: tm})
				if err != nil {
					return nil, err
				}
				for _, tag := range t.Tags {
					switch aws.ToString(tag.TagKey) {
					case TagMigration:
						mig = aws.ToString(tag.TagValue)
					case TagKeyName:
						name = aws.ToString(tag.TagValue)
					case TagFingerprint:
						fp = aws.ToString(tag.TagValue)
					}
				}
				if !t.Truncated {
					break
				}
				tm = t.NextMarker
			}
			if mig == r.m.Manifest.ID && name != "" {
				k := name + "\x00" + fp
				found[k] = append(found[k], aws.ToString(md.Arn))
			}
		}
		if !out.Truncated {
			return found, nil
		}
		marker = out.NextMarker
	}
}

// alias creates the alias of j in region for arn.
func (r *runner) alias(ctx context.Context, j *job, region, arn string) error {
	name := j.k.Target.Alias
	rs := j.rs(region)
	if name == "" || rs.aliased {
		return nil
	}
	if r.m.DryRun {
		j.plan = append(j.plan, fmt.Sprintf("alias %s in %s", name, region))
		return nil
	}
	c, err := r.client(ctx, region)
	if err != nil {
		return err
	}
	if err := r.note(Entry{Key: j.k.Name, Region: region, Step: StepAlias, Phase: PhaseIntent, ARN: arn, Detail: name}); err != nil {
		return err
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, err = c.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String(name), TargetKeyId: aws.String(arn)})
		var nf *types.NotFoundException
		if (errors.As(err, &nf) || isTransient(err)) && time.Now().Before(deadline) {
			// Just created (KMS is eventually consistent), or the answer
			// was lost: try again; AlreadyExists then tells.
			if err := r.clock.Sleep(ctx, 500*time.Millisecond); err != nil {
				return err
			}
			continue
		}
		break
	}
	var exists *types.AlreadyExistsException
	if errors.As(err, &exists) {
		ok, lerr := aliasPointsTo(ctx, c, name, arn)
		if lerr != nil {
			return fmt.Errorf("CreateAlias %s in %s: %w; listing aliases: %v", name, region, err, lerr)
		}
		if ok {
			err = nil
		} else {
			err = fmt.Errorf("the alias %s already exists in %s for another key; choose another alias", name, region)
		}
	}
	if err != nil {
		r.note(Entry{Key: j.k.Name, Region: region, Step: StepAlias, Phase: PhaseFailed, ARN: arn, Error: err.Error()})
		return fmt.Errorf("CreateAlias %s in %s: %w", name, region, err)
	}
	rs.aliased = true
	return r.note(Entry{Key: j.k.Name, Region: region, Step: StepAlias, Phase: PhaseDone, ARN: arn, Detail: name})
}

func aliasPointsTo(ctx context.Context, c API, name, arn string) (bool, error) {
	id := arn[strings.LastIndex(arn, "/")+1:]
	var marker *string
	for {
		out, err := c.ListAliases(ctx, &kms.ListAliasesInput{KeyId: aws.String(arn), Marker: marker})
		if err != nil {
			return false, err
		}
		for _, a := range out.Aliases {
			if aws.ToString(a.AliasName) == name && aws.ToString(a.TargetKeyId) == id {
				return true, nil
			}
		}
		if !out.Truncated {
			return false, nil
		}
		marker = out.NextMarker
	}
}

// importOpts say how to import into one key.
type importOpts struct {
	importType   types.ImportType // "" (first import), NEW_ or EXISTING_KEY_MATERIAL
	materialID   string
	createdByUs  bool // the migration created the key: Enabled means imported
	waitCreating bool // a fresh replica may still be Creating
	role         string
}

// importInto imports j's key material into arn in region: parameters
// fetched just in time, wrapped by the source, imported, and fetched again
// when the token has expired.
func (r *runner) importInto(ctx context.Context, j *job, region, arn string, o importOpts) (byok.Imported, error) {
	rs := j.rs(region)
	imp := byok.Imported{KeyID: arn, KeyARN: arn, KeyMaterialID: rs.materialID}
	if rs.imported {
		j.plan = append(j.plan, "imported earlier into "+arn)
		return imp, nil
	}
	if r.m.DryRun {
		r.countGPFI(region)
		what := "import"
		if o.importType != "" {
			what += " as " + string(o.importType)
		}
		j.plan = append(j.plan, fmt.Sprintf("%s into %s key in %s with %s under an %s wrapping key", what, o.role, region, j.choice.Algorithm, j.choice.WrappingKeySpec))
		return imp, nil
	}
	c, err := r.client(ctx, region)
	if err != nil {
		return imp, err
	}
	if o.waitCreating {
		if err := r.waitUsable(ctx, c, arn); err != nil {
			return imp, err
		}
	}
	// Did an earlier run (or an answer lost on the way) import already?
	if rs.importIntent {
		done, id, err := r.alreadyImported(ctx, c, arn, o)
		if err != nil {
			return imp, err
		}
		if done {
			imp.KeyMaterialID = id
			return imp, r.importedNote(j, region, arn, id, "found imported after an interrupted run")
		}
	}
	if err := r.note(Entry{Key: j.k.Name, Region: region, Step: StepImport, Phase: PhaseIntent, ARN: arn, Detail: string(o.importType)}); err != nil {
		return imp, err
	}
	rs.importIntent = true
	t := &byok.KMS{Client: c, KeyID: arn, ValidTo: j.k.Target.ValidTo, ImportType: string(o.importType), KeyMaterialID: o.materialID}
	if j.info.Spec == byok.SymmetricDefault {
		t.KeyMaterialDescription = j.k.Target.KeyMaterialDescription
	}
	var lastErr error
	for attempt := 1; attempt <= 5; attempt++ {
		r.countGPFI(region)
		p, err := r.prepare(ctx, t, j, o)
		if err != nil {
			lastErr = err
			break
		}
		wrapped, err := j.src.Wrap(ctx, p)
		if err != nil {
			lastErr = fmt.Errorf("wrapping for %s: %w", arn, err)
			break
		}
		got, err := t.Import(ctx, p, wrapped)
		clear(wrapped)
		if err == nil {
			imp.KeyMaterialID = got.KeyMaterialID
			imp.ExpirationModel, imp.ValidTo = got.ExpirationModel, got.ValidTo
			return imp, r.importedNote(j, region, arn, got.KeyMaterialID, "")
		}
		lastErr = err
		var expired *types.ExpiredImportTokenException
		if errors.As(err, &expired) {
			r.mu.Lock()
			r.expired++
			r.mu.Unlock()
			r.log.Info("migrate: import token expired; fetching new parameters", "key", j.k.Name, "region", region)
			continue
		}
		if !isTransient(err) {
			break
		}
		// The answer was lost: KMS may have imported.
		done, id, derr := r.alreadyImported(ctx, c, arn, o)
		if derr == nil && done {
			imp.KeyMaterialID = id
			return imp, r.importedNote(j, region, arn, id, "imported, though the answer was lost: "+err.Error())
		}
	}
	r.note(Entry{Key: j.k.Name, Region: region, Step: StepImport, Phase: PhaseFailed, ARN: arn, Error: lastErr.Error()})
	return imp, lastErr
}

// prepare gets import parameters (byok.KMS.Prepare: DescribeKey, then
// GetParametersForImport). Right after CreateKey or ReplicateKey, KMS may
// not know the key yet (it is eventually consistent) or may still be
// creating it: that is retried for up to 30 seconds.
func (r *runner) prepare(ctx context.Context, t *byok.KMS, j *job, o importOpts) (byok.ImportParameters, error) {
	deadline := time.Now().Add(30 * time.Second)
	delay := 200 * time.Millisecond
	for {
		p, err := t.Prepare(ctx, j.info, j.choice.Algorithm, j.choice.WrappingKeySpec)
		var nf *types.NotFoundException
		var is *types.KMSInvalidStateException
		if err == nil || !(o.createdByUs || o.waitCreating) || !(errors.As(err, &nf) || errors.As(err, &is)) || time.Now().After(deadline) {
			return p, err
		}
		if err := r.clock.Sleep(ctx, delay); err != nil {
			return p, err
		}
		delay = min(2*delay, 2*time.Second)
	}
}

func (r *runner) countGPFI(region string) {
	r.mu.Lock()
	r.gpfi[region]++
	r.mu.Unlock()
}

func (r *runner) importedNote(j *job, region, arn, id, detail string) error {
	rs := j.rs(region)
	rs.imported, rs.materialID = true, id
	return r.note(Entry{Key: j.k.Name, Region: region, Step: StepImport, Phase: PhaseDone, ARN: arn, KeyMaterialID: id, Detail: detail})
}

// alreadyImported reports whether arn holds the key material an import
// with o would have put there.
func (r *runner) alreadyImported(ctx context.Context, c API, arn string, o importOpts) (bool, string, error) {
	switch o.importType {
	case "":
		if !o.createdByUs {
			// Someone else's key: import again (KMS takes the same
			// material again, and refuses other material).
			return false, "", nil
		}
		d, err := c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(arn)})
		if err != nil {
			return false, "", fmt.Errorf("DescribeKey %s: %w", arn, err)
		}
		return d.KeyMetadata.KeyState == types.KeyStateEnabled, aws.ToString(d.KeyMetadata.CurrentKeyMaterialId), nil
	case types.ImportTypeNewKeyMaterial:
		// New material waiting for rotation, already imported: ours.
		var found string
		err := listRotations(ctx, c, arn, func(e types.RotationsListEntry) {
			if (e.KeyMaterialState == types.KeyMaterialStatePendingRotation || e.KeyMaterialState == types.KeyMaterialStatePendingMultiRegionImportAndRotation) &&
				e.ImportState == types.ImportStateImported {
				found = aws.ToString(e.KeyMaterialId)
			}
		})
		return found != "", found, err
	case types.ImportTypeExistingKeyMaterial:
		var done bool
		err := listRotations(ctx, c, arn, func(e types.RotationsListEntry) {
			if aws.ToString(e.KeyMaterialId) == o.materialID && e.ImportState == types.ImportStateImported {
				done = true
			}
		})
		return done, o.materialID, err
	}
	return false, "", nil
}

func listRotations(ctx context.Context, c API, arn string, f func(types.RotationsListEntry)) error {
	var marker *string
	for {
		out, err := c.ListKeyRotations(ctx, &kms.ListKeyRotationsInput{KeyId: aws.String(arn), IncludeKeyMaterial: types.IncludeKeyMaterialAllKeyMaterial, Marker: marker})
		if err != nil {
			return fmt.Errorf("ListKeyRotations %s: %w", arn, err)
		}
		for _, e := range out.Rotations {
			f(e)
		}
		if !out.Truncated {
			return nil
		}
		marker = out.NextMarker
	}
}

// waitUsable waits while a new replica is Creating.
func (r *runner) waitUsable(ctx context.Context, c API, arn string) error {
	deadline := time.Now().Add(2 * time.Minute)
	for {
		d, err := c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(arn)})
		var nf *types.NotFoundException
		switch {
		case errors.As(err, &nf) && time.Now().Before(deadline):
		case err != nil:
			return fmt.Errorf("DescribeKey %s: %w", arn, err)
		case d.KeyMetadata.KeyState != types.KeyStateCreating:
			return nil
		case time.Now().After(deadline):
			return fmt.Errorf("%s is still Creating after 2 minutes", arn)
		}
		if err := r.clock.Sleep(ctx, time.Second); err != nil {
			return err
		}
	}
}

// verify proves the import into arn, and for a replica of a symmetric
// multi-Region key also that a ciphertext made in the primary decrypts in
// the replica.
func (r *runner) verify(ctx context.Context, j *job, region, arn string, imp byok.Imported, rec *AuditRecord, primary *crossRegion) error {
	rs := j.rs(region)
	rec.KeyMaterialID = imp.KeyMaterialID
	res := RegionResult{Region: region, KeyARN: arn, Role: rec.Role, KeyMaterialID: imp.KeyMaterialID}
	defer func() { j.results = append(j.results, res) }()
	if r.m.DryRun {
		if !j.k.Options.SkipVerify {
			j.plan = append(j.plan, "verify in "+region)
		}
		return nil
	}
	if j.k.Options.SkipVerify {
		rec.Skipped = append(rec.Skipped, "verification turned off (options.skip_verify)")
		return nil
	}
	if rs.verified {
		rec.Verified, res.Verified = true, true
		rec.Verdict, res.Verdict = byok.VerdictPassed, byok.VerdictPassed
		rec.Skipped = append(rec.Skipped, "verified by an earlier run (PASSED then; its checks are in that run's audit record)")
		return nil
	}
	c, err := r.client(ctx, region)
	if err != nil {
		return err
	}
	t := &byok.KMS{Client: c}
	v, err := t.VerifyImport(ctx, imp, j.info, j.src)
	if err == nil && primary != nil && j.info.Spec == byok.SymmetricDefault {
		cerr := primary.decryptsIn(ctx, c, arn)
		chk := byok.Check{Name: fmt.Sprintf("a ciphertext made in the primary (%s) decrypts in %s", primary.region, region), OK: cerr == nil}
		if cerr != nil {
			chk.Detail = cerr.Error()
		}
		v.Add(chk)
	}
	if err == nil && j.k.Target.Rotate && j.info.Spec == byok.SymmetricDefault {
		d, derr := c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(arn)})
		chk := byok.Check{Name: "after rotation, the key's current key material is the imported one", OK: derr == nil && aws.ToString(d.KeyMetadata.CurrentKeyMaterialId) == imp.KeyMaterialID}
		if !chk.OK {
			chk.Detail = "CurrentKeyMaterialId differs"
			if derr != nil {
				chk.Detail = derr.Error()
			}
		}
		v.Add(chk)
	}
	if err != nil {
		v.Skip("the proof stopped: " + err.Error())
	}
	rec.Checks, rec.Skipped = append(rec.Checks, v.Checks...), append(rec.Skipped, v.Skipped...)
	rec.Verdict, res.Verdict = v.Verdict, v.Verdict
	if err == nil || v.Verdict == byok.VerdictFailed {
		err = v.Err(arn)
	} else {
		rec.Verdict, res.Verdict = byok.VerdictUnproven, byok.VerdictUnproven
		err = fmt.Errorf("%w: %s: %w", byok.ErrUnproven, arn, err)
	}
	if err != nil {
		r.note(Entry{Key: j.k.Name, Region: region, Step: StepVerify, Phase: PhaseFailed, ARN: arn, Error: err.Error()})
		return err
	}
	rec.Verified, res.Verified = true, true
	rs.verified = true
	return r.note(Entry{Key: j.k.Name, Region: region, Step: StepVerify, Phase: PhaseDone, ARN: arn, KeyMaterialID: imp.KeyMaterialID})
}

// crossRegion is a ciphertext made with a multi-Region primary key, for
// decrypting in its replicas.
type crossRegion struct {
	region string
	ct     []byte
	msg    []byte
}

var crossContext = map[string]string{"byok": "multi-Region verify"}

func (r *runner) encryptIn(ctx context.Context, region, arn string) (*crossRegion, error) {
	c, err := r.client(ctx, region)
	if err != nil {
		return nil, err
	}
	msg := make([]byte, 32)
	rand.Read(msg)
	out, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(arn), Plaintext: msg, EncryptionContext: crossContext})
	if err != nil {
		return nil, fmt.Errorf("Encrypt in the primary %s: %w", region, err)
	}
	return &crossRegion{region: region, ct: out.CiphertextBlob, msg: msg}, nil
}

func (x *crossRegion) decryptsIn(ctx context.Context, c API, arn string) error {
	out, err := c.Decrypt(ctx, &kms.DecryptInput{KeyId: aws.String(arn), CiphertextBlob: x.ct, EncryptionContext: crossContext})
	if err != nil {
		return fmt.Errorf("Decrypt: %w", err)
	}
	if !bytes.Equal(out.Plaintext, x.msg) {
		return errors.New("Decrypt returned something else")
	}
	return nil
}

// single migrates j into a new single-Region key in region.
func (r *runner) single(ctx context.Context, j *job, region string) error {
	arn, err := r.createKey(ctx, j, region, false)
	if err != nil {
		return err
	}
	rec := r.record(j, region, arn, "single-Region")
	rec.Created = true
	if err := r.alias(ctx, j, region, arn); err != nil {
		return err
	}
	imp, err := r.importInto(ctx, j, region, arn, importOpts{createdByUs: true, role: "a new"})
	if err != nil {
		return err
	}
	return r.verify(ctx, j, region, arn, imp, rec, nil)
}

// multiRegion creates a multi-Region primary key, replicates it, imports
// the same key material into the primary and every replica (each with its
// own import parameters) and verifies each, and for symmetric keys that a
// ciphertext of the primary decrypts in every replica.
func (r *runner) multiRegion(ctx context.Context, j *job) error {
	t := j.k.Target
	primary := t.Regions[0]
	arn, err := r.createKey(ctx, j, primary, true)
	if err != nil {
		return err
	}
	prec := r.record(j, primary, arn, "primary")
	prec.Created = true
	replicas := map[string]string{}
	for _, region := range t.ReplicaRegions {
		rarn, err := r.replicate(ctx, j, primary, arn, region)
		if err != nil {
			return err
		}
		replicas[region] = rarn
	}
	for _, region := range t.AllRegions() {
		a := arn
		if region != primary {
			a = replicas[region]
		}
		if err := r.alias(ctx, j, region, a); err != nil {
			return err
		}
	}
	return r.importMulti(ctx, j, primary, arn, replicas, prec, true, "")
}

// importMulti imports into a primary key and its replicas, rotates when
// asked, and verifies.
func (r *runner) importMulti(ctx context.Context, j *job, primary, arn string, replicas map[string]string, prec *AuditRecord, created bool, first types.ImportType) error {
	pimp, err := r.importInto(ctx, j, primary, arn, importOpts{createdByUs: created, importType: first, role: prec.Role})
	if err != nil {
		return err
	}
	prec.ImportType = string(first)
	regions := slices.Sorted(func(yield func(string) bool) {
		for reg := range replicas {
			if !yield(reg) {
				return
			}
		}
	})
	imps := map[string]byok.Imported{}
	recs := map[string]*AuditRecord{}
	for _, region := range regions {
		rarn := replicas[region]
		rec := r.record(j, region, rarn, "replica")
		rec.Created = created
		recs[region] = rec
		o := importOpts{createdByUs: created, waitCreating: true, role: "the replica"}
		if j.info.Spec == byok.SymmetricDefault {
			o.importType, o.materialID = types.ImportTypeExistingKeyMaterial, pimp.KeyMaterialID
			rec.ImportType = string(o.importType)
		}
		imp, err := r.importInto(ctx, j, region, rarn, o)
		if err != nil {
			return err
		}
		imps[region] = imp
	}
	if first == types.ImportTypeNewKeyMaterial {
		if err := r.rotateOnDemand(ctx, j, primary, arn, pimp.KeyMaterialID); err != nil {
			return err
		}
		prec.Rotated = true
		for _, rec := range recs {
			rec.Rotated = true
		}
	}
	if err := r.verify(ctx, j, primary, arn, pimp, prec, nil); err != nil {
		return err
	}
	var x *crossRegion
	if j.info.Spec == byok.SymmetricDefault && len(regions) > 0 && !r.m.DryRun && !j.k.Options.SkipVerify {
		if x, err = r.encryptIn(ctx, primary, arn); err != nil {
			return err
		}
	}
	for _, region := range regions {
		if err := r.verify(ctx, j, region, replicas[region], imps[region], recs[region], x); err != nil {
			return err
		}
	}
	return nil
}

// replicate replicates the primary key arn to region.
func (r *runner) replicate(ctx context.Context, j *job, primary, arn, region string) (string, error) {
	rs := j.rs(region)
	if rs.replicated && rs.arn != "" {
		return rs.arn, nil
	}
	replicaARN := strings.Replace(arn, ":"+primary+":", ":"+region+":", 1)
	if r.m.DryRun {
		j.plan = append(j.plan, "replicate to "+region)
		return replicaARN, nil
	}
	c, err := r.client(ctx, primary)
	if err != nil {
		return "", err
	}
	done := func(a, detail string) (string, error) {
		rs.arn, rs.replicated = a, true
		return a, r.note(Entry{Key: j.k.Name, Region: region, Step: StepReplicate, Phase: PhaseDone, ARN: a, Detail: detail})
	}
	exists := func() (bool, error) {
		d, err := c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(arn)})
		if err != nil {
			return false, fmt.Errorf("DescribeKey %s: %w", arn, err)
		}
		if mrc := d.KeyMetadata.MultiRegionConfiguration; mrc != nil {
			for _, rk := range mrc.ReplicaKeys {
				if aws.ToString(rk.Region) == region {
					return true, nil
				}
			}
		}
		return false, nil
	}
	if rs.replicaIntent {
		ok, err := exists()
		if err != nil {
			return "", err
		}
		if ok {
			return done(replicaARN, "found after an interrupted run")
		}
	}
	pol, err := r.policy(j)
	if err != nil {
		return "", err
	}
	if err := r.note(Entry{Key: j.k.Name, Region: region, Step: StepReplicate, Phase: PhaseIntent, ARN: arn}); err != nil {
		return "", err
	}
	rs.replicaIntent = true
	for attempt := 1; ; attempt++ {
		out, err := c.ReplicateKey(ctx, &kms.ReplicateKeyInput{KeyId: aws.String(arn), ReplicaRegion: aws.String(region),
			Description: aws.String(r.description(j)), Policy: pol, Tags: r.tags(j)})
		if err == nil {
			return done(aws.ToString(out.ReplicaKeyMetadata.Arn), "")
		}
		var ae *types.AlreadyExistsException
		if errors.As(err, &ae) {
			return done(replicaARN, "the replica existed")
		}
		if isTransient(err) && attempt < 4 {
			if ok, xerr := exists(); xerr == nil && ok {
				return done(replicaARN, "replicated, though the answer was lost: "+err.Error())
			}
			continue
		}
		r.note(Entry{Key: j.k.Name, Region: region, Step: StepReplicate, Phase: PhaseFailed, ARN: arn, Error: err.Error()})
		return "", fmt.Errorf("ReplicateKey %s to %s: %w", arn, region, err)
	}
}

// describeTarget describes an existing target key: its ARN and, for a
// multi-Region primary, its replicas by Region.
func (r *runner) describeTarget(ctx context.Context, j *job) (string, string, map[string]string, error) {
	region := j.k.Target.Regions[0]
	c, err := r.client(ctx, region)
	if err != nil {
		return "", "", nil, err
	}
	d, err := c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(j.k.Target.KeyID)})
	if err != nil {
		return "", "", nil, fmt.Errorf("DescribeKey %s in %s: %w", j.k.Target.KeyID, region, err)
	}
	md := d.KeyMetadata
	arn := aws.ToString(md.Arn)
	if md.Origin != types.OriginTypeExternal {
		return "", "", nil, fmt.Errorf("%s has Origin %s; only keys with Origin EXTERNAL take imported key material", arn, md.Origin)
	}
	replicas := map[string]string{}
	role := "existing"
	if mrc := md.MultiRegionConfiguration; mrc != nil {
		switch mrc.MultiRegionKeyType {
		case types.MultiRegionKeyTypeReplica:
			if j.k.Target.Rotate {
				return "", "", nil, fmt.Errorf("%s is a multi-Region replica; rotate its primary key in %s", arn, aws.ToString(mrc.PrimaryKey.Region))
			}
		case types.MultiRegionKeyTypePrimary:
			role = "existing primary"
			for _, rk := range mrc.ReplicaKeys {
				replicas[aws.ToString(rk.Region)] = aws.ToString(rk.Arn)
			}
		}
	}
	return arn, role, replicas, nil
}

// existing imports into an existing key (and its replicas, for a
// multi-Region primary).
func (r *runner) existing(ctx context.Context, j *job) error {
	arn, role, replicas, err := r.describeTarget(ctx, j)
	if err != nil {
		return err
	}
	region := j.k.Target.Regions[0]
	rec := r.record(j, region, arn, role)
	if len(replicas) > 0 {
		return r.importMulti(ctx, j, region, arn, replicas, rec, false, "")
	}
	imp, err := r.importInto(ctx, j, region, arn, importOpts{role: "the existing"})
	if err != nil {
		return err
	}
	return r.verify(ctx, j, region, arn, imp, rec, nil)
}

// rotate imports new key material into an existing symmetric key as
// NEW_KEY_MATERIAL, into its replicas as EXISTING_KEY_MATERIAL with the
// KeyMaterialId, then rotates the key to it with RotateKeyOnDemand.
func (r *runner) rotate(ctx context.Context, j *job) error {
	if j.info.Spec != byok.SymmetricDefault {
		return fmt.Errorf("rotation of imported key material is for SYMMETRIC_DEFAULT keys; the source is %s", j.info.Spec)
	}
	arn, role, replicas, err := r.describeTarget(ctx, j)
	if err != nil {
		return err
	}
	region := j.k.Target.Regions[0]
	rec := r.record(j, region, arn, role)
	return r.importMulti(ctx, j, region, arn, replicas, rec, false, types.ImportTypeNewKeyMaterial)
}

func (r *runner) rotateOnDemand(ctx context.Context, j *job, region, arn, materialID string) error {
	rs := j.rs(region)
	if rs.rotated {
		return nil
	}
	if r.m.DryRun {
		j.plan = append(j.plan, "RotateKeyOnDemand in "+region)
		return nil
	}
	c, err := r.client(ctx, region)
	if err != nil {
		return err
	}
	current := func() (bool, error) {
		d, err := c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(arn)})
		if err != nil {
			return false, fmt.Errorf("DescribeKey %s: %w", arn, err)
		}
		return aws.ToString(d.KeyMetadata.CurrentKeyMaterialId) == materialID, nil
	}
	done := func(detail string) error {
		rs.rotated = true
		return r.note(Entry{Key: j.k.Name, Region: region, Step: StepRotate, Phase: PhaseDone, ARN: arn, KeyMaterialID: materialID, Detail: detail})
	}
	if rs.rotateIntent {
		ok, err := current()
		if err != nil {
			return err
		}
		if ok {
			return done("found rotated after an interrupted run")
		}
	}
	if err := r.note(Entry{Key: j.k.Name, Region: region, Step: StepRotate, Phase: PhaseIntent, ARN: arn, KeyMaterialID: materialID}); err != nil {
		return err
	}
	rs.rotateIntent = true
	for attempt := 1; ; attempt++ {
		_, err := c.RotateKeyOnDemand(ctx, &kms.RotateKeyOnDemandInput{KeyId: aws.String(arn)})
		if err == nil {
			return done("")
		}
		if ok, cerr := current(); cerr == nil && ok {
			return done("rotated, though the answer was an error: " + err.Error())
		}
		if !isTransient(err) || attempt >= 4 {
			r.note(Entry{Key: j.k.Name, Region: region, Step: StepRotate, Phase: PhaseFailed, ARN: arn, Error: err.Error()})
			return fmt.Errorf("RotateKeyOnDemand %s: %w", arn, err)
		}
	}
}
