package gcpkms

// Review findings (issue 15, Cloud KMS side): tests that fail on the code
// they were written against. Each says what it shows.

import (
	"context"
	"encoding/pem"
	"errors"
	"testing"

	"cloud.google.com/go/kms/apiv1/kmspb"
	"github.com/googleapis/gax-go/v2"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/byok-go/byok"
)

// corruptCiphertext flips one bit of the AsymmetricDecrypt ciphertext after
// byok computed its CRC32C: corruption between byok and Cloud KMS.
type corruptCiphertext struct{ API }

func (c corruptCiphertext) AsymmetricDecrypt(ctx context.Context, req *kmspb.AsymmetricDecryptRequest, opts ...gax.CallOption) (*kmspb.AsymmetricDecryptResponse, error) {
	req.Ciphertext = append([]byte(nil), req.Ciphertext...)
	req.Ciphertext[0] ^= 1
	return c.API.AsymmetricDecrypt(ctx, req, opts...)
}

// TestReviewDecryptCRCMismatchIsNotFailed: Cloud KMS reports a
// ciphertext_crc32c mismatch as an error (INVALID_ARGUMENT in the fake,
// "KeyManagementService will report an error if the checksum verification
// fails"), and crc.go promises that a CRC32C mismatch is corruption in
// transit, not a different key: the proof stops, UNPROVEN. verifyDecrypt
// takes every INVALID_ARGUMENT as "Cloud KMS holds another private key" and
// reports FAILED for a version that holds the source key.
func TestReviewDecryptCRCMismatchIsNotFailed(t *testing.T) {
	_, client := newFake(t)
	tg := fakeTarget(t, corruptCiphertext{client}, Options{KeyID: "crc-decrypt"})
	res, err := new(byok.Importer).Import(context.Background(), softwareKey(t, byok.RSA2048, byok.EncryptDecrypt), tg)
	if res == nil || res.Verification == nil {
		t.Fatalf("Import: %v", err)
	}
	if res.Verification.Verdict == byok.VerdictFailed || errors.Is(err, byok.ErrVerification) {
		t.Errorf("a CRC32C mismatch in transit made the verdict FAILED (the version holds the source key): %v\nchecks %+v",
			err, res.Verification.Checks)
	}
}

// lyingPublicKey is a Cloud KMS that answers GetPublicKey with a chosen
// public key (not the one of the private key it holds) and refuses
// AsymmetricSign, as an IAM policy granting viewPublicKey but not
// useToSign also would.
type lyingPublicKey struct {
	API
	pem string
}

func (l lyingPublicKey) GetPublicKey(ctx context.Context, req *kmspb.GetPublicKeyRequest, opts ...gax.CallOption) (*kmspb.PublicKey, error) {
	pk, err := l.API.GetPublicKey(ctx, req, opts...)
	if err != nil {
		return pk, err
	}
	pk.Pem, pk.PemCrc32C = l.pem, crc([]byte(l.pem))
	return pk, nil
}

func (l lyingPublicKey) AsymmetricSign(context.Context, *kmspb.AsymmetricSignRequest, ...gax.CallOption) (*kmspb.AsymmetricSignResponse, error) {
	return nil, status.Error(codes.PermissionDenied, "Permission 'cloudkms.cryptoKeyVersions.useToSign' denied")
}

// TestReviewGetPublicKeyAloneIsNotPASSED: the version holds another key than
// the source (the source wrapped another key, as lyingSource does), Cloud
// KMS answers GetPublicKey with the source's public key and refuses
// AsymmetricSign. The two identity checks that run are both computed
// from GetPublicKey's answer (equality, and the source's own signature
// verified locally under it): no operation of the version's private key
// ran, yet the verdict is PASSED.
func TestReviewGetPublicKeyAloneIsNotPASSED(t *testing.T) {
	_, client := newFake(t)
	described := softwareKey(t, byok.ECCNISTP256)
	info, err := described.Describe(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	srcPEM := string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: info.PublicKeyDER}))
	src := lyingSource{described, softwareKey(t, byok.ECCNISTP256)}
	tg := fakeTarget(t, lyingPublicKey{client, srcPEM}, Options{KeyID: "lying-pub"})
	res, err := new(byok.Importer).Import(context.Background(), src, tg)
	if res == nil || res.Verification == nil {
		t.Fatalf("Import: %v", err)
	}
	if res.Verification.Verdict == byok.VerdictPassed {
		t.Errorf("PASSED although the version holds another key and its private key never acted (AsymmetricSign refused):\nchecks %+v\nskipped %q",
			res.Verification.Checks, res.Verification.Skipped)
	}
}

// otherVersion answers ImportCryptoKeyVersion (after sending garbage in place
// of the wrapped key, so the real import fails) with the name of a version
// of another crypto key, one that already holds the source key.
type otherVersion struct {
	API
	version string
}

func (o otherVersion) ImportCryptoKeyVersion(ctx context.Context, req *kmspb.ImportCryptoKeyVersionRequest, opts ...gax.CallOption) (*kmspb.CryptoKeyVersion, error) {
	req.WrappedKey = randomBytes(len(req.WrappedKey))
	if _, err := o.API.ImportCryptoKeyVersion(ctx, req, opts...); err != nil {
		return nil, err
	}
	return o.API.GetCryptoKeyVersion(ctx, &kmspb.GetCryptoKeyVersionRequest{Name: o.version})
}

// TestReviewImportedVersionIsTheKeys: Import takes the version name Cloud
// KMS answers without checking that it is a version of the crypto key it
// imported into, and VerifyImport proves that version: a version of another
// key that holds the source key makes the import into this key PASSED,
// while this key's own version is IMPORT_FAILED.
func TestReviewImportedVersionIsTheKeys(t *testing.T) {
	_, client := newFake(t)
	ctx := context.Background()
	src := softwareKey(t, byok.ECCNISTP256)
	first, err := new(byok.Importer).Import(ctx, src, fakeTarget(t, client, Options{KeyID: "holder"}))
	if err != nil {
		t.Fatal(err)
	}
	tg := fakeTarget(t, otherVersion{client, first.KeyARN}, Options{KeyID: "victim"})
	res, err := new(byok.Importer).Import(ctx, src, tg)
	if err == nil && res.Verification.Verdict == byok.VerdictPassed {
		t.Errorf("PASSED for %s with the proof run on %s (another key's version)", tg.KeyName(), res.KeyARN)
	}
}
