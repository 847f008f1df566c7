package byok

import "errors"

// Sentinel errors. Test for them with errors.Is; the errors byok returns wrap
// them with the detail of what was being done and how to fix it.
var (
	// ErrNotImportable marks a key spec that AWS KMS knows but cannot take
	// as imported key material (SM2, ML-DSA, ML-KEM, Ed25519).
	ErrNotImportable = errors.New("byok: key spec is not importable into AWS KMS")

	// ErrUnknownKeySpec marks a string that is not a KMS key spec.
	ErrUnknownKeySpec = errors.New("byok: unknown key spec")

	// ErrUnknownAlgorithm marks a string that is not a KMS wrapping algorithm
	// or wrapping key spec.
	ErrUnknownAlgorithm = errors.New("byok: unknown wrapping algorithm")

	// ErrDeprecatedAlgorithm marks RSAES_PKCS1_V1_5, which AWS KMS stopped
	// accepting on 2023-10-10, and SM2PKE, which only China Regions offer.
	ErrDeprecatedAlgorithm = errors.New("byok: wrapping algorithm is not accepted by AWS KMS")

	// ErrIncompatible marks a key spec, wrapping algorithm and wrapping key
	// spec that AWS's rules do not allow together. CheckCompatible and
	// KeyMaterial.Wrap return a *CompatibilityError that names the Rule;
	// WrapKeyMaterial and ChooseWrapping wrap ErrIncompatible with the
	// detail.
	ErrIncompatible = errors.New("byok: wrapping algorithm cannot carry this key material")

	// ErrWrappingKey marks a wrapping public key that is not one KMS hands out
	// (an RSA key of 2048, 3072 or 4096 bits).
	ErrWrappingKey = errors.New("byok: unusable wrapping key")

	// ErrUnwrap is returned by UnwrapKeyMaterial for every failure to decrypt
	// or authenticate a wrapped blob. It deliberately does not say which
	// check failed, so that it is no padding or integrity oracle.
	ErrUnwrap = errors.New("byok: unwrap failed: the blob was not wrapped with this key and algorithm, or it was altered")

	// ErrInvalidMaterial marks key material that is malformed or is not what
	// KMS accepts for the key spec (see ParseKeyMaterial).
	ErrInvalidMaterial = errors.New("byok: invalid key material")
)

// Errors of an import (Importer.Import, KMS).
var (
	// ErrAliasInUse marks an alias that already names a KMS key an import
	// cannot use: creating a key and then failing on CreateAlias would leave
	// a key behind. See KMS.CheckAlias.
	ErrAliasInUse = errors.New("byok: the alias is in use")

	// ErrBadParameters marks import parameters from a KMSTarget's Prepare
	// that are not what was asked for, or incomplete: the source would wrap
	// its key under a key nobody asked for, or KMS would refuse the result.
	ErrBadParameters = errors.New("byok: the target returned unusable import parameters")

	// ErrExpiredParameters marks import parameters (wrapping key and token)
	// past their ValidTo: get new ones with GetParametersForImport.
	ErrExpiredParameters = errors.New("byok: import parameters expired")
)

// Errors of a proof (Importer.Import, KMS.VerifyKey, Verification.Err).
var (
	// ErrVerification marks a FAILED proof: the KMS key does not hold (or
	// does not behave as) the source key.
	ErrVerification = errors.New("byok: verification failed")

	// ErrUnproven marks an UNPROVEN proof: nothing failed, but nothing
	// showed that KMS holds the source key either. Do not treat it as
	// success.
	ErrUnproven = errors.New("byok: not proven")
)

// Refinements of ErrInvalidMaterial: every error that matches one of these
// with errors.Is also matches ErrInvalidMaterial.
var (
	// ErrEncrypted marks an encrypted key file loaded without a passphrase
	// (LoadOptions.Passphrase is nil).
	ErrEncrypted error = &materialError{"byok: the key file is encrypted"}

	// ErrWrongPassphrase marks an encrypted key file that did not decrypt
	// with the passphrase given (or is corrupt).
	ErrWrongPassphrase error = &materialError{"byok: wrong passphrase"}

	// ErrUnsupportedEncryption marks a key file encrypted with a scheme byok
	// does not implement: scrypt, PBES1, OpenSSL's legacy PEM encryption,
	// ciphers other than AES-CBC. The message says how to convert it.
	ErrUnsupportedEncryption error = &materialError{"byok: unsupported key file encryption"}

	// ErrPublicKeyOnly marks a public key or certificate given where a
	// private key is needed.
	ErrPublicKeyOnly error = &materialError{"byok: public key only, the private key is needed"}

	// ErrUnsupportedKey marks a well-formed key KMS does not import: an RSA
	// key of another size or with more than two primes, an EC key on another
	// curve or with explicit curve parameters, Ed25519, X25519 and other
	// algorithms. (Ed25519, ML-DSA and ML-KEM keys also match
	// ErrNotImportable.)
	ErrUnsupportedKey error = &materialError{"byok: key type not importable into AWS KMS"}

	// ErrSpecMismatch marks key material that is not of the key spec the
	// caller named (LoadOptions.KeySpec, or the spec given to
	// ParseKeyMaterial).
	ErrSpecMismatch error = &materialError{"byok: key material does not match the key spec"}

	// ErrDestroyed marks a KeyMaterial used after Destroy.
	ErrDestroyed error = &materialError{"byok: key material was destroyed"}

	// ErrAmbiguousEncoding marks a secret key file whose bytes read both as the
	// raw key and as hex or base64 text: byok does not guess which the key is
	// (importing another key than the user has is the worst outcome), and asks
	// for the format (LoadOptions.Format). It refines ErrInvalidMaterial.
	ErrAmbiguousEncoding error = &materialError{"byok: the secret key's encoding is ambiguous"}
)

// materialError is a sentinel that refines ErrInvalidMaterial.
type materialError struct{ msg string }

func (e *materialError) Error() string { return e.msg }
func (e *materialError) Unwrap() error { return ErrInvalidMaterial }
