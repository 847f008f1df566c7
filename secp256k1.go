package byok

// EC private keys: the curves KMS imports, SEC 1 ECPrivateKey parsing and the
// KMS encodings (PKCS#8 and SubjectPublicKeyInfo). crypto/x509 can neither
// parse nor marshal secp256k1 (OID 1.3.132.0.10), so byok encodes and decodes
// every EC key itself, the same way for all four curves; the secp256k1
// arithmetic comes from github.com/decred/dcrd/dcrec/secp256k1/v4.

import (
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/subtle"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"

	"github.com/decred/dcrd/dcrec/secp256k1/v4"
)

// ecCurve is one curve KMS imports keys on.
type ecCurve struct {
	spec  KeySpec
	name  string // as OpenSSL names it
	oid   asn1.ObjectIdentifier
	size  int    // bytes of the private scalar and of each coordinate
	order []byte // the group order n, big-endian, size bytes
	nist  elliptic.Curve
	ecdh  ecdh.Curve // nil for secp256k1
}

var (
	oidECPublicKey = asn1.ObjectIdentifier{1, 2, 840, 10045, 2, 1}
	oidP256        = asn1.ObjectIdentifier{1, 2, 840, 10045, 3, 1, 7}
	oidP384        = asn1.ObjectIdentifier{1, 3, 132, 0, 34}
	oidP521        = asn1.ObjectIdentifier{1, 3, 132, 0, 35}
	oidSecp256k1   = asn1.ObjectIdentifier{1, 3, 132, 0, 10}
)

var ecCurves = []*ecCurve{
	{spec: ECCNISTP256, name: "P-256 (prime256v1)", oid: oidP256, size: 32, nist: elliptic.P256(), ecdh: ecdh.P256()},
	{spec: ECCNISTP384, name: "P-384 (secp384r1)", oid: oidP384, size: 48, nist: elliptic.P384(), ecdh: ecdh.P384()},
	{spec: ECCNISTP521, name: "P-521 (secp521r1)", oid: oidP521, size: 66, nist: elliptic.P521(), ecdh: ecdh.P521()},
	{spec: ECCSECGP256K1, name: "secp256k1", oid: oidSecp256k1, size: 32},
}

func init() {
	for _, c := range ecCurves {
		n := secp256k1.Params().N
		if c.nist != nil {
			n = c.nist.Params().N
		}
		c.order = n.FillBytes(make([]byte, c.size))
	}
}

// otherCurves names curves byok meets but KMS does not import, so the error
// can say which curve a key is on.
var otherCurves = map[string]string{
	"1.3.132.0.33":          "P-224 (secp224r1)",
	"1.2.840.10045.3.1.1":   "P-192 (prime192v1)",
	"1.3.36.3.3.2.8.1.1.7":  "brainpoolP256r1",
	"1.3.36.3.3.2.8.1.1.11": "brainpoolP384r1",
	"1.3.36.3.3.2.8.1.1.13": "brainpoolP512r1",
	"1.2.156.10197.1.301":   "SM2",
}

func curveByOID(oid asn1.ObjectIdentifier) *ecCurve {
	for _, c := range ecCurves {
		if c.oid.Equal(oid) {
			return c
		}
	}
	return nil
}

func curveBySpec(spec KeySpec) *ecCurve {
	for _, c := range ecCurves {
		if c.spec == spec {
			return c
		}
	}
	return nil
}

// unsupportedCurveError explains a curve KMS does not import.
func unsupportedCurveError(oid asn1.ObjectIdentifier) error {
	name, ok := otherCurves[oid.String()]
	if !ok {
		name = "the curve with OID " + oid.String()
	}
	if name == "SM2" {
		return fmt.Errorf("%w: an SM2 key: %s; use a key on P-256, P-384, P-521 or secp256k1", ErrUnsupportedKey, notImportable[SM2])
	}
	return fmt.Errorf("%w: an EC key on %s; KMS imports EC keys on P-256, P-384, P-521 and secp256k1 only: generate one, e.g. `openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256`", ErrUnsupportedKey, name)
}

// curveFromParams decodes ECParameters, which must name a curve.
func curveFromParams(tag byte, full []byte) (*ecCurve, error) {
	switch tag {
	case tagOID:
		var oid asn1.ObjectIdentifier
		if rest, err := asn1.Unmarshal(full, &oid); err != nil || len(rest) != 0 {
			return nil, fmt.Errorf("%w: the EC curve identifier is not a valid OBJECT IDENTIFIER; re-export the key from its source as PKCS#8 (e.g. encrypted: `openssl pkcs8 -topk8 -v2 aes-256-cbc -in key.pem -out key-p8.pem`)", ErrInvalidMaterial)
		}
		c := curveByOID(oid)
		if c == nil {
			return nil, unsupportedCurveError(oid)
		}
		return c, nil
	case tagSequence:
		return nil, fmt.Errorf("%w: the EC key spells out its curve parameters (explicit parameters); KMS requires a named curve: convert it to encrypted PKCS#8 with a named curve: `openssl ec -in key.pem -param_enc named_curve | openssl pkcs8 -topk8 -v2 aes-256-cbc -out named.pem`", ErrUnsupportedKey)
	case tagNull:
		return nil, fmt.Errorf("%w: the EC key inherits its curve (implicitlyCA parameters); KMS requires a named curve: re-export it from its source as PKCS#8 (e.g. encrypted: `openssl pkcs8 -topk8 -v2 aes-256-cbc -in key.pem -out key-p8.pem`)", ErrUnsupportedKey)
	}
	return nil, fmt.Errorf("%w: the EC curve parameters are neither a named curve nor explicit parameters; re-export the key from its source as PKCS#8 (e.g. encrypted: `openssl pkcs8 -topk8 -v2 aes-256-cbc -in key.pem -out key-p8.pem`)", ErrInvalidMaterial)
}

// checkScalar reports whether d (c.size bytes) is in [1, n-1], in constant
// time.
func (c *ecCurve) checkScalar(d []byte) error {
	if len(d) != c.size {
		return fmt.Errorf("%w: the %s private scalar is %d bytes, want %d", ErrInvalidMaterial, c.name, len(d), c.size)
	}
	var borrow int
	for i := len(d) - 1; i >= 0; i-- {
		diff := int(d[i]) - int(c.order[i]) - borrow
		borrow = (diff >> 8) & 1
	}
	var acc byte
	for _, b := range d {
		acc |= b
	}
	if borrow == 0 || subtle.ConstantTimeByteEq(acc, 0) == 1 {
		return fmt.Errorf("%w: the %s private scalar is not in [1, n-1]; the key is corrupt or was not generated for this curve", ErrInvalidMaterial, c.name)
	}
	return nil
}

// publicFromScalar computes the public point d·G, uncompressed (0x04 || X || Y).
func (c *ecCurve) publicFromScalar(d []byte) ([]byte, error) {
	if err := c.checkScalar(d); err != nil {
		return nil, err
	}
	if c.ecdh != nil {
		k, err := c.ecdh.NewPrivateKey(d)
		if err != nil {
			return nil, fmt.Errorf("%w: the %s private scalar is invalid; the key is corrupt", ErrInvalidMaterial, c.name)
		}
		return k.PublicKey().Bytes(), nil
	}
	var s secp256k1.ModNScalar
	defer s.Zero()
	if overflow := s.SetByteSlice(d); overflow || s.IsZero() {
		return nil, fmt.Errorf("%w: the secp256k1 private scalar is not in [1, n-1]; the key is corrupt", ErrInvalidMaterial)
	}
	k := secp256k1.NewPrivateKey(&s)
	defer k.Zero()
	return k.PubKey().SerializeUncompressed(), nil
}

// checkPublic compares a public point from a key file with the computed
// uncompressed point want. Compressed points are accepted unless strict.
func (c *ecCurve) checkPublic(got, want []byte, strict bool) error {
	switch {
	case len(got) == 1+2*c.size && got[0] == 4:
		if subtle.ConstantTimeCompare(got, want) == 1 {
			return nil
		}
	case !strict && len(got) == 1+c.size && (got[0] == 2 || got[0] == 3):
		if subtle.ConstantTimeCompare(got[1:], want[1:1+c.size]) == 1 && got[0]&1 == want[len(want)-1]&1 {
			return nil
		}
	case strict && len(got) == 1+c.size && (got[0] == 2 || got[0] == 3):
		return fmt.Errorf("%w: the %s public key in the ECPrivateKey is compressed; KMS wants the uncompressed point: load it with LoadKeyFile, which re-encodes it in memory", ErrInvalidMaterial, c.name)
	default:
		return fmt.Errorf("%w: the %s public key in the ECPrivateKey is not a point encoding of the right length; the key is corrupt: re-export it from its source", ErrInvalidMaterial, c.name)
	}
	return fmt.Errorf("%w: the %s public key in the ECPrivateKey does not match the private scalar; the key is corrupt: re-export it from its source", ErrInvalidMaterial, c.name)
}

// ecKey is a decoded EC private key.
type ecKey struct {
	curve *ecCurve
	d     []byte // c.size bytes
	pub   []byte // uncompressed point, d·G
}

// parseSEC1 decodes an RFC 5915 ECPrivateKey. outer is the curve the PKCS#8
// algorithm named, nil for a bare SEC 1 key; hint is the key spec the caller
// expects, used when neither names the curve. With strict, the encoding must
// carry the full-length scalar and the uncompressed public key (what KMS
// wants); without, a missing public key is computed and a compressed one is
// checked and expanded.
func parseSEC1(der []byte, outer *ecCurve, hint KeySpec, strict bool) (*ecKey, error) {
	r := derReader{der}
	seq, err := r.read(tagSequence)
	if err != nil {
		return nil, derError("the ECPrivateKey", err)
	}
	if !r.empty() {
		return nil, trailingError("the ECPrivateKey")
	}
	s := derReader{seq}
	if v, err := s.readSmallInt(); err != nil {
		return nil, derError("the ECPrivateKey version", err)
	} else if v != 1 {
		return nil, fmt.Errorf("%w: ECPrivateKey version %d, want 1; re-export the key from its source as PKCS#8 (e.g. encrypted: `openssl pkcs8 -topk8 -v2 aes-256-cbc -in key.pem -out key-p8.pem`)", ErrInvalidMaterial, v)
	}
	d, err := s.read(tagOctetString)
	if err != nil {
		return nil, derError("the EC private scalar", err)
	}
	curve := outer
	if t, ok := s.peek(); ok && t == tagContext0 {
		p, _ := s.read(tagContext0)
		pr := derReader{p}
		tag, _, full, err := pr.next()
		if err != nil {
			return nil, derError("the ECPrivateKey curve parameters", err)
		}
		if !pr.empty() {
			return nil, trailingError("the ECPrivateKey curve parameters")
		}
		c, err := curveFromParams(tag, full)
		if err != nil {
			return nil, err
		}
		if outer != nil && c != outer {
			return nil, fmt.Errorf("%w: the PKCS#8 algorithm names curve %s but the ECPrivateKey inside names %s; the key is corrupt: re-export it from its source", ErrInvalidMaterial, outer.name, c.name)
		}
		curve = c
	}
	var pub []byte
	if t, ok := s.peek(); ok && t == tagContext1 {
		p, _ := s.read(tagContext1)
		pr := derReader{p}
		bits, err := pr.read(tagBitString)
		if err != nil {
			return nil, derError("the ECPrivateKey public key", err)
		}
		if !pr.empty() {
			return nil, trailingError("the ECPrivateKey public key")
		}
		if len(bits) < 2 || bits[0] != 0 {
			return nil, fmt.Errorf("%w: the ECPrivateKey public key is not a whole number of bytes; the key is corrupt: re-export it from its source", ErrInvalidMaterial)
		}
		pub = bits[1:]
	}
	if !s.empty() {
		return nil, trailingError("the ECPrivateKey (after the public key)")
	}
	if curve == nil {
		curve = curveBySpec(hint)
	}
	if curve == nil {
		return nil, fmt.Errorf("%w: the SEC 1 EC private key does not name its curve; give its key spec (ECC_*), or re-export it from its source as PKCS#8 (e.g. encrypted: `openssl pkcs8 -topk8 -v2 aes-256-cbc -in key.pem -out key-p8.pem`)", ErrInvalidMaterial)
	}
	k := &ecKey{curve: curve, d: make([]byte, curve.size)}
	switch {
	case len(d) == curve.size:
		copy(k.d, d)
	case strict:
		k.clear()
		return nil, fmt.Errorf("%w: the %s private scalar is %d bytes; KMS wants it at full length, %d bytes: load it with LoadKeyFile, which re-encodes it in memory", ErrInvalidMaterial, curve.name, len(d), curve.size)
	case len(d) < curve.size:
		copy(k.d[curve.size-len(d):], d)
	default:
		extra := d[:len(d)-curve.size]
		for _, b := range extra {
			if b != 0 {
				k.clear()
				return nil, fmt.Errorf("%w: the %s private scalar is %d bytes, longer than the curve's %d; the key is not on this curve or is corrupt", ErrInvalidMaterial, curve.name, len(d), curve.size)
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
			return nil, fmt.Errorf("%w: the %s ECPrivateKey has no public key; KMS requires it: load it with LoadKeyFile, which re-encodes it in memory", ErrInvalidMaterial, curve.name)
		}
	} else if err := curve.checkPublic(pub, k.pub, strict); err != nil {
		k.clear()
		return nil, err
	}
	return k, nil
}

func (k *ecKey) clear() {
	if k != nil {
		clear(k.d)
	}
}

// algorithmIdentifier returns the DER AlgorithmIdentifier id-ecPublicKey
// with the named curve.
func (c *ecCurve) algorithmIdentifier() []byte {
	a, _ := asn1.Marshal(oidECPublicKey)
	o, _ := asn1.Marshal(c.oid)
	return derTLV(tagSequence, a, o)
}

// pkcs8 encodes k as KMS imports it: PKCS#8 PrivateKeyInfo (version 0,
// id-ecPublicKey with the named curve) around an ECPrivateKey (version 1,
// the full-length scalar, no parameters, the uncompressed public key): what
// `openssl pkcs8 -topk8 -nocrypt -outform DER` and x509.MarshalPKCS8PrivateKey
// produce. The intermediate buffers are cleared; the caller owns the result.
func (k *ecKey) pkcs8() []byte {
	scalar := derTLV(tagOctetString, k.d)
	defer clear(scalar)
	inner := derTLV(tagSequence, []byte{tagInteger, 1, 1}, scalar,
		derTLV(tagContext1, derTLV(tagBitString, []byte{0}, k.pub)))
	defer clear(inner)
	octet := derTLV(tagOctetString, inner)
	defer clear(octet)
	return derTLV(tagSequence, []byte{tagInteger, 1, 0}, k.curve.algorithmIdentifier(), octet)
}

// spki encodes the public key as a DER SubjectPublicKeyInfo: id-ecPublicKey,
// the named curve, the uncompressed point.
func (k *ecKey) spki() []byte {
	return derTLV(tagSequence, k.curve.algorithmIdentifier(), derTLV(tagBitString, []byte{0}, k.pub))
}

// parseECPublic turns an EC SubjectPublicKeyInfo byok made back into a
// public key: *ecdsa.PublicKey for the NIST curves, *secp256k1.PublicKey for
// secp256k1.
func parseECPublic(spki []byte) (any, error) {
	var info struct {
		Algo struct {
			Algorithm asn1.ObjectIdentifier
			Curve     asn1.ObjectIdentifier
		}
		Point asn1.BitString
	}
	if rest, err := asn1.Unmarshal(spki, &info); err != nil || len(rest) != 0 {
		return nil, errors.New("byok: internal error: bad EC SubjectPublicKeyInfo")
	}
	c := curveByOID(info.Algo.Curve)
	if c == nil {
		return nil, errors.New("byok: internal error: unknown curve")
	}
	if c.nist == nil {
		return secp256k1.ParsePubKey(info.Point.Bytes)
	}
	return ecdsa.ParseUncompressedPublicKey(c.nist, info.Point.Bytes)
}

// scalarBytes returns d as a size-byte big-endian buffer (for keys handed in
// as *big.Int); false if it does not fit.
func scalarBytes(d *big.Int, size int) ([]byte, bool) {
	if d == nil || d.Sign() <= 0 || d.BitLen() > size*8 {
		return nil, false
	}
	return d.FillBytes(make([]byte, size)), true
}
