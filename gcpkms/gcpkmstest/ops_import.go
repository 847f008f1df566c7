package gcpkmstest

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"strconv"
	"time"

	"cloud.google.com/go/kms/apiv1/kmspb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// CreateImportJob creates an import job. It is PENDING_GENERATION until its
// RSA wrapping key (of the import method's size, fresh for every job) is
// generated and the import job delay has passed, then ACTIVE until 3 days
// after creation, then EXPIRED (ImportJob,
// https://cloud.google.com/kms/docs/reference/rpc/google.cloud.kms.v1).
func (s *Server) CreateImportJob(_ context.Context, req *kmspb.CreateImportJobRequest) (*kmspb.ImportJob, error) {
	if err := checkKeyRingName(req.GetParent()); err != nil {
		return nil, err
	}
	if err := validID("ImportJob", req.GetImportJobId()); err != nil {
		return nil, err
	}
	j := req.GetImportJob()
	method := j.GetImportMethod()
	if method == kmspb.ImportJob_IMPORT_METHOD_UNSPECIFIED {
		return nil, status.Error(codes.InvalidArgument, "import_job.import_method is required")
	}
	m, ok := importMethods[method]
	if !ok {
		return nil, notEmulated("import method", method)
	}
	level := j.GetProtectionLevel()
	if level == kmspb.ProtectionLevel_PROTECTION_LEVEL_UNSPECIFIED {
		return nil, status.Error(codes.InvalidArgument, "import_job.protection_level is required")
	}
	if !importJobLevels[level] {
		return nil, status.Errorf(codes.InvalidArgument, "import_job.protection_level must be SOFTWARE or HSM, not %s", level)
	}
	name := req.GetParent() + "/importJobs/" + req.GetImportJobId()
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.keyRing(req.GetParent()); err != nil {
		return nil, err
	}
	if _, ok := s.jobs[name]; ok {
		return nil, status.Errorf(codes.AlreadyExists, "ImportJob %s already exists.", name)
	}
	now := s.cfg.now()
	job := &importJob{
		name:    name,
		method:  method,
		level:   level,
		created: now,
		expire:  now.Add(importJobLifetime),
		readyAt: time.Now().Add(s.cfg.jobDelay),
	}
	s.jobs[name] = job
	s.bg.Add(1)
	go s.generateWrappingKey(job, m.bits)
	return s.jobProto(job), nil
}

// generateWrappingKey makes the RSA key pair of an import job.
func (s *Server) generateWrappingKey(j *importJob, bits int) {
	defer s.bg.Done()
	priv, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		return // the job stays PENDING_GENERATION until it expires
	}
	der, err := x509.MarshalPKIXPublicKey(&priv.PublicKey)
	if err != nil {
		return
	}
	p := string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
	s.mu.Lock()
	defer s.mu.Unlock()
	j.priv, j.pubPEM, j.genTime = priv, p, s.cfg.now()
}

// GetImportJob returns an import job; public_key only while it is ACTIVE.
func (s *Server) GetImportJob(_ context.Context, req *kmspb.GetImportJobRequest) (*kmspb.ImportJob, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	j, err := s.importJob(req.GetName())
	if err != nil {
		return nil, err
	}
	return s.jobProto(j), nil
}

// ListImportJobs lists the import jobs of a key ring, by name, in one page.
func (s *Server) ListImportJobs(_ context.Context, req *kmspb.ListImportJobsRequest) (*kmspb.ListImportJobsResponse, error) {
	if err := noFilter(req.GetFilter(), req.GetOrderBy(), req.GetPageToken()); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.keyRing(req.GetParent()); err != nil {
		return nil, err
	}
	out := &kmspb.ListImportJobsResponse{ImportJobs: childrenOf(s.jobs, req.GetParent(), s.jobProto)}
	out.TotalSize = int32(len(out.ImportJobs))
	return out, nil
}

// maxWrappedKey bounds the wrapped key the fake reads: an RSA-4096 PKCS#8
// (about 2.4 KB) wrapped under a 4096-bit key is about 3 KB.
const maxWrappedKey = 8192

// ImportCryptoKeyVersion imports wrapped key material into a new version of a
// key, or into an existing imported version that is DESTROYED or
// IMPORT_FAILED. Request errors fail the call; problems of the wrapped
// material itself make the version IMPORT_FAILED after the import delay
// ("Troubleshooting failed imports",
// https://cloud.google.com/kms/docs/troubleshooting-failed-imports).
func (s *Server) ImportCryptoKeyVersion(_ context.Context, req *kmspb.ImportCryptoKeyVersionRequest) (*kmspb.CryptoKeyVersion, error) {
	if err := checkKeyName(req.GetParent()); err != nil {
		return nil, err
	}
	if req.GetImportJob() == "" {
		return nil, status.Error(codes.InvalidArgument, "import_job is required")
	}
	if err := checkJobName(req.GetImportJob()); err != nil {
		return nil, err
	}
	alg := req.GetAlgorithm()
	if alg == kmspb.CryptoKeyVersion_CRYPTO_KEY_VERSION_ALGORITHM_UNSPECIFIED {
		return nil, status.Error(codes.InvalidArgument, "algorithm is required")
	}
	// wrapped_key, or the legacy rsa_aes_wrapped_key: "Either that field or this
	// field (but not both) must be specified."
	// (https://cloud.google.com/kms/docs/reference/rpc/google.cloud.kms.v1).
	wrapped, legacy := req.GetWrappedKey(), req.GetRsaAesWrappedKey()
	switch {
	case len(wrapped) > 0 && len(legacy) > 0:
		return nil, status.Error(codes.InvalidArgument, "specify wrapped_key or rsa_aes_wrapped_key, not both")
	case len(wrapped) == 0 && len(legacy) == 0:
		return nil, status.Error(codes.InvalidArgument, "wrapped_key is required")
	case len(wrapped) == 0:
		wrapped = legacy
	}
	if len(wrapped) > maxWrappedKey {
		return nil, status.Errorf(codes.InvalidArgument, "wrapped_key is %d bytes, longer than any wrapped key material", len(wrapped))
	}
	if req.GetTrustedWrappingEnabled() {
		// "only supported for keys with ... HSM_SINGLE_TENANT"
		// (https://cloud.google.com/kms/docs/reference/rpc/google.cloud.kms.v1).
		return nil, status.Error(codes.InvalidArgument, "trusted_wrapping_enabled is only supported for HSM_SINGLE_TENANT keys")
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	k, err := s.cryptoKey(req.GetParent())
	if err != nil {
		return nil, err
	}
	job, err := s.importJob(req.GetImportJob())
	if err != nil {
		return nil, err
	}
	if parentOf(job.name, 4) != parentOf(k.name, 4) {
		return nil, status.Errorf(codes.InvalidArgument, "ImportJob %s is not in the location of CryptoKey %s", job.name, k.name)
	}
	// ImportJobState
	// (https://cloud.google.com/kms/docs/reference/rpc/google.cloud.kms.v1):
	// PENDING_GENERATION "may not be used"; EXPIRED "can no longer be used".
	if st := s.jobState(job); st != kmspb.ImportJob_ACTIVE {
		return nil, status.Errorf(codes.FailedPrecondition, "ImportJob %s is not ACTIVE, current state is: %s.", job.name, st)
	}
	// ImportJob.protection_level
	// (https://cloud.google.com/kms/docs/reference/rpc/google.cloud.kms.v1):
	// "This must match the protection_level of the version_template on the
	// CryptoKey you attempt to import into."
	if job.level != k.level {
		return nil, status.Errorf(codes.FailedPrecondition, "ImportJob %s has protection level %s, but CryptoKey %s has protection level %s; they must match.", job.name, job.level, k.name, k.level)
	}
	// algorithm: "This does not need to match the version_template of the
	// CryptoKey"
	// (https://cloud.google.com/kms/docs/reference/rpc/google.cloud.kms.v1), but
	// it must fit the key's purpose.
	if err := algorithmFits(alg, k.purpose, k.level); err != nil {
		return nil, err
	}
	rule := algorithms[alg]
	method := importMethods[job.method]
	if rule.kind == kindRSA && !method.rsaMaterial {
		return nil, status.Errorf(codes.InvalidArgument, "import method %s cannot be used to wrap RSA keys for import; use an RSA_OAEP_*_AES_256 import method", job.method)
	}

	var target *keyVersion
	if name := req.GetCryptoKeyVersion(); name != "" {
		keyName, n, err := parseVersionName(name)
		if err != nil {
			return nil, err
		}
		if keyName != k.name {
			return nil, status.Errorf(codes.InvalidArgument, "crypto_key_version %s is not a child of %s", name, k.name)
		}
		if n > len(k.versions) {
			return nil, status.Errorf(codes.NotFound, "CryptoKeyVersion %s not found.", name)
		}
		target = k.versions[n-1]
		s.refreshVersion(target)
		if !target.imported {
			return nil, status.Errorf(codes.FailedPrecondition, "%s was not created by ImportCryptoKeyVersion and cannot be imported into.", name)
		}
		if target.state != kmspb.CryptoKeyVersion_DESTROYED && target.state != kmspb.CryptoKeyVersion_IMPORT_FAILED {
			return nil, status.Errorf(codes.FailedPrecondition, "%s must be DESTROYED or IMPORT_FAILED to be imported into, current state is: %s.", name, target.state)
		}
		if target.everDigest != nil && target.alg != alg {
			return nil, status.Errorf(codes.InvalidArgument, "algorithm %s does not match %s of %s, which held key material before", alg, target.alg, name)
		}
	}

	mat, reason := unwrapMaterial(job.priv, method, wrapped)
	var parsed *material
	if reason == "" {
		parsed, err = parseMaterial(rule, mat)
		if err != nil {
			reason = reasonUnwrap
		}
	}
	clear(mat)
	if parsed != nil && target != nil && target.everDigest != nil && parsed.digest != *target.everDigest {
		parsed.discard()
		parsed, reason = nil, "The key material does not match the key material this CryptoKeyVersion held before"
	}

	now := s.cfg.now()
	if target == nil {
		target = &keyVersion{n: len(k.versions) + 1, created: now, imported: true}
		target.name = k.name + "/cryptoKeyVersions/" + strconv.Itoa(target.n)
		k.versions = append(k.versions, target)
	}
	target.alg = alg
	target.level = k.level
	target.state = kmspb.CryptoKeyVersion_PENDING_IMPORT
	target.importJob = job.name
	target.importTime = now
	target.failureReason = ""
	target.readyAt = time.Now().Add(s.cfg.importDelay)
	target.outcome, target.pendingR = parsed, reason
	return s.versionProto(target), nil
}
