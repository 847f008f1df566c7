package keyfile

// PKCS#12 (.p12, .pfx) files holding one private key and its certificates,
// decoded by software.sslmate.com/src/go-pkcs12.

import (
	"crypto/x509"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/cryptobyte"
	"golang.org/x/crypto/cryptobyte/asn1"
	"software.sslmate.com/src/go-pkcs12"
)

// isPFX reports whether der starts like a PKCS#12 PFX: version 3 then the
// authSafe ContentInfo. PKCS#8 versions are 0 and 1.
func isPFX(der []byte) bool {
	r := cryptobyte.String(der)
	body, err := read(&r, asn1.SEQUENCE)
	if err != nil {
		return false
	}
	s := cryptobyte.String(body)
	v, err := version(&s)
	return err == nil && v == 3 && peekIs(s, asn1.SEQUENCE)
}

// loadPKCS12 reads a PKCS#12 file (.p12, .pfx) holding one private key and
// its certificate(s), with opts.Passphrase. A file that is not protected
// (empty password, as `openssl pkcs12 -export -passout pass:` writes it)
// opens without one; otherwise a nil Passphrase gives ErrEncrypted.
//
// Decoding is done by software.sslmate.com/src/go-pkcs12, which parses the
// key with crypto/x509: secp256k1 keys in PKCS#12 files are not readable
// (export them as encrypted PKCS#8). The passphrase and the decrypted key
// pass through that library's memory, which byok cannot clear.
func loadPKCS12(der []byte, opts Options) (*Key, error) {
	key, cert, chain, err := pkcs12.DecodeChain(der, string(opts.Passphrase))
	if err != nil {
		return nil, pkcs12Error(err, opts.Passphrase == nil)
	}
	der8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("%w: the PKCS#12 file holds a %T, which byok cannot read; KMS imports RSA and EC keys", ErrUnsupportedKey, key)
	}
	defer clear(der8)
	k, err := ParsePKCS8(der8, opts.Spec, false)
	if err != nil {
		return nil, err
	}
	certs := [][]byte{cert.Raw}
	for _, c := range chain {
		certs = append(certs, c.Raw)
	}
	if err := k.matchCertificate(certs, "the PKCS#12 file"); err != nil {
		k.Clear()
		return nil, err
	}
	return k, nil
}

// pkcs12Error explains a go-pkcs12 error in byok's terms.
func pkcs12Error(err error, noPassphrase bool) error {
	msg := err.Error()
	var ni pkcs12.NotImplementedError
	switch {
	case errors.Is(err, pkcs12.ErrIncorrectPassword) && noPassphrase:
		return fmt.Errorf("%w: the key file is PKCS#12 (.p12/.pfx), protected by a passphrase, and none was given; give the file's passphrase", ErrEncrypted)
	case errors.Is(err, pkcs12.ErrIncorrectPassword):
		return fmt.Errorf("%w: the PKCS#12 file did not open with the passphrase given; check the passphrase (or the file is corrupt)", ErrWrongPassphrase)
	case errors.Is(err, pkcs12.ErrDecryption):
		return fmt.Errorf("%w: the PKCS#12 file did not decrypt with the passphrase given; check the passphrase (or the file is corrupt)", ErrWrongPassphrase)
	case strings.Contains(msg, "expected exactly one key bag"):
		return fmt.Errorf("%w: the PKCS#12 file holds several private keys, so which key to load is ambiguous; export a PKCS#12 file with the one key to import", ErrInvalid)
	case strings.Contains(msg, "private key missing"):
		return fmt.Errorf("%w: the PKCS#12 file holds certificates only, no private key; KMS imports private keys: export the key with its certificate", ErrPublicKeyOnly)
	case strings.Contains(msg, "certificate missing"):
		return fmt.Errorf("%w: the PKCS#12 file holds a private key without a certificate, which the PKCS#12 reader byok uses does not take; export the key with its certificate, or as encrypted PKCS#8 (`openssl pkcs12 -in FILE -nocerts | openssl pkcs8 -topk8 -v2 aes-256-cbc -out key.p8.pem`)", ErrUnsupportedKey)
	case strings.Contains(msg, "unsupported elliptic curve"):
		return fmt.Errorf("%w: the PKCS#12 file holds an EC key on a curve its reader does not know (secp256k1, or a curve KMS does not import); export the key as encrypted PKCS#8 (`openssl pkcs12 -in FILE -nocerts | openssl pkcs8 -topk8 -v2 aes-256-cbc -out key.p8.pem`)", ErrUnsupportedKey)
	case errors.As(err, &ni):
		return fmt.Errorf("%w: the PKCS#12 file uses a feature byok's PKCS#12 reader does not implement (%s); re-export it with OpenSSL 3's defaults (`openssl pkcs12 -export`: AES-256-CBC, PBKDF2, SHA-256 MAC) or as encrypted PKCS#8", ErrUnsupportedEncryption, strings.TrimPrefix(msg, "pkcs12: "))
	}
	return fmt.Errorf("%w: the PKCS#12 file is corrupt or in a form byok cannot read (%s); re-export it from its source", ErrInvalid, strings.TrimPrefix(msg, "pkcs12: "))
}
