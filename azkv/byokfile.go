package azkv

// This file is the .byok key transfer file on its own: no Azure SDK import,
// so that the offline flow (byok wrap --for azure) links none of it.

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"github.com/byok-go/byok"
)

// The "enc" values of a .byok file. Azure's BYOK specification
// (https://learn.microsoft.com/azure/key-vault/keys/byok-specification,
// "Key Transfer Blob") documents one for import: CKM_RSA_AES_KEY_WRAP, an
// ephemeral AES key encrypted under the KEK with RSA-OAEP "with SHA1"
// (MGF1-SHA-1, empty label), followed by the target key under that AES key
// with AES key wrap with padding (RFC 5649). The Key Vault API names two
// more forms of the mechanism, with SHA-256 and SHA-384 for OAEP
// (KeyEncryptionAlgorithm in the REST API, used for key release,
// https://learn.microsoft.com/rest/api/keyvault/keys/release/release);
// ParseTransferFile reads them, but Azure documents none of them for import.
const (
	EncCKMRSAAESKeyWrap = "CKM_RSA_AES_KEY_WRAP"
	EncRSAAESKeyWrap256 = "RSA_AES_KEY_WRAP_256"
	EncRSAAESKeyWrap384 = "RSA_AES_KEY_WRAP_384"
)

// SchemaVersion is the schema_version of the .byok files byok writes and
// reads, the one the specification gives.
const SchemaVersion = "1.0.0"

// MaxTransferFile bounds a .byok file: an RSA-4096 key's PKCS#8 (about
// 2.4 KB) wrapped under a 4096-bit KEK is about 3 KB, 4 KB in base64url.
const MaxTransferFile = 16 << 10

// DefaultGenerator is the generator field byok writes when FileOptions
// names none.
const DefaultGenerator = "byok (github.com/byok-go/byok)"

// KEK is Azure's key exchange key: an RSA-HSM key with key_ops [import]
// only, in the vault or Managed HSM the target key goes to
// (https://learn.microsoft.com/azure/key-vault/keys/byok-specification,
// "Key Exchange Key").
type KEK struct {
	// ID is the KEK's versioned key identifier (kid), e.g.
	// https://contoso.vault.azure.net/keys/KEKforBYOK/0123456789abcdef0123456789abcdef.
	ID string
	// PublicKey is the KEK's public key (2048, 3072 or 4096 bits).
	PublicKey *rsa.PublicKey
}

// FileOptions configure NewTransferFile. The zero value writes the
// documented form (CKM_RSA_AES_KEY_WRAP).
type FileOptions struct {
	// Enc is the "enc" value: "" or EncCKMRSAAESKeyWrap (RSA-OAEP with
	// SHA-1, the only one Azure documents for import), or
	// EncRSAAESKeyWrap256 (RSA-OAEP with SHA-256; not documented for
	// import). EncRSAAESKeyWrap384 is refused: no byok source performs
	// RSA-OAEP with SHA-384.
	Enc string
	// Generator is the informational generator field; "" means
	// DefaultGenerator.
	Generator string
	// ManagedHSM allows symmetric (oct) keys, which only Managed HSM
	// imports. A KEK identifier on a *.managedhsm.* host allows them too.
	ManagedHSM bool
}

// TransferFile is a parsed .byok file.
type TransferFile struct {
	SchemaVersion string
	// KID is the KEK's key identifier.
	KID string
	// Alg is "dir": the KEK protects the ciphertext directly.
	Alg string
	// Enc names the wrapping (EncCKMRSAAESKeyWrap, …).
	Enc string
	// Ciphertext is the RSA-OAEP block (the KEK's modulus length) followed
	// by the RFC 5649 wrap of the target key.
	Ciphertext []byte
	// Generator is informational; empty when the file has none.
	Generator string
}

// Algorithm returns byok's name for the file's wrapping:
// RSA_AES_KEY_WRAP_SHA_1 for CKM_RSA_AES_KEY_WRAP, RSA_AES_KEY_WRAP_SHA_256
// for RSA_AES_KEY_WRAP_256. RSA_AES_KEY_WRAP_384 has none (byok does not
// wrap with SHA-384): an error.
func (f *TransferFile) Algorithm() (byok.WrappingAlgorithm, error) { return encAlgorithm(f.Enc) }

// OAEPHash returns the hash of RSA-OAEP and MGF1 that Enc implies.
func (f *TransferFile) OAEPHash() crypto.Hash { return encHash(f.Enc) }

// Marshal writes the file as the specification lays it out, field order
// included: schema_version, header {kid, alg, enc}, ciphertext (base64url
// without padding, as JOSE writes it: RFC 7515, 2), generator.
func (f *TransferFile) Marshal() ([]byte, error) {
	if err := f.check(); err != nil {
		return nil, err
	}
	type header struct {
		KID string `json:"kid"`
		Alg string `json:"alg"`
		Enc string `json:"enc"`
	}
	out := struct {
		SchemaVersion string `json:"schema_version"`
		Header        header `json:"header"`
		Ciphertext    string `json:"ciphertext"`
		Generator     string `json:"generator"`
	}{f.SchemaVersion, header{f.KID, f.Alg, f.Enc}, base64.RawURLEncoding.EncodeToString(f.Ciphertext), f.Generator}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(out); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

func encAlgorithm(enc string) (byok.WrappingAlgorithm, error) {
	switch enc {
	case EncCKMRSAAESKeyWrap:
		return byok.RSAAESKeyWrapSHA1, nil
	case EncRSAAESKeyWrap256:
		return byok.RSAAESKeyWrapSHA256, nil
	case EncRSAAESKeyWrap384:
		return "", fmt.Errorf("azkv: enc %s (RSA-OAEP with SHA-384) has no byok wrapping algorithm: byok's sources wrap with SHA-1 or SHA-256", enc)
	}
	return "", fmt.Errorf("azkv: unknown enc %q: want %s (the form Azure's BYOK specification documents), %s or %s", enc, EncCKMRSAAESKeyWrap, EncRSAAESKeyWrap256, EncRSAAESKeyWrap384)
}

func encHash(enc string) crypto.Hash {
	switch enc {
	case EncCKMRSAAESKeyWrap:
		return crypto.SHA1
	case EncRSAAESKeyWrap256:
		return crypto.SHA256
	case EncRSAAESKeyWrap384:
		return crypto.SHA384
	}
	return 0
}

// encOf returns the enc value of a byok wrapping algorithm.
func encOf(alg byok.WrappingAlgorithm) (string, error) {
	switch alg {
	case byok.RSAAESKeyWrapSHA1:
		return EncCKMRSAAESKeyWrap, nil
	case byok.RSAAESKeyWrapSHA256:
		return EncRSAAESKeyWrap256, nil
	}
	return "", fmt.Errorf("%w: Azure's .byok file carries RSA_AES_KEY_WRAP (CKM_RSA_AES_KEY_WRAP), not %s", byok.ErrIncompatible, alg)
}

// keyNameRE is a Key Vault object name: 1-127 letters, digits and dashes
// (https://learn.microsoft.com/azure/key-vault/general/about-keys-secrets-certificates#object-identifiers).
var keyNameRE = regexp.MustCompile(`^[0-9A-Za-z-]{1,127}$`)

// versionRE is a key version as Key Vault writes it (32 hex digits); other
// letters and digits are accepted.
var versionRE = regexp.MustCompile(`^[0-9A-Za-z]{1,64}$`)

// KeyID is a parsed Key Vault key identifier,
// https://{vault-or-hsm-host}/keys/{name}[/{version}].
type KeyID struct {
	Vault   string // https://host
	Name    string
	Version string // "" when the identifier names no version
}

func (k KeyID) String() string {
	s := k.Vault + "/keys/" + k.Name
	if k.Version != "" {
		s += "/" + k.Version
	}
	return s
}

// ManagedHSM reports whether the host is a Managed HSM one
// (*.managedhsm.azure.net and the sovereign clouds' *.managedhsm.* hosts).
func (k KeyID) ManagedHSM() bool {
	u, err := url.Parse(k.Vault)
	return err == nil && strings.Contains("."+u.Hostname()+".", ".managedhsm.")
}

// ParseKeyID parses a key identifier (kid) such as
// https://contoso.vault.azure.net/keys/name/version: https, a host, no
// query or fragment, /keys/NAME and an optional version.
func ParseKeyID(s string) (KeyID, error) {
	bad := func(why string) (KeyID, error) {
		return KeyID{}, fmt.Errorf("azkv: %q is not a Key Vault key identifier (https://VAULT/keys/NAME/VERSION): %s", s, why)
	}
	if len(s) > 1024 {
		return bad("too long")
	}
	u, err := url.Parse(s)
	switch {
	case err != nil:
		return bad(err.Error())
	case u.Scheme != "https":
		return bad("the scheme is not https")
	case u.Host == "" || u.User != nil:
		return bad("no host, or user information in it")
	case u.RawQuery != "" || u.Fragment != "" || strings.ContainsAny(s, "?#"):
		return bad("it has a query or fragment")
	}
	parts := strings.Split(strings.TrimPrefix(u.EscapedPath(), "/"), "/")
	if len(parts) < 2 || len(parts) > 3 || parts[0] != "keys" {
		return bad("the path is not /keys/NAME or /keys/NAME/VERSION")
	}
	if !keyNameRE.MatchString(parts[1]) {
		return bad("the key name is not 1-127 letters, digits and dashes")
	}
	id := KeyID{Vault: "https://" + u.Host, Name: parts[1]}
	if len(parts) == 3 {
		if !versionRE.MatchString(parts[2]) {
			return bad("the version is not letters and digits")
		}
		id.Version = parts[2]
	}
	return id, nil
}

// ParseKEKPublicKey parses the KEK public key as `az keyvault key download`
// writes it (PEM "PUBLIC KEY", a SubjectPublicKeyInfo; with --encoding DER
// the DER itself) and checks it is a KEK Azure makes: RSA with a 2048, 3072
// or 4096-bit modulus
// (https://learn.microsoft.com/azure/key-vault/keys/hsm-protected-keys-byok,
// "Supported key types").
func ParseKEKPublicKey(data []byte) (*rsa.PublicKey, error) {
	der := data
	if block, rest := pem.Decode(data); block != nil {
		if block.Type != "PUBLIC KEY" {
			return nil, fmt.Errorf("azkv: the KEK public key file holds a PEM %q block; want \"PUBLIC KEY\", as `az keyvault key download --file KEK.pem` writes it", block.Type)
		}
		if len(bytes.TrimSpace(rest)) != 0 {
			return nil, errors.New("azkv: the KEK public key file has data after its PEM block; give the file `az keyvault key download` wrote")
		}
		der = block.Bytes
	} else if bytes.Contains(data, []byte("-----BEGIN")) {
		return nil, errors.New("azkv: the KEK public key file's PEM block is malformed")
	}
	pub, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return nil, fmt.Errorf("azkv: the KEK public key is not a SubjectPublicKeyInfo (PEM \"PUBLIC KEY\" or DER): %v", err)
	}
	rsaPub, ok := pub.(*rsa.PublicKey)
	if !ok {
		return nil, fmt.Errorf("azkv: the KEK public key is a %T; an Azure KEK is an RSA-HSM key", pub)
	}
	if _, err := byok.WrappingKeySpecOf(rsaPub); err != nil {
		return nil, fmt.Errorf("azkv: the KEK is a %d-bit RSA key; Azure's KEKs are RSA-HSM 2048, 3072 or 4096 bits: %w", rsaPub.N.BitLen(), err)
	}
	return rsaPub, nil
}

// checkKEK checks a KEK: a versioned key identifier and a usable public key.
func checkKEK(kek KEK) (KeyID, byok.WrappingKeySpec, error) {
	id, err := ParseKeyID(kek.ID)
	if err != nil {
		return KeyID{}, "", err
	}
	if id.Version == "" {
		return KeyID{}, "", fmt.Errorf("azkv: the KEK identifier %s names no version; give the kid az keyvault key create (or show) printed, which ends in /VERSION", kek.ID)
	}
	if kek.PublicKey == nil {
		return KeyID{}, "", errors.New("azkv: the KEK has no public key")
	}
	wks, err := byok.WrappingKeySpecOf(kek.PublicKey)
	if err != nil {
		return KeyID{}, "", fmt.Errorf("azkv: the KEK public key: %w", err)
	}
	return id, wks, nil
}

// NewTransferFile writes the .byok file that carries the key of src to
// Azure: src wraps its key under the KEK's public key (an HSM source inside
// the module, with CKM_RSA_AES_KEY_WRAP or its two steps,
// CKM_RSA_PKCS_OAEP of a fresh AES key and CKM_AES_KEY_WRAP_PAD), and the
// result becomes the file's ciphertext. The material is what Azure's
// specification asks for: PKCS#8 for RSA and EC keys, the raw bytes for
// AES (byok.KeyMaterial's encoding).
//
// It refuses, before src wraps anything, a key Azure does not import (see
// CheckKey), a source that cannot perform the wrapping, and a KEK that is not
// one Azure makes.
func NewTransferFile(ctx context.Context, src byok.KeySource, kek KEK, opts FileOptions) ([]byte, error) {
	if src == nil {
		return nil, errors.New("azkv: no key source")
	}
	id, wks, err := checkKEK(kek)
	if err != nil {
		return nil, err
	}
	enc := opts.Enc
	if enc == "" {
		enc = EncCKMRSAAESKeyWrap
	}
	alg, err := encAlgorithm(enc)
	if err != nil {
		return nil, err
	}
	info, err := src.Describe(ctx)
	if err != nil {
		return nil, fmt.Errorf("azkv: describing the source key: %w", err)
	}
	if err := CheckKey(info, opts.ManagedHSM || id.ManagedHSM()); err != nil {
		return nil, err
	}
	if l, ok := src.(byok.AlgorithmLister); ok {
		can, err := l.WrappingAlgorithms(ctx)
		if err != nil {
			return nil, fmt.Errorf("azkv: asking the source which wrapping algorithms it can perform: %w", err)
		}
		if !slices.Contains(can, alg) {
			return nil, cannotWrap(info, alg, can)
		}
	}
	p := byok.ImportParameters{KeyID: kek.ID, Algorithm: alg, WrappingKeySpec: wks, WrappingKey: kek.PublicKey, ImportToken: []byte(kek.ID)}
	wrapped, err := src.Wrap(ctx, p)
	if err != nil {
		return nil, fmt.Errorf("azkv: wrapping %s under the KEK %s: %w", info.Label, kek.ID, err)
	}
	return transferFile(kek.ID, enc, kek.PublicKey.Size(), wrapped, opts.Generator)
}

// transferFile checks the shape of a wrapped key (one RSA block of modBytes,
// then at least 16 bytes of RFC 5649 output in 8-byte blocks) and writes
// the .byok file around it.
func transferFile(kid, enc string, modBytes int, wrapped []byte, generator string) ([]byte, error) {
	if n := len(wrapped) - modBytes; n < 16 || n%8 != 0 {
		return nil, fmt.Errorf("azkv: the source returned %d bytes, which is not an RSA-OAEP block of %d bytes followed by an RFC 5649 key wrap", len(wrapped), modBytes)
	}
	if generator == "" {
		generator = DefaultGenerator
	}
	f := &TransferFile{SchemaVersion: SchemaVersion, KID: kid, Alg: "dir", Enc: enc, Ciphertext: wrapped, Generator: generator}
	b, err := f.Marshal()
	if err != nil {
		return nil, err
	}
	if len(b) > MaxTransferFile {
		return nil, fmt.Errorf("azkv: the .byok file would be %d bytes, more than %d", len(b), MaxTransferFile)
	}
	return b, nil
}

// check applies the rules ParseTransferFile applies to a file's fields.
func (f *TransferFile) check() error {
	switch {
	case f.SchemaVersion != SchemaVersion:
		return fmt.Errorf("azkv: .byok schema_version %q; byok knows %s", f.SchemaVersion, SchemaVersion)
	case f.Alg != "dir":
		return fmt.Errorf("azkv: .byok header.alg %q; the specification gives \"dir\" (the KEK protects the ciphertext directly)", f.Alg)
	case encHash(f.Enc) == 0:
		_, err := encAlgorithm(f.Enc)
		return err
	case len(f.Generator) > 1024 || strings.ContainsFunc(f.Generator, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		return errors.New("azkv: .byok generator is longer than 1024 bytes or holds control characters")
	}
	id, err := ParseKeyID(f.KID)
	if err != nil {
		return fmt.Errorf("azkv: .byok header.kid: %w", err)
	}
	if id.Version == "" {
		return fmt.Errorf("azkv: .byok header.kid %s names no KEK version", f.KID)
	}
	ok := false
	for _, k := range []int{256, 384, 512} {
		if n := len(f.Ciphertext) - k; n >= 16 && n%8 == 0 {
			ok = true
		}
	}
	if !ok {
		return fmt.Errorf("azkv: the .byok ciphertext is %d bytes: not an RSA-OAEP block of a 2048, 3072 or 4096-bit KEK followed by an RFC 5649 key wrap", len(f.Ciphertext))
	}
	return nil
}

// ParseTransferFile parses a .byok file strictly: at most MaxTransferFile
// bytes, one JSON object with exactly the specification's fields, spelled as
// it spells them
// (schema_version 1.0.0; header with kid, alg "dir" and a known enc;
// ciphertext; generator, which may be missing), no field twice, nothing
// after it; the kid a versioned key identifier; the ciphertext base64url
// (without padding as JOSE writes it, or with it) and shaped as an RSA-OAEP
// block of a 2048, 3072 or 4096-bit KEK followed by an RFC 5649 key wrap.
func ParseTransferFile(b []byte) (*TransferFile, error) {
	if len(b) > MaxTransferFile {
		return nil, fmt.Errorf("azkv: the .byok file is %d bytes, more than %d: it is not a key transfer file", len(b), MaxTransferFile)
	}
	if err := exactMembers(b); err != nil {
		return nil, fmt.Errorf("azkv: not a .byok file: %w", err)
	}
	var raw struct {
		SchemaVersion *string `json:"schema_version"`
		Header        *struct {
			KID *string `json:"kid"`
			Alg *string `json:"alg"`
			Enc *string `json:"enc"`
		} `json:"header"`
		Ciphertext *string `json:"ciphertext"`
		Generator  *string `json:"generator"`
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&raw); err != nil {
		return nil, fmt.Errorf("azkv: not a .byok file: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("azkv: not a .byok file: data after the JSON object")
	}
	switch {
	case raw.SchemaVersion == nil:
		return nil, errors.New("azkv: the .byok file has no schema_version")
	case raw.Header == nil:
		return nil, errors.New("azkv: the .byok file has no header")
	case raw.Header.KID == nil || raw.Header.Alg == nil || raw.Header.Enc == nil:
		return nil, errors.New("azkv: the .byok header lacks kid, alg or enc")
	case raw.Ciphertext == nil:
		return nil, errors.New("azkv: the .byok file has no ciphertext")
	}
	ct, err := decodeBase64URL(*raw.Ciphertext)
	if err != nil {
		return nil, fmt.Errorf("azkv: the .byok ciphertext is not base64url: %v", err)
	}
	f := &TransferFile{SchemaVersion: *raw.SchemaVersion, KID: *raw.Header.KID, Alg: *raw.Header.Alg, Enc: *raw.Header.Enc, Ciphertext: ct}
	if raw.Generator != nil {
		f.Generator = *raw.Generator
	}
	if err := f.check(); err != nil {
		return nil, err
	}
	return f, nil
}

// decodeBase64URL decodes base64url (RFC 4648, 5), without padding or with
// the exact padding; no other alphabet, no white space.
func decodeBase64URL(s string) ([]byte, error) {
	if strings.HasSuffix(s, "=") {
		return base64.URLEncoding.Strict().DecodeString(s)
	}
	return base64.RawURLEncoding.Strict().DecodeString(s)
}

// members are the member names an object of a .byok file may have, each
// with the members of its value when that is an object (nil: not one).
type members map[string]members

// fileMembers are the members of a .byok file and of its header, by their
// exact names (https://learn.microsoft.com/azure/key-vault/keys/byok-specification,
// "Key Transfer Blob").
var fileMembers = members{
	"schema_version": nil,
	"header":         {"kid": nil, "alg": nil, "enc": nil},
	"ciphertext":     nil,
	"generator":      nil,
}

// exactMembers refuses JSON that is not shaped as a .byok file: a member the
// specification does not name, spelled exactly as it does, a member given
// twice, an object or array where the file has none. encoding/json, which
// decodes the file afterwards, matches member names without regard to case
// and keeps the last of a repeated member, so "Ciphertext" and
// "ciphertext" would both land in one field, the last winning silently.
func exactMembers(b []byte) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	// walk reads one value, named name, where the file has an object of
	// want's members (want nil: no object).
	var walk func(name string, want members) error
	walk = func(name string, want members) error {
		t, err := dec.Token()
		if err != nil {
			return err
		}
		d, ok := t.(json.Delim)
		switch {
		case !ok:
			return nil
		case d == '[':
			return fmt.Errorf("%s is an array; a .byok file has none", name)
		case want == nil:
			return fmt.Errorf("%s is an object; the specification gives a string", name)
		}
		seen := map[string]bool{}
		for dec.More() {
			k, err := dec.Token()
			if err != nil {
				return err
			}
			key, _ := k.(string)
			sub, known := want[key]
			switch {
			case !known:
				return fmt.Errorf("unknown field %q in %s (the specification's fields are schema_version, header {kid, alg, enc}, ciphertext and generator, spelled so)", key, name)
			case seen[key]:
				return fmt.Errorf("the field %q appears twice", key)
			}
			seen[key] = true
			if err := walk(key, sub); err != nil {
				return err
			}
		}
		_, err = dec.Token() // the closing delimiter
		return err
	}
	return walk("the file", fileMembers)
}
