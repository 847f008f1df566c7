// Package byok moves existing keys into AWS KMS as imported key material
// ("bring your own key"), and proves afterwards that KMS holds the same key.
//
// An import into KMS has four steps: create a KMS key with Origin EXTERNAL
// whose key spec matches the source key; call GetParametersForImport for an
// RSA wrapping public key and an import token (valid 24 hours); wrap the key
// material under that public key; call ImportKeyMaterial. This package holds
// the part every path shares: the names, AWS's rules, the key material
// encoding and the wrapping itself.
//
// # Key specs and key material
//
// KeySpec, KeyUsage, WrappingAlgorithm and WrappingKeySpec are string types
// spelled as KMS spells them, so a value from the AWS SDK converts directly.
// Specs KMS has but cannot import (SM2, Ed25519, ML-DSA, ML-KEM) are
// recognised and refused with ErrNotImportable.
//
// KMS wants 32 raw bytes for SYMMETRIC_DEFAULT, exactly 28, 32, 48 or 64 raw
// bytes for HMAC_224/256/384/512, and PKCS#8 DER for RSA (two primes;
// 2048, 3072 or 4096 bits) and EC private keys (named curve, public key
// included; P-256, P-384, P-521 and secp256k1). LoadKeyFile reads PEM or
// DER in PKCS#8, PKCS#1, SEC1 and encrypted PKCS#8, and raw, hex or base64
// secret keys, and returns a KeyMaterial in exactly that form, with its key
// spec and possible key usages detected.
//
// # Wrapping
//
// WrapKeyMaterial implements the four wrapping algorithms KMS accepts:
// RSAES_OAEP_SHA_1 and RSAES_OAEP_SHA_256 (RSA-OAEP, MGF1 with the same
// hash, empty label), and RSA_AES_KEY_WRAP_SHA_1 and RSA_AES_KEY_WRAP_SHA_256
// (PKCS#11's CKM_RSA_AES_KEY_WRAP: RSA-OAEP of a fresh AES-256 key, followed
// by RFC 5649 AES key wrap with padding of the material under that key).
// RSAES_PKCS1_V1_5 is refused: AWS stopped accepting it on 2023-10-10.
// UnwrapKeyMaterial is the inverse, as KMS computes it; it is used by tests
// and emulators, and fails with the single error ErrUnwrap whatever went
// wrong, so that it is no oracle.
//
// # Rules
//
// CheckCompatible applies AWS's rules in one table: symmetric and HMAC
// material is wrapped with RSAES_OAEP only; RSA private keys with
// RSA_AES_KEY_WRAP only; EC keys with either, except ECC_NIST_P521 with
// RSAES_OAEP under an RSA_2048 wrapping key; RSA-OAEP carries at most
// k − 2·hLen − 2 bytes; the wrapped blob is at most 6144 bytes. A refusal is a
// *CompatibilityError that names the rule. ChooseWrapping picks the best
// algorithm and wrapping key spec for a key spec among those a source can
// perform, and says why.
//
// # Verification
//
// Importer.Import proves each import (KMS.VerifyImport) and KMS.VerifyKey
// proves a KMS key at any later time. A Verification lists every Check by
// name and ends in a Verdict: VerdictPassed needs at least one identity
// check (Check.Identity: one only the source key passes, such as GetPublicKey
// equality, a signature, a MAC, or KMS accepting the source's material
// again) and no failed check; VerdictFailed means a check failed
// (ErrVerification); VerdictUnproven means nothing could prove identity — a
// denied call, a disabled key, a declined re-import — and is never PASSED
// (ErrUnproven). SYMMETRIC_DEFAULT keys, whose KMS ciphertexts are opaque,
// are proven by VerifyKey's re-import: KMS accepts the same material again
// (ImportType EXISTING_KEY_MATERIAL with the key's KeyMaterialId) and refuses
// any other with IncorrectKeyMaterialException.
//
// # Secrets
//
// KeyMaterial cannot print itself: every fmt verb and slog show only the key
// spec and a fingerprint. Plaintext buffers and the ephemeral AES key are
// cleared after use. Go's garbage collector may have copied a buffer before it
// was cleared, so the clearing is best effort, not a guarantee.
//
// # Concurrency
//
// All functions are safe for concurrent use. A KeyMaterial may be used from
// several goroutines until Destroy is called.
//
// # Limitations
//
// The KMS client, the KMS emulator (package kmstest), the PKCS#11 drivers
// and the command-line tool are built in stages; see the README for what
// exists now.
package byok
