package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/byok-go/byok"
	"github.com/decred/dcrd/dcrec/secp256k1/v4"
)

// demoRow is one wrap and unwrap of one example key.
type demoRow struct {
	KeySpec         byok.KeySpec           `json:"key_spec"`
	Usages          []byok.KeyUsage        `json:"key_usages"`
	Algorithm       byok.WrappingAlgorithm `json:"wrapping_algorithm"`
	WrappingKeySpec byok.WrappingKeySpec   `json:"wrapping_key_spec"`
	MaterialBytes   int                    `json:"material_bytes"`
	WrappedBytes    int                    `json:"wrapped_bytes"`
	Fingerprint     string                 `json:"fingerprint"`
	Reason          string                 `json:"reason,omitempty"`
	OK              bool                   `json:"ok"`
	Error           string                 `json:"error,omitempty"`
}

func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	all := fs.Bool("all", false, "every allowed wrapping algorithm × wrapping key spec, not only the one byok would choose")
	asJSON := fs.Bool("json", false, "print the results as JSON")
	fs.Usage = func() {
		fmt.Fprintln(stderr, `Usage: byok demo [--all] [--json]

Generates an example key of every importable KMS key spec and, for each,
a wrapping key pair standing in for the one GetParametersForImport returns;
wraps the key material as byok would for AWS KMS, unwraps it as KMS would,
checks the result against KMS's rules for the key spec and compares it
byte for byte with the source key. No AWS account is used.

Examples:
  byok demo
  byok demo --all --json

Flags:`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return err
		}
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	progress := func(format string, a ...any) {
		if !*asJSON {
			fmt.Fprintf(stderr, format+"\n", a...)
		}
	}
	start := time.Now()
	rows, err := demo(ctx, *all, progress)
	if err != nil {
		return err
	}
	failed := 0
	for _, r := range rows {
		if !r.OK {
			failed++
		}
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rows); err != nil {
			return err
		}
	} else {
		printDemo(stdout, rows)
		fmt.Fprintf(stdout, "\n%d wrapped and unwrapped, %d failed, in %s.\n", len(rows)-failed, failed, time.Since(start).Round(time.Millisecond))
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d wraps did not round-trip; see the table", failed, len(rows))
	}
	return nil
}

func printDemo(w io.Writer, rows []demoRow) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "KEY SPEC\tUSAGES\tWRAPPING ALGORITHM\tWRAPPING KEY\tMATERIAL\tWRAPPED\tFINGERPRINT\tRESULT")
	for _, r := range rows {
		us := make([]string, len(r.Usages))
		for i, u := range r.Usages {
			us[i] = string(u)
		}
		result := "ok: unwrapped, valid for the spec, equal to the source"
		if !r.OK {
			result = "FAILED: " + r.Error
		}
		fp := r.Fingerprint
		if len(fp) > 23 {
			fp = fp[:23] + "…"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d B\t%d B\t%s\t%s\n", r.KeySpec, strings.Join(us, ","), r.Algorithm, r.WrappingKeySpec, r.MaterialBytes, r.WrappedBytes, fp, result)
	}
	tw.Flush()
}

// exampleKeys generates a key of every importable spec.
func exampleKeys(progress func(string, ...any)) ([]*byok.KeyMaterial, error) {
	var out []*byok.KeyMaterial
	for _, spec := range byok.KeySpecs() {
		progress("generating an example %s key…", spec)
		m, err := generate(spec)
		if err != nil {
			for _, o := range out {
				o.Destroy()
			}
			return nil, fmt.Errorf("generating an example %s key: %w", spec, err)
		}
		out = append(out, m)
	}
	return out, nil
}

func generate(spec byok.KeySpec) (*byok.KeyMaterial, error) {
	switch spec.Kind() {
	case byok.KindSymmetric, byok.KindHMAC:
		b := make([]byte, spec.MaterialLen())
		defer clear(b)
		if _, err := rand.Read(b); err != nil {
			return nil, err
		}
		return byok.NewSecretKeyMaterial(spec, b)
	case byok.KindRSA:
		k, err := rsa.GenerateKey(rand.Reader, spec.Bits())
		if err != nil {
			return nil, err
		}
		return byok.NewKeyMaterial(k)
	}
	var curve elliptic.Curve
	switch spec {
	case byok.ECCNISTP256:
		curve = elliptic.P256()
	case byok.ECCNISTP384:
		curve = elliptic.P384()
	case byok.ECCNISTP521:
		curve = elliptic.P521()
	case byok.ECCSECGP256K1:
		k, err := secp256k1.GeneratePrivateKey()
		if err != nil {
			return nil, err
		}
		defer k.Zero()
		return byok.NewKeyMaterial(k)
	default:
		return nil, fmt.Errorf("no generator for %s", spec)
	}
	k, err := ecdsa.GenerateKey(curve, rand.Reader)
	if err != nil {
		return nil, err
	}
	return byok.NewKeyMaterial(k)
}

// demo runs the wraps; it returns an error only when it could not start.
func demo(ctx context.Context, all bool, progress func(string, ...any)) ([]demoRow, error) {
	wks := []byok.WrappingKeySpec{byok.WrappingRSA4096}
	if all {
		wks = byok.WrappingKeySpecs()
	}
	wrapping := map[byok.WrappingKeySpec]*rsa.PrivateKey{}
	for _, w := range wks {
		progress("generating an %s wrapping key pair (KMS's side of GetParametersForImport)…", w)
		k, err := rsa.GenerateKey(rand.Reader, w.Bits())
		if err != nil {
			return nil, fmt.Errorf("generating an %s wrapping key: %w", w, err)
		}
		wrapping[w] = k
	}
	keys, err := exampleKeys(progress)
	if err != nil {
		return nil, err
	}
	defer func() {
		for _, k := range keys {
			k.Destroy()
		}
	}()
	var rows []demoRow
	for _, m := range keys {
		if err := ctx.Err(); err != nil {
			return rows, err
		}
		type combo struct {
			alg    byok.WrappingAlgorithm
			w      byok.WrappingKeySpec
			reason string
		}
		var combos []combo
		if all {
			for _, alg := range byok.WrappingAlgorithms() {
				for _, w := range wks {
					if byok.CheckCompatible(m.Spec(), alg, w) == nil {
						combos = append(combos, combo{alg, w, ""})
					}
				}
			}
		} else {
			c, err := byok.ChooseWrapping(m.Spec(), nil)
			if err != nil {
				return nil, err
			}
			combos = append(combos, combo{c.Algorithm, c.WrappingKeySpec, c.Reason})
		}
		for _, c := range combos {
			rows = append(rows, wrapOne(m, c.alg, c.w, c.reason, wrapping[c.w]))
		}
	}
	return rows, nil
}

// wrapOne wraps m as byok does for KMS, unwraps it as KMS does, validates
// the result against the key spec and compares it with m.
func wrapOne(m *byok.KeyMaterial, alg byok.WrappingAlgorithm, w byok.WrappingKeySpec, reason string, priv *rsa.PrivateKey) demoRow {
	r := demoRow{KeySpec: m.Spec(), Usages: m.Usages(), Algorithm: alg, WrappingKeySpec: w,
		MaterialBytes: m.Len(), Fingerprint: m.Fingerprint(), Reason: reason}
	wrapped, err := m.Wrap(&priv.PublicKey, alg)
	if err != nil {
		r.Error = err.Error()
		return r
	}
	r.WrappedBytes = len(wrapped)
	plain, err := byok.UnwrapKeyMaterial(priv, alg, wrapped)
	if err != nil {
		r.Error = err.Error()
		return r
	}
	defer clear(plain)
	got, err := byok.ParseKeyMaterial(m.Spec(), plain)
	if err != nil {
		r.Error = err.Error()
		return r
	}
	defer got.Destroy()
	if !got.Equal(m) {
		r.Error = "the unwrapped material differs from the source key"
		return r
	}
	r.OK = true
	return r
}
