package migrate

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/byok-go/byok"
)

// verify proves the import into arn, and for a replica of a symmetric
// multi-Region key also that a ciphertext made in the primary decrypts in
// the replica.
func (r *runner) verify(ctx context.Context, j *job, region, arn string, imp byok.Imported, rec *AuditRecord, primary *crossRegion) error {
	rs := j.rs(region)
	rec.KeyMaterialID = imp.KeyMaterialID
	res := RegionResult{Target: KindAWS, Region: region, KeyARN: arn, Role: rec.Role, KeyMaterialID: imp.KeyMaterialID}
	defer func() { j.results = append(j.results, res) }()
	if r.m.DryRun {
		if !j.k.Options.SkipVerify {
			j.plan = append(j.plan, "verify in "+region)
		}
		return nil
	}
	if j.k.Options.SkipVerify {
		rec.Skipped = append(rec.Skipped, "verification turned off (options.skip_verify)")
		return nil
	}
	if rs.verified {
		rec.Verified, res.Verified = true, true
		rec.Verdict, res.Verdict = byok.VerdictPassed, byok.VerdictPassed
		rec.Skipped = append(rec.Skipped, "verified by an earlier run (PASSED then; its checks are in that run's audit record)")
		return nil
	}
	c, err := r.client(ctx, region)
	if err != nil {
		return err
	}
	t := &byok.KMS{Client: c}
	v, err := t.VerifyImport(ctx, imp, j.info, j.src)
	if err == nil && primary != nil && j.info.Spec == byok.SymmetricDefault {
		cerr := primary.decryptsIn(ctx, c, arn)
		chk := byok.Check{Name: fmt.Sprintf("a ciphertext made in the primary (%s) decrypts in %s", primary.region, region), OK: cerr == nil}
		if cerr != nil {
			chk.Detail = cerr.Error()
		}
		v.Add(chk)
	}
	if err == nil && j.k.Target.Rotate && j.info.Spec == byok.SymmetricDefault {
		d, derr := c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(arn)})
		chk := byok.Check{Name: "after rotation, the key's current key material is the imported one", OK: derr == nil && aws.ToString(d.KeyMetadata.CurrentKeyMaterialId) == imp.KeyMaterialID}
		if !chk.OK {
			chk.Detail = "CurrentKeyMaterialId differs"
			if derr != nil {
				chk.Detail = derr.Error()
			}
		}
		v.Add(chk)
	}
	if err != nil {
		v.Skip("the proof stopped: " + err.Error())
	}
	rec.Checks, rec.Skipped = append(rec.Checks, v.Checks...), append(rec.Skipped, v.Skipped...)
	rec.Verdict, res.Verdict = v.Verdict, v.Verdict
	if err == nil || v.Verdict == byok.VerdictFailed {
		err = v.Err(arn)
	} else {
		rec.Verdict, res.Verdict = byok.VerdictUnproven, byok.VerdictUnproven
		err = fmt.Errorf("%w: %s: %w", byok.ErrUnproven, arn, err)
	}
	if err != nil {
		r.note(Entry{Key: j.k.Name, Region: region, Step: StepVerify, Phase: PhaseFailed, ARN: arn, Error: err.Error()})
		return err
	}
	rec.Verified, res.Verified = true, true
	rs.verified = true
	return r.note(Entry{Key: j.k.Name, Region: region, Step: StepVerify, Phase: PhaseDone, ARN: arn, KeyMaterialID: imp.KeyMaterialID})
}
