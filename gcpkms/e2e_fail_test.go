package gcpkms

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/kms/apiv1/kmspb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/byok-go/byok"
	"github.com/byok-go/byok/driver/software"
)

// lyingSource describes (and signs, and MACs) with one key but wraps
// another: what a broken or hostile source would do.
type lyingSource struct {
	*software.Source                  // describes, signs, MACs
	wraps            *software.Source // wraps
}

func (l lyingSource) Wrap(ctx context.Context, p byok.ImportParameters) ([]byte, error) {
	return l.wraps.Wrap(ctx, p)
}

// TestLyingSourceFails: Cloud KMS imports whatever the source wrapped; a
// source that wrapped another key than it describes is caught by the proof.
func TestLyingSourceFails(t *testing.T) {
	_, client := newFake(t)
	ctx := context.Background()
	for _, c := range []struct {
		name  string
		spec  byok.KeySpec
		usage byok.KeyUsage
	}{
		{"lie-rsa-sign", byok.RSA2048, byok.SignVerify},
		{"lie-rsa-decrypt", byok.RSA2048, byok.EncryptDecrypt},
		{"lie-p256", byok.ECCNISTP256, byok.SignVerify},
		{"lie-hmac", byok.HMAC256, byok.GenerateVerifyMAC},
	} {
		t.Run(c.name, func(t *testing.T) {
			src := lyingSource{softwareKey(t, c.spec, c.usage), softwareKey(t, c.spec, c.usage)}
			tg := fakeTarget(t, client, Options{KeyID: c.name})
			res, err := new(byok.Importer).Import(ctx, src, tg)
			if !errors.Is(err, byok.ErrVerification) || res == nil || res.Verification == nil || res.Verification.Verdict != byok.VerdictFailed {
				t.Fatalf("want FAILED: %v %+v", err, res)
			}
			if !strings.Contains(err.Error(), res.KeyARN) {
				t.Errorf("the error does not name the version %s: %v", res.KeyARN, err)
			}
			for _, f := range res.Verification.Failures() {
				t.Logf("failed: %s: %s", f.Name, f.Detail)
			}
		})
	}
}

// TestRefusedCallsUnproven: PermissionDenied on the calls of the proof
// leaves it UNPROVEN, never PASSED, with the refusals in Skipped.
func TestRefusedCallsUnproven(t *testing.T) {
	denied := status.Error(codes.PermissionDenied, "Permission 'cloudkms.cryptoKeyVersions.viewPublicKey' denied")
	_, client := newFake(t, gcpkmstestFault("GetPublicKey", denied), gcpkmstestFault("AsymmetricSign", denied), gcpkmstestFault("MacSign", denied))
	ctx := context.Background()
	for _, spec := range []byok.KeySpec{byok.ECCNISTP256, byok.HMAC384} {
		tg := fakeTarget(t, client, Options{KeyID: "denied-" + strings.ToLower(string(spec))})
		res, err := new(byok.Importer).Import(ctx, softwareKey(t, spec), tg)
		if !errors.Is(err, byok.ErrUnproven) || res.Verification.Verdict != byok.VerdictUnproven || len(res.Verification.Skipped) == 0 {
			t.Fatalf("%s: want UNPROVEN with skips: %v %+v", spec, err, res.Verification)
		}
		if !strings.Contains(strings.Join(res.Verification.Skipped, "\n"), "refused") {
			t.Errorf("%s: skipped %q does not say a call was refused", spec, res.Verification.Skipped)
		}
	}
}

// TestImportFailedNamesKey: material Cloud KMS cannot unwrap makes the
// version IMPORT_FAILED (or the call fail); the error names the key this
// import created and what stays.
func TestImportFailedNamesKey(t *testing.T) {
	_, client := newFake(t)
	tg := fakeTarget(t, client, Options{KeyID: "broken"})
	res, err := new(byok.Importer).Import(context.Background(), garbageSource{softwareKey(t, byok.HMAC256)}, tg)
	if err == nil {
		t.Fatal("garbage imported")
	}
	if res == nil || res.KeyARN == "" || !strings.Contains(err.Error(), tg.KeyName()) || !strings.Contains(err.Error(), "created by this import and stays") {
		t.Fatalf("the error does not name the key left behind: %v (%+v)", err, res)
	}
	t.Log(err)
}

// garbageSource wraps random bytes of the right length instead of its key.
type garbageSource struct{ *software.Source }

func (g garbageSource) Wrap(_ context.Context, p byok.ImportParameters) ([]byte, error) {
	return randomBytes(p.WrappingKey.Size()), nil
}

// TestExistingKey: a second import into the same key adds a version
// (Created false); a key of another algorithm or protection level is
// refused before an import job is made.
func TestExistingKey(t *testing.T) {
	_, client := newFake(t)
	ctx := context.Background()
	src := softwareKey(t, byok.ECCNISTP256)
	first, err := new(byok.Importer).Import(ctx, src, fakeTarget(t, client, Options{KeyID: "again"}))
	if err != nil || !first.Created {
		t.Fatalf("first import: %v %+v", err, first)
	}
	second, err := new(byok.Importer).Import(ctx, src, fakeTarget(t, client, Options{KeyID: "again"}))
	if err != nil || second.Created || second.KeyARN == first.KeyARN || second.KeyID != first.KeyID {
		t.Fatalf("second import: %v created=%v %s vs %s", err, second.Created, second.KeyARN, first.KeyARN)
	}
	for _, o := range []Options{{KeyID: "again", ProtectionLevel: "SOFTWARE"}} {
		_, err := new(byok.Importer).Import(ctx, src, fakeTarget(t, client, o))
		if !errors.Is(err, byok.ErrIncompatible) || !strings.Contains(err.Error(), "protection level") {
			t.Errorf("%+v: %v", o, err)
		}
	}
	_, err = new(byok.Importer).Import(ctx, softwareKey(t, byok.ECCNISTP384), fakeTarget(t, client, Options{KeyID: "again"}))
	if !errors.Is(err, byok.ErrIncompatible) || !strings.Contains(err.Error(), "EC_SIGN_P256_SHA256") {
		t.Errorf("P-384 into a P-256 key: %v", err)
	}
}

// TestReuseImportJob: a named ACTIVE job is used; one of another method is
// refused before the key is created.
func TestReuseImportJob(t *testing.T) {
	_, client := newFake(t)
	ctx := context.Background()
	ring := "projects/byok-test/locations/us-east1/keyRings/jobs"
	if _, err := client.CreateKeyRing(ctx, &kmspb.CreateKeyRingRequest{Parent: "projects/byok-test/locations/us-east1", KeyRingId: "jobs", KeyRing: &kmspb.KeyRing{}}); err != nil {
		t.Fatal(err)
	}
	for _, j := range []struct {
		id string
		m  kmspb.ImportJob_ImportMethod
	}{{"kw", kmspb.ImportJob_RSA_OAEP_3072_SHA256_AES_256}, {"oaep", kmspb.ImportJob_RSA_OAEP_4096_SHA256}} {
		if _, err := client.CreateImportJob(ctx, &kmspb.CreateImportJobRequest{Parent: ring, ImportJobId: j.id,
			ImportJob: &kmspb.ImportJob{ImportMethod: j.m, ProtectionLevel: kmspb.ProtectionLevel_HSM}}); err != nil {
			t.Fatal(err)
		}
	}
	src := softwareKey(t, byok.RSA2048)
	im := &byok.Importer{WrappingKeySpec: byok.WrappingRSA3072}
	res, err := im.Import(ctx, src, fakeTarget(t, client, Options{KeyRing: ring, KeyID: "via-kw", ImportJobID: "kw"}))
	if err != nil || res.WrappingKeySpec != byok.WrappingRSA3072 {
		t.Fatalf("import with job kw: %v %+v", err, res)
	}
	tg := fakeTarget(t, client, Options{KeyRing: ring, KeyID: "via-oaep", ImportJobID: "oaep"})
	if _, err := new(byok.Importer).Import(ctx, src, tg); !errors.Is(err, byok.ErrIncompatible) {
		t.Fatalf("RSA key with an RSA_OAEP_4096_SHA256 job: %v", err)
	}
	if _, err := client.GetCryptoKey(ctx, &kmspb.GetCryptoKeyRequest{Name: tg.KeyName()}); status.Code(err) != codes.NotFound {
		t.Errorf("a key was created for a refused import: %v", err)
	}
}

// TestJobTimeout: a job that stays PENDING_GENERATION past Timeout stops
// the import before any crypto key is created.
func TestJobTimeout(t *testing.T) {
	_, client := newFake(t, gcpkmstestJobDelay(time.Hour))
	tg := fakeTarget(t, client, Options{KeyID: "slow", Timeout: 300 * time.Millisecond})
	start := time.Now()
	_, err := new(byok.Importer).Import(context.Background(), softwareKey(t, byok.HMAC256), tg)
	if err == nil || !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "ACTIVE") {
		t.Fatalf("want a timeout waiting for ACTIVE: %v", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("took %s", d)
	}
	if _, err := client.GetCryptoKey(context.Background(), &kmspb.GetCryptoKeyRequest{Name: tg.KeyName()}); status.Code(err) != codes.NotFound {
		t.Errorf("a key was created although the job never became ACTIVE: %v", err)
	}
}

// TestKeyState: the state of a version by its name, of a key's newest
// imported version, and "" for a key with none.
func TestKeyState(t *testing.T) {
	_, client := newFake(t)
	ctx := context.Background()
	tg := fakeTarget(t, client, Options{KeyID: "state"})
	res, err := new(byok.Importer).Import(ctx, softwareKey(t, byok.HMAC256), tg)
	if err != nil {
		t.Fatal(err)
	}
	if st, err := tg.KeyState(ctx, res.KeyARN); err != nil || st != "ENABLED" {
		t.Errorf("KeyState(version) = %q, %v", st, err)
	}
	if _, err := client.DestroyCryptoKeyVersion(ctx, &kmspb.DestroyCryptoKeyVersionRequest{Name: res.KeyARN}); err != nil {
		t.Fatal(err)
	}
	if st, err := tg.KeyState(ctx, tg.KeyName()); err != nil || st != "DESTROY_SCHEDULED" {
		t.Errorf("KeyState(key) after destroy = %q, %v", st, err)
	}
	empty := tg.KeyRing() + "/cryptoKeys/empty"
	if _, err := client.CreateCryptoKey(ctx, &kmspb.CreateCryptoKeyRequest{Parent: tg.KeyRing(), CryptoKeyId: "empty", SkipInitialVersionCreation: true,
		CryptoKey: &kmspb.CryptoKey{Purpose: kmspb.CryptoKey_MAC, ImportOnly: true,
			VersionTemplate: &kmspb.CryptoKeyVersionTemplate{Algorithm: kmspb.CryptoKeyVersion_HMAC_SHA256, ProtectionLevel: kmspb.ProtectionLevel_HSM}}}); err != nil {
		t.Fatal(err)
	}
	if st, err := tg.KeyState(ctx, empty); err != nil || st != "" {
		t.Errorf("KeyState(empty key) = %q, %v", st, err)
	}
}
