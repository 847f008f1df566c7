// Package kmstest is a verifying AWS KMS emulator for tests, the way
// net/http/httptest serves HTTP: NewServer starts it on a loopback port,
// and kms.NewFromConfig(srv.AWSConfig()) gives a real AWS SDK for Go v2
// client that talks to it. NewHandler returns the same emulator as an
// http.Handler to serve on a listener of one's own (`byok emulator --listen`).
//
// THIS IS A TEST EMULATOR. It keeps key material in memory in the clear and,
// with WithStateDir, on disk in the clear (mode 0600). Never give it real
// keys.
//
// # What it emulates
//
// The AWS JSON 1.1 protocol of KMS: POST / with X-Amz-Target
// TrentService.<Operation> and Content-Type application/x-amz-json-1.1,
// blobs in base64, timestamps in epoch seconds, and errors as
// {"__type": "<ExceptionName>", "message": "…"} with HTTP 400 (500 for
// KMSInternalException and DependencyTimeoutException, as the KMS API
// Reference documents; the SDK decodes errors by __type, not by status), so
// that the SDK returns its typed errors (*types.NotFoundException, …).
//
// One emulator serves one account in every Region: the Region of a request
// is the one in its SigV4 Authorization header's credential scope. Requests
// must carry an Authorization header (the SDK and the AWS CLI always send
// one); a missing one fails with MissingAuthenticationTokenException, a
// malformed one with IncompleteSignatureException. The signature itself is
// NOT verified: any credentials work.
//
// Operations: CreateKey, DescribeKey, ListKeys, EnableKey, DisableKey,
// ScheduleKeyDeletion, CancelKeyDeletion, CreateAlias, DeleteAlias,
// ListAliases, TagResource, UntagResource, ListResourceTags, ReplicateKey,
// GetParametersForImport, ImportKeyMaterial, DeleteImportedKeyMaterial,
// RotateKeyOnDemand, ListKeyRotations, GetPublicKey, Sign, Verify,
// Encrypt, Decrypt, GenerateMac, VerifyMac and DeriveSharedSecret. Other
// KMS operations fail with HTTP 501 and the emulator's own error name
// NotImplemented; names KMS does not have fail with
// UnknownOperationException, malformed JSON with SerializationException.
//
// Key specs: every importable spec (SYMMETRIC_DEFAULT, HMAC_224/256/384/512,
// RSA_2048/3072/4096, ECC_NIST_P256/P384/P521, ECC_SECG_P256K1) with every
// key usage KMS allows for it, with origin AWS_KMS (the emulator generates
// the key material) or EXTERNAL (imported key material).
//
// # How strict it is
//
// What the emulator accepts, KMS would accept; what KMS refuses, it refuses
// with KMS's error name. It checks requests as KMS's validation does
// (required members, lengths, enums; ValidationException) and applies KMS's
// rules for import: GetParametersForImport only for origin EXTERNAL
// (UnsupportedOperationException), RSAES_PKCS1_V1_5 refused
// (ValidationException), import tokens bound to their key, wrapping key pair
// and algorithm and valid for 24 hours (InvalidImportTokenException,
// ExpiredImportTokenException), the wrapped key material unwrapped as KMS
// does (InvalidCiphertextException when it fails) and checked strictly for
// the key spec (IncorrectKeyMaterialException), asymmetric and HMAC key
// material immutable, ValidTo in the future and at most 365 days ahead, key
// material expiring by the emulator's clock (WithClock) and the key
// returning to PendingImport, key states enforced on every operation
// (KMSInvalidStateException, DisabledException).
//
// # Independent of byok
//
// The emulator exists to check byok, so it is built from none of byok's
// code (a test runs `go list -deps` to keep it so): a bug byok's wrap and
// unwrap share, or a wrong rule in byok's table, cannot pass its tests.
//
//   - Rules: its own literal table (rules.go) of which wrapping algorithm
//     carries which type of key material under which wrapping key spec,
//     written from the GetParametersForImport API Reference
//     (https://docs.aws.amazon.com/kms/latest/APIReference/API_GetParametersForImport.html)
//     and "Importing key material step 2" and "step 3"
//     (https://docs.aws.amazon.com/kms/latest/developerguide/importing-keys-get-public-key-and-token.html,
//     https://docs.aws.amazon.com/kms/latest/developerguide/importing-keys-encrypt-key-material.html):
//     RSAES_OAEP_SHA_1/256 for every type of key material except RSA
//     private keys, and not ECC_NIST_P521 under an RSA_2048 wrapping key;
//     RSA_AES_KEY_WRAP_SHA_1/256 for RSA and ECC private keys only;
//     RSAES_PKCS1_V1_5 for nothing since October 10, 2023; RSA_2048, 3072
//     and 4096 wrapping keys otherwise alike. They are applied at
//     ImportKeyMaterial, as ValidationException, before unwrapping;
//     GetParametersForImport accepts any of the four algorithms with any of
//     the three wrapping key specs (AWS does not document refusing them
//     there).
//   - Unwrap: crypto/rsa's RSA-OAEP (SHA-1 or SHA-256, MGF1 with the same
//     hash, empty label; the ciphertext exactly the modulus length) and,
//     for RSA_AES_KEY_WRAP_*, a 32-byte AES key by RSA-OAEP followed by AES
//     Key Wrap with Padding (RFC 5649) from github.com/tink-crypto/tink-go
//     (kwp/subtle, 16 to 8192 bytes, which covers every importable key
//     material: at most about 2.4 KB, an RSA_4096 PKCS#8).
//   - Key material (keymaterial.go): crypto/x509 for RSA and NIST EC
//     PKCS#8, encoding/asn1 and github.com/decred/dcrd/dcrec/secp256k1 for
//     ECC_SECG_P256K1 (OID 1.3.132.0.10); material is accepted only if it is
//     byte for byte the canonical encoding of the key it holds (see there).
//     GetPublicKey answers with x509.MarshalPKIXPublicKey, or for secp256k1
//     an SPKI of id-ecPublicKey, the curve's OID and the uncompressed point.
//     Keys with origin AWS_KMS get key material from crypto/rand,
//     crypto/rsa, crypto/ecdsa and the secp256k1 library.
//
// # Re-importing key material
//
// As the ImportKeyMaterial API Reference documents
// (https://docs.aws.amazon.com/kms/latest/APIReference/API_ImportKeyMaterial.html;
// see also "Reimport key material",
// https://docs.aws.amazon.com/kms/latest/developerguide/importing-keys-import-key-material.html#reimport-key-material):
// the same key material may be imported again any number of times, each
// import setting ExpirationModel and ValidTo anew; different key material
// fails with IncorrectKeyMaterialException, for HMAC and asymmetric keys
// always, for symmetric keys unless imported as new key material
// (ImportType NEW_KEY_MATERIAL, see below). ImportType defaults to
// NEW_KEY_MATERIAL for a key that never had key material and to
// EXISTING_KEY_MATERIAL after; with EXISTING_KEY_MATERIAL and a
// KeyMaterialId, KMS computes the ID of the material it unwrapped, compares
// it with the one given and requires it to be associated with the key;
// either mismatch is IncorrectKeyMaterialException and changes nothing.
// So a re-import with the key's CurrentKeyMaterialId and its current
// ExpirationModel and ValidTo proves, without changing the key, whether
// some material is the key's.
//
// KeyMaterialId: AWS documents it only as "based on the KMS key ID and the
// imported key material", not how it is computed. The emulator's is
// hex(HMAC-SHA256(key: material, "kmstest KeyMaterialId v1\0" ‖ key ID)):
// 64 lower-case hex digits, as AWS's are, equal for the same material in
// the same key and different otherwise; it differs from the ID AWS would
// compute, so never compare it with AWS's.
//
// Where AWS's behaviour is not documented precisely, the emulator chooses
// the stricter reading:
//
//   - HMAC key material must be exactly as long as the spec's digest (28,
//     32, 48 or 64 bytes); PKCS#8 must be canonical DER with the public key
//     included for EC keys (keymaterial.go).
//   - An import token may be used more than once while it is valid, and a
//     newer one does not revoke it.
//   - ImportType, KeyMaterialId and KeyMaterialDescription are refused
//     (ValidationException) for keys other than SYMMETRIC_DEFAULT, which
//     the API documents them as "only usable with".
//   - ExpirationModel defaults to KEY_MATERIAL_EXPIRES, so ImportKeyMaterial
//     without ValidTo needs KEY_MATERIAL_DOES_NOT_EXPIRE.
//   - A Disabled key refuses ImportKeyMaterial with DisabledException (the
//     API requires Enabled or PendingImport).
//   - EncryptionContext with an asymmetric key is refused
//     (ValidationException), as is RSA plaintext longer than OAEP carries.
//   - ImportType NEW_KEY_MATERIAL with key material already associated
//     with the key is IncorrectKeyMaterialException.
//
// Rotation of imported symmetric key material follows the API
// documentation: ImportType NEW_KEY_MATERIAL into a key that has key
// material puts the new material in PENDING_ROTATION (only one at a time:
// a second fails with KMSInvalidStateException until it is rotated in or
// deleted; for a multi-Region primary with replicas it is
// PENDING_MULTI_REGION_IMPORT_AND_ROTATION until every replica imported it
// with EXISTING_KEY_MATERIAL); RotateKeyOnDemand makes it CURRENT (the
// previous one NON_CURRENT, still used to decrypt) and fails with
// KMSInvalidStateException when none is pending; at most 25 on-demand
// rotations (LimitExceededException). A key is Enabled only while every key
// material permanently associated with it is imported; when one expires or
// is deleted the key is PendingImport until it is imported again (ImportType
// EXISTING_KEY_MATERIAL, the default once a key has key material).
//
// ReplicateKey creates the replica immediately (AWS goes through Creating);
// a replica of an EXTERNAL key has no key material and is PendingImport
// until the same key material is imported into it.
//
// Symmetric ciphertexts use the emulator's own format (key ID, key
// material ID, AES-256-GCM with the encryption context as additional
// authenticated data); they are not interchangeable with AWS's.
//
// # Quotas, faults, latency
//
// WithDefaultQuotas applies AWS's default request quotas per account and
// Region (the Quota* constants), as token buckets over real time, and fails
// requests over quota with ThrottlingException (HTTP 400). The SDK retries
// throttled requests by default; set o.Retryer = aws.NopRetryer{} to see
// them. WithQuota sets single quotas. WithFault injects failures, delays and
// connection resets; WithLatency delays every request.
//
// # Not emulated
//
// SigV4 signature verification; IAM, key policies (stored and returned,
// never enforced) and grants (grant tokens are accepted and ignored);
// custom key stores (CloudHSM and external key stores: the account has
// none, so CustomKeyStoreId fails with CustomKeyStoreNotFoundException);
// automatic key rotation; key specs KMS generates but cannot import
// (ECC_NIST_EDWARDS25519, ML-DSA, ML-KEM, SM2: CreateKey with origin AWS_KMS
// answers NotImplemented); data key operations (GenerateDataKey*),
// ReEncrypt, GenerateRandom, key policy operations, UpdateAlias,
// UpdatePrimaryRegion; Nitro Enclaves attestation (Recipient); eventual
// consistency (changes are visible at once).
package kmstest
