package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// byokCLI runs byok in this process and returns its exit code and output.
func byokCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

// lifecycleFleet writes a manifest of AES keys, one per "name=valid_to"
// (valid_to empty: the material does not expire; name*: multi-Region,
// replicated to eu-west-1).
func lifecycleFleet(t *testing.T, dir, id string, keys ...string) string {
	t.Helper()
	os.MkdirAll(filepath.Join(dir, "keys"), 0o700)
	var b strings.Builder
	fmt.Fprintf(&b, "version: 1\nid: %s\nkeys:\n", id)
	for _, k := range keys {
		name, vt, _ := strings.Cut(k, "=")
		mr := strings.HasSuffix(name, "*")
		name = strings.TrimSuffix(name, "*")
		key := make([]byte, 32)
		rand.Read(key)
		os.WriteFile(filepath.Join(dir, "keys", name+".hex"), []byte(hex.EncodeToString(key)+"\n"), 0o600)
		fmt.Fprintf(&b, "  - name: %s\n    source: {key: keys/%s.hex, key_spec: SYMMETRIC_DEFAULT}\n    target:\n      region: us-east-1\n", name, name)
		if vt != "" {
			fmt.Fprintf(&b, "      valid_to: %q\n", vt)
		}
		if mr {
			b.WriteString("      multi_region: true\n      replica_regions: [eu-west-1]\n")
		}
	}
	p := filepath.Join(dir, "fleet.yaml")
	if err := os.WriteFile(p, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestStatusCLI(t *testing.T) {
	url, _ := startEmulator(t)
	setEmulatorEnv(t, url)
	dir := t.TempDir()
	manifest := lifecycleFleet(t, dir, "status-cli", "a-very-long-key-name-that-is-clipped=+10d", "steady=+300d", "global*=+200d")
	if code, out, errOut := migrateCLI(t, manifest, "--quota-scale", "100", "--progress", "none"); code != 0 {
		t.Fatalf("migrate: exit %d\n%s\n%s", code, out, errOut)
	}
	code, out, errOut := byokCLI(t, "status", manifest)
	if code != exitAttention || !strings.Contains(out, "expires within 30d") || !strings.Contains(out, "1 KMS key of 4 need attention") {
		t.Fatalf("status: exit %d; want %d\n%s\n%s", code, exitAttention, out, errOut)
	}
	for _, line := range strings.Split(out, "\n") {
		if n := len([]rune(line)); n > 100 {
			t.Errorf("a line of %d columns:\n%s", n, line)
		}
	}
	if !strings.Contains(out, "arn:aws:kms:eu-west-1:") || strings.Count(out, " matches") != 4 {
		t.Errorf("no replica ARN, or not every source checked:\n%s", out)
	}
	// A narrower window: nothing to say; exit 0.
	code, out, _ = byokCLI(t, "status", manifest, "--warn-within", "5d", "--skip-source")
	if code != 0 || !strings.Contains(out, "all 4 KMS keys are fine") || !strings.Contains(out, "not-checked") {
		t.Errorf("--warn-within 5d: exit %d\n%s", code, out)
	}
	// --json: the contract and its schema; exit 5 is an error of kind
	// attention.
	sch := schemas(t)
	doc := runJSONCase(t, sch, jsonCase{schema: "status", args: []string{"status", manifest, "--json"}, code: exitAttention, kind: kindAttention})
	keys, _ := doc["keys"].([]any)
	if doc["migration"] != "status-cli" || fmt.Sprint(doc["warn_within_seconds"]) != "2592000" || fmt.Sprint(doc["attention_count"]) != "1" || doc["attention"] != nil || len(keys) != 4 || doc["ok"] != false {
		t.Errorf("--json: %v", doc)
	}
	for _, k := range keys {
		k := k.(map[string]any)
		for _, f := range []string{"key", "region", "key_arn", "state", "expiration_model", "valid_to", "time_left_seconds", "last_proof", "last_verdict", "fingerprint", "source", "attention"} {
			if _, ok := k[f]; !ok {
				t.Errorf("--json: a key without %q: %v", f, k)
			}
		}
	}
	runJSONCase(t, sch, jsonCase{schema: "status", args: []string{"status", manifest, "--json", "--warn-within", "5d"}})
	runJSONCase(t, sch, jsonCase{schema: "status", args: []string{"status", manifest, "--json", "--warn-within", "soon"}, code: 2, kind: kindUsage})
	// A renewal with nothing due (the --json summary counts renewed and
	// not due); and one whose valid_to (+10d) falls in its window.
	ren := runJSONCase(t, sch, jsonCase{schema: "migrate", args: []string{"migrate", manifest, "--renew-within", "5d", "--json", "--progress", "none"}})
	if sum, _ := ren["summary"].(map[string]any); fmt.Sprint(sum["renewed"], "/", sum["not_due"]) != "0/3" {
		t.Errorf("renewal summary: %v", ren["summary"])
	}
	runJSONCase(t, sch, jsonCase{schema: "migrate", args: []string{"migrate", manifest, "--renew-within", "30d", "--json", "--progress", "none"}, code: 1, kind: kindFailed})
	for _, bad := range [][]string{{"status"}, {"status", manifest, "--warn-within", "soon"}, {"status", manifest, "--warn-within", "-1d"}} {
		if code, _, errOut := byokCLI(t, bad...); code != 2 {
			t.Errorf("%v: exit %d; want 2\n%s", bad, code, errOut)
		}
	}
}
