package byok

// Loading key files: PEM and DER private keys in their usual encodings, and
// secret keys as raw bytes, hex or base64. Everything is re-encoded in the
// form KMS imports (see KeyMaterial). The parsing is internal/keyfile's; this
// file checks the options and maps its errors onto byok's sentinels.

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/byok-go/byok/internal/keyfile"
)

// LoadOptions tells LoadKeyFile what to expect.
type LoadOptions struct {
	// KeySpec is the key spec of the material. It is required for secret
	// keys (SYMMETRIC_DEFAULT, HMAC_*), which are read as raw bytes, hex or
	// base64 text, because the bytes do not say what they are. For RSA and
	// EC key files it is optional; if set, the file's key must be of this
	// spec, and it names the curve of a SEC 1 key that does not.
	KeySpec KeySpec

	// Passphrase decrypts an encrypted PKCS#8 key ("ENCRYPTED PRIVATE
	// KEY") or a PKCS#12 file. With a nil Passphrase, encrypted input is
	// refused with an error wrapping ErrEncrypted. A non-nil empty
	// Passphrase is the empty passphrase. LoadKeyFile does not modify or
	// keep it.
	Passphrase []byte

	// Format is the encoding of a secret key (SYMMETRIC_DEFAULT, HMAC_*):
	// SecretRaw, SecretHex or SecretBase64. The zero value, SecretAuto,
	// accepts input that can be read in one way only and refuses input of
	// the raw key's length that is also hex or base64 text, with
	// ErrAmbiguousEncoding. Format must be empty for RSA and EC keys.
	Format SecretFormat
}

// LoadKeyFile reads a key file and returns its key material in the form KMS
// imports.
//
// RSA and EC private keys are read from PEM or DER, in any of these
// encodings:
//
//   - PKCS#8 ("PRIVATE KEY");
//   - encrypted PKCS#8 ("ENCRYPTED PRIVATE KEY", as `openssl pkcs8 -topk8
//     -v2 aes-256-cbc` writes it): PBES2 with PBKDF2 (HMAC-SHA-1, -SHA-224,
//     -SHA-256, -SHA-384 or -SHA-512) and AES-128, -192 or -256 in CBC mode,
//     decrypted with opts.Passphrase. scrypt, PBES1 and OpenSSL's legacy PEM
//     encryption ("Proc-Type: 4,ENCRYPTED") are refused with
//     ErrUnsupportedEncryption and the command that converts them;
//   - PKCS#1 ("RSA PRIVATE KEY");
//   - SEC 1 ("EC PRIVATE KEY"), on P-256, P-384, P-521 or secp256k1, with or
//     without the public key (it is computed when absent, and checked when
//     present);
//   - PKCS#12 (.p12, .pfx, DER) holding one private key and its
//     certificate(s), opened with opts.Passphrase (a file without a
//     password opens without one); not secp256k1 keys, which the PKCS#12
//     reader (software.sslmate.com/src/go-pkcs12) does not parse.
//
// A PEM input holds one private key block, alone or with certificates (in
// any order, e.g. a key and its chain); one certificate must be for the
// key. Text before and between blocks is allowed (explanatory text, RFC
// 7468 section 5.2); after the last block only whitespace is, and binary
// bytes nowhere: appended data is refused, as for DER.
//
// The result is PKCS#8 DER: two-prime RSA of 2048, 3072 or 4096 bits, or an
// EC key on a named curve with its public key, byte for byte what `openssl
// pkcs8 -topk8 -nocrypt -outform DER` writes for the same key.
//
// Secret keys need opts.KeySpec (SYMMETRIC_DEFAULT or HMAC_*) and are read
// in opts.Format: exactly that many raw bytes, or hex or base64 text of that
// many bytes. Without a Format, hex and base64 text are recognised
// (whitespace, such as line breaks and a trailing newline, is ignored; hex
// may start with 0x), and input of exactly the spec's length is taken as
// raw unless it also reads as hex or base64 text: then the encoding is
// ambiguous and the error (ErrAmbiguousEncoding) asks for the Format. The
// encoding of a secret is never guessed.
//
// Errors wrap ErrInvalidMaterial
// or one of its refinements (ErrEncrypted, ErrWrongPassphrase, ErrAmbiguousEncoding,
// ErrUnsupportedEncryption, ErrPublicKeyOnly, ErrUnsupportedKey,
// ErrSpecMismatch), and say what to do; they never contain key bytes.
//
// Intermediate copies of the key (decoded PEM, decrypted PKCS#8, parsed
// integers) are cleared before LoadKeyFile returns, as far as Go allows:
// this is best effort, since the runtime may have copied them and math/big
// and crypto/rsa keep internal copies. data itself is neither modified nor
// cleared: it is the caller's.
func LoadKeyFile(data []byte, opts LoadOptions) (*KeyMaterial, error) {
	if opts.KeySpec != "" {
		if err := opts.KeySpec.Validate(); err != nil {
			return nil, err
		}
	}
	if _, err := ParseSecretFormat(string(opts.Format)); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidMaterial, err)
	}
	if kind := opts.KeySpec.Kind(); opts.Format != SecretAuto && kind != KindSymmetric && kind != KindHMAC {
		return nil, fmt.Errorf("%w: a key format (%s) is for raw secret keys, which also need their key spec (SYMMETRIC_DEFAULT or HMAC_*); RSA and EC key files say their own format", ErrInvalidMaterial, opts.Format)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, fmt.Errorf("%w: the key file is empty; pass the contents of a PEM, DER, raw, hex or base64 key file", ErrInvalidMaterial)
	}
	if kind := opts.KeySpec.Kind(); kind == KindSymmetric || kind == KindHMAC {
		if bytes.Contains(data, []byte("-----BEGIN ")) {
			return nil, fmt.Errorf("%w: the key spec is %s, a raw secret key, but the input is PEM; leave the key spec out (or give the key's RSA_* or ECC_* spec) to load a private key file", ErrSpecMismatch, opts.KeySpec)
		}
		return loadSecret(opts.KeySpec, data, opts.Format)
	}

	k, err := keyfile.Load(data, keyfile.Options{Spec: string(opts.KeySpec), Passphrase: opts.Passphrase})
	if err != nil {
		return nil, fromKeyfile(err)
	}
	defer k.Clear()
	if spec := KeySpec(k.Spec()); opts.KeySpec != "" && spec != opts.KeySpec {
		return nil, fmt.Errorf("%w: the key spec given is %s but the file holds an %s key; give %s (or no key spec), or load the right file", ErrSpecMismatch, opts.KeySpec, spec, spec)
	}
	return newAsymmetric(k)
}

// keyfileErrors pairs each sentinel of internal/keyfile with byok's.
var keyfileErrors = []struct{ in, out error }{
	{keyfile.ErrInvalid, ErrInvalidMaterial},
	{keyfile.ErrNotImportable, ErrNotImportable},
	{keyfile.ErrEncrypted, ErrEncrypted},
	{keyfile.ErrWrongPassphrase, ErrWrongPassphrase},
	{keyfile.ErrUnsupportedEncryption, ErrUnsupportedEncryption},
	{keyfile.ErrPublicKeyOnly, ErrPublicKeyOnly},
	{keyfile.ErrUnsupportedKey, ErrUnsupportedKey},
	{keyfile.ErrAmbiguousEncoding, ErrAmbiguousEncoding},
}

// keyfileError is an error of internal/keyfile as byok returns it: the
// message unchanged (the sentinels' words are byok's), and errors.Is
// matching byok's sentinel for each internal one the error wraps.
type keyfileError struct{ err error }

func (e *keyfileError) Error() string { return e.err.Error() }
func (e *keyfileError) Unwrap() error { return e.err }

func (e *keyfileError) Is(target error) bool {
	for _, p := range keyfileErrors {
		if target == p.out {
			return errors.Is(e.err, p.in)
		}
	}
	return false
}

// fromKeyfile maps an error of internal/keyfile onto byok's sentinels.
func fromKeyfile(err error) error {
	if err == nil {
		return nil
	}
	return &keyfileError{err}
}
