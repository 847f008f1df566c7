package byok

// Loading secret keys (SYMMETRIC_DEFAULT, HMAC_*) from raw bytes, hex or
// base64 text, without ever guessing the encoding.

import (
	"fmt"

	"github.com/byok-go/byok/internal/keyfile"
)

// SecretFormat is the encoding of a secret key file: LoadOptions.Format.
type SecretFormat string

// Secret key file encodings.
const (
	// SecretAuto (the zero value) takes the encoding from the input when
	// only one reading fits; input that reads as the spec's raw length
	// and also as hex or base64 text is refused with ErrAmbiguousEncoding.
	SecretAuto SecretFormat = ""
	// SecretRaw takes the bytes as they are: exactly the spec's length,
	// nothing added (no newline).
	SecretRaw SecretFormat = "raw"
	// SecretHex is hex text (either case) of exactly the spec's length.
	// Line breaks (LF or CRLF) are ignored; nothing else is: no 0x, no
	// spaces.
	SecretHex SecretFormat = "hex"
	// SecretBase64 is RFC 4648 standard base64 with padding, as `openssl
	// rand -base64` and `base64` write it. Line breaks (LF or CRLF) are
	// ignored; nothing else is: no URL-safe alphabet, no spaces.
	SecretBase64 SecretFormat = "base64"
)

// ParseSecretFormat parses "raw", "hex" or "base64" (or "" for SecretAuto).
func ParseSecretFormat(s string) (SecretFormat, error) {
	switch f := SecretFormat(s); f {
	case SecretAuto, SecretRaw, SecretHex, SecretBase64:
		return f, nil
	}
	return "", fmt.Errorf("byok: unknown secret key format %q: want raw, hex or base64", s)
}

// loadSecret reads a secret key of spec in format (internal/keyfile's
// Secret does the reading).
func loadSecret(spec KeySpec, data []byte, format SecretFormat) (*KeyMaterial, error) {
	b, err := keyfile.Secret(data, string(spec), spec.MaterialLen(), string(format))
	if err != nil {
		return nil, fromKeyfile(err)
	}
	defer clear(b)
	return NewSecretKeyMaterial(spec, b)
}
