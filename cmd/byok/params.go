package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	"github.com/byok-go/byok"
	"github.com/byok-go/byok/driver"
	"github.com/byok-go/byok/internal/offline"
	"github.com/byok-go/byok/internal/params"
)

const paramsUsage = `Usage: byok params --out DIR [flags] [SOURCE]
       byok params --console-zip ImportParameters.zip --out DIR [--algorithm ALG] [SOURCE]

Step 1 of the offline import, on a host with AWS access: creates the KMS key
(Origin EXTERNAL) or finds it (--key-id), calls GetParametersForImport and
writes into DIR:

  WrappingPublicKey.bin   the wrapping public key (DER), as the console's zip has it
  ImportToken.bin         the import token
  byok-params.json        the key ARN, key spec and usage, algorithm, wrapping
                          key spec, when the parameters expire (24 hours), and
                          the source's fingerprint and public key when known

Carry DIR to the HSM host and run byok wrap there. The key spec comes from
the SOURCE when it is reachable here, else from --public-key (the source's
public key, for RSA and EC keys), --key-spec, or the existing --key-id.

With --console-zip, byok makes no AWS call: it reads the ImportParameters.zip
the KMS console downloads ("Download wrapping public key and import token")
and writes the same directory. The console's README usually names the
wrapping algorithm; if not, pass --algorithm (the one you chose there).

` + sourceHelp + `

Examples:
  byok params --out params/ --key-spec ECC_NIST_P256 --alias payments-signing
  byok params --out params/ --public-key signing-key.pub.pem --tag team=payments
  byok params --out params/ --key-id arn:aws:kms:eu-west-1:111122223333:key/1234abcd-…
  byok params --out params/ --key-spec RSA_2048 --algorithm RSA_AES_KEY_WRAP_SHA_1
      # (for an HSM without SHA-256 OAEP)
  byok params --console-zip ~/Downloads/ImportParameters.zip --out params/`

// paramsOutput is what `byok params --json` prints.
type paramsOutput struct {
	OK      bool             `json:"ok"`
	Dir     string           `json:"dir"`
	Meta    *params.Metadata `json:"parameters,omitempty"`
	LeftKey *leftKey         `json:"-"` // in Error
	Error   *errorOut        `json:"error,omitempty"`
}

func runParams(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("params", paramsUsage, stderr)
	var sf sourceFlags
	var af awsFlags
	var wf wrappingFlags
	var nk newKeyFlags
	sf.register(fs)
	af.register(fs)
	wf.register(fs)
	out := fs.String("out", "", "write the parameters into `DIR` (created, mode 0700)")
	zipFile := fs.String("console-zip", "", "read the KMS console's ImportParameters.zip `FILE` instead of calling AWS")
	pubFile := fs.String("public-key", "", "the source's public key `FILE` (PEM or DER, as openssl pkey -pubout writes it): gives the key spec and is recorded for byok wrap to check")
	keyID := fs.String("key-id", "", "use this existing KMS key (`ID`, ARN or alias/NAME) instead of creating one")
	nk.register(fs)
	force := fs.Bool("force", false, "replace parameters already in --out")
	cleanup := fs.Bool("cleanup-on-failure", false, "if byok params fails after creating the KMS key, schedule that key's deletion with the shortest waiting period KMS allows (7 days; cancellable until then)")
	asJSON := fs.Bool("json", false, "print the result as JSON on stdout")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if err := sf.setPositional(pos, false); err != nil {
		return err
	}
	if *out == "" {
		return fmt.Errorf("%w: --out DIR is required: the directory to write the parameters into", errUsage)
	}
	if *keyID != "" && nk.set() {
		return fmt.Errorf("%w: --alias, --description, --tag, --policy and --multi-region are for a new key; with --key-id the key exists already", errUsage)
	}
	if *zipFile != "" && (*keyID != "" || nk.set() || wf.wrappingKeySpec != "") {
		return fmt.Errorf("%w: with --console-zip the key and the parameters exist already: --key-id, --alias, --description, --tag, --policy, --multi-region and --wrapping-key-spec do not apply", errUsage)
	}
	if sf.source != "" && *pubFile != "" {
		return fmt.Errorf("%w: give the SOURCE or --public-key, not both", errUsage)
	}
	im, err := wf.importer()
	if err != nil {
		return err
	}
	if err := sf.validate(); err != nil {
		return err
	}
	if err := af.validate(); err != nil {
		return err
	}
	policy, err := nk.policy()
	if err != nil {
		return err
	}
	p := progress{stderr, *asJSON}
	res := paramsOutput{Dir: *out}
	undoDir := func() {}
	fail := func(err error) error {
		undoDir()
		res.Error = newErrorOut(err, "", res.LeftKey)
		if *asJSON {
			writeJSON(stdout, res)
		}
		return err
	}

	info, src, known, openErr, err := paramsSource(ctx, &sf, *pubFile, p, stderr)
	if src != nil {
		defer src.Close()
	}
	if openErr != nil {
		return fail(openErr)
	}
	if err != nil {
		return err
	}
	if *zipFile == "" && info.Spec == "" && *keyID == "" {
		return fmt.Errorf("%w: say which key: give the SOURCE, --public-key FILE, --key-spec SPEC (with --usage if not the usual one) or --key-id of an existing key", errUsage)
	}
	// Check, then create: the directory must take the files before a KMS
	// key is made for them.
	if undoDir, err = probeOutDir(*out, *force); err != nil {
		return fail(err)
	}
	set, err := offline.Params(ctx, offline.ParamsInput{
		Dir: *out, Force: *force,
		ConsoleZip: *zipFile, Algorithm: im.Algorithm,
		Info: info, SpecGiven: sf.keySpec != "", Known: known, Source: byokSource(src),
		KeyID:    *keyID,
		NewKey:   offline.NewKey{Alias: nk.alias, Description: nk.description, Tags: nk.tags, Policy: policy, MultiRegion: nk.multiRegion},
		Importer: im,
		Client: func(ctx context.Context, keyID string) (byok.KMSAPI, string, error) {
			client, region, err := af.client(ctx, keyID)
			if err != nil {
				return nil, "", err
			}
			return &progressClient{KMSAPI: client, p: p, region: region}, region, nil
		},
		Check: hsmExtractable,
		Left: func(ctx context.Context, err error, t *byok.KMS, arn, region string, created bool) error {
			again := "byok params --out " + shellQuote(*out)
			if *force { // --out may hold the parameters --force was to replace
				again += " --force"
			}
			err, res.LeftKey = afterFailure(ctx, err, t, arn, region, created, false, *cleanup, again)
			return err
		},
		Hooks: p.hooks("params"),
	})
	if err != nil {
		return fail(err)
	}
	res.OK, res.Meta = true, &set.Meta
	if *asJSON {
		return writeJSON(stdout, res)
	}
	printParams(stdout, *out, &set.Meta)
	next := "SOURCE"
	if sf.source != "" {
		next = sf.sourceArgs()
	}
	fmt.Fprintf(stdout, "\nNext, on the host with the key (no AWS access needed):\n  byok wrap --params %s %s\n", shellQuote(*out), next)
	return nil
}

func printParams(w io.Writer, dir string, m *params.Metadata) {
	s := newSummary(w)
	created := ""
	if m.CreatedKey {
		created = "\n(created now: Origin EXTERNAL, PendingImport)"
	}
	s.row("KMS key", "%s%s", m.KeyARN, created)
	s.row("key spec", "%s", orUnknown(string(m.KeySpec)))
	s.row("key usage", "%s", orUnknown(string(m.KeyUsage)))
	s.row("algorithm", "%s", m.Algorithm)
	s.row("wrapping key", "%s", m.WrappingKeySpec)
	if m.ValidTo != nil {
		s.row("valid until", "%s (%s from now)", fmtTime(*m.ValidTo), time.Until(*m.ValidTo).Round(time.Minute))
	} else {
		s.row("valid until", "unknown (%s): 24 hours after the download", m.From)
	}
	if m.Source != nil {
		s.row("source", "%s %s", m.Source.KeySpec, m.Source.Fingerprint)
	} else {
		s.row("source", "not recorded (byok wrap checks the key spec only)")
	}
	s.row("files", "%s", strings.Join([]string{
		filepath.Join(dir, params.WrappingKeyFile),
		filepath.Join(dir, params.ImportTokenFile),
		filepath.Join(dir, params.MetadataFile)}, "\n"))
	s.flush()
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

// paramsSource is what byok params knows of the source key: from the
// SOURCE (opened here; the caller closes src), --public-key or --key-spec,
// and known, the source as the parameters record it for byok wrap to
// check. openErr is a failure to open or describe the SOURCE (reported in
// the command's JSON); err a mistake on the command line.
func paramsSource(ctx context.Context, sf *sourceFlags, pubFile string, p progress, stderr io.Writer) (info byok.KeyInfo, src driver.Source, known *params.Source, openErr, err error) {
	switch {
	case sf.source != "":
		p.say("opening %s…", sf.label())
		if src, openErr = sf.open(ctx, stderr); openErr != nil {
			return info, nil, nil, openErr, nil
		}
		if info, openErr = src.Describe(ctx); openErr != nil {
			return info, src, nil, openErr, nil
		}
	case pubFile != "":
		der, spec, fp, err := readPublicKey(pubFile)
		if err != nil {
			return info, nil, nil, nil, err
		}
		if sf.keySpec != "" && byok.KeySpec(sf.keySpec) != spec {
			return info, nil, nil, nil, fmt.Errorf("%w: --key-spec %s, but --public-key %s is an %s key", errUsage, sf.keySpec, pubFile, spec)
		}
		info = byok.KeyInfo{Spec: spec, Usage: byok.KeyUsage(sf.usage), PublicKeyDER: der, Fingerprint: fp, Label: pubFile}
	case sf.keySpec != "":
		info = byok.KeyInfo{Spec: byok.KeySpec(sf.keySpec), Usage: byok.KeyUsage(sf.usage)}
	}
	if info.Spec != "" {
		if info.Usage != "" && !info.Spec.AllowsUsage(info.Usage) {
			return info, src, nil, nil, fmt.Errorf("%w: --usage %s is not valid for %s; KMS allows %s", errUsage, info.Usage, info.Spec, usagesOf(info.Spec))
		}
		if info.Fingerprint != "" || info.PublicKeyDER != nil {
			known = &params.Source{Label: info.Label, KeySpec: info.Spec, Fingerprint: info.Fingerprint, PublicKey: info.PublicKeyDER}
		}
	}
	return info, src, known, nil, nil
}

// byokSource is src as a byok.KeySource: nil when there is none (a nil
// driver.Source in the interface would not be nil).
func byokSource(src driver.Source) byok.KeySource {
	if src == nil {
		return nil
	}
	return src
}
