package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/byok-go/byok/migrate"
)

// exitAttention is byok status's exit code when some key needs attention
// (error kind "attention").
const exitAttention = 5

// errAttention marks byok status's finding that some key needs attention.
var errAttention = errors.New("attention")

const statusUsage = `Usage: byok status MANIFEST [flags]

Shows where every key of a migration stands, in every Region: its KMS key,
its state, when its imported key material expires (ValidTo) and the time
left, the last PASSED proof (from the audit log), and whether the source
still opens as the key recorded at import (its fingerprint). Keys with
targets in Google Cloud KMS or Azure Key Vault get a row per target too,
with the state of the imported version there. It changes nothing. Run it
from cron or a CI schedule: the exit status says whether anything needs
attention.

A key needs attention when its material expires within --warn-within, when
it is PendingImport (expired or shredded: ciphertexts under it are unusable
until the same material is imported again), when it is scheduled for
deletion, when a target in another cloud is neither enabled nor disabled,
when its source no longer opens or is another key, when it was not
migrated, or when it could not be checked.

Examples:
  byok status fleet.yaml
  byok status fleet.yaml --warn-within 45d --json
  byok status fleet.yaml --skip-source        # no PINs: KMS and the audit log only

Exit status: 0 every key is fine; 5 some key needs attention (the table
says which and why); 1 the status could not be taken (the audit log and the
journal are both unreadable, no AWS configuration); 2 the command line or the
manifest is wrong, or the manifest cannot be read.`

// statusOut is the JSON of byok status.
type statusOut struct {
	// OK is false exactly when Error is set: some key needs attention.
	OK                bool                `json:"ok"`
	Error             *errorOut           `json:"error,omitempty"`
	Migration         string              `json:"migration"`
	CheckedAt         time.Time           `json:"checked_at"`
	WarnWithinSeconds int64               `json:"warn_within_seconds"`
	Keys              []migrate.KeyStatus `json:"keys"`
	AttentionCount    int                 `json:"attention_count"`
}

func runStatus(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("status", statusUsage, stderr)
	audit := fs.String("audit", "", "the migration's audit log (default: MANIFEST's name with .audit.jsonl)")
	journal := fs.String("journal", "", "the migration's journal, read for KMS keys the audit log lacks (default: MANIFEST's name with .journal.jsonl)")
	warn := fs.String("warn-within", "30d", "alert when key material expires within `SPAN` (30d, 36h)")
	skip := fs.Bool("skip-source", false, "do not open the sources (no PINs needed); their check is not-checked")
	jsonOut := fs.Bool("json", false, "print the status as JSON on stdout")
	profile := fs.String("profile", "", "named profile from ~/.aws/config (default: AWS_PROFILE)")
	endpoint := fs.String("endpoint-url", "", "KMS endpoint `URL` for every Region, e.g. byok emulator's (default: AWS_ENDPOINT_URL_KMS)")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	switch {
	case len(pos) == 0:
		return fmt.Errorf("%w: no manifest: byok status MANIFEST", errUsage)
	case len(pos) > 1:
		return fmt.Errorf("%w: one manifest at a time; unexpected argument %q", errUsage, pos[1])
	}
	within, err := nonNegativeSpan("--warn-within", *warn)
	if err != nil {
		return err
	}
	m, err := openManifestFlag(pos[0])
	if err != nil {
		return err
	}
	if err := checkCloudEnv(m); err != nil {
		return err
	}
	if *audit == "" {
		*audit = manifestBase(pos[0]) + ".audit.jsonl"
	}
	if *journal == "" {
		*journal = manifestBase(pos[0]) + ".journal.jsonl"
	}
	client, err := fleetClient(ctx, *profile, *endpoint)
	if err != nil {
		return err
	}
	now := time.Now()
	rows, err := migrate.Status(ctx, migrate.StatusQuery{Manifest: m, Client: client, AuditLog: *audit, Journal: *journal, WarnWithin: within,
		SkipSource: *skip, Now: func() time.Time { return now }, Targets: cloudTargets})
	if err != nil {
		return missingTarget(err)
	}
	n := 0
	for _, r := range rows {
		if len(r.Attention) > 0 {
			n++
		}
	}
	// Rows are KMS keys, or targets when some are in another cloud.
	noun := "KMS key"
	for _, r := range rows {
		if r.Target != "" && r.Target != migrate.KindAWS {
			noun = "target"
		}
	}
	var attention error
	if n > 0 {
		attention = fmt.Errorf("%w: %s of %d need attention", errAttention, plural(n, noun), len(rows))
	}
	if *jsonOut {
		doc := statusOut{OK: n == 0, Error: newErrorOut(attention, "", nil), Migration: m.ID, CheckedAt: now.UTC().Truncate(time.Second),
			WarnWithinSeconds: int64(within / time.Second), Keys: rows, AttentionCount: n}
		if err := writeJSON(stdout, doc); err != nil {
			return err
		}
	} else {
		printStatus(stdout, m.ID, rows, now)
		if n > 0 {
			notMigrated := 0
			for _, r := range rows {
				if r.State == migrate.StateNotMigrated {
					notMigrated++
				}
			}
			fmt.Fprintf(stdout, "\n%s of %d need attention\n", plural(n, noun), len(rows))
			if notMigrated > 0 {
				fmt.Fprintf(stdout, "%s not migrated yet; migrate first:\n  byok migrate %s\n", plural(notMigrated, "key"), pos[0])
			}
			// Renewal is for AWS KMS's keys only (byok migrate
			// --renew-within leaves the other clouds' targets alone).
			aws, other := 0, 0
			for _, r := range rows {
				switch {
				case len(r.Attention) == 0 || r.State == migrate.StateNotMigrated:
				case r.Target == "" || r.Target == migrate.KindAWS:
					aws++
				default:
					other++
				}
			}
			if aws > 0 {
				fmt.Fprintf(stdout, "to renew (and restore PendingImport keys):\n  byok migrate %s --renew-within %s\n", pos[0], migrate.FormatSpan(within))
			}
			if other > 0 {
				fmt.Fprint(stdout, wrapLines(fmt.Sprintf("%s in Google Cloud KMS or Azure Key Vault: see the reasons under each row "+
					"(a renewal leaves them alone: it is for AWS KMS's expiring key material)", plural(other, "target")), "", "  ", lineWidth))
			}
		} else {
			fmt.Fprintf(stdout, "\nall %d %ss are fine (none expires within %s)\n", len(rows), noun, migrate.FormatSpan(within))
		}
	}
	return attention
}

// printStatus writes the status table: one line per key and Region (under
// 100 columns), the KMS key's ARN and any reasons for attention under it.
func printStatus(w io.Writer, id string, rows []migrate.KeyStatus, now time.Time) {
	fmt.Fprintf(w, "migration %s, %s\n", id, now.UTC().Format(time.RFC3339))
	fmt.Fprintf(w, "%-24s %-14s %-17s %-10s %6s %-10s %s\n", "KEY", "REGION", "STATE", "VALID TO", "LEFT", "PROVEN", "SOURCE")
	for _, r := range rows {
		state := r.State
		if state == "" {
			state = "unknown"
		}
		validTo, left := "never", "-"
		switch r.ExpirationModel {
		case "":
			validTo = "-"
		case "KEY_MATERIAL_EXPIRES":
			validTo = "expired" // expires, yet KMS gives no ValidTo: the material is gone
		}
		if r.ValidTo != nil {
			validTo = r.ValidTo.Format(time.DateOnly)
			d, _ := r.TimeLeft()
			left = shortSpan(d)
		}
		proven := "never"
		if r.LastProof != nil {
			proven = r.LastProof.Format(time.DateOnly)
		}
		if r.LastVerdict != "" && r.LastVerdict != "PASSED" {
			proven = string(r.LastVerdict)
		}
		where := r.Region
		if r.Target != "" && r.Target != migrate.KindAWS {
			where = r.Target // the cloud's key name follows on its own line
		}
		// STATE fits every state of AWS KMS's that needs attention and
		// Cloud KMS's DESTROY_SCHEDULED; a longer one is written whole
		// under the row, as a long key name is.
		fmt.Fprintf(w, "%-24s %-14s %-17s %-10s %6s %-10s %s\n", clip(r.Key, 24), clip(where, 14), clip(state, 17), validTo, left, proven, r.Source)
		if len(r.Key) > 24 {
			fmt.Fprintf(w, "  key %s\n", r.Key) // the name in full
		}
		if len(state) > 17 {
			fmt.Fprintf(w, "  state %s\n", state)
		}
		if r.KeyARN != "" {
			fmt.Fprintf(w, "  %s\n", r.KeyARN)
		}
		if r.KeyName != "" {
			for _, l := range splitPath(r.KeyName, lineWidth-4) {
				fmt.Fprintf(w, "  %s\n", l)
			}
		}
		if r.Version != "" {
			// The version imported, whose state STATE is.
			for _, l := range splitPath("version "+strings.TrimPrefix(strings.TrimPrefix(r.Version, r.KeyName), "/"), lineWidth-4) {
				fmt.Fprintf(w, "  %s\n", l)
			}
		}
		for _, a := range r.Attention {
			var b strings.Builder
			writeWrapped(&b, "  ! ", a)
			fmt.Fprintln(w, strings.TrimPrefix(b.String(), "\n"))
		}
	}
}

// shortSpan writes a time left in days (or hours under two days).
func shortSpan(d time.Duration) string {
	switch {
	case d <= 0:
		return "past"
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", d/time.Hour)
	default:
		return fmt.Sprintf("%dd", d/(24*time.Hour))
	}
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-1] + "…"
}

// manifestBase is the manifest's path without .yaml, .yml or .json: the
// default journal and audit log are named after it.
func manifestBase(p string) string {
	return strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(p, ".yaml"), ".yml"), ".json")
}

// openManifestFlag opens a manifest. Any manifest that cannot be used
// (missing, not a regular file, over its cap, or with mistakes) is the
// input's fault: a usage error (exit 2), as for byok migrate.
func openManifestFlag(p string) (*migrate.Manifest, error) {
	m, err := migrate.OpenManifest(p)
	if err != nil {
		var me *migrate.ManifestError
		if errors.As(err, &me) {
			return nil, fmt.Errorf("%w: the manifest has mistakes:\n%v", errUsage, err)
		}
		return nil, fmt.Errorf("%w: %w", errUsage, err)
	}
	return m, nil
}

// fleetClient returns KMS clients by Region from the AWS configuration.
func fleetClient(ctx context.Context, profile, endpoint string) (func(context.Context, string) (migrate.API, error), error) {
	if endpoint != "" {
		u, err := url.Parse(endpoint)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return nil, fmt.Errorf("%w: --endpoint-url %q: want a URL such as http://127.0.0.1:8555", errUsage, endpoint)
		}
	}
	var opts []func(*config.LoadOptions) error
	if profile != "" {
		opts = append(opts, config.WithSharedConfigProfile(profile))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("loading the AWS configuration: %w\n  what to do: check --profile / AWS_PROFILE and ~/.aws/config", err)
	}
	return func(_ context.Context, region string) (migrate.API, error) {
		return kms.NewFromConfig(cfg, func(o *kms.Options) {
			o.Region = region
			if endpoint != "" {
				o.BaseEndpoint = aws.String(endpoint)
			}
		}), nil
	}, nil
}

// splitPath cuts a long resource name (a Cloud KMS key's, a Key Vault
// key's URL) into lines of at most n characters, after a '/' where it can,
// so that a table keeps within its width and the name stays whole.
func splitPath(s string, n int) []string {
	var out []string
	for len(s) > n {
		cut := strings.LastIndex(s[:n], "/") + 1
		if cut <= 1 {
			cut = n
		}
		out = append(out, s[:cut])
		s = "  " + s[cut:]
	}
	return append(out, s)
}
