package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/byok-go/byok"
	"github.com/byok-go/byok/internal/offline"
	"github.com/byok-go/byok/internal/params"
)

const wrapUsage = `Usage: byok wrap --params DIR|ZIP [flags] SOURCE

Step 2 of the offline import, on the HSM host (no AWS access needed, and no
AWS call is made): wraps the source key under the wrapping public key of the
parameters and writes EncryptedKeyMaterial.bin into the parameters directory
(or --out). For HSM sources the key is wrapped inside the HSM.

It refuses expired parameters, a key whose spec differs from the KMS key's,
a wrapping algorithm AWS does not allow for the key, and a source that is not
the key recorded by byok params (fingerprint or public key).

--params also takes the console's ImportParameters.zip directly (then --out
DIR is needed, and it receives the whole parameters directory).

` + sourceHelp + `

Examples:
  byok wrap --params params/ signing-key.pem
  byok wrap --params params/ aes.hex        # a raw key: the key spec comes from the parameters
  byok wrap --params params/ 'pkcs11:token=prod;object=signing-key' --driver cloudhsm \
    --module /opt/cloudhsm/lib/libcloudhsm_pkcs11.so --pin-file /root/hsm-pin
  byok wrap --params ~/Downloads/ImportParameters.zip --out params/ aes.hex \
    --key-spec SYMMETRIC_DEFAULT`

// wrapOutput is what `byok wrap --json` prints.
type wrapOutput struct {
	OK           bool                   `json:"ok"`
	Dir          string                 `json:"dir"`
	File         string                 `json:"encrypted_key_material,omitempty"`
	Bytes        int                    `json:"bytes,omitempty"`
	KeyARN       string                 `json:"key_arn,omitempty"`
	Source       *sourceOut             `json:"source,omitempty"`
	Algorithm    byok.WrappingAlgorithm `json:"wrapping_algorithm,omitempty"`
	WrappingSpec byok.WrappingKeySpec   `json:"wrapping_key_spec,omitempty"`
	ValidTo      *time.Time             `json:"parameters_valid_to,omitempty"`
	Warnings     []string               `json:"warnings,omitempty"`
	Error        *errorOut              `json:"error,omitempty"`
}

func runWrap(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("wrap", wrapUsage, stderr)
	var sf sourceFlags
	sf.register(fs)
	paramsPath := fs.String("params", "", "the parameters directory byok params wrote, or the console's ImportParameters.zip (`DIR|ZIP`)")
	out := fs.String("out", "", "write into `DIR` (default: the parameters directory; required for a zip)")
	algorithm := fs.String("algorithm", "", "console zip only: the wrapping algorithm chosen when downloading, if its README does not name it")
	force := fs.Bool("force", false, "replace an existing EncryptedKeyMaterial.bin")
	asJSON := fs.Bool("json", false, "print the result as JSON on stdout")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if err := sf.setPositional(pos, true); err != nil {
		return err
	}
	if *paramsPath == "" {
		return fmt.Errorf("%w: --params DIR|ZIP is required: the directory byok params wrote, or the console's ImportParameters.zip", errUsage)
	}
	var alg byok.WrappingAlgorithm
	if *algorithm != "" {
		if alg, err = byok.ParseWrappingAlgorithm(*algorithm); err != nil {
			return fmt.Errorf("%w: --algorithm: %v", errUsage, err)
		}
	}
	if err := sf.validate(); err != nil {
		return err
	}
	res := wrapOutput{}
	fail := func(err error) error {
		res.Error = newErrorOut(err, res.KeyARN, nil)
		if *asJSON {
			writeJSON(stdout, res)
		}
		return err
	}
	p := progress{stderr, *asJSON}
	warn := func(format string, a ...any) {
		msg := fmt.Sprintf(format, a...)
		res.Warnings = append(res.Warnings, msg)
		fmt.Fprintf(stderr, "byok wrap: warning: %s\n", msg)
	}

	var set *params.Set
	// writeSet: the whole parameters set is written to dir (from a zip, or
	// into another directory), not only the encrypted key material.
	writeSet := params.IsZip(*paramsPath)
	dir := *out
	if writeSet {
		if dir == "" {
			return fmt.Errorf("%w: --out DIR is required with a console zip: byok writes the parameters and EncryptedKeyMaterial.bin there", errUsage)
		}
		if set, err = offline.ReadConsoleZip(*paramsPath, alg); err != nil {
			return fail(err)
		}
	} else {
		if set, err = params.ReadDir(*paramsPath); err != nil {
			return fail(err)
		}
		if alg != "" && alg != set.Meta.Algorithm {
			return fail(fmt.Errorf("%w: --algorithm %s, but the parameters were fetched for %s (the wrapping algorithm is fixed by GetParametersForImport): leave out --algorithm, or fetch new parameters with byok params --algorithm %s", errUsage, alg, set.Meta.Algorithm, alg))
		}
		if dir == "" {
			dir = *paramsPath
		} else if filepath.Clean(dir) != filepath.Clean(*paramsPath) {
			writeSet = true
		}
	}
	if writeSet && !*force {
		if _, err := os.Stat(filepath.Join(dir, params.MetadataFile)); err == nil {
			return fail(fmt.Errorf("%s already holds import parameters; use another --out, or --force to replace them", dir))
		}
	}
	res.Dir, res.KeyARN, res.Algorithm, res.WrappingSpec, res.ValidTo = dir, set.Meta.KeyARN, set.Meta.Algorithm, set.Meta.WrappingKeySpec, set.Meta.ValidTo
	now := time.Now()
	switch {
	case set.Expired(now):
		return fail(fmt.Errorf("the import parameters expired at %s (they last 24 hours): run byok params again on the online host, then wrap with the new directory", fmtTime(*set.Meta.ValidTo)))
	case set.Meta.ValidTo == nil:
		warn("the parameters do not say when they expire (%s); they last 24 hours after the download", set.Meta.From)
	case set.Meta.ValidTo.Sub(now) < time.Hour:
		warn("the parameters expire in %s, at %s: upload before then", set.Meta.ValidTo.Sub(now).Round(time.Minute), fmtTime(*set.Meta.ValidTo))
	}
	if !writeSet && set.Encrypted != nil && !*force {
		from := ""
		if set.Meta.Wrapped != nil {
			from = fmt.Sprintf(" (wrapped from %s at %s)", set.Meta.Wrapped.Source.Label, fmtTime(set.Meta.Wrapped.At))
		}
		return fail(fmt.Errorf("%s already holds %s%s; pass --force to wrap again and replace it", dir, params.EncryptedKeyMaterialFile, from))
	}

	sf.inferKeySpec(set.Meta.KeySpec)
	p.say("opening %s…", sf.label())
	src, err := sf.open(ctx, stderr)
	if err != nil {
		return fail(err)
	}
	defer src.Close()
	info, err := src.Describe(ctx)
	if err != nil {
		return fail(err)
	}
	if set.Meta.KeyUsage != "" {
		info.Usage = set.Meta.KeyUsage
	}
	so := newSourceOut(&sf, info)
	res.Source = &so
	if err := checkWrapSource(ctx, set, info, src); err != nil {
		return fail(err)
	}
	p.say("wrapping the key material with %s under the %s wrapping key…", set.Meta.Algorithm, set.Meta.WrappingKeySpec)
	wrapped, err := src.Wrap(ctx, set.ImportParameters())
	if err != nil {
		return fail(fmt.Errorf("wrapping %s: %w", sf.shown(), err))
	}
	if writeSet {
		if err := params.Write(dir, set, *force); err != nil {
			return fail(err)
		}
	}
	rec := params.Source{Label: sf.shown(), KeySpec: info.Spec, Fingerprint: info.Fingerprint, PublicKey: info.PublicKeyDER}
	if err := params.WriteWrapped(dir, set, wrapped, rec, now); err != nil {
		return fail(err)
	}
	res.OK, res.File, res.Bytes = true, filepath.Join(dir, params.EncryptedKeyMaterialFile), len(wrapped)
	if *asJSON {
		return writeJSON(stdout, res)
	}
	s := newSummary(stdout)
	s.row("wrote", "%s (%d bytes)", res.File, len(wrapped))
	s.row("KMS key", "%s", set.Meta.KeyARN)
	s.row("source", "%s\n%s %s", sf.label(), info.Spec, info.Fingerprint)
	s.row("wrapping", "%s under an %s wrapping key", set.Meta.Algorithm, set.Meta.WrappingKeySpec)
	if set.Meta.ValidTo != nil {
		s.row("upload before", "%s", fmtTime(*set.Meta.ValidTo))
	}
	s.flush()
	fmt.Fprintf(stdout, "\n%s  byok upload --params %s %s\n",
		wrapText(fmt.Sprintf("Next, on a host with AWS access, carry %s there and run (--source proves the import; without it, prove it later with byok verify):", dir), "", lineWidth),
		shellQuote(dir), sf.sourceArgs())
	fmt.Fprintf(stdout, "or with the AWS CLI:\n  aws kms import-key-material \\\n    --key-id %s \\\n    --encrypted-key-material fileb://%s \\\n    --import-token fileb://%s \\\n    --expiration-model KEY_MATERIAL_DOES_NOT_EXPIRE\n",
		set.Meta.KeyARN, filepath.Join(dir, params.EncryptedKeyMaterialFile), filepath.Join(dir, params.ImportTokenFile))
	return nil
}

// checkWrapSource refuses to wrap a source the parameters do not fit.
func checkWrapSource(ctx context.Context, set *params.Set, info byok.KeyInfo, src byok.KeySource) error {
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
