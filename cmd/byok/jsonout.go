package main

// The JSON contract every --json document follows (docs/cli.md, "JSON
// output"; schemas in docs/schemas/): snake_case keys, durations in seconds
// as numbers whose keys end in _seconds, lists [] never null, times in
// RFC 3339, and every failure an object with an "error" object whose kind
// a script can switch on, printed on stdout with the exit code the same
// failure has without --json.

import (
	"context"
	"errors"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/aws/smithy-go"
	"github.com/byok-go/byok"
	"github.com/byok-go/byok/hsm"
)

// Error kinds: the "kind" of a JSON error object. Each maps to one exit
// code; docs/cli.md lists them.
const (
	kindUsage       = "usage"        // exit 2: the command line was wrong
	kindInput       = "input"        // exit 1: a file, key or value byok read is unusable
	kindHSM         = "hsm"          // exit 1: the PKCS#11 module, token, PIN or key refused
	kindAWS         = "aws"          // exit 1: an AWS call failed or AWS could not be reached
	kindInterrupted = "interrupted"  // exit 1: cancelled (Ctrl-C) or timed out
	kindFailed      = "failed"       // exit 1: the job failed for another reason
	kindProofFailed = "proof_failed" // exit 3: a check shows KMS does not hold the source key
	kindUnproven    = "unproven"     // exit 4: nothing failed, but nothing proved the import
	kindAttention   = "attention"    // exit 5: byok status: some key needs attention
)

// errorKinds lists every kind, for the schema test.
var errorKinds = []string{kindUsage, kindInput, kindHSM, kindAWS, kindInterrupted, kindFailed, kindProofFailed, kindUnproven, kindAttention}

// errorOut is the "error" object of a failed command's JSON document.
type errorOut struct {
	// Message is what byok prints on stderr without --json: what failed,
	// why, and what to do.
	Message string `json:"message"`
	// Kind is one of the kinds above.
	Kind string `json:"kind"`
	// ExitCode is byok's exit status for this failure.
	ExitCode int `json:"exit_code"`
	// KeyARN is the KMS key the failure concerns, when there is one.
	KeyARN string `json:"key_arn,omitempty"`
	// LeftKey is a KMS key this run created (or reused) and left behind,
	// with the command that removes it.
	LeftKey *leftKey `json:"left_key,omitempty"`
}

// newErrorOut describes err in the JSON contract; keyARN names the KMS key
// concerned (or ""), lk the key left behind (or nil).
func newErrorOut(err error, keyARN string, lk *leftKey) *errorOut {
	if err == nil {
		return nil
	}
	if keyARN == "" && lk != nil {
		keyARN = lk.KeyARN
	}
	kind := errorKind(err)
	return &errorOut{Message: err.Error(), Kind: kind, ExitCode: kindExit(kind), KeyARN: keyARN, LeftKey: lk}
}

// errorKind classifies err for scripts; the order puts the proof's verdict
// and the command line first, as the exit code does.
func errorKind(err error) string {
	var (
		api   smithy.APIError
		op    *smithy.OperationError
		path  *os.PathError
		numEr *strconv.NumError
	)
	switch {
	case errors.Is(err, errUsage):
		return kindUsage
	case errors.Is(err, errAttention):
		return kindAttention
	case errors.Is(err, byok.ErrVerification):
		return kindProofFailed
	case errors.Is(err, byok.ErrUnproven):
		return kindUnproven
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return kindInterrupted
	case errors.As(err, &api), errors.As(err, &op):
		return kindAWS
	case errors.Is(err, hsm.ErrModuleNotFound), errors.Is(err, hsm.ErrModuleNotLoadable), errors.Is(err, hsm.ErrTokenNotFound),
		errors.Is(err, hsm.ErrKeyNotFound), errors.Is(err, hsm.ErrAmbiguousKey), errors.Is(err, hsm.ErrNotExtractable),
		errors.Is(err, hsm.ErrNotWrappable), errors.Is(err, hsm.ErrMechanism), errors.Is(err, hsm.ErrPINIncorrect),
		errors.Is(err, hsm.ErrPINLocked), errors.Is(err, hsm.ErrPINExpired), errors.Is(err, hsm.ErrNotLoggedIn),
		errors.Is(err, hsm.ErrNotPermitted):
		return kindHSM
	case errors.Is(err, byok.ErrNotImportable), errors.Is(err, byok.ErrUnknownKeySpec), errors.Is(err, byok.ErrInvalidMaterial),
		errors.Is(err, byok.ErrIncompatible), errors.Is(err, byok.ErrUnknownAlgorithm), errors.Is(err, byok.ErrDeprecatedAlgorithm),
		errors.As(err, &path), errors.As(err, &numEr):
		return kindInput
	}
	return kindFailed
}

// kindExit is the exit code of a kind.
func kindExit(kind string) int {
	switch kind {
	case kindUsage:
		return 2
	case kindProofFailed:
		return 3
	case kindUnproven:
		return 4
	case kindAttention:
		return exitAttention
	}
	return 1
}

// exitCode is byok's exit status for a command's error.
func exitCode(err error) int {
	if err == nil {
		return 0
	}
	return kindExit(errorKind(err))
}

// failureDoc is the document printed under --json for a failure the
// command did not describe itself (a usage error, a failure before the
// command had anything to report).
type failureDoc struct {
	OK    bool      `json:"ok"`
	Error *errorOut `json:"error"`
}

// jsonRequested reports whether args ask for JSON output (--json, -json or
// --json=true before any "--"); it reads the raw arguments, so a usage
// error found before --json was parsed is still reported in JSON.
func jsonRequested(args []string) bool {
	on := false
	for _, a := range args {
		if a == "--" {
			break
		}
		name, val, hasVal := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !strings.HasPrefix(a, "-") || name != "json" {
			continue
		}
		on = true
		if hasVal {
			on, _ = strconv.ParseBool(val)
		}
	}
	return on
}

// countingWriter counts what a command writes, so that run knows whether
// the command printed its own JSON document.
type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
