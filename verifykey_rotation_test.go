package byok_test

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/byok-go/byok"
)

// materialValidTo returns each key material's ValidTo, by key material ID,
// as ListKeyRotations reports it.
func materialValidTo(t *testing.T, client *kms.Client, arn string) map[string]time.Time {
	t.Helper()
	out, err := client.ListKeyRotations(context.Background(), &kms.ListKeyRotationsInput{
		KeyId: aws.String(arn), IncludeKeyMaterial: types.IncludeKeyMaterialAllKeyMaterial})
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]time.Time{}
	for _, r := range out.Rotations {
		m[aws.ToString(r.KeyMaterialId)] = aws.ToTime(r.ValidTo)
	}
	return m
}

// After a rotation DescribeKey's ValidTo is the earliest of all the key's
// materials, here the old one's. The re-import proof of the current
// material must keep the current material's own ValidTo, not shorten it to
// the old material's.
func TestVerifyKeyAfterRotationKeepsCurrentValidTo(t *testing.T) {
	_, client := newServer(t)
	ctx := context.Background()
	first, second := otherKey(t, byok.SymmetricDefault), otherKey(t, byok.SymmetricDefault)
	oldTo := time.Now().Add(50 * 24 * time.Hour).Truncate(time.Second)
	newTo := time.Now().Add(200 * 24 * time.Hour).Truncate(time.Second)

	res, err := new(byok.Importer).Import(ctx, first, &byok.KMS{Client: client, ValidTo: oldTo})
	if err != nil {
		t.Fatalf("Import: %v", err)
	}
	_, err = (&byok.Importer{SkipVerify: true}).Import(ctx, second,
		&byok.KMS{Client: client, KeyID: res.KeyARN, ValidTo: newTo, ImportType: string(types.ImportTypeNewKeyMaterial)})
	if err != nil {
		t.Fatalf("Import of new key material: %v", err)
	}
	if _, err := client.RotateKeyOnDemand(ctx, &kms.RotateKeyOnDemandInput{KeyId: aws.String(res.KeyARN)}); err != nil {
		t.Fatalf("RotateKeyOnDemand: %v", err)
	}
	d := describe(t, client, res.KeyARN)
	current := aws.ToString(d.CurrentKeyMaterialId)
	if !aws.ToTime(d.ValidTo).Equal(oldTo) {
		t.Fatalf("precondition: DescribeKey ValidTo %v, want the old material's %v", d.ValidTo, oldTo)
	}
	before := materialValidTo(t, client, res.KeyARN)
	if !before[current].Equal(newTo) {
		t.Fatalf("precondition: current material %s expires %v, want %v", current, before[current], newTo)
	}

	kp, err := (&byok.KMS{Client: client}).VerifyKey(ctx, res.KeyARN, second, byok.VerifyOptions{})
	if err != nil || kp.Verification.Verdict != byok.VerdictPassed {
		t.Fatalf("VerifyKey of the current material: %v, %+v", err, kp.Verification)
	}
	after := materialValidTo(t, client, res.KeyARN)
	for id, to := range before {
		if !after[id].Equal(to) {
			t.Errorf("key material %s: ValidTo %v became %v", id, to, after[id])
		}
	}

	// The old material is not current, but KMS still holds it (NON_CURRENT,
	// used to decrypt): proven as that material, with its own ValidTo.
	kp, err = (&byok.KMS{Client: client}).VerifyKey(ctx, res.KeyARN, first, byok.VerifyOptions{})
	if err != nil || kp.Verification.Verdict != byok.VerdictPassed || !reimportDetail(kp.Verification, "(NON_CURRENT), not the current one") {
		t.Fatalf("VerifyKey of the old material: %v, verdict %s %+v", err, kp.Verification.Verdict, kp.Verification.Checks)
	}
	after = materialValidTo(t, client, res.KeyARN)
	for id, to := range before {
		if !after[id].Equal(to) {
			t.Errorf("key material %s: ValidTo %v became %v", id, to, after[id])
		}
	}
}
