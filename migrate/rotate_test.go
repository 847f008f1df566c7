package migrate

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	_ "github.com/byok-go/byok/driver/software"
)

// TestMigrateRotation migrates a multi-Region symmetric key, then rotates it
// to new key material: NEW_KEY_MATERIAL into the primary, the same material
// as EXISTING_KEY_MATERIAL into the replica, RotateKeyOnDemand. With lost
// answers to ImportKeyMaterial, the engine finds the imports by
// ListKeyRotations instead of repeating them.
func TestMigrateRotation(t *testing.T) {
	for _, lose := range []bool{false, true} {
		t.Run(map[bool]string{false: "plain", true: "lost-answers"}[lose], func(t *testing.T) {
			dir := t.TempDir()
			os.WriteFile(filepath.Join(dir, "old.hex"), []byte(strings.Repeat("11", 32)), 0o600)
			os.WriteFile(filepath.Join(dir, "new.hex"), []byte(strings.Repeat("22", 32)), 0o600)
			os.WriteFile(filepath.Join(dir, "m1.yaml"), []byte(`version: 1
id: rot
keys:
  - name: data
    source: {key: old.hex, key_spec: SYMMETRIC_DEFAULT}
    target: {region: us-east-1, multi_region: true, replica_regions: [eu-west-1]}
`), 0o600)
			srv := emulator(t)
			clients := clientsOf(srv)
			if lose {
				clients = func(_ context.Context, region string) (API, error) {
					return &lossy{API: srv.Client(func(o *kms.Options) { o.Region = region }), op: "ImportKeyMaterial", every: 1}, nil
				}
			}
			m1, err := OpenManifest(filepath.Join(dir, "m1.yaml"))
			if err != nil {
				t.Fatal(err)
			}
			var arn string
			_, err = (&Migration{Manifest: m1, Client: clients, Journal: filepath.Join(dir, "j1"), Quotas: fastQuotas(),
				OnResult: func(r Result) { arn = r.Regions[0].KeyARN }}).Run(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			c := srv.Client()
			before, _ := c.Encrypt(context.Background(), &kms.EncryptInput{KeyId: aws.String(arn), Plaintext: []byte("before")})
			oldID := *describe(t, c, arn).CurrentKeyMaterialId

			os.WriteFile(filepath.Join(dir, "m2.yaml"), []byte(`version: 1
id: rot-2027
keys:
  - name: data-2027
    source: {key: new.hex, key_spec: SYMMETRIC_DEFAULT}
    target: {key_id: "`+arn+`", rotate: true, key_material_description: rotation 2027}
`), 0o600)
			m2, err := OpenManifest(filepath.Join(dir, "m2.yaml"))
			if err != nil {
				t.Fatal(err)
			}
			var audit bytes.Buffer
			sum, err := (&Migration{Manifest: m2, Client: clients, Journal: filepath.Join(dir, "j2"), Audit: &audit, Quotas: fastQuotas()}).Run(context.Background())
			if err != nil {
				t.Fatalf("%v %+v", err, sum.Failures)
			}
			newID := *describe(t, c, arn).CurrentKeyMaterialId
			eu := srv.Client(func(o *kms.Options) { o.Region = "eu-west-1" })
			euARN := strings.Replace(arn, "us-east-1", "eu-west-1", 1)
			if newID == oldID || *describe(t, eu, euARN).CurrentKeyMaterialId != newID {
				t.Errorf("current key material: primary %s, replica %s; was %s", newID, *describe(t, eu, euARN).CurrentKeyMaterialId, oldID)
			}
			rot, err := c.ListKeyRotations(context.Background(), &kms.ListKeyRotationsInput{KeyId: aws.String(arn)})
			if err != nil || len(rot.Rotations) != 1 || rot.Rotations[0].RotationType != types.RotationTypeOnDemand || *rot.Rotations[0].KeyMaterialId != newID {
				t.Errorf("rotations %+v %v", rot, err)
			}
			// What was encrypted before still decrypts, in both Regions.
			for _, cl := range []*kms.Client{c, eu} {
				if _, err := cl.Decrypt(context.Background(), &kms.DecryptInput{CiphertextBlob: before.CiphertextBlob}); err != nil {
					t.Errorf("old ciphertext: %v", err)
				}
			}
			if n := strings.Count(audit.String(), `"rotated":true`); n != 2 {
				t.Errorf("%d audit records say rotated; want 2:\n%s", n, audit.String())
			}
		})
	}
}

func describe(t *testing.T, c *kms.Client, id string) *types.KeyMetadata {
	t.Helper()
	d, err := c.DescribeKey(context.Background(), &kms.DescribeKeyInput{KeyId: aws.String(id)})
	if err != nil {
		t.Fatal(err)
	}
	return d.KeyMetadata
}
