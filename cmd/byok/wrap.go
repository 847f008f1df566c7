package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"github.com/byok-go/byok"
	"github.com/byok-go/byok/driver"
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

For Azure Key Vault's .byok transfer file, see byok wrap --for azure --help.

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
	if to, rest, err := cutTarget(args, "for"); err != nil {
		return err
	} else if to == "azure" {
		return runWrapAzure(ctx, rest, stdout, stderr)
	} else {
		args = rest
	}
	fs := newFlagSet("wrap", wrapUsage, stderr)
	var sf sourceFlags
	sf.register(fs)
	paramsPath := fs.String("params", "", "the parameters directory byok params wrote, or the console's ImportParameters.zip (`DIR|ZIP`)")
	out := fs.String("out", "", "write into `DIR` (default: the parameters directory; required for a zip)")
	algorithm := fs.String("algorithm", "", "console zip only: the wrapping algorithm chosen when downloading, if its README does not name it")
	force := fs.Bool("force", false, "replace an existing EncryptedKeyMaterial.bin")
	asJSON := fs.Bool("json", false, "print the result as JSON on stdout")
	if err := sf.parse(fs, args); err != nil {
		return err
	}
	if *paramsPath == "" {
		return fmt.Errorf("%w: --params DIR|ZIP is required: the directory byok params wrote, or the console's ImportParameters.zip", errUsage)
	}
	var alg byok.WrappingAlgorithm
	if *algorithm != "" {
		var err error
		if alg, err = byok.ParseWrappingAlgorithm(*algorithm); err != nil {
			return fmt.Errorf("%w: --algorithm: %v", errUsage, err)
		}
	}
	if err := sf.validate(); err != nil {
		return err
	}
	if params.IsZip(*paramsPath) && *out == "" {
		return fmt.Errorf("%w: --out DIR is required with a console zip: byok writes the parameters and EncryptedKeyMaterial.bin there", errUsage)
	}
	var res wrapOutput
	p := progress{stderr, *asJSON}
	hooks := p.hooks("wrap")
	warn := hooks.Warn
	hooks.Warn = func(msg string) {
		res.Warnings = append(res.Warnings, msg)
		warn(msg)
	}
	r, err := offline.Wrap(ctx, offline.WrapInput{
		Params: *paramsPath, Out: *out, Algorithm: alg, Force: *force,
		Open: func(ctx context.Context, spec byok.KeySpec) (driver.Source, error) {
			sf.inferKeySpec(spec)
			p.say("opening %s…", sf.label())
			return sf.open(ctx, stderr)
		},
		Label: sf.shown(),
		Hooks: hooks,
	})
	if set := r.Set; set != nil {
		res.Dir, res.KeyARN, res.Algorithm, res.WrappingSpec, res.ValidTo = r.Dir, set.Meta.KeyARN, set.Meta.Algorithm, set.Meta.WrappingKeySpec, set.Meta.ValidTo
	}
	if r.Info != nil {
		so := newSourceOut(&sf, *r.Info)
		res.Source = &so
	}
	if err != nil {
		res.Error = newErrorOut(err, res.KeyARN, nil)
		if *asJSON {
			writeJSON(stdout, res)
		}
		return err
	}
	res.OK, res.File, res.Bytes = true, r.File, r.Bytes
	if *asJSON {
		return writeJSON(stdout, res)
	}
	printWrap(stdout, r, sf.label(), sf.sourceArgs())
	return nil
}

// printWrap prints what byok wrap wrote and the next step; label names the
// source, args are its arguments for byok upload.
func printWrap(stdout io.Writer, r *offline.WrapResult, label, args string) {
	set, info, dir := r.Set, r.Info, r.Dir
	s := newSummary(stdout)
	s.row("wrote", "%s (%d bytes)", r.File, r.Bytes)
	s.row("KMS key", "%s", set.Meta.KeyARN)
	s.row("source", "%s\n%s %s", label, info.Spec, info.Fingerprint)
	s.row("wrapping", "%s under an %s wrapping key", set.Meta.Algorithm, set.Meta.WrappingKeySpec)
	if set.Meta.ValidTo != nil {
		s.row("upload before", "%s", fmtTime(*set.Meta.ValidTo))
	}
	s.flush()
	fmt.Fprintf(stdout, "\n%s  byok upload --params %s %s\n",
		wrapText(fmt.Sprintf("Next, on a host with AWS access, carry %s there and run (--source proves the import; without it, prove it later with byok verify):", dir), "", lineWidth),
		shellQuote(dir), args)
	fmt.Fprintf(stdout, "or with the AWS CLI:\n  aws kms import-key-material \\\n    --key-id %s \\\n    --encrypted-key-material fileb://%s \\\n    --import-token fileb://%s \\\n    --expiration-model KEY_MATERIAL_DOES_NOT_EXPIRE\n",
		set.Meta.KeyARN, filepath.Join(dir, params.EncryptedKeyMaterialFile), filepath.Join(dir, params.ImportTokenFile))
}
