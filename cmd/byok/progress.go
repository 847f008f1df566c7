package main

import (
	"context"
	"fmt"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/byok-go/byok"
)

// progressClient says what byok is doing as each KMS call that changes or
// fetches something starts, not before: it observes the client the way
// middleware wraps a handler, so the lines follow the calls the target
// really makes (and a retried call is announced once).
type progressClient struct {
	byok.KMSAPI
	p      progress
	region string // named in the CreateKey line, when set

	mu   sync.Mutex
	last string
}

func (c *progressClient) say(format string, a ...any) {
	line := fmt.Sprintf(format, a...)
	c.mu.Lock()
	defer c.mu.Unlock()
	if line == c.last {
		return
	}
	c.last = line
	c.p.say("%s", line)
}

func (c *progressClient) CreateKey(ctx context.Context, in *kms.CreateKeyInput, o ...func(*kms.Options)) (*kms.CreateKeyOutput, error) {
	where := ""
	if c.region != "" {
		where = " in " + c.region
	}
	spec := string(in.KeySpec)
	if spec == "" {
		spec = string(byok.SymmetricDefault)
	}
	c.say("creating a KMS key (%s, %s, Origin EXTERNAL)%s…", spec, in.KeyUsage, where)
	return c.KMSAPI.CreateKey(ctx, in, o...)
}

func (c *progressClient) CreateAlias(ctx context.Context, in *kms.CreateAliasInput, o ...func(*kms.Options)) (*kms.CreateAliasOutput, error) {
	c.say("creating alias %s…", aws.ToString(in.AliasName))
	return c.KMSAPI.CreateAlias(ctx, in, o...)
}

func (c *progressClient) GetParametersForImport(ctx context.Context, in *kms.GetParametersForImportInput, o ...func(*kms.Options)) (*kms.GetParametersForImportOutput, error) {
	c.say("getting import parameters (%s, an %s wrapping key)…", in.WrappingAlgorithm, in.WrappingKeySpec)
	return c.KMSAPI.GetParametersForImport(ctx, in, o...)
}

// ScheduleKeyDeletion and DeleteAlias pass through to the client, so that
// byok.KMS.ScheduleDeletion finds them behind the wrapper.
func (c *progressClient) ScheduleKeyDeletion(ctx context.Context, in *kms.ScheduleKeyDeletionInput, o ...func(*kms.Options)) (*kms.ScheduleKeyDeletionOutput, error) {
	d, ok := c.KMSAPI.(interface {
		ScheduleKeyDeletion(context.Context, *kms.ScheduleKeyDeletionInput, ...func(*kms.Options)) (*kms.ScheduleKeyDeletionOutput, error)
	})
	if !ok {
		return nil, fmt.Errorf("the KMS client %T cannot schedule key deletion", c.KMSAPI)
	}
	c.say("scheduling the deletion of %s…", aws.ToString(in.KeyId))
	return d.ScheduleKeyDeletion(ctx, in, o...)
}

func (c *progressClient) DeleteAlias(ctx context.Context, in *kms.DeleteAliasInput, o ...func(*kms.Options)) (*kms.DeleteAliasOutput, error) {
	d, ok := c.KMSAPI.(interface {
		DeleteAlias(context.Context, *kms.DeleteAliasInput, ...func(*kms.Options)) (*kms.DeleteAliasOutput, error)
	})
	if !ok {
		return nil, fmt.Errorf("the KMS client %T cannot delete aliases", c.KMSAPI)
	}
	c.say("deleting alias %s…", aws.ToString(in.AliasName))
	return d.DeleteAlias(ctx, in, o...)
}
