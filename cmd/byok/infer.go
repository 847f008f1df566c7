package main

import (
	"sort"
	"strings"

	"github.com/byok-go/byok"
)

// inferKeySpec takes the key spec of a raw, hex or base64 AES or HMAC key
// file from what is already known (the parameters file, or DescribeKey of
// the KMS key) when --key-spec was not given: the user said it once, to
// byok params or to KMS, and need not say it again. RSA and EC key files
// carry their spec, so only secret key specs are taken.
func (s *sourceFlags) inferKeySpec(spec byok.KeySpec) {
	if s.keySpec != "" || spec == "" {
		return
	}
	if k := spec.Kind(); k == byok.KindSymmetric || k == byok.KindHMAC {
		s.keySpec = string(spec)
	}
}

// shellQuote quotes s for a POSIX shell when it needs quoting.
func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./:=@%+,", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// sourceArgs returns the source and the flags that reach it again, as a
// shell command line fragment that can be pasted into the next step's
// command (the key spec, inferred there, is left out).
func (s *sourceFlags) sourceArgs() string {
	return "--source " + s.positionalArgs()
}

// positionalArgs is sourceArgs for a command taking the source as its
// argument (byok verify): the source, then the flags that reach it again,
// --key-format included, so that a printed command runs as printed.
func (s *sourceFlags) positionalArgs() string {
	a := []string{shellQuote(s.shown())}
	add := func(flag, v string) {
		if v != "" {
			a = append(a, flag, shellQuote(v))
		}
	}
	add("--driver", s.driver)
	add("--module", s.module)
	add("--token", s.token)
	add("--pin-env", s.pinEnv)
	add("--pin-file", s.pinFile)
	add("--passphrase-env", s.passEnv)
	add("--passphrase-file", s.passFile)
	add("--key-format", s.keyFormat)
	keys := make([]string, 0, len(s.driverOpts))
	for k := range s.driverOpts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		add("--driver-option", k+"="+s.driverOpts[k])
	}
	return strings.Join(a, " ")
}
