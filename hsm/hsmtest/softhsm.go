package hsmtest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"unsafe"

	"github.com/byok-go/byok/hsm"
	"github.com/miekg/pkcs11"
)

// SoftHSMPath is where Debian and Ubuntu's softhsm2 package puts the library.
const SoftHSMPath = "/usr/lib/softhsm/libsofthsm2.so"

// SoftHSMHint says how to install SoftHSM2.
const SoftHSMHint = "install SoftHSM2 (apt-get install softhsm2)"

// SoftHSM is a throwaway SoftHSM2: a token directory and configuration file
// under a directory of the test's, with SOFTHSM2_CONF pointing at it.
type SoftHSM struct {
	// Module is the library path; Dir the directory; Conf the config file.
	Module, Dir, Conf string
}

// NewSoftHSM creates the token directory and configuration in dir and sets
// SOFTHSM2_CONF for the whole process. SoftHSM reads it when the library
// is initialised, so call this (from TestMain) before the library is
// loaded.
func NewSoftHSM(module, dir string) (*SoftHSM, error) {
	tokens := filepath.Join(dir, "tokens")
	if err := os.MkdirAll(tokens, 0o700); err != nil {
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
	return &SoftHSM{Module: module, Dir: dir, Conf: conf}, nil
}

// InitToken initialises a new token labelled label in the first free slot,
// sets its user PIN, and returns it (found by label: SoftHSM gives an
// initialised token a new slot ID).
func (s *SoftHSM) InitToken(label string, soPIN, userPIN []byte) (hsm.TokenInfo, error) {
	m, err := hsm.OpenModule(s.Module)
	if err != nil {
		return hsm.TokenInfo{}, err
	}
	defer m.Close()
	ctx, ok := m.API().(*pkcs11.Ctx)
	if !ok {
		return hsm.TokenInfo{}, fmt.Errorf("hsmtest: %s is not a loaded PKCS#11 library", s.Module)
	}
	toks, err := m.Tokens()
	if err != nil {
		return hsm.TokenInfo{}, err
	}
	free := -1
	for _, t := range toks {
		if t.Label == label && t.Initialized() {
			return hsm.TokenInfo{}, fmt.Errorf("hsmtest: a token labelled %q already exists", label)
		}
		if !t.Initialized() && free < 0 {
			free = int(t.Slot)
		}
	}
	if free < 0 {
		return hsm.TokenInfo{}, fmt.Errorf("hsmtest: SoftHSM has no free slot")
	}
	if err := ctx.InitToken(uint(free), str(soPIN), label); err != nil {
		return hsm.TokenInfo{}, fmt.Errorf("hsmtest: C_InitToken: %w", err)
	}
	info, err := m.FindToken(hsm.TokenSelector{Label: label})
	if err != nil {
		return hsm.TokenInfo{}, err
	}
	if err := setUserPIN(ctx, info.Slot, soPIN, userPIN); err != nil {
		return hsm.TokenInfo{}, err
	}
	return info, nil
}

// setUserPIN logs in as the security officer and sets the user PIN.
func setUserPIN(ctx *pkcs11.Ctx, slot uint, soPIN, userPIN []byte) error {
	sh, err := ctx.OpenSession(slot, pkcs11.CKF_SERIAL_SESSION|pkcs11.CKF_RW_SESSION)
	if err != nil {
		return fmt.Errorf("hsmtest: C_OpenSession: %w", err)
	}
	defer ctx.CloseSession(sh)
	if err := ctx.Login(sh, pkcs11.CKU_SO, str(soPIN)); err != nil {
		return fmt.Errorf("hsmtest: logging in as SO: %w", err)
	}
	defer ctx.Logout(sh)
	if err := ctx.InitPIN(sh, str(userPIN)); err != nil {
		return fmt.Errorf("hsmtest: C_InitPIN: %w", err)
	}
	return nil
}

// str views b as a string without copying (the PINs here are test PINs).
func str(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

// PIN is a fixed PIN, as an hsm.PINSource.
type PIN []byte

// PIN returns a copy of p (hsm clears what it gets).
func (p PIN) PIN(context.Context) ([]byte, error) { return append([]byte(nil), p...), nil }
