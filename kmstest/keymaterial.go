package kmstest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/subtle"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"

	"github.com/decred/dcrd/dcrec/secp256k1/v4"
)

// Key material as KMS imports it, parsed and encoded with the standard
// library (and the secp256k1 library for that curve), never with byok's
// code. "Requirements for imported key material"
// (https://docs.aws.amazon.com/kms/latest/developerguide/importing-keys-conceptual.html#importing-keys-material-requirements)
// and "Importing key material step 3"
// (https://docs.aws.amazon.com/kms/latest/developerguide/importing-keys-encrypt-key-material.html):
// symmetric key material is 256 bits of binary data; HMAC key material is
// binary; asymmetric key material is the private key alone, as PKCS#8 DER
// (KMS derives the public key). Where that leaves room the emulator takes
// the stricter reading:
//
//   - HMAC key material must be exactly as long as the key spec's digest
//     (28, 32, 48 or 64 bytes), the length KMS generates for such keys.
//   - PKCS#8 must be the canonical DER encoding: version 0, no attributes;
//     for RSA rsaEncryption with NULL parameters around a two-prime PKCS#1
//     key whose modulus has exactly the key spec's size; for EC
//     id-ecPublicKey with the key spec's named curve around an ECPrivateKey
//     of version 1 with the full-length private scalar in [1, n-1], no
//     curve parameters and the uncompressed public key, which must be d·G.
//     Anything else (BER, trailing data, other curves or sizes) is refused.
//
// The check is "parse, encode again, compare": material is accepted only if
// it is byte for byte what the encoder makes of the key it holds.

// secretLen is the length of symmetric and HMAC key material.
var secretLen = map[string]int{
	"SYMMETRIC_DEFAULT": 32,
	"HMAC_224":          28,
	"HMAC_256":          32,
	"HMAC_384":          48,
	"HMAC_512":          64,
}

// rsaBits is the modulus size of each RSA key spec.
var rsaBits = map[string]int{"RSA_2048": 2048, "RSA_3072": 3072, "RSA_4096": 4096}

// nistCurve is the curve of each NIST EC key spec.
var nistCurve = map[string]elliptic.Curve{
	"ECC_NIST_P256": elliptic.P256(),
	"ECC_NIST_P384": elliptic.P384(),
	"ECC_NIST_P521": elliptic.P521(),
}

const specSECP256K1 = "ECC_SECG_P256K1"

var (
	// oidECPublicKey is id-ecPublicKey (RFC 5480).
	oidECPublicKey = asn1.ObjectIdentifier{1, 2, 840, 10045, 2, 1}
	// oidSECP256K1 is secp256k1 (SEC 2, certicom-arc curve 10).
	oidSECP256K1 = asn1.ObjectIdentifier{1, 3, 132, 0, 10}
)

// privateKey is the usable form of asymmetric key material.
type privateKey struct {
	rsa  *rsa.PrivateKey
	ec   *ecdsa.PrivateKey
	k1   *secp256k1.PrivateKey
	spki []byte // DER SubjectPublicKeyInfo, what GetPublicKey returns
}

// checkMaterial fails unless mat is key material KMS imports for spec.
func checkMaterial(spec string, mat []byte) error {
	if n, ok := secretLen[spec]; ok {
		if len(mat) != n {
			return fmt.Errorf("%s key material must be %d bytes of binary data, not %d bytes", spec, n, len(mat))
		}
		return nil
	}
	_, err := parsePrivate(spec, mat)
	return err
}

// parsePrivate decodes asymmetric key material of spec, refusing any
// encoding but the canonical one.
func parsePrivate(spec string, mat []byte) (*privateKey, error) {
	if spec == specSECP256K1 {
		return parseSECP256K1(mat)
	}
	bits, isRSA := rsaBits[spec]
	curve, isEC := nistCurve[spec]
	if !isRSA && !isEC {
		return nil, fmt.Errorf("%s key material is not a private key", spec)
	}
	k, err := x509.ParsePKCS8PrivateKey(mat)
	if err != nil {
		return nil, fmt.Errorf("the key material is not PKCS#8 DER: %v", err)
	}
	pk := &privateKey{}
	switch k := k.(type) {
	case *rsa.PrivateKey:
		if !isRSA {
			return nil, fmt.Errorf("the key material is an RSA key, not %s", spec)
		}
		if got := k.N.BitLen(); got != bits {
			return nil, fmt.Errorf("the key material is a %d-bit RSA key, not %s", got, spec)
		}
		if len(k.Primes) != 2 {
			return nil, fmt.Errorf("the key material is a %d-prime RSA key; KMS imports two-prime keys", len(k.Primes))
		}
		pk.rsa = k
	case *ecdsa.PrivateKey:
		if !isEC {
			return nil, fmt.Errorf("the key material is an EC key on %s, not %s", k.Curve.Params().Name, spec)
		}
		if k.Curve != curve {
			return nil, fmt.Errorf("the key material is an EC key on %s, not %s", k.Curve.Params().Name, spec)
		}
		pk.ec = k
	default:
		return nil, fmt.Errorf("the key material is a %T, not %s", k, spec)
	}
	canon, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return nil, fmt.Errorf("the key cannot be encoded: %v", err)
	}
	defer clear(canon)
	if subtle.ConstantTimeCompare(canon, mat) != 1 {
		return nil, errors.New("the key material is not the canonical PKCS#8 DER of its key (an optional field, a short scalar, a wrong public key, a non-minimal encoding or trailing data)")
	}
	var pub any
	if pk.rsa != nil {
		pub = &pk.rsa.PublicKey
	} else {
		pub = &pk.ec.PublicKey
	}
	if pk.spki, err = x509.MarshalPKIXPublicKey(pub); err != nil {
		return nil, fmt.Errorf("the public key cannot be encoded: %v", err)
	}
	return pk, nil
}

// pkcs8 is PrivateKeyInfo (RFC 5208) without attributes.
type pkcs8 struct {
	Version    int
	Algo       pkix.AlgorithmIdentifier
	PrivateKey []byte
}

// ecPrivateKey is ECPrivateKey (RFC 5915).
type ecPrivateKey struct {
	Version       int
	PrivateKey    []byte
	NamedCurveOID asn1.ObjectIdentifier `asn1:"optional,explicit,tag:0"`
	PublicKey     asn1.BitString        `asn1:"optional,explicit,tag:1"`
}

// spkiDER is SubjectPublicKeyInfo (RFC 5280).
type spkiDER struct {
	Algo      pkix.AlgorithmIdentifier
	PublicKey asn1.BitString
}

func secp256k1Algorithm() pkix.AlgorithmIdentifier {
	params, _ := asn1.Marshal(oidSECP256K1)
	return pkix.AlgorithmIdentifier{Algorithm: oidECPublicKey, Parameters: asn1.RawValue{FullBytes: params}}
}

// parseSECP256K1 decodes ECC_SECG_P256K1 key material: crypto/x509 does not
// know the curve, so the PKCS#8 is read with encoding/asn1 and the scalar
// checked with the secp256k1 library; then the canonical encoding is made
// again and compared.
func parseSECP256K1(mat []byte) (*privateKey, error) {
	var p pkcs8
	rest, err := asn1.Unmarshal(mat, &p)
	if err != nil {
		return nil, fmt.Errorf("the key material is not PKCS#8 DER: %v", err)
	}
	if len(rest) != 0 {
		return nil, errors.New("the key material has data after the PKCS#8 structure")
	}
	if !p.Algo.Algorithm.Equal(oidECPublicKey) {
		return nil, fmt.Errorf("the key material is a key of algorithm %v, not an EC key", p.Algo.Algorithm)
	}
	var curve asn1.ObjectIdentifier
	if rest, err := asn1.Unmarshal(p.Algo.Parameters.FullBytes, &curve); err != nil || len(rest) != 0 {
		return nil, errors.New("the EC key material does not name its curve")
	}
	if !curve.Equal(oidSECP256K1) {
		return nil, fmt.Errorf("the key material is an EC key on curve %v, not ECC_SECG_P256K1 (%v)", curve, oidSECP256K1)
	}
	var ec ecPrivateKey
	rest, err = asn1.Unmarshal(p.PrivateKey, &ec)
	defer clear(p.PrivateKey)
	if err != nil || len(rest) != 0 {
		return nil, errors.New("the key material does not hold an ECPrivateKey")
	}
	defer clear(ec.PrivateKey)
	if len(ec.PrivateKey) != 32 {
		return nil, fmt.Errorf("the secp256k1 private scalar is %d bytes, not 32", len(ec.PrivateKey))
	}
	var d secp256k1.ModNScalar
	if overflow := d.SetByteSlice(ec.PrivateKey); overflow || d.IsZero() {
		d.Zero()
		return nil, errors.New("the secp256k1 private scalar is not in [1, n-1]")
	}
	priv := secp256k1.NewPrivateKey(&d)
	d.Zero()
	canon, err := secp256k1PKCS8(priv)
	if err != nil {
		priv.Zero()
		return nil, err
	}
	defer clear(canon)
	if subtle.ConstantTimeCompare(canon, mat) != 1 {
		priv.Zero()
		return nil, errors.New("the key material is not the canonical PKCS#8 DER of its key (an optional field, a wrong or missing public key, a non-minimal encoding)")
	}
	spki, err := secp256k1SPKI(priv.PubKey())
	if err != nil {
		priv.Zero()
		return nil, err
	}
	return &privateKey{k1: priv, spki: spki}, nil
}

// secp256k1PKCS8 encodes a secp256k1 private key as KMS imports it.
func secp256k1PKCS8(priv *secp256k1.PrivateKey) ([]byte, error) {
	d := priv.Key.Bytes()
	defer clear(d[:])
	pub := priv.PubKey().SerializeUncompressed()
	inner, err := asn1.Marshal(ecPrivateKey{Version: 1, PrivateKey: d[:],
		PublicKey: asn1.BitString{Bytes: pub, BitLength: 8 * len(pub)}})
	if err != nil {
		return nil, err
	}
	defer clear(inner)
	return asn1.Marshal(pkcs8{Version: 0, Algo: secp256k1Algorithm(), PrivateKey: inner})
}

// secp256k1SPKI encodes a secp256k1 public key as GetPublicKey returns it:
// id-ecPublicKey with the named curve secp256k1 and the uncompressed point.
func secp256k1SPKI(pub *secp256k1.PublicKey) ([]byte, error) {
	pt := pub.SerializeUncompressed()
	return asn1.Marshal(spkiDER{Algo: secp256k1Algorithm(), PublicKey: asn1.BitString{Bytes: pt, BitLength: 8 * len(pt)}})
}

// generateMaterial creates key material of a spec, in the form KMS imports,
// for a key with origin AWS_KMS.
func generateMaterial(spec string) ([]byte, error) {
	if n, ok := secretLen[spec]; ok {
		b := make([]byte, n)
		rand.Read(b)
		return b, nil
	}
	if bits, ok := rsaBits[spec]; ok {
		k, err := rsa.GenerateKey(rand.Reader, bits)
		if err != nil {
			return nil, err
		}
		return x509.MarshalPKCS8PrivateKey(k)
	}
	if c, ok := nistCurve[spec]; ok {
		k, err := ecdsa.GenerateKey(c, rand.Reader)
		if err != nil {
			return nil, err
		}
		return x509.MarshalPKCS8PrivateKey(k)
	}
	if spec == specSECP256K1 {
		k, err := secp256k1.GeneratePrivateKey()
		if err != nil {
			return nil, err
		}
		defer k.Zero()
		return secp256k1PKCS8(k)
	}
	return nil, errors.New("kmstest: cannot generate key material for " + spec)
}
