package gcpkmstest_test

import (
	"testing"

	"cloud.google.com/go/kms/apiv1/kmspb"
	"google.golang.org/api/iterator"
	"google.golang.org/grpc/codes"
)

// TestImportRequestFields: wrapped_key or the legacy rsa_aes_wrapped_key,
// "Either that field or this field (but not both)"; the required fields; a
// job of the key's location.
func TestImportRequestFields(t *testing.T) {
	n := newNeg(t)
	alg := kmspb.CryptoKeyVersion_HMAC_SHA256
	mat := randBytes(t, 32)
	key := n.importKey(n.ring, "k", alg, kmspb.ProtectionLevel_SOFTWARE)
	w := n.wrapOpenSSL(n.kwp, mat)
	imp := func(r *kmspb.ImportCryptoKeyVersionRequest) error {
		_, err := n.c.ImportCryptoKeyVersion(n.ctx, r)
		return err
	}
	wantCode(t, imp(&kmspb.ImportCryptoKeyVersionRequest{Parent: key, ImportJob: n.kwp.GetName(), Algorithm: alg, WrappedKey: w,
		WrappedKeyMaterial: &kmspb.ImportCryptoKeyVersionRequest_RsaAesWrappedKey{RsaAesWrappedKey: w}}), codes.InvalidArgument, "both wrapped_key and rsa_aes_wrapped_key")
	wantCode(t, imp(&kmspb.ImportCryptoKeyVersionRequest{Parent: key, ImportJob: n.kwp.GetName(), Algorithm: alg}), codes.InvalidArgument, "no wrapped key")
	wantCode(t, imp(&kmspb.ImportCryptoKeyVersionRequest{Parent: key, ImportJob: n.kwp.GetName(), WrappedKey: w}), codes.InvalidArgument, "no algorithm")
	wantCode(t, imp(&kmspb.ImportCryptoKeyVersionRequest{Parent: key, Algorithm: alg, WrappedKey: w}), codes.InvalidArgument, "no import job")
	wantCode(t, imp(&kmspb.ImportCryptoKeyVersionRequest{Parent: key, ImportJob: n.kwp.GetName(), Algorithm: alg, WrappedKey: w, TrustedWrappingEnabled: true}),
		codes.InvalidArgument, "trusted_wrapping_enabled on a SOFTWARE key")

	// A job in another location.
	ringEU, err := n.c.CreateKeyRing(n.ctx, &kmspb.CreateKeyRingRequest{Parent: "projects/test-project/locations/europe-west1", KeyRingId: "eu"})
	if err != nil {
		t.Fatal(err)
	}
	keyEU := n.importKey(ringEU.GetName(), "k", alg, kmspb.ProtectionLevel_SOFTWARE)
	wantCode(t, imp(&kmspb.ImportCryptoKeyVersionRequest{Parent: keyEU, ImportJob: n.kwp.GetName(), Algorithm: alg, WrappedKey: w}), codes.InvalidArgument, "job of another location")

	// The legacy field alone imports.
	v, err := n.c.ImportCryptoKeyVersion(n.ctx, &kmspb.ImportCryptoKeyVersionRequest{Parent: key, ImportJob: n.kwp.GetName(), Algorithm: alg,
		WrappedKeyMaterial: &kmspb.ImportCryptoKeyVersionRequest_RsaAesWrappedKey{RsaAesWrappedKey: w}})
	if err != nil {
		t.Fatal(err)
	}
	if v = n.waitVersion(v.GetName()); v.GetState() != kmspb.CryptoKeyVersion_ENABLED {
		t.Fatalf("import with rsa_aes_wrapped_key: %v", v)
	}
	n.checkMAC(v, mat)
}

// TestCreateImportJobFields: the import method and protection level are
// required; SOFTWARE and HSM only; HPKE methods are not emulated.
func TestCreateImportJobFields(t *testing.T) {
	f := newFixture(t)
	ring := f.keyRing("jobs")
	create := func(id string, m kmspb.ImportJob_ImportMethod, l kmspb.ProtectionLevel) error {
		_, err := f.c.CreateImportJob(f.ctx, &kmspb.CreateImportJobRequest{Parent: ring, ImportJobId: id, ImportJob: &kmspb.ImportJob{ImportMethod: m, ProtectionLevel: l}})
		return err
	}
	wantCode(t, create("a", kmspb.ImportJob_IMPORT_METHOD_UNSPECIFIED, kmspb.ProtectionLevel_SOFTWARE), codes.InvalidArgument, "no import method")
	wantCode(t, create("b", kmspb.ImportJob_RSA_OAEP_3072_SHA256, kmspb.ProtectionLevel_PROTECTION_LEVEL_UNSPECIFIED), codes.InvalidArgument, "no protection level")
	wantCode(t, create("c", kmspb.ImportJob_RSA_OAEP_3072_SHA256, kmspb.ProtectionLevel_EXTERNAL), codes.InvalidArgument, "EXTERNAL import job")
	wantCode(t, create("d", kmspb.ImportJob_HPKE_KEM_ML_KEM_768_HKDF_SHA256_AES_256_GCM, kmspb.ProtectionLevel_SOFTWARE), codes.Unimplemented, "HPKE import method")
	wantCode(t, create("bad/id", kmspb.ImportJob_RSA_OAEP_3072_SHA256, kmspb.ProtectionLevel_SOFTWARE), codes.InvalidArgument, "import job ID with a slash")
	if err := create("ok", kmspb.ImportJob_RSA_OAEP_4096_SHA256_AES_256, kmspb.ProtectionLevel_HSM); err != nil {
		t.Fatal(err)
	}
	job := f.waitJob(ring + "/importJobs/ok")
	if job.GetImportMethod() != kmspb.ImportJob_RSA_OAEP_4096_SHA256_AES_256 || job.GetProtectionLevel() != kmspb.ProtectionLevel_HSM {
		t.Fatalf("job: %v", job)
	}
	var names []string
	it := f.c.ListImportJobs(f.ctx, &kmspb.ListImportJobsRequest{Parent: ring})
	for {
		j, err := it.Next()
		if err == iterator.Done {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, j.GetName())
	}
	if len(names) != 1 || names[0] != job.GetName() {
		t.Fatalf("ListImportJobs = %v", names)
	}
}

// TestListVersions lists versions in order with the client's iterator.
func TestListVersions(t *testing.T) {
	f := newFixture(t)
	ring := f.keyRing("list")
	k, err := f.c.CreateCryptoKey(f.ctx, &kmspb.CreateCryptoKeyRequest{Parent: ring, CryptoKeyId: "k", CryptoKey: &kmspb.CryptoKey{Purpose: kmspb.CryptoKey_ENCRYPT_DECRYPT}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.c.CreateCryptoKeyVersion(f.ctx, &kmspb.CreateCryptoKeyVersionRequest{Parent: k.GetName()}); err != nil {
		t.Fatal(err)
	}
	var got []string
	it := f.c.ListCryptoKeyVersions(f.ctx, &kmspb.ListCryptoKeyVersionsRequest{Parent: k.GetName()})
	for {
		v, err := it.Next()
		if err == iterator.Done {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, v.GetName())
	}
	if len(got) != 2 || got[0] != k.GetName()+"/cryptoKeyVersions/1" || got[1] != k.GetName()+"/cryptoKeyVersions/2" {
		t.Fatalf("ListCryptoKeyVersions = %v", got)
	}
	it = f.c.ListCryptoKeyVersions(f.ctx, &kmspb.ListCryptoKeyVersionsRequest{Parent: k.GetName(), Filter: "state=ENABLED"})
	_, err = it.Next()
	wantCode(t, err, codes.Unimplemented, "list filter")
}
