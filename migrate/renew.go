package migrate

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
)

// Outcomes of a renewal (Migration.Renew).
const (
	// OutcomeRenewed: the key material was imported again, with a new
	// ValidTo (or restored from PendingImport), and proven, in every
	// Region where it was due.
	OutcomeRenewed Outcome = "renewed"
	// OutcomeNotDue: no Region of the key was due for renewal.
	OutcomeNotDue Outcome = "not-due"
)

// renewedFromPending is the StepRenew detail of a Region whose key was
// PendingImport before the renewal.
const renewedFromPending = "PendingImport"

// startRenewal picks the renewal round: the journal's last one if it did
// not complete (a run was killed or interrupted), else a new one.
func (r *runner) startRenewal() string {
	rp := r.replay
	if rp.renewal != "" && !rp.renewClosed {
		r.renewal = rp.renewal
		return fmt.Sprintf("renewal within %s: resume round %s after %d journal entries", fmtSpan(r.m.RenewWithin), r.renewal, rp.lines)
	}
	r.renewal, rp.renew = r.runID, map[string]*keyState{}
	return fmt.Sprintf("renewal within %s: round %s", fmtSpan(r.m.RenewWithin), r.renewal)
}

// renewKey renews one key of the manifest in every Region where its
// material is due: it expires within Migration.RenewWithin, or has
// expired (PendingImport). Importing the same material again into a key
// that holds it sets a new ValidTo; into a PendingImport key it restores
// the key
// (https://docs.aws.amazon.com/kms/latest/APIReference/API_ImportKeyMaterial.html).
func (r *runner) renewKey(ctx context.Context, k Key) (res Result) {
	res = Result{Key: k.Name, Line: k.Line}
	orig := r.replay.keys[k.Name]
	if orig == nil || !orig.finished {
		res.Outcome, res.Err = OutcomeFailed, errors.New("not migrated yet (the journal does not say it finished): run byok migrate without --renew-within first")
		return res
	}
	// startRenewal made r.replay.renew; one goroutine per key: this
	// key's state is ours alone, the map is shared.
	r.mu.Lock()
	st := key(r.replay.renew, k.Name)
	r.mu.Unlock()
	if st.finished {
		res.Outcome = OutcomeAlreadyDone
		return res
	}
	j := &job{k: k, st: st, started: time.Now()}
	defer func() {
		res.Elapsed = time.Since(j.started)
		res.Regions = j.results
		if ctx.Err() != nil && res.Err != nil {
			res.Outcome = ""
			return
		}
		if res.Err != nil {
			res.Outcome = OutcomeFailed
			r.note(Entry{Key: k.Name, Step: StepKey, Phase: PhaseFailed, Error: res.Err.Error()})
			if len(j.records) == 0 {
				// Failed before any Region's renewal (the source did not
				// open or changed): one record still says so.
				r.record(j, "", "", "renewal")
			}
		}
		for _, rec := range j.records {
			if res.Err != nil && !rec.Verified {
				rec.Outcome, rec.Error = OutcomeFailed, res.Err.Error()
			}
			rec.Finished = time.Now().UTC()
			if err := r.audit.write(rec); err != nil {
				r.log.Warn("migrate: writing the audit log", "err", err)
			}
		}
	}()

	// Which Regions are due, and what each held before.
	type due struct {
		region, arn, before string
	}
	var todo []due
	now := time.Now()
	for _, region := range slices.Sorted(mapKeys(orig.arns)) {
		if isCloudUnit(region) {
			// Renewal is AWS KMS's: material imported into Cloud KMS or
			// Key Vault has no ValidTo to move.
			r.mu.Lock()
			r.notRenewed++
			r.mu.Unlock()
			continue
		}
		arn := orig.arns[region]
		rs := j.rs(region)
		if rs.verified {
			continue // renewed and proven earlier in this round
		}
		c, err := r.client(ctx, region)
		if err != nil {
			res.Err = err
			return res
		}
		d, err := c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(arn)})
		if err != nil {
			res.Err = fmt.Errorf("DescribeKey %s in %s: %w", arn, region, err)
			return res
		}
		md := d.KeyMetadata
		before := renewedFromPending
		if md.KeyState != types.KeyStatePendingImport {
			before = "none"
			if md.ValidTo != nil {
				before = md.ValidTo.UTC().Format(time.RFC3339Nano)
			}
		}
		switch {
		case rs.importIntent || rs.imported:
			// Resumed: this round started on it; rs.renewFrom is what
			// the key held before.
			todo = append(todo, due{region, arn, rs.renewFrom})
		case md.KeyState == types.KeyStatePendingImport,
			md.ExpirationModel == types.ExpirationModelTypeKeyMaterialExpires && md.ValidTo != nil && md.ValidTo.Sub(now) <= r.m.RenewWithin:
			todo = append(todo, due{region, arn, before})
		}
	}
	if len(todo) == 0 {
		res.Outcome = OutcomeNotDue
		return res
	}
	if vt := k.Target.ValidTo; !vt.IsZero() && vt.Sub(now) <= r.m.RenewWithin {
		// Renewed, it would be due again at once.
		res.Err = fmt.Errorf("its valid_to (%s) is itself within the renewal window (%s): set valid_to further ahead in the manifest, e.g. +365d", vt.UTC().Format(time.RFC3339), fmtSpan(r.m.RenewWithin))
		return res
	}
	if r.m.DryRun {
		for _, d := range todo {
			what := "renew"
			if d.before == renewedFromPending {
				what = "restore (PendingImport)"
			}
			j.plan = append(j.plan, what+" "+d.arn)
		}
		res.Outcome, res.Plan = OutcomePlanned, strings.Join(j.plan, "; ")
		return res
	}
	// The source must still be the key imported.
	if st.fingerprint == "" {
		st.fingerprint = orig.fingerprint
	}
	if err := r.open(ctx, j); err != nil {
		res.Err = err
		return res
	}
	defer j.closeSource()
	for _, d := range todo {
		if err := r.renewRegion(ctx, j, d.region, d.arn, d.before); err != nil {
			res.Err = err
			return res
		}
	}
	if err := r.note(Entry{Key: k.Name, Step: StepKey, Phase: PhaseDone, Fingerprint: j.info.Fingerprint}); err != nil {
		res.Err = err
		return res
	}
	res.Outcome = OutcomeRenewed
	return res
}

// renewRegion imports j's material again into arn (which held before:
// its old ValidTo, "none" or PendingImport) and proves it.
func (r *runner) renewRegion(ctx context.Context, j *job, region, arn, before string) error {
	rs := j.rs(region)
	rec := r.record(j, region, arn, "renewal")
	rec.Outcome = OutcomeRenewed
	if !rs.importIntent && !rs.imported {
		if err := r.note(Entry{Key: j.k.Name, Region: region, Step: StepRenew, Phase: PhaseIntent, ARN: arn, Detail: before}); err != nil {
			return err
		}
		rs.renewFrom = before
	}
	c, err := r.client(ctx, region)
	if err != nil {
		return err
	}
	// Whether the import happened though its answer (or journal entry)
	// was lost: the key holds material again, with another ValidTo.
	renewed := func(ctx context.Context) (bool, string, error) {
		d, err := c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(arn)})
		if err != nil {
			return false, "", fmt.Errorf("DescribeKey %s: %w", arn, err)
		}
		md := d.KeyMetadata
		if md.KeyState == types.KeyStatePendingImport {
			return false, "", nil
		}
		now := "none"
		if md.ValidTo != nil {
			now = md.ValidTo.UTC().Format(time.RFC3339Nano)
		}
		return before == renewedFromPending || now != before, aws.ToString(md.CurrentKeyMaterialId), nil
	}
	imp, err := r.importInto(ctx, j, region, arn, importOpts{role: "the existing", renewed: renewed})
	if err != nil {
		return err
	}
	return r.verify(ctx, j, region, arn, imp, rec, nil)
}
