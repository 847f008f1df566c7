package byok_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/byok-go/byok"
	"github.com/byok-go/byok/driver/software"
	"github.com/byok-go/byok/kmstest"
)

// policyKMS answers GetKeyPolicy with a fixed policy (the emulator does not
// emulate it).
type policyKMS struct {
	*kms.Client
	policy string
}

func (p policyKMS) GetKeyPolicy(context.Context, *kms.GetKeyPolicyInput, ...func(*kms.Options)) (*kms.GetKeyPolicyOutput, error) {
	if p.policy == "" {
		return nil, errors.New("AccessDeniedException: not allowed to call kms:GetKeyPolicy")
	}
	return &kms.GetKeyPolicyOutput{Policy: aws.String(p.policy), PolicyName: aws.String("default")}, nil
}

// An alias naming a PendingImport key is reused only when byok created that
// key for this source (its byok:source-fingerprint tag) with the settings
// this run asks for; anything else is refused before any key is created or
// material imported, naming the alias, the key, what differs and the fix.
func TestAliasReuseNeedsEvidence(t *testing.T) {
	var failParams atomic.Bool
	var creates, imports atomic.Int64
	_, client := newServer(t, kmstest.WithFault(func(op string) error {
		switch op {
		case "CreateKey":
			creates.Add(1)
		case "ImportKeyMaterial":
			imports.Add(1)
		case "GetParametersForImport":
			if failParams.Load() {
				return &kmstest.FaultError{Type: "AccessDeniedException", Message: "injected"}
			}
		}
		return nil
	}))
	ctx := context.Background()
	src := openSource(t, "p256.pkcs8.pem", byok.LoadOptions{}, software.Options{})
	info, _ := src.Describe(ctx)

	refused := func(name string, target *byok.KMS, want ...string) {
		t.Helper()
		c, i := creates.Load(), imports.Load()
		_, err := new(byok.Importer).Import(ctx, src, target)
		if !errors.Is(err, byok.ErrAliasInUse) || creates.Load() != c || imports.Load() != i {
			t.Errorf("%s: %v; %d CreateKey, %d ImportKeyMaterial", name, err, creates.Load()-c, imports.Load()-i)
			return
		}
		for _, w := range append(want, byok.AliasName(target.Alias)) {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: %v; want it to say %q", name, err, w)
			}
		}
	}

	// A PendingImport key that byok did not create: refused.
	ek, err := client.CreateKey(ctx, &kms.CreateKeyInput{Origin: types.OriginTypeExternal, KeySpec: types.KeySpecEccNistP256,
		KeyUsage: types.KeyUsageTypeSignVerify, Description: aws.String("not byok")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String("alias/pay-data3"), TargetKeyId: ek.KeyMetadata.KeyId}); err != nil {
		t.Fatal(err)
	}
	refused("a key byok did not create", &byok.KMS{Client: client, Alias: "pay-data3", Description: "mine", Tags: map[string]string{"team": "payments"}},
		aws.ToString(ek.KeyMetadata.Arn), "no byok:source-fingerprint tag", "aws kms update-alias")

	// Tagged for another source: refused.
	other, err := client.CreateKey(ctx, &kms.CreateKeyInput{Origin: types.OriginTypeExternal, KeySpec: types.KeySpecEccNistP256,
		KeyUsage: types.KeyUsageTypeSignVerify, Tags: []types.Tag{{TagKey: aws.String(byok.SourceFingerprintTag), TagValue: aws.String("sha256:00")}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String("alias/elsewhere"), TargetKeyId: other.KeyMetadata.KeyId}); err != nil {
		t.Fatal(err)
	}
	refused("a key byok created for another source", &byok.KMS{Client: client, Alias: "elsewhere"}, "another source", "sha256:00")

	// An interrupted byok run: its key carries the fingerprint tag.
	failParams.Store(true)
	first := &byok.KMS{Client: client, Alias: "rerun2", Description: "mine", Tags: map[string]string{"team": "payments"}}
	res, err := new(byok.Importer).Import(ctx, src, first)
	failParams.Store(false)
	if err == nil || res == nil || res.KeyARN == "" {
		t.Fatalf("interrupted import: %v %+v", err, res)
	}
	tags, err := client.ListResourceTags(ctx, &kms.ListResourceTagsInput{KeyId: aws.String(res.KeyARN)})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, tg := range tags.Tags {
		found = found || aws.ToString(tg.TagKey) == byok.SourceFingerprintTag && aws.ToString(tg.TagValue) == info.Fingerprint
	}
	if !found {
		t.Fatalf("the created key's tags %+v lack %s=%s", tags.Tags, byok.SourceFingerprintTag, info.Fingerprint)
	}

	// Other settings: refused, naming each difference.
	refused("another tag value", &byok.KMS{Client: client, Alias: "rerun2", Description: "mine", Tags: map[string]string{"team": "billing"}},
		"tag team is payments, this run asks for billing")
	refused("a missing tag", &byok.KMS{Client: client, Alias: "rerun2", Description: "mine"}, "tag team=payments, which this run does not ask for")
	refused("another description", &byok.KMS{Client: client, Alias: "rerun2", Description: "yours", Tags: map[string]string{"team": "payments"}},
		`description is "mine", this run asks for "yours"`)
	refused("an open policy, no --policy", &byok.KMS{Client: policyKMS{client, `{"Statement":{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"kms:*","Resource":"*"}}`},
		Alias: "rerun2", Description: "mine", Tags: map[string]string{"team": "payments"}}, "not KMS's default key policy", `Principal {"AWS":"*"}`, "--policy")
	refused("--policy, not readable", &byok.KMS{Client: policyKMS{client, ""}, Alias: "rerun2", Description: "mine", Tags: map[string]string{"team": "payments"}, Policy: `{"Version":"2012-10-17"}`},
		"GetKeyPolicy failed", "--policy")
	refused("another policy", &byok.KMS{Client: policyKMS{client, `{"Version": "2012-10-17", "Statement": []}`}, Alias: "rerun2", Description: "mine",
		Tags: map[string]string{"team": "payments"}, Policy: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow"}]}`}, "key policy differs")

	// The same settings (the policy with other white space): finished.
	c := creates.Load()
	res2, err := new(byok.Importer).Import(ctx, src, &byok.KMS{Client: policyKMS{client, `{"Version": "2012-10-17", "Statement": []}`}, Alias: "alias/rerun2",
		Description: "mine", Tags: map[string]string{"team": "payments"}, Policy: `{"Statement":[],"Version":"2012-10-17"}`})
	if err != nil || res2.KeyARN != res.KeyARN || res2.Created || creates.Load() != c {
		t.Fatalf("rerun with the same settings: %v, %+v", err, res2)
	}
	checkVerified(t, res2)
}
