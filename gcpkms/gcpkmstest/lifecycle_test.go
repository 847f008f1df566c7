package gcpkmstest_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/hmac"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/kms/apiv1/kmspb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/byok-go/byok/gcpkms/gcpkmstest"
)

// TestReimport: a DESTROYED or IMPORT_FAILED imported version may be
// imported into again; "The key material and algorithm must match the
// previous CryptoKeyVersion exactly if the CryptoKeyVersion has ever
// contained key material." (ImportCryptoKeyVersionRequest.crypto_key_version).
func TestReimport(t *testing.T) {
	clock := &testClock{now: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)}
	f := newFixture(t, gcpkmstest.WithClock(clock.Now))
	ring := f.keyRing("reimport")
	alg := kmspb.CryptoKeyVersion_HMAC_SHA256
	orig, other := randBytes(t, 32), randBytes(t, 32)
	job := f.waitJob(f.job(ring, "j1", kmspb.ImportJob_RSA_OAEP_3072_SHA256_AES_256, kmspb.ProtectionLevel_SOFTWARE).GetName())
	key := f.importKey(ring, "k", alg, kmspb.ProtectionLevel_SOFTWARE)
	v, err := f.importWrapped(key, job.GetName(), alg, f.wrapOpenSSL(job, orig))
	if err != nil || v.GetState() != kmspb.CryptoKeyVersion_ENABLED {
		t.Fatalf("first import: %v %v", v, err)
	}
	reimport := func(job *kmspb.ImportJob, a kmspb.CryptoKeyVersion_CryptoKeyVersionAlgorithm, mat []byte) (*kmspb.CryptoKeyVersion, error) {
		r, err := f.c.ImportCryptoKeyVersion(f.ctx, &kmspb.ImportCryptoKeyVersionRequest{
			Parent: key, CryptoKeyVersion: v.GetName(), ImportJob: job.GetName(), Algorithm: a, WrappedKey: f.wrapOpenSSL(job, mat),
		})
		if err != nil {
			return nil, err
		}
		if r.GetName() != v.GetName() {
			t.Fatalf("re-import made %s, want %s", r.GetName(), v.GetName())
		}
		return f.waitVersion(r.GetName()), nil
	}
	_, err = reimport(job, alg, orig)
	wantCode(t, err, codes.FailedPrecondition, "re-import into an ENABLED version")

	d, err := f.c.DestroyCryptoKeyVersion(f.ctx, &kmspb.DestroyCryptoKeyVersionRequest{Name: v.GetName()})
	if err != nil || d.GetState() != kmspb.CryptoKeyVersion_DESTROY_SCHEDULED || !d.GetDestroyTime().AsTime().Equal(clock.Now().Add(30*24*time.Hour)) {
		t.Fatalf("DestroyCryptoKeyVersion: %v %v (want DESTROY_SCHEDULED for the default 30 days)", d, err)
	}
	_, err = reimport(job, alg, orig)
	wantCode(t, err, codes.FailedPrecondition, "re-import into a DESTROY_SCHEDULED version")

	clock.Add(30 * 24 * time.Hour)
	got := f.waitVersion(v.GetName())
	if got.GetState() != kmspb.CryptoKeyVersion_DESTROYED {
		t.Fatalf("after 30 days: %s, want DESTROYED", got.GetState())
	}
	_, err = f.c.MacSign(f.ctx, &kmspb.MacSignRequest{Name: v.GetName(), Data: []byte("x")})
	wantCode(t, err, codes.FailedPrecondition, "MacSign with a DESTROYED version")

	// The first job expired meanwhile.
	_, err = reimport(job, alg, orig)
	wantCode(t, err, codes.FailedPrecondition, "re-import with an expired job")
	job2 := f.waitJob(f.job(ring, "j2", kmspb.ImportJob_RSA_OAEP_4096_SHA256, kmspb.ProtectionLevel_SOFTWARE).GetName())

	_, err = reimport(job2, kmspb.CryptoKeyVersion_HMAC_SHA512, randBytes(t, 64))
	wantCode(t, err, codes.InvalidArgument, "re-import with another algorithm")

	r, err := reimport(job2, alg, other)
	if err != nil || r.GetState() != kmspb.CryptoKeyVersion_IMPORT_FAILED {
		t.Fatalf("re-import of other material: %v %v, want IMPORT_FAILED", r, err)
	}
	r, err = reimport(job2, alg, orig)
	if err != nil || r.GetState() != kmspb.CryptoKeyVersion_ENABLED || r.GetImportJob() != job2.GetName() {
		t.Fatalf("re-import of the original material: %v %v, want ENABLED", r, err)
	}
	f.checkMAC(r, orig)

	// A version that never held material (IMPORT_FAILED from the start)
	// takes any material of its algorithm.
	key2 := f.importKey(ring, "k2", alg, kmspb.ProtectionLevel_SOFTWARE)
	bad := f.wrapOpenSSL(job2, orig)
	bad[len(bad)-1] ^= 1
	v2, err := f.importWrapped(key2, job2.GetName(), alg, bad)
	if err != nil || v2.GetState() != kmspb.CryptoKeyVersion_IMPORT_FAILED {
		t.Fatalf("damaged import: %v %v", v2, err)
	}
	r2, err := f.c.ImportCryptoKeyVersion(f.ctx, &kmspb.ImportCryptoKeyVersionRequest{
		Parent: key2, CryptoKeyVersion: v2.GetName(), ImportJob: job2.GetName(), Algorithm: alg, WrappedKey: f.wrapOpenSSL(job2, other),
	})
	if err != nil {
		t.Fatal(err)
	}
	if r2 = f.waitVersion(r2.GetName()); r2.GetState() != kmspb.CryptoKeyVersion_ENABLED {
		t.Fatalf("import into an IMPORT_FAILED version: %v", r2)
	}
	f.checkMAC(r2, other)

	// Not into a version of another key, nor into a generated one.
	_, err = f.c.ImportCryptoKeyVersion(f.ctx, &kmspb.ImportCryptoKeyVersionRequest{
		Parent: key2, CryptoKeyVersion: v.GetName(), ImportJob: job2.GetName(), Algorithm: alg, WrappedKey: f.wrapOpenSSL(job2, orig),
	})
	wantCode(t, err, codes.InvalidArgument, "re-import into another key's version")
	gen, err := f.c.CreateCryptoKey(f.ctx, &kmspb.CreateCryptoKeyRequest{Parent: ring, CryptoKeyId: "gen", CryptoKey: &kmspb.CryptoKey{
		Purpose:                  kmspb.CryptoKey_MAC,
		VersionTemplate:          &kmspb.CryptoKeyVersionTemplate{Algorithm: alg},
		DestroyScheduledDuration: durationpb.New(0),
	}})
	if err != nil {
		t.Fatal(err)
	}
	genV := gen.GetName() + "/cryptoKeyVersions/1"
	if d, err := f.c.DestroyCryptoKeyVersion(f.ctx, &kmspb.DestroyCryptoKeyVersionRequest{Name: genV}); err != nil || d.GetState() != kmspb.CryptoKeyVersion_DESTROYED {
		t.Fatalf("destroy the generated version: %v %v", d, err)
	}
	_, err = f.c.ImportCryptoKeyVersion(f.ctx, &kmspb.ImportCryptoKeyVersionRequest{
		Parent: gen.GetName(), CryptoKeyVersion: genV, ImportJob: job2.GetName(), Algorithm: alg, WrappedKey: f.wrapOpenSSL(job2, orig),
	})
	wantCode(t, err, codes.FailedPrecondition, "import into a DESTROYED generated version")
}

// TestPendingStates: a new job is PENDING_GENERATION before ACTIVE, an
// imported version PENDING_IMPORT before ENABLED, and neither may be used
// meanwhile.
func TestPendingStates(t *testing.T) {
	f := newFixture(t, gcpkmstest.WithImportDelay(500*time.Millisecond))
	ring := f.keyRing("pending")
	j := f.job(ring, "j", kmspb.ImportJob_RSA_OAEP_3072_SHA256, kmspb.ProtectionLevel_SOFTWARE)
	if j.GetState() != kmspb.ImportJob_PENDING_GENERATION || j.GetPublicKey() != nil {
		t.Fatalf("new job: %s, public key %v; want PENDING_GENERATION without", j.GetState(), j.GetPublicKey())
	}
	job := f.waitJob(j.GetName())
	if job.GetState() != kmspb.ImportJob_ACTIVE || !strings.HasPrefix(job.GetPublicKey().GetPem(), "-----BEGIN PUBLIC KEY-----") || job.GetGenerateTime() == nil {
		t.Fatalf("job: %v", job)
	}
	block, _ := pem.Decode([]byte(job.GetPublicKey().GetPem()))
	pub, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if pub.(interface{ Size() int }).Size() != 3072/8 {
		t.Fatalf("the wrapping key of RSA_OAEP_3072_SHA256 has %d bytes", pub.(interface{ Size() int }).Size())
	}
	alg := kmspb.CryptoKeyVersion_HMAC_SHA256
	key := f.importKey(ring, "k", alg, kmspb.ProtectionLevel_SOFTWARE)
	mat := randBytes(t, 32)
	v, err := f.c.ImportCryptoKeyVersion(f.ctx, &kmspb.ImportCryptoKeyVersionRequest{Parent: key, ImportJob: job.GetName(), Algorithm: alg, WrappedKey: f.wrapOpenSSL(job, mat)})
	if err != nil {
		t.Fatal(err)
	}
	if v.GetState() != kmspb.CryptoKeyVersion_PENDING_IMPORT {
		t.Fatalf("new version: %s, want PENDING_IMPORT", v.GetState())
	}
	_, err = f.c.MacSign(f.ctx, &kmspb.MacSignRequest{Name: v.GetName(), Data: []byte("x")})
	wantCode(t, err, codes.FailedPrecondition, "MacSign with a PENDING_IMPORT version")
	if v = f.waitVersion(v.GetName()); v.GetState() != kmspb.CryptoKeyVersion_ENABLED {
		t.Fatalf("version: %v", v)
	}
	f.checkMAC(v, mat)
}

// TestEncryptNeedsPrimary: Encrypt with a key name uses its primary
// version; an imported version is not made primary by the fake (doc.go).
func TestEncryptNeedsPrimary(t *testing.T) {
	f := newFixture(t)
	ring := f.keyRing("primary")
	job := f.waitJob(f.job(ring, "j", kmspb.ImportJob_RSA_OAEP_4096_SHA256, kmspb.ProtectionLevel_SOFTWARE).GetName())
	alg := kmspb.CryptoKeyVersion_GOOGLE_SYMMETRIC_ENCRYPTION
	key := f.importKey(ring, "k", alg, kmspb.ProtectionLevel_SOFTWARE)
	mat := randBytes(t, 32)
	v, err := f.importWrapped(key, job.GetName(), alg, f.wrapOpenSSL(job, mat))
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.c.Encrypt(f.ctx, &kmspb.EncryptRequest{Name: key, Plaintext: []byte("x")})
	wantCode(t, err, codes.FailedPrecondition, "Encrypt with a key without primary")
	k, err := f.c.UpdateCryptoKeyPrimaryVersion(f.ctx, &kmspb.UpdateCryptoKeyPrimaryVersionRequest{Name: key, CryptoKeyVersionId: "1"})
	if err != nil || k.GetPrimary().GetName() != v.GetName() {
		t.Fatalf("UpdateCryptoKeyPrimaryVersion: %v %v", k, err)
	}
	resp, err := f.c.Encrypt(f.ctx, &kmspb.EncryptRequest{Name: key, Plaintext: []byte("hello")})
	if err != nil || resp.GetName() != v.GetName() {
		t.Fatalf("Encrypt: %v %v", resp, err)
	}
	checkGCM(t, mat, resp.GetCiphertext()[8:20], []byte("hello"), resp.GetCiphertext()[:20], resp.GetCiphertext()[20:])
	dec, err := f.c.Decrypt(f.ctx, &kmspb.DecryptRequest{Name: key, Ciphertext: resp.GetCiphertext()})
	if err != nil || string(dec.GetPlaintext()) != "hello" || !dec.GetUsedPrimary() {
		t.Fatalf("Decrypt: %v %v", dec, err)
	}
	tampered := bytes.Clone(resp.GetCiphertext())
	tampered[len(tampered)-1] ^= 1
	_, err = f.c.Decrypt(f.ctx, &kmspb.DecryptRequest{Name: key, Ciphertext: tampered})
	wantCode(t, err, codes.InvalidArgument, "Decrypt of a tampered ciphertext")
	_, err = f.c.UpdateCryptoKeyVersion(f.ctx, &kmspb.UpdateCryptoKeyVersionRequest{
		CryptoKeyVersion: &kmspb.CryptoKeyVersion{Name: v.GetName(), State: kmspb.CryptoKeyVersion_DISABLED},
		UpdateMask:       &fieldmaskpb.FieldMask{Paths: []string{"state"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.c.Decrypt(f.ctx, &kmspb.DecryptRequest{Name: key, Ciphertext: resp.GetCiphertext()})
	wantCode(t, err, codes.FailedPrecondition, "Decrypt with a DISABLED version")
	// A DISABLED version stays primary, and may be made primary ("a version
	// which is not enabled can be made the primary version", key-states);
	// Encrypt with the key then fails.
	k, err = f.c.UpdateCryptoKeyPrimaryVersion(f.ctx, &kmspb.UpdateCryptoKeyPrimaryVersionRequest{Name: key, CryptoKeyVersionId: "1"})
	if err != nil || k.GetPrimary().GetState() != kmspb.CryptoKeyVersion_DISABLED {
		t.Fatalf("UpdateCryptoKeyPrimaryVersion with a DISABLED version: %v %v", k, err)
	}
	_, err = f.c.Encrypt(f.ctx, &kmspb.EncryptRequest{Name: key, Plaintext: []byte("x")})
	wantCode(t, err, codes.FailedPrecondition, "Encrypt with a DISABLED primary")
	_, err = f.c.UpdateCryptoKeyPrimaryVersion(f.ctx, &kmspb.UpdateCryptoKeyPrimaryVersionRequest{Name: key, CryptoKeyVersionId: "2"})
	wantCode(t, err, codes.NotFound, "UpdateCryptoKeyPrimaryVersion with a missing version")
}

// TestGeneratedKeys: keys created without skip_initial_version_creation get
// a generated first version that works.
func TestGeneratedKeys(t *testing.T) {
	f := newFixture(t)
	ring := f.keyRing("gen")
	k, err := f.c.CreateCryptoKey(f.ctx, &kmspb.CreateCryptoKeyRequest{Parent: ring, CryptoKeyId: "sym", CryptoKey: &kmspb.CryptoKey{Purpose: kmspb.CryptoKey_ENCRYPT_DECRYPT}})
	if err != nil || k.GetPrimary().GetState() != kmspb.CryptoKeyVersion_ENABLED || k.GetVersionTemplate().GetAlgorithm() != kmspb.CryptoKeyVersion_GOOGLE_SYMMETRIC_ENCRYPTION {
		t.Fatalf("CreateCryptoKey: %v %v", k, err)
	}
	ct, err := f.c.Encrypt(f.ctx, &kmspb.EncryptRequest{Name: k.GetName(), Plaintext: []byte("p")})
	if err != nil {
		t.Fatal(err)
	}
	if pt, err := f.c.Decrypt(f.ctx, &kmspb.DecryptRequest{Name: k.GetName(), Ciphertext: ct.GetCiphertext()}); err != nil || string(pt.GetPlaintext()) != "p" {
		t.Fatalf("Decrypt: %v %v", pt, err)
	}
	ec, err := f.c.CreateCryptoKey(f.ctx, &kmspb.CreateCryptoKeyRequest{Parent: ring, CryptoKeyId: "ec", CryptoKey: &kmspb.CryptoKey{
		Purpose: kmspb.CryptoKey_ASYMMETRIC_SIGN, VersionTemplate: &kmspb.CryptoKeyVersionTemplate{Algorithm: kmspb.CryptoKeyVersion_EC_SIGN_P256_SHA256},
	}})
	if err != nil || ec.GetPrimary() != nil {
		t.Fatalf("CreateCryptoKey EC: %v %v (asymmetric keys have no primary)", ec, err)
	}
	name := ec.GetName() + "/cryptoKeyVersions/1"
	pk, err := f.c.GetPublicKey(f.ctx, &kmspb.GetPublicKeyRequest{Name: name})
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode([]byte(pk.GetPem()))
	pub, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte("m"))
	sig, err := f.c.AsymmetricSign(f.ctx, &kmspb.AsymmetricSignRequest{Name: name, Digest: &kmspb.Digest{Digest: &kmspb.Digest_Sha256{Sha256: sum[:]}}})
	if err != nil || !ecdsa.VerifyASN1(pub.(*ecdsa.PublicKey), sum[:], sig.GetSignature()) {
		t.Fatalf("AsymmetricSign: %v", err)
	}
	raw, err := f.c.CreateCryptoKey(f.ctx, &kmspb.CreateCryptoKeyRequest{Parent: ring, CryptoKeyId: "raw", CryptoKey: &kmspb.CryptoKey{
		Purpose: kmspb.CryptoKey_ASYMMETRIC_SIGN, VersionTemplate: &kmspb.CryptoKeyVersionTemplate{Algorithm: kmspb.CryptoKeyVersion_RSA_SIGN_RAW_PKCS1_2048},
	}})
	if err != nil {
		t.Fatal(err)
	}
	rawName := raw.GetName() + "/cryptoKeyVersions/1"
	rpk, err := f.c.GetPublicKey(f.ctx, &kmspb.GetPublicKeyRequest{Name: rawName})
	if err != nil {
		t.Fatal(err)
	}
	block, _ = pem.Decode([]byte(rpk.GetPem()))
	rpub, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	data := []byte("raw PKCS#1 v1.5 data")
	rsig, err := f.c.AsymmetricSign(f.ctx, &kmspb.AsymmetricSignRequest{Name: rawName, Data: data, DataCrc32C: wrapCRC(data)})
	if err != nil || !rsig.GetVerifiedDataCrc32C() || rsa.VerifyPKCS1v15(rpub.(*rsa.PublicKey), 0, data, rsig.GetSignature()) != nil {
		t.Fatalf("RSA_SIGN_RAW_PKCS1_2048: %v", err)
	}
	_, err = f.c.AsymmetricSign(f.ctx, &kmspb.AsymmetricSignRequest{Name: rawName, Digest: &kmspb.Digest{Digest: &kmspb.Digest_Sha256{Sha256: sum[:]}}})
	wantCode(t, err, codes.InvalidArgument, "digest for RSA_SIGN_RAW_PKCS1_2048")
	_, err = f.c.CreateCryptoKey(f.ctx, &kmspb.CreateCryptoKeyRequest{Parent: ring, CryptoKeyId: "io", CryptoKey: &kmspb.CryptoKey{Purpose: kmspb.CryptoKey_ENCRYPT_DECRYPT, ImportOnly: true}})
	wantCode(t, err, codes.InvalidArgument, "import_only key with an initial version")
	_, err = f.c.CreateCryptoKeyVersion(f.ctx, &kmspb.CreateCryptoKeyVersionRequest{Parent: f.importKey(ring, "imp", kmspb.CryptoKeyVersion_HMAC_SHA256, kmspb.ProtectionLevel_SOFTWARE)})
	wantCode(t, err, codes.FailedPrecondition, "CreateCryptoKeyVersion in an import_only key")
}

// TestChecksumsAndPurposes: a wrong *_crc32c is refused, and operations
// need a key of their purpose.
func TestChecksumsAndPurposes(t *testing.T) {
	f := newFixture(t)
	ring := f.keyRing("crc")
	mk, err := f.c.CreateCryptoKey(f.ctx, &kmspb.CreateCryptoKeyRequest{Parent: ring, CryptoKeyId: "mac", CryptoKey: &kmspb.CryptoKey{
		Purpose: kmspb.CryptoKey_MAC, VersionTemplate: &kmspb.CryptoKeyVersionTemplate{Algorithm: kmspb.CryptoKeyVersion_HMAC_SHA256},
	}})
	if err != nil {
		t.Fatal(err)
	}
	v := mk.GetName() + "/cryptoKeyVersions/1"
	data := []byte("data")
	bad := wrapCRC(data)
	bad.Value ^= 1
	_, err = f.c.MacSign(f.ctx, &kmspb.MacSignRequest{Name: v, Data: data, DataCrc32C: bad})
	wantCode(t, err, codes.InvalidArgument, "MacSign with a wrong data_crc32c")
	ok, err := f.c.MacSign(f.ctx, &kmspb.MacSignRequest{Name: v, Data: data, DataCrc32C: wrapCRC(data)})
	if err != nil || !ok.GetVerifiedDataCrc32C() {
		t.Fatalf("MacSign with the right data_crc32c: %v %v", ok, err)
	}
	sum := sha256.Sum256(data)
	_, err = f.c.AsymmetricSign(f.ctx, &kmspb.AsymmetricSignRequest{Name: v, Digest: &kmspb.Digest{Digest: &kmspb.Digest_Sha256{Sha256: sum[:]}}})
	wantCode(t, err, codes.FailedPrecondition, "AsymmetricSign with a MAC key")
	_, err = f.c.GetPublicKey(f.ctx, &kmspb.GetPublicKeyRequest{Name: v})
	wantCode(t, err, codes.FailedPrecondition, "GetPublicKey of a MAC key")
	ek, err := f.c.CreateCryptoKey(f.ctx, &kmspb.CreateCryptoKeyRequest{Parent: ring, CryptoKeyId: "ec", CryptoKey: &kmspb.CryptoKey{
		Purpose: kmspb.CryptoKey_ASYMMETRIC_SIGN, VersionTemplate: &kmspb.CryptoKeyVersionTemplate{Algorithm: kmspb.CryptoKeyVersion_EC_SIGN_P384_SHA384},
	}})
	if err != nil {
		t.Fatal(err)
	}
	ev := ek.GetName() + "/cryptoKeyVersions/1"
	// "Other hash functions can also be used" with EC keys, not with RSA.
	pk, err := f.c.GetPublicKey(f.ctx, &kmspb.GetPublicKeyRequest{Name: ev})
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode([]byte(pk.GetPem()))
	pub, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	sig, err := f.c.AsymmetricSign(f.ctx, &kmspb.AsymmetricSignRequest{Name: ev, Digest: &kmspb.Digest{Digest: &kmspb.Digest_Sha256{Sha256: sum[:]}}})
	if err != nil || !ecdsa.VerifyASN1(pub.(*ecdsa.PublicKey), sum[:], sig.GetSignature()) {
		t.Fatalf("SHA-256 digest with EC_SIGN_P384_SHA384: %v", err)
	}
	rk, err := f.c.CreateCryptoKey(f.ctx, &kmspb.CreateCryptoKeyRequest{Parent: ring, CryptoKeyId: "rsa", CryptoKey: &kmspb.CryptoKey{
		Purpose: kmspb.CryptoKey_ASYMMETRIC_SIGN, VersionTemplate: &kmspb.CryptoKeyVersionTemplate{Algorithm: kmspb.CryptoKeyVersion_RSA_SIGN_PKCS1_2048_SHA256},
	}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.c.AsymmetricSign(f.ctx, &kmspb.AsymmetricSignRequest{Name: rk.GetName() + "/cryptoKeyVersions/1", Digest: &kmspb.Digest{Digest: &kmspb.Digest_Sha384{Sha384: make([]byte, 48)}}})
	wantCode(t, err, codes.InvalidArgument, "SHA-384 digest for RSA_SIGN_PKCS1_2048_SHA256")
	d384 := make([]byte, 48)
	bad = wrapCRC(d384)
	bad.Value ^= 1
	_, err = f.c.AsymmetricSign(f.ctx, &kmspb.AsymmetricSignRequest{Name: ev, Digest: &kmspb.Digest{Digest: &kmspb.Digest_Sha384{Sha384: d384}}, DigestCrc32C: bad})
	wantCode(t, err, codes.InvalidArgument, "AsymmetricSign with a wrong digest_crc32c")
}

// TestLogAndFaults: one log line per RPC naming method, resource and code,
// and never key material; injected faults fail one call each.
func TestLogAndFaults(t *testing.T) {
	var mu sync.Mutex
	var buf bytes.Buffer
	f := newFixture(t, gcpkmstest.WithLog(lockedWriter{&mu, &buf}),
		gcpkmstest.WithFault("CreateKeyRing", status.Error(codes.PermissionDenied, "injected")))
	_, err := f.c.CreateKeyRing(f.ctx, &kmspb.CreateKeyRingRequest{Parent: location, KeyRingId: "log"})
	wantCode(t, err, codes.PermissionDenied, "injected CreateKeyRing fault")
	ring := f.keyRing("log")
	job := f.waitJob(f.job(ring, "j", kmspb.ImportJob_RSA_OAEP_3072_SHA256_AES_256, kmspb.ProtectionLevel_SOFTWARE).GetName())
	alg := kmspb.CryptoKeyVersion_HMAC_SHA256
	key := f.importKey(ring, "k", alg, kmspb.ProtectionLevel_SOFTWARE)
	mat := randBytes(t, 32)
	wrapped := f.wrapOpenSSL(job, mat)
	f.srv.InjectFault("ImportCryptoKeyVersion", status.Error(codes.Internal, "injected"))
	_, err = f.importWrapped(key, job.GetName(), alg, wrapped)
	wantCode(t, err, codes.Internal, "injected ImportCryptoKeyVersion fault")
	v, err := f.importWrapped(key, job.GetName(), alg, wrapped)
	if err != nil || v.GetState() != kmspb.CryptoKeyVersion_ENABLED {
		t.Fatalf("import after the fault: %v %v", v, err)
	}
	mac, err := f.c.MacSign(f.ctx, &kmspb.MacSignRequest{Name: v.GetName(), Data: []byte("d")})
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	log := buf.String()
	mu.Unlock()
	for _, want := range []string{
		"gcpkmstest: CreateKeyRing " + location + "/keyRings/log PermissionDenied\n",
		"gcpkmstest: CreateKeyRing " + location + "/keyRings/log OK\n",
		"gcpkmstest: ImportCryptoKeyVersion " + key + " Internal\n",
		"gcpkmstest: ImportCryptoKeyVersion " + key + " OK\n",
		"gcpkmstest: MacSign " + v.GetName() + " OK\n",
	} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
	}
	h := hmac.New(sha256.New, mat)
	h.Write([]byte("d"))
	for _, secret := range [][]byte{mat, wrapped, mac.GetMac(), h.Sum(nil)} {
		if strings.Contains(log, string(secret)) || strings.Contains(strings.ToLower(log), hex.EncodeToString(secret)) {
			t.Errorf("the log holds key material or a MAC:\n%s", log)
		}
	}
	for i, line := range strings.Split(strings.TrimSuffix(log, "\n"), "\n") {
		if len(strings.Fields(line)) != 4 {
			t.Errorf("log line %d is not 'gcpkmstest: method resource code': %q", i, line)
		}
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// TestConcurrentImports imports into many keys at once with one job, and
// uses them at once (run with -race).
func TestConcurrentImports(t *testing.T) {
	f := newFixture(t)
	ring := f.keyRing("conc")
	job := f.waitJob(f.job(ring, "j", kmspb.ImportJob_RSA_OAEP_3072_SHA1_AES_256, kmspb.ProtectionLevel_SOFTWARE).GetName())
	alg := kmspb.CryptoKeyVersion_HMAC_SHA256
	const n = 8
	mats := make([][]byte, n)
	wrapped := make([][]byte, n)
	keys := make([]string, n)
	for i := range n {
		mats[i] = randBytes(t, 32)
		wrapped[i] = wrapGo(t, job, mats[i])
		keys[i] = f.importKey(ring, fmt.Sprintf("k%d", i), alg, kmspb.ProtectionLevel_SOFTWARE)
	}
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v, err := f.c.ImportCryptoKeyVersion(f.ctx, &kmspb.ImportCryptoKeyVersionRequest{Parent: keys[i], ImportJob: job.GetName(), Algorithm: alg, WrappedKey: wrapped[i]})
			if err != nil {
				errs <- err
				return
			}
			for {
				v, err = f.c.GetCryptoKeyVersion(f.ctx, &kmspb.GetCryptoKeyVersionRequest{Name: v.GetName()})
				if err != nil || v.GetState() != kmspb.CryptoKeyVersion_PENDING_IMPORT {
					break
				}
				time.Sleep(10 * time.Millisecond)
			}
			if err != nil {
				errs <- err
				return
			}
			mac, err := f.c.MacSign(f.ctx, &kmspb.MacSignRequest{Name: v.GetName(), Data: []byte("x")})
			if err != nil {
				errs <- err
				return
			}
			h := hmac.New(sha256.New, mats[i])
			h.Write([]byte("x"))
			if !hmac.Equal(mac.GetMac(), h.Sum(nil)) {
				errs <- fmt.Errorf("key %d: MAC under another key's material", i)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestDestroyWhileInUse destroys a version (destroy_scheduled_duration 0:
// at once) while other calls use it: each call either succeeds with the
// right MAC or fails with FailedPrecondition, never sees cleared material
// (run with -race).
func TestDestroyWhileInUse(t *testing.T) {
	f := newFixture(t)
	ring := f.keyRing("destroy")
	k, err := f.c.CreateCryptoKey(f.ctx, &kmspb.CreateCryptoKeyRequest{Parent: ring, CryptoKeyId: "mac", CryptoKey: &kmspb.CryptoKey{
		Purpose:                  kmspb.CryptoKey_MAC,
		VersionTemplate:          &kmspb.CryptoKeyVersionTemplate{Algorithm: kmspb.CryptoKeyVersion_HMAC_SHA256},
		DestroyScheduledDuration: durationpb.New(0),
	}})
	if err != nil {
		t.Fatal(err)
	}
	v := k.GetName() + "/cryptoKeyVersions/1"
	first, err := f.c.MacSign(f.ctx, &kmspb.MacSignRequest{Name: v, Data: []byte("x")})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 20 {
				m, err := f.c.MacSign(f.ctx, &kmspb.MacSignRequest{Name: v, Data: []byte("x")})
				switch {
				case status.Code(err) == codes.FailedPrecondition:
					return
				case err != nil:
					errs <- err
					return
				case !bytes.Equal(m.GetMac(), first.GetMac()):
					errs <- fmt.Errorf("MAC changed during destruction: %x", m.GetMac())
					return
				}
			}
		}()
	}
	d, err := f.c.DestroyCryptoKeyVersion(f.ctx, &kmspb.DestroyCryptoKeyVersionRequest{Name: v})
	if err != nil || d.GetState() != kmspb.CryptoKeyVersion_DESTROYED {
		t.Errorf("DestroyCryptoKeyVersion with a zero duration: %v %v", d, err)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
