package keyfile

import (
	"strings"
	"testing"

	"golang.org/x/crypto/cryptobyte"
	"golang.org/x/crypto/cryptobyte/asn1"
)

// TestReadRefuses checks that read refuses what is not DER, leaves the
// input unread, and says why.
func TestReadRefuses(t *testing.T) {
	long := append([]byte{0x30, 0x81, 0x80}, make([]byte, 0x80)...)
	tests := []struct {
		name string
		in   []byte
		why  string
	}{
		{"empty", nil, "an element is missing"},
		{"one byte", []byte{0x30}, "truncated"},
		{"high-number tag", []byte{0x1f, 0x01, 0x00}, "high-number tag"},
		{"indefinite length", []byte{0x30, 0x80, 0x00, 0x00}, "indefinite length"},
		{"short length in long form", []byte{0x30, 0x81, 0x01, 0x00}, "non-minimal length"},
		{"leading zero length", append([]byte{0x30, 0x82, 0x00, 0x80}, make([]byte, 0x80)...), "non-minimal length"},
		{"four-byte length", append([]byte{0x30, 0x84, 0x01, 0x00, 0x00, 0x00}, make([]byte, 8)...), "length too large"},
		{"truncated content", []byte{0x30, 0x03, 0x02, 0x01}, "truncated"},
		{"truncated length", []byte{0x30, 0x82, 0x01}, "truncated"},
		{"wrong tag", []byte{0x04, 0x00}, "expected SEQUENCE, found OCTET STRING"},
		{"wrong tag, truncated", []byte{0x04, 0x05, 0x00}, "truncated"},
	}
	for _, tt := range tests {
		s := cryptobyte.String(tt.in)
		_, err := read(&s, asn1.SEQUENCE)
		if err == nil || !strings.Contains(err.Error(), tt.why) {
			t.Errorf("%s: read = %v, want %q", tt.name, err, tt.why)
		}
		if len(s) != len(tt.in) {
			t.Errorf("%s: read consumed input on failure", tt.name)
		}
		s = cryptobyte.String(tt.in)
		if _, _, _, err := next(&s); err == nil && tt.name != "wrong tag" {
			t.Errorf("%s: next accepted it", tt.name)
		}
	}
	s := cryptobyte.String(long)
	if c, err := read(&s, asn1.SEQUENCE); err != nil || len(c) != 0x80 || !s.Empty() {
		t.Errorf("a minimal long-form length: %v", err)
	}
}

func TestIntegers(t *testing.T) {
	for _, tt := range []struct {
		in   []byte
		want int
		why  string
	}{
		{[]byte{0x02, 0x01, 0x00}, 0, ""},
		{[]byte{0x02, 0x01, 0x7f}, 127, ""},
		{[]byte{0x02, 0x02, 0x00, 0x80}, 128, ""},
		{[]byte{0x02, 0x02, 0x00, 0x7f}, 0, "non-minimal INTEGER"},
		{[]byte{0x02, 0x01, 0x80}, 0, "negative INTEGER"},
		{[]byte{0x02, 0x00}, 0, "empty INTEGER"},
		{[]byte{0x02, 0x03, 0x01, 0x00, 0x00}, 0, "integer too large"},
	} {
		s := cryptobyte.String(tt.in)
		v, err := version(&s)
		switch {
		case tt.why == "" && (err != nil || v != tt.want):
			t.Errorf("% x: %d, %v; want %d", tt.in, v, err, tt.want)
		case tt.why != "" && (err == nil || !strings.Contains(err.Error(), tt.why)):
			t.Errorf("% x: %v, want %q", tt.in, err, tt.why)
		}
	}
	if _, err := positive([]byte{0}); err == nil {
		t.Error("positive accepted zero")
	}
}

func TestSentinels(t *testing.T) {
	for _, e := range Sentinels {
		if !strings.HasPrefix(e.Error(), "byok: ") {
			t.Errorf("%q does not start with byok:", e)
		}
	}
	for _, e := range []error{ErrEncrypted, ErrWrongPassphrase, ErrUnsupportedEncryption, ErrPublicKeyOnly, ErrUnsupportedKey, ErrAmbiguousEncoding} {
		if !isInvalid(e) {
			t.Errorf("%v does not refine ErrInvalid", e)
		}
	}
	if err := ed25519Error(); !isInvalid(err) || !strings.Contains(err.Error(), "Ed25519") {
		t.Errorf("ed25519Error: %v", err)
	}
}

// TestBuildOutgrown checks that build still encodes when its buffer is too
// small.
func TestBuildOutgrown(t *testing.T) {
	payload := make([]byte, 300)
	for i := range payload {
		payload[i] = byte(i)
	}
	out := build(4, func(b *cryptobyte.Builder) { b.AddASN1OctetString(payload) })
	s := cryptobyte.String(out)
	var got []byte
	if !s.ReadASN1Bytes(&got, asn1.OCTET_STRING) || !s.Empty() || string(got) != string(payload) {
		t.Fatal("build with a small buffer encoded wrongly")
	}
}
