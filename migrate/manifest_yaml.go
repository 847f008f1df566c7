package migrate

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

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

// streamSyntaxError is a YAML error met on the streamed path, where a
// piece of the document is parsed on its own: the document may still be
// valid YAML (a flow collection or a quoted string spread over lines that
// the splitter cut), so the manifest is then decoded whole.
type streamSyntaxError struct{ error }

func (e *streamSyntaxError) Unwrap() error { return e.error }

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
			return &streamSyntaxError{err}
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
			return &streamSyntaxError{err}
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
	if !hasMerge(n) {
		// The common case, without the merging's slices.
		seen := make(map[string]bool, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := deref(n.Content[i]), n.Content[i+1]
			member(k, v, where, errs, known, seen, f)
		}
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
		member(p[0], p[1], where, errs, known, nil, f)
	}
}

// hasMerge reports whether a mapping has a merge key (<<).
func hasMerge(n *yaml.Node) bool {
	for i := 0; i < len(n.Content); i += 2 {
		if deref(n.Content[i]).Tag == "!!merge" {
			return true
		}
	}
	return false
}

// member hands one member k: v of a mapping to f, or reports it unknown
// (or, when seen is set, given twice).
func member(k, v *yaml.Node, where string, errs *errList, known []string, seen map[string]bool, f func(name string, v *yaml.Node)) {
	field := k.Value
	if where != "" {
		field = where + "." + k.Value
	}
	if seen != nil {
		if seen[k.Value] {
			errs.add(k.Line, field, "given twice")
			return
		}
		seen[k.Value] = true
	}
	if !slices.Contains(known, k.Value) {
		hint := ""
		if s := closest(k.Value, known); s != "" {
			hint = fmt.Sprintf(" (did you mean %q?)", s)
		}
		errs.add(k.Line, field, "unknown field%s; known fields: %s", hint, strings.Join(known, ", "))
		return
	}
	f(k.Value, v)
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
