// Package keyfile reads private and secret keys in the encodings key files
// use (PEM, DER, PKCS#8, encrypted PKCS#8, PKCS#1, SEC 1, PKCS#12, raw, hex
// and base64) and encodes them in the form AWS KMS imports. DER is read with
// golang.org/x/crypto/cryptobyte, strictly: definite minimal lengths, no
// trailing data at any level.
//
// It is byok's parser: the root package's LoadKeyFile, ParseKeyMaterial and
// NewKeyMaterial are thin wrappers that turn a Key into a KeyMaterial and
// map this package's sentinels onto byok's.
package keyfile

import (
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"fmt"
	"math/big"

	"github.com/decred/dcrd/dcrec/secp256k1/v4"
	"golang.org/x/crypto/cryptobyte"
	"golang.org/x/crypto/cryptobyte/asn1"
)

// Key is a decoded RSA or EC private key. Clear it when done.
type Key struct {
	rsa      *rsa.PrivateKey
	ec       *ecKey
	borrowed bool // rsa shares its numbers with the caller's key: do not clear
}

// Spec returns the KMS key spec of k ("RSA_2048", "ECC_NIST_P256", ...), or
// "" for an RSA key of another size.
func (k *Key) Spec() string {
	if k.ec != nil {
		return k.ec.curve.Spec
	}
	switch k.rsa.N.BitLen() {
	case 2048:
		return "RSA_2048"
	case 3072:
		return "RSA_3072"
	case 4096:
		return "RSA_4096"
	}
	return ""
}

// Clear zeroes the private numbers of a key byok decoded (best effort:
// crypto/rsa keeps copies of its own).
func (k *Key) Clear() {
	if k == nil {
		return
	}
	k.ec.clear()
	if k.rsa != nil && !k.borrowed {
		for _, x := range append([]*big.Int{k.rsa.D, k.rsa.Precomputed.Dp, k.rsa.Precomputed.Dq, k.rsa.Precomputed.Qinv}, k.rsa.Primes...) {
			if x != nil {
				clear(x.Bits())
			}
		}
	}
}

// PKCS8 encodes k in the form KMS imports: PKCS#8 DER, version 0, with
// NULL rsaEncryption parameters or id-ecPublicKey and the named curve,
// around a two-prime RSAPrivateKey or an ECPrivateKey with the full-length
// scalar and the uncompressed public key. The intermediate buffers are
// cleared; the caller owns (and clears) the result.
func (k *Key) PKCS8() []byte {
	if k.ec != nil {
		return k.ec.pkcs8()
	}
	inner := x509.MarshalPKCS1PrivateKey(k.rsa)
	defer clear(inner)
	return build(len(inner)+32, func(b *cryptobyte.Builder) {
		b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1Int64(0)
			b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
				b.AddASN1ObjectIdentifier(oidRSAEncryption)
				b.AddASN1NULL()
			})
			b.AddASN1OctetString(inner)
		})
	})
}

// PublicDER returns the key's SubjectPublicKeyInfo (DER).
func (k *Key) PublicDER() ([]byte, error) {
	if k.ec != nil {
		return k.ec.spki(), nil
	}
	return x509.MarshalPKIXPublicKey(&k.rsa.PublicKey)
}

// FromPrivateKey takes an in-memory private key: *rsa.PrivateKey (two
// primes, 2048, 3072 or 4096 bits), *ecdsa.PrivateKey (P-256, P-384, P-521,
// or secp256k1 through an elliptic.Curve such as decred's S256),
// *ecdh.PrivateKey (P-256, P-384, P-521) and *secp256k1.PrivateKey from
// github.com/decred/dcrd/dcrec/secp256k1/v4. The key is checked (its public
// half must match its private half) and not modified.
func FromPrivateKey(key crypto.PrivateKey) (*Key, error) {
	switch k := key.(type) {
	case *rsa.PrivateKey:
		if k == nil {
			break
		}
		if k.N == nil || k.D == nil {
			return nil, fmt.Errorf("%w: the RSA private key has no modulus or no private exponent (N or D is nil); pass a complete key, e.g. from rsa.GenerateKey or x509.ParsePKCS8PrivateKey", ErrInvalid)
		}
		if len(k.Primes) != 2 {
			return nil, fmt.Errorf("%w: an RSA key with %d primes; KMS imports two-prime RSA keys only: generate one with rsa.GenerateKey", ErrUnsupportedKey, len(k.Primes))
		}
		if bits := k.N.BitLen(); bits != 2048 && bits != 3072 && bits != 4096 {
			return nil, fmt.Errorf("%w: a %d-bit RSA key; KMS imports RSA keys of 2048, 3072 or 4096 bits only: generate one, e.g. rsa.GenerateKey(rand.Reader, 3072)", ErrUnsupportedKey, bits)
		}
		c := *k // Validate and marshalling fill in Precomputed: not in the caller's key
		if err := c.Validate(); err != nil {
			return nil, fmt.Errorf("%w: the RSA private key is invalid (%v); check how it was built", ErrInvalid, err)
		}
		return &Key{rsa: &c, borrowed: true}, nil
	case *ecdsa.PrivateKey:
		if k == nil {
			break
		}
		//nolint:staticcheck // D, X and Y are checked, not used, here
		if k.Curve == nil || k.D == nil || k.X == nil || k.Y == nil {
			return nil, fmt.Errorf("%w: the ECDSA private key is incomplete (its Curve, D, X or Y is nil); pass a complete key, e.g. from ecdsa.GenerateKey or x509.ParsePKCS8PrivateKey", ErrInvalid)
		}
		return fromECDSA(k)
	case *ecdh.PrivateKey:
		if k == nil {
			break
		}
		for _, c := range curves {
			if c.ecdh != nil && c.ecdh == k.Curve() {
				d := k.Bytes()
				defer clear(d)
				return newEC(c, d, k.PublicKey().Bytes())
			}
		}
		return nil, fmt.Errorf("%w: an X25519 private key; KMS has no X25519 key spec: for KEY_AGREEMENT use an ECDH key on P-256, P-384 or P-521", ErrUnsupportedKey)
	case *secp256k1.PrivateKey:
		if k == nil {
			break
		}
		return fromSecp256k1(k)
	case ed25519.PrivateKey, *ed25519.PrivateKey:
		return nil, ed25519Error()
	case nil:
		return nil, fmt.Errorf("%w: the private key is nil; pass a key", ErrInvalid)
	default:
		return nil, fmt.Errorf("%w: a %T, which NewKeyMaterial does not take; pass an *rsa.PrivateKey, *ecdsa.PrivateKey, *ecdh.PrivateKey or *secp256k1.PrivateKey (for a key that does not expose its bytes, such as an HSM key, use that key store's export)", ErrInvalid, key)
	}
	return nil, fmt.Errorf("%w: the private key is nil; pass a key", ErrInvalid)
}

// fromECDSA handles *ecdsa.PrivateKey on the NIST curves and, through a
// custom elliptic.Curve, secp256k1.
func fromECDSA(k *ecdsa.PrivateKey) (*Key, error) {
	for _, c := range curves {
		if c.nist == nil || c.nist != k.Curve {
			continue
		}
		d, err := k.Bytes()
		if err != nil {
			return nil, fmt.Errorf("%w: the %s private key is invalid; check how it was built", ErrInvalid, c.Name)
		}
		defer clear(d)
		pub, err := k.PublicKey.Bytes()
		if err != nil {
			return nil, fmt.Errorf("%w: the %s public key is invalid; check how the key was built", ErrInvalid, c.Name)
		}
		return newEC(c, d, pub)
	}
	p := k.Curve.Params()
	if isSecp256k1(p) {
		return fromECDSASecp256k1(k)
	}
	name := "a custom curve"
	if p != nil && p.Name != "" {
		name = p.Name
	}
	if k.Curve == elliptic.P224() {
		name = "P-224"
	}
	return nil, fmt.Errorf("%w: an ECDSA key on %s; KMS imports EC keys on P-256, P-384, P-521 and secp256k1 only: generate one, e.g. ecdsa.GenerateKey(elliptic.P256(), rand.Reader)", ErrUnsupportedKey, name)
}
