package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/byok-go/byok"
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
	fail := func(err error) error {
		res.Error = newErrorOut(err, res.KeyARN, nil)
		if *asJSON {
			writeJSON(stdout, res)
		}
		return err
	}
	p := progress{stderr, *asJSON}
	if params.IsZip(*paramsDir) {
		return fmt.Errorf("%w: --params %s is a zip: run byok wrap --params %s --out DIR first, then upload DIR", errUsage, *paramsDir, *paramsDir)
	}
	set, err := params.ReadDir(*paramsDir)
	if err != nil {
		return fail(err)
	}
	res.KeyARN = set.Meta.KeyARN
	if set.Encrypted == nil {
		return fail(fmt.Errorf("%s has no %s: run byok wrap --params %s SOURCE first (on the host with the key)", *paramsDir, params.EncryptedKeyMaterialFile, *paramsDir))
	}
	if set.Expired(time.Now()) {
		return fail(fmt.Errorf("the import parameters expired at %s (they last 24 hours): ImportKeyMaterial would fail; run byok params again, then byok wrap and byok upload", fmtTime(*set.Meta.ValidTo)))
	}
	if n, want := len(set.Encrypted), set.WrappingKey.Size(); (!set.Meta.Algorithm.IsKeyWrap() && n != want) || (set.Meta.Algorithm.IsKeyWrap() && n < want+16) {
		return fail(fmt.Errorf("%s is %d bytes, which %s under an %s wrapping key cannot produce: it was not wrapped with these parameters; run byok wrap again", params.EncryptedKeyMaterialFile, n, set.Meta.Algorithm, set.Meta.WrappingKeySpec))
	}

	client, region, err := af.client(ctx, set.Meta.KeyARN)
	if err != nil {
		return fail(err)
	}
	res.Region = region
	var src byok.KeySource
	var info byok.KeyInfo
	if sf.source != "" {
		spec := set.Meta.KeySpec
		if spec == "" && sf.keySpec == "" {
			// A console zip does not record the key spec: KMS knows it.
			p.say("describing KMS key %s…", set.Meta.KeyARN)
			d, err := client.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(set.Meta.KeyARN)})
			if err != nil {
				return fail(withHint(fmt.Errorf("DescribeKey %s: %w", set.Meta.KeyARN, err)))
			}
			spec = byok.KeySpec(d.KeyMetadata.KeySpec)
		}
		sf.inferKeySpec(spec)
		p.say("opening %s…", sf.label())
		s, err := sf.open(ctx, stderr)
		if err != nil {
			return fail(err)
		}
		defer s.Close()
		if info, err = s.Describe(ctx); err != nil {
			return fail(err)
		}
		if set.Meta.KeyUsage != "" {
			info.Usage = set.Meta.KeyUsage
		}
		src = s
		so := newSourceOut(&sf, info)
		res.Source = &so
		if w := set.Meta.Wrapped; w != nil && w.Source.Fingerprint != "" && info.Fingerprint != "" && w.Source.Fingerprint != info.Fingerprint {
			return fail(fmt.Errorf("--source %s is not the key byok wrap wrapped (%s, fingerprint %s; this one is %s): give that key to prove the import", sf.shown(), w.Source.Label, w.Source.Fingerprint, info.Fingerprint))
		}
	}

	target := &byok.KMS{Client: client, KeyID: set.Meta.KeyARN, ValidTo: validTo, ImportType: *importType}
	p.say("importing %d bytes of wrapped key material into %s (ImportKeyMaterial)…", len(set.Encrypted), set.Meta.KeyARN)
	imp, err := target.Import(ctx, set.ImportParameters(), set.Encrypted)
	if err != nil {
		return fail(withImportHint(err, set.Meta.KeySpec, *importType, set.Meta.KeyARN))
	}
	res.KeyMaterialID = imp.KeyMaterialID
	verifyCmd := fmt.Sprintf("byok verify --key-id %s SOURCE", set.Meta.KeyARN)
	if src != nil {
		verifyCmd = fmt.Sprintf("byok verify --key-id %s %s", set.Meta.KeyARN, sf.positionalArgs())
		p.say("verifying: using the KMS key and comparing with the source…")
		if set.Meta.KeySpec != "" && set.Meta.KeySpec != info.Spec {
			return fail(fmt.Errorf("%w: the KMS key is %s, the source %s", byok.ErrVerification, set.Meta.KeySpec, info.Spec))
		}
		// The material was wrapped elsewhere (byok wrap), so ImportKeyMaterial's
		// success proves only that KMS holds what EncryptedKeyMaterial.bin held:
		// prove the source itself, as byok verify does.
		kp, err := target.VerifyKey(ctx, set.Meta.KeyARN, src, byok.VerifyOptions{NoReimport: *noReimport, KeyMaterialID: imp.KeyMaterialID})
		v := kp.Verification
		res.Verification = toVerificationOut(&v)
		if err == nil || v.Verdict == byok.VerdictFailed {
			err = v.Err(set.Meta.KeyARN)
		}
		if err != nil {
			if !*asJSON {
				printUpload(stdout, &res)
			}
			return fail(fmt.Errorf("%w\n  note: the key material WAS imported; do not rely on the key until byok verify passes", err))
		}
	} else {
		res.VerificationSkipped = true
		res.VerifyCommand = verifyCmd
		if w := set.Meta.Wrapped; w != nil && w.Source.PublicKey != nil {
			out, err := client.GetPublicKey(ctx, &kms.GetPublicKeyInput{KeyId: aws.String(set.Meta.KeyARN)})
			if err != nil {
				return fail(withHint(fmt.Errorf("GetPublicKey: %w", err)))
			}
			same := bytes.Equal(out.PublicKey, w.Source.PublicKey)
			res.PublicKeyChecked = &same
			if !same {
				if !*asJSON {
					printUpload(stdout, &res)
				}
				return fail(fmt.Errorf("%w: %s: KMS GetPublicKey differs from the public key of the source byok wrap wrapped (%s)", byok.ErrVerification, set.Meta.KeyARN, w.Source.Label))
			}
		}
	}
	res.OK = true
	if *asJSON {
		return writeJSON(stdout, res)
	}
	printUpload(stdout, &res)
	if src == nil {
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
