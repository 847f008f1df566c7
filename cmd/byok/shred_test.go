package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/byok-go/byok/migrate"
	"github.com/santhosh-tekuri/jsonschema/v6"
)

// TestShredThenRestore shreds a migrated multi-Region key by manifest and
// a single key by ARN, checks that ciphertexts stop decrypting and that
// nothing was scheduled for deletion, then restores both with the commands
// byok shred prints.
func TestShredThenRestore(t *testing.T) {
	url, logs := startEmulator(t)
	setEmulatorEnv(t, url)
	dir := t.TempDir()
	manifest := lifecycleFleet(t, dir, "shred", "global*=+200d", "single=+200d", "kept=+200d")
	if code, out, errOut := migrateCLI(t, manifest, "--quota-scale", "100", "--progress", "none"); code != 0 {
		t.Fatalf("migrate: exit %d\n%s\n%s", code, out, errOut)
	}
	var global, single, kept string
	entries, _ := migrate.ReadJournal(filepath.Join(dir, "fleet.journal.jsonl"))
	for _, e := range entries {
		if e.Step == migrate.StepImport && e.Phase == migrate.PhaseDone && e.Region == "us-east-1" {
			switch e.Key {
			case "global":
				global = e.ARN
			case "single":
				single = e.ARN
			case "kept":
				kept = e.ARN
			}
		}
	}
	ctx := context.Background()
	c := sdkClient(url)
	encrypt := func(arn string) []byte {
		out, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(arn), Plaintext: []byte("secret")})
		if err != nil {
			t.Fatal(err)
		}
		return out.CiphertextBlob
	}
	decrypts := func(arn string, ct []byte) bool {
		_, err := c.Decrypt(ctx, &kms.DecryptInput{KeyId: aws.String(arn), CiphertextBlob: ct})
		return err == nil
	}
	cts := map[string][]byte{global: encrypt(global), single: encrypt(single), kept: encrypt(kept)}

	// Without the confirmation: a list, exit 2, nothing deleted.
	code, out, errOut := byokCLI(t, "shred", manifest, "--key", "global")
	if code != 2 || !strings.Contains(out, "would delete the imported key material of 2 KMS keys") || !strings.Contains(errOut, "--yes-delete-key-material") {
		t.Fatalf("unconfirmed: exit %d\n%s\n%s", code, out, errOut)
	}
	if strings.Contains(logs.String(), "DeleteImportedKeyMaterial") {
		t.Fatal("an unconfirmed shred called DeleteImportedKeyMaterial")
	}
	sch := schemas(t)
	runJSONCase(t, sch, jsonCase{schema: "shred", args: []string{"shred", manifest, "--key", "single", "--json"}, code: 2, kind: kindUsage})
	runJSONCase(t, sch, jsonCase{schema: "shred", args: []string{"shred", manifest, "--key", "nope", "--json"}, code: 1, kind: kindFailed})
	if strings.Contains(logs.String(), "DeleteImportedKeyMaterial") {
		t.Fatal("an unconfirmed shred (--json) called DeleteImportedKeyMaterial")
	}
	code, out, errOut = byokCLI(t, "shred", manifest, "--key", "global", "--yes-delete-key-material", "--json")
	var so shredOut
	if err := json.Unmarshal([]byte(out), &so); err != nil || code != 0 {
		t.Fatalf("shred: exit %d, %v\n%s\n%s", code, err, out, errOut)
	}
	if err := sch["shred"].Validate(mustJSON(t, out)); err != nil {
		t.Errorf("shred --json: %v\n%s", err, out)
	}
	if len(so.Keys) != 2 || !so.Confirmed || len(so.Restore) != 1 || so.Restore[0] != "byok migrate "+manifest+" --renew-within 0d" {
		t.Errorf("shred --json: %+v", so)
	}
	for _, k := range so.Keys {
		if !k.Deleted || k.StateBefore != "Enabled" || k.State != "PendingImport" {
			t.Errorf("shredded %s in %s: %+v", k.Key, k.Region, k)
		}
	}
	code, out, errOut = byokCLI(t, "shred", "--key-id", single, "--yes-delete-key-material", "--audit", filepath.Join(dir, "fleet.audit.jsonl"))
	if code != 0 || !strings.Contains(out, "Enabled → PendingImport") || !strings.Contains(out, "byok import --key-id "+single+" SOURCE --valid-to +365d") {
		t.Fatalf("shred --key-id: exit %d\n%s\n%s", code, out, errOut)
	}
	if decrypts(global, cts[global]) || decrypts(single, cts[single]) || !decrypts(kept, cts[kept]) {
		t.Fatal("after the shred: shredded keys still decrypt, or the kept one does not")
	}
	if n := strings.Count(logs.String(), "ScheduleKeyDeletion"); n != 0 {
		t.Errorf("%d ScheduleKeyDeletion requests", n)
	}
	audit, _ := os.ReadFile(filepath.Join(dir, "fleet.audit.jsonl"))
	if n := strings.Count(string(audit), `"outcome":"shredded"`); n != 3 {
		t.Errorf("%d shred records in the audit log; want 3", n)
	}
	code, out, _ = byokCLI(t, "status", manifest, "--skip-source")
	if code != exitAttention || strings.Count(out, "PendingImport: its key material expired or was deleted") != 3 {
		t.Errorf("status after the shred: exit %d\n%s", code, out)
	}

	// Restore the single key by hand, as byok shred says: the printed
	// command, as printed (no --key-spec: DescribeKey gives the raw key's).
	code, out, errOut = byokCLI(t, "import", "--key-id", single, filepath.Join(dir, "keys", "single.hex"), "--valid-to", "+365d")
	if code != 0 || !decrypts(single, cts[single]) {
		t.Fatalf("byok import --key-id after the shred: exit %d\n%s\n%s", code, out, errOut)
	}
	// The same command renews a key that holds its material (Enabled).
	code, out, errOut = byokCLI(t, "import", "--key-id", kept, filepath.Join(dir, "keys", "kept.hex"), "--valid-to", "+365d")
	if code != 0 || !decrypts(kept, cts[kept]) {
		t.Fatalf("byok import --key-id into an Enabled key (a renewal): exit %d\n%s\n%s", code, out, errOut)
	}
	d, _ := c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(kept)})
	if d.KeyMetadata.ValidTo == nil || d.KeyMetadata.ValidTo.Sub(*d.KeyMetadata.CreationDate).Hours() < 300*24 {
		t.Errorf("after the renewal by byok import, ValidTo is %v", d.KeyMetadata.ValidTo)
	}
}

func mustJSON(t *testing.T, s string) any {
	t.Helper()
	v, err := jsonschema.UnmarshalJSON(strings.NewReader(s))
	if err != nil {
		t.Fatal(err)
	}
	return v
}
