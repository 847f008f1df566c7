package kmstest

import (
	"crypto/rsa"
	"crypto/x509"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/kms/types"
)

// maxValidTo is how far ahead ImportKeyMaterial's ValidTo may be.
const maxValidTo = 365 * 24 * time.Hour

// maxOnDemandRotations is how many times RotateKeyOnDemand may rotate a key.
const maxOnDemandRotations = 25

func (e *Emulator) getParametersForImport(rc *reqCtx, body []byte) (any, *apiError) {
	var in struct {
		KeyId             *string
		WrappingAlgorithm types.AlgorithmSpec
		WrappingKeySpec   types.WrappingKeySpec
	}
	if err := decodeRequest(body, &in); err != nil {
		return nil, err
	}
	if err := e.enter(rc); err != nil {
		return nil, err
	}
	if err := checkRequiredString(in.KeyId, "keyId", 1, 2048); err != nil {
		return nil, err
	}
	if in.WrappingAlgorithm == "" {
		return nil, requiredErr("wrappingAlgorithm")
	}
	if err := checkEnum(in.WrappingAlgorithm, "wrappingAlgorithm", types.AlgorithmSpec("").Values()); err != nil {
		return nil, err
	}
	if in.WrappingKeySpec == "" {
		return nil, requiredErr("wrappingKeySpec")
	}
	if err := checkEnum(in.WrappingKeySpec, "wrappingKeySpec", types.WrappingKeySpec("").Values()); err != nil {
		return nil, err
	}
	switch in.WrappingAlgorithm {
	case types.AlgorithmSpecRsaesPkcs1V15:
		return nil, newErr(ErrValidation, "The RSAES_PKCS1_V1_5 wrapping algorithm is no longer supported (since October 10, 2023); use RSAES_OAEP_SHA_256 or RSA_AES_KEY_WRAP_SHA_256.")
	case types.AlgorithmSpecSm2pke:
		return nil, newErr(ErrValidation, "The SM2PKE wrapping algorithm is supported only in China Regions.")
	}
	if in.WrappingKeySpec == types.WrappingKeySpecSm2 {
		return nil, newErr(ErrValidation, "The SM2 wrapping key spec is supported only in China Regions.")
	}
	k, err := e.resolveKey(rc, in.KeyId, "keyId", false)
	if err != nil {
		return nil, err
	}
	if err := e.checkImportable(k); err != nil {
		return nil, err
	}
	if k.pendingDeletion() {
		return nil, e.requireState(k)
	}

	// A fresh RSA key pair takes up to seconds: generate it unlocked.
	bits := wrappingKeyBits[string(in.WrappingKeySpec)]
	id := k.ID
	var priv *rsa.PrivateKey
	var genErr error
	if cerr := e.unlocked(func() { priv, genErr = e.wrap.get(bits) }); cerr != nil {
		return nil, cerr
	}
	if genErr != nil {
		return nil, newErr(ErrKMSInternal, "generating the wrapping key: %v", genErr)
	}
	if k = e.region(rc.region).Keys[id]; k == nil {
		return nil, newErr(ErrNotFound, "Key '%s' does not exist", e.keyARN(rc.region, id))
	}
	spki, mErr := x509.MarshalPKIXPublicKey(&priv.PublicKey)
	if mErr != nil {
		return nil, newErr(ErrKMSInternal, "encoding the wrapping key: %v", mErr)
	}
	e.pruneTokens(rc.now)
	rec := &tokenRec{
		Region:          rc.region,
		KeyID:           k.ID,
		Algorithm:       string(in.WrappingAlgorithm),
		WrappingKeySpec: string(in.WrappingKeySpec),
		Expires:         rc.now.Add(tokenValidity),
		priv:            priv,
	}
	tok := e.issueToken(rec)
	return struct {
		KeyId             string `json:"KeyId"`
		ImportToken       []byte `json:"ImportToken"`
		PublicKey         []byte `json:"PublicKey"`
		ParametersValidTo *epoch `json:"ParametersValidTo"`
	}{e.arn(k), tok, spki, ts(rec.Expires)}, nil
}

// checkImportable fails unless key material can be imported into k.
func (e *Emulator) checkImportable(k *key) *apiError {
	if k.Origin != originExternal {
		return newErr(ErrUnsupportedOperation, "%s has origin %s; key material can be imported only into keys with origin EXTERNAL.", e.arn(k), k.Origin)
	}
	return nil
}

func (e *Emulator) importKeyMaterial(rc *reqCtx, body []byte) (any, *apiError) {
	var in struct {
		KeyId                  *string
		ImportToken            []byte
		EncryptedKeyMaterial   []byte
		ValidTo                *float64
		ExpirationModel        types.ExpirationModelType
		ImportType             types.ImportType
		KeyMaterialDescription *string
		KeyMaterialId          *string
	}
	if err := decodeRequest(body, &in); err != nil {
		return nil, err
	}
	if err := e.enter(rc); err != nil {
		return nil, err
	}
	for _, err := range []*apiError{
		checkRequiredString(in.KeyId, "keyId", 1, 2048),
		checkBlob(in.ImportToken, in.ImportToken != nil, "importToken", 1, 32768, true),
		checkBlob(in.EncryptedKeyMaterial, in.EncryptedKeyMaterial != nil, "encryptedKeyMaterial", 1, maxEncryptedKeyMaterial, true),
		checkEnum(in.ExpirationModel, "expirationModel", types.ExpirationModelType("").Values()),
		checkEnum(in.ImportType, "importType", types.ImportType("").Values()),
		checkString(in.KeyMaterialDescription, "keyMaterialDescription", 0, 256),
	} {
		if err != nil {
			return nil, err
		}
	}
	if d := in.KeyMaterialDescription; d != nil && *d != "" && !materialDescPatern.MatchString(*d) {
		return nil, validationErr(*d, "keyMaterialDescription", `Member must satisfy regular expression pattern: ^[a-zA-Z0-9:/_\s.-]+$`)
	}
	if id := in.KeyMaterialId; id != nil && !materialIDPattern.MatchString(*id) {
		return nil, validationErr(*id, "keyMaterialId", "Member must satisfy regular expression pattern: ^[a-f0-9]+$ and have length 64")
	}
	model := string(in.ExpirationModel)
	if model == "" {
		model = expires
	}
	var validTo time.Time
	switch {
	case model == expires && in.ValidTo == nil:
		return nil, newErr(ErrValidation, "A ValidTo date must be set when the ExpirationModel is KEY_MATERIAL_EXPIRES (the default); set it, or set ExpirationModel to KEY_MATERIAL_DOES_NOT_EXPIRE.")
	case model == doesNotExpire && in.ValidTo != nil:
		return nil, newErr(ErrValidation, "ValidTo must not be set when the ExpirationModel is KEY_MATERIAL_DOES_NOT_EXPIRE.")
	case model == expires:
		t, ok := timeFromEpoch(*in.ValidTo)
		if !ok || !t.After(rc.now) {
			return nil, newErr(ErrValidation, "ValidTo must be a date and time in the future.")
		}
		if t.Sub(rc.now) > maxValidTo {
			return nil, newErr(ErrValidation, "ValidTo must be at most 365 days after the request (%s).", rc.now.Add(maxValidTo).UTC().Format(time.RFC3339))
		}
		validTo = t
	}
	importType := string(in.ImportType)
	if importType == string(types.ImportTypeNewKeyMaterial) && in.KeyMaterialId != nil {
		return nil, newErr(ErrValidation, "You cannot specify a KeyMaterialId with ImportType NEW_KEY_MATERIAL.")
	}

	k, err := e.resolveKey(rc, in.KeyId, "keyId", false)
	if err != nil {
		return nil, err
	}
	if err := e.checkImportable(k); err != nil {
		return nil, err
	}
	if err := e.requireState(k, stateEnabled, statePendingImport); err != nil {
		return nil, err
	}
	if !k.symmetric() && (in.ImportType != "" || in.KeyMaterialId != nil || in.KeyMaterialDescription != nil) {
		return nil, newErr(ErrValidation, "ImportType, KeyMaterialId and KeyMaterialDescription are valid only for symmetric encryption keys; %s is %s.", e.arn(k), k.Spec)
	}
	rec, err := e.checkToken(rc, k, in.ImportToken)
	if err != nil {
		return nil, err
	}
	// AWS's rules for wrapping (rules.go), applied before unwrapping.
	if cerr := checkWrapping(k.Spec, rec.Algorithm, rec.WrappingKeySpec); cerr != nil {
		return nil, newErr(ErrValidation, "Key material of KeySpec %s cannot be imported with wrapping algorithm %s and wrapping key spec %s: %v.",
			k.Spec, rec.Algorithm, rec.WrappingKeySpec, cerr)
	}
	// Unwrapping (RSA, up to 4096 bits) and parsing are the slow part: do
	// them without holding the emulator, then look at the key again.
	var mat []byte
	var uerr, perr error
	keyID, spec, priv, alg := k.ID, k.Spec, rec.priv, rec.Algorithm
	if cerr := e.unlocked(func() {
		if mat, uerr = unwrapMaterial(priv, alg, in.EncryptedKeyMaterial); uerr == nil {
			perr = checkMaterial(spec, mat)
		}
	}); cerr != nil {
		clear(mat)
		return nil, cerr
	}
	if uerr != nil {
		return nil, newErr(ErrInvalidCiphertext, "KMS cannot decrypt the EncryptedKeyMaterial with the wrapping key and algorithm (%s) of this import token.", alg)
	}
	keep := false
	defer func() {
		if !keep {
			clear(mat)
		}
	}()
	if perr != nil {
		return nil, newErr(ErrIncorrectKeyMaterial, "The key material is not valid for KeySpec %s: %v.", spec, perr)
	}
	if k = e.region(rc.region).Keys[keyID]; k == nil {
		return nil, newErr(ErrNotFound, "Key '%s' does not exist", e.keyARN(rc.region, keyID))
	}
	if err := e.requireState(k, stateEnabled, statePendingImport); err != nil {
		return nil, err
	}
	id := materialID(k.ID, mat)

	var m *material
	if !k.symmetric() {
		// Asymmetric and HMAC key material never changes: the first import
		// (in any Region of a multi-Region key) fixes it.
		if len(k.Materials) > 0 {
			m = k.Materials[0]
			if m.ID != id {
				return nil, newErr(ErrIncorrectKeyMaterial, "The key material does not match the key material previously imported into %s; %s keys accept only the same key material again.", e.arn(k), k.Spec)
			}
		} else {
			m = &material{ID: id, State: matCurrent}
			k.Materials = []*material{m}
			e.propagate(k, m)
		}
	} else {
		if importType == "" {
			importType = string(types.ImportTypeNewKeyMaterial)
			if len(k.Materials) > 0 {
				importType = string(types.ImportTypeExistingKeyMaterial)
			}
		}
		if importType == string(types.ImportTypeExistingKeyMaterial) {
			if in.KeyMaterialId != nil && *in.KeyMaterialId != id {
				return nil, newErr(ErrIncorrectKeyMaterial, "The key material does not match KeyMaterialId %s.", *in.KeyMaterialId)
			}
			if m = k.materialByID(id); m == nil {
				return nil, newErr(ErrIncorrectKeyMaterial, "The key material is not associated with %s; to import new key material use ImportType NEW_KEY_MATERIAL.", e.arn(k))
			}
		} else {
			if k.isReplica() {
				return nil, newErr(ErrUnsupportedOperation, "%s is a replica key: import new key material into the primary key in %s, then the same key material here with ImportType EXISTING_KEY_MATERIAL.", e.arn(k), k.PrimaryRegion)
			}
			if k.materialByID(id) != nil {
				return nil, newErr(ErrIncorrectKeyMaterial, "The key material is already associated with %s; reimport it with ImportType EXISTING_KEY_MATERIAL.", e.arn(k))
			}
			state := matCurrent
			if len(k.Materials) > 0 {
				for _, x := range k.Materials {
					if !x.permanent() {
						return nil, newErr(ErrKMSInvalidState, "%s already has key material %s pending rotation; rotate the key (RotateKeyOnDemand) or delete that key material first.", e.arn(k), x.ID)
					}
				}
				state = matPendingRotation
				if len(e.replicas(k)) > 0 {
					state = matPendingMRRotaton
				}
			}
			m = &material{ID: id, State: state}
			k.Materials = append(k.Materials, m)
			e.propagate(k, m)
		}
		if in.KeyMaterialDescription != nil {
			m.Description = *in.KeyMaterialDescription
		}
	}
	clear(m.Bytes)
	m.Bytes = mat
	keep = true
	m.ExpirationModel = model
	m.ValidTo = validTo
	e.wake(validTo)
	k.forget(m.ID)
	if k.isReplica() {
		e.settleMultiRegionRotation(k)
	}
	e.touchKey(k.ID)
	out := struct {
		KeyId         string `json:"KeyId"`
		KeyMaterialId string `json:"KeyMaterialId,omitempty"`
	}{KeyId: e.arn(k)}
	if k.symmetric() {
		out.KeyMaterialId = m.ID
	}
	return out, nil
}

// propagate records a key material newly associated with a multi-Region key
// in its other Regions, not imported: they must import the same material.
func (e *Emulator) propagate(k *key, m *material) {
	p := e.primary(k)
	if p == nil {
		return
	}
	for _, o := range append([]*key{p}, e.replicas(p)...) {
		if o == k || o.materialByID(m.ID) != nil {
			continue
		}
		o.Materials = append(o.Materials, &material{ID: m.ID, State: m.State})
		e.touchKey(o.ID)
	}
}

// settleMultiRegionRotation moves new key material of a multi-Region key
// from PENDING_MULTI_REGION_IMPORT_AND_ROTATION to PENDING_ROTATION once
// every replica has imported it.
func (e *Emulator) settleMultiRegionRotation(k *key) {
	p := e.primary(k)
	if p == nil {
		return
	}
	all := append([]*key{p}, e.replicas(p)...)
	for _, pm := range p.Materials {
		if pm.State != matPendingMRRotaton {
			continue
		}
		done := true
		for _, o := range all[1:] {
			if om := o.materialByID(pm.ID); om == nil || !om.imported() {
				done = false
			}
		}
		if !done {
			continue
		}
		for _, o := range all {
			if om := o.materialByID(pm.ID); om != nil {
				om.State = matPendingRotation
			}
		}
	}
}

func (e *Emulator) deleteImportedKeyMaterial(rc *reqCtx, body []byte) (any, *apiError) {
	var in struct {
		KeyId         *string
		KeyMaterialId *string
	}
	if err := decodeRequest(body, &in); err != nil {
		return nil, err
	}
	if err := e.enter(rc); err != nil {
		return nil, err
	}
	if id := in.KeyMaterialId; id != nil && !materialIDPattern.MatchString(*id) {
		return nil, validationErr(*id, "keyMaterialId", "Member must satisfy regular expression pattern: ^[a-f0-9]+$ and have length 64")
	}
	k, err := e.resolveKey(rc, in.KeyId, "keyId", false)
	if err != nil {
		return nil, err
	}
	if err := e.checkImportable(k); err != nil {
		return nil, err
	}
	if !k.symmetric() && in.KeyMaterialId != nil {
		return nil, newErr(ErrValidation, "KeyMaterialId is valid only for symmetric encryption keys; %s is %s.", e.arn(k), k.Spec)
	}
	var m *material
	if in.KeyMaterialId != nil {
		if m = k.materialByID(*in.KeyMaterialId); m == nil {
			return nil, newErr(ErrNotFound, "Key material %s is not associated with %s.", *in.KeyMaterialId, e.arn(k))
		}
	} else if m = k.current(); m == nil && len(k.Materials) > 0 {
		m = k.Materials[0]
	}
	out := struct {
		KeyId         string `json:"KeyId"`
		KeyMaterialId string `json:"KeyMaterialId,omitempty"`
	}{KeyId: e.arn(k)}
	if m == nil {
		return out, nil
	}
	if k.symmetric() {
		out.KeyMaterialId = m.ID
	}
	clear(m.Bytes)
	m.Bytes = nil
	m.ValidTo = time.Time{}
	k.forget(m.ID)
	switch {
	case !m.permanent() && k.isReplica():
		// The replica must import it again before the primary can rotate.
		e.markPendingMultiRegion(k, m.ID)
	case !m.permanent():
		// Key material pending rotation is not permanently associated with
		// the key: deleting it removes it, and from a primary key's
		// replicas too.
		drop := func(o *key) {
			o.Materials = slices.DeleteFunc(o.Materials, func(x *material) bool {
				if x.ID == m.ID {
					clear(x.Bytes)
					return true
				}
				return false
			})
		}
		drop(k)
		if k.isPrimary() {
			for _, r := range e.replicas(k) {
				drop(r)
			}
		}
	}
	e.touchKey(k.ID)
	return out, nil
}

// markPendingMultiRegion puts key material id of a multi-Region key back in
// PENDING_MULTI_REGION_IMPORT_AND_ROTATION in every Region.
func (e *Emulator) markPendingMultiRegion(k *key, id string) {
	p := e.primary(k)
	if p == nil {
		return
	}
	for _, o := range append([]*key{p}, e.replicas(p)...) {
		if m := o.materialByID(id); m != nil && !m.permanent() {
			m.State = matPendingMRRotaton
		}
	}
}

func (e *Emulator) rotateKeyOnDemand(rc *reqCtx, body []byte) (any, *apiError) {
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
	if !k.symmetric() {
		return nil, newErr(ErrUnsupportedOperation, "On-demand rotation is supported only for symmetric encryption keys; %s is %s.", e.arn(k), k.Spec)
	}
	if k.isReplica() {
		return nil, newErr(ErrUnsupportedOperation, "%s is a replica key; rotate the primary key in %s.", e.arn(k), k.PrimaryRegion)
	}
	if err := e.usable(k); err != nil {
		return nil, err
	}
	if k.OnDemandRotations >= maxOnDemandRotations {
		return nil, newErr(ErrLimitExceeded, "%s has been rotated on demand %d times, the maximum.", e.arn(k), maxOnDemandRotations)
	}
	e.settleMultiRegionRotation(k)
	keys := append([]*key{k}, e.replicas(k)...)
	var newID string
	var newMat []byte
	if k.Origin == originExternal {
		for _, m := range k.Materials {
			switch m.State {
			case matPendingRotation:
				newID = m.ID
			case matPendingMRRotaton:
				return nil, newErr(ErrKMSInvalidState, "Key material %s of %s is not yet imported into every replica key.", m.ID, e.arn(k))
			}
		}
		if newID == "" {
			return nil, newErr(ErrKMSInvalidState, "%s has no key material in PENDING_ROTATION state: import new key material (ImportType NEW_KEY_MATERIAL) first.", e.arn(k))
		}
	} else {
		mat, gerr := generateMaterial(k.Spec)
		if gerr != nil {
			return nil, newErr(ErrKMSInternal, "generating key material: %v", gerr)
		}
		newMat = mat
		newID = materialID(k.ID, mat)
	}
	for _, o := range keys {
		for _, m := range o.Materials {
			if m.State == matCurrent {
				m.State = matNonCurrent
			}
		}
		m := o.materialByID(newID)
		if m == nil {
			m = &material{ID: newID, Bytes: clone(newMat)}
			o.Materials = append(o.Materials, m)
		}
		m.State = matCurrent
		m.RotationDate = rc.now
		m.RotationType = "ON_DEMAND"
		o.OnDemandRotations++
	}
	clear(newMat)
	e.touchKey(k.ID)
	return map[string]string{"KeyId": e.arn(k)}, nil
}

func clone(b []byte) []byte {
	if b == nil {
		return nil
	}
	return slices.Clone(b)
}

func (e *Emulator) listKeyRotations(rc *reqCtx, body []byte) (any, *apiError) {
	var in struct {
		KeyId              *string
		IncludeKeyMaterial types.IncludeKeyMaterial
		Limit              *int32
		Marker             *string
	}
	if err := decodeRequest(body, &in); err != nil {
		return nil, err
	}
	if err := e.enter(rc); err != nil {
		return nil, err
	}
	if err := checkEnum(in.IncludeKeyMaterial, "includeKeyMaterial", types.IncludeKeyMaterial("").Values()); err != nil {
		return nil, err
	}
	if err := checkLimit(in.Limit, "limit", 1000); err != nil {
		return nil, err
	}
	k, err := e.resolveKey(rc, in.KeyId, "keyId", false)
	if err != nil {
		return nil, err
	}
	if !k.symmetric() {
		return nil, newErr(ErrUnsupportedOperation, "%s is %s; only symmetric encryption keys have key rotations.", e.arn(k), k.Spec)
	}
	type entry struct {
		KeyId                  string `json:"KeyId"`
		KeyMaterialId          string `json:"KeyMaterialId"`
		KeyMaterialDescription string `json:"KeyMaterialDescription,omitempty"`
		ImportState            string `json:"ImportState,omitempty"`
		KeyMaterialState       string `json:"KeyMaterialState"`
		ExpirationModel        string `json:"ExpirationModel,omitempty"`
		ValidTo                *epoch `json:"ValidTo,omitempty"`
		RotationDate           *epoch `json:"RotationDate,omitempty"`
		RotationType           string `json:"RotationType,omitempty"`
	}
	all := in.IncludeKeyMaterial == types.IncludeKeyMaterialAllKeyMaterial
	var list []entry
	for _, m := range k.Materials {
		if !all && m.RotationDate.IsZero() {
			continue
		}
		en := entry{KeyId: k.ID, KeyMaterialId: m.ID, KeyMaterialState: m.State,
			RotationDate: ts(m.RotationDate), RotationType: m.RotationType}
		if k.Origin == originExternal {
			en.KeyMaterialDescription = m.Description
			en.ImportState = string(types.ImportStatePendingImport)
			if m.imported() {
				en.ImportState = string(types.ImportStateImported)
				en.ExpirationModel = m.ExpirationModel
				en.ValidTo = ts(m.ValidTo)
			}
		}
		list = append(list, en)
	}
	start, end, next, perr := page(len(list), in.Limit, in.Marker, 100)
	if perr != nil {
		return nil, perr
	}
	return struct {
		Rotations  []entry `json:"Rotations"`
		NextMarker *string `json:"NextMarker,omitempty"`
		Truncated  bool    `json:"Truncated"`
	}{append([]entry{}, list[start:end]...), next, next != nil}, nil
}
