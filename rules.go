package byok

import (
	"fmt"
	"slices"
	"strings"
)

// maxWrappedLen is the largest EncryptedKeyMaterial ImportKeyMaterial
// accepts, in bytes.
const maxWrappedLen = 6144

// Rule names one of AWS KMS's rules for which key material a wrapping
// algorithm and wrapping key spec can carry. Every refusal byok makes before
// talking to KMS names the rule it applied: a *CompatibilityError carries
// it, and errors.Is(err, RuleOAEPOnly) tells which one.
//
// A Rule's value is a short, stable name for scripts and tests
// ("oaep_only"); Error returns the rule in words, as AWS states it, so that
// %v and %s print the rule itself.
type Rule string

// The rules, as AWS documents them for GetParametersForImport and
// ImportKeyMaterial:
// https://docs.aws.amazon.com/kms/latest/APIReference/API_GetParametersForImport.html,
// https://docs.aws.amazon.com/kms/latest/APIReference/API_ImportKeyMaterial.html.
const (
	// RuleOAEPOnly: symmetric and HMAC key material is wrapped with
	// RSAES_OAEP_SHA_1 or RSAES_OAEP_SHA_256 only.
	RuleOAEPOnly Rule = "oaep_only"
	// RuleKeyWrapOnly: RSA private keys are too long for OAEP and are wrapped
	// with RSA_AES_KEY_WRAP_SHA_1 or RSA_AES_KEY_WRAP_SHA_256 only.
	RuleKeyWrapOnly Rule = "key_wrap_only"
	// RuleNoP521OAEP2048: ECC_NIST_P521 material cannot be wrapped with an
	// RSAES_OAEP algorithm under an RSA_2048 wrapping key.
	RuleNoP521OAEP2048 Rule = "no_p521_oaep_2048"
	// RuleOAEPSize: RSA-OAEP carries at most k − 2·hLen − 2 bytes, k being
	// the wrapping key's modulus length in bytes.
	RuleOAEPSize Rule = "oaep_size"
	// RuleMaxBlob: ImportKeyMaterial accepts at most 6144 bytes of
	// EncryptedKeyMaterial.
	RuleMaxBlob Rule = "max_blob"
)

var _ error = RuleOAEPOnly

// ruleText is each rule in words.
var ruleText = map[Rule]string{
	RuleOAEPOnly:       "symmetric and HMAC key material must be wrapped with RSAES_OAEP_SHA_256 or RSAES_OAEP_SHA_1",
	RuleKeyWrapOnly:    "RSA private keys must be wrapped with RSA_AES_KEY_WRAP_SHA_256 or RSA_AES_KEY_WRAP_SHA_1",
	RuleNoP521OAEP2048: "ECC_NIST_P521 key material cannot be wrapped with RSAES_OAEP_* under an RSA_2048 wrapping key",
	RuleOAEPSize:       "RSA-OAEP carries at most k - 2*hLen - 2 bytes of plaintext",
	RuleMaxBlob:        "the wrapped key material must not exceed 6144 bytes",
}

// Error returns the rule in words, as it appears in byok's messages.
func (r Rule) Error() string {
	if s, ok := ruleText[r]; ok {
		return s
	}
	return fmt.Sprintf("unknown rule %q", string(r))
}

// allowed is AWS's compatibility table: for each kind of key material, the
// wrapping algorithms KMS accepts, best first. The size rules (RuleOAEPSize,
// RuleMaxBlob, and RuleNoP521OAEP2048, which is RuleOAEPSize for P-521's
// 241-byte PKCS#8) are applied on top by CheckCompatible.
var allowed = map[MaterialKind]struct {
	algs []WrappingAlgorithm
	rule Rule // the rule that excludes the others
}{
	KindSymmetric: {[]WrappingAlgorithm{RSAESOAEPSHA256, RSAESOAEPSHA1}, RuleOAEPOnly},
	KindHMAC:      {[]WrappingAlgorithm{RSAESOAEPSHA256, RSAESOAEPSHA1}, RuleOAEPOnly},
	KindRSA:       {[]WrappingAlgorithm{RSAAESKeyWrapSHA256, RSAAESKeyWrapSHA1}, RuleKeyWrapOnly},
	KindEC:        {[]WrappingAlgorithm{RSAESOAEPSHA256, RSAAESKeyWrapSHA256, RSAESOAEPSHA1, RSAAESKeyWrapSHA1}, ""},
}

// CompatibilityError explains why a key spec, wrapping algorithm and
// wrapping key spec cannot be used together. It matches ErrIncompatible
// with errors.Is.
type CompatibilityError struct {
	KeySpec         KeySpec
	Algorithm       WrappingAlgorithm
	WrappingKeySpec WrappingKeySpec // empty when the algorithm alone is refused
	Rule            Rule
	// Fix says what would work instead.
	Fix string
}

func (e *CompatibilityError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "byok: %s key material cannot be wrapped with %s", e.KeySpec, e.Algorithm)
	if e.WrappingKeySpec != "" {
		fmt.Fprintf(&b, " under an %s wrapping key", e.WrappingKeySpec)
	}
	fmt.Fprintf(&b, ": %s", e.Rule.Error())
	if e.Fix != "" {
		fmt.Fprintf(&b, "; %s", e.Fix)
	}
	return b.String()
}

// Is makes errors.Is(err, ErrIncompatible) true, and errors.Is(err, r) for
// the Rule r that refused.
func (e *CompatibilityError) Is(target error) bool {
	return target == ErrIncompatible || (e.Rule != "" && target == e.Rule)
}

// AllowedAlgorithms returns the wrapping algorithms AWS KMS accepts for key
// material of spec k with some wrapping key spec, best first; nil if k is not
// importable.
func AllowedAlgorithms(k KeySpec) []WrappingAlgorithm {
	info, ok := specs[k]
	if !ok {
		return nil
	}
	return slices.Clone(allowed[info.kind].algs)
}

// oaepMaxPlaintext returns the most bytes RSA-OAEP with a hash of hLen
// bytes carries under a modulus of modBytes bytes: modBytes − 2·hLen − 2
// (RFC 8017, 7.1.1).
func oaepMaxPlaintext(modBytes, hLen int) int { return modBytes - 2*hLen - 2 }

// wrappedLen returns the length of the blob alg produces for n bytes of
// material under a wrapping key of modBytes bytes: one RSA block, followed
// for RSA_AES_KEY_WRAP by RFC 5649's 8-byte integrity block and the
// material padded to a multiple of 8.
func wrappedLen(alg WrappingAlgorithm, modBytes, n int) int {
	if alg.IsKeyWrap() {
		return modBytes + 8 + (n+7)&^7
	}
	return modBytes
}

// CheckCompatible reports whether AWS KMS accepts key material of spec k
// wrapped with alg under a wrapping key of spec w. A nil error means yes; a
// refusal is a *CompatibilityError naming the rule, or an error wrapping
// ErrNotImportable, ErrUnknownKeySpec, ErrUnknownAlgorithm or
// ErrDeprecatedAlgorithm.
func CheckCompatible(k KeySpec, alg WrappingAlgorithm, w WrappingKeySpec) error {
	if err := k.Validate(); err != nil {
		return err
	}
	if err := alg.Validate(); err != nil {
		return err
	}
	if w.Bits() == 0 {
		if _, err := ParseWrappingKeySpec(string(w)); err != nil {
			return err
		}
	}
	return checkLen(k, alg, w.Bits()/8, specs[k].maxMaterial)
}

// checkLen applies the table and the size rules to n bytes of material of
// spec k under a modulus of modBytes bytes.
func checkLen(k KeySpec, alg WrappingAlgorithm, modBytes, n int) error {
	w, _ := wrappingKeySpecForBits(modBytes * 8)
	row := allowed[k.Kind()]
	if !slices.Contains(row.algs, alg) {
		return &CompatibilityError{KeySpec: k, Algorithm: alg, Rule: row.rule,
			Fix: "use " + string(row.algs[0])}
	}
	if !alg.IsKeyWrap() {
		if max := oaepMaxPlaintext(modBytes, alg.Hash().Size()); n > max {
			e := &CompatibilityError{KeySpec: k, Algorithm: alg, WrappingKeySpec: w, Rule: RuleOAEPSize,
				Fix: fmt.Sprintf("the material is %d bytes and this limit is %d; use a larger wrapping key or RSA_AES_KEY_WRAP_SHA_256", n, max)}
			if k == ECCNISTP521 && modBytes == 256 {
				e.Rule = RuleNoP521OAEP2048
				e.Fix = "use an RSA_3072 or RSA_4096 wrapping key, or RSA_AES_KEY_WRAP_SHA_256"
			}
			return e
		}
	}
	if l := wrappedLen(alg, modBytes, n); l > maxWrappedLen {
		return &CompatibilityError{KeySpec: k, Algorithm: alg, WrappingKeySpec: w, Rule: RuleMaxBlob,
			Fix: fmt.Sprintf("the wrapped blob would be %d bytes", l)}
	}
	return nil
}

// Choice is the wrapping algorithm and wrapping key spec ChooseWrapping
// picked, and why.
type Choice struct {
	Algorithm       WrappingAlgorithm
	WrappingKeySpec WrappingKeySpec
	// Reason says, in a sentence, why this is the choice.
	Reason string
	// Fallback is true when a SHA-256 algorithm was allowed for the key spec
	// but the source cannot perform one, so a SHA-1 form was chosen. Callers
	// should warn about it.
	Fallback bool
}

// ChooseWrapping picks the best wrapping algorithm and wrapping key spec for
// key material of spec k, among the algorithms a source can perform (nil
// means all four, as for software keys).
//
// The order of preference: SHA-256 over SHA-1 (a SHA-1 form only as a
// fallback, flagged in Choice.Fallback); for material OAEP can carry
// directly (symmetric, HMAC, EC), RSAES_OAEP over RSA_AES_KEY_WRAP, since it
// is one primitive instead of two and every HSM has it; RSA_4096 as the
// wrapping key, the strongest, which also fits every importable spec.
func ChooseWrapping(k KeySpec, can []WrappingAlgorithm) (Choice, error) {
	if err := k.Validate(); err != nil {
		return Choice{}, err
	}
	if can == nil {
		can = WrappingAlgorithms()
	}
	row := allowed[k.Kind()].algs
	for _, alg := range row {
		if !slices.Contains(can, alg) {
			continue
		}
		for _, w := range WrappingKeySpecs() {
			if CheckCompatible(k, alg, w) != nil {
				continue
			}
			c := Choice{Algorithm: alg, WrappingKeySpec: w}
			switch {
			case alg.Hash().Size() == 20:
				c.Fallback = true
				c.Reason = fmt.Sprintf("%s with an %s wrapping key: the source cannot perform a SHA-256 form AWS allows for %s (%v), so the SHA-1 form is used", alg, w, k, sha256Of(row))
			case alg.IsKeyWrap() && k.Kind() == KindRSA:
				c.Reason = fmt.Sprintf("%s with an %s wrapping key: RSA private keys are too long for RSA-OAEP, AWS requires RSA_AES_KEY_WRAP; SHA-256 and the largest wrapping key are preferred", alg, w)
			case alg.IsKeyWrap():
				c.Reason = fmt.Sprintf("%s with an %s wrapping key: the source cannot perform RSAES_OAEP_SHA_256; the key-wrap form carries the same material", alg, w)
			default:
				c.Reason = fmt.Sprintf("%s with an %s wrapping key: %s material fits in one RSA-OAEP block; SHA-256 and the largest wrapping key are preferred", alg, w, k.Kind())
			}
			return c, nil
		}
	}
	return Choice{}, fmt.Errorf("%w: the source can perform %v, but AWS KMS accepts only %v for %s; use a source (HSM driver or mechanism) that supports one of those", ErrIncompatible, can, row, k)
}

func sha256Of(algs []WrappingAlgorithm) []WrappingAlgorithm {
	var out []WrappingAlgorithm
	for _, a := range algs {
		if a.Hash().Size() == 32 {
			out = append(out, a)
		}
	}
	return out
}
