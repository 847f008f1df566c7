package gcpkmstest

import (
	"crypto"
	"crypto/elliptic"
	"time"

	"cloud.google.com/go/kms/apiv1/kmspb"
)

// This file is the fake's own literal table of Cloud KMS's import rules,
// written from Google's documentation and deliberately NOT derived from
// byok's code or tables (byok is what the fake checks). Each rule names the
// page it comes from. Where the pages are silent the fake chooses the
// stricter reading; doc.go lists those choices.

// importJobLifetime: "An ImportJob expires 3 days after it is created."
// (ImportJob, https://cloud.google.com/kms/docs/reference/rpc/google.cloud.kms.v1).
const importJobLifetime = 3 * 24 * time.Hour

// ephemeralKeyLen: the *_AES_256 methods wrap "an ephemeral AES-256 wrapping
// key" (ImportCryptoKeyVersionRequest.wrapped_key,
// https://cloud.google.com/kms/docs/reference/rpc/google.cloud.kms.v1).
const ephemeralKeyLen = 32

// methodRule is what an import method is.
type methodRule struct {
	bits int         // RSA wrapping key size
	hash crypto.Hash // RSAES-OAEP hash, also the MGF1 hash; the label is empty
	kwp  bool        // RSA-OAEP of an ephemeral AES-256 key, then AES-KWP (RFC 5649)
	// rsaMaterial: whether RSA private keys can be wrapped with it. "Due to
	// technical limitations of RSA wrapping, this method cannot be used to wrap
	// RSA keys for import." (RSA_OAEP_*_SHA256, ImportMethod,
	// https://cloud.google.com/kms/docs/reference/rpc/google.cloud.kms.v1).
	rsaMaterial bool
}

// importMethods: ImportMethod
// (https://cloud.google.com/kms/docs/reference/rpc/google.cloud.kms.v1) and
// "Import methods" (https://cloud.google.com/kms/docs/key-wrapping):
// RSA_OAEP_{3072,4096}_SHA{1,256}_AES_256 are CKM_RSA_AES_KEY_WRAP with a 3072
// or 4096 bit RSA key; RSA_OAEP_{3072,4096}_SHA256 are RSAES-OAEP directly.
// The HPKE methods are not emulated (CreateImportJob answers Unimplemented).
var importMethods = map[kmspb.ImportJob_ImportMethod]methodRule{
	kmspb.ImportJob_RSA_OAEP_3072_SHA1_AES_256:   {bits: 3072, hash: crypto.SHA1, kwp: true, rsaMaterial: true},
	kmspb.ImportJob_RSA_OAEP_4096_SHA1_AES_256:   {bits: 4096, hash: crypto.SHA1, kwp: true, rsaMaterial: true},
	kmspb.ImportJob_RSA_OAEP_3072_SHA256_AES_256: {bits: 3072, hash: crypto.SHA256, kwp: true, rsaMaterial: true},
	kmspb.ImportJob_RSA_OAEP_4096_SHA256_AES_256: {bits: 4096, hash: crypto.SHA256, kwp: true, rsaMaterial: true},
	kmspb.ImportJob_RSA_OAEP_3072_SHA256:         {bits: 3072, hash: crypto.SHA256},
	kmspb.ImportJob_RSA_OAEP_4096_SHA256:         {bits: 4096, hash: crypto.SHA256},
}

// importJobLevels: the protection levels an import job may have. gcloud
// (https://cloud.google.com/sdk/gcloud/reference/kms/import-jobs/create):
// "PROTECTION_LEVEL must be one of: software, hsm"; key import
// (https://cloud.google.com/kms/docs/key-import) also names HSM_SINGLE_TENANT,
// which needs a single-tenant HSM instance the fake does not have, and rules
// out importing into Cloud External Key Manager keys.
var importJobLevels = map[kmspb.ProtectionLevel]bool{
	kmspb.ProtectionLevel_SOFTWARE: true,
	kmspb.ProtectionLevel_HSM:      true,
}

// keyKind is the kind of key material an algorithm takes.
type keyKind int

const (
	kindSecret keyKind = iota + 1 // raw bytes (symmetric encryption, HMAC)
	kindRSA                       // PKCS#8 RSA private key
	kindEC                        // PKCS#8 NIST EC private key
	kindK1                        // PKCS#8 secp256k1 private key
)

// algRule is what an algorithm is.
type algRule struct {
	purpose kmspb.CryptoKey_CryptoKeyPurpose
	kind    keyKind
	keyLen  int            // kindSecret: bytes of key material
	bits    int            // kindRSA: modulus size
	curve   elliptic.Curve // kindEC
	hash    crypto.Hash    // digest (RSA sign), OAEP hash (decrypt), HMAC hash
	pss     bool           // RSA_SIGN_PSS_*: salt length = digest length
	raw     bool           // RSA_SIGN_RAW_PKCS1_*: the data is signed as given
	mode    string         // RAW_ENCRYPT_DECRYPT: "GCM", "CBC" or "CTR"
	hsmOnly bool
}

// algorithms: the CryptoKeyVersionAlgorithm list
// (https://cloud.google.com/kms/docs/reference/rpc/google.cloud.kms.v1) and
// "Key purposes and algorithms"
// (https://cloud.google.com/kms/docs/algorithms): GOOGLE_SYMMETRIC_ENCRYPTION
// for ENCRYPT_DECRYPT, AES_* for RAW_ENCRYPT_DECRYPT, RSA_SIGN_* and EC_SIGN_*
// for ASYMMETRIC_SIGN, RSA_DECRYPT_* for ASYMMETRIC_DECRYPT, HMAC_* for MAC;
// "For PSS, the salt length used is equal to the length of digest algorithm."
// Key material lengths from "Formatting keys for import"
// (https://cloud.google.com/kms/docs/formatting-keys-for-import): symmetric
// encryption keys "must be 16 bytes (for raw symmetric encryption only) or 32
// bytes"; HMAC keys "must have a length equal to the output length of the
// cryptographic hash function"; asymmetric keys PKCS#8 DER of "one of the
// length and algorithm combinations supported by Cloud KMS".
// EC_SIGN_SECP256K1_SHA256: "This curve is only supported for HSM protection
// level." (CryptoKeyVersionAlgorithm,
// https://cloud.google.com/kms/docs/reference/rpc/google.cloud.kms.v1). For
// the EC_SIGN_* algorithms "Other hash functions can also be used"
// (https://cloud.google.com/kms/docs/create-validate-signatures#ecdsa_support_for_other_hash_algorithms):
// AsymmetricSign takes a SHA-256, SHA-384 or SHA-512 digest with any EC key;
// RSA_SIGN_* take the digest they name only. Algorithms not in this table (EC_SIGN_ED25519, post-quantum,
// KEM, AES_256_KWP, EXTERNAL_SYMMETRIC_ENCRYPTION) are not emulated.
var algorithms = map[kmspb.CryptoKeyVersion_CryptoKeyVersionAlgorithm]algRule{
	kmspb.CryptoKeyVersion_GOOGLE_SYMMETRIC_ENCRYPTION: {purpose: kmspb.CryptoKey_ENCRYPT_DECRYPT, kind: kindSecret, keyLen: 32},

	kmspb.CryptoKeyVersion_AES_128_GCM: {purpose: kmspb.CryptoKey_RAW_ENCRYPT_DECRYPT, kind: kindSecret, keyLen: 16, mode: "GCM"},
	kmspb.CryptoKeyVersion_AES_256_GCM: {purpose: kmspb.CryptoKey_RAW_ENCRYPT_DECRYPT, kind: kindSecret, keyLen: 32, mode: "GCM"},
	kmspb.CryptoKeyVersion_AES_128_CBC: {purpose: kmspb.CryptoKey_RAW_ENCRYPT_DECRYPT, kind: kindSecret, keyLen: 16, mode: "CBC"},
	kmspb.CryptoKeyVersion_AES_256_CBC: {purpose: kmspb.CryptoKey_RAW_ENCRYPT_DECRYPT, kind: kindSecret, keyLen: 32, mode: "CBC"},
	kmspb.CryptoKeyVersion_AES_128_CTR: {purpose: kmspb.CryptoKey_RAW_ENCRYPT_DECRYPT, kind: kindSecret, keyLen: 16, mode: "CTR"},
	kmspb.CryptoKeyVersion_AES_256_CTR: {purpose: kmspb.CryptoKey_RAW_ENCRYPT_DECRYPT, kind: kindSecret, keyLen: 32, mode: "CTR"},

	kmspb.CryptoKeyVersion_HMAC_SHA1:   {purpose: kmspb.CryptoKey_MAC, kind: kindSecret, keyLen: 20, hash: crypto.SHA1},
	kmspb.CryptoKeyVersion_HMAC_SHA224: {purpose: kmspb.CryptoKey_MAC, kind: kindSecret, keyLen: 28, hash: crypto.SHA224},
	kmspb.CryptoKeyVersion_HMAC_SHA256: {purpose: kmspb.CryptoKey_MAC, kind: kindSecret, keyLen: 32, hash: crypto.SHA256},
	kmspb.CryptoKeyVersion_HMAC_SHA384: {purpose: kmspb.CryptoKey_MAC, kind: kindSecret, keyLen: 48, hash: crypto.SHA384},
	kmspb.CryptoKeyVersion_HMAC_SHA512: {purpose: kmspb.CryptoKey_MAC, kind: kindSecret, keyLen: 64, hash: crypto.SHA512},

	kmspb.CryptoKeyVersion_RSA_SIGN_PSS_2048_SHA256:   {purpose: kmspb.CryptoKey_ASYMMETRIC_SIGN, kind: kindRSA, bits: 2048, hash: crypto.SHA256, pss: true},
	kmspb.CryptoKeyVersion_RSA_SIGN_PSS_3072_SHA256:   {purpose: kmspb.CryptoKey_ASYMMETRIC_SIGN, kind: kindRSA, bits: 3072, hash: crypto.SHA256, pss: true},
	kmspb.CryptoKeyVersion_RSA_SIGN_PSS_4096_SHA256:   {purpose: kmspb.CryptoKey_ASYMMETRIC_SIGN, kind: kindRSA, bits: 4096, hash: crypto.SHA256, pss: true},
	kmspb.CryptoKeyVersion_RSA_SIGN_PSS_4096_SHA512:   {purpose: kmspb.CryptoKey_ASYMMETRIC_SIGN, kind: kindRSA, bits: 4096, hash: crypto.SHA512, pss: true},
	kmspb.CryptoKeyVersion_RSA_SIGN_PKCS1_2048_SHA256: {purpose: kmspb.CryptoKey_ASYMMETRIC_SIGN, kind: kindRSA, bits: 2048, hash: crypto.SHA256},
	kmspb.CryptoKeyVersion_RSA_SIGN_PKCS1_3072_SHA256: {purpose: kmspb.CryptoKey_ASYMMETRIC_SIGN, kind: kindRSA, bits: 3072, hash: crypto.SHA256},
	kmspb.CryptoKeyVersion_RSA_SIGN_PKCS1_4096_SHA256: {purpose: kmspb.CryptoKey_ASYMMETRIC_SIGN, kind: kindRSA, bits: 4096, hash: crypto.SHA256},
	kmspb.CryptoKeyVersion_RSA_SIGN_PKCS1_4096_SHA512: {purpose: kmspb.CryptoKey_ASYMMETRIC_SIGN, kind: kindRSA, bits: 4096, hash: crypto.SHA512},
	kmspb.CryptoKeyVersion_RSA_SIGN_RAW_PKCS1_2048:    {purpose: kmspb.CryptoKey_ASYMMETRIC_SIGN, kind: kindRSA, bits: 2048, raw: true},
	kmspb.CryptoKeyVersion_RSA_SIGN_RAW_PKCS1_3072:    {purpose: kmspb.CryptoKey_ASYMMETRIC_SIGN, kind: kindRSA, bits: 3072, raw: true},
	kmspb.CryptoKeyVersion_RSA_SIGN_RAW_PKCS1_4096:    {purpose: kmspb.CryptoKey_ASYMMETRIC_SIGN, kind: kindRSA, bits: 4096, raw: true},

	kmspb.CryptoKeyVersion_RSA_DECRYPT_OAEP_2048_SHA256: {purpose: kmspb.CryptoKey_ASYMMETRIC_DECRYPT, kind: kindRSA, bits: 2048, hash: crypto.SHA256},
	kmspb.CryptoKeyVersion_RSA_DECRYPT_OAEP_3072_SHA256: {purpose: kmspb.CryptoKey_ASYMMETRIC_DECRYPT, kind: kindRSA, bits: 3072, hash: crypto.SHA256},
	kmspb.CryptoKeyVersion_RSA_DECRYPT_OAEP_4096_SHA256: {purpose: kmspb.CryptoKey_ASYMMETRIC_DECRYPT, kind: kindRSA, bits: 4096, hash: crypto.SHA256},
	kmspb.CryptoKeyVersion_RSA_DECRYPT_OAEP_4096_SHA512: {purpose: kmspb.CryptoKey_ASYMMETRIC_DECRYPT, kind: kindRSA, bits: 4096, hash: crypto.SHA512},
	kmspb.CryptoKeyVersion_RSA_DECRYPT_OAEP_2048_SHA1:   {purpose: kmspb.CryptoKey_ASYMMETRIC_DECRYPT, kind: kindRSA, bits: 2048, hash: crypto.SHA1},
	kmspb.CryptoKeyVersion_RSA_DECRYPT_OAEP_3072_SHA1:   {purpose: kmspb.CryptoKey_ASYMMETRIC_DECRYPT, kind: kindRSA, bits: 3072, hash: crypto.SHA1},
	kmspb.CryptoKeyVersion_RSA_DECRYPT_OAEP_4096_SHA1:   {purpose: kmspb.CryptoKey_ASYMMETRIC_DECRYPT, kind: kindRSA, bits: 4096, hash: crypto.SHA1},

	kmspb.CryptoKeyVersion_EC_SIGN_P256_SHA256:      {purpose: kmspb.CryptoKey_ASYMMETRIC_SIGN, kind: kindEC, curve: elliptic.P256(), hash: crypto.SHA256},
	kmspb.CryptoKeyVersion_EC_SIGN_P384_SHA384:      {purpose: kmspb.CryptoKey_ASYMMETRIC_SIGN, kind: kindEC, curve: elliptic.P384(), hash: crypto.SHA384},
	kmspb.CryptoKeyVersion_EC_SIGN_SECP256K1_SHA256: {purpose: kmspb.CryptoKey_ASYMMETRIC_SIGN, kind: kindK1, hash: crypto.SHA256, hsmOnly: true},
}

// keyLevels: the protection levels the fake creates keys with. Others
// (EXTERNAL, EXTERNAL_VPC, HSM_SINGLE_TENANT) need an external key manager or
// a single-tenant HSM instance and are not emulated.
var keyLevels = map[kmspb.ProtectionLevel]bool{
	kmspb.ProtectionLevel_SOFTWARE: true,
	kmspb.ProtectionLevel_HSM:      true,
}

// Import failure reasons, in the words of "Troubleshooting failed imports"
// (https://cloud.google.com/kms/docs/troubleshooting-failed-imports). The fake
// never says more about why unwrapping failed.
const (
	reasonUnwrap    = "The key material in the import request couldn't be unwrapped or wasn't formatted correctly"
	reasonMalformed = "An argument to the import operation was malformed"
	reasonTooShort  = "Wrapped key is too short"
	reasonBlocks    = "Wrapped key does not consist of 64-bit blocks"
	reasonLength    = "Wrapped key has invalid length"
)
