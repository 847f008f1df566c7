package gcpkmstest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"slices"

	"github.com/decred/dcrd/dcrec/secp256k1/v4"
)

// Key material as Cloud KMS imports it ("Formatting keys for import",
// https://cloud.google.com/kms/docs/formatting-keys-for-import): symmetric and
// HMAC keys are raw bytes of exactly the algorithm's length, never encoded;
// asymmetric keys are PKCS#8 (PrivateKeyInfo, RFC 5208), DER-encoded, of the
// algorithm's key type, size and curve. The fake parses with the standard
// library (and github.com/decred/dcrd/dcrec/secp256k1 for secp256k1, which
// crypto/x509 does not know), never with byok's code. Where the page leaves
// room it is strict (see doc.go): DER with nothing after it; no PKCS#8
// attributes; RSA keys of two primes; EC private scalars of the curve's full
// length in [1, n-1]; an EC public key, if the material carries one, equal to
// d·G; EC parameters inside ECPrivateKey, if present, equal to the outer ones.

var (
	oidECPublicKey = asn1.ObjectIdentifier{1, 2, 840, 10045, 2, 1}
	oidSECP256K1   = asn1.ObjectIdentifier{1, 3, 132, 0, 10}
)

// pkcs8 is PrivateKeyInfo (RFC 5208) without attributes.
type pkcs8 struct {
	Version    int
	Algo       pkix.AlgorithmIdentifier
	PrivateKey []byte
}

// ecPrivateKey is ECPrivateKey (RFC 5915).
type ecPrivateKey struct {
	Version    int
	PrivateKey []byte
	Curve      asn1.ObjectIdentifier `asn1:"optional,explicit,tag:0"`
	PublicKey  asn1.BitString        `asn1:"optional,explicit,tag:1"`
}

// material is imported key material in usable form.
type material struct {
	secret []byte // kindSecret
	rsa    *rsa.PrivateKey
	ec     *ecdsa.PrivateKey
	k1     *secp256k1.PrivateKey
	spki   []byte   // DER SubjectPublicKeyInfo, asymmetric only
	digest [32]byte // SHA-256 of the formatted material, kept after destruction
}

// parseMaterial checks formatted key material for an algorithm and returns
// it usable; the error says what is wrong (the fake reports it only as
// reasonUnwrap, as Cloud KMS does, and keeps the detail for its log-free
// tests).
func parseMaterial(r algRule, mat []byte) (*material, error) {
	m := &material{digest: sha256.Sum256(mat)}
	switch r.kind {
	case kindSecret:
		if len(mat) != r.keyLen {
			return nil, fmt.Errorf("key material is %d bytes, the algorithm needs %d", len(mat), r.keyLen)
		}
		m.secret = slices.Clone(mat)
		return m, nil
	case kindK1:
		k, err := parseK1(mat)
		if err != nil {
			return nil, err
		}
		m.k1 = k
		m.spki, err = k1SPKI(k.PubKey())
		return m, err
	}
	info, err := parsePKCS8(mat)
	if err != nil {
		return nil, err
	}
	key, err := x509.ParsePKCS8PrivateKey(mat)
	if err != nil {
		return nil, fmt.Errorf("key material is not PKCS#8: %v", err)
	}
	switch k := key.(type) {
	case *rsa.PrivateKey:
		if r.kind != kindRSA {
			return nil, errors.New("key material is an RSA key, the algorithm needs an EC key")
		}
		if k.N.BitLen() != r.bits {
			return nil, fmt.Errorf("key material is a %d-bit RSA key, the algorithm needs %d bits", k.N.BitLen(), r.bits)
		}
		if len(k.Primes) != 2 {
			return nil, errors.New("key material is a multi-prime RSA key")
		}
		m.rsa = k
		m.spki, err = x509.MarshalPKIXPublicKey(&k.PublicKey)
		return m, err
	case *ecdsa.PrivateKey:
		if r.kind != kindEC {
			return nil, errors.New("key material is an EC key, the algorithm needs an RSA key")
		}
		if k.Curve != r.curve {
			return nil, fmt.Errorf("key material is on curve %s, the algorithm needs %s", k.Curve.Params().Name, r.curve.Params().Name)
		}
		var inner ecPrivateKey
		if rest, err := asn1.Unmarshal(info.PrivateKey, &inner); err != nil || len(rest) != 0 {
			return nil, errors.New("the ECPrivateKey is not DER")
		}
		size := (r.curve.Params().BitSize + 7) / 8
		if len(inner.PrivateKey) != size {
			return nil, fmt.Errorf("the EC private key is %d bytes, not %d", len(inner.PrivateKey), size)
		}
		var outer asn1.ObjectIdentifier
		if _, err := asn1.Unmarshal(info.Algo.Parameters.FullBytes, &outer); err != nil {
			return nil, errors.New("the EC parameters are not a named curve")
		}
		if len(inner.Curve) > 0 && !inner.Curve.Equal(outer) {
			return nil, errors.New("the ECPrivateKey names another curve than the PrivateKeyInfo")
		}
		pub, err := k.PublicKey.Bytes() // uncompressed d·G
		if err != nil {
			return nil, err
		}
		if inner.PublicKey.BitLength > 0 && !bytes.Equal(inner.PublicKey.RightAlign(), pub) {
			return nil, errors.New("the EC public key in the material is not d·G")
		}
		m.ec = k
		m.spki, err = x509.MarshalPKIXPublicKey(&k.PublicKey)
		return m, err
	}
	return nil, fmt.Errorf("key material holds a %T, not an RSA or EC private key", key)
}

// parsePKCS8 decodes a PrivateKeyInfo of RFC 5208: version 0, no
// attributes, nothing else; it must be DER ("parse, encode again, compare").
func parsePKCS8(mat []byte) (*pkcs8, error) {
	var info pkcs8
	if rest, err := asn1.Unmarshal(mat, &info); err != nil || len(rest) != 0 {
		return nil, errors.New("key material is not one DER PrivateKeyInfo")
	}
	if info.Version != 0 {
		return nil, fmt.Errorf("key material is a PrivateKeyInfo of version %d, not 0 (RFC 5208)", info.Version)
	}
	again, err := asn1.Marshal(info)
	if err != nil || !bytes.Equal(again, mat) {
		return nil, errors.New("key material is not a plain DER PrivateKeyInfo (attributes, more fields or not DER)")
	}
	return &info, nil
}

// parseK1 decodes PKCS#8 of a secp256k1 key: id-ecPublicKey with the named
// curve secp256k1 (1.3.132.0.10) around an ECPrivateKey.
func parseK1(mat []byte) (*secp256k1.PrivateKey, error) {
	info, err := parsePKCS8(mat)
	if err != nil {
		return nil, err
	}
	if !info.Algo.Algorithm.Equal(oidECPublicKey) {
		return nil, errors.New("key material is not an EC PrivateKeyInfo")
	}
	var curve asn1.ObjectIdentifier
	if rest, err := asn1.Unmarshal(info.Algo.Parameters.FullBytes, &curve); err != nil || len(rest) != 0 || !curve.Equal(oidSECP256K1) {
		return nil, errors.New("key material is not on curve secp256k1")
	}
	var inner ecPrivateKey
	if rest, err := asn1.Unmarshal(info.PrivateKey, &inner); err != nil || len(rest) != 0 {
		return nil, errors.New("the ECPrivateKey is not DER")
	}
	if inner.Version != 1 || len(inner.PrivateKey) != 32 {
		return nil, errors.New("the ECPrivateKey is not version 1 with a 32-byte private key")
	}
	if len(inner.Curve) > 0 && !inner.Curve.Equal(oidSECP256K1) {
		return nil, errors.New("the ECPrivateKey names another curve")
	}
	var d secp256k1.ModNScalar
	if overflow := d.SetByteSlice(inner.PrivateKey); overflow || d.IsZero() {
		return nil, errors.New("the secp256k1 private key is not in [1, n-1]")
	}
	k := secp256k1.NewPrivateKey(&d)
	if inner.PublicKey.BitLength > 0 && !bytes.Equal(inner.PublicKey.RightAlign(), k.PubKey().SerializeUncompressed()) {
		return nil, errors.New("the EC public key in the material is not d·G")
	}
	return k, nil
}

// k1SPKI is the SubjectPublicKeyInfo of a secp256k1 public key: id-ecPublicKey,
// the curve's OID and the uncompressed point.
func k1SPKI(pub *secp256k1.PublicKey) ([]byte, error) {
	params, err := asn1.Marshal(oidSECP256K1)
	if err != nil {
		return nil, err
	}
	point := pub.SerializeUncompressed()
	return asn1.Marshal(struct {
		Algo      pkix.AlgorithmIdentifier
		PublicKey asn1.BitString
	}{
		Algo:      pkix.AlgorithmIdentifier{Algorithm: oidECPublicKey, Parameters: asn1.RawValue{FullBytes: params}},
		PublicKey: asn1.BitString{Bytes: point, BitLength: 8 * len(point)},
	})
}

// discard clears what it can of the material (best effort: big.Int
// internals of RSA and EC keys cannot be cleared reliably).
func (m *material) discard() {
	if m == nil {
		return
	}
	clear(m.secret)
	if m.k1 != nil {
		m.k1.Zero()
	}
	m.secret, m.rsa, m.ec, m.k1 = nil, nil, nil, nil
}
