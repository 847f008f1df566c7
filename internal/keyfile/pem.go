package keyfile

// PEM key files: one private key block, alone or with the certificates of
// that key (RFC 7468), and with the "EC PARAMETERS" block OpenSSL writes
// before an EC key.

import (
	"bytes"
	"encoding/pem"
	"fmt"
	"strings"
	"unicode/utf8"

	"golang.org/x/crypto/cryptobyte"
	"golang.org/x/crypto/cryptobyte/asn1"
)

// loadPEM decodes the PEM blocks of data and parses the key in them: one
// private key block, alone or with the certificates of that key, and with
// "EC PARAMETERS" blocks that name the key's curve. Text
// before and between blocks is allowed (RFC 7468 section 5.2's explanatory
// text, as `openssl pkcs12 -nodes` writes "Bag Attributes"), binary bytes
// are not, and nothing but whitespace may follow the last block.
func loadPEM(data []byte, opts Options) (*Key, error) {
	var blocks []*pem.Block
	defer func() {
		for _, b := range blocks {
			clear(b.Bytes)
		}
	}()
	rest := data
	for {
		i := bytes.Index(rest, []byte("-----BEGIN "))
		if i < 0 {
			break
		}
		if !isText(rest[:i]) {
			return nil, fmt.Errorf("%w: binary data before a PEM block; the file is corrupt or two files were joined: pass the key file as its source wrote it", ErrInvalid)
		}
		b, r := pem.Decode(rest)
		if b == nil {
			break
		}
		blocks = append(blocks, b)
		rest = r
	}
	// pem.Decode silently skips a block it cannot decode; count the BEGIN
	// lines to notice.
	if n := bytes.Count(data, []byte("-----BEGIN ")); n != len(blocks) || n == 0 {
		return nil, fmt.Errorf("%w: a PEM block is truncated or corrupt (a missing END line, or bad base64); re-export or re-copy the key file in full", ErrInvalid)
	}
	if len(bytes.TrimSpace(rest)) != 0 {
		return nil, fmt.Errorf("%w: unexpected data after the last PEM block (%d bytes that are not whitespace); the file has bytes appended or is corrupt: pass the key file as its source wrote it", ErrInvalid, len(bytes.TrimSpace(rest)))
	}
	curve, nparams, err := pemECParameters(blocks)
	switch {
	case err != nil:
		return nil, err
	case nparams == 0 && len(blocks) == 1:
		return parsePEMBlock(blocks[0], opts)
	case nparams == 0:
		return loadPEMBundle(blocks, opts)
	case nparams == len(blocks):
		return parsePEMBlock(blocks[0], opts) // parameters, no key
	}
	// The parameters name the curve, for a SEC 1 key that does not.
	opts.Spec = curve.Spec
	k, err := loadPEMBundle(blocks, opts)
	if err != nil {
		return nil, err
	}
	if k.ec == nil || k.ec.curve != curve {
		on := "is an RSA key"
		if k.ec != nil {
			on = "is on " + k.ec.curve.Name
		}
		k.Clear()
		return nil, fmt.Errorf("%w: the \"EC PARAMETERS\" block names %s, but the key %s; the file was put together from the wrong parts: cut the parameters block out with an editor, or re-export the key alone from its source", ErrInvalid, curve.Name, on)
	}
	return k, nil
}

// pemECParameters reads the "EC PARAMETERS" blocks among blocks (`openssl
// ecparam -genkey` writes one before the key unless given -noout): each
// must name the same curve, one KMS imports. It returns that curve and the
// number of such blocks.
func pemECParameters(blocks []*pem.Block) (*Curve, int, error) {
	var curve *Curve
	n := 0
	for _, b := range blocks {
		if b.Type != "EC PARAMETERS" {
			continue
		}
		n++
		r := cryptobyte.String(b.Bytes)
		tag, _, full, err := next(&r)
		if err != nil {
			return nil, 0, derError(`the "EC PARAMETERS" block`, err)
		}
		if !r.Empty() {
			return nil, 0, trailingError(`the curve in the "EC PARAMETERS" block`)
		}
		if tag == asn1.SEQUENCE {
			return nil, 0, fmt.Errorf("%w: the \"EC PARAMETERS\" block spells out its curve (explicit parameters); KMS requires a named curve: generate the key without -param_enc explicit, or convert it to encrypted PKCS#8 with a named curve: `openssl ec -in key.pem -param_enc named_curve | openssl pkcs8 -topk8 -v2 aes-256-cbc -out named.pem`", ErrUnsupportedKey)
		}
		c, err := curveFromParams(tag, full)
		if err != nil {
			return nil, 0, err
		}
		if curve != nil && c != curve {
			return nil, 0, fmt.Errorf("%w: the input has \"EC PARAMETERS\" blocks for %s and %s, so which curve the key is on is ambiguous; keep only the private key block in the file, with its certificates if you like", ErrInvalid, curve.Name, c.Name)
		}
		curve = c
	}
	return curve, n, nil
}

// isText reports whether b is text: UTF-8 without control characters
// other than tab, CR and LF.
func isText(b []byte) bool {
	for _, c := range b {
		if c < 0x20 && c != '\t' && c != '\r' && c != '\n' || c == 0x7f {
			return false
		}
	}
	return utf8.Valid(b)
}

// parsePEMBlock parses the key in one PEM block.
func parsePEMBlock(b *pem.Block, opts Options) (*Key, error) {
	if strings.Contains(b.Headers["Proc-Type"], "ENCRYPTED") {
		return nil, fmt.Errorf("%w: the %q PEM block uses OpenSSL's legacy PEM encryption (Proc-Type: 4,ENCRYPTED, %s); convert it to encrypted PKCS#8 with `openssl pkcs8 -topk8 -v2 aes-256-cbc -in key.pem -out key-pkcs8.pem`", ErrUnsupportedEncryption, b.Type, pemCipher(b.Headers["DEK-Info"]))
	}
	switch b.Type {
	case "PRIVATE KEY":
		return ParsePKCS8(b.Bytes, opts.Spec, false)
	case "ENCRYPTED PRIVATE KEY":
		return loadEncrypted(b.Bytes, opts)
	case "RSA PRIVATE KEY":
		return parsePKCS1(b.Bytes)
	case "EC PRIVATE KEY":
		ec, err := parseSEC1(b.Bytes, nil, opts.Spec, false)
		if err != nil {
			return nil, err
		}
		return &Key{ec: ec}, nil
	case "PUBLIC KEY", "RSA PUBLIC KEY", "EC PUBLIC KEY":
		return nil, fmt.Errorf("%w: the PEM block is a %q, which has no private key; KMS imports private keys: load the private key file instead", ErrPublicKeyOnly, b.Type)
	case "CERTIFICATE", "TRUSTED CERTIFICATE", "X509 CERTIFICATE", "CERTIFICATE REQUEST", "NEW CERTIFICATE REQUEST":
		return nil, fmt.Errorf("%w: the PEM block is a %q, which holds only a public key; KMS imports private keys: load the private key file instead", ErrPublicKeyOnly, b.Type)
	case "EC PARAMETERS":
		return nil, fmt.Errorf("%w: the PEM block is \"EC PARAMETERS\": curve parameters, no key; load the \"EC PRIVATE KEY\" or \"PRIVATE KEY\" file", ErrInvalid)
	case "OPENSSH PRIVATE KEY":
		return nil, fmt.Errorf("%w: the key is in OpenSSH's own format, which byok does not read; convert a copy to PKCS#8 with `ssh-keygen -p -m PKCS8 -f COPY` (it rewrites COPY in place, keeping its passphrase)", ErrUnsupportedKey)
	case "DSA PRIVATE KEY":
		return nil, fmt.Errorf("%w: a DSA key; KMS imports RSA and EC keys only", ErrUnsupportedKey)
	}
	return nil, fmt.Errorf("%w: a PEM block of type %q, which byok does not read; want \"PRIVATE KEY\", \"ENCRYPTED PRIVATE KEY\", \"RSA PRIVATE KEY\" or \"EC PRIVATE KEY\"", ErrInvalid, b.Type)
}

// pemCipher names the cipher of a DEK-Info header, for messages.
func pemCipher(dekInfo string) string {
	name, _, _ := strings.Cut(dekInfo, ",")
	name = strings.TrimSpace(name)
	if name == "" || len(name) > 32 {
		return "unknown cipher"
	}
	return name
}
