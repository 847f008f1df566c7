package byok

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
	"encoding/asn1"
	"fmt"
	"hash"
)

// maxPBKDF2Iterations bounds the work a key file can ask for. OpenSSL
// writes 2048 iterations; ten million takes seconds.
var maxPBKDF2Iterations = 10_000_000

var (
	oidPBES2  = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 13}
	oidPBKDF2 = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 12}
	oidScrypt = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 11591, 4, 11}
	oidPBES1  = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5}     // pbeWith... (PKCS#5 v1.5)
	oidPKCS12 = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 12, 1} // pbeWith... (PKCS#12)
	oidDESEDE = asn1.ObjectIdentifier{1, 2, 840, 113549, 3, 7}
)

// The PBKDF2 pseudo-random functions byok implements (RFC 8018 B.1).
var pbkdf2PRFs = []struct {
	oid  asn1.ObjectIdentifier
	name string
	h    func() hash.Hash
}{
	{asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 7}, "HMAC-SHA-1", sha1.New},
	{asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 8}, "HMAC-SHA-224", sha256.New224},
	{asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 9}, "HMAC-SHA-256", sha256.New},
	{asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 10}, "HMAC-SHA-384", sha512.New384},
	{asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 11}, "HMAC-SHA-512", sha512.New},
}

// The PBES2 ciphers byok implements: AES-CBC, by key length.
var pbes2Ciphers = []struct {
	oid    asn1.ObjectIdentifier
	keyLen int
}{
	{asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 2}, 16},
	{asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 22}, 24},
	{asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 42}, 32},
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
	return fmt.Errorf("%w: the encrypted PKCS#8 key is malformed (%s); re-export the key from its source", ErrInvalidMaterial, what)
}

func wrongPassphraseError() error {
	return fmt.Errorf("%w: the encrypted key did not decrypt with the passphrase given; check the passphrase (or the file is corrupt)", ErrWrongPassphrase)
}

// readOID reads an OBJECT IDENTIFIER element.
func (r *derReader) readOID() (asn1.ObjectIdentifier, error) {
	t, _, full, err := r.next()
	if err != nil {
		return nil, err
	}
	if t != tagOID {
		return nil, fmt.Errorf("expected OBJECT IDENTIFIER, found %s", tagName(t))
	}
	var oid asn1.ObjectIdentifier
	if rest, err := asn1.Unmarshal(full, &oid); err != nil || len(rest) != 0 {
		return nil, fmt.Errorf("malformed OBJECT IDENTIFIER")
	}
	return oid, nil
}

// hasPrefix reports whether oid starts with prefix.
func hasPrefix(oid, prefix asn1.ObjectIdentifier) bool {
	return len(oid) > len(prefix) && prefix.Equal(oid[:len(prefix)])
}

// parseEncryptedPKCS8 decodes an EncryptedPrivateKeyInfo, refusing every
// scheme but PBES2 with PBKDF2 and AES-CBC.
func parseEncryptedPKCS8(der []byte) (*pbes2Params, []byte, error) {
	r := derReader{der}
	seq, err := r.read(tagSequence)
	if err != nil {
		return nil, nil, derError("the EncryptedPrivateKeyInfo", err)
	}
	if !r.empty() {
		return nil, nil, trailingError("the EncryptedPrivateKeyInfo")
	}
	s := derReader{seq}
	alg, err := s.read(tagSequence)
	if err != nil {
		return nil, nil, derError("the encryption algorithm", err)
	}
	data, err := s.read(tagOctetString)
	if err != nil {
		return nil, nil, derError("the encrypted data", err)
	}
	if !s.empty() {
		return nil, nil, trailingError("the encrypted data")
	}

	a := derReader{alg}
	oid, err := a.readOID()
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
	params, err := a.read(tagSequence)
	if err != nil || !a.empty() {
		return nil, nil, corruptEncrypted("PBES2 parameters")
	}
	p := derReader{params}
	kdf, err := p.read(tagSequence)
	if err != nil {
		return nil, nil, corruptEncrypted("key derivation function")
	}
	enc, err := p.read(tagSequence)
	if err != nil || !p.empty() {
		return nil, nil, corruptEncrypted("encryption scheme")
	}

	var out pbes2Params
	k := derReader{kdf}
	switch oid, err := k.readOID(); {
	case err != nil:
		return nil, nil, corruptEncrypted("key derivation function")
	case oid.Equal(oidScrypt):
		return nil, nil, unsupportedEncryption("PBES2 with scrypt")
	case !oid.Equal(oidPBKDF2):
		return nil, nil, unsupportedEncryption("PBES2 with an unknown key derivation function (" + oid.String() + ")")
	}
	kp, err := k.read(tagSequence)
	if err != nil || !k.empty() {
		return nil, nil, corruptEncrypted("PBKDF2 parameters")
	}
	kr := derReader{kp}
	if t, _ := kr.peek(); t != tagOctetString {
		return nil, nil, unsupportedEncryption("PBKDF2 with a salt from another source")
	}
	out.salt, _ = kr.read(tagOctetString)
	if out.iter, err = kr.readSmallIntN(4); err != nil || out.iter < 1 {
		return nil, nil, corruptEncrypted("PBKDF2 iteration count")
	}
	if out.iter > maxPBKDF2Iterations {
		return nil, nil, unsupportedEncryption(fmt.Sprintf("PBKDF2 with %d iterations, more than byok allows (%d)", out.iter, maxPBKDF2Iterations))
	}
	keyLen := 0
	if t, _ := kr.peek(); t == tagInteger {
		if keyLen, err = kr.readSmallIntN(2); err != nil {
			return nil, nil, corruptEncrypted("PBKDF2 key length")
		}
	}
	out.prf = sha1.New // the default, hmacWithSHA1
	if t, ok := kr.peek(); ok && t == tagSequence {
		prf, _ := kr.read(tagSequence)
		pr := derReader{prf}
		oid, err := pr.readOID()
		if err != nil {
			return nil, nil, corruptEncrypted("PBKDF2 pseudo-random function")
		}
		if !pr.empty() {
			if c, err := pr.read(tagNull); err != nil || len(c) != 0 || !pr.empty() {
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
	if !kr.empty() {
		return nil, nil, corruptEncrypted("PBKDF2 parameters")
	}

	e := derReader{enc}
	eoid, err := e.readOID()
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
	if out.iv, err = e.read(tagOctetString); err != nil || len(out.iv) != aes.BlockSize || !e.empty() {
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

// readSmallIntN reads a non-negative INTEGER of at most n bytes (n ≤ 4).
func (r *derReader) readSmallIntN(n int) (int, error) {
	c, err := r.read(tagInteger)
	if err != nil {
		return 0, err
	}
	mag, err := derUnsigned(c)
	if err != nil {
		return 0, err
	}
	if len(mag) > n || len(mag) == 4 && mag[0]&0x80 != 0 {
		return 0, fmt.Errorf("integer too large")
	}
	v := 0
	for _, b := range mag {
		v = v<<8 | int(b)
	}
	return v, nil
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
