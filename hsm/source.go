package hsm

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/byok-go/byok"
)

// Config says which key to migrate and how to reach it; see Open. It is
// the one configuration type of a PKCS#11 source: the drivers pkcs11,
// softhsm, cloudhsm, luna and opencryptoki take it as their Config (an
// alias), and driver/pkcs11 translates the registry's string-keyed
// driver.Config into it. The zero value of each field means its default.
type Config struct {
	// Module is the PKCS#11 library path. Empty: the URI's module-path,
	// then the profile's ModulePaths.
	Module string
	// API, when set, is used instead of loading Module: a fake in tests, or
	// a module the caller loaded. Module then only names it.
	API PKCS11
	// Profile holds the vendor facts; nil: Generic.
	Profile *Profile
	// Token selects the token; zero: the URI's token attributes, or the
	// only initialised token.
	Token TokenSelector
	// Key names the key: an RFC 7512 "pkcs11:" URI, or "label=NAME",
	// "id=HEX", "handle=N" (see ParseKeyRef).
	Key string
	// PIN supplies the user PIN (for CloudHSM "user:password"). PINs never
	// come from the command line or a URI's pin-value.
	PIN PINSource
	// KeySpec, when set, is the KMS key spec the key must have (and the
	// spec of a secret key whose length the module does not report).
	KeySpec byok.KeySpec
	// Usage is the KMS key usage; empty: the spec's usual one.
	Usage byok.KeyUsage
	// MaterialLen is the length in bytes of the key's KMS material (the
	// PKCS#8 encoding of an RSA key) when the caller knows it. It matters
	// only for modules whose AES key wrap zero-fills (SoftHSM 2.6.1): byok
	// then wraps an RSA key only if MaterialLen is a multiple of 8, and
	// checks the wrapped length against it.
	MaterialLen int
	// MaxSessions bounds the token's session pool; zero: DefaultMaxSessions.
	MaxSessions int
	// NoProbe trusts the profile's Documented capabilities instead of
	// probing the module with trial wraps of throwaway keys (as
	// Profile.NoProbe does for every key of a profile).
	NoProbe bool
	// Logger receives the probe's findings and warnings; nil: none.
	Logger *slog.Logger
}

// Source is a key in an HSM as a byok key source: it describes the key,
// says which wrapping algorithms the module can perform for it
// (byok.AlgorithmLister), wraps it inside the module with C_WrapKey (the
// plaintext never leaves the module), and signs (byok.SignerSource) or
// computes HMACs (byok.MACSource) with it for the proof after import. It is
// safe for concurrent use.
type Source struct {
	tok         *Token
	ownTok      bool
	ownMod      bool
	key         *Key
	usage       byok.KeyUsage
	materialLen int
	label       string
	log         *slog.Logger

	once sync.Once
	fp   string

	// mu guards ms, the wrapping methods worked out on first use: the
	// token's capabilities are cached, so they cannot change for a Source.
	mu sync.Mutex
	ms map[byok.WrappingAlgorithm]method
}

var (
	_ byok.KeySource       = (*Source)(nil)
	_ byok.AlgorithmLister = (*Source)(nil)
	_ byok.SignerSource    = (*Source)(nil)
	_ byok.MACSource       = (*Source)(nil)
)

// Open loads the module (shared with other users in the process), opens
// the token, logs in and finds the key. Close the Source when done.
func Open(ctx context.Context, cfg Config) (*Source, error) {
	prof := cfg.Profile
	if prof == nil {
		prof = &Generic
	}
	if cfg.NoProbe && !prof.NoProbe {
		p := *prof
		p.NoProbe = true
		prof = &p
	}
	ref, uri, err := ParseKeyRef(cfg.Key)
	if err != nil {
		return nil, err
	}
	sel := cfg.Token
	if uri != nil && sel == (TokenSelector{}) {
		sel = uri.TokenSelector()
	}
	var mod *Module
	switch {
	case cfg.API != nil:
		name := cfg.Module
		if name == "" {
			name = prof.name()
		}
		mod, err = NewModule(name, cfg.API)
	default:
		path := cfg.Module
		if path == "" && uri != nil {
			path = uri.ModulePath
		}
		if path == "" {
			if path, err = prof.DefaultModule(); err != nil {
				return nil, err
			}
		}
		mod, err = OpenModule(path)
	}
	if err != nil {
		return nil, err
	}
	if prof.KeepLoaded {
		mod.keepLoaded()
	}
	tok, err := mod.OpenToken(ctx, sel, TokenOptions{PIN: cfg.PIN, Profile: prof, MaxSessions: cfg.MaxSessions})
	if err != nil {
		mod.Close()
		return nil, err
	}
	s, err := tok.OpenKey(ctx, ref, SourceOptions{KeySpec: cfg.KeySpec, Usage: cfg.Usage, MaterialLen: cfg.MaterialLen, Logger: cfg.Logger})
	if err != nil {
		tok.Close()
		mod.Close()
		return nil, err
	}
	s.ownTok, s.ownMod = true, true
	return s, nil
}

// SourceOptions configure Token.OpenKey; the zero value is valid.
type SourceOptions struct {
	// KeySpec, Usage and MaterialLen are as in Config.
	KeySpec     byok.KeySpec
	Usage       byok.KeyUsage
	MaterialLen int
	// Label names the source in logs and the KMS key description; empty:
	// the key's CKA_LABEL and the token.
	Label  string
	Logger *slog.Logger
}

// OpenKey finds the key ref names in the token and returns a Source for it.
// Closing the Source does not close the token.
func (t *Token) OpenKey(ctx context.Context, ref KeyRef, o SourceOptions) (*Source, error) {
	k, err := t.FindKey(ctx, ref, o.KeySpec)
	if err != nil {
		return nil, err
	}
	if o.Usage != "" && !k.Spec.AllowsUsage(o.Usage) {
		return nil, fmt.Errorf("hsm: key usage %s is not valid for a %s key; KMS allows %v", o.Usage, k.Spec, k.Spec.Usages())
	}
	if o.MaterialLen < 0 {
		return nil, fmt.Errorf("hsm: the material length %d is negative", o.MaterialLen)
	}
	label := o.Label
	if label == "" {
		label = fmt.Sprintf("%s %q in token %q", t.opts.Profile.name(), k.Label, t.info.Label)
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Source{tok: t, key: k, usage: o.Usage, materialLen: o.MaterialLen, label: label, log: log}, nil
}

// Key describes the key.
func (s *Source) Key() *Key { return s.key }

// Token returns the token the key is in.
func (s *Source) Token() *Token { return s.tok }

// Describe reports the key spec, usage, public key, fingerprint and label.
// For secret keys the fingerprint is computed inside the module
// (C_DigestKey) and equals byok.KeyMaterial.Fingerprint of the same key; it
// is empty if the module cannot digest keys. The public key is read from
// the token (the public-key object or the private key's attributes), which
// need not match the private key, so KeyInfo.PublicKeyFromPrivate is false.
func (s *Source) Describe(ctx context.Context) (byok.KeyInfo, error) {
	s.once.Do(func() { s.fp = s.tok.fingerprint(ctx, s.key) })
	return byok.KeyInfo{Spec: s.key.Spec, Usage: s.usage, PublicKeyDER: append([]byte(nil), s.key.PublicKeyDER...),
		Fingerprint: s.fp, Label: s.label}, nil
}

// capabilities returns the module's capabilities for this key: probed
// (once per module and token in the process) unless the profile says not to.
func (s *Source) capabilities(ctx context.Context) (*Capabilities, error) {
	prof := s.tok.opts.Profile
	if prof.NoProbe {
		c := clone(&prof.Documented)
		c.Probed = false
		return c, nil
	}
	c, err := s.tok.Capabilities(ctx, s.key.Spec.Kind() == byok.KindEC)
	if err != nil {
		return nil, err
	}
	if c.ECProbed || s.key.Spec.Kind() != byok.KindEC {
		return c, nil
	}
	// The module could not make a throwaway EC key; take the profile's word.
	c.PrivateKeyOAEP, c.ECPKCS8PublicKey = prof.Documented.PrivateKeyOAEP, prof.Documented.ECPKCS8PublicKey
	return c, nil
}

// WrappingAlgorithms returns the KMS wrapping algorithms the module can
// perform for this key so that KMS receives exactly its key material, SHA-256
// forms first, learned by probing the module (see Capabilities). If none
// fits it fails with an error matching ErrNoWrapping (and
// byok.ErrIncompatible) that names the reasons: never would byok export
// the plaintext instead.
func (s *Source) WrappingAlgorithms(ctx context.Context) ([]byok.WrappingAlgorithm, error) {
	ms, err := s.methods(ctx)
	if err != nil {
		return nil, err
	}
	var out []byok.WrappingAlgorithm
	for _, a := range byok.WrappingAlgorithms() {
		if _, ok := ms[a]; ok {
			out = append(out, a)
		}
	}
	return out, nil
}

func (s *Source) methods(ctx context.Context) (map[byok.WrappingAlgorithm]method, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ms != nil {
		return s.ms, nil
	}
	ms, err := s.computeMethods(ctx)
	if err != nil {
		return nil, err
	}
	s.ms = ms
	return ms, nil
}

// computeMethods works out which wrapping algorithms the key can be wrapped
// with in this token, and how.
func (s *Source) computeMethods(ctx context.Context) (map[byok.WrappingAlgorithm]method, error) {
	c, err := s.capabilities(ctx)
	if err != nil {
		return nil, err
	}
	if c.Probed {
		for _, f := range c.Findings {
			s.log.Debug("hsm: probe", "module", s.tok.mod.name, "token", s.tok.info.Label, "finding", f)
		}
	}
	ms, why := methods(c, s.key, s.materialLen)
	if len(ms) == 0 {
		allowed := byok.AllowedAlgorithms(s.key.Spec)
		src := "found by trial wraps of throwaway keys"
		if !c.Probed {
			src = "as the " + s.tok.opts.Profile.name() + " profile documents it"
		}
		fix := fmt.Sprintf("%s (%s) offers %s; for %s AWS accepts %s, and ", s.tok.opts.Profile.name(), src, describeCaps(c), s.key.Spec, algNames(allowed))
		for i, w := range why {
			if i > 0 {
				fix += "; "
			}
			fix += w
		}
		fix += ". byok never exports the plaintext instead: migrate the key from a module that can wrap it, or create a new key in KMS"
		return nil, &Error{Op: fmt.Sprintf("choosing how to wrap %s in %s", s.key, s.tok), Kind: ErrNoWrapping, Fix: fix}
	}
	for _, m := range ms {
		if m.zeroFill {
			s.log.Warn("hsm: the module's key wrap zero-fills; the material length given is a multiple of 8, so the result is exact", "key", s.label, "algorithm", m.alg)
		}
	}
	return ms, nil
}

// Wrap wraps the key under the import parameters' wrapping key inside the
// module: the KMS wrapping public key is imported as a session object
// (CKA_TOKEN=false, CKA_WRAP=true) and destroyed afterwards, and C_WrapKey
// runs with CKM_RSA_PKCS_OAEP, CKM_RSA_AES_KEY_WRAP, or the two-step
// construction (see Capabilities), whichever the module does exactly.
func (s *Source) Wrap(ctx context.Context, p byok.ImportParameters) ([]byte, error) {
	if p.WrappingKey == nil {
		return nil, errors.New("hsm: the import parameters have no wrapping key")
	}
	if _, err := byok.WrappingKeySpecOf(p.WrappingKey); err != nil {
		return nil, err
	}
	if !s.key.Extractable {
		return nil, &Error{Op: fmt.Sprintf("wrapping %s in %s", s.key, s.tok), Kind: ErrNotExtractable, Fix: fixNotExtractable}
	}
	ms, err := s.methods(ctx)
	if err != nil {
		return nil, err
	}
	m, ok := ms[p.Algorithm]
	if !ok {
		var can []byok.WrappingAlgorithm
		for _, a := range byok.WrappingAlgorithms() {
			if _, ok := ms[a]; ok {
				can = append(can, a)
			}
		}
		return nil, &Error{Op: fmt.Sprintf("wrapping %s with %s", s.key, p.Algorithm), Kind: ErrNoWrapping,
			Fix: fmt.Sprintf("the module can perform only %s for this key; let byok negotiate", algNames(can))}
	}
	if s.key.WrapWithTrusted {
		s.log.Warn("hsm: the key has CKA_WRAP_WITH_TRUSTED; the module may refuse to wrap it under the (untrusted) KMS wrapping key", "key", s.label)
	}
	s.log.Info("hsm: wrapping inside the module", "key", s.label, "algorithm", p.Algorithm, "mechanism", m.String())
	return s.wrap(ctx, m, p.WrappingKey)
}

// Close closes what Open opened: the token's sessions and the module
// reference. A Source from Token.OpenKey leaves the token open.
func (s *Source) Close() error {
	var errs []error
	if s.ownTok {
		errs = append(errs, s.tok.Close())
	}
	if s.ownMod {
		errs = append(errs, s.tok.mod.Close())
	}
	s.ownTok, s.ownMod = false, false
	return errors.Join(errs...)
}

var _ crypto.Signer = (*signer)(nil)
