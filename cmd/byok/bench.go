package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/byok-go/byok/bench"
	"github.com/byok-go/byok/driver"
)

const benchUsage = `Usage: byok bench [--json | --wide] [--short] [--time DURATION] [--rounds N]
                  [--backend LIST] [--run REGEXP]
                  [--softhsm-token LABEL --softhsm-pin-env NAME]
                  [--opencryptoki-token LABEL --opencryptoki-pin-env NAME]

Measures byok's own speed: wrapping the key material of every key spec
with every wrapping algorithm and wrapping key spec AWS KMS accepts, in
pure Go and, in a build with -tags openssl, side by side with OpenSSL 3;
RFC 5649 key wrap against OpenSSL's EVP_aes_256_wrap_pad and against its
latency bound; and byok's own work per key in an import (against a target
that does nothing, so no KMS is involved). Rows doing the same work are
measured in interleaved rounds; each figure is the median of the rounds.

The PKCS#11 rows go through byok's drivers (driver.Open, Source.Wrap) with
the fixture keys put into the token as session objects, which vanish when
the run ends. SoftHSM is measured by default, when installed, in a
throwaway token made for the run (or in --softhsm-token); opencryptoki
when --opencryptoki-token names a token. Each module wraps only what its
capability probe finds it can wrap exactly; the notes say what it cannot.

The report gives ns/op and the ratio to the fastest row of the group in
100 columns; --wide adds ops/s, bytes and Go heap allocations per
operation and every note in full; --json has everything. It gives the
machine, Go, OpenSSL and module versions, and the comparisons the project
holds byok to (not judged on a --short run, too short to mean anything).
Measure on a quiet machine: the load average is reported at the start and
the end.

Examples:
  byok bench
  byok bench --json > bench.json
  byok bench --short          # a quick check, as CI runs it; limits not judged
  byok bench --run '^(kwp|aes-chain-bound)/' --time 1s
  byok bench --backend go --run 'RSA_AES_KEY_WRAP_SHA_256/RSA_4096/'
  OCK_PIN=… byok bench --opencryptoki-token mytoken \
    --opencryptoki-pin-env OCK_PIN`

func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("bench", benchUsage, stderr)
	asJSON := fs.Bool("json", false, "print the report as JSON")
	wide := fs.Bool("wide", false, "print every column (bytes, ops/s, allocations) and every note in full; lines may exceed 100 columns")
	short := fs.Bool("short", false, "run each row a few times only, to check that everything works (CI); the figures mean nothing")
	perRow := fs.Duration("time", 150*time.Millisecond, "`DURATION` spent measuring each row (the compared groups get five times as much)")
	rounds := fs.Int("rounds", 5, "`N` interleaved rounds per group (the compared groups get 25 times as many)")
	backends := fs.String("backend", "", "`LIST` of comma-separated backends to run: "+strings.Join(bench.Backends(), ", ")+"; empty: every one available")
	match := fs.String("run", "", "measure only the rows whose name matches the regular expression `REGEXP`, e.g. 'RSA_4096/RSA_4096' (names: OPERATION/ALGORITHM/WRAPPING_KEY/KEY_SPEC/BACKEND)")
	var softTok, softPIN, softMod, ockTok, ockPIN, ockMod string
	fs.StringVar(&softTok, "softhsm-token", "", "measure SoftHSM with the existing token `LABEL` instead of a throwaway one")
	fs.StringVar(&softPIN, "softhsm-pin-env", "", "read the --softhsm-token's user PIN from the environment variable `NAME`")
	fs.StringVar(&softMod, "softhsm-module", "", "SoftHSM library `PATH`; default: the softhsm driver's")
	fs.StringVar(&ockTok, "opencryptoki-token", "", "measure opencryptoki with the token `LABEL` (its pkcsslotd running)")
	fs.StringVar(&ockPIN, "opencryptoki-pin-env", "", "read the --opencryptoki-token's user PIN from the environment variable `NAME`")
	fs.StringVar(&ockMod, "opencryptoki-module", "", "opencryptoki library `PATH`; default: the opencryptoki driver's")
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return err
		}
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	if *perRow <= 0 {
		return fmt.Errorf("%w: --time must be positive, got %s", errUsage, *perRow)
	}
	if *rounds < 1 {
		return fmt.Errorf("%w: --rounds must be at least 1, got %d", errUsage, *rounds)
	}
	opts := bench.Options{Short: *short, Time: *perRow, Rounds: *rounds}
	if *backends != "" {
		for _, b := range strings.Split(*backends, ",") {
			b = strings.TrimSpace(b)
			known := false
			for _, k := range bench.Backends() {
				known = known || k == b
			}
			if !known {
				return fmt.Errorf("%w: unknown backend %q in --backend; want %s", errUsage, b, strings.Join(bench.Backends(), ", "))
			}
			opts.Backends = append(opts.Backends, b)
		}
	}
	if *match != "" {
		re, err := regexp.Compile(*match)
		if err != nil {
			return fmt.Errorf("%w: --run: %v", errUsage, err)
		}
		opts.Match = re
	}
	opts.Progress = func(string, ...any) {}
	if !*asJSON {
		opts.Progress = func(format string, a ...any) { fmt.Fprintf(stderr, format+"\n", a...) }
	}
	if (softPIN != "" || softMod != "") && softTok == "" {
		return fmt.Errorf("%w: --softhsm-pin-env and --softhsm-module go with --softhsm-token", errUsage)
	}
	if (ockPIN != "" || ockMod != "") && ockTok == "" {
		return fmt.Errorf("%w: --opencryptoki-pin-env and --opencryptoki-module go with --opencryptoki-token", errUsage)
	}
	wanted := func(b string) bool { return *backends == "" || slices.Contains(opts.Backends, b) }
	tokens := bench.Tokens{Backends: opts.Backends}
	if softTok != "" && wanted(bench.BackendSoftHSM) {
		if softPIN == "" {
			return fmt.Errorf("%w: --softhsm-token needs --softhsm-pin-env", errUsage)
		}
		tokens.SoftHSM = bench.HSM{Module: softMod, Token: softTok, PIN: driver.PINFromEnv(softPIN)}
	}
	if ockTok != "" && wanted(bench.BackendOpenCryptoki) {
		if ockPIN == "" {
			return fmt.Errorf("%w: --opencryptoki-token needs --opencryptoki-pin-env", errUsage)
		}
		tokens.OpenCryptoki = bench.HSM{Module: ockMod, Token: ockTok, PIN: driver.PINFromEnv(ockPIN)}
	} else if ockTok == "" && *backends != "" && wanted(bench.BackendOpenCryptoki) {
		return fmt.Errorf("%w: --backend opencryptoki needs --opencryptoki-token and --opencryptoki-pin-env", errUsage)
	}
	release, err := opts.AddTokens(tokens)
	if err != nil {
		return err
	}
	defer release()
	rep, err := bench.Run(ctx, opts)
	if err != nil {
		return err
	}
	if len(rep.Rows) == 0 {
		return fmt.Errorf("no row matches --run %q", *match)
	}
	if *asJSON {
		return rep.WriteJSON(stdout)
	}
	if *wide {
		return rep.WriteWideText(stdout)
	}
	return rep.WriteText(stdout)
}
