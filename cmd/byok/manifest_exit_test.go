package main

import (
	"encoding/json"
	"path/filepath"
	"testing"
)

// TestManifestInputExitCodes: a manifest that cannot be read is a usage
// error (exit 2, kind usage) for status and shred, as for migrate.
func TestManifestInputExitCodes(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "nonexist.yaml")
	for _, args := range [][]string{
		{"migrate", missing},
		{"status", missing},
		{"shred", missing, "--yes-delete-key-material"},
		{"status", "/dev/zero"},
	} {
		if code, out, errOut := byokCLI(t, args...); code != 2 {
			t.Errorf("%v: exit %d, want 2\n%s\n%s", args, code, out, errOut)
		}
	}
	code, out, _ := byokCLI(t, "status", "/dev/zero", "--json")
	var doc struct {
		Error struct {
			Kind string `json:"kind"`
		} `json:"error"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil || code != 2 || doc.Error.Kind != "usage" {
		t.Errorf("status /dev/zero --json: exit %d, %v\n%s", code, err, out)
	}
}
