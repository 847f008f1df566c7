package main

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/service/kms"
)

// ListResourceTags and GetKeyPolicy pass through to the client, so that
// byok.KMS.CheckAlias can compare a key an alias names with the settings of
// this run (its byok:source-fingerprint tag, --tag, --policy) behind the
// progress wrapper.
func (c *progressClient) ListResourceTags(ctx context.Context, in *kms.ListResourceTagsInput, o ...func(*kms.Options)) (*kms.ListResourceTagsOutput, error) {
	l, ok := c.KMSAPI.(interface {
		ListResourceTags(context.Context, *kms.ListResourceTagsInput, ...func(*kms.Options)) (*kms.ListResourceTagsOutput, error)
	})
	if !ok {
		return nil, fmt.Errorf("the KMS client %T cannot list tags", c.KMSAPI)
	}
	return l.ListResourceTags(ctx, in, o...)
}

func (c *progressClient) GetKeyPolicy(ctx context.Context, in *kms.GetKeyPolicyInput, o ...func(*kms.Options)) (*kms.GetKeyPolicyOutput, error) {
	g, ok := c.KMSAPI.(interface {
		GetKeyPolicy(context.Context, *kms.GetKeyPolicyInput, ...func(*kms.Options)) (*kms.GetKeyPolicyOutput, error)
	})
	if !ok {
		return nil, fmt.Errorf("the KMS client %T cannot read key policies", c.KMSAPI)
	}
	return g.GetKeyPolicy(ctx, in, o...)
}
