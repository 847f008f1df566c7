package offline

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/byok-go/byok"
	"github.com/byok-go/byok/driver"
	"github.com/byok-go/byok/internal/params"
)

// WrapInput is what Wrap needs. No AWS call is made.
type WrapInput struct {
	// Params is the parameters directory byok params wrote, or the
	// console's ImportParameters.zip (then Out is required).
	Params string
	// Out is where to write (default: the parameters directory). When it
	// is another directory, or Params is a zip, the whole parameters set
	// is written there.
	Out string
	// Algorithm is, for a console zip, the wrapping algorithm chosen when
	// downloading; for a directory it must match the parameters'.
	Algorithm byok.WrappingAlgorithm
	// Force replaces existing parameters or EncryptedKeyMaterial.bin.
	Force bool
	// Open opens the source key; spec is the KMS key's spec the parameters
	// name (or ""), from which a raw key's spec can be taken. Wrap closes
	// the source.
	Open func(ctx context.Context, spec byok.KeySpec) (driver.Source, error)
	// Label names the source in errors and in the record of the wrap
	// (without secrets).
	Label string

	Hooks
}

// WrapResult is what Wrap did or, on failure, how far it got: Set is nil
// until the parameters were read, Info nil until the source was described.
type WrapResult struct {
	Dir  string
	Set  *params.Set
	Info *byok.KeyInfo
	// File and Bytes are the EncryptedKeyMaterial.bin written.
	File  string
	Bytes int
}

// Wrap checks the source key against the parameters and writes the
// source's key material, wrapped under the wrapping public key, as
// EncryptedKeyMaterial.bin. It refuses expired parameters, a source of
// another key spec or another key than byok params recorded, and a
// wrapping algorithm AWS or the source does not allow.
func Wrap(ctx context.Context, in WrapInput) (*WrapResult, error) {
	res := &WrapResult{}
	var set *params.Set
	var err error
	// writeSet: the whole parameters set is written to dir (from a zip, or
	// into another directory), not only the encrypted key material.
	writeSet := params.IsZip(in.Params)
	dir := in.Out
	if writeSet {
		if set, err = ReadConsoleZip(in.Params, in.Algorithm); err != nil {
			return res, err
		}
	} else {
		if set, err = params.ReadDir(in.Params); err != nil {
			return res, err
		}
		if alg := in.Algorithm; alg != "" && alg != set.Meta.Algorithm {
			return res, fmt.Errorf("%w: --algorithm %s, but the parameters were fetched for %s (the wrapping algorithm is fixed by GetParametersForImport): leave out --algorithm, or fetch new parameters with byok params --algorithm %s", ErrUsage, alg, set.Meta.Algorithm, alg)
		}
		if dir == "" {
			dir = in.Params
		} else if filepath.Clean(dir) != filepath.Clean(in.Params) {
			writeSet = true
		}
	}
	if writeSet && !in.Force {
		if _, err := os.Stat(filepath.Join(dir, params.MetadataFile)); err == nil {
			return res, fmt.Errorf("%s already holds import parameters; use another --out, or --force to replace them", dir)
		}
	}
	res.Dir, res.Set = dir, set
	now := time.Now()
	switch {
	case set.Expired(now):
		return res, fmt.Errorf("the import parameters expired at %s (they last 24 hours): run byok params again on the online host, then wrap with the new directory", FormatTime(*set.Meta.ValidTo))
	case set.Meta.ValidTo == nil:
		in.warn("the parameters do not say when they expire (%s); they last 24 hours after the download", set.Meta.From)
	case set.Meta.ValidTo.Sub(now) < time.Hour:
		in.warn("the parameters expire in %s, at %s: upload before then", set.Meta.ValidTo.Sub(now).Round(time.Minute), FormatTime(*set.Meta.ValidTo))
	}
	if !writeSet && set.Encrypted != nil && !in.Force {
		from := ""
		if set.Meta.Wrapped != nil {
			from = fmt.Sprintf(" (wrapped from %s at %s)", set.Meta.Wrapped.Source.Label, FormatTime(set.Meta.Wrapped.At))
		}
		return res, fmt.Errorf("%s already holds %s%s; pass --force to wrap again and replace it", dir, params.EncryptedKeyMaterialFile, from)
	}

	src, err := in.Open(ctx, set.Meta.KeySpec)
	if err != nil {
		return res, err
	}
	defer src.Close()
	info, err := src.Describe(ctx)
	if err != nil {
		return res, err
	}
	if set.Meta.KeyUsage != "" {
		info.Usage = set.Meta.KeyUsage
	}
	res.Info = &info
	if err := CheckWrapSource(ctx, set, info, src); err != nil {
		return res, err
	}
	in.say("wrapping the key material with %s under the %s wrapping key…", set.Meta.Algorithm, set.Meta.WrappingKeySpec)
	wrapped, err := src.Wrap(ctx, set.ImportParameters())
	if err != nil {
		return res, fmt.Errorf("wrapping %s: %w", in.Label, err)
	}
	if writeSet {
		if err := params.Write(dir, set, in.Force); err != nil {
			return res, err
		}
	}
	rec := params.Source{Label: in.Label, KeySpec: info.Spec, Fingerprint: info.Fingerprint, PublicKey: info.PublicKeyDER}
	if err := params.WriteWrapped(dir, set, wrapped, rec, now); err != nil {
		return res, err
	}
	res.File, res.Bytes = filepath.Join(dir, params.EncryptedKeyMaterialFile), len(wrapped)
	return res, nil
}

// CheckWrapSource refuses to wrap a source the parameters do not fit.
func CheckWrapSource(ctx context.Context, set *params.Set, info byok.KeyInfo, src byok.KeySource) error {
	m := &set.Meta
	if m.KeySpec != "" && m.KeySpec != info.Spec {
		return fmt.Errorf("the KMS key %s is %s, but the source is an %s key: wrong source key, or wrong parameters directory", m.KeyARN, m.KeySpec, info.Spec)
	}
	if r := m.Source; r != nil {
		if r.Fingerprint != "" && info.Fingerprint != "" && r.Fingerprint != info.Fingerprint {
			return fmt.Errorf("the source is not the key recorded by byok params: its fingerprint is %s, byok params recorded %s (%s): wrong source key, or wrong parameters directory", info.Fingerprint, r.Fingerprint, r.Label)
		}
		if r.PublicKey != nil && info.PublicKeyDER != nil && !bytes.Equal(r.PublicKey, info.PublicKeyDER) {
			return fmt.Errorf("the source's public key differs from the one recorded by byok params (%s): wrong source key, or wrong parameters directory", r.Label)
		}
		if r.KeySpec != "" && r.KeySpec != info.Spec {
			return fmt.Errorf("byok params recorded an %s source key (%s), but this source is %s", r.KeySpec, r.Label, info.Spec)
		}
	}
	if err := byok.CheckCompatible(info.Spec, m.Algorithm, m.WrappingKeySpec); err != nil {
		fix := ""
		if c, cerr := byok.ChooseWrapping(info.Spec, nil); cerr == nil {
			fix = fmt.Sprintf(": fetch new parameters for this key, e.g. byok params --algorithm %s", c.Algorithm)
		}
		return fmt.Errorf("the parameters are for %s under an %s wrapping key, which cannot carry this %s key%s: %w", m.Algorithm, m.WrappingKeySpec, info.Spec, fix, err)
	}
	if l, ok := src.(byok.AlgorithmLister); ok {
		can, err := l.WrappingAlgorithms(ctx)
		if err != nil {
			return fmt.Errorf("asking the source which wrapping algorithms it can perform: %w", err)
		}
		if !slices.Contains(can, m.Algorithm) {
			hint := ""
			if c, cerr := byok.ChooseWrapping(info.Spec, can); cerr == nil {
				hint = fmt.Sprintf("; fetch new parameters with byok params --algorithm %s", c.Algorithm)
			}
			return fmt.Errorf("the source cannot perform %s (it can: %v)%s", m.Algorithm, can, hint)
		}
	}
	return nil
}
