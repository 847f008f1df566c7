// Package software is the key source for keys held in software: key files
// (PEM or DER; PKCS#8, PKCS#1, SEC1, encrypted PKCS#8; raw, hex or base64
// AES and HMAC keys) and in-memory Go keys.
//
// The key material is in this process's memory; wrapping happens in pure Go
// (byok.KeyMaterial.Wrap). For keys in an HSM use an HSM driver instead, so
// that the plaintext never leaves the module.
package software

import (
	"context"
	"crypto"
	"crypto/hmac"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"io"

	"github.com/byok-go/byok"
	"github.com/byok-go/byok/internal/readfile"
	"github.com/decred/dcrd/dcrec/secp256k1/v4"
	secpecdsa "github.com/decred/dcrd/dcrec/secp256k1/v4/ecdsa"
)

// Source is a software key source. It implements byok.KeySource,
// byok.SignerSource (RSA and EC keys) and byok.MACSource (HMAC keys).
type Source struct {
	m     *byok.KeyMaterial
	label string
	usage byok.KeyUsage
}

var (
	_ byok.KeySource    = (*Source)(nil)
	_ byok.SignerSource = (*Source)(nil)
	_ byok.MACSource    = (*Source)(nil)
)

// Options configure a Source. The zero value is valid.
type Options struct {
	// Label names the source in logs and in the KMS key's default
	// description (a file path, say). Empty: the key's fingerprint.
	Label string
	// Usage is the KMS key usage; empty: the key spec's usual one
	// (ENCRYPT_DECRYPT for SYMMETRIC_DEFAULT, GENERATE_VERIFY_MAC for HMAC,
	// SIGN_VERIFY for RSA and EC).
	Usage byok.KeyUsage
}

// New returns a source for key material already loaded. The source does not
// take a copy: Close (or m.Destroy) clears it.
func New(m *byok.KeyMaterial, opts Options) (*Source, error) {
	if m == nil || m.Len() == 0 {
		return nil, errors.New("software: no key material; load it with byok.LoadKeyFile, byok.NewKeyMaterial or byok.NewSecretKeyMaterial")
	}
	if opts.Usage != "" && !m.Spec().AllowsUsage(opts.Usage) {
		return nil, fmt.Errorf("software: key usage %s is not valid for a %s key; KMS allows %v", opts.Usage, m.Spec(), m.Spec().Usages())
	}
	label := opts.Label
	if label == "" {
		label = m.Fingerprint()
	}
	return &Source{m: m, label: label, usage: opts.Usage}, nil
}

// Open loads a key file (see byok.LoadKeyFile for the formats and options)
// and returns a source for it, labelled with the path. The file must be a
// regular file of at most 1 MiB; anything else is refused before or while
// reading it, never read to its end.
func Open(path string, load byok.LoadOptions, opts Options) (*Source, error) {
	data, err := readfile.ReadFile(path, "key file", readfile.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("software: reading the key file: %w", err)
	}
	defer clear(data)
	m, err := byok.LoadKeyFile(data, load)
	if err != nil {
		return nil, fmt.Errorf("software: %s: %w", path, err)
	}
	if opts.Label == "" {
		opts.Label = path
	}
	s, err := New(m, opts)
	if err != nil {
		m.Destroy()
		return nil, err
	}
	return s, nil
}

// Describe reports the key spec, usage, public key and fingerprint.
func (s *Source) Describe(context.Context) (byok.KeyInfo, error) {
	// The public key is derived from the private key in memory
	// (byok.NewKeyMaterial), so it is the private key's own.
	return byok.KeyInfo{Spec: s.m.Spec(), Usage: s.usage, PublicKeyDER: s.m.PublicKeyDER(),
		Fingerprint: s.m.Fingerprint(), Label: s.label, PublicKeyFromPrivate: s.m.PublicKeyDER() != nil}, nil
}

// Wrap wraps the key material under the import parameters, in pure Go,
// with any of the four algorithms that can carry it (byok.WrapKeyMaterial's
// size rules). Which algorithm a target accepts for the key spec is the
// target's rule, applied before Wrap is called (Importer.Import asks the
// target, or AWS's table); so a software AES key can be wrapped with
// RSA_AES_KEY_WRAP for Azure although AWS wants RSAES-OAEP for it. The copy
// of the material made for wrapping is cleared before returning.
func (s *Source) Wrap(_ context.Context, p byok.ImportParameters) ([]byte, error) {
	b := s.m.Bytes()
	if b == nil {
		return nil, fmt.Errorf("%w: %s %s was destroyed; load the key again", byok.ErrDestroyed, s.m.Spec(), s.m.Fingerprint())
	}
	defer clear(b)
	return byok.WrapKeyMaterial(p.WrappingKey, p.Algorithm, b)
}

// Material returns the key material the source holds (not a copy).
func (s *Source) Material() *byok.KeyMaterial { return s.m }

// Close clears the key material.
func (s *Source) Close() error {
	s.m.Destroy()
	return nil
}

// MAC returns the HMAC of message under an HMAC key, with the spec's hash.
func (s *Source) MAC(_ context.Context, message []byte) ([]byte, error) {
	h := s.m.Spec().HMACHash()
	if h == 0 {
		return nil, fmt.Errorf("software: a %s key computes no HMAC", s.m.Spec())
	}
	key := s.m.Bytes()
	if key == nil {
		return nil, errors.New("software: the key material was destroyed")
	}
	defer clear(key)
	mac := hmac.New(h.New, key)
	mac.Write(message)
	return mac.Sum(nil), nil
}

// Signer returns a crypto.Signer for an RSA or EC key. RSA signers sign
// RSASSA-PKCS1-v1_5 (opts a crypto.Hash) or RSASSA-PSS (*rsa.PSSOptions);
// EC signers return ASN.1 DER ECDSA signatures. The signer holds a decoded
// copy of the private key until it is garbage collected.
func (s *Source) Signer(context.Context) (crypto.Signer, error) {
	switch s.m.Spec().Kind() {
	case byok.KindRSA, byok.KindEC:
	default:
		return nil, fmt.Errorf("software: a %s key cannot sign", s.m.Spec())
	}
	der := s.m.Bytes()
	if der == nil {
		return nil, errors.New("software: the key material was destroyed")
	}
	defer clear(der)
	if s.m.Spec() == byok.ECCSECGP256K1 {
		d, err := secp256k1Scalar(der)
		if err != nil {
			return nil, err
		}
		defer clear(d)
		return &k1Signer{secp256k1.PrivKeyFromBytes(d)}, nil
	}
	k, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("software: decoding the private key: %w", err)
	}
	signer, ok := k.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("software: a %T cannot sign", k)
	}
	return signer, nil
}

// secp256k1Scalar extracts the private scalar from the PKCS#8 encoding
// byok.KeyMaterial holds (crypto/x509 does not know the curve).
func secp256k1Scalar(pkcs8 []byte) ([]byte, error) {
	var pki struct {
		Version    int
		Algorithm  asn1.RawValue
		PrivateKey []byte
	}
	if _, err := asn1.Unmarshal(pkcs8, &pki); err != nil {
		return nil, fmt.Errorf("software: decoding the secp256k1 key: %w", err)
	}
	defer clear(pki.PrivateKey)
	var ec struct {
		Version    int
		PrivateKey []byte
		Params     asn1.RawValue `asn1:"optional,explicit,tag:0"`
		Public     asn1.RawValue `asn1:"optional,explicit,tag:1"`
	}
	if _, err := asn1.Unmarshal(pki.PrivateKey, &ec); err != nil || len(ec.PrivateKey) != 32 {
		return nil, errors.New("software: decoding the secp256k1 key failed")
	}
	return ec.PrivateKey, nil
}

// k1Signer signs with a secp256k1 key: DER ECDSA over the digest given.
type k1Signer struct{ k *secp256k1.PrivateKey }

func (s *k1Signer) Public() crypto.PublicKey { return s.k.PubKey() }

func (s *k1Signer) Sign(_ io.Reader, digest []byte, _ crypto.SignerOpts) ([]byte, error) {
	return secpecdsa.Sign(s.k, digest).Serialize(), nil
}
