package migrate

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"iter"
	"os"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/byok-go/byok"
	"github.com/byok-go/byok/internal/readfile"
	"gopkg.in/yaml.v3"
)

// ManifestVersion is the manifest format version this package reads.
const ManifestVersion = 1

// Manifest is a validated migration manifest: its header (version, ID,
// defaults) and the number of keys. The keys themselves stay in the file
// and are read one at a time by Keys, so that a manifest of any size is
// handled in constant memory.
type Manifest struct {
	// Path is the manifest file; relative paths in it are relative to its
	// directory.
	Path string
	// ID names the migration. Every KMS key the migration creates is tagged
	// with it (TagMigration), and the journal records it.
	ID string
	// Version is the manifest format version (ManifestVersion).
	Version int
	// Len is the number of keys.
	Len int

	json bool
	// whole: the YAML document may use anchors and aliases, so it is
	// decoded whole by the YAML library rather than entry by entry.
	whole    bool
	defaults Key
	// defaultTargets is defaults.targets.
	defaultTargets targetList
	// kinds are the target kinds the keys use, with the first line of
	// each (filled by OpenManifest's validating pass).
	kinds map[string]int
	now   time.Time
}

// TargetKinds returns the kinds of target the manifest's keys use (aws,
// gcp, azure), sorted.
func (m *Manifest) TargetKinds() []string {
	out := make([]string, 0, len(m.kinds))
	for k := range m.kinds {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// TargetLine returns the line of the first key that uses a target of kind
// (0 when none does).
func (m *Manifest) TargetLine(kind string) int { return m.kinds[kind] }

// Key is one entry of a manifest: a source key and where it goes.
type Key struct {
	// Name identifies the entry: unique in the manifest, recorded in the
	// journal and the audit log, and tagged on the KMS key (TagKeyName).
	Name string
	// Line is the entry's line in the manifest.
	Line int
	// Source says where the key material comes from.
	Source Source
	// Target says which AWS KMS key or keys receive it; its Regions are
	// empty when the key has no AWS target (HasAWS).
	Target Target
	// Clouds are its targets outside AWS (the gcp and azure items of its
	// targets list), in manifest order.
	Clouds []CloudSpec
	// Options tune the import.
	Options Options
}

// Source names a key source: a driver (driver.Open) and its configuration.
// Secrets are never in the manifest: PINs and passphrases come from an
// environment variable or a file the manifest names.
type Source struct {
	// Driver is the driver name (software, softhsm, pkcs11, …); empty
	// means software.
	Driver string
	// Key names the key: a key file (software; relative to the manifest's
	// directory) or an HSM object (pkcs11: URI, label=, id=, handle=).
	Key string
	// Module and Token select the PKCS#11 library and token.
	Module string
	Token  string
	// PINEnv or PINFile name where the PIN is (never the PIN itself).
	PINEnv  string
	PINFile string
	// PassphraseEnv or PassphraseFile name where an encrypted key file's
	// passphrase is.
	PassphraseEnv  string
	PassphraseFile string
	// KeySpec is needed for raw AES and HMAC key files; checked otherwise.
	KeySpec byok.KeySpec
	// Usage is the KMS key usage; empty means the spec's usual one.
	Usage byok.KeyUsage
	// Options are driver-specific settings.
	Options map[string]string
}

// Target says which KMS key or keys receive a source key.
type Target struct {
	// KeyID names an existing KMS key (ARN, or key ID with Region) to import
	// into; empty means the migration creates the key.
	KeyID string
	// Regions are the Regions of the key: one for a single-Region or
	// multi-Region primary key; several for independent single-Region keys
	// holding the same key material.
	Regions []string
	// MultiRegion makes a multi-Region primary key in Regions[0], replicated
	// to ReplicaRegions.
	MultiRegion    bool
	ReplicaRegions []string
	// Alias, Description, Tags and Policy (JSON) apply to keys the
	// migration creates (and their replicas). PolicyFile is read instead
	// of Policy when set.
	Alias       string
	Description string
	Tags        map[string]string
	Policy      string
	PolicyFile  string
	// ValidTo makes the key material expire; zero means it does not.
	ValidTo time.Time
	// Rotate imports the key material into the existing symmetric key KeyID
	// as NEW_KEY_MATERIAL (and into its replicas as EXISTING_KEY_MATERIAL),
	// then rotates the key to it with RotateKeyOnDemand.
	Rotate bool
	// KeyMaterialDescription describes the imported material (symmetric
	// keys only).
	KeyMaterialDescription string
}

// Options tune one import.
type Options struct {
	// Algorithm and WrappingKeySpec force the wrapping; empty means
	// negotiated (byok.Importer).
	Algorithm       byok.WrappingAlgorithm
	WrappingKeySpec byok.WrappingKeySpec
	// SkipVerify turns off the proof after import.
	SkipVerify bool
}

// HasAWS reports whether the key goes into AWS KMS (a validated key with
// an AWS target has at least one Region).
func (k *Key) HasAWS() bool { return len(k.Target.Regions) > 0 }

// AllRegions returns the key's Regions, replicas included, primary first.
func (t Target) AllRegions() []string {
	out := slices.Clone(t.Regions)
	for _, r := range t.ReplicaRegions {
		if !slices.Contains(out, r) {
			out = append(out, r)
		}
	}
	return out
}

// FieldError is a manifest mistake: where it is and what is wrong.
type FieldError struct {
	Path  string // the manifest file
	Line  int    // 1-based; 0 when unknown
	Field string // e.g. keys[3].target.region
	Msg   string
}

func (e *FieldError) Error() string {
	var b strings.Builder
	b.WriteString("migrate: ")
	b.WriteString(e.Path)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	if e.Field != "" {
		b.WriteString(": ")
		b.WriteString(e.Field)
	}
	b.WriteString(": ")
	b.WriteString(e.Msg)
	return b.String()
}

// ManifestError lists every mistake found in a manifest (up to a limit).
type ManifestError struct {
	Errs []*FieldError
	// More is how many further mistakes were not listed.
	More int
}

func (e *ManifestError) Error() string {
	var b strings.Builder
	for i, fe := range e.Errs {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(fe.Error())
	}
	if e.More > 0 {
		fmt.Fprintf(&b, "\n… and %d more", e.More)
	}
	return b.String()
}

// Unwrap returns the listed errors, for errors.As.
func (e *ManifestError) Unwrap() []error {
	out := make([]error, len(e.Errs))
	for i, fe := range e.Errs {
		out[i] = fe
	}
	return out
}

const maxErrors = 50

type errList struct {
	path string
	errs []*FieldError
	more int
}

func (l *errList) add(line int, field, format string, a ...any) {
	if len(l.errs) >= maxErrors {
		l.more++
		return
	}
	l.errs = append(l.errs, &FieldError{Path: l.path, Line: line, Field: field, Msg: fmt.Sprintf(format, a...)})
}

func (l *errList) err() error {
	if len(l.errs) == 0 {
		return nil
	}
	return &ManifestError{Errs: l.errs, More: l.more}
}

var (
	regionRe = regexp.MustCompile(`^([a-z]+-){2,3}\d+$`)
	nameRe   = regexp.MustCompile(`^[A-Za-z0-9_.:/=+@-]{1,128}$`)
	aliasRe  = regexp.MustCompile(`^alias/[a-zA-Z0-9/_-]+$`)
)

// manifestReader caps a manifest being streamed: its whole size, and for
// YAML (read line by line) the length of a line, so that memory stays flat.
// A JSON manifest may be one long line; it is read by tokens.
func manifestReader(f io.Reader, path string, isJSON bool) io.Reader {
	line := int64(readfile.ManifestLine)
	if isJSON {
		line = 0
	}
	return readfile.Reader(f, path, "manifest", readfile.Manifest, line)
}

// OpenManifest reads and validates a manifest (YAML, or JSON when the file
// starts with '{'). Every mistake found is returned in a *ManifestError
// naming the line and the field. The keys are validated in a streaming pass
// and not kept in memory; iterate them with Keys.
func OpenManifest(path string) (*Manifest, error) {
	return openManifest(path, time.Now())
}

func openManifest(path string, now time.Time) (*Manifest, error) {
	m, err := openManifestAs(path, now, false)
	var syn *streamSyntaxError
	if err != nil && errors.As(err, &syn) {
		// The streamed path cut an entry where YAML does not end one (a
		// flow collection or a quoted string spread over lines): decode the
		// document whole, as a manifest with anchors is, so that both paths
		// accept the same documents. Too large to decode whole: the
		// streamed path's error, with its line, stands.
		if st, e := os.Stat(path); e == nil && st.Size() <= maxWholeManifest {
			return openManifestAs(path, now, true)
		}
		return nil, syn.error
	}
	return m, err
}

// openManifestAs reads and validates a manifest; whole decodes a YAML
// manifest whole rather than streaming it.
func openManifestAs(path string, now time.Time, whole bool) (*Manifest, error) {
	m := &Manifest{Path: path, now: now}
	f, err := readfile.Open(path, "manifest")
	if err != nil {
		return nil, fmt.Errorf("migrate: opening the manifest: %w", err)
	}
	defer f.Close()
	first, _ := peekNonSpace(bufio.NewReader(f)) // looks at 4 KiB at most
	m.json = first == '{'
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, fmt.Errorf("migrate: reading the manifest: %w", err)
	}
	if !m.json {
		m.whole = whole
		if !whole {
			m.whole, err = mayHaveAnchors(bufio.NewReader(manifestReader(f, path, false)))
			if err != nil {
				return nil, fmt.Errorf("migrate: reading the manifest: %w", err)
			}
		}
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return nil, fmt.Errorf("migrate: reading the manifest: %w", err)
		}
	}
	errs := &errList{path: path}
	// Names are checked for uniqueness by 64-bit hash: 16 bytes a key;
	// so are the cloud keys of targets outside AWS, which no two entries
	// may share.
	names := map[uint64]int{}
	m.kinds = map[string]int{}
	if m.whole {
		// One pass: the document is decoded whole, header and keys.
		for _, err := range m.keys(errs, names, func(n *yaml.Node) { m.parseHeader(n, errs) }) {
			if err != nil {
				return nil, err
			}
			m.Len++
		}
	} else {
		// Pass 1: the header (it may come after the keys).
		var header *yaml.Node
		if err := m.scan(bufio.NewReader(manifestReader(f, path, m.json)), func(n *yaml.Node) { header = n }, nil); err != nil {
			return nil, err
		}
		m.parseHeader(header, errs)
		// Pass 2: every key, validated with the defaults applied.
		for _, err := range m.keys(errs, names, nil) {
			if err != nil {
				return nil, err
			}
			m.Len++
		}
	}
	if err := errs.err(); err != nil {
		return nil, err
	}
	if m.Len == 0 {
		errs.add(0, "keys", "the manifest lists no keys")
	}
	return m, errs.err()
}

// Keys iterates over the manifest's keys, in order, reading the file again.
// A key is yielded with its defaults applied and relative paths resolved.
func (m *Manifest) Keys() iter.Seq2[Key, error] {
	return func(yield func(Key, error) bool) {
		errs := &errList{path: m.Path}
		for k, err := range m.keys(errs, nil, nil) {
			if err == nil {
				err = errs.err()
			}
			if !yield(k, err) || err != nil {
				return
			}
		}
		if err := errs.err(); err != nil {
			yield(Key{}, err)
		}
	}
}

// keys reads the manifest and yields its valid keys; header, when set, is
// given the header before any key (a document decoded whole only).
func (m *Manifest) keys(errs *errList, names map[uint64]int, header func(*yaml.Node)) iter.Seq2[Key, error] {
	return func(yield func(Key, error) bool) {
		f, err := readfile.Open(m.Path, "manifest")
		if err != nil {
			yield(Key{}, fmt.Errorf("migrate: opening the manifest: %w", err))
			return
		}
		defer f.Close()
		i := 0
		stop := errors.New("stop")
		err = m.scan(bufio.NewReader(manifestReader(f, m.Path, m.json)), header, func(n *yaml.Node) error {
			k, ok := m.parseKey(n, i, errs)
			i++
			if names != nil && k.Name != "" {
				h := fnv.New64a()
				h.Write([]byte(k.Name))
				sum := h.Sum64()
				if line, dup := names[sum]; dup {
					errs.add(k.Line, "name", "%q is used twice (first at line %d); names must be unique", k.Name, line)
					ok = false
				} else {
					names[sum] = k.Line
				}
			}
			if names != nil {
				m.noteTargets(&k, names, errs)
			}
			if !ok {
				return nil
			}
			if !yield(k, nil) {
				return stop
			}
			return nil
		})
		if err != nil && err != stop {
			yield(Key{}, err)
		}
	}
}

// noteTargets records the kinds of k's targets and checks that no other
// entry imports into the same cloud key (in the validating pass).
func (m *Manifest) noteTargets(k *Key, seen map[uint64]int, errs *errList) {
	if k.HasAWS() {
		if _, ok := m.kinds[KindAWS]; !ok {
			m.kinds[KindAWS] = k.Line
		}
	}
	mine := map[uint64]bool{} // a target given twice in k is checkClouds's to report
	for _, c := range k.Clouds {
		if _, ok := m.kinds[c.Kind]; !ok {
			m.kinds[c.Kind] = c.Line
		}
		h := fnv.New64a()
		h.Write([]byte("\x00target\x00" + c.Unit()))
		sum := h.Sum64()
		if line, dup := seen[sum]; dup && !mine[sum] {
			errs.add(k.Line, k.Name, "%s %s is the target of another key too (the key at line %d): each key needs a cloud key of its own", c.Kind, c.Name(), line)
		} else if !dup {
			seen[sum], mine[sum] = k.Line, true
		}
	}
}

func peekNonSpace(br *bufio.Reader) (byte, error) {
	for n := 1; ; n++ {
		b, err := br.Peek(n)
		if len(b) < n {
			return 0, err
		}
		c := b[n-1]
		if c != ' ' && c != '\t' && c != '\r' && c != '\n' && c != 0xef && c != 0xbb && c != 0xbf {
			return c, nil
		}
	}
}

// scan reads the manifest and hands the header (the top-level mapping
// without its keys) to header and each entry of keys to item, as yaml.Nodes
// whose Line fields are lines of the file.
func (m *Manifest) scan(r *bufio.Reader, header func(*yaml.Node), item func(*yaml.Node) error) error {
	switch {
	case m.json:
		return m.scanJSON(r, header, item)
	case m.whole:
		text, err := readfile.ReadAll(r, m.Path, "manifest with anchors or aliases", maxWholeManifest)
		if err != nil {
			return fmt.Errorf("migrate: reading the manifest: %w; a manifest with anchors or aliases is decoded whole, which takes about 20 times its size in memory: expand them (or split the manifest) to stream a larger one", err)
		}
		return m.scanWhole(text, header, item)
	}
	return m.scanYAML(r, header, item)
}

// maxWholeManifest bounds a YAML manifest decoded whole (one that may use
// anchors and aliases): decoded, a 16 MiB manifest of 100 000 keys takes
// about 300 MiB.
const maxWholeManifest = 32 << 20

// mayHaveAnchors reports whether a YAML text may hold an anchor (&name) or
// an alias (*name): a '&' or '*' that starts a token, after a line's start,
// a space, a tab, '[', '{' or ','. It errs on the side of yes (a '*' in a
// plain scalar such as "a * b" counts), never of no: an anchor or alias can
// only begin a node, which is where this looks. Such a document is decoded
// whole; any other is streamed entry by entry, which gives the same nodes.
func mayHaveAnchors(r io.Reader) (bool, error) {
	buf := make([]byte, 64<<10)
	prev := byte('\n')
	for {
		n, err := r.Read(buf)
		chunk := buf[:n]
		for i := bytes.IndexAny(chunk, "&*"); i >= 0; {
			p := prev
			if i > 0 {
				p = chunk[i-1]
			}
			switch p {
			case '\n', '\r', ' ', '\t', '[', '{', ',':
				return true, nil
			}
			j := bytes.IndexAny(chunk[i+1:], "&*")
			if j < 0 {
				break
			}
			i += 1 + j
		}
		if n > 0 {
			prev = chunk[n-1]
		}
		if err == io.EOF {
			return false, nil
		}
		if err != nil {
			return false, err
		}
	}
}
