// Package azkvtest is a verifying fake of the Azure Key Vault and Managed
// HSM keys REST API for tests: New starts it on a loopback HTTPS port with a
// fresh certificate, and
//
//	azkeys.NewClient(srv.URL(), srv.Credential(), srv.ClientOptions())
//
// gives the REAL azkeys client (github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azkeys)
// talking to it. It is a fake of the published API, exercised with the real
// client; it is not Azure, and passing against it is not "tested against
// Azure".
//
// THIS IS A TEST FAKE. It keeps key material in memory in the clear. Never
// give it real keys.
//
// # What it emulates
//
// The keys data plane as azkeys v1.6.0 calls it (api-version 7.4, 7.5, 7.6,
// 2025-07-01 and 2026-04-01 accepted; any other, or none, is 400
// BadParameter): CreateKey (POST /keys/{name}/create), ImportKey (PUT
// /keys/{name}) with a BYOK transfer blob in key.key_hsm, GetKey (GET
// /keys/{name}[/{version}]), UpdateKey (enabled, tags, key_ops), DeleteKey, ListKeyProperties,
// ListKeyPropertiesVersions, Sign, Verify, Encrypt, Decrypt, WrapKey and
// UnwrapKey. Other azkeys operations (RotateKey, Backup/Restore,
// Release, rotation policies, attestation, deleted keys, GetRandomBytes)
// answer 501 NotImplemented.
//
// Authentication is the bearer challenge Key Vault documents: a request
// without the server's token gets 401 with
// WWW-Authenticate: Bearer authorization="https://login.microsoftonline.com/{tenant}", resource="https://vault.azure.net"
// (https://managedhsm.azure.net with WithManagedHSM), so the client's
// challenge policy runs; Credential hands out the one token the server
// accepts, and only for the scope and tenant the challenge names.
//
// Errors are Key Vault's JSON, {"error":{"code":…,"message":…}}, which
// azcore turns into *azcore.ResponseError with StatusCode and ErrorCode:
// 400 BadParameter (refused request, refused import), 401 Unauthorized, 403
// Forbidden (the key's key_ops do not allow the operation, or it is
// disabled), 404 KeyNotFound, 501 NotImplemented.
//
// # How strict it is
//
// The rules are a literal table in rules.go, each row with the Microsoft
// documentation page it comes from. In short: a key exchange key (KEK) is
// an RSA-HSM key of 2048, 3072 or 4096 bits generated in this vault with
// key_ops exactly ["import"] ("import" is refused with any other operation
// at creation); the transfer blob is the .byok JSON of the BYOK
// specification (schema_version "1.0.0", header kid/alg "dir"/enc
// "CKM_RSA_AES_KEY_WRAP", ciphertext, generator), its kid names a key
// version of this vault; the ciphertext is RSA-OAEP (SHA-1, MGF1-SHA-1,
// empty label) of an AES key under the KEK followed by AES Key Wrap with
// Padding (RFC 5649) of the target key, which is PKCS#8 for RSA and EC and
// raw bytes for oct; the request's kty (RSA-HSM, EC-HSM, oct-HSM) and crv
// must match the material. Imports that break a rule fail with 400
// BadParameter and a message naming the rule and the page.
//
// Where the documentation is silent, the fake takes the stricter reading:
//
//   - enc is only "CKM_RSA_AES_KEY_WRAP" with RSA-OAEP SHA-1, the one form the
//     BYOK specification documents. RSA_AES_KEY_WRAP_256 and _384 are
//     documented for key release (export), not for BYOK import: refused.
//   - The ephemeral AES key is AES-256 (the specification does not give a
//     size).
//   - key_hsm is base64url without padding (the JWK encoding of every byte
//     member, and what azkeys sends); the specification says "Base64".
//   - The blob's kid must carry the KEK's version (the specification's
//     example does) and name this server's host; the KEK must be enabled.
//   - generator must be non-empty; unknown members in the blob or in the
//     request bodies are refused.
//   - A BYOK import names an -HSM key type (the specification's requests
//     do), EC-HSM with crv; Hsm, if sent, is true; the key carries no public
//     members and no kid; "import" cannot be given to an imported key (a KEK
//     is generated in the vault).
//   - PKCS#8 version 0, DER with no trailing data; the EC private key exactly
//     the curve's size (RFC 5915) and its public key, if present, matching.
//   - Sign and verify digests are exactly the hash's length for every
//     algorithm (documented for RS*); PS* use a salt as long as the hash
//     (RFC 7518); EC signatures are r‖s, each the curve's size (JWS).
//   - AES-KW algorithms are for wrapKey/unwrapKey, AES-GCM for
//     encrypt/decrypt, and the AES size in the name must be the key's; on
//     GCM encrypt the service makes the 12-byte IV.
//   - key_ops are checked on every operation (403 Forbidden); disabled keys
//     refuse every operation. Without key_ops a key gets every operation its
//     type allows, never "import"; whether a key is a KEK cannot be changed
//     by UpdateKey.
//   - CreateKey defaults: RSA 2048 bits (e = 65537 only), EC P-256, oct-HSM
//     256 bits ("256-bit [default if not specified]", About keys).
//
// WithFault makes every request for the operation fail, for the life of the
// server (azcore retries 408, 429, 500, 502, 503 and 504 by default, with the
// short delays of ClientOptions).
//
// # Independent of byok
//
// The fake exists to judge byok's Azure target and its .byok writer, so it
// is built from none of byok's packages (a test runs `go list -deps`): it
// unwraps with crypto/rsa and Tink's RFC 5649 implementation
// (github.com/tink-crypto/tink-go/v2/kwp/subtle), parses key material with
// crypto/x509, encoding/asn1 and github.com/decred/dcrd/dcrec/secp256k1,
// and has its own RFC 3394 key wrap (kw.go, tested with RFC 3394's vectors).
// Its tests make transfer blobs with OpenSSL 3 (pkeyutl and
// id-aes256-wrap-pad) and with crypto/rsa + Tink, never with byok.
//
// # Not emulated
//
// Software-key import from a plain JWK (d, k members), release policies,
// soft-delete state (a deleted key is gone), key attributes other than
// enabled, nbf/exp enforcement, RSNULL, HS256/384/512, AES-CBC,
// CKM_AES_KEY_WRAP(_PAD), throttling, Entra ID tokens (the credential is a
// static stand-in).
//
// # Concurrency
//
// A Server is safe for concurrent use by many clients.
package azkvtest
