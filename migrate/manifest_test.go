package migrate

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/byok-go/byok"
)

func manifestPath(name string) string {
	return filepath.Join("..", "testdata", "manifests", name)
}

func allKeys(t *testing.T, m *Manifest) []Key {
	t.Helper()
	var out []Key
	for k, err := range m.Keys() {
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, k)
	}
	return out
}

func TestManifestExampleYAML(t *testing.T) {
	m, err := OpenManifest(manifestPath("example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if m.ID != "payments-2026-q1" || m.Len != 5 || m.Version != 1 {
		t.Fatalf("%+v", m)
	}
	keys := allKeys(t, m)
	k := keys[0]
	if k.Name != "payments-data-key" || k.Line != 21 || k.Source.Driver != "software" || k.Source.KeySpec != byok.SymmetricDefault ||
		k.Source.Key != filepath.Join("..", "testdata", "keys", "aes256.hex") || k.Target.Alias != "alias/payments/data" ||
		!slices.Equal(k.Target.Regions, []string{"us-east-1"}) || k.Target.Tags["team"] != "payments" ||
		k.Target.ValidTo.Before(time.Now().Add(364*24*time.Hour)) || k.Options.WrappingKeySpec != byok.WrappingRSA4096 {
		t.Errorf("key 0: %+v", k)
	}
	if k := keys[1]; !slices.Equal(k.Target.Regions, []string{"us-east-1", "eu-west-1"}) || k.Source.Key != filepath.Join("..", "testdata", "keys", "p256.pkcs8.pem") {
		t.Errorf("key 1: %+v", k)
	}
	if k := keys[2]; !k.Target.MultiRegion || !slices.Equal(k.Target.AllRegions(), []string{"us-east-1", "eu-west-1", "ap-southeast-2"}) ||
		!strings.HasSuffix(k.Target.PolicyFile, "policy.json") {
		t.Errorf("key 2: %+v", k)
	}
	if k := keys[3]; k.Source.Driver != "softhsm" || k.Source.PINEnv != "BYOK_HSM_PIN" || !strings.HasPrefix(k.Source.Key, "pkcs11:") ||
		k.Target.Tags["hsm"] != "softhsm" || k.Target.Tags["team"] != "payments" || k.Options.Algorithm != byok.RSAAESKeyWrapSHA256 {
		t.Errorf("key 3: %+v", k)
	}
	if k := keys[4]; !k.Target.Rotate || k.Target.Regions[0] != "us-east-1" || k.Target.KeyMaterialDescription != "rotated 2027" {
		t.Errorf("key 4: %+v", k)
	}
}

func TestManifestExampleJSON(t *testing.T) {
	m, err := OpenManifest(manifestPath("example.json"))
	if err != nil {
		t.Fatal(err)
	}
	keys := allKeys(t, m)
	if len(keys) != 3 || keys[0].Line != 8 || keys[2].Line != 18 || keys[2].Source.KeySpec != byok.HMAC256 ||
		!slices.Equal(keys[2].Target.Regions, []string{"us-east-1", "eu-west-1"}) || keys[1].Target.Tags["team"] != "payments" {
		t.Errorf("%d keys: %+v", len(keys), keys)
	}
}

// TestManifestErrorsNameLineAndField: every mistake of bad.yaml is
// reported at once, with its line and field.
func TestManifestErrorsNameLineAndField(t *testing.T) {
	_, err := OpenManifest(manifestPath("bad.yaml"))
	var me *ManifestError
	if !errors.As(err, &me) {
		t.Fatalf("got %v; want a *ManifestError", err)
	}
	got := map[string]bool{}
	for _, fe := range me.Errs {
		got[strings.TrimPrefix(fe.Error(), "migrate: "+manifestPath("bad.yaml")+":")] = true
	}
	for _, want := range []string{
		"1: version: want 1",
		"5: keys[0].source.key_spec: byok: unknown key spec \"AES_256\"",
		"8: keys[0].target.alais: unknown field (did you mean \"alias\"?)",
		"12: keys[1].target.regions[1]: \"useast2\" is not an AWS Region name",
		"9: keys[1].target.regions: a multi-Region key has one primary Region",
		"9: name: \"one\" is used twice (first at line 4)",
		"14: keys[2].name: missing",
		"14: keys[2].source.key: the PIN never goes in the manifest",
		"17: keys[2].target.tags.byok:source-fingerprint: tag keys beginning with aws: or byok: are reserved",
	} {
		found := false
		for g := range got {
			if strings.HasPrefix(g, want) {
				found = true
			}
		}
		if !found {
			t.Errorf("missing %q in:\n%v", want, err)
		}
	}
}

func writeManifest(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "m.yaml")
	if strings.HasPrefix(strings.TrimSpace(text), "{") {
		p = filepath.Join(filepath.Dir(p), "m.json")
	}
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestManifestLayouts(t *testing.T) {
	// The same two keys in several layouts: keys first or last, a
	// sequence at indent 0, flow style (parsed whole), JSON.
	layouts := []string{
		"version: 1\nid: x\nkeys:\n  - name: a\n    source: a.pem\n    target: {region: us-east-1}\n  - name: b\n    source: {key: b.hex, key_spec: HMAC_256}\n    target:\n      region: eu-west-1\n",
		"keys:\n- name: a\n  source: a.pem\n  target: {region: us-east-1}\n\n# comment\n- name: b\n  source: {key: b.hex, key_spec: HMAC_256}\n  target:\n    region: eu-west-1\nversion: 1\nid: x\n",
		"version: 1\nid: x\nkeys: [{name: a, source: a.pem, target: {region: us-east-1}},\n  {name: b, source: {key: b.hex, key_spec: HMAC_256}, target: {region: eu-west-1}}]\n",
		`{"keys": [{"name": "a", "source": "a.pem", "target": {"region": "us-east-1"}},
		 {"name": "b", "source": {"key": "b.hex", "key_spec": "HMAC_256"}, "target": {"region": "eu-west-1"}}], "version": 1, "id": "x"}`,
	}
	layouts = append(layouts, strings.ReplaceAll(layouts[0], "\n", "\r\n")) // Windows line ends
	for i, text := range layouts {
		m, err := OpenManifest(writeManifest(t, text))
		if err != nil {
			t.Errorf("layout %d: %v", i, err)
			continue
		}
		keys := allKeys(t, m)
		if len(keys) != 2 || keys[0].Name != "a" || keys[1].Name != "b" || keys[1].Source.KeySpec != byok.HMAC256 ||
			keys[1].Target.Regions[0] != "eu-west-1" || filepath.Base(keys[0].Source.Key) != "a.pem" {
			t.Errorf("layout %d: %+v", i, keys)
		}
	}
}

func TestManifestMistakes(t *testing.T) {
	for _, tc := range []struct{ text, want string }{
		{"", "the manifest is empty"},
		{"version: 1\nkeys:\n  - name: a\n    source: a.pem\n    target: {region: us-east-1}\n", "1: id: missing"},
		{"version: 1\nid: x\nkeys: []\n", "keys: the manifest lists no keys"},
		{"version: 1\nid: x\nkeys:\n  - name: a\n    source: a.pem\n", "4: keys[0].target.region: missing"},
		{"version: 1\nid: x\nkeys:\n  - name: a\n    source: a.pem\n    target:\n      region: us-east-1\n      valid_to: +400d\n", "8: keys[0].target.valid_to: "},
		{"version: 1\nid: x\nkeys:\n  - name: a\n    source: a.pem\n    target:\n      region: us-east-1\n      rotate: true\n", "rotation imports new key material into an existing key"},
		{"version: 1\nid: x\nkeys:\n  - name: a\n    source: a.pem\n    target: {key_id: 1234abcd-12ab-34cd-56ef-1234567890ab}\n", "needs one Region"},
		{"version: 1\nid: x\nkeys:\n  - name: a\n    source: a.pem\n    target:\n      key_id: arn:aws:kms:us-east-1:111122223333:key/x\n      alias: foo\n", "applies only to keys the migration creates"},
		{"version: 1\nid: x\nkeys:\n  - name: a\n    source: a.pem\n    target: {region: us-east-1, replica_regions: [eu-west-1]}\n", "replicas need multi_region: true"},
		{"version: 1\nid: x\nkeys:\n  - name: a\n    source: {key: a.pem, pin_env: \"1234\", driver: softhsm}\n    target: {region: us-east-1}\n", "is not an environment variable name"},
		{"version: 1\nid: x\nkeys:\n  - name: a\n    source: a.pem\n    target: {region: us-east-1, policy: \"{not json\"}\n", "not a JSON document"},
		{"version: 1\nid: x\nkeys:\n  - name: a\n    source: a.pem\n    target:\n      region: us-east-1\n    bogus: [\n", "8: not valid YAML"},
		{"{\"version\": 1, \"id\": \"x\",\n \"keys\": [\n  {\"name\": \"a\", \"source\": \"a.pem\",\n   \"target\": {\"region\": \"mars\"}}]}", "4: keys[0].target.region: \"mars\" is not an AWS Region"},
		{"{\"version\": 1, \"id\": \"x\",\n \"keys\": [\n  {\"name\": \"a\",,}]}", "3: not valid JSON"},
	} {
		_, err := OpenManifest(writeManifest(t, tc.text))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q:\n got %v\nwant %q", tc.text, err, tc.want)
		}
	}
}

// TestManifestSchemaMatchesParser keeps schema.json and the parser's field
// lists the same.
func TestManifestSchemaMatchesParser(t *testing.T) {
	b, err := os.ReadFile(manifestPath("schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	var s struct {
		Properties map[string]any
		Defs       map[string]struct {
			Properties map[string]any
			Items      struct{ Properties map[string]any }
		} `json:"$defs"`
	}
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	names := func(m map[string]any) []string {
		var out []string
		for k := range m {
			out = append(out, k)
		}
		sort.Strings(out)
		return out
	}
	sorted := func(l []string) []string { l = slices.Clone(l); sort.Strings(l); return l }
	for _, c := range []struct {
		schema map[string]any
		parser []string
		what   string
	}{
		{s.Properties, headerFields, "top level"},
		{s.Defs["key"].Properties, keyFields, "key"},
		{s.Defs["source"].Properties, sourceFields, "source"},
		{s.Defs["target"].Properties, targetFields, "target"},
		{s.Defs["options"].Properties, optionFields, "options"},
		{s.Defs["targets"].Items.Properties, targetKinds, "targets item"},
		{s.Defs["gcp"].Properties, gcpFields, "gcp"},
		{s.Defs["azure"].Properties, azureFields, "azure"},
		{s.Properties["defaults"].(map[string]any)["properties"].(map[string]any), defaultFields, "defaults"},
	} {
		if got, want := names(c.schema), sorted(c.parser); !slices.Equal(got, want) {
			t.Errorf("%s: schema.json has %v, the parser %v", c.what, got, want)
		}
	}
}
