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
	for op, v := range DefaultCloudQuotas() {
		q[op] = v
	}
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

// Verdicts counts the proofs' verdicts of a run, per key and Region (and
// target outside AWS).
type Verdicts map[byok.Verdict]int

// Add counts the verdicts of r's Regions.
func (v Verdicts) Add(r Result) {
	for _, rr := range r.Regions {
		if rr.Verdict != "" {
			v[rr.Verdict]++
		}
	}
}

// DefaultCloudQuotas returns the default request quotas of the clouds
// outside AWS, in requests per second per quota scope (CloudSpec.Scope),
// by quota name KIND:CLASS. A migration paces each call of a CloudTarget
// by the quota its requests count against, taking as many tokens as the
// requests the call makes (cloudCosts); raise them like AWS's
// (Migration.Quotas, byok migrate --quota gcp:write=20).
//
// Google Cloud KMS (https://cloud.google.com/kms/quotas): read requests
// (cloudkms.googleapis.com/read_requests: cryptoKeys and cryptoKeyVersions
// get and list) 300 per minute per calling project; write requests
// (create, patch, import: cloudkms.googleapis.com/write_requests) are taken
// at the same 300 per minute (the figure byok's authors could read for
// write requests was not on the page as fetched: raise or lower it with
// --quota gcp:write=N); cryptographic requests (getPublicKey,
// asymmetricSign, macSign, encrypt, decrypt) 60 000 per minute. The page
// says the console lists per-minute limits, enforced per second, and that
// a request over quota gets RESOURCE_EXHAUSTED; since 16 February 2026
// they are counted per region, which is why the scope is the project and
// location.
//
// Azure Key Vault
// (https://learn.microsoft.com/en-us/azure/key-vault/general/service-limits,
// throttling: https://learn.microsoft.com/en-us/azure/key-vault/general/overview-throttling):
// per vault and region, HSM-protected keys (what BYOK imports) allow 10
// CREATE key transactions in 10 seconds (an import creates a key), and
// for RSA 4 096-bit HSM keys 250 other transactions in 10 seconds (2 000
// for RSA 2 048 and EC keys; the key-exchange key is RSA, so the most
// restrictive row is taken); a request over the limit gets HTTP 429.
// Managed HSM pools have limits of their own, higher; the vault's are used
// for both unless raised.
func DefaultCloudQuotas() Quotas {
	return Quotas{
		"gcp:read":     300.0 / 60,
		"gcp:write":    300.0 / 60,
		"gcp:crypto":   60000.0 / 60,
		"azure:create": 10.0 / 10,
		"azure:other":  250.0 / 10,
	}
}

// cost is what one call of a CloudTarget counts against: a quota and the
// number of requests.
type cost struct {
	op string
	n  int
}

// cloudCosts are the requests each CloudTarget call makes, by kind: the
// targets' documented flows (Cloud KMS: Prepare creates the CryptoKey and
// an import job, Import calls ImportCryptoKeyVersion, the proof uses
// getPublicKey and asymmetricSign or macSign and a few reads; Key Vault:
// Prepare reads the key-exchange key, Import creates the key, the proof
// reads and uses it). A target's polling and retries inside a call are
// not seen; a throttle still slows the quota down (ThrottleClassifier).
var cloudCosts = map[string]map[string]cost{
	KindGCP: {
		"Prepare":  {"gcp:write", 2},
		"Import":   {"gcp:write", 1},
		"Verify":   {"gcp:crypto", 4},
		"KeyState": {"gcp:read", 1},
	},
	KindAzure: {
		"Prepare":  {"azure:other", 1},
		"Import":   {"azure:create", 1},
		"Verify":   {"azure:other", 4},
		"KeyState": {"azure:other", 1},
	},
}

// costOf returns what a call of method of a target of kind costs; an
// unknown kind or method is paced as one request of KIND:other.
func costOf(kind, method string) cost {
	if c, ok := cloudCosts[kind][method]; ok {
		return c
	}
	return cost{kind + ":other", 1}
}
