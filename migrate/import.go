package migrate

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/byok-go/byok"
)

// importOpts say how to import into one key.
type importOpts struct {
	importType   types.ImportType // "" (first import), NEW_ or EXISTING_KEY_MATERIAL
	materialID   string
	createdByUs  bool // the migration created the key: Enabled means imported
	waitCreating bool // a fresh replica may still be Creating
	role         string
	// renewed, for a renewal, says whether the key holds the material
	// anew (the import happened though its answer or journal entry was
	// lost); it replaces the checks by import type.
	renewed func(ctx context.Context) (bool, string, error)
}

// importInto imports j's key material into arn in region through the one
// import path, byok.Importer.Import, with a journalTarget around the KMS
// target: parameters fetched just in time, wrapped by the source,
// imported, and fetched again when the token has expired. Around that
// path it only decides what is already done (the journal, or KMS after an
// interrupted run or a lost answer) and whether to try again. The proof
// runs later (verify), once every Region is imported and rotated.
func (r *runner) importInto(ctx context.Context, j *job, region, arn string, o importOpts) (byok.Imported, error) {
	rs := j.rs(region)
	imp := byok.Imported{KeyID: arn, KeyARN: arn, KeyMaterialID: rs.materialID}
	if rs.imported {
		j.plan = append(j.plan, "imported earlier into "+arn)
		return imp, nil
	}
	if r.m.DryRun {
		r.countGPFI(region)
		what := "import"
		if o.importType != "" {
			what += " as " + string(o.importType)
		}
		j.plan = append(j.plan, fmt.Sprintf("%s into %s key in %s with %s under an %s wrapping key", what, o.role, region, j.choice.Algorithm, j.choice.WrappingKeySpec))
		return imp, nil
	}
	c, err := r.client(ctx, region)
	if err != nil {
		return imp, err
	}
	if o.waitCreating {
		if err := r.waitUsable(ctx, c, arn); err != nil {
			return imp, err
		}
	}
	// Did an earlier run (or an answer lost on the way) import already?
	if rs.importIntent {
		done, id, err := r.alreadyImported(ctx, c, arn, o)
		if err != nil {
			return imp, err
		}
		if done {
			imp.KeyMaterialID = id
			return imp, r.importedNote(j, region, arn, id, "found imported after an interrupted run")
		}
	}
	t := &journalTarget{r: r, j: j, region: region, o: o,
		kms: &byok.KMS{Client: gpfiCounter{API: c, count: func() { r.countGPFI(region) }}, KeyID: arn, ValidTo: j.k.Target.ValidTo, ImportType: string(o.importType), KeyMaterialID: o.materialID}}
	if j.info.Spec == byok.SymmetricDefault {
		t.kms.KeyMaterialDescription = j.k.Target.KeyMaterialDescription
	}
	// The choice open made (and the audit record names), not a new one.
	im := &byok.Importer{Algorithm: j.choice.Algorithm, WrappingKeySpec: j.choice.WrappingKeySpec, SkipVerify: true}
	var lastErr error
	for attempt := 1; attempt <= 4; attempt++ {
		res, err := im.Import(ctx, j.src, t)
		if err == nil {
			imp.KeyMaterialID, imp.ExpirationModel, imp.ValidTo, imp.Algorithm = res.KeyMaterialID, res.ExpirationModel, res.ValidTo, res.Algorithm
			return imp, nil // journaled by the target
		}
		lastErr = err
		if t.noted != nil {
			return imp, t.noted // imported, but the journal failed: stop
		}
		if t.kms.IsExpiredToken(err) {
			// Expired again after the importer's own refresh: start over.
			r.countExpired(j, region)
			continue
		}
		if !isTransient(err) || ctx.Err() != nil {
			break
		}
		// The answer was lost: KMS may have imported.
		done, id, derr := r.alreadyImported(ctx, c, arn, o)
		if derr == nil && done {
			imp.KeyMaterialID = id
			return imp, r.importedNote(j, region, arn, id, "imported, though the answer was lost: "+err.Error())
		}
	}
	r.note(Entry{Key: j.k.Name, Region: region, Step: StepImport, Phase: PhaseFailed, ARN: arn, Error: lastErr.Error()})
	return imp, lastErr
}

func (r *runner) countExpired(j *job, region string) {
	r.mu.Lock()
	r.expired++
	r.mu.Unlock()
	r.log.Info("migrate: import token expired; fetching new parameters", "key", j.k.Name, "region", region)
}

func (r *runner) countGPFI(region string) {
	r.mu.Lock()
	r.gpfi[region]++
	r.mu.Unlock()
}

func (r *runner) importedNote(j *job, region, arn, id, detail string) error {
	rs := j.rs(region)
	rs.imported, rs.materialID = true, id
	return r.note(Entry{Key: j.k.Name, Region: region, Step: StepImport, Phase: PhaseDone, ARN: arn, KeyMaterialID: id, Detail: detail})
}

// alreadyImported reports whether arn holds the key material an import
// with o would have put there.
func (r *runner) alreadyImported(ctx context.Context, c API, arn string, o importOpts) (bool, string, error) {
	if o.renewed != nil {
		return o.renewed(ctx)
	}
	switch o.importType {
	case "":
		if !o.createdByUs {
			// Someone else's key: import again (KMS takes the same
			// material again, and refuses other material).
			return false, "", nil
		}
		d, err := c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(arn)})
		if err != nil {
			return false, "", fmt.Errorf("DescribeKey %s: %w", arn, err)
		}
		return d.KeyMetadata.KeyState == types.KeyStateEnabled, aws.ToString(d.KeyMetadata.CurrentKeyMaterialId), nil
	case types.ImportTypeNewKeyMaterial:
		// New material waiting for rotation, already imported: ours.
		var found string
		err := listRotations(ctx, c, arn, func(e types.RotationsListEntry) {
			if (e.KeyMaterialState == types.KeyMaterialStatePendingRotation || e.KeyMaterialState == types.KeyMaterialStatePendingMultiRegionImportAndRotation) &&
				e.ImportState == types.ImportStateImported {
				found = aws.ToString(e.KeyMaterialId)
			}
		})
		return found != "", found, err
	case types.ImportTypeExistingKeyMaterial:
		var done bool
		err := listRotations(ctx, c, arn, func(e types.RotationsListEntry) {
			if aws.ToString(e.KeyMaterialId) == o.materialID && e.ImportState == types.ImportStateImported {
				done = true
			}
		})
		return done, o.materialID, err
	}
	return false, "", nil
}

func listRotations(ctx context.Context, c API, arn string, f func(types.RotationsListEntry)) error {
	var marker *string
	for {
		out, err := c.ListKeyRotations(ctx, &kms.ListKeyRotationsInput{KeyId: aws.String(arn), IncludeKeyMaterial: types.IncludeKeyMaterialAllKeyMaterial, Marker: marker})
		if err != nil {
			return fmt.Errorf("ListKeyRotations %s: %w", arn, err)
		}
		for _, e := range out.Rotations {
			f(e)
		}
		if !out.Truncated {
			return nil
		}
		marker = out.NextMarker
	}
}

// waitUsable waits while a new replica is Creating.
func (r *runner) waitUsable(ctx context.Context, c API, arn string) error {
	deadline := time.Now().Add(2 * time.Minute)
	for {
		d, err := c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(arn)})
		var nf *types.NotFoundException
		switch {
		case errors.As(err, &nf) && time.Now().Before(deadline):
		case err != nil:
			return fmt.Errorf("DescribeKey %s: %w", arn, err)
		case d.KeyMetadata.KeyState != types.KeyStateCreating:
			return nil
		case time.Now().After(deadline):
			return fmt.Errorf("%s is still Creating after 2 minutes", arn)
		}
		if err := r.clock.Sleep(ctx, time.Second); err != nil {
			return err
		}
	}
}
