package migrate

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/byok-go/byok"
)

// multiRegion creates a multi-Region primary key, replicates it, imports
// the same key material into the primary and every replica (each with its
// own import parameters) and verifies each, and for symmetric keys that a
// ciphertext of the primary decrypts in every replica.
func (r *runner) multiRegion(ctx context.Context, j *job) error {
	t := j.k.Target
	primary := t.Regions[0]
	arn, err := r.createKey(ctx, j, primary, true)
	if err != nil {
		return err
	}
	prec := r.record(j, primary, arn, "primary")
	prec.Created = true
	replicas := map[string]string{}
	for _, region := range t.ReplicaRegions {
		rarn, err := r.replicate(ctx, j, primary, arn, region)
		if err != nil {
			return err
		}
		replicas[region] = rarn
	}
	for _, region := range t.AllRegions() {
		a := arn
		if region != primary {
			a = replicas[region]
		}
		if err := r.alias(ctx, j, region, a); err != nil {
			return err
		}
	}
	return r.importMulti(ctx, j, primary, arn, replicas, prec, true, "")
}

// importMulti imports into a primary key and its replicas, rotates when
// asked, and verifies.
func (r *runner) importMulti(ctx context.Context, j *job, primary, arn string, replicas map[string]string, prec *AuditRecord, created bool, first types.ImportType) error {
	pimp, err := r.importInto(ctx, j, primary, arn, importOpts{createdByUs: created, importType: first, role: prec.Role})
	if err != nil {
		return err
	}
	prec.ImportType = string(first)
	regions := slices.Sorted(func(yield func(string) bool) {
		for reg := range replicas {
			if !yield(reg) {
				return
			}
		}
	})
	imps := map[string]byok.Imported{}
	recs := map[string]*AuditRecord{}
	for _, region := range regions {
		rarn := replicas[region]
		rec := r.record(j, region, rarn, "replica")
		rec.Created = created
		recs[region] = rec
		o := importOpts{createdByUs: created, waitCreating: true, role: "the replica"}
		if j.info.Spec == byok.SymmetricDefault {
			o.importType, o.materialID = types.ImportTypeExistingKeyMaterial, pimp.KeyMaterialID
			rec.ImportType = string(o.importType)
		}
		imp, err := r.importInto(ctx, j, region, rarn, o)
		if err != nil {
			return err
		}
		imps[region] = imp
	}
	if first == types.ImportTypeNewKeyMaterial {
		if err := r.rotateOnDemand(ctx, j, primary, arn, pimp.KeyMaterialID); err != nil {
			return err
		}
		prec.Rotated = true
		for _, rec := range recs {
			rec.Rotated = true
		}
	}
	if err := r.verify(ctx, j, primary, arn, pimp, prec, nil); err != nil {
		return err
	}
	var x *crossRegion
	if j.info.Spec == byok.SymmetricDefault && len(regions) > 0 && !r.m.DryRun && !j.k.Options.SkipVerify {
		if x, err = r.encryptIn(ctx, primary, arn); err != nil {
			return err
		}
	}
	for _, region := range regions {
		if err := r.verify(ctx, j, region, replicas[region], imps[region], recs[region], x); err != nil {
			return err
		}
	}
	return nil
}

// replicate replicates the primary key arn to region.
func (r *runner) replicate(ctx context.Context, j *job, primary, arn, region string) (string, error) {
	rs := j.rs(region)
	if rs.replicated && rs.arn != "" {
		return rs.arn, nil
	}
	replicaARN := strings.Replace(arn, ":"+primary+":", ":"+region+":", 1)
	if r.m.DryRun {
		j.plan = append(j.plan, "replicate to "+region)
		return replicaARN, nil
	}
	c, err := r.client(ctx, primary)
	if err != nil {
		return "", err
	}
	done := func(a, detail string) (string, error) {
		rs.arn, rs.replicated = a, true
		return a, r.note(Entry{Key: j.k.Name, Region: region, Step: StepReplicate, Phase: PhaseDone, ARN: a, Detail: detail})
	}
	exists := func() (bool, error) {
		d, err := c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(arn)})
		if err != nil {
			return false, fmt.Errorf("DescribeKey %s: %w", arn, err)
		}
		if mrc := d.KeyMetadata.MultiRegionConfiguration; mrc != nil {
			for _, rk := range mrc.ReplicaKeys {
				if aws.ToString(rk.Region) == region {
					return true, nil
				}
			}
		}
		return false, nil
	}
	if rs.replicaIntent {
		ok, err := exists()
		if err != nil {
			return "", err
		}
		if ok {
			return done(replicaARN, "found after an interrupted run")
		}
	}
	pol, err := r.policy(j)
	if err != nil {
		return "", err
	}
	if err := r.note(Entry{Key: j.k.Name, Region: region, Step: StepReplicate, Phase: PhaseIntent, ARN: arn}); err != nil {
		return "", err
	}
	rs.replicaIntent = true
	for attempt := 1; ; attempt++ {
		out, err := c.ReplicateKey(ctx, &kms.ReplicateKeyInput{KeyId: aws.String(arn), ReplicaRegion: aws.String(region),
			Description: aws.String(r.description(j)), Policy: pol, Tags: r.tags(j)})
		if err == nil {
			return done(aws.ToString(out.ReplicaKeyMetadata.Arn), "")
		}
		var ae *types.AlreadyExistsException
		if errors.As(err, &ae) {
			return done(replicaARN, "the replica existed")
		}
		if isTransient(err) && attempt < 4 {
			if ok, xerr := exists(); xerr == nil && ok {
				return done(replicaARN, "replicated, though the answer was lost: "+err.Error())
			}
			continue
		}
		r.note(Entry{Key: j.k.Name, Region: region, Step: StepReplicate, Phase: PhaseFailed, ARN: arn, Error: err.Error()})
		return "", fmt.Errorf("ReplicateKey %s to %s: %w", arn, region, err)
	}
}

// crossRegion is a ciphertext made with a multi-Region primary key, for
// decrypting in its replicas.
type crossRegion struct {
	region string
	ct     []byte
	msg    []byte
}

var crossContext = map[string]string{"byok": "multi-Region verify"}

func (r *runner) encryptIn(ctx context.Context, region, arn string) (*crossRegion, error) {
	c, err := r.client(ctx, region)
	if err != nil {
		return nil, err
	}
	msg := make([]byte, 32)
	rand.Read(msg)
	out, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(arn), Plaintext: msg, EncryptionContext: crossContext})
	if err != nil {
		return nil, fmt.Errorf("Encrypt in the primary %s: %w", region, err)
	}
	return &crossRegion{region: region, ct: out.CiphertextBlob, msg: msg}, nil
}

func (x *crossRegion) decryptsIn(ctx context.Context, c API, arn string) error {
	out, err := c.Decrypt(ctx, &kms.DecryptInput{KeyId: aws.String(arn), CiphertextBlob: x.ct, EncryptionContext: crossContext})
	if err != nil {
		return fmt.Errorf("Decrypt: %w", err)
	}
	if !bytes.Equal(out.Plaintext, x.msg) {
		return errors.New("Decrypt returned something else")
	}
	return nil
}
