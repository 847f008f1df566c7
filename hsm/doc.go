// Package hsm is byok's PKCS#11 layer: it moves a key from an HSM into AWS
// KMS with the key wrapped inside the HSM, so that the plaintext never
// leaves the module. The drivers softhsm, cloudhsm, luna, opencryptoki and
// pkcs11 (any module) are thin configurations of it: each is a Profile
// (vendor facts and quirks as named fields) under a name, and all take
// Config, the one configuration type of a PKCS#11 source.
//
// # Modules, tokens, sessions
//
// OpenModule loads a library once per path (reference-counted; Close the
// Module when done). Module.OpenToken picks a token (by label, serial,
// slot ID, or the only initialised one), logs in once — PKCS#11 login
// state belongs to the application and token — and keeps a pool of
// sessions safe for concurrent use. PINs come from a PINSource
// (driver.PINFromEnv, PINFromFile, PINPrompt), never from the command line
// or a URI's pin-value; AWS CloudHSM takes "user:password"
// (PINUserPassword). PINs are cleared after C_Login (best effort: the
// PKCS#11 binding copies them into C memory it does not clear).
//
// Keys are named by an RFC 7512 "pkcs11:" URI, or "label=…", "id=HEX",
// "handle=N" (ParseKeyRef). Token.FindKey describes the key — class, type,
// size or curve, CKA_EXTRACTABLE, CKA_SENSITIVE, the public key (for EC
// keys from the public key object with the same CKA_ID) — and maps it to a
// KMS key spec.
//
// # Wrapping
//
// Source (Open, Token.OpenKey) is a byok.KeySource. To wrap, it imports the
// KMS wrapping public key as a session object (CKA_TOKEN=false,
// CKA_WRAP=true) and destroys it afterwards, then calls C_WrapKey with
//
//   - CKM_RSA_PKCS_OAEP, hash and MGF1 set explicitly, no source data
//     (RSAES_OAEP_SHA_1/256);
//   - CKM_RSA_AES_KEY_WRAP with CK_RSA_AES_KEY_WRAP_PARAMS, 256-bit AES
//     (RSA_AES_KEY_WRAP_SHA_1/256);
//   - or, where the module lacks CKM_RSA_AES_KEY_WRAP, the same
//     construction in two steps inside the module: an ephemeral extractable
//     AES-256 session key, C_WrapKey of the key under it with
//     CKM_AES_KEY_WRAP_KWP (0x210B) or CKM_AES_KEY_WRAP_PAD (0x210A), and
//     RSA-OAEP of the ephemeral key. The ephemeral key is destroyed on
//     every path, errors included; if destroying it fails, the session is
//     closed, which destroys it.
//
// # Capabilities and negotiation
//
// Mechanism lists lie by omission, so Token.Capabilities probes: trial
// wraps of throwaway session keys under a throwaway RSA key whose private
// half byok holds, checking each result against what KMS would unwrap,
// cached per module and token for the process. Source.WrappingAlgorithms
// (byok.AlgorithmLister) turns that into the algorithms that give KMS
// exactly the key's material; byok's importer prefers SHA-256, falls back
// to SHA-1 with a warning, and refuses (ErrNoWrapping, which also matches
// byok.ErrIncompatible) when nothing fits — never exporting plaintext
// instead. Profiles (see the drivers) hold what vendors document, used
// without probing when Profile.NoProbe is set.
//
// # Verification
//
// Source.Signer (byok.SignerSource) signs inside the module with C_Sign
// (RSASSA-PKCS1-v1_5, RSASSA-PSS, ECDSA with DER output) and Source.MAC
// (byok.MACSource) computes HMACs with CKM_SHA*_HMAC, so that byok's proof
// after import checks the HSM's signature in KMS, KMS's signature under the
// HSM's public key, and KMS's GenerateMac against the HSM's HMAC. The
// signer is byok's own: github.com/ThalesGroup/crypto11 cannot share a
// module hsm has initialised (its C_Initialize fails with
// CKR_CRYPTOKI_ALREADY_INITIALIZED), so the tests use it instead as a
// second, independent signer for the same keys (docs/hsm.md).
//
// # Errors
//
// Failures are *Error values matching sentinels with errors.Is
// (ErrNotExtractable, ErrNotWrappable, ErrMechanism, ErrPINIncorrect,
// ErrNotLoggedIn, ErrModuleNotFound, ErrModuleNotLoadable,
// ErrTokenNotFound, …), naming the fix; the module's pkcs11.Error stays
// reachable with errors.As. No error contains a PIN or key material.
//
// # What was tried on real modules
//
// Run for real, in byok's tests: SoftHSM 2.6.1 (Debian 12) and
// opencryptoki 3.8.1's software token (Debian 12). Each key is created
// from known bytes, wrapped inside the module, the blob unwrapped with the
// test's key and compared byte for byte, then imported into byok's
// verifying KMS emulator (package kmstest) and proved. From SoftHSM 2.6.1:
// AES-256 and HMAC keys (RSAES_OAEP_SHA_1, its only OAEP), RSA 2048, 3072
// and 4096 (RSA_AES_KEY_WRAP_SHA_1 in two steps, only with the PKCS#8
// length given: its CKM_AES_KEY_WRAP_PAD zero-fills); EC keys are refused
// (its EC PKCS#8 omits the public key). From opencryptoki: AES-256 and HMAC
// keys with RSAES_OAEP_SHA_256; RSA refused (no AES key wrap); no EC.
//
// NOT tried on real hardware: AWS CloudHSM and Thales Luna. Their drivers
// are tested against hsmtest.Fake, a recording fake configured as their
// documentation describes (login form, mechanisms, OAEP parameters,
// wrapping key attributes), which checks the calls and templates byok
// makes; behaviour of the real modules beyond their documentation is not
// known to byok. See docs/hsm.md.
package hsm
