package hsmtest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"encoding/asn1"
	"fmt"
	"math/big"

	"github.com/byok-go/byok/hsm"
	"github.com/decred/dcrd/dcrec/secp256k1/v4"
	"github.com/miekg/pkcs11"
)

// KeyOptions say how ImportSecret and ImportPrivate make a key object. The
// zero value makes an extractable, sensitive session key that can sign.
type KeyOptions struct {
	// Label and ID are CKA_LABEL and CKA_ID.
	Label string
	ID    []byte
	// Token makes a token object (CKA_TOKEN=true) instead of a session object.
	Token bool
	// NotExtractable sets CKA_EXTRACTABLE=false (a key that cannot be migrated).
	NotExtractable bool
	// NoSign sets CKA_SIGN=false.
	NoSign bool
}

func (o KeyOptions) common() []*pkcs11.Attribute {
	a := []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_TOKEN, o.Token),
		pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, true),
		pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, true),
		pkcs11.NewAttribute(pkcs11.CKA_EXTRACTABLE, !o.NotExtractable),
		pkcs11.NewAttribute(pkcs11.CKA_SIGN, !o.NoSign),
	}
	if o.Label != "" {
		a = append(a, pkcs11.NewAttribute(pkcs11.CKA_LABEL, o.Label))
	}
	if len(o.ID) > 0 {
		a = append(a, pkcs11.NewAttribute(pkcs11.CKA_ID, o.ID))
	}
	return a
}

// ImportSecret creates a secret key of type keyType (CKK_AES,
// CKK_GENERIC_SECRET, CKK_SHA256_HMAC, …) with the given value
// (C_CreateObject), so that a test knows its plaintext.
func ImportSecret(api hsm.PKCS11, sh pkcs11.SessionHandle, keyType uint, value []byte, o KeyOptions) (pkcs11.ObjectHandle, error) {
	tmpl := append(o.common(),
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_SECRET_KEY),
		pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, keyType),
		pkcs11.NewAttribute(pkcs11.CKA_VALUE, value),
	)
	if keyType == pkcs11.CKK_AES {
		tmpl = append(tmpl, pkcs11.NewAttribute(pkcs11.CKA_ENCRYPT, true), pkcs11.NewAttribute(pkcs11.CKA_DECRYPT, true))
	}
	h, err := api.CreateObject(sh, tmpl)
	if err != nil {
		return 0, fmt.Errorf("hsmtest: creating a secret key: %w", err)
	}
	return h, nil
}

// ImportPrivate creates a private key object from a Go key — *rsa.PrivateKey,
// *ecdsa.PrivateKey on a NIST curve, or *secp256k1.PrivateKey — and, for EC
// keys, the public key object with the same CKA_ID and label (PKCS#11
// private EC key objects do not carry the public point). It returns the
// private key's handle.
func ImportPrivate(api hsm.PKCS11, sh pkcs11.SessionHandle, key crypto.PrivateKey, o KeyOptions) (pkcs11.ObjectHandle, error) {
	priv := append(o.common(), pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_PRIVATE_KEY))
	var pub []*pkcs11.Attribute
	switch k := key.(type) {
	case *rsa.PrivateKey:
		if len(k.Primes) != 2 {
			return 0, fmt.Errorf("hsmtest: a %d-prime RSA key", len(k.Primes))
		}
		k.Precompute()
		priv = append(priv,
			pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_RSA),
			pkcs11.NewAttribute(pkcs11.CKA_DECRYPT, true),
			pkcs11.NewAttribute(pkcs11.CKA_MODULUS, k.N.Bytes()),
			pkcs11.NewAttribute(pkcs11.CKA_PUBLIC_EXPONENT, big.NewInt(int64(k.E)).Bytes()),
			pkcs11.NewAttribute(pkcs11.CKA_PRIVATE_EXPONENT, k.D.Bytes()),
			pkcs11.NewAttribute(pkcs11.CKA_PRIME_1, k.Primes[0].Bytes()),
			pkcs11.NewAttribute(pkcs11.CKA_PRIME_2, k.Primes[1].Bytes()),
			pkcs11.NewAttribute(pkcs11.CKA_EXPONENT_1, k.Precomputed.Dp.Bytes()),
			pkcs11.NewAttribute(pkcs11.CKA_EXPONENT_2, k.Precomputed.Dq.Bytes()),
			pkcs11.NewAttribute(pkcs11.CKA_COEFFICIENT, k.Precomputed.Qinv.Bytes()),
		)
	case *ecdsa.PrivateKey:
		params, err := hsm.ECParams(k.Curve.Params().Name)
		if err != nil {
			return 0, err
		}
		d, err := k.Bytes()
		if err != nil {
			return 0, err
		}
		point, err := k.PublicKey.Bytes()
		if err != nil {
			return 0, err
		}
		priv = append(priv, pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_EC),
			pkcs11.NewAttribute(pkcs11.CKA_EC_PARAMS, params), pkcs11.NewAttribute(pkcs11.CKA_VALUE, d))
		pub = ecPublic(o, params, point)
	case *secp256k1.PrivateKey:
		params, _ := hsm.ECParams("secp256k1")
		priv = append(priv, pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_EC),
			pkcs11.NewAttribute(pkcs11.CKA_EC_PARAMS, params), pkcs11.NewAttribute(pkcs11.CKA_VALUE, k.Serialize()))
		pub = ecPublic(o, params, k.PubKey().SerializeUncompressed())
	default:
		return 0, fmt.Errorf("hsmtest: cannot import a %T", key)
	}
	h, err := api.CreateObject(sh, priv)
	if err != nil {
		return 0, fmt.Errorf("hsmtest: creating a private key: %w", err)
	}
	if pub != nil {
		if _, err := api.CreateObject(sh, pub); err != nil {
			api.DestroyObject(sh, h)
			return 0, fmt.Errorf("hsmtest: creating the public key: %w", err)
		}
	}
	return h, nil
}

func ecPublic(o KeyOptions, params, point []byte) []*pkcs11.Attribute {
	der, _ := asn1.Marshal(point)
	a := []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_PUBLIC_KEY),
		pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_EC),
		pkcs11.NewAttribute(pkcs11.CKA_TOKEN, o.Token),
		pkcs11.NewAttribute(pkcs11.CKA_VERIFY, true),
		pkcs11.NewAttribute(pkcs11.CKA_EC_PARAMS, params),
		pkcs11.NewAttribute(pkcs11.CKA_EC_POINT, der),
	}
	if o.Label != "" {
		a = append(a, pkcs11.NewAttribute(pkcs11.CKA_LABEL, o.Label))
	}
	if len(o.ID) > 0 {
		a = append(a, pkcs11.NewAttribute(pkcs11.CKA_ID, o.ID))
	}
	return a
}
