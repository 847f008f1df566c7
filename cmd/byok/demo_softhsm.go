package main

// The demo's SoftHSM keys. When SoftHSM is installed, `byok demo` also
// migrates keys that live in an HSM: it makes a throwaway SoftHSM token in
// a temporary directory (its own SOFTHSM2_CONF, random PINs held in memory
// only), generates the keys inside the token with C_GenerateKey, and opens
// them with the softhsm driver, which wraps them inside the module: their
// plaintext never leaves it. The token directory is removed when the demo
// closes the last of these sources.
//
// The PKCS#11 calls are made here, not with package hsm/hsmtest: that is
// test support (well-known PINs, an in-memory fake, package testing) and
// does not belong in the shipped binary.

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"unsafe"

	"github.com/miekg/pkcs11"

	"github.com/byok-go/byok"
	"github.com/byok-go/byok/driver"
	"github.com/byok-go/byok/hsm"
)

func init() { hsmDemoSources = softhsmDemoSources }

// softhsmDemoDirPrefix begins the name of the temporary directory (in
// os.TempDir) that holds the demo's throwaway SoftHSM configuration and token.
const softhsmDemoDirPrefix = "byok-demo-softhsm-"

// softhsmDemoToken is the label of the demo's throwaway token.
const softhsmDemoToken = "byok demo"

// softhsmDemoKeys are the keys the demo generates inside SoftHSM: what
// SoftHSM 2.6.1 can wrap exactly as KMS imports it (secret keys, with
// RSAES_OAEP_SHA_1; see docs/hsm.md).
var softhsmDemoKeys = []struct {
	label   string
	spec    byok.KeySpec
	mech    uint // the C_GenerateKey mechanism
	keyType uint
}{
	{"byok-demo-aes-256", byok.SymmetricDefault, pkcs11.CKM_AES_KEY_GEN, pkcs11.CKK_AES},
	{"byok-demo-hmac-256", byok.HMAC256, pkcs11.CKM_GENERIC_SECRET_KEY_GEN, pkcs11.CKK_GENERIC_SECRET},
	{"byok-demo-hmac-512", byok.HMAC512, pkcs11.CKM_GENERIC_SECRET_KEY_GEN, pkcs11.CKK_GENERIC_SECRET},
}

// softhsmDemoSources makes the throwaway token, generates softhsmDemoKeys in
// it and opens each with the softhsm driver. Closing the last source
// returned unloads the module (unless someone else in the process holds
// it), restores SOFTHSM2_CONF and removes the token directory. On error,
// everything is undone before it returns.
func softhsmDemoSources(ctx context.Context, module string, say func(string, ...any)) (srcs []driver.Source, err error) {
	th, err := newThrowawaySoftHSM(module)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			for _, s := range srcs {
				s.Close()
			}
			srcs = nil
			th.release()
		}
	}()
	if err := th.initToken(); err != nil {
		return nil, err
	}
	say("SoftHSM: made the throwaway token %q in %s (random PINs, in memory only)", softhsmDemoToken, th.dir)
	if err := th.generateKeys(); err != nil {
		return nil, err
	}
	names := make([]string, len(softhsmDemoKeys))
	for i, k := range softhsmDemoKeys {
		names[i] = string(k.spec)
	}
	say("SoftHSM: generated %s inside the token (C_GenerateKey; extractable, sensitive: the plaintext never leaves the module)", strings.Join(names, ", "))
	pin := driver.PINFunc(func(context.Context) ([]byte, error) { return th.userPIN(), nil })
	for _, k := range softhsmDemoKeys {
		s, err := driver.Open(ctx, "softhsm", driver.Config{Module: module, Token: softhsmDemoToken, Key: "label=" + k.label, PIN: pin, KeySpec: k.spec})
		if err != nil {
			return srcs, fmt.Errorf("opening the SoftHSM key %s: %w", k.label, err)
		}
		hs, ok := s.(*hsm.Source)
		if !ok {
			s.Close()
			return srcs, fmt.Errorf("the softhsm driver returned a %T, not an *hsm.Source", s)
		}
		th.mu.Lock()
		th.refs++
		th.mu.Unlock()
		srcs = append(srcs, &softhsmDemoSource{Source: hs, th: th})
	}
	return srcs, nil
}

// softhsmDemoSource is a key in the throwaway token. It is an *hsm.Source
// (so the importer finds its AlgorithmLister and MACSource methods) whose
// Close also releases the token when it is the last one open.
type softhsmDemoSource struct {
	*hsm.Source
	th   *throwawaySoftHSM
	once sync.Once
}

// Close closes the key's source, then, for the last source of the token,
// the token itself (see throwawaySoftHSM.release).
func (s *softhsmDemoSource) Close() error {
	var err error
	s.once.Do(func() {
		err = s.Source.Close()
		if s.th.unref() {
			err = errors.Join(err, s.th.release())
		}
	})
	return err
}

// throwawaySoftHSM is a SoftHSM configuration and token directory in a
// temporary directory, with the module loaded under it. SoftHSM reads
// SOFTHSM2_CONF when the library is initialised, so the environment
// variable is set for the process until release.
type throwawaySoftHSM struct {
	dir    string
	mod    *hsm.Module
	oldEnv string
	hadEnv bool
	slot   uint
	soPIN  []byte // cleared once the token is initialised
	pin    []byte // the user PIN; cleared by release

	mu       sync.Mutex
	refs     int // sources open
	released bool
}

// newThrowawaySoftHSM writes the configuration, points SOFTHSM2_CONF at it
// and loads module.
func newThrowawaySoftHSM(module string) (_ *throwawaySoftHSM, err error) {
	dir, err := os.MkdirTemp("", softhsmDemoDirPrefix+"*")
	if err != nil {
		return nil, err
	}
	th := &throwawaySoftHSM{dir: dir}
	th.oldEnv, th.hadEnv = os.LookupEnv("SOFTHSM2_CONF")
	defer func() {
		if err != nil {
			th.release()
		}
	}()
	tokens := filepath.Join(dir, "tokens")
	if err := os.Mkdir(tokens, 0o700); err != nil {
		return nil, err
	}
	conf := filepath.Join(dir, "softhsm2.conf")
	body := fmt.Sprintf("directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n", tokens)
	if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
		return nil, err
	}
	if err := os.Setenv("SOFTHSM2_CONF", conf); err != nil {
		return nil, err
	}
	if th.mod, err = hsm.OpenModule(module); err != nil {
		return nil, err
	}
	// A module already loaded in this process was initialised under
	// another configuration, which this one does not replace; its tokens
	// show it. The demo does not touch someone else's tokens.
	toks, err := th.mod.Tokens()
	if err != nil {
		return nil, err
	}
	free := -1
	for _, t := range toks {
		if t.Initialized() {
			return nil, fmt.Errorf("SoftHSM (%s) is already loaded in this process with another configuration (it has the token %q); the demo needs its own throwaway token", module, t.Label)
		}
		if free < 0 {
			free = int(t.Slot)
		}
	}
	if free < 0 {
		return nil, fmt.Errorf("SoftHSM (%s) shows no slot under the demo's configuration", module)
	}
	th.slot = uint(free)
	th.soPIN, th.pin = randomPIN(), randomPIN()
	return th, nil
}

// randomPIN returns 32 random hex digits.
func randomPIN() []byte {
	b := make([]byte, 16)
	rand.Read(b) // never fails (crypto/rand)
	pin := make([]byte, hex.EncodedLen(len(b)))
	hex.Encode(pin, b)
	clear(b)
	return pin
}

// pinString views a PIN as a string without copying it, so that clearing
// the bytes clears the only copy Go holds (the PKCS#11 binding still copies
// it into C memory that it frees without clearing, as hsm's logins do). The
// string must not outlive the call it is passed to.
func pinString(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

// userPIN returns a copy of the user PIN (the caller clears it).
func (th *throwawaySoftHSM) userPIN() []byte {
	th.mu.Lock()
	defer th.mu.Unlock()
	return append([]byte(nil), th.pin...)
}

func (th *throwawaySoftHSM) api() (*pkcs11.Ctx, error) {
	c, ok := th.mod.API().(*pkcs11.Ctx)
	if !ok {
		return nil, fmt.Errorf("SoftHSM (%s) is not a loaded PKCS#11 library", th.mod.Name())
	}
	return c, nil
}

// initToken initialises the token in the free slot and sets the user PIN:
// C_InitToken, C_Login as the security officer, C_InitPIN. SoftHSM gives
// an initialised token a new slot ID, so the token is found again by label.
func (th *throwawaySoftHSM) initToken() error {
	defer clear(th.soPIN)
	c, err := th.api()
	if err != nil {
		return err
	}
	if err := c.InitToken(th.slot, pinString(th.soPIN), softhsmDemoToken); err != nil {
		return fmt.Errorf("SoftHSM C_InitToken: %w", err)
	}
	info, err := th.mod.FindToken(hsm.TokenSelector{Label: softhsmDemoToken})
	if err != nil {
		return err
	}
	th.slot = info.Slot
	// The token must be in this directory: otherwise the module did not
	// read the demo's configuration, and removing the directory would not
	// remove the token.
	if ents, err := os.ReadDir(filepath.Join(th.dir, "tokens")); err != nil || len(ents) == 0 {
		return fmt.Errorf("SoftHSM (%s) did not put the demo's token in %s: it did not read the demo's SOFTHSM2_CONF", th.mod.Name(), th.dir)
	}
	sh, err := c.OpenSession(th.slot, pkcs11.CKF_SERIAL_SESSION|pkcs11.CKF_RW_SESSION)
	if err != nil {
		return fmt.Errorf("SoftHSM C_OpenSession: %w", err)
	}
	defer c.CloseSession(sh)
	if err := c.Login(sh, pkcs11.CKU_SO, pinString(th.soPIN)); err != nil {
		return fmt.Errorf("SoftHSM C_Login as security officer: %w", err)
	}
	defer c.Logout(sh)
	if err := c.InitPIN(sh, pinString(th.pin)); err != nil {
		return fmt.Errorf("SoftHSM C_InitPIN: %w", err)
	}
	return nil
}

// generateKeys logs in as the user and generates softhsmDemoKeys inside
// the token (token objects, private, sensitive and extractable: wrappable,
// never readable).
func (th *throwawaySoftHSM) generateKeys() error {
	c, err := th.api()
	if err != nil {
		return err
	}
	sh, err := c.OpenSession(th.slot, pkcs11.CKF_SERIAL_SESSION|pkcs11.CKF_RW_SESSION)
	if err != nil {
		return fmt.Errorf("SoftHSM C_OpenSession: %w", err)
	}
	defer c.CloseSession(sh)
	if err := c.Login(sh, pkcs11.CKU_USER, pinString(th.pin)); err != nil {
		return fmt.Errorf("SoftHSM C_Login: %w", err)
	}
	defer c.Logout(sh)
	for i, k := range softhsmDemoKeys {
		tmpl := []*pkcs11.Attribute{
			pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_SECRET_KEY),
			pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, k.keyType),
			pkcs11.NewAttribute(pkcs11.CKA_VALUE_LEN, k.spec.MaterialLen()),
			pkcs11.NewAttribute(pkcs11.CKA_TOKEN, true),
			pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, true),
			pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, true),
			pkcs11.NewAttribute(pkcs11.CKA_EXTRACTABLE, true),
			pkcs11.NewAttribute(pkcs11.CKA_LABEL, k.label),
			pkcs11.NewAttribute(pkcs11.CKA_ID, []byte{byte(i + 1)}),
		}
		if k.spec.Kind() == byok.KindHMAC {
			tmpl = append(tmpl, pkcs11.NewAttribute(pkcs11.CKA_SIGN, true), pkcs11.NewAttribute(pkcs11.CKA_VERIFY, true))
		} else {
			tmpl = append(tmpl, pkcs11.NewAttribute(pkcs11.CKA_ENCRYPT, true), pkcs11.NewAttribute(pkcs11.CKA_DECRYPT, true))
		}
		if _, err := c.GenerateKey(sh, []*pkcs11.Mechanism{pkcs11.NewMechanism(k.mech, nil)}, tmpl); err != nil {
			return fmt.Errorf("SoftHSM C_GenerateKey of %s (%s): %w", k.label, k.spec, err)
		}
	}
	return nil
}

// unref drops a source's reference and reports whether it was the last.
func (th *throwawaySoftHSM) unref() bool {
	th.mu.Lock()
	defer th.mu.Unlock()
	th.refs--
	return th.refs == 0
}

// release unloads the module (the sources have closed theirs: this last
// reference finalises it), restores SOFTHSM2_CONF, clears the PINs and
// removes the directory. It runs once.
func (th *throwawaySoftHSM) release() error {
	th.mu.Lock()
	defer th.mu.Unlock()
	if th.released {
		return nil
	}
	th.released = true
	var errs []error
	if th.mod != nil {
		errs = append(errs, th.mod.Close())
	}
	if th.hadEnv {
		errs = append(errs, os.Setenv("SOFTHSM2_CONF", th.oldEnv))
	} else {
		errs = append(errs, os.Unsetenv("SOFTHSM2_CONF"))
	}
	clear(th.soPIN)
	clear(th.pin)
	if err := os.RemoveAll(th.dir); err != nil {
		errs = append(errs, fmt.Errorf("removing the demo's SoftHSM token directory: %w", err))
	}
	return errors.Join(errs...)
}
