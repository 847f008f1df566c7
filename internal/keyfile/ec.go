package keyfile

// The curves KMS imports EC keys on, and the KMS encodings of an EC key
// (PKCS#8 and SubjectPublicKeyInfo). crypto/x509 can neither parse nor
// marshal secp256k1 (OID 1.3.132.0.10), so byok encodes and decodes every EC
// key itself, the same way for all four curves.

import (
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/subtle"
	encasn1 "encoding/asn1"
	"errors"
	"fmt"

	"golang.org/x/crypto/cryptobyte"
	"golang.org/x/crypto/cryptobyte/asn1"
)

// Curve is one curve KMS imports keys on.
type Curve struct {
	Spec  string // the KMS key spec, e.g. ECC_NIST_P256
	Name  string // as OpenSSL names it
	OID   encasn1.ObjectIdentifier
	Size  int    // bytes of the private scalar and of each coordinate
	Order []byte // the group order n, big-endian, Size bytes
	nist  elliptic.Curve
	ecdh  ecdh.Curve // nil for secp256k1
}

var (
	oidECPublicKey = encasn1.ObjectIdentifier{1, 2, 840, 10045, 2, 1}
	oidP256        = encasn1.ObjectIdentifier{1, 2, 840, 10045, 3, 1, 7}
	oidP384        = encasn1.ObjectIdentifier{1, 3, 132, 0, 34}
	oidP521        = encasn1.ObjectIdentifier{1, 3, 132, 0, 35}
)

// curves lists the curves KMS imports, secp256k1 last.
var curves = []*Curve{
	nistCurve("ECC_NIST_P256", "P-256 (prime256v1)", oidP256, 32, elliptic.P256(), ecdh.P256()),
	nistCurve("ECC_NIST_P384", "P-384 (secp384r1)", oidP384, 48, elliptic.P384(), ecdh.P384()),
	nistCurve("ECC_NIST_P521", "P-521 (secp521r1)", oidP521, 66, elliptic.P521(), ecdh.P521()),
	secp256k1Curve,
}

func nistCurve(spec, name string, oid encasn1.ObjectIdentifier, size int, c elliptic.Curve, e ecdh.Curve) *Curve {
	return &Curve{Spec: spec, Name: name, OID: oid, Size: size, Order: c.Params().N.FillBytes(make([]byte, size)), nist: c, ecdh: e}
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

func curveByOID(oid encasn1.ObjectIdentifier) *Curve {
	for _, c := range curves {
		if c.OID.Equal(oid) {
			return c
		}
	}
	return nil
}

// CurveBySpec returns the curve of an ECC_* key spec, nil for another spec.
func CurveBySpec(spec string) *Curve {
	for _, c := range curves {
		if c.Spec == spec {
			return c
		}
	}
	return nil
}

// unsupportedCurveError explains a curve KMS does not import.
func unsupportedCurveError(oid encasn1.ObjectIdentifier) error {
	name, ok := otherCurves[oid.String()]
	if !ok {
		name = "the curve with OID " + oid.String()
	}
	if name == "SM2" {
		return fmt.Errorf("%w: an SM2 key: %s; use a key on P-256, P-384, P-521 or secp256k1", ErrUnsupportedKey, WhySM2)
	}
	return fmt.Errorf("%w: an EC key on %s; KMS imports EC keys on P-256, P-384, P-521 and secp256k1 only: generate one, e.g. `openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256`", ErrUnsupportedKey, name)
}

// curveFromParams decodes ECParameters (tag and whole encoding), which must
// name a curve.
func curveFromParams(tag asn1.Tag, full []byte) (*Curve, error) {
	switch tag {
	case asn1.OBJECT_IDENTIFIER:
		oid, ok := oidOf(full)
		if !ok {
			return nil, fmt.Errorf("%w: the EC curve identifier is not a valid OBJECT IDENTIFIER; re-export the key from its source as PKCS#8 (e.g. encrypted: `openssl pkcs8 -topk8 -v2 aes-256-cbc -in key.pem -out key-p8.pem`)", ErrInvalid)
		}
		c := curveByOID(oid)
		if c == nil {
			return nil, unsupportedCurveError(oid)
		}
		return c, nil
	case asn1.SEQUENCE:
		return nil, fmt.Errorf("%w: the EC key spells out its curve parameters (explicit parameters); KMS requires a named curve: convert it to encrypted PKCS#8 with a named curve: `openssl ec -in key.pem -param_enc named_curve | openssl pkcs8 -topk8 -v2 aes-256-cbc -out named.pem`", ErrUnsupportedKey)
	case asn1.NULL:
		return nil, fmt.Errorf("%w: the EC key inherits its curve (implicitlyCA parameters); KMS requires a named curve: re-export it from its source as PKCS#8 (e.g. encrypted: `openssl pkcs8 -topk8 -v2 aes-256-cbc -in key.pem -out key-p8.pem`)", ErrUnsupportedKey)
	}
	return nil, fmt.Errorf("%w: the EC curve parameters are neither a named curve nor explicit parameters; re-export the key from its source as PKCS#8 (e.g. encrypted: `openssl pkcs8 -topk8 -v2 aes-256-cbc -in key.pem -out key-p8.pem`)", ErrInvalid)
}

// checkScalar reports whether d (c.Size bytes) is in [1, n-1], in constant
// time.
func (c *Curve) checkScalar(d []byte) error {
	if len(d) != c.Size {
		return fmt.Errorf("%w: the %s private scalar is %d bytes, want %d", ErrInvalid, c.Name, len(d), c.Size)
	}
	var borrow int
	for i := len(d) - 1; i >= 0; i-- {
		diff := int(d[i]) - int(c.Order[i]) - borrow
		borrow = (diff >> 8) & 1
	}
	var acc byte
	for _, b := range d {
		acc |= b
	}
	if borrow == 0 || subtle.ConstantTimeByteEq(acc, 0) == 1 {
		return fmt.Errorf("%w: the %s private scalar is not in [1, n-1]; the key is corrupt or was not generated for this curve", ErrInvalid, c.Name)
	}
	return nil
}

// publicFromScalar computes the public point d·G, uncompressed (0x04 || X || Y).
func (c *Curve) publicFromScalar(d []byte) ([]byte, error) {
	if err := c.checkScalar(d); err != nil {
		return nil, err
	}
	if c.ecdh == nil {
		return secp256k1Public(d)
	}
	k, err := c.ecdh.NewPrivateKey(d)
	if err != nil {
		return nil, fmt.Errorf("%w: the %s private scalar is invalid; the key is corrupt", ErrInvalid, c.Name)
	}
	return k.PublicKey().Bytes(), nil
}

// ecKey is a decoded EC private key.
type ecKey struct {
	curve *Curve
	d     []byte // curve.Size bytes
	pub   []byte // uncompressed point, d·G
}

func (k *ecKey) clear() {
	if k != nil {
		clear(k.d)
	}
}

// newEC builds an EC key from the scalar d (copied) and checks pub, the
// uncompressed public point the caller's key carries, if not nil.
func newEC(c *Curve, d, pub []byte) (*Key, error) {
	k := &ecKey{curve: c, d: make([]byte, c.Size)}
	if len(d) != c.Size {
		return nil, fmt.Errorf("%w: the %s private scalar is %d bytes, want %d", ErrInvalid, c.Name, len(d), c.Size)
	}
	copy(k.d, d)
	var err error
	if k.pub, err = c.publicFromScalar(k.d); err != nil {
		k.clear()
		return nil, err
	}
	if pub != nil && subtle.ConstantTimeCompare(pub, k.pub) != 1 {
		k.clear()
		return nil, fmt.Errorf("%w: the %s public key does not match the private key; check how the key was built", ErrInvalid, c.Name)
	}
	return &Key{ec: k}, nil
}

// addAlgorithm adds the AlgorithmIdentifier id-ecPublicKey with the named
// curve.
func (c *Curve) addAlgorithm(b *cryptobyte.Builder) {
	b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1ObjectIdentifier(oidECPublicKey)
		b.AddASN1ObjectIdentifier(c.OID)
	})
}

// AlgorithmIdentifier returns the DER AlgorithmIdentifier id-ecPublicKey
// with the named curve.
func (c *Curve) AlgorithmIdentifier() []byte {
	return build(32, c.addAlgorithm)
}

// pkcs8 encodes k as KMS imports it: PKCS#8 PrivateKeyInfo (version 0,
// id-ecPublicKey with the named curve) around an ECPrivateKey (version 1,
// the full-length scalar, no parameters, the uncompressed public key): what
// `openssl pkcs8 -topk8 -nocrypt -outform DER` and x509.MarshalPKCS8PrivateKey
// produce. The caller owns (and clears) the result.
func (k *ecKey) pkcs8() []byte {
	return build(96+len(k.d)+len(k.pub), func(b *cryptobyte.Builder) {
		b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1Int64(0)
			k.curve.addAlgorithm(b)
			b.AddASN1(asn1.OCTET_STRING, func(b *cryptobyte.Builder) {
				b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
					b.AddASN1Int64(1)
					b.AddASN1OctetString(k.d)
					b.AddASN1(tagContext1, func(b *cryptobyte.Builder) {
						addBitString(b, k.pub)
					})
				})
			})
		})
	})
}

func addBitString(b *cryptobyte.Builder, v []byte) {
	b.AddASN1(asn1.BIT_STRING, func(b *cryptobyte.Builder) {
		b.AddUint8(0)
		b.AddBytes(v)
	})
}

// spki encodes the public key as a DER SubjectPublicKeyInfo: id-ecPublicKey,
// the named curve, the uncompressed point.
func (k *ecKey) spki() []byte {
	return build(40+len(k.pub), func(b *cryptobyte.Builder) {
		b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
			k.curve.addAlgorithm(b)
			addBitString(b, k.pub)
		})
	})
}

// ParseECPublic decodes an EC SubjectPublicKeyInfo on a curve KMS imports:
// *ecdsa.PublicKey for the NIST curves, *secp256k1.PublicKey for secp256k1.
func ParseECPublic(spki []byte) (any, error) {
	s := cryptobyte.String(spki)
	var info, alg cryptobyte.String
	var algOID, curveOID encasn1.ObjectIdentifier
	var point []byte
	if !s.ReadASN1(&info, asn1.SEQUENCE) || !s.Empty() ||
		!info.ReadASN1(&alg, asn1.SEQUENCE) || !info.ReadASN1BitStringAsBytes(&point) || !info.Empty() ||
		!alg.ReadASN1ObjectIdentifier(&algOID) || !alg.ReadASN1ObjectIdentifier(&curveOID) || !alg.Empty() ||
		!algOID.Equal(oidECPublicKey) {
		return nil, errors.New("byok: internal error: bad EC SubjectPublicKeyInfo")
	}
	c := curveByOID(curveOID)
	if c == nil {
		return nil, errors.New("byok: internal error: unknown curve")
	}
	if c.nist == nil {
		return parseSecp256k1Public(point)
	}
	return ecdsa.ParseUncompressedPublicKey(c.nist, point)
}
