package gcpkmstest

import (
	"crypto/rsa"
	"fmt"
	"time"

	"cloud.google.com/go/kms/apiv1/kmspb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// The fake's resources. Every field is guarded by Server.mu. Delays
// (PENDING_GENERATION, PENDING_IMPORT) run on the real clock (readyAt);
// timestamps and import job expiry on the configured clock (cfg.now).

type keyRing struct {
	name    string
	created time.Time
}

type cryptoKey struct {
	name       string
	purpose    kmspb.CryptoKey_CryptoKeyPurpose
	alg        kmspb.CryptoKeyVersion_CryptoKeyVersionAlgorithm // version template
	level      kmspb.ProtectionLevel                            // version template
	importOnly bool
	created    time.Time
	labels     map[string]string
	versions   []*keyVersion // versions[i] is version i+1
	// destroyAfter is destroy_scheduled_duration: how long versions stay
	// DESTROY_SCHEDULED.
	destroyAfter time.Duration
	primary      int // 0: none
}

type keyVersion struct {
	name    string
	n       int
	alg     kmspb.CryptoKeyVersion_CryptoKeyVersionAlgorithm
	level   kmspb.ProtectionLevel
	state   kmspb.CryptoKeyVersion_CryptoKeyVersionState
	created time.Time
	// generated is when the key material was made or imported (zero if
	// never).
	generated time.Time
	destroyAt time.Time // DESTROY_SCHEDULED: when it becomes DESTROYED
	destroyed time.Time

	imported      bool // created by ImportCryptoKeyVersion
	importJob     string
	importTime    time.Time
	failureReason string

	// pending outcome of an import, applied when readyAt passes.
	readyAt  time.Time
	outcome  *material // nil: IMPORT_FAILED with pendingReason
	pendingR string

	mat *material
	// everDigest is the SHA-256 of the material the version ever held, for
	// re-import ("The key material and algorithm must match the previous
	// CryptoKeyVersion exactly if the CryptoKeyVersion has ever contained key
	// material", ImportCryptoKeyVersionRequest.crypto_key_version,
	// https://cloud.google.com/kms/docs/reference/rpc/google.cloud.kms.v1).
	everDigest *[32]byte
}

type importJob struct {
	name    string
	method  kmspb.ImportJob_ImportMethod
	level   kmspb.ProtectionLevel
	created time.Time
	expire  time.Time
	readyAt time.Time       // real time after which it may be ACTIVE
	priv    *rsa.PrivateKey // nil while generating
	pubPEM  string
	genTime time.Time
}

// refreshVersion applies the outcome of a finished import and a scheduled
// destruction whose time came.
func (s *Server) refreshVersion(v *keyVersion) {
	if v.state == kmspb.CryptoKeyVersion_DESTROY_SCHEDULED && !s.cfg.now().Before(v.destroyAt) {
		v.discard()
		v.state = kmspb.CryptoKeyVersion_DESTROYED
		v.destroyed = v.destroyAt
		return
	}
	if v.state != kmspb.CryptoKeyVersion_PENDING_IMPORT || time.Now().Before(v.readyAt) {
		return
	}
	if v.outcome != nil {
		v.mat, v.outcome = v.outcome, nil
		d := v.mat.digest
		v.everDigest = &d
		v.state = kmspb.CryptoKeyVersion_ENABLED
		v.generated = v.importTime
		v.failureReason = ""
		return
	}
	v.state = kmspb.CryptoKeyVersion_IMPORT_FAILED
	v.failureReason = v.pendingR
}

// discard drops the key material of a version.
func (v *keyVersion) discard() {
	v.mat.discard()
	v.outcome.discard()
	v.mat, v.outcome = nil, nil
}

// jobState is the state of an import job now.
func (s *Server) jobState(j *importJob) kmspb.ImportJob_ImportJobState {
	if !s.cfg.now().Before(j.expire) {
		return kmspb.ImportJob_EXPIRED
	}
	if j.priv == nil || time.Now().Before(j.readyAt) {
		return kmspb.ImportJob_PENDING_GENERATION
	}
	return kmspb.ImportJob_ACTIVE
}

func ts(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}

func (r *keyRing) proto() *kmspb.KeyRing {
	return &kmspb.KeyRing{Name: r.name, CreateTime: ts(r.created)}
}

func (s *Server) keyProto(k *cryptoKey) *kmspb.CryptoKey {
	out := &kmspb.CryptoKey{
		Name:       k.name,
		Purpose:    k.purpose,
		CreateTime: ts(k.created),
		VersionTemplate: &kmspb.CryptoKeyVersionTemplate{
			ProtectionLevel: k.level,
			Algorithm:       k.alg,
		},
		ImportOnly:               k.importOnly,
		DestroyScheduledDuration: durationpb.New(k.destroyAfter),
	}
	if len(k.labels) > 0 {
		out.Labels = map[string]string{}
		for a, b := range k.labels {
			out.Labels[a] = b
		}
	}
	if k.purpose == kmspb.CryptoKey_ENCRYPT_DECRYPT && k.primary > 0 {
		out.Primary = s.versionProto(k.versions[k.primary-1])
	}
	return out
}

func (s *Server) versionProto(v *keyVersion) *kmspb.CryptoKeyVersion {
	s.refreshVersion(v)
	out := &kmspb.CryptoKeyVersion{
		Name:             v.name,
		State:            v.state,
		ProtectionLevel:  v.level,
		Algorithm:        v.alg,
		CreateTime:       ts(v.created),
		GenerateTime:     ts(v.generated),
		ImportJob:        v.importJob,
		ImportTime:       ts(v.importTime),
		ReimportEligible: v.imported,
	}
	if v.state == kmspb.CryptoKeyVersion_IMPORT_FAILED {
		out.ImportFailureReason = v.failureReason
	}
	switch v.state {
	case kmspb.CryptoKeyVersion_DESTROYED:
		out.DestroyEventTime = ts(v.destroyed)
	case kmspb.CryptoKeyVersion_DESTROY_SCHEDULED:
		out.DestroyTime = ts(v.destroyAt)
	}
	if v.mat == nil {
		out.GenerateTime = nil
	}
	return out
}

func (s *Server) jobProto(j *importJob) *kmspb.ImportJob {
	st := s.jobState(j)
	out := &kmspb.ImportJob{
		Name:            j.name,
		ImportMethod:    j.method,
		ProtectionLevel: j.level,
		CreateTime:      ts(j.created),
		ExpireTime:      ts(j.expire),
		State:           st,
	}
	switch st {
	case kmspb.ImportJob_ACTIVE:
		out.GenerateTime = ts(j.genTime)
		out.PublicKey = &kmspb.ImportJob_WrappingPublicKey{Pem: j.pubPEM}
	case kmspb.ImportJob_EXPIRED:
		out.ExpireEventTime = ts(j.expire)
		if j.priv != nil {
			out.GenerateTime = ts(j.genTime)
		}
	}
	return out
}

// Lookups; the caller holds s.mu.

func (s *Server) keyRing(name string) (*keyRing, error) {
	if err := checkKeyRingName(name); err != nil {
		return nil, err
	}
	r, ok := s.keyRings[name]
	if !ok {
		return nil, status.Errorf(codes.NotFound, "KeyRing %s not found.", name)
	}
	return r, nil
}

func (s *Server) cryptoKey(name string) (*cryptoKey, error) {
	if err := checkKeyName(name); err != nil {
		return nil, err
	}
	k, ok := s.keys[name]
	if !ok {
		return nil, status.Errorf(codes.NotFound, "CryptoKey %s not found.", name)
	}
	return k, nil
}

func (s *Server) version(name string) (*cryptoKey, *keyVersion, error) {
	keyName, n, err := parseVersionName(name)
	if err != nil {
		return nil, nil, err
	}
	k, ok := s.keys[keyName]
	if !ok || n > len(k.versions) {
		return nil, nil, status.Errorf(codes.NotFound, "CryptoKeyVersion %s not found.", name)
	}
	v := k.versions[n-1]
	s.refreshVersion(v)
	return k, v, nil
}

func (s *Server) importJob(name string) (*importJob, error) {
	if err := checkJobName(name); err != nil {
		return nil, err
	}
	j, ok := s.jobs[name]
	if !ok {
		return nil, status.Errorf(codes.NotFound, "ImportJob %s not found.", name)
	}
	return j, nil
}

// usable fails with FailedPrecondition unless v is ENABLED.
func usable(v *keyVersion) error {
	if v.state != kmspb.CryptoKeyVersion_ENABLED {
		return status.Errorf(codes.FailedPrecondition, "%s is not enabled, current state is: %s.", v.name, v.state)
	}
	return nil
}

// needPurpose fails with FailedPrecondition unless k has purpose p.
func needPurpose(k *cryptoKey, p kmspb.CryptoKey_CryptoKeyPurpose, method string) error {
	if k.purpose != p {
		return status.Errorf(codes.FailedPrecondition, "%s has purpose %s; %s needs a key with purpose %s.", k.name, k.purpose, method, p)
	}
	return nil
}

func notEmulated(what string, v fmt.Stringer) error {
	return status.Errorf(codes.Unimplemented, "gcpkmstest: %s %s is not emulated", what, v)
}
