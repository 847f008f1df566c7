package byok_test

// A target with import rules of its own (another cloud) chooses the
// wrapping; the importer holds it to what was asked and what the source can
// perform.

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"testing"

	"github.com/byok-go/byok"
	"github.com/byok-go/byok/driver/software"
)

// choosingTarget accepts only RSA_AES_KEY_WRAP_SHA_256 with an RSA_3072
// wrapping key, unless choose says otherwise.
type choosingTarget struct {
	fakeTarget
	choose func(info byok.KeyInfo, can []byok.WrappingAlgorithm, alg byok.WrappingAlgorithm, wks byok.WrappingKeySpec) (byok.Choice, error)
	asked  []byok.WrappingAlgorithm
}

func (c *choosingTarget) ChooseWrapping(info byok.KeyInfo, can []byok.WrappingAlgorithm, alg byok.WrappingAlgorithm, wks byok.WrappingKeySpec) (byok.Choice, error) {
	c.asked = can
	return c.choose(info, can, alg, wks)
}

// limitedSource can perform only the listed algorithms.
type limitedSource struct {
	byok.KeySource
	algs []byok.WrappingAlgorithm
}

func (l limitedSource) WrappingAlgorithms(context.Context) ([]byok.WrappingAlgorithm, error) {
	return l.algs, nil
}

func TestPlanForAsksAChoosingTarget(t *testing.T) {
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	m, err := byok.NewKeyMaterial(ec)
	if err != nil {
		t.Fatal(err)
	}
	src, err := software.New(m, software.Options{})
	if err != nil {
		t.Fatal(err)
	}
	only := func(_ byok.KeyInfo, _ []byok.WrappingAlgorithm, _ byok.WrappingAlgorithm, _ byok.WrappingKeySpec) (byok.Choice, error) {
		return byok.Choice{Algorithm: byok.RSAAESKeyWrapSHA256, WrappingKeySpec: byok.WrappingRSA3072, Reason: "the target's rule"}, nil
	}
	ctx := context.Background()

	// AWS's rules would choose RSAES_OAEP_SHA_256 with RSA_4096 for P-256.
	_, aws, err := (&byok.Importer{}).Plan(ctx, src)
	if err != nil {
		t.Fatal(err)
	}
	dst := &choosingTarget{choose: only}
	_, got, err := (&byok.Importer{}).PlanFor(ctx, src, dst)
	if err != nil {
		t.Fatal(err)
	}
	if got.Algorithm != byok.RSAAESKeyWrapSHA256 || got.WrappingKeySpec != byok.WrappingRSA3072 || got == aws {
		t.Fatalf("PlanFor = %+v (AWS's choice %+v); want the target's", got, aws)
	}
	if dst.asked != nil {
		t.Errorf("a software source can perform every algorithm, so can should be nil; got %v", dst.asked)
	}

	// What the source can perform reaches the target.
	lim := limitedSource{src, []byok.WrappingAlgorithm{byok.RSAAESKeyWrapSHA1}}
	if _, _, err := (&byok.Importer{}).PlanFor(ctx, lim, dst); !errors.Is(err, byok.ErrIncompatible) {
		t.Errorf("a target choosing an algorithm the source cannot perform: err = %v; want ErrIncompatible", err)
	}
	if len(dst.asked) != 1 || dst.asked[0] != byok.RSAAESKeyWrapSHA1 {
		t.Errorf("the target was told the source can perform %v; want [RSA_AES_KEY_WRAP_SHA_1]", dst.asked)
	}

	// A forced algorithm or wrapping key spec the target ignores is refused.
	for _, im := range []*byok.Importer{
		{Algorithm: byok.RSAAESKeyWrapSHA1},
		{WrappingKeySpec: byok.WrappingRSA4096},
	} {
		if _, _, err := im.PlanFor(ctx, src, dst); !errors.Is(err, byok.ErrIncompatible) {
			t.Errorf("%+v: err = %v; want ErrIncompatible", im, err)
		}
	}

	// The target's refusal is returned as is, and Import stops before Prepare.
	rule := errors.New("the target's rule refuses this key")
	dst = &choosingTarget{choose: func(byok.KeyInfo, []byok.WrappingAlgorithm, byok.WrappingAlgorithm, byok.WrappingKeySpec) (byok.Choice, error) {
		return byok.Choice{}, rule
	}}
	dst.prepare = good(t)
	if _, err := (&byok.Importer{SkipVerify: true}).Import(ctx, src, dst); !errors.Is(err, rule) {
		t.Errorf("Import: err = %v; want the target's refusal", err)
	}
	if dst.imports != 0 {
		t.Errorf("Import reached the target %d times after its refusal", dst.imports)
	}
}

// decorator wraps a target, as migrate's journal and the CLI's progress do.
type decorator struct{ byok.KMSTarget }

func (d decorator) Unwrap() byok.KMSTarget { return d.KMSTarget }

func TestPlanForSeesThroughDecorators(t *testing.T) {
	ec, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	m, err := byok.NewKeyMaterial(ec)
	if err != nil {
		t.Fatal(err)
	}
	src, err := software.New(m, software.Options{})
	if err != nil {
		t.Fatal(err)
	}
	dst := &choosingTarget{choose: func(byok.KeyInfo, []byok.WrappingAlgorithm, byok.WrappingAlgorithm, byok.WrappingKeySpec) (byok.Choice, error) {
		return byok.Choice{Algorithm: byok.RSAAESKeyWrapSHA1, WrappingKeySpec: byok.WrappingRSA3072}, nil
	}}
	_, got, err := (&byok.Importer{}).PlanFor(context.Background(), src, decorator{decorator{dst}})
	if err != nil {
		t.Fatal(err)
	}
	if got.Algorithm != byok.RSAAESKeyWrapSHA1 || got.WrappingKeySpec != byok.WrappingRSA3072 {
		t.Errorf("through two decorators PlanFor = %+v; want the wrapped target's choice", got)
	}
	// A decorator of an AWS target keeps AWS's rules.
	_, aws, err := (&byok.Importer{}).PlanFor(context.Background(), src, decorator{&fakeTarget{}})
	if err != nil || aws.Algorithm != byok.RSAESOAEPSHA256 {
		t.Errorf("decorated AWS-like target: %+v, %v; want RSAES_OAEP_SHA_256", aws, err)
	}
}
