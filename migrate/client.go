package migrate

import (
	"context"
	"errors"
	"log/slog"
	"maps"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/byok-go/byok"
)

// API is the part of the AWS KMS client a migration calls: byok.KMSAPI and
// the calls for finding keys again, multi-Region keys and rotation.
// *kms.Client implements it.
type API interface {
	byok.KMSAPI
	ListKeys(ctx context.Context, in *kms.ListKeysInput, optFns ...func(*kms.Options)) (*kms.ListKeysOutput, error)
	ListResourceTags(ctx context.Context, in *kms.ListResourceTagsInput, optFns ...func(*kms.Options)) (*kms.ListResourceTagsOutput, error)
	ListAliases(ctx context.Context, in *kms.ListAliasesInput, optFns ...func(*kms.Options)) (*kms.ListAliasesOutput, error)
	ReplicateKey(ctx context.Context, in *kms.ReplicateKeyInput, optFns ...func(*kms.Options)) (*kms.ReplicateKeyOutput, error)
	RotateKeyOnDemand(ctx context.Context, in *kms.RotateKeyOnDemandInput, optFns ...func(*kms.Options)) (*kms.RotateKeyOnDemandOutput, error)
	ListKeyRotations(ctx context.Context, in *kms.ListKeyRotationsInput, optFns ...func(*kms.Options)) (*kms.ListKeyRotationsOutput, error)
}

var _ API = (*kms.Client)(nil)

// throttles classifies a KMS answer as a throttle with the SDK's own
// classifier and error codes (retry.DefaultThrottleErrorCodes), less
// LimitExceededException: KMS answers that when a resource quota (keys,
// aliases, grants) is full, which waiting does not cure; a request over a
// rate quota gets ThrottlingException.
// https://docs.aws.amazon.com/kms/latest/developerguide/requests-per-second.html
// https://docs.aws.amazon.com/kms/latest/developerguide/resource-limits.html
var throttles = retry.IsErrorThrottles{retry.ThrottleErrorCode{Codes: func() map[string]struct{} {
	codes := maps.Clone(retry.DefaultThrottleErrorCodes)
	delete(codes, "LimitExceededException")
	return codes
}()}}

// transients classifies an error that may go away on its own with the
// SDK's retryables: a connection broken, reset or refused (the SDK marks a
// request it could not send or whose answer it could not read), HTTP 500,
// 502, 503 and 504, and the KMS errors that say so by name
// (https://docs.aws.amazon.com/kms/latest/APIReference/CommonErrors.html
// and each operation's errors: KMSInternalException,
// DependencyTimeoutException, KeyUnavailableException). Throttles are not
// in it: they are paced, not merely retried.
var transients = retry.IsErrorRetryables{
	retry.NoRetryCanceledError{},
	retry.RetryableError{},
	retry.RetryableConnectionError{},
	retry.RetryableHTTPStatusCode{Codes: retry.DefaultRetryableHTTPStatusCodes},
	retry.RetryableErrorCode{Codes: retry.DefaultRetryableErrorCodes},
	retry.RetryableErrorCode{Codes: map[string]struct{}{
		"KMSInternalException": {}, "DependencyTimeoutException": {}, "KeyUnavailableException": {}, "ServiceUnavailableException": {}, "InternalFailure": {},
	}},
}

// isThrottle reports whether err is KMS's answer to a request over quota.
func isThrottle(err error) bool {
	return err != nil && throttles.IsErrorThrottle(err) == aws.TrueTernary
}

// isTransient reports whether err may go away on its own: a KMS internal
// error or a broken connection. For a request that changes something, the
// request may or may not have been carried out. The run's own context
// ending is not transient.
func isTransient(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	return transients.IsErrorRetryable(err) == aws.TrueTernary
}

// noSDKRetry turns off the SDK's own retries: the limited client retries
// throttled requests itself (so that the limiter learns from them), and
// requests that change something are never retried blindly.
func noSDKRetry(o *kms.Options) { o.Retryer = aws.NopRetryer{} }

// limitedClient paces every call with a Limiter, retries throttled calls,
// and retries read-only calls after transient errors.
type limitedClient struct {
	api    API
	region string
	lim    *Limiter
	clock  Clock
	log    *slog.Logger
	// maxAttempts bounds the attempts of one call (throttles included).
	maxAttempts int
}

func call[T any](ctx context.Context, c *limitedClient, op string, readOnly bool, f func(context.Context) (T, error)) (T, error) {
	var zero T
	backoff := 100 * time.Millisecond
	for attempt := 1; ; attempt++ {
		if err := c.lim.Wait(ctx, c.region, op); err != nil {
			return zero, err
		}
		out, err := f(ctx)
		switch {
		case err == nil:
			c.lim.Succeeded(c.region, op)
			return out, nil
		case attempt >= c.maxAttempts:
			return out, err
		case isThrottle(err):
			c.lim.Throttled(c.region, op)
			c.log.Debug("migrate: throttled", "op", op, "region", c.region, "attempt", attempt, "rate", c.lim.Rate(c.region, op))
			if c.lim.Rate(c.region, op) <= 0 {
				// No quota to pace by: back off.
				if err := c.clock.Sleep(ctx, backoff); err != nil {
					return zero, err
				}
				backoff = min(2*backoff, 5*time.Second)
			}
		case readOnly && isTransient(err):
			if err := c.clock.Sleep(ctx, backoff); err != nil {
				return zero, err
			}
			backoff = min(2*backoff, 5*time.Second)
		default:
			return out, err
		}
	}
}

var _ API = (*limitedClient)(nil)

func (c *limitedClient) CreateKey(ctx context.Context, in *kms.CreateKeyInput, o ...func(*kms.Options)) (*kms.CreateKeyOutput, error) {
	return call(ctx, c, "CreateKey", false, func(ctx context.Context) (*kms.CreateKeyOutput, error) {
		return c.api.CreateKey(ctx, in, append(o, noSDKRetry)...)
	})
}

func (c *limitedClient) DescribeKey(ctx context.Context, in *kms.DescribeKeyInput, o ...func(*kms.Options)) (*kms.DescribeKeyOutput, error) {
	return call(ctx, c, "DescribeKey", true, func(ctx context.Context) (*kms.DescribeKeyOutput, error) {
		return c.api.DescribeKey(ctx, in, append(o, noSDKRetry)...)
	})
}

func (c *limitedClient) CreateAlias(ctx context.Context, in *kms.CreateAliasInput, o ...func(*kms.Options)) (*kms.CreateAliasOutput, error) {
	return call(ctx, c, "CreateAlias", false, func(ctx context.Context) (*kms.CreateAliasOutput, error) {
		return c.api.CreateAlias(ctx, in, append(o, noSDKRetry)...)
	})
}

func (c *limitedClient) GetParametersForImport(ctx context.Context, in *kms.GetParametersForImportInput, o ...func(*kms.Options)) (*kms.GetParametersForImportOutput, error) {
	// Not read-only, but repeating it is harmless: each call gives fresh
	// parameters and leaves earlier ones valid.
	return call(ctx, c, "GetParametersForImport", true, func(ctx context.Context) (*kms.GetParametersForImportOutput, error) {
		return c.api.GetParametersForImport(ctx, in, append(o, noSDKRetry)...)
	})
}

func (c *limitedClient) ImportKeyMaterial(ctx context.Context, in *kms.ImportKeyMaterialInput, o ...func(*kms.Options)) (*kms.ImportKeyMaterialOutput, error) {
	return call(ctx, c, "ImportKeyMaterial", false, func(ctx context.Context) (*kms.ImportKeyMaterialOutput, error) {
		return c.api.ImportKeyMaterial(ctx, in, append(o, noSDKRetry)...)
	})
}

func (c *limitedClient) GetPublicKey(ctx context.Context, in *kms.GetPublicKeyInput, o ...func(*kms.Options)) (*kms.GetPublicKeyOutput, error) {
	return call(ctx, c, "GetPublicKey", true, func(ctx context.Context) (*kms.GetPublicKeyOutput, error) {
		return c.api.GetPublicKey(ctx, in, append(o, noSDKRetry)...)
	})
}

func (c *limitedClient) Sign(ctx context.Context, in *kms.SignInput, o ...func(*kms.Options)) (*kms.SignOutput, error) {
	return call(ctx, c, "Sign", true, func(ctx context.Context) (*kms.SignOutput, error) {
		return c.api.Sign(ctx, in, append(o, noSDKRetry)...)
	})
}

func (c *limitedClient) Verify(ctx context.Context, in *kms.VerifyInput, o ...func(*kms.Options)) (*kms.VerifyOutput, error) {
	return call(ctx, c, "Verify", true, func(ctx context.Context) (*kms.VerifyOutput, error) {
		return c.api.Verify(ctx, in, append(o, noSDKRetry)...)
	})
}

func (c *limitedClient) GenerateMac(ctx context.Context, in *kms.GenerateMacInput, o ...func(*kms.Options)) (*kms.GenerateMacOutput, error) {
	return call(ctx, c, "GenerateMac", true, func(ctx context.Context) (*kms.GenerateMacOutput, error) {
		return c.api.GenerateMac(ctx, in, append(o, noSDKRetry)...)
	})
}

func (c *limitedClient) Encrypt(ctx context.Context, in *kms.EncryptInput, o ...func(*kms.Options)) (*kms.EncryptOutput, error) {
	return call(ctx, c, "Encrypt", true, func(ctx context.Context) (*kms.EncryptOutput, error) {
		return c.api.Encrypt(ctx, in, append(o, noSDKRetry)...)
	})
}

func (c *limitedClient) Decrypt(ctx context.Context, in *kms.DecryptInput, o ...func(*kms.Options)) (*kms.DecryptOutput, error) {
	return call(ctx, c, "Decrypt", true, func(ctx context.Context) (*kms.DecryptOutput, error) {
		return c.api.Decrypt(ctx, in, append(o, noSDKRetry)...)
	})
}

func (c *limitedClient) ListKeys(ctx context.Context, in *kms.ListKeysInput, o ...func(*kms.Options)) (*kms.ListKeysOutput, error) {
	return call(ctx, c, "ListKeys", true, func(ctx context.Context) (*kms.ListKeysOutput, error) {
		return c.api.ListKeys(ctx, in, append(o, noSDKRetry)...)
	})
}

func (c *limitedClient) ListResourceTags(ctx context.Context, in *kms.ListResourceTagsInput, o ...func(*kms.Options)) (*kms.ListResourceTagsOutput, error) {
	return call(ctx, c, "ListResourceTags", true, func(ctx context.Context) (*kms.ListResourceTagsOutput, error) {
		return c.api.ListResourceTags(ctx, in, append(o, noSDKRetry)...)
	})
}

func (c *limitedClient) ListAliases(ctx context.Context, in *kms.ListAliasesInput, o ...func(*kms.Options)) (*kms.ListAliasesOutput, error) {
	return call(ctx, c, "ListAliases", true, func(ctx context.Context) (*kms.ListAliasesOutput, error) {
		return c.api.ListAliases(ctx, in, append(o, noSDKRetry)...)
	})
}

func (c *limitedClient) ReplicateKey(ctx context.Context, in *kms.ReplicateKeyInput, o ...func(*kms.Options)) (*kms.ReplicateKeyOutput, error) {
	return call(ctx, c, "ReplicateKey", false, func(ctx context.Context) (*kms.ReplicateKeyOutput, error) {
		return c.api.ReplicateKey(ctx, in, append(o, noSDKRetry)...)
	})
}

func (c *limitedClient) RotateKeyOnDemand(ctx context.Context, in *kms.RotateKeyOnDemandInput, o ...func(*kms.Options)) (*kms.RotateKeyOnDemandOutput, error) {
	return call(ctx, c, "RotateKeyOnDemand", false, func(ctx context.Context) (*kms.RotateKeyOnDemandOutput, error) {
		return c.api.RotateKeyOnDemand(ctx, in, append(o, noSDKRetry)...)
	})
}

func (c *limitedClient) ListKeyRotations(ctx context.Context, in *kms.ListKeyRotationsInput, o ...func(*kms.Options)) (*kms.ListKeyRotationsOutput, error) {
	return call(ctx, c, "ListKeyRotations", true, func(ctx context.Context) (*kms.ListKeyRotationsOutput, error) {
		return c.api.ListKeyRotations(ctx, in, append(o, noSDKRetry)...)
	})
}
