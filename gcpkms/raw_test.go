package gcpkms

import (
	"context"
	"strings"
	"testing"

	"github.com/byok-go/byok"
)

// TestRawAESIdentity: a software AES key imported as AES_256_GCM is proven
// by decrypting Cloud KMS's RawEncrypt output with the source key; a source
// that wrapped another AES key fails it.
func TestRawAESIdentity(t *testing.T) {
	_, client := newFake(t)
	ctx := context.Background()
	tg := fakeTarget(t, client, Options{KeyID: "raw-gcm", Algorithm: "AES_256_GCM"})
	res, err := new(byok.Importer).Import(ctx, softwareKey(t, byok.SymmetricDefault), tg)
	if err != nil && strings.Contains(err.Error(), "Unimplemented") {
		t.Skipf("the fake does not implement raw encryption yet: %v", err)
	}
	if err != nil || res.Verification.Verdict != byok.VerdictPassed {
		t.Fatalf("AES_256_GCM: %v %+v", err, res)
	}
	lie := lyingSource{softwareKey(t, byok.SymmetricDefault), softwareKey(t, byok.SymmetricDefault)}
	res, err = new(byok.Importer).Import(ctx, lie, fakeTarget(t, client, Options{KeyID: "raw-gcm-lie", Algorithm: "AES_256_GCM"}))
	if res == nil || res.Verification == nil || res.Verification.Verdict != byok.VerdictFailed {
		t.Fatalf("lying AES source: %v %+v", err, res)
	}
}
