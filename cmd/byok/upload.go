package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/byok-go/byok"
	"github.com/byok-go/byok/driver"
	"github.com/byok-go/byok/internal/offline"
	"github.com/byok-go/byok/internal/params"
)

const uploadUsage = `Usage: byok upload --params DIR [flags] [--source SOURCE]

Step 3 of the offline import, on a host with AWS access: imports
EncryptedKeyMaterial.bin with ImportToken.bin into the KMS key the
parameters name (ImportKeyMaterial), then, if the source is given, proves
that KMS holds the source key as byok verify does (the material was wrapped
elsewhere, so KMS accepting it proves only that it holds what
EncryptedKeyMaterial.bin held): for SYMMETRIC_DEFAULT keys by importing the
source's material again (one more GetParametersForImport and
ImportKeyMaterial, expiration unchanged; --no-reimport declines, leaving the
verdict UNPROVEN, exit 4). Without --source it compares the public key of an
RSA or EC key with the one recorded by byok wrap and says how to run the full
proof (byok verify).

The AWS CLI can upload the same files instead:
  aws kms import-key-material --key-id ARN \
    --encrypted-key-material fileb://DIR/EncryptedKeyMaterial.bin \
    --import-token fileb://DIR/ImportToken.bin \
    --expiration-model KEY_MATERIAL_DOES_NOT_EXPIRE

Examples:
  byok upload --params params/
  byok upload --params params/ --source signing-key.pem
  byok upload --params params/ --valid-to +365d --json`

// uploadOutput is what `byok upload --json` prints.
type uploadOutput struct {
	OK                  bool             `json:"ok"`
	KeyARN              string           `json:"key_arn,omitempty"`
	Region              string           `json:"region,omitempty"`
	ExpirationModel     string           `json:"expiration_model,omitempty"`
	ValidTo             *time.Time       `json:"valid_to,omitempty"`
	KeyMaterialID       string           `json:"key_material_id,omitempty"`
	Source              *sourceOut       `json:"source,omitempty"`
	Verification        *verificationOut `json:"verification"`
	VerificationSkipped bool             `json:"verification_skipped,omitempty"`
	PublicKeyChecked    *bool            `json:"public_key_matches_wrapped_source,omitempty"`
	VerifyCommand       string           `json:"verify_command,omitempty"`
	Error               *errorOut        `json:"error,omitempty"`
}

func runUpload(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("upload", uploadUsage, stderr)
	var sf sourceFlags
	var af awsFlags
	var ef expiryFlags
	sf.register(fs)
	af.register(fs)
	ef.register(fs)
	paramsDir := fs.String("params", "", "the parameters `DIR`, after byok wrap")
	importType := fs.String("import-type", "", "the import `TYPE` for SYMMETRIC_DEFAULT keys: NEW_KEY_MATERIAL (other material, for on-demand rotation) or EXISTING_KEY_MATERIAL (the same material again)")
	noReimport := fs.Bool("no-reimport", false, "skip the re-import proof (SYMMETRIC_DEFAULT keys): the verdict is then UNPROVEN, exit 4")
	asJSON := fs.Bool("json", false, "print the result as JSON on stdout")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if err := noArgs(pos); err != nil {
		return fmt.Errorf("%w (give the source as --source SOURCE)", err)
	}
	if *paramsDir == "" {
		return fmt.Errorf("%w: --params DIR is required: the directory byok params wrote and byok wrap filled", errUsage)
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
	if err := sf.validate(); err != nil {
		return err
	}
	if err := af.validate(); err != nil {
		return err
	}
	res := uploadOutput{ExpirationModel: expirationModel(validTo)}
	if !validTo.IsZero() {
		res.ValidTo = &validTo
	}
	if params.IsZip(*paramsDir) {
		return fmt.Errorf("%w: --params %s is a zip: run byok wrap --params %s --out DIR first, then upload DIR", errUsage, *paramsDir, *paramsDir)
	}
	p := progress{stderr, *asJSON}
	in := offline.UploadInput{
		Params: *paramsDir, ValidTo: validTo, ImportType: *importType, NoReimport: *noReimport,
		Client: func(ctx context.Context, keyARN string) (byok.KMSAPI, string, error) {
			return af.client(ctx, keyARN)
		},
		SpecGiven:  sf.keySpec != "",
		Label:      sf.shown(),
		ImportHint: withImportHint,
		Hooks:      p.hooks("upload"),
	}
	if sf.source != "" {
		in.Open = func(ctx context.Context, spec byok.KeySpec) (driver.Source, error) {
			sf.inferKeySpec(spec)
			p.say("opening %s…", sf.label())
			return sf.open(ctx, stderr)
		}
	}
	r, err := offline.Upload(ctx, in)
	if r.Set != nil {
		res.KeyARN = r.Set.Meta.KeyARN
	}
	res.Region, res.KeyMaterialID = r.Region, r.KeyMaterialID
	if r.Info != nil {
		so := newSourceOut(&sf, *r.Info)
		res.Source = &so
	}
	if r.Verification != nil {
		res.Verification = toVerificationOut(r.Verification)
	}
	verifyCmd := fmt.Sprintf("byok verify --key-id %s SOURCE", res.KeyARN)
	if sf.source != "" {
		verifyCmd = fmt.Sprintf("byok verify --key-id %s %s", res.KeyARN, sf.positionalArgs())
	} else if r.Imported {
		res.VerificationSkipped, res.VerifyCommand, res.PublicKeyChecked = true, verifyCmd, r.PublicKeyMatches
	}
	if err != nil {
		if r.Checked && !*asJSON {
			printUpload(stdout, &res)
		}
		res.Error = newErrorOut(err, res.KeyARN, nil)
		if *asJSON {
			writeJSON(stdout, res)
		}
		return err
	}
	res.OK = true
	if *asJSON {
		return writeJSON(stdout, res)
	}
	printUpload(stdout, &res)
	if sf.source == "" {
		fmt.Fprintf(stderr, "byok upload: VERIFICATION SKIPPED: no --source was given. Prove the import where the source key is reachable:\n  %s\n", verifyCmd)
	}
	return nil
}

func printUpload(w io.Writer, r *uploadOutput) {
	s := newSummary(w)
	s.row("KMS key", "%s", r.KeyARN)
	if r.Region != "" {
		s.row("Region", "%s", r.Region)
	}
	s.row("imported", "yes")
	if r.ValidTo != nil {
		s.row("expiration", "%s, at %s", r.ExpirationModel, fmtTime(*r.ValidTo))
	} else {
		s.row("expiration", "%s", r.ExpirationModel)
	}
	if r.KeyMaterialID != "" {
		s.row("key material ID", "%s", r.KeyMaterialID)
	}
	if r.Source != nil {
		s.row("source", "%s (%s driver)\n%s %s", r.Source.Source, r.Source.Driver, r.Source.KeySpec, r.Source.Fingerprint)
		verificationRows(s, r.Verification)
	} else {
		msg := "SKIPPED: no --source"
		if r.PublicKeyChecked != nil {
			if *r.PublicKeyChecked {
				msg += "\nok    GetPublicKey equals the public key of the source byok wrap wrapped"
			} else {
				msg += "\nFAIL  GetPublicKey differs from the public key of the source byok wrap wrapped"
			}
		}
		msg += "\nprove the import with: " + r.VerifyCommand
		s.row("verification", "%s", msg)
	}
	s.flush()
}
