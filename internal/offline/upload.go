package offline

import (
	"bytes"
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/byok-go/byok"
	"github.com/byok-go/byok/driver"
	"github.com/byok-go/byok/internal/params"
)

// UploadInput is what Upload needs.
type UploadInput struct {
	// Params is the parameters directory, after Wrap.
	Params string
	// ValidTo is when the key material expires (zero: it does not);
	// ImportType is ImportKeyMaterial's (NEW_KEY_MATERIAL,
	// EXISTING_KEY_MATERIAL or "").
	ValidTo    time.Time
	ImportType string
	// NoReimport declines the re-import proof of a SYMMETRIC_DEFAULT key
	// (the verdict is then UNPROVEN).
	NoReimport bool
	// Client returns the KMS client for the key and its Region.
	Client func(ctx context.Context, keyARN string) (byok.KMSAPI, string, error)
	// Open opens the source key to prove the import with, given the KMS
	// key's spec; nil: no source (the public key recorded by Wrap is
	// compared instead). Upload closes the source. SpecGiven says the
	// user gave the source's key spec, so KMS need not be asked for it.
	Open      func(ctx context.Context, spec byok.KeySpec) (driver.Source, error)
	SpecGiven bool
	// Label names the source in errors (without secrets).
	Label string
	// ImportHint adds what to do next to a failed ImportKeyMaterial.
	ImportHint func(err error, spec byok.KeySpec, importType, keyARN string) error

	Hooks
}

// UploadResult is what Upload did or, on failure, how far it got.
type UploadResult struct {
	// Set is the parameters read (nil if they could not be).
	Set    *params.Set
	Region string
	// Info is the source as described (nil: no source, or not yet).
	Info *byok.KeyInfo
	// Imported says ImportKeyMaterial succeeded; KeyMaterialID is its
	// key material ID.
	Imported      bool
	KeyMaterialID string
	// Verification is the proof with a source (nil without one).
	Verification *byok.Verification
	// PublicKeyMatches is, without a source, whether KMS's public key
	// equals the one Wrap recorded (nil: not compared).
	PublicKeyMatches *bool
	// Checked says the proof (or the public key comparison) ran after the
	// import: its outcome is in the result even when Upload fails.
	Checked bool
}

// Upload imports the wrapped key material of a parameters directory into
// its KMS key (ImportKeyMaterial) and proves the import: with a source,
// as byok verify does (the material was wrapped elsewhere, so KMS
// accepting it proves only that KMS holds what EncryptedKeyMaterial.bin
// held); without one, by comparing the public key of an RSA or EC key with
// the one Wrap recorded.
func Upload(ctx context.Context, in UploadInput) (*UploadResult, error) {
	res := &UploadResult{}
	set, err := params.ReadDir(in.Params)
	if err != nil {
		return res, err
	}
	res.Set = set
	if set.Encrypted == nil {
		return res, fmt.Errorf("%s has no %s: run byok wrap --params %s SOURCE first (on the host with the key)", in.Params, params.EncryptedKeyMaterialFile, in.Params)
	}
	if set.Expired(time.Now()) {
		return res, fmt.Errorf("the import parameters expired at %s (they last 24 hours): ImportKeyMaterial would fail; run byok params again, then byok wrap and byok upload", FormatTime(*set.Meta.ValidTo))
	}
	if n, want := len(set.Encrypted), set.WrappingKey.Size(); (!set.Meta.Algorithm.IsKeyWrap() && n != want) || (set.Meta.Algorithm.IsKeyWrap() && n < want+16) {
		return res, fmt.Errorf("%s is %d bytes, which %s under an %s wrapping key cannot produce: it was not wrapped with these parameters; run byok wrap again", params.EncryptedKeyMaterialFile, n, set.Meta.Algorithm, set.Meta.WrappingKeySpec)
	}
	arn := set.Meta.KeyARN
	client, region, err := in.Client(ctx, arn)
	if err != nil {
		return res, err
	}
	res.Region = region
	var src byok.KeySource
	var info byok.KeyInfo
	if in.Open != nil {
		spec := set.Meta.KeySpec
		if spec == "" && !in.SpecGiven {
			// A console zip does not record the key spec: KMS knows it.
			in.say("describing KMS key %s…", arn)
			d, err := describeKey(ctx, client, arn)
			if err != nil {
				return res, in.hint(err)
			}
			spec = d.Spec
		}
		s, err := in.Open(ctx, spec)
		if err != nil {
			return res, err
		}
		defer s.Close()
		if info, err = s.Describe(ctx); err != nil {
			return res, err
		}
		if set.Meta.KeyUsage != "" {
			info.Usage = set.Meta.KeyUsage
		}
		src, res.Info = s, &info
		if w := set.Meta.Wrapped; w != nil && w.Source.Fingerprint != "" && info.Fingerprint != "" && w.Source.Fingerprint != info.Fingerprint {
			return res, fmt.Errorf("--source %s is not the key byok wrap wrapped (%s, fingerprint %s; this one is %s): give that key to prove the import", in.Label, w.Source.Label, w.Source.Fingerprint, info.Fingerprint)
		}
	}

	target := &byok.KMS{Client: client, KeyID: arn, ValidTo: in.ValidTo, ImportType: in.ImportType}
	in.say("importing %d bytes of wrapped key material into %s (ImportKeyMaterial)…", len(set.Encrypted), arn)
	imp, err := target.Import(ctx, set.ImportParameters(), set.Encrypted)
	if err != nil {
		if in.ImportHint != nil {
			err = in.ImportHint(err, set.Meta.KeySpec, in.ImportType, arn)
		}
		return res, err
	}
	res.Imported, res.KeyMaterialID = true, imp.KeyMaterialID
	if src == nil {
		return res, comparePublicKey(ctx, in, client, set, res)
	}
	in.say("verifying: using the KMS key and comparing with the source…")
	if set.Meta.KeySpec != "" && set.Meta.KeySpec != info.Spec {
		return res, fmt.Errorf("%w: the KMS key is %s, the source %s", byok.ErrVerification, set.Meta.KeySpec, info.Spec)
	}
	kp, err := target.VerifyKey(ctx, arn, src, byok.VerifyOptions{NoReimport: in.NoReimport, KeyMaterialID: imp.KeyMaterialID})
	v := kp.Verification
	res.Verification, res.Checked = &v, true
	if err == nil || v.Verdict == byok.VerdictFailed {
		err = v.Err(arn)
	}
	if err != nil {
		return res, fmt.Errorf("%w\n  note: the key material WAS imported; do not rely on the key until byok verify passes", err)
	}
	return res, nil
}

// comparePublicKey compares, without a source, KMS's public key of an RSA
// or EC key with the one byok wrap recorded.
func comparePublicKey(ctx context.Context, in UploadInput, client byok.KMSAPI, set *params.Set, res *UploadResult) error {
	w := set.Meta.Wrapped
	if w == nil || w.Source.PublicKey == nil {
		return nil
	}
	out, err := client.GetPublicKey(ctx, &kms.GetPublicKeyInput{KeyId: aws.String(set.Meta.KeyARN)})
	if err != nil {
		return in.hint(fmt.Errorf("GetPublicKey: %w", err))
	}
	same := bytes.Equal(out.PublicKey, w.Source.PublicKey)
	res.PublicKeyMatches, res.Checked = &same, true
	if !same {
		return fmt.Errorf("%w: %s: KMS GetPublicKey differs from the public key of the source byok wrap wrapped (%s)", byok.ErrVerification, set.Meta.KeyARN, w.Source.Label)
	}
	return nil
}
