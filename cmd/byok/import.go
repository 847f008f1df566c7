package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/byok-go/byok"
	"github.com/byok-go/byok/internal/offline"
)

const importUsage = `Usage: byok import [flags] SOURCE

Imports one key into AWS KMS in one go: creates a KMS key with Origin
EXTERNAL whose key spec and usage match the source key (or uses --key-id),
gets import parameters, wraps the key material (inside the HSM for HSM
sources), imports it, and proves the import by using the KMS key and
comparing with the source. Use it where the source and AWS are reachable
from one host; otherwise use the offline flow (byok params, wrap, upload).

The wrapping algorithm is chosen from the key spec, the source's
capabilities and AWS's rules; --dry-run shows the choice and why, and makes
no AWS call at all.

For Azure Key Vault and Managed HSM, see byok import --to azure --help;
for Google Cloud KMS, byok import --to gcp --help.

Key material does not expire unless --valid-to is given (the KMS console's
default too): KMS deletes expired material, and the key is then unusable
until the same material is imported again.

To renew a key (or restore one after byok shred), import the same material
again: byok import --key-id ARN SOURCE --valid-to +365d. For a raw AES or
HMAC key file, the key spec comes from the KMS key (DescribeKey).

` + sourceHelp + `

Examples:
  byok import signing-key.pem --alias payments-signing --tag team=payments
  byok import --dry-run signing-key.pem
  byok import aes.hex --key-spec SYMMETRIC_DEFAULT --valid-to +365d --region eu-west-1
  byok import --key-id 1234abcd-12ab-34cd-56ef-1234567890ab rsa.pem --usage ENCRYPT_DECRYPT
  byok import 'pkcs11:token=prod;object=signing-key' \
    --module /usr/lib/softhsm/libsofthsm2.so --pin-env HSM_PIN
  byok import key.pem --endpoint-url http://127.0.0.1:8555 --region us-east-1  # byok emulator
  byok import key.pem --alias app-signing --cleanup-on-failure`

// importOutput is what `byok import --json` prints.
type importOutput struct {
	OK                  bool                   `json:"ok"`
	DryRun              bool                   `json:"dry_run,omitempty"`
	KeyARN              string                 `json:"key_arn,omitempty"`
	Created             bool                   `json:"created"`
	Alias               string                 `json:"alias,omitempty"`
	Region              string                 `json:"region,omitempty"`
	Source              sourceOut              `json:"source"`
	Algorithm           byok.WrappingAlgorithm `json:"wrapping_algorithm,omitempty"`
	WrappingKeySpec     byok.WrappingKeySpec   `json:"wrapping_key_spec,omitempty"`
	Reason              string                 `json:"reason,omitempty"`
	Fallback            bool                   `json:"sha1_fallback,omitempty"`
	ExpirationModel     string                 `json:"expiration_model"`
	ValidTo             *time.Time             `json:"valid_to,omitempty"`
	KeyMaterialID       string                 `json:"key_material_id,omitempty"`
	Verification        *verificationOut       `json:"verification"`
	VerificationSkipped bool                   `json:"verification_skipped,omitempty"`
	PlannedChecks       string                 `json:"planned_checks,omitempty"`
	ReusedAliasKey      bool                   `json:"reused_alias_key,omitempty"`
	LeftKey             *leftKey               `json:"-"` // in Error
	AWSCalls            []string               `json:"aws_calls,omitempty"`
	Seconds             float64                `json:"elapsed_seconds"`
	Error               *errorOut              `json:"error,omitempty"`
}

func runImport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if to, rest, err := cutTarget(args, "to"); err != nil {
		return err
	} else if to == "azure" {
		return runImportAzure(ctx, rest, stdout, stderr)
	} else if to == "gcp" {
		return runImportGCP(ctx, rest, stdout, stderr)
	} else {
		args = rest
	}
	fs := newFlagSet("import", importUsage, stderr)
	var sf sourceFlags
	var af awsFlags
	var wf wrappingFlags
	var ef expiryFlags
	var nk newKeyFlags
	sf.register(fs)
	af.register(fs)
	wf.register(fs)
	ef.register(fs)
	keyID := fs.String("key-id", "", "import into this existing KMS key (`ID`, ARN or alias/NAME): Origin EXTERNAL, same key spec and usage, PendingImport")
	nk.register(fs)
	importType := fs.String("import-type", "", "the import `TYPE` for SYMMETRIC_DEFAULT keys: NEW_KEY_MATERIAL (other material, for on-demand rotation) or EXISTING_KEY_MATERIAL (the same material again)")
	dryRun := fs.Bool("dry-run", false, "print the plan (key spec, usage, algorithm, wrapping key spec and why) and stop: no AWS call, no change")
	noVerify := fs.Bool("no-verify", false, "skip the proof after import (not recommended)")
	cleanup := fs.Bool("cleanup-on-failure", false, "if the import fails after creating the KMS key, schedule that key's deletion with the shortest waiting period KMS allows (7 days; cancellable until then)")
	asJSON := fs.Bool("json", false, "print the result as JSON on stdout")
	if err := sf.parse(fs, args); err != nil {
		return err
	}
	if *keyID != "" && nk.set() {
		return fmt.Errorf("%w: --alias, --description, --tag, --policy and --multi-region are for a new key; with --key-id the key exists already", errUsage)
	}
	switch *importType {
	case "", "NEW_KEY_MATERIAL", "EXISTING_KEY_MATERIAL":
	default:
		return fmt.Errorf("%w: --import-type %q: want NEW_KEY_MATERIAL or EXISTING_KEY_MATERIAL", errUsage, *importType)
	}
	validTo, err := ef.resolve(time.Now())
	if err != nil {
		return err
	}
	policy, err := nk.policy()
	if err != nil {
		return err
	}
	im, err := wf.importer()
	if err != nil {
		return err
	}
	if err := af.validate(); err != nil {
		return err
	}
	if err := sf.validate(); err != nil {
		return err
	}

	start := time.Now()
	p := progress{stderr, *asJSON}
	out := importOutput{ExpirationModel: expirationModel(validTo), Alias: nk.alias}
	if !validTo.IsZero() {
		out.ValidTo = &validTo
	}
	fail := func(err error) error {
		out.Error = newErrorOut(err, out.KeyARN, out.LeftKey)
		out.Seconds = time.Since(start).Seconds()
		if *asJSON {
			writeJSON(stdout, out)
		}
		return err
	}

	// With --key-id, a raw AES or HMAC key file's spec comes from
	// DescribeKey when --key-spec is not given, as byok verify does, so
	// that the restore command byok shred prints runs as printed.
	var client *kms.Client
	var region string
	if *keyID != "" && sf.keySpec == "" && !*dryRun {
		if client, region, err = af.client(ctx, *keyID); err != nil {
			return fail(err)
		}
		p.say("describing KMS key %s…", *keyID)
		d, err := client.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(*keyID)})
		if err != nil {
			return fail(withHint(fmt.Errorf("DescribeKey %s: %w", *keyID, err)))
		}
		if d.KeyMetadata != nil {
			sf.inferKeySpec(byok.KeySpec(d.KeyMetadata.KeySpec))
		}
	}
	p.say("opening %s…", sf.label())
	src, err := sf.open(ctx, stderr)
	if err != nil {
		return fail(err)
	}
	defer src.Close()

	// Everything that can be checked is checked before the first AWS call:
	// the source opens, its spec and usage are importable, it can be
	// wrapped with an algorithm AWS allows (the HSM's capabilities are
	// probed), and an HSM key is extractable.
	if err := offline.CheckForcedWrapping(ctx, src, im); err != nil {
		return fail(err)
	}
	info, choice, err := im.Plan(ctx, src)
	if err != nil {
		return fail(err)
	}
	if err := hsmExtractable(src); err != nil {
		return fail(err)
	}
	if *dryRun {
		out.Source = newSourceOut(&sf, info)
		planImport(&out, info, choice, *keyID, nk.alias != "", !*noVerify)
		out.Seconds = time.Since(start).Seconds()
		if *asJSON {
			return writeJSON(stdout, out)
		}
		printImportPlan(stdout, &out, *keyID, len(nk.tags), policy != "", nk.multiRegion)
		return nil
	}

	if client == nil {
		if client, region, err = af.client(ctx, *keyID); err != nil {
			return fail(err)
		}
	}
	out.Region = region
	target := &byok.KMS{Client: &progressClient{KMSAPI: client, p: p, region: region}, KeyID: *keyID, Alias: nk.alias, Description: nk.description, Tags: nk.tags,
		Policy: policy, MultiRegion: nk.multiRegion, ValidTo: validTo, ImportType: *importType}
	created := *keyID == ""
	if created && nk.alias != "" {
		// An alias left by an interrupted run: finish that key, or refuse
		// before creating a second one that would fail on CreateAlias.
		p.say("checking alias %s…", byok.AliasName(nk.alias))
		arn, err := target.CheckAlias(ctx, info)
		if err != nil {
			return fail(withHint(err))
		}
		if arn != "" {
			fmt.Fprintf(stderr, "byok import: %s already names %s, an Origin EXTERNAL %s %s key in state PendingImport that byok created for this source (tag %s) "+
				"with the settings this run asks for, left by an interrupted run: importing into it; no new key is created\n",
				byok.AliasName(nk.alias), arn, info.Spec, effectiveUsage(info), byok.SourceFingerprintTag)
			target.KeyID, target.Alias, created, out.ReusedAliasKey = arn, "", false, true
		}
	}
	im.SkipVerify = *noVerify
	im.Logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	if *noVerify {
		fmt.Fprintln(stderr, "byok import: WARNING: --no-verify: the import will NOT be proven; nothing will show that KMS holds the source key")
	}
	res, err := im.Import(ctx, src, &progressTarget{t: target, p: p, created: created})
	if res != nil {
		out.KeyARN, out.Created = res.KeyARN, res.Created
		if res.KeyARN != "" && created {
			out.Created = true
		}
		out.Source = sourceOut{Source: sf.shown(), Driver: sf.driverName(), KeySpec: res.KeySpec, KeyUsage: res.KeyUsage, Fingerprint: res.Fingerprint}
		out.Algorithm, out.WrappingKeySpec, out.Reason, out.Fallback = res.Algorithm, res.WrappingKeySpec, res.Reason, res.Fallback
		out.KeyMaterialID = res.KeyMaterialID
		out.Verification = toVerificationOut(res.Verification)
	}
	out.VerificationSkipped = *noVerify
	out.Seconds = time.Since(start).Seconds()
	if err != nil {
		err = importError(err, res, *importType, sf.positionalArgs())
		holds := errors.Is(err, byok.ErrVerification) || errors.Is(err, byok.ErrUnproven)
		if res != nil && res.KeyARN != "" && (created || out.ReusedAliasKey) {
			err, out.LeftKey = afterFailure(ctx, err, target, res.KeyARN, region, created, holds, *cleanup, "byok import "+sf.shown())
		}
		if !*asJSON && res != nil && res.KeyARN != "" {
			out.Error = newErrorOut(err, out.KeyARN, out.LeftKey)
			printImportResult(stdout, &out, sf.label())
		}
		return fail(err)
	}
	out.OK = true
	if *asJSON {
		return writeJSON(stdout, out)
	}
	printImportResult(stdout, &out, sf.label())
	if *noVerify {
		fmt.Fprintf(stderr, "byok import: VERIFICATION SKIPPED (--no-verify). Prove the import with:\n  byok verify --key-id %s %s\n", out.KeyARN, sf.positionalArgs())
	}
	return nil
}

// plannedCalls lists the AWS calls an import will make.
// planImport fills out with the plan of a --dry-run: the wrapping chosen,
// the key, the checks of the proof (verify) and the AWS calls.
func planImport(out *importOutput, info byok.KeyInfo, choice byok.Choice, keyID string, alias, verify bool) {
	out.DryRun, out.OK = true, true
	out.Algorithm, out.WrappingKeySpec, out.Reason, out.Fallback = choice.Algorithm, choice.WrappingKeySpec, choice.Reason, choice.Fallback
	out.KeyARN = keyID
	out.Created = keyID == ""
	if verify {
		out.PlannedChecks = plannedChecks(info.Spec, effectiveUsage(info))
	}
	out.AWSCalls = plannedCalls(keyID == "", alias, verify, info)
}

// importError adds to a failed import what to do next and, when the key
// material was imported but not proven, that it was; res is what the
// import got to (nil: nothing), args the source's arguments for byok
// verify.
func importError(err error, res *byok.Result, importType, args string) error {
	if res == nil {
		return withHint(err)
	}
	err = withImportHint(err, res.KeySpec, importType, res.KeyARN)
	switch {
	case errors.Is(err, byok.ErrVerification):
		err = fmt.Errorf("%w\n  note: the key material WAS imported into %s, but a check shows it is not the source key; do not use the key", err, res.KeyARN)
	case errors.Is(err, byok.ErrUnproven):
		err = fmt.Errorf("%w\n  note: the key material WAS imported into %s, but nothing proved that it is the source key; do not rely on it until `byok verify --key-id %s %s` passes", err, res.KeyARN, res.KeyARN, args)
	}
	return err
}

func plannedCalls(create, alias, verify bool, info byok.KeyInfo) []string {
	var c []string
	if create {
		c = append(c, "CreateKey")
		if alias {
			c = append(c, "CreateAlias")
		}
	} else {
		c = append(c, "DescribeKey")
	}
	c = append(c, "GetParametersForImport", "ImportKeyMaterial")
	if !verify {
		return c
	}
	switch info.Spec.Kind() {
	case byok.KindRSA, byok.KindEC:
		c = append(c, "GetPublicKey")
		switch effectiveUsage(info) {
		case byok.SignVerify:
			c = append(c, "Sign", "Verify")
		case byok.EncryptDecrypt:
			c = append(c, "Decrypt")
		}
	case byok.KindHMAC:
		c = append(c, "GenerateMac")
	case byok.KindSymmetric:
		c = append(c, "Encrypt", "Decrypt")
	}
	return c
}

func printImportPlan(w io.Writer, o *importOutput, keyID string, ntags int, policy, multiRegion bool) {
	fmt.Fprintln(w, "Plan (dry run: no AWS call was made, nothing was changed)")
	s := newSummary(w)
	s.row("source", "%s (%s driver)", o.Source.Source, o.Source.Driver)
	s.row("fingerprint", "%s", o.Source.Fingerprint)
	s.row("key spec", "%s", o.Source.KeySpec)
	s.row("key usage", "%s (KMS allows %s for %s)", o.Source.KeyUsage, usagesOf(o.Source.KeySpec), o.Source.KeySpec)
	if keyID != "" {
		s.row("KMS key", "existing key %s (not checked: a dry run makes no AWS call)", keyID)
	} else {
		var extra []string
		if o.Alias != "" {
			extra = append(extra, "alias "+o.Alias)
		}
		if ntags > 0 {
			extra = append(extra, fmt.Sprintf("%d tags", ntags))
		}
		if policy {
			extra = append(extra, "key policy from file")
		}
		if multiRegion {
			extra = append(extra, "multi-Region")
		}
		desc := "a new key, Origin EXTERNAL"
		if len(extra) > 0 {
			desc += " (" + strings.Join(extra, ", ") + ")"
		}
		s.row("KMS key", "%s", desc)
	}
	s.row("algorithm", "%s", o.Algorithm)
	s.row("wrapping key", "%s", o.WrappingKeySpec)
	s.row("why", "%s", o.Reason)
	if o.Fallback {
		s.row("WARNING", "SHA-1 fallback: the source cannot perform a SHA-256 wrapping algorithm")
	}
	if o.ValidTo != nil {
		s.row("expiration", "%s, at %s", o.ExpirationModel, fmtTime(*o.ValidTo))
	} else {
		s.row("expiration", "%s", o.ExpirationModel)
	}
	if o.PlannedChecks != "" {
		s.row("verification", "%s", o.PlannedChecks)
	} else {
		s.row("verification", "SKIPPED (--no-verify)")
	}
	s.row("AWS calls", "%s", strings.Join(o.AWSCalls, ", "))
	s.flush()
}

func printImportResult(w io.Writer, o *importOutput, label string) {
	s := newSummary(w)
	created := "existing key"
	if o.ReusedAliasKey {
		created = "created by an earlier, interrupted run; alias " + o.Alias
	}
	if o.Created {
		created = "created by this import"
		if o.Alias != "" {
			created += ", alias " + o.Alias
		}
	}
	s.row("KMS key", "%s\n(%s)", o.KeyARN, created)
	if o.Region != "" {
		s.row("Region", "%s", o.Region)
	}
	s.row("source", "%s", label)
	s.row("fingerprint", "%s", o.Source.Fingerprint)
	s.row("key spec", "%s", o.Source.KeySpec)
	s.row("key usage", "%s", o.Source.KeyUsage)
	s.row("wrapping", "%s under an %s wrapping key", o.Algorithm, o.WrappingKeySpec)
	if o.Reason != "" {
		s.row("why", "%s", o.Reason)
	}
	if o.ValidTo != nil {
		s.row("expiration", "%s, at %s", o.ExpirationModel, fmtTime(*o.ValidTo))
	} else {
		s.row("expiration", "%s", o.ExpirationModel)
	}
	if o.KeyMaterialID != "" {
		s.row("key material ID", "%s", o.KeyMaterialID)
	}
	switch {
	case o.Verification != nil || o.VerificationSkipped:
		verificationRows(s, o.Verification)
	case o.Error != nil:
		// A failed import is not a skipped proof: the proof never ran.
		s.row("verification", "NOT RUN: the import failed before the proof (the error follows)")
	}
	s.row("time", "%s", fmtDuration(time.Duration(o.Seconds*float64(time.Second))))
	s.flush()
}

func usagesOf(spec byok.KeySpec) string {
	var u []string
	for _, x := range spec.Usages() {
		u = append(u, string(x))
	}
	return strings.Join(u, ", ")
}

// progressTarget reports each step of an import on stderr.
type progressTarget struct {
	t       *byok.KMS
	p       progress
	created bool
}

var (
	_ byok.KMSTarget      = (*progressTarget)(nil)
	_ byok.ImportVerifier = (*progressTarget)(nil)
)

func (pt *progressTarget) Prepare(ctx context.Context, info byok.KeyInfo, alg byok.WrappingAlgorithm, wks byok.WrappingKeySpec) (byok.ImportParameters, error) {
	// The target's client (a progressClient) announces CreateKey,
	// CreateAlias and GetParametersForImport as each starts.
	if !pt.created {
		pt.p.say("checking KMS key %s…", pt.t.KeyID)
	}
	params, err := pt.t.Prepare(ctx, info, alg, wks)
	if err == nil {
		pt.p.say("KMS key %s; parameters valid until %s", params.KeyID, fmtTime(params.ValidTo))
		pt.p.say("wrapping the key material…")
	}
	return params, err
}

func (pt *progressTarget) Import(ctx context.Context, p byok.ImportParameters, wrapped []byte) (byok.Imported, error) {
	pt.p.say("importing %d bytes of wrapped key material (ImportKeyMaterial)…", len(wrapped))
	return pt.t.Import(ctx, p, wrapped)
}

func (pt *progressTarget) VerifyImport(ctx context.Context, imp byok.Imported, info byok.KeyInfo, src byok.KeySource) (byok.Verification, error) {
	pt.p.say("verifying: using the KMS key and comparing with the source…")
	return pt.t.VerifyImport(ctx, imp, info, src)
}
