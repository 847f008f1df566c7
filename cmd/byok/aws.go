package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/url"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/byok-go/byok"
	"github.com/byok-go/byok/internal/params"
)

// awsFlags select the AWS account, Region and endpoint, as the AWS CLI's
// global options do. Without them the SDK's default chain applies:
// AWS_PROFILE, AWS_REGION, AWS_ENDPOINT_URL_KMS, ~/.aws/config and
// ~/.aws/credentials, SSO, IMDS.
type awsFlags struct {
	region, profile, endpoint string
}

func (a *awsFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&a.region, "region", "", "AWS `REGION` (default: AWS_REGION or AWS_DEFAULT_REGION, the profile's, or the key ARN's)")
	fs.StringVar(&a.profile, "profile", "", "named profile `NAME` from ~/.aws/config (default: AWS_PROFILE)")
	fs.StringVar(&a.endpoint, "endpoint-url", "", "KMS endpoint `URL`, e.g. a VPC endpoint, or byok emulator's (default: AWS_ENDPOINT_URL_KMS)")
}

func (a *awsFlags) validate() error {
	if a.endpoint != "" {
		u, err := url.Parse(a.endpoint)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return fmt.Errorf("%w: --endpoint-url %q: want a URL such as https://kms.eu-west-1.amazonaws.com or http://127.0.0.1:8555", errUsage, a.endpoint)
		}
	}
	return nil
}

// client returns a KMS client and its Region. keyARN, when it is an ARN,
// gives the Region unless --region says otherwise: a key is reachable only
// in its own Region.
func (a *awsFlags) client(ctx context.Context, keyARN string) (*kms.Client, string, error) {
	if err := a.validate(); err != nil {
		return nil, "", err
	}
	var opts []func(*config.LoadOptions) error
	region := a.region
	if region == "" {
		region = params.RegionOf(keyARN)
	}
	if region != "" {
		opts = append(opts, config.WithRegion(region))
	}
	if a.profile != "" {
		opts = append(opts, config.WithSharedConfigProfile(a.profile))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, "", fmt.Errorf("loading the AWS configuration: %w\n  what to do: check --profile / AWS_PROFILE and ~/.aws/config", err)
	}
	if cfg.Region == "" {
		return nil, "", fmt.Errorf("%w: no AWS Region: pass --region, set AWS_REGION (and AWS_DEFAULT_REGION for the AWS CLI version 1), or set region in the profile (aws configure)", errUsage)
	}
	c := kms.NewFromConfig(cfg, func(o *kms.Options) {
		if a.endpoint != "" {
			o.BaseEndpoint = aws.String(a.endpoint)
		}
	})
	return c, cfg.Region, nil
}

// hintedError adds what to do next to an error.
type hintedError struct {
	err  error
	hint string
}

func (e *hintedError) Error() string { return e.err.Error() + "\n  what to do: " + e.hint }
func (e *hintedError) Unwrap() error { return e.err }

// withHint adds a hint for the AWS errors an operator can act on.
func withHint(err error) error {
	if err == nil {
		return nil
	}
	var he *hintedError
	if errors.As(err, &he) {
		return err
	}
	hint := awsHint(err)
	if hint == "" {
		return err
	}
	return &hintedError{err, hint}
}

// withImportHint is withHint for ImportKeyMaterial: when KMS refuses
// material that differs from what a SYMMETRIC_DEFAULT key holds, it points
// to --import-type NEW_KEY_MATERIAL, as KMS's own message does. Only
// single-Region symmetric encryption keys take new material (on-demand
// rotation); see
// https://docs.aws.amazon.com/kms/latest/APIReference/API_ImportKeyMaterial.html
func withImportHint(err error, spec byok.KeySpec, importType, keyARN string) error {
	var wrongMat *types.IncorrectKeyMaterialException
	if err == nil || spec != byok.SymmetricDefault || importType == "NEW_KEY_MATERIAL" || !errors.As(err, &wrongMat) {
		return withHint(err)
	}
	return &hintedError{err, fmt.Sprintf("the KMS key holds other key material. To add this material to it as new key material (single-Region symmetric keys only), run again with --import-type NEW_KEY_MATERIAL, then make it the current material with: aws kms rotate-key-on-demand --key-id %s. To import it into a key of its own, leave out --key-id", keyARN)}
}

func awsHint(err error) string {
	var (
		expired  *types.ExpiredImportTokenException
		badTok   *types.InvalidImportTokenException
		badCT    *types.InvalidCiphertextException
		wrongMat *types.IncorrectKeyMaterialException
		notFound *types.NotFoundException
		state    *types.KMSInvalidStateException
		opErr    *net.OpError
	)
	msg := err.Error()
	switch {
	case errors.As(err, &expired):
		return "the import parameters expired (they last 24 hours): run `byok params` again, then `byok wrap` and `byok upload`"
	case errors.As(err, &badTok):
		return "the import token belongs to another KMS key or another GetParametersForImport: use ImportToken.bin from the same `byok params` run as the wrapping key"
	case errors.As(err, &badCT):
		return "KMS could not unwrap the key material: it was not wrapped with this wrapping key and algorithm — run `byok wrap` with the same parameters directory you upload"
	case errors.As(err, &wrongMat):
		return "the KMS key already holds (or held) other key material; imported key material cannot change: use a new KMS key (leave out --key-id)"
	case errors.As(err, &notFound):
		return "check the key ID or ARN and the Region (--region; a key lives in one Region)"
	case errors.As(err, &state):
		return "check the key's state: `aws kms describe-key --key-id …` (imports need PendingImport, or Enabled to re-import the same material)"
	case strings.Contains(msg, "AccessDenied"):
		return "the caller lacks permission: an import needs kms:CreateKey, kms:CreateAlias, kms:TagResource, kms:GetParametersForImport, kms:ImportKeyMaterial, kms:DescribeKey, and for the proof kms:GetPublicKey, kms:Sign, kms:Verify, kms:Encrypt, kms:Decrypt, kms:GenerateMac"
	case strings.Contains(msg, "failed to retrieve credentials") || strings.Contains(msg, "failed to refresh cached credentials") || strings.Contains(msg, "no EC2 IMDS role"):
		return "no AWS credentials: run `aws configure` or `aws sso login`, or set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
	case strings.Contains(msg, "UnrecognizedClientException") || strings.Contains(msg, "InvalidSignatureException"):
		return "AWS does not accept the credentials: check AWS_PROFILE / --profile and that the keys are current"
	case errors.As(err, &opErr) || strings.Contains(msg, "connection refused") || strings.Contains(msg, "no such host"):
		return "KMS is not reachable: check the network, --endpoint-url / AWS_ENDPOINT_URL_KMS and --region; on a host without AWS access use the offline flow (byok params / wrap / upload)"
	}
	return ""
}
