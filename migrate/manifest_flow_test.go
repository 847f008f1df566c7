package migrate

import (
	"slices"
	"strings"
	"testing"
)

// TestManifestFlowAndMultiLineBothPaths: a flow mapping written across
// lines and a double-quoted string spread over several lines are the same
// YAML whether or not the manifest holds an anchor; the streamed path
// (no anchor) and the whole-document path (an anchor) accept them alike.
func TestManifestFlowAndMultiLineBothPaths(t *testing.T) {
	bodies := map[string]string{
		"flow mapping": `keys:
- name: a
  source: {key_spec: SYMMETRIC_DEFAULT, key: a.hex}
  target: {
region: us-east-1}
- name: b
  source: {key_spec: SYMMETRIC_DEFAULT, key: b.hex}
  target: {region: us-east-1}
`,
		"multi-line string": `keys:
- name: a
  source: {key_spec: SYMMETRIC_DEFAULT, key: a.hex}
  target:
    region: us-east-1
    description: "first line
second line"
- name: b
  source: {key_spec: SYMMETRIC_DEFAULT, key: b.hex}
  target: {region: us-east-1}
`,
	}
	for name, body := range bodies {
		for _, anchor := range []bool{false, true} {
			head := "version: 1\nid: flow\n"
			if anchor {
				head += "defaults: &s {}\n"
			}
			t.Run(name, func(t *testing.T) {
				m, err := OpenManifest(writeManifest(t, head+body))
				if err != nil {
					t.Fatalf("anchor=%v: %v", anchor, err)
				}
				keys := allKeys(t, m)
				if len(keys) != 2 || keys[0].Name != "a" || keys[1].Name != "b" ||
					!slices.Equal(keys[0].Target.Regions, []string{"us-east-1"}) {
					t.Fatalf("anchor=%v: %+v", anchor, keys)
				}
				if !strings.HasSuffix(keys[1].Source.Key, "b.hex") {
					t.Errorf("anchor=%v: b: %+v", anchor, keys[1])
				}
			})
		}
	}
}

// TestManifestBadYAMLLineBothPaths: a quoted string that never ends is
// reported at a line of the file on both paths, after the fallback too.
func TestManifestBadYAMLLineBothPaths(t *testing.T) {
	for _, head := range []string{"version: 1\nid: bad\n", "version: 1\nid: bad\ndefaults: &s {}\n"} {
		_, err := OpenManifest(writeManifest(t, head+`keys:
- name: a
  source: {key_spec: SYMMETRIC_DEFAULT, key: a.hex}
  target: {region: "us-east-1}
`))
		if err == nil || !strings.Contains(err.Error(), "not valid YAML") || !strings.Contains(err.Error(), "m.yaml:") {
			t.Errorf("%q: %v", head, err)
		}
	}
}

// TestManifestLargePlainStillStreams: the fallback to decoding whole is
// taken only on a YAML error, never for a plain manifest, which stays on
// the streamed path (its memory is measured by BenchmarkManifest100k).
func TestManifestLargePlainStillStreams(t *testing.T) {
	n := 10000 // the path taken does not depend on the size; -race is slow
	m, err := OpenManifest(writeLargeManifest(t, n, false))
	if err != nil {
		t.Fatal(err)
	}
	if m.whole || m.Len != n {
		t.Errorf("whole=%v len=%d", m.whole, m.Len)
	}
}
