package azkvtest

// This file is the fake's own copy of Key Vault's rules for keys and BYOK,
// written from Microsoft's documentation and deliberately NOT derived from
// byok (byok's Azure target is what the fake checks). Each rule names the
// page it comes from; where the pages are silent the fake chooses the
// stricter reading and says so (see also doc.go).
//
// The pages (the same text is in MicrosoftDocs/azure-security-docs):
const (
	// "Bring your own key specification" — KEK properties, the key transfer
	// blob (.byok JSON), the target key plaintext, CKM_RSA_AES_KEY_WRAP with
	// RSA-OAEP/SHA-1, the import request body with key_hsm.
	docBYOKSpec = "https://learn.microsoft.com/azure/key-vault/keys/byok-specification"
	// "Import HSM-protected keys to Key Vault (BYOK)" — supported KEK and
	// target key types; "'import' is mutually exclusive with all other key
	// operations"; P-256K import supported; oct-HSM only on Managed HSM.
	docBYOKKeyVault = "https://learn.microsoft.com/azure/key-vault/keys/hsm-protected-keys-byok"
	// "Import HSM-protected keys to Managed HSM (BYOK)".
	docBYOKManagedHSM = "https://learn.microsoft.com/azure/key-vault/managed-hsm/hsm-protected-keys-byok"
	// "About keys" — key types per resource (vault Premium: RSA-HSM,
	// EC-HSM, software RSA/EC; Managed HSM: RSA-HSM, EC-HSM, oct-HSM
	// 128/192/256 only).
	docAboutKeys = "https://learn.microsoft.com/azure/key-vault/keys/about-keys"
	// "Key types, algorithms, and operations" (vaults) — sign/verify and
	// encrypt/wrap algorithms per key type; digest lengths.
	docAlgorithms = "https://learn.microsoft.com/azure/key-vault/keys/about-keys-details"
	// "Key types, algorithms, and operations (Managed HSM)" — the same plus
	// AES-KW, AES-GCM, AES-CBC for oct-HSM keys.
	docAlgorithmsMHSM = "https://learn.microsoft.com/azure/key-vault/managed-hsm/about-keys-details"
	// "Import Key" REST reference — PUT {vaultBaseUrl}/keys/{key-name},
	// body {key, Hsm, attributes, release_policy, tags}, 200 KeyBundle;
	// key-name pattern ^[0-9a-zA-Z-]+$.
	docImportREST = "https://learn.microsoft.com/rest/api/keyvault/keys/import-key/import-key"
	// "Create Key" REST reference — POST {vaultBaseUrl}/keys/{key-name}/create.
	docCreateREST = "https://learn.microsoft.com/rest/api/keyvault/keys/create-key/create-key"
	// "Sign" and "Verify" REST references — POST …/keys/{name}/{version}/sign
	// {alg, value: digest} → {kid, value: signature}; …/verify {alg, digest,
	// value} → {value: bool}.
	docSignREST   = "https://learn.microsoft.com/rest/api/keyvault/keys/sign/sign"
	docVerifyREST = "https://learn.microsoft.com/rest/api/keyvault/keys/verify/verify"
	// "Wrap Key" REST reference.
	docWrapREST = "https://learn.microsoft.com/rest/api/keyvault/keys/wrap-key/wrap-key"
	// "Authentication, requests, and responses" — 401 with
	// WWW-Authenticate: Bearer authorization="…", resource="…"; error body
	// {"error":{"code","message"}}; api-version required.
	docAuth = "https://learn.microsoft.com/azure/key-vault/general/authentication-requests-and-responses"
	// "REST API error codes" — 401 unauthenticated, 403 not permitted.
	docErrors = "https://learn.microsoft.com/azure/key-vault/general/rest-error-codes"
)

// The rules table. Every row is enforced by the code named in the last
// column; tests in import_test.go, server_test.go and ops_test.go fail if a
// row is removed (the import rows were checked by removing each).
//
//	| # | Rule | Source | Where |
//	|---|------|--------|-------|
//	| 1 | A KEK is an RSA-HSM key of 2048, 3072 or 4096 bits | docBYOKSpec, docBYOKKeyVault | checkKEK |
//	| 2 | A KEK's key_ops are exactly ["import"]; "import" is mutually exclusive with every other operation (refused at create) | docBYOKSpec, docBYOKKeyVault, docBYOKManagedHSM | checkKeyOps, checkKEK |
//	| 3 | The KEK must be in the same vault as the target key: the blob's kid names this vault's host, an existing key and version | docBYOKSpec | checkKEK |
//	| 4 | Transfer blob: JSON {schema_version "1.0.0", header{kid, alg "dir", enc "CKM_RSA_AES_KEY_WRAP"}, ciphertext BASE64URL, generator} | docBYOKSpec | parseTransferBlob |
//	| 5 | key_hsm is the whole .byok file, Base64 (the JWK byte encoding: base64url) | docBYOKSpec | importKey |
//	| 6 | ciphertext = RSA-OAEP(SHA-1, MGF1-SHA-1, empty label) of an AES key under the KEK ‖ AES Key Wrap with Padding (RFC 5649) of the target key | docBYOKSpec | unwrapTransfer |
//	| 7 | Target key plaintext: RSA = PKCS#8 of the RFC 3447 key; EC = PKCS#8 of the RFC 5915 key; oct = raw bytes | docBYOKSpec | parseMaterial |
//	| 8 | Target kty: RSA-HSM 2048/3072/4096; EC-HSM P-256, P-384, P-521, P-256K (crv required for EC); oct-HSM 128/192/256 on Managed HSM only | docBYOKKeyVault, docBYOKManagedHSM, docAboutKeys | checkImportType, parseMaterial |
//	| 9 | The request's kty/crv must match the unwrapped material | docBYOKSpec (the kty/crv the import request names) | parseMaterial |
//	| 10 | key_ops allowed per type: RSA encrypt/decrypt/wrapKey/unwrapKey/sign/verify (+import for a KEK); EC sign/verify; oct encrypt/decrypt/wrapKey/unwrapKey | docAlgorithms, docAlgorithmsMHSM | checkKeyOps |
//	| 11 | Every cryptographic operation needs its key_op on the key (else 403 Forbidden) | docAlgorithms (key operations), docErrors | requireOp |
//	| 12 | Sign/verify: RS256/384/512 (PKCS#1 v1.5, DigestInfo built by the server), PS256/384/512 (PSS, MGF1 same hash), ES256/P-256, ES256K/P-256K, ES384/P-384, ES512/P-521; the value is a digest of exactly the hash's length | docAlgorithms, docSignREST, docVerifyREST | signAlg |
//	| 13 | Encrypt/decrypt/wrap/unwrap with RSA: RSA-OAEP (SHA-1), RSA-OAEP-256, RSA1_5; with oct (Managed HSM): A128/192/256KW (RFC 3394), A128/192/256GCM; the AES size must be the key's | docAlgorithms, docAlgorithmsMHSM, docWrapREST | cipherAlg |
//	| 14 | Software keys (RSA, EC) exist on vaults only; oct/oct-HSM on Managed HSM only | docAboutKeys | checkCreateType |
//	| 15 | Requests need a bearer token; without one: 401 with WWW-Authenticate Bearer authorization, resource | docAuth, docErrors | Server.handle |
//	| 16 | Errors are {"error":{"code","message"}} with 4xx/5xx | docAuth | writeError |
//	| 17 | Key names match ^[0-9a-zA-Z-]+$ (1 to 127 characters) | docImportREST, docCreateREST | route |
var _ = []string{docBYOKSpec, docBYOKKeyVault, docBYOKManagedHSM, docAboutKeys, docAlgorithms,
	docAlgorithmsMHSM, docImportREST, docCreateREST, docSignREST, docVerifyREST, docWrapREST, docAuth, docErrors}

// Key types as the REST API spells them.
const (
	ktyRSA    = "RSA"
	ktyRSAHSM = "RSA-HSM"
	ktyEC     = "EC"
	ktyECHSM  = "EC-HSM"
	ktyOct    = "oct"
	ktyOctHSM = "oct-HSM"
)

// Key operations as the REST API spells them.
const (
	opEncrypt   = "encrypt"
	opDecrypt   = "decrypt"
	opSign      = "sign"
	opVerify    = "verify"
	opWrapKey   = "wrapKey"
	opUnwrapKey = "unwrapKey"
	opImport    = "import"
)

// rsaSizes are the RSA modulus sizes Key Vault and Managed HSM support, for
// KEKs and target keys alike (rows 1, 8).
var rsaSizes = map[int]bool{2048: true, 3072: true, 4096: true}

// ecCurves are the curves (row 8; P-256K import "is supported").
var ecCurves = map[string]bool{"P-256": true, "P-384": true, "P-521": true, "P-256K": true}

// octSizes are the oct-HSM key sizes in bits (row 8).
var octSizes = map[int]bool{128: true, 192: true, 256: true}

// allowedOps is row 10: the key operations each key family can have. A KEK
// additionally has "import", alone (row 2).
var allowedOps = map[string][]string{
	ktyRSA: {opEncrypt, opDecrypt, opSign, opVerify, opWrapKey, opUnwrapKey},
	ktyEC:  {opSign, opVerify},
	ktyOct: {opEncrypt, opDecrypt, opWrapKey, opUnwrapKey},
}

// family maps a kty to its family (RSA, EC, oct).
func family(kty string) string {
	switch kty {
	case ktyRSA, ktyRSAHSM:
		return ktyRSA
	case ktyEC, ktyECHSM:
		return ktyEC
	case ktyOct, ktyOctHSM:
		return ktyOct
	}
	return ""
}

// Transfer blob constants (rows 4, 6).
const (
	blobSchemaVersion = "1.0.0"
	blobAlg           = "dir"
	blobEnc           = "CKM_RSA_AES_KEY_WRAP"
)
