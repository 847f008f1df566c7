// Package offline is byok's offline import as library functions, the three
// steps AWS describes for importing key material from a host without AWS
// access
// (https://docs.aws.amazon.com/kms/latest/developerguide/importing-keys.html):
//
//   - Params, on a host with AWS access: create or find the KMS key, call
//     GetParametersForImport (or read the console's ImportParameters.zip)
//     and write the parameters directory;
//   - Wrap, on the host with the key and no AWS access: check the source
//     against the parameters and write EncryptedKeyMaterial.bin;
//   - Upload, on a host with AWS access: ImportKeyMaterial, then the proof.
//
// Each takes a typed input and returns a typed result; none parses flags or
// prints. What the CLI says while a step runs (progress, warnings, hints)
// and what it does about a KMS key a failed step leaves behind come in
// through Hooks. The errors speak the CLI's words (flags, commands), since
// the CLI is this package's only user; an error that is a mistake in what
// was asked for wraps ErrUsage.
package offline

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/byok-go/byok"
	"github.com/byok-go/byok/internal/params"
)

// ErrUsage marks a mistake in what the caller asked for (a flag, for the
// CLI: exit code 2).
var ErrUsage = errors.New("usage")

// Hooks are how a step talks to its caller while it runs. A nil hook does
// nothing (Hint and Left return the error unchanged).
type Hooks struct {
	// Say reports progress ("describing KMS key …").
	Say func(format string, a ...any)
	// Note and Warn report something the user should read: a fact, and a
	// warning.
	Note, Warn func(msg string)
	// Hint adds what to do next to an AWS error.
	Hint func(err error) error
}

func (h *Hooks) say(format string, a ...any) {
	if h.Say != nil {
		h.Say(format, a...)
	}
}

func (h *Hooks) note(format string, a ...any) {
	if h.Note != nil {
		h.Note(fmt.Sprintf(format, a...))
	}
}

func (h *Hooks) warn(format string, a ...any) {
	if h.Warn != nil {
		h.Warn(fmt.Sprintf(format, a...))
	}
}

func (h *Hooks) hint(err error) error {
	if h.Hint != nil {
		return h.Hint(err)
	}
	return err
}

// ReadConsoleZip reads the KMS console's ImportParameters.zip; alg is the
// wrapping algorithm chosen when downloading, needed when the zip's README
// does not name it.
func ReadConsoleZip(name string, alg byok.WrappingAlgorithm) (*params.Set, error) {
	set, err := params.ReadConsoleZipFile(name, alg)
	if err != nil {
		return nil, err
	}
	if set.Meta.Algorithm == "" {
		return nil, fmt.Errorf("%w: the console zip's README does not name the wrapping algorithm: pass --algorithm, the one chosen when downloading (RSAES_OAEP_SHA_256, RSA_AES_KEY_WRAP_SHA_256, RSAES_OAEP_SHA_1 or RSA_AES_KEY_WRAP_SHA_1)", ErrUsage)
	}
	return set, nil
}

// EffectiveUsage is the KMS key usage a KeyInfo stands for: its own, or
// the first its spec allows.
func EffectiveUsage(info byok.KeyInfo) byok.KeyUsage {
	if info.Usage != "" {
		return info.Usage
	}
	if u := info.Spec.Usages(); len(u) > 0 {
		return u[0]
	}
	return ""
}

// describeKey asks KMS for a key's spec and usage.
func describeKey(ctx context.Context, client byok.KMSAPI, keyID string) (byok.KeyInfo, error) {
	d, err := client.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: &keyID})
	if err != nil {
		return byok.KeyInfo{}, fmt.Errorf("DescribeKey %s: %w", keyID, err)
	}
	return byok.KeyInfo{Spec: byok.KeySpec(d.KeyMetadata.KeySpec), Usage: byok.KeyUsage(d.KeyMetadata.KeyUsage)}, nil
}

// CheckForcedWrapping refuses a forced wrapping algorithm (--algorithm,
// with --wrapping-key-spec) that AWS does not allow for the source key,
// naming the rule.
func CheckForcedWrapping(ctx context.Context, src byok.KeySource, im *byok.Importer) error {
	if im.Algorithm == "" {
		return nil
	}
	info, err := src.Describe(ctx)
	if err != nil {
		return err
	}
	w := im.WrappingKeySpec
	if w == "" {
		w = byok.WrappingRSA4096
	}
	if err := byok.CheckCompatible(info.Spec, im.Algorithm, w); err != nil {
		allowed := byok.AllowedAlgorithms(info.Spec)
		names := make([]string, len(allowed))
		for i, a := range allowed {
			names[i] = string(a)
		}
		return fmt.Errorf("--algorithm %s cannot carry an %s key (AWS allows %s): %w", im.Algorithm, info.Spec, strings.Join(names, ", "), err)
	}
	return nil
}

// FormatTime is how byok writes a time in messages: RFC 3339 in UTC, or
// "unknown" for the zero time.
func FormatTime(t time.Time) string {
	if t.IsZero() {
		return "unknown"
	}
	return t.UTC().Format(time.RFC3339)
}
