package main

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/byok-go/byok"
	"github.com/byok-go/byok/migrate"
)

// testCloud is an in-test cloud behind migrate's CloudTarget seam, as the
// gcpkms and azkv packages are wired in by target_gcp.go and
// target_azure.go: it unwraps what it is sent (crypto/rsa, RSAES-OAEP
// SHA-256), keeps it per key name, and proves an import by the material's
// fingerprint.
type testCloud struct {
	kind string
	priv *rsa.PrivateKey

	mu       sync.Mutex
	material map[string][]byte
	imports  map[string]int
}

func newTestCloud(t *testing.T, kind string) *testCloud {
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return &testCloud{kind: kind, priv: priv, material: map[string][]byte{}, imports: map[string]int{}}
}

// register registers c's opener, in place of the real one, for the test's
// duration.
func (c *testCloud) register(t *testing.T) {
	withoutTarget(t, c.kind)
	registerTarget(c.kind, func(_ context.Context, spec migrate.CloudSpec) (migrate.CloudTarget, error) {
		return &testCloudTarget{c: c, name: spec.Name()}, nil
	})
}

// withoutTarget removes the opener of kind for the test's duration, as in a
// byok built without it.
func withoutTarget(t *testing.T, kind string) {
	prev, had := cloudTargets[kind]
	delete(cloudTargets, kind)
	t.Cleanup(func() {
		delete(cloudTargets, kind)
		if had {
			cloudTargets[kind] = prev
		}
	})
}

type testCloudTarget struct {
	c    *testCloud
	name string
}

func (t *testCloudTarget) ChooseWrapping(info byok.KeyInfo, _ []byok.WrappingAlgorithm, _ byok.WrappingAlgorithm, _ byok.WrappingKeySpec) (byok.Choice, error) {
	return byok.Choice{Algorithm: byok.RSAESOAEPSHA256, WrappingKeySpec: byok.WrappingRSA2048, Reason: "test cloud"}, nil
}

func (t *testCloudTarget) Prepare(_ context.Context, _ byok.KeyInfo, alg byok.WrappingAlgorithm, wks byok.WrappingKeySpec) (byok.ImportParameters, error) {
	return byok.ImportParameters{KeyID: t.name, Algorithm: alg, WrappingKeySpec: wks, WrappingKey: &t.c.priv.PublicKey, ImportToken: []byte("job"), ValidTo: time.Now().Add(time.Hour)}, nil
}

func (t *testCloudTarget) Import(_ context.Context, p byok.ImportParameters, wrapped []byte) (byok.Imported, error) {
	m, err := rsa.DecryptOAEP(sha256.New(), nil, t.c.priv, wrapped, nil)
	if err != nil {
		return byok.Imported{}, err
	}
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	t.c.material[t.name] = m
	t.c.imports[t.name]++
	return byok.Imported{KeyID: t.name, KeyMaterialID: fmt.Sprintf("%s/versions/%d", t.name, t.c.imports[t.name])}, nil
}

func (t *testCloudTarget) VerifyImport(_ context.Context, imp byok.Imported, info byok.KeyInfo, _ byok.KeySource) (byok.Verification, error) {
	t.c.mu.Lock()
	m := t.c.material[imp.KeyID]
	t.c.mu.Unlock()
	var v byok.Verification
	km, err := byok.NewSecretKeyMaterial(byok.SymmetricDefault, m)
	if err != nil {
		return v, err
	}
	v.Add(byok.Check{Name: "the test cloud holds the source's material", OK: km.Fingerprint() == info.Fingerprint, Identity: true})
	return v, nil
}

func (t *testCloudTarget) KeyState(_ context.Context, keyID string) (string, error) {
	// A version (as Import named it) is read as its key.
	keyID, _, _ = strings.Cut(keyID, "/versions/")
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	if t.c.material[keyID] == nil {
		return "", fmt.Errorf("no key %s", keyID)
	}
	return "ENABLED", nil
}

// TestMigrateCLIAcrossClouds: with gcp and azure targets registered (as
// target_gcp.go and target_azure.go do), byok migrate moves a key into an
// AWS Region, a Cloud KMS key ring and a Key Vault; the summary has a line
// per cloud and --json a row per target; byok status shows every target
// (exit 0, the table within 100 columns); a manifest naming a cloud this
// byok has no target for is refused (exit 2) before anything happens.
func TestMigrateCLIAcrossClouds(t *testing.T) {
	url, logs := startEmulator(t)
	setEmulatorEnv(t, url)
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "keys"), 0o700)
	for _, k := range []string{"a", "b"} {
		b := make([]byte, 32)
		rand.Read(b)
		os.WriteFile(filepath.Join(dir, "keys", k+".hex"), []byte(hex.EncodeToString(b)+"\n"), 0o600)
	}
	ring := "projects/byok-test-project/locations/europe-west1/keyRings/a-rather-long-key-ring-name-for-the-table"
	manifest := filepath.Join(dir, "fleet.yaml")
	os.WriteFile(manifest, []byte(`version: 1
id: clouds-cli
defaults:
  source: {key_spec: SYMMETRIC_DEFAULT}
keys:
  - name: a
    source: {key: keys/a.hex}
    targets:
      - aws: {region: us-east-1}
      - gcp: {key_ring: `+ring+`}
      - azure: {vault: https://byok-test.vault.azure.net}
  - name: b
    source: {key: keys/b.hex}
    targets:
      - azure: {vault: https://byok-test.vault.azure.net}
`), 0o600)

	// Without the gcp target: refused, nothing called, no journal.
	withoutTarget(t, migrate.KindGCP)
	az := newTestCloud(t, migrate.KindAzure)
	az.register(t)
	code, out, errOut := migrateCLI(t, manifest, "--progress", "none")
	if code != 2 || !strings.Contains(errOut, "fleet.yaml:10: the manifest has gcp targets, and this byok was built without Google Cloud KMS support") {
		t.Fatalf("without gcp: exit %d\n%s\n%s", code, out, errOut)
	}
	if n := strings.Count(logs.String(), "TrentService."); n != 0 || len(az.imports) != 0 {
		t.Errorf("the refused run sent %d AWS requests and %d Key Vault imports", n, len(az.imports))
	}
	if _, err := os.Stat(filepath.Join(dir, "fleet.journal.jsonl")); !os.IsNotExist(err) {
		t.Errorf("the refused run left a journal: %v", err)
	}
	if code, _, errOut := byokCLI(t, "status", manifest); code != 2 || !strings.Contains(errOut, "Google Cloud KMS support") {
		t.Errorf("status without gcp: exit %d\n%s", code, errOut)
	}

	gcp := newTestCloud(t, migrate.KindGCP)
	gcp.register(t)
	code, out, errOut = migrateCLI(t, manifest, "--progress", "none", "--quota", "azure:create=50")
	if code != 0 || !strings.Contains(out, "imported 2, already done 0, failed 0") || !strings.Contains(out, "proofs: 4 PASSED, 0 FAILED, 0 UNPROVEN") ||
		!strings.Contains(out, "azure:https://byok-test.vault.azure.net: 2 imports") || !strings.Contains(out, "gcp:projects/byok-test-project/locations/europe-west1: 1 import") {
		t.Fatalf("migrate: exit %d\n%s\n%s", code, out, errOut)
	}
	if gcp.imports[ring+"/cryptoKeys/a"] != 1 || az.imports["https://byok-test.vault.azure.net/keys/a"] != 1 || az.imports["https://byok-test.vault.azure.net/keys/b"] != 1 {
		t.Errorf("imports: gcp %v, azure %v", gcp.imports, az.imports)
	}
	// --json (everything done): a row per target, in the contract.
	sch := schemas(t)
	doc := runJSONCase(t, sch, jsonCase{schema: "migrate", args: []string{"migrate", manifest, "--json", "--progress", "none"}})
	var res struct {
		Results []struct {
			Key     string `json:"key"`
			Outcome string `json:"outcome"`
		} `json:"results"`
	}
	b, _ := json.Marshal(doc)
	json.Unmarshal(b, &res)
	if len(res.Results) != 2 || res.Results[0].Outcome != "already-done" {
		t.Errorf("second run: %s", b)
	}
	// The rows of the first run's results, through the library's JSON.
	for _, want := range []string{`"cloud_imports":{}`, `"not_renewed":0`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("--json lacks %s: %s", want, b)
		}
	}

	// Status: a row per target; the Cloud KMS key's long name is wrapped
	// within 100 columns, whole.
	code, out, errOut = byokCLI(t, "status", manifest)
	if code != 0 || strings.Count(out, " matches") != 4 || !strings.Contains(out, "gcp") || !strings.Contains(out, "azure") ||
		!strings.Contains(out, "https://byok-test.vault.azure.net/keys/b") || !strings.Contains(out, "ENABLED") {
		t.Fatalf("status: exit %d\n%s\n%s", code, out, errOut)
	}
	joined := ""
	for _, line := range strings.Split(out, "\n") {
		if n := len([]rune(line)); n > 100 {
			t.Errorf("a line of %d columns:\n%s", n, line)
		}
		if strings.HasPrefix(line, "  projects/") || strings.HasPrefix(line, "    ") {
			joined += strings.TrimSpace(line)
		}
	}
	if !strings.Contains(joined, ring+"/cryptoKeys/a") {
		t.Errorf("the Cloud KMS key's name is not whole in the table:\n%s", out)
	}
	st := runJSONCase(t, sch, jsonCase{schema: "status", args: []string{"status", manifest, "--json"}})
	keys, _ := st["keys"].([]any)
	var targets []string
	for _, k := range keys {
		k := k.(map[string]any)
		name, _ := k["key_name"].(string)
		targets = append(targets, fmt.Sprint(k["key"], " ", k["target"], " ", name, k["region"]))
	}
	want := []string{"a aws us-east-1", "a azure https://byok-test.vault.azure.net/keys/a", "a gcp " + ring + "/cryptoKeys/a", "b azure https://byok-test.vault.azure.net/keys/b"}
	if strings.Join(targets, "\n") != strings.Join(want, "\n") {
		t.Errorf("status rows:\n%s\nwant\n%s", strings.Join(targets, "\n"), strings.Join(want, "\n"))
	}
	// Renewal leaves the other clouds alone and says so.
	code, out, _ = migrateCLI(t, manifest, "--progress", "none", "--renew-within", "30d")
	if code != 0 || !strings.Contains(out, "3 targets in Google Cloud KMS or Azure Key Vault left alone") {
		t.Errorf("renewal: exit %d\n%s", code, out)
	}
}

// TestRegisterTarget: like database/sql's Register, a nil opener or a
// second registration of a kind panics.
func TestRegisterTarget(t *testing.T) {
	for name, f := range map[string]func(){
		"nil": func() { registerTarget("test-kind", nil) },
		"twice": func() {
			open := func(context.Context, migrate.CloudSpec) (migrate.CloudTarget, error) { return nil, nil }
			registerTarget("test-kind", open)
			defer delete(cloudTargets, "test-kind")
			registerTarget("test-kind", open)
		},
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			f()
		}()
	}
	if _, ok := cloudTargets["test-kind"]; ok {
		t.Error("a kind left registered")
	}
}
