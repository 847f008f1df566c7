package kmstest

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/kms/types"
)

func (e *Emulator) defaultPolicy() string {
	return fmt.Sprintf(`{
  "Version" : "2012-10-17",
  "Id" : "key-default-1",
  "Statement" : [ {
    "Sid" : "Enable IAM User Permissions",
    "Effect" : "Allow",
    "Principal" : {
      "AWS" : "arn:aws:iam::%s:root"
    },
    "Action" : "kms:*",
    "Resource" : "*"
  } ]
}`, e.opts.account)
}

// checkPolicy validates a key policy: length and JSON syntax. The policy is
// stored and returned, never enforced.
func checkPolicy(p *string) *apiError {
	if err := checkString(p, "policy", 1, 32768); err != nil {
		return err
	}
	if p != nil && !json.Valid([]byte(*p)) {
		return newErr(ErrMalformedPolicyDocument, "The key policy is not a valid JSON document.")
	}
	return nil
}

// maxTags is how many tags a KMS key can have.
const maxTags = 50

// checkTags validates the Tags member of CreateKey, TagResource and
// ReplicateKey.
//
// The 50-tag limit is checked first, so that an oversized request costs no
// more than its decoding; duplicates are found with a map, not by pairs.
func checkTags(in []tagJSON) ([]tag, *apiError) {
	if len(in) > maxTags {
		return nil, newErr(ErrTag, "A KMS key can have at most %d tags; the request has %d.", maxTags, len(in))
	}
	out := make([]tag, 0, len(in))
	seen := make(map[string]bool, len(in))
	for i, t := range in {
		m := fmt.Sprintf("tags.%d.member", i+1)
		if err := checkRequiredString(t.TagKey, m+".tagKey", 1, 128); err != nil {
			return nil, err
		}
		if err := checkRequiredString(t.TagValue, m+".tagValue", 0, 256); err != nil {
			return nil, err
		}
		if strings.HasPrefix(strings.ToLower(*t.TagKey), "aws:") {
			return nil, newErr(ErrTag, "Tag keys beginning with 'aws:' are reserved for AWS use: %s", *t.TagKey)
		}
		if seen[*t.TagKey] {
			return nil, newErr(ErrTag, "Duplicate tag key %s in the request", *t.TagKey)
		}
		seen[*t.TagKey] = true
		out = append(out, tag{Key: *t.TagKey, Value: *t.TagValue})
	}
	return out, nil
}

func mergeTags(have, add []tag) ([]tag, *apiError) {
	out := slices.Clone(have)
	for _, t := range add {
		if i := slices.IndexFunc(out, func(x tag) bool { return x.Key == t.Key }); i >= 0 {
			out[i].Value = t.Value
		} else {
			out = append(out, t)
		}
	}
	if len(out) > maxTags {
		return nil, newErr(ErrTag, "A KMS key can have at most %d tags.", maxTags)
	}
	return out, nil
}

func tagsJSON(tags []tag) []tagJSON {
	out := make([]tagJSON, len(tags))
	for i, t := range tags {
		out[i] = tagJSON{TagKey: &t.Key, TagValue: &t.Value}
	}
	return out
}

func (e *Emulator) createKey(rc *reqCtx, body []byte) (any, *apiError) {
	var in struct {
		Policy                         *string
		Description                    *string
		KeyUsage                       types.KeyUsageType
		CustomerMasterKeySpec          types.CustomerMasterKeySpec
		KeySpec                        types.KeySpec
		Origin                         types.OriginType
		CustomKeyStoreId               *string
		BypassPolicyLockoutSafetyCheck *bool
		Tags                           []tagJSON
		MultiRegion                    *bool
		XksKeyId                       *string
	}
	if err := decodeRequest(body, &in); err != nil {
		return nil, err
	}
	if err := e.enter(rc); err != nil {
		return nil, err
	}
	for _, err := range []*apiError{
		checkString(in.Description, "description", 0, 8192),
		checkString(in.CustomKeyStoreId, "customKeyStoreId", 1, 64),
		checkString(in.XksKeyId, "xksKeyId", 1, 128),
		checkEnum(in.KeyUsage, "keyUsage", types.KeyUsageType("").Values()),
		checkEnum(in.CustomerMasterKeySpec, "customerMasterKeySpec", types.CustomerMasterKeySpec("").Values()),
		checkEnum(in.KeySpec, "keySpec", types.KeySpec("").Values()),
		checkEnum(in.Origin, "origin", types.OriginType("").Values()),
		checkPolicy(in.Policy),
	} {
		if err != nil {
			return nil, err
		}
	}
	tags, aerr := checkTags(in.Tags)
	if aerr != nil {
		return nil, aerr
	}
	if in.KeySpec != "" && in.CustomerMasterKeySpec != "" {
		return nil, newErr(ErrValidation, "You cannot specify KeySpec and CustomerMasterKeySpec in the same request. CustomerMasterKeySpec is deprecated.")
	}
	spec := string(in.KeySpec)
	if spec == "" {
		spec = string(in.CustomerMasterKeySpec)
	}
	if spec == "" {
		spec = "SYMMETRIC_DEFAULT"
	}
	usage := string(in.KeyUsage)
	if usage == "" {
		usage = usageEncrypt
	}
	origin := string(in.Origin)
	if origin == "" {
		origin = originAWSKMS
	}
	if in.CustomKeyStoreId != nil {
		return nil, newErr(ErrCustomKeyStoreNotFound, "Custom key store %s does not exist (kmstest emulates no custom key stores).", *in.CustomKeyStoreId)
	}
	if origin != originAWSKMS && origin != originExternal {
		return nil, newErr(ErrValidation, "Origin %s requires a CustomKeyStoreId.", origin)
	}
	if in.XksKeyId != nil {
		return nil, newErr(ErrValidation, "XksKeyId is valid only with Origin EXTERNAL_KEY_STORE.")
	}
	row := specTable[spec]
	if !slices.Contains(row.usages, usage) {
		return nil, newErr(ErrValidation, "KeyUsage %s is not compatible with KeySpec %s; valid key usages: %v", usage, spec, row.usages)
	}
	if spec == "SM2" && partition(rc.region) != "aws-cn" {
		return nil, newErr(ErrValidation, "KeySpec SM2 is supported only in China Regions.")
	}
	multi := in.MultiRegion != nil && *in.MultiRegion
	k := &key{
		ID:            newKeyID(multi),
		Region:        rc.region,
		Created:       rc.now,
		Spec:          spec,
		Usage:         usage,
		Origin:        origin,
		Policy:        e.defaultPolicy(),
		Tags:          tags,
		MultiRegion:   multi,
		PrimaryRegion: "",
	}
	if multi {
		k.PrimaryRegion = rc.region
	}
	if in.Description != nil {
		k.Description = *in.Description
	}
	if in.Policy != nil {
		k.Policy = *in.Policy
	}
	switch {
	case origin == originExternal && specTable[spec].emulated:
	case origin == originExternal:
		return nil, newErr(ErrUnsupportedOperation, "KMS cannot import key material for KeySpec %s; keys of this spec are generated inside KMS.", spec)
	case !row.emulated:
		return nil, newErr(ErrNotImplemented, "kmstest does not emulate KeySpec %s", spec)
	default:
		// Generating an RSA key takes a while: do it unlocked.
		var mat []byte
		var err error
		if cerr := e.unlocked(func() { mat, err = generateMaterial(spec) }); cerr != nil {
			clear(mat)
			return nil, cerr
		}
		if err != nil {
			return nil, newErr(ErrKMSInternal, "generating key material: %v", err)
		}
		k.Materials = []*material{{ID: materialID(k.ID, mat), Bytes: mat, State: matCurrent}}
	}
	rs := e.region(rc.region)
	rs.Keys[k.ID] = k
	rs.Order = append(rs.Order, k.ID)
	e.touchKey(k.ID)
	return map[string]any{"KeyMetadata": e.metadata(k)}, nil
}

func (e *Emulator) describeKey(rc *reqCtx, body []byte) (any, *apiError) {
	var in struct {
		KeyId       *string
		GrantTokens []string
	}
	if err := decodeRequest(body, &in); err != nil {
		return nil, err
	}
	if err := e.enter(rc); err != nil {
		return nil, err
	}
	k, err := e.resolveKey(rc, in.KeyId, "keyId", true)
	if err != nil {
		return nil, err
	}
	return map[string]any{"KeyMetadata": e.metadata(k)}, nil
}

type listIn struct {
	Limit  *int32
	Marker *string
}

func (e *Emulator) listKeys(rc *reqCtx, body []byte) (any, *apiError) {
	var in listIn
	if err := decodeRequest(body, &in); err != nil {
		return nil, err
	}
	if err := e.enter(rc); err != nil {
		return nil, err
	}
	if err := checkLimit(in.Limit, "limit", 1000); err != nil {
		return nil, err
	}
	if err := checkString(in.Marker, "marker", 1, 1024); err != nil {
		return nil, err
	}
	rs := e.region(rc.region)
	start, end, next, err := page(len(rs.Order), in.Limit, in.Marker, 100)
	if err != nil {
		return nil, err
	}
	type entry struct {
		KeyId  string `json:"KeyId"`
		KeyArn string `json:"KeyArn"`
	}
	keys := []entry{}
	for _, id := range rs.Order[start:end] {
		keys = append(keys, entry{id, e.keyARN(rc.region, id)})
	}
	return struct {
		Keys       []entry `json:"Keys"`
		NextMarker *string `json:"NextMarker,omitempty"`
		Truncated  bool    `json:"Truncated"`
	}{keys, next, next != nil}, nil
}

func (e *Emulator) createAlias(rc *reqCtx, body []byte) (any, *apiError) {
	var in struct {
		AliasName   *string
		TargetKeyId *string
	}
	if err := decodeRequest(body, &in); err != nil {
		return nil, err
	}
	if err := e.enter(rc); err != nil {
		return nil, err
	}
	if err := checkAliasName(in.AliasName); err != nil {
		return nil, err
	}
	if strings.HasPrefix(*in.AliasName, "alias/aws/") {
		return nil, newErr(ErrInvalidAliasName, "The alias name cannot begin with alias/aws/; that prefix is reserved for AWS managed keys.")
	}
	k, err := e.resolveKey(rc, in.TargetKeyId, "targetKeyId", false)
	if err != nil {
		return nil, err
	}
	if k.pendingDeletion() {
		return nil, e.requireState(k)
	}
	rs := e.region(rc.region)
	if rs.Aliases[*in.AliasName] != nil {
		return nil, newErr(ErrAlreadyExists, "An alias with the name %s already exists", e.aliasARN(rc.region, *in.AliasName))
	}
	rs.Aliases[*in.AliasName] = &alias{Name: *in.AliasName, TargetKeyID: k.ID, Created: rc.now, Updated: rc.now}
	e.touchAlias(rc.region, *in.AliasName)
	return struct{}{}, nil
}

func checkAliasName(name *string) *apiError {
	if err := checkRequiredString(name, "aliasName", 1, 256); err != nil {
		return err
	}
	if !aliasNamePattern.MatchString(*name) {
		return validationErr(*name, "aliasName", "Member must satisfy regular expression pattern: ^[a-zA-Z0-9:/_-]+$")
	}
	if !strings.HasPrefix(*name, "alias/") || len(*name) == len("alias/") {
		return newErr(ErrValidation, `Alias must start with the prefix "alias/". Please see https://docs.aws.amazon.com/kms/latest/developerguide/kms-alias.html`)
	}
	return nil
}

func (e *Emulator) deleteAlias(rc *reqCtx, body []byte) (any, *apiError) {
	var in struct{ AliasName *string }
	if err := decodeRequest(body, &in); err != nil {
		return nil, err
	}
	if err := e.enter(rc); err != nil {
		return nil, err
	}
	if err := checkAliasName(in.AliasName); err != nil {
		return nil, err
	}
	rs := e.region(rc.region)
	if rs.Aliases[*in.AliasName] == nil {
		return nil, newErr(ErrNotFound, "Alias %s is not found.", e.aliasARN(rc.region, *in.AliasName))
	}
	delete(rs.Aliases, *in.AliasName)
	e.touchAlias(rc.region, *in.AliasName)
	return struct{}{}, nil
}

func (e *Emulator) listAliases(rc *reqCtx, body []byte) (any, *apiError) {
	var in struct {
		KeyId  *string
		Limit  *int32
		Marker *string
	}
	if err := decodeRequest(body, &in); err != nil {
		return nil, err
	}
	if err := e.enter(rc); err != nil {
		return nil, err
	}
	if err := checkLimit(in.Limit, "limit", 100); err != nil {
		return nil, err
	}
	var only string
	if in.KeyId != nil {
		k, err := e.resolveKey(rc, in.KeyId, "keyId", false)
		if err != nil {
			return nil, err
		}
		only = k.ID
	}
	rs := e.region(rc.region)
	var names []string
	for n, a := range rs.Aliases {
		if only == "" || a.TargetKeyID == only {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	start, end, next, err := page(len(names), in.Limit, in.Marker, 50)
	if err != nil {
		return nil, err
	}
	type entry struct {
		AliasName       string `json:"AliasName"`
		AliasArn        string `json:"AliasArn"`
		TargetKeyId     string `json:"TargetKeyId"`
		CreationDate    *epoch `json:"CreationDate"`
		LastUpdatedDate *epoch `json:"LastUpdatedDate"`
	}
	out := []entry{}
	for _, n := range names[start:end] {
		a := rs.Aliases[n]
		out = append(out, entry{a.Name, e.aliasARN(rc.region, a.Name), a.TargetKeyID, ts(a.Created), ts(a.Updated)})
	}
	return struct {
		Aliases    []entry `json:"Aliases"`
		NextMarker *string `json:"NextMarker,omitempty"`
		Truncated  bool    `json:"Truncated"`
	}{out, next, next != nil}, nil
}

func (e *Emulator) tagResource(rc *reqCtx, body []byte) (any, *apiError) {
	var in struct {
		KeyId *string
		Tags  []tagJSON
	}
	if err := decodeRequest(body, &in); err != nil {
		return nil, err
	}
	if err := e.enter(rc); err != nil {
		return nil, err
	}
	if in.Tags == nil {
		return nil, requiredErr("tags")
	}
	tags, err := checkTags(in.Tags)
	if err != nil {
		return nil, err
	}
	k, err := e.resolveKey(rc, in.KeyId, "keyId", false)
	if err != nil {
		return nil, err
	}
	if k.pendingDeletion() {
		return nil, e.requireState(k)
	}
	merged, err := mergeTags(k.Tags, tags)
	if err != nil {
		return nil, err
	}
	k.Tags = merged
	e.touchKey(k.ID)
	return struct{}{}, nil
}

func (e *Emulator) untagResource(rc *reqCtx, body []byte) (any, *apiError) {
	var in struct {
		KeyId   *string
		TagKeys []string
	}
	if err := decodeRequest(body, &in); err != nil {
		return nil, err
	}
	if err := e.enter(rc); err != nil {
		return nil, err
	}
	if in.TagKeys == nil {
		return nil, requiredErr("tagKeys")
	}
	k, err := e.resolveKey(rc, in.KeyId, "keyId", false)
	if err != nil {
		return nil, err
	}
	if k.pendingDeletion() {
		return nil, e.requireState(k)
	}
	k.Tags = slices.DeleteFunc(k.Tags, func(t tag) bool { return slices.Contains(in.TagKeys, t.Key) })
	e.touchKey(k.ID)
	return struct{}{}, nil
}

func (e *Emulator) listResourceTags(rc *reqCtx, body []byte) (any, *apiError) {
	var in struct {
		KeyId  *string
		Limit  *int32
		Marker *string
	}
	if err := decodeRequest(body, &in); err != nil {
		return nil, err
	}
	if err := e.enter(rc); err != nil {
		return nil, err
	}
	if err := checkLimit(in.Limit, "limit", 50); err != nil {
		return nil, err
	}
	k, err := e.resolveKey(rc, in.KeyId, "keyId", false)
	if err != nil {
		return nil, err
	}
	start, end, next, err := page(len(k.Tags), in.Limit, in.Marker, 50)
	if err != nil {
		return nil, err
	}
	return struct {
		Tags       []tagJSON `json:"Tags"`
		NextMarker *string   `json:"NextMarker,omitempty"`
		Truncated  bool      `json:"Truncated"`
	}{tagsJSON(k.Tags[start:end]), next, next != nil}, nil
}

func (e *Emulator) scheduleKeyDeletion(rc *reqCtx, body []byte) (any, *apiError) {
	var in struct {
		KeyId               *string
		PendingWindowInDays *int32
	}
	if err := decodeRequest(body, &in); err != nil {
		return nil, err
	}
	if err := e.enter(rc); err != nil {
		return nil, err
	}
	days := int32(30)
	if in.PendingWindowInDays != nil {
		days = *in.PendingWindowInDays
		if days < 7 {
			return nil, validationErr(days, "pendingWindowInDays", "Member must have value greater than or equal to 7")
		}
		if days > 30 {
			return nil, validationErr(days, "pendingWindowInDays", "Member must have value less than or equal to 30")
		}
	}
	k, err := e.resolveKey(rc, in.KeyId, "keyId", false)
	if err != nil {
		return nil, err
	}
	if k.pendingDeletion() {
		return nil, e.requireState(k)
	}
	k.PendingWindow = days
	out := struct {
		KeyId               string `json:"KeyId"`
		DeletionDate        *epoch `json:"DeletionDate,omitempty"`
		KeyState            string `json:"KeyState"`
		PendingWindowInDays int32  `json:"PendingWindowInDays"`
	}{KeyId: e.arn(k), PendingWindowInDays: days}
	if k.isPrimary() && len(e.replicas(k)) > 0 {
		k.ReplicaDeletion = true
	} else {
		k.DeletionDate = rc.now.Add(time.Duration(days) * 24 * time.Hour)
		e.wake(k.DeletionDate)
		out.DeletionDate = ts(k.DeletionDate)
	}
	out.KeyState = k.state()
	e.touchKey(k.ID)
	return out, nil
}

func (e *Emulator) cancelKeyDeletion(rc *reqCtx, body []byte) (any, *apiError) {
	var in struct{ KeyId *string }
	if err := decodeRequest(body, &in); err != nil {
		return nil, err
	}
	if err := e.enter(rc); err != nil {
		return nil, err
	}
	k, err := e.resolveKey(rc, in.KeyId, "keyId", false)
	if err != nil {
		return nil, err
	}
	if !k.pendingDeletion() {
		return nil, newErr(ErrKMSInvalidState, "%s is not pending deletion.", e.arn(k))
	}
	k.DeletionDate, k.ReplicaDeletion, k.PendingWindow = time.Time{}, false, 0
	k.Disabled = true // AWS leaves a key whose deletion was canceled disabled
	e.touchKey(k.ID)
	return map[string]string{"KeyId": e.arn(k)}, nil
}

func (e *Emulator) enableKey(rc *reqCtx, body []byte) (any, *apiError) {
	return e.setEnabled(rc, body, true)
}

func (e *Emulator) disableKey(rc *reqCtx, body []byte) (any, *apiError) {
	return e.setEnabled(rc, body, false)
}

func (e *Emulator) setEnabled(rc *reqCtx, body []byte, enabled bool) (any, *apiError) {
	var in struct{ KeyId *string }
	if err := decodeRequest(body, &in); err != nil {
		return nil, err
	}
	if err := e.enter(rc); err != nil {
		return nil, err
	}
	k, err := e.resolveKey(rc, in.KeyId, "keyId", false)
	if err != nil {
		return nil, err
	}
	if st := k.state(); st != stateEnabled && st != stateDisabled {
		return nil, newErr(ErrKMSInvalidState, "%s is %s.", e.arn(k), keyStateText(st))
	}
	k.Disabled = !enabled
	e.touchKey(k.ID)
	return struct{}{}, nil
}

func (e *Emulator) replicateKey(rc *reqCtx, body []byte) (any, *apiError) {
	var in struct {
		KeyId                          *string
		ReplicaRegion                  *string
		Description                    *string
		Policy                         *string
		BypassPolicyLockoutSafetyCheck *bool
		Tags                           []tagJSON
	}
	if err := decodeRequest(body, &in); err != nil {
		return nil, err
	}
	if err := e.enter(rc); err != nil {
		return nil, err
	}
	if err := checkRequiredString(in.ReplicaRegion, "replicaRegion", 1, 32); err != nil {
		return nil, err
	}
	if !regionPattern.MatchString(*in.ReplicaRegion) {
		return nil, validationErr(*in.ReplicaRegion, "replicaRegion", "Member must satisfy regular expression pattern: ^([a-z]+-){2,3}\\d+$")
	}
	if err := checkString(in.Description, "description", 0, 8192); err != nil {
		return nil, err
	}
	if err := checkPolicy(in.Policy); err != nil {
		return nil, err
	}
	tags, aerr := checkTags(in.Tags)
	if aerr != nil {
		return nil, aerr
	}
	k, err := e.resolveKey(rc, in.KeyId, "keyId", false)
	if err != nil {
		return nil, err
	}
	if !k.MultiRegion {
		return nil, newErr(ErrUnsupportedOperation, "%s is not a multi-Region key.", e.arn(k))
	}
	if k.isReplica() {
		return nil, newErr(ErrUnsupportedOperation, "%s is a replica key; replicate the primary key in %s.", e.arn(k), k.PrimaryRegion)
	}
	if k.pendingDeletion() {
		return nil, e.requireState(k)
	}
	target := *in.ReplicaRegion
	if target == k.Region {
		return nil, newErr(ErrValidation, "The replica Region %s is the Region of the primary key.", target)
	}
	if partition(target) != partition(k.Region) {
		return nil, newErr(ErrValidation, "Cannot replicate a key from partition %s to Region %s.", partition(k.Region), target)
	}
	rs := e.region(target)
	if rs.Keys[k.ID] != nil {
		return nil, newErr(ErrAlreadyExists, "A replica of %s already exists in %s.", e.arn(k), target)
	}
	r := &key{
		ID:            k.ID,
		Region:        target,
		Created:       rc.now,
		Spec:          k.Spec,
		Usage:         k.Usage,
		Origin:        k.Origin,
		Policy:        e.defaultPolicy(),
		Tags:          tags,
		Disabled:      k.Disabled,
		MultiRegion:   true,
		PrimaryRegion: k.Region,
	}
	if in.Description != nil {
		r.Description = *in.Description
	}
	if in.Policy != nil {
		r.Policy = *in.Policy
	}
	for _, m := range k.Materials {
		c := &material{ID: m.ID, State: m.State, RotationDate: m.RotationDate, RotationType: m.RotationType}
		if k.Origin == originExternal {
			// Imported key material is not replicated: the replica must
			// import the same key material.
			if c.State == matPendingRotation {
				c.State = matPendingMRRotaton
			}
		} else {
			c.Bytes = slices.Clone(m.Bytes)
		}
		r.Materials = append(r.Materials, c)
	}
	if k.Origin == originExternal {
		// The primary's pending material now waits for the new replica too.
		for _, m := range k.Materials {
			if m.State == matPendingRotation {
				m.State = matPendingMRRotaton
			}
		}
	}
	rs.Keys[r.ID] = r
	rs.Order = append(rs.Order, r.ID)
	e.touchKey(k.ID)
	return struct {
		ReplicaKeyMetadata *keyMetadataJSON `json:"ReplicaKeyMetadata"`
		ReplicaPolicy      string           `json:"ReplicaPolicy"`
		ReplicaTags        []tagJSON        `json:"ReplicaTags"`
	}{e.metadata(r), r.Policy, tagsJSON(r.Tags)}, nil
}
