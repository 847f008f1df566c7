package byok

// Loading key files: PEM and DER private keys in their usual encodings, and
// secret keys as raw bytes, hex or base64. Everything is re-encoded in the
// form KMS imports (see KeyMaterial).

import (
	"bytes"
	"crypto/rsa"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"unicode/utf8"
)

// LoadOptions tells LoadKeyFile what to expect.
type LoadOptions struct {
	// KeySpec is the key spec of the material. It is required for secret
	// keys (SYMMETRIC_DEFAULT, HMAC_*), which are read as raw bytes, hex or
	// base64 text, because the bytes do not say what they are. For RSA and
	// EC key files it is optional; if set, the file's key must be of this
	// spec, and it names the curve of a SEC 1 key that does not.
	KeySpec KeySpec

	// Passphrase decrypts an encrypted PKCS#8 key ("ENCRYPTED PRIVATE
	// KEY") or a PKCS#12 file. With a nil Passphrase, encrypted input is
	// refused with an error wrapping ErrEncrypted. A non-nil empty
	// Passphrase is the empty passphrase. LoadKeyFile does not modify or
	// keep it.
	Passphrase []byte

	// Format is the encoding of a secret key (SYMMETRIC_DEFAULT, HMAC_*):
	// SecretRaw, SecretHex or SecretBase64. The zero value, SecretAuto,
	// accepts input that can be read in one way only and refuses input of
	// the raw key's length that is also hex or base64 text, with
	// ErrAmbiguousEncoding. Format must be empty for RSA and EC keys.
	Format SecretFormat
}

// LoadKeyFile reads a key file and returns its key material in the form KMS
// imports.
//
// RSA and EC private keys are read from PEM or DER, in any of these
// encodings:
//
//   - PKCS#8 ("PRIVATE KEY");
//   - encrypted PKCS#8 ("ENCRYPTED PRIVATE KEY", as `openssl pkcs8 -topk8
//     -v2 aes-256-cbc` writes it): PBES2 with PBKDF2 (HMAC-SHA-1, -SHA-224,
//     -SHA-256, -SHA-384 or -SHA-512) and AES-128, -192 or -256 in CBC mode,
//     decrypted with opts.Passphrase. scrypt, PBES1 and OpenSSL's legacy PEM
//     encryption ("Proc-Type: 4,ENCRYPTED") are refused with
//     ErrUnsupportedEncryption and the command that converts them;
//   - PKCS#1 ("RSA PRIVATE KEY");
//   - SEC 1 ("EC PRIVATE KEY"), on P-256, P-384, P-521 or secp256k1, with or
//     without the public key (it is computed when absent, and checked when
//     present);
//   - PKCS#12 (.p12, .pfx, DER) holding one private key and its
//     certificate(s), opened with opts.Passphrase (a file without a
//     password opens without one); not secp256k1 keys, which the PKCS#12
//     reader (software.sslmate.com/src/go-pkcs12) does not parse.
//
// A PEM input holds one private key block, alone or with certificates (in
// any order, e.g. a key and its chain); one certificate must be for the
// key. Text before and between blocks is allowed (explanatory text, RFC
// 7468 section 5.2); after the last block only whitespace is, and binary
// bytes nowhere: appended data is refused, as for DER.
//
// The result is PKCS#8 DER: two-prime RSA of 2048, 3072 or 4096 bits, or an
// EC key on a named curve with its public key, byte for byte what `openssl
// pkcs8 -topk8 -nocrypt -outform DER` writes for the same key.
//
// Secret keys need opts.KeySpec (SYMMETRIC_DEFAULT or HMAC_*) and are read
// in opts.Format: exactly that many raw bytes, or hex or base64 text of that
// many bytes. Without a Format, hex and base64 text are recognised
// (whitespace, such as line breaks and a trailing newline, is ignored; hex
// may start with 0x), and input of exactly the spec's length is taken as
// raw unless it also reads as hex or base64 text: then the encoding is
// ambiguous and the error (ErrAmbiguousEncoding) asks for the Format. The
// encoding of a secret is never guessed.
//
// Errors wrap ErrInvalidMaterial
// or one of its refinements (ErrEncrypted, ErrWrongPassphrase, ErrAmbiguousEncoding,
// ErrUnsupportedEncryption, ErrPublicKeyOnly, ErrUnsupportedKey,
// ErrSpecMismatch), and say what to do; they never contain key bytes.
//
// Intermediate copies of the key (decoded PEM, decrypted PKCS#8, parsed
// integers) are cleared before LoadKeyFile returns, as far as Go allows:
// this is best effort, since the runtime may have copied them and math/big
// and crypto/rsa keep internal copies. data itself is neither modified nor
// cleared: it is the caller's.
func LoadKeyFile(data []byte, opts LoadOptions) (*KeyMaterial, error) {
	if opts.KeySpec != "" {
		if err := opts.KeySpec.Validate(); err != nil {
			return nil, err
		}
	}
	if _, err := ParseSecretFormat(string(opts.Format)); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidMaterial, err)
	}
	if kind := opts.KeySpec.Kind(); opts.Format != SecretAuto && kind != KindSymmetric && kind != KindHMAC {
		return nil, fmt.Errorf("%w: a key format (%s) is for raw secret keys, which also need their key spec (SYMMETRIC_DEFAULT or HMAC_*); RSA and EC key files say their own format", ErrInvalidMaterial, opts.Format)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, fmt.Errorf("%w: the key file is empty; pass the contents of a PEM, DER, raw, hex or base64 key file", ErrInvalidMaterial)
	}
	isPEM := bytes.Contains(data, []byte("-----BEGIN "))
	if kind := opts.KeySpec.Kind(); kind == KindSymmetric || kind == KindHMAC {
		if isPEM {
			return nil, fmt.Errorf("%w: the key spec is %s, a raw secret key, but the input is PEM; leave the key spec out (or give the key's RSA_* or ECC_* spec) to load a private key file", ErrSpecMismatch, opts.KeySpec)
		}
		return loadSecret(opts.KeySpec, data, opts.Format)
	}

	var k *privateKey
	var err error
	if isPEM {
		k, err = loadPEM(data, opts)
	} else {
		k, err = loadDER(data, opts, "the input")
	}
	if err != nil {
		return nil, err
	}
	defer k.clear()
	if opts.KeySpec != "" && k.spec() != opts.KeySpec {
		return nil, fmt.Errorf("%w: the key spec given is %s but the file holds an %s key; give %s (or no key spec), or load the right file", ErrSpecMismatch, opts.KeySpec, k.spec(), k.spec())
	}
	return newAsymmetric(k)
}

// loadPEM decodes the PEM blocks of data and parses the key in them: one
// private key block, alone or with the certificates of that key. Text
// before and between blocks is allowed (RFC 7468 section 5.2's explanatory
// text, as `openssl pkcs12 -nodes` writes "Bag Attributes"), binary bytes
// are not, and nothing but whitespace may follow the last block.
func loadPEM(data []byte, opts LoadOptions) (*privateKey, error) {
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
			return nil, fmt.Errorf("%w: binary data before a PEM block; the file is corrupt or two files were joined: pass the key file as its source wrote it", ErrInvalidMaterial)
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
		return nil, fmt.Errorf("%w: a PEM block is truncated or corrupt (a missing END line, or bad base64); re-export or re-copy the key file in full", ErrInvalidMaterial)
	}
	if len(bytes.TrimSpace(rest)) != 0 {
		return nil, fmt.Errorf("%w: unexpected data after the last PEM block (%d bytes that are not whitespace); the file has bytes appended or is corrupt: pass the key file as its source wrote it", ErrInvalidMaterial, len(bytes.TrimSpace(rest)))
	}
	if len(blocks) == 1 {
		return parsePEMBlock(blocks[0], opts)
	}
	return loadPEMBundle(blocks, opts)
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
func parsePEMBlock(b *pem.Block, opts LoadOptions) (*privateKey, error) {
	if strings.Contains(b.Headers["Proc-Type"], "ENCRYPTED") {
		return nil, fmt.Errorf("%w: the %q PEM block uses OpenSSL's legacy PEM encryption (Proc-Type: 4,ENCRYPTED, %s); convert it to encrypted PKCS#8 with `openssl pkcs8 -topk8 -v2 aes-256-cbc -in key.pem -out key-pkcs8.pem`", ErrUnsupportedEncryption, b.Type, pemCipher(b.Headers["DEK-Info"]))
	}
	switch b.Type {
	case "PRIVATE KEY":
		return parsePKCS8(b.Bytes, opts.KeySpec, false)
	case "ENCRYPTED PRIVATE KEY":
		return loadEncrypted(b.Bytes, opts)
	case "RSA PRIVATE KEY":
		return parsePKCS1(b.Bytes, false)
	case "EC PRIVATE KEY":
		ec, err := parseSEC1(b.Bytes, nil, opts.KeySpec, false)
		if err != nil {
			return nil, err
		}
		return &privateKey{ec: ec}, nil
	case "PUBLIC KEY", "RSA PUBLIC KEY", "EC PUBLIC KEY":
		return nil, fmt.Errorf("%w: the PEM block is a %q, which has no private key; KMS imports private keys: load the private key file instead", ErrPublicKeyOnly, b.Type)
	case "CERTIFICATE", "TRUSTED CERTIFICATE", "X509 CERTIFICATE", "CERTIFICATE REQUEST", "NEW CERTIFICATE REQUEST":
		return nil, fmt.Errorf("%w: the PEM block is a %q, which holds only a public key; KMS imports private keys: load the private key file instead", ErrPublicKeyOnly, b.Type)
	case "EC PARAMETERS":
		return nil, fmt.Errorf("%w: the PEM block is \"EC PARAMETERS\": curve parameters, no key; load the \"EC PRIVATE KEY\" or \"PRIVATE KEY\" file", ErrInvalidMaterial)
	case "OPENSSH PRIVATE KEY":
		return nil, fmt.Errorf("%w: the key is in OpenSSH's own format, which byok does not read; convert a copy to PKCS#8 with `ssh-keygen -p -m PKCS8 -f COPY` (it rewrites COPY in place, keeping its passphrase)", ErrUnsupportedKey)
	case "DSA PRIVATE KEY":
		return nil, fmt.Errorf("%w: a DSA key; KMS imports RSA and EC keys only", ErrUnsupportedKey)
	}
	return nil, fmt.Errorf("%w: a PEM block of type %q, which byok does not read; want \"PRIVATE KEY\", \"ENCRYPTED PRIVATE KEY\", \"RSA PRIVATE KEY\" or \"EC PRIVATE KEY\"", ErrInvalidMaterial, b.Type)
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

// loadDER parses a DER key whose encoding is unknown, by its shape.
func loadDER(der []byte, opts LoadOptions, what string) (*privateKey, error) {
	switch form, err := classifyDER(der); form {
	case "pkcs8":
		return parsePKCS8(der, opts.KeySpec, false)
	case "encrypted":
		return loadEncrypted(der, opts)
	case "pkcs12":
		return loadPKCS12(der, opts)
	case "pkcs1":
		return parsePKCS1(der, false)
	case "sec1":
		ec, err := parseSEC1(der, nil, opts.KeySpec, false)
		if err != nil {
			return nil, err
		}
		return &privateKey{ec: ec}, nil
	case "spki", "pkcs1-public":
		return nil, fmt.Errorf("%w: %s is a DER public key, which has no private key; KMS imports private keys: load the private key file instead", ErrPublicKeyOnly, what)
	case "certificate":
		return nil, fmt.Errorf("%w: %s is a DER certificate (or certificate request), which holds only a public key; KMS imports private keys: load the private key file instead", ErrPublicKeyOnly, what)
	default:
		fix := "pass a PEM or DER private key (PKCS#8, PKCS#1 or SEC 1), re-exported in full if it was cut short"
		if opts.KeySpec == "" {
			fix += "; for a raw, hex or base64 secret key, give its key spec (SYMMETRIC_DEFAULT or HMAC_*)"
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %s is neither PEM nor valid DER (%v); %s", ErrInvalidMaterial, what, err, fix)
		}
		return nil, fmt.Errorf("%w: %s is neither PEM nor a DER private key; %s", ErrInvalidMaterial, what, fix)
	}
}

// loadEncrypted decrypts an EncryptedPrivateKeyInfo and parses the PKCS#8
// key inside.
func loadEncrypted(der []byte, opts LoadOptions) (*privateKey, error) {
	plain, err := decryptPKCS8(der, opts.Passphrase)
	if err != nil {
		return nil, err
	}
	defer clear(plain)
	// A wrong passphrase passes the padding check once in ~256 tries; what
	// comes out is then not PKCS#8.
	if form, _ := classifyDER(plain); form != "pkcs8" {
		return nil, wrongPassphraseError()
	}
	return parsePKCS8(plain, opts.KeySpec, false)
}

// classifyDER guesses which structure der is from the tags of its first two
// elements: "pkcs8", "encrypted", "pkcs12", "pkcs1", "pkcs1-public", "sec1",
// "spki", "certificate", or "" (with the DER error, if any).
func classifyDER(der []byte) (string, error) {
	r := derReader{der}
	seq, err := r.read(tagSequence)
	if err != nil {
		return "", err
	}
	s := derReader{seq}
	t1, _, _, err := s.next()
	if err != nil {
		return "", err
	}
	t2, _, _, err := s.next()
	if err != nil {
		return "", err
	}
	switch {
	case t1 == tagInteger && t2 == tagSequence && isPFX(der):
		return "pkcs12", nil
	case t1 == tagInteger && t2 == tagSequence:
		return "pkcs8", nil
	case t1 == tagInteger && t2 == tagInteger && s.empty():
		return "pkcs1-public", nil
	case t1 == tagInteger && t2 == tagInteger:
		return "pkcs1", nil
	case t1 == tagInteger && t2 == tagOctetString:
		return "sec1", nil
	case t1 == tagSequence && t2 == tagOctetString:
		return "encrypted", nil
	case t1 == tagSequence && t2 == tagBitString:
		return "spki", nil
	case t1 == tagSequence && t2 == tagSequence:
		return "certificate", nil
	}
	return "", nil
}

// OIDs of private key algorithms.
var (
	oidRSAEncryption = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 1}
	oidRSAPSS        = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 10}
	oidEd25519       = asn1.ObjectIdentifier{1, 3, 101, 112}
	oidX25519        = asn1.ObjectIdentifier{1, 3, 101, 110}
	oidEd448         = asn1.ObjectIdentifier{1, 3, 101, 113}
	oidX448          = asn1.ObjectIdentifier{1, 3, 101, 111}
	oidDSA           = asn1.ObjectIdentifier{1, 2, 840, 10040, 4, 1}
	oidDH            = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 3, 1}
	oidMLDSA44       = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 3, 17}
	oidMLDSA65       = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 3, 18}
	oidMLDSA87       = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 3, 19}
	oidMLKEM512      = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 4, 1}
	oidMLKEM768      = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 4, 2}
	oidMLKEM1024     = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 4, 3}
)

// unsupportedAlgorithmError explains a PKCS#8 algorithm KMS does not import.
func unsupportedAlgorithmError(oid asn1.ObjectIdentifier) error {
	const asym = "KMS imports RSA keys and EC keys on P-256, P-384, P-521 and secp256k1"
	switch {
	case oid.Equal(oidEd25519):
		return &alsoIs{fmt.Errorf("%w: an Ed25519 private key: %s; let KMS generate an ECC_NIST_EDWARDS25519 key, or import an ECC_* key instead", ErrUnsupportedKey, notImportable[ECCNISTEdwards25519]), ErrNotImportable}
	case oid.Equal(oidX25519), oid.Equal(oidX448):
		return fmt.Errorf("%w: an X25519 or X448 private key; KMS has no such key spec: for KEY_AGREEMENT import an ECC_NIST_P256, P384 or P521 key", ErrUnsupportedKey)
	case oid.Equal(oidEd448):
		return fmt.Errorf("%w: an Ed448 private key; KMS has no Ed448 key spec: %s", ErrUnsupportedKey, asym)
	case oid.Equal(oidRSAPSS):
		return fmt.Errorf("%w: an RSA key restricted to RSASSA-PSS (OID 1.2.840.113549.1.1.10); KMS imports plain rsaEncryption keys: export the key as a plain RSA key (the numbers are the same), e.g. as PKCS#1", ErrUnsupportedKey)
	case oid.Equal(oidDSA):
		return fmt.Errorf("%w: a DSA private key; %s", ErrUnsupportedKey, asym)
	case oid.Equal(oidDH):
		return fmt.Errorf("%w: a Diffie-Hellman private key; %s", ErrUnsupportedKey, asym)
	case oid.Equal(oidMLDSA44), oid.Equal(oidMLDSA65), oid.Equal(oidMLDSA87):
		return &alsoIs{fmt.Errorf("%w: an ML-DSA private key: %s", ErrUnsupportedKey, notImportable[MLDSA65]), ErrNotImportable}
	case oid.Equal(oidMLKEM512), oid.Equal(oidMLKEM768), oid.Equal(oidMLKEM1024):
		return &alsoIs{fmt.Errorf("%w: an ML-KEM private key: %s", ErrUnsupportedKey, notImportable[MLKEM768]), ErrNotImportable}
	}
	return fmt.Errorf("%w: a private key with algorithm OID %s; %s", ErrUnsupportedKey, oid, asym)
}

// parsePKCS8 decodes a PKCS#8 PrivateKeyInfo holding an RSA or EC key.
// Trailing data is refused at every level. With strict, the encoding must be
// the plain one KMS takes (version 0, no attributes, NULL RSA parameters,
// and see parseSEC1); hint names the expected spec.
func parsePKCS8(der []byte, hint KeySpec, strict bool) (*privateKey, error) {
	r := derReader{der}
	seq, err := r.read(tagSequence)
	if err != nil {
		return nil, derError("the PKCS#8 PrivateKeyInfo", err)
	}
	if !r.empty() {
		return nil, trailingError("the PKCS#8 PrivateKeyInfo")
	}
	s := derReader{seq}
	v, err := s.readSmallInt()
	if err != nil {
		return nil, derError("the PKCS#8 version", err)
	}
	if v != 0 && (strict || v != 1) {
		if strict && v == 1 {
			return nil, fmt.Errorf("%w: PKCS#8 version %d, want 0; load it with LoadKeyFile, which re-encodes it in memory", ErrInvalidMaterial, v)
		}
		return nil, fmt.Errorf("%w: PKCS#8 version %d, want 0 (or 1); the key is corrupt or not PKCS#8: re-export it from its source", ErrInvalidMaterial, v)
	}
	alg, err := s.read(tagSequence)
	if err != nil {
		return nil, derError("the PKCS#8 algorithm identifier", err)
	}
	priv, err := s.read(tagOctetString)
	if err != nil {
		return nil, derError("the PKCS#8 private key", err)
	}
	if t, ok := s.peek(); ok && t == tagContext0 {
		if strict {
			return nil, fmt.Errorf("%w: the PKCS#8 key has attributes; KMS wants a bare PrivateKeyInfo: load it with LoadKeyFile, which re-encodes it in memory", ErrInvalidMaterial)
		}
		s.next()
	}
	if t, ok := s.peek(); ok && t == tagImplicit1 && v == 1 {
		s.next() // OneAsymmetricKey's publicKey; recomputed from the private key
	}
	if !s.empty() {
		return nil, trailingError("the PKCS#8 private key")
	}

	a := derReader{alg}
	tag, _, full, err := a.next()
	if err != nil || tag != tagOID {
		return nil, fmt.Errorf("%w: the PKCS#8 algorithm identifier does not start with an OBJECT IDENTIFIER; the key is corrupt: re-export it from its source", ErrInvalidMaterial)
	}
	var oid asn1.ObjectIdentifier
	if rest, err := asn1.Unmarshal(full, &oid); err != nil || len(rest) != 0 {
		return nil, fmt.Errorf("%w: the PKCS#8 algorithm OID is malformed; the key is corrupt: re-export it from its source", ErrInvalidMaterial)
	}
	var pTag byte
	var pFull []byte
	hasParams := !a.empty()
	if hasParams {
		if pTag, _, pFull, err = a.next(); err != nil {
			return nil, derError("the PKCS#8 algorithm parameters", err)
		}
		if !a.empty() {
			return nil, trailingError("the PKCS#8 algorithm parameters")
		}
	}
	switch {
	case oid.Equal(oidRSAEncryption):
		if hasParams && (pTag != tagNull || len(pFull) != 2) || !hasParams && strict {
			if !hasParams {
				return nil, fmt.Errorf("%w: the rsaEncryption parameters must be NULL; load it with LoadKeyFile, which re-encodes it in memory", ErrInvalidMaterial)
			}
			return nil, fmt.Errorf("%w: the rsaEncryption parameters must be NULL; the key is corrupt: re-export it from its source", ErrInvalidMaterial)
		}
		return parsePKCS1(priv, strict)
	case oid.Equal(oidECPublicKey):
		if !hasParams {
			return nil, fmt.Errorf("%w: the PKCS#8 EC key does not name its curve; re-export it from its source as PKCS#8 (e.g. encrypted: `openssl pkcs8 -topk8 -v2 aes-256-cbc -in key.pem -out key-p8.pem`)", ErrInvalidMaterial)
		}
		c, err := curveFromParams(pTag, pFull)
		if err != nil {
			return nil, err
		}
		ec, err := parseSEC1(priv, c, hint, strict)
		if err != nil {
			return nil, err
		}
		return &privateKey{ec: ec}, nil
	}
	return nil, unsupportedAlgorithmError(oid)
}

// parsePKCS1 decodes a PKCS#1 RSAPrivateKey: two primes, a modulus of
// 2048, 3072 or 4096 bits, consistent CRT values, nothing after them.
func parsePKCS1(der []byte, strict bool) (*privateKey, error) {
	_ = strict // PKCS#1 has a single DER encoding; strict and lenient agree
	r := derReader{der}
	seq, err := r.read(tagSequence)
	if err != nil {
		return nil, derError("the PKCS#1 RSAPrivateKey", err)
	}
	if !r.empty() {
		return nil, trailingError("the PKCS#1 RSAPrivateKey")
	}
	s := derReader{seq}
	switch v, err := s.readSmallInt(); {
	case err != nil:
		return nil, derError("the RSAPrivateKey version", err)
	case v == 1:
		return nil, fmt.Errorf("%w: a multi-prime RSA key (PKCS#1 version 1, more than two primes); KMS imports two-prime RSA keys only: generate a new key, e.g. `openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:3072`", ErrUnsupportedKey)
	case v != 0:
		return nil, fmt.Errorf("%w: RSAPrivateKey version %d, want 0; the key is corrupt: re-export it from its source", ErrInvalidMaterial, v)
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
		c, err := s.read(tagInteger)
		if err != nil {
			cleanup()
			return nil, derError("the RSA "+name, err)
		}
		mag, err := derPositive(c)
		if err != nil {
			cleanup()
			return nil, derError("the RSA "+name, err)
		}
		vals[i] = new(big.Int).SetBytes(mag)
	}
	if !s.empty() {
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
		return nil, fmt.Errorf("%w: the RSA public exponent is too large; the key is corrupt or unusual: generate a key with e = 65537", ErrInvalidMaterial)
	}
	key := &rsa.PrivateKey{
		PublicKey:   rsa.PublicKey{N: n, E: int(e.Int64())},
		D:           vals[2],
		Primes:      []*big.Int{vals[3], vals[4]},
		Precomputed: rsa.PrecomputedValues{Dp: vals[5], Dq: vals[6], Qinv: vals[7]},
	}
	if err := key.Validate(); err != nil {
		cleanup()
		return nil, fmt.Errorf("%w: the RSA private key is inconsistent (%v); the key is corrupt: re-export it from its source", ErrInvalidMaterial, err)
	}
	return &privateKey{rsa: key}, nil
}

// DER tags byok reads and writes.
const (
	tagInteger     = 0x02
	tagBitString   = 0x03
	tagOctetString = 0x04
	tagNull        = 0x05
	tagOID         = 0x06
	tagSequence    = 0x30
	tagContext0    = 0xa0 // [0] constructed
	tagContext1    = 0xa1 // [1] constructed
	tagImplicit1   = 0x81 // [1] IMPLICIT BIT STRING
)

var tagNames = map[byte]string{
	tagInteger: "INTEGER", tagBitString: "BIT STRING", tagOctetString: "OCTET STRING",
	tagNull: "NULL", tagOID: "OBJECT IDENTIFIER", tagSequence: "SEQUENCE",
	tagContext0: "[0]", tagContext1: "[1]", tagImplicit1: "[1] IMPLICIT",
}

func tagName(t byte) string {
	if n, ok := tagNames[t]; ok {
		return n
	}
	return fmt.Sprintf("tag 0x%02x", t)
}

// derReader reads DER strictly: definite, minimal lengths, low tag numbers.
type derReader struct{ b []byte }

func (r *derReader) empty() bool { return len(r.b) == 0 }

func (r *derReader) peek() (byte, bool) {
	if len(r.b) == 0 {
		return 0, false
	}
	return r.b[0], true
}

// next reads one element: its tag, its content and its whole encoding.
func (r *derReader) next() (tag byte, content, full []byte, err error) {
	b := r.b
	switch {
	case len(b) == 0:
		return 0, nil, nil, errors.New("an element is missing")
	case len(b) < 2:
		return 0, nil, nil, errors.New("truncated")
	case b[0]&0x1f == 0x1f:
		return 0, nil, nil, errors.New("unexpected high-number tag")
	}
	n, hdr := int(b[1]), 2
	if n&0x80 != 0 {
		k := n & 0x7f
		switch {
		case k == 0:
			return 0, nil, nil, errors.New("indefinite length (BER, not DER)")
		case k > 3:
			return 0, nil, nil, errors.New("length too large")
		case len(b) < 2+k:
			return 0, nil, nil, errors.New("truncated")
		}
		n = 0
		for _, c := range b[2 : 2+k] {
			n = n<<8 | int(c)
		}
		if b[2] == 0 || n < 0x80 {
			return 0, nil, nil, errors.New("non-minimal length (BER, not DER)")
		}
		hdr += k
	}
	if len(b)-hdr < n {
		return 0, nil, nil, errors.New("truncated")
	}
	r.b = b[hdr+n:]
	return b[0], b[hdr : hdr+n], b[:hdr+n], nil
}

// read reads one element with the given tag and returns its content.
func (r *derReader) read(tag byte) ([]byte, error) {
	t, c, _, err := r.next()
	if err != nil {
		return nil, err
	}
	if t != tag {
		return nil, fmt.Errorf("expected %s, found %s", tagName(tag), tagName(t))
	}
	return c, nil
}

// readSmallInt reads a non-negative INTEGER below 2^16.
func (r *derReader) readSmallInt() (int, error) {
	c, err := r.read(tagInteger)
	if err != nil {
		return 0, err
	}
	mag, err := derUnsigned(c)
	if err != nil {
		return 0, err
	}
	if len(mag) > 2 {
		return 0, errors.New("integer too large")
	}
	v := 0
	for _, b := range mag {
		v = v<<8 | int(b)
	}
	return v, nil
}

// derUnsigned checks the content of a non-negative, minimally encoded
// INTEGER and returns its magnitude without leading zeros.
func derUnsigned(c []byte) ([]byte, error) {
	switch {
	case len(c) == 0:
		return nil, errors.New("empty INTEGER")
	case c[0]&0x80 != 0:
		return nil, errors.New("negative INTEGER")
	case len(c) > 1 && c[0] == 0 && c[1]&0x80 == 0:
		return nil, errors.New("non-minimal INTEGER (BER, not DER)")
	}
	if c[0] == 0 {
		c = c[1:]
	}
	return c, nil
}

// derPositive is derUnsigned refusing zero.
func derPositive(c []byte) ([]byte, error) {
	mag, err := derUnsigned(c)
	if err == nil && len(mag) == 0 {
		err = errors.New("zero INTEGER")
	}
	return mag, err
}

// derTLV encodes one DER element whose content is the concatenation of parts.
func derTLV(tag byte, parts ...[]byte) []byte {
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	out := make([]byte, 0, n+6)
	out = append(out, tag)
	switch {
	case n < 0x80:
		out = append(out, byte(n))
	case n < 0x100:
		out = append(out, 0x81, byte(n))
	case n < 0x10000:
		out = append(out, 0x82, byte(n>>8), byte(n))
	default:
		out = append(out, 0x83, byte(n>>16), byte(n>>8), byte(n))
	}
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// derError reports invalid DER in what.
func derError(what string, err error) error {
	return fmt.Errorf("%w: %s is not valid DER (%v); the input is truncated or corrupt: re-export the key from its source", ErrInvalidMaterial, what, err)
}

// trailingError reports data after a structure that should end.
func trailingError(what string) error {
	return fmt.Errorf("%w: unexpected data after %s; the input has bytes appended or is corrupt: pass exactly the DER encoding of the key", ErrInvalidMaterial, what)
}
