package migrate

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/byok-go/byok/internal/readfile"
)

// tags returns the tags of a key the migration creates.
func (r *runner) tags(j *job) []types.Tag {
	var out []types.Tag
	keys := make([]string, 0, len(j.k.Target.Tags))
	for k := range j.k.Target.Tags {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		out = append(out, types.Tag{TagKey: aws.String(k), TagValue: aws.String(j.k.Target.Tags[k])})
	}
	return append(out,
		types.Tag{TagKey: aws.String(TagMigration), TagValue: aws.String(r.m.Manifest.ID)},
		types.Tag{TagKey: aws.String(TagKeyName), TagValue: aws.String(j.k.Name)},
		types.Tag{TagKey: aws.String(TagFingerprint), TagValue: aws.String(j.info.Fingerprint)})
}

func (r *runner) description(j *job) string {
	if j.k.Target.Description != "" {
		return j.k.Target.Description
	}
	return fmt.Sprintf("imported by byok migration %s: %s (%s)", r.m.Manifest.ID, j.k.Name, j.info.Fingerprint)
}

func (r *runner) policy(j *job) (*string, error) {
	t := j.k.Target
	if t.PolicyFile != "" {
		b, err := readfile.ReadFile(t.PolicyFile, "key policy JSON file", readfile.Policy)
		if err != nil {
			return nil, fmt.Errorf("reading the key policy: %w", err)
		}
		return aws.String(string(b)), nil
	}
	if t.Policy != "" {
		return aws.String(t.Policy), nil
	}
	return nil, nil
}

// createKey creates the KMS key of j in region, or finds the one an earlier
// run created: by the journal, or by its tags when the run stopped between
// CreateKey and the journal entry.
func (r *runner) createKey(ctx context.Context, j *job, region string, multi bool) (string, error) {
	rs := j.rs(region)
	if rs.created && rs.arn != "" {
		j.plan = append(j.plan, "key "+rs.arn+" (created earlier)")
		return rs.arn, nil
	}
	if rs.createIntent {
		arn, err := r.findTagged(ctx, region, j, false)
		if err != nil {
			return "", err
		}
		if arn != "" {
			return arn, r.createdNote(j, region, arn, "found again by its tags after an interrupted run")
		}
	}
	if r.m.DryRun {
		kind := "single-Region"
		if multi {
			kind = "multi-Region primary"
		}
		j.plan = append(j.plan, fmt.Sprintf("create %s %s %s key in %s", kind, j.info.Spec, usageOf(j.info), region))
		return "", nil
	}
	c, err := r.client(ctx, region)
	if err != nil {
		return "", err
	}
	pol, err := r.policy(j)
	if err != nil {
		return "", err
	}
	in := &kms.CreateKeyInput{
		Origin:      types.OriginTypeExternal,
		KeySpec:     types.KeySpec(j.info.Spec),
		KeyUsage:    types.KeyUsageType(usageOf(j.info)),
		Description: aws.String(r.description(j)),
		Policy:      pol,
		Tags:        r.tags(j),
	}
	if multi {
		in.MultiRegion = aws.Bool(true)
	}
	if err := r.note(Entry{Key: j.k.Name, Region: region, Step: StepCreate, Phase: PhaseIntent}); err != nil {
		return "", err
	}
	rs.createIntent = true
	for attempt := 1; ; attempt++ {
		out, err := c.CreateKey(ctx, in)
		if err == nil {
			arn := aws.ToString(out.KeyMetadata.Arn)
			return arn, r.createdNote(j, region, arn, "")
		}
		if !isTransient(err) || attempt >= 4 {
			r.note(Entry{Key: j.k.Name, Region: region, Step: StepCreate, Phase: PhaseFailed, Error: err.Error()})
			return "", fmt.Errorf("CreateKey in %s: %w", region, err)
		}
		// KMS may or may not have created the key: look before trying again.
		arn, ferr := r.findTagged(ctx, region, j, true)
		if ferr != nil {
			return "", ferr
		}
		if arn != "" {
			return arn, r.createdNote(j, region, arn, "found by its tags after CreateKey failed: "+err.Error())
		}
	}
}

func (r *runner) createdNote(j *job, region, arn, detail string) error {
	r.mu.Lock()
	sc := r.scans[region]
	r.mu.Unlock()
	if sc != nil {
		sc.mu.Lock()
		sc.adopted[j.k.Name+"\x00"+j.info.Fingerprint] = arn
		sc.mu.Unlock()
	}
	rs := j.rs(region)
	rs.arn, rs.created = arn, true
	return r.note(Entry{Key: j.k.Name, Region: region, Step: StepCreate, Phase: PhaseDone, ARN: arn, Fingerprint: j.info.Fingerprint, Detail: detail})
}

// scan is what a search of one Region for keys tagged with this migration
// found: keys in PendingImport, by manifest key name and fingerprint; and
// the key each name ended up with in this run.
type scan struct {
	mu      sync.Mutex
	done    bool
	found   map[string][]string // key name NUL fingerprint -> ARNs
	adopted map[string]string   // key name NUL fingerprint -> the ARN it has
}

// orphans are keys found that are not the key their name has: a second
// key created for the same manifest key (by a crash, or by a journal lost).
func (s *scan) orphans() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for id, arns := range s.found {
		for _, a := range arns {
			if have := s.adopted[id]; have != "" && have != a {
				out = append(out, a)
			}
		}
	}
	return out
}

// findTagged looks in region for a key in PendingImport tagged with this
// migration, the job's key name and fingerprint. The Region is listed once
// per run (again when fresh is set).
func (r *runner) findTagged(ctx context.Context, region string, j *job, fresh bool) (string, error) {
	r.mu.Lock()
	s := r.scans[region]
	if s == nil {
		s = &scan{found: map[string][]string{}, adopted: map[string]string{}}
		r.scans[region] = s
	}
	r.mu.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.done || fresh {
		found, err := r.listTagged(ctx, region)
		if err != nil {
			return "", fmt.Errorf("looking in %s for keys this migration created: %w", region, err)
		}
		s.found, s.done = found, true
	}
	id := j.k.Name + "\x00" + j.info.Fingerprint
	if a := s.adopted[id]; a != "" {
		return a, nil
	}
	arns := s.found[id]
	if len(arns) == 0 {
		return "", nil
	}
	s.adopted[id] = arns[0]
	return arns[0], nil
}

// listTagged lists the Region's EXTERNAL keys in PendingImport tagged with
// this migration: ListKeys, DescribeKey, then ListResourceTags.
func (r *runner) listTagged(ctx context.Context, region string) (map[string][]string, error) {
	c, err := r.client(ctx, region)
	if err != nil {
		return nil, err
	}
	found := map[string][]string{}
	var marker *string
	for {
		out, err := c.ListKeys(ctx, &kms.ListKeysInput{Marker: marker, Limit: aws.Int32(1000)})
		if err != nil {
			return nil, err
		}
		for _, k := range out.Keys {
			d, err := c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: k.KeyId})
			if err != nil {
				var nf *types.NotFoundException
				if errors.As(err, &nf) {
					continue
				}
				return nil, err
			}
			md := d.KeyMetadata
			if md.Origin != types.OriginTypeExternal || md.KeyState != types.KeyStatePendingImport {
				continue
			}
			if md.MultiRegionConfiguration != nil && md.MultiRegionConfiguration.MultiRegionKeyType == types.MultiRegionKeyTypeReplica {
				continue
			}
			var name, fp, mig string
			var tm *string
			for {
				t, err := c.ListResourceTags(ctx, &kms.ListResourceTagsInput{KeyId: k.KeyId, Marker: tm})
				if err != nil {
					return nil, err
				}
				for _, tag := range t.Tags {
					switch aws.ToString(tag.TagKey) {
					case TagMigration:
						mig = aws.ToString(tag.TagValue)
					case TagKeyName:
						name = aws.ToString(tag.TagValue)
					case TagFingerprint:
						fp = aws.ToString(tag.TagValue)
					}
				}
				if !t.Truncated {
					break
				}
				tm = t.NextMarker
			}
			if mig == r.m.Manifest.ID && name != "" {
				k := name + "\x00" + fp
				found[k] = append(found[k], aws.ToString(md.Arn))
			}
		}
		if !out.Truncated {
			return found, nil
		}
		marker = out.NextMarker
	}
}

// alias creates the alias of j in region for arn.
func (r *runner) alias(ctx context.Context, j *job, region, arn string) error {
	name := j.k.Target.Alias
	rs := j.rs(region)
	if name == "" || rs.aliased {
		return nil
	}
	if r.m.DryRun {
		j.plan = append(j.plan, fmt.Sprintf("alias %s in %s", name, region))
		return nil
	}
	c, err := r.client(ctx, region)
	if err != nil {
		return err
	}
	if err := r.note(Entry{Key: j.k.Name, Region: region, Step: StepAlias, Phase: PhaseIntent, ARN: arn, Detail: name}); err != nil {
		return err
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, err = c.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String(name), TargetKeyId: aws.String(arn)})
		var nf *types.NotFoundException
		if (errors.As(err, &nf) || isTransient(err)) && time.Now().Before(deadline) {
			// Just created (KMS is eventually consistent), or the answer
			// was lost: try again; AlreadyExists then tells.
			if err := r.clock.Sleep(ctx, 500*time.Millisecond); err != nil {
				return err
			}
			continue
		}
		break
	}
	var exists *types.AlreadyExistsException
	if errors.As(err, &exists) {
		ok, lerr := aliasPointsTo(ctx, c, name, arn)
		if lerr != nil {
			return fmt.Errorf("CreateAlias %s in %s: %w; listing aliases: %v", name, region, err, lerr)
		}
		if ok {
			err = nil
		} else {
			err = fmt.Errorf("the alias %s already exists in %s for another key; choose another alias", name, region)
		}
	}
	if err != nil {
		r.note(Entry{Key: j.k.Name, Region: region, Step: StepAlias, Phase: PhaseFailed, ARN: arn, Error: err.Error()})
		return fmt.Errorf("CreateAlias %s in %s: %w", name, region, err)
	}
	rs.aliased = true
	return r.note(Entry{Key: j.k.Name, Region: region, Step: StepAlias, Phase: PhaseDone, ARN: arn, Detail: name})
}

func aliasPointsTo(ctx context.Context, c API, name, arn string) (bool, error) {
	id := arn[strings.LastIndex(arn, "/")+1:]
	var marker *string
	for {
		out, err := c.ListAliases(ctx, &kms.ListAliasesInput{KeyId: aws.String(arn), Marker: marker})
		if err != nil {
			return false, err
		}
		for _, a := range out.Aliases {
			if aws.ToString(a.AliasName) == name && aws.ToString(a.TargetKeyId) == id {
				return true, nil
			}
		}
		if !out.Truncated {
			return false, nil
		}
		marker = out.NextMarker
	}
}
