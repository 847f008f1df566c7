package azkv

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
)

// OptionError is New's refusal of one of its arguments. Field names it as
// the library does: "vaultURL" (New's argument), or an Options field
// ("KeyName", "KEKName", "KEKSize", "Tags"); a command line maps it to its
// own flag. Problem says what is wrong and what is wanted; Err, when not
// nil, is the rule broken (errors.Is finds it: RuleKEKSize).
type OptionError struct {
	Field   string
	Value   string
	Problem string
	Err     error
}

func (e *OptionError) Unwrap() error { return e.Err }

// optionWords names each OptionError field in an error's prose.
var optionWords = map[string]string{"vaultURL": "vault URL", "KeyName": "key name", "KEKName": "KEK name", "KEKSize": "KEK size", "Tags": "tags"}

func (e *OptionError) Error() string {
	what := optionWords[e.Field]
	if what == "" {
		what = e.Field
	}
	if e.Value == "" {
		return fmt.Sprintf("azkv: %s: %s", what, e.Problem)
	}
	return fmt.Sprintf("azkv: %s %q: %s", what, e.Value, e.Problem)
}

// CheckKeyName checks a name for the key to import (Options.KeyName): 1-127
// letters, digits and dashes
// (https://learn.microsoft.com/azure/key-vault/general/about-keys-secrets-certificates#object-identifiers).
// The error is an OptionError on KeyName.
func CheckKeyName(name string) error {
	if !keyNameRE.MatchString(name) {
		return &OptionError{Field: "KeyName", Value: name, Problem: "want 1-127 letters, digits and dashes"}
	}
	return nil
}

// KEKCreatedError is a failed import after the target created its key
// exchange key: the KEK holds no key of the user's, but it exists, and the
// error names it and how to remove it. Err is the failure.
type KEKCreatedError struct {
	KEK           string // the KEK's name
	RemoveCommand string // the Azure CLI command that removes it
	Err           error
}

func (e *KEKCreatedError) Error() string {
	return fmt.Sprintf("%v (byok created the key exchange key %s; remove it with: %s)", e.Err, e.KEK, e.RemoveCommand)
}

func (e *KEKCreatedError) Unwrap() error { return e.Err }

// withKEK returns err naming the KEK when this target created it.
func (t *Target) withKEK(err error) error {
	var done *KEKCreatedError
	kek := t.CreatedKEK()
	if err == nil || kek == "" || errors.As(err, &done) {
		return err
	}
	return &KEKCreatedError{KEK: kek, RemoveCommand: t.RemoveCommand(kek), Err: err}
}

// statusOf returns the HTTP status of an Azure error, 0 if err is none or
// came with no answer.
func statusOf(err error) int {
	var re *azcore.ResponseError
	if errors.As(err, &re) {
		return re.StatusCode
	}
	return 0
}

// throttleCodes are error codes of Key Vault answers refusing a request
// over its limits. Key Vault's throttling guidance
// (https://learn.microsoft.com/azure/key-vault/general/overview-throttling)
// and its REST error codes
// (https://learn.microsoft.com/azure/key-vault/general/rest-error-codes,
// "HTTP 429: Too Many Requests") document the status, 429; these codes
// are the ones such answers carry, taken as a throttle whatever the status
// a proxy may have put on them.
var throttleCodes = map[string]bool{"Throttled": true, "TooManyRequests": true}

// IsThrottled reports whether err is Key Vault refusing a request over its
// service limits (HTTP 429): the request was not carried out, and may be
// sent again after a pause. A migration paces the vault's requests on it
// (migrate.ThrottleClassifier).
func (t *Target) IsThrottled(err error) bool {
	var re *azcore.ResponseError
	if !errors.As(err, &re) {
		return false
	}
	return re.StatusCode == http.StatusTooManyRequests || throttleCodes[re.ErrorCode]
}

// maybeDone reports whether a failed request may still have been carried
// out by the vault: no answer came (a connection lost, a deadline), or the
// answer is one a gateway gives for a request it passed on without
// relaying the result (408, 5xx). Any other 4xx answer, 429 included, is
// the vault's refusal: nothing was done.
func maybeDone(err error) bool {
	s := statusOf(err)
	return s == 0 || s == http.StatusRequestTimeout || s >= 500
}
