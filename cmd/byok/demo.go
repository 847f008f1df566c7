package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/byok-go/byok"
	"github.com/byok-go/byok/driver"
	"github.com/byok-go/byok/driver/software"
	"github.com/byok-go/byok/kmstest"
	"github.com/decred/dcrd/dcrec/secp256k1/v4"
)

const demoUsage = `Usage: byok demo [--all] [--fast] [--json]

Runs byok's whole job on this machine, with no AWS account: starts byok's
verifying AWS KMS emulator in this process, generates an example key of
every importable KMS key spec (SYMMETRIC_DEFAULT, HMAC_224/256/384/512,
RSA_2048/3072/4096, ECC_NIST_P256/P384/P521, ECC_SECG_P256K1), and imports
each exactly as byok import does: CreateKey with Origin EXTERNAL,
GetParametersForImport, wrap, ImportKeyMaterial, then the proof (the KMS key
is used and compared with the source key: GetPublicKey, Sign and Verify,
GenerateMac, and for every key what ImportKeyMaterial's integrity shows).
The emulator really unwraps what it gets and checks it as KMS does. Prints
one row per import with its verdict (PASSED, FAILED, UNPROVEN), and under
it the KMS key and every check by name.

As AWS does, the emulator makes a fresh RSA wrapping key pair for every
GetParametersForImport; --fast reuses pre-generated ones instead. --all
imports every key with every wrapping algorithm and wrapping key spec AWS
allows for it (94 imports; use --fast to keep it short).

If the SoftHSM driver is in this build and SoftHSM is installed, HSM keys
are imported too.

Examples:
  byok demo
  byok demo --all --fast
  byok demo --json | jq '.results[] | {key_spec, verdict, checks: [.verification.checks[].name]}'`

// softhsmModule is where Debian's softhsm2 package installs the module.
const softhsmModule = "/usr/lib/softhsm/libsofthsm2.so"

// hsmDemoSources, when set, returns HSM key sources for the demo to import
// besides the generated software keys. The demo calls it only when the
// driver "softhsm" is registered and the SoftHSM module is installed at
// softhsmModule; the demo closes the sources. The HSM support sets it (in a
// file of this package) when it lands.
var hsmDemoSources func(ctx context.Context, module string, progress func(string, ...any)) ([]driver.Source, error)

// demoRow is one import of one example key.
type demoRow struct {
	// Target is aws, gcp or azure (--clouds).
	Target          string                 `json:"target"`
	Source          string                 `json:"source"`
	KeySpec         byok.KeySpec           `json:"key_spec"`
	KeyUsage        byok.KeyUsage          `json:"key_usage"`
	Algorithm       byok.WrappingAlgorithm `json:"wrapping_algorithm"`
	WrappingKeySpec byok.WrappingKeySpec   `json:"wrapping_key_spec"`
	KeyARN          string                 `json:"key_arn"`
	Fingerprint     string                 `json:"fingerprint"`
	Reason          string                 `json:"reason,omitempty"`
	// ChecksPassed of ChecksRun passed; Verification.Checks names them.
	ChecksPassed int  `json:"checks_passed"`
	ChecksRun    int  `json:"checks_run"`
	Verified     bool `json:"verified"`
	// Verdict is PASSED, FAILED or UNPROVEN; Verification lists every
	// check by name.
	Verdict      byok.Verdict     `json:"verdict,omitempty"`
	Verification *verificationOut `json:"verification"`
	Seconds      float64          `json:"elapsed_seconds"`
	OK           bool             `json:"ok"`
	Error        *errorOut        `json:"error,omitempty"`
}

// demoOutput is what `byok demo --json` prints.
type demoOutput struct {
	OK       bool      `json:"ok"`
	Imported int       `json:"imported"`
	Failed   int       `json:"failed"`
	Results  []demoRow `json:"results"`
	// Notes says which keys were not sent to a cloud (--clouds), and why.
	Notes   []string  `json:"notes"`
	Seconds float64   `json:"elapsed_seconds"`
	Error   *errorOut `json:"error,omitempty"`
}

func demoFailed(failed, total int) error {
	return fmt.Errorf("%d of %d imports failed; see the table", failed, total)
}

func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("demo", demoUsage, stderr)
	all := fs.Bool("all", false, "every allowed wrapping algorithm × wrapping key spec, not only the one byok would choose")
	fast := fs.Bool("fast", false, "reuse pre-generated wrapping key pairs in the emulator instead of a fresh one per GetParametersForImport")
	asJSON := fs.Bool("json", false, "print the results as JSON")
	clouds := fs.Bool("clouds", false, "also import the keys into Google Cloud KMS and Azure Managed HSM (fakes of their published APIs, in this process, real clients)")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if err := noArgs(pos); err != nil {
		return err
	}
	p := progress{stderr, *asJSON}
	start := time.Now()
	rows, notes, err := demo(ctx, *all, *fast, *clouds, p.say)
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
		doc := demoOutput{OK: failed == 0, Imported: len(rows) - failed, Failed: failed, Results: rows, Notes: notes, Seconds: time.Since(start).Seconds()}
		if doc.Results == nil {
			doc.Results = []demoRow{}
		}
		if doc.Notes == nil {
			doc.Notes = []string{}
		}
		if failed > 0 {
			doc.Error = newErrorOut(demoFailed(failed, len(rows)), "", nil)
		}
		if err := writeJSON(stdout, doc); err != nil {
			return err
		}
	} else {
		printDemoTargets(stdout, rows, notes)
		end := fmt.Sprintf("%d imported and verified, %d failed, in %s (KMS: byok's verifying emulator, in this process", len(rows)-failed, failed, fmtDuration(time.Since(start)))
		if *clouds {
			end = fmt.Sprintf("%d imported and verified, %d failed, in %s (every cloud: a verifying fake of its published API, in this process", len(rows)-failed, failed, fmtDuration(time.Since(start)))
		}
		if *fast {
			end += ", pre-generated wrapping keys"
		}
		fmt.Fprint(stdout, "\n"+wrapText(end+").", "", lineWidth))
	}
	if failed > 0 {
		return demoFailed(failed, len(rows))
	}
	return nil
}

// printDemoTargets prints the rows of each target under its title when
// there is more than one target, then the notes.
func printDemoTargets(w io.Writer, rows []demoRow, notes []string) {
	var order []string
	by := map[string][]demoRow{}
	for _, r := range rows {
		if _, ok := by[r.Target]; !ok {
			order = append(order, r.Target)
		}
		by[r.Target] = append(by[r.Target], r)
	}
	if len(order) <= 1 {
		printDemo(w, rows)
	} else {
		for i, t := range order {
			if i > 0 {
				fmt.Fprintln(w)
			}
			fmt.Fprint(w, wrapText(demoTargetTitle[t], "", lineWidth))
			printDemo(w, by[t])
		}
	}
	if len(notes) > 0 {
		fmt.Fprintln(w, "\nnot sent:")
		for _, n := range notes {
			fmt.Fprint(w, wrapText(n, "  ", lineWidth))
		}
	}
}

// printDemo prints one line per import (fitting 100 columns), then the
// KMS key, every check by name and what was skipped on lines below it.
func printDemo(w io.Writer, rows []demoRow) {
	head := []string{"KEY SPEC", "USAGE", "ALGORITHM", "WRAPPING", "TIME", "VERDICT"}
	cells := make([][]string, len(rows))
	width := make([]int, len(head))
	for i, h := range head {
		width[i] = len(h)
	}
	for i, r := range rows {
		verdict := string(r.Verdict)
		if verdict == "" {
			verdict = "ERROR"
		}
		cells[i] = []string{string(r.KeySpec), string(r.KeyUsage), string(r.Algorithm), string(r.WrappingKeySpec),
			fmtDuration(time.Duration(r.Seconds * float64(time.Second))), verdict}
		for j, c := range cells[i] {
			width[j] = max(width[j], len(c))
		}
	}
	line := func(c []string) {
		var b strings.Builder
		for j, x := range c {
			if j < len(c)-1 {
				fmt.Fprintf(&b, "%-*s  ", width[j], x)
			} else {
				b.WriteString(x)
			}
		}
		fmt.Fprintln(w, b.String())
	}
	line(head)
	for i, r := range rows {
		line(cells[i])
		var b strings.Builder
		arn := r.KeyARN
		if arn == "" {
			arn = "none"
		}
		writeWrapped(&b, "  key   ", arn)
		if r.Source != "generated" {
			writeWrapped(&b, "  from  ", r.Source)
		}
		if v := r.Verification; v != nil {
			for _, c := range v.Checks {
				mark := "  ok    "
				if !c.OK {
					mark = "  FAIL  "
				}
				writeWrapped(&b, mark, c.Name)
				if !c.OK && c.Detail != "" {
					writeWrapped(&b, "        ", c.Detail)
				}
			}
			for _, sk := range v.Skipped {
				writeWrapped(&b, "  skip  ", sk)
			}
		}
		if r.Error != nil {
			writeWrapped(&b, "  error ", r.Error.Message)
		}
		fmt.Fprint(w, strings.TrimPrefix(b.String(), "\n")+"\n")
	}
}

// exampleKeys generates a key of every importable spec, in parallel (RSA
// key generation takes a moment).
func exampleKeys(say func(string, ...any)) ([]*byok.KeyMaterial, error) {
	specs := byok.KeySpecs()
	say("generating an example key of each of the %d importable key specs…", len(specs))
	out := make([]*byok.KeyMaterial, len(specs))
	errs := make([]error, len(specs))
	var wg sync.WaitGroup
	for i, spec := range specs {
		wg.Go(func() { out[i], errs[i] = generate(spec) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			for _, m := range out {
				m.Destroy()
			}
			return nil, fmt.Errorf("generating an example %s key: %w", specs[i], err)
		}
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

// demoJob is one import the demo runs.
type demoJob struct {
	src    byok.KeySource
	label  string
	info   byok.KeyInfo
	alg    byok.WrappingAlgorithm
	wks    byok.WrappingKeySpec
	forced bool
}

// demo runs the imports; it returns an error only when it could not start.
func demo(ctx context.Context, all, fast, clouds bool, say func(string, ...any)) ([]demoRow, []string, error) {
	say("starting byok's verifying KMS emulator in this process…")
	srv := kmstest.NewServer(kmstest.WithWrappingKeyCache(fast))
	defer srv.Close()
	client := srv.Client()

	keys, err := exampleKeys(say)
	if err != nil {
		return nil, nil, err
	}
	type labelled struct {
		src   byok.KeySource
		label string
	}
	var sources []labelled
	defer func() {
		for _, s := range sources {
			if c, ok := s.src.(io.Closer); ok {
				c.Close()
			}
		}
	}()
	for _, m := range keys {
		s, err := software.New(m, software.Options{Label: "byok demo example " + string(m.Spec())})
		if err != nil {
			m.Destroy()
			return nil, nil, err
		}
		sources = append(sources, labelled{s, "generated"})
	}
	if hsmDemoSources != nil && slices.Contains(driver.Drivers(), "softhsm") {
		if _, err := os.Stat(softhsmModule); err == nil {
			say("SoftHSM is installed: adding its keys…")
			hs, err := hsmDemoSources(ctx, softhsmModule, say)
			if err != nil {
				return nil, nil, fmt.Errorf("preparing the SoftHSM keys: %w", err)
			}
			for _, s := range hs {
				sources = append(sources, labelled{s, "softhsm"})
			}
		}
	}

	var jobs []demoJob
	for _, s := range sources {
		info, err := s.src.Describe(ctx)
		if err != nil {
			return nil, nil, err
		}
		if !all {
			jobs = append(jobs, demoJob{src: s.src, label: s.label, info: info})
			continue
		}
		// An HSM wraps only what its mechanisms allow (the driver's probe
		// says which): --all tries every combination the source can do.
		algs := byok.WrappingAlgorithms()
		if l, ok := s.src.(byok.AlgorithmLister); ok {
			if algs, err = l.WrappingAlgorithms(ctx); err != nil {
				return nil, nil, err
			}
		}
		for _, alg := range algs {
			for _, w := range byok.WrappingKeySpecs() {
				if byok.CheckCompatible(info.Spec, alg, w) == nil {
					jobs = append(jobs, demoJob{s.src, s.label, info, alg, w, true})
				}
			}
		}
	}
	if fast {
		say("importing %d keys (wrapping keys pre-generated)…", len(jobs))
	} else {
		say("importing %d keys (the emulator makes a fresh RSA wrapping key pair for each, as AWS does)…", len(jobs))
	}

	rows := make([]demoRow, len(jobs))
	var mu sync.Mutex
	done := 0
	work := make(chan int)
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for i := range work {
				rows[i] = importOne(ctx, jobs[i], client)
				mu.Lock()
				done++
				r := rows[i]
				status := "ok"
				if !r.OK {
					status = "FAILED"
				}
				say("[%d/%d] %s %s via %s/%s: %s (%s)", done, len(jobs), r.KeySpec, r.KeyUsage, r.Algorithm, r.WrappingKeySpec, status, fmtDuration(time.Duration(r.Seconds*float64(time.Second))))
				mu.Unlock()
			}
		})
	}
	for i := range jobs {
		if ctx.Err() != nil {
			break
		}
		work <- i
	}
	close(work)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	if !clouds {
		return rows, nil, nil
	}
	var once []demoJob // each source once, with the target's own choice
	for _, j := range jobs {
		if !j.forced || len(once) == 0 || once[len(once)-1].src != j.src {
			once = append(once, demoJob{src: j.src, label: j.label, info: j.info})
		}
	}
	more, notes, err := demoClouds(ctx, once, say)
	if err != nil {
		return nil, nil, err
	}
	return append(rows, more...), notes, nil
}

// importOne imports one example key through byok.Importer into the emulator.
func importOne(ctx context.Context, j demoJob, client byok.KMSAPI) demoRow {
	return importInto(ctx, j, &byok.KMS{Client: client}, demoAWS)
}

// importInto imports one example key through byok.Importer into dst, a
// target of the named kind.
func importInto(ctx context.Context, j demoJob, dst byok.KMSTarget, target string) demoRow {
	start := time.Now()
	r := demoRow{Target: target, Source: j.label, KeySpec: j.info.Spec, KeyUsage: effectiveUsage(j.info), Fingerprint: j.info.Fingerprint,
		Algorithm: j.alg, WrappingKeySpec: j.wks}
	im := &byok.Importer{Algorithm: j.alg, WrappingKeySpec: j.wks}
	res, err := im.Import(ctx, j.src, dst)
	r.Seconds = time.Since(start).Seconds()
	if res != nil {
		r.KeyARN, r.Algorithm, r.WrappingKeySpec = res.KeyARN, res.Algorithm, res.WrappingKeySpec
		if !j.forced {
			r.Reason = res.Reason
		}
		if v := res.Verification; v != nil {
			r.Verification = toVerificationOut(v)
			r.Verdict = r.Verification.Verdict
			r.Verified, r.ChecksRun = v.Verified, len(v.Checks)
			for _, c := range v.Checks {
				if c.OK {
					r.ChecksPassed++
				}
			}
		}
	}
	if err != nil {
		r.Error = newErrorOut(err, r.KeyARN, nil)
		return r
	}
	r.OK = r.Verdict == byok.VerdictPassed
	if !r.OK {
		perr := fmt.Errorf("%w: verdict %s", byok.ErrUnproven, r.Verdict)
		if res != nil && res.Verification != nil && res.Verification.Err(r.KeyARN) != nil {
			perr = res.Verification.Err(r.KeyARN)
		}
		r.Error = newErrorOut(perr, r.KeyARN, nil)
	}
	return r
}
