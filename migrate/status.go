package migrate

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/byok-go/byok"
	"github.com/byok-go/byok/driver"
	"github.com/byok-go/byok/internal/readfile"
)

// Source checks of a KeyStatus.
const (
	SourceMatches    = "matches"     // opens, and its fingerprint is the one recorded at import
	SourceMismatch   = "mismatch"    // opens, but it is another key now
	SourceUnreadable = "unreadable"  // does not open
	SourceNotChecked = "not-checked" // StatusQuery.SkipSource, or nothing recorded to compare with
)

// StateNotMigrated is KeyStatus.State for a manifest key and Region that
// the audit log names no KMS key for (not migrated yet).
const StateNotMigrated = "not-migrated"

// StatusQuery asks where every key of a manifest stands (Status).
type StatusQuery struct {
	// Manifest lists the keys; Client returns the KMS client of a Region.
	Manifest *Manifest
	Client   func(ctx context.Context, region string) (API, error)
	// AuditLog is the path of the migration's audit log: it names each
	// key's KMS key in each Region, the fingerprint recorded at import and
	// the proofs. A missing file means nothing was migrated yet.
	AuditLog string
	// Journal is the path of the migration's journal: it records each
	// key's KMS key too, and is read for the keys the audit log does not
	// name (a missing, damaged or unreadable audit log). Empty: not read.
	Journal string
	// WarnWithin: material that expires within it needs attention.
	WarnWithin time.Duration
	// Now is the time to count from; nil means time.Now.
	Now func() time.Time
	// SkipSource skips opening the sources (no PIN needed).
	SkipSource bool
	// OpenSource opens a source; nil means its driver (as Migration).
	OpenSource func(ctx context.Context, s Source) (driver.Source, error)
	// Targets open the manifest's targets outside AWS, by kind, for their
	// KeyState (as Migration.Targets); a kind without one is refused
	// before any request (*MissingTargetError).
	Targets map[string]TargetOpener
}

// KeyStatus is where one manifest key stands in one Region, or in one
// target outside AWS.
type KeyStatus struct {
	Key  string `json:"key"`
	Line int    `json:"line"`
	// Target is aws, gcp or azure. An AWS row has Region and KeyARN; a
	// row of another cloud has KeyName (the CryptoKey's resource name,
	// the Key Vault key's URL) and an empty Region and KeyARN.
	Target  string `json:"target"`
	Region  string `json:"region"`
	KeyARN  string `json:"key_arn"`
	KeyName string `json:"key_name,omitempty"`
	// Version is, for a target in another cloud, the version imported as
	// the audit log or the journal records it (the CryptoKeyVersion's
	// name, the versioned Key Vault key identifier); its state is State.
	Version string `json:"version,omitempty"`
	// State is the KMS key state (Enabled, Disabled, PendingImport,
	// PendingDeletion, …), for another cloud its KeyState (ENABLED,
	// Enabled, …), StateNotMigrated, or "" when it could not be read
	// (Error says why).
	State string `json:"state"`
	// ExpirationModel is KEY_MATERIAL_EXPIRES or
	// KEY_MATERIAL_DOES_NOT_EXPIRE ("" when the key holds no material).
	ExpirationModel string `json:"expiration_model"`
	// ValidTo is when KMS deletes the key material; SecondsLeft is the
	// time until then in seconds (negative: past). Both nil (absent in
	// JSON) when it does not expire.
	ValidTo     *time.Time `json:"valid_to,omitempty"`
	SecondsLeft *int64     `json:"time_left_seconds,omitempty"`
	// LastProof is the time of the last PASSED proof in the audit log
	// (nil: none); LastVerdict is the verdict of the last proof that ran
	// ("" when none).
	LastProof   *time.Time   `json:"last_proof,omitempty"`
	LastVerdict byok.Verdict `json:"last_verdict,omitempty"`
	// Fingerprint is the source key's fingerprint recorded at import;
	// Source is SourceMatches, SourceMismatch, SourceUnreadable or
	// SourceNotChecked, SourceDetail the reason when it does not match.
	Fingerprint  string `json:"fingerprint"`
	Source       string `json:"source"`
	SourceDetail string `json:"source_detail,omitempty"`
	// Attention lists why a scheduler should alert ([] when all is well).
	Attention []string `json:"attention"`
	// Error is why the key could not be checked ("" when it was).
	Error string `json:"error,omitempty"`
}

// TimeLeft returns the time until the material expires (false when it
// does not expire).
func (s *KeyStatus) TimeLeft() (time.Duration, bool) {
	if s.SecondsLeft == nil {
		return 0, false
	}
	return time.Duration(*s.SecondsLeft) * time.Second, true
}

// auditRegion is what the audit log says about a key in one Region.
type auditRegion struct {
	arn         string
	version     string // a target outside AWS: the version imported
	fingerprint string
	source      string
	lastProof   time.Time
	lastVerdict byok.Verdict
}

// readAuditFull folds an audit log per key and Region; a missing file is
// an error (fs.ErrNotExist).
func readAuditFull(path string) (map[string]map[string]*auditRegion, error) {
	out := map[string]map[string]*auditRegion{}
	if path == "" {
		return out, nil
	}
	f, err := readfile.Open(path, "audit log")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sc := bufio.NewScanner(readfile.Reader(f, path, "audit log", readfile.Journal, readfile.JournalLine))
	sc.Buffer(make([]byte, 64<<10), readfile.JournalLine)
	for n := 1; sc.Scan(); n++ {
		if len(sc.Bytes()) == 0 {
			continue
		}
		var rec AuditRecord
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			return nil, fmt.Errorf("migrate: %s:%d: not an audit record: %v", path, n, err)
		}
		unit, arn := rec.Region, rec.KeyARN
		if rec.Target != "" && rec.Target != KindAWS {
			// A target outside AWS: named KIND:NAME, as in the journal.
			unit, arn = rec.Target+":"+rec.KeyName, rec.KeyName
		}
		if rec.Key == "" || unit == "" || arn == "" || rec.Outcome == OutcomeDryRun {
			continue
		}
		regions := out[rec.Key]
		if regions == nil {
			regions = map[string]*auditRegion{}
			out[rec.Key] = regions
		}
		a := regions[unit]
		if a == nil {
			a = &auditRegion{}
			regions[unit] = a
		}
		a.arn = arn
		if isCloudUnit(unit) && rec.KeyMaterialID != "" {
			a.version = rec.KeyMaterialID
		}
		if rec.Fingerprint != "" {
			a.fingerprint = rec.Fingerprint
		}
		if rec.Source != "" {
			a.source = rec.Source
		}
		if rec.Verdict != "" {
			a.lastVerdict = rec.Verdict
			if rec.Verdict == byok.VerdictPassed {
				a.lastProof = rec.Finished
				if a.lastProof.IsZero() {
					a.lastProof = rec.Time
				}
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("migrate: reading the audit log: %w", err)
	}
	return out, nil
}

// readStatusRecords reads the KMS keys of a migration from its audit log
// and, for keys and Regions the audit log does not name, from its journal.
// Both missing: nothing was migrated. The audit log unreadable (other than
// missing) and no journal to fall back on: an error, never a fleet of
// "not migrated" keys.
func readStatusRecords(auditPath, journalPath string) (map[string]map[string]*auditRegion, error) {
	audit, auditErr := readAuditFull(auditPath)
	if auditErr != nil {
		audit = map[string]map[string]*auditRegion{}
	}
	var journalErr error
	if journalPath != "" {
		journalErr = mergeJournalARNs(journalPath, audit)
	}
	switch {
	case auditErr == nil:
		return audit, nil // the journal only adds to it
	case journalPath != "" && journalErr == nil:
		return audit, nil
	case errors.Is(auditErr, fs.ErrNotExist) && (journalPath == "" || errors.Is(journalErr, fs.ErrNotExist)):
		return audit, nil // neither exists: nothing migrated yet
	case journalPath == "" || errors.Is(journalErr, fs.ErrNotExist):
		return nil, fmt.Errorf("migrate: the audit log is unreadable (%w) and there is no journal to take the KMS keys from", auditErr)
	}
	return nil, fmt.Errorf("migrate: neither the audit log nor the journal can be read, so the KMS keys are unknown: %v; %w", auditErr, journalErr)
}

// mergeJournalARNs adds to audit the KMS keys (and fingerprints) the
// journal records for keys and Regions the audit log does not name.
func mergeJournalARNs(path string, audit map[string]map[string]*auditRegion) error {
	f, err := readfile.Open(path, "journal")
	if err != nil {
		return err
	}
	defer f.Close()
	rp, _, err := replayJournalKeep(f, path, true)
	if err != nil {
		return err
	}
	add := func(name, region, arn, version, fp string) {
		if arn == "" {
			return
		}
		regions := audit[name]
		if regions == nil {
			regions = map[string]*auditRegion{}
			audit[name] = regions
		}
		a := regions[region]
		if a == nil {
			a = &auditRegion{arn: arn, fingerprint: fp}
			regions[region] = a
		} else if a.arn == "" {
			a.arn = arn
		}
		if a.version == "" && isCloudUnit(region) {
			a.version = version
		}
	}
	for _, keys := range []map[string]*keyState{rp.keys, rp.renew} {
		for name, k := range keys {
			for region, arn := range k.arns {
				add(name, region, arn, k.versions[region], k.fingerprint)
			}
			for region, rs := range k.regions {
				add(name, region, rs.arn, rs.materialID, k.fingerprint)
			}
		}
	}
	return nil
}

// Status reports, for every key of the manifest and every Region it lives
// in, the KMS key, its state and expiry, the last proof and whether the
// source still opens as the same key. It returns the rows in manifest
// order; an error only when it could not run at all (an unreadable
// manifest or audit log); a key that could not be checked has its Error.
func Status(ctx context.Context, q StatusQuery) ([]KeyStatus, error) {
	if q.Manifest == nil || q.Client == nil {
		return nil, errors.New("migrate: Status needs a Manifest and a Client")
	}
	now := time.Now
	if q.Now != nil {
		now = q.Now
	}
	if err := checkOpeners(q.Manifest, q.Targets); err != nil {
		return nil, err
	}
	// The targets' settings are checked as in Run (a mistake is the
	// manifest's); a client that cannot be made is each row's error.
	if mistakes, _ := checkCloudTargets(ctx, q.Manifest, q.Targets); mistakes != nil {
		return nil, mistakes
	}
	audit, err := readStatusRecords(q.AuditLog, q.Journal)
	if err != nil {
		return nil, err
	}
	clients := map[string]API{}
	client := func(region string) (API, error) {
		if c := clients[region]; c != nil {
			return c, nil
		}
		c, err := q.Client(ctx, region)
		if err != nil {
			return nil, fmt.Errorf("the KMS client for %s: %w", region, err)
		}
		clients[region] = c
		return c, nil
	}
	rows := []KeyStatus{}
	for k, err := range q.Manifest.Keys() {
		if err != nil {
			return rows, err
		}
		if err := ctx.Err(); err != nil {
			return rows, err
		}
		recorded := audit[k.Name]
		regions := k.Target.AllRegions()
		clouds := map[string]CloudSpec{}
		for _, c := range k.Clouds {
			clouds[c.Unit()] = c
			regions = append(regions, c.Unit())
		}
		for r := range recorded {
			if !slices.Contains(regions, r) {
				regions = append(regions, r)
			}
		}
		// AWS Regions first, then the other clouds' targets.
		slices.SortFunc(regions, func(a, b string) int {
			if ca, cb := isCloudUnit(a), isCloudUnit(b); ca != cb {
				if ca {
					return 1
				}
				return -1
			}
			return strings.Compare(a, b)
		})
		// The source: opened once per key, checked against each Region's
		// recorded fingerprint.
		var fp, srcErr string
		if !q.SkipSource && len(recorded) > 0 {
			fp, srcErr = sourceFingerprint(ctx, k, q.OpenSource)
		}
		for _, region := range regions {
			s := KeyStatus{Key: k.Name, Line: k.Line, Target: KindAWS, Region: region, Source: SourceNotChecked, Attention: []string{}}
			if isCloudUnit(region) {
				s.Target, s.Region, s.KeyName = unitKind(region), "", strings.TrimPrefix(region, unitKind(region)+":")
			}
			a := recorded[region]
			if a == nil && k.Target.KeyID != "" && region == k.Target.Regions[0] {
				a = &auditRegion{arn: k.Target.KeyID}
			}
			if a == nil {
				s.State = StateNotMigrated
				s.Attention = append(s.Attention, "not migrated (no KMS key in the audit log or the journal)")
				if s.Target != KindAWS {
					s.Attention[0] = "not migrated (no " + kindTitle(s.Target) + " key in the audit log or the journal)"
				}
				rows = append(rows, s)
				continue
			}
			s.KeyARN, s.Fingerprint, s.LastVerdict = a.arn, a.fingerprint, a.lastVerdict
			if s.Target != KindAWS {
				s.KeyARN = ""
			}
			if !a.lastProof.IsZero() {
				t := a.lastProof.UTC()
				s.LastProof = &t
			}
			switch {
			case q.SkipSource || a.fingerprint == "":
			case srcErr != "":
				s.Source, s.SourceDetail = SourceUnreadable, srcErr
				s.Attention = append(s.Attention, "the source does not open: it could not restore the key")
			case fp != a.fingerprint:
				s.Source, s.SourceDetail = SourceMismatch, "it is "+fp+" now, "+a.fingerprint+" at import"
				s.Attention = append(s.Attention, "the source is another key now: it could not restore the key")
			default:
				s.Source = SourceMatches
			}
			if s.Target == KindAWS {
				describeStatus(ctx, client, &s, now(), q.WarnWithin)
			} else {
				s.Version = a.version
				cloudStatus(ctx, q.Targets, clouds[region], &s)
			}
			rows = append(rows, s)
		}
	}
	return rows, nil
}

func describeStatus(ctx context.Context, client func(string) (API, error), s *KeyStatus, now time.Time, warn time.Duration) {
	c, err := client(s.Region)
	if err == nil {
		var d *kms.DescribeKeyOutput
		if d, err = c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(s.KeyARN)}); err == nil {
			md := d.KeyMetadata
			s.State, s.ExpirationModel = string(md.KeyState), string(md.ExpirationModel)
			if md.ValidTo != nil && md.ExpirationModel == types.ExpirationModelTypeKeyMaterialExpires {
				vt := md.ValidTo.UTC()
				left := int64(vt.Sub(now) / time.Second)
				s.ValidTo, s.SecondsLeft = &vt, &left
				if vt.Sub(now) <= warn && md.KeyState != types.KeyStatePendingImport {
					s.Attention = append(s.Attention, fmt.Sprintf("the key material expires within %s: renew it", fmtSpan(warn)))
				}
			}
			switch md.KeyState {
			case types.KeyStatePendingImport:
				s.Attention = append(s.Attention, "PendingImport: its key material expired or was deleted; ciphertexts under it are unusable until it is imported again")
			case types.KeyStatePendingDeletion, types.KeyStatePendingReplicaDeletion:
				s.Attention = append(s.Attention, "scheduled for deletion")
			}
			return
		}
	}
	s.Error = err.Error()
	s.Attention = append(s.Attention, "could not be checked: "+err.Error())
}

// cloudStatus reads the state of a target outside AWS (KeyState) — of the
// version imported when it is recorded (s.Version), else of what the key's
// name stands for: enabled is fine, disabled was done on purpose, anything
// else needs attention. When the key's unversioned use picks its latest
// version (VersionReader), a version other than the one imported needs
// attention too: it is not the source's key. A target the manifest no
// longer names (spec zero) is not read.
func cloudStatus(ctx context.Context, openers map[string]TargetOpener, spec CloudSpec, s *KeyStatus) {
	if spec.Kind == "" {
		s.Error = "the manifest no longer names this target; the audit log or the journal does"
		s.Attention = append(s.Attention, "could not be checked: "+s.Error)
		return
	}
	t, err := openCloud(ctx, openers, spec)
	if err == nil {
		ref := spec.Name()
		if s.Version != "" {
			ref = s.Version
		}
		var state string
		if state, err = t.KeyState(ctx, ref); err == nil {
			s.State = state
			if !isImportedState(state) {
				s.Attention = append(s.Attention, fmt.Sprintf("%s: the imported key material is not usable (state %s)", kindTitle(spec.Kind), state))
			}
			if vr, ok := t.(VersionReader); ok && s.Version != "" {
				cur, verr := vr.CurrentVersion(ctx, spec.Name())
				switch {
				case verr != nil:
					s.Error = verr.Error()
					s.Attention = append(s.Attention, "could not read the key's current version: "+verr.Error())
				case cur != s.Version:
					s.Attention = append(s.Attention, fmt.Sprintf("%s: the key's current version is %s, not the version byok imported (%s): "+
						"whoever uses the key by its name uses another key than the source's", kindTitle(spec.Kind), cur, s.Version))
				}
			}
			return
		}
	}
	s.Error = err.Error()
	s.Attention = append(s.Attention, "could not be checked: "+err.Error())
}

// sourceFingerprint opens k's source and returns its fingerprint, or why it
// does not open.
func sourceFingerprint(ctx context.Context, k Key, custom func(context.Context, Source) (driver.Source, error)) (string, string) {
	src, err := openSource(ctx, k.Source, custom)
	if err != nil {
		return "", err.Error()
	}
	defer src.Close()
	info, _, err := (&byok.Importer{Algorithm: k.Options.Algorithm, WrappingKeySpec: k.Options.WrappingKeySpec}).Plan(ctx, src)
	if err != nil {
		return "", err.Error()
	}
	return info.Fingerprint, ""
}

// fmtSpan writes a duration in days when it is whole days.
// FormatSpan writes a window as the CLI takes it: 30d, 36h (else a Go
// duration).
func FormatSpan(d time.Duration) string { return fmtSpan(d) }

func fmtSpan(d time.Duration) string {
	switch {
	case d == 0:
		return "0d"
	case d > 0 && d%(24*time.Hour) == 0:
		return fmt.Sprintf("%dd", d/(24*time.Hour))
	case d > 0 && d%time.Hour == 0:
		return fmt.Sprintf("%dh", d/time.Hour)
	}
	return d.String()
}

// NeedsAttention reports whether any row needs attention.
func NeedsAttention(rows []KeyStatus) bool {
	for _, r := range rows {
		if len(r.Attention) > 0 {
			return true
		}
	}
	return false
}
