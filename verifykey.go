package byok

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
)

// VerifyOptions tunes VerifyKey. The zero value runs every proof.
type VerifyOptions struct {
	// NoReimport declines the re-import proof (one GetParametersForImport
	// and one ImportKeyMaterial of the same material). SYMMETRIC_DEFAULT
	// keys, and HMAC keys whose source cannot compute an HMAC, then have no
	// identity check: their verdict is UNPROVEN.
	NoReimport bool
	// KeyMaterialID names the key material of a SYMMETRIC_DEFAULT key to
	// prove; empty means the key's current one (CurrentKeyMaterialId). The
	// re-import keeps the current material's expiration, so it runs only
	// for the current material: another one (new material pending
	// rotation) leaves the verdict UNPROVEN until it is rotated in.
	KeyMaterialID string
}

// KeyProof is what VerifyKey found: the KMS key as DescribeKey reported it,
// the source, and the verification.
type KeyProof struct {
	KeyARN   string
	KeySpec  KeySpec
	KeyUsage KeyUsage
	KeyState string
	// Source describes the source key (no secret).
	Source KeyInfo
	// Verification holds the verdict and every check.
	Verification Verification
}

// VerifyKey proves, at any time after an import, that the KMS key keyID (ID,
// ARN or alias) holds the key of src, by using the KMS key and comparing
// with the source:
//
//   - RSA and EC keys: GetPublicKey equals the source's public key (KMS
//     derives it from the imported private key), and the signature or
//     decryption checks of VerifyImport.
//   - HMAC keys: GenerateMac equals the source's HMAC (MACSource).
//   - SYMMETRIC_DEFAULT keys, and any key for which none of the above could
//     run: the re-import proof. KMS ciphertexts are opaque, but KMS compares
//     key material itself: it accepts the material already associated with
//     a key again and refuses any other with IncorrectKeyMaterialException.
//     VerifyKey gets import parameters (one GetParametersForImport), has the
//     source wrap its material, and calls ImportKeyMaterial with the key's
//     current ExpirationModel and ValidTo (so both stay unchanged) and, for
//     a symmetric key with a CurrentKeyMaterialId, ImportType
//     EXISTING_KEY_MATERIAL and that KeyMaterialId (KMS recomputes the ID
//     from the key and the material and must find the current one). See
//     https://docs.aws.amazon.com/kms/latest/APIReference/API_ImportKeyMaterial.html.
//
// The verdict is FAILED when a check fails (including a KMS key whose
// Origin is not EXTERNAL or whose key spec differs from the source's), and
// UNPROVEN when no identity check could run: the key is not Enabled, a call
// was refused (AccessDeniedException, KMSInvalidStateException), the source
// cannot wrap, or opts.NoReimport declined the re-import.
//
// The error is non-nil when VerifyKey could not start (DescribeKey or the
// source failed) or the proof stopped part-way; in the latter case it wraps
// ErrUnproven and KeyProof.Verification says what ran.
func (t *KMS) VerifyKey(ctx context.Context, keyID string, src KeySource, opts VerifyOptions) (KeyProof, error) {
	kp := KeyProof{KeyARN: keyID}
	v := &kp.Verification
	v.settle()
	if t.Client == nil {
		return kp, errors.New("byok: KMS target has no Client; build it with byok.NewKMS")
	}
	if src == nil {
		return kp, errors.New("byok: VerifyKey needs a source")
	}
	d, err := t.Client.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(keyID)})
	if err != nil {
		if refused(err) {
			v.Skip(fmt.Sprintf("DescribeKey was refused (%v), so no check could run: byok needs the key's origin, spec, usage and state; allow kms:DescribeKey", err))
			return kp, nil
		}
		return kp, fmt.Errorf("byok: DescribeKey %s: %w", keyID, err)
	}
	md := d.KeyMetadata
	if md == nil {
		return kp, fmt.Errorf("byok: DescribeKey %s returned no key metadata", keyID)
	}
	kp.KeyARN, kp.KeySpec, kp.KeyUsage, kp.KeyState = aws.ToString(md.Arn), KeySpec(md.KeySpec), KeyUsage(md.KeyUsage), string(md.KeyState)
	if kp.KeyARN == "" {
		kp.KeyARN = aws.ToString(md.KeyId)
	}
	info, err := src.Describe(ctx)
	if err != nil {
		return kp, fmt.Errorf("byok: describing the source key: %w", err)
	}
	if kp.KeyUsage != "" && info.Spec.AllowsUsage(kp.KeyUsage) {
		info.Usage = kp.KeyUsage
	}
	kp.Source = info

	var mismatch error
	switch {
	case md.Origin != types.OriginTypeExternal:
		mismatch = fmt.Errorf("Origin is %s: KMS made this key's material (or holds it elsewhere), so it cannot be the source key", md.Origin)
	case kp.KeySpec != info.Spec:
		mismatch = fmt.Errorf("the KMS key is %s; the source is %s", kp.KeySpec, info.Spec)
	}
	v.add(checkDescribe, false, mismatch)
	if mismatch != nil {
		return kp, nil
	}
	if md.KeyState != types.KeyStateEnabled {
		v.Skip(fmt.Sprintf("the KMS key is %s, not Enabled: KMS will not use it, and byok does not re-import into it (that would change it); enable it, or import its key material, then verify again", md.KeyState))
		return kp, nil
	}
	if err := t.useChecks(ctx, v, kp.KeyARN, info, src, false); err != nil {
		v.interrupt(err)
		return kp, t.unproven(v, kp.KeyARN, err)
	}
	if v.Verdict != VerdictUnproven {
		return kp, nil
	}
	if opts.NoReimport {
		v.Skip("the re-import proof was declined (--no-reimport), and no other check proves that KMS holds the source key")
		return kp, nil
	}
	if cur := aws.ToString(md.CurrentKeyMaterialId); opts.KeyMaterialID != "" && opts.KeyMaterialID != cur {
		v.Skip(fmt.Sprintf("re-import not tried: key material %s is not the key's current one (%s), for example new material pending rotation; "+
			"byok re-imports only the current material; verify again after RotateKeyOnDemand", opts.KeyMaterialID, cur))
		return kp, nil
	}
	if err := t.reimport(ctx, v, md, info, src); err != nil {
		v.interrupt(err)
		return kp, t.unproven(v, kp.KeyARN, err)
	}
	return kp, nil
}

func (t *KMS) unproven(v *Verification, arn string, err error) error {
	if v.Verdict == VerdictFailed {
		return v.Err(arn)
	}
	return fmt.Errorf("%w: %s: %w", ErrUnproven, arn, err)
}

// reimport runs the re-import proof: the source's material, wrapped under
// fresh import parameters, imported again into the key with everything else
// unchanged.
func (t *KMS) reimport(ctx context.Context, v *Verification, md *types.KeyMetadata, info KeyInfo, src KeySource) error {
	arn := aws.ToString(md.Arn)
	if arn == "" {
		arn = aws.ToString(md.KeyId)
	}
	// Check first: everything the re-import keeps must be known.
	model, validTo, from, err := t.currentExpiration(ctx, md)
	if err != nil {
		if !refused(err) && !errors.Is(err, errNoRotationLister) {
			return err
		}
		v.Skip(fmt.Sprintf("re-import not tried: ListKeyRotations failed (%v); without it byok cannot learn the current key material's own "+
			"expiration (DescribeKey's ValidTo is the earliest of all the key's materials), so it could not keep it unchanged; allow kms:ListKeyRotations", err))
		return nil
	}
	in := &kms.ImportKeyMaterialInput{KeyId: aws.String(arn), ExpirationModel: model}
	keep := string(model)
	switch model {
	case types.ExpirationModelTypeKeyMaterialDoesNotExpire:
	case types.ExpirationModelTypeKeyMaterialExpires:
		if validTo == nil {
			v.Skip("re-import not tried: " + from + " reports KEY_MATERIAL_EXPIRES without a ValidTo, so the re-import could not keep it unchanged")
			return nil
		}
		in.ValidTo = validTo
		keep += " and ValidTo " + validTo.UTC().Format("2006-01-02T15:04:05Z")
	default:
		v.Skip("re-import not tried: " + from + " reports no ExpirationModel, so the re-import could not keep it unchanged")
		return nil
	}
	var can []WrappingAlgorithm
	if l, ok := src.(AlgorithmLister); ok {
		var err error
		if can, err = l.WrappingAlgorithms(ctx); err != nil {
			v.Skip(fmt.Sprintf("re-import not tried: asking the source which wrapping algorithms it can perform: %v", err))
			return nil
		}
		if can == nil {
			can = []WrappingAlgorithm{}
		}
	}
	choice, err := ChooseWrapping(info.Spec, can)
	if err != nil {
		v.Skip(fmt.Sprintf("re-import not tried: the source cannot wrap %s in a way KMS accepts: %v", info.Spec, err))
		return nil
	}
	p, err := t.params(ctx, arn, choice.Algorithm, choice.WrappingKeySpec, false)
	if err != nil {
		if skipRefused(v, "GetParametersForImport", err) {
			return nil
		}
		return err
	}
	wrapped, err := src.Wrap(ctx, p)
	if err != nil {
		v.Skip(fmt.Sprintf("re-import not tried: the source could not wrap its key: %v", err))
		return nil
	}
	in.ImportToken, in.EncryptedKeyMaterial = p.ImportToken, wrapped
	current := aws.ToString(md.CurrentKeyMaterialId)
	how := "ImportKeyMaterial"
	if info.Spec == SymmetricDefault && current != "" {
		// KeyMaterialId and ImportType are for symmetric encryption keys
		// only (API_ImportKeyMaterial.html, "KeyMaterialId").
		in.ImportType = types.ImportTypeExistingKeyMaterial
		in.KeyMaterialId = aws.String(current)
		how += " (ImportType EXISTING_KEY_MATERIAL, KeyMaterialId " + current + ")"
	}
	cost := fmt.Sprintf("cost: one GetParametersForImport (%s, %s) and one ImportKeyMaterial; ExpirationModel %s left unchanged",
		choice.Algorithm, choice.WrappingKeySpec, keep)
	out, err := t.Client.ImportKeyMaterial(ctx, in)
	var incorrect *types.IncorrectKeyMaterialException
	switch {
	case errors.As(err, &incorrect):
		v.Add(Check{Name: checkReimport, OK: false, Identity: true,
			Detail: fmt.Sprintf("%s: KMS refused the source's material (IncorrectKeyMaterialException: %s), so it holds different key material; %s",
				how, incorrect.ErrorMessage(), cost)})
		return nil
	case err != nil:
		if skipRefused(v, "ImportKeyMaterial", err) {
			return nil
		}
		return fmt.Errorf("ImportKeyMaterial (re-import): %w", err)
	}
	v.Add(Check{Name: checkReimport, OK: true, Identity: true,
		Detail: fmt.Sprintf("%s: KMS accepted the source's material, as it does only for the material it already holds; %s", how, cost)})
	if got := aws.ToString(out.KeyMaterialId); in.KeyMaterialId != nil && got != "" && got != current {
		v.Add(Check{Name: checkReimportMatID, OK: false, Identity: true,
			Detail: fmt.Sprintf("KMS answered key material %s; the key's current key material is %s", got, current)})
	}
	return nil
}

// errNoRotationLister: the client cannot list a key's key materials.
var errNoRotationLister = errors.New("byok: no ListKeyRotations")

// rotationLister is the optional part of a KMSAPI client that lists a key's
// key materials; *kms.Client implements it.
type rotationLister interface {
	ListKeyRotations(ctx context.Context, in *kms.ListKeyRotationsInput, optFns ...func(*kms.Options)) (*kms.ListKeyRotationsOutput, error)
}

// currentExpiration returns the expiration model and ValidTo of the key's
// current key material, and where byok read them. DescribeKey's ValidTo is
// "the earliest time at which any imported key material permanently
// associated with this KMS key expires" (API_KeyMetadata.html), so after a
// rotation it may belong to older material: re-importing the current
// material with it would shorten the current material's life. A key with a
// CurrentKeyMaterialId therefore has its current material's own values read
// from ListKeyRotations with IncludeKeyMaterial ALL_KEY_MATERIAL
// (API_ListKeyRotations.html); a key without one (a single material) uses
// DescribeKey's.
func (t *KMS) currentExpiration(ctx context.Context, md *types.KeyMetadata) (types.ExpirationModelType, *time.Time, string, error) {
	current := aws.ToString(md.CurrentKeyMaterialId)
	if current == "" {
		return md.ExpirationModel, md.ValidTo, "DescribeKey", nil
	}
	l, ok := t.Client.(rotationLister)
	if !ok {
		return "", nil, "", fmt.Errorf("%w: the KMS client %T cannot list key materials (ListKeyRotations)", errNoRotationLister, t.Client)
	}
	in := &kms.ListKeyRotationsInput{KeyId: md.Arn, IncludeKeyMaterial: types.IncludeKeyMaterialAllKeyMaterial}
	if in.KeyId == nil {
		in.KeyId = md.KeyId
	}
	for {
		out, err := l.ListKeyRotations(ctx, in)
		if err != nil {
			return "", nil, "", err
		}
		for _, r := range out.Rotations {
			if aws.ToString(r.KeyMaterialId) == current {
				return r.ExpirationModel, r.ValidTo, "ListKeyRotations", nil
			}
		}
		if !out.Truncated || out.NextMarker == nil {
			break
		}
		in.Marker = out.NextMarker
	}
	return "", nil, "", fmt.Errorf("byok: ListKeyRotations of %s does not list its current key material %s", aws.ToString(in.KeyId), current)
}
