package main

import (
	"bytes"
	"context"
	"crypto/x509"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/byok-go/byok"
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

const uploadUsage = `Usage: byok upload --params DIR [flags] [--source SOURCE]

Step 3 of the offline import, on a host with AWS access: imports
EncryptedKeyMaterial.bin with ImportToken.bin into the KMS key the
parameters name (ImportKeyMaterial), then, if the source is given, proves
that KMS holds the source key as byok verify does (the material was wrapped
elsewhere, so KMS accepting it proves only that it holds what
EncryptedKeyMaterial.bin held): for SYMMETRIC_DEFAULT keys by importing the
source's material again (one more GetParametersForImport and
ImportKeyMaterial, expiration unchanged; --no-reimport declines, leaving the
verdict UNPROVEN, exit 4). Without --source it compares the public key of an
RSA or EC key with the one recorded by byok wrap and says how to run the full
proof (byok verify).

The AWS CLI can upload the same files instead:
  aws kms import-key-material --key-id ARN \
    --encrypted-key-material fileb://DIR/EncryptedKeyMaterial.bin \
    --import-token fileb://DIR/ImportToken.bin \
    --expiration-model KEY_MATERIAL_DOES_NOT_EXPIRE

Examples:
  byok upload --params params/
  byok upload --params params/ --source signing-key.pem
  byok upload --params params/ --valid-to +365d --json`

// paramsOutput is what `byok params --json` prints.
type paramsOutput struct {
	OK      bool             `json:"ok"`
	Dir     string           `json:"dir"`
	Meta    *params.Metadata `json:"parameters,omitempty"`
	LeftKey *leftKey         `json:"left_key,omitempty"`
	Error   string           `json:"error,omitempty"`
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
		res.Error = err.Error()
		if *asJSON {
			writeJSON(stdout, res)
		}
		return err
	}

	// What is known of the source key.
	var info byok.KeyInfo
	var known *params.Source
	var src byok.KeySource
	switch {
	case sf.source != "":
		p.say("opening %s…", sf.label())
		s, err := sf.open(ctx, stderr)
		if err != nil {
			return fail(err)
		}
		defer s.Close()
		src = s
		if info, err = s.Describe(ctx); err != nil {
			return fail(err)
		}
	case *pubFile != "":
		der, spec, fp, err := readPublicKey(*pubFile)
		if err != nil {
			return err
		}
		if sf.keySpec != "" && byok.KeySpec(sf.keySpec) != spec {
			return fmt.Errorf("%w: --key-spec %s, but --public-key %s is an %s key", errUsage, sf.keySpec, *pubFile, spec)
		}
		info = byok.KeyInfo{Spec: spec, Usage: byok.KeyUsage(sf.usage), PublicKeyDER: der, Fingerprint: fp, Label: *pubFile}
	case sf.keySpec != "":
		info = byok.KeyInfo{Spec: byok.KeySpec(sf.keySpec), Usage: byok.KeyUsage(sf.usage)}
	}
	if info.Spec != "" {
		if info.Usage != "" && !info.Spec.AllowsUsage(info.Usage) {
			return fmt.Errorf("%w: --usage %s is not valid for %s; KMS allows %s", errUsage, info.Usage, info.Spec, usagesOf(info.Spec))
		}
		if info.Fingerprint != "" || info.PublicKeyDER != nil {
			known = &params.Source{Label: info.Label, KeySpec: info.Spec, Fingerprint: info.Fingerprint, PublicKey: info.PublicKeyDER}
		}
	}

	if *zipFile == "" && info.Spec == "" && *keyID == "" {
		return fmt.Errorf("%w: say which key: give the SOURCE, --public-key FILE, --key-spec SPEC (with --usage if not the usual one) or --key-id of an existing key", errUsage)
	}
	// Check, then create: the directory must take the files before a KMS
	// key is made for them.
	if undoDir, err = probeOutDir(*out, *force); err != nil {
		return fail(err)
	}
	var set *params.Set
	writeFailed := func(err error) error { return err }
	if *zipFile != "" {
		set, err = readZip(*zipFile, im.Algorithm)
		if err != nil {
			return fail(err)
		}
		if info.Spec != "" {
			if err := byok.CheckCompatible(info.Spec, set.Meta.Algorithm, set.Meta.WrappingKeySpec); err != nil {
				return fail(fmt.Errorf("the console's parameters cannot carry this key: %w", err))
			}
			if sf.keySpec != "" {
				set.Meta.KeySpec = info.Spec
				set.Meta.KeyUsage = effectiveUsage(info)
			}
		}
		set.Meta.Source = known
		set.Meta.Written = time.Now().UTC().Truncate(time.Second)
	} else {
		client, region, err := af.client(ctx, *keyID)
		if err != nil {
			return fail(err)
		}
		if info.Spec == "" {
			p.say("describing KMS key %s…", *keyID)
			d, err := client.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(*keyID)})
			if err != nil {
				return fail(withHint(fmt.Errorf("DescribeKey %s: %w", *keyID, err)))
			}
			info = byok.KeyInfo{Spec: byok.KeySpec(d.KeyMetadata.KeySpec), Usage: byok.KeyUsage(d.KeyMetadata.KeyUsage)}
			if err := info.Spec.Validate(); err != nil {
				return fail(fmt.Errorf("%s: %w", *keyID, err))
			}
		}
		if src == nil {
			src = specSource{info}
		}
		if err := checkForcedWrapping(ctx, src, im); err != nil {
			return fail(err)
		}
		info, choice, err := im.Plan(ctx, src)
		if err != nil {
			return fail(err)
		}
		if err := hsmExtractable(src); err != nil {
			return fail(err)
		}
		if choice.Fallback {
			fmt.Fprintf(stderr, "byok params: warning: %s\n", choice.Reason)
		}
		target := &byok.KMS{Client: &progressClient{KMSAPI: client, p: p, region: region}, KeyID: *keyID, Alias: nk.alias, Description: nk.description, Tags: nk.tags, Policy: policy, MultiRegion: nk.multiRegion}
		created, reused := *keyID == "", false
		if created && nk.alias != "" {
			p.say("checking alias %s…", byok.AliasName(nk.alias))
			arn, err := target.CheckAlias(ctx, info)
			if err != nil {
				return fail(withHint(err))
			}
			if arn != "" {
				fmt.Fprintf(stderr, "byok params: %s already names %s, an Origin EXTERNAL %s %s key in state PendingImport (left by an interrupted run): fetching parameters for it; no new key is created\n",
					byok.AliasName(nk.alias), arn, info.Spec, effectiveUsage(info))
				target.KeyID, target.Alias, created, reused = arn, "", false, true
			}
		}
		// left names the key this run created (or reused) when a later step
		// fails, and with --cleanup-on-failure schedules its deletion.
		left := func(err error, arn string) error {
			if arn == "" || (!created && !reused) {
				return err
			}
			again := "byok params --out " + shellQuote(*out)
			if *force { // --out may hold the parameters --force was to replace
				again += " --force"
			}
			err, res.LeftKey = afterFailure(ctx, err, target, arn, region, created, false, *cleanup, again)
			return err
		}
		ip, err := target.Prepare(ctx, info, choice.Algorithm, choice.WrappingKeySpec)
		if err != nil {
			return fail(left(withHint(err), ip.KeyID))
		}
		der, err := x509.MarshalPKIXPublicKey(ip.WrappingKey)
		if err != nil {
			return fail(left(err, ip.KeyID))
		}
		set = params.New(ip, der, info.Spec, effectiveUsage(info), time.Now())
		set.Meta.CreatedKey = created
		writeFailed = func(err error) error { return left(err, ip.KeyID) }
		set.Meta.Source = known
		if set.Meta.Region == "" {
			set.Meta.Region = region
		}
	}
	if err := params.Write(*out, set, *force); err != nil {
		return fail(writeFailed(err))
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

func readZip(name string, alg byok.WrappingAlgorithm) (*params.Set, error) {
	set, err := params.ReadConsoleZipFile(name, alg)
	if err != nil {
		return nil, err
	}
	if set.Meta.Algorithm == "" {
		return nil, fmt.Errorf("%w: the console zip's README does not name the wrapping algorithm: pass --algorithm, the one chosen when downloading (RSAES_OAEP_SHA_256, RSA_AES_KEY_WRAP_SHA_256, RSAES_OAEP_SHA_1 or RSA_AES_KEY_WRAP_SHA_1)", errUsage)
	}
	return set, nil
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
	Error        string                 `json:"error,omitempty"`
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
		res.Error = err.Error()
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
		if set, err = readZip(*paramsPath, alg); err != nil {
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
	fmt.Fprintf(stdout, "\nNext, on a host with AWS access, carry %s there and run (--source proves the import;\nwithout it, prove it later with byok verify):\n  byok upload --params %s %s\n", dir, shellQuote(dir), sf.sourceArgs())
	fmt.Fprintf(stdout, "or with the AWS CLI:\n  aws kms import-key-material --key-id %s \\\n    --encrypted-key-material fileb://%s \\\n    --import-token fileb://%s \\\n    --expiration-model KEY_MATERIAL_DOES_NOT_EXPIRE\n",
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

// uploadOutput is what `byok upload --json` prints.
type uploadOutput struct {
	OK                  bool             `json:"ok"`
	KeyARN              string           `json:"key_arn,omitempty"`
	Region              string           `json:"region,omitempty"`
	ExpirationModel     string           `json:"expiration_model,omitempty"`
	ValidTo             *time.Time       `json:"valid_to,omitempty"`
	KeyMaterialID       string           `json:"key_material_id,omitempty"`
	Source              *sourceOut       `json:"source,omitempty"`
	Verification        *verificationOut `json:"verification"`
	VerificationSkipped bool             `json:"verification_skipped,omitempty"`
	PublicKeyChecked    *bool            `json:"public_key_matches_wrapped_source,omitempty"`
	VerifyCommand       string           `json:"verify_command,omitempty"`
	Error               string           `json:"error,omitempty"`
}

func runUpload(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("upload", uploadUsage, stderr)
	var sf sourceFlags
	var af awsFlags
	var ef expiryFlags
	sf.register(fs)
	af.register(fs)
	ef.register(fs)
	paramsDir := fs.String("params", "", "the parameters `DIR`, after byok wrap")
	importType := fs.String("import-type", "", "the import `TYPE` for SYMMETRIC_DEFAULT keys: NEW_KEY_MATERIAL (other material, for on-demand rotation) or EXISTING_KEY_MATERIAL (the same material again)")
	noReimport := fs.Bool("no-reimport", false, "skip the re-import proof (SYMMETRIC_DEFAULT keys): the verdict is then UNPROVEN, exit 4")
	asJSON := fs.Bool("json", false, "print the result as JSON on stdout")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if err := noArgs(pos); err != nil {
		return fmt.Errorf("%w (give the source as --source SOURCE)", err)
	}
	if *paramsDir == "" {
		return fmt.Errorf("%w: --params DIR is required: the directory byok params wrote and byok wrap filled", errUsage)
	}
	switch *importType {
	case "", "NEW_KEY_MATERIAL", "EXISTING_KEY_MATERIAL":
	default:
		return fmt.Errorf("%w: --import-type %q: want NEW_KEY_MATERIAL or EXISTING_KEY_MATERIAL", errUsage, *importType)
	}
	validTo, err := ef.resolve(time.Now())
	if err != nil {
		return err
	}
	if err := sf.validate(); err != nil {
		return err
	}
	if err := af.validate(); err != nil {
		return err
	}
	res := uploadOutput{ExpirationModel: expirationModel(validTo)}
	if !validTo.IsZero() {
		res.ValidTo = &validTo
	}
	fail := func(err error) error {
		res.Error = err.Error()
		if *asJSON {
			writeJSON(stdout, res)
		}
		return err
	}
	p := progress{stderr, *asJSON}
	if params.IsZip(*paramsDir) {
		return fmt.Errorf("%w: --params %s is a zip: run byok wrap --params %s --out DIR first, then upload DIR", errUsage, *paramsDir, *paramsDir)
	}
	set, err := params.ReadDir(*paramsDir)
	if err != nil {
		return fail(err)
	}
	res.KeyARN = set.Meta.KeyARN
	if set.Encrypted == nil {
		return fail(fmt.Errorf("%s has no %s: run byok wrap --params %s SOURCE first (on the host with the key)", *paramsDir, params.EncryptedKeyMaterialFile, *paramsDir))
	}
	if set.Expired(time.Now()) {
		return fail(fmt.Errorf("the import parameters expired at %s (they last 24 hours): ImportKeyMaterial would fail; run byok params again, then byok wrap and byok upload", fmtTime(*set.Meta.ValidTo)))
	}
	if n, want := len(set.Encrypted), set.WrappingKey.Size(); (!set.Meta.Algorithm.IsKeyWrap() && n != want) || (set.Meta.Algorithm.IsKeyWrap() && n < want+16) {
		return fail(fmt.Errorf("%s is %d bytes, which %s under an %s wrapping key cannot produce: it was not wrapped with these parameters; run byok wrap again", params.EncryptedKeyMaterialFile, n, set.Meta.Algorithm, set.Meta.WrappingKeySpec))
	}

	client, region, err := af.client(ctx, set.Meta.KeyARN)
	if err != nil {
		return fail(err)
	}
	res.Region = region
	var src byok.KeySource
	var info byok.KeyInfo
	if sf.source != "" {
		spec := set.Meta.KeySpec
		if spec == "" && sf.keySpec == "" {
			// A console zip does not record the key spec: KMS knows it.
			p.say("describing KMS key %s…", set.Meta.KeyARN)
			d, err := client.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(set.Meta.KeyARN)})
			if err != nil {
				return fail(withHint(fmt.Errorf("DescribeKey %s: %w", set.Meta.KeyARN, err)))
			}
			spec = byok.KeySpec(d.KeyMetadata.KeySpec)
		}
		sf.inferKeySpec(spec)
		p.say("opening %s…", sf.label())
		s, err := sf.open(ctx, stderr)
		if err != nil {
			return fail(err)
		}
		defer s.Close()
		if info, err = s.Describe(ctx); err != nil {
			return fail(err)
		}
		if set.Meta.KeyUsage != "" {
			info.Usage = set.Meta.KeyUsage
		}
		src = s
		so := newSourceOut(&sf, info)
		res.Source = &so
		if w := set.Meta.Wrapped; w != nil && w.Source.Fingerprint != "" && info.Fingerprint != "" && w.Source.Fingerprint != info.Fingerprint {
			return fail(fmt.Errorf("--source %s is not the key byok wrap wrapped (%s, fingerprint %s; this one is %s): give that key to prove the import", sf.shown(), w.Source.Label, w.Source.Fingerprint, info.Fingerprint))
		}
	}

	target := &byok.KMS{Client: client, KeyID: set.Meta.KeyARN, ValidTo: validTo, ImportType: *importType}
	p.say("importing %d bytes of wrapped key material into %s (ImportKeyMaterial)…", len(set.Encrypted), set.Meta.KeyARN)
	imp, err := target.Import(ctx, set.ImportParameters(), set.Encrypted)
	if err != nil {
		return fail(withImportHint(err, set.Meta.KeySpec, *importType, set.Meta.KeyARN))
	}
	res.KeyMaterialID = imp.KeyMaterialID
	verifyCmd := fmt.Sprintf("byok verify --key-id %s SOURCE", set.Meta.KeyARN)
	if src != nil {
		p.say("verifying: using the KMS key and comparing with the source…")
		if set.Meta.KeySpec != "" && set.Meta.KeySpec != info.Spec {
			return fail(fmt.Errorf("%w: the KMS key is %s, the source %s", byok.ErrVerification, set.Meta.KeySpec, info.Spec))
		}
		// The material was wrapped elsewhere (byok wrap), so ImportKeyMaterial's
		// success proves only that KMS holds what EncryptedKeyMaterial.bin held:
		// prove the source itself, as byok verify does.
		kp, err := target.VerifyKey(ctx, set.Meta.KeyARN, src, byok.VerifyOptions{NoReimport: *noReimport, KeyMaterialID: imp.KeyMaterialID})
		v := kp.Verification
		res.Verification = toVerificationOut(&v)
		if err == nil || v.Verdict == byok.VerdictFailed {
			err = v.Err(set.Meta.KeyARN)
		}
		if err != nil {
			if !*asJSON {
				printUpload(stdout, &res)
			}
			return fail(fmt.Errorf("%w\n  note: the key material WAS imported; do not rely on the key until byok verify passes", err))
		}
	} else {
		res.VerificationSkipped = true
		res.VerifyCommand = verifyCmd
		if w := set.Meta.Wrapped; w != nil && w.Source.PublicKey != nil {
			out, err := client.GetPublicKey(ctx, &kms.GetPublicKeyInput{KeyId: aws.String(set.Meta.KeyARN)})
			if err != nil {
				return fail(withHint(fmt.Errorf("GetPublicKey: %w", err)))
			}
			same := bytes.Equal(out.PublicKey, w.Source.PublicKey)
			res.PublicKeyChecked = &same
			if !same {
				if !*asJSON {
					printUpload(stdout, &res)
				}
				return fail(fmt.Errorf("%w: %s: KMS GetPublicKey differs from the public key of the source byok wrap wrapped (%s)", byok.ErrVerification, set.Meta.KeyARN, w.Source.Label))
			}
		}
	}
	res.OK = true
	if *asJSON {
		return writeJSON(stdout, res)
	}
	printUpload(stdout, &res)
	if src == nil {
		fmt.Fprintf(stderr, "byok upload: VERIFICATION SKIPPED: no --source was given. Prove the import where the source key is reachable:\n  %s\n", verifyCmd)
	}
	return nil
}

func printUpload(w io.Writer, r *uploadOutput) {
	s := newSummary(w)
	s.row("KMS key", "%s", r.KeyARN)
	if r.Region != "" {
		s.row("Region", "%s", r.Region)
	}
	s.row("imported", "yes")
	if r.ValidTo != nil {
		s.row("expiration", "%s, at %s", r.ExpirationModel, fmtTime(*r.ValidTo))
	} else {
		s.row("expiration", "%s", r.ExpirationModel)
	}
	if r.KeyMaterialID != "" {
		s.row("key material ID", "%s", r.KeyMaterialID)
	}
	if r.Source != nil {
		s.row("source", "%s (%s driver)\n%s %s", r.Source.Source, r.Source.Driver, r.Source.KeySpec, r.Source.Fingerprint)
		verificationRows(s, r.Verification)
	} else {
		msg := "SKIPPED: no --source"
		if r.PublicKeyChecked != nil {
			if *r.PublicKeyChecked {
				msg += "\nok    GetPublicKey equals the public key of the source byok wrap wrapped"
			} else {
				msg += "\nFAIL  GetPublicKey differs from the public key of the source byok wrap wrapped"
			}
		}
		msg += "\nprove the import with: " + r.VerifyCommand
		s.row("verification", "%s", msg)
	}
	s.flush()
}
