package migrate

import (
	"context"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/byok-go/byok"
)

// DefaultPaths are the journal and audit log of a manifest when none is
// named: the manifest's path without .yaml, .yml or .json, with
// .journal.jsonl and .audit.jsonl.
func DefaultPaths(manifest string) (journal, audit string) {
	base := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(manifest, ".yaml"), ".yml"), ".json")
	return base + ".journal.jsonl", base + ".audit.jsonl"
}

// ScaledQuotas are the default quotas multiplied by scale (an account whose
// quotas are all raised alike), with raised ones replacing them.
func ScaledQuotas(scale float64, raised Quotas) Quotas {
	q := DefaultQuotas()
	for op := range q {
		q[op] *= scale
	}
	for op, v := range raised {
		q[op] = v
	}
	return q
}

// ClientsFrom makes Migration.Client from an AWS configuration the caller
// loaded: a KMS client per Region, at endpoint in every Region when it is
// set (an emulator).
func ClientsFrom(cfg aws.Config, endpoint string) func(context.Context, string) (API, error) {
	return func(_ context.Context, region string) (API, error) {
		return kms.NewFromConfig(cfg, func(o *kms.Options) {
			o.Region = region
			if endpoint != "" {
				o.BaseEndpoint = aws.String(endpoint)
			}
		}), nil
	}
}

// Verdicts counts the proofs' verdicts of a run, per key and Region.
type Verdicts map[byok.Verdict]int

// Add counts the verdicts of r's Regions.
func (v Verdicts) Add(r Result) {
	for _, rr := range r.Regions {
		if rr.Verdict != "" {
			v[rr.Verdict]++
		}
	}
}
