package keyfile

// PKCS#1 RSAPrivateKey (RFC 8017 A.1.2), alone ("RSA PRIVATE KEY") or
// inside PKCS#8.

import (
	"crypto/rsa"
	"fmt"
	"math/big"

	"golang.org/x/crypto/cryptobyte"
	"golang.org/x/crypto/cryptobyte/asn1"
)

// parsePKCS1 decodes a PKCS#1 RSAPrivateKey: two primes, a modulus of
// 2048, 3072 or 4096 bits, consistent CRT values, nothing after them.
// PKCS#1 has a single DER encoding, so strict and lenient readers agree.
func parsePKCS1(der []byte) (*Key, error) {
	r := cryptobyte.String(der)
	body, err := read(&r, asn1.SEQUENCE)
	if err != nil {
		return nil, derError("the PKCS#1 RSAPrivateKey", err)
	}
	if !r.Empty() {
		return nil, trailingError("the PKCS#1 RSAPrivateKey")
	}
	s := cryptobyte.String(body)
	switch v, err := version(&s); {
	case err != nil:
		return nil, derError("the RSAPrivateKey version", err)
	case v == 1:
		return nil, fmt.Errorf("%w: a multi-prime RSA key (PKCS#1 version 1, more than two primes); KMS imports two-prime RSA keys only: generate a new key, e.g. `openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:3072`", ErrUnsupportedKey)
	case v != 0:
		return nil, fmt.Errorf("%w: RSAPrivateKey version %d, want 0; the key is corrupt: re-export it from its source", ErrInvalid, v)
	}
	names := [...]string{"modulus", "public exponent", "private exponent", "prime p", "prime q", "exponent dP", "exponent dQ", "coefficient qInv"}
	var vals [len(names)]*big.Int
	cleanup := func() {
		for _, x := range vals[2:] {
			if x != nil {
				clear(x.Bits())
			}
		}
	}
	for i, name := range names {
		c, err := read(&s, asn1.INTEGER)
		if err != nil {
			cleanup()
			return nil, derError("the RSA "+name, err)
		}
		mag, err := positive(c)
		if err != nil {
			cleanup()
			return nil, derError("the RSA "+name, err)
		}
		vals[i] = new(big.Int).SetBytes(mag)
	}
	if !s.Empty() {
		cleanup()
		return nil, trailingError("the RSA key's coefficient qInv")
	}
	n, e := vals[0], vals[1]
	if bits := n.BitLen(); bits != 2048 && bits != 3072 && bits != 4096 {
		cleanup()
		return nil, fmt.Errorf("%w: a %d-bit RSA key; KMS imports RSA keys of 2048, 3072 or 4096 bits only: generate one, e.g. `openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:3072`", ErrUnsupportedKey, bits)
	}
	if !e.IsInt64() || e.Int64() > 1<<31-1 {
		cleanup()
		return nil, fmt.Errorf("%w: the RSA public exponent is too large; the key is corrupt or unusual: generate a key with e = 65537", ErrInvalid)
	}
	key := &rsa.PrivateKey{
		PublicKey:   rsa.PublicKey{N: n, E: int(e.Int64())},
		D:           vals[2],
		Primes:      []*big.Int{vals[3], vals[4]},
		Precomputed: rsa.PrecomputedValues{Dp: vals[5], Dq: vals[6], Qinv: vals[7]},
	}
	if err := key.Validate(); err != nil {
		cleanup()
		return nil, fmt.Errorf("%w: the RSA private key is inconsistent (%v); the key is corrupt: re-export it from its source", ErrInvalid, err)
	}
	return &Key{rsa: key}, nil
}
