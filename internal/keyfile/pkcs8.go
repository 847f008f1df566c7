package keyfile

// PKCS#8 PrivateKeyInfo (RFC 5208) and OneAsymmetricKey (RFC 5958), the form
// KMS imports RSA and EC keys in.

import (
	encasn1 "encoding/asn1"
	"fmt"

	"golang.org/x/crypto/cryptobyte"
	"golang.org/x/crypto/cryptobyte/asn1"
)

// OIDs of private key algorithms.
var (
	oidRSAEncryption = encasn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 1}
	oidRSAPSS        = encasn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 10}
	oidEd25519       = encasn1.ObjectIdentifier{1, 3, 101, 112}
	oidX25519        = encasn1.ObjectIdentifier{1, 3, 101, 110}
	oidEd448         = encasn1.ObjectIdentifier{1, 3, 101, 113}
	oidX448          = encasn1.ObjectIdentifier{1, 3, 101, 111}
	oidDSA           = encasn1.ObjectIdentifier{1, 2, 840, 10040, 4, 1}
	oidDH            = encasn1.ObjectIdentifier{1, 2, 840, 113549, 1, 3, 1}
	oidMLDSA44       = encasn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 3, 17}
	oidMLDSA65       = encasn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 3, 18}
	oidMLDSA87       = encasn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 3, 19}
	oidMLKEM512      = encasn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 4, 1}
	oidMLKEM768      = encasn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 4, 2}
	oidMLKEM1024     = encasn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 4, 3}
)

// unsupportedAlgorithmError explains a PKCS#8 algorithm KMS does not import.
func unsupportedAlgorithmError(oid encasn1.ObjectIdentifier) error {
	const asym = "KMS imports RSA keys and EC keys on P-256, P-384, P-521 and secp256k1"
	switch {
	case oid.Equal(oidEd25519):
		return ed25519Error()
	case oid.Equal(oidX25519), oid.Equal(oidX448):
		return fmt.Errorf("%w: an X25519 or X448 private key; KMS has no such key spec: for KEY_AGREEMENT import an ECC_NIST_P256, P384 or P521 key", ErrUnsupportedKey)
	case oid.Equal(oidEd448):
		return fmt.Errorf("%w: an Ed448 private key; KMS has no Ed448 key spec: %s", ErrUnsupportedKey, asym)
	case oid.Equal(oidRSAPSS):
		return fmt.Errorf("%w: an RSA key restricted to RSASSA-PSS (OID 1.2.840.113549.1.1.10); KMS imports plain rsaEncryption keys: export the key as a plain RSA key (the numbers are the same), e.g. as PKCS#1", ErrUnsupportedKey)
	case oid.Equal(oidDSA):
		return fmt.Errorf("%w: a DSA private key; %s", ErrUnsupportedKey, asym)
	case oid.Equal(oidDH):
		return fmt.Errorf("%w: a Diffie-Hellman private key; %s", ErrUnsupportedKey, asym)
	case oid.Equal(oidMLDSA44), oid.Equal(oidMLDSA65), oid.Equal(oidMLDSA87):
		return &alsoIs{fmt.Errorf("%w: an ML-DSA private key: %s", ErrUnsupportedKey, WhyMLDSA), ErrNotImportable}
	case oid.Equal(oidMLKEM512), oid.Equal(oidMLKEM768), oid.Equal(oidMLKEM1024):
		return &alsoIs{fmt.Errorf("%w: an ML-KEM private key: %s", ErrUnsupportedKey, WhyMLKEM), ErrNotImportable}
	}
	return fmt.Errorf("%w: a private key with algorithm OID %s; %s", ErrUnsupportedKey, oid, asym)
}

// ParsePKCS8 decodes a PKCS#8 PrivateKeyInfo holding an RSA or EC key.
// Trailing data is refused at every level. With strict, the encoding must be
// the plain one KMS takes (version 0, no attributes, NULL RSA parameters,
// and see parseSEC1); hint names the expected key spec, for a SEC 1 key that
// does not name its curve.
func ParsePKCS8(der []byte, hint string, strict bool) (*Key, error) {
	r := cryptobyte.String(der)
	body, err := read(&r, asn1.SEQUENCE)
	if err != nil {
		return nil, derError("the PKCS#8 PrivateKeyInfo", err)
	}
	if !r.Empty() {
		return nil, trailingError("the PKCS#8 PrivateKeyInfo")
	}
	s := cryptobyte.String(body)
	v, err := version(&s)
	if err != nil {
		return nil, derError("the PKCS#8 version", err)
	}
	if v != 0 && (strict || v != 1) {
		if strict && v == 1 {
			return nil, fmt.Errorf("%w: PKCS#8 version %d, want 0; load it with LoadKeyFile, which re-encodes it in memory", ErrInvalid, v)
		}
		return nil, fmt.Errorf("%w: PKCS#8 version %d, want 0 (or 1); the key is corrupt or not PKCS#8: re-export it from its source", ErrInvalid, v)
	}
	alg, err := read(&s, asn1.SEQUENCE)
	if err != nil {
		return nil, derError("the PKCS#8 algorithm identifier", err)
	}
	priv, err := read(&s, asn1.OCTET_STRING)
	if err != nil {
		return nil, derError("the PKCS#8 private key", err)
	}
	if peekIs(s, tagContext0) {
		if strict {
			return nil, fmt.Errorf("%w: the PKCS#8 key has attributes; KMS wants a bare PrivateKeyInfo: load it with LoadKeyFile, which re-encodes it in memory", ErrInvalid)
		}
		next(&s)
	}
	if v == 1 && peekIs(s, tagImplicit1) {
		next(&s) // OneAsymmetricKey's publicKey; recomputed from the private key
	}
	if !s.Empty() {
		return nil, trailingError("the PKCS#8 private key")
	}

	a := cryptobyte.String(alg)
	tag, _, full, err := next(&a)
	if err != nil || tag != asn1.OBJECT_IDENTIFIER {
		return nil, fmt.Errorf("%w: the PKCS#8 algorithm identifier does not start with an OBJECT IDENTIFIER; the key is corrupt: re-export it from its source", ErrInvalid)
	}
	oid, ok := oidOf(full)
	if !ok {
		return nil, fmt.Errorf("%w: the PKCS#8 algorithm OID is malformed; the key is corrupt: re-export it from its source", ErrInvalid)
	}
	var pTag asn1.Tag
	var pFull []byte
	hasParams := !a.Empty()
	if hasParams {
		if pTag, _, pFull, err = next(&a); err != nil {
			return nil, derError("the PKCS#8 algorithm parameters", err)
		}
		if !a.Empty() {
			return nil, trailingError("the PKCS#8 algorithm parameters")
		}
	}
	switch {
	case oid.Equal(oidRSAEncryption):
		if hasParams && (pTag != asn1.NULL || len(pFull) != 2) || !hasParams && strict {
			if !hasParams {
				return nil, fmt.Errorf("%w: the rsaEncryption parameters must be NULL; load it with LoadKeyFile, which re-encodes it in memory", ErrInvalid)
			}
			return nil, fmt.Errorf("%w: the rsaEncryption parameters must be NULL; the key is corrupt: re-export it from its source", ErrInvalid)
		}
		return parsePKCS1(priv)
	case oid.Equal(oidECPublicKey):
		if !hasParams {
			return nil, fmt.Errorf("%w: the PKCS#8 EC key does not name its curve; re-export it from its source as PKCS#8 (e.g. encrypted: `openssl pkcs8 -topk8 -v2 aes-256-cbc -in key.pem -out key-p8.pem`)", ErrInvalid)
		}
		c, err := curveFromParams(pTag, pFull)
		if err != nil {
			return nil, err
		}
		ec, err := parseSEC1(priv, c, hint, strict)
		if err != nil {
			return nil, err
		}
		return &Key{ec: ec}, nil
	}
	return nil, unsupportedAlgorithmError(oid)
}
