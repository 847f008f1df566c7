package gcpkmstest

import (
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"time"

	"cloud.google.com/go/kms/apiv1/kmspb"
	"github.com/decred/dcrd/dcrec/secp256k1/v4"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// destroyScheduledDefault: "If not specified at creation time, the default
// duration is 30 days." (CryptoKey.destroy_scheduled_duration,
// https://cloud.google.com/kms/docs/reference/rpc/google.cloud.kms.v1).
const destroyScheduledDefault = 30 * 24 * time.Hour

// CreateKeyRing creates a key ring; its ID must be new in its location.
func (s *Server) CreateKeyRing(_ context.Context, req *kmspb.CreateKeyRingRequest) (*kmspb.KeyRing, error) {
	if err := checkLocation(req.GetParent()); err != nil {
		return nil, err
	}
	if err := validID("KeyRing", req.GetKeyRingId()); err != nil {
		return nil, err
	}
	name := req.GetParent() + "/keyRings/" + req.GetKeyRingId()
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.keyRings[name]; ok {
		return nil, status.Errorf(codes.AlreadyExists, "KeyRing %s already exists.", name)
	}
	r := &keyRing{name: name, created: s.cfg.now()}
	s.keyRings[name] = r
	return r.proto(), nil
}

// GetKeyRing returns a key ring.
func (s *Server) GetKeyRing(_ context.Context, req *kmspb.GetKeyRingRequest) (*kmspb.KeyRing, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, err := s.keyRing(req.GetName())
	if err != nil {
		return nil, err
	}
	return r.proto(), nil
}

// ListKeyRings lists the key rings of a location, by name, in one page.
func (s *Server) ListKeyRings(_ context.Context, req *kmspb.ListKeyRingsRequest) (*kmspb.ListKeyRingsResponse, error) {
	if err := checkLocation(req.GetParent()); err != nil {
		return nil, err
	}
	if err := noFilter(req.GetFilter(), req.GetOrderBy(), req.GetPageToken()); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	out := &kmspb.ListKeyRingsResponse{KeyRings: childrenOf(s.keyRings, req.GetParent(), (*keyRing).proto)}
	out.TotalSize = int32(len(out.KeyRings))
	return out, nil
}

// noFilter refuses list options the fake does not emulate.
func noFilter(filter, orderBy, pageToken string) error {
	if filter != "" || orderBy != "" {
		return status.Error(codes.Unimplemented, "gcpkmstest: filter and order_by are not emulated")
	}
	if pageToken != "" {
		return status.Error(codes.InvalidArgument, "invalid page_token: the fake returns every result in one page")
	}
	return nil
}

// CreateCryptoKey creates a key, with a first generated version unless
// skip_initial_version_creation (required for import_only keys).
func (s *Server) CreateCryptoKey(_ context.Context, req *kmspb.CreateCryptoKeyRequest) (*kmspb.CryptoKey, error) {
	if err := checkKeyRingName(req.GetParent()); err != nil {
		return nil, err
	}
	if err := validID("CryptoKey", req.GetCryptoKeyId()); err != nil {
		return nil, err
	}
	ck := req.GetCryptoKey()
	if ck == nil {
		return nil, status.Error(codes.InvalidArgument, "crypto_key is required")
	}
	purpose := ck.GetPurpose()
	if purpose == kmspb.CryptoKey_CRYPTO_KEY_PURPOSE_UNSPECIFIED {
		return nil, status.Error(codes.InvalidArgument, "crypto_key.purpose is required")
	}
	alg := ck.GetVersionTemplate().GetAlgorithm()
	level := ck.GetVersionTemplate().GetProtectionLevel()
	// CryptoKeyVersionTemplate
	// (https://cloud.google.com/kms/docs/reference/rpc/google.cloud.kms.v1):
	// protection_level "Defaults to SOFTWARE"; algorithm:
	// "GOOGLE_SYMMETRIC_ENCRYPTION is implied if both this field is omitted and
	// CryptoKey.purpose is ENCRYPT_DECRYPT".
	if level == kmspb.ProtectionLevel_PROTECTION_LEVEL_UNSPECIFIED {
		level = kmspb.ProtectionLevel_SOFTWARE
	}
	if alg == kmspb.CryptoKeyVersion_CRYPTO_KEY_VERSION_ALGORITHM_UNSPECIFIED {
		if purpose != kmspb.CryptoKey_ENCRYPT_DECRYPT {
			return nil, status.Error(codes.InvalidArgument, "crypto_key.version_template.algorithm is required for this purpose")
		}
		alg = kmspb.CryptoKeyVersion_GOOGLE_SYMMETRIC_ENCRYPTION
	}
	if !keyLevels[level] {
		return nil, notEmulated("protection level", level)
	}
	if err := algorithmFits(alg, purpose, level); err != nil {
		return nil, err
	}
	if ck.GetImportOnly() && !req.GetSkipInitialVersionCreation() {
		return nil, status.Error(codes.InvalidArgument, "an import_only CryptoKey must be created with skip_initial_version_creation: it may contain imported versions only")
	}
	if ck.GetRotationSchedule() != nil || ck.GetNextRotationTime() != nil {
		return nil, notEmulated("automatic rotation of", purpose)
	}
	destroyAfter := destroyScheduledDefault
	if d := ck.GetDestroyScheduledDuration(); d != nil {
		destroyAfter = d.AsDuration()
		if !d.IsValid() || destroyAfter < 0 {
			return nil, status.Error(codes.InvalidArgument, "crypto_key.destroy_scheduled_duration must not be negative")
		}
	}
	name := req.GetParent() + "/cryptoKeys/" + req.GetCryptoKeyId()
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.keyRing(req.GetParent()); err != nil {
		return nil, err
	}
	if _, ok := s.keys[name]; ok {
		return nil, status.Errorf(codes.AlreadyExists, "CryptoKey %s already exists.", name)
	}
	k := &cryptoKey{
		name:         name,
		purpose:      purpose,
		alg:          alg,
		level:        level,
		importOnly:   ck.GetImportOnly(),
		created:      s.cfg.now(),
		labels:       maps.Clone(ck.GetLabels()),
		destroyAfter: destroyAfter,
	}
	if !req.GetSkipInitialVersionCreation() {
		v, err := s.generateVersion(k)
		if err != nil {
			return nil, err
		}
		if purpose == kmspb.CryptoKey_ENCRYPT_DECRYPT {
			k.primary = v.n
		}
	}
	s.keys[name] = k
	return s.keyProto(k), nil
}

// algorithmFits fails unless alg is emulated, usable with purpose
// (CryptoKeyVersionAlgorithm,
// https://cloud.google.com/kms/docs/reference/rpc/google.cloud.kms.v1) and
// available at level (https://cloud.google.com/kms/docs/algorithms).
func algorithmFits(alg kmspb.CryptoKeyVersion_CryptoKeyVersionAlgorithm, purpose kmspb.CryptoKey_CryptoKeyPurpose, level kmspb.ProtectionLevel) error {
	r, ok := algorithms[alg]
	if !ok {
		return notEmulated("algorithm", alg)
	}
	if r.purpose != purpose {
		return status.Errorf(codes.InvalidArgument, "algorithm %s is not compatible with purpose %s; it is usable with purpose %s", alg, purpose, r.purpose)
	}
	if r.hsmOnly && level != kmspb.ProtectionLevel_HSM {
		return status.Errorf(codes.InvalidArgument, "algorithm %s is only supported with protection level HSM, not %s", alg, level)
	}
	return nil
}

// generateVersion adds a version with fresh key material to k.
func (s *Server) generateVersion(k *cryptoKey) (*keyVersion, error) {
	mat, err := generateMaterial(algorithms[k.alg])
	if err != nil {
		return nil, status.Errorf(codes.Internal, "generating key material: %v", err)
	}
	now := s.cfg.now()
	v := &keyVersion{
		n:         len(k.versions) + 1,
		alg:       k.alg,
		level:     k.level,
		state:     kmspb.CryptoKeyVersion_ENABLED,
		created:   now,
		generated: now,
		mat:       mat,
	}
	v.name = k.name + "/cryptoKeyVersions/" + strconv.Itoa(v.n)
	k.versions = append(k.versions, v)
	return v, nil
}

// generateMaterial makes key material for an algorithm.
func generateMaterial(r algRule) (*material, error) {
	m := &material{}
	var err error
	switch r.kind {
	case kindSecret:
		m.secret = make([]byte, r.keyLen)
		_, err = rand.Read(m.secret)
	case kindRSA:
		if m.rsa, err = rsa.GenerateKey(rand.Reader, r.bits); err == nil {
			m.spki, err = x509.MarshalPKIXPublicKey(&m.rsa.PublicKey)
		}
	case kindEC:
		if m.ec, err = ecdsa.GenerateKey(r.curve, rand.Reader); err == nil {
			m.spki, err = x509.MarshalPKIXPublicKey(&m.ec.PublicKey)
		}
	case kindK1:
		if m.k1, err = secp256k1.GeneratePrivateKey(); err == nil {
			m.spki, err = k1SPKI(m.k1.PubKey())
		}
	default:
		err = fmt.Errorf("unknown key kind %d", r.kind)
	}
	return m, err
}

// childrenOf returns, sorted by name, the protos of the resources in m
// directly under parent (a resource's name is its parent's, then
// /COLLECTION/ID).
func childrenOf[R, P any](m map[string]R, parent string, proto func(R) P) []P {
	var out []P
	for _, name := range slices.Sorted(maps.Keys(m)) {
		if parentOf(name, 2) == parent {
			out = append(out, proto(m[name]))
		}
	}
	return out
}

// GetCryptoKey returns a key.
func (s *Server) GetCryptoKey(_ context.Context, req *kmspb.GetCryptoKeyRequest) (*kmspb.CryptoKey, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k, err := s.cryptoKey(req.GetName())
	if err != nil {
		return nil, err
	}
	return s.keyProto(k), nil
}

// ListCryptoKeys lists the keys of a key ring, by name, in one page.
func (s *Server) ListCryptoKeys(_ context.Context, req *kmspb.ListCryptoKeysRequest) (*kmspb.ListCryptoKeysResponse, error) {
	if err := noFilter(req.GetFilter(), req.GetOrderBy(), req.GetPageToken()); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.keyRing(req.GetParent()); err != nil {
		return nil, err
	}
	out := &kmspb.ListCryptoKeysResponse{CryptoKeys: childrenOf(s.keys, req.GetParent(), s.keyProto)}
	out.TotalSize = int32(len(out.CryptoKeys))
	return out, nil
}

// CreateCryptoKeyVersion adds a generated version (not to import_only keys).
func (s *Server) CreateCryptoKeyVersion(_ context.Context, req *kmspb.CreateCryptoKeyVersionRequest) (*kmspb.CryptoKeyVersion, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k, err := s.cryptoKey(req.GetParent())
	if err != nil {
		return nil, err
	}
	if k.importOnly {
		return nil, status.Errorf(codes.FailedPrecondition, "%s is import_only: it may contain imported versions only.", k.name)
	}
	v, err := s.generateVersion(k)
	if err != nil {
		return nil, err
	}
	return s.versionProto(v), nil
}

// GetCryptoKeyVersion returns a version.
func (s *Server) GetCryptoKeyVersion(_ context.Context, req *kmspb.GetCryptoKeyVersionRequest) (*kmspb.CryptoKeyVersion, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, v, err := s.version(req.GetName())
	if err != nil {
		return nil, err
	}
	return s.versionProto(v), nil
}

// ListCryptoKeyVersions lists the versions of a key, in order, in one page.
func (s *Server) ListCryptoKeyVersions(_ context.Context, req *kmspb.ListCryptoKeyVersionsRequest) (*kmspb.ListCryptoKeyVersionsResponse, error) {
	if err := noFilter(req.GetFilter(), req.GetOrderBy(), req.GetPageToken()); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	k, err := s.cryptoKey(req.GetParent())
	if err != nil {
		return nil, err
	}
	out := &kmspb.ListCryptoKeyVersionsResponse{}
	for _, v := range k.versions {
		out.CryptoKeyVersions = append(out.CryptoKeyVersions, s.versionProto(v))
	}
	out.TotalSize = int32(len(out.CryptoKeyVersions))
	return out, nil
}

// UpdateCryptoKeyPrimaryVersion sets the primary version of an
// ENCRYPT_DECRYPT key: "Returns an error if called on a key whose purpose is
// not ENCRYPT_DECRYPT." (https://cloud.google.com/kms/docs/reference/rpc/google.cloud.kms.v1).
// Any version may be made primary: "a version which is not enabled can be
// made the primary version" (https://cloud.google.com/kms/docs/key-states);
// Encrypt fails while the primary is not ENABLED.
func (s *Server) UpdateCryptoKeyPrimaryVersion(_ context.Context, req *kmspb.UpdateCryptoKeyPrimaryVersionRequest) (*kmspb.CryptoKey, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k, err := s.cryptoKey(req.GetName())
	if err != nil {
		return nil, err
	}
	if k.purpose != kmspb.CryptoKey_ENCRYPT_DECRYPT {
		return nil, status.Errorf(codes.FailedPrecondition, "%s has purpose %s; only ENCRYPT_DECRYPT keys have a primary version.", k.name, k.purpose)
	}
	id := req.GetCryptoKeyVersionId()
	n, err := strconv.Atoi(id)
	if err != nil || n < 1 || strconv.Itoa(n) != id {
		return nil, status.Errorf(codes.InvalidArgument, "crypto_key_version_id %q is not a version number", id)
	}
	if n > len(k.versions) {
		return nil, status.Errorf(codes.NotFound, "CryptoKeyVersion %s/cryptoKeyVersions/%d not found.", k.name, n)
	}
	k.primary = n
	return s.keyProto(k), nil
}

// DestroyCryptoKeyVersion destroys a version's key material.
func (s *Server) DestroyCryptoKeyVersion(_ context.Context, req *kmspb.DestroyCryptoKeyVersionRequest) (*kmspb.CryptoKeyVersion, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k, v, err := s.version(req.GetName())
	if err != nil {
		return nil, err
	}
	if v.state != kmspb.CryptoKeyVersion_ENABLED && v.state != kmspb.CryptoKeyVersion_DISABLED {
		return nil, status.Errorf(codes.FailedPrecondition, "%s cannot be destroyed in state %s.", v.name, v.state)
	}
	// The version stays primary if it was: "an enabled primary
	// CryptoKeyVersion can be disabled, scheduled for destruction or
	// destroyed" (https://cloud.google.com/kms/docs/key-states).
	v.state = kmspb.CryptoKeyVersion_DESTROY_SCHEDULED
	v.destroyAt = s.cfg.now().Add(k.destroyAfter)
	s.refreshVersion(v) // a zero destroy_scheduled_duration destroys at once
	return s.versionProto(v), nil
}

// RestoreCryptoKeyVersion puts a DESTROY_SCHEDULED version back into DISABLED
// (CryptoKeyVersionState DESTROY_SCHEDULED,
// https://cloud.google.com/kms/docs/reference/rpc/google.cloud.kms.v1).
func (s *Server) RestoreCryptoKeyVersion(_ context.Context, req *kmspb.RestoreCryptoKeyVersionRequest) (*kmspb.CryptoKeyVersion, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, v, err := s.version(req.GetName())
	if err != nil {
		return nil, err
	}
	if v.state != kmspb.CryptoKeyVersion_DESTROY_SCHEDULED {
		return nil, status.Errorf(codes.FailedPrecondition, "%s is not scheduled for destruction, current state is: %s.", v.name, v.state)
	}
	v.state = kmspb.CryptoKeyVersion_DISABLED
	v.destroyAt = time.Time{}
	return s.versionProto(v), nil
}

// UpdateCryptoKeyVersion changes a version's state between ENABLED and
// DISABLED (update_mask "state"; nothing else is emulated).
func (s *Server) UpdateCryptoKeyVersion(_ context.Context, req *kmspb.UpdateCryptoKeyVersionRequest) (*kmspb.CryptoKeyVersion, error) {
	paths := req.GetUpdateMask().GetPaths()
	if len(paths) != 1 || paths[0] != "state" {
		return nil, status.Error(codes.InvalidArgument, "gcpkmstest: update_mask must be exactly [\"state\"]")
	}
	want := req.GetCryptoKeyVersion().GetState()
	if want != kmspb.CryptoKeyVersion_ENABLED && want != kmspb.CryptoKeyVersion_DISABLED {
		return nil, status.Errorf(codes.InvalidArgument, "state may be set to ENABLED or DISABLED only, not %s", want)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	_, v, err := s.version(req.GetCryptoKeyVersion().GetName())
	if err != nil {
		return nil, err
	}
	if v.state != kmspb.CryptoKeyVersion_ENABLED && v.state != kmspb.CryptoKeyVersion_DISABLED {
		return nil, status.Errorf(codes.FailedPrecondition, "%s cannot be updated in state %s.", v.name, v.state)
	}
	v.state = want
	return s.versionProto(v), nil
}
