package byok

import (
	"context"
	"errors"
	"fmt"
	"strings"
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
	// KeyMaterialID names the one key material of a SYMMETRIC_DEFAULT key
	// to prove, in any state (CURRENT, NON_CURRENT, PENDING_ROTATION): the
	// re-import names it, with its own expiration. Empty: the current one
	// (CurrentKeyMaterialId) first, then, if KMS refuses the source's
	// material as that one, each other key material of the key.
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
//     from the key and the material and must find the one named). When KMS
//     refuses it as the current material, the other key materials of the
//     key (pending rotation, or older) are tried the same way, each with
//     its own expiration; see reimport. See
//     https://docs.aws.amazon.com/kms/latest/APIReference/API_ImportKeyMaterial.html.
//
// RSA and EC public keys prove identity only when the source derived its
// public key from its private key (KeyInfo.PublicKeyFromPrivate); an HSM's
// is read from the token, so its key is proven by KMS verifying the
// source's signature, or by the re-import.
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
	v.Record(checkDescribe, false, mismatch)
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
	if err := t.reimport(ctx, v, md, info, src, opts.KeyMaterialID); err != nil {
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

// reimportTarget is one key material the re-import proof tries: its ID
// (empty for a key without key material IDs), state and own expiration.
type reimportTarget struct {
	id      string
	state   types.KeyMaterialState
	model   types.ExpirationModelType
	validTo *time.Time
	from    string // where the expiration was read
}

// reimportOutcome is what one re-import attempt showed.
type reimportOutcome int

const (
	reimportAccepted  reimportOutcome = iota // KMS accepted the material
	reimportIncorrect                        // IncorrectKeyMaterialException
	reimportNotRun                           // it could not run; why is in the reason
)

// reimport runs the re-import proof: the source's material, wrapped under
// fresh import parameters, imported again into the key with everything else
// unchanged.
//
// A SYMMETRIC_DEFAULT key may hold several key materials: the current one,
// older ones (NON_CURRENT, still used to decrypt) and new material imported
// for on-demand rotation (PENDING_ROTATION). KMS holds each of them, so a
// source whose material is one of them is the key's. The proof tries the
// current material first (or only wantID, when given) and, when KMS refuses
// the source's material as that one (IncorrectKeyMaterialException), each
// other material, each with its own KeyMaterialId, ExpirationModel and
// ValidTo from ListKeyRotations so that nothing changes. It is FAILED only
// when KMS refused the material as every one of them.
//
// AWS documents EXISTING_KEY_MATERIAL with a KeyMaterialId as: KMS computes
// the ID of the imported material, matches it against the one given and
// verifies that it is already associated with the key
// (API_ImportKeyMaterial.html, "KeyMaterialId"); material in
// PENDING_ROTATION is associated but "not permanently" (ListKeyRotations,
// RotationsListEntry.KeyMaterialState). Should KMS refuse a re-import into
// such material for that reason (any error but IncorrectKeyMaterialException)
// that material is reported as not tried, and the verdict cannot be FAILED
// on its account: it is UNPROVEN.
func (t *KMS) reimport(ctx context.Context, v *Verification, md *types.KeyMetadata, info KeyInfo, src KeySource, wantID string) error {
	arn := aws.ToString(md.Arn)
	if arn == "" {
		arn = aws.ToString(md.KeyId)
	}
	current := aws.ToString(md.CurrentKeyMaterialId)
	// Check first: everything the re-import keeps must be known.
	var targets []reimportTarget
	if current == "" {
		if wantID != "" {
			v.Skip(fmt.Sprintf("re-import not tried: the key reports no key material IDs, so key material %s cannot be named (--key-material-id is for SYMMETRIC_DEFAULT keys)", wantID))
			return nil
		}
		targets = []reimportTarget{{model: md.ExpirationModel, validTo: md.ValidTo, from: "DescribeKey"}}
	} else {
		mats, err := t.listMaterials(ctx, md)
		if err != nil {
			if !refused(err) && !errors.Is(err, errNoRotationLister) {
				return err
			}
			v.Skip(fmt.Sprintf("re-import not tried: ListKeyRotations failed (%v); without it byok cannot learn the current key material's own "+
				"expiration (DescribeKey's ValidTo is the earliest of all the key's materials), so it could not keep it unchanged; allow kms:ListKeyRotations", err))
			return nil
		}
		var first *reimportTarget
		var others []reimportTarget
		for _, r := range mats {
			tg := reimportTarget{id: aws.ToString(r.KeyMaterialId), state: r.KeyMaterialState, model: r.ExpirationModel, validTo: r.ValidTo, from: "ListKeyRotations"}
			switch {
			case wantID != "" && tg.id == wantID, wantID == "" && tg.id == current:
				first = &tg
			case wantID == "" && tg.id != "":
				if r.ImportState == types.ImportStatePendingImport {
					// Importing it would change the key (bring back
					// deleted or expired material); not a proof's business.
					continue
				}
				others = append(others, tg)
			}
		}
		if first == nil {
			if wantID != "" {
				v.Skip(fmt.Sprintf("re-import not tried: key material %s is not one of the key's key materials (ListKeyRotations does not list it); "+
					"list them with: aws kms list-key-rotations --key-id %s --include-key-material ALL_KEY_MATERIAL", wantID, arn))
				return nil
			}
			return fmt.Errorf("byok: ListKeyRotations of %s does not list its current key material %s", arn, current)
		}
		if first.state == "" && first.id == current {
			first.state = types.KeyMaterialStateCurrent
		}
		targets = append([]reimportTarget{*first}, others...)
	}
	var unknown []string
	kept := targets[:0]
	for i, tg := range targets {
		why := ""
		switch {
		case tg.model == "":
			why = tg.from + " reports no ExpirationModel for " + tg.name()
		case tg.model == types.ExpirationModelTypeKeyMaterialExpires && tg.validTo == nil:
			why = tg.from + " reports KEY_MATERIAL_EXPIRES without a ValidTo for " + tg.name()
		}
		switch {
		case why != "" && i == 0:
			v.Skip("re-import not tried: " + why + ", so the re-import could not keep it unchanged")
			return nil
		case why != "":
			unknown = append(unknown, tg.name()+" ("+why+")")
		default:
			kept = append(kept, tg)
		}
	}
	targets = kept

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

	var refusedAs, notRun []string
	for i, tg := range targets {
		outcome, detail, err := t.reimportOne(ctx, v, arn, info, src, choice, tg, i == 0)
		switch {
		case err != nil:
			return err
		case outcome == reimportAccepted:
			if i > 0 || (wantID != "" && tg.state != types.KeyMaterialStateCurrent) {
				detail = fmt.Sprintf("KMS holds the source key as key material %s (%s), not the current one (%s); ", tg.id, tg.state, current) + detail
				if len(refusedAs) > 0 {
					detail += "; KMS refused it as " + strings.Join(refusedAs, ", ") + " (IncorrectKeyMaterialException)"
				}
			}
			v.Add(Check{Name: checkReimport, OK: true, Identity: true, Detail: detail})
			return nil
		case outcome == reimportIncorrect:
			refusedAs = append(refusedAs, tg.name())
			if i == 0 && len(targets) == 1 && len(unknown) == 0 {
				v.Add(Check{Name: checkReimport, OK: false, Identity: true, Detail: detail})
				return nil
			}
		default:
			if i == 0 {
				// Refused for the first material: the others would be too.
				return nil
			}
			notRun = append(notRun, tg.name()+" ("+detail+")")
		}
	}
	notRun = append(notRun, unknown...)
	if len(notRun) > 0 {
		v.Skip(fmt.Sprintf("re-import: KMS refused the source's material as %s (IncorrectKeyMaterialException), and the re-import could not run as %s; "+
			"nothing shows whether the source is that material", strings.Join(refusedAs, ", "), strings.Join(notRun, ", ")))
		return nil
	}
	v.Add(Check{Name: checkReimport, OK: false, Identity: true,
		Detail: fmt.Sprintf("KMS refused the source's material (IncorrectKeyMaterialException) as each of the key's key materials: %s, so it holds different key material",
			strings.Join(refusedAs, ", "))})
	return nil
}

// name names a key material in messages.
func (tg reimportTarget) name() string {
	switch {
	case tg.id == "":
		return "the key's material"
	case tg.state == "":
		return "key material " + tg.id
	}
	return fmt.Sprintf("key material %s (%s)", tg.id, tg.state)
}

// reimportOne re-imports the source's material as one key material of the
// key, with that material's own expiration, and says what KMS answered.
// first: refusals are recorded in v as skips (the proof cannot run);
// otherwise they are returned as the reason, for the caller to report.
func (t *KMS) reimportOne(ctx context.Context, v *Verification, arn string, info KeyInfo, src KeySource, choice Choice, tg reimportTarget, first bool) (reimportOutcome, string, error) {
	in := &kms.ImportKeyMaterialInput{KeyId: aws.String(arn), ExpirationModel: tg.model}
	keep := string(tg.model)
	if tg.model == types.ExpirationModelTypeKeyMaterialExpires {
		in.ValidTo = tg.validTo
		keep += " and ValidTo " + tg.validTo.UTC().Format("2006-01-02T15:04:05Z")
	}
	p, err := t.params(ctx, arn, choice.Algorithm, choice.WrappingKeySpec, false)
	if err != nil {
		if first {
			if skipRefused(v, "GetParametersForImport", err) {
				return reimportNotRun, "", nil
			}
			return 0, "", err
		}
		return reimportNotRun, "GetParametersForImport: " + err.Error(), nil
	}
	wrapped, err := src.Wrap(ctx, p)
	if err != nil {
		if first {
			v.Skip(fmt.Sprintf("re-import not tried: the source could not wrap its key: %v", err))
		}
		return reimportNotRun, "the source could not wrap its key: " + err.Error(), nil
	}
	in.ImportToken, in.EncryptedKeyMaterial = p.ImportToken, wrapped
	how := "ImportKeyMaterial"
	if info.Spec == SymmetricDefault && tg.id != "" {
		// KeyMaterialId and ImportType are for symmetric encryption keys
		// only (API_ImportKeyMaterial.html, "KeyMaterialId").
		in.ImportType = types.ImportTypeExistingKeyMaterial
		in.KeyMaterialId = aws.String(tg.id)
		how += " (ImportType EXISTING_KEY_MATERIAL, KeyMaterialId " + tg.id + ")"
	}
	cost := fmt.Sprintf("cost: one GetParametersForImport (%s, %s) and one ImportKeyMaterial; ExpirationModel %s left unchanged",
		choice.Algorithm, choice.WrappingKeySpec, keep)
	out, err := t.Client.ImportKeyMaterial(ctx, in)
	var incorrect *types.IncorrectKeyMaterialException
	switch {
	case errors.As(err, &incorrect):
		return reimportIncorrect, fmt.Sprintf("%s: KMS refused the source's material (IncorrectKeyMaterialException: %s), so it holds different key material; %s",
			how, incorrect.ErrorMessage(), cost), nil
	case err != nil && first:
		if skipRefused(v, "ImportKeyMaterial", err) {
			return reimportNotRun, "", nil
		}
		return 0, "", fmt.Errorf("ImportKeyMaterial (re-import): %w", err)
	case err != nil:
		return reimportNotRun, "ImportKeyMaterial: " + err.Error(), nil
	}
	if got := aws.ToString(out.KeyMaterialId); in.KeyMaterialId != nil && got != "" && got != tg.id {
		v.Add(Check{Name: checkReimportMatID, OK: false, Identity: true,
			Detail: fmt.Sprintf("KMS answered key material %s; byok re-imported it as key material %s", got, tg.id)})
	}
	return reimportAccepted, fmt.Sprintf("%s: KMS accepted the source's material, as it does only for the material it already holds; %s", how, cost), nil
}

// errNoRotationLister: the client cannot list a key's key materials.
var errNoRotationLister = errors.New("byok: no ListKeyRotations")

// rotationLister is the optional part of a KMSAPI client that lists a key's
// key materials; *kms.Client implements it.
type rotationLister interface {
	ListKeyRotations(ctx context.Context, in *kms.ListKeyRotationsInput, optFns ...func(*kms.Options)) (*kms.ListKeyRotationsOutput, error)
}

// listMaterials returns the key materials of a key with a
// CurrentKeyMaterialId, with each one's own expiration, from
// ListKeyRotations with IncludeKeyMaterial ALL_KEY_MATERIAL
// (API_ListKeyRotations.html). DescribeKey's ValidTo is "the earliest time
// at which any imported key material permanently associated with this KMS
// key expires" (API_KeyMetadata.html), so after a rotation it may belong to
// older material: re-importing the current material with it would shorten
// the current material's life.
func (t *KMS) listMaterials(ctx context.Context, md *types.KeyMetadata) ([]types.RotationsListEntry, error) {
	l, ok := t.Client.(rotationLister)
	if !ok {
		return nil, fmt.Errorf("%w: the KMS client %T cannot list key materials (ListKeyRotations)", errNoRotationLister, t.Client)
	}
	in := &kms.ListKeyRotationsInput{KeyId: md.Arn, IncludeKeyMaterial: types.IncludeKeyMaterialAllKeyMaterial}
	if in.KeyId == nil {
		in.KeyId = md.KeyId
	}
	var all []types.RotationsListEntry
	for range 1000 {
		out, err := l.ListKeyRotations(ctx, in)
		if err != nil {
			return nil, err
		}
		all = append(all, out.Rotations...)
		if !out.Truncated || out.NextMarker == nil {
			return all, nil
		}
		in.Marker = out.NextMarker
	}
	return nil, fmt.Errorf("byok: ListKeyRotations of %s did not end after 1000 pages", aws.ToString(in.KeyId))
}
