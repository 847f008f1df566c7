package hsm

import (
	"errors"
	"fmt"

	"github.com/byok-go/byok"
	"github.com/miekg/pkcs11"
)

// Sentinel errors. Test for them with errors.Is; the errors hsm returns are
// *Error values that say what was being done and how to fix it, and that
// still hold the module's pkcs11.Error (errors.As(err, &rv) with a
// pkcs11.Error rv).
var (
	// ErrModuleNotFound marks a PKCS#11 library path that does not exist.
	ErrModuleNotFound = errors.New("hsm: PKCS#11 module not found")

	// ErrModuleNotLoadable marks a library that exists but cannot be loaded
	// or initialised (wrong architecture, a missing dependency, not a
	// PKCS#11 module, or C_Initialize failed).
	ErrModuleNotLoadable = errors.New("hsm: PKCS#11 module cannot be loaded")

	// ErrTokenNotFound marks a token (or slot) that no slot of the module
	// holds, or an ambiguous choice between several tokens.
	ErrTokenNotFound = errors.New("hsm: token not found")

	// ErrKeyNotFound marks a key reference that matches no key object.
	ErrKeyNotFound = errors.New("hsm: key not found")

	// ErrAmbiguousKey marks a key reference that matches more than one key.
	ErrAmbiguousKey = errors.New("hsm: key reference is ambiguous")

	// ErrNotExtractable marks a key with CKA_EXTRACTABLE false
	// (CKR_KEY_UNEXTRACTABLE). PKCS#11 never lets CKA_EXTRACTABLE go back
	// to true, so such a key cannot be migrated by wrapping.
	ErrNotExtractable = errors.New("hsm: key is not extractable")

	// ErrNotWrappable marks a key the module will not wrap with the
	// mechanism asked (CKR_KEY_NOT_WRAPPABLE): the mechanism does not take
	// this class of key, or CKA_WRAP_WITH_TRUSTED is set.
	ErrNotWrappable = errors.New("hsm: key cannot be wrapped with this mechanism")

	// ErrMechanism marks a mechanism, or mechanism parameters, the module
	// does not support (CKR_MECHANISM_INVALID, CKR_MECHANISM_PARAM_INVALID,
	// and CKR_ARGUMENTS_BAD from a wrap call).
	ErrMechanism = errors.New("hsm: mechanism or parameters not supported by the module")

	// ErrPINIncorrect marks a PIN the token refused (CKR_PIN_INCORRECT,
	// CKR_PIN_INVALID, CKR_PIN_LEN_RANGE) or one in the wrong form (a
	// CloudHSM PIN without "user:").
	ErrPINIncorrect = errors.New("hsm: PIN incorrect")

	// ErrPINLocked marks a token that locked the PIN after failed logins.
	ErrPINLocked = errors.New("hsm: PIN locked")

	// ErrPINExpired marks a PIN that must be changed before use.
	ErrPINExpired = errors.New("hsm: PIN expired")

	// ErrNotLoggedIn marks an operation refused because the session is not
	// logged in as the key's owner (CKR_USER_NOT_LOGGED_IN,
	// CKR_USER_PIN_NOT_INITIALIZED), or no PIN was given.
	ErrNotLoggedIn = errors.New("hsm: not logged in")

	// ErrNotPermitted marks a key whose attributes forbid the operation
	// (CKR_KEY_FUNCTION_NOT_PERMITTED), such as signing with CKA_SIGN false.
	ErrNotPermitted = errors.New("hsm: the key's attributes do not permit this operation")

	// ErrUnsupportedKey marks a key of a type or size AWS KMS does not
	// import. It also matches byok.ErrUnsupportedKey.
	ErrUnsupportedKey error = &alsoErr{"hsm: key type not importable into AWS KMS", byok.ErrUnsupportedKey}

	// ErrNoWrapping marks a key that the module cannot wrap, with any
	// mechanism it has, into what AWS KMS imports while keeping the
	// plaintext inside the module. The message names the mechanisms tried
	// and the module's quirks. It also matches byok.ErrIncompatible.
	ErrNoWrapping error = &alsoErr{"hsm: no wrapping keeps the key inside the module and gives KMS what it imports", byok.ErrIncompatible}
)

// alsoErr is a sentinel that also matches another sentinel.
type alsoErr struct {
	msg  string
	also error
}

func (e *alsoErr) Error() string { return e.msg }
func (e *alsoErr) Unwrap() error { return e.also }

// Error is an hsm failure: the operation, the sentinel it matches (Kind,
// may be nil), the underlying error (usually a pkcs11.Error) and the fix.
// It never contains a PIN or key material.
type Error struct {
	// Op says what hsm was doing, e.g. `C_WrapKey (CKM_RSA_PKCS_OAEP, SHA-256) of key "k1"`.
	Op string
	// Kind is the sentinel the error matches, or nil.
	Kind error
	// Err is the cause: a pkcs11.Error from the module, or another error.
	Err error
	// Fix says what to do about it; empty when there is nothing to add.
	Fix string
}

// Error returns "hsm: ", the operation, the cause and the fix.
func (e *Error) Error() string {
	s := "hsm: " + e.Op
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	if e.Fix != "" {
		s += "; " + e.Fix
	}
	return s
}

// Unwrap returns Kind and Err, so that errors.Is matches the sentinel and
// errors.As finds the pkcs11.Error.
func (e *Error) Unwrap() []error {
	var out []error
	if e.Kind != nil {
		out = append(out, e.Kind)
	}
	if e.Err != nil {
		out = append(out, e.Err)
	}
	return out
}

// Fixes for the module errors hsm maps to sentinels.
const (
	fixNotExtractable = "the key's CKA_EXTRACTABLE is false, and PKCS#11 never lets it go back to true: this key cannot leave the HSM and cannot be migrated; create keys meant for migration with CKA_EXTRACTABLE=true (pkcs11-tool --extractable; note that softhsm2-util --import makes keys non-extractable), or keep using it in the HSM and create a new key in KMS"
	fixNotWrappable   = "the module refuses to wrap this key with this mechanism: either the mechanism does not take this class of key (SoftHSM refuses RSA-OAEP for private keys), or the key has CKA_WRAP_WITH_TRUSTED=true and the KMS wrapping key is not CKA_TRUSTED, which only the security officer can set"
	fixMechanism      = "the module does not support this mechanism or these parameters; let byok negotiate the wrapping algorithm instead of forcing one, and check the module's mechanism list (pkcs11-tool --module LIB -M)"
	fixPIN            = "check the PIN (and for CloudHSM the crypto user name: the PIN is \"user:password\"); repeated failures may lock the token"
	fixPINLocked      = "the token locked the PIN after failed logins; the security officer must unlock or reset it"
	fixPINExpired     = "the token wants the PIN changed first (pkcsconf -p for opencryptoki, the vendor's tool otherwise)"
	fixNotLoggedIn    = "log in as the user that owns the key (give a PIN; for CloudHSM the crypto user that created the key, as \"user:password\"), and make sure the user PIN is initialised"
	fixNotPermitted   = "the key's attributes forbid this (for a signature CKA_SIGN must be true; for a wrap the KMS wrapping key needs CKA_WRAP, which byok sets)"
	fixToken          = "the token is not present or not recognised; check the slot and that the token is initialised"
)

// rvError turns an error from a PKCS#11 call into an *Error with the
// sentinel and fix of its return value. wrapping says the call was a
// C_WrapKey, where CKR_ARGUMENTS_BAD means parameters the module refuses.
func rvError(op string, err error, wrapping bool) error {
	if err == nil {
		return nil
	}
	e := &Error{Op: op, Err: err}
	var rv pkcs11.Error
	if !errors.As(err, &rv) {
		return e
	}
	switch rv {
	case pkcs11.CKR_KEY_UNEXTRACTABLE:
		e.Kind, e.Fix = ErrNotExtractable, fixNotExtractable
	case pkcs11.CKR_KEY_NOT_WRAPPABLE:
		e.Kind, e.Fix = ErrNotWrappable, fixNotWrappable
	case pkcs11.CKR_MECHANISM_INVALID, pkcs11.CKR_MECHANISM_PARAM_INVALID:
		e.Kind, e.Fix = ErrMechanism, fixMechanism
	case pkcs11.CKR_ARGUMENTS_BAD:
		if wrapping {
			e.Kind, e.Fix = ErrMechanism, fixMechanism
		}
	case pkcs11.CKR_PIN_INCORRECT, pkcs11.CKR_PIN_INVALID, pkcs11.CKR_PIN_LEN_RANGE:
		e.Kind, e.Fix = ErrPINIncorrect, fixPIN
	case pkcs11.CKR_PIN_LOCKED:
		e.Kind, e.Fix = ErrPINLocked, fixPINLocked
	case pkcs11.CKR_PIN_EXPIRED:
		e.Kind, e.Fix = ErrPINExpired, fixPINExpired
	case pkcs11.CKR_USER_NOT_LOGGED_IN, pkcs11.CKR_USER_PIN_NOT_INITIALIZED:
		e.Kind, e.Fix = ErrNotLoggedIn, fixNotLoggedIn
	case pkcs11.CKR_KEY_FUNCTION_NOT_PERMITTED:
		e.Kind, e.Fix = ErrNotPermitted, fixNotPermitted
	case pkcs11.CKR_TOKEN_NOT_PRESENT, pkcs11.CKR_TOKEN_NOT_RECOGNIZED, pkcs11.CKR_SLOT_ID_INVALID:
		e.Kind, e.Fix = ErrTokenNotFound, fixToken
	case pkcs11.CKR_KEY_HANDLE_INVALID, pkcs11.CKR_OBJECT_HANDLE_INVALID:
		e.Kind = ErrKeyNotFound
	}
	return e
}

// isRV reports whether err carries the PKCS#11 return value rv.
func isRV(err error, rv uint) bool {
	var e pkcs11.Error
	return errors.As(err, &e) && uint(e) == rv
}

func errorf(kind error, format string, args ...any) error {
	return &Error{Op: fmt.Sprintf(format, args...), Kind: kind}
}
