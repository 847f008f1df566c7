package byok

import (
	"encoding/json"
	"fmt"
	"strings"
)

// Verdict is the outcome of a proof that a KMS key holds a source key.
type Verdict string

const (
	// VerdictPassed: at least one identity check ran and passed, and no
	// check failed. KMS holds the source key.
	VerdictPassed Verdict = "PASSED"
	// VerdictFailed: a check failed. The KMS key is not (or does not behave
	// as) the source key; do not use it.
	VerdictFailed Verdict = "FAILED"
	// VerdictUnproven: no check failed, but no identity check could run (a
	// call was denied, the key's state forbids it, the source cannot wrap or
	// MAC, the caller declined the re-import, or the proof stopped on an
	// error). Nothing shows that KMS holds the source key. It is not PASSED.
	VerdictUnproven Verdict = "UNPROVEN"
)

// Check is one step of a verification.
type Check struct {
	// Name says what was checked, e.g. "GetPublicKey equals the source
	// public key". Names are stable; details vary.
	Name string `json:"name"`
	// OK is the outcome.
	OK bool `json:"ok"`
	// Detail says why a check failed, or how a passed one was done.
	Detail string `json:"detail"`
	// Identity is true for a check that, passing, shows that KMS holds the
	// source key itself (a public key KMS derived from the imported private
	// key, a signature or MAC only that key makes, KMS accepting the
	// source's material again). It is false for a usability check that any
	// working key passes, such as an Encrypt/Decrypt round trip. Only
	// identity checks can make a verdict PASSED.
	Identity bool `json:"identity"`
}

// Verification is the outcome of proving an import. Verdict is PASSED only
// when at least one identity check passed and no check failed; Verified is
// Verdict == VerdictPassed, kept for compatibility.
type Verification struct {
	Verdict  Verdict
	Verified bool
	Checks   []Check
	// Skipped lists what could not be checked, and why (for example, a
	// source that cannot sign cannot have its signature verified by KMS).
	Skipped []string

	// incomplete is set when the proof stopped on an error.
	incomplete bool
}

// MarshalJSON writes the verification with snake_case keys, the verdict
// always set and "checks" and "skipped" as [] rather than null.
func (v Verification) MarshalJSON() ([]byte, error) {
	out := struct {
		Verdict  Verdict  `json:"verdict"`
		Verified bool     `json:"verified"`
		Checks   []Check  `json:"checks"`
		Skipped  []string `json:"skipped"`
	}{v.Verdict, v.Verified, v.Checks, v.Skipped}
	if out.Verdict == "" {
		out.Verdict = VerdictUnproven
	}
	if out.Checks == nil {
		out.Checks = []Check{}
	}
	if out.Skipped == nil {
		out.Skipped = []string{}
	}
	return json.Marshal(out)
}

// Add records a check and settles the verdict again.
func (v *Verification) Add(c Check) {
	v.Checks = append(v.Checks, c)
	v.settle()
}

// Skip records a step that could not run, and why.
func (v *Verification) Skip(reason string) {
	v.Skipped = append(v.Skipped, reason)
	v.settle()
}

// Record records a check named name whose outcome is err (nil: passed;
// otherwise the check failed and err is its detail), an identity check or
// not, and settles the verdict again. Targets' verifiers use it.
func (v *Verification) Record(name string, identity bool, err error) {
	c := Check{Name: name, OK: err == nil, Identity: identity}
	if err != nil {
		c.Detail = err.Error()
	}
	v.Add(c)
}

// interrupt records that the proof stopped on err: the verdict can no
// longer be PASSED.
func (v *Verification) interrupt(err error) {
	v.incomplete = true
	v.Skip("the proof stopped: " + err.Error())
}

// settle computes Verdict and Verified from the checks.
func (v *Verification) settle() {
	proven := false
	v.Verdict = VerdictUnproven
	for _, c := range v.Checks {
		if !c.OK {
			v.Verdict = VerdictFailed
			v.Verified = false
			return
		}
		proven = proven || c.Identity
	}
	if proven && !v.incomplete {
		v.Verdict = VerdictPassed
	}
	v.Verified = v.Verdict == VerdictPassed
}

// Failures returns the checks that failed.
func (v *Verification) Failures() []Check {
	var f []Check
	for _, c := range v.Checks {
		if !c.OK {
			f = append(f, c)
		}
	}
	return f
}

// Err returns nil for a PASSED verification; for a FAILED one an error
// wrapping ErrVerification that names key and every failed check; for an
// UNPROVEN one an error wrapping ErrUnproven that says what could not run.
func (v *Verification) Err(key string) error {
	v.settle()
	switch v.Verdict {
	case VerdictPassed:
		return nil
	case VerdictFailed:
		var s []string
		for _, c := range v.Failures() {
			s = append(s, c.Name+": "+c.Detail)
		}
		return fmt.Errorf("%w: %s: %s", ErrVerification, key, strings.Join(s, "; "))
	}
	why := "no check that proves identity could run"
	if len(v.Skipped) > 0 {
		why += " (" + strings.Join(v.Skipped, "; ") + ")"
	}
	return fmt.Errorf("%w: %s: %s", ErrUnproven, key, why)
}
