package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"

	"github.com/byok-go/byok"
	"github.com/byok-go/byok/driver"
	"github.com/byok-go/byok/internal/readfile"
	"github.com/decred/dcrd/dcrec/secp256k1/v4"
	"golang.org/x/term"
)

// hsmDrivers are the PKCS#11 drivers: --driver may name one of them for a
// pkcs11: URI or an HSM object selector.
var hsmDrivers = []string{"pkcs11", "softhsm", "cloudhsm", "luna", "opencryptoki"}

// sourceFlags say which key to use and how to reach it. PINs and
// passphrases come from the environment, a file or a prompt; there is
// deliberately no flag that takes one as a value.
type sourceFlags struct {
	source     string
	driver     string
	module     string
	token      string
	pinEnv     string
	pinFile    string
	passEnv    string
	passFile   string
	keySpec    string
	keyFormat  string
	usage      string
	driverOpts kvFlag
}

func (s *sourceFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&s.source, "source", "", "the `SOURCE` key: a key file path or a pkcs11: URI (or give it as the argument)")
	fs.StringVar(&s.driver, "driver", "", "key source driver `NAME`: software, or a PKCS#11 driver ("+strings.Join(hsmDrivers, ", ")+"). Default: software for a file, pkcs11 for a pkcs11: URI, label=, id= or handle=")
	fs.StringVar(&s.module, "module", "", "PKCS#11 module (library) `PATH`; default: the driver's")
	fs.StringVar(&s.token, "token", "", "PKCS#11 token `LABEL`; default: the URI's token, or the only token")
	fs.StringVar(&s.pinEnv, "pin-env", "", "read the HSM PIN from the environment variable `NAME` (CloudHSM: user:password)")
	fs.StringVar(&s.pinFile, "pin-file", "", "read the HSM PIN from the first line of the file at `PATH`")
	fs.StringVar(&s.passEnv, "passphrase-env", "", "read an encrypted key file's passphrase from the environment variable `NAME`")
	fs.StringVar(&s.passFile, "passphrase-file", "", "read an encrypted key file's passphrase from the first line of the file at `PATH`")
	fs.StringVar(&s.keySpec, "key-spec", "", "the key `SPEC`: required for raw, hex or base64 AES and HMAC key files (SYMMETRIC_DEFAULT, HMAC_256, …); checked against the key otherwise")
	fs.StringVar(&s.keyFormat, "key-format", "", "how a raw AES or HMAC key file is encoded: `FORMAT` raw, hex or base64 (required when its bytes read both ways, e.g. 32 hex digits as SYMMETRIC_DEFAULT)")
	fs.StringVar(&s.usage, "usage", "", "the KMS key `USAGE` (default: the spec's usual one; e.g. ENCRYPT_DECRYPT for an RSA encryption key)")
	fs.Var(&s.driverOpts, "driver-option", "a driver-specific `KEY=VALUE` setting (repeatable)")
}

// sourceHelp is the part of every source-taking command's help about
// sources and secrets.
const sourceHelp = `The source is a key file (PEM or DER: PKCS#8, PKCS#1, SEC 1, encrypted
PKCS#8, PKCS#12; raw, hex or base64 AES and HMAC keys with --key-spec, and
--key-format when the bytes read more than one way) or an HSM
object: a pkcs11: URI (pkcs11:token=prod;object=signing-key;type=private),
label=NAME, id=HEX or handle=N, with --driver, --module and --token.
PINs and passphrases are never command-line arguments: use --pin-env NAME,
--pin-file PATH (or --passphrase-env / --passphrase-file); without them
byok asks on the terminal, with echo off.`

// parse parses a command's arguments with fs and takes the one SOURCE the
// command needs from the positional ones.
func (s *sourceFlags) parse(fs *flag.FlagSet, args []string) error {
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	return s.setPositional(pos, true)
}

// setPositional takes the source from the positional arguments.
func (s *sourceFlags) setPositional(pos []string, required bool) error {
	for _, p := range append([]string{s.source}, pos...) {
		if err := refusePINInSource(p); err != nil {
			return err
		}
	}
	switch {
	case len(pos) > 1:
		return fmt.Errorf("%w: one source key at a time; unexpected argument %q", errUsage, pos[1])
	case len(pos) == 1 && s.source != "" && s.source != pos[0]:
		return fmt.Errorf("%w: the source is given twice (%q and --source %q)", errUsage, redactSource(pos[0]), redactSource(s.source))
	case len(pos) == 1:
		s.source = pos[0]
	}
	if required && s.source == "" {
		return fmt.Errorf("%w: no source key: give a key file or pkcs11: URI", errUsage)
	}
	return refusePINInSource(s.source)
}

// isHSMSelector reports whether key names an HSM object rather than a file.
func isHSMSelector(key string) bool {
	if strings.HasPrefix(strings.ToLower(key), "pkcs11:") {
		return true
	}
	for _, p := range []string{"label=", "id=", "handle="} {
		if strings.HasPrefix(key, p) {
			if _, err := os.Stat(key); err != nil {
				return true
			}
		}
	}
	return false
}

// driverName returns the driver to open the source with.
func (s *sourceFlags) driverName() string {
	if s.driver != "" {
		return s.driver
	}
	if isHSMSelector(s.source) || s.module != "" || s.token != "" {
		return "pkcs11"
	}
	return "software"
}

// validate checks the flags that need no I/O.
func (s *sourceFlags) validate() error {
	if s.pinEnv != "" && s.pinFile != "" {
		return fmt.Errorf("%w: give --pin-env or --pin-file, not both", errUsage)
	}
	if s.passEnv != "" && s.passFile != "" {
		return fmt.Errorf("%w: give --passphrase-env or --passphrase-file, not both", errUsage)
	}
	if s.keySpec != "" {
		if err := byok.KeySpec(s.keySpec).Validate(); err != nil {
			return fmt.Errorf("%w: --key-spec: %v", errUsage, err)
		}
	}
	if _, err := byok.ParseSecretFormat(s.keyFormat); err != nil {
		return fmt.Errorf("%w: --key-format %q: want raw, hex or base64", errUsage, s.keyFormat)
	}
	if _, dup := s.driverOpts[softwareFormatOption]; dup && s.keyFormat != "" {
		return fmt.Errorf("%w: give --key-format or --driver-option %s=…, not both", errUsage, softwareFormatOption)
	}
	if s.usage != "" && !slices.Contains([]byok.KeyUsage{byok.EncryptDecrypt, byok.SignVerify, byok.GenerateVerifyMAC, byok.KeyAgreement}, byok.KeyUsage(s.usage)) {
		return fmt.Errorf("%w: --usage %q: want ENCRYPT_DECRYPT, SIGN_VERIFY, GENERATE_VERIFY_MAC or KEY_AGREEMENT", errUsage, s.usage)
	}
	if s.source == "" {
		return nil
	}
	if err := refusePINInSource(s.source); err != nil {
		return err
	}
	name := s.driverName()
	if !slices.Contains(driver.Drivers(), name) {
		if slices.Contains(hsmDrivers, name) {
			return fmt.Errorf("driver %q is not in this build of byok (it has: %s): the PKCS#11 drivers come with byok's HSM support; until then use a key file with the software driver", name, strings.Join(driver.Drivers(), ", "))
		}
		return fmt.Errorf("%w: --driver %q: unknown driver; this build has: %s", errUsage, name, strings.Join(driver.Drivers(), ", "))
	}
	if name == "software" && (s.module != "" || s.token != "" || s.pinEnv != "" || s.pinFile != "") {
		return fmt.Errorf("%w: --module, --token, --pin-env and --pin-file are for HSM sources; %s is opened as a key file (pass --driver to use an HSM)", errUsage, s.shown())
	}
	if name != "software" && s.keyFormat != "" {
		return fmt.Errorf("%w: --key-format is for raw AES and HMAC key files; %s is an HSM key", errUsage, s.source)
	}
	return nil
}

// open opens the source. Progress and prompts go to stderr.
func (s *sourceFlags) open(ctx context.Context, stderr io.Writer) (driver.Source, error) {
	if err := s.validate(); err != nil {
		return nil, err
	}
	name := s.driverName()
	cfg := driver.Config{Key: s.source, Module: s.module, Token: s.token,
		KeySpec: byok.KeySpec(s.keySpec), Usage: byok.KeyUsage(s.usage), Options: s.driverOpts}
	if s.keyFormat != "" {
		cfg.Options = maps.Clone(s.driverOpts)
		if cfg.Options == nil {
			cfg.Options = map[string]string{}
		}
		cfg.Options[softwareFormatOption] = s.keyFormat
	}
	if name != "software" {
		switch {
		case s.pinEnv != "":
			cfg.PIN = driver.PINFromEnv(s.pinEnv)
		case s.pinFile != "":
			cfg.PIN = fileSecret("--pin-file", s.pinFile)
		default:
			cfg.PIN = terminalSecret("PIN for "+s.shown()+": ", "the HSM PIN", "--pin-env NAME or --pin-file PATH", stderr)
		}
	}
	switch {
	case s.passEnv != "":
		cfg.Passphrase = driver.PINFromEnv(s.passEnv)
	case s.passFile != "":
		cfg.Passphrase = fileSecret("--passphrase-file", s.passFile)
	}
	src, err := driver.Open(ctx, name, cfg)
	if err != nil && errors.Is(err, byok.ErrEncrypted) && cfg.Passphrase == nil {
		if !stdinIsTerminal() {
			return nil, fmt.Errorf("%w\n  what to do: the key file is encrypted: pass --passphrase-env NAME or --passphrase-file PATH (or run byok on a terminal to be asked)", err)
		}
		cfg.Passphrase = terminalSecret("Passphrase for "+s.shown()+": ", "the passphrase", "--passphrase-env NAME or --passphrase-file PATH", stderr)
		src, err = driver.Open(ctx, name, cfg)
	}
	if err != nil {
		if name != "software" && s.module == "" && strings.Contains(err.Error(), "library path") {
			return nil, &hintedError{err, "pass the PKCS#11 library with --module PATH"}
		}
		return nil, keyFileHint(err)
	}
	return src, nil
}

// softwareFormatOption is the software driver's option for the encoding of
// a secret key file, which --key-format sets.
const softwareFormatOption = "key_format"

// keyFileHint adds what to do, in flags, to an error loading a key file:
// the library's messages name the fix in its own terms (the key spec, the
// key format), the CLI's in flags.
func keyFileHint(err error) error {
	msg := err.Error()
	switch {
	case errors.Is(err, byok.ErrAmbiguousEncoding):
		return &hintedError{err, "say how the file is encoded: --key-format raw, --key-format hex or --key-format base64"}
	case errors.Is(err, byok.ErrWrongPassphrase):
		return &hintedError{err, "check the passphrase given with --passphrase-file, --passphrase-env or at the prompt"}
	case errors.Is(err, byok.ErrSpecMismatch):
		return &hintedError{err, "give the --key-spec the file holds, or leave --key-spec out for an RSA or EC key file"}
	case strings.Contains(msg, "give its key spec"), strings.Contains(msg, "does not name its curve"):
		return &hintedError{err, "give the key's spec with --key-spec (SYMMETRIC_DEFAULT or HMAC_* for a raw, hex or base64 secret key)"}
	case strings.Contains(msg, "a key format ("):
		return &hintedError{err, "leave --key-format out for RSA and EC key files; with a raw key file give --key-spec too"}
	}
	return err
}

// fileSecret reads a PIN or passphrase from the file given to flagName,
// naming the flag in errors (the file's size and type are checked by
// driver.PINFromFile).
func fileSecret(flagName, path string) driver.PINSource {
	src := driver.PINFromFile(path)
	return driver.PINFunc(func(ctx context.Context) ([]byte, error) {
		b, err := src.PIN(ctx)
		if err != nil {
			return nil, fmt.Errorf("%w: %s %s: %v", errUsage, flagName, path, strings.TrimPrefix(err.Error(), "driver: "))
		}
		return b, nil
	})
}

// label describes the source for output: "key.pem (software)".
func (s *sourceFlags) label() string {
	return fmt.Sprintf("%s (%s driver)", s.shown(), s.driverName())
}

func stdinIsTerminal() bool { return term.IsTerminal(int(os.Stdin.Fd())) }

// terminalSecret asks for a secret on the terminal with echo off. Without a
// terminal it fails, naming the flags that supply the secret instead.
func terminalSecret(prompt, what, flags string, stderr io.Writer) driver.PINSource {
	return driver.PINFunc(func(context.Context) ([]byte, error) {
		fd := int(os.Stdin.Fd())
		if !term.IsTerminal(fd) {
			return nil, fmt.Errorf("%s is needed and standard input is not a terminal to ask on: pass %s (byok never takes secrets as arguments)", what, flags)
		}
		fmt.Fprint(stderr, prompt)
		b, err := term.ReadPassword(fd)
		fmt.Fprintln(stderr)
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", what, err)
		}
		if len(b) == 0 {
			return nil, fmt.Errorf("no %s was entered", what)
		}
		return b, nil
	})
}

// specOfPublicKey returns the KMS key spec of a DER SubjectPublicKeyInfo.
func specOfPublicKey(der []byte) (byok.KeySpec, error) {
	pub, err := byok.ParsePublicKeyDER(der)
	if err != nil {
		return "", err
	}
	switch k := pub.(type) {
	case *rsa.PublicKey:
		spec := byok.KeySpec(fmt.Sprintf("RSA_%d", k.N.BitLen()))
		if spec.Validate() != nil {
			return "", fmt.Errorf("a %d-bit RSA public key: KMS imports RSA keys of 2048, 3072 or 4096 bits", k.N.BitLen())
		}
		return spec, nil
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256():
			return byok.ECCNISTP256, nil
		case elliptic.P384():
			return byok.ECCNISTP384, nil
		case elliptic.P521():
			return byok.ECCNISTP521, nil
		}
	case *secp256k1.PublicKey:
		return byok.ECCSECGP256K1, nil
	}
	return "", fmt.Errorf("a %T is not a key KMS imports", pub)
}

// readPublicKey reads a public key file (PEM "PUBLIC KEY" or DER
// SubjectPublicKeyInfo, as `openssl pkey -pubout` writes it) and returns its
// DER, key spec and fingerprint (as byok computes it for the private key).
func readPublicKey(name string) ([]byte, byok.KeySpec, string, error) {
	b, err := readSmallFile("--public-key", name, "public key file", readfile.PublicKey)
	if err != nil {
		return nil, "", "", err
	}
	if blk, _ := pem.Decode(b); blk != nil {
		if blk.Type != "PUBLIC KEY" {
			return nil, "", "", fmt.Errorf("%w: --public-key %s holds a %q PEM block; want PUBLIC KEY (openssl pkey -pubout)", errUsage, name, blk.Type)
		}
		b = blk.Bytes
	}
	spec, err := specOfPublicKey(b)
	if err != nil {
		return nil, "", "", fmt.Errorf("%w: --public-key %s: %v", errUsage, name, err)
	}
	sum := sha256.Sum256(b)
	return b, spec, "sha256:" + hex.EncodeToString(sum[:]), nil
}
