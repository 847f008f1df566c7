// Package gcpkms is Google Cloud KMS as a byok target: the same source keys
// (software, HSM), wrapped the same way (inside the HSM where it can), go
// through byok.Importer.Import into a Cloud KMS crypto key, and the import
// is proven by using the key.
//
//	client, err := kms.NewKeyManagementClient(ctx) // cloud.google.com/go/kms/apiv1; Application Default Credentials
//	target, err := gcpkms.New(client, gcpkms.Options{
//		KeyRing: "projects/my-project/locations/europe-west1/keyRings/payments",
//		KeyID:   "payments-signing",
//	})
//	res, err := new(byok.Importer).Import(ctx, src, target)
//
// Only this package (and programs that import it) link the Cloud KMS
// client; the root package byok does not.
//
// # Import
//
// Prepare finds or creates the key ring, checks the crypto key if it
// exists (purpose, version template algorithm, protection level), creates
// an import job (or uses Options.ImportJobID) and waits until it is
// ACTIVE, and only then creates a missing crypto key: import-only, with no
// initial version. Import calls ImportCryptoKeyVersion with the job and
// waits until the version is ENABLED; IMPORT_FAILED is an error carrying
// Cloud KMS's import_failure_reason. Cloud KMS does not delete keys (and
// byok does not try): an error after the key was created names it and says
// what stays; an imported version is removed with
// `gcloud kms keys versions destroy`.
//
// # Rules
//
// Every rule is a Rule, applied before any call (byok.WrappingChooser), and
// refusals name it; the documentation page of each is on its constant.
//
//   - Key specs (byok's AWS names) map to Cloud KMS algorithms
//     (https://cloud.google.com/kms/docs/algorithms): SYMMETRIC_DEFAULT to
//     GOOGLE_SYMMETRIC_ENCRYPTION (or AES_256_GCM/CBC/CTR, raw encryption);
//     HMAC_224..512 to HMAC_SHA224..512; RSA_2048/3072/4096 to
//     RSA_SIGN_PKCS1_*_SHA256 (or PSS, RAW_PKCS1, 4096 SHA-512) for
//     SIGN_VERIFY and RSA_DECRYPT_OAEP_*_SHA256 (or SHA-1, 4096 SHA-512)
//     for ENCRYPT_DECRYPT; ECC_NIST_P256/P384 to EC_SIGN_P256_SHA256 and
//     EC_SIGN_P384_SHA384; ECC_SECG_P256K1 to EC_SIGN_SECP256K1_SHA256, HSM
//     only. ECC_NIST_P521 and KEY_AGREEMENT are refused: Cloud KMS has
//     neither.
//   - Import methods are byok's algorithms under RSA 3072/4096 wrapping keys
//     (https://cloud.google.com/kms/docs/key-wrapping):
//     RSA_OAEP_{3072,4096}_SHA{1,256}_AES_256 = RSA_AES_KEY_WRAP_SHA_{1,256};
//     RSA_OAEP_{3072,4096}_SHA256 = RSAES_OAEP_SHA_256, used for AES and HMAC
//     keys only. There is no RSA_2048 wrapping key and no direct RSA-OAEP
//     with SHA-1: an HSM whose OAEP is SHA-1 only (SoftHSM) brings every key
//     with the SHA-1 key wrap, a flagged fallback, and one that can do only
//     direct OAEP with SHA-1 cannot bring AES or HMAC keys at all.
//   - Material formats (https://cloud.google.com/kms/docs/formatting-keys-for-import)
//     are what byok.KeyMaterial encodes: raw bytes for AES (32) and HMAC
//     (the hash's output length: 28, 32, 48, 64 bytes, as byok's HMAC specs
//     require), DER PKCS#8 for RSA and EC keys.
//
// # Proof
//
// VerifyImport runs the checks below; only identity checks make the
// verdict PASSED (see byok.Verification).
//
//   - RSA and EC keys: GetPublicKey equals the source public key, and an
//     AsymmetricSign over a fresh digest verifies under it: identity checks
//     when the source derived its public key from its private key (software
//     keys), not when an HSM read it from a token. A signature the source
//     makes (byok.SignerSource) verifies under the public key Cloud KMS
//     returned: Cloud KMS has no Verify RPC, but that public key is derived
//     from the private key Cloud KMS holds, so this is an identity check
//     for every source. RSASSA-PKCS1-v1_5 signatures are deterministic and
//     also compared byte for byte. RSA decryption keys: AsymmetricDecrypt
//     of a fresh message encrypted under the source public key.
//   - HMAC keys: MacSign equals the source's HMAC (byok.MACSource).
//   - GOOGLE_SYMMETRIC_ENCRYPTION: an Encrypt/Decrypt round trip, which any
//     key passes (the ciphertext format is Cloud KMS's own): UNPROVEN.
//   - AES_256_GCM/CBC/CTR: RawEncrypt output decrypted with the source key
//     when the source holds it in memory (MaterialSource, software keys):
//     identity; otherwise a RawDecrypt round trip, usability only.
//
// A successful import is recorded (Cloud KMS unwrapped and accepted the
// material) but is not an identity check: a source that wrapped another key
// than it describes passes it. Every call uses Cloud KMS's CRC32C integrity
// fields (https://cloud.google.com/kms/docs/data-integrity-guidelines); a
// mismatch stops the proof (UNPROVEN). A call refused with PermissionDenied
// or FailedPrecondition is recorded in Skipped; evidence of another key is
// a failed check (FAILED).
//
// # Testing
//
// The tests run the real Cloud KMS Go client against gcpkmstest, a
// verifying fake of the published API: "fake of the published API, real
// client", not tests against Google Cloud.
package gcpkms
