package azkvtest

import (
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"math/big"

	"github.com/decred/dcrd/dcrec/secp256k1/v4"
)

// Row 7, from the BYOK specification (docBYOKSpec): "For an RSA key, the
// private key ASN.1 DER encoding [RFC3447] wrapped in PKCS#8 [RFC5208]; for
// an EC key, the private key ASN.1 DER encoding [RFC5915] wrapped in PKCS#8
// [RFC5208]; for an octet key, the raw bytes of the key". Row 9: the kty
// (and crv) the import request names must be the material's.
//
// Parsed with crypto/x509 (RSA, NIST curves) and encoding/asn1 plus
// github.com/decred/dcrd/dcrec/secp256k1 (P-256K, OID 1.3.132.0.10, which
// crypto/x509 does not know). Strict where the pages are silent: DER with no
// trailing bytes; PKCS#8 version 0; the ECPrivateKey's privateKey exactly the
// curve's size (RFC 5915 section 3) and its publicKey, when present, the
// private key's.

var (
	oidRSA       = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 1}
	oidECPublic  = asn1.ObjectIdentifier{1, 2, 840, 10045, 2, 1}
	oidP256      = asn1.ObjectIdentifier{1, 2, 840, 10045, 3, 1, 7}
	oidP384      = asn1.ObjectIdentifier{1, 3, 132, 0, 34}
	oidP521      = asn1.ObjectIdentifier{1, 3, 132, 0, 35}
	oidSecp256k1 = asn1.ObjectIdentifier{1, 3, 132, 0, 10}
)

type pkcs8 struct {
	Version    int
	Algo       pkix.AlgorithmIdentifier
	PrivateKey []byte
	Attributes asn1.RawValue `asn1:"optional,tag:0"`
}

type ecPrivateKey struct {
	Version    int
	PrivateKey []byte
	Params     asn1.ObjectIdentifier `asn1:"optional,explicit,tag:0"`
	PublicKey  asn1.BitString        `asn1:"optional,explicit,tag:1"`
}

// materialKind names what key material looks like, for error messages.
func materialKind(b []byte) string {
	var p pkcs8
	if rest, err := asn1.Unmarshal(b, &p); err == nil && len(rest) == 0 {
		switch {
		case p.Algo.Algorithm.Equal(oidRSA):
			return "an RSA private key (PKCS#8)"
		case p.Algo.Algorithm.Equal(oidECPublic):
			var c asn1.ObjectIdentifier
			if _, err := asn1.Unmarshal(p.Algo.Parameters.FullBytes, &c); err == nil {
				if n := curveName(c); n != "" {
					return "an EC private key on " + n + " (PKCS#8)"
				}
			}
			return "an EC private key (PKCS#8)"
		}
		return "a PKCS#8 key of another algorithm"
	}
	switch len(b) {
	case 16, 24, 32:
		return "raw bytes the length of an AES key"
	}
	return "neither PKCS#8 nor an AES key"
}

func curveName(oid asn1.ObjectIdentifier) string {
	switch {
	case oid.Equal(oidP256):
		return "P-256"
	case oid.Equal(oidP384):
		return "P-384"
	case oid.Equal(oidP521):
		return "P-521"
	case oid.Equal(oidSecp256k1):
		return "P-256K"
	}
	return ""
}

func mismatch(kty, crv string, b []byte) *kvError {
	want := kty
	if crv != "" {
		want += " " + crv
	}
	return badParam("the key material in the transfer blob is %s, not the %s key the request names (%s)", materialKind(b), want, docBYOKSpec)
}

// parseMaterial sets k's key from the unwrapped material b.
func parseMaterial(k *keyVersion, kty, crv string, b []byte) *kvError {
	switch kty {
	case ktyOctHSM:
		if !octSizes[len(b)*8] {
			return mismatch(kty, "", b)
		}
		k.octKey = append([]byte(nil), b...)
		return nil
	case ktyRSAHSM, ktyECHSM:
	default:
		return badParam("key type %s cannot be imported", kty)
	}
	var p pkcs8
	rest, err := asn1.Unmarshal(b, &p)
	if err != nil || len(rest) != 0 || p.Version != 0 {
		return mismatch(kty, crv, b)
	}
	if kty == ktyRSAHSM {
		if !p.Algo.Algorithm.Equal(oidRSA) {
			return mismatch(kty, crv, b)
		}
		key, err := x509.ParsePKCS8PrivateKey(b)
		rk, ok := key.(*rsa.PrivateKey)
		if err != nil || !ok {
			return mismatch(kty, crv, b)
		}
		if !rsaSizes[rk.N.BitLen()] {
			return badParam("an RSA-HSM key is 2048, 3072 or 4096 bits, the key material is %d (%s)", rk.N.BitLen(), docBYOKKeyVault)
		}
		k.rsaKey = rk
		return nil
	}
	// EC-HSM: the curve in the PKCS#8 AlgorithmIdentifier must be crv.
	var c asn1.ObjectIdentifier
	if !p.Algo.Algorithm.Equal(oidECPublic) {
		return mismatch(kty, crv, b)
	}
	if rest, err := asn1.Unmarshal(p.Algo.Parameters.FullBytes, &c); err != nil || len(rest) != 0 || curveName(c) != crv {
		return mismatch(kty, crv, b)
	}
	var ec ecPrivateKey
	if rest, err := asn1.Unmarshal(p.PrivateKey, &ec); err != nil || len(rest) != 0 || ec.Version != 1 {
		return badParam("the EC key material is not an RFC 5915 ECPrivateKey (%s)", docBYOKSpec)
	}
	if len(ec.Params) > 0 && !ec.Params.Equal(c) {
		return badParam("the EC key material names two different curves (%s)", docBYOKSpec)
	}
	if crv == "P-256K" {
		if len(ec.PrivateKey) != 32 {
			return badParam("the P-256K private key is not 32 bytes (RFC 5915)")
		}
		var d secp256k1.ModNScalar
		if overflow := d.SetByteSlice(ec.PrivateKey); overflow || d.IsZero() {
			return badParam("the P-256K private key is out of range")
		}
		priv := secp256k1.NewPrivateKey(&d)
		if len(ec.PublicKey.Bytes) > 0 {
			pub := priv.PubKey().SerializeUncompressed()
			if ec.PublicKey.BitLength != 8*len(pub) || string(ec.PublicKey.Bytes) != string(pub) {
				return badParam("the EC key material's public key is not its private key's (%s)", docBYOKSpec)
			}
		}
		k.k1Key = priv
		return nil
	}
	key, err := x509.ParsePKCS8PrivateKey(b)
	ek, ok := key.(*ecdsa.PrivateKey)
	if err != nil || !ok {
		return badParam("the EC key material does not parse: %v (%s)", err, docBYOKSpec)
	}
	size := (ek.Curve.Params().BitSize + 7) / 8
	if len(ec.PrivateKey) != size {
		return badParam("the %s private key is %d bytes, RFC 5915 makes it %d", crv, len(ec.PrivateKey), size)
	}
	if len(ec.PublicKey.Bytes) > 0 {
		if len(ec.PublicKey.Bytes) != 1+2*size || ec.PublicKey.Bytes[0] != 4 {
			return badParam("the EC key material's public key is not an uncompressed point (%s)", docBYOKSpec)
		}
		x := new(big.Int).SetBytes(ec.PublicKey.Bytes[1 : 1+size])
		y := new(big.Int).SetBytes(ec.PublicKey.Bytes[1+size:])
		if x.Cmp(ek.X) != 0 || y.Cmp(ek.Y) != 0 {
			return badParam("the EC key material's public key is not its private key's (%s)", docBYOKSpec)
		}
	}
	k.ecKey = ek
	return nil
}
