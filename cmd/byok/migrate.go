package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/byok-go/byok"
	"github.com/byok-go/byok/migrate"
	"golang.org/x/term"
)

const migrateUsage = `Usage: byok migrate MANIFEST [flags]

Moves every key a manifest lists (YAML or JSON; see docs/migrate.md) into
AWS KMS: creates the KMS keys (single-Region, or multi-Region primaries with
their replicas), imports the key material into each with its own import
parameters, proves each import, and rotates imported symmetric keys when
asked. Requests are paced per operation and Region from AWS's default
quotas (GetParametersForImport: 1 per second per Region), and slow down on
ThrottlingException; raise them with --quota for an account whose quotas
were raised.

A key's targets list may name a Google Cloud KMS key ring (gcp) and an
Azure Key Vault (azure) beside its AWS Regions: the one source key goes into
each, paced by that cloud's quotas (gcp:read, gcp:write, gcp:crypto,
azure:create, azure:other; raise them with --quota too), journaled, proven
and audited per target.

Every step is journaled (JSON lines, fsynced) before and after it is done:
a run that is stopped — Ctrl-C, kill -9, a crash — is resumed by running
the same command again. Keys created but not yet imported are found again
(by the journal, and by their byok:source-fingerprint tag) and never
created twice. The audit log records each key's source, fingerprint, KMS
ARN, algorithm, KeyMaterialId and verification, and nothing secret.

PINs and passphrases are never in the manifest: it names an environment
variable (pin_env) or a file (pin_file).

Examples:
  byok migrate fleet.yaml --dry-run
  byok migrate fleet.yaml
  byok migrate fleet.yaml --journal /var/lib/byok/fleet.journal \
    --audit /var/log/byok/fleet.audit.jsonl
  byok migrate fleet.yaml --quota GetParametersForImport=20 --quota CreateKey=100
  byok migrate fleet.yaml --endpoint-url http://127.0.0.1:8555   # against byok emulator

Renewal: with --renew-within SPAN, byok migrate renews instead: in every
Region of every key it migrated, key material that expires within SPAN, or
has expired (the key is PendingImport), is imported again from the same
source with the manifest's valid_to (+365d counts from the renewal), and
proven. It is journaled and resumed like the migration, each key renewed
once. One key: byok import --key-id ARN SOURCE --valid-to +365d.
  byok migrate fleet.yaml --renew-within 30d     # e.g. daily from cron
  byok migrate fleet.yaml --renew-within 0d      # restore PendingImport keys only

Exit status: 0 every key is migrated; 1 some key failed (the summary names
each and why) or the run was interrupted (run it again to resume); 2 the
command line or the manifest is wrong.`

// quotaFlag is a repeatable OPERATION=RATE flag.
type quotaFlag migrate.Quotas

func (q *quotaFlag) String() string {
	var s []string
	for k, v := range *q {
		s = append(s, fmt.Sprintf("%s=%g", k, v))
	}
	sort.Strings(s)
	return strings.Join(s, ",")
}

func (q *quotaFlag) Set(s string) error {
	op, rate, ok := strings.Cut(s, "=")
	if !ok || op == "" {
		return fmt.Errorf("want OPERATION=RATE, e.g. GetParametersForImport=20; got %q", s)
	}
	known := migrate.DefaultQuotas()
	for k, v := range migrate.DefaultCloudQuotas() {
		known[k] = v
	}
	if _, ok := known[op]; !ok {
		var ops []string
		for k := range known {
			ops = append(ops, k)
		}
		sort.Strings(ops)
		return fmt.Errorf("%s is not an operation with a quota; want one of %s", op, strings.Join(ops, ", "))
	}
	v, err := strconv.ParseFloat(rate, 64)
	if err != nil || v <= 0 {
		return fmt.Errorf("%s: want a positive number of requests per second, got %q", op, rate)
	}
	if *q == nil {
		*q = quotaFlag{}
	}
	(*q)[op] = v
	return nil
}

func runMigrate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("migrate", migrateUsage, stderr)
	journal := fs.String("journal", "", "the journal file (default: MANIFEST's name with .journal.jsonl); resumed from when it exists")
	audit := fs.String("audit", "", "the audit log, appended to (default: MANIFEST's name with .audit.jsonl; - for stdout)")
	dryRun := fs.Bool("dry-run", false, "open every source, plan every key and report; change nothing in KMS")
	renew := fs.String("renew-within", "", "renew instead of migrate: import the same key material again, with the manifest's valid_to, into every key whose material expires within `SPAN` (30d) or has expired (PendingImport), in every Region, and prove it")
	var quotas quotaFlag
	fs.Var(&quotas, "quota", "a raised request quota, OPERATION=RATE per second per Region (repeatable), e.g. GetParametersForImport=20")
	scale := fs.Float64("quota-scale", 1, "multiply every default quota by this (e.g. 20 for an account with every quota raised 20×)")
	headroom := fs.Float64("headroom", 0.98, "aim at this fraction of each quota, so that jitter does not turn into throttling")
	conc := fs.Int("concurrency", 0, fmt.Sprintf("keys in progress at once (default %d, or twice --region-concurrency if more)", migrate.DefaultConcurrency))
	regionConc := fs.Int("region-concurrency", 0, fmt.Sprintf("keys in progress at once per Region (default %d, or twice the GetParametersForImport quota if more)", migrate.DefaultRegionConcurrency))
	sessions := fs.Int("hsm-sessions", migrate.DefaultHSMSessions, "keys open at once per HSM token")
	prog := fs.String("progress", "auto", "progress display on stderr: auto (a bar on a terminal, a line every 10 s otherwise), bar, lines or none")
	jsonOut := fs.Bool("json", false, "print the summary as JSON on stdout")
	profile := fs.String("profile", "", "named profile from ~/.aws/config (default: AWS_PROFILE)")
	endpoint := fs.String("endpoint-url", "", "KMS endpoint `URL` for every Region, e.g. byok emulator's (default: AWS_ENDPOINT_URL_KMS, or each Region's endpoint)")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	switch {
	case len(pos) == 0:
		return fmt.Errorf("%w: no manifest: byok migrate MANIFEST", errUsage)
	case len(pos) > 1:
		return fmt.Errorf("%w: one manifest at a time; unexpected argument %q", errUsage, pos[1])
	case *scale <= 0:
		return fmt.Errorf("%w: --quota-scale must be positive", errUsage)
	case *headroom <= 0 || *headroom > 1:
		return fmt.Errorf("%w: --headroom must be in (0, 1]", errUsage)
	case *conc < 0 || *regionConc < 0 || *sessions < 1:
		return fmt.Errorf("%w: --concurrency and --region-concurrency must not be negative, --hsm-sessions at least 1", errUsage)
	}
	var renewWithin time.Duration
	if *renew != "" {
		if renewWithin, err = nonNegativeSpan("--renew-within", *renew); err != nil {
			return err
		}
	}
	if *endpoint != "" {
		u, err := url.Parse(*endpoint)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return fmt.Errorf("%w: --endpoint-url %q: want a URL such as http://127.0.0.1:8555", errUsage, *endpoint)
		}
	}
	if *jsonOut && *audit == "-" {
		return fmt.Errorf("%w: --audit - and --json both write to stdout; give the audit log a file", errUsage)
	}
	var tty bool
	switch *prog {
	case "auto":
		f, ok := stderr.(*os.File)
		tty = ok && term.IsTerminal(int(f.Fd()))
	case "bar":
		tty = true
	case "lines", "none":
	default:
		return fmt.Errorf("%w: --progress %q: want auto, bar, lines or none", errUsage, *prog)
	}

	m, err := migrate.OpenManifest(pos[0])
	if err != nil {
		// Any manifest that cannot be used (missing, not a regular file,
		// over its cap, or with mistakes) is the input's fault: exit 2,
		// as --help says, like a mistake in a field.
		var me *migrate.ManifestError
		if errors.As(err, &me) {
			return fmt.Errorf("%w: the manifest has mistakes:\n%v", errUsage, err)
		}
		return fmt.Errorf("%w: %w", errUsage, err)
	}
	if err := checkCloudEnv(m); err != nil {
		return err
	}
	defJournal, defAudit := migrate.DefaultPaths(pos[0])
	if *journal == "" {
		*journal = defJournal
	}
	if *audit == "" {
		*audit = defAudit
	}
	var opts []func(*config.LoadOptions) error
	if *profile != "" {
		opts = append(opts, config.WithSharedConfigProfile(*profile))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return fmt.Errorf("loading the AWS configuration: %w\n  what to do: check --profile / AWS_PROFILE and ~/.aws/config", err)
	}
	mig := &migrate.Migration{
		Manifest:          m,
		Targets:           cloudTargets,
		Client:            migrate.ClientsFrom(cfg, *endpoint),
		Journal:           *journal,
		Quotas:            migrate.ScaledQuotas(*scale, migrate.Quotas(quotas)),
		Headroom:          *headroom,
		Concurrency:       *conc,
		RegionConcurrency: *regionConc,
		HSMSessions:       *sessions,
		DryRun:            *dryRun,
		Renew:             *renew != "",
		RenewWithin:       renewWithin,
	}
	var bar *progressBar
	if *prog != "none" {
		bar = newProgressBar(stderr, tty, m.Len, 0)
		mig.OnProgress = bar.update
	}
	// verdicts counts the proofs' outcomes, per key and Region.
	verdicts := migrate.Verdicts{}
	// results collects every key's result for --json (which prints no
	// line per key).
	results := []migrate.Result{}
	if *dryRun {
		mig.Journal = *journal // read, if it exists, to plan only what is left
		mig.OnResult = func(r migrate.Result) {
			if *jsonOut {
				results = append(results, r)
				return
			}
			if r.Outcome == migrate.OutcomePlanned {
				fmt.Fprint(stdout, wrapLines(fmt.Sprintf("%s (line %d): %s", r.Key, r.Line, r.Plan), "", "    ", lineWidth))
			}
		}
	} else {
		var w io.Writer = stdout
		if *audit != "-" {
			f, err := os.OpenFile(*audit, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
			if err != nil {
				return fmt.Errorf("opening the audit log: %w", err)
			}
			defer f.Close()
			w = f
		}
		mig.Audit = w
		mig.OnResult = func(r migrate.Result) {
			if *jsonOut {
				results = append(results, r)
			}
			verdicts.Add(r)
			if r.Outcome == migrate.OutcomeFailed {
				if tty {
					fmt.Fprintln(stderr)
				}
				// One line, as the other errors on stderr: the summary
				// on stdout lists it again, wrapped.
				fmt.Fprintf(stderr, "FAILED %s (line %d): %v\n", r.Key, r.Line, r.Err)
			}
		}
	}
	sum, runErr := mig.Run(ctx)
	if bar != nil {
		bar.close()
	}
	if sum == nil {
		return missingTarget(runErr)
	}
	if *jsonOut {
		doc := migrateOutput{OK: runErr == nil, DryRun: *dryRun, Journal: *journal, Audit: *audit, Summary: sum, Results: results,
			Proofs: proofCounts{verdicts[byok.VerdictPassed], verdicts[byok.VerdictFailed], verdicts[byok.VerdictUnproven]},
			Error:  newErrorOut(runErr, "", nil)}
		if err := writeJSON(stdout, doc); err != nil {
			return err
		}
	} else {
		printMigrateSummary(stdout, sum, *journal, *audit, *dryRun)
		if mig.Renew {
			fmt.Fprintf(stdout, "  renewal within %s: renewed %d, not due %d\n", *renew, sum.Renewed, sum.NotDue)
			if sum.NotRenewed > 0 {
				fmt.Fprintf(stdout, "  %s in Google Cloud KMS or Azure Key Vault left alone: renewal is for AWS KMS's expiring material\n", plural(sum.NotRenewed, "target"))
			}
		}
		if !*dryRun {
			fmt.Fprintf(stdout, "  proofs: %d PASSED, %d FAILED, %d UNPROVEN; every check, by name, is in the audit log\n",
				verdicts[byok.VerdictPassed], verdicts[byok.VerdictFailed], verdicts[byok.VerdictUnproven])
		}
	}
	return runErr
}

// migrateOutput is what `byok migrate --json` prints.
type migrateOutput struct {
	OK      bool             `json:"ok"`
	DryRun  bool             `json:"dry_run"`
	Journal string           `json:"journal"`
	Audit   string           `json:"audit_log"`
	Summary *migrate.Summary `json:"summary"`
	// Results has every key's result, in the order they finished.
	Results []migrate.Result `json:"results"`
	Proofs  proofCounts      `json:"proofs"`
	Error   *errorOut        `json:"error,omitempty"`
}

// proofCounts counts the verdicts of a run's proofs.
type proofCounts struct {
	Passed   int `json:"passed"`
	Failed   int `json:"failed"`
	Unproven int `json:"unproven"`
}

func printMigrateSummary(w io.Writer, s *migrate.Summary, journal, audit string, dryRun bool) {
	if dryRun {
		fmt.Fprintf(w, "\ndry run of migration %s: %d keys planned, %d already done (per the journal), %d failed to plan\n", s.Migration, s.Planned, s.AlreadyDone, s.Failed)
		var regions []string
		for r := range s.GetParametersForImport {
			regions = append(regions, r)
		}
		sort.Strings(regions)
		for _, r := range regions {
			n := s.GetParametersForImport[r]
			q := 1.0
			for _, o := range s.Ops {
				if o.Op == "GetParametersForImport" && o.Region == r && o.Quota > 0 {
					q = o.Quota
				}
			}
			fmt.Fprintf(w, "  %s: %d GetParametersForImport calls: at least %s at %g/s\n", r, n, (time.Duration(float64(n)/q) * time.Second).Round(time.Second), q)
		}
		for _, sc := range sortedKeys(s.CloudImports) {
			fmt.Fprintf(w, "  %s: %s\n", clipMiddle(sc, lineWidth-22), plural(s.CloudImports[sc], "import"))
		}
	} else {
		fmt.Fprintf(w, "\nmigration %s (run %s): %d keys in %s, %.2f keys/s\n", s.Migration, s.Run, s.Total, s.Elapsed.Round(time.Second), s.Rate())
		fmt.Fprintf(w, "  imported %d, already done %d, failed %d, not started %d\n", s.Imported, s.AlreadyDone, s.Failed, s.NotStarted)
		var regions []string
		for r := range s.GetParametersForImport {
			regions = append(regions, r)
		}
		sort.Strings(regions)
		for _, r := range regions {
			n := s.GetParametersForImport[r]
			fmt.Fprintf(w, "  %s: %d GetParametersForImport (%.2f/s)\n", r, n, float64(n)/max(s.Elapsed.Seconds(), 1e-9))
		}
		for _, sc := range sortedKeys(s.CloudImports) {
			n := s.CloudImports[sc]
			fmt.Fprintf(w, "  %s: %s (%.2f/s)\n", clipMiddle(sc, lineWidth-26), plural(n, "import"), float64(n)/max(s.Elapsed.Seconds(), 1e-9))
		}
		throttles := 0
		for _, o := range s.Ops {
			throttles += o.Throttles
		}
		if b := s.Binding(); b != "" {
			fmt.Fprintf(w, "  bound by: %s; throttled %d times\n", b, throttles)
		}
		if s.ExpiredTokens > 0 {
			fmt.Fprintf(w, "  import parameters fetched again after expiry: %d\n", s.ExpiredTokens)
		}
		fmt.Fprintf(w, "  journal: %s\n  audit log: %s\n", journal, audit)
	}
	if len(s.Orphans) > 0 {
		fmt.Fprintf(w, "  %d KMS keys tagged with this migration are in PendingImport and claimed by no key (not deleted):\n", len(s.Orphans))
		for _, o := range s.Orphans {
			fmt.Fprintf(w, "    %s\n", o)
		}
	}
	if len(s.Failures) > 0 {
		fmt.Fprintf(w, "  failed keys:\n")
		for _, f := range s.Failures {
			fmt.Fprint(w, wrapLines(fmt.Sprintf("%s (line %d): %s", f.Key, f.Line, f.Err), "    ", "      ", lineWidth))
		}
	}
}

// cloudTargets open the targets outside AWS a manifest may name, by kind
// (gcp, azure), for byok migrate and byok status. The openers live with
// each cloud's flags (target_gcp.go, target_azure.go); the migrate package
// links no cloud SDK. Tests replace them with registerTarget.
var cloudTargets = map[string]migrate.TargetOpener{
	migrate.KindGCP:   openGCPTarget,
	migrate.KindAzure: openAzureTarget,
}

// targetBuilds says, per kind, what provides its targets: the message for
// a manifest naming a kind this byok was built without.
var targetBuilds = map[string]string{
	migrate.KindGCP:   "Google Cloud KMS support (package gcpkms, wired in cmd/byok/target_gcp.go)",
	migrate.KindAzure: "Azure Key Vault support (package azkv, wired in cmd/byok/target_azure.go)",
}

// registerTarget makes targets of kind (migrate.KindGCP, migrate.KindAzure)
// available. Like database/sql's Register, it panics on a nil opener or a
// kind registered twice.
func registerTarget(kind string, open migrate.TargetOpener) {
	if open == nil {
		panic("byok: registerTarget: nil opener for " + kind)
	}
	if _, dup := cloudTargets[kind]; dup {
		panic("byok: registerTarget: " + kind + " registered twice")
	}
	cloudTargets[kind] = open
}

// missingTarget turns the library's refusals of a manifest before anything
// is done into usage errors (exit 2): a manifest naming a cloud this byok
// has no target for (saying what provides it), and the mistakes a cloud's
// target finds in its settings (migrate.CloudFieldError, listed with their
// lines and fields as the manifest's other mistakes are).
func missingTarget(err error) error {
	var me *migrate.ManifestError
	if errors.As(err, &me) {
		return fmt.Errorf("%w: the manifest has mistakes:\n%v", errUsage, err)
	}
	var mt *migrate.MissingTargetError
	if !errors.As(err, &mt) {
		return err
	}
	what := targetBuilds[mt.Kind]
	if what == "" {
		what = mt.Kind + " support"
	}
	return fmt.Errorf("%w: %s:%d: the manifest has %s targets, and this byok was built without %s; use a byok built with it, or remove the %s targets (nothing was changed)",
		errUsage, mt.Path, mt.Line, mt.Kind, what, mt.Kind)
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// clipMiddle shortens s to n characters by cutting out its middle.
func clipMiddle(s string, n int) string {
	if len(s) <= n || n < 8 {
		return s
	}
	h := (n - 1) / 2
	return s[:h] + "…" + s[len(s)-(n-1-h):]
}

// checkCloudEnv checks, before anything is opened or done, the environment
// the cloud targets of a manifest read: a BYOK_GCP_ENDPOINT that is not a
// loopback HOST:PORT is one usage error (exit 2), not an error per key or
// per row.
func checkCloudEnv(m *migrate.Manifest) error {
	if m.TargetLine(migrate.KindGCP) == 0 {
		return nil
	}
	ep := os.Getenv(envGCPEndpoint)
	if ep == "" {
		return nil
	}
	if f := (gcpFlags{endpoint: ep, level: "hsm", keyRing: "r", key: "k"}); f.validate() != nil {
		return fmt.Errorf("%w: %s=%q: want a loopback HOST:PORT such as 127.0.0.1:8600 (a fake Cloud KMS for tests: plaintext, unauthenticated); unset it to reach Cloud KMS with Application Default Credentials",
			errUsage, envGCPEndpoint, ep)
	}
	return nil
}

// wrapLines wraps s (paragraphs split at its newlines) into lines of at
// most width columns, the first after first, the others after indent; a
// word too long for a line (a resource name) is cut after a '/' where it
// can, else where it must.
func wrapLines(s, first, indent string, width int) string {
	var b strings.Builder
	lead, line := first, ""
	flush := func() {
		b.WriteString(strings.TrimRight(lead+line, " ") + "\n")
		lead, line = indent, ""
	}
	room := func() int { return width - len(lead) }
	for _, para := range strings.Split(s, "\n") {
		for _, w := range strings.Fields(para) {
			if line != "" && len(line)+1+len(w) > room() {
				flush()
			}
			for len(line)+len(w) > room() && room() > 8 {
				// Too long for any line: cut it.
				n := room() - len(line)
				cut := strings.LastIndex(w[:n], "/") + 1
				if cut <= n/2 {
					cut = n
				}
				line += w[:cut]
				w = w[cut:]
				flush()
			}
			if line != "" {
				line += " "
			}
			line += w
		}
		if line != "" || lead == first {
			flush()
		}
	}
	return b.String()
}
