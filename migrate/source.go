package migrate

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/byok-go/byok"
	"github.com/byok-go/byok/driver"
)

// hsmSession takes a slot of the source's HSM token, if it is one.
func (r *runner) hsmSession(ctx context.Context, s Source) (func(), error) {
	if s.Driver == "software" {
		return func() {}, nil
	}
	n := r.m.HSMSessions
	if n <= 0 {
		n = DefaultHSMSessions
	}
	key := s.Driver + "\x00" + s.Module + "\x00" + s.Token
	r.mu.Lock()
	sem := r.sessions[key]
	if sem == nil {
		sem = make(chan struct{}, n)
		r.sessions[key] = sem
	}
	r.mu.Unlock()
	select {
	case sem <- struct{}{}:
		return func() { <-sem }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// closeSource closes the job's source and frees its HSM session slot.
func (j *job) closeSource() {
	if j.src != nil {
		j.src.Close()
		j.src = nil
	}
	if j.release != nil {
		j.release()
		j.release = nil
	}
}

// open opens the source, plans the wrapping and journals the fingerprint.
func (r *runner) open(ctx context.Context, j *job) error {
	s := j.k.Source
	release, err := r.hsmSession(ctx, s)
	if err != nil {
		return err
	}
	src, err := openSource(ctx, s, r.m.OpenSource)
	if err != nil {
		release()
		return err
	}
	// The source itself, not a wrapper: VerifyImport looks for its
	// optional capabilities (SignerSource, MACSource).
	j.src, j.release = src, release
	if j.k.HasAWS() {
		im := &byok.Importer{Algorithm: j.k.Options.Algorithm, WrappingKeySpec: j.k.Options.WrappingKeySpec}
		j.info, j.choice, err = im.Plan(ctx, src)
	} else {
		// Only targets outside AWS: each chooses its own wrapping (its
		// rules, not AWS's), when it imports.
		j.info, err = src.Describe(ctx)
	}
	if err != nil {
		j.closeSource()
		return err
	}
	if j.choice.Fallback {
		r.log.Warn("migrate: the source cannot perform a SHA-256 wrapping algorithm; using SHA-1", "key", j.k.Name, "algorithm", j.choice.Algorithm)
	}
	if fp := j.st.fingerprint; fp != "" && fp != j.info.Fingerprint {
		j.closeSource()
		if r.renewal != "" {
			// A new name would make a new KMS key and strand every
			// ciphertext under the old one: only the same material renews.
			return fmt.Errorf("the source no longer matches the key material imported into its KMS key: it was %s at import, it is %s now; KMS accepts only the same material again, so restore the source to the original key and run the renewal again", fp, j.info.Fingerprint)
		}
		return fmt.Errorf("the source key changed since the journaled run: it was %s, it is now %s; a key cannot change in the middle of a migration — give it a new name", fp, j.info.Fingerprint)
	}
	if j.st.fingerprint == "" {
		if err := r.note(Entry{Key: j.k.Name, Step: StepSource, Phase: PhaseDone, Fingerprint: j.info.Fingerprint,
			Detail: fmt.Sprintf("%s %s", j.info.Spec, usageOf(j.info))}); err != nil {
			j.closeSource()
			return err
		}
		j.st.fingerprint = j.info.Fingerprint
	}
	return nil
}

// openSource opens a manifest's source with custom (Migration.OpenSource)
// or, when nil, with its driver.
func openSource(ctx context.Context, s Source, custom func(context.Context, Source) (driver.Source, error)) (driver.Source, error) {
	var src driver.Source
	var err error
	if custom != nil {
		src, err = custom(ctx, s)
	} else {
		cfg := driver.Config{Key: s.Key, Module: s.Module, Token: s.Token, KeySpec: s.KeySpec, Usage: s.Usage, Options: s.Options}
		switch {
		case s.PINEnv != "":
			cfg.PIN = driver.PINFromEnv(s.PINEnv)
		case s.PINFile != "":
			cfg.PIN = driver.PINFromFile(s.PINFile)
		}
		switch {
		case s.PassphraseEnv != "":
			cfg.Passphrase = driver.PINFromEnv(s.PassphraseEnv)
		case s.PassphraseFile != "":
			cfg.Passphrase = driver.PINFromFile(s.PassphraseFile)
		}
		src, err = driver.Open(ctx, s.Driver, cfg)
	}
	if err != nil {
		if errors.Is(err, byok.ErrAmbiguousEncoding) {
			return nil, fmt.Errorf("opening the source (%s): %w; in the manifest, give the source options: {key_format: raw} (or hex, or base64)", sourceLabel(s), err)
		}
		return nil, fmt.Errorf("opening the source (%s): %w", sourceLabel(s), err)
	}
	return src, nil
}

// sourceLabel names a source for logs: driver and key, without any PIN.
func sourceLabel(s Source) string {
	key := s.Key
	if strings.HasPrefix(strings.ToLower(key), "pkcs11:") {
		// RFC 7512 allows pin-value in the query: never show it.
		if i := strings.IndexAny(key, "?"); i >= 0 {
			var keep []string
			for _, a := range strings.Split(key[i+1:], "&") {
				if !strings.HasPrefix(strings.ToLower(a), "pin-") {
					keep = append(keep, a)
				}
			}
			key = key[:i]
			if len(keep) > 0 {
				key += "?" + strings.Join(keep, "&")
			}
		}
	}
	return s.Driver + ":" + key
}

func usageOf(info byok.KeyInfo) byok.KeyUsage {
	if info.Usage != "" {
		return info.Usage
	}
	if u := info.Spec.Usages(); len(u) > 0 {
		return u[0]
	}
	return ""
}
