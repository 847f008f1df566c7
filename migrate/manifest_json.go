package migrate

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/byok-go/byok/internal/readfile"
	"gopkg.in/yaml.v3"
)

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
