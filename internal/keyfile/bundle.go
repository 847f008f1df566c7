package keyfile

// Key files that hold more than the key: a PEM file with a private key and
// its certificate chain, as HSM and PKI tools export it. The key is taken
// only when it is the only private key and a certificate in the file is for
// it.

import (
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/cryptobyte"
	"golang.org/x/crypto/cryptobyte/asn1"
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
// the certificates of its chain, in any order, or one key and "EC
// PARAMETERS" blocks (which the caller checks). Anything else is ambiguous.
func loadPEMBundle(blocks []*pem.Block, opts Options) (*Key, error) {
	var keys, certs, others []*pem.Block
	for _, b := range blocks {
		switch {
		case b.Type == "EC PARAMETERS":
		case isPrivateKeyBlock(b.Type):
			keys = append(keys, b)
		case isCertificateBlock(b.Type):
			certs = append(certs, b)
		default:
			others = append(others, b)
		}
	}
	if len(keys) == 1 && len(others) == 0 {
		k, err := parsePEMBlock(keys[0], opts)
		if err != nil {
			return nil, err
		}
		if len(certs) == 0 {
			return k, nil
		}
		ders := make([][]byte, len(certs))
		for i, c := range certs {
			ders[i] = c.Bytes
		}
		if err := k.matchCertificate(ders, "the PEM file"); err != nil {
			k.Clear()
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
	if len(keys) > 1 {
		what = fmt.Sprintf("the input has %d private keys (%s)", len(keys), strings.Join(types, ", "))
	}
	return nil, fmt.Errorf("%w: %s, so which key to load is ambiguous; %s", ErrInvalid, what, fix)
}

// parsePublic parses a SubjectPublicKeyInfo of an RSA or EC key, secp256k1
// included.
func parsePublic(der []byte) (crypto.PublicKey, error) {
	if pub, err := x509.ParsePKIXPublicKey(der); err == nil {
		return pub, nil
	}
	return ParseECPublic(der)
}

// matchCertificate checks that one of the DER certificates is for k (the
// others are its chain). A certificate for another key means the file was
// put together from the wrong parts.
func (k *Key) matchCertificate(certs [][]byte, where string) error {
	pub, err := k.PublicDER()
	if err != nil {
		return fmt.Errorf("%w: the public key cannot be encoded (%v)", ErrInvalid, err)
	}
	pk, err := parsePublic(pub)
	if err != nil {
		return fmt.Errorf("%w: the public key cannot be decoded (%v)", ErrInvalid, err)
	}
	for i, der := range certs {
		spki, err := certificateSPKI(der)
		if err != nil {
			return fmt.Errorf("%w: certificate %d of %s is not a valid X.509 certificate (%v); re-export the file from its source", ErrInvalid, i+1, where, err)
		}
		if string(spki) == string(pub) {
			return nil
		}
		if cp, err := parsePublic(spki); err == nil {
			if eq, ok := cp.(interface{ Equal(crypto.PublicKey) bool }); ok && eq.Equal(pk) {
				return nil
			}
		}
	}
	return fmt.Errorf("%w: %s holds a private key and %d certificate(s), but no certificate is for that private key; the file was put together from the wrong parts: re-export the key with its own certificate", ErrInvalid, where, len(certs))
}

// certificateSPKI returns the SubjectPublicKeyInfo of a DER certificate,
// read with cryptobyte: crypto/x509 does not parse certificates for
// secp256k1 keys.
func certificateSPKI(der []byte) ([]byte, error) {
	r := cryptobyte.String(der)
	cert, err := read(&r, asn1.SEQUENCE)
	if err != nil {
		return nil, err
	}
	if !r.Empty() {
		return nil, errors.New("trailing data")
	}
	c := cryptobyte.String(cert)
	tbs, err := read(&c, asn1.SEQUENCE)
	if err != nil {
		return nil, err
	}
	t := cryptobyte.String(tbs)
	if peekIs(t, tagContext0) {
		next(&t) // version
	}
	// serialNumber, signature, issuer, validity, subject
	for _, want := range []asn1.Tag{asn1.INTEGER, asn1.SEQUENCE, asn1.SEQUENCE, asn1.SEQUENCE, asn1.SEQUENCE} {
		if _, err := read(&t, want); err != nil {
			return nil, err
		}
	}
	tag, _, full, err := next(&t)
	if err != nil {
		return nil, err
	}
	if tag != asn1.SEQUENCE {
		return nil, fmt.Errorf("expected the subjectPublicKeyInfo, found %s", tagName(tag))
	}
	return full, nil
}
