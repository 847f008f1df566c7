package gcpkms

import (
	"fmt"
	"strings"

	"github.com/byok-go/byok"
)

// OptionError is a refusal of one field of Options: by New (a malformed
// name, an unknown protection level or algorithm) or by a rule applied to
// the key (an algorithm that does not fit it, a protection level its
// algorithm lacks). Field names the Options field ("KeyRing", "KeyID",
// "ImportJobID", "ProtectionLevel", "Algorithm"), so that a caller with its
// own names for them (a command's flags, a manifest's fields) can name the
// one the user set; Value is the value refused, and Problem says what is
// wrong and what would work without naming any field. Err, when not nil, is
// the rule that refused the value (a *RuleError), which errors.Is and
// errors.As reach.
type OptionError struct {
	Field, Value, Problem string
	Err                   error
}

// fieldWords names the Options fields in words, for messages.
var fieldWords = map[string]string{
	"KeyRing":         "key ring",
	"KeyID":           "crypto key ID",
	"ImportJobID":     "import job ID",
	"ProtectionLevel": "protection level",
	"Algorithm":       "algorithm",
}

// Error names the field in words ("key ring", "algorithm"), not as a Go
// identifier, since the message may reach a user who never saw Options.
func (e *OptionError) Error() string {
	f := fieldWords[e.Field]
	if f == "" {
		f = e.Field
	}
	return fmt.Sprintf("gcpkms: %s %q: %s", f, e.Value, e.Problem)
}

// Unwrap returns the rule that refused the value, if any.
func (e *OptionError) Unwrap() error { return e.Err }

// optionRule wraps a rule's refusal of the value of an Options field;
// problem says what is wrong with the value without repeating it.
func optionRule(field, value, problem string, r *RuleError) *OptionError {
	p := problem + ": " + r.Rule.Error()
	if r.Fix != "" {
		p += "; " + r.Fix
	}
	return &OptionError{Field: field, Value: value, Problem: p, Err: r}
}

// KeyExistsError refuses an existing crypto key (Options.KeyID) whose
// purpose, version template algorithm or protection level is not the
// import's: the key is there, with another setting. It matches
// byok.ErrIncompatible with errors.Is.
type KeyExistsError struct {
	// Key is the crypto key's full name.
	Key string
	// What differs: "purpose", "algorithm" or "protection level".
	What string
	// Has is the key's setting, Wants the import's.
	Has, Wants string
	// Field is the Options field that could take the key's setting
	// ("Algorithm", "ProtectionLevel"), or "" (a purpose is not chosen
	// apart from the algorithm).
	Field string
}

func (e *KeyExistsError) Error() string {
	s := fmt.Sprintf("gcpkms: the crypto key %s already exists with %s %s; this import needs %s %s: import into another crypto key "+
		"(byok creates a missing one import-only, for this import)", e.Key, e.What, e.Has, e.What, e.Wants)
	switch e.Field {
	case "Algorithm":
		s += fmt.Sprintf(", or import as the key's algorithm %s, which fits the source key too", e.Has)
	case "ProtectionLevel":
		s += fmt.Sprintf(", or import at the key's protection level %s", e.Has)
	}
	return s
}

// Is matches byok.ErrIncompatible.
func (e *KeyExistsError) Is(target error) bool { return target == byok.ErrIncompatible }

// a returns s with its indefinite article: "an ECC_NIST_P521", "an RSA_4096",
// "an HMAC_256", "a SYMMETRIC_DEFAULT". A short all-capitals first word is
// read letter by letter (an RSA, an HMAC), a longer one as a word.
func a(s string) string {
	if s == "" {
		return s
	}
	word := strings.FieldsFunc(s, func(r rune) bool { return r == '_' || r == ' ' || r == '-' })[0]
	vowel := strings.ContainsRune("aeiouAEIOU", rune(word[0]))
	if len(word) <= 4 && word == strings.ToUpper(word) {
		vowel = strings.ContainsRune("AEFHILMNORSX", rune(word[0]))
	}
	if vowel {
		return "an " + s
	}
	return "a " + s
}

// material names key material of kind k: "RSA key material", "AES key
// material".
func material(k byok.MaterialKind) string {
	switch k {
	case byok.KindSymmetric:
		return "AES key material"
	case byok.KindHMAC:
		return "HMAC key material"
	case byok.KindRSA:
		return "RSA key material"
	case byok.KindEC:
		return "EC key material"
	}
	return k.String() + " material"
}

// wrappingKey says "an RSA_4096 wrapping key", or "any wrapping key".
func wrappingKey(wks byok.WrappingKeySpec) string {
	if wks == "" {
		return "any wrapping key"
	}
	return a(string(wks)) + " wrapping key"
}
