package gcpkmstest_test

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/kms/apiv1/kmspb"
	kwp "github.com/tink-crypto/tink-go/v2/kwp/subtle"
	"google.golang.org/grpc/codes"

	"github.com/byok-go/byok/gcpkms/gcpkmstest"
)

// Each test here breaks one documented rule and fails if the fake stopped
// enforcing it: the rule and its page are in rules.go.

// negFixture is a fixture with a key ring, an ACTIVE SOFTWARE job of
// RSA_OAEP_3072_SHA256_AES_256 and one of RSA_OAEP_3072_SHA256.
type negFixture struct {
	*fixture
	ring       string
	kwp, plain *kmspb.ImportJob
}

func newNeg(t *testing.T, opts ...gcpkmstest.Option) *negFixture {
	f := newFixture(t, opts...)
	n := &negFixture{fixture: f, ring: f.keyRing("neg")}
	kj := f.job(n.ring, "kwp", kmspb.ImportJob_RSA_OAEP_3072_SHA256_AES_256, kmspb.ProtectionLevel_SOFTWARE)
	pj := f.job(n.ring, "plain", kmspb.ImportJob_RSA_OAEP_3072_SHA256, kmspb.ProtectionLevel_SOFTWARE)
	n.kwp, n.plain = f.waitJob(kj.GetName()), f.waitJob(pj.GetName())
	return n
}

var keySeq int

// failedImport imports and requires IMPORT_FAILED with an
// import_failure_reason; the version must then refuse to be used.
func (n *negFixture) failedImport(alg kmspb.CryptoKeyVersion_CryptoKeyVersionAlgorithm, job *kmspb.ImportJob, wrapped []byte) *kmspb.CryptoKeyVersion {
	n.t.Helper()
	keySeq++
	key := n.importKey(n.ring, "k"+itoa(keySeq), alg, kmspb.ProtectionLevel_SOFTWARE)
	v, err := n.importWrapped(key, job.GetName(), alg, wrapped)
	if err != nil {
		n.t.Fatalf("ImportCryptoKeyVersion failed synchronously (%v); want an IMPORT_FAILED version", err)
	}
	if v.GetState() != kmspb.CryptoKeyVersion_IMPORT_FAILED || v.GetImportFailureReason() == "" {
		n.t.Fatalf("version %s (reason %q), want IMPORT_FAILED with a reason", v.GetState(), v.GetImportFailureReason())
	}
	return v
}

func itoa(i int) string { return string(rune('a'+i/26%26)) + string(rune('a'+i%26)) }

// TestRSAKeysNeedKeyWrap: "this method cannot be used to wrap RSA keys for
// import" (RSA_OAEP_*_SHA256, ImportMethod). An RSA key does not fit in
// RSA-OAEP at all, so the fake must refuse the request itself.
func TestRSAKeysNeedKeyWrap(t *testing.T) {
	n := newNeg(t)
	alg := kmspb.CryptoKeyVersion_RSA_SIGN_PKCS1_2048_SHA256
	key := n.importKey(n.ring, "rsa", alg, kmspb.ProtectionLevel_SOFTWARE)
	_, err := n.c.ImportCryptoKeyVersion(n.ctx, &kmspb.ImportCryptoKeyVersionRequest{
		Parent: key, ImportJob: n.plain.GetName(), Algorithm: alg, WrappedKey: wrapGo(t, n.plain, randBytes(t, 32)),
	})
	wantCode(t, err, codes.InvalidArgument, "RSA key with "+n.plain.GetImportMethod().String())
}

// TestWrongLength: symmetric and HMAC material must be exactly the
// algorithm's length ("Formatting keys for import").
func TestWrongLength(t *testing.T) {
	n := newNeg(t)
	cases := []struct {
		alg kmspb.CryptoKeyVersion_CryptoKeyVersionAlgorithm
		len int
	}{
		{kmspb.CryptoKeyVersion_GOOGLE_SYMMETRIC_ENCRYPTION, 16}, // 16 bytes only for raw encryption
		{kmspb.CryptoKeyVersion_GOOGLE_SYMMETRIC_ENCRYPTION, 31},
		{kmspb.CryptoKeyVersion_HMAC_SHA256, 31},
		{kmspb.CryptoKeyVersion_HMAC_SHA256, 64},
		{kmspb.CryptoKeyVersion_HMAC_SHA512, 32},
		{kmspb.CryptoKeyVersion_AES_128_GCM, 32},
		{kmspb.CryptoKeyVersion_AES_256_CBC, 16},
	}
	for _, c := range cases {
		t.Run(c.alg.String()+"/"+itoa(c.len), func(t *testing.T) {
			n := &negFixture{n.with(t), n.ring, n.kwp, n.plain}
			n.failedImport(c.alg, n.kwp, n.wrapOpenSSL(n.kwp, randBytes(t, c.len)))
		})
	}
}

// TestWrongKey: asymmetric material must be PKCS#8 of the algorithm's key
// type, size and curve ("Formatting keys for import").
func TestWrongKey(t *testing.T) {
	n := newNeg(t)
	p384 := n.genPKCS8("-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384")
	k1 := n.genPKCS8("-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:secp256k1")
	p256 := n.genPKCS8("-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256")
	rsa3072 := n.genPKCS8("-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:3072")
	sec1 := n.openssl("ec", "-inform", "DER", "-in", n.file(name(), p256), "-outform", "DER") // traditional SEC1, not PKCS#8
	trailing := append(append([]byte{}, p256...), 0)
	cases := []struct {
		name string
		alg  kmspb.CryptoKeyVersion_CryptoKeyVersionAlgorithm
		mat  []byte
	}{
		{"P-384 for P-256", kmspb.CryptoKeyVersion_EC_SIGN_P256_SHA256, p384},
		{"secp256k1 for P-256", kmspb.CryptoKeyVersion_EC_SIGN_P256_SHA256, k1},
		{"P-256 for P-384", kmspb.CryptoKeyVersion_EC_SIGN_P384_SHA384, p256},
		{"RSA-3072 for RSA-2048", kmspb.CryptoKeyVersion_RSA_SIGN_PSS_2048_SHA256, rsa3072},
		{"RSA for EC", kmspb.CryptoKeyVersion_EC_SIGN_P256_SHA256, rsa3072},
		{"EC for RSA", kmspb.CryptoKeyVersion_RSA_DECRYPT_OAEP_3072_SHA256, p256},
		{"SEC1 not PKCS#8", kmspb.CryptoKeyVersion_EC_SIGN_P256_SHA256, sec1},
		{"trailing byte", kmspb.CryptoKeyVersion_EC_SIGN_P256_SHA256, trailing},
		{"raw bytes for EC", kmspb.CryptoKeyVersion_EC_SIGN_P256_SHA256, randBytes(t, 32)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			n := &negFixture{n.with(t), n.ring, n.kwp, n.plain}
			n.failedImport(c.alg, n.kwp, n.wrapOpenSSL(n.kwp, c.mat))
		})
	}
}

// TestTamperedWrappedKey: a wrapped key changed in its first byte (the
// RSA-OAEP block) or its last byte (the AES-KWP block, or the RSA-OAEP block
// of a plain method) does not unwrap; nor does one wrapped with the other
// hash, or cut short.
func TestTamperedWrappedKey(t *testing.T) {
	n := newNeg(t)
	mat := randBytes(t, 32)
	alg := kmspb.CryptoKeyVersion_GOOGLE_SYMMETRIC_ENCRYPTION
	for _, job := range []*kmspb.ImportJob{n.kwp, n.plain} {
		good := n.wrapOpenSSL(job, mat)
		flip := func(i int) []byte {
			b := bytes.Clone(good)
			b[i] ^= 0x01
			return b
		}
		cases := map[string][]byte{
			"first byte": flip(0),
			"last byte":  flip(len(good) - 1),
			"cut short":  good[:len(good)-8],
			"one extra":  append(bytes.Clone(good), 0),
		}
		for name, w := range cases {
			t.Run(job.GetImportMethod().String()+"/"+name, func(t *testing.T) {
				n := &negFixture{n.with(t), n.ring, n.kwp, n.plain}
				n.failedImport(alg, job, w)
			})
		}
	}
	t.Run("SHA-1 OAEP for a SHA-256 method", func(t *testing.T) {
		n := &negFixture{n.with(t), n.ring, n.kwp, n.plain}
		sha1Job := &kmspb.ImportJob{ImportMethod: kmspb.ImportJob_RSA_OAEP_3072_SHA1_AES_256, PublicKey: n.kwp.GetPublicKey()}
		n.failedImport(alg, n.kwp, wrapGo(t, sha1Job, mat))
	})
	t.Run("key wrap for a plain method", func(t *testing.T) {
		n := &negFixture{n.with(t), n.ring, n.kwp, n.plain}
		kwpJob := &kmspb.ImportJob{ImportMethod: kmspb.ImportJob_RSA_OAEP_3072_SHA256_AES_256, PublicKey: n.plain.GetPublicKey()}
		n.failedImport(alg, n.plain, wrapGo(t, kwpJob, mat))
	})
	t.Run("AES-128 ephemeral key", func(t *testing.T) {
		// The *_AES_256 methods wrap "an ephemeral AES-256 wrapping key".
		n := &negFixture{n.with(t), n.ring, n.kwp, n.plain}
		block, _ := pem.Decode([]byte(n.kwp.GetPublicKey().GetPem()))
		pub, err := x509.ParsePKIXPublicKey(block.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		aesKey := randBytes(t, 16)
		head, err := rsa.EncryptOAEP(sha256.New(), rand.Reader, pub.(*rsa.PublicKey), aesKey, nil)
		if err != nil {
			t.Fatal(err)
		}
		w, err := kwp.NewKWP(aesKey)
		if err != nil {
			t.Fatal(err)
		}
		tail, err := w.Wrap(mat)
		if err != nil {
			t.Fatal(err)
		}
		n.failedImport(alg, n.kwp, append(head, tail...))
	})
	t.Run("the good one", func(t *testing.T) {
		// The same material wrapped right imports: the cases above fail for
		// their damage, not for the material.
		n := &negFixture{n.with(t), n.ring, n.kwp, n.plain}
		key := n.importKey(n.ring, "good", alg, kmspb.ProtectionLevel_SOFTWARE)
		v, err := n.importWrapped(key, n.kwp.GetName(), alg, n.wrapOpenSSL(n.kwp, mat))
		if err != nil || v.GetState() != kmspb.CryptoKeyVersion_ENABLED {
			t.Fatalf("%v %v", v, err)
		}
	})
}

// TestJobNotActive: a PENDING_GENERATION import job "may not be used"; it
// has no public key yet.
func TestJobNotActive(t *testing.T) {
	f := newFixture(t, gcpkmstest.WithImportJobDelay(time.Hour))
	ring := f.keyRing("pending")
	job := f.job(ring, "j", kmspb.ImportJob_RSA_OAEP_3072_SHA256_AES_256, kmspb.ProtectionLevel_SOFTWARE)
	// Let the wrapping key be generated: only the delay keeps it pending.
	time.Sleep(2 * time.Second)
	got, err := f.c.GetImportJob(f.ctx, &kmspb.GetImportJobRequest{Name: job.GetName()})
	if err != nil {
		t.Fatal(err)
	}
	if got.GetState() != kmspb.ImportJob_PENDING_GENERATION || got.GetPublicKey() != nil {
		t.Fatalf("job %s with public key %v, want PENDING_GENERATION without", got.GetState(), got.GetPublicKey())
	}
	alg := kmspb.CryptoKeyVersion_HMAC_SHA256
	key := f.importKey(ring, "k", alg, kmspb.ProtectionLevel_SOFTWARE)
	_, err = f.c.ImportCryptoKeyVersion(f.ctx, &kmspb.ImportCryptoKeyVersionRequest{
		Parent: key, ImportJob: job.GetName(), Algorithm: alg, WrappedKey: randBytes(t, 424),
	})
	wantCode(t, err, codes.FailedPrecondition, "import with a PENDING_GENERATION job")
}

// testClock is a settable clock.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// TestJobExpires: "An ImportJob expires 3 days after it is created"; an
// EXPIRED job "can no longer be used".
func TestJobExpires(t *testing.T) {
	clock := &testClock{now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	f := newFixture(t, gcpkmstest.WithClock(clock.Now))
	ring := f.keyRing("expiry")
	job := f.waitJob(f.job(ring, "j", kmspb.ImportJob_RSA_OAEP_3072_SHA256_AES_256, kmspb.ProtectionLevel_SOFTWARE).GetName())
	if got, want := job.GetExpireTime().AsTime(), job.GetCreateTime().AsTime().Add(72*time.Hour); !got.Equal(want) {
		t.Fatalf("expire_time %v, want create_time + 3 days = %v", got, want)
	}
	alg := kmspb.CryptoKeyVersion_HMAC_SHA256
	mat := randBytes(t, 32)

	clock.Add(72*time.Hour - time.Second) // still ACTIVE one second before
	key := f.importKey(ring, "before", alg, kmspb.ProtectionLevel_SOFTWARE)
	if v, err := f.importWrapped(key, job.GetName(), alg, f.wrapOpenSSL(job, mat)); err != nil || v.GetState() != kmspb.CryptoKeyVersion_ENABLED {
		t.Fatalf("import one second before expiry: %v %v", v, err)
	}

	clock.Add(time.Second)
	got, err := f.c.GetImportJob(f.ctx, &kmspb.GetImportJobRequest{Name: job.GetName()})
	if err != nil {
		t.Fatal(err)
	}
	if got.GetState() != kmspb.ImportJob_EXPIRED || got.GetPublicKey() != nil || got.GetExpireEventTime() == nil {
		t.Fatalf("job %s (public key %v, expire_event_time %v), want EXPIRED without public key", got.GetState(), got.GetPublicKey(), got.GetExpireEventTime())
	}
	key = f.importKey(ring, "after", alg, kmspb.ProtectionLevel_SOFTWARE)
	_, err = f.importWrapped(key, job.GetName(), alg, f.wrapOpenSSL(job, mat))
	wantCode(t, err, codes.FailedPrecondition, "import with an EXPIRED job")
}

// TestProtectionLevelMismatch: the job's protection level "must match the
// protection_level of the version_template on the CryptoKey".
func TestProtectionLevelMismatch(t *testing.T) {
	f := newFixture(t)
	ring := f.keyRing("levels")
	hsm := f.waitJob(f.job(ring, "hsm", kmspb.ImportJob_RSA_OAEP_3072_SHA256, kmspb.ProtectionLevel_HSM).GetName())
	soft := f.waitJob(f.job(ring, "soft", kmspb.ImportJob_RSA_OAEP_3072_SHA256, kmspb.ProtectionLevel_SOFTWARE).GetName())
	alg := kmspb.CryptoKeyVersion_HMAC_SHA256
	mat := randBytes(t, 32)
	for _, c := range []struct {
		job   *kmspb.ImportJob
		level kmspb.ProtectionLevel
	}{{hsm, kmspb.ProtectionLevel_SOFTWARE}, {soft, kmspb.ProtectionLevel_HSM}} {
		key := f.importKey(ring, "k-"+c.level.String(), alg, c.level)
		_, err := f.importWrapped(key, c.job.GetName(), alg, f.wrapOpenSSL(c.job, mat))
		wantCode(t, err, codes.FailedPrecondition, c.job.GetProtectionLevel().String()+" job into a "+c.level.String()+" key")
	}
}

// TestSecp256k1NeedsHSM: EC_SIGN_SECP256K1_SHA256 is an HSM algorithm
// ("Key purposes and algorithms").
func TestSecp256k1NeedsHSM(t *testing.T) {
	n := newNeg(t)
	alg := kmspb.CryptoKeyVersion_EC_SIGN_SECP256K1_SHA256
	_, err := n.c.CreateCryptoKey(n.ctx, &kmspb.CreateCryptoKeyRequest{
		Parent: n.ring, CryptoKeyId: "k1", SkipInitialVersionCreation: true,
		CryptoKey: &kmspb.CryptoKey{
			Purpose: kmspb.CryptoKey_ASYMMETRIC_SIGN, ImportOnly: true,
			VersionTemplate: &kmspb.CryptoKeyVersionTemplate{Algorithm: alg, ProtectionLevel: kmspb.ProtectionLevel_SOFTWARE},
		},
	})
	wantCode(t, err, codes.InvalidArgument, "SOFTWARE secp256k1 key")
	// Nor into a SOFTWARE key of another EC algorithm.
	key := n.importKey(n.ring, "p256", kmspb.CryptoKeyVersion_EC_SIGN_P256_SHA256, kmspb.ProtectionLevel_SOFTWARE)
	mat := n.genPKCS8("-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:secp256k1")
	_, err = n.importWrapped(key, n.kwp.GetName(), alg, n.wrapOpenSSL(n.kwp, mat))
	wantCode(t, err, codes.InvalidArgument, "secp256k1 into a SOFTWARE key")
}

// TestAlgorithmMustFitPurpose: the imported algorithm "does not need to
// match the version_template", but it must be one of the key's purpose.
func TestAlgorithmMustFitPurpose(t *testing.T) {
	n := newNeg(t)
	key := n.importKey(n.ring, "sym", kmspb.CryptoKeyVersion_GOOGLE_SYMMETRIC_ENCRYPTION, kmspb.ProtectionLevel_SOFTWARE)
	_, err := n.importWrapped(key, n.kwp.GetName(), kmspb.CryptoKeyVersion_HMAC_SHA256, n.wrapOpenSSL(n.kwp, randBytes(t, 32)))
	wantCode(t, err, codes.InvalidArgument, "HMAC into an ENCRYPT_DECRYPT key")

	// Same purpose, other algorithm than the template: accepted.
	ec := n.importKey(n.ring, "ec", kmspb.CryptoKeyVersion_EC_SIGN_P256_SHA256, kmspb.ProtectionLevel_SOFTWARE)
	p384 := n.genPKCS8("-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384")
	v, err := n.importWrapped(ec, n.kwp.GetName(), kmspb.CryptoKeyVersion_EC_SIGN_P384_SHA384, n.wrapOpenSSL(n.kwp, p384))
	if err != nil || v.GetState() != kmspb.CryptoKeyVersion_ENABLED || v.GetAlgorithm() != kmspb.CryptoKeyVersion_EC_SIGN_P384_SHA384 {
		t.Fatalf("P-384 into a P-256-templated key: %v %v", v, err)
	}
	n.checkVersion(v, p384)
}

// TestUnknownResources: missing resources are NotFound, malformed names
// InvalidArgument, duplicates AlreadyExists.
func TestUnknownResources(t *testing.T) {
	n := newNeg(t)
	alg := kmspb.CryptoKeyVersion_HMAC_SHA256
	key := n.importKey(n.ring, "k", alg, kmspb.ProtectionLevel_SOFTWARE)
	w := n.wrapOpenSSL(n.kwp, randBytes(t, 32))
	imp := func(parent, job string) error {
		_, err := n.c.ImportCryptoKeyVersion(n.ctx, &kmspb.ImportCryptoKeyVersionRequest{Parent: parent, ImportJob: job, Algorithm: alg, WrappedKey: w})
		return err
	}
	wantCode(t, imp(n.ring+"/cryptoKeys/nope", n.kwp.GetName()), codes.NotFound, "import into a missing key")
	wantCode(t, imp(key, n.ring+"/importJobs/nope"), codes.NotFound, "import with a missing job")
	wantCode(t, imp(key+"/x", n.kwp.GetName()), codes.InvalidArgument, "import into a malformed key name")
	wantCode(t, imp(key, "importJobs/kwp"), codes.InvalidArgument, "import with a malformed job name")
	_, err := n.c.GetKeyRing(n.ctx, &kmspb.GetKeyRingRequest{Name: location + "/keyRings/nope"})
	wantCode(t, err, codes.NotFound, "GetKeyRing of a missing ring")
	_, err = n.c.GetCryptoKey(n.ctx, &kmspb.GetCryptoKeyRequest{Name: n.ring + "/cryptoKeys/nope"})
	wantCode(t, err, codes.NotFound, "GetCryptoKey of a missing key")
	_, err = n.c.GetCryptoKeyVersion(n.ctx, &kmspb.GetCryptoKeyVersionRequest{Name: key + "/cryptoKeyVersions/1"})
	wantCode(t, err, codes.NotFound, "GetCryptoKeyVersion of a missing version")
	_, err = n.c.GetCryptoKeyVersion(n.ctx, &kmspb.GetCryptoKeyVersionRequest{Name: key + "/cryptoKeyVersions/01"})
	wantCode(t, err, codes.InvalidArgument, "version number with a leading zero")
	_, err = n.c.GetImportJob(n.ctx, &kmspb.GetImportJobRequest{Name: n.ring + "/importJobs/nope"})
	wantCode(t, err, codes.NotFound, "GetImportJob of a missing job")
	_, err = n.c.CreateKeyRing(n.ctx, &kmspb.CreateKeyRingRequest{Parent: location, KeyRingId: "neg"})
	wantCode(t, err, codes.AlreadyExists, "CreateKeyRing twice")
	_, err = n.c.CreateKeyRing(n.ctx, &kmspb.CreateKeyRingRequest{Parent: location, KeyRingId: "bad id"})
	wantCode(t, err, codes.InvalidArgument, "key ring ID with a space")
	_, err = n.c.CreateCryptoKey(n.ctx, &kmspb.CreateCryptoKeyRequest{Parent: location + "/keyRings/nope", CryptoKeyId: "k",
		CryptoKey: &kmspb.CryptoKey{Purpose: kmspb.CryptoKey_ENCRYPT_DECRYPT}})
	wantCode(t, err, codes.NotFound, "CreateCryptoKey in a missing ring")
	_, err = n.c.CreateImportJob(n.ctx, &kmspb.CreateImportJobRequest{Parent: n.ring, ImportJobId: "kwp",
		ImportJob: &kmspb.ImportJob{ImportMethod: kmspb.ImportJob_RSA_OAEP_3072_SHA256, ProtectionLevel: kmspb.ProtectionLevel_SOFTWARE}})
	wantCode(t, err, codes.AlreadyExists, "CreateImportJob twice")
	_, err = n.c.AsymmetricSign(n.ctx, &kmspb.AsymmetricSignRequest{Name: n.ring + "/cryptoKeys/nope/cryptoKeyVersions/1"})
	wantCode(t, err, codes.NotFound, "AsymmetricSign with a missing key")
}
