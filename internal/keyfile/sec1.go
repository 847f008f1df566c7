package keyfile

// SEC 1 / RFC 5915 ECPrivateKey, alone ("EC PRIVATE KEY") or inside PKCS#8.

import (
	"crypto/subtle"
	"fmt"

	"golang.org/x/crypto/cryptobyte"
	"golang.org/x/crypto/cryptobyte/asn1"
)

// parseSEC1 decodes an RFC 5915 ECPrivateKey. outer is the curve the PKCS#8
// algorithm named, nil for a bare SEC 1 key; hint is the key spec the caller
// expects, used when neither names the curve. With strict, the encoding must
// carry the full-length scalar and the uncompressed public key (what KMS
// wants); without, a missing public key is computed and a compressed one is
// checked and expanded.
func parseSEC1(der []byte, outer *Curve, hint string, strict bool) (*ecKey, error) {
	r := cryptobyte.String(der)
	body, err := read(&r, asn1.SEQUENCE)
	if err != nil {
		return nil, derError("the ECPrivateKey", err)
	}
	if !r.Empty() {
		return nil, trailingError("the ECPrivateKey")
	}
	s := cryptobyte.String(body)
	if v, err := version(&s); err != nil {
		return nil, derError("the ECPrivateKey version", err)
	} else if v != 1 {
		return nil, fmt.Errorf("%w: ECPrivateKey version %d, want 1; re-export the key from its source as PKCS#8 (e.g. encrypted: `openssl pkcs8 -topk8 -v2 aes-256-cbc -in key.pem -out key-p8.pem`)", ErrInvalid, v)
	}
	d, err := read(&s, asn1.OCTET_STRING)
	if err != nil {
		return nil, derError("the EC private scalar", err)
	}
	curve := outer
	if peekIs(s, tagContext0) {
		p, _ := read(&s, tagContext0)
		pr := cryptobyte.String(p)
		tag, _, full, err := next(&pr)
		if err != nil {
			return nil, derError("the ECPrivateKey curve parameters", err)
		}
		if !pr.Empty() {
			return nil, trailingError("the ECPrivateKey curve parameters")
		}
		c, err := curveFromParams(tag, full)
		if err != nil {
			return nil, err
		}
		if outer != nil && c != outer {
			return nil, fmt.Errorf("%w: the PKCS#8 algorithm names curve %s but the ECPrivateKey inside names %s; the key is corrupt: re-export it from its source", ErrInvalid, outer.Name, c.Name)
		}
		curve = c
	}
	var pub []byte
	if peekIs(s, tagContext1) {
		p, _ := read(&s, tagContext1)
		pr := cryptobyte.String(p)
		bits, err := read(&pr, asn1.BIT_STRING)
		if err != nil {
			return nil, derError("the ECPrivateKey public key", err)
		}
		if !pr.Empty() {
			return nil, trailingError("the ECPrivateKey public key")
		}
		if len(bits) < 2 || bits[0] != 0 {
			return nil, fmt.Errorf("%w: the ECPrivateKey public key is not a whole number of bytes; the key is corrupt: re-export it from its source", ErrInvalid)
		}
		pub = bits[1:]
	}
	if !s.Empty() {
		return nil, trailingError("the ECPrivateKey (after the public key)")
	}
	if curve == nil {
		curve = CurveBySpec(hint)
	}
	if curve == nil {
		return nil, fmt.Errorf("%w: the SEC 1 EC private key does not name its curve; give its key spec (ECC_*), or re-export it from its source as PKCS#8 (e.g. encrypted: `openssl pkcs8 -topk8 -v2 aes-256-cbc -in key.pem -out key-p8.pem`)", ErrInvalid)
	}
	k := &ecKey{curve: curve, d: make([]byte, curve.Size)}
	switch {
	case len(d) == curve.Size:
		copy(k.d, d)
	case strict:
		k.clear()
		return nil, fmt.Errorf("%w: the %s private scalar is %d bytes; KMS wants it at full length, %d bytes: load it with LoadKeyFile, which re-encodes it in memory", ErrInvalid, curve.Name, len(d), curve.Size)
	case len(d) < curve.Size:
		copy(k.d[curve.Size-len(d):], d)
	default:
		extra := d[:len(d)-curve.Size]
		for _, b := range extra {
			if b != 0 {
				k.clear()
				return nil, fmt.Errorf("%w: the %s private scalar is %d bytes, longer than the curve's %d; the key is not on this curve or is corrupt", ErrInvalid, curve.Name, len(d), curve.Size)
			}
		}
		copy(k.d, d[len(extra):])
	}
	k.pub, err = curve.publicFromScalar(k.d)
	if err != nil {
		k.clear()
		return nil, err
	}
	if pub == nil {
		if strict {
			k.clear()
			return nil, fmt.Errorf("%w: the %s ECPrivateKey has no public key; KMS requires it: load it with LoadKeyFile, which re-encodes it in memory", ErrInvalid, curve.Name)
		}
	} else if err := curve.checkPublic(pub, k.pub, strict); err != nil {
		k.clear()
		return nil, err
	}
	return k, nil
}

// checkPublic compares a public point from a key file with the computed
// uncompressed point want. Compressed points are accepted unless strict.
func (c *Curve) checkPublic(got, want []byte, strict bool) error {
	switch {
	case len(got) == 1+2*c.Size && got[0] == 4:
		if subtle.ConstantTimeCompare(got, want) == 1 {
			return nil
		}
	case !strict && len(got) == 1+c.Size && (got[0] == 2 || got[0] == 3):
		if subtle.ConstantTimeCompare(got[1:], want[1:1+c.Size]) == 1 && got[0]&1 == want[len(want)-1]&1 {
			return nil
		}
	case strict && len(got) == 1+c.Size && (got[0] == 2 || got[0] == 3):
		return fmt.Errorf("%w: the %s public key in the ECPrivateKey is compressed; KMS wants the uncompressed point: load it with LoadKeyFile, which re-encodes it in memory", ErrInvalid, c.Name)
	default:
		return fmt.Errorf("%w: the %s public key in the ECPrivateKey is not a point encoding of the right length; the key is corrupt: re-export it from its source", ErrInvalid, c.Name)
	}
	return fmt.Errorf("%w: the %s public key in the ECPrivateKey does not match the private scalar; the key is corrupt: re-export it from its source", ErrInvalid, c.Name)
}
