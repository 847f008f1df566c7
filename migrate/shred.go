package migrate

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/byok-go/byok"
)

// OutcomeShredded is the outcome of an audit record of a shred: the
// imported key material was deleted (DeleteImportedKeyMaterial).
const OutcomeShredded Outcome = "shredded"

// ShredTarget is one KMS key whose imported key material to delete.
type ShredTarget struct {
	Key    string `json:"key,omitempty"` // the manifest entry ("" for a key named alone)
	Region string `json:"region"`
	KeyARN string `json:"key_arn"`
	// Source and Fingerprint, from the audit log, say what to import to
	// restore the key.
	Source      string `json:"source,omitempty"`
	Fingerprint string `json:"fingerprint,omitempty"`
}

// ShredResult is what shredding one KMS key did.
type ShredResult struct {
	ShredTarget
	// StateBefore and State are the key's states before and after.
	StateBefore string `json:"state_before"`
	State       string `json:"state"`
	// Deleted: DeleteImportedKeyMaterial succeeded (false when the key
	// was PendingImport already, or on error).
	Deleted bool   `json:"deleted"`
	Error   string `json:"error,omitempty"`
}

// materialDeleter is the KMS call a shred needs beyond API.
type materialDeleter interface {
	DeleteImportedKeyMaterial(ctx context.Context, in *kms.DeleteImportedKeyMaterialInput, optFns ...func(*kms.Options)) (*kms.DeleteImportedKeyMaterialOutput, error)
}

// ShredTargets returns the KMS keys (every Region) of the manifest's keys
// named in keys (all when empty), from the audit log at auditPath. A name
// that the manifest does not have, or that the audit log names no KMS key
// for, is an error.
func ShredTargets(m *Manifest, auditPath string, keys []string) ([]ShredTarget, error) {
	audit, err := readAuditFull(auditPath)
	if err != nil {
		return nil, err
	}
	var out []ShredTarget
	seen := map[string]bool{}
	for k, err := range m.Keys() {
		if err != nil {
			return nil, err
		}
		if len(keys) > 0 && !slices.Contains(keys, k.Name) {
			continue
		}
		seen[k.Name] = true
		recs := audit[k.Name]
		if len(recs) == 0 {
			return nil, fmt.Errorf("migrate: %s: the audit log %s names no KMS key for it (not migrated?)", k.Name, auditPath)
		}
		for _, region := range slices.Sorted(mapKeys(recs)) {
			if isCloudUnit(region) {
				// Shredding only some copies of a key leaves it usable:
				// refuse rather than report a shred that did not happen.
				return nil, fmt.Errorf("migrate: %s also lives in %s (%s): byok shred deletes AWS KMS key material only, and shredding some copies of a key leaves the others usable; destroy that copy with %s's own tools, and shred the AWS keys with byok shred --key-id ARN", k.Name, kindTitle(unitKind(region)), recs[region].arn, kindTitle(unitKind(region)))
			}
			a := recs[region]
			out = append(out, ShredTarget{Key: k.Name, Region: region, KeyARN: a.arn, Source: a.source, Fingerprint: a.fingerprint})
		}
	}
	for _, k := range keys {
		if !seen[k] {
			return nil, fmt.Errorf("migrate: the manifest has no key %q", k)
		}
	}
	return out, nil
}

func mapKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// Shred deletes the imported key material of every target with
// DeleteImportedKeyMaterial (never ScheduleKeyDeletion: the KMS keys stay,
// in PendingImport, and importing the same material again restores them
// and every ciphertext made under them). A key already PendingImport is
// left alone. Each deletion is written to audit (AuditRecord with
// OutcomeShredded) as it happens; migration names the migration in the
// records. Errors are per key (ShredResult.Error); the error returned says
// how many failed.
func Shred(ctx context.Context, client func(ctx context.Context, region string) (API, error), targets []ShredTarget, audit io.Writer, migration string) ([]ShredResult, error) {
	var idb [8]byte
	rand.Read(idb[:])
	run := hex.EncodeToString(idb[:])
	al := &auditLog{w: audit}
	defer al.sync()
	out := make([]ShredResult, 0, len(targets))
	failed := 0
	for _, t := range targets {
		res := ShredResult{ShredTarget: t}
		started := time.Now().UTC()
		err := shredOne(ctx, client, &res)
		if err != nil {
			res.Error = err.Error()
			failed++
		}
		if res.Deleted || err != nil {
			rec := &AuditRecord{Time: time.Now().UTC(), Migration: migration, Run: run, Key: t.Key, Source: t.Source, Fingerprint: t.Fingerprint,
				Region: t.Region, KeyARN: t.KeyARN, Role: "shred", Outcome: OutcomeShredded, Checks: []byok.Check{}, Skipped: []string{},
				Started: started, Finished: time.Now().UTC()}
			if err != nil {
				rec.Outcome, rec.Error = OutcomeFailed, "DeleteImportedKeyMaterial: "+err.Error()
			}
			if werr := al.write(rec); werr != nil && err == nil {
				res.Error = "the key material was deleted, but the audit log could not record it: " + werr.Error()
				failed++
			}
		}
		out = append(out, res)
		if ctx.Err() != nil {
			break
		}
	}
	if failed > 0 {
		return out, fmt.Errorf("migrate: %d of %d shreds failed", failed, len(targets))
	}
	return out, nil
}

func shredOne(ctx context.Context, client func(ctx context.Context, region string) (API, error), res *ShredResult) error {
	c, err := client(ctx, res.Region)
	if err != nil {
		return err
	}
	del, ok := c.(materialDeleter)
	if !ok {
		return errors.New("the KMS client cannot DeleteImportedKeyMaterial")
	}
	d, err := c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(res.KeyARN)})
	if err != nil {
		return fmt.Errorf("DescribeKey: %w", err)
	}
	res.StateBefore, res.State = string(d.KeyMetadata.KeyState), string(d.KeyMetadata.KeyState)
	if d.KeyMetadata.Origin != types.OriginTypeExternal {
		return fmt.Errorf("%s has Origin %s: only imported key material can be deleted", res.KeyARN, d.KeyMetadata.Origin)
	}
	if d.KeyMetadata.KeyState == types.KeyStatePendingImport {
		return nil // nothing to delete
	}
	// https://docs.aws.amazon.com/kms/latest/APIReference/API_DeleteImportedKeyMaterial.html
	if _, err := del.DeleteImportedKeyMaterial(ctx, &kms.DeleteImportedKeyMaterialInput{KeyId: aws.String(res.KeyARN)}); err != nil {
		return fmt.Errorf("DeleteImportedKeyMaterial: %w", err)
	}
	res.Deleted = true
	d, err = c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(res.KeyARN)})
	if err != nil {
		return fmt.Errorf("DescribeKey after the deletion: %w", err)
	}
	res.State = string(d.KeyMetadata.KeyState)
	return nil
}
