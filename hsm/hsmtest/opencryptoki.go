package hsmtest

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"

	"github.com/byok-go/byok/hsm"
	"github.com/miekg/pkcs11"
)

// The opencryptoki software token byok's tests use.
const (
	// OpenCryptokiPath is where Debian and Ubuntu's libopencryptoki0 puts
	// the library.
	OpenCryptokiPath = "/usr/lib/x86_64-linux-gnu/pkcs11/libopencryptoki.so"
	// OpenCryptokiHint says how to get a working opencryptoki.
	OpenCryptokiHint = "install opencryptoki (apt-get install opencryptoki) and run scripts/hsm-setup.sh as root, which creates its directories and starts pkcsslotd"
	// OpenCryptokiSlot is the slot of the software token (libpkcs11_sw.so)
	// in Debian's /etc/opencryptoki/opencryptoki.conf.
	OpenCryptokiSlot = 3
	// OpenCryptokiLabel is the label byok's tests give the token.
	OpenCryptokiLabel = "byok-test"
)

// The PINs of the test token: opencryptoki's default SO PIN, and a user PIN
// (opencryptoki refuses its default user PIN as a new PIN).
var (
	OpenCryptokiSOPIN   = PIN("87654321")
	OpenCryptokiUserPIN = PIN("byok1234")
)

// OpenCryptoki returns the opencryptoki software token, initialised for
// byok's tests if it is not yet: C_InitToken with the SO PIN and label
// OpenCryptokiLabel, C_InitPIN, then C_SetPIN to OpenCryptokiUserPIN
// (opencryptoki wants a new user PIN changed before use). It is idempotent,
// serialised between test processes by a lock file, and never
// reinitialises a token someone else initialised. Keys the tests make there
// should be session objects: the token is the system's.
//
// When opencryptoki is unusable (not installed, pkcsslotd not running, the
// slot missing, a token of someone else's) the test fails on CI and skips
// elsewhere, saying why.
func OpenCryptoki(t testing.TB) hsm.TokenInfo {
	t.Helper()
	MustHaveModule(t, OpenCryptokiPath, OpenCryptokiHint)
	stop := func(format string, args ...any) {
		t.Helper()
		msg := fmt.Sprintf(format, args...)
		if OnCI() {
			t.Fatalf("hsmtest: opencryptoki is required on CI: %s", msg)
		}
		t.Skipf("hsmtest: skipping, opencryptoki is not usable: %s", msg)
	}
	unlock, err := lockFile(filepath.Join(os.TempDir(), "byok-opencryptoki-test.lock"))
	if err != nil {
		stop("%v", err)
	}
	defer unlock()
	info, err := setupOpenCryptoki()
	if err != nil {
		stop("%v", err)
	}
	return info
}

func lockFile(path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening the lock file %s: %w", path, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("locking %s: %w", path, err)
	}
	return func() { syscall.Flock(int(f.Fd()), syscall.LOCK_UN); f.Close() }, nil
}

func setupOpenCryptoki() (hsm.TokenInfo, error) {
	m, err := hsm.OpenModule(OpenCryptokiPath)
	if err != nil {
		return hsm.TokenInfo{}, fmt.Errorf("%w (is pkcsslotd running? %s)", err, OpenCryptokiHint)
	}
	// The module stays open for the life of the test process: opencryptoki
	// 3.8.1 crashes now and then in a C_Initialize that follows a
	// C_Finalize in the same process (seen once in CI, SIGSEGV inside
	// C_Initialize), and hsm.OpenModule is reference-counted, so holding
	// one reference means later opens reuse this initialisation.
	ockMu.Lock()
	if ockModule == nil {
		ockModule = m
	} else {
		defer m.Close()
	}
	ockMu.Unlock()
	ctx, ok := m.API().(*pkcs11.Ctx)
	if !ok {
		return hsm.TokenInfo{}, errors.New("not a loaded PKCS#11 library")
	}
	toks, err := m.Tokens()
	if err != nil {
		return hsm.TokenInfo{}, err
	}
	var tok *hsm.TokenInfo
	for i := range toks {
		if toks[i].Slot == OpenCryptokiSlot {
			tok = &toks[i]
		}
	}
	if tok == nil {
		return hsm.TokenInfo{}, fmt.Errorf("slot %d (the software token, libpkcs11_sw.so) has no token: check /etc/opencryptoki/opencryptoki.conf and that pkcsslotd runs; %s", OpenCryptokiSlot, OpenCryptokiHint)
	}
	tmpPIN := PIN("byoktmp1")
	switch {
	case !tok.Initialized():
		if err := ctx.InitToken(OpenCryptokiSlot, str(OpenCryptokiSOPIN), OpenCryptokiLabel); err != nil {
			return hsm.TokenInfo{}, fmt.Errorf("C_InitToken on slot %d with the default SO PIN: %w", OpenCryptokiSlot, err)
		}
		if err := setUserPIN(ctx, OpenCryptokiSlot, OpenCryptokiSOPIN, tmpPIN); err != nil {
			return hsm.TokenInfo{}, err
		}
		if err := changeUserPIN(ctx, tmpPIN, OpenCryptokiUserPIN); err != nil {
			return hsm.TokenInfo{}, err
		}
	case tok.Label != OpenCryptokiLabel:
		return hsm.TokenInfo{}, fmt.Errorf("the software token (slot %d) is initialised with label %q, not by byok's tests; they will not reinitialise it (that destroys its keys). If it holds nothing of value: pkcsconf -c %d -I, label %s, then rerun", OpenCryptokiSlot, tok.Label, OpenCryptokiSlot, OpenCryptokiLabel)
	default:
		err := tryLogin(ctx, OpenCryptokiUserPIN)
		switch {
		case err == nil:
		case errors.Is(err, pkcs11.Error(pkcs11.CKR_USER_PIN_NOT_INITIALIZED)):
			if err := setUserPIN(ctx, OpenCryptokiSlot, OpenCryptokiSOPIN, tmpPIN); err != nil {
				return hsm.TokenInfo{}, err
			}
			if err := changeUserPIN(ctx, tmpPIN, OpenCryptokiUserPIN); err != nil {
				return hsm.TokenInfo{}, err
			}
		default:
			return hsm.TokenInfo{}, fmt.Errorf("the token %q exists but its user PIN is not byok's test PIN (%v); reinitialise it: pkcsconf -c %d -I", OpenCryptokiLabel, err, OpenCryptokiSlot)
		}
	}
	return m.FindToken(hsm.TokenSelector{Slot: OpenCryptokiSlot, HasSlot: true})
}

// changeUserPIN changes the user PIN in a public session (C_SetPIN),
// as opencryptoki requires after C_InitPIN.
var (
	ockMu     sync.Mutex
	ockModule *hsm.Module
)

func changeUserPIN(ctx *pkcs11.Ctx, old, new PIN) error {
	sh, err := ctx.OpenSession(OpenCryptokiSlot, pkcs11.CKF_SERIAL_SESSION|pkcs11.CKF_RW_SESSION)
	if err != nil {
		return fmt.Errorf("C_OpenSession: %w", err)
	}
	defer ctx.CloseSession(sh)
	if err := ctx.SetPIN(sh, str(old), str(new)); err != nil {
		return fmt.Errorf("C_SetPIN of the user PIN: %w", err)
	}
	return nil
}

func tryLogin(ctx *pkcs11.Ctx, pin PIN) error {
	sh, err := ctx.OpenSession(OpenCryptokiSlot, pkcs11.CKF_SERIAL_SESSION)
	if err != nil {
		return err
	}
	defer ctx.CloseSession(sh)
	// No C_Logout: login state is the process's, and another user of the
	// module in this process may rely on it. Closing the session ends it
	// when no other session remains.
	err = ctx.Login(sh, pkcs11.CKU_USER, str(pin))
	if errors.Is(err, pkcs11.Error(pkcs11.CKR_USER_ALREADY_LOGGED_IN)) {
		return nil
	}
	return err
}
