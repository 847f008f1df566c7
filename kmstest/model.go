package kmstest

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
)

// Key states, origins, usages and key material states, as KMS spells them.
const (
	stateEnabled                = "Enabled"
	stateDisabled               = "Disabled"
	statePendingImport          = "PendingImport"
	statePendingDeletion        = "PendingDeletion"
	statePendingReplicaDeletion = "PendingReplicaDeletion"

	originAWSKMS   = "AWS_KMS"
	originExternal = "EXTERNAL"

	usageEncrypt  = "ENCRYPT_DECRYPT"
	usageSign     = "SIGN_VERIFY"
	usageMAC      = "GENERATE_VERIFY_MAC"
	usageAgree    = "KEY_AGREEMENT"
	usageEncapsul = "ENCAPSULATE_DECAPSULATE"

	matCurrent          = "CURRENT"
	matNonCurrent       = "NON_CURRENT"
	matPendingRotation  = "PENDING_ROTATION"
	matPendingMRRotaton = "PENDING_MULTI_REGION_IMPORT_AND_ROTATION"

	expires       = "KEY_MATERIAL_EXPIRES"
	doesNotExpire = "KEY_MATERIAL_DOES_NOT_EXPIRE"
)

// specRow is what KMS allows for one key spec.
type specRow struct {
	usages   []string // valid key usages
	enc      []string // encryption algorithms (ENCRYPT_DECRYPT)
	sign     []string // signing algorithms (SIGN_VERIFY)
	mac      []string // MAC algorithms (GENERATE_VERIFY_MAC)
	agree    []string // key agreement algorithms (KEY_AGREEMENT)
	emulated bool     // the emulator implements keys of this spec
	pool     string   // the shared cryptographic quota
}

var rsaSign = []string{"RSASSA_PKCS1_V1_5_SHA_256", "RSASSA_PKCS1_V1_5_SHA_384", "RSASSA_PKCS1_V1_5_SHA_512",
	"RSASSA_PSS_SHA_256", "RSASSA_PSS_SHA_384", "RSASSA_PSS_SHA_512"}
var rsaEnc = []string{"RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256"}

var specTable = map[string]specRow{
	"SYMMETRIC_DEFAULT":     {usages: []string{usageEncrypt}, enc: []string{"SYMMETRIC_DEFAULT"}, emulated: true, pool: QuotaPoolSymmetric},
	"HMAC_224":              {usages: []string{usageMAC}, mac: []string{"HMAC_SHA_224"}, emulated: true, pool: QuotaPoolSymmetric},
	"HMAC_256":              {usages: []string{usageMAC}, mac: []string{"HMAC_SHA_256"}, emulated: true, pool: QuotaPoolSymmetric},
	"HMAC_384":              {usages: []string{usageMAC}, mac: []string{"HMAC_SHA_384"}, emulated: true, pool: QuotaPoolSymmetric},
	"HMAC_512":              {usages: []string{usageMAC}, mac: []string{"HMAC_SHA_512"}, emulated: true, pool: QuotaPoolSymmetric},
	"RSA_2048":              {usages: []string{usageEncrypt, usageSign}, enc: rsaEnc, sign: rsaSign, emulated: true, pool: QuotaPoolRSA},
	"RSA_3072":              {usages: []string{usageEncrypt, usageSign}, enc: rsaEnc, sign: rsaSign, emulated: true, pool: QuotaPoolRSA},
	"RSA_4096":              {usages: []string{usageEncrypt, usageSign}, enc: rsaEnc, sign: rsaSign, emulated: true, pool: QuotaPoolRSA},
	"ECC_NIST_P256":         {usages: []string{usageSign, usageAgree}, sign: []string{"ECDSA_SHA_256"}, agree: []string{"ECDH"}, emulated: true, pool: QuotaPoolECC},
	"ECC_NIST_P384":         {usages: []string{usageSign, usageAgree}, sign: []string{"ECDSA_SHA_384"}, agree: []string{"ECDH"}, emulated: true, pool: QuotaPoolECC},
	"ECC_NIST_P521":         {usages: []string{usageSign, usageAgree}, sign: []string{"ECDSA_SHA_512"}, agree: []string{"ECDH"}, emulated: true, pool: QuotaPoolECC},
	"ECC_SECG_P256K1":       {usages: []string{usageSign}, sign: []string{"ECDSA_SHA_256"}, emulated: true, pool: QuotaPoolECC},
	"ECC_NIST_EDWARDS25519": {usages: []string{usageSign}, sign: []string{"ED25519_SHA_512", "ED25519_PH_SHA_512"}, pool: QuotaPoolECC},
	"SM2":                   {usages: []string{usageEncrypt, usageSign, usageAgree}, enc: []string{"SM2PKE"}, sign: []string{"SM2DSA"}, agree: []string{"ECDH"}, pool: QuotaPoolECC},
	"ML_DSA_44":             {usages: []string{usageSign}, sign: []string{"ML_DSA_SHAKE_256"}},
	"ML_DSA_65":             {usages: []string{usageSign}, sign: []string{"ML_DSA_SHAKE_256"}},
	"ML_DSA_87":             {usages: []string{usageSign}, sign: []string{"ML_DSA_SHAKE_256"}},
	"ML_KEM_512":            {usages: []string{usageEncapsul}},
	"ML_KEM_768":            {usages: []string{usageEncapsul}},
	"ML_KEM_1024":           {usages: []string{usageEncapsul}},
}

// regionState is one Region of the emulated account.
type regionState struct {
	Keys    map[string]*key   `json:"keys"`
	Order   []string          `json:"order"` // key IDs in order of creation
	Aliases map[string]*alias `json:"aliases"`
}

type alias struct {
	Name        string    `json:"name"`
	TargetKeyID string    `json:"targetKeyId"`
	Created     time.Time `json:"created"`
	Updated     time.Time `json:"updated"`
}

type tag struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// key is one KMS key in one Region. The replicas of a multi-Region key are
// separate keys with the same ID in other Regions.
type key struct {
	ID          string    `json:"id"`
	Region      string    `json:"region"`
	Created     time.Time `json:"created"`
	Description string    `json:"description"`
	Spec        string    `json:"spec"`
	Usage       string    `json:"usage"`
	Origin      string    `json:"origin"`
	Policy      string    `json:"policy"`
	Tags        []tag     `json:"tags,omitempty"`
	Disabled    bool      `json:"disabled,omitempty"`

	DeletionDate    time.Time `json:"deletionDate,omitzero"`
	PendingWindow   int32     `json:"pendingWindow,omitempty"`
	ReplicaDeletion bool      `json:"replicaDeletion,omitempty"` // PendingReplicaDeletion

	MultiRegion   bool   `json:"multiRegion,omitempty"`
	PrimaryRegion string `json:"primaryRegion,omitempty"`

	// Materials are the key materials: exactly one for asymmetric and HMAC
	// keys once imported or generated; for symmetric keys, every material
	// ever associated, plus one pending rotation.
	Materials         []*material `json:"materials,omitempty"`
	OnDemandRotations int         `json:"onDemandRotations,omitempty"`

	parsed map[string]any // material ID -> parsed private key; not persisted
}

// material is one key material of a key.
type material struct {
	ID              string    `json:"id"`              // KeyMaterialId
	Bytes           []byte    `json:"bytes,omitempty"` // nil while not imported (deleted, expired)
	State           string    `json:"state"`           // CURRENT, NON_CURRENT, PENDING_*
	ExpirationModel string    `json:"expirationModel,omitempty"`
	ValidTo         time.Time `json:"validTo,omitzero"`
	Description     string    `json:"description,omitempty"`
	RotationDate    time.Time `json:"rotationDate,omitzero"`
	RotationType    string    `json:"rotationType,omitempty"`
}

func (m *material) imported() bool { return m.Bytes != nil }

func (m *material) permanent() bool { return m.State == matCurrent || m.State == matNonCurrent }

// materialID is the KeyMaterialId of material in the key keyID: 64 hex
// digits, determined by the key ID and the material, as KMS's is.
func materialID(keyID string, mat []byte) string {
	h := hmac.New(sha256.New, mat)
	h.Write([]byte("kmstest KeyMaterialId v1\x00"))
	h.Write([]byte(keyID))
	return hex.EncodeToString(h.Sum(nil))
}

func (k *key) row() specRow { return specTable[k.Spec] }

func (k *key) symmetric() bool { return k.Spec == "SYMMETRIC_DEFAULT" }

func (k *key) current() *material {
	for _, m := range k.Materials {
		if m.State == matCurrent {
			return m
		}
	}
	return nil
}

func (k *key) materialByID(id string) *material {
	for _, m := range k.Materials {
		if m.ID == id {
			return m
		}
	}
	return nil
}

func (k *key) isPrimary() bool { return k.MultiRegion && k.PrimaryRegion == k.Region }

func (k *key) isReplica() bool { return k.MultiRegion && k.PrimaryRegion != k.Region }

// state is the key state, derived from deletion, import and enablement.
func (k *key) state() string {
	switch {
	case k.ReplicaDeletion:
		return statePendingReplicaDeletion
	case !k.DeletionDate.IsZero():
		return statePendingDeletion
	case k.Origin == originExternal && !k.allImported():
		return statePendingImport
	case k.Disabled:
		return stateDisabled
	}
	return stateEnabled
}

// allImported reports whether the key has key material and every key
// material permanently associated with it is imported.
func (k *key) allImported() bool {
	n := 0
	for _, m := range k.Materials {
		if m.permanent() {
			if !m.imported() {
				return false
			}
			n++
		}
	}
	return n > 0
}

func (k *key) pendingDeletion() bool {
	return k.ReplicaDeletion || !k.DeletionDate.IsZero()
}

// forget drops the parsed form of a material (after deletion or expiry).
func (k *key) forget(id string) {
	delete(k.parsed, id)
}

func (e *Emulator) region(name string) *regionState {
	rs := e.regions[name]
	if rs == nil {
		rs = &regionState{Keys: map[string]*key{}, Aliases: map[string]*alias{}}
		e.regions[name] = rs
	}
	return rs
}

func partition(region string) string {
	switch {
	case strings.HasPrefix(region, "cn-"):
		return "aws-cn"
	case strings.HasPrefix(region, "us-gov-"):
		return "aws-us-gov"
	}
	return "aws"
}

func (e *Emulator) keyARN(region, id string) string {
	return fmt.Sprintf("arn:%s:kms:%s:%s:key/%s", partition(region), region, e.opts.account, id)
}

func (e *Emulator) aliasARN(region, name string) string {
	return fmt.Sprintf("arn:%s:kms:%s:%s:%s", partition(region), region, e.opts.account, name)
}

func (e *Emulator) arn(k *key) string { return e.keyARN(k.Region, k.ID) }

// validKeyID reports whether s has the form of a KMS key ID: a UUID, or
// "mrk-" and 32 hex digits for a multi-Region key.
func validKeyID(s string) bool {
	if rest, ok := strings.CutPrefix(s, "mrk-"); ok {
		return len(rest) == 32 && strings.Trim(rest, "0123456789abcdef") == ""
	}
	if len(s) != 36 {
		return false
	}
	for i, c := range s {
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !strings.ContainsRune("0123456789abcdef", c) {
				return false
			}
		}
	}
	return true
}

func newKeyID(multiRegion bool) string {
	if multiRegion {
		var b [16]byte
		rand.Read(b[:])
		return "mrk-" + hex.EncodeToString(b[:])
	}
	return newUUID()
}

// resolveKey finds the key a KeyId member names in the request's Region: a
// key ID or key ARN, and with allowAlias also an alias name or alias ARN.
func (e *Emulator) resolveKey(rc *reqCtx, id *string, member string, allowAlias bool) (*key, *apiError) {
	if err := checkRequiredString(id, member, 1, 2048); err != nil {
		return nil, err
	}
	s := *id
	rs := e.region(rc.region)
	notFound := func() *apiError { return newErr(ErrNotFound, "Key '%s' does not exist", e.keyARN(rc.region, s)) }
	if strings.HasPrefix(s, "arn:") {
		f := strings.SplitN(s, ":", 6)
		if len(f) != 6 || f[2] != "kms" {
			return nil, newErr(ErrNotFound, "Invalid arn %s", s)
		}
		if f[1] != partition(rc.region) || f[3] != rc.region || f[4] != e.opts.account {
			return nil, newErr(ErrNotFound, "Key '%s' does not exist", s)
		}
		switch {
		case strings.HasPrefix(f[5], "key/"):
			kid := strings.TrimPrefix(f[5], "key/")
			if k := rs.Keys[kid]; k != nil {
				return k, nil
			}
			return nil, newErr(ErrNotFound, "Key '%s' does not exist", s)
		case strings.HasPrefix(f[5], "alias/") && allowAlias:
			return e.resolveAlias(rc, f[5])
		}
		return nil, newErr(ErrNotFound, "Invalid arn %s", s)
	}
	if strings.HasPrefix(s, "alias/") {
		if !allowAlias {
			return nil, newErr(ErrNotFound, "Invalid keyId %s", s)
		}
		return e.resolveAlias(rc, s)
	}
	if !validKeyID(s) {
		return nil, newErr(ErrNotFound, "Invalid keyId %s", s)
	}
	if k := rs.Keys[s]; k != nil {
		return k, nil
	}
	return nil, notFound()
}

func (e *Emulator) resolveAlias(rc *reqCtx, name string) (*key, *apiError) {
	rs := e.region(rc.region)
	a := rs.Aliases[name]
	if a == nil {
		return nil, newErr(ErrNotFound, "Alias %s is not found.", e.aliasARN(rc.region, name))
	}
	k := rs.Keys[a.TargetKeyID]
	if k == nil {
		return nil, newErr(ErrNotFound, "Alias %s is not found.", e.aliasARN(rc.region, name))
	}
	return k, nil
}

// requireState fails unless the key is in one of the given states, with the
// error KMS uses: DisabledException for a disabled key, otherwise
// KMSInvalidStateException.
func (e *Emulator) requireState(k *key, allowed ...string) *apiError {
	st := k.state()
	if slices.Contains(allowed, st) {
		return nil
	}
	if st == stateDisabled {
		return newErr(ErrDisabled, "%s is disabled.", e.arn(k))
	}
	return newErr(ErrKMSInvalidState, "%s is %s.", e.arn(k), keyStateText(st))
}

func keyStateText(st string) string {
	switch st {
	case statePendingImport:
		return "pending import"
	case statePendingDeletion:
		return "pending deletion"
	case statePendingReplicaDeletion:
		return "pending replica deletion"
	}
	return strings.ToLower(st)
}

// usable fails unless a cryptographic operation can use the key.
func (e *Emulator) usable(k *key) *apiError { return e.requireState(k, stateEnabled) }

// sweep applies the passage of time: imported key material whose ValidTo
// has passed is deleted (the key returns to PendingImport), and keys whose
// deletion date has passed are deleted with their aliases.
//
// A sweep looks at every key, so it runs only when something is due: it
// notes the earliest ValidTo or deletion date still ahead (sweepAt), and
// the operations that set one (wake) bring that forward.
func (e *Emulator) sweep(now time.Time) {
	e.pruneTokens(now)
	if !e.sweepAt.IsZero() && now.Before(e.sweepAt) {
		return
	}
	for _, rs := range e.regions {
		for _, k := range rs.Keys {
			for _, m := range k.Materials {
				if m.imported() && !m.ValidTo.IsZero() && !now.Before(m.ValidTo) {
					clear(m.Bytes)
					m.Bytes = nil
					k.forget(m.ID)
					e.touchKey(k.ID)
				}
			}
		}
	}
	for _, rs := range e.regions {
		for id, k := range rs.Keys {
			if k.DeletionDate.IsZero() || now.Before(k.DeletionDate) {
				continue
			}
			for _, m := range k.Materials {
				clear(m.Bytes)
			}
			delete(rs.Keys, id)
			rs.Order = slices.DeleteFunc(rs.Order, func(s string) bool { return s == id })
			for name, a := range rs.Aliases {
				if a.TargetKeyID == id {
					delete(rs.Aliases, name)
					e.touchAlias(k.Region, name)
				}
			}
			e.touchKey(id)
		}
	}
	// A primary key waiting for its replicas to be deleted starts its own
	// waiting period when the last one is gone.
	for _, rs := range e.regions {
		for _, k := range rs.Keys {
			if k.ReplicaDeletion && len(e.replicas(k)) == 0 {
				k.ReplicaDeletion = false
				k.DeletionDate = now.Add(time.Duration(k.PendingWindow) * 24 * time.Hour)
				e.touchKey(k.ID)
			}
		}
	}
	e.sweepAt = farFuture
	for _, rs := range e.regions {
		for _, k := range rs.Keys {
			e.wake(k.DeletionDate)
			for _, m := range k.Materials {
				if m.imported() {
					e.wake(m.ValidTo)
				}
			}
		}
	}
}

// farFuture is sweepAt when nothing is due.
var farFuture = time.Unix(1<<62, 0)

// wake makes the next sweep run no later than t (a zero t is no event).
func (e *Emulator) wake(t time.Time) {
	if !t.IsZero() && !e.sweepAt.IsZero() && t.Before(e.sweepAt) {
		e.sweepAt = t
	}
}

// replicas returns the replica keys of a multi-Region key, by Region.
func (e *Emulator) replicas(k *key) []*key {
	if !k.MultiRegion {
		return nil
	}
	var out []*key
	for name, rs := range e.regions {
		if name == k.PrimaryRegion {
			continue
		}
		if r := rs.Keys[k.ID]; r != nil && r.MultiRegion {
			out = append(out, r)
		}
	}
	slices.SortFunc(out, func(a, b *key) int { return strings.Compare(a.Region, b.Region) })
	return out
}

// primary returns the primary key of a multi-Region key, or nil.
func (e *Emulator) primary(k *key) *key {
	if !k.MultiRegion {
		return nil
	}
	if rs := e.regions[k.PrimaryRegion]; rs != nil {
		return rs.Keys[k.ID]
	}
	return nil
}

// metadata renders a key's KeyMetadata.
func (e *Emulator) metadata(k *key) *keyMetadataJSON {
	row := k.row()
	st := k.state()
	md := &keyMetadataJSON{
		AWSAccountId:          e.opts.account,
		KeyId:                 k.ID,
		Arn:                   e.arn(k),
		CreationDate:          ts(k.Created),
		Enabled:               st == stateEnabled,
		Description:           k.Description,
		KeyUsage:              k.Usage,
		KeyState:              st,
		Origin:                k.Origin,
		KeyManager:            "CUSTOMER",
		CustomerMasterKeySpec: k.Spec,
		KeySpec:               k.Spec,
		MultiRegion:           k.MultiRegion,
	}
	switch k.Usage {
	case usageEncrypt:
		md.EncryptionAlgorithms = row.enc
	case usageSign:
		md.SigningAlgorithms = row.sign
	case usageMAC:
		md.MacAlgorithms = row.mac
	case usageAgree:
		md.KeyAgreementAlgorithms = row.agree
	}
	if st == statePendingDeletion {
		md.DeletionDate = ts(k.DeletionDate)
	}
	if st == statePendingReplicaDeletion {
		w := k.PendingWindow
		md.PendingDeletionWindow = &w
	}
	if k.Origin == originExternal {
		if cur := k.current(); cur != nil {
			md.ExpirationModel = cur.ExpirationModel
		}
		var earliest time.Time
		for _, m := range k.Materials {
			if m.permanent() && m.imported() && !m.ValidTo.IsZero() && (earliest.IsZero() || m.ValidTo.Before(earliest)) {
				earliest = m.ValidTo
			}
		}
		if !earliest.IsZero() {
			md.ValidTo = ts(earliest)
			md.ExpirationModel = expires
		}
	}
	if k.symmetric() {
		if cur := k.current(); cur != nil {
			md.CurrentKeyMaterialId = cur.ID
		}
	}
	if k.MultiRegion {
		cfg := &multiRegionConfigJSON{
			MultiRegionKeyType: "PRIMARY",
			PrimaryKey:         &multiRegionKeyJSON{Arn: e.keyARN(k.PrimaryRegion, k.ID), Region: k.PrimaryRegion},
			ReplicaKeys:        []multiRegionKeyJSON{},
		}
		if k.isReplica() {
			cfg.MultiRegionKeyType = "REPLICA"
		}
		p := e.primary(k)
		if p == nil {
			p = k
		}
		for _, r := range e.replicas(p) {
			cfg.ReplicaKeys = append(cfg.ReplicaKeys, multiRegionKeyJSON{Arn: e.arn(r), Region: r.Region})
		}
		md.MultiRegionConfiguration = cfg
	}
	return md
}

// sdk converts rendered metadata to the SDK's type, for Emulator.Keys.
func (md *keyMetadataJSON) sdk() types.KeyMetadata {
	t := func(p *epoch) *time.Time {
		if p == nil {
			return nil
		}
		v := time.Time(*p)
		return &v
	}
	conv := func(in []string) []string { return slices.Clone(in) }
	out := types.KeyMetadata{
		AWSAccountId:                aws.String(md.AWSAccountId),
		KeyId:                       aws.String(md.KeyId),
		Arn:                         aws.String(md.Arn),
		CreationDate:                t(md.CreationDate),
		Enabled:                     md.Enabled,
		Description:                 aws.String(md.Description),
		KeyUsage:                    types.KeyUsageType(md.KeyUsage),
		KeyState:                    types.KeyState(md.KeyState),
		DeletionDate:                t(md.DeletionDate),
		PendingDeletionWindowInDays: md.PendingDeletionWindow,
		ValidTo:                     t(md.ValidTo),
		Origin:                      types.OriginType(md.Origin),
		ExpirationModel:             types.ExpirationModelType(md.ExpirationModel),
		KeyManager:                  types.KeyManagerType(md.KeyManager),
		CustomerMasterKeySpec:       types.CustomerMasterKeySpec(md.CustomerMasterKeySpec),
		KeySpec:                     types.KeySpec(md.KeySpec),
		MultiRegion:                 aws.Bool(md.MultiRegion),
	}
	for _, s := range conv(md.EncryptionAlgorithms) {
		out.EncryptionAlgorithms = append(out.EncryptionAlgorithms, types.EncryptionAlgorithmSpec(s))
	}
	for _, s := range conv(md.SigningAlgorithms) {
		out.SigningAlgorithms = append(out.SigningAlgorithms, types.SigningAlgorithmSpec(s))
	}
	for _, s := range conv(md.MacAlgorithms) {
		out.MacAlgorithms = append(out.MacAlgorithms, types.MacAlgorithmSpec(s))
	}
	for _, s := range conv(md.KeyAgreementAlgorithms) {
		out.KeyAgreementAlgorithms = append(out.KeyAgreementAlgorithms, types.KeyAgreementAlgorithmSpec(s))
	}
	if md.CurrentKeyMaterialId != "" {
		out.CurrentKeyMaterialId = aws.String(md.CurrentKeyMaterialId)
	}
	if c := md.MultiRegionConfiguration; c != nil {
		mc := &types.MultiRegionConfiguration{
			MultiRegionKeyType: types.MultiRegionKeyType(c.MultiRegionKeyType),
			PrimaryKey:         &types.MultiRegionKey{Arn: aws.String(c.PrimaryKey.Arn), Region: aws.String(c.PrimaryKey.Region)},
		}
		for _, r := range c.ReplicaKeys {
			mc.ReplicaKeys = append(mc.ReplicaKeys, types.MultiRegionKey{Arn: aws.String(r.Arn), Region: aws.String(r.Region)})
		}
		out.MultiRegionConfiguration = mc
	}
	return out
}
