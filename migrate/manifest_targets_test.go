package migrate

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// targetsManifest names every form of targets: defaults.targets with an aws
// item, a key's own list, the old target: form, and a key that inherits.
const targetsManifest = `version: 1
id: t
defaults:
  target: {tags: {team: x}}
  targets:
    - aws: {region: us-east-1}
    - gcp: {key_ring: projects/p1/locations/europe-west1/keyRings/r, protection_level: SOFTWARE}
keys:
  - name: inherits
    source: a.hex
  - name: own-list
    source: b.hex
    targets:
      - gcp: {key_ring: projects/p1/locations/global/keyRings/r, key_id: other, algorithm: GOOGLE_SYMMETRIC_ENCRYPTION}
      - azure: {vault: "https://v1.vault.azure.net/", key_name: k-1, kek_name: kek, managed_hsm: false}
      - aws: {regions: [eu-west-1, us-west-2]}
  - name: aws-fields
    source: c.hex
    target: {region: ap-south-1, alias: c}
`

// TestManifestTargets: targets lists parse the same streamed, decoded whole
// (with anchors) and as JSON; defaults apply; the old form stays.
func TestManifestTargets(t *testing.T) {
	withAnchors := strings.Replace(targetsManifest, "  target: {tags: {team: x}}", "  target: &t {tags: {team: x}}", 1)
	json := `{"version": 1, "id": "t",
 "defaults": {"target": {"tags": {"team": "x"}}, "targets": [{"aws": {"region": "us-east-1"}},
   {"gcp": {"key_ring": "projects/p1/locations/europe-west1/keyRings/r", "protection_level": "SOFTWARE"}}]},
 "keys": [{"name": "inherits", "source": "a.hex"},
  {"name": "own-list", "source": "b.hex", "targets": [
    {"gcp": {"key_ring": "projects/p1/locations/global/keyRings/r", "key_id": "other", "algorithm": "GOOGLE_SYMMETRIC_ENCRYPTION"}},
    {"azure": {"vault": "https://v1.vault.azure.net/", "key_name": "k-1", "kek_name": "kek", "managed_hsm": false}},
    {"aws": {"regions": ["eu-west-1", "us-west-2"]}}]},
  {"name": "aws-fields", "source": "c.hex", "target": {"region": "ap-south-1", "alias": "c"}}]}`
	for i, text := range []string{targetsManifest, withAnchors, json} {
		m, err := OpenManifest(writeManifest(t, text))
		if err != nil {
			t.Fatalf("form %d: %v", i, err)
		}
		if m.whole != (i == 1) {
			t.Errorf("form %d: whole = %v", i, m.whole)
		}
		if got := m.TargetKinds(); !slices.Equal(got, []string{"aws", "azure", "gcp"}) {
			t.Errorf("form %d: kinds %v", i, got)
		}
		keys := allKeys(t, m)
		if len(keys) != 3 {
			t.Fatalf("form %d: %d keys", i, len(keys))
		}
		in, own, old := keys[0], keys[1], keys[2]
		if !slices.Equal(in.Target.Regions, []string{"us-east-1"}) || in.Target.Tags["team"] != "x" || len(in.Clouds) != 1 ||
			in.Clouds[0].Unit() != "gcp:projects/p1/locations/europe-west1/keyRings/r/cryptoKeys/inherits" || in.Clouds[0].GCP.ProtectionLevel != "SOFTWARE" ||
			in.Clouds[0].Scope() != "gcp:projects/p1/locations/europe-west1" {
			t.Errorf("form %d: inherits = %+v %+v", i, in.Target, in.Clouds)
		}
		if !slices.Equal(own.Target.Regions, []string{"eu-west-1", "us-west-2"}) || own.Target.Tags["team"] != "x" || len(own.Clouds) != 2 ||
			own.Clouds[0].Name() != "projects/p1/locations/global/keyRings/r/cryptoKeys/other" || own.Clouds[0].GCP.Algorithm != "GOOGLE_SYMMETRIC_ENCRYPTION" ||
			own.Clouds[1].Unit() != "azure:https://v1.vault.azure.net/keys/k-1" || own.Clouds[1].Azure.KEKName != "kek" || own.Clouds[1].Scope() != "azure:https://v1.vault.azure.net" {
			t.Errorf("form %d: own-list = %+v %+v", i, own.Target, own.Clouds)
		}
		// target: configures the AWS target; the defaults' gcp stays.
		if !slices.Equal(old.Target.Regions, []string{"ap-south-1"}) || old.Target.Alias != "alias/c" || len(old.Clouds) != 1 {
			t.Errorf("form %d: aws-fields = %+v %+v", i, old.Target, old.Clouds)
		}
		// The defaults' specs are not shared between keys.
		if in.Clouds[0].GCP == old.Clouds[0].GCP {
			t.Errorf("form %d: two keys share one GCPSpec", i)
		}
	}
	// A key with only targets outside AWS has no AWS target.
	m, err := OpenManifest(writeManifest(t, "version: 1\nid: x\nkeys:\n  - name: g\n    source: g.hex\n    targets: [{gcp: {key_ring: projects/p/locations/l/keyRings/r}}]\n"))
	if err != nil {
		t.Fatal(err)
	}
	if k := allKeys(t, m)[0]; k.HasAWS() || len(k.Clouds) != 1 || !slices.Equal(m.TargetKinds(), []string{"gcp"}) {
		t.Errorf("gcp only: %+v, kinds %v", k, m.TargetKinds())
	}
}

// TestManifestTargetMistakes: every mistake in a targets list is reported
// with its line and field.
func TestManifestTargetMistakes(t *testing.T) {
	head := "version: 1\nid: x\nkeys:\n  - name: a\n    source: a.hex\n"
	for _, tc := range []struct{ text, want string }{
		{head + "    targets:\n      - aws: {region: us-east-1}\n        gcp: {key_ring: projects/p/locations/l/keyRings/r}\n",
			"7: keys[0].targets[0]: one target per item, and this one names aws and gcp: make an item each"},
		{head + "    targets:\n      - gcp: {key_ring: projects/p/locations/l/keyRings/r, key_rng: x}\n",
			`7: keys[0].targets[0].gcp.key_rng: unknown field (did you mean "key_ring"?)`},
		{head + "    targets:\n      - gcp:\n          key_id: a\n",
			"8: keys[0].targets[0].gcp.key_ring: missing: give the key ring"},
		{head + "    targets:\n      - gcp: {key_ring: projects/p/keyRings/r}\n",
			`7: keys[0].targets[0].gcp.key_ring: "projects/p/keyRings/r": want projects/PROJECT/locations/LOCATION/keyRings/RING`},
		{head + "    targets:\n      - gpc: {key_ring: projects/p/locations/l/keyRings/r}\n",
			`7: keys[0].targets[0].gpc: unknown field (did you mean "gcp"?)`},
		{head + "    targets:\n      - {}\n",
			"7: keys[0].targets[0]: want one of aws, gcp, azure"},
		{head + "    targets:\n      - aws: {region: us-east-1}\n      - aws: {region: eu-west-1}\n",
			"8: keys[0].targets[1].aws: a key has one AWS target"},
		{head + "    target: {region: us-east-1}\n    targets:\n      - gcp: {key_ring: projects/p/locations/l/keyRings/r}\n",
			"4: keys[0].target: give either target (AWS only) or targets"},
		{head + "    targets:\n      - azure: {vault: http://vault.example.com}\n",
			"7: keys[0].targets[0].azure.vault: \"http://vault.example.com\": want https://"},
		{head + "    targets:\n      - azure: {vault: https://v.vault.azure.net, managed_hsm: yes-please}\n",
			"7: keys[0].targets[0].azure.managed_hsm: want true or false"},
		{head + "    targets:\n      - gcp: {key_ring: projects/p/locations/l/keyRings/r, protection_level: EXTERNAL}\n",
			`7: keys[0].targets[0].gcp.protection_level: "EXTERNAL": want HSM or SOFTWARE`},
		{head + "    targets:\n      - gcp: {key_ring: projects/p/locations/l/keyRings/r}\n      - gcp: {key_ring: projects/p/locations/l/keyRings/r, key_id: a}\n",
			"8: keys[0].targets[1].gcp: projects/p/locations/l/keyRings/r/cryptoKeys/a is given twice"},
		{"version: 1\nid: x\nkeys:\n  - name: a.b\n    source: a.hex\n    targets:\n      - azure: {vault: https://v.vault.azure.net}\n",
			`7: keys[0].targets[0].azure.key_name: missing, and the key's name "a.b" is not a Key Vault key name`},
		{head + "    targets: []\n", "4: keys[0].targets: no target"},
		{"version: 1\nid: x\ndefaults:\n  targets: [{gcp: {key_ring: projects/p/locations/l/keyRings/r, key_id: same}}]\nkeys:\n  - {name: a, source: a.hex}\n  - {name: b, source: b.hex}\n",
			"7: b: gcp projects/p/locations/l/keyRings/r/cryptoKeys/same is the target of another key too (the key at line 6)"},
		{"{\"version\": 1, \"id\": \"x\", \"keys\": [\n {\"name\": \"a\", \"source\": \"a.hex\",\n  \"targets\": [{\"aws\": {\"region\": \"us-east-1\"},\n    \"azure\": {\"vault\": \"https://v.vault.azure.net\"}}]}]}",
			"3: keys[0].targets[0]: one target per item, and this one names aws and azure"},
	} {
		_, err := OpenManifest(writeManifest(t, tc.text))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q:\n got %v\nwant %q", tc.text, err, tc.want)
		}
	}
}

// TestManifestTargetsDocExample: the manifest docs/migrate.md shows under
// "Several clouds, one key" is valid and means what the page says.
func TestManifestTargetsDocExample(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "docs", "migrate.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, sec, ok := strings.Cut(string(b), "### Several clouds, one key")
	_, block, ok2 := strings.Cut(sec, "```yaml\n")
	block, _, ok3 := strings.Cut(block, "```")
	if !ok || !ok2 || !ok3 {
		t.Fatal("no yaml block under \"Several clouds, one key\" in docs/migrate.md")
	}
	m, err := OpenManifest(writeManifest(t, block))
	if err != nil {
		t.Fatal(err)
	}
	keys := allKeys(t, m)
	if len(keys) != 3 {
		t.Fatalf("%d keys", len(keys))
	}
	orders, ledger, legacy := keys[0], keys[1], keys[2]
	if len(orders.Target.Regions) != 2 || len(orders.Clouds) != 1 || orders.Target.Tags["team"] != "payments" {
		t.Errorf("orders: %+v %+v", orders.Target, orders.Clouds)
	}
	if len(ledger.Target.Regions) != 1 || ledger.Target.Alias != "alias/ledger" || len(ledger.Clouds) != 2 ||
		ledger.Clouds[0].GCP.KeyID != "ledger-2026" || ledger.Clouds[1].Azure.KEKName != "byok-kek" {
		t.Errorf("ledger: %+v %+v", ledger.Target, ledger.Clouds)
	}
	if !slices.Equal(legacy.Target.Regions, []string{"ap-south-1"}) || len(legacy.Clouds) != 1 {
		t.Errorf("legacy: %+v %+v", legacy.Target, legacy.Clouds)
	}
}
