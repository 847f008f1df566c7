package kmstest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
)

// The state directory holds a snapshot (stateFile) and a log (logFile) of
// the changes since: each request that changes something appends one line
// per key, alias or import token it changed, so a write costs what the
// request changed, not what the emulator holds. When the log has grown
// past twice the live state (and at least compactMin records), and at
// start and Close, the emulator writes a new snapshot and starts a new log.
//
// The snapshot carries a generation, the log's first line the generation
// it continues; a log of another generation (left by a crash between the
// two writes of a compaction) is ignored, the snapshot being complete. A
// last line cut short by a crash is ignored too.
const (
	stateFile = "kmstest-state.json"
	logFile   = "kmstest-state.log"
)

// compactMin is the fewest log records that make a compaction.
var compactMin = 1024

const stateVersion = 1

// persisted is the snapshot's content. It holds key material and wrapping
// private keys in the clear: see WithStateDir.
type persisted struct {
	Version     int                     `json:"version"`
	Warning     string                  `json:"warning"`
	Account     string                  `json:"account"`
	Generation  uint64                  `json:"generation,omitempty"`
	TokenSecret []byte                  `json:"tokenSecret"`
	Regions     map[string]*regionState `json:"regions"`
	Tokens      map[string]*tokenRec    `json:"tokens"`
}

const stateWarning = "kmstest TEST emulator state: contains secret key material in the clear; never use for real keys"

// logHeader is the log's first line.
type logHeader struct {
	Version    int    `json:"version"`
	Warning    string `json:"warning"`
	Generation uint64 `json:"generation"`
}

// logRecord is one change: a key (by Region and ID), an alias (by Region
// and name) or an import token (by handle) as it now is, or its removal.
type logRecord struct {
	Op     string    `json:"op"` // key, delkey, alias, delalias, token, deltoken
	Region string    `json:"region,omitempty"`
	ID     string    `json:"id"`
	Key    *key      `json:"key,omitempty"`
	Alias  *alias    `json:"alias,omitempty"`
	Token  *tokenRec `json:"token,omitempty"`
}

// persistence is what the emulator knows about its state directory.
type persistence struct {
	gen     uint64
	log     *os.File
	records int // records in the log
	keys    map[string]bool
	aliases map[[2]string]bool
	tokens  map[string]bool
}

// touchKey records that the key with this ID changed, in every Region (a
// multi-Region key's primary and replicas share the ID and change together).
func (e *Emulator) touchKey(id string) {
	if e.opts.stateDir == "" {
		return
	}
	if e.p.keys == nil {
		e.p.keys = map[string]bool{}
	}
	e.p.keys[id] = true
}

// touchAlias records that an alias changed.
func (e *Emulator) touchAlias(region, name string) {
	if e.opts.stateDir == "" {
		return
	}
	if e.p.aliases == nil {
		e.p.aliases = map[[2]string]bool{}
	}
	e.p.aliases[[2]string{region, name}] = true
}

// touchToken records that an import token's record changed.
func (e *Emulator) touchToken(handle string) {
	if e.opts.stateDir == "" {
		return
	}
	if e.p.tokens == nil {
		e.p.tokens = map[string]bool{}
	}
	e.p.tokens[handle] = true
}

// load reads the snapshot and replays the log, if there are any.
func (e *Emulator) load() error {
	path := filepath.Join(e.opts.stateDir, stateFile)
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return e.replay(0)
	}
	if err != nil {
		return fmt.Errorf("kmstest: reading the state: %w", err)
	}
	defer clear(data)
	var p persisted
	if err := json.Unmarshal(data, &p); err != nil {
		return fmt.Errorf("kmstest: %s is not a kmstest state file: %w", path, err)
	}
	if p.Version != stateVersion {
		return fmt.Errorf("kmstest: %s has state version %d; this kmstest reads version %d", path, p.Version, stateVersion)
	}
	if p.Account != e.opts.account {
		return fmt.Errorf("kmstest: %s holds the state of account %s, not %s", path, p.Account, e.opts.account)
	}
	e.tokenSecret = p.TokenSecret
	if p.Regions != nil {
		e.regions = p.Regions
	}
	for _, rs := range e.regions {
		if rs.Keys == nil {
			rs.Keys = map[string]*key{}
		}
		if rs.Aliases == nil {
			rs.Aliases = map[string]*alias{}
		}
	}
	if p.Tokens != nil {
		e.tokens = p.Tokens
	}
	e.p.gen = p.Generation
	return e.replay(p.Generation)
}

// replay applies the log of generation gen, if there is one.
func (e *Emulator) replay(gen uint64) error {
	path := filepath.Join(e.opts.stateDir, logFile)
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("kmstest: reading the state log: %w", err)
	}
	defer clear(data)
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, len(data)+1)
	first := true
	for line := 1; sc.Scan(); line++ {
		b := sc.Bytes()
		if first {
			first = false
			var h logHeader
			if err := json.Unmarshal(b, &h); err != nil || h.Version != stateVersion {
				return fmt.Errorf("kmstest: %s is not a kmstest state log", path)
			}
			if h.Generation != gen {
				return nil // a log the snapshot already contains
			}
			continue
		}
		var r logRecord
		if err := json.Unmarshal(b, &r); err != nil {
			// The last line may be cut short by a crash; any other is damage.
			if line == bytes.Count(data, []byte("\n"))+1 {
				return nil
			}
			return fmt.Errorf("kmstest: %s line %d: %v", path, line, err)
		}
		e.apply(&r)
	}
	return nil
}

// apply replays one log record.
func (e *Emulator) apply(r *logRecord) {
	switch r.Op {
	case "key":
		if r.Key == nil {
			return
		}
		rs := e.region(r.Region)
		if rs.Keys[r.ID] == nil {
			rs.Order = append(rs.Order, r.ID)
		}
		rs.Keys[r.ID] = r.Key
	case "delkey":
		rs := e.region(r.Region)
		if rs.Keys[r.ID] != nil {
			delete(rs.Keys, r.ID)
			rs.Order = slices.DeleteFunc(rs.Order, func(s string) bool { return s == r.ID })
		}
	case "alias":
		if r.Alias != nil {
			e.region(r.Region).Aliases[r.ID] = r.Alias
		}
	case "delalias":
		delete(e.region(r.Region).Aliases, r.ID)
	case "token":
		if r.Token != nil {
			e.tokens[r.ID] = r.Token
		}
	case "deltoken":
		delete(e.tokens, r.ID)
	}
}

// flush writes what the request changed to the log, and compacts the log
// when it has grown past twice the live state. After Close (which wrote the
// last snapshot) it writes nothing.
func (e *Emulator) flush() error {
	if e.opts.stateDir == "" || e.closed || (len(e.p.keys) == 0 && len(e.p.aliases) == 0 && len(e.p.tokens) == 0) {
		return nil
	}
	if e.p.log == nil {
		return e.save()
	}
	var recs []logRecord
	ids := make([]string, 0, len(e.p.keys))
	for id := range e.p.keys {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	regions := make([]string, 0, len(e.regions))
	for name := range e.regions {
		regions = append(regions, name)
	}
	sort.Strings(regions)
	for _, id := range ids {
		for _, name := range regions {
			if k := e.regions[name].Keys[id]; k != nil {
				recs = append(recs, logRecord{Op: "key", Region: name, ID: id, Key: k})
			} else {
				recs = append(recs, logRecord{Op: "delkey", Region: name, ID: id})
			}
		}
	}
	for ra := range e.p.aliases {
		if a := e.region(ra[0]).Aliases[ra[1]]; a != nil {
			recs = append(recs, logRecord{Op: "alias", Region: ra[0], ID: ra[1], Alias: a})
		} else {
			recs = append(recs, logRecord{Op: "delalias", Region: ra[0], ID: ra[1]})
		}
	}
	for h := range e.p.tokens {
		if t := e.tokens[h]; t != nil {
			recs = append(recs, logRecord{Op: "token", ID: h, Token: t})
		} else {
			recs = append(recs, logRecord{Op: "deltoken", ID: h})
		}
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	for i := range recs {
		if err := enc.Encode(&recs[i]); err != nil {
			return fmt.Errorf("kmstest: encoding the state: %w", err)
		}
	}
	defer clear(buf.Bytes())
	if _, err := e.p.log.Write(buf.Bytes()); err != nil {
		return fmt.Errorf("kmstest: writing the state log: %w", err)
	}
	e.p.keys, e.p.aliases, e.p.tokens = nil, nil, nil
	e.p.records += len(recs)
	live := len(e.tokens)
	for _, rs := range e.regions {
		live += len(rs.Keys) + len(rs.Aliases)
	}
	if e.p.records > max(compactMin, 2*live) {
		return e.save()
	}
	return nil
}

// save writes a new snapshot (mode 0600, in a 0700 directory) of the next
// generation, atomically, then starts an empty log for it.
func (e *Emulator) save() error {
	if err := os.MkdirAll(e.opts.stateDir, 0o700); err != nil {
		return fmt.Errorf("kmstest: creating the state directory: %w", err)
	}
	gen := e.p.gen + 1
	data, err := json.Marshal(persisted{
		Version:     stateVersion,
		Warning:     stateWarning,
		Account:     e.opts.account,
		Generation:  gen,
		TokenSecret: e.tokenSecret,
		Regions:     e.regions,
		Tokens:      e.tokens,
	})
	if err != nil {
		return fmt.Errorf("kmstest: encoding the state: %w", err)
	}
	defer clear(data)
	if err := writeAtomic(filepath.Join(e.opts.stateDir, stateFile), data); err != nil {
		return err
	}
	e.p.gen = gen
	head, _ := json.Marshal(logHeader{Version: stateVersion, Warning: stateWarning, Generation: gen})
	head = append(head, '\n')
	path := filepath.Join(e.opts.stateDir, logFile)
	if err := writeAtomic(path, head); err != nil {
		return err
	}
	if e.p.log != nil {
		e.p.log.Close()
		e.p.log = nil
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("kmstest: opening the state log: %w", err)
	}
	e.p.log = f
	e.p.records = 0
	e.p.keys, e.p.aliases, e.p.tokens = nil, nil, nil
	return nil
}

// closeLog closes the log file.
func (e *Emulator) closeLog() {
	if e.p.log != nil {
		e.p.log.Close()
		e.p.log = nil
	}
}

// writeAtomic replaces path by a file of mode 0600 holding data.
func writeAtomic(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("kmstest: writing the state: %w", err)
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return fmt.Errorf("kmstest: writing the state: %w", err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("kmstest: writing the state: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("kmstest: writing the state: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("kmstest: writing the state: %w", err)
	}
	return nil
}
