package main

import (
	"fmt"
	"regexp"
	"strings"
)

// A PKCS#11 URI may carry the PIN in its query (RFC 7512 section 2.4,
// pin-value=). byok never takes a PIN from the command line: such a URI is
// refused before anything is printed, and every place that shows a source
// shows it through redactSource, so that not even an error echoes the PIN.

// pinValue matches a pin-value attribute and its value, up to the next
// attribute separator (& in the query, ; in the path).
var pinValue = regexp.MustCompile(`(?i)(pin(?:-|%2d)value=)[^&;]*`)

// redactSource returns s with the value of any pin-value attribute replaced.
func redactSource(s string) string {
	return pinValue.ReplaceAllString(s, "${1}REDACTED")
}

// refusePINInSource refuses a source that carries a PIN. The message names
// the attribute and the fix, never the value.
func refusePINInSource(s string) error {
	if l := strings.ToLower(s); !strings.Contains(l, "pin-value") && !strings.Contains(l, "pin%2dvalue") {
		return nil
	}
	return fmt.Errorf("%w: the source %s carries a PIN (pin-value=): byok never takes a PIN on the command line, where other users and the shell history see it. Remove pin-value from the URI and pass the PIN with --pin-env NAME or --pin-file PATH (or let byok ask on the terminal)", errUsage, redactSource(s))
}

// shown is the source as byok prints it: a PIN in a URI never appears.
func (s *sourceFlags) shown() string { return redactSource(s.source) }
