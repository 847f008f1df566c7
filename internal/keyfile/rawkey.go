package keyfile

// Secret keys (SYMMETRIC_DEFAULT, HMAC_*) given as raw bytes, hex or base64
// text, read without ever guessing the encoding.

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"fmt"
)

// The secret key encodings, as byok.SecretFormat spells them.
const (
	FormatAuto   = ""
	FormatRaw    = "raw"
	FormatHex    = "hex"
	FormatBase64 = "base64"
)

// Secret reads a secret key of the KMS key spec spec, want bytes long, in
// format (one of the Format constants) and returns the key bytes, a new
// buffer the caller clears. data is neither modified nor kept.
func Secret(data []byte, spec string, want int, format string) ([]byte, error) {
	switch format {
	case FormatRaw:
		if len(data) != want {
			hint := ""
			if t := textReading(data); t != "" {
				hint = fmt.Sprintf(" (the input is %s: is the format hex or base64?)", t)
			} else if len(data) == want+1 && data[want] == '\n' {
				hint = " (a newline was added at the end: write the key without one)"
			}
			return nil, fmt.Errorf("%w: %s key material is %d raw bytes, but the input is %d bytes%s", ErrInvalid, spec, want, len(data), hint)
		}
		return bytes.Clone(data), nil
	case FormatHex, FormatBase64:
		return secretText(data, spec, want, format)
	case FormatAuto:
	default:
		return nil, fmt.Errorf("%w: unknown secret key format %q: want raw, hex or base64", ErrInvalid, format)
	}

	if len(data) == want {
		if t := textReading(data); t != "" {
			return nil, fmt.Errorf("%w: the input is %d bytes, the length of a raw %s key, but it is also %s; byok does not guess which the key is: give the key format, raw (the %d bytes as they are) or the text encoding",
				ErrAmbiguousEncoding, len(data), spec, t, want)
		}
		return bytes.Clone(data), nil
	}
	text := make([]byte, 0, len(data))
	defer func() { clear(text[:cap(text)]) }()
	binary := false
	for _, c := range data {
		switch {
		case c == ' ' || c == '\t' || c == '\r' || c == '\n':
			continue
		case c < 0x21 || c > 0x7e:
			binary = true
		}
		text = append(text, c)
	}
	got := fmt.Sprintf("%d bytes of binary data", len(data))
	if !binary {
		if len(text) > 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X') && isHex(text[2:]) {
			text = text[2:]
		}
		if isHex(text) && len(text) == 2*want {
			buf := make([]byte, want)
			if _, err := hex.Decode(buf, text); err == nil {
				return buf, nil
			}
			clear(buf)
		}
		got = fmt.Sprintf("%d characters of text that are neither hex nor base64", len(text))
		for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
			buf := make([]byte, enc.DecodedLen(len(text)))
			n, err := enc.Strict().Decode(buf, text)
			if err == nil && n == want {
				return buf[:n], nil
			}
			clear(buf)
			if err == nil {
				got = fmt.Sprintf("base64 of %d bytes", n)
				break
			}
		}
		if isHex(text) && len(text)%2 == 0 {
			got = fmt.Sprintf("%d hex digits (%d bytes)", len(text), len(text)/2)
		}
	}
	return nil, fmt.Errorf("%w: %s key material is %d bytes, given raw (%d bytes), as hex (%d digits) or as base64, but the input is %s; check the key spec and the file",
		ErrInvalid, spec, want, want, 2*want, got)
}

// textReading says what text encoding data also reads as ("hex text of 16
// bytes", "base64 text of 24 bytes"), ignoring one final newline; "" if
// none. Random binary keys almost never do (32 random bytes are all base64
// characters with probability 2^-64).
func textReading(data []byte) string {
	t := bytes.TrimSuffix(data, []byte("\n"))
	t = bytes.TrimSuffix(t, []byte("\r"))
	if len(t) == 0 {
		return ""
	}
	if b := bytes.TrimPrefix(bytes.TrimPrefix(t, []byte("0x")), []byte("0X")); isHex(b) && len(b)%2 == 0 {
		return fmt.Sprintf("hex text of %d bytes", len(b)/2)
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if n, err := enc.Strict().Decode(make([]byte, enc.DecodedLen(len(t))), t); err == nil {
			return fmt.Sprintf("base64 text of %d bytes", n)
		}
	}
	return ""
}

// secretText decodes hex or base64 text strictly: the alphabet, line
// breaks, and exactly want bytes once decoded.
func secretText(data []byte, spec string, want int, format string) ([]byte, error) {
	text := make([]byte, 0, len(data))
	defer func() { clear(text[:cap(text)]) }()
	for i, c := range data {
		switch {
		case c == '\n':
			continue
		case c == '\r' && i+1 < len(data) && data[i+1] == '\n':
			continue
		}
		text = append(text, c)
	}
	var buf []byte
	var err error
	name := "hex"
	if format == FormatHex {
		if !isHex(text) || len(text)%2 != 0 {
			return nil, fmt.Errorf("%w: the input is not hex text: hex is an even number of digits 0-9, a-f (line breaks allowed; no 0x, no spaces)", ErrInvalid)
		}
		buf = make([]byte, len(text)/2)
		_, err = hex.Decode(buf, text)
	} else {
		name = "base64"
		buf = make([]byte, base64.StdEncoding.DecodedLen(len(text)))
		var n int
		n, err = base64.StdEncoding.Strict().Decode(buf, text)
		if err != nil {
			clear(buf)
			return nil, fmt.Errorf("%w: the input is not standard base64 text (RFC 4648: A-Z a-z 0-9 + /, padded with =, line breaks allowed; %v)", ErrInvalid, err)
		}
		buf = buf[:n]
	}
	if err != nil {
		clear(buf)
		return nil, fmt.Errorf("%w: the input is not %s text", ErrInvalid, name)
	}
	if len(buf) != want {
		clear(buf)
		return nil, fmt.Errorf("%w: %s key material is %d bytes, but the %s text decodes to %d bytes; check the key spec and the file", ErrInvalid, spec, want, name, len(buf))
	}
	return buf, nil
}

func isHex(b []byte) bool {
	for _, c := range b {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return len(b) > 0
}
