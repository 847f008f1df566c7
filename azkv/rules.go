package azkv

// Azure's import rules. No Azure SDK import here either: byok wrap --for
// azure applies them offline.

import (
	"fmt"
	"slices"

	"github.com/byok-go/byok"
)

// Rule names one of Azure's rules for what BYOK import takes. A refusal is a
// *RuleError; errors.Is(err, RuleNoHMAC) tells which rule, errors.Is(err,
// byok.ErrIncompatible) that it is a refusal of this kind.
type Rule string

// The rules, from Azure's BYOK pages:
// https://learn.microsoft.com/azure/key-vault/keys/byok-specification,
// https://learn.microsoft.com/azure/key-vault/keys/hsm-protected-keys-byok
// ("Supported key types") and
// https://learn.microsoft.com/azure/key-vault/managed-hsm/hsm-protected-keys-byok.
const (
	// RuleCKMRSAAESKeyWrap: the target key is wrapped with
	// CKM_RSA_AES_KEY_WRAP, RSA-OAEP with SHA-1 of an ephemeral AES key and
	// RFC 5649 of the key under it, the only wrapping the specification
	// documents for import.
	RuleCKMRSAAESKeyWrap Rule = "azure_ckm_rsa_aes_key_wrap"
	// RuleKEKSize: the KEK is an RSA-HSM key of 2048, 3072 or 4096 bits.
	RuleKEKSize Rule = "azure_kek_size"
	// RuleKeyTypes: the target key is RSA (2048, 3072, 4096), EC (P-256,
	// P-384, P-521, P-256K) or, on Managed HSM only, AES (oct-HSM).
	RuleKeyTypes Rule = "azure_key_types"
	// RuleOctManagedHSM: symmetric (oct-HSM) keys are imported by Managed
	// HSM only, not by a key vault.
	RuleOctManagedHSM Rule = "azure_oct_managed_hsm_only"
	// RuleNoHMAC: Azure Key Vault imports no HMAC keys.
	RuleNoHMAC Rule = "azure_no_hmac"
	// RuleNoKeyAgreement: Key Vault's key operations (sign, verify,
	// encrypt, decrypt, wrapKey, unwrapKey) include no key agreement.
	RuleNoKeyAgreement Rule = "azure_no_key_agreement"
)

var ruleText = map[Rule]string{
	RuleCKMRSAAESKeyWrap: "Azure's BYOK specification documents one wrapping for import, CKM_RSA_AES_KEY_WRAP: RSA-OAEP with SHA-1 of an ephemeral AES key, then AES key wrap with padding (RFC 5649); byok calls it RSA_AES_KEY_WRAP_SHA_1",
	RuleKEKSize:          "Azure's key exchange key (KEK) is an RSA-HSM key of 2048, 3072 or 4096 bits",
	RuleKeyTypes:         "Azure imports RSA 2048/3072/4096, EC P-256/P-384/P-521/P-256K and (Managed HSM only) AES keys",
	RuleOctManagedHSM:    "Azure imports symmetric (oct-HSM) keys into Managed HSM only, not into a key vault",
	RuleNoHMAC:           "Azure Key Vault and Managed HSM import no HMAC keys",
	RuleNoKeyAgreement:   "Azure Key Vault has no key agreement operation, so a KEY_AGREEMENT key cannot be used there",
}

// Error returns the rule in words.
func (r Rule) Error() string {
	if s, ok := ruleText[r]; ok {
		return s
	}
	return fmt.Sprintf("unknown rule %q", string(r))
}

// RuleError is a refusal under one of Azure's rules. It matches
// byok.ErrIncompatible and its Rule with errors.Is.
type RuleError struct {
	Rule Rule
	// What was refused, and Fix what would work instead.
	What, Fix string
}

func (e *RuleError) Error() string {
	s := "azkv: " + e.What + ": " + e.Rule.Error()
	if e.Fix != "" {
		s += "; " + e.Fix
	}
	return s
}

// Is makes errors.Is(err, byok.ErrIncompatible) and errors.Is(err, rule)
// true.
func (e *RuleError) Is(target error) bool {
	return target == byok.ErrIncompatible || target == e.Rule
}

// keyType is how Azure names a byok key spec: the JWK kty and, for EC, crv
// (https://learn.microsoft.com/azure/key-vault/keys/about-keys-details).
type keyType struct {
	kty, crv string
}

var keyTypes = map[byok.KeySpec]keyType{
	byok.RSA2048:          {"RSA-HSM", ""},
	byok.RSA3072:          {"RSA-HSM", ""},
	byok.RSA4096:          {"RSA-HSM", ""},
	byok.ECCNISTP256:      {"EC-HSM", "P-256"},
	byok.ECCNISTP384:      {"EC-HSM", "P-384"},
	byok.ECCNISTP521:      {"EC-HSM", "P-521"},
	byok.ECCSECGP256K1:    {"EC-HSM", "P-256K"},
	byok.SymmetricDefault: {"oct-HSM", ""},
}

// keyOps returns the key_ops the imported key gets for a usage: sign and
// verify for SIGN_VERIFY; encrypt and decrypt for RSA ENCRYPT_DECRYPT;
// encrypt, decrypt, wrapKey and unwrapKey for AES.
func keyOps(info byok.KeyInfo) []string {
	switch {
	case info.Spec.Kind() == byok.KindSymmetric:
		return []string{"encrypt", "decrypt", "wrapKey", "unwrapKey"}
	case usage(info) == byok.EncryptDecrypt:
		return []string{"encrypt", "decrypt"}
	}
	return []string{"sign", "verify"}
}

func usage(info byok.KeyInfo) byok.KeyUsage {
	if info.Usage != "" {
		return info.Usage
	}
	if u := info.Spec.Usages(); len(u) > 0 {
		return u[0]
	}
	return ""
}

// CheckKey reports whether Azure imports the key info describes, into a
// Managed HSM when managedHSM is set, and into a key vault otherwise. A
// refusal is a *RuleError.
func CheckKey(info byok.KeyInfo, managedHSM bool) error {
	if err := info.Spec.Validate(); err != nil {
		return err
	}
	what := fmt.Sprintf("%s key %s", info.Spec, info.Label)
	switch {
	case info.Spec.Kind() == byok.KindHMAC:
		return &RuleError{Rule: RuleNoHMAC, What: what, Fix: "keep HMAC keys in AWS KMS or Google Cloud KMS"}
	case info.Spec.Kind() == byok.KindSymmetric && !managedHSM:
		return &RuleError{Rule: RuleOctManagedHSM, What: what, Fix: "import it into a Managed HSM (--azure-managed-hsm, https://NAME.managedhsm.azure.net)"}
	case usage(info) == byok.KeyAgreement:
		return &RuleError{Rule: RuleNoKeyAgreement, What: what + " with usage KEY_AGREEMENT", Fix: "import it with usage SIGN_VERIFY (--usage SIGN_VERIFY)"}
	}
	if _, ok := keyTypes[info.Spec]; !ok {
		return &RuleError{Rule: RuleKeyTypes, What: what}
	}
	if !info.Spec.AllowsUsage(usage(info)) {
		return fmt.Errorf("%w: key usage %s is not valid for %s", byok.ErrIncompatible, usage(info), info.Spec)
	}
	return nil
}

// cannotWrap is the refusal of a source that cannot perform alg.
func cannotWrap(info byok.KeyInfo, alg byok.WrappingAlgorithm, can []byok.WrappingAlgorithm) error {
	fix := fmt.Sprintf("the source can perform only %v for this key; use a source (HSM driver or mechanism) with RSA-OAEP SHA-1 and AES key wrap with padding (CKM_RSA_AES_KEY_WRAP, or CKM_RSA_PKCS_OAEP and CKM_AES_KEY_WRAP_PAD)", can)
	return &RuleError{Rule: RuleCKMRSAAESKeyWrap, What: fmt.Sprintf("%s key %s cannot be wrapped with %s", info.Spec, info.Label, alg), Fix: fix}
}

// choose applies Azure's rules to a wrapping request: the algorithm is
// RSA_AES_KEY_WRAP_SHA_1 (CKM_RSA_AES_KEY_WRAP), the KEK size the one asked
// for, or kekSize (0: 4096).
func choose(info byok.KeyInfo, managedHSM bool, can []byok.WrappingAlgorithm, alg byok.WrappingAlgorithm, wks byok.WrappingKeySpec, kekSize int) (byok.Choice, error) {
	if err := CheckKey(info, managedHSM); err != nil {
		return byok.Choice{}, err
	}
	want := byok.RSAAESKeyWrapSHA1
	if alg != "" && alg != want {
		return byok.Choice{}, &RuleError{Rule: RuleCKMRSAAESKeyWrap, What: fmt.Sprintf("%s was asked for", alg),
			Fix: "leave out the wrapping algorithm (--algorithm), or ask for RSA_AES_KEY_WRAP_SHA_1"}
	}
	if can != nil && !slices.Contains(can, want) {
		return byok.Choice{}, cannotWrap(info, want, can)
	}
	w, err := kekSpec(wks, kekSize)
	if err != nil {
		return byok.Choice{}, err
	}
	reason := fmt.Sprintf("%s (CKM_RSA_AES_KEY_WRAP) under an %s key exchange key: the only wrapping Azure's BYOK specification documents for import (RSA-OAEP with SHA-1, then RFC 5649)", want, w)
	if wks != "" {
		reason += "; the KEK size was asked for"
	}
	return byok.Choice{Algorithm: want, WrappingKeySpec: w, Reason: reason}, nil
}

// kekSpec returns the KEK's wrapping key spec: the one asked for, which
// must agree with kekSize when that is set, or kekSize's (0: RSA_4096).
func kekSpec(wks byok.WrappingKeySpec, kekSize int) (byok.WrappingKeySpec, error) {
	var fromSize byok.WrappingKeySpec
	switch kekSize {
	case 0:
	case 2048, 3072, 4096:
		fromSize = byok.WrappingKeySpec(fmt.Sprintf("RSA_%d", kekSize))
	default:
		return "", &RuleError{Rule: RuleKEKSize, What: fmt.Sprintf("a %d-bit KEK", kekSize), Fix: "use 2048, 3072 or 4096 (--azure-kek-size)"}
	}
	switch {
	case wks == "" && fromSize == "":
		return byok.WrappingRSA4096, nil
	case wks == "":
		return fromSize, nil
	case wks.Bits() == 0:
		return "", &RuleError{Rule: RuleKEKSize, What: fmt.Sprintf("wrapping key spec %q", wks), Fix: "use RSA_2048, RSA_3072 or RSA_4096"}
	case fromSize != "" && fromSize != wks:
		return "", &RuleError{Rule: RuleKEKSize, What: fmt.Sprintf("wrapping key spec %s with a %d-bit KEK", wks, kekSize), Fix: "ask for one KEK size"}
	}
	return wks, nil
}
