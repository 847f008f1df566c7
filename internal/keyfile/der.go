package keyfile

// Reading DER with golang.org/x/crypto/cryptobyte, which is strict (definite,
// minimal lengths, low tag numbers) but says only "no" when it refuses; the
// helpers here add the reason, for error messages.

import (
	encasn1 "encoding/asn1"
	"errors"
	"fmt"

	"golang.org/x/crypto/cryptobyte"
	"golang.org/x/crypto/cryptobyte/asn1"
)

// Tags byok reads that cryptobyte/asn1 has no name for.
const (
	tagContext0  = asn1.Tag(0) | asn1.Tag(0x80|0x20) // [0] constructed
	tagContext1  = asn1.Tag(1) | asn1.Tag(0x80|0x20) // [1] constructed
	tagImplicit1 = asn1.Tag(1) | asn1.Tag(0x80)      // [1] IMPLICIT BIT STRING
)

var tagNames = map[asn1.Tag]string{
	asn1.INTEGER: "INTEGER", asn1.BIT_STRING: "BIT STRING", asn1.OCTET_STRING: "OCTET STRING",
	asn1.NULL: "NULL", asn1.OBJECT_IDENTIFIER: "OBJECT IDENTIFIER", asn1.SEQUENCE: "SEQUENCE",
	tagContext0: "[0]", tagContext1: "[1]", tagImplicit1: "[1] IMPLICIT",
}

func tagName(t asn1.Tag) string {
	if n, ok := tagNames[t]; ok {
		return n
	}
	return fmt.Sprintf("tag 0x%02x", uint8(t))
}

// anyTag asks problem not to check the tag.
const anyTag = asn1.Tag(0xff)

// problem says why cryptobyte refused to read an element with tag want
// from the start of b.
func problem(b []byte, want asn1.Tag) error {
	switch {
	case len(b) == 0:
		return errors.New("an element is missing")
	case len(b) < 2:
		return errors.New("truncated")
	case b[0]&0x1f == 0x1f:
		return errors.New("unexpected high-number tag")
	}
	n, hdr := int(b[1]), 2
	if n&0x80 != 0 {
		k := n & 0x7f
		switch {
		case k == 0:
			return errors.New("indefinite length (BER, not DER)")
		case k > 3:
			return errors.New("length too large")
		case len(b) < 2+k:
			return errors.New("truncated")
		}
		n = 0
		for _, c := range b[2 : 2+k] {
			n = n<<8 | int(c)
		}
		if b[2] == 0 || n < 0x80 {
			return errors.New("non-minimal length (BER, not DER)")
		}
		hdr += k
	}
	if len(b)-hdr < n {
		return errors.New("truncated")
	}
	if t := asn1.Tag(b[0]); want != anyTag && t != want {
		return fmt.Errorf("expected %s, found %s", tagName(want), tagName(t))
	}
	return errors.New("malformed")
}

// hugeLength reports a four-byte length, which cryptobyte reads and byok
// refuses (no key file is 16 MiB).
func hugeLength(b []byte) bool { return len(b) > 1 && b[1] == 0x84 }

// next reads one element of any tag: its tag, its content and its whole
// encoding.
func next(s *cryptobyte.String) (tag asn1.Tag, content, full []byte, err error) {
	before := *s
	var f, c cryptobyte.String
	if hugeLength(before) || !s.ReadAnyASN1Element(&f, &tag) {
		*s = before
		return 0, nil, nil, problem(before, anyTag)
	}
	g := f
	if !g.ReadAnyASN1(&c, &tag) {
		panic("keyfile: cryptobyte read an element it cannot read again")
	}
	return tag, c, f, nil
}

// read reads one element with the given tag and returns its content. On
// failure s is unchanged.
func read(s *cryptobyte.String, tag asn1.Tag) ([]byte, error) {
	before := *s
	var c cryptobyte.String
	if hugeLength(before) || !s.ReadASN1(&c, tag) {
		*s = before
		return nil, problem(before, tag)
	}
	return c, nil
}

// peekIs reports whether the next element has tag t.
func peekIs(s cryptobyte.String, t asn1.Tag) bool { return s.PeekASN1Tag(t) }

// readOID reads an OBJECT IDENTIFIER.
func readOID(s *cryptobyte.String) (encasn1.ObjectIdentifier, error) {
	before := *s
	var oid encasn1.ObjectIdentifier
	if !s.ReadASN1ObjectIdentifier(&oid) {
		*s = before
		if err := problem(before, asn1.OBJECT_IDENTIFIER); err.Error() != "malformed" {
			return nil, err
		}
		return nil, errors.New("malformed OBJECT IDENTIFIER")
	}
	return oid, nil
}

// oidOf decodes the whole encoding of an OBJECT IDENTIFIER element.
func oidOf(full []byte) (encasn1.ObjectIdentifier, bool) {
	s := cryptobyte.String(full)
	var oid encasn1.ObjectIdentifier
	return oid, s.ReadASN1ObjectIdentifier(&oid) && s.Empty()
}

// readSmallInt reads a non-negative INTEGER of at most n bytes (n ≤ 4).
func readSmallInt(s *cryptobyte.String, n int) (int, error) {
	c, err := read(s, asn1.INTEGER)
	if err != nil {
		return 0, err
	}
	mag, err := unsigned(c)
	if err != nil {
		return 0, err
	}
	if len(mag) > n || len(mag) == 4 && mag[0]&0x80 != 0 {
		return 0, errors.New("integer too large")
	}
	v := 0
	for _, b := range mag {
		v = v<<8 | int(b)
	}
	return v, nil
}

// version reads a non-negative INTEGER below 2^16.
func version(s *cryptobyte.String) (int, error) { return readSmallInt(s, 2) }

// unsigned checks the content of a non-negative, minimally encoded INTEGER
// and returns its magnitude without leading zeros.
func unsigned(c []byte) ([]byte, error) {
	switch {
	case len(c) == 0:
		return nil, errors.New("empty INTEGER")
	case c[0]&0x80 != 0:
		return nil, errors.New("negative INTEGER")
	case len(c) > 1 && c[0] == 0 && c[1]&0x80 == 0:
		return nil, errors.New("non-minimal INTEGER (BER, not DER)")
	}
	if c[0] == 0 {
		c = c[1:]
	}
	return c, nil
}

// positive is unsigned refusing zero.
func positive(c []byte) ([]byte, error) {
	mag, err := unsigned(c)
	if err == nil && len(mag) == 0 {
		err = errors.New("zero INTEGER")
	}
	return mag, err
}

// build encodes DER with f on a cryptobyte.Builder over a buffer of
// capacity n, which the callers size so that it is never outgrown: then
// clearing the result clears the only copy of a secret. Should f outgrow it
// anyway, the first buffer is cleared (best effort: cryptobyte's
// intermediate ones are not).
func build(n int, f func(*cryptobyte.Builder)) []byte {
	buf := make([]byte, 1, n+1)[:0]
	b := cryptobyte.NewBuilder(buf)
	f(b)
	out := b.BytesOrPanic()
	if len(out) == 0 || &out[0] != &buf[:1][0] {
		clear(buf[:cap(buf)])
	}
	return out
}
