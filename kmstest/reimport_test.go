package kmstest_test

import (
	"context"
	"regexp"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/byok-go/byok"
	"github.com/byok-go/byok/kmstest"
)

var keyMaterialIDForm = regexp.MustCompile(`^[0-9a-f]{64}$`)

// TestReimportProof is the symmetric proof `byok verify` builds on
// (ImportKeyMaterial API Reference, KeyMaterialId and ImportType:
// https://docs.aws.amazon.com/kms/latest/APIReference/API_ImportKeyMaterial.html):
// re-importing with ImportType EXISTING_KEY_MATERIAL, the key's
// CurrentKeyMaterialId and the same ExpirationModel and ValidTo succeeds for
// the key's own material, leaving the key as it was, and fails with
// IncorrectKeyMaterialException for any other material.
func TestReimportProof(t *testing.T) {
	clk := newClock()
	srv := newServer(t, kmstest.WithClock(clk.Now))
	c := srv.Client(noRetry)
	right, wrong := newSourceKey(t, byok.SymmetricDefault), newSourceKey(t, byok.SymmetricDefault)

	for _, tc := range []struct {
		name    string
		model   types.ExpirationModelType
		validTo *time.Time
	}{
		{"Expires", types.ExpirationModelTypeKeyMaterialExpires, aws.Time(clk.Now().Add(90 * 24 * time.Hour))},
		{"DoesNotExpire", types.ExpirationModelTypeKeyMaterialDoesNotExpire, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id := createExternal(t, c, byok.SymmetricDefault, byok.EncryptDecrypt)
			first := mustImport(t, c, id, right.km, func(in *kms.ImportKeyMaterialInput) {
				in.ExpirationModel, in.ValidTo = tc.model, tc.validTo
			})
			before := describe(t, c, id)
			if before.CurrentKeyMaterialId == nil || *before.CurrentKeyMaterialId != *first.KeyMaterialId ||
				!keyMaterialIDForm.MatchString(*first.KeyMaterialId) {
				t.Fatalf("ImportKeyMaterial says KeyMaterialId %v, DescribeKey %v; want the same 64 hex digits",
					aws.ToString(first.KeyMaterialId), aws.ToString(before.CurrentKeyMaterialId))
			}
			proof := func(in *kms.ImportKeyMaterialInput) {
				in.ImportType = types.ImportTypeExistingKeyMaterial
				in.KeyMaterialId = before.CurrentKeyMaterialId
				in.ExpirationModel, in.ValidTo = before.ExpirationModel, before.ValidTo
			}
			clk.Add(time.Minute)

			// Any other material: IncorrectKeyMaterialException, nothing changes.
			_, err := importWith(t, c, id, wrong.km, byok.RSAESOAEPSHA256, byok.WrappingRSA4096, proof)
			wantAs[*types.IncorrectKeyMaterialException](t, err)
			sameKey(t, before, describe(t, c, id))

			// The key's own material: accepted, nothing changes.
			out, err := importWith(t, c, id, right.km, byok.RSAESOAEPSHA1, byok.WrappingRSA3072, proof)
			if err != nil {
				t.Fatalf("re-importing the key's own material: %v", err)
			}
			if *out.KeyMaterialId != *before.CurrentKeyMaterialId {
				t.Errorf("re-import answered KeyMaterialId %s, want %s", *out.KeyMaterialId, *before.CurrentKeyMaterialId)
			}
			sameKey(t, before, describe(t, c, id))
		})
	}
}

// sameKey fails unless the key's state, current material and expiration are
// unchanged.
func sameKey(t *testing.T, want, got *types.KeyMetadata) {
	t.Helper()
	if got.KeyState != want.KeyState || aws.ToString(got.CurrentKeyMaterialId) != aws.ToString(want.CurrentKeyMaterialId) ||
		got.ExpirationModel != want.ExpirationModel || !aws.ToTime(got.ValidTo).Equal(aws.ToTime(want.ValidTo)) {
		t.Errorf("key changed: state %s→%s, material %s→%s, %s→%s, ValidTo %v→%v",
			want.KeyState, got.KeyState, aws.ToString(want.CurrentKeyMaterialId), aws.ToString(got.CurrentKeyMaterialId),
			want.ExpirationModel, got.ExpirationModel, want.ValidTo, got.ValidTo)
	}
}

// TestReimportSymmetric: every way of re-importing into a SYMMETRIC_DEFAULT
// key, with and without KeyMaterialId, and what ExpirationModel and ValidTo
// become.
func TestReimportSymmetric(t *testing.T) {
	clk := newClock()
	srv := newServer(t, kmstest.WithClock(clk.Now))
	c := srv.Client(noRetry)
	a, b := newSourceKey(t, byok.SymmetricDefault), newSourceKey(t, byok.SymmetricDefault)
	id := createExternal(t, c, byok.SymmetricDefault, byok.EncryptDecrypt)
	t1 := clk.Now().Add(24 * time.Hour)
	out := mustImport(t, c, id, a.km, func(in *kms.ImportKeyMaterialInput) {
		in.ExpirationModel, in.ValidTo = types.ExpirationModelTypeKeyMaterialExpires, &t1
	})
	matID := out.KeyMaterialId
	expires := func(at time.Time) func(*kms.ImportKeyMaterialInput) {
		return func(in *kms.ImportKeyMaterialInput) {
			in.ExpirationModel, in.ValidTo = types.ExpirationModelTypeKeyMaterialExpires, &at
		}
	}
	existing := func(id *string) func(*kms.ImportKeyMaterialInput) {
		return func(in *kms.ImportKeyMaterialInput) {
			in.ImportType, in.KeyMaterialId = types.ImportTypeExistingKeyMaterial, id
		}
	}
	check := func(what string, model types.ExpirationModelType, validTo *time.Time) {
		t.Helper()
		md := describe(t, c, id)
		if md.KeyState != types.KeyStateEnabled || *md.CurrentKeyMaterialId != *matID || md.ExpirationModel != model ||
			!aws.ToTime(md.ValidTo).Equal(aws.ToTime(validTo)) {
			t.Errorf("%s: %s material %s %s ValidTo %v; want Enabled %s %s %v", what, md.KeyState,
				aws.ToString(md.CurrentKeyMaterialId), md.ExpirationModel, md.ValidTo, *matID, model, validTo)
		}
	}
	check("first import", types.ExpirationModelTypeKeyMaterialExpires, &t1)

	// The same material: without ImportType (EXISTING_KEY_MATERIAL once the
	// key has material), with it, with KeyMaterialId; each import sets the
	// expiration anew.
	t2 := clk.Now().Add(48 * time.Hour)
	if _, err := importWith(t, c, id, a.km, byok.RSAESOAEPSHA256, byok.WrappingRSA2048, expires(t2)); err != nil {
		t.Fatalf("same material, no ImportType: %v", err)
	}
	check("same material, no ImportType", types.ExpirationModelTypeKeyMaterialExpires, &t2)
	t3 := clk.Now().Add(72 * time.Hour)
	if _, err := importWith(t, c, id, a.km, byok.RSAESOAEPSHA256, byok.WrappingRSA2048, expires(t3), existing(nil)); err != nil {
		t.Fatalf("same material, EXISTING_KEY_MATERIAL: %v", err)
	}
	check("same material, EXISTING_KEY_MATERIAL", types.ExpirationModelTypeKeyMaterialExpires, &t3)
	if _, err := importWith(t, c, id, a.km, byok.RSAESOAEPSHA256, byok.WrappingRSA2048, existing(matID)); err != nil {
		t.Fatalf("same material, EXISTING_KEY_MATERIAL and KeyMaterialId: %v", err)
	}
	check("same material, now not expiring", types.ExpirationModelTypeKeyMaterialDoesNotExpire, nil)

	// Other material: refused whichever way it is offered, except as new
	// key material (which does not change the current material).
	for name, mod := range map[string]func(*kms.ImportKeyMaterialInput){
		"no ImportType":          func(*kms.ImportKeyMaterialInput) {},
		"EXISTING_KEY_MATERIAL":  existing(nil),
		"EXISTING, own ID":       existing(matID),
		"EXISTING, made-up ID":   existing(aws.String("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")),
		"the right material, ID": nil,
	} {
		km := b.km
		if mod == nil { // the right material under a made-up ID
			km, mod = a.km, existing(aws.String("fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210"))
		}
		_, err := importWith(t, c, id, km, byok.RSAESOAEPSHA256, byok.WrappingRSA2048, mod)
		wantAs[*types.IncorrectKeyMaterialException](t, err)
		check("refused: "+name, types.ExpirationModelTypeKeyMaterialDoesNotExpire, nil)
	}
	// NEW_KEY_MATERIAL with KeyMaterialId is a malformed request.
	_, err := importWith(t, c, id, b.km, byok.RSAESOAEPSHA256, byok.WrappingRSA2048, func(in *kms.ImportKeyMaterialInput) {
		in.ImportType, in.KeyMaterialId = types.ImportTypeNewKeyMaterial, matID
	})
	wantCode(t, err, kmstest.ErrValidation)

	// Deleted material comes back only as itself.
	if _, err := c.DeleteImportedKeyMaterial(context.Background(), &kms.DeleteImportedKeyMaterialInput{KeyId: &id}); err != nil {
		t.Fatal(err)
	}
	_, err = importWith(t, c, id, b.km, byok.RSAESOAEPSHA256, byok.WrappingRSA2048, existing(matID))
	wantAs[*types.IncorrectKeyMaterialException](t, err)
	if md := describe(t, c, id); md.KeyState != types.KeyStatePendingImport {
		t.Fatalf("after a refused import of deleted material: %s", md.KeyState)
	}
	if _, err := importWith(t, c, id, a.km, byok.RSAESOAEPSHA256, byok.WrappingRSA2048, existing(matID)); err != nil {
		t.Fatalf("reimport after deletion: %v", err)
	}
	check("reimport after deletion", types.ExpirationModelTypeKeyMaterialDoesNotExpire, nil)
}

// TestKeyMaterialIDBinding: the KeyMaterialId is determined by the KMS key
// and the material (ImportKeyMaterial API Reference: "KMS assigns a unique
// identifier to the key material based on the KMS key ID and the imported
// key material"): the same material has another ID in another key, other
// material another ID in the same key, and a key's ID does not open another
// key that holds the same material.
func TestKeyMaterialIDBinding(t *testing.T) {
	srv := newServer(t)
	c := srv.Client(noRetry)
	a, b := newSourceKey(t, byok.SymmetricDefault), newSourceKey(t, byok.SymmetricDefault)
	k1 := createExternal(t, c, byok.SymmetricDefault, byok.EncryptDecrypt)
	k2 := createExternal(t, c, byok.SymmetricDefault, byok.EncryptDecrypt)
	a1 := mustImport(t, c, k1, a.km).KeyMaterialId
	a2 := mustImport(t, c, k2, a.km).KeyMaterialId
	b1 := mustImport(t, c, k1, b.km, func(in *kms.ImportKeyMaterialInput) { in.ImportType = types.ImportTypeNewKeyMaterial }).KeyMaterialId
	for _, id := range []*string{a1, a2, b1} {
		if !keyMaterialIDForm.MatchString(*id) {
			t.Errorf("KeyMaterialId %q is not 64 lower-case hex digits", *id)
		}
	}
	if *a1 == *a2 {
		t.Error("the same material has the same KeyMaterialId in two keys")
	}
	if *a1 == *b1 {
		t.Error("two materials have the same KeyMaterialId in one key")
	}
	// k1's ID for material a, presented to k2 with material a: refused.
	_, err := importWith(t, c, k2, a.km, byok.RSAESOAEPSHA256, byok.WrappingRSA2048, func(in *kms.ImportKeyMaterialInput) {
		in.ImportType, in.KeyMaterialId = types.ImportTypeExistingKeyMaterial, a1
	})
	wantAs[*types.IncorrectKeyMaterialException](t, err)
	// Re-importing gives the same ID again: it is a function of key and material.
	again := mustImport(t, c, k2, a.km).KeyMaterialId
	if *again != *a2 {
		t.Errorf("re-import gave KeyMaterialId %s, first %s", *again, *a2)
	}
}

// TestReimportImmutable: HMAC and asymmetric keys take their own material
// again, with a new expiration, and refuse any other (they have no
// KeyMaterialId or ImportType).
func TestReimportImmutable(t *testing.T) {
	clk := newClock()
	srv := newServer(t, kmstest.WithClock(clk.Now))
	c := srv.Client(noRetry)
	for _, spec := range []byok.KeySpec{byok.HMAC224, byok.HMAC512, byok.ECCNISTP256, byok.ECCSECGP256K1, byok.RSA2048} {
		t.Run(string(spec), func(t *testing.T) {
			id := createExternal(t, c, spec, spec.Usages()[0])
			src := sourceKey(t, spec)
			mustImport(t, c, id, src.km)
			validTo := clk.Now().Add(30 * 24 * time.Hour)
			mustImport(t, c, id, src.km, func(in *kms.ImportKeyMaterialInput) {
				in.ExpirationModel, in.ValidTo = types.ExpirationModelTypeKeyMaterialExpires, &validTo
			})
			md := describe(t, c, id)
			if md.KeyState != types.KeyStateEnabled || md.ExpirationModel != types.ExpirationModelTypeKeyMaterialExpires ||
				!aws.ToTime(md.ValidTo).Equal(validTo) || md.CurrentKeyMaterialId != nil {
				t.Errorf("after re-import: %s %s %v CurrentKeyMaterialId %v", md.KeyState, md.ExpirationModel, md.ValidTo, aws.ToString(md.CurrentKeyMaterialId))
			}
			other := newSourceKey(t, spec)
			_, err := importWith(t, c, id, other.km, cheapAlg(spec), byok.WrappingRSA2048)
			wantAs[*types.IncorrectKeyMaterialException](t, err)
			_, err = importWith(t, c, id, src.km, cheapAlg(spec), byok.WrappingRSA2048, func(in *kms.ImportKeyMaterialInput) {
				in.ImportType = types.ImportTypeExistingKeyMaterial
			})
			wantCode(t, err, kmstest.ErrValidation)
			if md := describe(t, c, id); !aws.ToTime(md.ValidTo).Equal(validTo) {
				t.Errorf("a refused import changed ValidTo to %v", md.ValidTo)
			}
		})
	}
}
