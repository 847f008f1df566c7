package hsm

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/miekg/pkcs11"
)

// Module is a loaded PKCS#11 library. A library is loaded and initialised
// once per process and path: OpenModule returns the same *Module (with one
// more reference) for the same path, and the library is finalised and
// unloaded when the last reference is closed. A Module is safe for
// concurrent use.
type Module struct {
	name string // the canonical path, or the name given to NewModule
	api  PKCS11
	ctx  *pkcs11.Ctx // nil for modules made with NewModule
	// finalize is true when this Module initialised the library (and so
	// finalises it); false when C_Initialize said another user in the
	// process had done so.
	finalize bool

	refs int // under modulesMu
	// kept is true once keepLoaded has taken the reference that is never
	// dropped (Profile.KeepLoaded); under modulesMu.
	kept bool

	probeMu sync.Mutex
	probes  map[string]*probeState // per token, see probe.go
}

var (
	modulesMu sync.Mutex
	modules   = map[string]*Module{}
)

// OpenModule loads the PKCS#11 library at path and initialises it, or
// returns the already loaded one (paths are compared after resolving
// symbolic links, so /usr/lib/softhsm/libsofthsm2.so and the file it links
// to are one module). Close it when done.
//
// A path that does not exist fails with ErrModuleNotFound; one that cannot
// be loaded or initialised with ErrModuleNotLoadable.
func OpenModule(path string) (*Module, error) {
	if path == "" {
		return nil, &Error{Op: "loading a PKCS#11 module", Kind: ErrModuleNotFound, Fix: "no library path given: name the module (the --module flag, or module-path= in the pkcs11: URI)"}
	}
	if _, err := os.Stat(path); err != nil {
		return nil, &Error{Op: fmt.Sprintf("loading the PKCS#11 module %s", path), Kind: ErrModuleNotFound, Err: err,
			Fix: "install the vendor's PKCS#11 library or give its path"}
	}
	canon, err := filepath.EvalSymlinks(path)
	if err != nil {
		canon = path
	}
	if abs, err := filepath.Abs(canon); err == nil {
		canon = abs
	}
	modulesMu.Lock()
	defer modulesMu.Unlock()
	if m, ok := modules[canon]; ok {
		m.refs++
		return m, nil
	}
	ctx := pkcs11.New(canon)
	if ctx == nil {
		return nil, &Error{Op: fmt.Sprintf("loading the PKCS#11 module %s", path), Kind: ErrModuleNotLoadable,
			Fix: "dlopen or C_GetFunctionList failed: check that it is a PKCS#11 library for this architecture and that its dependencies are installed (ldd " + canon + ")"}
	}
	m, err := initModule(canon, ctx)
	if err != nil {
		ctx.Destroy()
		return nil, err
	}
	m.ctx = ctx
	modules[canon] = m
	return m, nil
}

// NewModule wraps an already loaded PKCS#11 implementation — a fake in
// tests (see package hsmtest), or a *pkcs11.Ctx the caller manages — under a
// name for messages, and initialises it. It is not shared: each call makes a
// new Module, and Close finalises it but does not unload anything.
func NewModule(name string, api PKCS11) (*Module, error) {
	if api == nil {
		return nil, errors.New("hsm: NewModule needs a PKCS11 implementation")
	}
	return initModule(name, api)
}

func initModule(name string, api PKCS11) (*Module, error) {
	m := &Module{name: name, api: api, refs: 1, finalize: true, probes: map[string]*probeState{}}
	if err := api.Initialize(); err != nil {
		if !isRV(err, pkcs11.CKR_CRYPTOKI_ALREADY_INITIALIZED) {
			return nil, &Error{Op: fmt.Sprintf("initialising the PKCS#11 module %s (C_Initialize)", name), Kind: ErrModuleNotLoadable, Err: err,
				Fix: "check the module's configuration (for SoftHSM the SOFTHSM2_CONF file and its token directory; for opencryptoki that pkcsslotd runs; for CloudHSM and Luna the client configuration and connectivity)"}
		}
		// Someone else in this process initialised it (crypto11, another
		// library); leave finalising to them.
		m.finalize = false
	}
	return m, nil
}

// keepLoaded takes one reference that is never dropped, once per Module,
// so that closing the last user does not finalise the library
// (Profile.KeepLoaded).
func (m *Module) keepLoaded() {
	modulesMu.Lock()
	defer modulesMu.Unlock()
	if !m.kept && m.refs > 0 {
		m.kept = true
		m.refs++
	}
}

// Name returns the module's path (or the name given to NewModule).
func (m *Module) Name() string { return m.name }

// API returns the PKCS#11 calls of the module, for operations hsm does not
// wrap. Sessions and objects made through it are the caller's to close.
func (m *Module) API() PKCS11 { return m.api }

// Info returns the library's description (C_GetInfo).
func (m *Module) Info() (pkcs11.Info, error) {
	info, err := m.api.GetInfo()
	return info, rvError("C_GetInfo", err, false)
}

// Close drops a reference; the last one finalises the library (unless
// another user in the process initialised it) and unloads it.
func (m *Module) Close() error {
	modulesMu.Lock()
	defer modulesMu.Unlock()
	if m.refs <= 0 {
		return nil
	}
	m.refs--
	if m.refs > 0 {
		return nil
	}
	if modules[m.name] == m {
		delete(modules, m.name)
	}
	var err error
	if m.finalize {
		err = rvError("C_Finalize of "+m.name, m.api.Finalize(), false)
	}
	if m.ctx != nil {
		m.ctx.Destroy()
	}
	return err
}

// TokenInfo describes a token in a slot of the module.
type TokenInfo struct {
	Slot         uint
	Label        string
	Manufacturer string
	Model        string
	Serial       string
	Flags        uint
}

// Initialized reports whether the token is initialised (CKF_TOKEN_INITIALIZED).
func (t TokenInfo) Initialized() bool { return t.Flags&pkcs11.CKF_TOKEN_INITIALIZED != 0 }

func tokenInfo(slot uint, ti pkcs11.TokenInfo) TokenInfo {
	trim := func(s string) string { return strings.TrimRight(s, " \x00") }
	return TokenInfo{Slot: slot, Label: trim(ti.Label), Manufacturer: trim(ti.ManufacturerID), Model: trim(ti.Model),
		Serial: trim(ti.SerialNumber), Flags: ti.Flags}
}

// Tokens lists the tokens present in the module's slots.
func (m *Module) Tokens() ([]TokenInfo, error) {
	slots, err := m.api.GetSlotList(true)
	if err != nil {
		return nil, rvError("C_GetSlotList of "+m.name, err, false)
	}
	var out []TokenInfo
	for _, s := range slots {
		ti, err := m.api.GetTokenInfo(s)
		if err != nil {
			continue // a slot whose token went away, or a broken one: not ours to report
		}
		out = append(out, tokenInfo(s, ti))
	}
	return out, nil
}

// TokenSelector picks a token. Zero fields match anything; the zero value
// picks the only initialised token.
type TokenSelector struct {
	Label        string
	Serial       string
	Manufacturer string
	Model        string
	// Slot, when HasSlot, is the slot ID (RFC 7512 slot-id).
	Slot    uint
	HasSlot bool
}

// String describes the selection in URI attribute form, for messages.
func (s TokenSelector) String() string {
	var parts []string
	add := func(k, v string) {
		if v != "" {
			parts = append(parts, k+"="+v)
		}
	}
	add("token", s.Label)
	add("serial", s.Serial)
	add("manufacturer", s.Manufacturer)
	add("model", s.Model)
	if s.HasSlot {
		parts = append(parts, fmt.Sprintf("slot-id=%d", s.Slot))
	}
	if len(parts) == 0 {
		return "the only initialised token"
	}
	return strings.Join(parts, ";")
}

// FindToken returns the token sel picks: exactly one must match, among the
// initialised tokens.
func (m *Module) FindToken(sel TokenSelector) (TokenInfo, error) {
	all, err := m.Tokens()
	if err != nil {
		return TokenInfo{}, err
	}
	var match []TokenInfo
	var labels []string
	for _, t := range all {
		if !t.Initialized() {
			continue
		}
		labels = append(labels, fmt.Sprintf("%q (slot %d, serial %s)", t.Label, t.Slot, t.Serial))
		if (sel.Label == "" || sel.Label == t.Label) && (sel.Serial == "" || sel.Serial == t.Serial) &&
			(sel.Manufacturer == "" || sel.Manufacturer == t.Manufacturer) && (sel.Model == "" || sel.Model == t.Model) &&
			(!sel.HasSlot || sel.Slot == t.Slot) {
			match = append(match, t)
		}
	}
	switch {
	case len(match) == 1:
		return match[0], nil
	case len(labels) == 0:
		return TokenInfo{}, &Error{Op: fmt.Sprintf("finding %s in %s", sel, m.name), Kind: ErrTokenNotFound,
			Fix: "the module has no initialised token; initialise one (softhsm2-util --init-token, pkcsconf -I, the vendor's tool) or check the module's configuration"}
	case len(match) == 0:
		return TokenInfo{}, &Error{Op: fmt.Sprintf("finding %s in %s", sel, m.name), Kind: ErrTokenNotFound,
			Fix: "no initialised token matches; the module has " + strings.Join(labels, ", ")}
	default:
		return TokenInfo{}, &Error{Op: fmt.Sprintf("finding %s in %s", sel, m.name), Kind: ErrTokenNotFound,
			Fix: "several tokens match; name one by label (token=) or serial: " + strings.Join(labels, ", ")}
	}
}
