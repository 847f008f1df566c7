package kmstest

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// stateFile is the name of the state file in the state directory.
const stateFile = "kmstest-state.json"

const stateVersion = 1

// persisted is the state file's content. It holds key material and
// wrapping private keys in the clear: see WithStateDir.
type persisted struct {
	Version     int                     `json:"version"`
	Warning     string                  `json:"warning"`
	Account     string                  `json:"account"`
	TokenSecret []byte                  `json:"tokenSecret"`
	Regions     map[string]*regionState `json:"regions"`
	Tokens      map[string]*tokenRec    `json:"tokens"`
}

const stateWarning = "kmstest TEST emulator state: contains secret key material in the clear; never use for real keys"

// load reads the state directory's state file, if there is one.
func (e *Emulator) load() error {
	path := filepath.Join(e.opts.stateDir, stateFile)
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("kmstest: reading the state: %w", err)
	}
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
	return nil
}

// save writes the state file atomically (mode 0600, in a 0700 directory).
func (e *Emulator) save() error {
	if err := os.MkdirAll(e.opts.stateDir, 0o700); err != nil {
		return fmt.Errorf("kmstest: creating the state directory: %w", err)
	}
	data, err := json.Marshal(persisted{
		Version:     stateVersion,
		Warning:     stateWarning,
		Account:     e.opts.account,
		TokenSecret: e.tokenSecret,
		Regions:     e.regions,
		Tokens:      e.tokens,
	})
	if err != nil {
		return fmt.Errorf("kmstest: encoding the state: %w", err)
	}
	defer clear(data)
	f, err := os.CreateTemp(e.opts.stateDir, stateFile+".*")
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
	if err := os.Rename(tmp, filepath.Join(e.opts.stateDir, stateFile)); err != nil {
		return fmt.Errorf("kmstest: writing the state: %w", err)
	}
	e.dirty = false
	return nil
}
