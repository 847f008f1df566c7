package kmstest

import (
	"bytes"
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdsa"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/binary"
	"encoding/hex"
	"slices"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	k1ecdsa "github.com/decred/dcrd/dcrec/secp256k1/v4/ecdsa"
)

// maxMessage is the largest Message of Sign, Verify, GenerateMac and
// VerifyMac and the largest Plaintext of Encrypt.
const maxMessage = 4096

// private returns the parsed private key of the key's material m.
func (e *Emulator) private(k *key, m *material) (*privateKey, *apiError) {
	if pk, ok := k.parsed[m.ID].(*privateKey); ok {
		return pk, nil
	}
	pk, err := parsePrivate(k.Spec, m.Bytes)
	if err != nil {
		return nil, newErr(ErrKMSInternal, "kmstest: stored key material does not parse: %v", err)
	}
	if k.parsed == nil {
		k.parsed = map[string]any{}
	}
	k.parsed[m.ID] = pk
	return pk, nil
}

// cryptoKey resolves the key of a cryptographic operation and checks its
// state and key usage, then charges the request to the key type's quota.
func (e *Emulator) cryptoKey(rc *reqCtx, id *string, usage string) (*key, *apiError) {
	k, err := e.resolveKey(rc, id, "keyId", true)
	if err != nil {
		return nil, err
	}
	if err := e.usable(k); err != nil {
		return nil, err
	}
	if k.Usage != usage {
		return nil, newErr(ErrInvalidKeyUsage, "%s key usage is %s which is not valid for %s.", e.arn(k), k.Usage, rc.op)
	}
	if !e.limiter.allow(rc.region, k.row().pool) {
		return nil, throttled()
	}
	return k, nil
}

func dryRun(p *bool) *apiError {
	if p != nil && *p {
		return newErr(ErrDryRunOperation, "The request would have succeeded, but the DryRun option is set.")
	}
	return nil
}

func (e *Emulator) getPublicKey(rc *reqCtx, body []byte) (any, *apiError) {
	var in struct {
		KeyId       *string
		GrantTokens []string
	}
	if err := decodeRequest(body, &in); err != nil {
		return nil, err
	}
	if err := e.enter(rc); err != nil {
		return nil, err
	}
	k, err := e.resolveKey(rc, in.KeyId, "keyId", true)
	if err != nil {
		return nil, err
	}
	if k.symmetric() || strings.HasPrefix(k.Spec, "HMAC_") {
		return nil, newErr(ErrUnsupportedOperation, "%s is a %s key, which has no public key.", e.arn(k), k.Spec)
	}
	if err := e.usable(k); err != nil {
		return nil, err
	}
	pk, err := e.private(k, k.current())
	if err != nil {
		return nil, err
	}
	row := k.row()
	out := struct {
		KeyId                  string   `json:"KeyId"`
		PublicKey              []byte   `json:"PublicKey"`
		CustomerMasterKeySpec  string   `json:"CustomerMasterKeySpec"`
		KeySpec                string   `json:"KeySpec"`
		KeyUsage               string   `json:"KeyUsage"`
		EncryptionAlgorithms   []string `json:"EncryptionAlgorithms,omitempty"`
		SigningAlgorithms      []string `json:"SigningAlgorithms,omitempty"`
		KeyAgreementAlgorithms []string `json:"KeyAgreementAlgorithms,omitempty"`
	}{KeyId: e.arn(k), PublicKey: pk.spki, CustomerMasterKeySpec: k.Spec, KeySpec: k.Spec, KeyUsage: k.Usage}
	switch k.Usage {
	case usageEncrypt:
		out.EncryptionAlgorithms = row.enc
	case usageSign:
		out.SigningAlgorithms = row.sign
	case usageAgree:
		out.KeyAgreementAlgorithms = row.agree
	}
	return out, nil
}

// signingHash is the digest of a signing algorithm and whether it is PSS.
func signingHash(alg string) (crypto.Hash, bool) {
	var h crypto.Hash
	switch {
	case strings.HasSuffix(alg, "SHA_256"):
		h = crypto.SHA256
	case strings.HasSuffix(alg, "SHA_384"):
		h = crypto.SHA384
	case strings.HasSuffix(alg, "SHA_512"):
		h = crypto.SHA512
	}
	return h, strings.HasPrefix(alg, "RSASSA_PSS_")
}

type signIn struct {
	KeyId            *string
	Message          []byte
	MessageType      types.MessageType
	SigningAlgorithm types.SigningAlgorithmSpec
	Signature        []byte
	GrantTokens      []string
	DryRun           *bool
}

// signSetup validates a Sign or Verify request and returns the key, its
// private key, the digest to sign and the hash.
func (e *Emulator) signSetup(rc *reqCtx, body []byte, verify bool) (*key, *privateKey, []byte, crypto.Hash, bool, *signIn, *apiError) {
	var in signIn
	fail := func(err *apiError) (*key, *privateKey, []byte, crypto.Hash, bool, *signIn, *apiError) {
		return nil, nil, nil, 0, false, nil, err
	}
	if err := decodeRequest(body, &in); err != nil {
		return fail(err)
	}
	if err := e.enter(rc); err != nil {
		return fail(err)
	}
	for _, err := range []*apiError{
		checkRequiredString(in.KeyId, "keyId", 1, 2048),
		checkBlob(in.Message, in.Message != nil, "message", 1, maxMessage, true),
		checkEnum(in.MessageType, "messageType", types.MessageType("").Values()),
		checkEnum(in.SigningAlgorithm, "signingAlgorithm", types.SigningAlgorithmSpec("").Values()),
	} {
		if err != nil {
			return fail(err)
		}
	}
	if in.SigningAlgorithm == "" {
		return fail(requiredErr("signingAlgorithm"))
	}
	if verify {
		if err := checkBlob(in.Signature, in.Signature != nil, "signature", 1, 6144, true); err != nil {
			return fail(err)
		}
	}
	k, err := e.cryptoKey(rc, in.KeyId, usageSign)
	if err != nil {
		return fail(err)
	}
	alg := string(in.SigningAlgorithm)
	if !slices.Contains(k.row().sign, alg) {
		return fail(newErr(ErrInvalidKeyUsage, "Signing algorithm %s is not valid for %s, a %s key; valid: %v.", alg, e.arn(k), k.Spec, k.row().sign))
	}
	h, pss := signingHash(alg)
	digest := in.Message
	switch in.MessageType {
	case "", types.MessageTypeRaw:
		d := h.New()
		d.Write(in.Message)
		digest = d.Sum(nil)
	case types.MessageTypeDigest:
		if len(digest) != h.Size() {
			return fail(newErr(ErrValidation, "Digest is invalid length for algorithm %s: %d bytes, want %d.", alg, len(digest), h.Size()))
		}
	default:
		return fail(newErr(ErrValidation, "MessageType %s is valid only with ML-DSA keys.", in.MessageType))
	}
	if err := dryRun(in.DryRun); err != nil {
		return fail(err)
	}
	pk, err := e.private(k, k.current())
	if err != nil {
		return fail(err)
	}
	return k, pk, digest, h, pss, &in, nil
}

func (e *Emulator) sign(rc *reqCtx, body []byte) (any, *apiError) {
	k, pk, digest, h, pss, in, err := e.signSetup(rc, body, false)
	if err != nil {
		return nil, err
	}
	var sig []byte
	var serr error
	// Signing (RSA up to 4096 bits) holds no one up: the parsed key is
	// never changed once made.
	if cerr := e.unlocked(func() {
		switch {
		case pk.rsa != nil && pss:
			sig, serr = rsa.SignPSS(rand.Reader, pk.rsa, h, digest, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
		case pk.rsa != nil:
			sig, serr = rsa.SignPKCS1v15(rand.Reader, pk.rsa, h, digest)
		case pk.ec != nil:
			sig, serr = ecdsa.SignASN1(rand.Reader, pk.ec, digest)
		case pk.k1 != nil:
			sig = k1ecdsa.Sign(pk.k1, digest).Serialize()
		}
	}); cerr != nil {
		return nil, cerr
	}
	if serr != nil {
		return nil, newErr(ErrKMSInternal, "signing: %v", serr)
	}
	return struct {
		KeyId            string `json:"KeyId"`
		Signature        []byte `json:"Signature"`
		SigningAlgorithm string `json:"SigningAlgorithm"`
	}{e.arn(k), sig, string(in.SigningAlgorithm)}, nil
}

func (e *Emulator) verify(rc *reqCtx, body []byte) (any, *apiError) {
	k, pk, digest, h, pss, in, err := e.signSetup(rc, body, true)
	if err != nil {
		return nil, err
	}
	ok := false
	switch {
	case pk.rsa != nil && pss:
		ok = rsa.VerifyPSS(&pk.rsa.PublicKey, h, digest, in.Signature, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash}) == nil
	case pk.rsa != nil:
		ok = rsa.VerifyPKCS1v15(&pk.rsa.PublicKey, h, digest, in.Signature) == nil
	case pk.ec != nil:
		ok = ecdsa.VerifyASN1(&pk.ec.PublicKey, digest, in.Signature)
	case pk.k1 != nil:
		if s, perr := k1ecdsa.ParseDERSignature(in.Signature); perr == nil {
			ok = s.Verify(digest, pk.k1.PubKey())
		}
	}
	if !ok {
		return nil, newErr(ErrKMSInvalidSignature, "The signature is not valid for the message and %s.", e.arn(k))
	}
	return struct {
		KeyId            string `json:"KeyId"`
		SignatureValid   bool   `json:"SignatureValid"`
		SigningAlgorithm string `json:"SigningAlgorithm"`
	}{e.arn(k), true, string(in.SigningAlgorithm)}, nil
}

// Symmetric ciphertext blobs: "KMT1", the key ID (length-prefixed), the raw
// 32-byte KeyMaterialId, a 12-byte nonce and AES-256-GCM output. The AAD is
// everything before the nonce followed by the canonical encryption context.
var blobMagic = []byte("KMT1")

func canonicalContext(ctx map[string]string) []byte {
	keys := make([]string, 0, len(ctx))
	for k := range ctx {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b []byte
	for _, k := range keys {
		b = binary.AppendUvarint(b, uint64(len(k)))
		b = append(b, k...)
		b = binary.AppendUvarint(b, uint64(len(ctx[k])))
		b = append(b, ctx[k]...)
	}
	return b
}

func checkContext(ctx map[string]string) *apiError {
	n := 0
	for k, v := range ctx {
		if k == "" {
			return newErr(ErrValidation, "Encryption context keys must not be empty.")
		}
		n += len(k) + len(v)
	}
	if n > 8192 {
		return newErr(ErrValidation, "The encryption context is larger than 8192 bytes.")
	}
	return nil
}

func gcm(key []byte) cipher.AEAD {
	b, _ := aes.NewCipher(key)
	a, _ := cipher.NewGCM(b)
	return a
}

type cryptIn struct {
	KeyId               *string
	Plaintext           []byte
	CiphertextBlob      []byte
	EncryptionContext   map[string]string
	EncryptionAlgorithm types.EncryptionAlgorithmSpec
	GrantTokens         []string
	DryRun              *bool
	Recipient           *struct{}
}

func (e *Emulator) encrypt(rc *reqCtx, body []byte) (any, *apiError) {
	var in cryptIn
	if err := decodeRequest(body, &in); err != nil {
		return nil, err
	}
	if err := e.enter(rc); err != nil {
		return nil, err
	}
	for _, err := range []*apiError{
		checkRequiredString(in.KeyId, "keyId", 1, 2048),
		checkBlob(in.Plaintext, in.Plaintext != nil, "plaintext", 1, maxMessage, true),
		checkEnum(in.EncryptionAlgorithm, "encryptionAlgorithm", types.EncryptionAlgorithmSpec("").Values()),
		checkContext(in.EncryptionContext),
	} {
		if err != nil {
			return nil, err
		}
	}
	k, err := e.cryptoKey(rc, in.KeyId, usageEncrypt)
	if err != nil {
		return nil, err
	}
	alg := string(in.EncryptionAlgorithm)
	if alg == "" {
		alg = "SYMMETRIC_DEFAULT"
	}
	if !slices.Contains(k.row().enc, alg) {
		return nil, newErr(ErrInvalidKeyUsage, "Encryption algorithm %s is not valid for %s, a %s key; valid: %v.", alg, e.arn(k), k.Spec, k.row().enc)
	}
	if err := dryRun(in.DryRun); err != nil {
		return nil, err
	}
	cur := k.current()
	var blob []byte
	if k.symmetric() {
		idRaw, _ := hex.DecodeString(cur.ID)
		blob = append(blob, blobMagic...)
		blob = append(blob, byte(len(k.ID)))
		blob = append(blob, k.ID...)
		blob = append(blob, idRaw...)
		aad := append(slices.Clone(blob), canonicalContext(in.EncryptionContext)...)
		nonce := make([]byte, 12)
		rand.Read(nonce)
		blob = append(blob, nonce...)
		blob = gcm(cur.Bytes).Seal(blob, nonce, in.Plaintext, aad)
	} else {
		if len(in.EncryptionContext) > 0 {
			return nil, newErr(ErrValidation, "EncryptionContext is supported only with symmetric encryption KMS keys.")
		}
		pk, err := e.private(k, cur)
		if err != nil {
			return nil, err
		}
		h := crypto.SHA256
		if alg == "RSAES_OAEP_SHA_1" {
			h = crypto.SHA1
		}
		if max := pk.rsa.Size() - 2*h.Size() - 2; len(in.Plaintext) > max {
			return nil, newErr(ErrValidation, "Plaintext is %d bytes; %s with a %s key encrypts at most %d.", len(in.Plaintext), alg, k.Spec, max)
		}
		var eerr error
		blob, eerr = rsa.EncryptOAEP(h.New(), rand.Reader, &pk.rsa.PublicKey, in.Plaintext, nil)
		if eerr != nil {
			return nil, newErr(ErrKMSInternal, "encrypting: %v", eerr)
		}
	}
	return struct {
		KeyId               string `json:"KeyId"`
		CiphertextBlob      []byte `json:"CiphertextBlob"`
		EncryptionAlgorithm string `json:"EncryptionAlgorithm"`
	}{e.arn(k), blob, alg}, nil
}

// parseBlob splits a symmetric ciphertext blob.
func parseBlob(b []byte) (keyID, matID string, header, nonce, sealed []byte, ok bool) {
	if len(b) < len(blobMagic)+1 || !bytes.Equal(b[:len(blobMagic)], blobMagic) {
		return
	}
	n := int(b[len(blobMagic)])
	off := len(blobMagic) + 1
	if len(b) < off+n+32+12+16 {
		return
	}
	keyID = string(b[off : off+n])
	matID = hex.EncodeToString(b[off+n : off+n+32])
	header = b[:off+n+32]
	nonce = b[off+n+32 : off+n+44]
	sealed = b[off+n+44:]
	return keyID, matID, header, nonce, sealed, validKeyID(keyID)
}

func (e *Emulator) decrypt(rc *reqCtx, body []byte) (any, *apiError) {
	var in cryptIn
	if err := decodeRequest(body, &in); err != nil {
		return nil, err
	}
	if err := e.enter(rc); err != nil {
		return nil, err
	}
	for _, err := range []*apiError{
		checkBlob(in.CiphertextBlob, in.CiphertextBlob != nil, "ciphertextBlob", 1, 6144, true),
		checkString(in.KeyId, "keyId", 1, 2048),
		checkEnum(in.EncryptionAlgorithm, "encryptionAlgorithm", types.EncryptionAlgorithmSpec("").Values()),
		checkContext(in.EncryptionContext),
	} {
		if err != nil {
			return nil, err
		}
	}
	if in.Recipient != nil {
		return nil, newErr(ErrNotImplemented, "kmstest does not emulate Decrypt with a Recipient (Nitro Enclaves attestation)")
	}
	alg := string(in.EncryptionAlgorithm)
	if alg == "" {
		alg = "SYMMETRIC_DEFAULT"
	}
	out := struct {
		KeyId               string `json:"KeyId"`
		Plaintext           []byte `json:"Plaintext"`
		EncryptionAlgorithm string `json:"EncryptionAlgorithm"`
		KeyMaterialId       string `json:"KeyMaterialId,omitempty"`
	}{EncryptionAlgorithm: alg}
	if alg == "SYMMETRIC_DEFAULT" {
		keyID, matID, header, nonce, sealed, ok := parseBlob(in.CiphertextBlob)
		if !ok {
			if in.KeyId != nil {
				if _, err := e.cryptoKey(rc, in.KeyId, usageEncrypt); err != nil {
					return nil, err
				}
			}
			return nil, newErr(ErrInvalidCiphertext, "The ciphertext is not a KMS symmetric ciphertext blob, or it was altered.")
		}
		id := keyID
		if in.KeyId != nil {
			id = *in.KeyId
		}
		k, err := e.cryptoKey(rc, &id, usageEncrypt)
		if err != nil {
			return nil, err
		}
		if k.ID != keyID {
			return nil, newErr(ErrIncorrectKey, "The ciphertext was encrypted under a different KMS key than %s.", e.arn(k))
		}
		if !k.symmetric() {
			return nil, newErr(ErrInvalidKeyUsage, "Encryption algorithm SYMMETRIC_DEFAULT is not valid for %s, a %s key.", e.arn(k), k.Spec)
		}
		m := k.materialByID(matID)
		if m == nil || !m.imported() || !m.permanent() {
			return nil, newErr(ErrInvalidCiphertext, "The ciphertext refers to key material that %s does not have.", e.arn(k))
		}
		if err := dryRun(in.DryRun); err != nil {
			return nil, err
		}
		aad := append(slices.Clone(header), canonicalContext(in.EncryptionContext)...)
		pt, oerr := gcm(m.Bytes).Open(nil, nonce, sealed, aad)
		if oerr != nil {
			return nil, newErr(ErrInvalidCiphertext, "The ciphertext or its encryption context is invalid or was altered.")
		}
		out.KeyId, out.Plaintext, out.KeyMaterialId = e.arn(k), pt, m.ID
		return out, nil
	}
	if in.KeyId == nil {
		return nil, newErr(ErrValidation, "KeyId is required to decrypt with an asymmetric KMS key (EncryptionAlgorithm %s).", alg)
	}
	k, err := e.cryptoKey(rc, in.KeyId, usageEncrypt)
	if err != nil {
		return nil, err
	}
	if !slices.Contains(k.row().enc, alg) {
		return nil, newErr(ErrInvalidKeyUsage, "Encryption algorithm %s is not valid for %s, a %s key; valid: %v.", alg, e.arn(k), k.Spec, k.row().enc)
	}
	if len(in.EncryptionContext) > 0 {
		return nil, newErr(ErrValidation, "EncryptionContext is supported only with symmetric encryption KMS keys.")
	}
	if err := dryRun(in.DryRun); err != nil {
		return nil, err
	}
	pk, err := e.private(k, k.current())
	if err != nil {
		return nil, err
	}
	h := crypto.SHA256
	if alg == "RSAES_OAEP_SHA_1" {
		h = crypto.SHA1
	}
	var pt []byte
	var derr error
	if cerr := e.unlocked(func() { pt, derr = rsa.DecryptOAEP(h.New(), nil, pk.rsa, in.CiphertextBlob, nil) }); cerr != nil {
		clear(pt)
		return nil, cerr
	}
	if derr != nil {
		return nil, newErr(ErrInvalidCiphertext, "The ciphertext is invalid for %s with %s.", e.arn(k), alg)
	}
	out.KeyId, out.Plaintext = e.arn(k), pt
	return out, nil
}

type macIn struct {
	KeyId        *string
	Message      []byte
	Mac          []byte
	MacAlgorithm types.MacAlgorithmSpec
	GrantTokens  []string
	DryRun       *bool
}

func (e *Emulator) macSetup(rc *reqCtx, body []byte, verify bool) (*key, []byte, *macIn, *apiError) {
	var in macIn
	if err := decodeRequest(body, &in); err != nil {
		return nil, nil, nil, err
	}
	if err := e.enter(rc); err != nil {
		return nil, nil, nil, err
	}
	for _, err := range []*apiError{
		checkRequiredString(in.KeyId, "keyId", 1, 2048),
		checkBlob(in.Message, in.Message != nil, "message", 1, maxMessage, true),
		checkEnum(in.MacAlgorithm, "macAlgorithm", types.MacAlgorithmSpec("").Values()),
	} {
		if err != nil {
			return nil, nil, nil, err
		}
	}
	if in.MacAlgorithm == "" {
		return nil, nil, nil, requiredErr("macAlgorithm")
	}
	if verify {
		if err := checkBlob(in.Mac, in.Mac != nil, "mac", 1, 6144, true); err != nil {
			return nil, nil, nil, err
		}
	}
	k, err := e.cryptoKey(rc, in.KeyId, usageMAC)
	if err != nil {
		return nil, nil, nil, err
	}
	if !slices.Contains(k.row().mac, string(in.MacAlgorithm)) {
		return nil, nil, nil, newErr(ErrInvalidKeyUsage, "MAC algorithm %s is not valid for %s, a %s key; valid: %v.", in.MacAlgorithm, e.arn(k), k.Spec, k.row().mac)
	}
	if err := dryRun(in.DryRun); err != nil {
		return nil, nil, nil, err
	}
	hashes := map[types.MacAlgorithmSpec]crypto.Hash{"HMAC_SHA_224": crypto.SHA224, "HMAC_SHA_256": crypto.SHA256,
		"HMAC_SHA_384": crypto.SHA384, "HMAC_SHA_512": crypto.SHA512}
	m := hmac.New(hashes[in.MacAlgorithm].New, k.current().Bytes)
	m.Write(in.Message)
	return k, m.Sum(nil), &in, nil
}

func (e *Emulator) generateMac(rc *reqCtx, body []byte) (any, *apiError) {
	k, mac, in, err := e.macSetup(rc, body, false)
	if err != nil {
		return nil, err
	}
	return struct {
		KeyId        string `json:"KeyId"`
		Mac          []byte `json:"Mac"`
		MacAlgorithm string `json:"MacAlgorithm"`
	}{e.arn(k), mac, string(in.MacAlgorithm)}, nil
}

func (e *Emulator) verifyMac(rc *reqCtx, body []byte) (any, *apiError) {
	k, mac, in, err := e.macSetup(rc, body, true)
	if err != nil {
		return nil, err
	}
	if !hmac.Equal(mac, in.Mac) {
		return nil, newErr(ErrKMSInvalidMac, "The MAC is not valid for the message and %s.", e.arn(k))
	}
	return struct {
		KeyId        string `json:"KeyId"`
		MacValid     bool   `json:"MacValid"`
		MacAlgorithm string `json:"MacAlgorithm"`
	}{e.arn(k), true, string(in.MacAlgorithm)}, nil
}

func (e *Emulator) deriveSharedSecret(rc *reqCtx, body []byte) (any, *apiError) {
	var in struct {
		KeyId                 *string
		KeyAgreementAlgorithm types.KeyAgreementAlgorithmSpec
		PublicKey             []byte
		GrantTokens           []string
		DryRun                *bool
		Recipient             *struct{}
	}
	if err := decodeRequest(body, &in); err != nil {
		return nil, err
	}
	if err := e.enter(rc); err != nil {
		return nil, err
	}
	for _, err := range []*apiError{
		checkRequiredString(in.KeyId, "keyId", 1, 2048),
		checkBlob(in.PublicKey, in.PublicKey != nil, "publicKey", 1, 8192, true),
		checkEnum(in.KeyAgreementAlgorithm, "keyAgreementAlgorithm", types.KeyAgreementAlgorithmSpec("").Values()),
	} {
		if err != nil {
			return nil, err
		}
	}
	if in.KeyAgreementAlgorithm == "" {
		return nil, requiredErr("keyAgreementAlgorithm")
	}
	if in.Recipient != nil {
		return nil, newErr(ErrNotImplemented, "kmstest does not emulate DeriveSharedSecret with a Recipient (Nitro Enclaves attestation)")
	}
	k, err := e.cryptoKey(rc, in.KeyId, usageAgree)
	if err != nil {
		return nil, err
	}
	if err := dryRun(in.DryRun); err != nil {
		return nil, err
	}
	pk, err := e.private(k, k.current())
	if err != nil {
		return nil, err
	}
	pub, perr := x509.ParsePKIXPublicKey(in.PublicKey)
	ecPub, ok := pub.(*ecdsa.PublicKey)
	if perr != nil || !ok || pk.ec == nil || ecPub.Curve != pk.ec.Curve {
		return nil, newErr(ErrValidation, "PublicKey must be a DER SubjectPublicKeyInfo of an EC public key on the curve of %s (%s).", e.arn(k), k.Spec)
	}
	priv, cerr := pk.ec.ECDH()
	peer, perr2 := ecPub.ECDH()
	if cerr != nil || perr2 != nil {
		return nil, newErr(ErrValidation, "The public key is not a valid point on the curve of %s.", e.arn(k))
	}
	secret, serr := priv.ECDH(peer)
	if serr != nil {
		return nil, newErr(ErrValidation, "ECDH failed: %v", serr)
	}
	return struct {
		KeyId                 string `json:"KeyId"`
		SharedSecret          []byte `json:"SharedSecret"`
		KeyAgreementAlgorithm string `json:"KeyAgreementAlgorithm"`
		KeyOrigin             string `json:"KeyOrigin"`
	}{e.arn(k), secret, string(in.KeyAgreementAlgorithm), k.Origin}, nil
}
