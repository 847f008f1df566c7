package keyfile

// Encrypted PKCS#8 (RFC 5208 EncryptedPrivateKeyInfo, RFC 8018 PBES2): the
// form `openssl pkcs8 -topk8 -v2 aes-256-cbc` and `openssl genpkey -aes-256-cbc`
// write. byok implements PBES2 with PBKDF2 and AES-CBC, which covers OpenSSL
// 3's defaults, and refuses the rest with the command that converts them.

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/pbkdf2"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	encasn1 "encoding/asn1"
	"fmt"
	"hash"

	"golang.org/x/crypto/cryptobyte"
	"golang.org/x/crypto/cryptobyte/asn1"
)

// MaxPBKDF2Iterations bounds the work a key file can ask for. OpenSSL
// writes 2048 iterations; ten million takes seconds. Tests lower it.
var MaxPBKDF2Iterations = 10_000_000

var (
	oidPBES2  = encasn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 13}
	oidPBKDF2 = encasn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 12}
	oidScrypt = encasn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 11591, 4, 11}
	oidPBES1  = encasn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5}     // pbeWith... (PKCS#5 v1.5)
	oidPKCS12 = encasn1.ObjectIdentifier{1, 2, 840, 113549, 1, 12, 1} // pbeWith... (PKCS#12)
	oidDESEDE = encasn1.ObjectIdentifier{1, 2, 840, 113549, 3, 7}
)

// The PBKDF2 pseudo-random functions byok implements (RFC 8018 B.1).
var pbkdf2PRFs = []struct {
	oid  encasn1.ObjectIdentifier
	name string
	h    func() hash.Hash
}{
	{encasn1.ObjectIdentifier{1, 2, 840, 113549, 2, 7}, "HMAC-SHA-1", sha1.New},
	{encasn1.ObjectIdentifier{1, 2, 840, 113549, 2, 8}, "HMAC-SHA-224", sha256.New224},
	{encasn1.ObjectIdentifier{1, 2, 840, 113549, 2, 9}, "HMAC-SHA-256", sha256.New},
	{encasn1.ObjectIdentifier{1, 2, 840, 113549, 2, 10}, "HMAC-SHA-384", sha512.New384},
	{encasn1.ObjectIdentifier{1, 2, 840, 113549, 2, 11}, "HMAC-SHA-512", sha512.New},
}

// The PBES2 ciphers byok implements: AES-CBC, by key length.
var pbes2Ciphers = []struct {
	oid    encasn1.ObjectIdentifier
	keyLen int
}{
	{encasn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 2}, 16},
	{encasn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 22}, 24},
	{encasn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 42}, 32},
}

// pbes2Params is a decoded PBES2-params with PBKDF2 and AES-CBC.
type pbes2Params struct {
	salt   []byte
	iter   int
	prf    func() hash.Hash
	keyLen int // the AES key length
	iv     []byte
}

const convertEncrypted = "convert it with `openssl pkcs8 -topk8 -v2 aes-256-cbc -in key.pem -out key-aes.pem`"

func unsupportedEncryption(what string) error {
	return fmt.Errorf("%w: the key is encrypted with %s, which byok does not implement (it reads PBES2 with PBKDF2 and AES-CBC); %s", ErrUnsupportedEncryption, what, convertEncrypted)
}

func corruptEncrypted(what string) error {
	return fmt.Errorf("%w: the encrypted PKCS#8 key is malformed (%s); re-export the key from its source", ErrInvalid, what)
}

func wrongPassphraseError() error {
	return fmt.Errorf("%w: the encrypted key did not decrypt with the passphrase given; check the passphrase (or the file is corrupt)", ErrWrongPassphrase)
}

// hasPrefix reports whether oid starts with prefix.
func hasPrefix(oid, prefix encasn1.ObjectIdentifier) bool {
	return len(oid) > len(prefix) && prefix.Equal(oid[:len(prefix)])
}

// parseEncryptedPKCS8 decodes an EncryptedPrivateKeyInfo, refusing every
// scheme but PBES2 with PBKDF2 and AES-CBC.
func parseEncryptedPKCS8(der []byte) (*pbes2Params, []byte, error) {
	r := cryptobyte.String(der)
	body, err := read(&r, asn1.SEQUENCE)
	if err != nil {
		return nil, nil, derError("the EncryptedPrivateKeyInfo", err)
	}
	if !r.Empty() {
		return nil, nil, trailingError("the EncryptedPrivateKeyInfo")
	}
	s := cryptobyte.String(body)
	alg, err := read(&s, asn1.SEQUENCE)
	if err != nil {
		return nil, nil, derError("the encryption algorithm", err)
	}
	data, err := read(&s, asn1.OCTET_STRING)
	if err != nil {
		return nil, nil, derError("the encrypted data", err)
	}
	if !s.Empty() {
		return nil, nil, trailingError("the encrypted data")
	}

	a := cryptobyte.String(alg)
	oid, err := readOID(&a)
	if err != nil {
		return nil, nil, derError("the encryption algorithm", err)
	}
	switch {
	case oid.Equal(oidPBES2):
	case oid.Equal(oidScrypt):
		return nil, nil, unsupportedEncryption("scrypt")
	case hasPrefix(oid, oidPBES1), hasPrefix(oid, oidPKCS12):
		return nil, nil, unsupportedEncryption("PBES1 (" + oid.String() + ")")
	default:
		return nil, nil, unsupportedEncryption("an unknown scheme (" + oid.String() + ")")
	}
	params, err := read(&a, asn1.SEQUENCE)
	if err != nil || !a.Empty() {
		return nil, nil, corruptEncrypted("PBES2 parameters")
	}
	p := cryptobyte.String(params)
	kdf, err := read(&p, asn1.SEQUENCE)
	if err != nil {
		return nil, nil, corruptEncrypted("key derivation function")
	}
	enc, err := read(&p, asn1.SEQUENCE)
	if err != nil || !p.Empty() {
		return nil, nil, corruptEncrypted("encryption scheme")
	}

	var out pbes2Params
	k := cryptobyte.String(kdf)
	switch oid, err := readOID(&k); {
	case err != nil:
		return nil, nil, corruptEncrypted("key derivation function")
	case oid.Equal(oidScrypt):
		return nil, nil, unsupportedEncryption("PBES2 with scrypt")
	case !oid.Equal(oidPBKDF2):
		return nil, nil, unsupportedEncryption("PBES2 with an unknown key derivation function (" + oid.String() + ")")
	}
	kp, err := read(&k, asn1.SEQUENCE)
	if err != nil || !k.Empty() {
		return nil, nil, corruptEncrypted("PBKDF2 parameters")
	}
	kr := cryptobyte.String(kp)
	if !peekIs(kr, asn1.OCTET_STRING) {
		return nil, nil, unsupportedEncryption("PBKDF2 with a salt from another source")
	}
	out.salt, _ = read(&kr, asn1.OCTET_STRING)
	if out.iter, err = readSmallInt(&kr, 4); err != nil || out.iter < 1 {
		return nil, nil, corruptEncrypted("PBKDF2 iteration count")
	}
	if out.iter > MaxPBKDF2Iterations {
		return nil, nil, unsupportedEncryption(fmt.Sprintf("PBKDF2 with %d iterations, more than byok allows (%d)", out.iter, MaxPBKDF2Iterations))
	}
	keyLen := 0
	if peekIs(kr, asn1.INTEGER) {
		if keyLen, err = readSmallInt(&kr, 2); err != nil {
			return nil, nil, corruptEncrypted("PBKDF2 key length")
		}
	}
	out.prf = sha1.New // the default, hmacWithSHA1
	if peekIs(kr, asn1.SEQUENCE) {
		prf, _ := read(&kr, asn1.SEQUENCE)
		pr := cryptobyte.String(prf)
		oid, err := readOID(&pr)
		if err != nil {
			return nil, nil, corruptEncrypted("PBKDF2 pseudo-random function")
		}
		if !pr.Empty() {
			if c, err := read(&pr, asn1.NULL); err != nil || len(c) != 0 || !pr.Empty() {
				return nil, nil, corruptEncrypted("PBKDF2 pseudo-random function parameters")
			}
		}
		out.prf = nil
		for _, f := range pbkdf2PRFs {
			if f.oid.Equal(oid) {
				out.prf = f.h
			}
		}
		if out.prf == nil {
			return nil, nil, unsupportedEncryption("PBKDF2 with the pseudo-random function " + oid.String())
		}
	}
	if !kr.Empty() {
		return nil, nil, corruptEncrypted("PBKDF2 parameters")
	}

	e := cryptobyte.String(enc)
	eoid, err := readOID(&e)
	if err != nil {
		return nil, nil, corruptEncrypted("encryption scheme")
	}
	for _, c := range pbes2Ciphers {
		if c.oid.Equal(eoid) {
			out.keyLen = c.keyLen
		}
	}
	if out.keyLen == 0 {
		if eoid.Equal(oidDESEDE) {
			return nil, nil, unsupportedEncryption("PBES2 with 3DES-CBC")
		}
		return nil, nil, unsupportedEncryption("PBES2 with the cipher " + eoid.String())
	}
	if out.iv, err = read(&e, asn1.OCTET_STRING); err != nil || len(out.iv) != aes.BlockSize || !e.Empty() {
		return nil, nil, corruptEncrypted("AES-CBC IV")
	}
	if keyLen != 0 && keyLen != out.keyLen {
		return nil, nil, corruptEncrypted("PBKDF2 key length does not match the cipher")
	}
	if len(data) == 0 || len(data)%aes.BlockSize != 0 {
		return nil, nil, corruptEncrypted("the encrypted data is not whole AES blocks")
	}
	return &out, data, nil
}

// decryptPKCS8 decrypts an EncryptedPrivateKeyInfo with passphrase and
// returns the PKCS#8 DER inside; the caller clears it. A nil passphrase gets
// ErrEncrypted (after the scheme was checked, so that an unsupported scheme
// is reported first).
func decryptPKCS8(der, passphrase []byte) ([]byte, error) {
	p, data, err := parseEncryptedPKCS8(der)
	if err != nil {
		return nil, err
	}
	if passphrase == nil {
		return nil, fmt.Errorf("%w: the key is encrypted PKCS#8 and no passphrase was given; give the key's passphrase", ErrEncrypted)
	}
	// pbkdf2.Key takes the passphrase as a string: that copy cannot be
	// cleared (best effort).
	key, err := pbkdf2.Key(p.prf, string(passphrase), p.salt, p.iter, p.keyLen)
	if err != nil {
		return nil, fmt.Errorf("%w: deriving the key-encryption key failed (%v); re-encrypt the key with `openssl pkcs8 -topk8 -v2 aes-256-cbc`", ErrUnsupportedEncryption, err)
	}
	defer clear(key)
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("byok: internal error: %v", err)
	}
	plain := make([]byte, len(data))
	cipher.NewCBCDecrypter(block, p.iv).CryptBlocks(plain, data)
	pad := int(plain[len(plain)-1])
	ok := pad >= 1 && pad <= aes.BlockSize
	if ok {
		for _, b := range plain[len(plain)-pad:] {
			ok = ok && int(b) == pad
		}
	}
	if !ok {
		clear(plain)
		return nil, wrongPassphraseError()
	}
	clear(plain[len(plain)-pad:])
	return plain[:len(plain)-pad], nil
}

// loadEncrypted decrypts an EncryptedPrivateKeyInfo and parses the PKCS#8
// key inside.
func loadEncrypted(der []byte, opts Options) (*Key, error) {
	plain, err := decryptPKCS8(der, opts.Passphrase)
	if err != nil {
		return nil, err
	}
	defer clear(plain)
	// A wrong passphrase passes the padding check once in ~256 tries; what
	// comes out is then not PKCS#8.
	if form, _ := classify(plain); form != formPKCS8 {
		return nil, wrongPassphraseError()
	}
	return ParsePKCS8(plain, opts.Spec, false)
}
