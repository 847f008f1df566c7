package migrate

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/byok-go/byok"
	"github.com/byok-go/byok/driver"
)

// job is one manifest key in progress.
type job struct {
	k       Key
	st      *keyState
	src     driver.Source
	release func()
	info    byok.KeyInfo
	choice  byok.Choice
	started time.Time
	results []RegionResult
	records []*AuditRecord
	plan    []string
	// clouds are the key's targets outside AWS, opened and planned
	// (planClouds), by CloudSpec.Unit.
	clouds map[string]*cloudPlan
}

func (j *job) rs(region string) *regionState { return j.st.region(region) }

func (r *runner) migrateKey(ctx context.Context, k Key) (res Result) {
	j := &job{k: k, st: r.replay.keys[k.Name], started: time.Now()}
	if j.st == nil {
		j.st = &keyState{}
	}
	res = Result{Key: k.Name, Line: k.Line}
	defer func() {
		res.Elapsed = time.Since(j.started)
		res.Regions = j.results
		if ctx.Err() != nil && res.Err != nil {
			res.Outcome = "" // interrupted: neither done nor failed
			return
		}
		if res.Err != nil {
			res.Outcome = OutcomeFailed
			r.note(Entry{Key: k.Name, Step: StepKey, Phase: PhaseFailed, Error: res.Err.Error()})
			if len(j.records) == 0 {
				// Failed before any Region's record (the source did not
				// open, the target key was not found): one record still
				// says so. r.record keeps it in j.records.
				r.record(j, "", "", "")
			}
		}
		for _, rec := range j.records {
			if res.Err != nil && rec.Outcome == OutcomeImported && !rec.Verified {
				rec.Outcome = OutcomeFailed
				rec.Error = res.Err.Error()
			}
			rec.Finished = time.Now().UTC()
			if err := r.audit.write(rec); err != nil {
				r.log.Warn("migrate: writing the audit log", "err", err)
			}
		}
	}()
	if err := r.open(ctx, j); err != nil {
		res.Err = err
		return res
	}
	defer j.closeSource()
	// Every cloud's rules are applied before the key's first side effect
	// (AWS's were, by open): check, then act.
	if err := r.planClouds(ctx, j); err != nil {
		res.Err = err
		return res
	}
	var err error
	t := k.Target
	switch {
	case t.KeyID != "" && t.Rotate:
		err = r.rotate(ctx, j)
	case t.KeyID != "":
		err = r.existing(ctx, j)
	case t.MultiRegion:
		err = r.multiRegion(ctx, j)
	default:
		for _, region := range t.Regions {
			if err = r.single(ctx, j, region); err != nil {
				break
			}
		}
	}
	// Then every target outside AWS, one after the other.
	for _, c := range k.Clouds {
		if err != nil {
			break
		}
		err = r.cloud(ctx, j, c)
	}
	if err != nil {
		res.Err = err
		return res
	}
	if r.m.DryRun {
		res.Outcome = OutcomePlanned
		res.Plan = strings.Join(j.plan, "; ")
		for _, rec := range j.records {
			rec.Outcome = OutcomeDryRun
		}
		return res
	}
	if err := r.note(Entry{Key: k.Name, Step: StepKey, Phase: PhaseDone, Fingerprint: j.info.Fingerprint}); err != nil {
		res.Err = err
		return res
	}
	res.Outcome = OutcomeImported
	return res
}

// single migrates j into a new single-Region key in region.
func (r *runner) single(ctx context.Context, j *job, region string) error {
	arn, err := r.createKey(ctx, j, region, false)
	if err != nil {
		return err
	}
	rec := r.record(j, region, arn, "single-Region")
	rec.Created = true
	if err := r.alias(ctx, j, region, arn); err != nil {
		return err
	}
	imp, err := r.importInto(ctx, j, region, arn, importOpts{createdByUs: true, role: "a new"})
	if err != nil {
		return err
	}
	return r.verify(ctx, j, region, arn, imp, rec, nil)
}

// existing imports into an existing key (and its replicas, for a
// multi-Region primary).
func (r *runner) existing(ctx context.Context, j *job) error {
	arn, role, replicas, err := r.describeTarget(ctx, j)
	if err != nil {
		return err
	}
	region := j.k.Target.Regions[0]
	rec := r.record(j, region, arn, role)
	if len(replicas) > 0 {
		return r.importMulti(ctx, j, region, arn, replicas, rec, false, "")
	}
	imp, err := r.importInto(ctx, j, region, arn, importOpts{role: "the existing"})
	if err != nil {
		return err
	}
	return r.verify(ctx, j, region, arn, imp, rec, nil)
}

// describeTarget describes an existing target key: its ARN and, for a
// multi-Region primary, its replicas by Region.
func (r *runner) describeTarget(ctx context.Context, j *job) (string, string, map[string]string, error) {
	region := j.k.Target.Regions[0]
	c, err := r.client(ctx, region)
	if err != nil {
		return "", "", nil, err
	}
	d, err := c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(j.k.Target.KeyID)})
	if err != nil {
		return "", "", nil, fmt.Errorf("DescribeKey %s in %s: %w", j.k.Target.KeyID, region, err)
	}
	md := d.KeyMetadata
	arn := aws.ToString(md.Arn)
	if md.Origin != types.OriginTypeExternal {
		return "", "", nil, fmt.Errorf("%s has Origin %s; only keys with Origin EXTERNAL take imported key material", arn, md.Origin)
	}
	replicas := map[string]string{}
	role := "existing"
	if mrc := md.MultiRegionConfiguration; mrc != nil {
		switch mrc.MultiRegionKeyType {
		case types.MultiRegionKeyTypeReplica:
			if j.k.Target.Rotate {
				return "", "", nil, fmt.Errorf("%s is a multi-Region replica; rotate its primary key in %s", arn, aws.ToString(mrc.PrimaryKey.Region))
			}
		case types.MultiRegionKeyTypePrimary:
			role = "existing primary"
			for _, rk := range mrc.ReplicaKeys {
				replicas[aws.ToString(rk.Region)] = aws.ToString(rk.Arn)
			}
		}
	}
	return arn, role, replicas, nil
}

// record starts the audit record of j in region and keeps it in j.records,
// which migrateKey writes when the key is done.
func (r *runner) record(j *job, region, arn, role string) *AuditRecord {
	rec := &AuditRecord{Time: time.Now().UTC(), Migration: r.m.Manifest.ID, Run: r.runID, Key: j.k.Name,
		Source: sourceLabel(j.k.Source), Fingerprint: j.info.Fingerprint, KeySpec: j.info.Spec, KeyUsage: usageOf(j.info),
		Region: region, KeyARN: arn, Role: role, Algorithm: j.choice.Algorithm, WrappingKeySpec: j.choice.WrappingKeySpec,
		Outcome: OutcomeImported, Started: j.started.UTC(), Checks: []byok.Check{}, Skipped: []string{}}
	if !j.k.Target.ValidTo.IsZero() {
		vt := j.k.Target.ValidTo
		rec.ValidTo, rec.ExpirationModel = &vt, string(types.ExpirationModelTypeKeyMaterialExpires)
	} else {
		rec.ExpirationModel = string(types.ExpirationModelTypeKeyMaterialDoesNotExpire)
	}
	if region != "" {
		rec.Target = KindAWS
	}
	j.records = append(j.records, rec)
	return rec
}
