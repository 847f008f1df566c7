package keyfile

// Loading an RSA or EC private key file whose encoding is not given: PEM by
// its block types, DER by its shape.

import (
	"bytes"
	"fmt"

	"golang.org/x/crypto/cryptobyte"
	"golang.org/x/crypto/cryptobyte/asn1"
)

// Options tells Load what to expect.
type Options struct {
	// Spec is the KMS key spec the caller expects, or "". It names the
	// curve of a SEC 1 key that does not (Load does not check that the key
	// is of this spec: the caller does).
	Spec string
	// Passphrase decrypts encrypted PKCS#8 and PKCS#12; nil means none was
	// given. Load does not modify or keep it.
	Passphrase []byte
}

// Load reads an RSA or EC private key from a PEM or DER key file (PKCS#8,
// encrypted PKCS#8, PKCS#1, SEC 1, PKCS#12, or a PEM bundle of one key and
// its certificates). data is neither modified nor kept. The caller clears
// the Key.
func Load(data []byte, opts Options) (*Key, error) {
	if bytes.Contains(data, []byte("-----BEGIN ")) {
		return loadPEM(data, opts)
	}
	return loadDER(data, opts, "the input")
}

// The forms classify tells apart.
const (
	formPKCS8       = "pkcs8"
	formEncrypted   = "encrypted"
	formPKCS12      = "pkcs12"
	formPKCS1       = "pkcs1"
	formPKCS1Public = "pkcs1-public"
	formSEC1        = "sec1"
	formSPKI        = "spki"
	formCertificate = "certificate"
)

// loadDER parses a DER key whose encoding is unknown, by its shape.
func loadDER(der []byte, opts Options, what string) (*Key, error) {
	switch form, err := classify(der); form {
	case formPKCS8:
		return ParsePKCS8(der, opts.Spec, false)
	case formEncrypted:
		return loadEncrypted(der, opts)
	case formPKCS12:
		return loadPKCS12(der, opts)
	case formPKCS1:
		return parsePKCS1(der)
	case formSEC1:
		ec, err := parseSEC1(der, nil, opts.Spec, false)
		if err != nil {
			return nil, err
		}
		return &Key{ec: ec}, nil
	case formSPKI, formPKCS1Public:
		return nil, fmt.Errorf("%w: %s is a DER public key, which has no private key; KMS imports private keys: load the private key file instead", ErrPublicKeyOnly, what)
	case formCertificate:
		return nil, fmt.Errorf("%w: %s is a DER certificate (or certificate request), which holds only a public key; KMS imports private keys: load the private key file instead", ErrPublicKeyOnly, what)
	default:
		fix := "pass a PEM or DER private key (PKCS#8, PKCS#1 or SEC 1), re-exported in full if it was cut short"
		if opts.Spec == "" {
			fix += "; for a raw, hex or base64 secret key, give its key spec (SYMMETRIC_DEFAULT or HMAC_*)"
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %s is neither PEM nor valid DER (%v); %s", ErrInvalid, what, err, fix)
		}
		return nil, fmt.Errorf("%w: %s is neither PEM nor a DER private key; %s", ErrInvalid, what, fix)
	}
}

// classify guesses which structure der is from the tags of its first two
// elements: one of the form constants, or "" (with the DER error, if any).
func classify(der []byte) (string, error) {
	r := cryptobyte.String(der)
	body, err := read(&r, asn1.SEQUENCE)
	if err != nil {
		return "", err
	}
	s := cryptobyte.String(body)
	t1, _, _, err := next(&s)
	if err != nil {
		return "", err
	}
	t2, _, _, err := next(&s)
	if err != nil {
		return "", err
	}
	switch {
	case t1 == asn1.INTEGER && t2 == asn1.SEQUENCE && isPFX(der):
		return formPKCS12, nil
	case t1 == asn1.INTEGER && t2 == asn1.SEQUENCE:
		return formPKCS8, nil
	case t1 == asn1.INTEGER && t2 == asn1.INTEGER && s.Empty():
		return formPKCS1Public, nil
	case t1 == asn1.INTEGER && t2 == asn1.INTEGER:
		return formPKCS1, nil
	case t1 == asn1.INTEGER && t2 == asn1.OCTET_STRING:
		return formSEC1, nil
	case t1 == asn1.SEQUENCE && t2 == asn1.OCTET_STRING:
		return formEncrypted, nil
	case t1 == asn1.SEQUENCE && t2 == asn1.BIT_STRING:
		return formSPKI, nil
	case t1 == asn1.SEQUENCE && t2 == asn1.SEQUENCE:
		return formCertificate, nil
	}
	return "", nil
}
