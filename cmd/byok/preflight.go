package main

// Check, then act: what import and params verify before their first side
// effect (terraform plan before apply), and what they say about a KMS key
// they created when a later step fails.

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/byok-go/byok"
	"github.com/byok-go/byok/internal/params"
)

// probeOutDir checks, before any AWS call, that the parameters can be
// written into dir: it creates dir if missing (mode 0700, as params.Write
// would), creates and removes a file in it, and without force refuses a
// directory that already holds parameters. undo removes dir again if the
// probe created it, for a run that fails before writing.
func probeOutDir(dir string, force bool) (undo func(), err error) {
	undo = func() {}
	st, err := os.Stat(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return undo, fmt.Errorf("--out %s does not exist and cannot be created: %w; nothing was created in KMS", dir, errors.Unwrap(err))
		}
		undo = func() { os.Remove(dir) }
	case err != nil:
		return undo, fmt.Errorf("--out %s: %w; nothing was created in KMS", dir, err)
	case !st.IsDir():
		return undo, fmt.Errorf("--out %s is not a directory; nothing was created in KMS", dir)
	}
	f, err := os.CreateTemp(dir, ".byok-probe-*")
	if err != nil {
		undo()
		return func() {}, fmt.Errorf("--out %s is not writable (%v): give a directory you can write to; nothing was created in KMS", dir, errors.Unwrap(err))
	}
	f.Close()
	os.Remove(f.Name())
	if !force {
		for _, name := range []string{params.MetadataFile, params.WrappingKeyFile, params.ImportTokenFile, params.EncryptedKeyMaterialFile} {
			if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
				undo()
				return func() {}, fmt.Errorf("%s already holds import parameters (%s); use another directory, or --force to replace them", dir, name)
			}
		}
	}
	return undo, nil
}

// hsmExtractable refuses, before any AWS call, an HSM key that cannot
// leave the HSM (CKA_EXTRACTABLE false): no wrapping algorithm can carry it,
// and creating a KMS key for it would only leave an empty key behind.
func hsmExtractable(src byok.KeySource) error {
	hk, ok := src.(hsmKeyReporter)
	if !ok || hk.Key() == nil || hk.Key().Extractable {
		return nil
	}
	return fmt.Errorf("the HSM %s cannot be imported: its CKA_EXTRACTABLE is false, so the HSM will not wrap it for export, and PKCS#11 never lets that attribute become true again; nothing was created in KMS. Keys meant for migration need CKA_EXTRACTABLE true (pkcs11-tool --extractable; softhsm2-util --import makes keys non-extractable); otherwise keep using this key in the HSM and create a new key in KMS", hk.Key())
}

// deleteCommand is the AWS CLI command that schedules the deletion of a key
// with the shortest waiting period.
func deleteCommand(arn, region string) string {
	cmd := fmt.Sprintf("aws kms schedule-key-deletion --key-id %s --pending-window-in-days %d", arn, byok.MinPendingWindowDays)
	if region != "" {
		cmd += " --region " + region
	}
	return cmd
}

// leftKey is a KMS key a failed run leaves behind, and what was done about
// it; it goes into the JSON output of import and params.
type leftKey struct {
	KeyARN        string     `json:"key_arn"`
	CreatedNow    bool       `json:"created_by_this_run"`
	HoldsMaterial bool       `json:"holds_key_material"`
	DeleteCommand string     `json:"delete_command"`
	DeletionDate  *time.Time `json:"deletion_date,omitempty"`
	CleanupError  string     `json:"cleanup_error,omitempty"`
}

// afterFailure names the key a failed run leaves behind, and how to remove
// it; with cleanup (--cleanup-on-failure) and a key this run created, it
// schedules the deletion itself and says when KMS will delete the key. The
// returned error wraps err (so its kind and exit code stay).
func afterFailure(ctx context.Context, err error, t *byok.KMS, arn, region string, createdNow, holdsMaterial, cleanup bool, cmd string) (error, *leftKey) {
	lk := &leftKey{KeyARN: arn, CreatedNow: createdNow, HoldsMaterial: holdsMaterial, DeleteCommand: deleteCommand(arn, region)}
	state := "PendingImport, no key material"
	if holdsMaterial {
		state = "it holds the imported key material"
	}
	who := "was created by this run"
	if !createdNow {
		who = "was left by an earlier run (the alias names it)"
	}
	if cleanup && createdNow {
		// A fresh context: the run's may be the one that was cancelled.
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		del, cerr := t.ScheduleDeletion(cctx, arn)
		if cerr == nil {
			date := del.Date
			lk.DeletionDate = &date
			if del.AliasDeleted != "" {
				who += " (its alias " + del.AliasDeleted + " was deleted, free for the next run)"
			}
			cancelCmd := fmt.Sprintf("aws kms cancel-key-deletion --key-id %s", arn)
			if region != "" {
				cancelCmd += " --region " + region
			}
			return fmt.Errorf("%w\n  cleanup: the KMS key %s %s; --cleanup-on-failure scheduled its deletion with the shortest waiting period KMS allows (%d days): KMS deletes it on %s. Until then it can be kept with:\n    %s",
				err, arn, who, byok.MinPendingWindowDays, fmtTime(date), cancelCmd), lk
		}
		lk.CleanupError = cerr.Error()
		return fmt.Errorf("%w\n  cleanup FAILED: --cleanup-on-failure could not schedule the deletion of the KMS key %s (%v); schedule it with:\n    %s",
			err, arn, withHint(cerr), lk.DeleteCommand), lk
	}
	reuse := ""
	if !holdsMaterial {
		reuse = fmt.Sprintf("finish the import into it with `%s --key-id %s`, or ", cmd, arn)
	}
	return fmt.Errorf("%w\n  note: the KMS key %s %s and is left behind (%s): %sschedule its deletion with:\n    %s\n  (or run with --cleanup-on-failure, which does that itself)",
		err, arn, who, state, reuse, lk.DeleteCommand), lk
}
