package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
)

// TestAliasReuseRefusesForeignKey: import --alias refuses, before creating
// or importing anything, a PendingImport key that byok did not create for
// this source, and a key an interrupted byok run created with other
// settings than this run asks for, naming the alias, the key, what differs
// and the fix; the key is left as it was.
func TestAliasReuseRefusesForeignKey(t *testing.T) {
	f := newFaultyKMS(t)
	ctx := context.Background()
	client := f.srv.Client()
	ek, err := client.CreateKey(ctx, &kms.CreateKeyInput{Origin: types.OriginTypeExternal, Description: aws.String("not byok")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String("alias/pay-data3"), TargetKeyId: ek.KeyMetadata.KeyId}); err != nil {
		t.Fatal(err)
	}
	pol := filepath.Join(t.TempDir(), "pol.json")
	if err := os.WriteFile(pol, []byte(`{"Version":"2012-10-17","Statement":[]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	src := []string{keyFile("aes256.bin"), "--key-spec", "SYMMETRIC_DEFAULT"}
	refused := func(name string, args []string, want ...string) {
		t.Helper()
		creates, imports := f.count("CreateKey"), f.count("ImportKeyMaterial")
		code, stdout, stderr := runCLI(t, append(append([]string{"import"}, src...), args...)...)
		if code != 1 || f.count("CreateKey") != creates || f.count("ImportKeyMaterial") != imports {
			t.Errorf("%s: exit %d, %d CreateKey, %d ImportKeyMaterial\n%s%s", name, code, f.count("CreateKey")-creates, f.count("ImportKeyMaterial")-imports, stdout, stderr)
			return
		}
		flat := strings.Join(strings.Fields(stderr), " ")
		for _, w := range want {
			if !strings.Contains(flat, w) {
				t.Errorf("%s: the error lacks %q:\n%s", name, w, stderr)
			}
		}
	}
	refused("a key byok did not create", []string{"--alias", "pay-data3", "--tag", "team=payments", "--policy", pol, "--description", "mine"},
		"alias/pay-data3", aws.ToString(ek.KeyMetadata.Arn), "no byok:source-fingerprint tag", "aws kms update-alias")
	d := f.describe(t, aws.ToString(ek.KeyMetadata.Arn))
	if aws.ToString(d.Description) != "not byok" || d.KeyState != types.KeyStatePendingImport {
		t.Errorf("the foreign key changed: %q %s", aws.ToString(d.Description), d.KeyState)
	}

	// An interrupted byok run with --tag team=payments.
	f.failNext("GetParametersForImport", -1)
	if code, stdout, stderr := runCLI(t, append(append([]string{"import"}, src...), "--alias", "pay-rerun", "--tag", "team=payments")...); code != 1 {
		t.Fatalf("interrupted import: exit %d\n%s%s", code, stdout, stderr)
	}
	f.failNext("GetParametersForImport", 0)
	first := f.describe(t, "alias/pay-rerun")
	refused("another tag", []string{"--alias", "pay-rerun", "--tag", "team=billing"}, "alias/pay-rerun", aws.ToString(first.Arn), "tag team is payments, this run asks for billing")
	refused("another --policy", []string{"--alias", "pay-rerun", "--tag", "team=payments", "--policy", pol}, "key policy differs", "--policy")
	refused("another description", []string{"--alias", "pay-rerun", "--tag", "team=payments", "--description", "mine"}, "--description")

	// A key tagged as byok's for this source, but whose policy was opened
	// up: without --policy, only KMS's default key policy is reused.
	tags, err := client.ListResourceTags(ctx, &kms.ListResourceTagsInput{KeyId: first.KeyId})
	if err != nil {
		t.Fatal(err)
	}
	var fp string
	for _, tg := range tags.Tags {
		if aws.ToString(tg.TagKey) == "byok:source-fingerprint" {
			fp = aws.ToString(tg.TagValue)
		}
	}
	open := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"kms:*","Resource":"*"}]}`
	ok, err := client.CreateKey(ctx, &kms.CreateKeyInput{Origin: types.OriginTypeExternal, Policy: aws.String(open),
		Tags: []types.Tag{{TagKey: aws.String("byok:source-fingerprint"), TagValue: aws.String(fp)}}})
	if err != nil || fp == "" {
		t.Fatalf("fingerprint %q: %v", fp, err)
	}
	if _, err := client.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String("alias/pay-open"), TargetKeyId: ok.KeyMetadata.KeyId}); err != nil {
		t.Fatal(err)
	}
	refused("an open key policy, no --policy", []string{"--alias", "pay-open"}, "alias/pay-open", aws.ToString(ok.KeyMetadata.Arn),
		"not KMS's default key policy", `Principal {"AWS":"*"}`, "arn:aws:iam::111122223333:root", "--policy", "put-key-policy")
	if d := f.describe(t, aws.ToString(ok.KeyMetadata.Arn)); d.KeyState != types.KeyStatePendingImport {
		t.Errorf("the open-policy key changed: %s", d.KeyState)
	}

	creates := f.count("CreateKey")
	code, stdout, stderr := runCLI(t, append(append([]string{"import"}, src...), "--alias", "pay-rerun", "--tag", "team=payments")...)
	if code != 0 || f.count("CreateKey") != creates || !strings.Contains(stderr, "byok created for this source") {
		t.Fatalf("rerun with the same settings: exit %d\n%s%s", code, stdout, stderr)
	}
}
