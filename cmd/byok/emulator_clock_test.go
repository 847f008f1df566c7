package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/byok-go/byok"
	"github.com/byok-go/byok/driver/software"
)

// TestEmulatorTimeOffset: key material imported with ValidTo two days
// ahead is gone once `byok emulator --time-offset 3d` restarts on the same
// state: the key is PendingImport and its ciphertexts do not decrypt, until
// the same material is imported again.
func TestEmulatorTimeOffset(t *testing.T) {
	ctx := context.Background()
	state := t.TempDir()
	url, _ := startEmulator(t, "--state", state)
	src, err := software.Open(filepath.Join("..", "..", "testdata", "keys", "aes256.hex"), byok.LoadOptions{KeySpec: byok.SymmetricDefault}, software.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	res, err := new(byok.Importer).Import(ctx, src, &byok.KMS{Client: sdkClient(url), ValidTo: time.Now().Add(48 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	c := sdkClient(url)
	ct, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(res.KeyARN), Plaintext: []byte("kept")})
	if err != nil {
		t.Fatal(err)
	}

	later, _ := startEmulator(t, "--state", state, "--time-offset", "3d")
	c = sdkClient(later)
	d, err := c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(res.KeyARN)})
	if err != nil {
		t.Fatal(err)
	}
	if d.KeyMetadata.KeyState != types.KeyStatePendingImport {
		t.Fatalf("three days later (ValidTo was two days ahead): %s; want PendingImport", d.KeyMetadata.KeyState)
	}
	if _, err := c.Decrypt(ctx, &kms.DecryptInput{KeyId: aws.String(res.KeyARN), CiphertextBlob: ct.CiphertextBlob}); err == nil {
		t.Fatal("a ciphertext decrypted under expired key material")
	}
	// Restore: the same material again, ValidTo counted from the
	// emulator's (later) clock.
	again, err := new(byok.Importer).Import(ctx, src, &byok.KMS{Client: c, KeyID: res.KeyARN, ValidTo: time.Now().Add(300 * 24 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if again.Verification == nil || again.Verification.Verdict != byok.VerdictPassed {
		t.Fatalf("the restore was not proven: %+v", again.Verification)
	}
	out, err := c.Decrypt(ctx, &kms.DecryptInput{KeyId: aws.String(res.KeyARN), CiphertextBlob: ct.CiphertextBlob})
	if err != nil {
		t.Fatalf("after the restore, the old ciphertext: %v", err)
	}
	if string(out.Plaintext) != "kept" {
		t.Fatalf("after the restore, the old ciphertext decrypts to %q", out.Plaintext)
	}

	r := runByok(t, nil, "emulator", "--time-offset", "soon")
	if r.code != 2 || !strings.Contains(r.stderr, "--time-offset") {
		t.Errorf("a bad --time-offset: %s", r)
	}
}
