package byok

// Key files that hold more than the key: a PEM file with a private key and
// its certificate chain, and PKCS#12 (.p12, .pfx) files, as HSM and PKI
// tools export them. The key is taken only when it is the only private key
// and a certificate in the file is for it.

import (
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"

	"software.sslmate.com/src/go-pkcs12"
)

// isPrivateKeyBlock reports whether a PEM block type holds a private key.
func isPrivateKeyBlock(t string) bool {
	switch t {
	case "PRIVATE KEY", "ENCRYPTED PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY", "DSA PRIVATE KEY", "OPENSSH PRIVATE KEY":
		return true
	}
	return false
}

func isCertificateBlock(t string) bool {
	switch t {
	case "CERTIFICATE", "TRUSTED CERTIFICATE", "X509 CERTIFICATE":
		return true
	}
	return false
}

// loadPEMBundle loads a PEM file of several blocks: one private key and
// the certificates of its chain, in any order. Anything else is ambiguous.
func loadPEMBundle(blocks []*pem.Block, opts LoadOptions) (*privateKey, error) {
	var keys, certs, others []*pem.Block
	for _, b := range blocks {
		switch {
		case isPrivateKeyBlock(b.Type):
			keys = append(keys, b)
		case isCertificateBlock(b.Type):
			certs = append(certs, b)
		default:
			others = append(others, b)
		}
	}
	if len(keys) == 1 && len(certs) > 0 && len(others) == 0 {
		k, err := parsePEMBlock(keys[0], opts)
		if err != nil {
			return nil, err
		}
		ders := make([][]byte, len(certs))
		for i, c := range certs {
			ders[i] = c.Bytes
		}
		if err := k.matchCertificate(ders, "the PEM file"); err != nil {
			k.clear()
			return nil, err
		}
		return k, nil
	}
	types := make([]string, len(blocks))
	for i, b := range blocks {
		types[i] = fmt.Sprintf("%q", b.Type)
	}
	what := fmt.Sprintf("the input has %d PEM blocks (%s)", len(blocks), strings.Join(types, ", "))
	fix := "keep only the private key block in the file, with its certificates if you like (cut the others out with an editor, or re-export the key alone from its source)"
	switch {
	case len(keys) > 1:
		what = fmt.Sprintf("the input has %d private keys (%s)", len(keys), strings.Join(types, ", "))
	case blocks[0].Type == "EC PARAMETERS":
		fix += "; `openssl ecparam -genkey` writes the parameters block unless given -noout"
	}
	return nil, fmt.Errorf("%w: %s, so which key to load is ambiguous; %s", ErrInvalidMaterial, what, fix)
}

// publicDER returns the key's SubjectPublicKeyInfo.
func (k *privateKey) publicDER() ([]byte, error) {
	if k.ec != nil {
		return k.ec.spki(), nil
	}
	return x509.MarshalPKIXPublicKey(&k.rsa.PublicKey)
}

// matchCertificate checks that one of the DER certificates is for k (the
// others are its chain). A certificate for another key means the file was
// put together from the wrong parts.
func (k *privateKey) matchCertificate(certs [][]byte, where string) error {
	pub, err := k.publicDER()
	if err != nil {
		return fmt.Errorf("%w: the public key cannot be encoded (%v)", ErrInvalidMaterial, err)
	}
	pk, err := ParsePublicKeyDER(pub)
	if err != nil {
		return fmt.Errorf("%w: the public key cannot be decoded (%v)", ErrInvalidMaterial, err)
	}
	for i, der := range certs {
		spki, err := certificateSPKI(der)
		if err != nil {
			return fmt.Errorf("%w: certificate %d of %s is not a valid X.509 certificate (%v); re-export the file from its source", ErrInvalidMaterial, i+1, where, err)
		}
		if string(spki) == string(pub) {
			return nil
		}
		if cp, err := ParsePublicKeyDER(spki); err == nil {
			if eq, ok := cp.(interface{ Equal(crypto.PublicKey) bool }); ok && eq.Equal(pk) {
				return nil
			}
		}
	}
	return fmt.Errorf("%w: %s holds a private key and %d certificate(s), but no certificate is for that private key; the file was put together from the wrong parts: re-export the key with its own certificate", ErrInvalidMaterial, where, len(certs))
}

// certificateSPKI returns the SubjectPublicKeyInfo of a DER certificate,
// read by hand: crypto/x509 does not parse certificates for secp256k1 keys.
func certificateSPKI(der []byte) ([]byte, error) {
	r := derReader{der}
	cert, err := r.read(tagSequence)
	if err != nil {
		return nil, err
	}
	if !r.empty() {
		return nil, errors.New("trailing data")
	}
	c := derReader{cert}
	tbs, err := c.read(tagSequence)
	if err != nil {
		return nil, err
	}
	t := derReader{tbs}
	if tag, ok := t.peek(); ok && tag == tagContext0 {
		t.next() // version
	}
	// serialNumber, signature, issuer, validity, subject
	for _, want := range []byte{tagInteger, tagSequence, tagSequence, tagSequence, tagSequence} {
		if _, err := t.read(want); err != nil {
			return nil, err
		}
	}
	tag, _, full, err := t.next()
	if err != nil {
		return nil, err
	}
	if tag != tagSequence {
		return nil, fmt.Errorf("expected the subjectPublicKeyInfo, found %s", tagName(tag))
	}
	return full, nil
}

// isPFX reports whether der starts like a PKCS#12 PFX: version 3 then the
// authSafe ContentInfo. PKCS#8 versions are 0 and 1.
func isPFX(der []byte) bool {
	r := derReader{der}
	seq, err := r.read(tagSequence)
	if err != nil {
		return false
	}
	s := derReader{seq}
	v, err := s.readSmallInt()
	if err != nil || v != 3 {
		return false
	}
	t, ok := s.peek()
	return ok && t == tagSequence
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
func loadPKCS12(der []byte, opts LoadOptions) (*privateKey, error) {
	key, cert, chain, err := pkcs12.DecodeChain(der, string(opts.Passphrase))
	if err != nil {
		return nil, pkcs12Error(err, opts.Passphrase == nil)
	}
	der8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("%w: the PKCS#12 file holds a %T, which byok cannot read; KMS imports RSA and EC keys", ErrUnsupportedKey, key)
	}
	defer clear(der8)
	k, err := parsePKCS8(der8, opts.KeySpec, false)
	if err != nil {
		return nil, err
	}
	certs := [][]byte{cert.Raw}
	for _, c := range chain {
		certs = append(certs, c.Raw)
	}
	if err := k.matchCertificate(certs, "the PKCS#12 file"); err != nil {
		k.clear()
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
		return fmt.Errorf("%w: the PKCS#12 file holds several private keys, so which key to load is ambiguous; export a PKCS#12 file with the one key to import", ErrInvalidMaterial)
	case strings.Contains(msg, "private key missing"):
		return fmt.Errorf("%w: the PKCS#12 file holds certificates only, no private key; KMS imports private keys: export the key with its certificate", ErrPublicKeyOnly)
	case strings.Contains(msg, "certificate missing"):
		return fmt.Errorf("%w: the PKCS#12 file holds a private key without a certificate, which the PKCS#12 reader byok uses does not take; export the key with its certificate, or as encrypted PKCS#8 (`openssl pkcs12 -in FILE -nocerts | openssl pkcs8 -topk8 -v2 aes-256-cbc -out key.p8.pem`)", ErrUnsupportedKey)
	case strings.Contains(msg, "unsupported elliptic curve"):
		return fmt.Errorf("%w: the PKCS#12 file holds an EC key on a curve its reader does not know (secp256k1, or a curve KMS does not import); export the key as encrypted PKCS#8 (`openssl pkcs12 -in FILE -nocerts | openssl pkcs8 -topk8 -v2 aes-256-cbc -out key.p8.pem`)", ErrUnsupportedKey)
	case errors.As(err, &ni):
		return fmt.Errorf("%w: the PKCS#12 file uses a feature byok's PKCS#12 reader does not implement (%s); re-export it with OpenSSL 3's defaults (`openssl pkcs12 -export`: AES-256-CBC, PBKDF2, SHA-256 MAC) or as encrypted PKCS#8", ErrUnsupportedEncryption, strings.TrimPrefix(msg, "pkcs12: "))
	}
	return fmt.Errorf("%w: the PKCS#12 file is corrupt or in a form byok cannot read (%s); re-export it from its source", ErrInvalidMaterial, strings.TrimPrefix(msg, "pkcs12: "))
}
