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
}

// importInto imports j's key material into arn in region: parameters
// fetched just in time, wrapped by the source, imported, and fetched again
// when the token has expired.
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
	if err := r.note(Entry{Key: j.k.Name, Region: region, Step: StepImport, Phase: PhaseIntent, ARN: arn, Detail: string(o.importType)}); err != nil {
		return imp, err
	}
	rs.importIntent = true
	t := &byok.KMS{Client: c, KeyID: arn, ValidTo: j.k.Target.ValidTo, ImportType: string(o.importType), KeyMaterialID: o.materialID}
	if j.info.Spec == byok.SymmetricDefault {
		t.KeyMaterialDescription = j.k.Target.KeyMaterialDescription
	}
	var lastErr error
	for attempt := 1; attempt <= 5; attempt++ {
		r.countGPFI(region)
		p, err := r.prepare(ctx, t, j, o)
		if err != nil {
			lastErr = err
			break
		}
		wrapped, err := j.src.Wrap(ctx, p)
		if err != nil {
			lastErr = fmt.Errorf("wrapping for %s: %w", arn, err)
			break
		}
		got, err := t.Import(ctx, p, wrapped)
		clear(wrapped)
		if err == nil {
			imp.KeyMaterialID = got.KeyMaterialID
			imp.ExpirationModel, imp.ValidTo = got.ExpirationModel, got.ValidTo
			return imp, r.importedNote(j, region, arn, got.KeyMaterialID, "")
		}
		lastErr = err
		var expired *types.ExpiredImportTokenException
		if errors.As(err, &expired) {
			r.mu.Lock()
			r.expired++
			r.mu.Unlock()
			r.log.Info("migrate: import token expired; fetching new parameters", "key", j.k.Name, "region", region)
			continue
		}
		if !isTransient(err) {
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

// prepare gets import parameters (byok.KMS.Prepare: DescribeKey, then
// GetParametersForImport). Right after CreateKey or ReplicateKey, KMS may
// not know the key yet (it is eventually consistent) or may still be
// creating it: that is retried for up to 30 seconds.
func (r *runner) prepare(ctx context.Context, t *byok.KMS, j *job, o importOpts) (byok.ImportParameters, error) {
	deadline := time.Now().Add(30 * time.Second)
	delay := 200 * time.Millisecond
	for {
		p, err := t.Prepare(ctx, j.info, j.choice.Algorithm, j.choice.WrappingKeySpec)
		var nf *types.NotFoundException
		var is *types.KMSInvalidStateException
		if err == nil || !(o.createdByUs || o.waitCreating) || !(errors.As(err, &nf) || errors.As(err, &is)) || time.Now().After(deadline) {
			return p, err
		}
		if err := r.clock.Sleep(ctx, delay); err != nil {
			return p, err
		}
		delay = min(2*delay, 2*time.Second)
	}
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
