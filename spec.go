package byok

import (
	"crypto"
	"fmt"
	"slices"
)

// KeySpec is a KMS key spec, spelled as AWS spells it, so a value from the
// AWS SDK converts directly: byok.KeySpec(types.KeySpecRsa2048).
type KeySpec string

// The importable key specs.
const (
	SymmetricDefault KeySpec = "SYMMETRIC_DEFAULT" // AES-256 (32 raw bytes)
	HMAC224          KeySpec = "HMAC_224"          // 28 raw bytes
	HMAC256          KeySpec = "HMAC_256"          // 32 raw bytes
	HMAC384          KeySpec = "HMAC_384"          // 48 raw bytes
	HMAC512          KeySpec = "HMAC_512"          // 64 raw bytes
	RSA2048          KeySpec = "RSA_2048"          // PKCS#8, two-prime RSA
	RSA3072          KeySpec = "RSA_3072"          // PKCS#8, two-prime RSA
	RSA4096          KeySpec = "RSA_4096"          // PKCS#8, two-prime RSA
	ECCNISTP256      KeySpec = "ECC_NIST_P256"     // PKCS#8, named curve, public key included
	ECCNISTP384      KeySpec = "ECC_NIST_P384"     // PKCS#8, named curve, public key included
	ECCNISTP521      KeySpec = "ECC_NIST_P521"     // PKCS#8, named curve, public key included
	ECCSECGP256K1    KeySpec = "ECC_SECG_P256K1"   // PKCS#8, named curve secp256k1, public key included
)

// Key specs KMS knows but cannot import. byok recognises them (ParseKeySpec
// takes their names) so that it can refuse them with ErrNotImportable rather
// than call them unknown; they are not API.
const (
	specSM2       KeySpec = "SM2"
	specEd25519   KeySpec = "ECC_NIST_EDWARDS25519"
	specMLDSA44   KeySpec = "ML_DSA_44"
	specMLDSA65   KeySpec = "ML_DSA_65"
	specMLDSA87   KeySpec = "ML_DSA_87"
	specMLKEM512  KeySpec = "ML_KEM_512"
	specMLKEM768  KeySpec = "ML_KEM_768"
	specMLKEM1024 KeySpec = "ML_KEM_1024"
)

// KeyUsage is a KMS key usage.
type KeyUsage string

// The KMS key usages.
const (
	EncryptDecrypt    KeyUsage = "ENCRYPT_DECRYPT"
	SignVerify        KeyUsage = "SIGN_VERIFY"
	GenerateVerifyMAC KeyUsage = "GENERATE_VERIFY_MAC"
	KeyAgreement      KeyUsage = "KEY_AGREEMENT"
)

// MaterialKind says what kind of bytes a key spec's key material is.
type MaterialKind int

// The kinds of key material.
const (
	KindSymmetric MaterialKind = iota + 1 // raw AES-256 key
	KindHMAC                              // raw HMAC key
	KindRSA                               // PKCS#8 RSA private key
	KindEC                                // PKCS#8 EC private key
)

func (k MaterialKind) String() string {
	switch k {
	case KindSymmetric:
		return "symmetric"
	case KindHMAC:
		return "HMAC"
	case KindRSA:
		return "RSA private key"
	case KindEC:
		return "EC private key"
	}
	return fmt.Sprintf("MaterialKind(%d)", int(k))
}

// specInfo is one row of the key spec table.
type specInfo struct {
	kind   MaterialKind
	usages []KeyUsage // valid KMS key usages, the default first
	// size is the raw key length in bytes (symmetric, HMAC) or the key size
	// in bits (RSA modulus, EC field).
	size int
	// maxMaterial is the longest key material of this spec, in bytes: the
	// raw length, or the PKCS#8 encoding (RSA: the largest two-prime
	// encoding; EC: with the public key, as KMS wants it).
	maxMaterial int
	// hash is the digest of the HMAC spec.
	hash crypto.Hash
}

var specs = map[KeySpec]specInfo{
	SymmetricDefault: {KindSymmetric, []KeyUsage{EncryptDecrypt}, 32, 32, 0},
	HMAC224:          {KindHMAC, []KeyUsage{GenerateVerifyMAC}, 28, 28, crypto.SHA224},
	HMAC256:          {KindHMAC, []KeyUsage{GenerateVerifyMAC}, 32, 32, crypto.SHA256},
	HMAC384:          {KindHMAC, []KeyUsage{GenerateVerifyMAC}, 48, 48, crypto.SHA384},
	HMAC512:          {KindHMAC, []KeyUsage{GenerateVerifyMAC}, 64, 64, crypto.SHA512},
	RSA2048:          {KindRSA, []KeyUsage{SignVerify, EncryptDecrypt}, 2048, rsaPKCS8Max(2048), 0},
	RSA3072:          {KindRSA, []KeyUsage{SignVerify, EncryptDecrypt}, 3072, rsaPKCS8Max(3072), 0},
	RSA4096:          {KindRSA, []KeyUsage{SignVerify, EncryptDecrypt}, 4096, rsaPKCS8Max(4096), 0},
	// PKCS#8 with a named curve and the public key: 138, 185, 241 and 135
	// bytes (fixed: the private scalar is encoded at full field length).
	ECCNISTP256:   {KindEC, []KeyUsage{SignVerify, KeyAgreement}, 256, 138, 0},
	ECCNISTP384:   {KindEC, []KeyUsage{SignVerify, KeyAgreement}, 384, 185, 0},
	ECCNISTP521:   {KindEC, []KeyUsage{SignVerify, KeyAgreement}, 521, 241, 0},
	ECCSECGP256K1: {KindEC, []KeyUsage{SignVerify}, 256, 135, 0},
}

// rsaPKCS8Max bounds the PKCS#8 encoding of a two-prime RSA key of the given
// size with e = 65537: nine INTEGERs of at most bits/8+1 (n, d) or
// bits/16+1 (p, q, dP, dQ, qInv) bytes, each with up to 4 header bytes, plus
// the PKCS#8 and algorithm identifier wrapping (at most 30 bytes).
func rsaPKCS8Max(bits int) int {
	full := bits/8 + 1 + 4
	half := bits/16 + 1 + 4
	return 2*full + 5*half + 3 + 5 + 4 + 4 + 30
}

var notImportable = map[KeySpec]string{
	specSM2:       "SM2 keys exist only in AWS China Regions and cannot be imported",
	specEd25519:   "Ed25519 keys are generated inside KMS; KMS does not import them",
	specMLDSA44:   "ML-DSA keys are generated inside KMS; KMS does not import them",
	specMLDSA65:   "ML-DSA keys are generated inside KMS; KMS does not import them",
	specMLDSA87:   "ML-DSA keys are generated inside KMS; KMS does not import them",
	specMLKEM512:  "ML-KEM keys are generated inside KMS; KMS does not import them",
	specMLKEM768:  "ML-KEM keys are generated inside KMS; KMS does not import them",
	specMLKEM1024: "ML-KEM keys are generated inside KMS; KMS does not import them",
}

// KeySpecs returns every importable key spec, in a stable order.
func KeySpecs() []KeySpec {
	return []KeySpec{SymmetricDefault, HMAC224, HMAC256, HMAC384, HMAC512,
		RSA2048, RSA3072, RSA4096, ECCNISTP256, ECCNISTP384, ECCNISTP521, ECCSECGP256K1}
}

// ParseKeySpec converts a KMS key spec name to a KeySpec. It fails with
// ErrUnknownKeySpec for an unknown name and ErrNotImportable for a spec KMS
// has but cannot import.
func ParseKeySpec(s string) (KeySpec, error) {
	k := KeySpec(s)
	if err := k.Validate(); err != nil {
		return "", err
	}
	return k, nil
}

// Validate reports whether k is an importable key spec; the error wraps
// ErrUnknownKeySpec or ErrNotImportable and says what to do instead.
func (k KeySpec) Validate() error {
	if _, ok := specs[k]; ok {
		return nil
	}
	if why, ok := notImportable[k]; ok {
		return fmt.Errorf("%w: %s: %s; migrate it by re-encrypting or re-issuing under a KMS-generated key", ErrNotImportable, k, why)
	}
	return fmt.Errorf("%w %q: want one of %v", ErrUnknownKeySpec, string(k), KeySpecs())
}

// Kind returns the kind of key material of k, or 0 if k is not importable.
func (k KeySpec) Kind() MaterialKind { return specs[k].kind }

// Usages returns the key usages KMS allows for k, the usual one first.
func (k KeySpec) Usages() []KeyUsage { return slices.Clone(specs[k].usages) }

// AllowsUsage reports whether KMS allows key usage u for key spec k.
func (k KeySpec) AllowsUsage(u KeyUsage) bool { return slices.Contains(specs[k].usages, u) }

// Bits returns the key size: the AES or HMAC key length in bits, the RSA
// modulus size or the EC field size. It is 0 for a spec that is not importable.
func (k KeySpec) Bits() int {
	info := specs[k]
	if info.kind == KindSymmetric || info.kind == KindHMAC {
		return info.size * 8
	}
	return info.size
}

// MaterialLen returns, for symmetric and HMAC specs, the exact key material
// length in bytes KMS requires; for RSA and EC specs, the largest PKCS#8
// encoding byok produces. It is 0 for a spec that is not importable.
func (k KeySpec) MaterialLen() int { return specs[k].maxMaterial }

// HMACHash returns the digest an HMAC key spec uses, or 0 for other specs.
func (k KeySpec) HMACHash() crypto.Hash { return specs[k].hash }

// WrappingAlgorithm is a KMS wrapping algorithm name, as in the
// GetParametersForImport request.
type WrappingAlgorithm string

// The wrapping algorithms AWS KMS accepts.
const (
	// RSAESOAEPSHA1 is RSA-OAEP with SHA-1 and MGF1-SHA-1, empty label.
	RSAESOAEPSHA1 WrappingAlgorithm = "RSAES_OAEP_SHA_1"
	// RSAESOAEPSHA256 is RSA-OAEP with SHA-256 and MGF1-SHA-256, empty label.
	RSAESOAEPSHA256 WrappingAlgorithm = "RSAES_OAEP_SHA_256"
	// RSAAESKeyWrapSHA1 is PKCS#11's CKM_RSA_AES_KEY_WRAP with SHA-1: RSA-OAEP
	// of a fresh AES-256 key K, followed by RFC 5649 KWP of the material under K.
	RSAAESKeyWrapSHA1 WrappingAlgorithm = "RSA_AES_KEY_WRAP_SHA_1"
	// RSAAESKeyWrapSHA256 is RSAAESKeyWrapSHA1 with SHA-256 for OAEP and MGF1.
	RSAAESKeyWrapSHA256 WrappingAlgorithm = "RSA_AES_KEY_WRAP_SHA_256"
)

// Wrapping algorithms byok recognises and refuses with ErrDeprecatedAlgorithm.
const (
	// RSAESPKCS1V15 was deprecated by AWS; KMS stopped accepting it on 2023-10-10.
	RSAESPKCS1V15 WrappingAlgorithm = "RSAES_PKCS1_V1_5"
	// sm2PKE exists only in AWS China Regions.
	sm2PKE WrappingAlgorithm = "SM2PKE"
)

// WrappingAlgorithms returns the four algorithms AWS KMS accepts, best first.
func WrappingAlgorithms() []WrappingAlgorithm {
	return []WrappingAlgorithm{RSAESOAEPSHA256, RSAAESKeyWrapSHA256, RSAESOAEPSHA1, RSAAESKeyWrapSHA1}
}

// ParseWrappingAlgorithm converts a KMS wrapping algorithm name; it fails
// for unknown names (ErrUnknownAlgorithm) and for RSAES_PKCS1_V1_5 and
// SM2PKE (ErrDeprecatedAlgorithm).
func ParseWrappingAlgorithm(s string) (WrappingAlgorithm, error) {
	a := WrappingAlgorithm(s)
	if err := a.Validate(); err != nil {
		return "", err
	}
	return a, nil
}

// Validate reports whether a is one of the four algorithms AWS KMS accepts.
func (a WrappingAlgorithm) Validate() error {
	switch a {
	case RSAESOAEPSHA1, RSAESOAEPSHA256, RSAAESKeyWrapSHA1, RSAAESKeyWrapSHA256:
		return nil
	case RSAESPKCS1V15:
		return fmt.Errorf("%w: RSAES_PKCS1_V1_5: AWS KMS stopped accepting it on 2023-10-10; use RSAES_OAEP_SHA_256 or RSA_AES_KEY_WRAP_SHA_256", ErrDeprecatedAlgorithm)
	case sm2PKE:
		return fmt.Errorf("%w: SM2PKE: only AWS China Regions offer it, and byok does not implement it; use RSAES_OAEP_SHA_256", ErrDeprecatedAlgorithm)
	}
	return fmt.Errorf("%w %q: want one of %v", ErrUnknownAlgorithm, string(a), WrappingAlgorithms())
}

// Hash returns the OAEP (and MGF1) hash of a, or 0 if a is not valid.
func (a WrappingAlgorithm) Hash() crypto.Hash {
	switch a {
	case RSAESOAEPSHA1, RSAAESKeyWrapSHA1:
		return crypto.SHA1
	case RSAESOAEPSHA256, RSAAESKeyWrapSHA256:
		return crypto.SHA256
	}
	return 0
}

// IsKeyWrap reports whether a is an RSA_AES_KEY_WRAP algorithm (OAEP of an
// ephemeral AES key, then RFC 5649 of the material).
func (a WrappingAlgorithm) IsKeyWrap() bool {
	return a == RSAAESKeyWrapSHA1 || a == RSAAESKeyWrapSHA256
}

// WrappingKeySpec is the spec of the RSA wrapping public key KMS returns from
// GetParametersForImport.
type WrappingKeySpec string

// The wrapping key specs.
const (
	WrappingRSA2048 WrappingKeySpec = "RSA_2048"
	WrappingRSA3072 WrappingKeySpec = "RSA_3072"
	WrappingRSA4096 WrappingKeySpec = "RSA_4096"
)

// WrappingKeySpecs returns the wrapping key specs, largest first.
func WrappingKeySpecs() []WrappingKeySpec {
	return []WrappingKeySpec{WrappingRSA4096, WrappingRSA3072, WrappingRSA2048}
}

// ParseWrappingKeySpec converts a KMS wrapping key spec name.
func ParseWrappingKeySpec(s string) (WrappingKeySpec, error) {
	w := WrappingKeySpec(s)
	if w.Bits() == 0 {
		if s == "SM2" {
			return "", fmt.Errorf("%w: wrapping key spec SM2 exists only in AWS China Regions; use RSA_4096", ErrDeprecatedAlgorithm)
		}
		return "", fmt.Errorf("%w: wrapping key spec %q: want RSA_2048, RSA_3072 or RSA_4096", ErrUnknownAlgorithm, s)
	}
	return w, nil
}

// Bits returns the modulus size of w, or 0 for an unknown spec.
func (w WrappingKeySpec) Bits() int {
	switch w {
	case WrappingRSA2048:
		return 2048
	case WrappingRSA3072:
		return 3072
	case WrappingRSA4096:
		return 4096
	}
	return 0
}

// wrappingKeySpecForBits returns the spec for a modulus size.
func wrappingKeySpecForBits(bits int) (WrappingKeySpec, bool) {
	switch bits {
	case 2048:
		return WrappingRSA2048, true
	case 3072:
		return WrappingRSA3072, true
	case 4096:
		return WrappingRSA4096, true
	}
	return "", false
}
