// Package byok moves existing keys into AWS KMS as imported key material
// ("bring your own key"), and proves afterwards that KMS holds the same key.
//
// An import into KMS has four steps: create a KMS key with Origin EXTERNAL
// whose key spec matches the source key; call GetParametersForImport for an
// RSA wrapping public key and an import token (valid 24 hours); wrap the key
// material under that public key; call ImportKeyMaterial. Importer.Import
// runs them between a KeySource, which holds the key, and a KMSTarget, which
// stands for KMS; then it proves the result.
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
// included; P-256, P-384, P-521 and secp256k1). A KeyMaterial holds a key
// in exactly that form, with its key spec and possible usages.
//
// # Key sources
//
// A KeySource describes its key (KeyInfo: spec, usage, public key,
// fingerprint; nothing secret) and wraps its material under import
// parameters; the plaintext never crosses the interface. A source says what
// more it can do by implementing a second small interface: AlgorithmLister
// (only some wrapping algorithms, as many HSMs), SignerSource (signs, for the
// proof of asymmetric keys) and MACSource (computes an HMAC).
//
// Sources live in other packages: driver/software for key files and Go keys,
// hsm and the driver/... packages for keys in a PKCS#11 module, where the
// module wraps and the plaintext never leaves it. For key files, LoadKeyFile
// reads PEM or DER in PKCS#8, PKCS#1, SEC1, encrypted PKCS#8 and PKCS#12,
// and raw, hex or base64 secret keys; a secret key whose bytes read as more
// than one encoding is refused (ErrAmbiguousEncoding) until
// LoadOptions.Format says which. NewKeyMaterial takes a Go private key,
// NewSecretKeyMaterial raw secret bytes, and ParseKeyMaterial bytes already
// in KMS's form.
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
// CheckCompatible applies AWS's rules in one table: symmetric and HMAC
// material is wrapped with RSAES_OAEP only; RSA private keys with
// RSA_AES_KEY_WRAP only; EC keys with either, except ECC_NIST_P521 with
// RSAES_OAEP under an RSA_2048 wrapping key; RSA-OAEP carries at most
// k − 2·hLen − 2 bytes; the wrapped blob is at most 6144 bytes. A refusal is
// a *CompatibilityError that names the Rule; errors.Is(err, RuleOAEPOnly)
// tells which rule refused. ChooseWrapping picks the best algorithm and
// wrapping key spec for a key spec among those a source can perform, and
// says why.
//
// # Importing
//
// Importer.Import(ctx, src, dst) negotiates the wrapping algorithm
// (Importer.Plan shows the choice without side effects), has dst create or
// find the KMS key and get import parameters, checks those parameters
// against what was asked (ErrBadParameters), has src wrap, has dst import,
// and proves the result. An import token that expires on the way is replaced
// once for the same key when dst implements ParameterRefresher. An error
// after the KMS key was created still returns a Result naming the key.
//
// KMS is the AWS target. NewKMS takes an aws.Config the caller loaded
// (config.LoadDefaultConfig), or set KMS.Client to anything implementing
// KMSAPI, the calls byok makes. byok does not load AWS configuration
// itself, so importing it does not link the SDK's credential providers. KMS
// checks before it acts: an alias that already names a key is refused
// (ErrAliasInUse) before any key is created, unless it names a key an
// interrupted run left in PendingImport, which is finished; a key the import
// created and could not finish can be removed with KMS.ScheduleDeletion.
//
// # Verification and verdicts
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
// # Errors
//
// Conditions a caller acts on are sentinels, all declared in errors.go and
// tested with errors.Is; the errors byok returns wrap them with what was
// being done and how to fix it. Errors from the AWS SDK stay reachable with
// errors.As (for example *types.ExpiredImportTokenException).
//
// # Concurrency
//
// All functions are safe for concurrent use. An Importer and a KMS target
// are read, never modified, by their methods: one of each can serve many
// imports at once, as long as the target names no single key (KeyID) or
// alias (Alias). A KeyMaterial may be used from several goroutines until
// Destroy is called.
//
// # Limitations
//
// The proof needs KMS permissions beyond the import (kms:GetPublicKey,
// kms:Sign, kms:Verify, kms:GenerateMac, kms:Encrypt, kms:Decrypt); without
// them the verdict is UNPROVEN, not PASSED. byok does not run
// DeriveSharedSecret, so KEY_AGREEMENT keys are proven by their public key
// only. SM2 keys and the SM2PKE wrapping algorithm (China Regions) are not
// supported. The package kmstest emulates KMS for tests; it is not AWS.
//
// # Secrets
//
// KeyMaterial cannot print itself: every fmt verb and slog show only the key
// spec and a fingerprint. Plaintext buffers and the ephemeral AES key are
// cleared after use. Go's garbage collector may have copied a buffer before it
// was cleared, so the clearing is best effort, not a guarantee.
package byok
