package migrate

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/byok-go/byok/internal/readfile"
)

// Steps and phases of journal entries. Every call that changes something in
// KMS is journaled before (PhaseIntent) and after (PhaseDone, or
// PhaseFailed) it is made.
const (
	StepRun       = "run"       // a run started (intent) or ended (done)
	StepSource    = "source"    // the source key was opened: its fingerprint
	StepCreate    = "create"    // CreateKey
	StepReplicate = "replicate" // ReplicateKey
	StepAlias     = "alias"     // CreateAlias
	StepImport    = "import"    // GetParametersForImport + ImportKeyMaterial
	StepRotate    = "rotate"    // RotateKeyOnDemand
	StepVerify    = "verify"    // the proof after import
	StepKey       = "key"       // the key is finished (done) or gave up (failed)
	StepRenew     = "renew"     // a renewal: per Region, the state before (intent); per round, complete (done)

	PhaseIntent = "intent"
	PhaseDone   = "done"
	PhaseFailed = "failed"
)

// Entry is one line of the journal. It holds no secret: names, ARNs,
// fingerprints and KeyMaterialIds only.
type Entry struct {
	Time      time.Time `json:"t"`
	Migration string    `json:"migration,omitempty"`
	Run       string    `json:"run,omitempty"`
	Key       string    `json:"key,omitempty"`
	Region    string    `json:"region,omitempty"`
	// Target names a target outside AWS, KIND:NAME (CloudSpec.Unit), in
	// place of Region.
	Target        string `json:"target,omitempty"`
	Step          string `json:"step"`
	Phase         string `json:"phase"`
	ARN           string `json:"arn,omitempty"`
	KeyMaterialID string `json:"key_material_id,omitempty"`
	Fingerprint   string `json:"fingerprint,omitempty"`
	Detail        string `json:"detail,omitempty"`
	Error         string `json:"error,omitempty"`
	// Renewal is the renewal round (Migration.Renew) the entry belongs
	// to; empty for the migration itself.
	Renewal string `json:"renewal,omitempty"`
}

// journal is an append-only file of JSON lines, each fsynced before Append
// returns, so that a run killed at any point can be resumed from it.
// Concurrent Appends share fsyncs (group commit): one goroutine writes and
// syncs every line queued so far while the others wait for it.
type journal struct {
	path string

	mu       sync.Mutex
	cond     *sync.Cond
	f        *os.File
	pending  []byte // lines queued, not yet written
	queued   uint64 // lines queued so far
	synced   uint64 // lines written and synced so far
	flushing bool
	err      error // sticky: once the journal fails, the run must stop
}

// keyState is what the journal says about one key of the manifest.
type keyState struct {
	finished    bool // StepKey done: nothing left to do
	fingerprint string
	regions     map[string]*regionState
	// arns are the KMS keys by Region of a finished key, kept only when
	// the replay is for a renewal (replay.keep); versions the versions
	// imported into its targets outside AWS, by unit.
	arns     map[string]string
	versions map[string]string
}

// regionState is what the journal says about a key in one Region, or in
// one target outside AWS (keyed by CloudSpec.Unit; arn is then the cloud
// key's name, or once imported the KeyID the target's Import returned,
// materialID the version it created, Imported.KeyARN).
type regionState struct {
	arn           string
	createIntent  bool // CreateKey may have been sent
	created       bool
	replicaIntent bool
	replicated    bool
	aliased       bool
	importIntent  bool
	imported      bool
	materialID    string
	rotateIntent  bool
	rotated       bool
	verified      bool
	// renewFrom is what a renewal saw before importing (StepRenew
	// intent): the old ValidTo, or the state.
	renewFrom string
}

// replay is the journal's content, folded per key. Finished keys keep no
// detail, so that resuming a large migration stays small.
type replay struct {
	migration string
	keys      map[string]*keyState
	lines     int

	// keep keeps the KMS keys and fingerprint of finished keys (for a
	// renewal).
	keep bool
	// renewal is the last renewal round in the journal, renewClosed
	// whether it completed, renew its keys.
	renewal     string
	renewClosed bool
	renew       map[string]*keyState
}

func key(keys map[string]*keyState, name string) *keyState {
	k := keys[name]
	if k == nil {
		k = &keyState{}
		keys[name] = k
	}
	return k
}

func (k *keyState) region(name string) *regionState {
	if k.regions == nil {
		k.regions = map[string]*regionState{}
	}
	r := k.regions[name]
	if r == nil {
		r = &regionState{}
		k.regions[name] = r
	}
	return r
}

func (r *replay) apply(e *Entry) {
	r.lines++
	if e.Migration != "" && r.migration == "" {
		r.migration = e.Migration
	}
	keys := r.keys
	if e.Renewal != "" {
		if e.Renewal != r.renewal {
			r.renewal, r.renewClosed, r.renew = e.Renewal, false, map[string]*keyState{}
		}
		if e.Key == "" && e.Step == StepRenew && e.Phase == PhaseDone {
			r.renewClosed = true
		}
		keys = r.renew
	}
	if e.Key == "" {
		return
	}
	k := key(keys, e.Key)
	if k.finished {
		return
	}
	if e.Step == StepKey {
		if e.Phase == PhaseDone {
			done := keyState{finished: true}
			if r.keep {
				done.fingerprint, done.arns, done.versions = k.fingerprint, map[string]string{}, map[string]string{}
				for reg, rs := range k.regions {
					if rs.arn != "" {
						done.arns[reg] = rs.arn
					}
					if rs.materialID != "" && isCloudUnit(reg) {
						done.versions[reg] = rs.materialID
					}
				}
			}
			*k = done
		}
		return
	}
	if e.Step == StepSource {
		k.fingerprint = e.Fingerprint
		return
	}
	unit := e.Region
	if e.Target != "" {
		unit = e.Target
	}
	if unit == "" {
		return
	}
	rs := k.region(unit)
	if e.ARN != "" && (e.Phase == PhaseDone || rs.arn == "") {
		rs.arn = e.ARN
	}
	intent, done := e.Phase == PhaseIntent, e.Phase == PhaseDone
	switch e.Step {
	case StepCreate:
		rs.createIntent = rs.createIntent || intent
		rs.created = rs.created || done
	case StepReplicate:
		rs.replicaIntent = rs.replicaIntent || intent
		rs.replicated = rs.replicated || done
	case StepAlias:
		rs.aliased = rs.aliased || done
	case StepImport:
		rs.importIntent = rs.importIntent || intent
		if done {
			rs.imported = true
			rs.materialID = e.KeyMaterialID
		}
	case StepRotate:
		rs.rotateIntent = rs.rotateIntent || intent
		rs.rotated = rs.rotated || done
	case StepVerify:
		rs.verified = rs.verified || done
	case StepRenew:
		if intent {
			rs.renewFrom = e.Detail
		}
	}
}

// openJournal opens (or creates) the journal at path and replays it. A
// last line cut short by a crash is dropped; any other unreadable line is an
// error.
func openJournal(path string) (*journal, *replay, error) { return openJournalKeep(path, false) }

// openJournalKeep is openJournal; keep keeps finished keys' KMS keys.
func openJournalKeep(path string, keep bool) (*journal, *replay, error) {
	// A regular file only: a FIFO or device is refused without blocking.
	f, err := readfile.OpenFile(path, "journal", os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, nil, fmt.Errorf("migrate: opening the journal: %w", err)
	}
	rp, good, err := replayJournalKeep(f, path, keep)
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	// Drop a torn last line, then append after the good lines.
	if err := f.Truncate(good); err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("migrate: repairing the journal: %w", err)
	}
	if _, err := f.Seek(good, io.SeekStart); err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("migrate: opening the journal: %w", err)
	}
	if good == 0 {
		// A new journal: make its directory entry durable too.
		if d, err := os.Open(filepath.Dir(path)); err == nil {
			d.Sync()
			d.Close()
		}
	}
	j := &journal{path: path, f: f}
	j.cond = sync.NewCond(&j.mu)
	return j, rp, nil
}

// replayJournal reads a journal and returns its folded content and the
// length of its well-formed prefix.
func replayJournal(r io.Reader, path string) (*replay, int64, error) {
	return replayJournalKeep(r, path, false)
}

func replayJournalKeep(r io.Reader, path string, keep bool) (*replay, int64, error) {
	rp := &replay{keys: map[string]*keyState{}, keep: keep}
	// Capped in total and per line: memory stays flat whatever the file.
	br := bufio.NewReaderSize(readfile.Reader(r, path, "journal", readfile.Journal, readfile.JournalLine), 64<<10)
	var good int64
	for lineNo := 1; ; lineNo++ {
		line, err := br.ReadBytes('\n')
		if len(line) > 0 && line[len(line)-1] == '\n' {
			var e Entry
			if jerr := json.Unmarshal(line, &e); jerr != nil {
				// A complete line that is not JSON: only acceptable as
				// the last line (a crash mid-write can leave garbage).
				if _, perr := br.Peek(1); perr == io.EOF {
					return rp, good, nil
				}
				return nil, 0, fmt.Errorf("migrate: %s:%d: the journal is damaged: %v; move it aside to start over (keys already created are found again by their tags)", path, lineNo, jerr)
			}
			rp.apply(&e)
			good += int64(len(line))
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				return rp, good, nil // a last line without newline is a torn write
			}
			return nil, 0, fmt.Errorf("migrate: reading the journal: %w", err)
		}
	}
}

// Append writes e as one line and returns once it is fsynced.
func (j *journal) Append(e Entry) error {
	if e.Time.IsZero() {
		e.Time = time.Now().UTC()
	}
	line, err := json.Marshal(&e)
	if err != nil {
		return err
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.f == nil {
		return errors.New("migrate: the journal is closed")
	}
	j.pending = append(append(j.pending, line...), '\n')
	j.queued++
	seq := j.queued
	for j.synced < seq && j.err == nil {
		if j.flushing {
			j.cond.Wait()
			continue
		}
		// Lead: write and sync everything queued, then wake the others.
		j.flushing = true
		data, upto := j.pending, j.queued
		j.pending = nil
		f := j.f
		j.mu.Unlock()
		_, werr := f.Write(data)
		if werr == nil {
			werr = f.Sync()
		}
		j.mu.Lock()
		j.flushing = false
		if werr != nil {
			j.err = fmt.Errorf("migrate: writing the journal: %w", werr)
		} else {
			j.synced = upto
		}
		j.cond.Broadcast()
	}
	return j.err
}

// Close closes the journal file.
func (j *journal) Close() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	for j.flushing {
		j.cond.Wait()
	}
	if j.f == nil {
		return nil
	}
	err := j.f.Close()
	j.f = nil
	return err
}

// ReadJournal reads every entry of a journal file, for tools and tests.
func ReadJournal(path string) ([]Entry, error) {
	b, err := readfile.ReadFile(path, "journal", readfile.Journal)
	if err != nil {
		return nil, err
	}
	var out []Entry
	for i, line := range bytes.Split(b, []byte("\n")) {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var e Entry
		if err := json.Unmarshal(line, &e); err != nil {
			return out, fmt.Errorf("migrate: %s:%d: %w", path, i+1, err)
		}
		out = append(out, e)
	}
	return out, nil
}
