package migrate

import (
	"bufio"
	"slices"
	"strings"
	"testing"

	"github.com/byok-go/byok"
)

// TestManifestAnchorsInTheHeader: anchors defined in defaults, used by
// entries as whole values and through merge keys, as YAML defines them.
func TestManifestAnchorsInTheHeader(t *testing.T) {
	m, err := OpenManifest(writeManifest(t, `version: 1
id: anchors
defaults:
  source: &src {key_spec: SYMMETRIC_DEFAULT}
  target: &tgt
    region: us-east-1
    tags: &tags {team: payments}
keys:
  - name: a
    source: {<<: *src, key: a.hex}
    target: *tgt
  - name: b
    source:
      <<: *src
      key: b.hex
    target:
      <<: *tgt
      region: eu-west-1
      tags: {<<: *tags, tier: gold}
`))
	if err != nil {
		t.Fatal(err)
	}
	keys := allKeys(t, m)
	if len(keys) != 2 {
		t.Fatalf("%d keys", len(keys))
	}
	a, b := keys[0], keys[1]
	if a.Line != 9 || a.Source.KeySpec != byok.SymmetricDefault || !strings.HasSuffix(a.Source.Key, "a.hex") ||
		!slices.Equal(a.Target.Regions, []string{"us-east-1"}) || a.Target.Tags["team"] != "payments" {
		t.Errorf("a: %+v", a)
	}
	if b.Line != 12 || b.Source.KeySpec != byok.SymmetricDefault || !strings.HasSuffix(b.Source.Key, "b.hex") ||
		!slices.Equal(b.Target.Regions, []string{"eu-west-1"}) || b.Target.Tags["team"] != "payments" || b.Target.Tags["tier"] != "gold" {
		t.Errorf("b: %+v", b)
	}
}

// TestManifestAnchorsAcrossEntries: an anchor defined in one entry and
// aliased in later ones, and merge keys taking a list (the earlier
// mapping wins, the entry's own fields win over both).
func TestManifestAnchorsAcrossEntries(t *testing.T) {
	m, err := OpenManifest(writeManifest(t, `version: 1
id: shared
keys:
  - name: a
    source: {key: a.hex, key_spec: &spec HMAC_256}
    target: &t {region: ap-southeast-2, tags: {tier: &tier gold}}
    options: &fast {wrapping_key_spec: RSA_2048}
  - name: b
    source: {key: b.hex, key_spec: *spec}
    target: *t
  - name: c
    source: {key: c.hex, key_spec: *spec}
    target:
      <<: [{region: eu-west-1, description: first}, *t, {description: third, alias: alias/third}]
      description: own
      tags: {tier: *tier}
    options: *fast
`))
	if err != nil {
		t.Fatal(err)
	}
	keys := allKeys(t, m)
	if len(keys) != 3 {
		t.Fatalf("%d keys", len(keys))
	}
	for _, k := range keys {
		if k.Source.KeySpec != byok.HMAC256 || k.Target.Tags["tier"] != "gold" {
			t.Errorf("%s: %+v", k.Name, k)
		}
	}
	if b := keys[1]; !slices.Equal(b.Target.Regions, []string{"ap-southeast-2"}) || b.Options.WrappingKeySpec != "" {
		t.Errorf("b: %+v", b)
	}
	if c := keys[2]; !slices.Equal(c.Target.Regions, []string{"eu-west-1"}) || c.Target.Description != "own" ||
		c.Target.Alias != "alias/third" || c.Options.WrappingKeySpec != byok.WrappingRSA2048 || c.Line != 11 {
		t.Errorf("c: %+v", c)
	}
}

// TestManifestAnchorMistakes: mistakes in a document decoded whole still
// name their line and field.
func TestManifestAnchorMistakes(t *testing.T) {
	for _, tc := range []struct{ text, want string }{
		{"version: 1\nid: x\ndefaults:\n  target: &t {region: us-east-1}\nkeys:\n  - name: a\n    source: a.pem\n    target: {<<: *t, regin: eu-west-1}\n", "8: keys[0].target.regin: unknown field"},
		{"version: 1\nid: x\nkeys:\n  - name: a\n    source: a.pem\n    target: *nowhere\n", "6: not valid YAML: unknown anchor 'nowhere'"},
		{"version: 1\nid: x\nkeys:\n  - name: a\n    source: a.pem\n    target: {<<: *r, region: us-east-1}\n  - name: b\n    source: {key: &r b.pem}\n", "unknown anchor 'r'"},
		{"version: 1\nid: x\nkeys:\n  - name: a\n    source: &s a.pem\n    target: {region: us-east-1}\n  - name: b\n    source: {<<: *s}\n    target: {region: us-east-1}\n", "8: keys[1].source.<<: a merge key takes a mapping"},
		{"version: 1\nid: &id x\nkeys:\n  - name: *id\n    source: a.pem\n    target: {region: us-east-1}\n  - name: x\n    source: a.pem\n    target: {region: us-east-1}\n", `7: name: "x" is used twice`},
	} {
		_, err := OpenManifest(writeManifest(t, tc.text))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q:\n got %v\nwant %q", tc.text, err, tc.want)
		}
	}
}

// TestMayHaveAnchors: what sends a manifest to the whole-document decoder.
// It may say yes wrongly, never no wrongly.
func TestMayHaveAnchors(t *testing.T) {
	for text, want := range map[string]bool{
		"target: &t {region: x}":                false || true,
		"target: *t":                            true,
		"keys: [&a {name: *a}]":                 true,
		"- *entry":                              true,
		"&a key: v":                             true,
		"a: {b: *c}":                            true,
		"a: [x,*c]":                             true,
		"policy: '{\"Resource\": \"*\"}'":       false,
		"description: R&D keys, 2*3":            false,
		"version: 1\nid: x\nkeys:\n  - name: a": false,
		"description: a * b":                    true, // a plain '*' after a space: decoded whole, to be safe
	} {
		got, err := mayHaveAnchors(bufio.NewReader(strings.NewReader(text)))
		if err != nil || got != want {
			t.Errorf("%q: %v %v; want %v", text, got, err, want)
		}
	}
}
