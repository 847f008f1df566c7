package migrate

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzOpenManifest feeds arbitrary bytes to the manifest parser, as YAML and
// as JSON. It must never panic; it either returns a manifest whose keys all
// read back, or an error that says where (file, and a line or field) and
// starts with the package's name.
func FuzzOpenManifest(f *testing.F) {
	for _, name := range []string{"example.yaml", "example.json", "bad.yaml"} {
		b, err := os.ReadFile(filepath.Join("..", "testdata", "manifests", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("version: 1\nkeys:\n  - name: a\n    source: k.pem\n"))
	f.Add([]byte(`{"version":1,"keys":[{"name":"a","source":"k.pem"}]}`))
	f.Add([]byte("keys: [&a {name: *a}]"))
	f.Add([]byte("version: 1\nid: x\ndefaults:\n  target: &t {region: us-east-1}\nkeys:\n  - name: a\n    source: {key: a.pem}\n    target: {<<: [*t, {alias: b}], tags: &g {x: y}}\n  - name: b\n    source: a.pem\n    target: *t\n"))
	f.Add([]byte("a: &a [*a]\nkeys: [{<<: *a}]"))
	f.Add([]byte(targetsManifest))
	f.Add([]byte("version: 1\nid: x\nkeys:\n  - name: a\n    source: a.hex\n    targets: [{aws: {region: us-east-1}, gcp: {key_ring: x}}, {azure: {vault: \"http://[::1]:1\"}}]\n"))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(dir, "m.yaml")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		m, err := OpenManifest(path)
		if err != nil {
			var me *ManifestError
			if !errors.As(err, &me) && !strings.HasPrefix(err.Error(), "migrate: ") {
				t.Fatalf("error %q neither is a ManifestError nor says where it comes from", err)
			}
			return
		}
		n := 0
		for _, err := range m.Keys() {
			if err != nil {
				t.Fatalf("OpenManifest accepted the manifest, but reading its keys again failed: %v", err)
			}
			n++
		}
		if n != m.Len {
			t.Fatalf("read %d keys back; OpenManifest counted %d", n, m.Len)
		}
	})
}
