package hsm

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"unsafe"

	"github.com/miekg/pkcs11"
)

// PINSource supplies the PIN when hsm logs in. driver.PINSource (and its
// PINFromEnv, PINFromFile and PINPrompt) satisfies it. The returned bytes
// are cleared after use.
type PINSource interface {
	PIN(ctx context.Context) ([]byte, error)
}

// PINFormat says what a module expects as the PIN of C_Login.
type PINFormat int

const (
	// PINPlain passes the PIN as it is (SoftHSM, opencryptoki, Luna
	// partition passwords, most modules).
	PINPlain PINFormat = iota
	// PINUserPassword expects "user:password": AWS CloudHSM's PKCS#11
	// library logs in the crypto user named before the colon (CloudHSM
	// User Guide, "Authenticate to the PKCS #11 library").
	PINUserPassword
)

// UserType is the PKCS#11 user to log in as. The zero value is the normal
// user (CKU_USER), who owns and uses keys.
type UserType int

const (
	// User logs in as CKU_USER.
	User UserType = iota
	// SecurityOfficer logs in as CKU_SO (token administration only; it
	// cannot use keys).
	SecurityOfficer
)

func (u UserType) ck() uint {
	if u == SecurityOfficer {
		return pkcs11.CKU_SO
	}
	return pkcs11.CKU_USER
}

// TokenOptions configure OpenToken. The zero value opens the token without
// logging in (public objects only) with up to DefaultMaxSessions sessions.
type TokenOptions struct {
	// PIN is asked once, when the first session logs in; nil: no login.
	PIN PINSource
	// Profile holds what byok knows about the module: the PIN format and
	// user type of the login, the attributes of the wrapping key it
	// imports, whether to probe. Nil: Generic.
	Profile *Profile
	// MaxSessions bounds the sessions open at once; zero: DefaultMaxSessions.
	MaxSessions int
}

// DefaultMaxSessions is the size of a token's session pool unless
// TokenOptions.MaxSessions says otherwise.
const DefaultMaxSessions = 4

// Token is an open token: a pool of sessions, logged in once. Login state
// in PKCS#11 belongs to the application and the token, not to a session, so
// the pool keeps at least one session open while the Token is open, and the
// PIN is asked for once. A Token is safe for concurrent use.
type Token struct {
	mod  *Module
	info TokenInfo
	opts TokenOptions
	sem  chan struct{} // one slot per session in use

	mu       sync.Mutex
	idle     []pkcs11.SessionHandle
	open     int
	loggedIn bool
	closed   bool
	loginMu  sync.Mutex
}

// OpenToken opens the token sel picks and, when opts.PIN is set, logs in,
// so that a wrong PIN fails here rather than at first use.
func (m *Module) OpenToken(ctx context.Context, sel TokenSelector, opts TokenOptions) (*Token, error) {
	info, err := m.FindToken(sel)
	if err != nil {
		return nil, err
	}
	if opts.MaxSessions <= 0 {
		opts.MaxSessions = DefaultMaxSessions
	}
	if opts.Profile == nil {
		opts.Profile = &Generic
	}
	t := &Token{mod: m, info: info, opts: opts, sem: make(chan struct{}, opts.MaxSessions)}
	if err := t.WithSession(ctx, func(pkcs11.SessionHandle) error { return nil }); err != nil {
		t.Close()
		return nil, err
	}
	return t, nil
}

// Info describes the token.
func (t *Token) Info() TokenInfo { return t.info }

// Module returns the module the token is in.
func (t *Token) Module() *Module { return t.mod }

// String names the token, its slot and module, for messages.
func (t *Token) String() string {
	return fmt.Sprintf("token %q (slot %d) of %s", t.info.Label, t.info.Slot, t.mod.name)
}

// WithSession runs fn with a logged-in session from the pool. The session
// goes back to the pool afterwards, unless fn's error says it is broken.
// fn must not keep the handle.
func (t *Token) WithSession(ctx context.Context, fn func(sh pkcs11.SessionHandle) error) error {
	select {
	case t.sem <- struct{}{}:
	case <-ctx.Done():
		return fmt.Errorf("hsm: waiting for a session of %s: %w", t, ctx.Err())
	}
	defer func() { <-t.sem }()
	sh, err := t.get(ctx)
	if err != nil {
		return err
	}
	err = fn(sh)
	if err != nil && isRV(err, pkcs11.CKR_USER_NOT_LOGGED_IN) && t.opts.PIN != nil && t.wasLoggedIn() {
		// The login went away (every session of the application closed
		// elsewhere, a module restart): log in again, once.
		t.setLoggedIn(false)
		if lerr := t.login(ctx, sh); lerr == nil {
			err = fn(sh)
		}
	}
	t.put(sh, err)
	return err
}

func (t *Token) wasLoggedIn() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.loggedIn
}

func (t *Token) setLoggedIn(v bool) {
	t.mu.Lock()
	t.loggedIn = v
	t.mu.Unlock()
}

func (t *Token) get(ctx context.Context) (pkcs11.SessionHandle, error) {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return 0, fmt.Errorf("hsm: %s is closed", t)
	}
	if n := len(t.idle); n > 0 {
		sh := t.idle[n-1]
		t.idle = t.idle[:n-1]
		t.mu.Unlock()
		return sh, nil
	}
	t.open++
	t.mu.Unlock()
	sh, err := t.mod.api.OpenSession(t.info.Slot, pkcs11.CKF_SERIAL_SESSION|pkcs11.CKF_RW_SESSION)
	if err != nil {
		t.dropped()
		return 0, rvError(fmt.Sprintf("opening a session on %s (C_OpenSession)", t), err, false)
	}
	if err := t.login(ctx, sh); err != nil {
		t.mod.api.CloseSession(sh)
		t.dropped()
		return 0, err
	}
	return sh, nil
}

// dropped accounts for a session closed; when none is left the module has
// logged the application out of the token.
func (t *Token) dropped() {
	t.mu.Lock()
	t.open--
	if t.open == 0 {
		t.loggedIn = false
	}
	t.mu.Unlock()
}

// brokenSession reports whether err means the session is no longer usable.
func brokenSession(err error) bool {
	var cs errCloseSession
	if errors.As(err, &cs) {
		return true
	}
	for _, rv := range []uint{pkcs11.CKR_SESSION_HANDLE_INVALID, pkcs11.CKR_SESSION_CLOSED, pkcs11.CKR_DEVICE_REMOVED,
		pkcs11.CKR_TOKEN_NOT_PRESENT, pkcs11.CKR_DEVICE_ERROR, pkcs11.CKR_CRYPTOKI_NOT_INITIALIZED} {
		if isRV(err, rv) {
			return true
		}
	}
	return false
}

func (t *Token) put(sh pkcs11.SessionHandle, err error) {
	t.mu.Lock()
	if !t.closed && !brokenSession(err) {
		t.idle = append(t.idle, sh)
		t.mu.Unlock()
		return
	}
	t.mu.Unlock()
	t.mod.api.CloseSession(sh)
	t.dropped()
}

// login logs the application in on sh unless it already is. The PIN is
// fetched, passed to C_Login without a copy in Go memory, and cleared.
func (t *Token) login(ctx context.Context, sh pkcs11.SessionHandle) error {
	if t.opts.PIN == nil {
		return nil
	}
	t.loginMu.Lock()
	defer t.loginMu.Unlock()
	if t.wasLoggedIn() {
		return nil
	}
	op := fmt.Sprintf("logging in to %s", t)
	pin, err := t.opts.PIN.PIN(ctx)
	if err != nil {
		return &Error{Op: op, Kind: ErrNotLoggedIn, Err: err, Fix: "the PIN could not be read"}
	}
	defer clear(pin)
	if len(pin) == 0 {
		return &Error{Op: op, Kind: ErrNotLoggedIn, Fix: "the PIN is empty"}
	}
	if t.opts.Profile.PINFormat == PINUserPassword {
		user, pass, ok := bytes.Cut(pin, []byte(":"))
		if !ok || len(user) == 0 || len(pass) == 0 {
			return &Error{Op: op, Kind: ErrPINIncorrect,
				Fix: `this module (` + t.opts.Profile.Name + `) takes the PIN as "user:password": the crypto user's name, a colon, and the password`}
		}
	}
	// unsafe.String: no immutable copy of the PIN in Go memory; the module
	// binding copies it into C memory for the call (and frees it without
	// clearing: best effort is all Go and the binding allow).
	err = t.mod.api.Login(sh, t.opts.Profile.UserType.ck(), unsafe.String(unsafe.SliceData(pin), len(pin)))
	if err != nil && !isRV(err, pkcs11.CKR_USER_ALREADY_LOGGED_IN) {
		return rvError(op+" (C_Login)", err, false)
	}
	t.setLoggedIn(true)
	return nil
}

// Close closes the token's idle sessions; sessions in use close when they
// are returned. It does not log out explicitly (another Token of this
// process on the same token may still use the login): PKCS#11 logs the
// application out when its last session on the token closes.
func (t *Token) Close() error {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return nil
	}
	t.closed = true
	idle := t.idle
	t.idle = nil
	t.mu.Unlock()
	var errs []error
	for _, sh := range idle {
		if err := t.mod.api.CloseSession(sh); err != nil && !brokenSession(err) {
			errs = append(errs, rvError("C_CloseSession", err, false))
		}
		t.dropped()
	}
	return errors.Join(errs...)
}
