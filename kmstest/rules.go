package kmstest

import "fmt"

// This file holds the emulator's own copy of AWS KMS's import rules, written
// from AWS's documentation and deliberately NOT derived from byok's rules
// (byok is what the emulator checks). The pages:
//
//   - GetParametersForImport, API Reference (WrappingAlgorithm and
//     WrappingKeySpec):
//     https://docs.aws.amazon.com/kms/latest/APIReference/API_GetParametersForImport.html
//     "RSA_AES_KEY_WRAP_SHA_256 — Supported for wrapping RSA and ECC key
//     material." (the same for _SHA_1); "RSAES_OAEP_SHA_256 — Supported for
//     all types of key material, except RSA key material (private key). You
//     cannot use the RSAES_OAEP_SHA_256 wrapping algorithm with the RSA_2048
//     wrapping key spec to wrap ECC_NIST_P521 key material." (the same for
//     _SHA_1); "RSAES_PKCS1_V1_5 (Deprecated) — As of October 10, 2023, KMS
//     does not support the RSAES_PKCS1_V1_5 wrapping algorithm."
//   - Importing key material step 2, "Select a wrapping public key spec" and
//     "Select a wrapping algorithm":
//     https://docs.aws.amazon.com/kms/latest/developerguide/importing-keys-get-public-key-and-token.html
//     RSA_4096, RSA_3072 and RSA_2048 wrapping keys for all types of key
//     material unless noted; the one noted exception is ECC_NIST_P521 key
//     material with RSA_2048 and RSAES_OAEP_SHA_*.
//   - Importing key material step 3:
//     https://docs.aws.amazon.com/kms/latest/developerguide/importing-keys-encrypt-key-material.html
//     "The following combination is NOT supported: ECC_NIST_P521 key
//     material, the RSA_2048 public wrapping key spec, and an
//     RSAES_OAEP_SHA_* wrapping algorithm."
//   - ImportKeyMaterial, API Reference (EncryptedKeyMaterial: at most 6144
//     bytes):
//     https://docs.aws.amazon.com/kms/latest/APIReference/API_ImportKeyMaterial.html

// maxEncryptedKeyMaterial is the longest EncryptedKeyMaterial
// ImportKeyMaterial accepts (API Reference, Length Constraints).
const maxEncryptedKeyMaterial = 6144

// The wrapping algorithms, as the API spells them.
const (
	algOAEPSHA1        = "RSAES_OAEP_SHA_1"
	algOAEPSHA256      = "RSAES_OAEP_SHA_256"
	algKeyWrapSHA1     = "RSA_AES_KEY_WRAP_SHA_1"
	algKeyWrapSHA256   = "RSA_AES_KEY_WRAP_SHA_256"
	algPKCS1v15        = "RSAES_PKCS1_V1_5"
	wrappingRSA2048    = "RSA_2048"
	wrappingRSA3072    = "RSA_3072"
	wrappingRSA4096    = "RSA_4096"
	materialSymmetric  = "symmetric"
	materialHMAC       = "HMAC"
	materialRSAPrivate = "RSA private key"
	materialECPrivate  = "ECC private key"
)

// wrappingKeyBits is the modulus size of each RSA wrapping key spec.
var wrappingKeyBits = map[string]int{
	wrappingRSA2048: 2048,
	wrappingRSA3072: 3072,
	wrappingRSA4096: 4096,
}

// materialType is the documentation's "type of key material" of each
// importable key spec.
var materialType = map[string]string{
	"SYMMETRIC_DEFAULT": materialSymmetric,
	"HMAC_224":          materialHMAC,
	"HMAC_256":          materialHMAC,
	"HMAC_384":          materialHMAC,
	"HMAC_512":          materialHMAC,
	"RSA_2048":          materialRSAPrivate,
	"RSA_3072":          materialRSAPrivate,
	"RSA_4096":          materialRSAPrivate,
	"ECC_NIST_P256":     materialECPrivate,
	"ECC_NIST_P384":     materialECPrivate,
	"ECC_NIST_P521":     materialECPrivate,
	"ECC_SECG_P256K1":   materialECPrivate,
}

// algorithmCarries is the GetParametersForImport API Reference's list, as a
// table: which types of key material each wrapping algorithm is supported
// for. RSAES_PKCS1_V1_5 carries nothing since October 10, 2023.
var algorithmCarries = map[string]map[string]bool{
	algOAEPSHA256:    {materialSymmetric: true, materialHMAC: true, materialECPrivate: true},
	algOAEPSHA1:      {materialSymmetric: true, materialHMAC: true, materialECPrivate: true},
	algKeyWrapSHA256: {materialRSAPrivate: true, materialECPrivate: true},
	algKeyWrapSHA1:   {materialRSAPrivate: true, materialECPrivate: true},
	algPKCS1v15:      {},
}

// excluded are the combinations the documentation names as not supported
// although the algorithm carries that type of key material:
// {key spec, wrapping algorithm, wrapping key spec}.
var excluded = map[[3]string]bool{
	{"ECC_NIST_P521", algOAEPSHA256, wrappingRSA2048}: true,
	{"ECC_NIST_P521", algOAEPSHA1, wrappingRSA2048}:   true,
}

// checkWrapping reports whether AWS documents that key material of spec can
// be imported wrapped with alg under a wrapping key of spec wks; the error
// says which documented rule refuses it.
func checkWrapping(spec, alg, wks string) error {
	typ, ok := materialType[spec]
	if !ok {
		return fmt.Errorf("key material of KeySpec %s cannot be imported", spec)
	}
	if _, ok := wrappingKeyBits[wks]; !ok {
		return fmt.Errorf("wrapping key spec %s is not supported", wks)
	}
	carries, ok := algorithmCarries[alg]
	if !ok {
		return fmt.Errorf("wrapping algorithm %s is not supported", alg)
	}
	if alg == algPKCS1v15 {
		return fmt.Errorf("KMS does not support the RSAES_PKCS1_V1_5 wrapping algorithm (since October 10, 2023)")
	}
	if !carries[typ] {
		switch typ {
		case materialRSAPrivate:
			return fmt.Errorf("to import an RSA private key, use an RSA_AES_KEY_WRAP_* wrapping algorithm")
		default:
			return fmt.Errorf("%s is supported for RSA and ECC key material only, not %s key material; use RSAES_OAEP_SHA_256", alg, typ)
		}
	}
	if excluded[[3]string{spec, alg, wks}] {
		return fmt.Errorf("ECC_NIST_P521 key material cannot be wrapped with %s under an RSA_2048 wrapping key; use a larger wrapping key or an RSA_AES_KEY_WRAP_* algorithm", alg)
	}
	return nil
}
