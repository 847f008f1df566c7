package migrate

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/byok-go/byok"
)

// rotate imports new key material into an existing symmetric key as
// NEW_KEY_MATERIAL, into its replicas as EXISTING_KEY_MATERIAL with the
// KeyMaterialId, then rotates the key to it with RotateKeyOnDemand.
func (r *runner) rotate(ctx context.Context, j *job) error {
	if j.info.Spec != byok.SymmetricDefault {
		return fmt.Errorf("rotation of imported key material is for SYMMETRIC_DEFAULT keys; the source is %s", j.info.Spec)
	}
	arn, role, replicas, err := r.describeTarget(ctx, j)
	if err != nil {
		return err
	}
	region := j.k.Target.Regions[0]
	rec := r.record(j, region, arn, role)
	return r.importMulti(ctx, j, region, arn, replicas, rec, false, types.ImportTypeNewKeyMaterial)
}

func (r *runner) rotateOnDemand(ctx context.Context, j *job, region, arn, materialID string) error {
	rs := j.rs(region)
	if rs.rotated {
		return nil
	}
	if r.m.DryRun {
		j.plan = append(j.plan, "RotateKeyOnDemand in "+region)
		return nil
	}
	c, err := r.client(ctx, region)
	if err != nil {
		return err
	}
	current := func() (bool, error) {
		d, err := c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(arn)})
		if err != nil {
			return false, fmt.Errorf("DescribeKey %s: %w", arn, err)
		}
		return aws.ToString(d.KeyMetadata.CurrentKeyMaterialId) == materialID, nil
	}
	done := func(detail string) error {
		rs.rotated = true
		return r.note(Entry{Key: j.k.Name, Region: region, Step: StepRotate, Phase: PhaseDone, ARN: arn, KeyMaterialID: materialID, Detail: detail})
	}
	if rs.rotateIntent {
		ok, err := current()
		if err != nil {
			return err
		}
		if ok {
			return done("found rotated after an interrupted run")
		}
	}
	if err := r.note(Entry{Key: j.k.Name, Region: region, Step: StepRotate, Phase: PhaseIntent, ARN: arn, KeyMaterialID: materialID}); err != nil {
		return err
	}
	rs.rotateIntent = true
	for attempt := 1; ; attempt++ {
		_, err := c.RotateKeyOnDemand(ctx, &kms.RotateKeyOnDemandInput{KeyId: aws.String(arn)})
		if err == nil {
			return done("")
		}
		if ok, cerr := current(); cerr == nil && ok {
			return done("rotated, though the answer was an error: " + err.Error())
		}
		if !isTransient(err) || attempt >= 4 {
			r.note(Entry{Key: j.k.Name, Region: region, Step: StepRotate, Phase: PhaseFailed, ARN: arn, Error: err.Error()})
			return fmt.Errorf("RotateKeyOnDemand %s: %w", arn, err)
		}
	}
}
