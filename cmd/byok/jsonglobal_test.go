package main

import (
	"strings"
	"testing"
)

// TestGlobalJSONFlag: --json before the command is the command's --json,
// and with no command at all it is a usage error printed as JSON.
func TestGlobalJSONFlag(t *testing.T) {
	s := schemas(t)
	runJSONCase(t, s, jsonCase{schema: "common", args: []string{"--json"}, code: 2, kind: kindUsage})
	runJSONCase(t, s, jsonCase{schema: "common", args: []string{"--json", "--no-such-flag"}, code: 2, kind: kindUsage})
	runJSONCase(t, s, jsonCase{schema: "common", args: []string{"--json", "no-such-command"}, code: 2, kind: kindUsage})
	runJSONCase(t, s, jsonCase{schema: "import", args: []string{"--json", "import"}, code: 2, kind: kindUsage})
	runJSONCase(t, s, jsonCase{schema: "import", args: []string{"--json", "import", keyFile("p256.pkcs8.pem"), "--dry-run"}})

	url, _ := startEmulator(t)
	setEmulatorEnv(t, url)
	dir := t.TempDir()
	manifest := lifecycleFleet(t, dir, "global-json", "one=+200d")
	// The same document with --json before and after the command.
	before := runJSONCase(t, s, jsonCase{schema: "status", args: []string{"--json", "status", manifest, "--skip-source"}, code: exitAttention, kind: kindAttention})
	after := runJSONCase(t, s, jsonCase{schema: "status", args: []string{"status", manifest, "--skip-source", "--json"}, code: exitAttention, kind: kindAttention})
	if len(before) != len(after) || before["manifest"] != after["manifest"] {
		t.Errorf("byok --json status and byok status --json differ:\n%v\n%v", before, after)
	}
}

// TestImportHelpRenewal: byok import --help says how to renew a key.
func TestImportHelpRenewal(t *testing.T) {
	code, out, _ := runCLI(t, "import", "--help")
	if code != 0 || !strings.Contains(out, "renew") || !strings.Contains(out, "byok import --key-id ARN SOURCE --valid-to +365d") {
		t.Errorf("byok import --help (exit %d) does not say how to renew a key:\n%s", code, out)
	}
}
