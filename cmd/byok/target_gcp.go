package main

// byok import --to gcp: the same source, wrapped the same way, into Google
// Cloud KMS (package gcpkms). Only this file and the gcpkms package link
// the Cloud KMS client.

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"time"

	kms "cloud.google.com/go/kms/apiv1"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/byok-go/byok"
	"github.com/byok-go/byok/gcpkms"
	"github.com/byok-go/byok/migrate"
)

// gcpFlags are the --gcp-* flags of byok import --to gcp.
type gcpFlags struct {
	keyRing, key, level, algorithm, importJob, endpoint string
}

func (g *gcpFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&g.keyRing, "gcp-key-ring", "", "the key ring `NAME` projects/P/locations/L/keyRings/R (created if missing)")
	fs.StringVar(&g.key, "gcp-key", "", "the crypto key `ID` in the key ring (created import-only if missing)")
	fs.StringVar(&g.level, "gcp-protection-level", "hsm", "the protection `LEVEL`, hsm or software")
	fs.StringVar(&g.algorithm, "gcp-algorithm", "", "the Cloud KMS `ALGORITHM`, e.g. RSA_SIGN_PSS_2048_SHA256 (default: from the key spec and usage)")
	fs.StringVar(&g.importJob, "gcp-import-job", "", "reuse the import job `ID` in the key ring (default: a new job)")
	fs.StringVar(&g.endpoint, "gcp-endpoint", "", "a fake Cloud KMS at `HOST:PORT` on loopback, plaintext and unauthenticated (tests only)")
}

// gcpImportOutput is what `byok import --to gcp --json` prints.
type gcpImportOutput struct {
	OK                  bool                   `json:"ok"`
	DryRun              bool                   `json:"dry_run,omitempty"`
	Target              string                 `json:"target"`
	KeyRing             string                 `json:"key_ring,omitempty"`
	KeyName             string                 `json:"key_name,omitempty"`
	VersionName         string                 `json:"version_name,omitempty"`
	Created             bool                   `json:"created"`
	ProtectionLevel     string                 `json:"protection_level"`
	CloudAlgorithm      string                 `json:"cloud_kms_algorithm,omitempty"`
	ImportMethod        string                 `json:"import_method,omitempty"`
	Source              *sourceOut             `json:"source,omitempty"`
	Algorithm           byok.WrappingAlgorithm `json:"wrapping_algorithm,omitempty"`
	WrappingKeySpec     byok.WrappingKeySpec   `json:"wrapping_key_spec,omitempty"`
	Reason              string                 `json:"reason,omitempty"`
	Fallback            bool                   `json:"sha1_fallback,omitempty"`
	Verification        *verificationOut       `json:"verification"`
	VerificationSkipped bool                   `json:"verification_skipped,omitempty"`
	Seconds             float64                `json:"elapsed_seconds"`
	Error               *errorOut              `json:"error,omitempty"`
}

// validate checks the --gcp-* flags before anything is opened.
func (g *gcpFlags) validate() error {
	if g.keyRing == "" || g.key == "" {
		return fmt.Errorf("%w: --to gcp needs --gcp-key-ring projects/P/locations/L/keyRings/R and --gcp-key ID", errUsage)
	}
	switch g.level {
	case "hsm", "software", "HSM", "SOFTWARE":
	default:
		return fmt.Errorf("%w: --gcp-protection-level %q: want hsm or software", errUsage, g.level)
	}
	if g.endpoint == "" {
		g.endpoint = os.Getenv(envGCPEndpoint) // as byok migrate and status take it
	}
	if g.endpoint != "" {
		host, port, err := net.SplitHostPort(g.endpoint)
		ip := net.ParseIP(host)
		if err != nil || port == "" || !(host == "localhost" || (ip != nil && ip.IsLoopback())) {
			return fmt.Errorf("%w: --gcp-endpoint %q: want a loopback HOST:PORT such as 127.0.0.1:8600; it is plaintext and unauthenticated, for a fake Cloud KMS in tests only (real imports use Application Default Credentials)", errUsage, g.endpoint)
		}
	}
	return nil
}

// client returns a Cloud KMS client: with Application Default Credentials,
// or, with --gcp-endpoint, plaintext and unauthenticated to a loopback fake.
func (g *gcpFlags) client(ctx context.Context) (*kms.KeyManagementClient, error) {
	if g.endpoint == "" {
		c, err := kms.NewKeyManagementClient(ctx)
		if err != nil {
			return nil, fmt.Errorf("connecting to Cloud KMS: %w; byok uses Application Default Credentials: run `gcloud auth application-default login`, or set GOOGLE_APPLICATION_CREDENTIALS", err)
		}
		return c, nil
	}
	return kms.NewKeyManagementClient(ctx, option.WithEndpoint(g.endpoint), option.WithoutAuthentication(),
		option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())))
}

// offlineClient stands for the client in a dry run: the plan makes no call.
type offlineClient struct{ gcpkms.API }

func (g *gcpFlags) target(client gcpkms.API, stderr io.Writer, quiet bool) (*gcpkms.Target, error) {
	o := gcpkms.Options{KeyRing: g.keyRing, KeyID: g.key, ProtectionLevel: strings.ToUpper(g.level), Algorithm: g.algorithm, ImportJobID: g.importJob}
	if !quiet {
		o.Logger = slog.New(sayHandler{progress{stderr, false}})
	}
	if g.endpoint != "" {
		o.PollInterval = 100 * time.Millisecond // a fake on loopback
	}
	t, err := gcpkms.New(client, o)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errUsage, gcpFlagError(err))
	}
	return t, nil
}

// gcpFlagOf names the flag of byok import --to gcp that sets each
// gcpkms.Options field.
var gcpFlagOf = map[string]string{
	"KeyRing":         "--gcp-key-ring",
	"KeyID":           "--gcp-key",
	"ImportJobID":     "--gcp-import-job",
	"ProtectionLevel": "--gcp-protection-level",
	"Algorithm":       "--gcp-algorithm",
}

// flaggedError is a library error said in the command's words (its flags);
// errors.Is and errors.As still reach the library's error.
type flaggedError struct {
	msg string
	err error
}

func (e *flaggedError) Error() string { return e.msg }
func (e *flaggedError) Unwrap() error { return e.err }

// gcpFlagError says a gcpkms refusal of an option (*gcpkms.OptionError) or
// of an existing crypto key (*gcpkms.KeyExistsError) with the --gcp-* flags
// the user typed rather than the library's Options fields; other errors
// are returned as they are.
func gcpFlagError(err error) error {
	var oe *gcpkms.OptionError
	var ke *gcpkms.KeyExistsError
	switch {
	case errors.As(err, &oe) && gcpFlagOf[oe.Field] != "":
		return &flaggedError{fmt.Sprintf("%s %q: %s", gcpFlagOf[oe.Field], oe.Value, oe.Problem), err}
	case errors.As(err, &ke):
		msg := fmt.Sprintf("the Cloud KMS key %s already exists with %s %s, and this import needs %s %s: "+
			"import into a new key instead (another --gcp-key ID; byok creates it import-only for this key)", ke.Key, ke.What, ke.Has, ke.What, ke.Wants)
		switch ke.Field {
		case "Algorithm":
			msg += fmt.Sprintf(", or pass --gcp-algorithm %s to import as the key's algorithm (it fits the source key too)", ke.Has)
		case "ProtectionLevel":
			msg += fmt.Sprintf(", or pass --gcp-protection-level %s to import at the key's level", strings.ToLower(ke.Has))
		}
		return &flaggedError{msg, err}
	}
	return err
}

const importGCPUsage = `Usage: byok import --to gcp --gcp-key-ring RING --gcp-key ID [flags] SOURCE

Imports one key into Google Cloud KMS in one go: finds or creates the key
ring, creates an import job and waits until it is ACTIVE, creates the crypto
key if missing (import-only, no initial version, the Cloud KMS algorithm of
the source key), wraps the key material (inside the HSM for HSM sources)
with the import method Cloud KMS's rules and the source allow, imports it
as a new version, waits until it is ENABLED, and proves the import by using
the version and comparing with the source.

Cloud KMS keeps keys: byok cannot delete one it created, and says so when an
import fails after creating it. Credentials are Application Default
Credentials (gcloud auth application-default login, or
GOOGLE_APPLICATION_CREDENTIALS).

` + sourceHelp + `

Examples:
  byok import --to gcp --gcp-key-ring projects/my-project/locations/europe-west1/keyRings/payments \
    --gcp-key signing signing.pem
  byok import --to gcp --gcp-key-ring projects/my-project/locations/global/keyRings/payments \
    --gcp-key mac hmac.hex --key-spec HMAC_256 --key-format hex --gcp-protection-level software
  byok import --to gcp --gcp-key-ring projects/my-project/locations/global/keyRings/payments \
    --gcp-key k --dry-run key.pem`

// runImportGCP is byok import --to gcp; args are without --to.
func runImportGCP(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("import", importGCPUsage, stderr)
	var sf sourceFlags
	var wf wrappingFlags
	var gf gcpFlags
	sf.register(fs)
	wf.register(fs)
	gf.register(fs)
	dryRunP := fs.Bool("dry-run", false, "check the source and Cloud KMS's rules, print the plan, and stop: no Cloud KMS call")
	noVerifyP := fs.Bool("no-verify", false, "skip the proof after import (not recommended)")
	asJSONP := fs.Bool("json", false, "print the result as JSON on stdout")
	pos, err := parseArgs(fs, args)
	if err != nil {
		if strings.Contains(err.Error(), "flag provided but not defined") {
			err = fmt.Errorf("%w (with --to gcp the Cloud KMS key is named by --gcp-key-ring and --gcp-key; the AWS flags such as --alias, --key-id and --region do not apply)", err)
		}
		return err
	}
	if err := sf.setPositional(pos, true); err != nil {
		return err
	}
	dryRun, noVerify, asJSON := *dryRunP, *noVerifyP, *asJSONP
	start := time.Now()
	// key_ring and key_name are set once the flags are known to name them.
	out := gcpImportOutput{Target: "gcp", ProtectionLevel: strings.ToUpper(gf.level)}
	fail := func(err error) error {
		err = gcpFlagError(err)
		// The Cloud KMS key is named by key_name, as on success; the
		// error's key_arn is for AWS KMS keys.
		out.Error = newErrorOut(err, "", nil)
		out.Seconds = time.Since(start).Seconds()
		if asJSON {
			writeJSON(stdout, out)
		}
		return err
	}
	if err := gf.validate(); err != nil {
		return fail(err)
	}
	im, err := wf.importer()
	if err != nil {
		return fail(err)
	}
	if err := sf.validate(); err != nil {
		return fail(err)
	}
	// The options are checked (names, level, algorithm) before the source
	// is opened or any call made.
	plan, err := gf.target(offlineClient{}, stderr, true)
	if err != nil {
		return fail(err)
	}
	out.KeyRing, out.KeyName = plan.KeyRing(), plan.KeyName()

	p := progress{stderr, asJSON}
	p.say("opening %s…", sf.label())
	src, err := sf.open(ctx, stderr)
	if err != nil {
		return fail(err)
	}
	defer src.Close()
	// Cloud KMS's rules are applied before the first call: the key spec and
	// usage map to a Cloud KMS algorithm, the source can wrap with an
	// import method Cloud KMS has, an HSM key is extractable.
	info, choice, err := im.PlanFor(ctx, src, plan)
	if err != nil {
		return fail(err)
	}
	if err := hsmExtractable(src); err != nil {
		return fail(err)
	}
	so := newSourceOut(&sf, info)
	so.PublicKey = nil
	out.Source = &so
	out.Algorithm, out.WrappingKeySpec, out.Reason, out.Fallback = choice.Algorithm, choice.WrappingKeySpec, choice.Reason, choice.Fallback
	out.ImportMethod, _ = gcpkms.ImportMethod(choice.Algorithm, choice.WrappingKeySpec)
	out.CloudAlgorithm = gf.algorithm
	if out.CloudAlgorithm == "" {
		out.CloudAlgorithm, _ = gcpkms.AlgorithmFor(info.Spec, info.Usage)
	}
	if dryRun {
		out.OK, out.DryRun = true, true
		out.Seconds = time.Since(start).Seconds()
		if asJSON {
			return writeJSON(stdout, out)
		}
		fmt.Fprintln(stdout, "Plan (dry run: no Cloud KMS call was made, nothing was changed)")
		printGCPResult(stdout, &out, sf.label())
		return nil
	}

	client, err := gf.client(ctx)
	if err != nil {
		return fail(err)
	}
	defer client.Close()
	target, err := gf.target(client, stderr, asJSON)
	if err != nil {
		return fail(err)
	}
	im.SkipVerify = noVerify
	im.Logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	if noVerify {
		fmt.Fprintln(stderr, "byok import: WARNING: --no-verify: the import will NOT be proven; nothing will show that Cloud KMS holds the source key")
	}
	p.say("importing into %s (key ring, key and import job are checked or created; waiting for the job to be ACTIVE)…", out.KeyName)
	res, err := im.Import(ctx, src, target)
	err = gcpFlagError(err)
	if res != nil {
		out.Created = res.Created
		if strings.Contains(res.KeyARN, "/cryptoKeyVersions/") {
			out.VersionName = res.KeyARN
		}
		out.Source = &sourceOut{Source: sf.shown(), Driver: sf.driverName(), KeySpec: res.KeySpec, KeyUsage: res.KeyUsage, Fingerprint: res.Fingerprint}
		out.Verification = toVerificationOut(res.Verification)
	}
	out.VerificationSkipped = noVerify
	out.Seconds = time.Since(start).Seconds()
	if err != nil {
		switch {
		case out.VersionName == "":
		case errors.Is(err, byok.ErrVerification):
			err = fmt.Errorf("%w\n  note: the key material WAS imported into %s, but a check shows it is not the source key; do not use it: %s",
				err, out.VersionName, target.RemovalHint(out.VersionName))
		case errors.Is(err, byok.ErrUnproven):
			err = fmt.Errorf("%w\n  note: the key material WAS imported into %s, but nothing proved that it is the source key; do not rely on it until a proof passes (to remove it: %s)",
				err, out.VersionName, target.RemovalHint(out.VersionName))
		}
		if !asJSON && out.VersionName != "" {
			out.Error = newErrorOut(err, "", nil)
			printGCPResult(stdout, &out, sf.label())
		}
		return fail(err)
	}
	out.OK = true
	if asJSON {
		return writeJSON(stdout, out)
	}
	printGCPResult(stdout, &out, sf.label())
	return nil
}

func printGCPResult(w io.Writer, o *gcpImportOutput, label string) {
	s := newSummary(w)
	how := "existing key"
	switch {
	case o.DryRun:
		how = "checked or created (import-only) by the import"
	case o.Created:
		how = "created by this import, import-only"
	}
	s.row("Cloud KMS key", "%s\n(%s)", o.KeyName, how)
	if o.VersionName != "" {
		s.row("version", "%s (of the key above)", strings.TrimPrefix(o.VersionName, o.KeyName+"/"))
	}
	s.row("protection", "%s", o.ProtectionLevel)
	s.row("algorithm", "%s", o.CloudAlgorithm)
	s.row("source", "%s", label)
	if o.Source != nil {
		s.row("fingerprint", "%s", o.Source.Fingerprint)
		s.row("key spec", "%s", o.Source.KeySpec)
		s.row("key usage", "%s", o.Source.KeyUsage)
	}
	s.row("wrapping", "%s under an %s wrapping key (import method %s)", o.Algorithm, o.WrappingKeySpec, o.ImportMethod)
	if o.Reason != "" {
		s.row("why", "%s", o.Reason)
	}
	if o.Fallback {
		s.row("WARNING", "SHA-1 fallback: the source cannot perform a SHA-256 method Cloud KMS accepts")
	}
	switch {
	case o.DryRun:
	case o.Verification != nil || o.VerificationSkipped:
		verificationRows(s, o.Verification)
	case o.Error != nil:
		s.row("verification", "NOT RUN: the import failed before the proof (the error follows)")
	}
	s.row("time", "%s", fmtDuration(time.Duration(o.Seconds*float64(time.Second))))
	s.flush()
}

// sayHandler prints the gcpkms target's progress (key ring, import job and
// key creation) as progress lines: the message and its attributes.
type sayHandler struct{ p progress }

func (h sayHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelInfo }

func (h sayHandler) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(strings.TrimPrefix(r.Message, "gcpkms: "))
	r.Attrs(func(a slog.Attr) bool {
		fmt.Fprintf(&b, " %s=%s", a.Key, a.Value)
		return true
	})
	h.p.say("%s…", b.String())
	return nil
}

func (h sayHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h sayHandler) WithGroup(string) slog.Handler      { return h }

// envGCPEndpoint names, like --gcp-endpoint, a fake Cloud KMS on loopback
// (plaintext, unauthenticated) for byok import --to gcp without the flag,
// and for byok migrate and byok status, whose manifests name no endpoint;
// tests only.
const envGCPEndpoint = "BYOK_GCP_ENDPOINT"

// gcpClient is the one Cloud KMS client byok migrate and byok status share
// across keys and goroutines (the client is safe for concurrent use).
var gcpClient struct {
	sync.Mutex
	c *kms.KeyManagementClient
}

// openGCPTarget opens the Cloud KMS target a manifest entry names
// (migrate.TargetOpener): the shared client, no call made.
func openGCPTarget(ctx context.Context, spec migrate.CloudSpec) (migrate.CloudTarget, error) {
	g := spec.GCP
	if g == nil {
		return nil, fmt.Errorf("byok: a gcp target without its settings (line %d)", spec.Line)
	}
	// The settings first, as gcpkms.New takes them, before any client:
	// byok migrate and byok status check every target this way before
	// anything is done (a refusal names the manifest's field).
	if err := checkGCPSpec(g); err != nil {
		return nil, err
	}
	gcpClient.Lock()
	if gcpClient.c == nil {
		f := gcpFlags{endpoint: os.Getenv(envGCPEndpoint), level: "hsm", keyRing: g.KeyRing, key: g.KeyID}
		if err := f.validate(); err != nil {
			gcpClient.Unlock()
			return nil, fmt.Errorf("%s: %w", envGCPEndpoint, err)
		}
		c, err := f.client(context.WithoutCancel(ctx))
		if err != nil {
			gcpClient.Unlock()
			return nil, err
		}
		gcpClient.c = c
	}
	c := gcpClient.c
	gcpClient.Unlock()
	o := gcpkms.Options{KeyRing: g.KeyRing, KeyID: g.KeyID, ProtectionLevel: g.ProtectionLevel, Algorithm: g.Algorithm}
	if os.Getenv(envGCPEndpoint) != "" {
		o.PollInterval = 100 * time.Millisecond
	}
	return gcpkms.New(c, o)
}

// gcpManifestFields names gcpkms.Options fields as a manifest's gcp item
// does.
var gcpManifestFields = map[string]string{
	"KeyRing": "key_ring", "KeyID": "key_id", "ProtectionLevel": "protection_level", "Algorithm": "algorithm",
}

// checkGCPSpec checks a manifest's gcp target as gcpkms.New checks its
// options, with no client and no call: one setting at a time beside
// settings known to be good, so that a refusal names its field
// (migrate.CloudFieldError), then all of them together.
func checkGCPSpec(g *migrate.GCPSpec) error {
	const ring, id = "projects/p/locations/global/keyRings/r", "k"
	for _, c := range []struct {
		field string
		o     gcpkms.Options
	}{
		{"key_ring", gcpkms.Options{KeyRing: g.KeyRing, KeyID: id}},
		{"key_id", gcpkms.Options{KeyRing: ring, KeyID: g.KeyID}},
		{"protection_level", gcpkms.Options{KeyRing: ring, KeyID: id, ProtectionLevel: g.ProtectionLevel}},
		{"algorithm", gcpkms.Options{KeyRing: ring, KeyID: id, Algorithm: g.Algorithm}},
		{"", gcpkms.Options{KeyRing: g.KeyRing, KeyID: g.KeyID, ProtectionLevel: g.ProtectionLevel, Algorithm: g.Algorithm}},
	} {
		if _, err := gcpkms.New(offlineClient{}, c.o); err != nil {
			field := c.field
			if oe := (*gcpkms.OptionError)(nil); field == "" && errors.As(err, &oe) {
				field = gcpManifestFields[oe.Field]
			}
			return &migrate.CloudFieldError{Field: field, Err: errors.New(strings.TrimPrefix(err.Error(), "gcpkms: "))}
		}
	}
	return nil
}
