package kmstest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"

	"github.com/byok-go/byok"
	"github.com/decred/dcrd/dcrec/secp256k1/v4"
)

// privateKey is the usable form of asymmetric key material.
type privateKey struct {
	rsa  *rsa.PrivateKey
	ec   *ecdsa.PrivateKey
	k1   *secp256k1.PrivateKey
	spki []byte // DER SubjectPublicKeyInfo
}

type pkcs8 struct {
	Version    int
	Algo       pkix.AlgorithmIdentifier
	PrivateKey []byte
}

type ecPrivateKey struct {
	Version    int
	PrivateKey []byte
	PublicKey  asn1.BitString `asn1:"optional,explicit,tag:1"`
}

// parsePrivate decodes key material that byok.ParseKeyMaterial accepted for
// an RSA or EC key spec.
func parsePrivate(spec string, mat []byte) (*privateKey, error) {
	km, err := byok.ParseKeyMaterial(byok.KeySpec(spec), mat)
	if err != nil {
		return nil, err
	}
	defer km.Destroy()
	pk := &privateKey{spki: km.PublicKeyDER()}
	if spec == "ECC_SECG_P256K1" {
		var p pkcs8
		if _, err := asn1.Unmarshal(mat, &p); err != nil {
			return nil, err
		}
		var ec ecPrivateKey
		if _, err := asn1.Unmarshal(p.PrivateKey, &ec); err != nil {
			return nil, err
		}
		pk.k1 = secp256k1.PrivKeyFromBytes(ec.PrivateKey)
		clear(ec.PrivateKey)
		return pk, nil
	}
	k, err := x509.ParsePKCS8PrivateKey(mat)
	if err != nil {
		return nil, err
	}
	switch k := k.(type) {
	case *rsa.PrivateKey:
		pk.rsa = k
	case *ecdsa.PrivateKey:
		pk.ec = k
	default:
		return nil, fmt.Errorf("unexpected key type %T", k)
	}
	return pk, nil
}

// generateMaterial creates key material of a spec, in the form KMS imports,
// for a key with origin AWS_KMS.
func generateMaterial(spec string) ([]byte, error) {
	var priv any
	var err error
	switch spec {
	case "SYMMETRIC_DEFAULT", "HMAC_224", "HMAC_256", "HMAC_384", "HMAC_512":
		b := make([]byte, byok.KeySpec(spec).MaterialLen())
		rand.Read(b)
		return b, nil
	case "RSA_2048", "RSA_3072", "RSA_4096":
		priv, err = rsa.GenerateKey(rand.Reader, byok.KeySpec(spec).Bits())
	case "ECC_NIST_P256":
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "ECC_NIST_P384":
		priv, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case "ECC_NIST_P521":
		priv, err = ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	case "ECC_SECG_P256K1":
		priv, err = secp256k1.GeneratePrivateKey()
	default:
		return nil, errors.New("kmstest: cannot generate key material for " + spec)
	}
	if err != nil {
		return nil, err
	}
	km, err := byok.NewKeyMaterial(priv)
	if err != nil {
		return nil, err
	}
	defer km.Destroy()
	return km.Bytes(), nil
}
