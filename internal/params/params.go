// Package params reads and writes the files of byok's offline (air-gapped)
// import: a directory holding what GetParametersForImport returned (the
// wrapping public key and the import token, as the files AWS's
// documentation and the AWS CLI use) with a small JSON file describing them,
// and, once `byok wrap` ran, the encrypted key material. It also reads the
// ImportParameters.zip the AWS KMS console downloads.
//
// The files of a directory:
//
//	WrappingPublicKey.bin     the wrapping public key, DER SubjectPublicKeyInfo
//	ImportToken.bin           the import token, as KMS returned it
//	byok-params.json          Metadata: key ARN, key spec, algorithm, expiry, hashes
//	EncryptedKeyMaterial.bin  written by `byok wrap`
//
// The metadata records the SHA-256 of the wrapping key, the token and the
// encrypted key material, so that files from two runs mixed up in one
// directory are caught before AWS refuses them.
package params

import (
	"archive/zip"
	"bytes"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/byok-go/byok"
	"github.com/byok-go/byok/internal/readfile"
)

// File names in a parameters directory.
const (
	WrappingKeyFile          = "WrappingPublicKey.bin"
	ImportTokenFile          = "ImportToken.bin"
	EncryptedKeyMaterialFile = "EncryptedKeyMaterial.bin"
	MetadataFile             = "byok-params.json"
)

// Format is the value of Metadata.Format this package writes and reads.
const Format = "byok-import-parameters/1"

// Where the parameters came from (Metadata.From).
const (
	FromAPI        = "GetParametersForImport"
	FromConsoleZip = "console ImportParameters.zip"
)

// maxFile bounds every file this package reads: a wrapping key is under
// 600 bytes, a token a few KiB, encrypted key material at most 6144 bytes.
const maxFile = readfile.Params

// Metadata is byok-params.json. Empty fields are unknown (the console's zip
// does not say everything).
type Metadata struct {
	Format string `json:"format"`
	// KeyARN is the KMS key the parameters are bound to (an ARN, or a key ID
	// when only that is known, as with the console's zip).
	KeyARN string `json:"key_arn"`
	// Region is the KMS key's Region, from its ARN.
	Region string `json:"region,omitempty"`
	// CreatedKey is true when `byok params` created the KMS key.
	CreatedKey bool `json:"created_key,omitempty"`
	// KeySpec and KeyUsage are the KMS key's.
	KeySpec  byok.KeySpec  `json:"key_spec,omitempty"`
	KeyUsage byok.KeyUsage `json:"key_usage,omitempty"`
	// Algorithm and WrappingKeySpec are what the parameters were asked for.
	Algorithm       byok.WrappingAlgorithm `json:"wrapping_algorithm"`
	WrappingKeySpec byok.WrappingKeySpec   `json:"wrapping_key_spec"`
	// ValidTo is when the wrapping key and import token expire; nil when
	// unknown.
	ValidTo *time.Time `json:"parameters_valid_to,omitempty"`
	// WrappingKeySHA256 and ImportTokenSHA256 are hex SHA-256 digests of
	// the two files.
	WrappingKeySHA256 string `json:"wrapping_key_sha256"`
	ImportTokenSHA256 string `json:"import_token_sha256"`
	// Source is the source key as known when the parameters were fetched
	// (nil: not known then).
	Source *Source `json:"source,omitempty"`
	// Wrapped is filled in by `byok wrap`.
	Wrapped *Wrapped `json:"wrapped,omitempty"`
	// From says where the parameters came from (FromAPI, FromConsoleZip).
	From string `json:"from"`
	// Written is when the metadata was first written.
	Written time.Time `json:"written"`
}

// Source describes a source key without revealing it.
type Source struct {
	Label       string       `json:"label,omitempty"`
	KeySpec     byok.KeySpec `json:"key_spec,omitempty"`
	Fingerprint string       `json:"fingerprint,omitempty"`
	// PublicKey is the DER SubjectPublicKeyInfo of an asymmetric key.
	PublicKey []byte `json:"public_key,omitempty"`
}

// Wrapped records one `byok wrap`.
type Wrapped struct {
	Source Source    `json:"source"`
	SHA256 string    `json:"encrypted_key_material_sha256"`
	Bytes  int       `json:"encrypted_key_material_bytes"`
	At     time.Time `json:"at"`
}

// Set is a loaded set of import parameters.
type Set struct {
	Meta           Metadata
	WrappingKeyDER []byte
	WrappingKey    *rsa.PublicKey
	ImportToken    []byte
	// Encrypted is the encrypted key material, nil until wrapped.
	Encrypted []byte
	// README is the text of the console zip's README, if any.
	README string
}

// Digest returns the hex SHA-256 of b.
func Digest(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// RegionOf returns the Region of a KMS key ARN, or "" if s is not one.
func RegionOf(s string) string {
	p := strings.Split(s, ":")
	if len(p) >= 6 && p[0] == "arn" && p[2] == "kms" {
		return p[3]
	}
	return ""
}

// New makes a Set from GetParametersForImport's result.
func New(p byok.ImportParameters, wrappingKeyDER []byte, spec byok.KeySpec, usage byok.KeyUsage, now time.Time) *Set {
	m := Metadata{
		Format: Format, KeyARN: p.KeyID, Region: RegionOf(p.KeyID), KeySpec: spec, KeyUsage: usage,
		Algorithm: p.Algorithm, WrappingKeySpec: p.WrappingKeySpec,
		WrappingKeySHA256: Digest(wrappingKeyDER), ImportTokenSHA256: Digest(p.ImportToken),
		From: FromAPI, Written: now.UTC().Truncate(time.Second),
	}
	if !p.ValidTo.IsZero() {
		t := p.ValidTo.UTC()
		m.ValidTo = &t
	}
	return &Set{Meta: m, WrappingKeyDER: wrappingKeyDER, WrappingKey: p.WrappingKey, ImportToken: p.ImportToken}
}

// ImportParameters returns the parameters in the form byok's sources and
// targets take.
func (s *Set) ImportParameters() byok.ImportParameters {
	p := byok.ImportParameters{KeyID: s.Meta.KeyARN, Algorithm: s.Meta.Algorithm, WrappingKeySpec: s.Meta.WrappingKeySpec,
		WrappingKey: s.WrappingKey, ImportToken: s.ImportToken}
	if s.Meta.ValidTo != nil {
		p.ValidTo = *s.Meta.ValidTo
	}
	return p
}

// Check checks that the set is consistent: the files are the ones the
// metadata names (by digest), the wrapping key is one KMS hands out and of
// the recorded spec, and the algorithm is one KMS accepts and can carry key
// material of the recorded key spec. It does not look at the time.
func (s *Set) Check() error {
	m := &s.Meta
	if m.Format != Format {
		return fmt.Errorf("%s: format %q; this byok reads %q — write the parameters again with this version's `byok params`", MetadataFile, m.Format, Format)
	}
	if m.KeyARN == "" {
		return fmt.Errorf("%s names no KMS key (key_arn)", MetadataFile)
	}
	if len(s.ImportToken) == 0 {
		return errors.New("the import token is empty")
	}
	if m.ImportTokenSHA256 != "" && Digest(s.ImportToken) != m.ImportTokenSHA256 {
		return fmt.Errorf("%s is not the import token %s was written with (SHA-256 differs): files from two `byok params` runs are mixed up — fetch the parameters again", ImportTokenFile, MetadataFile)
	}
	if m.WrappingKeySHA256 != "" && Digest(s.WrappingKeyDER) != m.WrappingKeySHA256 {
		return fmt.Errorf("%s is not the wrapping key %s was written with (SHA-256 differs): files from two `byok params` runs are mixed up — fetch the parameters again", WrappingKeyFile, MetadataFile)
	}
	pub, err := byok.ParseWrappingPublicKey(s.WrappingKeyDER)
	if err != nil {
		return err
	}
	s.WrappingKey = pub
	w, err := byok.WrappingKeySpecOf(pub)
	if err != nil {
		return err
	}
	if m.WrappingKeySpec == "" {
		m.WrappingKeySpec = w
	} else if m.WrappingKeySpec != w {
		return fmt.Errorf("the metadata says the wrapping key is %s, but %s holds an %s key", m.WrappingKeySpec, WrappingKeyFile, w)
	}
	if m.Algorithm != "" {
		if err := m.Algorithm.Validate(); err != nil {
			return err
		}
	}
	if m.KeySpec != "" {
		if err := m.KeySpec.Validate(); err != nil {
			return err
		}
		if m.KeyUsage != "" && !m.KeySpec.AllowsUsage(m.KeyUsage) {
			return fmt.Errorf("key usage %s is not valid for %s", m.KeyUsage, m.KeySpec)
		}
		if m.Algorithm != "" {
			if err := byok.CheckCompatible(m.KeySpec, m.Algorithm, m.WrappingKeySpec); err != nil {
				return err
			}
		}
	}
	if s.Encrypted != nil && m.Wrapped != nil && m.Wrapped.SHA256 != "" && Digest(s.Encrypted) != m.Wrapped.SHA256 {
		return fmt.Errorf("%s is not the one `byok wrap` recorded in %s (SHA-256 differs); run `byok wrap` again", EncryptedKeyMaterialFile, MetadataFile)
	}
	return nil
}

// Expired reports whether the parameters are known to have expired at now.
func (s *Set) Expired(now time.Time) bool {
	return s.Meta.ValidTo != nil && !now.Before(*s.Meta.ValidTo)
}

// Write writes the wrapping key, token and metadata into dir (created with
// mode 0700 if missing). It refuses to replace an existing set unless
// force is true. The encrypted key material is written by WriteWrapped.
//
// The write is all or nothing: if it fails part way (a full disk), the
// files it wrote are removed and, with force, the set it was replacing is
// put back, so that the same command can run again as it was.
func Write(dir string, s *Set, force bool) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	setFiles := []string{MetadataFile, WrappingKeyFile, ImportTokenFile, EncryptedKeyMaterialFile}
	var replace []string
	if !force {
		for _, f := range setFiles {
			if _, err := os.Lstat(filepath.Join(dir, f)); err == nil {
				return fmt.Errorf("%s already holds import parameters (%s); use another directory, or --force to replace them", dir, f)
			}
		}
	} else {
		// The old encrypted key material goes too: it is for the old set.
		replace = setFiles
	}
	if s.Meta.WrappingKeySHA256 == "" {
		s.Meta.WrappingKeySHA256 = Digest(s.WrappingKeyDER)
	}
	if s.Meta.ImportTokenSHA256 == "" {
		s.Meta.ImportTokenSHA256 = Digest(s.ImportToken)
	}
	meta, err := metadataJSON(&s.Meta)
	if err != nil {
		return err
	}
	// The metadata last: it is what a reader looks for first.
	return writeAll(dir, []namedFile{{WrappingKeyFile, s.WrappingKeyDER}, {ImportTokenFile, s.ImportToken}, {MetadataFile, meta}}, replace)
}

// WriteMetadata writes byok-params.json into dir.
func WriteMetadata(dir string, m *Metadata) error {
	b, err := metadataJSON(m)
	if err != nil {
		return err
	}
	return writeFile(filepath.Join(dir, MetadataFile), b)
}

func metadataJSON(m *Metadata) ([]byte, error) {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// WriteWrapped writes the encrypted key material into dir and records it
// in the metadata, both or neither (as Write).
func WriteWrapped(dir string, s *Set, encrypted []byte, src Source, now time.Time) error {
	m := s.Meta
	m.Wrapped = &Wrapped{Source: src, SHA256: Digest(encrypted), Bytes: len(encrypted), At: now.UTC().Truncate(time.Second)}
	meta, err := metadataJSON(&m)
	if err != nil {
		return err
	}
	if err := writeAll(dir, []namedFile{{EncryptedKeyMaterialFile, encrypted}, {MetadataFile, meta}}, []string{EncryptedKeyMaterialFile, MetadataFile}); err != nil {
		return err
	}
	s.Encrypted, s.Meta = encrypted, m
	return nil
}

// namedFile is one file of a parameters directory to write.
type namedFile struct {
	name string
	data []byte
}

// writeAll writes files into dir, all or nothing. Each is written to a
// temporary file first (mode 0600, synced); once all are, the files named
// in replace that exist are moved aside and the new ones renamed into
// place, in order. If a step fails, the files this call put in place are
// removed and those it moved aside are moved back: dir is as it was (bar a
// crash in the middle, which leaves .byok-* files and no half-written
// file under a set's name). On success what was moved aside is removed.
func writeAll(dir string, files []namedFile, replace []string) (err error) {
	var temps, placed []string
	type move struct{ name, aside string }
	var moved []move
	defer func() {
		for _, t := range temps {
			os.Remove(t)
		}
		if err == nil {
			for _, m := range moved {
				os.Remove(m.aside)
			}
			return
		}
		for _, p := range placed {
			os.Remove(p)
		}
		for _, m := range moved {
			os.Rename(m.aside, m.name)
		}
	}()
	for _, f := range files {
		t, err := writeTemp(dir, f.data)
		if t != "" {
			temps = append(temps, t)
		}
		if err != nil {
			return err
		}
	}
	for _, name := range replace {
		p := filepath.Join(dir, name)
		if _, err := os.Lstat(p); errors.Is(err, fs.ErrNotExist) {
			continue
		}
		// A unique name beside it, taken by an empty file the rename
		// replaces.
		a, err := os.CreateTemp(dir, ".byok-old-*")
		if err != nil {
			return err
		}
		a.Close()
		if err := rename(p, a.Name()); err != nil {
			os.Remove(a.Name())
			return err
		}
		moved = append(moved, move{p, a.Name()})
	}
	for i, f := range files {
		p := filepath.Join(dir, f.name)
		if err := rename(temps[i], p); err != nil {
			return err
		}
		placed = append(placed, p)
	}
	temps = nil
	return nil
}

// writeTemp writes data into a new temporary file in dir, mode 0600, and
// syncs it. It returns the file's name once the file exists, error or not.
func writeTemp(dir string, data []byte) (string, error) {
	f, err := os.CreateTemp(dir, ".byok-*")
	if err != nil {
		return "", err
	}
	name := f.Name()
	if _, err := fileWrite(f, data); err != nil {
		f.Close()
		return name, err
	}
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return name, err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return name, err
	}
	return name, f.Close()
}

// The file operations Write and WriteWrapped use; tests make them fail.
var (
	fileWrite = (*os.File).Write
	rename    = os.Rename
)

// writeFile writes one file atomically (a temporary file renamed over the
// target), mode 0600.
func writeFile(name string, data []byte) error {
	return writeAll(filepath.Dir(name), []namedFile{{filepath.Base(name), data}}, nil)
}

// readLimited reads one file of a parameters directory: a regular file of
// at most maxFile bytes (a device, FIFO or directory is refused unread).
func readLimited(name string) ([]byte, error) {
	return readfile.ReadFile(name, "import parameters file", maxFile)
}

// ReadDir reads a parameters directory written by Write (and WriteWrapped)
// and checks it (Check). A missing EncryptedKeyMaterial.bin leaves
// Encrypted nil.
func ReadDir(dir string) (*Set, error) {
	mb, err := readLimited(filepath.Join(dir, MetadataFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s has no %s: pass the directory `byok params --out` wrote, or the console's ImportParameters.zip", dir, MetadataFile)
	}
	if err != nil {
		return nil, err
	}
	s := &Set{}
	if err := ParseMetadata(mb, &s.Meta); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, MetadataFile), err)
	}
	if s.WrappingKeyDER, err = readLimited(filepath.Join(dir, WrappingKeyFile)); err != nil {
		return nil, err
	}
	if s.ImportToken, err = readLimited(filepath.Join(dir, ImportTokenFile)); err != nil {
		return nil, err
	}
	s.Encrypted, err = readLimited(filepath.Join(dir, EncryptedKeyMaterialFile))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	if err := s.Check(); err != nil {
		return nil, fmt.Errorf("%s: %w", dir, err)
	}
	return s, nil
}

// ParseMetadata decodes byok-params.json strictly: unknown fields and
// trailing data are refused.
func ParseMetadata(b []byte, m *Metadata) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(m); err != nil {
		return fmt.Errorf("not byok import parameters metadata: %w", err)
	}
	if dec.More() {
		return errors.New("not byok import parameters metadata: trailing data")
	}
	return nil
}

// Names in the console's zip: importToken_<keyId>, wrappingKey_<keyId> and
// README_<keyId>.txt, where a download timestamp may follow the key ID
// (importToken_<keyId>_<MMddHHmmss>).
var (
	zipName    = regexp.MustCompile(`^(importToken|wrappingKey|README)_(mrk-[0-9a-f]{32}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})(_[0-9A-Za-z-]+)?(\.txt|\.bin|\.der|\.pem)?$`)
	readmeAlg  = regexp.MustCompile(`\b(RSAES_OAEP_SHA_1|RSAES_OAEP_SHA_256|RSA_AES_KEY_WRAP_SHA_1|RSA_AES_KEY_WRAP_SHA_256|RSAES_PKCS1_V1_5|SM2PKE)\b`)
	readmeARN  = regexp.MustCompile(`\barn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/(mrk-[0-9a-f]{32}|[0-9a-f-]{36})\b`)
	readmeSpec = regexp.MustCompile(`\b(RSA_2048|RSA_3072|RSA_4096)\b`)
)

// ReadConsoleZip reads the ImportParameters.zip the AWS KMS console
// downloads: importToken_<keyId>, wrappingKey_<keyId> (DER, or PEM) and
// README_<keyId>.txt, file names possibly followed by a timestamp.
//
// The zip does not carry the wrapping algorithm in a documented form: the
// README is searched for an algorithm name, and alg (if not empty) must
// agree with it; when neither names one, the Set's Algorithm is empty and
// the caller must ask for it. The key spec, the key usage and the expiry
// are not in the zip: they are left unknown (the parameters are valid for
// 24 hours after the download).
func ReadConsoleZip(r io.ReaderAt, size int64, alg byok.WrappingAlgorithm) (*Set, error) {
	zr, err := zip.NewReader(r, size)
	if err != nil {
		return nil, fmt.Errorf("not a zip file: %w", err)
	}
	var keyID string
	files := map[string][]byte{}
	for _, f := range zr.File {
		if f.FileInfo().IsDir() {
			continue
		}
		base := path.Base(f.Name)
		m := zipName.FindStringSubmatch(base)
		if m == nil {
			continue
		}
		if keyID != "" && m[2] != keyID {
			return nil, fmt.Errorf("the zip holds parameters for two KMS keys (%s and %s); use the zip of one download", keyID, m[2])
		}
		keyID = m[2]
		if _, dup := files[m[1]]; dup {
			return nil, fmt.Errorf("the zip holds two %s files; use the zip of one download", m[1])
		}
		if f.UncompressedSize64 > maxFile {
			return nil, fmt.Errorf("%s in the zip is larger than %d bytes: not import parameters", base, maxFile)
		}
		rc, err := f.Open()
		if err != nil {
			return nil, fmt.Errorf("%s in the zip: %w", base, err)
		}
		b, err := io.ReadAll(io.LimitReader(rc, maxFile+1))
		rc.Close()
		if err != nil {
			return nil, fmt.Errorf("%s in the zip: %w", base, err)
		}
		if len(b) > maxFile {
			return nil, fmt.Errorf("%s in the zip is larger than %d bytes: not import parameters", base, maxFile)
		}
		files[m[1]] = b
	}
	if files["importToken"] == nil || files["wrappingKey"] == nil {
		return nil, errors.New("the zip lacks importToken_<keyId> or wrappingKey_<keyId>: is it the ImportParameters.zip the KMS console downloads (\"Download wrapping public key and import token\")?")
	}
	s := &Set{WrappingKeyDER: files["wrappingKey"], ImportToken: files["importToken"], README: string(files["README"])}
	s.Meta = Metadata{Format: Format, KeyARN: keyID, From: FromConsoleZip}
	if b, _ := pemOrDER(s.WrappingKeyDER); b != nil {
		s.WrappingKeyDER = b
	}
	if arn := readmeARN.FindStringSubmatch(s.README); arn != nil && arn[1] == keyID {
		s.Meta.KeyARN = arn[0]
		s.Meta.Region = RegionOf(arn[0])
	}
	var named []byok.WrappingAlgorithm
	for _, a := range readmeAlg.FindAllString(s.README, -1) {
		if !slices.Contains(named, byok.WrappingAlgorithm(a)) {
			named = append(named, byok.WrappingAlgorithm(a))
		}
	}
	switch {
	case alg != "" && len(named) == 1 && named[0] != alg:
		return nil, fmt.Errorf("the zip's README says the parameters are for %s, not %s: the wrapping algorithm must be the one chosen when downloading", named[0], alg)
	case alg != "":
		s.Meta.Algorithm = alg
	case len(named) == 1:
		s.Meta.Algorithm = named[0]
	}
	if specs := readmeSpec.FindAllString(s.README, -1); len(specs) > 0 {
		s.Meta.WrappingKeySpec = byok.WrappingKeySpec(specs[0])
		for _, w := range specs[1:] {
			if w != specs[0] {
				s.Meta.WrappingKeySpec = "" // ambiguous: take it from the key
			}
		}
	}
	s.Meta.WrappingKeySHA256 = Digest(s.WrappingKeyDER)
	s.Meta.ImportTokenSHA256 = Digest(s.ImportToken)
	if err := s.Check(); err != nil {
		return nil, err
	}
	return s, nil
}

// pemOrDER returns the DER inside a PEM block, or nil if b is not PEM.
func pemOrDER(b []byte) ([]byte, error) {
	blk, _ := pem.Decode(b)
	if blk == nil {
		return nil, nil
	}
	return blk.Bytes, nil
}

// ReadConsoleZipFile reads a console zip from a file.
func ReadConsoleZipFile(name string, alg byok.WrappingAlgorithm) (*Set, error) {
	f, err := readfile.Open(name, "ImportParameters.zip")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if st.Size() > readfile.ConsoleZip { // a regular file: its size is real
		return nil, fmt.Errorf("%s is larger than 1 MiB: not the console's ImportParameters.zip", name)
	}
	s, err := ReadConsoleZip(f, st.Size(), alg)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return s, nil
}

// IsZip reports whether name is a file (not a directory) starting with the
// zip signature.
func IsZip(name string) bool {
	f, err := readfile.Open(name, "zip")
	if err != nil {
		return false
	}
	defer f.Close()
	var sig [4]byte
	if _, err := io.ReadFull(f, sig[:]); err != nil {
		return false
	}
	return string(sig[:]) == "PK\x03\x04"
}
