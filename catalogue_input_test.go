package byok_test

// Bad-input catalogue, issue 12: ambiguous secret encodings, lenient PEM,
// PKCS#12 and key-plus-certificate files, and the library's edges. Each
// case failed (was accepted, or panicked) before its fix.

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/byok-go/byok"
)

func inputCases(t *testing.T) []badCase {
	raw := func(b []byte) func(*testing.T) []byte { return func(*testing.T) []byte { return b } }
	aesHex := keyFile(t, "aes256.hex") // 64 hex digits and a newline
	cases := append(bundleCases(t), edgeCases(t)...)
	return append(cases, []badCase{
		// Ambiguous secret encodings (STYLE 22): the bytes are the raw
		// key's length and also hex or base64 text.
		{name: "32 hex digits as SYMMETRIC_DEFAULT", run: loadBytes(raw([]byte(strings.Repeat("0f", 16))), byok.LoadOptions{KeySpec: byok.SymmetricDefault}),
			is: byok.ErrAmbiguousEncoding, msg: "also hex text of 16 bytes"},
		{name: "32 base64 characters as SYMMETRIC_DEFAULT", run: loadBytes(raw([]byte(base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{0xa5}, 24)))), byok.LoadOptions{KeySpec: byok.SymmetricDefault}),
			is: byok.ErrAmbiguousEncoding, msg: "also base64 text of 24 bytes"},
		{name: "31 base64 characters and a newline as SYMMETRIC_DEFAULT", run: loadBytes(raw([]byte(strings.Repeat("Q", 31)+"\n")), byok.LoadOptions{KeySpec: byok.SymmetricDefault}),
			is: byok.ErrAmbiguousEncoding, msg: "give the key format"},
		{name: "28 hex digits as HMAC_224", run: loadBytes(raw([]byte(strings.Repeat("ab", 14))), byok.LoadOptions{KeySpec: byok.HMAC224}),
			is: byok.ErrAmbiguousEncoding, msg: "raw (the 28 bytes as they are)"},
		{name: "26 hex digits and CRLF as HMAC_224", run: loadBytes(raw([]byte(strings.Repeat("ab", 13)+"\r\n")), byok.LoadOptions{KeySpec: byok.HMAC224}),
			is: byok.ErrAmbiguousEncoding, msg: "hex text of 13 bytes"},
		{name: "hex key with --key-format raw", run: loadBytes(raw(aesHex), byok.LoadOptions{KeySpec: byok.SymmetricDefault, Format: byok.SecretRaw}),
			is: byok.ErrInvalidMaterial, msg: "the input is hex text of 32 bytes: is the format hex or base64?"},
		{name: "raw key with a newline added, --key-format raw", run: loadBytes(raw(append(bytes.Repeat([]byte{0x80}, 32), '\n')), byok.LoadOptions{KeySpec: byok.SymmetricDefault, Format: byok.SecretRaw}),
			is: byok.ErrInvalidMaterial, msg: "a newline was added at the end"},
		{name: "0x-prefixed hex with --key-format hex", run: loadBytes(raw(append([]byte("0x"), aesHex...)), byok.LoadOptions{KeySpec: byok.SymmetricDefault, Format: byok.SecretHex}),
			is: byok.ErrInvalidMaterial, msg: "no 0x"},
		{name: "hex with spaces, --key-format hex", run: loadBytes(raw([]byte(strings.Repeat("0f ", 32))), byok.LoadOptions{KeySpec: byok.SymmetricDefault, Format: byok.SecretHex}),
			is: byok.ErrInvalidMaterial, msg: "not hex text"},
		{name: "hex of 16 bytes with --key-format hex", run: loadBytes(raw([]byte(strings.Repeat("0f", 16)+"\n")), byok.LoadOptions{KeySpec: byok.SymmetricDefault, Format: byok.SecretHex}),
			is: byok.ErrInvalidMaterial, msg: "decodes to 16 bytes"},
		{name: "URL-safe base64 with --key-format base64", run: loadBytes(raw([]byte(base64.URLEncoding.EncodeToString(bytes.Repeat([]byte{0xfb}, 32)))), byok.LoadOptions{KeySpec: byok.SymmetricDefault, Format: byok.SecretBase64}),
			is: byok.ErrInvalidMaterial, msg: "not standard base64"},
		{name: "hex with --key-format base64", run: loadBytes(raw(aesHex), byok.LoadOptions{KeySpec: byok.SymmetricDefault, Format: byok.SecretBase64}),
			is: byok.ErrInvalidMaterial, msg: "decodes to 48 bytes"},
		{name: "key format for an EC key file", run: load("p256.pkcs8.pem", byok.LoadOptions{Format: byok.SecretHex}),
			is: byok.ErrInvalidMaterial, msg: "is for raw secret keys"},
		{name: "unknown key format", run: load("aes256.hex", byok.LoadOptions{KeySpec: byok.SymmetricDefault, Format: "b64"}),
			is: byok.ErrInvalidMaterial, msg: "want raw, hex or base64"},
	}...)
}

// TestSecretFormats: each explicit format reads what it names, and only
// that; the same bytes give different keys in different formats, which is
// why byok asks.
func TestSecretFormats(t *testing.T) {
	key := bytes.Repeat([]byte{0x0f, 0xf0, 0x5a, 0xa5}, 8)
	hexText := hex.EncodeToString(key)
	b64 := base64.StdEncoding.EncodeToString(key)
	ascii := []byte(strings.Repeat("0f", 16)) // 32 bytes: raw, or hex of 16
	for _, c := range []struct {
		name   string
		data   []byte
		format byok.SecretFormat
		want   []byte
	}{
		{"raw", key, byok.SecretRaw, key},
		{"raw ASCII", ascii, byok.SecretRaw, ascii},
		{"hex", []byte(hexText), byok.SecretHex, key},
		{"hex newline", []byte(hexText + "\n"), byok.SecretHex, key},
		{"hex CRLF", []byte(hexText + "\r\n"), byok.SecretHex, key},
		{"HEX wrapped", []byte(strings.ToUpper(hexText[:30]) + "\n" + hexText[30:] + "\n"), byok.SecretHex, key},
		{"base64", []byte(b64), byok.SecretBase64, key},
		{"base64 newline", []byte(b64 + "\n"), byok.SecretBase64, key},
		{"base64 wrapped", []byte(b64[:20] + "\r\n" + b64[20:] + "\r\n"), byok.SecretBase64, key},
		{"auto: hex", []byte(hexText + "\n"), byok.SecretAuto, key},
		{"auto: base64", []byte(b64 + "\n"), byok.SecretAuto, key},
		{"auto: binary raw", key, byok.SecretAuto, key},
	} {
		m, err := byok.LoadKeyFile(c.data, byok.LoadOptions{KeySpec: byok.SymmetricDefault, Format: c.format})
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if got := m.Bytes(); !bytes.Equal(got, c.want) {
			t.Errorf("%s: loaded another key", c.name)
		}
	}
	for _, s := range []string{"", "raw", "hex", "base64"} {
		if f, err := byok.ParseSecretFormat(s); err != nil || string(f) != s {
			t.Errorf("ParseSecretFormat(%q) = %q, %v", s, f, err)
		}
	}
	if _, err := byok.ParseSecretFormat("base64url"); err == nil {
		t.Error("ParseSecretFormat accepted base64url")
	}
}
