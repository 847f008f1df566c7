package main

import (
	"context"
	"errors"

	"fmt"
	"io"
	"os"
	"strings"

	"github.com/byok-go/byok/internal/params"
	"github.com/byok-go/byok/migrate"
)

const shredUsage = `Usage: byok shred --key-id ARN --yes-delete-key-material [flags]
       byok shred MANIFEST [--key NAME]... --yes-delete-key-material [flags]

Deletes the imported key material of KMS keys (DeleteImportedKeyMaterial):
crypto-shredding. The KMS keys stay, in PendingImport; nothing encrypted
under them can be decrypted, and nothing can be signed, until the same key
material is imported again. byok shred never schedules the deletion of a
KMS key. With a manifest it shreds every Region of every key (or of the
keys named with --key), finding the KMS keys in the migration's audit log.

Without --yes-delete-key-material it only lists what it would delete. Each
deletion is recorded in the audit log. To restore a key, import the same
material again (the command is printed for each key):
  byok import --key-id ARN SOURCE --valid-to +365d     # one key
  byok migrate MANIFEST --renew-within 0d              # every PendingImport key of a manifest

Examples:
  byok shred --key-id arn:aws:kms:eu-west-1:111122223333:key/1234abcd-... --yes-delete-key-material
  byok shred fleet.yaml --key payments-2019 --yes-delete-key-material

Exit status: 0 the key material of every key is deleted (each is
PendingImport); 1 some deletion failed; 2 the command line is wrong, or
--yes-delete-key-material is missing (nothing was deleted).`

// shredOut is the JSON of byok shred.
type shredOut struct {
	// OK is false exactly when Error is set (not confirmed, or some
	// deletion failed).
	OK        bool                  `json:"ok"`
	Error     *errorOut             `json:"error,omitempty"`
	Migration string                `json:"migration,omitempty"`
	Confirmed bool                  `json:"confirmed"`
	Keys      []migrate.ShredResult `json:"keys"`
	AuditLog  string                `json:"audit_log"`
	Restore   []string              `json:"restore"`
}

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(s string) error { *m = append(*m, s); return nil }

func runShred(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("shred", shredUsage, stderr)
	keyID := fs.String("key-id", "", "the KMS key (`ARN`) whose imported key material to delete")
	var names multiFlag
	fs.Var(&names, "key", "with a manifest: shred only this key `NAME` (repeatable; default: every key)")
	yes := fs.Bool("yes-delete-key-material", false, "really delete the imported key material (without it: list only)")
	audit := fs.String("audit", "", "the audit log, appended to (default: MANIFEST's name with .audit.jsonl; with --key-id: byok-shred.audit.jsonl)")
	jsonOut := fs.Bool("json", false, "print the result as JSON on stdout")
	profile := fs.String("profile", "", "named profile from ~/.aws/config (default: AWS_PROFILE)")
	endpoint := fs.String("endpoint-url", "", "KMS endpoint `URL`, e.g. byok emulator's (default: AWS_ENDPOINT_URL_KMS)")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	switch {
	case *keyID == "" && len(pos) == 0:
		return fmt.Errorf("%w: name the key: byok shred --key-id ARN, or byok shred MANIFEST", errUsage)
	case *keyID != "" && len(pos) > 0:
		return fmt.Errorf("%w: --key-id or a manifest, not both", errUsage)
	case len(pos) > 1:
		return fmt.Errorf("%w: one manifest at a time; unexpected argument %q", errUsage, pos[1])
	case *keyID != "" && len(names) > 0:
		return fmt.Errorf("%w: --key selects keys of a manifest; with --key-id there is one key", errUsage)
	case *keyID != "" && params.RegionOf(*keyID) == "":
		return fmt.Errorf("%w: --key-id %q: give the key's ARN (arn:aws:kms:REGION:ACCOUNT:key/ID): it says the Region", errUsage, *keyID)
	}
	client, err := fleetClient(ctx, *profile, *endpoint)
	if err != nil {
		return err
	}
	var targets []migrate.ShredTarget
	var migration, manifest string
	if *keyID != "" {
		targets = []migrate.ShredTarget{{Region: params.RegionOf(*keyID), KeyARN: *keyID}}
		if *audit == "" {
			*audit = "byok-shred.audit.jsonl"
		}
	} else {
		manifest = pos[0]
		m, err := openManifestFlag(manifest)
		if err != nil {
			return err
		}
		migration = m.ID
		if *audit == "" {
			*audit = manifestBase(manifest) + ".audit.jsonl"
		}
		if targets, err = migrate.ShredTargets(m, *audit, names); err != nil {
			return err
		}
	}
	restore := restoreCommands(targets, manifest)
	if !*yes {
		err := fmt.Errorf("%w: nothing deleted: add --yes-delete-key-material to delete it", errUsage)
		if *jsonOut {
			res := make([]migrate.ShredResult, 0, len(targets))
			for _, t := range targets {
				res = append(res, migrate.ShredResult{ShredTarget: t})
			}
			return errors.Join(err, writeJSON(stdout, shredOut{Error: newErrorOut(err, "", nil), Migration: migration, Keys: res, AuditLog: *audit, Restore: restore}))
		}
		fmt.Fprintf(stdout, "would delete the imported key material of %s:\n", plural(len(targets), "KMS key"))
		for _, t := range targets {
			fmt.Fprintf(stdout, "  %s\n", t.KeyARN)
		}
		return err
	}
	f, err := os.OpenFile(*audit, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("opening the audit log: %w (nothing deleted)", err)
	}
	defer f.Close()
	res, shredErr := migrate.Shred(ctx, client, targets, f, migration)
	if *jsonOut {
		doc := shredOut{OK: shredErr == nil, Error: newErrorOut(shredErr, "", nil), Migration: migration, Confirmed: true, Keys: res, AuditLog: *audit, Restore: restore}
		if err := writeJSON(stdout, doc); err != nil {
			return err
		}
		return shredErr
	}
	for _, r := range res {
		name := r.KeyARN
		if r.Key != "" {
			name = r.Key + " in " + r.Region
		}
		switch {
		case r.Error != "":
			fmt.Fprintf(stdout, "FAILED %s: %s\n", name, r.Error)
		case r.Deleted:
			fmt.Fprintf(stdout, "shredded %s: %s → %s\n", name, r.StateBefore, r.State)
		default:
			fmt.Fprintf(stdout, "already %s, nothing to delete: %s\n", r.State, name)
		}
		if r.Key != "" {
			fmt.Fprintf(stdout, "  %s\n", r.KeyARN)
		}
	}
	fmt.Fprintf(stdout, "audit log: %s\nno KMS key was scheduled for deletion. To restore, import the same key material:\n", *audit)
	for _, c := range restore {
		fmt.Fprintf(stdout, "  %s\n", c)
	}
	return shredErr
}

// restoreCommands says how to restore shredded keys: the same material
// imported again.
func restoreCommands(targets []migrate.ShredTarget, manifest string) []string {
	out := []string{}
	if manifest != "" {
		return append(out, "byok migrate "+manifest+" --renew-within 0d")
	}
	for _, t := range targets {
		src := "SOURCE"
		if t.Source != "" {
			src = t.Source
		}
		out = append(out, fmt.Sprintf("byok import --key-id %s %s --valid-to +365d", t.KeyARN, src))
	}
	return out
}
