package byok

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
)

// KMSAPI is the part of the AWS KMS client byok calls. *kms.Client
// implements it; so can a fake, a fault injector or a recorder.
type KMSAPI interface {
	CreateKey(ctx context.Context, in *kms.CreateKeyInput, optFns ...func(*kms.Options)) (*kms.CreateKeyOutput, error)
	DescribeKey(ctx context.Context, in *kms.DescribeKeyInput, optFns ...func(*kms.Options)) (*kms.DescribeKeyOutput, error)
	CreateAlias(ctx context.Context, in *kms.CreateAliasInput, optFns ...func(*kms.Options)) (*kms.CreateAliasOutput, error)
	GetParametersForImport(ctx context.Context, in *kms.GetParametersForImportInput, optFns ...func(*kms.Options)) (*kms.GetParametersForImportOutput, error)
	ImportKeyMaterial(ctx context.Context, in *kms.ImportKeyMaterialInput, optFns ...func(*kms.Options)) (*kms.ImportKeyMaterialOutput, error)
	GetPublicKey(ctx context.Context, in *kms.GetPublicKeyInput, optFns ...func(*kms.Options)) (*kms.GetPublicKeyOutput, error)
	Sign(ctx context.Context, in *kms.SignInput, optFns ...func(*kms.Options)) (*kms.SignOutput, error)
	Verify(ctx context.Context, in *kms.VerifyInput, optFns ...func(*kms.Options)) (*kms.VerifyOutput, error)
	GenerateMac(ctx context.Context, in *kms.GenerateMacInput, optFns ...func(*kms.Options)) (*kms.GenerateMacOutput, error)
	Encrypt(ctx context.Context, in *kms.EncryptInput, optFns ...func(*kms.Options)) (*kms.EncryptOutput, error)
	Decrypt(ctx context.Context, in *kms.DecryptInput, optFns ...func(*kms.Options)) (*kms.DecryptOutput, error)
}

var _ KMSAPI = (*kms.Client)(nil)

// KMS is the AWS KMS target. The zero value is not usable: set Client, or
// build one with NewKMS. It creates a KMS key with Origin EXTERNAL for each
// import, or uses KeyID when set.
type KMS struct {
	// Client is the KMS client (usually *kms.Client).
	Client KMSAPI

	// KeyID names an existing KMS key (ID, ARN or alias) to import into. It
	// must have Origin EXTERNAL, the source's key spec and usage, and be in
	// state PendingImport (or hold the same material, for a re-import).
	// Empty: a new key is created.
	KeyID string

	// For a new key: an alias ("alias/name"; the prefix is added if
	// missing), a description, tags, a key policy (JSON; empty: KMS's
	// default policy) and whether it is a multi-Region key.
	Alias       string
	Description string
	Tags        map[string]string
	Policy      string
	MultiRegion bool

	// ValidTo makes the key material expire at that time (at most 365 days
	// ahead); zero means KEY_MATERIAL_DOES_NOT_EXPIRE.
	ValidTo time.Time

	// ImportType (NEW_KEY_MATERIAL or EXISTING_KEY_MATERIAL), KeyMaterialID
	// and KeyMaterialDescription are passed to ImportKeyMaterial when set.
	ImportType             string
	KeyMaterialID          string
	KeyMaterialDescription string

	// ConsistencyWait bounds how long Prepare retries NotFoundException and
	// KMSInvalidStateException right after CreateKey (KMS is eventually
	// consistent). Zero means 10 seconds.
	ConsistencyWait time.Duration
}

var (
	_ KMSTarget          = (*KMS)(nil)
	_ ImportVerifier     = (*KMS)(nil)
	_ ParameterRefresher = (*KMS)(nil)
)

// NewKMS returns a KMS target whose Client is kms.NewFromConfig(cfg,
// optFns...). Load cfg where the program starts, usually with the AWS
// SDK's default chain (environment, shared config and credentials files,
// profiles, SSO, IMDS; AWS_ENDPOINT_URL_KMS for another endpoint):
//
//	cfg, err := config.LoadDefaultConfig(ctx) // github.com/aws/aws-sdk-go-v2/config
//	if err != nil { … }
//	target := byok.NewKMS(cfg)
//
// byok takes the configuration rather than loading it, so that a program
// importing byok links AWS's credential providers only if it loads a
// configuration itself; an offline tool that only wraps links none.
func NewKMS(cfg aws.Config, optFns ...func(*kms.Options)) *KMS {
	return &KMS{Client: kms.NewFromConfig(cfg, optFns...)}
}

// Prepare creates the KMS key (or checks KeyID) and calls
// GetParametersForImport.
func (t *KMS) Prepare(ctx context.Context, info KeyInfo, alg WrappingAlgorithm, wks WrappingKeySpec) (ImportParameters, error) {
	if t.Client == nil {
		return ImportParameters{}, errors.New("byok: KMS target has no Client; build it with byok.NewKMS")
	}
	if err := CheckCompatible(info.Spec, alg, wks); err != nil {
		return ImportParameters{}, err
	}
	keyID := t.KeyID
	created, reused := false, false
	if keyID == "" && t.Alias != "" {
		// Check, then create: an alias left by an interrupted run either
		// names the key to finish, or blocks the import before a second
		// key is made (CreateAlias would fail after CreateKey).
		id, err := t.CheckAlias(ctx, info)
		if err != nil {
			return ImportParameters{}, err
		}
		keyID, reused = id, id != ""
	}
	if keyID == "" {
		id, err := t.create(ctx, info)
		if err != nil {
			// id is set when the key exists although a later step failed.
			return ImportParameters{KeyID: id}, err
		}
		keyID, created = id, true
	} else if !reused {
		id, err := t.checkExisting(ctx, info)
		if err != nil {
			return ImportParameters{}, err
		}
		keyID = id
	}
	p, err := t.params(ctx, keyID, alg, wks, created)
	p.reused = reused
	return p, err
}

// Refresh gets new import parameters for the key p was issued for, with the
// same algorithm and wrapping key spec.
func (t *KMS) Refresh(ctx context.Context, p ImportParameters) (ImportParameters, error) {
	np, err := t.params(ctx, p.KeyID, p.Algorithm, p.WrappingKeySpec, false)
	np.reused = p.reused
	return np, err
}

// IsExpiredToken reports whether err is KMS's ExpiredImportTokenException.
func (t *KMS) IsExpiredToken(err error) bool {
	var e *types.ExpiredImportTokenException
	return errors.As(err, &e)
}

func (t *KMS) params(ctx context.Context, keyID string, alg WrappingAlgorithm, wks WrappingKeySpec, created bool) (ImportParameters, error) {
	var out *kms.GetParametersForImportOutput
	err := t.retryConsistency(ctx, created, func() error {
		var err error
		out, err = t.Client.GetParametersForImport(ctx, &kms.GetParametersForImportInput{
			KeyId:             aws.String(keyID),
			WrappingAlgorithm: types.AlgorithmSpec(alg),
			WrappingKeySpec:   types.WrappingKeySpec(wks),
		})
		return err
	})
	if err != nil {
		return ImportParameters{KeyID: keyID}, fmt.Errorf("byok: GetParametersForImport for %s (%s, %s): %w", keyID, alg, wks, err)
	}
	pub, err := ParseWrappingPublicKey(out.PublicKey)
	if err != nil {
		return ImportParameters{KeyID: keyID}, fmt.Errorf("byok: GetParametersForImport for %s: %w", keyID, err)
	}
	if got, _ := WrappingKeySpecOf(pub); got != wks {
		return ImportParameters{KeyID: keyID}, fmt.Errorf("%w: asked KMS for an %s wrapping key and got an %s one", ErrWrappingKey, wks, got)
	}
	p := ImportParameters{KeyID: keyID, Algorithm: alg, WrappingKeySpec: wks, WrappingKey: pub, ImportToken: out.ImportToken}
	if out.KeyId != nil {
		p.KeyID = *out.KeyId
	}
	if out.ParametersValidTo != nil {
		p.ValidTo = *out.ParametersValidTo
	}
	return p, nil
}

func (t *KMS) create(ctx context.Context, info KeyInfo) (string, error) {
	in := &kms.CreateKeyInput{
		Origin:   types.OriginTypeExternal,
		KeySpec:  types.KeySpec(info.Spec),
		KeyUsage: types.KeyUsageType(info.usage()),
	}
	if t.Description != "" {
		in.Description = aws.String(t.Description)
	} else {
		in.Description = aws.String(fmt.Sprintf("imported by byok from %s (%s)", info.Label, info.Fingerprint))
	}
	if t.Policy != "" {
		in.Policy = aws.String(t.Policy)
	}
	if t.MultiRegion {
		in.MultiRegion = aws.Bool(true)
	}
	for k, v := range t.Tags {
		if k == SourceFingerprintTag && info.Fingerprint != "" {
			continue // byok's own, below
		}
		in.Tags = append(in.Tags, types.Tag{TagKey: aws.String(k), TagValue: aws.String(v)})
	}
	if info.Fingerprint != "" && len(in.Tags) < maxKeyTags {
		// The evidence CheckAlias needs to finish this key after an
		// interruption, rather than any PendingImport key an alias names.
		in.Tags = append(in.Tags, types.Tag{TagKey: aws.String(SourceFingerprintTag), TagValue: aws.String(info.Fingerprint)})
	}
	out, err := t.Client.CreateKey(ctx, in)
	if err != nil {
		return "", fmt.Errorf("byok: CreateKey (%s, %s, Origin EXTERNAL): %w", info.Spec, info.usage(), err)
	}
	arn := aws.ToString(out.KeyMetadata.Arn)
	if arn == "" {
		arn = aws.ToString(out.KeyMetadata.KeyId)
	}
	if t.Alias != "" {
		name := AliasName(t.Alias)
		err := t.retryConsistency(ctx, true, func() error {
			_, err := t.Client.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String(name), TargetKeyId: out.KeyMetadata.KeyId})
			return err
		})
		if err != nil {
			return arn, fmt.Errorf("byok: created %s, but CreateAlias %s failed: %w", arn, name, err)
		}
	}
	return arn, nil
}

func (t *KMS) checkExisting(ctx context.Context, info KeyInfo) (string, error) {
	out, err := t.Client.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(t.KeyID)})
	if err != nil {
		return "", fmt.Errorf("byok: DescribeKey %s: %w", t.KeyID, err)
	}
	md := out.KeyMetadata
	arn := aws.ToString(md.Arn)
	switch {
	case md.Origin != types.OriginTypeExternal:
		return arn, fmt.Errorf("byok: %s has Origin %s; only keys created with Origin EXTERNAL take imported material: import into a new key instead (byok creates one, with Origin EXTERNAL, when no existing key is named)", arn, md.Origin)
	case KeySpec(md.KeySpec) != info.Spec:
		return arn, fmt.Errorf("byok: %s is a %s key; the source is %s — use a KMS key of the same spec", arn, md.KeySpec, info.Spec)
	case KeyUsage(md.KeyUsage) != info.usage():
		return arn, fmt.Errorf("byok: %s has key usage %s; the import asks for %s", arn, md.KeyUsage, info.usage())
	case md.KeyState == types.KeyStatePendingDeletion || md.KeyState == types.KeyStateDisabled || md.KeyState == types.KeyStateUnavailable:
		return arn, fmt.Errorf("byok: %s is in state %s; it must be PendingImport (or Enabled, to re-import the same material)", arn, md.KeyState)
	}
	return arn, nil
}

// retryConsistency retries f while KMS answers as if a just-created key did
// not exist yet.
func (t *KMS) retryConsistency(ctx context.Context, justCreated bool, f func() error) error {
	wait := t.ConsistencyWait
	if wait == 0 {
		wait = 10 * time.Second
	}
	deadline := time.Now().Add(wait)
	delay := 100 * time.Millisecond
	for {
		err := f()
		if err == nil || !justCreated || time.Now().After(deadline) {
			return err
		}
		var nf *types.NotFoundException
		var is *types.KMSInvalidStateException
		if !errors.As(err, &nf) && !errors.As(err, &is) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(delay):
		}
		delay = min(2*delay, time.Second)
	}
}

// Import calls ImportKeyMaterial.
func (t *KMS) Import(ctx context.Context, p ImportParameters, wrapped []byte) (Imported, error) {
	in := &kms.ImportKeyMaterialInput{
		KeyId:                aws.String(p.KeyID),
		ImportToken:          p.ImportToken,
		EncryptedKeyMaterial: wrapped,
		ExpirationModel:      types.ExpirationModelTypeKeyMaterialDoesNotExpire,
	}
	if !t.ValidTo.IsZero() {
		in.ExpirationModel = types.ExpirationModelTypeKeyMaterialExpires
		in.ValidTo = aws.Time(t.ValidTo)
	}
	if t.ImportType != "" {
		in.ImportType = types.ImportType(t.ImportType)
	}
	if t.KeyMaterialID != "" {
		in.KeyMaterialId = aws.String(t.KeyMaterialID)
	}
	if t.KeyMaterialDescription != "" {
		in.KeyMaterialDescription = aws.String(t.KeyMaterialDescription)
	}
	imp := Imported{KeyID: p.KeyID, KeyARN: p.KeyID, Created: t.KeyID == "" && !p.reused, ExpirationModel: string(in.ExpirationModel), ValidTo: t.ValidTo,
		Algorithm: p.Algorithm}
	out, err := t.Client.ImportKeyMaterial(ctx, in)
	if err != nil {
		return imp, fmt.Errorf("byok: ImportKeyMaterial into %s: %w", p.KeyID, err)
	}
	if out.KeyId != nil {
		imp.KeyARN = *out.KeyId
	}
	imp.KeyMaterialID = aws.ToString(out.KeyMaterialId)
	return imp, nil
}

// AliasName returns name with the "alias/" prefix KMS requires, added if
// missing.
func AliasName(name string) string {
	if strings.HasPrefix(name, "alias/") {
		return name
	}
	return "alias/" + name
}

// SourceFingerprintTag is the tag byok puts on every KMS key it creates, its
// value the source key's fingerprint (KeyInfo.Fingerprint), when the source
// has one. It is how a rerun knows that a key an alias names was created by
// byok for the same source (see CheckAlias); byok's migrations use the same
// tag.
const SourceFingerprintTag = "byok:source-fingerprint"

// maxKeyTags is how many tags a KMS key can have
// (https://docs.aws.amazon.com/kms/latest/developerguide/resource-limits.html).
const maxKeyTags = 50

// tagLister and policyGetter are optional parts of a KMSAPI client that
// CheckAlias uses to compare a key with the settings of this import;
// *kms.Client implements both.
type tagLister interface {
	ListResourceTags(ctx context.Context, in *kms.ListResourceTagsInput, optFns ...func(*kms.Options)) (*kms.ListResourceTagsOutput, error)
}

type policyGetter interface {
	GetKeyPolicy(ctx context.Context, in *kms.GetKeyPolicyInput, optFns ...func(*kms.Options)) (*kms.GetKeyPolicyOutput, error)
}

// CheckAlias looks up t.Alias before any key is created. It returns "" when
// the alias is free, and the key's ARN when the alias names a key an
// interrupted byok import of this same source left behind, which this
// import can finish: Origin EXTERNAL, state PendingImport, the same key spec
// and usage, tagged SourceFingerprintTag with the source's fingerprint (only
// byok sets it, on keys it creates), and with the settings this import asks
// for: t.Description, t.Tags, t.Policy (compared with GetKeyPolicy) and
// t.MultiRegion. An alias naming any other key is an error matching
// ErrAliasInUse that names the alias, the key, why and the fix; so is a
// DescribeKey failure other than NotFoundException, and a key whose tags or
// policy cannot be read.
func (t *KMS) CheckAlias(ctx context.Context, info KeyInfo) (string, error) {
	if t.Alias == "" {
		return "", nil
	}
	name := AliasName(t.Alias)
	out, err := t.Client.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(name)})
	var nf *types.NotFoundException
	switch {
	case errors.As(err, &nf):
		return "", nil
	case err != nil:
		return "", fmt.Errorf("byok: checking whether %s is free (DescribeKey %s): %w", name, name, err)
	case out.KeyMetadata == nil:
		return "", fmt.Errorf("byok: DescribeKey %s returned no key metadata", name)
	}
	md := out.KeyMetadata
	arn := aws.ToString(md.Arn)
	var why string
	switch {
	case md.Origin != types.OriginTypeExternal:
		why = fmt.Sprintf("a key with Origin %s, which cannot take imported material", md.Origin)
	case KeySpec(md.KeySpec) != info.Spec || KeyUsage(md.KeyUsage) != info.usage():
		why = fmt.Sprintf("a key of spec %s and usage %s, but the source needs %s and %s", md.KeySpec, md.KeyUsage, info.Spec, info.usage())
	case md.KeyState != types.KeyStatePendingImport:
		why = fmt.Sprintf("a key in state %s, which already holds key material or is going away", md.KeyState)
	default:
		why = t.notOurs(ctx, md, info)
		if why != "" {
			break
		}
		diffs, err := t.settingsDiffer(ctx, md)
		if err != nil {
			why = fmt.Sprintf("a PendingImport key byok created for this source, but %v, so byok cannot tell whether it has the settings this run asks for", err)
			break
		}
		if len(diffs) > 0 {
			return "", fmt.Errorf("%w: %s names %s, a PendingImport key an interrupted byok run created for this source, but its settings differ from this run's: %s; nothing was imported. "+
				"Rerun with the settings of the interrupted run, change the key to match (aws kms tag-resource, untag-resource, update-key-description, put-key-policy), "+
				"or use another alias (schedule that key's deletion: aws kms schedule-key-deletion --key-id %s --pending-window-in-days %d)",
				ErrAliasInUse, name, arn, strings.Join(diffs, "; "), arn, MinPendingWindowDays)
		}
		return arn, nil
	}
	return "", fmt.Errorf("%w: %s already names %s, %s; nothing was created. Use another alias, import into that key with its ID (if it is meant for this key), or move the alias: aws kms update-alias --alias-name %s --target-key-id KEY", ErrAliasInUse, name, arn, why, name)
}

// notOurs says why a PendingImport key is not one byok created for this
// source, or "" when its SourceFingerprintTag is the source's fingerprint.
func (t *KMS) notOurs(ctx context.Context, md *types.KeyMetadata, info KeyInfo) string {
	if info.Fingerprint == "" {
		return "a PendingImport key; the source has no fingerprint, so nothing shows that byok created that key for it"
	}
	tags, err := t.keyTags(ctx, md)
	if err != nil {
		return fmt.Sprintf("a PendingImport key whose tags byok could not read (%v), so nothing shows that byok created it for this source", err)
	}
	got, ok := tags[SourceFingerprintTag]
	switch {
	case !ok:
		return "a PendingImport key byok did not create (it has no " + SourceFingerprintTag + " tag)"
	case got != info.Fingerprint:
		return fmt.Sprintf("a PendingImport key byok created for another source (%s %s; this source is %s)", SourceFingerprintTag, got, info.Fingerprint)
	}
	return ""
}

// keyTags returns a key's tags.
func (t *KMS) keyTags(ctx context.Context, md *types.KeyMetadata) (map[string]string, error) {
	l, ok := t.Client.(tagLister)
	if !ok {
		return nil, fmt.Errorf("the KMS client %T cannot list tags (ListResourceTags)", t.Client)
	}
	in := &kms.ListResourceTagsInput{KeyId: md.KeyId}
	tags := map[string]string{}
	for range 100 {
		out, err := l.ListResourceTags(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("ListResourceTags: %w", err)
		}
		for _, tg := range out.Tags {
			tags[aws.ToString(tg.TagKey)] = aws.ToString(tg.TagValue)
		}
		if !out.Truncated || out.NextMarker == nil {
			return tags, nil
		}
		in.Marker = out.NextMarker
	}
	return nil, errors.New("ListResourceTags did not end after 100 pages")
}

// settingsDiffer compares a key byok created with the settings this import
// asks for, and lists every difference, in flags' terms.
func (t *KMS) settingsDiffer(ctx context.Context, md *types.KeyMetadata) ([]string, error) {
	var diffs []string
	if t.Description != "" && aws.ToString(md.Description) != t.Description {
		diffs = append(diffs, fmt.Sprintf("its description is %q, this run asks for %q (--description)", aws.ToString(md.Description), t.Description))
	}
	if aws.ToBool(md.MultiRegion) != t.MultiRegion {
		diffs = append(diffs, fmt.Sprintf("it is multi-Region: %v, this run asks for %v (--multi-region)", aws.ToBool(md.MultiRegion), t.MultiRegion))
	}
	tags, err := t.keyTags(ctx, md)
	if err != nil {
		return nil, err
	}
	var keys []string
	for k := range t.Tags {
		keys = append(keys, k)
	}
	for k := range tags {
		if _, asked := t.Tags[k]; !asked && k != SourceFingerprintTag {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		want, asked := t.Tags[k]
		got, has := tags[k]
		switch {
		case k == SourceFingerprintTag:
		case !has:
			diffs = append(diffs, fmt.Sprintf("it has no tag %s, this run asks for %s=%s (--tag)", k, k, want))
		case !asked:
			diffs = append(diffs, fmt.Sprintf("it has tag %s=%s, which this run does not ask for (--tag)", k, got))
		case got != want:
			diffs = append(diffs, fmt.Sprintf("its tag %s is %s, this run asks for %s (--tag)", k, got, want))
		}
	}
	// The key policy is compared whether or not --policy was given: without
	// it, the key must have the default key policy CreateKey gives, or a
	// key whose policy was opened up (by anyone who could tag it) would be
	// filled with the source's key material.
	g, ok := t.Client.(policyGetter)
	if !ok {
		return nil, fmt.Errorf("the KMS client %T cannot read key policies (GetKeyPolicy) to compare with this run's", t.Client)
	}
	out, err := g.GetKeyPolicy(ctx, &kms.GetKeyPolicyInput{KeyId: md.KeyId, PolicyName: aws.String("default")})
	if err != nil {
		if t.Policy != "" {
			return nil, fmt.Errorf("GetKeyPolicy failed (%v) and --policy was given", err)
		}
		return nil, fmt.Errorf("GetKeyPolicy failed (%v), and without --policy the key must have KMS's default key policy", err)
	}
	if t.Policy != "" {
		if same, err := samePolicy(aws.ToString(out.Policy), t.Policy); err != nil {
			return nil, err
		} else if !same {
			diffs = append(diffs, "its key policy differs from the one this run asks for (--policy)")
		}
	} else if why := notDefaultPolicy(aws.ToString(out.Policy), aws.ToString(md.Arn)); why != "" {
		diffs = append(diffs, "its key policy is not KMS's default key policy ("+why+"), and this run gives no --policy "+
			"(give --policy FILE with the policy the interrupted run gave, or restore the default with aws kms put-key-policy)")
	}
	return diffs, nil
}

// notDefaultPolicy says how policy differs from the default key policy
// CreateKey gives a key created without a policy: one statement allowing
// the account's root principal (arn:PARTITION:iam::ACCOUNT:root, the
// account from keyARN) kms:* on "*", as
// https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-default.html
// gives it. Sid and Id are ignored, as are white space and a one-element
// list written for a single value; "" means it is the default.
func notDefaultPolicy(policy, keyARN string) string {
	f := strings.Split(keyARN, ":")
	if len(f) < 6 || f[4] == "" {
		return fmt.Sprintf("the key's ARN %q names no account", keyARN)
	}
	root := "arn:" + f[1] + ":iam::" + f[4] + ":root"
	var doc map[string]any
	if err := json.Unmarshal([]byte(policy), &doc); err != nil {
		return fmt.Sprintf("it is not a JSON object: %v", err)
	}
	for k, v := range doc {
		switch k {
		case "Id":
		case "Version":
			if v != "2012-10-17" {
				return fmt.Sprintf("Version %v, not 2012-10-17", v)
			}
		case "Statement":
		default:
			return fmt.Sprintf("it has %s, which the default policy has not", k)
		}
	}
	st, ok := doc["Statement"].([]any)
	if !ok {
		st = []any{doc["Statement"]}
	}
	if len(st) != 1 {
		return fmt.Sprintf("%d statements, not one", len(st))
	}
	s, ok := st[0].(map[string]any)
	if !ok {
		return "its statement is not a JSON object"
	}
	one := func(v any) any { // a one-element list is its element
		if l, ok := v.([]any); ok && len(l) == 1 {
			return l[0]
		}
		return v
	}
	for k, v := range s {
		switch k {
		case "Sid":
		case "Effect":
			if v != "Allow" {
				return fmt.Sprintf("Effect %v, not Allow", v)
			}
		case "Action":
			if one(v) != "kms:*" {
				return fmt.Sprintf("Action %v, not kms:*", v)
			}
		case "Resource":
			if one(v) != "*" {
				return fmt.Sprintf("Resource %v, not *", v)
			}
		case "Principal":
			p, ok := v.(map[string]any)
			if !ok || len(p) != 1 || one(p["AWS"]) != root {
				b, _ := json.Marshal(v)
				return fmt.Sprintf("Principal %s, not {\"AWS\":%q}", b, root)
			}
		default:
			return fmt.Sprintf("its statement has %s, which the default policy has not", k)
		}
	}
	for _, k := range []string{"Effect", "Action", "Resource", "Principal"} {
		if _, ok := s[k]; !ok {
			return "its statement has no " + k
		}
	}
	return ""
}

// samePolicy compares two key policies as JSON values: KMS may return a
// policy with other white space than it was given.
func samePolicy(a, b string) (bool, error) {
	var x, y any
	if err := json.Unmarshal([]byte(a), &x); err != nil {
		return false, fmt.Errorf("the key's policy is not JSON: %v", err)
	}
	if err := json.Unmarshal([]byte(b), &y); err != nil {
		return false, fmt.Errorf("the policy this run asks for is not JSON: %v", err)
	}
	return reflect.DeepEqual(x, y), nil
}

// MinPendingWindowDays is the shortest waiting period KMS allows before it
// deletes a key scheduled for deletion (7 days; 30 by default), during which
// the deletion can be cancelled with CancelKeyDeletion. See
// https://docs.aws.amazon.com/kms/latest/APIReference/API_ScheduleKeyDeletion.html
const MinPendingWindowDays = 7

// keyDeleter is the optional part of a KMSAPI client that schedules key
// deletion; *kms.Client implements it.
type keyDeleter interface {
	ScheduleKeyDeletion(ctx context.Context, in *kms.ScheduleKeyDeletionInput, optFns ...func(*kms.Options)) (*kms.ScheduleKeyDeletionOutput, error)
}

// aliasDeleter is the optional part of a KMSAPI client that deletes aliases;
// *kms.Client implements it.
type aliasDeleter interface {
	DeleteAlias(ctx context.Context, in *kms.DeleteAliasInput, optFns ...func(*kms.Options)) (*kms.DeleteAliasOutput, error)
}

// Deletion is what ScheduleDeletion did.
type Deletion struct {
	// Date is when KMS will delete the key.
	Date time.Time
	// AliasDeleted is the alias that named the key and was deleted, if any.
	AliasDeleted string
}

// ScheduleDeletion undoes a key an import created and could not finish: it
// schedules the key's deletion with the shortest waiting period KMS allows
// (MinPendingWindowDays) and returns the date KMS will delete it. When
// t.Alias names that key, the alias is deleted first, so that a new run can
// use it at once. The client must implement ScheduleKeyDeletion (and
// DeleteAlias for the alias), as *kms.Client does.
func (t *KMS) ScheduleDeletion(ctx context.Context, keyID string) (Deletion, error) {
	var del Deletion
	d, ok := t.Client.(keyDeleter)
	if !ok {
		return del, fmt.Errorf("byok: the KMS client %T cannot schedule key deletion", t.Client)
	}
	if t.Alias != "" {
		name := AliasName(t.Alias)
		if out, err := t.Client.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(name)}); err == nil && out.KeyMetadata != nil &&
			(aws.ToString(out.KeyMetadata.Arn) == keyID || aws.ToString(out.KeyMetadata.KeyId) == keyID) {
			if ad, ok := t.Client.(aliasDeleter); ok {
				if _, err := ad.DeleteAlias(ctx, &kms.DeleteAliasInput{AliasName: aws.String(name)}); err != nil {
					return del, fmt.Errorf("byok: DeleteAlias %s: %w", name, err)
				}
				del.AliasDeleted = name
			}
		}
	}
	out, err := d.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: aws.String(keyID), PendingWindowInDays: aws.Int32(MinPendingWindowDays)})
	if err != nil {
		return del, fmt.Errorf("byok: ScheduleKeyDeletion %s: %w", keyID, err)
	}
	del.Date = aws.ToTime(out.DeletionDate)
	return del, nil
}
