package gcpkms

import (
	"context"
	"encoding/pem"
	"errors"
	"strings"
	"sync/atomic"
	"testing"

	"cloud.google.com/go/kms/apiv1/kmspb"
	"github.com/googleapis/gax-go/v2"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/byok-go/byok"
)

// corruptOnce flips one bit of the first AsymmetricDecrypt ciphertext only:
// a transient corruption in transit.
type corruptOnce struct {
	API
	n *atomic.Int32
}

func (c corruptOnce) AsymmetricDecrypt(ctx context.Context, req *kmspb.AsymmetricDecryptRequest, opts ...gax.CallOption) (*kmspb.AsymmetricDecryptResponse, error) {
	if c.n.Add(1) == 1 {
		req.Ciphertext = append([]byte(nil), req.Ciphertext...)
		req.Ciphertext[0] ^= 1
	}
	return c.API.AsymmetricDecrypt(ctx, req, opts...)
}

// TestDecryptCRCMismatchRetried: one ciphertext corrupted in transit is
// retried with a fresh ciphertext (as Cloud KMS's documentation asks), and
// the proof then passes; a persistent mismatch is UNPROVEN
// (TestReviewDecryptCRCMismatchIsNotFailed), a wrong key FAILED
// (TestLyingSourceFails).
func TestDecryptCRCMismatchRetried(t *testing.T) {
	_, client := newFake(t)
	n := new(atomic.Int32)
	tg := fakeTarget(t, corruptOnce{client, n}, Options{KeyID: "crc-once"})
	res, err := new(byok.Importer).Import(context.Background(), softwareKey(t, byok.RSA2048, byok.EncryptDecrypt), tg)
	if err != nil || res.Verification.Verdict != byok.VerdictPassed {
		t.Fatalf("Import: %v (checks %+v)", err, res.Verification)
	}
	if got := n.Load(); got != 2 {
		t.Errorf("AsymmetricDecrypt called %d times, want 2 (one retry)", got)
	}
}

// TestChecksumErrorOnlyForChecksums: only a checksum complaint is taken for
// corruption; any other INVALID_ARGUMENT is not.
func TestChecksumErrorOnlyForChecksums(t *testing.T) {
	for _, c := range []struct {
		err  error
		want bool
	}{
		{status.Error(codes.InvalidArgument, "The checksum in field ciphertext_crc32c did not match the data in field ciphertext."), true},
		{status.Error(codes.InvalidArgument, "Decryption failed: the ciphertext is invalid."), false},
		{status.Error(codes.PermissionDenied, "checksum"), false},
		{nil, false},
	} {
		if got := isChecksumError(c.err); got != c.want {
			t.Errorf("isChecksumError(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}

// TestWrongKeyDecryptStillFailed: the version holds another RSA key while
// GetPublicKey answers the source's public key; AsymmetricDecrypt of a
// ciphertext under the source public key fails (INVALID_ARGUMENT, not a
// checksum error), which is evidence of another key: FAILED, by the
// decryption check itself.
func TestWrongKeyDecryptStillFailed(t *testing.T) {
	_, client := newFake(t)
	described := softwareKey(t, byok.RSA2048, byok.EncryptDecrypt)
	info, err := described.Describe(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	srcPEM := string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: info.PublicKeyDER}))
	src := lyingSource{described, softwareKey(t, byok.RSA2048, byok.EncryptDecrypt)}
	res, err := new(byok.Importer).Import(context.Background(), src, fakeTarget(t, lyingPublicKey{client, srcPEM}, Options{KeyID: "lying-decrypt"}))
	if !errors.Is(err, byok.ErrVerification) || res == nil || res.Verification.Verdict != byok.VerdictFailed {
		t.Fatalf("want FAILED: %v", err)
	}
	f := res.Verification.Failures()
	if len(f) != 1 || !strings.HasPrefix(f[0].Name, CheckDecrypt) {
		t.Errorf("want the decryption check to fail, got %+v", f)
	}
}
