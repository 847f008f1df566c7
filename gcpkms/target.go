package gcpkms

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"sync"
	"time"

	kms "cloud.google.com/go/kms/apiv1"
	"cloud.google.com/go/kms/apiv1/kmspb"
	"github.com/googleapis/gax-go/v2"
	"google.golang.org/api/iterator"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/byok-go/byok"
)

// API is the part of the Cloud KMS client byok calls;
// *kms.KeyManagementClient (cloud.google.com/go/kms/apiv1) implements it,
// and so can a recorder or a fault injector.
type API interface {
	GetKeyRing(ctx context.Context, req *kmspb.GetKeyRingRequest, opts ...gax.CallOption) (*kmspb.KeyRing, error)
	CreateKeyRing(ctx context.Context, req *kmspb.CreateKeyRingRequest, opts ...gax.CallOption) (*kmspb.KeyRing, error)
	GetCryptoKey(ctx context.Context, req *kmspb.GetCryptoKeyRequest, opts ...gax.CallOption) (*kmspb.CryptoKey, error)
	CreateCryptoKey(ctx context.Context, req *kmspb.CreateCryptoKeyRequest, opts ...gax.CallOption) (*kmspb.CryptoKey, error)
	CreateImportJob(ctx context.Context, req *kmspb.CreateImportJobRequest, opts ...gax.CallOption) (*kmspb.ImportJob, error)
	GetImportJob(ctx context.Context, req *kmspb.GetImportJobRequest, opts ...gax.CallOption) (*kmspb.ImportJob, error)
	ImportCryptoKeyVersion(ctx context.Context, req *kmspb.ImportCryptoKeyVersionRequest, opts ...gax.CallOption) (*kmspb.CryptoKeyVersion, error)
	GetCryptoKeyVersion(ctx context.Context, req *kmspb.GetCryptoKeyVersionRequest, opts ...gax.CallOption) (*kmspb.CryptoKeyVersion, error)
	ListCryptoKeyVersions(ctx context.Context, req *kmspb.ListCryptoKeyVersionsRequest, opts ...gax.CallOption) *kms.CryptoKeyVersionIterator
	GetPublicKey(ctx context.Context, req *kmspb.GetPublicKeyRequest, opts ...gax.CallOption) (*kmspb.PublicKey, error)
	AsymmetricSign(ctx context.Context, req *kmspb.AsymmetricSignRequest, opts ...gax.CallOption) (*kmspb.AsymmetricSignResponse, error)
	AsymmetricDecrypt(ctx context.Context, req *kmspb.AsymmetricDecryptRequest, opts ...gax.CallOption) (*kmspb.AsymmetricDecryptResponse, error)
	MacSign(ctx context.Context, req *kmspb.MacSignRequest, opts ...gax.CallOption) (*kmspb.MacSignResponse, error)
	Encrypt(ctx context.Context, req *kmspb.EncryptRequest, opts ...gax.CallOption) (*kmspb.EncryptResponse, error)
	Decrypt(ctx context.Context, req *kmspb.DecryptRequest, opts ...gax.CallOption) (*kmspb.DecryptResponse, error)
	RawEncrypt(ctx context.Context, req *kmspb.RawEncryptRequest, opts ...gax.CallOption) (*kmspb.RawEncryptResponse, error)
	RawDecrypt(ctx context.Context, req *kmspb.RawDecryptRequest, opts ...gax.CallOption) (*kmspb.RawDecryptResponse, error)
}

var _ API = (*kms.KeyManagementClient)(nil)

// Options configure a Target.
type Options struct {
	// KeyRing is the key ring's name, projects/P/locations/L/keyRings/R.
	// It is created if missing (key rings cannot be deleted).
	KeyRing string
	// KeyID is the crypto key's ID in the key ring. Missing, it is created
	// import-only, with no initial version, for the source's algorithm and
	// ProtectionLevel; existing, it is used only if its purpose, version
	// template algorithm and protection level are the import's.
	KeyID string
	// ProtectionLevel is "HSM" (empty means HSM) or "SOFTWARE".
	ProtectionLevel string
	// Algorithm is the Cloud KMS algorithm of the imported version (e.g.
	// RSA_SIGN_PSS_2048_SHA256, AES_256_GCM); empty means AlgorithmFor's
	// default for the source's spec and usage.
	Algorithm string
	// ImportJobID names an existing import job in the key ring to reuse (it
	// must be, or become, ACTIVE, with the chosen import method and the
	// protection level); empty means a new job is created.
	ImportJobID string
	// PollInterval is how often an import job and an imported version are
	// polled; zero means 2 seconds.
	PollInterval time.Duration
	// Timeout bounds each wait (the job becoming ACTIVE, the version
	// ENABLED); zero means 10 minutes. The context bounds it too.
	Timeout time.Duration
	// Logger receives progress; nil means none. Nothing secret is logged.
	Logger *slog.Logger
}

// Target is Google Cloud KMS as a byok target: it implements
// byok.KMSTarget, byok.WrappingChooser and byok.ImportVerifier. One Target
// imports into one crypto key (Options.KeyID); it is safe for concurrent
// use, but imports into the same key should not run at once.
type Target struct {
	client API
	opts   Options
	level  kmspb.ProtectionLevel
	ring   name
	log    *slog.Logger

	mu      sync.Mutex
	created bool   // this Target created the crypto key
	alg     algRow // the algorithm Prepare chose
}

var (
	_ byok.KMSTarget       = (*Target)(nil)
	_ byok.WrappingChooser = (*Target)(nil)
	_ byok.ImportVerifier  = (*Target)(nil)
)

// name is a parsed key ring name.
type name struct{ project, location, ring string }

func (n name) String() string {
	return "projects/" + n.project + "/locations/" + n.location + "/keyRings/" + n.ring
}

// Resource IDs: https://cloud.google.com/kms/docs/resource-hierarchy
// (key ring, key and import job IDs: letters, digits, _ and -, 1 to 63).
var (
	ringRE = regexp.MustCompile(`^projects/([a-z0-9.:-]{1,100})/locations/([a-z0-9-]{1,63})/keyRings/([a-zA-Z0-9_-]{1,63})$`)
	idRE   = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,63}$`)
)

// New returns a Target that imports through client with opts. It checks the
// options and makes no call.
func New(client API, opts Options) (*Target, error) {
	if client == nil {
		return nil, errors.New("gcpkms: no client; make one with kms.NewKeyManagementClient(ctx) (cloud.google.com/go/kms/apiv1)")
	}
	m := ringRE.FindStringSubmatch(opts.KeyRing)
	if m == nil {
		return nil, &OptionError{Field: "KeyRing", Value: opts.KeyRing, Problem: "want projects/PROJECT/locations/LOCATION/keyRings/RING: " +
			"a project ID (lowercase letters, digits, -), a location (europe-west1, global), a key ring ID (letters, digits, _ and -)"}
	}
	if !idRE.MatchString(opts.KeyID) {
		return nil, &OptionError{Field: "KeyID", Value: opts.KeyID, Problem: "want a crypto key ID of 1 to 63 letters, digits, _ or -"}
	}
	if opts.ImportJobID != "" && !idRE.MatchString(opts.ImportJobID) {
		return nil, &OptionError{Field: "ImportJobID", Value: opts.ImportJobID, Problem: "want an import job ID of 1 to 63 letters, digits, _ or -"}
	}
	t := &Target{client: client, opts: opts, ring: name{m[1], m[2], m[3]}, log: opts.Logger}
	switch strings.ToUpper(opts.ProtectionLevel) {
	case "", "HSM":
		t.level = kmspb.ProtectionLevel_HSM
	case "SOFTWARE":
		t.level = kmspb.ProtectionLevel_SOFTWARE
	default:
		return nil, optionRule("ProtectionLevel", opts.ProtectionLevel, "not a protection level byok imports at", &RuleError{Rule: RuleProtectionLevel,
			What: fmt.Sprintf("protection level %q", opts.ProtectionLevel), Fix: "use HSM or SOFTWARE"})
	}
	if opts.Algorithm != "" {
		if _, ok := kmspb.CryptoKeyVersion_CryptoKeyVersionAlgorithm_value[opts.Algorithm]; !ok {
			return nil, optionRule("Algorithm", opts.Algorithm, "unknown to Cloud KMS (names are upper case)", &RuleError{Rule: RuleAlgorithmFits,
				What: fmt.Sprintf("algorithm %q (unknown to Cloud KMS; names are upper case)", opts.Algorithm),
				Fix:  "use a name from https://cloud.google.com/kms/docs/algorithms, e.g. RSA_SIGN_PKCS1_2048_SHA256"})
		}
	}
	if t.log == nil {
		t.log = slog.New(slog.DiscardHandler)
	}
	if t.opts.PollInterval <= 0 {
		t.opts.PollInterval = 2 * time.Second
	}
	if t.opts.Timeout <= 0 {
		t.opts.Timeout = 10 * time.Minute
	}
	return t, nil
}

// KeyName returns the crypto key's full name.
func (t *Target) KeyName() string { return t.ring.String() + "/cryptoKeys/" + t.opts.KeyID }

// KeyRing returns the key ring's full name.
func (t *Target) KeyRing() string { return t.ring.String() }

// gcloud returns the gcloud flags that name the key.
func (t *Target) gcloud() string {
	return fmt.Sprintf("--key %s --keyring %s --location %s --project %s", t.opts.KeyID, t.ring.ring, t.ring.location, t.ring.project)
}

// leftBehind says what an import that failed after the key was created left,
// and how to remove it; version is the imported version's name, or "".
func (t *Target) leftBehind(version string, enabled bool) string {
	t.mu.Lock()
	created := t.created
	t.mu.Unlock()
	var b strings.Builder
	if version != "" {
		id := version[strings.LastIndex(version, "/")+1:]
		if enabled {
			fmt.Fprintf(&b, "; the version %s holds the imported material: destroy it with `gcloud kms keys versions destroy %s %s`", version, id, t.gcloud())
		} else {
			fmt.Fprintf(&b, "; the version %s holds no usable material", version)
		}
	}
	if created {
		fmt.Fprintf(&b, "; the crypto key %s was created by this import and stays: Cloud KMS does not delete keys (byok does not try); "+
			"it is import-only and can hold only material imported into it (see it with `gcloud kms keys versions list %s`)", t.KeyName(), t.gcloud())
	}
	return b.String()
}

// code is the gRPC status code of err.
func code(err error) codes.Code { return status.Code(err) }

// Prepare finds or creates the key ring, checks (or plans) the crypto key,
// finds or creates the import job and waits until it is ACTIVE, then
// creates the crypto key if it was missing, so that no key is created for
// an import whose job cannot be had. The parameters' ImportToken is the
// job's name and ValidTo its expire_time.
func (t *Target) Prepare(ctx context.Context, info byok.KeyInfo, alg byok.WrappingAlgorithm, wks byok.WrappingKeySpec) (byok.ImportParameters, error) {
	row, err := resolve(info.Spec, info.Usage, t.opts.Algorithm, t.level.String())
	if err != nil {
		return byok.ImportParameters{}, err
	}
	m, err := methodFor(alg, wks)
	if err != nil {
		return byok.ImportParameters{}, err
	}
	if !containsMethod(allowedFor(info.Spec.Kind()), m.m) {
		return byok.ImportParameters{}, refuseAsked(info.Spec.Kind(), alg, wks)
	}
	t.mu.Lock()
	t.alg = row
	t.mu.Unlock()

	if err := t.ensureRing(ctx); err != nil {
		return byok.ImportParameters{}, err
	}
	keyName := t.KeyName()
	exists, err := t.checkKey(ctx, row)
	if err != nil {
		return byok.ImportParameters{}, err
	}
	job, err := t.importJob(ctx, m)
	if err != nil {
		return byok.ImportParameters{}, err
	}
	pub, err := jobPublicKey(job, m)
	if err != nil {
		return byok.ImportParameters{}, err
	}
	if !exists {
		if err := t.createKey(ctx, row, info); err != nil {
			return byok.ImportParameters{}, err
		}
	}
	p := byok.ImportParameters{KeyID: keyName, Algorithm: alg, WrappingKeySpec: wks, WrappingKey: pub, ImportToken: []byte(job.GetName())}
	if job.GetExpireTime() != nil {
		p.ValidTo = job.GetExpireTime().AsTime()
	}
	return p, nil
}

func containsMethod(ms []method, m kmspb.ImportJob_ImportMethod) bool {
	for _, x := range ms {
		if x.m == m {
			return true
		}
	}
	return false
}

func (t *Target) ensureRing(ctx context.Context) error {
	_, err := t.client.GetKeyRing(ctx, &kmspb.GetKeyRingRequest{Name: t.ring.String()})
	if err == nil {
		return nil
	}
	if code(err) != codes.NotFound {
		return fmt.Errorf("gcpkms: GetKeyRing %s: %w", t.ring, err)
	}
	t.log.Info("gcpkms: creating the key ring", "key_ring", t.ring.String())
	parent := "projects/" + t.ring.project + "/locations/" + t.ring.location
	_, err = t.client.CreateKeyRing(ctx, &kmspb.CreateKeyRingRequest{Parent: parent, KeyRingId: t.ring.ring, KeyRing: &kmspb.KeyRing{}})
	if err != nil && code(err) != codes.AlreadyExists {
		return fmt.Errorf("gcpkms: CreateKeyRing %s: %w", t.ring, err)
	}
	return nil
}

// checkKey reports whether the crypto key exists, and refuses one that
// does not fit the import.
func (t *Target) checkKey(ctx context.Context, row algRow) (bool, error) {
	ck, err := t.client.GetCryptoKey(ctx, &kmspb.GetCryptoKeyRequest{Name: t.KeyName()})
	if code(err) == codes.NotFound {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("gcpkms: GetCryptoKey %s: %w", t.KeyName(), err)
	}
	return true, t.fits(ck, row)
}

// fits refuses an existing crypto key whose purpose, algorithm or
// protection level is not the import's.
func (t *Target) fits(ck *kmspb.CryptoKey, row algRow) error {
	tpl := ck.GetVersionTemplate()
	e := &KeyExistsError{Key: ck.GetName()}
	switch {
	case ck.GetPurpose() != row.purpose:
		e.What, e.Has, e.Wants = "purpose", ck.GetPurpose().String(), row.purpose.String()
	case tpl.GetProtectionLevel() != t.level:
		e.What, e.Has, e.Wants, e.Field = "protection level", tpl.GetProtectionLevel().String(), t.level.String(), "ProtectionLevel"
	case tpl.GetAlgorithm() != row.alg:
		e.What, e.Has, e.Wants, e.Field = "algorithm", tpl.GetAlgorithm().String(), row.alg.String(), "Algorithm"
		if has, ok := rowOf(tpl.GetAlgorithm()); !ok || has.spec != row.spec || has.usage != row.usage {
			e.Field = "" // the key's algorithm cannot hold the source key
		}
	default:
		return nil
	}
	return e
}

func (t *Target) createKey(ctx context.Context, row algRow, info byok.KeyInfo) error {
	t.log.Info("gcpkms: creating the crypto key", "key", t.KeyName(), "algorithm", row.alg.String(), "protection_level", t.level.String())
	ck, err := t.client.CreateCryptoKey(ctx, &kmspb.CreateCryptoKeyRequest{
		Parent:      t.ring.String(),
		CryptoKeyId: t.opts.KeyID,
		CryptoKey: &kmspb.CryptoKey{
			Purpose:         row.purpose,
			ImportOnly:      true,
			VersionTemplate: &kmspb.CryptoKeyVersionTemplate{ProtectionLevel: t.level, Algorithm: row.alg},
			Labels:          map[string]string{"created-by": "byok"},
		},
		SkipInitialVersionCreation: true,
	})
	if code(err) == codes.AlreadyExists {
		// Created meanwhile by someone else: use it only if it fits.
		ck, err = t.client.GetCryptoKey(ctx, &kmspb.GetCryptoKeyRequest{Name: t.KeyName()})
		if err != nil {
			return fmt.Errorf("gcpkms: GetCryptoKey %s: %w", t.KeyName(), err)
		}
		return t.fits(ck, row)
	}
	if err != nil {
		return fmt.Errorf("gcpkms: CreateCryptoKey %s (%s, %s, import-only): %w", t.KeyName(), row.alg, t.level, err)
	}
	if err := t.fits(ck, row); err != nil {
		return err
	}
	t.mu.Lock()
	t.created = true
	t.mu.Unlock()
	return nil
}

// importJob gets the named job or creates one, and waits until it is ACTIVE.
func (t *Target) importJob(ctx context.Context, m method) (*kmspb.ImportJob, error) {
	var job *kmspb.ImportJob
	var err error
	if t.opts.ImportJobID != "" {
		n := t.ring.String() + "/importJobs/" + t.opts.ImportJobID
		job, err = t.client.GetImportJob(ctx, &kmspb.GetImportJobRequest{Name: n})
		if err != nil {
			return nil, fmt.Errorf("gcpkms: GetImportJob %s: %w", n, err)
		}
		switch {
		case job.GetImportMethod() != m.m:
			return nil, fmt.Errorf("%w: gcpkms: the import job %s uses %s; this import needs %s: let byok create a job (no --gcp-import-job), or name one with that method",
				byok.ErrIncompatible, n, job.GetImportMethod(), m.m)
		case job.GetProtectionLevel() != t.level:
			return nil, &RuleError{Rule: RuleProtectionLevel, What: fmt.Sprintf("the import job %s at protection level %s for %s key", n, job.GetProtectionLevel(), a(t.level.String())),
				Fix: "name a job of the key's protection level, or let byok create one"}
		case job.GetState() == kmspb.ImportJob_EXPIRED:
			return nil, fmt.Errorf("gcpkms: the import job %s has expired; let byok create a new one (no --gcp-import-job)", n)
		}
	} else {
		id := "byok-" + randomID()
		t.log.Info("gcpkms: creating an import job", "job", id, "method", m.m.String())
		job, err = t.client.CreateImportJob(ctx, &kmspb.CreateImportJobRequest{Parent: t.ring.String(), ImportJobId: id,
			ImportJob: &kmspb.ImportJob{ImportMethod: m.m, ProtectionLevel: t.level}})
		if err != nil {
			return nil, fmt.Errorf("gcpkms: CreateImportJob in %s (%s, %s): %w", t.ring, m.m, t.level, err)
		}
	}
	n := job.GetName()
	err = t.poll(ctx, "the import job "+n+" to become ACTIVE", func() (bool, error) {
		switch job.GetState() {
		case kmspb.ImportJob_ACTIVE:
			return true, nil
		case kmspb.ImportJob_EXPIRED:
			return false, fmt.Errorf("gcpkms: the import job %s expired", n)
		}
		j, err := t.client.GetImportJob(ctx, &kmspb.GetImportJobRequest{Name: n})
		if err != nil {
			return false, fmt.Errorf("gcpkms: GetImportJob %s: %w", n, err)
		}
		job = j
		return job.GetState() == kmspb.ImportJob_ACTIVE, nil
	})
	if err != nil {
		return nil, err
	}
	if job.GetImportMethod() != m.m || job.GetProtectionLevel() != t.level {
		return nil, fmt.Errorf("gcpkms: the import job %s is %s at %s, not the %s at %s asked for", n, job.GetImportMethod(), job.GetProtectionLevel(), m.m, t.level)
	}
	return job, nil
}

func randomID() string {
	b := make([]byte, 8)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// maxPEM bounds the wrapping public key's PEM (a 4096-bit SPKI is about 800
// bytes).
const maxPEM = 8 << 10

// jobPublicKey parses the job's wrapping public key and checks that its
// size is the method's.
func jobPublicKey(job *kmspb.ImportJob, m method) (*rsa.PublicKey, error) {
	s := job.GetPublicKey().GetPem()
	if s == "" || len(s) > maxPEM {
		return nil, fmt.Errorf("%w: gcpkms: the import job %s has no usable public key (%d bytes of PEM)", byok.ErrWrappingKey, job.GetName(), len(s))
	}
	blk, _ := pem.Decode([]byte(s))
	if blk == nil || blk.Type != "PUBLIC KEY" {
		return nil, fmt.Errorf("%w: gcpkms: the import job %s's public key is not a PEM PUBLIC KEY", byok.ErrWrappingKey, job.GetName())
	}
	k, err := x509.ParsePKIXPublicKey(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%w: gcpkms: the import job %s's public key: %v", byok.ErrWrappingKey, job.GetName(), err)
	}
	pub, ok := k.(*rsa.PublicKey)
	if !ok {
		return nil, fmt.Errorf("%w: gcpkms: the import job %s's public key is a %T, not RSA", byok.ErrWrappingKey, job.GetName(), k)
	}
	if pub.N.BitLen() != m.wks.Bits() {
		return nil, fmt.Errorf("%w: gcpkms: the import job %s (%s) has a %d-bit public key; the method needs %d bits",
			byok.ErrWrappingKey, job.GetName(), m.m, pub.N.BitLen(), m.wks.Bits())
	}
	return pub, nil
}

// poll calls f every PollInterval until it reports done or fails, for at
// most Timeout (and while ctx lasts).
func (t *Target) poll(ctx context.Context, what string, f func() (bool, error)) error {
	ctx, cancel := context.WithTimeout(ctx, t.opts.Timeout)
	defer cancel()
	tick := time.NewTicker(t.opts.PollInterval)
	defer tick.Stop()
	for {
		done, err := f()
		if err != nil || done {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("gcpkms: waiting for %s: %w", what, ctx.Err())
		case <-tick.C:
		}
	}
}

// Import calls ImportCryptoKeyVersion with the job (the parameters'
// ImportToken) and waits until the new version is ENABLED. Imported.KeyID
// is the crypto key's name, KeyARN the version's.
func (t *Target) Import(ctx context.Context, p byok.ImportParameters, wrapped []byte) (byok.Imported, error) {
	t.mu.Lock()
	row, created := t.alg, t.created
	t.mu.Unlock()
	imp := byok.Imported{KeyID: p.KeyID, Created: created, Algorithm: p.Algorithm}
	if row.alg == 0 {
		return imp, errors.New("gcpkms: Import before Prepare")
	}
	v, err := t.client.ImportCryptoKeyVersion(ctx, &kmspb.ImportCryptoKeyVersionRequest{
		Parent: p.KeyID, Algorithm: row.alg, ImportJob: string(p.ImportToken), WrappedKey: wrapped,
	})
	if err != nil {
		return imp, fmt.Errorf("gcpkms: ImportCryptoKeyVersion into %s (%s, job %s): %w%s", p.KeyID, row.alg, p.ImportToken, err, t.leftBehind("", false))
	}
	// The proof runs on this version: it must be one of the key imported
	// into, not another key's.
	if !strings.HasPrefix(v.GetName(), p.KeyID+"/cryptoKeyVersions/") {
		return imp, fmt.Errorf("gcpkms: ImportCryptoKeyVersion into %s answered with the version %q, which is not one of that key%s",
			p.KeyID, v.GetName(), t.leftBehind("", false))
	}
	imp.KeyARN = v.GetName()
	err = t.poll(ctx, "the version "+v.GetName()+" to become ENABLED", func() (bool, error) {
		switch v.GetState() {
		case kmspb.CryptoKeyVersion_ENABLED:
			return true, nil
		case kmspb.CryptoKeyVersion_PENDING_IMPORT:
		case kmspb.CryptoKeyVersion_IMPORT_FAILED:
			return false, fmt.Errorf("gcpkms: Cloud KMS could not import the material into %s (IMPORT_FAILED: %s)%s", v.GetName(), v.GetImportFailureReason(), t.leftBehind(v.GetName(), false))
		default:
			return false, fmt.Errorf("gcpkms: the imported version %s is %s, not ENABLED%s", v.GetName(), v.GetState(), t.leftBehind(v.GetName(), false))
		}
		nv, err := t.client.GetCryptoKeyVersion(ctx, &kmspb.GetCryptoKeyVersionRequest{Name: v.GetName()})
		if err != nil {
			return false, fmt.Errorf("gcpkms: GetCryptoKeyVersion %s: %w", v.GetName(), err)
		}
		v = nv
		return false, nil
	})
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
			err = fmt.Errorf("%w%s", err, t.leftBehind(v.GetName(), false))
		}
		return imp, err
	}
	if v.GetAlgorithm() != row.alg {
		return imp, fmt.Errorf("gcpkms: the imported version %s is %s, not %s%s", v.GetName(), v.GetAlgorithm(), row.alg, t.leftBehind(v.GetName(), true))
	}
	return imp, nil
}

// RemovalHint says, for a key an import left (a failed proof), how to
// remove what it holds: destroy the imported version; the key stays.
func (t *Target) RemovalHint(version string) string {
	return strings.TrimPrefix(t.leftBehind(version, true), "; ")
}

// KeyState returns the state (ENABLED, PENDING_IMPORT, IMPORT_FAILED,
// DISABLED, DESTROY_SCHEDULED, DESTROYED, …) of a crypto key version, or,
// for a crypto key's name, of its newest imported version; "" for a key
// with no imported version.
func (t *Target) KeyState(ctx context.Context, keyID string) (string, error) {
	if strings.Contains(keyID, "/cryptoKeyVersions/") {
		v, err := t.client.GetCryptoKeyVersion(ctx, &kmspb.GetCryptoKeyVersionRequest{Name: keyID})
		if err != nil {
			return "", fmt.Errorf("gcpkms: GetCryptoKeyVersion %s: %w", keyID, err)
		}
		return v.GetState().String(), nil
	}
	it := t.client.ListCryptoKeyVersions(ctx, &kmspb.ListCryptoKeyVersionsRequest{Parent: keyID})
	var newest *kmspb.CryptoKeyVersion
	for range 10000 {
		v, err := it.Next()
		if errors.Is(err, iterator.Done) {
			break
		}
		if err != nil {
			return "", fmt.Errorf("gcpkms: ListCryptoKeyVersions %s: %w", keyID, err)
		}
		if v.GetImportJob() == "" {
			continue
		}
		if newest == nil || v.GetCreateTime().AsTime().After(newest.GetCreateTime().AsTime()) {
			newest = v
		}
	}
	if newest == nil {
		return "", nil
	}
	return newest.GetState().String(), nil
}

// IsThrottled reports whether err is Cloud KMS refusing a request over its
// quota (RESOURCE_EXHAUSTED), so that a caller pacing many imports (byok
// migrate) slows down and tries again.
// https://cloud.google.com/kms/quotas
func (t *Target) IsThrottled(err error) bool { return code(err) == codes.ResourceExhausted }
