package keyfile

import (
	"errors"
	"fmt"
)

// The package's sentinels. Their messages are byok's, word for word: the
// root package wraps every error from here so that errors.Is also matches
// its own sentinel of the same name (byok.ErrInvalidMaterial for ErrInvalid).
var (
	// ErrInvalid marks input that is not valid key material.
	ErrInvalid = errors.New("byok: invalid key material")

	// ErrNotImportable marks a key of a spec KMS has but does not import.
	ErrNotImportable = errors.New("byok: key spec is not importable into AWS KMS")

	// The refinements of ErrInvalid: each also matches ErrInvalid.
	ErrEncrypted             error = &refinement{"byok: the key file is encrypted"}
	ErrWrongPassphrase       error = &refinement{"byok: wrong passphrase"}
	ErrUnsupportedEncryption error = &refinement{"byok: unsupported key file encryption"}
	ErrPublicKeyOnly         error = &refinement{"byok: public key only, the private key is needed"}
	ErrUnsupportedKey        error = &refinement{"byok: key type not importable into AWS KMS"}
	ErrAmbiguousEncoding     error = &refinement{"byok: the secret key's encoding is ambiguous"}
)

// Sentinels lists every sentinel of the package, for the root's mapping.
var Sentinels = []error{ErrInvalid, ErrNotImportable, ErrEncrypted, ErrWrongPassphrase,
	ErrUnsupportedEncryption, ErrPublicKeyOnly, ErrUnsupportedKey, ErrAmbiguousEncoding}

// refinement is a sentinel that refines ErrInvalid.
type refinement struct{ msg string }

func (e *refinement) Error() string { return e.msg }
func (e *refinement) Unwrap() error { return ErrInvalid }

// alsoIs makes err match another sentinel with errors.Is, without changing
// its message.
type alsoIs struct{ err, also error }

func (e *alsoIs) Error() string   { return e.err.Error() }
func (e *alsoIs) Unwrap() []error { return []error{e.err, e.also} }

// Why KMS does not import keys of these kinds; the same words as the
// root's ParseKeySpec (a root test compares them).
const (
	WhyEd25519 = "Ed25519 keys are generated inside KMS; KMS does not import them"
	WhyMLDSA   = "ML-DSA keys are generated inside KMS; KMS does not import them"
	WhyMLKEM   = "ML-KEM keys are generated inside KMS; KMS does not import them"
	WhySM2     = "SM2 keys exist only in AWS China Regions and cannot be imported"
)

// ed25519Error refuses an Ed25519 private key, from a file or from Go.
func ed25519Error() error {
	return &alsoIs{fmt.Errorf("%w: an Ed25519 private key: %s; let KMS generate an ECC_NIST_EDWARDS25519 key, or import an ECC_* key instead", ErrUnsupportedKey, WhyEd25519), ErrNotImportable}
}

// derError reports invalid DER in what.
func derError(what string, err error) error {
	return fmt.Errorf("%w: %s is not valid DER (%v); the input is truncated or corrupt: re-export the key from its source", ErrInvalid, what, err)
}

// trailingError reports data after a structure that should end.
func trailingError(what string) error {
	return fmt.Errorf("%w: unexpected data after %s; the input has bytes appended or is corrupt: pass exactly the DER encoding of the key", ErrInvalid, what)
}
