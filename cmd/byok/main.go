// Command byok moves existing keys into AWS KMS as imported key material,
// and proves afterwards that KMS holds the same key.
//
// Usage:
//
//	byok import [flags] SOURCE        one-shot: create the KMS key, wrap, import, verify
//	byok params --out DIR [flags]     offline step 1 (online): key + wrapping key + import token to files
//	byok wrap --params DIR SOURCE     offline step 2 (at the HSM, no AWS): EncryptedKeyMaterial.bin
//	byok upload --params DIR          offline step 3 (online): ImportKeyMaterial, then verify
//	byok verify --key-id ID SOURCE    prove again that a KMS key holds the source key
//	byok inspect SOURCE               describe a key file or HSM object, never its secret
//	byok migrate MANIFEST             every key a manifest lists, resumable (docs/migrate.md)
//	byok demo [--all] [--fast] [--json]  the whole job against an in-process KMS emulator
//	byok bench                        measure byok's wrapping speed
//	byok emulator [--listen ADDR]     run the verifying KMS emulator
//	byok version                      print the version (also byok --version)
//
// Exit codes: 0 success (any proof PASSED); 1 the job failed (the output
// says which key, why and what to do); 2 the command line was wrong; 3 the
// proof FAILED: the KMS key does not hold the source key; 4 the proof is
// UNPROVEN: nothing failed, but nothing could show that KMS holds the source
// key (a call was denied, the key's state, --no-reimport).
//
// See docs/cli.md for a walkthrough.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"

	"github.com/byok-go/byok/internal/offline"
)

// version, when set at link time (-ldflags "-X main.version=…"), overrides
// the module version from the build information.
var version = ""

// helpAsked reports whether the command's arguments ask for help (-h,
// -help, --help before any "--").
func helpAsked(args []string) bool {
	for _, a := range args {
		switch a {
		case "--":
			return false
		case "-h", "-help", "--help":
			return true
		}
	}
	return false
}

// buildVersion is byok's version: the module version go install stamps
// (v1.2.3), or "(devel)" for a build from a source tree, as
// runtime/debug.ReadBuildInfo reports it, with the VCS revision when the
// build recorded one.
func buildVersion() string {
	if version != "" {
		return version
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "(devel)"
	}
	v := bi.Main.Version
	if v == "" {
		v = "(devel)"
	}
	var rev, modified string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			modified = s.Value
		}
	}
	if rev != "" && v == "(devel)" {
		if len(rev) > 12 {
			rev = rev[:12]
		}
		v += " commit " + rev
		if modified == "true" {
			v += " with local changes"
		}
	}
	return v + ", " + bi.GoVersion
}

func runVersion(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("version", "Usage: byok version\n\nPrints byok's version: the module version from the build information,\nor (devel) for a build from a source tree.", stderr)
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if err := noArgs(pos); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "byok %s\n", buildVersion())
	return nil
}

// errUsage marks a command-line mistake (exit code 2). It is the offline
// package's ErrUsage, so that the library's refusals of what was asked keep
// exit code 2.
var errUsage = offline.ErrUsage

type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

func commands() []command {
	return []command{
		{"import", "import a key into AWS KMS in one go: create, wrap, import, verify", runImport},
		{"params", "offline step 1 (online): create or find the KMS key, write its import parameters", runParams},
		{"wrap", "offline step 2 (at the HSM, no AWS access): write EncryptedKeyMaterial.bin", runWrap},
		{"upload", "offline step 3 (online): import EncryptedKeyMaterial.bin, then verify", runUpload},
		{"verify", "prove that a KMS key holds the source key, by using both", runVerify},
		{"inspect", "describe a key file or HSM object without revealing it", runInspect},
		{"migrate", "move every key a manifest lists into AWS KMS, resumably, paced to AWS's quotas", runMigrate},
		{"status", "show where every migrated key stands: state, expiry, last proof, source", runStatus},
		{"shred", "delete the imported key material of KMS keys (crypto-shredding); restorable", runShred},
		{"demo", "import an example key of every importable type into an in-process KMS emulator", runDemo},
		{"bench", "measure byok's wrapping speed: pure Go, OpenSSL, PKCS#11 modules", runBench},
		{"emulator", "run the verifying AWS KMS emulator for the AWS CLI, SDKs and tests", runEmulator},
		{"version", "print the version (also: byok --version)", runVersion},
	}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	// --json before the command (byok --json status fleet.yaml) is the
	// command's --json: moved after the command name, so that the command
	// prints its document, or a usage error prints the JSON error object.
	var global []string
	for len(args) > 0 && isJSONFlag(args[0]) {
		global, args = append(global, args[0]), args[1:]
	}
	if len(global) > 0 {
		if len(args) == 0 || strings.HasPrefix(args[0], "-") || args[0] == "help" {
			usage(stderr)
			err := fmt.Errorf("%w: no command: give one after --json (byok --json COMMAND or byok COMMAND --json); run 'byok help' for the list", errUsage)
			fmt.Fprintf(stderr, "byok: %v\n", err)
			if jsonRequested(global) {
				writeJSON(stdout, failureDoc{Error: newErrorOut(err, "", nil)})
			}
			return 2
		}
		args = append(append([]string{args[0]}, global...), args[1:]...)
	}
	if len(args) > 0 && (args[0] == "--version" || args[0] == "-version") {
		args = []string{"version"}
	}
	if len(args) == 2 && args[0] == "help" {
		// byok help CMD is byok CMD --help: the same text, on stdout.
		args = []string{args[1], "--help"}
	}
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" || args[0] == "-help" {
		usage(stdout)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	for _, c := range commands() {
		if c.name != args[0] {
			continue
		}
		errw := stderr
		if helpAsked(args[1:]) {
			// Help that was asked for is output, not an error: stdout.
			errw = stdout
		}
		asJSON := jsonRequested(args[1:])
		out := &countingWriter{w: stdout}
		err := c.run(ctx, args[1:], out, errw)
		switch {
		case err == nil:
			return 0
		case errors.Is(err, flag.ErrHelp):
			return 0
		}
		code := exitCode(err)
		fmt.Fprint(stderr, errorText(c.name, err.Error(), isTerminal(stderr)))
		if code == 2 {
			fmt.Fprintf(stderr, "Run 'byok %s --help' for the flags and examples.\n", c.name)
		}
		if asJSON && out.n == 0 {
			// The command printed nothing: a usage error or a failure
			// before it had a document; the error alone is the document.
			writeJSON(stdout, failureDoc{Error: newErrorOut(err, "", nil)})
		}
		return code
	}
	fmt.Fprintf(stderr, "byok: unknown command %q; run 'byok help' for the list\n", args[0])
	if jsonRequested(args[1:]) {
		err := fmt.Errorf("%w: unknown command %q; run 'byok help' for the list", errUsage, args[0])
		writeJSON(stdout, failureDoc{Error: newErrorOut(err, "", nil)})
	}
	return 2
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "byok moves existing keys into AWS KMS as imported key material, and proves")
	fmt.Fprintln(w, "afterwards that KMS holds the same key.")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Usage: byok <command> [flags]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Commands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-9s %s\n", c.name, c.summary)
	}
	fmt.Fprint(w, `
Examples:
  byok demo                                   # the whole job, no AWS account needed
  byok import key.pem --alias app-signing     # one host reaches both the key and AWS
  byok params --out p/ --key-spec ECC_NIST_P256   # offline: online host
  byok wrap --params p/ key.pem                   #          HSM host, no AWS
  byok upload --params p/ --source key.pem        #          online host

Exit codes:
  0  success
  1  the job failed; the message says which key, why, and what to do next
  2  the command line was wrong (unknown flag, missing argument, bad value)
  3  verification FAILED: a check shows the KMS key is not the source key;
     do not use the key
  4  verification UNPROVEN: nothing failed, but no check could prove that
     KMS holds the source key (a call was denied, the key's state,
     --no-reimport); do not rely on the key until byok verify passes
  5  byok status only: some key needs attention (it says which and why)

AWS configuration is the AWS CLI's: --profile, --region and --endpoint-url,
else AWS_PROFILE, AWS_REGION (or AWS_DEFAULT_REGION, which the AWS CLI
version 1 needs: set both), AWS_ENDPOINT_URL_KMS, ~/.aws/config and
~/.aws/credentials. PINs and passphrases come from the environment
(--pin-env NAME), a file (--pin-file PATH) or a prompt with echo off,
never from the command line.

Run 'byok help <command>' (or 'byok <command> --help') for a command's flags
and examples; 'byok version' for the version.
`)
}

// isJSONFlag reports whether a is a --json flag (--json, -json,
// --json=BOOL), which byok accepts before the command too.
func isJSONFlag(a string) bool {
	name, _, _ := strings.Cut(strings.TrimLeft(a, "-"), "=")
	return strings.HasPrefix(a, "-") && name == "json"
}
