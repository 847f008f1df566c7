package byok

import (
	"context"
	"crypto"
	"crypto/rsa"
	"fmt"
	"log/slog"
	"slices"
	"time"
)

// KeyInfo describes a source key: what the KMS key must be like to hold it.
// It carries no secret.
type KeyInfo struct {
	// Spec is the KMS key spec of the source key.
	Spec KeySpec
	// Usage is the key usage the KMS key gets. Empty means the spec's usual
	// usage (the first of Spec.Usages()).
	Usage KeyUsage
	// PublicKeyDER is the DER SubjectPublicKeyInfo of an asymmetric key, as
	// KMS GetPublicKey returns it; nil for symmetric and HMAC keys.
	PublicKeyDER []byte
	// Fingerprint identifies the key without revealing it (see
	// KeyMaterial.Fingerprint).
	Fingerprint string
	// Label is a human-readable name of the source (a file path, an HSM
	// object label).
	Label string
	// PublicKeyFromPrivate is true when PublicKeyDER was computed from the
	// private key itself (a software key), so that a KMS public key equal to
	// it shows KMS holds that private key. Sources that read the public key
	// from somewhere else (an HSM's public-key object or attributes, which
	// need not match its private key) leave it false; the proof then rests
	// on checks that use the private key (a source signature KMS verifies,
	// or the re-import).
	PublicKeyFromPrivate bool
}

// usage returns the effective key usage.
func (i KeyInfo) usage() KeyUsage {
	if i.Usage != "" {
		return i.Usage
	}
	if u := i.Spec.Usages(); len(u) > 0 {
		return u[0]
	}
	return ""
}

// ImportParameters is what GetParametersForImport returned for one KMS key:
// everything a source needs to wrap its key material.
type ImportParameters struct {
	// KeyID is the KMS key ARN (or ID) the parameters are bound to.
	KeyID string
	// Algorithm and WrappingKeySpec are what the parameters were asked for.
	Algorithm       WrappingAlgorithm
	WrappingKeySpec WrappingKeySpec
	// WrappingKey is the RSA wrapping public key.
	WrappingKey *rsa.PublicKey
	// ImportToken is the opaque token ImportKeyMaterial needs; it is bound to
	// the KMS key and the wrapping key.
	ImportToken []byte
	// ValidTo is when the wrapping key and token expire (24 h after issue).
	ValidTo time.Time

	// reused is set by KMS.Prepare for a key an alias named (left by an
	// interrupted import), so that Import does not report it as created.
	reused bool
}

// KeySource is where a key comes from: a key file, a Go key, an HSM object.
// It describes the key and wraps its material under import parameters; the
// plaintext material never passes through the interface.
type KeySource interface {
	Describe(ctx context.Context) (KeyInfo, error)
	Wrap(ctx context.Context, p ImportParameters) ([]byte, error)
}

// AlgorithmLister is implemented by sources that can perform only some
// wrapping algorithms (an HSM whose mechanisms are limited). Sources that do
// not implement it are taken to perform all four.
type AlgorithmLister interface {
	WrappingAlgorithms(ctx context.Context) ([]WrappingAlgorithm, error)
}

// SignerSource is implemented by asymmetric sources that can sign with the
// source key, so that the importer can check that KMS verifies the source's
// signature (the other direction of the proof).
type SignerSource interface {
	Signer(ctx context.Context) (crypto.Signer, error)
}

// MACSource is implemented by HMAC sources that can compute an HMAC with the
// source key, so that the importer can compare it with KMS GenerateMac.
type MACSource interface {
	MAC(ctx context.Context, message []byte) ([]byte, error)
}

// Imported is what the KMS target reports after ImportKeyMaterial.
type Imported struct {
	// KeyID and KeyARN identify the KMS key.
	KeyID  string
	KeyARN string
	// Created is true when the target created the KMS key for this import.
	Created bool
	// KeyMaterialID is the identifier KMS gave the key material (symmetric
	// keys), if it returned one.
	KeyMaterialID string
	// ExpirationModel is KEY_MATERIAL_EXPIRES or KEY_MATERIAL_DOES_NOT_EXPIRE;
	// ValidTo is set for the former.
	ExpirationModel string
	ValidTo         time.Time
	// Algorithm is the wrapping algorithm of the accepted import, so that
	// the proof can name the integrity it rests on; empty if unknown.
	Algorithm WrappingAlgorithm
}

// KMSTarget is where the key goes: AWS KMS (see KMS) or a stand-in for it.
type KMSTarget interface {
	// Prepare creates (or finds and checks) the KMS key for info and gets
	// import parameters for the given algorithm and wrapping key spec.
	Prepare(ctx context.Context, info KeyInfo, alg WrappingAlgorithm, wks WrappingKeySpec) (ImportParameters, error)
	// Import uploads the wrapped material with the parameters' token.
	Import(ctx context.Context, p ImportParameters, wrapped []byte) (Imported, error)
}

// ParameterRefresher is implemented by targets that can fetch fresh import
// parameters for a key they already prepared, so that an import whose token
// expired (or was refused as expired) is retried once without creating
// another key.
type ParameterRefresher interface {
	Refresh(ctx context.Context, p ImportParameters) (ImportParameters, error)
	// IsExpiredToken reports whether err says the import token expired.
	IsExpiredToken(err error) bool
}

// WrappingChooser is implemented by targets whose import rules are not AWS
// KMS's (Google Cloud KMS, Azure Key Vault): the target, not AWS's table,
// says which wrapping algorithm and wrapping key spec carry a key to it, and
// refuses, naming its rule, a key it cannot hold. Importer.Import and
// PlanFor ask it instead of ChooseWrapping. A decorator of a target
// (journaling, progress) is seen through when it has a method
// Unwrap() KMSTarget returning the target it wraps.
type WrappingChooser interface {
	// ChooseWrapping returns the choice for info among the algorithms the
	// source can perform (nil: all four). alg and wks, when not empty, were
	// asked for by the caller (Importer.Algorithm, Importer.WrappingKeySpec):
	// the choice must be them, or an error wrapping ErrIncompatible.
	ChooseWrapping(info KeyInfo, can []WrappingAlgorithm, alg WrappingAlgorithm, wks WrappingKeySpec) (Choice, error)
}

// ImportVerifier is implemented by targets that can prove an import: that
// the KMS key now holds the source's key, by using it. The importer settles
// the verdict from the returned checks itself: only checks with Identity set
// can make it PASSED. An error means the proof did not complete (UNPROVEN
// unless a check already failed).
type ImportVerifier interface {
	VerifyImport(ctx context.Context, imp Imported, info KeyInfo, src KeySource) (Verification, error)
}

// Importer runs the whole import of one key. The zero value is ready to
// use: the algorithm is negotiated and the import is verified.
type Importer struct {
	// Algorithm forces a wrapping algorithm; empty means negotiated from the
	// key spec, the source's capabilities and AWS's rules (ChooseWrapping).
	Algorithm WrappingAlgorithm
	// WrappingKeySpec forces a wrapping key spec; empty means chosen with
	// the algorithm (RSA_4096).
	WrappingKeySpec WrappingKeySpec
	// SkipVerify turns off the proof after import. Off by default.
	SkipVerify bool
	// Logger receives progress and warnings; nil means no logging. Nothing
	// secret is ever logged.
	Logger *slog.Logger
}

// Result is the outcome of one import.
type Result struct {
	KeyID           string
	KeyARN          string
	Created         bool
	KeySpec         KeySpec
	KeyUsage        KeyUsage
	Fingerprint     string
	Algorithm       WrappingAlgorithm
	WrappingKeySpec WrappingKeySpec
	// Reason says why the algorithm was chosen; Fallback is true when a
	// SHA-1 form had to be used.
	Reason          string
	Fallback        bool
	KeyMaterialID   string
	ExpirationModel string
	ValidTo         time.Time
	// Verification is nil when SkipVerify was set.
	Verification *Verification
}

func (im *Importer) logger() *slog.Logger {
	if im.Logger != nil {
		return im.Logger
	}
	return slog.New(slog.DiscardHandler)
}

// Plan returns the wrapping choice Import would make for src into AWS KMS,
// without changing anything in KMS.
func (im *Importer) Plan(ctx context.Context, src KeySource) (KeyInfo, Choice, error) {
	return im.PlanFor(ctx, src, nil)
}

// PlanFor returns the wrapping choice Import would make for src into dst,
// without changing anything: AWS KMS's rules (ChooseWrapping) unless dst is
// a WrappingChooser with rules of its own. A nil dst means AWS KMS.
func (im *Importer) PlanFor(ctx context.Context, src KeySource, dst KMSTarget) (KeyInfo, Choice, error) {
	info, err := src.Describe(ctx)
	if err != nil {
		return KeyInfo{}, Choice{}, fmt.Errorf("byok: describing the source key: %w", err)
	}
	if err := info.Spec.Validate(); err != nil {
		return info, Choice{}, err
	}
	if u := info.usage(); !info.Spec.AllowsUsage(u) {
		return info, Choice{}, fmt.Errorf("byok: key usage %s is not valid for %s; KMS allows %v", u, info.Spec, info.Spec.Usages())
	}
	var can []WrappingAlgorithm
	if l, ok := src.(AlgorithmLister); ok {
		can, err = l.WrappingAlgorithms(ctx)
		if err != nil {
			return info, Choice{}, fmt.Errorf("byok: asking the source which wrapping algorithms it can perform: %w", err)
		}
		if can == nil {
			can = []WrappingAlgorithm{}
		}
	}
	if im.Algorithm != "" {
		if err := im.Algorithm.Validate(); err != nil {
			return info, Choice{}, err
		}
	}
	if im.WrappingKeySpec != "" {
		if _, err := ParseWrappingKeySpec(string(im.WrappingKeySpec)); err != nil {
			return info, Choice{}, err
		}
	}
	if c := chooserOf(dst); c != nil {
		if im.Algorithm != "" && can != nil && !slices.Contains(can, im.Algorithm) {
			return info, Choice{}, fmt.Errorf("%w: %s was asked for, but the source can perform only %v", ErrIncompatible, im.Algorithm, can)
		}
		choice, err := c.ChooseWrapping(info, can, im.Algorithm, im.WrappingKeySpec)
		if err == nil && ((im.Algorithm != "" && choice.Algorithm != im.Algorithm) ||
			(im.WrappingKeySpec != "" && choice.WrappingKeySpec != im.WrappingKeySpec) ||
			(can != nil && !slices.Contains(can, choice.Algorithm))) {
			err = fmt.Errorf("%w: the target %T chose %s with %s, which is not what was asked for or what the source can perform", ErrIncompatible, dst, choice.Algorithm, choice.WrappingKeySpec)
		}
		return info, choice, err
	}
	if im.Algorithm != "" {
		if !slices.Contains(AllowedAlgorithms(info.Spec), im.Algorithm) {
			w := im.WrappingKeySpec
			if w == "" {
				w = WrappingRSA4096
			}
			return info, Choice{}, CheckCompatible(info.Spec, im.Algorithm, w)
		}
		if can != nil && !slices.Contains(can, im.Algorithm) {
			return info, Choice{}, fmt.Errorf("%w: %s was asked for, but the source can perform only %v", ErrIncompatible, im.Algorithm, can)
		}
		can = []WrappingAlgorithm{im.Algorithm}
	}
	choice, err := ChooseWrapping(info.Spec, can)
	if err != nil {
		return info, Choice{}, err
	}
	if im.WrappingKeySpec != "" && im.WrappingKeySpec != choice.WrappingKeySpec {
		if err := CheckCompatible(info.Spec, choice.Algorithm, im.WrappingKeySpec); err != nil {
			return info, Choice{}, err
		}
		choice.WrappingKeySpec = im.WrappingKeySpec
		choice.Reason = fmt.Sprintf("%s with an %s wrapping key, as asked", choice.Algorithm, choice.WrappingKeySpec)
	}
	if im.Algorithm != "" && im.WrappingKeySpec == "" {
		choice.Reason = fmt.Sprintf("%s with an %s wrapping key: the algorithm was asked for; the largest wrapping key that fits", choice.Algorithm, choice.WrappingKeySpec)
	}
	return info, choice, nil
}

// chooserOf returns dst, or the target a chain of decorators (with
// Unwrap() KMSTarget) wraps, if it has rules of its own; nil otherwise.
func chooserOf(dst KMSTarget) WrappingChooser {
	for range 16 {
		if isNil(dst) {
			return nil
		}
		if c, ok := dst.(WrappingChooser); ok {
			return c
		}
		u, ok := dst.(interface{ Unwrap() KMSTarget })
		if !ok {
			return nil
		}
		dst = u.Unwrap()
	}
	return nil
}

// Import moves the key of src into dst: it negotiates the wrapping algorithm,
// has dst create or find the KMS key and get import parameters, has src wrap
// its material, has dst import it, and then (unless SkipVerify) proves the
// import when dst implements ImportVerifier.
//
// An error after the KMS key was created still returns a Result with the key
// ID filled in, so that nothing half-done goes unreported. After a successful
// ImportKeyMaterial, a FAILED proof returns an error wrapping ErrVerification
// and an UNPROVEN one an error wrapping ErrUnproven; Result.Verification
// holds the verdict and every check either way.
func (im *Importer) Import(ctx context.Context, src KeySource, dst KMSTarget) (*Result, error) {
	if err := checkNotNil(src, dst); err != nil {
		return nil, err
	}
	log := im.logger()
	info, choice, err := im.PlanFor(ctx, src, dst)
	if err != nil {
		return nil, err
	}
	res := &Result{KeySpec: info.Spec, KeyUsage: info.usage(), Fingerprint: info.Fingerprint,
		Algorithm: choice.Algorithm, WrappingKeySpec: choice.WrappingKeySpec, Reason: choice.Reason, Fallback: choice.Fallback}
	if choice.Fallback {
		log.Warn("byok: the source cannot perform a SHA-256 wrapping algorithm; using SHA-1", "key", info.Label, "algorithm", choice.Algorithm)
	}
	if err := stopped(ctx, "preparing the KMS key", ""); err != nil {
		return res, err
	}
	params, err := dst.Prepare(ctx, info, choice.Algorithm, choice.WrappingKeySpec)
	res.KeyARN = params.KeyID
	if err != nil {
		return res, err
	}
	if err := checkParameters(params, choice.Algorithm, choice.WrappingKeySpec); err != nil {
		return res, err
	}
	imp, err := im.wrapAndImport(ctx, src, dst, params)
	if r, ok := dst.(ParameterRefresher); ok && err != nil && r.IsExpiredToken(err) {
		log.Warn("byok: the import token expired; fetching new parameters for the same key", "key", params.KeyID)
		params, err = r.Refresh(ctx, params)
		if err != nil {
			return res, err
		}
		if err := checkParameters(params, choice.Algorithm, choice.WrappingKeySpec); err != nil {
			return res, err
		}
		imp, err = im.wrapAndImport(ctx, src, dst, params)
	}
	res.KeyID, res.Created = imp.KeyID, imp.Created
	if imp.KeyARN != "" {
		res.KeyARN = imp.KeyARN
	}
	if err != nil {
		return res, err
	}
	res.KeyMaterialID, res.ExpirationModel, res.ValidTo = imp.KeyMaterialID, imp.ExpirationModel, imp.ValidTo
	log.Info("byok: imported", "key", res.KeyARN, "spec", info.Spec, "algorithm", choice.Algorithm, "fingerprint", info.Fingerprint)
	if im.SkipVerify {
		return res, nil
	}
	if err := stopped(ctx, "verifying the import", res.KeyARN); err != nil {
		return res, err
	}
	v, ok := dst.(ImportVerifier)
	if !ok {
		res.Verification = &Verification{}
		res.Verification.Skip(fmt.Sprintf("the target %T cannot use the key to prove the import", dst))
		return res, fmt.Errorf("%w: %s: the target %T cannot use the key to prove the import; set SkipVerify to import without proof", ErrUnproven, res.KeyARN, dst)
	}
	ver, err := v.VerifyImport(ctx, imp, info, src)
	if err != nil {
		ver.interrupt(err)
	}
	// Settled here, not trusted from the verifier: only identity checks
	// make a verdict PASSED.
	ver.settle()
	res.Verification = &ver
	if ver.Verdict == VerdictFailed || err == nil {
		return res, ver.Err(res.KeyARN)
	}
	return res, fmt.Errorf("%w: %s: %w", ErrUnproven, res.KeyARN, err)
}

// wrapAndImport has the source wrap its material under p, refusing expired
// parameters, and the target import it.
func (im *Importer) wrapAndImport(ctx context.Context, src KeySource, dst KMSTarget, p ImportParameters) (Imported, error) {
	if !p.ValidTo.IsZero() && !time.Now().Before(p.ValidTo) {
		return Imported{KeyID: p.KeyID}, fmt.Errorf("%w: the import parameters for %s expired at %s", ErrExpiredParameters, p.KeyID, p.ValidTo.Format(time.RFC3339))
	}
	if err := stopped(ctx, "wrapping the source key", p.KeyID); err != nil {
		return Imported{KeyID: p.KeyID}, err
	}
	wrapped, err := src.Wrap(ctx, p)
	if err != nil {
		return Imported{KeyID: p.KeyID}, fmt.Errorf("byok: wrapping the source key for %s: %w", p.KeyID, err)
	}
	if err := stopped(ctx, "ImportKeyMaterial", p.KeyID); err != nil {
		return Imported{KeyID: p.KeyID}, err
	}
	return dst.Import(ctx, p, wrapped)
}
