package byok_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/byok-go/byok"
)

// reimportDetail reports whether v has a passed re-import check whose
// detail contains want.
func reimportDetail(v byok.Verification, want string) bool {
	for _, c := range v.Checks {
		if strings.HasPrefix(c.Name, "re-import:") && c.OK && c.Identity && strings.Contains(c.Detail, want) {
			return true
		}
	}
	return false
}

// KMS holds every key material of a key: new material pending rotation,
// and after the rotation the old one. Each verifies PASSED as that material
// (named, with its state), a key KMS does not hold is FAILED naming every
// material tried, --key-material-id proves the material it names whatever
// its state, and no material's expiration changes.
func TestVerifyKeyEveryKeyMaterial(t *testing.T) {
	_, client := newServer(t)
	ctx := context.Background()
	first, second, stranger := otherKey(t, byok.SymmetricDefault), otherKey(t, byok.SymmetricDefault), otherKey(t, byok.SymmetricDefault)
	res, err := new(byok.Importer).Import(ctx, first, &byok.KMS{Client: client, ValidTo: time.Now().Add(50 * 24 * time.Hour).Truncate(time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	pending, err := (&byok.Importer{SkipVerify: true}).Import(ctx, second, &byok.KMS{Client: client, KeyID: res.KeyARN,
		ValidTo: time.Now().Add(200 * 24 * time.Hour).Truncate(time.Second), ImportType: string(types.ImportTypeNewKeyMaterial)})
	if err != nil {
		t.Fatal(err)
	}
	firstID, secondID := res.KeyMaterialID, pending.KeyMaterialID
	if firstID == "" || secondID == "" || firstID == secondID {
		t.Fatalf("key material IDs %q, %q", firstID, secondID)
	}
	before := materialValidTo(t, client, res.KeyARN)
	target := &byok.KMS{Client: client}
	verify := func(name string, src byok.KeySource, opts byok.VerifyOptions, want byok.Verdict, detail string) {
		t.Helper()
		kp, err := target.VerifyKey(ctx, res.KeyARN, src, opts)
		v := kp.Verification
		ok := err == nil && v.Verdict == want
		switch want {
		case byok.VerdictPassed:
			ok = ok && reimportDetail(v, detail)
		case byok.VerdictFailed:
			ok = ok && hasFailed(v, "re-import:") && strings.Contains(v.Failures()[0].Detail, detail)
		}
		if !ok {
			t.Errorf("%s: %v, %s, want %s with %q: %+v %v", name, err, v.Verdict, want, detail, v.Checks, v.Skipped)
		}
		after := materialValidTo(t, client, res.KeyARN)
		for id, to := range before {
			if !after[id].Equal(to) {
				t.Errorf("%s: key material %s: ValidTo %v became %v", name, id, to, after[id])
			}
		}
	}

	verify("current material", first, byok.VerifyOptions{}, byok.VerdictPassed, "KeyMaterialId "+firstID)
	verify("pending material", second, byok.VerifyOptions{}, byok.VerdictPassed,
		"as key material "+secondID+" (PENDING_ROTATION), not the current one ("+firstID+")")
	verify("a key KMS does not hold", stranger, byok.VerifyOptions{}, byok.VerdictFailed, firstID)
	verify("--key-material-id pending", second, byok.VerifyOptions{KeyMaterialID: secondID}, byok.VerdictPassed, "(PENDING_ROTATION)")
	verify("--key-material-id pending, the current key", first, byok.VerifyOptions{KeyMaterialID: secondID}, byok.VerdictFailed, secondID)

	if _, err := client.RotateKeyOnDemand(ctx, &kms.RotateKeyOnDemandInput{KeyId: aws.String(res.KeyARN)}); err != nil {
		t.Fatal(err)
	}
	verify("after the rotation, the new material", second, byok.VerifyOptions{}, byok.VerdictPassed, "KeyMaterialId "+secondID)
	verify("after the rotation, the old material", first, byok.VerifyOptions{}, byok.VerdictPassed, "(NON_CURRENT), not the current one ("+secondID+")")
	verify("--key-material-id old", first, byok.VerifyOptions{KeyMaterialID: firstID}, byok.VerdictPassed, "(NON_CURRENT)")
	verify("after the rotation, a key KMS does not hold", stranger, byok.VerifyOptions{}, byok.VerdictFailed, secondID)
}

// refusePending is a KMS client that refuses a re-import into one key
// material with ValidationException, as AWS might for material pending
// rotation ("not permanently associated" with the key).
type refusePending struct {
	*kms.Client
	id string
}

func (c refusePending) ImportKeyMaterial(ctx context.Context, in *kms.ImportKeyMaterialInput, o ...func(*kms.Options)) (*kms.ImportKeyMaterialOutput, error) {
	if aws.ToString(in.KeyMaterialId) == c.id {
		return nil, &types.KMSInvalidStateException{Message: aws.String("key material " + c.id + " is pending rotation")}
	}
	return c.Client.ImportKeyMaterial(ctx, in, o...)
}

// When KMS refuses the re-import into a material for any reason but
// IncorrectKeyMaterialException, that material was not ruled out: a source
// KMS refused as every other material is UNPROVEN, not FAILED.
func TestVerifyKeyMaterialNotTriedIsUnproven(t *testing.T) {
	_, client := newServer(t)
	ctx := context.Background()
	first, second, stranger := otherKey(t, byok.SymmetricDefault), otherKey(t, byok.SymmetricDefault), otherKey(t, byok.SymmetricDefault)
	res, err := new(byok.Importer).Import(ctx, first, &byok.KMS{Client: client})
	if err != nil {
		t.Fatal(err)
	}
	pending, err := (&byok.Importer{SkipVerify: true}).Import(ctx, second, &byok.KMS{Client: client, KeyID: res.KeyARN, ImportType: string(types.ImportTypeNewKeyMaterial)})
	if err != nil {
		t.Fatal(err)
	}
	target := &byok.KMS{Client: refusePending{client, pending.KeyMaterialID}}
	for name, src := range map[string]byok.KeySource{"the pending material": second, "a key KMS does not hold": stranger} {
		kp, err := target.VerifyKey(ctx, res.KeyARN, src, byok.VerifyOptions{})
		v := kp.Verification
		if err != nil || v.Verdict != byok.VerdictUnproven || len(v.Skipped) == 0 || !strings.Contains(strings.Join(v.Skipped, " "), pending.KeyMaterialID) {
			t.Errorf("%s: %v, %s %+v %v", name, err, v.Verdict, v.Checks, v.Skipped)
		}
	}
}

// noOtherExpiration lists key materials without the expiration model of
// those that are not current.
type noOtherExpiration struct{ *kms.Client }

func (c noOtherExpiration) ListKeyRotations(ctx context.Context, in *kms.ListKeyRotationsInput, o ...func(*kms.Options)) (*kms.ListKeyRotationsOutput, error) {
	out, err := c.Client.ListKeyRotations(ctx, in, o...)
	if err == nil {
		for i := range out.Rotations {
			if out.Rotations[i].KeyMaterialState != types.KeyMaterialStateCurrent {
				out.Rotations[i].ExpirationModel = ""
			}
		}
	}
	return out, err
}

// A material whose expiration byok cannot learn is not tried (the re-import
// would change it), so a source KMS refused as the current material is
// UNPROVEN, naming that material, not FAILED; the current one still
// proves.
func TestVerifyKeyMaterialUnknownExpiration(t *testing.T) {
	_, client := newServer(t)
	ctx := context.Background()
	first, second, stranger := otherKey(t, byok.SymmetricDefault), otherKey(t, byok.SymmetricDefault), otherKey(t, byok.SymmetricDefault)
	res, err := new(byok.Importer).Import(ctx, first, &byok.KMS{Client: client})
	if err != nil {
		t.Fatal(err)
	}
	pending, err := (&byok.Importer{SkipVerify: true}).Import(ctx, second, &byok.KMS{Client: client, KeyID: res.KeyARN, ImportType: string(types.ImportTypeNewKeyMaterial)})
	if err != nil {
		t.Fatal(err)
	}
	target := &byok.KMS{Client: noOtherExpiration{client}}
	kp, err := target.VerifyKey(ctx, res.KeyARN, first, byok.VerifyOptions{})
	if err != nil || kp.Verification.Verdict != byok.VerdictPassed {
		t.Errorf("the current material: %v, %+v", err, kp.Verification)
	}
	kp, err = target.VerifyKey(ctx, res.KeyARN, stranger, byok.VerifyOptions{})
	v := kp.Verification
	if err != nil || v.Verdict != byok.VerdictUnproven || !strings.Contains(strings.Join(v.Skipped, " "), pending.KeyMaterialID+" (PENDING_ROTATION)") {
		t.Errorf("a key KMS does not hold: %v, %s %+v %v", err, v.Verdict, v.Checks, v.Skipped)
	}
}
