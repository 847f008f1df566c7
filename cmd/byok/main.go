// Command byok moves existing keys into AWS KMS as imported key material.
//
// Usage:
//
//	byok demo [--all] [--json]   wrap and unwrap an example key of every importable type
//	byok emulator [--listen ADDR] [--state DIR]   run the verifying KMS emulator
//	byok version                 print the version
//
// Exit codes: 0 success; 1 the job failed (the output says which key and
// why); 2 the command line was wrong.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
)

// version is set at link time (-ldflags "-X main.version=…").
var version = "devel"

// errUsage marks a command-line mistake (exit code 2).
var errUsage = errors.New("usage")

type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

func commands() []command {
	return []command{
		{"demo", "wrap and unwrap an example key of every importable type, as KMS would", runDemo},
		{"emulator", "run the verifying AWS KMS emulator for the AWS CLI, SDKs and tests", runEmulator},
		{"version", "print the version", func(_ context.Context, _ []string, stdout, _ io.Writer) error {
			fmt.Fprintf(stdout, "byok %s\n", version)
			return nil
		}},
	}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
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
		err := c.run(ctx, args[1:], stdout, stderr)
		switch {
		case err == nil:
			return 0
		case errors.Is(err, flag.ErrHelp):
			return 0
		case errors.Is(err, errUsage):
			fmt.Fprintf(stderr, "byok %s: %v\n", c.name, err)
			return 2
		default:
			fmt.Fprintf(stderr, "byok %s: %v\n", c.name, err)
			return 1
		}
	}
	fmt.Fprintf(stderr, "byok: unknown command %q; run 'byok help' for the list\n", args[0])
	return 2
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "byok moves existing keys into AWS KMS as imported key material.")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Usage: byok <command> [flags]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Commands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-8s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Run 'byok <command> --help' for a command's flags and examples.")
}
