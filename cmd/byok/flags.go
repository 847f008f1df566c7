package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/byok-go/byok"
	"github.com/byok-go/byok/internal/readfile"
	"github.com/byok-go/byok/internal/validto"
)

// newFlagSet returns a FlagSet whose Usage prints usage (a synopsis, a
// description and examples) and then the flags.
func newFlagSet(name, usage string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, strings.TrimSpace(usage))
		fmt.Fprintln(stderr, "\nFlags:")
		printFlags(stderr, fs)
	}
	return fs
}

// printFlags lists the flags as --name METAVAR, the AWS CLI's spelling (the
// flag package accepts one dash or two), with the default when it is not
// the zero value. A usage without a `METAVAR` gets one from the flag name
// (--alias ALIAS), never a Go type name.
func printFlags(w io.Writer, fs *flag.FlagSet) {
	fs.VisitAll(func(f *flag.Flag) {
		name, usage := flag.UnquoteUsage(f)
		switch name {
		case "":
		case "string", "value", "int", "uint", "int64", "uint64", "float", "duration":
			name = " " + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		default:
			name = " " + name
		}
		if d := f.DefValue; d != "" && d != "false" && d != "0" && !strings.Contains(usage, "default") {
			usage += fmt.Sprintf(" (default %s)", d)
		}
		fmt.Fprintf(w, "  --%s%s\n%s", f.Name, name, wrapText(usage, "        ", 100))
	})
}

// wrapText breaks s into lines of at most width columns (words longer than
// that stay whole), each starting with indent and ending in a newline.
func wrapText(s, indent string, width int) string {
	var b strings.Builder
	line := indent
	for _, word := range strings.Fields(s) {
		if line != indent && len(line)+1+len(word) > width {
			b.WriteString(line + "\n")
			line = indent
		}
		if line != indent {
			line += " "
		}
		line += word
	}
	b.WriteString(line + "\n")
	return b.String()
}

// parseArgs parses args with fs, allowing flags after positional arguments
// (`byok import key.pem --alias app`), as the AWS CLI and pkcs11-tool do.
// Everything after "--" is positional. It returns the positional
// arguments; errors other than flag.ErrHelp wrap errUsage.
func parseArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	var rest []string
	for i, a := range args {
		if a == "--" {
			args, rest = args[:i], args[i+1:]
			break
		}
	}
	// The flag package prints the error and the whole usage on any
	// mistake; print the usage on -h only, and let run() print the error.
	out, full := fs.Output(), fs.Usage
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	defer func() { fs.SetOutput(out); fs.Usage = full }()
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				fs.SetOutput(out)
				full()
				return nil, err
			}
			return nil, fmt.Errorf("%w: %v", errUsage, err)
		}
		args = fs.Args()
		if len(args) == 0 {
			break
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
	return append(pos, rest...), nil
}

// noArgs fails with errUsage if there are positional arguments.
func noArgs(pos []string) error {
	if len(pos) > 0 {
		return fmt.Errorf("%w: unexpected argument %q", errUsage, pos[0])
	}
	return nil
}

// kvFlag is a repeatable KEY=VALUE flag.
type kvFlag map[string]string

func (f *kvFlag) String() string {
	if f == nil || *f == nil {
		return ""
	}
	keys := make([]string, 0, len(*f))
	for k := range *f {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%s=%s", k, (*f)[k])
	}
	return b.String()
}

func (f *kvFlag) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if !ok || k == "" {
		return fmt.Errorf("want KEY=VALUE, got %q", s)
	}
	if *f == nil {
		*f = map[string]string{}
	}
	if _, dup := (*f)[k]; dup {
		return fmt.Errorf("%s is given twice", k)
	}
	(*f)[k] = v
	return nil
}

// expiryFlags are --valid-to and --no-expiry.
type expiryFlags struct {
	validTo  string
	noExpiry bool
}

func (e *expiryFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&e.validTo, "valid-to", "", "make the key material expire at `TIME`: an RFC 3339 time (2027-01-31T00:00:00Z), a date (2027-01-31, midnight UTC) or +DURATION from now (+90d, +36h); at most 365 days ahead. KMS deletes expired material: the key is unusable until it is imported again")
	fs.BoolVar(&e.noExpiry, "no-expiry", false, "the key material does not expire (KEY_MATERIAL_DOES_NOT_EXPIRE); the default")
}

// resolve returns the expiry time, zero for no expiry.
func (e *expiryFlags) resolve(now time.Time) (time.Time, error) {
	if e.validTo == "" {
		return time.Time{}, nil
	}
	if e.noExpiry {
		return time.Time{}, fmt.Errorf("%w: --valid-to and --no-expiry contradict each other; give one", errUsage)
	}
	t, err := validto.Parse(e.validTo, now)
	if err != nil {
		return time.Time{}, fmt.Errorf("%w: --valid-to %s: %v", errUsage, e.validTo, err)
	}
	return t, nil
}

func expirationModel(validTo time.Time) string {
	if validTo.IsZero() {
		return "KEY_MATERIAL_DOES_NOT_EXPIRE"
	}
	return "KEY_MATERIAL_EXPIRES"
}

// wrappingFlags are --algorithm and --wrapping-key-spec.
type wrappingFlags struct {
	algorithm, wrappingKeySpec string
}

func (w *wrappingFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&w.algorithm, "algorithm", "", "force the wrapping algorithm `ALG`: RSAES_OAEP_SHA_256, RSA_AES_KEY_WRAP_SHA_256, RSAES_OAEP_SHA_1 or RSA_AES_KEY_WRAP_SHA_1 (default: the best one the key spec and the source allow)")
	fs.StringVar(&w.wrappingKeySpec, "wrapping-key-spec", "", "force the wrapping key `SPEC`: RSA_4096, RSA_3072 or RSA_2048 (default: RSA_4096)")
}

func (w *wrappingFlags) importer() (*byok.Importer, error) {
	im := &byok.Importer{}
	if w.algorithm != "" {
		a, err := byok.ParseWrappingAlgorithm(w.algorithm)
		if err != nil {
			return nil, fmt.Errorf("%w: --algorithm: %v", errUsage, err)
		}
		im.Algorithm = a
	}
	if w.wrappingKeySpec != "" {
		s, err := byok.ParseWrappingKeySpec(w.wrappingKeySpec)
		if err != nil {
			return nil, fmt.Errorf("%w: --wrapping-key-spec: %v", errUsage, err)
		}
		im.WrappingKeySpec = s
	}
	return im, nil
}

// readSmallFile reads a file given to flagName (--policy, --public-key): a
// regular file of at most limit bytes, what it should be named in errors.
// Devices, FIFOs and directories are refused without being read.
func readSmallFile(flagName, name, what string, limit int64) ([]byte, error) {
	b, err := readfile.ReadFile(name, what, limit)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", errUsage, flagName, err)
	}
	return b, nil
}

// newKeyFlags are the flags that describe a KMS key byok creates (import,
// params).
type newKeyFlags struct {
	alias, description, policyFile string
	tags                           kvFlag
	multiRegion                    bool
}

func (k *newKeyFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&k.alias, "alias", "", "new key: its alias `NAME` (alias/ is added if missing); an alias an interrupted run left on a PendingImport key of the same spec and usage is reused, any other is refused before anything is created")
	fs.StringVar(&k.description, "description", "", "new key: its description `TEXT` (default: \"imported by byok from SOURCE (FINGERPRINT)\")")
	fs.Var(&k.tags, "tag", "new key: a `KEY=VALUE` tag (repeatable)")
	fs.StringVar(&k.policyFile, "policy", "", "new key: key policy JSON `FILE` (default: KMS's default key policy)")
	fs.BoolVar(&k.multiRegion, "multi-region", false, "new key: a multi-Region primary key")
}

// set reports whether any new-key flag was given.
func (k *newKeyFlags) set() bool {
	return k.alias != "" || k.description != "" || len(k.tags) > 0 || k.policyFile != "" || k.multiRegion
}

// policy reads and checks the --policy file; "" when none was given.
func (k *newKeyFlags) policy() (string, error) {
	if k.policyFile == "" {
		return "", nil
	}
	b, err := readSmallFile("--policy", k.policyFile, "key policy JSON file", readfile.Policy)
	if err != nil {
		return "", err
	}
	if !json.Valid(b) {
		return "", fmt.Errorf("%w: --policy %s is not JSON; a key policy is a JSON document", errUsage, k.policyFile)
	}
	return string(b), nil
}
