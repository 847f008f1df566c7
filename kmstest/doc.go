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
// ExpiredImportTokenException), the wrapped key material unwrapped exactly as
// KMS does (byok.UnwrapKeyMaterial; InvalidCiphertextException when it
// fails) and checked strictly for the key spec (byok.ParseKeyMaterial;
// IncorrectKeyMaterialException), asymmetric and HMAC key material
// immutable, ValidTo in the future and at most 365 days ahead, key material
// expiring by the emulator's clock (WithClock) and the key returning to
// PendingImport, key states enforced on every operation
// (KMSInvalidStateException, DisabledException).
//
// Where AWS's behaviour is not documented precisely, the emulator chooses
// the stricter reading:
//
//   - The rules of which wrapping algorithm and wrapping key spec can carry
//     which key material (byok.CheckCompatible; for example RSA private
//     keys only with RSA_AES_KEY_WRAP_*, symmetric and HMAC keys only with
//     RSAES_OAEP_*, no ECC_NIST_P521 with RSAES_OAEP_* under RSA_2048) are
//     applied at ImportKeyMaterial, as ValidationException, before
//     unwrapping; GetParametersForImport accepts any of the four algorithms
//     with any of the three wrapping key specs. An import token may be used
//     more than once while it is valid, and a newer one does not revoke it.
//   - ImportType, KeyMaterialId and KeyMaterialDescription are refused
//     (ValidationException) for keys other than SYMMETRIC_DEFAULT, which
//     the API documents them as "only usable with".
//   - ExpirationModel defaults to KEY_MATERIAL_EXPIRES, so ImportKeyMaterial
//     without ValidTo needs KEY_MATERIAL_DOES_NOT_EXPIRE.
//   - A Disabled key refuses ImportKeyMaterial with DisabledException (the
//     API requires Enabled or PendingImport).
//   - EncryptionContext with an asymmetric key is refused
//     (ValidationException), as is RSA plaintext longer than OAEP carries.
//   - KeyMaterialId is hex(HMAC-SHA256(material, label ‖ key ID)): 64 hex
//     digits determined by the key ID and the key material, as AWS
//     describes it; it differs from the ID AWS would compute.
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
