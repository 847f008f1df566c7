package migrate

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"iter"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
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
	now      time.Time
}

// Key is one entry of a manifest: a source key and where it goes.
type Key struct {
	// Name identifies the entry: unique in the manifest, recorded in the
	// journal and the audit log, and tagged on the KMS key (TagKeyName).
	Name string
	// Line is the entry's line in the manifest.
	Line int
	// Source says where the key material comes from.
	Source Source
	// Target says which KMS key or keys receive it.
	Target Target
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
	relRe    = regexp.MustCompile(`^\+([0-9]+)([dhm])$`)
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
		m.whole, err = mayHaveAnchors(bufio.NewReader(manifestReader(f, path, false)))
		if err != nil {
			return nil, fmt.Errorf("migrate: reading the manifest: %w", err)
		}
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return nil, fmt.Errorf("migrate: reading the manifest: %w", err)
		}
	}
	errs := &errList{path: path}
	// Names are checked for uniqueness by 64-bit hash: 16 bytes a key.
	names := map[uint64]int{}
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
func mayHaveAnchors(r *bufio.Reader) (bool, error) {
	prev := byte('\n')
	for {
		c, err := r.ReadByte()
		if err == io.EOF {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		if c == '&' || c == '*' {
			switch prev {
			case '\n', '\r', ' ', '\t', '[', '{', ',':
				return true, nil
			}
		}
		prev = c
	}
}

// parseYAML parses one YAML text and shifts its line numbers by offset.
func (m *Manifest) parseYAML(text []byte, offset int) (*yaml.Node, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(text, &doc); err != nil {
		msg := err.Error()
		// yaml: line N: … — make N a line of the file.
		if rest, ok := strings.CutPrefix(msg, "yaml: line "); ok {
			if num, tail, ok := strings.Cut(rest, ":"); ok {
				if n, e := strconv.Atoi(num); e == nil {
					return nil, &ManifestError{Errs: []*FieldError{{Path: m.Path, Line: n + offset, Msg: "not valid YAML:" + tail}}}
				}
			}
		}
		line := offset + 1
		if name, ok := strings.CutPrefix(msg, "yaml: unknown anchor '"); ok {
			// The library does not say where: the first use of the name.
			name, _, _ = strings.Cut(name, "'")
			if n := aliasLine(text, name); n > 0 {
				line = offset + n
			}
		}
		return nil, &ManifestError{Errs: []*FieldError{{Path: m.Path, Line: line, Msg: "not valid YAML: " + strings.TrimPrefix(msg, "yaml: ")}}}
	}
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		n.Line += offset
		for _, c := range n.Content {
			walk(c)
		}
	}
	walk(&doc)
	if doc.Kind == yaml.DocumentNode && len(doc.Content) == 1 {
		return doc.Content[0], nil
	}
	if len(doc.Content) == 0 {
		return nil, nil // an empty document
	}
	return &doc, nil
}

var keysLine = regexp.MustCompile(`^(keys|"keys"|'keys')[ \t]*:[ \t]*(#.*)?$`)

// scanYAML splits a YAML manifest without parsing it whole: the top-level
// "keys:" block sequence is cut into its entries, each parsed on its own,
// and the rest of the document is the header. A manifest whose keys are a
// flow sequence ("keys: [...]") is parsed whole.
func (m *Manifest) scanYAML(r *bufio.Reader, header func(*yaml.Node), item func(*yaml.Node) error) error {
	var head bytes.Buffer // header lines; keys lines are replaced by empty lines to keep numbering
	var cur bytes.Buffer  // the current entry
	curLine := 0
	lineNo := 0
	inKeys := false
	seqIndent := -1
	flush := func() error {
		if cur.Len() == 0 {
			return nil
		}
		defer cur.Reset()
		if item == nil {
			return nil
		}
		n, err := m.parseYAML(cur.Bytes(), curLine-1)
		if err != nil {
			return err
		}
		if n == nil {
			n = &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Line: curLine}
		}
		return item(n)
	}
	whole := false
	for {
		line, err := r.ReadBytes('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			// Over the size cap, or an I/O error: never a short manifest.
			return fmt.Errorf("migrate: reading the manifest: %w", err)
		}
		if len(line) == 0 && err != nil {
			break
		}
		lineNo++
		text := strings.TrimRight(string(line), "\r\n")
		trimmed := strings.TrimLeft(text, " ")
		indent := len(text) - len(trimmed)
		blank := trimmed == "" || strings.HasPrefix(trimmed, "#")
		if !inKeys {
			if keysLine.MatchString(text) {
				inKeys, seqIndent = true, -1
				head.WriteString("\n")
				continue
			}
			if strings.HasPrefix(text, "keys:") || strings.HasPrefix(text, `"keys":`) {
				whole = true // a flow sequence or another form: parse the document whole
			}
			head.Write(line)
			if !bytes.HasSuffix(line, []byte("\n")) {
				head.WriteByte('\n')
			}
			continue
		}
		isDash := strings.HasPrefix(trimmed, "- ") || trimmed == "-"
		switch {
		case blank:
			if cur.Len() > 0 {
				cur.WriteString("\n")
			}
			head.WriteString("\n")
			continue
		case seqIndent < 0 && isDash:
			seqIndent = indent
		case text == "---" || text == "..." || indent < seqIndent || seqIndent < 0 || (indent == seqIndent && !isDash):
			// The end of the keys sequence.
			if err := flush(); err != nil {
				return err
			}
			inKeys = false
			if keysLine.MatchString(text) {
				return &ManifestError{Errs: []*FieldError{{Path: m.Path, Line: lineNo, Field: "keys", Msg: "given twice"}}}
			}
			head.Write(line)
			if !bytes.HasSuffix(line, []byte("\n")) {
				head.WriteByte('\n')
			}
			continue
		}
		head.WriteString("\n")
		if indent == seqIndent && isDash {
			if err := flush(); err != nil {
				return err
			}
			curLine = lineNo
			// "- name: x" becomes "  name: x": a mapping at indent+2.
			text = strings.Repeat(" ", indent) + " " + text[indent+1:]
		}
		cur.WriteString(text)
		cur.WriteString("\n")
	}
	if err := flush(); err != nil {
		return err
	}
	if whole {
		return m.scanWhole(head.Bytes(), header, item)
	}
	if header != nil {
		n, err := m.parseYAML(head.Bytes(), 0)
		if err != nil {
			return err
		}
		header(n)
	}
	return nil
}

// scanWhole decodes a whole document with the YAML library, which
// resolves anchors and aliases wherever they are, and hands the header (the
// top-level mapping without its keys) to header, then each entry of keys to
// item. Entries are dropped once handed over, so that memory shrinks as
// the keys are read.
func (m *Manifest) scanWhole(text []byte, header func(*yaml.Node), item func(*yaml.Node) error) error {
	n, err := m.parseYAML(text, 0)
	if err != nil {
		return err
	}
	if n == nil {
		n = &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Line: 1}
	}
	n = deref(n)
	var keys *yaml.Node
	if n.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(n.Content); i += 2 {
			if deref(n.Content[i]).Value != "keys" {
				continue
			}
			keys = n.Content[i+1]
			n.Content = slices.Delete(slices.Clone(n.Content), i, i+2)
			break
		}
	}
	if header != nil {
		header(n)
	}
	if keys == nil || item == nil {
		return nil
	}
	v := deref(keys)
	switch {
	case v.Kind == yaml.SequenceNode:
		for i, c := range v.Content {
			if err := item(c); err != nil {
				return err
			}
			if v == keys {
				v.Content[i] = nil // not aliased: nothing else refers to it
			}
		}
	case !isNull(v):
		return &ManifestError{Errs: []*FieldError{{Path: m.Path, Line: keys.Line, Field: "keys", Msg: "want a list of keys"}}}
	}
	return nil
}

// aliasLine returns the 1-based line of the first alias *name in text, or 0.
func aliasLine(text []byte, name string) int {
	for i, line := range bytes.Split(text, []byte("\n")) {
		for j := 0; ; {
			k := bytes.Index(line[j:], []byte("*"+name))
			if k < 0 {
				break
			}
			k += j
			end := k + 1 + len(name)
			if end == len(line) || strings.IndexByte(" \t\r,]}", line[end]) >= 0 {
				return i + 1
			}
			j = k + 1
		}
	}
	return 0
}

// deref returns the node an alias (*name) stands for, or n itself.
func deref(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && n.Alias != nil && i < 100; i++ {
		n = n.Alias
	}
	return n
}

// lineCounter counts the lines of what passes through it, so that a
// streaming JSON decoder's byte offsets can be turned into line numbers
// without keeping the file.
type lineCounter struct {
	r    io.Reader
	off  int64
	nl   []int64 // offsets of newlines read but not yet counted
	line int     // lines before the first offset in nl
}

func (c *lineCounter) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	for i, b := range p[:n] {
		if b == '\n' {
			c.nl = append(c.nl, c.off+int64(i))
		}
	}
	c.off += int64(n)
	return n, err
}

// lineAt returns the 1-based line of byte offset off; offsets must be asked
// for in increasing order.
func (c *lineCounter) lineAt(off int64) int {
	i := 0
	for i < len(c.nl) && c.nl[i] < off {
		i++
	}
	c.line += i
	c.nl = c.nl[i:]
	if len(c.nl) == 0 {
		c.nl = nil
	}
	return c.line + 1
}

// scanJSON streams a JSON manifest: the members of the top-level object
// other than "keys" form the header; each element of "keys" is decoded and
// parsed on its own.
func (m *Manifest) scanJSON(r io.Reader, header func(*yaml.Node), item func(*yaml.Node) error) error {
	lc := &lineCounter{r: r}
	dec := json.NewDecoder(lc)
	bad := func(err error) error {
		if fe := (*readfile.Error)(nil); errors.As(err, &fe) {
			return fmt.Errorf("migrate: reading the manifest: %w", err)
		}
		line := lc.lineAt(dec.InputOffset())
		return &ManifestError{Errs: []*FieldError{{Path: m.Path, Line: line, Msg: "not valid JSON: " + err.Error()}}}
	}
	tok, err := dec.Token()
	if err != nil {
		return bad(err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return bad(errors.New("want an object"))
	}
	head := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Line: 1}
	seenKeys := false
	for dec.More() {
		kt, err := dec.Token()
		if err != nil {
			return bad(err)
		}
		name, _ := kt.(string)
		keyLine := lc.lineAt(dec.InputOffset())
		if name == "keys" {
			if seenKeys {
				return &ManifestError{Errs: []*FieldError{{Path: m.Path, Line: keyLine, Field: "keys", Msg: "given twice"}}}
			}
			seenKeys = true
			t, err := dec.Token()
			if err != nil {
				return bad(err)
			}
			if t == nil {
				continue
			}
			if d, ok := t.(json.Delim); !ok || d != '[' {
				return &ManifestError{Errs: []*FieldError{{Path: m.Path, Line: keyLine, Field: "keys", Msg: "want a list of keys"}}}
			}
			for dec.More() {
				var raw json.RawMessage
				if err := dec.Decode(&raw); err != nil {
					return bad(err)
				}
				if item == nil {
					continue
				}
				start := dec.InputOffset() - int64(len(raw))
				n, err := m.parseYAML(raw, lc.lineAt(start)-1)
				if err != nil {
					return err
				}
				if err := item(n); err != nil {
					return err
				}
			}
			if _, err := dec.Token(); err != nil {
				return bad(err)
			}
			continue
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return bad(err)
		}
		start := dec.InputOffset() - int64(len(raw))
		n, err := m.parseYAML(raw, lc.lineAt(start)-1)
		if err != nil {
			return err
		}
		head.Content = append(head.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: name, Line: keyLine}, n)
	}
	if header != nil {
		header(head)
	}
	return nil
}

func isNull(n *yaml.Node) bool {
	return n == nil || (n.Kind == yaml.ScalarNode && n.Tag == "!!null")
}

// fields calls f for each member of a mapping node, reporting unknown
// members and non-mappings. Aliases are followed, and merge keys
// (<<: *defaults, or a list of them) are applied as YAML defines them: the
// mapping's own members win over merged ones, and an earlier merged mapping
// over a later one (https://yaml.org/type/merge.html).
func fields(n *yaml.Node, where string, errs *errList, known []string, f func(name string, v *yaml.Node)) {
	n = deref(n)
	if isNull(n) {
		return
	}
	if n.Kind != yaml.MappingNode {
		errs.add(n.Line, where, "want a mapping of %s", strings.Join(known, ", "))
		return
	}
	seen := map[string]bool{}
	var own, merges [][2]*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := deref(n.Content[i]), n.Content[i+1]
		if k.Tag == "!!merge" {
			if !mergeInto(&merges, v, where, errs, 0) {
				return
			}
			continue
		}
		field := k.Value
		if where != "" {
			field = where + "." + k.Value
		}
		if seen[k.Value] {
			errs.add(k.Line, field, "given twice")
			continue
		}
		seen[k.Value] = true
		own = append(own, [2]*yaml.Node{k, v})
	}
	// Merged members first, so that the mapping's own members, handled
	// after them, win where fields interact (pin_env and pin_file).
	var pairs [][2]*yaml.Node
	for _, p := range merges {
		if !seen[p[0].Value] {
			seen[p[0].Value] = true
			pairs = append(pairs, p)
		}
	}
	for _, p := range append(pairs, own...) {
		k, v := p[0], p[1]
		field := k.Value
		if where != "" {
			field = where + "." + k.Value
		}
		if !slices.Contains(known, k.Value) {
			hint := ""
			if s := closest(k.Value, known); s != "" {
				hint = fmt.Sprintf(" (did you mean %q?)", s)
			}
			errs.add(k.Line, field, "unknown field%s; known fields: %s", hint, strings.Join(known, ", "))
			continue
		}
		f(k.Value, v)
	}
}

// mergeInto appends the members a merge key's value brings, in order of
// precedence: a mapping's own members, then what it merges itself; for a
// list, each mapping's in turn. Nesting is bounded.
func mergeInto(out *[][2]*yaml.Node, v *yaml.Node, where string, errs *errList, depth int) bool {
	line := v.Line // where the merge is written, not where an alias points
	v = deref(v)
	if depth > 8 || len(*out) > 10000 {
		errs.add(line, where+".<<", "merge keys nest too deep")
		return false
	}
	switch v.Kind {
	case yaml.MappingNode:
		var nested []*yaml.Node
		for i := 0; i+1 < len(v.Content); i += 2 {
			k := deref(v.Content[i])
			if k.Tag == "!!merge" {
				nested = append(nested, v.Content[i+1])
				continue
			}
			*out = append(*out, [2]*yaml.Node{k, v.Content[i+1]})
		}
		for _, m := range nested {
			if !mergeInto(out, m, where, errs, depth+1) {
				return false
			}
		}
		return true
	case yaml.SequenceNode:
		for _, c := range v.Content {
			if d := deref(c); d.Kind != yaml.MappingNode {
				errs.add(c.Line, where+".<<", "a merge key takes a mapping or a list of mappings")
				return false
			}
			if !mergeInto(out, c, where, errs, depth+1) {
				return false
			}
		}
		return true
	}
	errs.add(line, where+".<<", "a merge key takes a mapping or a list of mappings")
	return false
}

// closest returns the known name nearest to s, if it is near.
func closest(s string, known []string) string {
	best, bestD := "", 3
	for _, k := range known {
		if d := editDistance(s, k); d < bestD {
			best, bestD = k, d
		}
	}
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			c := 1
			if a[i-1] == b[j-1] {
				c = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+c)
		}
		prev = cur
	}
	return prev[len(b)]
}

func str(v *yaml.Node, field string, errs *errList) (string, bool) {
	v = deref(v)
	if v.Kind != yaml.ScalarNode || v.Tag == "!!null" {
		errs.add(v.Line, field, "want a string")
		return "", false
	}
	return v.Value, true
}

func boolean(v *yaml.Node, field string, errs *errList) (bool, bool) {
	v = deref(v)
	if v.Kind != yaml.ScalarNode || v.Tag != "!!bool" {
		errs.add(v.Line, field, "want true or false")
		return false, false
	}
	var b bool
	if err := v.Decode(&b); err != nil {
		errs.add(v.Line, field, "want true or false")
		return false, false
	}
	return b, true
}

func strList(v *yaml.Node, field string, errs *errList) ([]string, bool) {
	v = deref(v)
	if v.Kind == yaml.ScalarNode && v.Tag != "!!null" {
		return []string{v.Value}, true
	}
	if v.Kind != yaml.SequenceNode {
		errs.add(v.Line, field, "want a list of strings")
		return nil, false
	}
	var out []string
	for i, c := range v.Content {
		s, ok := str(c, fmt.Sprintf("%s[%d]", field, i), errs)
		if !ok {
			return nil, false
		}
		out = append(out, s)
	}
	return out, true
}

func strMap(v *yaml.Node, field string, errs *errList, into map[string]string) map[string]string {
	if v = deref(v); v.Kind != yaml.MappingNode {
		errs.add(v.Line, field, "want a mapping of names to strings")
		return into
	}
	out := map[string]string{}
	for k, val := range into {
		out[k] = val
	}
	var merged [][2]*yaml.Node
	own := map[string]bool{}
	for i := 0; i+1 < len(v.Content); i += 2 {
		k := deref(v.Content[i])
		if k.Tag == "!!merge" {
			if !mergeInto(&merged, v.Content[i+1], field, errs, 0) {
				return out
			}
			continue
		}
		own[k.Value] = true
	}
	// Merged members first (an earlier one wins), then the mapping's own.
	for i := len(merged) - 1; i >= 0; i-- {
		if k, val := merged[i][0], merged[i][1]; !own[k.Value] {
			if s, ok := str(val, field+"."+k.Value, errs); ok {
				out[k.Value] = s
			}
		}
	}
	for i := 0; i+1 < len(v.Content); i += 2 {
		k, val := deref(v.Content[i]), v.Content[i+1]
		if k.Tag == "!!merge" {
			continue
		}
		if s, ok := str(val, field+"."+k.Value, errs); ok {
			out[k.Value] = s
		}
	}
	return out
}

var (
	headerFields  = []string{"version", "id", "defaults", "keys"}
	defaultFields = []string{"source", "target", "options"}
	keyFields     = []string{"name", "source", "target", "options"}
	sourceFields  = []string{"driver", "key", "module", "token", "pin_env", "pin_file", "passphrase_env", "passphrase_file", "key_spec", "usage", "options"}
	targetFields  = []string{"key_id", "region", "regions", "multi_region", "replica_regions", "alias", "description", "tags", "policy", "policy_file", "valid_to", "rotate", "key_material_description"}
	optionFields  = []string{"algorithm", "wrapping_key_spec", "skip_verify"}
)

func (m *Manifest) parseHeader(n *yaml.Node, errs *errList) {
	n = deref(n)
	if n == nil || isNull(n) {
		errs.add(1, "", "the manifest is empty; it needs version, id and keys")
		return
	}
	var haveVersion bool
	fields(n, "", errs, headerFields, func(name string, v *yaml.Node) {
		switch name {
		case "version":
			haveVersion = true
			if v.Kind != yaml.ScalarNode || v.Tag != "!!int" || v.Value != strconv.Itoa(ManifestVersion) {
				errs.add(v.Line, "version", "want %d; this byok reads manifest version %d", ManifestVersion, ManifestVersion)
			}
			m.Version = ManifestVersion
		case "id":
			if s, ok := str(v, "id", errs); ok {
				if !nameRe.MatchString(s) {
					errs.add(v.Line, "id", "%q: want 1 to 128 letters, digits and _ . : / = + @ -", s)
				}
				m.ID = s
			}
		case "defaults":
			fields(v, "defaults", errs, defaultFields, func(name string, v *yaml.Node) {
				switch name {
				case "source":
					m.parseSource(v, "defaults.source", errs, &m.defaults.Source)
				case "target":
					m.parseTarget(v, "defaults.target", errs, &m.defaults.Target)
				case "options":
					parseOptions(v, "defaults.options", errs, &m.defaults.Options)
				}
			})
			if m.defaults.Target.KeyID != "" {
				errs.add(v.Line, "defaults.target.key_id", "a default key_id would import every key into one KMS key; give key_id per key")
			}
			if m.defaults.Target.Alias != "" {
				errs.add(v.Line, "defaults.target.alias", "aliases are unique per Region; give alias per key")
			}
		}
	})
	if !haveVersion {
		errs.add(n.Line, "version", "missing; want version: %d", ManifestVersion)
	}
	if m.ID == "" {
		errs.add(n.Line, "id", "missing: name the migration (it is tagged on every key it creates, so that an interrupted run finds them again)")
	}
}

func (m *Manifest) resolvePath(p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(filepath.Dir(m.Path), p)
}

func (m *Manifest) parseSource(v *yaml.Node, where string, errs *errList, s *Source) {
	v = deref(v)
	if v.Kind == yaml.ScalarNode && v.Tag != "!!null" {
		s.Key = v.Value // shorthand: source: path/to/key.pem
		return
	}
	fields(v, where, errs, sourceFields, func(name string, v *yaml.Node) {
		f := where + "." + name
		if name == "options" {
			s.Options = strMap(v, f, errs, s.Options)
			return
		}
		val, ok := str(v, f, errs)
		if !ok {
			return
		}
		switch name {
		case "driver":
			s.Driver = val
		case "key":
			s.Key = val
		case "module":
			s.Module = val
		case "token":
			s.Token = val
		case "pin_env":
			s.PINEnv, s.PINFile = val, ""
		case "pin_file":
			s.PINFile, s.PINEnv = val, ""
		case "passphrase_env":
			s.PassphraseEnv, s.PassphraseFile = val, ""
		case "passphrase_file":
			s.PassphraseFile, s.PassphraseEnv = val, ""
		case "key_spec":
			spec, err := byok.ParseKeySpec(val)
			if err != nil {
				errs.add(v.Line, f, "%v", err)
			}
			s.KeySpec = spec
		case "usage":
			switch u := byok.KeyUsage(val); u {
			case byok.EncryptDecrypt, byok.SignVerify, byok.GenerateVerifyMAC, byok.KeyAgreement:
				s.Usage = u
			default:
				errs.add(v.Line, f, "%q: want ENCRYPT_DECRYPT, SIGN_VERIFY, GENERATE_VERIFY_MAC or KEY_AGREEMENT", val)
			}
		}
	})
}

func (m *Manifest) parseTarget(v *yaml.Node, where string, errs *errList, t *Target) {
	fields(v, where, errs, targetFields, func(name string, v *yaml.Node) {
		f := where + "." + name
		switch name {
		case "multi_region":
			if b, ok := boolean(v, f, errs); ok {
				t.MultiRegion = b
			}
			return
		case "rotate":
			if b, ok := boolean(v, f, errs); ok {
				t.Rotate = b
			}
			return
		case "tags":
			t.Tags = strMap(v, f, errs, t.Tags)
			for k, val := range t.Tags {
				switch {
				case strings.HasPrefix(strings.ToLower(k), "aws:") || strings.HasPrefix(k, "byok:"):
					errs.add(v.Line, f+"."+k, "tag keys beginning with aws: or byok: are reserved")
				case len(k) > 128 || len(val) > 256:
					errs.add(v.Line, f+"."+k, "tag keys have at most 128 characters, values at most 256")
				}
			}
			if len(t.Tags) > 50-len(reservedTags) {
				errs.add(v.Line, f, "at most %d tags (KMS allows 50; byok adds %d)", 50-len(reservedTags), len(reservedTags))
			}
			return
		case "regions", "replica_regions":
			l, ok := strList(v, f, errs)
			if !ok {
				return
			}
			for i, r := range l {
				if !regionRe.MatchString(r) {
					errs.add(v.Line, fmt.Sprintf("%s[%d]", f, i), "%q is not an AWS Region name (e.g. us-east-1)", r)
				}
			}
			if name == "regions" {
				t.Regions = l
			} else {
				t.ReplicaRegions = l
			}
			return
		}
		val, ok := str(v, f, errs)
		if !ok {
			return
		}
		switch name {
		case "key_id":
			t.KeyID = val
		case "region":
			if !regionRe.MatchString(val) {
				errs.add(v.Line, f, "%q is not an AWS Region name (e.g. us-east-1)", val)
			}
			t.Regions = []string{val}
		case "alias":
			if !strings.HasPrefix(val, "alias/") {
				val = "alias/" + val
			}
			if !aliasRe.MatchString(val) || strings.HasPrefix(val, "alias/aws/") || len(val) > 256 {
				errs.add(v.Line, f, "%q: want alias/NAME with letters, digits, / _ - (not alias/aws/)", val)
			}
			t.Alias = val
		case "description":
			if len(val) > 8192 {
				errs.add(v.Line, f, "at most 8192 characters")
			}
			t.Description = val
		case "policy":
			if !json.Valid([]byte(val)) {
				errs.add(v.Line, f, "not a JSON document")
			}
			t.Policy, t.PolicyFile = val, ""
		case "policy_file":
			p := m.resolvePath(val)
			// At most 32 KiB, the largest key policy KMS takes; a
			// device, FIFO or directory is refused unread.
			b, err := readfile.ReadFile(p, "key policy JSON file", readfile.Policy)
			switch {
			case err != nil:
				errs.add(v.Line, f, "%v", err)
			case !json.Valid(b):
				errs.add(v.Line, f, "%s is not a JSON document", val)
			}
			t.PolicyFile, t.Policy = p, ""
		case "valid_to":
			vt, err := parseValidTo(val, m.now)
			if err != nil {
				errs.add(v.Line, f, "%v", err)
			}
			t.ValidTo = vt
		case "key_material_description":
			t.KeyMaterialDescription = val
		}
	})
}

func parseOptions(v *yaml.Node, where string, errs *errList, o *Options) {
	fields(v, where, errs, optionFields, func(name string, v *yaml.Node) {
		f := where + "." + name
		if name == "skip_verify" {
			if b, ok := boolean(v, f, errs); ok {
				o.SkipVerify = b
			}
			return
		}
		val, ok := str(v, f, errs)
		if !ok {
			return
		}
		switch name {
		case "algorithm":
			a, err := byok.ParseWrappingAlgorithm(val)
			if err != nil {
				errs.add(v.Line, f, "%v", err)
			}
			o.Algorithm = a
		case "wrapping_key_spec":
			w, err := byok.ParseWrappingKeySpec(val)
			if err != nil {
				errs.add(v.Line, f, "%v", err)
			}
			o.WrappingKeySpec = w
		}
	})
}

// parseKey parses entry i; ok is false when it has mistakes (added to errs).
func (m *Manifest) parseKey(n *yaml.Node, i int, errs *errList) (Key, bool) {
	before := len(errs.errs) + errs.more
	where := fmt.Sprintf("keys[%d]", i)
	k := Key{Line: n.Line}
	k.Source = m.defaults.Source
	k.Source.Options = cloneMap(k.Source.Options)
	k.Target = m.defaults.Target
	k.Target.Tags = cloneMap(k.Target.Tags)
	k.Target.Regions = slices.Clone(k.Target.Regions)
	k.Target.ReplicaRegions = slices.Clone(k.Target.ReplicaRegions)
	k.Options = m.defaults.Options
	if n = deref(n); n.Kind != yaml.MappingNode {
		errs.add(n.Line, where, "want a mapping with name, source and target")
		return k, false
	}
	fields(n, where, errs, keyFields, func(name string, v *yaml.Node) {
		switch name {
		case "name":
			if s, ok := str(v, where+".name", errs); ok {
				if !nameRe.MatchString(s) {
					errs.add(v.Line, where+".name", "%q: want 1 to 128 letters, digits and _ . : / = + @ -", s)
				}
				k.Name = s
			}
		case "source":
			m.parseSource(v, where+".source", errs, &k.Source)
		case "target":
			m.parseTarget(v, where+".target", errs, &k.Target)
		case "options":
			parseOptions(v, where+".options", errs, &k.Options)
		}
	})
	if k.Name == "" {
		errs.add(n.Line, where+".name", "missing: every key needs a unique name")
	}
	m.checkKey(&k, where, errs)
	if k.Source.Driver == "" {
		k.Source.Driver = "software"
	}
	if k.Source.Driver == "software" {
		k.Source.Key = m.resolvePath(k.Source.Key)
	}
	k.Source.PINFile = m.resolvePath(k.Source.PINFile)
	k.Source.PassphraseFile = m.resolvePath(k.Source.PassphraseFile)
	return k, len(errs.errs)+errs.more == before
}

func (m *Manifest) checkKey(k *Key, where string, errs *errList) {
	t := &k.Target
	line := k.Line
	if k.Source.Key == "" {
		errs.add(line, where+".source.key", "missing: a key file or an HSM object (pkcs11: URI, label=NAME, id=HEX)")
	}
	if strings.Contains(strings.ToLower(k.Source.Key), "pin-value") || strings.Contains(strings.ToLower(k.Source.Key), "pin-source") {
		errs.add(line, where+".source.key", "the PIN never goes in the manifest: remove pin-value/pin-source and use pin_env or pin_file")
	}
	if t.KeyID != "" {
		if r := regionOfARN(t.KeyID); r != "" {
			if len(t.Regions) > 0 && (len(t.Regions) > 1 || t.Regions[0] != r) {
				// An ARN names its Region: a default region does not apply.
				t.Regions = nil
			}
			t.Regions = []string{r}
		}
		for _, bad := range []struct {
			set  bool
			name string
		}{{t.MultiRegion, "multi_region"}, {len(t.ReplicaRegions) > 0, "replica_regions"}, {t.Alias != "", "alias"},
			{t.Policy != "" || t.PolicyFile != "", "policy"}} {
			if bad.set {
				errs.add(line, where+".target."+bad.name, "applies only to keys the migration creates; with key_id, the existing key (and its replicas) is used as it is")
			}
		}
		if len(t.Regions) != 1 {
			errs.add(line, where+".target.region", "key_id %q needs one Region: give the key's ARN, or region", t.KeyID)
		}
	} else {
		if t.Rotate {
			errs.add(line, where+".target.rotate", "rotation imports new key material into an existing key: give key_id")
		}
		if len(t.Regions) == 0 {
			errs.add(line, where+".target.region", "missing: give region (or regions), here or in defaults.target")
		}
	}
	if t.MultiRegion {
		if len(t.Regions) != 1 {
			errs.add(line, where+".target.regions", "a multi-Region key has one primary Region (region) and replica_regions")
		}
		for _, r := range t.ReplicaRegions {
			if len(t.Regions) > 0 && r == t.Regions[0] {
				errs.add(line, where+".target.replica_regions", "%s is the primary Region", r)
			}
		}
	} else if len(t.ReplicaRegions) > 0 && t.KeyID == "" {
		errs.add(line, where+".target.replica_regions", "replicas need multi_region: true")
	}
	if dup := firstDup(t.AllRegions()); dup != "" && len(t.Regions)+len(t.ReplicaRegions) > 0 {
		errs.add(line, where+".target.regions", "%s is given twice", dup)
	}
	if t.KeyMaterialDescription != "" && !regexp.MustCompile(`^[a-zA-Z0-9:/_\s.-]{1,256}$`).MatchString(t.KeyMaterialDescription) {
		errs.add(line, where+".target.key_material_description", "want at most 256 letters, digits, spaces and : / _ . -")
	}
	if k.Source.PINEnv != "" && !regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`).MatchString(k.Source.PINEnv) {
		errs.add(line, where+".source.pin_env", "%q is not an environment variable name (the PIN itself never goes in the manifest)", k.Source.PINEnv)
	}
	if k.Source.Driver == "" || k.Source.Driver == "software" {
		if k.Source.Module != "" || k.Source.Token != "" || k.Source.PINEnv != "" || k.Source.PINFile != "" {
			errs.add(line, where+".source.driver", "module, token and PINs are for PKCS#11 drivers; set driver (softhsm, pkcs11, …)")
		}
	}
	if k.Options.Algorithm != "" && k.Options.WrappingKeySpec != "" && k.Source.KeySpec != "" {
		if err := byok.CheckCompatible(k.Source.KeySpec, k.Options.Algorithm, k.Options.WrappingKeySpec); err != nil {
			errs.add(line, where+".options.algorithm", "%v", err)
		}
	}
}

func firstDup(l []string) string {
	s := slices.Clone(l)
	sort.Strings(s)
	for i := 1; i < len(s); i++ {
		if s[i] == s[i-1] {
			return s[i]
		}
	}
	return ""
}

func cloneMap(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// regionOfARN returns the Region of a KMS ARN, or "".
func regionOfARN(s string) string {
	f := strings.SplitN(s, ":", 6)
	if len(f) == 6 && f[0] == "arn" && f[2] == "kms" {
		return f[3]
	}
	return ""
}

// parseValidTo parses an expiration time: RFC 3339, a date (midnight UTC)
// or +Nd, +Nh, +Nm from now; it must be in the future and at most 365 days
// ahead, as ImportKeyMaterial requires.
func parseValidTo(s string, now time.Time) (time.Time, error) {
	var t time.Time
	if m := relRe.FindStringSubmatch(s); m != nil {
		n, err := strconv.Atoi(m[1])
		if err != nil || n > 100000 {
			return t, errors.New("the number is too large")
		}
		unit := map[string]time.Duration{"d": 24 * time.Hour, "h": time.Hour, "m": time.Minute}[m[2]]
		t = now.Add(time.Duration(n) * unit)
	} else if d, err := time.Parse(time.DateOnly, s); err == nil {
		t = d
	} else if d, err := time.Parse(time.RFC3339, s); err == nil {
		t = d
	} else {
		return t, fmt.Errorf("%q: want an RFC 3339 time (2027-01-31T00:00:00Z), a date (2027-01-31) or +90d / +36h", s)
	}
	switch {
	case !t.After(now):
		return t, fmt.Errorf("%s is not in the future", t.UTC().Format(time.RFC3339))
	case t.After(now.Add(365 * 24 * time.Hour)):
		return t, fmt.Errorf("%s is more than 365 days ahead; KMS allows at most 365 days", t.UTC().Format(time.RFC3339))
	}
	return t.UTC().Truncate(time.Second), nil
}
