package offline

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"time"

	"github.com/byok-go/byok"
	"github.com/byok-go/byok/internal/params"
)

// ParamsInput is what Params needs. The caller has checked the directory
// (it can take the files) before calling: Params is where side effects
// begin.
type ParamsInput struct {
	// Dir is where the parameters are written; Force replaces parameters
	// already there.
	Dir   string
	Force bool

	// ConsoleZip, when set, is the console's ImportParameters.zip to read
	// instead of calling AWS; Algorithm is the wrapping algorithm chosen
	// when downloading it (needed when its README does not say).
	ConsoleZip string
	Algorithm  byok.WrappingAlgorithm

	// Info is what is known of the source key (its Spec may be empty: then
	// KMS's key, KeyID, says); SpecGiven says the spec came from the user
	// (--key-spec) and overrides a console zip's. Known is the source as
	// recorded in the parameters for Wrap to check, or nil.
	Info      byok.KeyInfo
	SpecGiven bool
	Known     *params.Source
	// Source is the opened source key, or nil when it is not reachable
	// here.
	Source byok.KeySource

	// KeyID is an existing KMS key; empty: Params creates one with NewKey.
	KeyID  string
	NewKey NewKey
	// Importer carries forced wrapping choices (Algorithm, WrappingKeySpec).
	Importer *byok.Importer
	// Client returns the KMS client and its Region; it is called only when
	// AWS is (no console zip).
	Client func(ctx context.Context, keyID string) (byok.KMSAPI, string, error)
	// Check refuses, once the wrapping is planned and before any KMS key
	// is created, a source the import cannot carry (an HSM key that cannot
	// leave the HSM).
	Check func(src byok.KeySource) error
	// Left is called when a step fails after the KMS key arn was created
	// (created) or reused (an alias left by an interrupted run): it names
	// the key left behind, or removes it, and returns the error to report.
	Left func(ctx context.Context, err error, t *byok.KMS, arn, region string, created bool) error

	Hooks
}

// NewKey describes a KMS key Params creates.
type NewKey struct {
	Alias, Description string
	Tags               map[string]string
	Policy             string
	MultiRegion        bool
}

// Params fetches import parameters (from AWS, creating the KMS key if
// asked, or from the console's zip) and writes them into in.Dir. It
// returns the set written.
func Params(ctx context.Context, in ParamsInput) (*params.Set, error) {
	var set *params.Set
	var err error
	writeFailed := func(err error) error { return err }
	if in.ConsoleZip != "" {
		if set, err = fromConsoleZip(in); err != nil {
			return nil, err
		}
	} else {
		if set, writeFailed, err = fromAWS(ctx, in); err != nil {
			return nil, err
		}
	}
	if err := params.Write(in.Dir, set, in.Force); err != nil {
		return nil, writeFailed(err)
	}
	return set, nil
}

func fromConsoleZip(in ParamsInput) (*params.Set, error) {
	set, err := ReadConsoleZip(in.ConsoleZip, in.Algorithm)
	if err != nil {
		return nil, err
	}
	if in.Info.Spec != "" {
		if err := byok.CheckCompatible(in.Info.Spec, set.Meta.Algorithm, set.Meta.WrappingKeySpec); err != nil {
			return nil, fmt.Errorf("the console's parameters cannot carry this key: %w", err)
		}
		if in.SpecGiven {
			set.Meta.KeySpec = in.Info.Spec
			set.Meta.KeyUsage = EffectiveUsage(in.Info)
		}
	}
	set.Meta.Source = in.Known
	set.Meta.Written = time.Now().UTC().Truncate(time.Second)
	return set, nil
}

// fromAWS creates or finds the KMS key and calls GetParametersForImport.
// writeFailed decorates a failure to write the set (it names the key).
func fromAWS(ctx context.Context, in ParamsInput) (_ *params.Set, writeFailed func(error) error, err error) {
	client, region, err := in.Client(ctx, in.KeyID)
	if err != nil {
		return nil, nil, err
	}
	info, src := in.Info, in.Source
	if info.Spec == "" {
		in.say("describing KMS key %s…", in.KeyID)
		if info, err = describeKey(ctx, client, in.KeyID); err != nil {
			return nil, nil, in.hint(err)
		}
		if err := info.Spec.Validate(); err != nil {
			return nil, nil, fmt.Errorf("%s: %w", in.KeyID, err)
		}
	}
	if src == nil {
		src = specSource{info}
	}
	if err := CheckForcedWrapping(ctx, src, in.Importer); err != nil {
		return nil, nil, err
	}
	info, choice, err := in.Importer.Plan(ctx, src)
	if err != nil {
		return nil, nil, err
	}
	if in.Check != nil {
		if err := in.Check(src); err != nil {
			return nil, nil, err
		}
	}
	if choice.Fallback {
		in.warn("%s", choice.Reason)
	}
	nk := in.NewKey
	target := &byok.KMS{Client: client, KeyID: in.KeyID, Alias: nk.Alias, Description: nk.Description, Tags: nk.Tags, Policy: nk.Policy, MultiRegion: nk.MultiRegion}
	created, reused := in.KeyID == "", false
	if created && nk.Alias != "" {
		in.say("checking alias %s…", byok.AliasName(nk.Alias))
		arn, err := target.CheckAlias(ctx, info)
		if err != nil {
			return nil, nil, in.hint(err)
		}
		if arn != "" {
			in.note("%s already names %s, an Origin EXTERNAL %s %s key in state PendingImport (left by an interrupted run): fetching parameters for it; no new key is created",
				byok.AliasName(nk.Alias), arn, info.Spec, EffectiveUsage(info))
			target.KeyID, target.Alias, created, reused = arn, "", false, true
		}
	}
	// left names the key this run created (or reused) when a later step
	// fails.
	left := func(err error, arn string) error {
		if arn == "" || (!created && !reused) || in.Left == nil {
			return err
		}
		return in.Left(ctx, err, target, arn, region, created)
	}
	ip, err := target.Prepare(ctx, info, choice.Algorithm, choice.WrappingKeySpec)
	if err != nil {
		return nil, nil, left(in.hint(err), ip.KeyID)
	}
	der, err := x509.MarshalPKIXPublicKey(ip.WrappingKey)
	if err != nil {
		return nil, nil, left(err, ip.KeyID)
	}
	set := params.New(ip, der, info.Spec, EffectiveUsage(info), time.Now())
	set.Meta.CreatedKey = created
	set.Meta.Source = in.Known
	if set.Meta.Region == "" {
		set.Meta.Region = region
	}
	return set, func(err error) error { return left(err, ip.KeyID) }, nil
}

// specSource is a source known only by its description (its spec and
// usage), for planning the wrapping when the key itself is elsewhere.
type specSource struct{ info byok.KeyInfo }

func (s specSource) Describe(context.Context) (byok.KeyInfo, error) { return s.info, nil }
func (s specSource) Wrap(context.Context, byok.ImportParameters) ([]byte, error) {
	return nil, errors.New("byok: this source only describes the key")
}
