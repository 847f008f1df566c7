package gcpkms

import (
	"fmt"
	"slices"
	"strings"

	"cloud.google.com/go/kms/apiv1/kmspb"

	"github.com/byok-go/byok"
)

// Rule names one of Cloud KMS's import rules that byok applies before any
// call. A refusal is a *RuleError naming the rule; errors.Is(err, r) tells
// which rule refused. Error returns the rule in words.
type Rule string

// The rules, with the documentation page each comes from.
const (
	// RuleAlgorithms: Cloud KMS imports only key material of an algorithm
	// it offers: AES-256 (GOOGLE_SYMMETRIC_ENCRYPTION, AES_256_GCM/CBC/CTR),
	// HMAC-SHA224/256/384/512, RSA 2048/3072/4096 signing (PKCS#1 v1.5, PSS)
	// and decryption (OAEP), ECDSA on P-256, P-384 and secp256k1. There is
	// no P-521 algorithm. https://cloud.google.com/kms/docs/algorithms
	RuleAlgorithms Rule = "gcp_algorithms"
	// RuleNoKeyAgreement: Cloud KMS has no key-agreement (ECDH) purpose;
	// its purposes are ENCRYPT_DECRYPT, RAW_ENCRYPT_DECRYPT, ASYMMETRIC_SIGN,
	// ASYMMETRIC_DECRYPT, KEY_ENCAPSULATION and MAC.
	// https://cloud.google.com/kms/docs/algorithms#key_purposes
	RuleNoKeyAgreement Rule = "gcp_no_key_agreement"
	// RuleSecp256k1HSM: EC_SIGN_SECP256K1_SHA256 exists only at the HSM
	// protection level. https://cloud.google.com/kms/docs/algorithms
	RuleSecp256k1HSM Rule = "gcp_secp256k1_hsm_only"
	// RuleAlgorithmFits: an algorithm given for the key must belong to the
	// key's spec and usage (its purpose, key size, curve or hash).
	// https://cloud.google.com/kms/docs/algorithms
	RuleAlgorithmFits Rule = "gcp_algorithm_fits_key"
	// RuleMethods: import jobs wrap with RSA-OAEP under a 3072- or 4096-bit
	// RSA key, either of an ephemeral AES-256 key followed by AES-KWP (RFC
	// 5649) of the material (RSA_OAEP_*_SHA1_AES_256,
	// RSA_OAEP_*_SHA256_AES_256: CKM_RSA_AES_KEY_WRAP), or of the material
	// itself with SHA-256 (RSA_OAEP_*_SHA256). There is no RSA_2048
	// wrapping key and no direct RSA-OAEP with SHA-1.
	// https://cloud.google.com/kms/docs/key-wrapping
	RuleMethods Rule = "gcp_import_methods"
	// RuleOAEPSymmetricOnly: byok uses the direct RSA-OAEP methods
	// (RSA_OAEP_3072_SHA256, RSA_OAEP_4096_SHA256) for symmetric (AES, HMAC)
	// key material only. Cloud KMS documents that they "cannot be used to
	// wrap RSA keys"; for EC keys it is silent, and byok keeps to the RSA-AES
	// key wrap (stricter than documented), which Cloud KMS accepts for
	// every key. https://cloud.google.com/kms/docs/key-wrapping,
	// https://cloud.google.com/kms/docs/reference/rpc/google.cloud.kms.v1#importmethod
	RuleOAEPSymmetricOnly Rule = "gcp_oaep_symmetric_only"
	// RuleMaterialFormat: symmetric and HMAC keys are imported as raw bytes
	// (AES: 32 bytes; HMAC: the hash's output length), RSA and EC keys as
	// DER PKCS#8 PrivateKeyInfo (RFC 5208).
	// https://cloud.google.com/kms/docs/formatting-keys-for-import
	RuleMaterialFormat Rule = "gcp_material_format"
	// RuleProtectionLevel: import jobs and imported keys are HSM or SOFTWARE
	// (byok does not target HSM_SINGLE_TENANT or EXTERNAL), and a job's
	// protection level must be the key's.
	// https://cloud.google.com/kms/docs/key-import#supported_protection_levels
	RuleProtectionLevel Rule = "gcp_protection_level"
)

var ruleText = map[Rule]string{
	RuleAlgorithms:        "Cloud KMS imports only AES-256, HMAC-SHA224/256/384/512, RSA 2048/3072/4096 and ECDSA P-256, P-384 and secp256k1 keys",
	RuleNoKeyAgreement:    "Cloud KMS has no key-agreement (ECDH) key purpose",
	RuleSecp256k1HSM:      "Cloud KMS offers EC_SIGN_SECP256K1_SHA256 only at the HSM protection level",
	RuleAlgorithmFits:     "the Cloud KMS algorithm must fit the key's type, size and usage",
	RuleMethods:           "Cloud KMS import jobs wrap under RSA 3072 or 4096 keys with RSA-OAEP + AES-KWP (SHA-1 or SHA-256), or with RSA-OAEP SHA-256 alone",
	RuleOAEPSymmetricOnly: "byok wraps only AES and HMAC keys with the RSA_OAEP_*_SHA256 import methods (Cloud KMS: they cannot carry RSA keys); RSA and EC keys take RSA_OAEP_*_AES_256",
	RuleMaterialFormat:    "Cloud KMS imports raw bytes for AES and HMAC keys (HMAC: the hash's output length) and DER PKCS#8 for RSA and EC keys",
	RuleProtectionLevel:   "imported keys and their import jobs are HSM or SOFTWARE, the same for both",
}

// Error returns the rule in words.
func (r Rule) Error() string {
	if s, ok := ruleText[r]; ok {
		return s
	}
	return fmt.Sprintf("unknown rule %q", string(r))
}

// RuleError is a refusal by one of Cloud KMS's rules, before any call. It
// matches the Rule and byok.ErrIncompatible (or byok.ErrNotImportable, for a
// key Cloud KMS cannot hold at all) with errors.Is.
type RuleError struct {
	Rule Rule
	// What was refused, and Fix what would work instead.
	What, Fix string
	// notImportable: no wrapping at all can carry this key to Cloud KMS.
	notImportable bool
}

func (e *RuleError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "gcpkms: %s: %s", e.What, e.Rule.Error())
	if e.Fix != "" {
		fmt.Fprintf(&b, "; %s", e.Fix)
	}
	return b.String()
}

// Is matches the rule, and byok.ErrIncompatible or byok.ErrNotImportable.
func (e *RuleError) Is(target error) bool {
	if target == e.Rule {
		return true
	}
	if e.notImportable {
		return target == byok.ErrNotImportable
	}
	return target == byok.ErrIncompatible
}

// algRow is one importable Cloud KMS algorithm: which byok spec and usage it
// holds, under which purpose, and how byok proves it.
type algRow struct {
	alg     kmspb.CryptoKeyVersion_CryptoKeyVersionAlgorithm
	spec    byok.KeySpec
	usage   byok.KeyUsage
	purpose kmspb.CryptoKey_CryptoKeyPurpose
	hsmOnly bool
}

// algorithms is the table of https://cloud.google.com/kms/docs/algorithms,
// restricted to what byok's key specs hold: the default for each spec and
// usage first. AES-128 (16-byte raw keys) has no byok key spec.
var algorithms = []algRow{
	{kmspb.CryptoKeyVersion_GOOGLE_SYMMETRIC_ENCRYPTION, byok.SymmetricDefault, byok.EncryptDecrypt, kmspb.CryptoKey_ENCRYPT_DECRYPT, false},
	{kmspb.CryptoKeyVersion_AES_256_GCM, byok.SymmetricDefault, byok.EncryptDecrypt, kmspb.CryptoKey_RAW_ENCRYPT_DECRYPT, false},
	{kmspb.CryptoKeyVersion_AES_256_CBC, byok.SymmetricDefault, byok.EncryptDecrypt, kmspb.CryptoKey_RAW_ENCRYPT_DECRYPT, false},
	{kmspb.CryptoKeyVersion_AES_256_CTR, byok.SymmetricDefault, byok.EncryptDecrypt, kmspb.CryptoKey_RAW_ENCRYPT_DECRYPT, false},

	{kmspb.CryptoKeyVersion_HMAC_SHA224, byok.HMAC224, byok.GenerateVerifyMAC, kmspb.CryptoKey_MAC, false},
	{kmspb.CryptoKeyVersion_HMAC_SHA256, byok.HMAC256, byok.GenerateVerifyMAC, kmspb.CryptoKey_MAC, false},
	{kmspb.CryptoKeyVersion_HMAC_SHA384, byok.HMAC384, byok.GenerateVerifyMAC, kmspb.CryptoKey_MAC, false},
	{kmspb.CryptoKeyVersion_HMAC_SHA512, byok.HMAC512, byok.GenerateVerifyMAC, kmspb.CryptoKey_MAC, false},

	// PKCS#1 v1.5 first: deterministic, so the proof can also compare the
	// signatures byte for byte.
	{kmspb.CryptoKeyVersion_RSA_SIGN_PKCS1_2048_SHA256, byok.RSA2048, byok.SignVerify, kmspb.CryptoKey_ASYMMETRIC_SIGN, false},
	{kmspb.CryptoKeyVersion_RSA_SIGN_PSS_2048_SHA256, byok.RSA2048, byok.SignVerify, kmspb.CryptoKey_ASYMMETRIC_SIGN, false},
	{kmspb.CryptoKeyVersion_RSA_SIGN_RAW_PKCS1_2048, byok.RSA2048, byok.SignVerify, kmspb.CryptoKey_ASYMMETRIC_SIGN, false},
	{kmspb.CryptoKeyVersion_RSA_SIGN_PKCS1_3072_SHA256, byok.RSA3072, byok.SignVerify, kmspb.CryptoKey_ASYMMETRIC_SIGN, false},
	{kmspb.CryptoKeyVersion_RSA_SIGN_PSS_3072_SHA256, byok.RSA3072, byok.SignVerify, kmspb.CryptoKey_ASYMMETRIC_SIGN, false},
	{kmspb.CryptoKeyVersion_RSA_SIGN_RAW_PKCS1_3072, byok.RSA3072, byok.SignVerify, kmspb.CryptoKey_ASYMMETRIC_SIGN, false},
	{kmspb.CryptoKeyVersion_RSA_SIGN_PKCS1_4096_SHA256, byok.RSA4096, byok.SignVerify, kmspb.CryptoKey_ASYMMETRIC_SIGN, false},
	{kmspb.CryptoKeyVersion_RSA_SIGN_PKCS1_4096_SHA512, byok.RSA4096, byok.SignVerify, kmspb.CryptoKey_ASYMMETRIC_SIGN, false},
	{kmspb.CryptoKeyVersion_RSA_SIGN_PSS_4096_SHA256, byok.RSA4096, byok.SignVerify, kmspb.CryptoKey_ASYMMETRIC_SIGN, false},
	{kmspb.CryptoKeyVersion_RSA_SIGN_PSS_4096_SHA512, byok.RSA4096, byok.SignVerify, kmspb.CryptoKey_ASYMMETRIC_SIGN, false},
	{kmspb.CryptoKeyVersion_RSA_SIGN_RAW_PKCS1_4096, byok.RSA4096, byok.SignVerify, kmspb.CryptoKey_ASYMMETRIC_SIGN, false},

	{kmspb.CryptoKeyVersion_RSA_DECRYPT_OAEP_2048_SHA256, byok.RSA2048, byok.EncryptDecrypt, kmspb.CryptoKey_ASYMMETRIC_DECRYPT, false},
	{kmspb.CryptoKeyVersion_RSA_DECRYPT_OAEP_2048_SHA1, byok.RSA2048, byok.EncryptDecrypt, kmspb.CryptoKey_ASYMMETRIC_DECRYPT, false},
	{kmspb.CryptoKeyVersion_RSA_DECRYPT_OAEP_3072_SHA256, byok.RSA3072, byok.EncryptDecrypt, kmspb.CryptoKey_ASYMMETRIC_DECRYPT, false},
	{kmspb.CryptoKeyVersion_RSA_DECRYPT_OAEP_3072_SHA1, byok.RSA3072, byok.EncryptDecrypt, kmspb.CryptoKey_ASYMMETRIC_DECRYPT, false},
	{kmspb.CryptoKeyVersion_RSA_DECRYPT_OAEP_4096_SHA256, byok.RSA4096, byok.EncryptDecrypt, kmspb.CryptoKey_ASYMMETRIC_DECRYPT, false},
	{kmspb.CryptoKeyVersion_RSA_DECRYPT_OAEP_4096_SHA512, byok.RSA4096, byok.EncryptDecrypt, kmspb.CryptoKey_ASYMMETRIC_DECRYPT, false},
	{kmspb.CryptoKeyVersion_RSA_DECRYPT_OAEP_4096_SHA1, byok.RSA4096, byok.EncryptDecrypt, kmspb.CryptoKey_ASYMMETRIC_DECRYPT, false},

	{kmspb.CryptoKeyVersion_EC_SIGN_P256_SHA256, byok.ECCNISTP256, byok.SignVerify, kmspb.CryptoKey_ASYMMETRIC_SIGN, false},
	{kmspb.CryptoKeyVersion_EC_SIGN_P384_SHA384, byok.ECCNISTP384, byok.SignVerify, kmspb.CryptoKey_ASYMMETRIC_SIGN, false},
	{kmspb.CryptoKeyVersion_EC_SIGN_SECP256K1_SHA256, byok.ECCSECGP256K1, byok.SignVerify, kmspb.CryptoKey_ASYMMETRIC_SIGN, true},
}

func rowOf(alg kmspb.CryptoKeyVersion_CryptoKeyVersionAlgorithm) (algRow, bool) {
	for _, r := range algorithms {
		if r.alg == alg {
			return r, true
		}
	}
	return algRow{}, false
}

// Algorithms returns the Cloud KMS algorithms byok can import a key of spec
// and usage into, the default first; nil when Cloud KMS has none.
func Algorithms(spec byok.KeySpec, usage byok.KeyUsage) []string {
	var out []string
	for _, r := range algorithms {
		if r.spec == spec && r.usage == usage {
			out = append(out, r.alg.String())
		}
	}
	return out
}

// effectiveUsage is info's usage, or the spec's usual one.
func effectiveUsage(spec byok.KeySpec, usage byok.KeyUsage) byok.KeyUsage {
	if usage != "" {
		return usage
	}
	if u := spec.Usages(); len(u) > 0 {
		return u[0]
	}
	return ""
}

// AlgorithmFor returns the Cloud KMS algorithm (CryptoKeyVersionAlgorithm
// name) a key of spec and usage is imported as by default, or refuses with
// a *RuleError naming the rule. An empty usage means the spec's usual one.
func AlgorithmFor(spec byok.KeySpec, usage byok.KeyUsage) (string, error) {
	r, err := resolve(spec, usage, "", "")
	if err != nil {
		return "", err
	}
	return r.alg.String(), nil
}

// resolve finds the row for spec and usage: the named algorithm (when not
// empty) or the default; level is the protection level ("" means HSM).
func resolve(spec byok.KeySpec, usage byok.KeyUsage, algorithm, level string) (algRow, error) {
	if err := spec.Validate(); err != nil {
		return algRow{}, err
	}
	usage = effectiveUsage(spec, usage)
	what := fmt.Sprintf("%s key for %s", a(string(spec)), usage)
	if usage == byok.KeyAgreement {
		return algRow{}, &RuleError{Rule: RuleNoKeyAgreement, What: what, notImportable: true,
			Fix: "import it for SIGN_VERIFY (--usage SIGN_VERIFY), or keep key agreement in AWS KMS"}
	}
	avail := Algorithms(spec, usage)
	if len(avail) == 0 {
		fix := "import it into AWS KMS instead, or use a key Cloud KMS supports"
		if spec == byok.ECCNISTP521 {
			fix = "Cloud KMS has no P-521 algorithm; import it into AWS KMS, or use a P-384 key"
		}
		return algRow{}, &RuleError{Rule: RuleAlgorithms, What: what, Fix: fix, notImportable: true}
	}
	var row algRow
	if algorithm == "" {
		row, _ = rowOf(kmspb.CryptoKeyVersion_CryptoKeyVersionAlgorithm(kmspb.CryptoKeyVersion_CryptoKeyVersionAlgorithm_value[avail[0]]))
	} else {
		v, ok := kmspb.CryptoKeyVersion_CryptoKeyVersionAlgorithm_value[algorithm]
		if !ok || !slices.Contains(avail, algorithm) {
			kind, problem := "unknown to Cloud KMS", "unknown to Cloud KMS (names are upper case)"
			if ok {
				kind, problem = "not one for this key", "not an algorithm for "+what
			}
			return algRow{}, optionRule("Algorithm", algorithm, problem, &RuleError{Rule: RuleAlgorithmFits,
				What: fmt.Sprintf("algorithm %q for %s (%s)", algorithm, what, kind), Fix: "use one of " + strings.Join(avail, ", ")})
		}
		row, _ = rowOf(kmspb.CryptoKeyVersion_CryptoKeyVersionAlgorithm(v))
	}
	if row.hsmOnly && level == "SOFTWARE" {
		return algRow{}, optionRule("ProtectionLevel", level, fmt.Sprintf("no %s at this level", row.alg), &RuleError{Rule: RuleSecp256k1HSM,
			What: fmt.Sprintf("%s at protection level SOFTWARE", row.alg), Fix: "use protection level HSM"})
	}
	return row, nil
}

// method is one Cloud KMS import method in byok's terms.
type method struct {
	m   kmspb.ImportJob_ImportMethod
	alg byok.WrappingAlgorithm
	wks byok.WrappingKeySpec
}

// methods maps Cloud KMS import methods onto byok's wrapping algorithms
// (https://cloud.google.com/kms/docs/key-wrapping): the *_AES_256 methods
// are CKM_RSA_AES_KEY_WRAP (byok's RSA_AES_KEY_WRAP_SHA_*), the plain
// RSA_OAEP_*_SHA256 methods RSAES_OAEP_SHA_256. Best first within a kind.
var methods = []method{
	{kmspb.ImportJob_RSA_OAEP_4096_SHA256, byok.RSAESOAEPSHA256, byok.WrappingRSA4096},
	{kmspb.ImportJob_RSA_OAEP_3072_SHA256, byok.RSAESOAEPSHA256, byok.WrappingRSA3072},
	{kmspb.ImportJob_RSA_OAEP_4096_SHA256_AES_256, byok.RSAAESKeyWrapSHA256, byok.WrappingRSA4096},
	{kmspb.ImportJob_RSA_OAEP_3072_SHA256_AES_256, byok.RSAAESKeyWrapSHA256, byok.WrappingRSA3072},
	{kmspb.ImportJob_RSA_OAEP_4096_SHA1_AES_256, byok.RSAAESKeyWrapSHA1, byok.WrappingRSA4096},
	{kmspb.ImportJob_RSA_OAEP_3072_SHA1_AES_256, byok.RSAAESKeyWrapSHA1, byok.WrappingRSA3072},
}

// ImportMethod returns the Cloud KMS import method that is byok's alg under
// a wrapping key of spec wks, or a *RuleError (RuleMethods) when Cloud KMS
// has none.
func ImportMethod(alg byok.WrappingAlgorithm, wks byok.WrappingKeySpec) (string, error) {
	m, err := methodFor(alg, wks)
	if err != nil {
		return "", err
	}
	return m.m.String(), nil
}

func methodFor(alg byok.WrappingAlgorithm, wks byok.WrappingKeySpec) (method, error) {
	for _, m := range methods {
		if m.alg == alg && m.wks == wks {
			return m, nil
		}
	}
	return method{}, &RuleError{Rule: RuleMethods, What: fmt.Sprintf("wrapping with %s under %s", orAny(string(alg)), wrappingKey(wks)),
		Fix: "use RSA_AES_KEY_WRAP_SHA_256 (or RSAES_OAEP_SHA_256 for AES and HMAC keys) with an RSA_4096 or RSA_3072 wrapping key"}
}

// methodOf returns the byok terms of a Cloud KMS import method.
func methodOf(m kmspb.ImportJob_ImportMethod) (method, bool) {
	for _, x := range methods {
		if x.m == m {
			return x, true
		}
	}
	return method{}, false
}

// allowedFor returns the import methods that carry key material of kind k,
// best first: for AES and HMAC keys the direct RSA-OAEP (one primitive,
// as byok prefers for AWS) and then the key wrap; for RSA and EC keys the
// key wrap only (RuleOAEPSymmetricOnly).
func allowedFor(k byok.MaterialKind) []method {
	var out []method
	for _, m := range methods {
		if !m.alg.IsKeyWrap() && k != byok.KindSymmetric && k != byok.KindHMAC {
			continue
		}
		out = append(out, m)
	}
	return out
}
