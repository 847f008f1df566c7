package main

import (
	"context"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/smithy-go"
	"github.com/byok-go/byok"
	"github.com/byok-go/byok/driver/software"
	"github.com/byok-go/byok/hsm"
)

const verifyUsage = `Usage: byok verify --key-id ID [flags] SOURCE

Proves, again, that a KMS key holds the source key, by using the KMS key and
comparing with the source:

  RSA, EC            GetPublicKey equals the source's public key (KMS derives
                     it from the imported private key); signatures verify both
                     ways (RSA: byte-identical), or KMS decrypts what the
                     source's public key encrypted
  HMAC               KMS GenerateMac equals the source's HMAC of a fresh message
  SYMMETRIC_DEFAULT  re-import: the source wraps its material under fresh import
                     parameters and byok imports it again with ImportType
                     EXISTING_KEY_MATERIAL and the key's KeyMaterialId; KMS
                     accepts only the material it already holds and refuses any
                     other (IncorrectKeyMaterialException). It costs one
                     GetParametersForImport and one ImportKeyMaterial, and keeps
                     the key's ExpirationModel and ValidTo unchanged. Refused as
                     the current material, it is tried as each other key
                     material (pending rotation, or older): KMS holds them too.

HMAC keys whose source cannot compute an HMAC are proven by re-import too.
Run it after byok upload, or any time later.

Verdicts and exit status: 0 PASSED (KMS holds the source key); 3 FAILED (a
check shows it does not: do not use the key); 4 UNPROVEN (nothing failed, but
nothing could prove it: a call was denied, the key is not Enabled, the source
cannot wrap, or --no-reimport).

` + sourceHelp + `

Examples:
  byok verify --key-id arn:aws:kms:eu-west-1:111122223333:key/1234abcd-… signing-key.pem
  byok verify --key-id alias/payments-signing 'pkcs11:object=signing-key' \
    --module /usr/lib/softhsm/libsofthsm2.so --pin-env HSM_PIN --json`

// verifyOutput is what `byok verify --json` prints.
type verifyOutput struct {
	OK           bool             `json:"ok"`
	Verdict      byok.Verdict     `json:"verdict"`
	KeyARN       string           `json:"key_arn,omitempty"`
	KeySpec      byok.KeySpec     `json:"key_spec,omitempty"`
	KeyUsage     byok.KeyUsage    `json:"key_usage,omitempty"`
	KeyState     string           `json:"key_state,omitempty"`
	Source       *sourceOut       `json:"source,omitempty"`
	Verification *verificationOut `json:"verification"`
	Seconds      float64          `json:"elapsed_seconds"`
	Error        *errorOut        `json:"error,omitempty"`
}

func runVerify(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("verify", verifyUsage, stderr)
	var sf sourceFlags
	var af awsFlags
	sf.register(fs)
	af.register(fs)
	keyID := fs.String("key-id", "", "the KMS key to check (`ID`, ARN or alias/NAME)")
	noReimport := fs.Bool("no-reimport", false, "skip the re-import proof (SYMMETRIC_DEFAULT keys): the verdict is then UNPROVEN, exit 4")
	materialID := fs.String("key-material-id", "", "SYMMETRIC_DEFAULT: prove only this key material (`ID`), in any state; default: the current one, then the others")
	asJSON := fs.Bool("json", false, "print the result as JSON on stdout")
	if err := sf.parse(fs, args); err != nil {
		return err
	}
	if *keyID == "" {
		return fmt.Errorf("%w: --key-id is required: the KMS key to check", errUsage)
	}
	if err := sf.validate(); err != nil {
		return err
	}
	start := time.Now()
	res := verifyOutput{KeyARN: *keyID, Verdict: byok.VerdictUnproven}
	fail := func(err error) error {
		res.Error = newErrorOut(err, res.KeyARN, nil)
		res.Seconds = time.Since(start).Seconds()
		if *asJSON {
			writeJSON(stdout, res)
		}
		return err
	}
	p := progress{stderr, *asJSON}
	client, _, err := af.client(ctx, *keyID)
	if err != nil {
		return fail(err)
	}
	p.say("describing KMS key %s…", *keyID)
	d, derr := client.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(*keyID)})
	describeRefused := derr != nil && refusedCall(derr)
	switch {
	case describeRefused:
		// Not a failure of byok: no check can run without DescribeKey,
		// so the verdict is UNPROVEN (VerifyKey records why).
	case derr != nil:
		return fail(withHint(fmt.Errorf("DescribeKey %s: %w", *keyID, derr)))
	case d.KeyMetadata == nil:
		return fail(fmt.Errorf("DescribeKey %s returned no key metadata", *keyID))
	default:
		md := d.KeyMetadata
		res.KeyARN, res.KeySpec, res.KeyUsage, res.KeyState = aws.ToString(md.Arn), byok.KeySpec(md.KeySpec), byok.KeyUsage(md.KeyUsage), string(md.KeyState)
		sf.inferKeySpec(res.KeySpec) // a raw AES or HMAC key file: KMS says which
	}
	p.say("opening %s…", sf.label())
	src, err := sf.open(ctx, stderr)
	if err != nil && describeRefused && sf.keySpec == "" && needsKeySpec(err) {
		// A raw key file's spec comes from DescribeKey, which was refused.
		var v byok.Verification
		v.Skip(fmt.Sprintf("DescribeKey was refused (%v), so byok could not learn the KMS key's spec, which the raw key file %s needs "+
			"to be read: pass --key-spec (and allow kms:DescribeKey: no check can run without it)", derr, sf.shown()))
		return finishVerify(&res, v, nil, &sf, *asJSON, stdout, start, fail)
	}
	if err != nil {
		return fail(err)
	}
	defer src.Close()
	p.say("verifying %s: using the KMS key and comparing with the source…", *keyID)
	target := &byok.KMS{Client: client}
	kp, err := target.VerifyKey(ctx, *keyID, src, byok.VerifyOptions{NoReimport: *noReimport, KeyMaterialID: *materialID})
	res.KeyARN, res.KeySpec, res.KeyUsage, res.KeyState = kp.KeyARN, kp.KeySpec, kp.KeyUsage, kp.KeyState
	if kp.Source.Spec != "" {
		so := newSourceOut(&sf, kp.Source)
		res.Source = &so
	}
	if err != nil && !errors.Is(err, byok.ErrUnproven) && !errors.Is(err, byok.ErrVerification) {
		// VerifyKey could not start: DescribeKey or the source failed.
		res.Verdict = kp.Verification.Verdict
		return fail(withHint(err))
	}
	return finishVerify(&res, kp.Verification, err, &sf, *asJSON, stdout, start, fail)
}

// finishVerify prints the verification (a table, or JSON) and returns the
// error that gives the exit status: nil for PASSED, one wrapping
// byok.ErrVerification (3) or byok.ErrUnproven (4).
func finishVerify(res *verifyOutput, v byok.Verification, err error, sf *sourceFlags, asJSON bool, stdout io.Writer, start time.Time, fail func(error) error) error {
	res.Verdict = v.Verdict
	if res.Verdict == "" {
		res.Verdict = byok.VerdictUnproven
	}
	res.Verification = toVerificationOut(&v)
	res.Seconds = time.Since(start).Seconds()
	if !asJSON {
		unknown := func(x string) string {
			if x == "" {
				return "unknown (DescribeKey did not answer)"
			}
			return x
		}
		s := newSummary(stdout)
		s.row("KMS key", "%s", res.KeyARN)
		s.row("key spec", "%s", unknown(string(res.KeySpec)))
		s.row("key usage", "%s", unknown(string(res.KeyUsage)))
		s.row("key state", "%s", unknown(res.KeyState))
		fp := ""
		if res.Source != nil {
			fp = "\n" + res.Source.Fingerprint
		}
		s.row("source", "%s%s", sf.label(), fp)
		verificationRows(s, res.Verification)
		s.row("time", "%s", fmtDuration(time.Since(start)))
		s.flush()
	}
	if err == nil {
		err = v.Err(res.KeyARN)
	}
	if err != nil {
		return fail(withHint(err))
	}
	res.OK = true
	if asJSON {
		return writeJSON(stdout, res)
	}
	return nil
}

// refusedCall reports whether err is KMS refusing a call (no permission,
// the key's state, an unsupported operation): the proof cannot run, which
// is UNPROVEN, not an error of byok's.
func refusedCall(err error) bool {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		switch ae.ErrorCode() {
		case "AccessDeniedException", "KMSInvalidStateException", "DisabledException", "UnsupportedOperationException":
			return true
		}
	}
	return false
}

// needsKeySpec reports whether opening a key file failed because its key
// spec was not given (a raw, hex or base64 AES or HMAC key); see
// keyFileHint.
func needsKeySpec(err error) bool {
	return strings.Contains(err.Error(), "give its key spec")
}

const inspectUsage = `Usage: byok inspect [flags] SOURCE

Describes a key file or HSM object without revealing it: the KMS key spec,
the key usages KMS allows for it, the fingerprint byok records and checks,
the public key (RSA and EC), the wrapping algorithms AWS allows and the
source can perform, the one byok would choose and why, and for HSM objects
whether the key is extractable. Secret bytes are never printed. No AWS call.

` + sourceHelp + `

Examples:
  byok inspect signing-key.pem
  byok inspect aes.hex --key-spec SYMMETRIC_DEFAULT --json
  byok inspect 'pkcs11:token=prod;object=signing-key' \
    --module /usr/lib/softhsm/libsofthsm2.so --pin-env HSM_PIN`

// hsmKeyReporter is implemented by the PKCS#11 drivers' sources: the key
// object's attributes (CKA_EXTRACTABLE, CKA_SENSITIVE, …).
type hsmKeyReporter interface {
	Key() *hsm.Key
}

// inspectOutput is what `byok inspect --json` prints.
type inspectOutput struct {
	OK                bool                     `json:"ok"`
	Source            string                   `json:"source"`
	Driver            string                   `json:"driver"`
	Label             string                   `json:"label,omitempty"`
	KeySpec           byok.KeySpec             `json:"key_spec"`
	Kind              string                   `json:"kind"`
	Bits              int                      `json:"bits"`
	KeyUsage          byok.KeyUsage            `json:"key_usage"`
	UsageCandidates   []byok.KeyUsage          `json:"key_usage_candidates"`
	Fingerprint       string                   `json:"fingerprint"`
	PublicKey         []byte                   `json:"public_key,omitempty"`
	MaterialBytes     int                      `json:"material_bytes,omitempty"`
	Extractable       *bool                    `json:"extractable,omitempty"`
	ExtractableNote   string                   `json:"extractable_note"`
	AllowedAlgorithms []byok.WrappingAlgorithm `json:"allowed_wrapping_algorithms"`
	SourceAlgorithms  []byok.WrappingAlgorithm `json:"source_wrapping_algorithms"`
	Algorithm         byok.WrappingAlgorithm   `json:"wrapping_algorithm,omitempty"`
	WrappingKeySpec   byok.WrappingKeySpec     `json:"wrapping_key_spec,omitempty"`
	Reason            string                   `json:"reason,omitempty"`
	Error             *errorOut                `json:"error,omitempty"`
}

func runInspect(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("inspect", inspectUsage, stderr)
	var sf sourceFlags
	sf.register(fs)
	asJSON := fs.Bool("json", false, "print the result as JSON on stdout")
	if err := sf.parse(fs, args); err != nil {
		return err
	}
	res := inspectOutput{Source: sf.shown(), Driver: sf.driverName(), UsageCandidates: []byok.KeyUsage{},
		AllowedAlgorithms: []byok.WrappingAlgorithm{}, SourceAlgorithms: []byok.WrappingAlgorithm{}}
	fail := func(err error) error {
		res.Error = newErrorOut(err, "", nil)
		if *asJSON {
			writeJSON(stdout, res)
		}
		return err
	}
	src, err := sf.open(ctx, stderr)
	if err != nil {
		return fail(err)
	}
	defer src.Close()
	info, err := src.Describe(ctx)
	if err != nil {
		return fail(err)
	}
	res.Label, res.KeySpec, res.Kind, res.Bits = info.Label, info.Spec, info.Spec.Kind().String(), info.Spec.Bits()
	res.KeyUsage = effectiveUsage(info)
	res.UsageCandidates = append(res.UsageCandidates, info.Spec.Usages()...)
	res.Fingerprint, res.PublicKey = info.Fingerprint, info.PublicKeyDER
	res.AllowedAlgorithms = append(res.AllowedAlgorithms, byok.AllowedAlgorithms(info.Spec)...)
	var can []byok.WrappingAlgorithm
	if l, ok := src.(byok.AlgorithmLister); ok {
		if can, err = l.WrappingAlgorithms(ctx); err != nil {
			return fail(fmt.Errorf("asking the source which wrapping algorithms it can perform: %w", err))
		}
		res.SourceAlgorithms = append(res.SourceAlgorithms, can...)
	} else {
		res.SourceAlgorithms = append(res.SourceAlgorithms, byok.WrappingAlgorithms()...)
	}
	if c, err := byok.ChooseWrapping(info.Spec, can); err == nil {
		res.Algorithm, res.WrappingKeySpec, res.Reason = c.Algorithm, c.WrappingKeySpec, c.Reason
	} else {
		res.Reason = err.Error()
	}
	if s, ok := src.(*software.Source); ok {
		res.MaterialBytes = s.Material().Len()
		res.ExtractableNote = "not applicable: a software key is in this process's memory, wrapped in pure Go"
	} else if hk, ok := src.(hsmKeyReporter); ok && hk.Key() != nil {
		k := hk.Key()
		x := k.Extractable
		res.Extractable = &x
		attrs := fmt.Sprintf("CKA_SENSITIVE %v, CKA_NEVER_EXTRACTABLE %v, CKA_WRAP_WITH_TRUSTED %v", k.Sensitive, k.NeverExtractable, k.WrapWithTrusted)
		if x {
			res.ExtractableNote = "CKA_EXTRACTABLE is true: the HSM can wrap the key for export (" + attrs + ")"
		} else {
			res.ExtractableNote = "CKA_EXTRACTABLE is false: the HSM will not wrap this key, so it cannot be imported into KMS from this HSM (" + attrs + ")"
		}
	} else {
		res.ExtractableNote = "unknown: the driver does not report it"
	}
	res.OK = true
	if *asJSON {
		return writeJSON(stdout, res)
	}
	s := newSummary(stdout)
	s.row("source", "%s (%s driver)", sf.shown(), res.Driver)
	if res.Label != "" && res.Label != sf.source {
		s.row("label", "%s", res.Label)
	}
	s.row("key spec", "%s (%s, %d bits)", res.KeySpec, res.Kind, res.Bits)
	s.row("key usage", "%s (KMS allows: %s)", res.KeyUsage, usagesOf(res.KeySpec))
	s.row("fingerprint", "%s", res.Fingerprint)
	if res.MaterialBytes > 0 {
		s.row("key material", "%d bytes in the form KMS imports", res.MaterialBytes)
	}
	if res.Extractable != nil {
		s.row("extractable", "%s: %s", yesNo(*res.Extractable), res.ExtractableNote)
	} else {
		s.row("extractable", "%s", res.ExtractableNote)
	}
	s.row("AWS allows", "%s", joinAlgs(res.AllowedAlgorithms))
	s.row("source can do", "%s", joinAlgs(res.SourceAlgorithms))
	if res.Algorithm != "" {
		s.row("byok would use", "%s under an %s wrapping key\n%s", res.Algorithm, res.WrappingKeySpec, res.Reason)
	} else {
		s.row("byok would use", "nothing: %s", res.Reason)
	}
	s.flush()
	if res.PublicKey != nil {
		fmt.Fprintln(stdout)
		pem.Encode(stdout, &pem.Block{Type: "PUBLIC KEY", Bytes: res.PublicKey})
	}
	return nil
}

func joinAlgs(a []byok.WrappingAlgorithm) string {
	s := make([]string, len(a))
	for i, x := range a {
		s[i] = string(x)
	}
	return strings.Join(s, ", ")
}
