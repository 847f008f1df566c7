package main

import (
	"context"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
)

// TestShredRestoreHMACAsPrinted imports a raw HMAC key with --key-id and no
// --key-spec (DescribeKey gives it), shreds it, and runs the restore
// command byok shred prints, as printed, with the file in place of SOURCE.
func TestShredRestoreHMACAsPrinted(t *testing.T) {
	url, _ := startEmulator(t)
	setEmulatorEnv(t, url)
	ctx := context.Background()
	c := sdkClient(url)
	ck, err := c.CreateKey(ctx, &kms.CreateKeyInput{Origin: types.OriginTypeExternal,
		KeySpec: types.KeySpecHmac256, KeyUsage: types.KeyUsageTypeGenerateVerifyMac})
	if err != nil {
		t.Fatal(err)
	}
	arn := aws.ToString(ck.KeyMetadata.Arn)
	src := keyFile("hmac256.bin")
	if code, out, errOut := byokCLI(t, "import", "--key-id", arn, src); code != 0 {
		t.Fatalf("import --key-id of a raw HMAC key without --key-spec: exit %d\n%s\n%s", code, out, errOut)
	}
	code, out, errOut := byokCLI(t, "shred", "--key-id", arn, "--yes-delete-key-material", "--audit", filepath.Join(t.TempDir(), "audit.jsonl"))
	if code != 0 {
		t.Fatalf("shred: exit %d\n%s\n%s", code, out, errOut)
	}
	m := regexp.MustCompile(`byok (import --key-id \S+ SOURCE --valid-to \+365d)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("shred printed no restore command:\n%s", out)
	}
	args := strings.Fields(strings.Replace(m[1], "SOURCE", src, 1))
	if code, out, errOut := byokCLI(t, args...); code != 0 {
		t.Fatalf("the printed restore command %q: exit %d\n%s\n%s", args, code, out, errOut)
	}
	if _, err := c.GenerateMac(ctx, &kms.GenerateMacInput{KeyId: aws.String(arn), Message: []byte("m"),
		MacAlgorithm: types.MacAlgorithmSpecHmacSha256}); err != nil {
		t.Fatalf("after the restore: %v", err)
	}
}
