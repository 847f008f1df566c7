package migrate

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/byok-go/byok"
)

// CloudTarget is a target outside AWS KMS (Google Cloud KMS, Azure Key
// Vault) as a migration drives it: bound to one cloud key (a CloudSpec),
// it creates or finds that key and gets import parameters (Prepare, which
// must be safe to call again for the same key: a resumed run calls it
// again), imports (Import), chooses the wrapping by its own rules
// (ChooseWrapping), proves the import (VerifyImport) and says what state
// the key is in (KeyState).
//
// Import names the version it created in Imported.KeyARN (or in a KeyID
// other than the key's name); the migration journals and audits it
// (KeyMaterialID) with the KeyID Import returned, and gives both back to
// VerifyImport, in this run or a later one, so that the proof is of the
// version imported, not of whatever version the key's name stands for.
//
// The migrate package does not import any cloud SDK: the packages that
// implement these targets are wired in by the program (byok's command
// line fills Migration.Targets and StatusQuery.Targets).
type CloudTarget interface {
	byok.KMSTarget
	byok.WrappingChooser
	byok.ImportVerifier
	// KeyState returns the state of the key material imported into keyID
	// — CloudSpec.Name (the migration requires that the KeyID of the
	// target's ImportParameters be that name), or the version an import
	// created, as Import named it (byok status reads the version recorded
	// at import) — in the cloud's words: for Cloud KMS the state of the CryptoKeyVersion
	// imported (ENABLED, DISABLED, PENDING_IMPORT, IMPORT_FAILED,
	// DESTROYED, …), for Key Vault Enabled or Disabled. Compared without
	// regard to case, "enabled" means imported and usable and "disabled"
	// imported and disabled on purpose; anything else needs attention. A
	// key that does not exist is an error.
	KeyState(ctx context.Context, keyID string) (string, error)
}

// ThrottleClassifier is implemented by a CloudTarget whose errors can say
// that the cloud refused a request over its quota (Cloud KMS:
// RESOURCE_EXHAUSTED; Key Vault: HTTP 429). The migration then slows that
// kind's requests down and tries again; without it, a throttled call
// fails like any other error.
type ThrottleClassifier interface {
	IsThrottled(err error) bool
}

// TargetOpener opens the target of one key in one cloud: spec names the
// cloud key (spec.GCP or spec.Azure, as spec.Kind says). It must not call
// the cloud (the target does, when the migration calls it, paced by the
// cloud's quotas), and it is called from several goroutines at once:
// share clients between calls.
//
// It is also the check of the manifest's settings for that cloud, which
// the migrate package cannot make itself (it links no cloud SDK): Run and
// Status first open every cloud target of every key, before the first
// request or journal entry, and then Run opens each again when its key
// runs. So an opener checks spec's settings first, as the cloud's target
// does (names, algorithm, protection level, vault URL), and returns a
// *CloudFieldError naming the field it refuses; then it builds or shares
// the client, whose failure (no credentials) is any other error. Field
// errors become manifest mistakes (*ManifestError, with the line and the
// field's path); Run stops on any other error before doing anything.
type TargetOpener func(ctx context.Context, spec CloudSpec) (CloudTarget, error)

// CloudFieldError is a TargetOpener's refusal of one setting of a
// CloudSpec: Field is the manifest's name for it (key_ring, key_id,
// protection_level, algorithm, vault, key_name, kek_name), or "" for the
// item as a whole (settings that do not go together).
type CloudFieldError struct {
	Field string
	Err   error
}

func (e *CloudFieldError) Error() string {
	if e.Field == "" {
		return e.Err.Error()
	}
	return e.Field + ": " + e.Err.Error()
}

func (e *CloudFieldError) Unwrap() error { return e.Err }

// VersionReader is implemented by a CloudTarget whose key's unversioned
// use picks its latest version (Key Vault): CurrentVersion returns the
// identifier of the version the key name keyID (CloudSpec.Name) stands for
// now, in the form Import returned for the version it imported
// (Imported.KeyARN). byok status compares it with the version recorded at
// import: another version there is not the source's key.
type VersionReader interface {
	CurrentVersion(ctx context.Context, keyID string) (string, error)
}

// checkCloudTargets opens every cloud target of every key of m with its
// opener, which checks the target's settings and makes no request. The
// settings refused (CloudFieldError) are returned as a *ManifestError
// naming their line and field; the first other error (a client that cannot
// be made) as other. After such an error, that kind's opener is not called
// again (every key would fail alike, perhaps slowly).
func checkCloudTargets(ctx context.Context, m *Manifest, openers map[string]TargetOpener) (mistakes, other error) {
	if len(m.kinds) == 0 || (len(m.kinds) == 1 && m.kinds[KindAWS] > 0) {
		return nil, nil
	}
	errs := &errList{path: m.Path}
	broken := map[string]bool{}
	for k, err := range m.Keys() {
		if err != nil {
			return err, nil
		}
		for _, c := range k.Clouds {
			if broken[c.Kind] || openers[c.Kind] == nil {
				continue
			}
			_, err := openers[c.Kind](ctx, c)
			var fe *CloudFieldError
			switch {
			case err == nil:
			case errors.As(err, &fe):
				field := c.field
				if fe.Field != "" {
					field += "." + fe.Field
				}
				errs.add(c.Line, field, "%v", fe.Err)
			default:
				broken[c.Kind] = true
				if other == nil {
					other = fmt.Errorf("migrate: %s:%d: opening the %s target %s: %w; nothing was changed", m.Path, c.Line, kindTitle(c.Kind), c.Name(), err)
				}
			}
		}
	}
	return errs.err(), other
}

// MissingTargetError is Run's (and Status's) refusal of a manifest that
// names a kind of target no opener was given for (Migration.Targets,
// StatusQuery.Targets). Nothing was called.
type MissingTargetError struct {
	Kind string // gcp, azure
	Line int    // the first key with such a target
	Path string // the manifest
}

func (e *MissingTargetError) Error() string {
	return fmt.Sprintf("migrate: %s:%d: the manifest has %s targets, and no %s target is available (Migration.Targets has no opener for %q); nothing was changed",
		e.Path, e.Line, e.Kind, kindTitle(e.Kind), e.Kind)
}

// kindTitle names a kind of target for people.
func kindTitle(kind string) string {
	switch kind {
	case KindGCP:
		return "Google Cloud KMS"
	case KindAzure:
		return "Azure Key Vault"
	case KindAWS:
		return "AWS KMS"
	}
	return kind
}

// checkOpeners refuses a manifest whose target kinds have no opener.
func checkOpeners(m *Manifest, openers map[string]TargetOpener) error {
	for _, kind := range m.TargetKinds() {
		if kind == KindAWS {
			continue
		}
		if openers[kind] == nil {
			return &MissingTargetError{Kind: kind, Line: m.TargetLine(kind), Path: m.Path}
		}
	}
	return nil
}

// openCloud opens the target of spec with the migration's opener.
func openCloud(ctx context.Context, openers map[string]TargetOpener, spec CloudSpec) (CloudTarget, error) {
	open := openers[spec.Kind]
	if open == nil {
		return nil, fmt.Errorf("no %s target is available (no opener for %q)", kindTitle(spec.Kind), spec.Kind)
	}
	t, err := open(ctx, spec)
	if err == nil && t == nil {
		err = errors.New("the opener returned no target")
	}
	if err != nil {
		return nil, fmt.Errorf("opening the %s target %s: %w", kindTitle(spec.Kind), spec.Name(), err)
	}
	return t, nil
}

// isImportedState reports whether a KeyState says the key holds imported
// material (enabled, or disabled on purpose).
func isImportedState(s string) bool {
	return strings.EqualFold(s, "enabled") || strings.EqualFold(s, "disabled")
}

// pacedCloud paces the calls of one CloudTarget by the migration's
// Limiter: each call takes as many tokens of its kind's quota as the
// requests it makes (cloudCosts), in the spec's quota scope; a throttled
// call (ThrottleClassifier) slows that quota down and is tried again.
type pacedCloud struct {
	r     *runner
	t     CloudTarget
	spec  CloudSpec
	scope string
}

// pacedCall runs f as method of the target, paced, and tried again after
// a throttle. Prepare (safe to repeat by contract), KeyState and the proof
// may be repeated; Import is not (pacedOnce): a call that makes several
// requests may have imported before a later request was throttled.
func pacedCall[T any](ctx context.Context, p *pacedCloud, method string, f func(context.Context) (T, error)) (T, error) {
	return paced(ctx, p, method, 20, f)
}

// pacedOnce runs f as method of the target, paced, once; a throttle still
// slows the quota down (isThrottled tells the caller).
func pacedOnce[T any](ctx context.Context, p *pacedCloud, method string, f func(context.Context) (T, error)) (T, error) {
	return paced(ctx, p, method, 1, f)
}

func (p *pacedCloud) isThrottled(err error) bool {
	tc, ok := p.t.(ThrottleClassifier)
	return ok && err != nil && tc.IsThrottled(err)
}

func paced[T any](ctx context.Context, p *pacedCloud, method string, attempts int, f func(context.Context) (T, error)) (T, error) {
	var zero T
	c := costOf(p.spec.Kind, method)
	tc, _ := p.t.(ThrottleClassifier)
	for attempt := 1; ; attempt++ {
		if err := p.r.lim.WaitN(ctx, p.scope, c.op, c.n); err != nil {
			return zero, err
		}
		out, err := f(ctx)
		switch {
		case err == nil:
			p.r.lim.Succeeded(p.scope, c.op)
			return out, nil
		case tc != nil && tc.IsThrottled(err):
			p.r.lim.Throttled(p.scope, c.op)
			p.r.log.Debug("migrate: throttled", "target", p.spec.Kind, "method", method, "scope", p.scope, "attempt", attempt)
			if attempt >= attempts || ctx.Err() != nil {
				return out, err
			}
		default:
			return out, err
		}
	}
}

// cloudJournalTarget is the byok.KMSTarget a migration hands to
// byok.Importer.Import for one key and one target outside AWS: it
// decorates the cloud's own target (Unwrap, so that the importer applies
// that target's wrapping rules), journals the import's intent before the
// wrapped material is sent and its result after, and paces each call.
type cloudJournalTarget struct {
	p    *pacedCloud
	j    *job
	unit string
	// noted is the journal's error after a successful import.
	noted error
}

var (
	_ byok.KMSTarget          = (*cloudJournalTarget)(nil)
	_ byok.ParameterRefresher = (*cloudJournalTarget)(nil)
)

// Unwrap returns the cloud's target, whose import rules apply.
func (t *cloudJournalTarget) Unwrap() byok.KMSTarget { return t.p.t }

// Prepare creates or finds the cloud key and gets import parameters.
func (t *cloudJournalTarget) Prepare(ctx context.Context, info byok.KeyInfo, alg byok.WrappingAlgorithm, wks byok.WrappingKeySpec) (byok.ImportParameters, error) {
	return pacedCall(ctx, t.p, "Prepare", func(ctx context.Context) (byok.ImportParameters, error) {
		return t.p.t.Prepare(ctx, info, alg, wks)
	})
}

// Import journals the intent (with the cloud key's name), imports, and
// journals the result.
func (t *cloudJournalTarget) Import(ctx context.Context, p byok.ImportParameters, wrapped []byte) (byok.Imported, error) {
	r, rs := t.p.r, t.j.rs(t.unit)
	if name := t.p.spec.Name(); p.KeyID != name {
		return byok.Imported{KeyID: p.KeyID}, fmt.Errorf("migrate: the %s target prepared %q, not the manifest's key %q (a CloudTarget's ImportParameters.KeyID must be CloudSpec.Name)", t.p.spec.Kind, p.KeyID, name)
	}
	if !rs.importIntent {
		if err := r.note(Entry{Key: t.j.k.Name, Target: t.unit, Step: StepImport, Phase: PhaseIntent, ARN: p.KeyID, Detail: t.p.spec.Kind}); err != nil {
			return byok.Imported{KeyID: p.KeyID}, err
		}
		rs.importIntent, rs.arn = true, p.KeyID
	}
	var imp byok.Imported
	for attempt := 1; ; attempt++ {
		var err error
		imp, err = pacedOnce(ctx, t.p, "Import", func(ctx context.Context) (byok.Imported, error) {
			return t.p.t.Import(ctx, p, wrapped)
		})
		if err == nil {
			break
		}
		if !t.p.isThrottled(err) || attempt >= 20 || ctx.Err() != nil {
			return imp, err
		}
		// Throttled: the import may still have happened (a target that
		// reads the new version after importing it), so ask before the
		// material is sent again.
		state, serr := pacedCall(ctx, t.p, "KeyState", func(ctx context.Context) (string, error) { return t.p.t.KeyState(ctx, p.KeyID) })
		if serr == nil && isImportedState(state) {
			imp = byok.Imported{KeyID: p.KeyID}
			break
		}
	}
	id := imp.KeyID
	if id == "" {
		id = p.KeyID
	}
	t.noted = r.cloudImportedNote(t.j, t.unit, id, importedVersion(imp, p.KeyID), "")
	return imp, t.noted
}

// importedVersion returns the version an import into the cloud key name
// created, as the target's Import named it: Imported.KeyARN (Cloud KMS:
// the CryptoKeyVersion's name; Key Vault: the versioned key identifier),
// else a KeyID other than the key's name, else KeyMaterialID.
func importedVersion(imp byok.Imported, name string) string {
	switch {
	case imp.KeyARN != "" && imp.KeyARN != name:
		return imp.KeyARN
	case imp.KeyID != "" && imp.KeyID != name:
		return imp.KeyID
	}
	return imp.KeyMaterialID
}

// reproof returns what VerifyImport is given for the import the journal
// records in rs: the KeyID the target's Import returned (journaled as the
// entry's ARN: Key Vault's versioned key identifier, Cloud KMS's crypto
// key) and the version (KeyARN), so that the proof, in this run or a later
// one, uses the version imported, not whatever version the key's name
// stands for now.
func reproof(rs *regionState, name string) byok.Imported {
	id := rs.arn
	if id == "" {
		id = name
	}
	return byok.Imported{KeyID: id, KeyARN: rs.materialID, KeyMaterialID: rs.materialID}
}

// Refresh fetches new parameters when the cloud's target can.
func (t *cloudJournalTarget) Refresh(ctx context.Context, p byok.ImportParameters) (byok.ImportParameters, error) {
	rf, ok := t.p.t.(byok.ParameterRefresher)
	if !ok {
		return p, errors.New("migrate: the target cannot fetch new import parameters")
	}
	return pacedCall(ctx, t.p, "Prepare", func(ctx context.Context) (byok.ImportParameters, error) {
		return rf.Refresh(ctx, p)
	})
}

// IsExpiredToken reports whether err says the import parameters expired,
// when the cloud's target can tell.
func (t *cloudJournalTarget) IsExpiredToken(err error) bool {
	rf, ok := t.p.t.(byok.ParameterRefresher)
	return ok && rf.IsExpiredToken(err)
}

// cloudImportedNote journals an import into a target outside AWS: keyID
// is the KeyID its Import returned (the cloud key's name when unknown),
// version the version it created ("" when unknown).
func (r *runner) cloudImportedNote(j *job, unit, keyID, version, detail string) error {
	rs := j.rs(unit)
	rs.imported, rs.arn, rs.materialID = true, keyID, version
	return r.note(Entry{Key: j.k.Name, Target: unit, Step: StepImport, Phase: PhaseDone, ARN: keyID, KeyMaterialID: version, Detail: detail})
}

// cloudPlan is a target outside AWS of the job's key, opened, and its
// rules applied to the source (planClouds).
type cloudPlan struct {
	t      CloudTarget
	info   byok.KeyInfo
	choice byok.Choice
}

// planClouds opens every target of j outside AWS and applies its rules to
// the source (byok.Importer.PlanFor: key spec, usage, wrapping), before
// this run does anything for the key: a key one cloud refuses (a spec it
// has no algorithm for) fails with nothing created or imported anywhere.
func (r *runner) planClouds(ctx context.Context, j *job) error {
	for _, spec := range j.k.Clouds {
		t, err := openCloud(ctx, r.m.Targets, spec)
		if err != nil {
			return err
		}
		info, choice, err := (&byok.Importer{}).PlanFor(ctx, j.src, t)
		if err != nil {
			return fmt.Errorf("%s %s: %w (found before this run did anything for the key)", kindTitle(spec.Kind), spec.Name(), err)
		}
		if j.clouds == nil {
			j.clouds = map[string]*cloudPlan{}
		}
		j.clouds[spec.Unit()] = &cloudPlan{t: t, info: info, choice: choice}
	}
	return nil
}

// cloud migrates j into one target outside AWS: the target planClouds
// opened, import through byok.Importer.Import (unless the journal, or the
// cloud after an interrupted run, says it is done), prove it, journal and
// audit it.
func (r *runner) cloud(ctx context.Context, j *job, spec CloudSpec) error {
	unit := spec.Unit()
	rs := j.rs(unit)
	rec := r.record(j, "", "", spec.Kind)
	rec.Target, rec.KeyName, rec.ValidTo, rec.ExpirationModel, rec.Algorithm, rec.WrappingKeySpec = spec.Kind, spec.Name(), nil, "", "", ""
	res := RegionResult{Target: spec.Kind, KeyName: spec.Name(), Role: spec.Kind}
	defer func() { j.results = append(j.results, res) }()
	cp := j.clouds[unit]
	if cp == nil {
		return fmt.Errorf("migrate: the %s target %s was not planned", kindTitle(spec.Kind), spec.Name())
	}
	t := cp.t
	p := &pacedCloud{r: r, t: t, spec: spec, scope: spec.Scope()}
	if r.m.DryRun {
		info, choice := cp.info, cp.choice
		rec.KeySpec, rec.Algorithm, rec.WrappingKeySpec = info.Spec, choice.Algorithm, choice.WrappingKeySpec
		if rs.imported {
			j.plan = append(j.plan, "imported earlier into "+spec.Name())
		} else {
			r.countCloud(p.scope)
			j.plan = append(j.plan, fmt.Sprintf("import into %s key %s with %s under an %s wrapping key", kindTitle(spec.Kind), spec.Name(), choice.Algorithm, choice.WrappingKeySpec))
		}
		if !j.k.Options.SkipVerify && !rs.verified {
			j.plan = append(j.plan, "verify in "+spec.Name())
		}
		return nil
	}
	name := spec.Name()
	keyState := func(ctx context.Context) (string, error) { return t.KeyState(ctx, name) }
	if !rs.imported && rs.importIntent {
		// An earlier run sent the material and stopped before the answer
		// was journaled: the cloud says whether it arrived.
		if state, err := pacedCall(ctx, p, "KeyState", keyState); err == nil && isImportedState(state) {
			if err := r.cloudImportedNote(j, unit, name, "", "found imported after an interrupted run (state "+state+")"); err != nil {
				return err
			}
		}
	}
	var alg byok.WrappingAlgorithm
	if !rs.imported {
		dt := &cloudJournalTarget{p: p, j: j, unit: unit}
		ir, err := (&byok.Importer{SkipVerify: true}).Import(ctx, j.src, dt)
		if err != nil && dt.noted == nil && rs.importIntent && ctx.Err() == nil {
			// The answer may be lost while the cloud imported: ask.
			if state, serr := pacedCall(ctx, p, "KeyState", keyState); serr == nil && isImportedState(state) {
				err = r.cloudImportedNote(j, unit, name, "", "imported, though the answer was lost: "+err.Error())
				ir = &byok.Result{KeyID: name}
			}
		}
		if err != nil {
			r.note(Entry{Key: j.k.Name, Target: unit, Step: StepImport, Phase: PhaseFailed, ARN: name, Error: err.Error()})
			return fmt.Errorf("%s %s: %w", kindTitle(spec.Kind), name, err)
		}
		alg = ir.Algorithm
		rec.Created = ir.Created
		rec.Algorithm, rec.WrappingKeySpec = ir.Algorithm, ir.WrappingKeySpec
		r.countCloud(p.scope)
	}
	// The proof, now or in a later run, uses the version imported (as the
	// journal records it), not the version the key's name stands for.
	imp := reproof(rs, name)
	imp.Algorithm = alg
	rec.KeyMaterialID, res.KeyMaterialID = rs.materialID, rs.materialID
	return r.verifyCloud(ctx, j, p, unit, imp, rec, &res)
}

// verifyCloud proves the import into a target outside AWS with the
// target's own proof, settling the verdict here from the checks: only
// identity checks make it PASSED, whatever the target says.
func (r *runner) verifyCloud(ctx context.Context, j *job, p *pacedCloud, unit string, imp byok.Imported, rec *AuditRecord, res *RegionResult) error {
	rs := j.rs(unit)
	name := p.spec.Name()
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
	got, err := pacedCall(ctx, p, "Verify", func(ctx context.Context) (byok.Verification, error) {
		return p.t.VerifyImport(ctx, imp, j.info, j.src)
	})
	var v byok.Verification
	for _, c := range got.Checks {
		v.Add(c)
	}
	for _, s := range got.Skipped {
		v.Skip(s)
	}
	if err != nil {
		v.Skip("the proof stopped: " + err.Error())
	}
	rec.Checks, rec.Skipped = append(rec.Checks, v.Checks...), append(rec.Skipped, v.Skipped...)
	rec.Verdict, res.Verdict = v.Verdict, v.Verdict
	switch {
	case v.Verdict == byok.VerdictFailed || err == nil:
		err = v.Err(name)
	default:
		rec.Verdict, res.Verdict = byok.VerdictUnproven, byok.VerdictUnproven
		err = fmt.Errorf("%w: %s: %w", byok.ErrUnproven, name, err)
	}
	if err != nil {
		r.note(Entry{Key: j.k.Name, Target: unit, Step: StepVerify, Phase: PhaseFailed, ARN: rs.arn, Error: err.Error()})
		return err
	}
	rec.Verified, res.Verified = true, true
	rs.verified = true
	return r.note(Entry{Key: j.k.Name, Target: unit, Step: StepVerify, Phase: PhaseDone, ARN: rs.arn, KeyMaterialID: rs.materialID})
}

func (r *runner) countCloud(scope string) {
	r.mu.Lock()
	r.cloudImports[scope]++
	r.mu.Unlock()
}

// cloudScopes returns the quota scopes of k's targets outside AWS, for
// the dispatcher's per-scope bound.
func cloudScopes(k Key) []string {
	var out []string
	for _, c := range k.Clouds {
		if s := c.Scope(); !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}
