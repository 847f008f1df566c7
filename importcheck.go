package byok

// The edges of Importer.Import: what it is given (sources and targets that
// are nil inside their interface), when it is told to stop (a cancelled
// context, checked between steps), and what a target returns from Prepare
// (checked against what was asked, before the source wraps anything).

import (
	"context"
	"errors"
	"fmt"
	"reflect"
)

// maxImportTokenLen is the longest import token GetParametersForImport
// returns: "Length Constraints: Minimum length of 1. Maximum length of
// 6144." (https://docs.aws.amazon.com/kms/latest/APIReference/API_GetParametersForImport.html)
const maxImportTokenLen = 6144

// isNil reports whether v is nil, or an interface holding a nil pointer,
// map, slice, channel or function (a "typed nil", which == nil misses).
func isNil(v any) bool {
	if v == nil {
		return true
	}
	switch r := reflect.ValueOf(v); r.Kind() {
	case reflect.Pointer, reflect.Map, reflect.Slice, reflect.Chan, reflect.Func, reflect.Interface:
		return r.IsNil()
	}
	return false
}

// checkNotNil refuses a nil source or target, typed or not.
func checkNotNil(src KeySource, dst KMSTarget) error {
	switch {
	case isNil(src) && isNil(dst):
		return errors.New("byok: Import needs a source and a target; both are nil")
	case isNil(src):
		return fmt.Errorf("byok: Import needs a source; got a nil %T", src)
	case isNil(dst):
		return fmt.Errorf("byok: Import needs a target; got a nil %T", dst)
	}
	return nil
}

// stopped returns a non-nil error if ctx is done, naming the step that was
// not started and, once a KMS key exists, the key.
func stopped(ctx context.Context, step, keyID string) error {
	err := ctx.Err()
	if err == nil {
		return nil
	}
	if c := context.Cause(ctx); c != nil {
		err = c
	}
	if keyID != "" {
		return fmt.Errorf("byok: stopped before %s for %s: %w", step, keyID, err)
	}
	return fmt.Errorf("byok: stopped before %s: %w", step, err)
}

// checkParameters checks what a target's Prepare returned against what was
// asked: the algorithm, the wrapping key spec and the wrapping key's size,
// and a token of AWS's size.
func checkParameters(p ImportParameters, alg WrappingAlgorithm, wks WrappingKeySpec) error {
	bad := func(format string, args ...any) error {
		what := "the target"
		if p.KeyID != "" {
			what = "the parameters for " + p.KeyID
		}
		return fmt.Errorf("%w: %s: %s", ErrBadParameters, what, fmt.Sprintf(format, args...))
	}
	switch {
	case p.KeyID == "":
		return bad("no KMS key ID")
	case p.WrappingKey == nil || p.WrappingKey.N == nil:
		return bad("no wrapping public key")
	case len(p.ImportToken) == 0:
		return bad("no import token")
	case len(p.ImportToken) > maxImportTokenLen:
		return bad("an import token of %d bytes; AWS's are at most %d bytes", len(p.ImportToken), maxImportTokenLen)
	case p.Algorithm != alg:
		return bad("parameters for wrapping algorithm %q, but %s was asked for", p.Algorithm, alg)
	case p.WrappingKeySpec != wks:
		return bad("parameters for wrapping key spec %q, but %s was asked for", p.WrappingKeySpec, wks)
	case p.WrappingKey.N.BitLen() != wks.Bits():
		return bad("a %d-bit wrapping key, but %s (%d bits) was asked for", p.WrappingKey.N.BitLen(), wks, wks.Bits())
	}
	return nil
}
