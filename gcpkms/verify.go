package gcpkms

import (
	"bytes"
	"context"
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdsa"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"

	"cloud.google.com/go/kms/apiv1/kmspb"
	"github.com/decred/dcrd/dcrec/secp256k1/v4"
	secpecdsa "github.com/decred/dcrd/dcrec/secp256k1/v4/ecdsa"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/byok-go/byok"
)

// Names of the checks. They are stable, so that scripts and tests can look
// for them; details vary.
const (
	CheckAccepted     = "Cloud KMS unwrapped and imported the material the source wrapped (version ENABLED)"
	CheckPublicKey    = "GetPublicKey equals the source public key"
	CheckKMSSignature = "a Cloud KMS signature over a fresh digest verifies under the source public key"
	CheckSrcSignature = "a source signature over the same digest verifies under the public key Cloud KMS returned"
	CheckPKCS1Equal   = "Cloud KMS's and the source's RSASSA-PKCS1-v1_5 signatures of the same digest are byte-identical"
	CheckDecrypt      = "Cloud KMS AsymmetricDecrypt recovers a fresh message encrypted under the source public key"
	CheckMAC          = "Cloud KMS MacSign equals the source's HMAC of a fresh message"
	CheckRoundTrip    = "usability only: a Cloud KMS Encrypt/Decrypt round trip works (any key would)"
	CheckRawRoundTrip = "usability only: a Cloud KMS RawEncrypt/RawDecrypt round trip works (any key would)"
	CheckRawLocal     = "the source key decrypts what Cloud KMS RawEncrypt produced"
)

// MaterialSource is implemented by sources that hold their key material in
// this process (software keys; byok's software driver), so that the proof
// of a raw AES import (AES_256_GCM, _CBC, _CTR) can decrypt Cloud KMS's
// ciphertext with the source key itself.
type MaterialSource interface {
	Material() *byok.KeyMaterial
}

// refused reports whether Cloud KMS refused a call in a way that leaves
// the check unable to run rather than wrong: no permission, or the
// version's state.
func refused(err error) bool {
	switch code(err) {
	case codes.PermissionDenied, codes.FailedPrecondition:
		return true
	}
	return false
}

func skipRefused(v *byok.Verification, op string, err error) bool {
	if !refused(err) {
		return false
	}
	v.Skip(fmt.Sprintf("%s was refused, so its check could not run: %v", op, err))
	return true
}

// VerifyImport proves, after the version became ENABLED, that it holds the
// source key. Each check says what it proves (docs/targets.md):
//
//   - Every key: Cloud KMS unwrapped the material under the import job's
//     private key and accepted it (recorded, not an identity check: a
//     source that wrapped another key passes it too).
//   - RSA and EC: GetPublicKey equals the source public key (identity only
//     when the version's private key also acted in this proof — its
//     AsymmetricSign signature verified under the source public key, or
//     its AsymmetricDecrypt recovered the message — and the source derived
//     its public key from its private key, KeyInfo.PublicKeyFromPrivate:
//     GetPublicKey's answer alone is Cloud KMS's word, not a use of the
//     key). Signing keys: an AsymmetricSign over a fresh digest verifies
//     under the source public key (identity, same PublicKeyFromPrivate
//     condition); a source signature (byok.SignerSource) verifies under the
//     public key Cloud KMS returned (Cloud KMS has no Verify RPC): identity
//     only when Cloud KMS's signature verified under the source public key
//     and GetPublicKey returned that same key — then both private keys
//     belong to it, even a public key the source read from its token —,
//     otherwise recorded as a non-identity check saying why; PKCS#1 v1.5
//     signatures are deterministic, so both are also compared byte for
//     byte (identity). Decryption keys: AsymmetricDecrypt of a fresh
//     message encrypted under the source public key (identity when
//     PublicKeyFromPrivate); a ciphertext CRC32C mismatch is retried once
//     with a fresh ciphertext and otherwise stops the proof (UNPROVEN),
//     while any other INVALID_ARGUMENT is a failed decryption (FAILED).
//   - HMAC: MacSign equals the source's HMAC (byok.MACSource) of a fresh
//     message (identity).
//   - GOOGLE_SYMMETRIC_ENCRYPTION: an Encrypt/Decrypt round trip, usability
//     only: the ciphertext format is Cloud KMS's own, nothing outside can
//     decrypt it, so the verdict is UNPROVEN.
//   - AES_256_GCM/CBC/CTR (raw): RawEncrypt of a fresh message, decrypted
//     with the source key when the source holds it in memory
//     (MaterialSource: identity); otherwise a RawDecrypt round trip,
//     usability only.
//
// Every request and response is checked with its CRC32C integrity fields.
// A call refused with PermissionDenied or FailedPrecondition is recorded
// in Skipped (the verdict is then at best UNPROVEN); evidence of another
// key is a failed check (FAILED).
func (t *Target) VerifyImport(ctx context.Context, imp byok.Imported, info byok.KeyInfo, src byok.KeySource) (byok.Verification, error) {
	var v byok.Verification
	version := imp.KeyARN
	if !strings.Contains(version, "/cryptoKeyVersions/") {
		return v, fmt.Errorf("gcpkms: VerifyImport needs the imported version's name (Imported.KeyARN), got %q", version)
	}
	v.Add(byok.Check{Name: CheckAccepted, OK: true, Detail: fmt.Sprintf("ImportCryptoKeyVersion with %s succeeded: Cloud KMS's private key "+
		"unwrapped the ciphertext (OAEP%s integrity) and the material passed its format checks; this trusts the source to have wrapped its own key",
		imp.Algorithm, map[bool]string{true: " and RFC 5649", false: ""}[imp.Algorithm.IsKeyWrap()])})
	t.mu.Lock()
	row := t.alg
	t.mu.Unlock()
	if row.alg == 0 {
		r, err := resolve(info.Spec, info.Usage, t.opts.Algorithm, t.level.String())
		if err != nil {
			return v, err
		}
		row = r
	}
	var err error
	switch info.Spec.Kind() {
	case byok.KindRSA, byok.KindEC:
		err = t.verifyAsymmetric(ctx, &v, version, row, info, src)
	case byok.KindHMAC:
		err = t.verifyMAC(ctx, &v, version, src)
	case byok.KindSymmetric:
		if row.purpose == kmspb.CryptoKey_RAW_ENCRYPT_DECRYPT {
			err = t.verifyRaw(ctx, &v, version, row, src)
		} else {
			err = t.verifyRoundTrip(ctx, &v, imp.KeyID, version)
		}
	}
	return v, err
}

// randomBytes returns n fresh random bytes.
func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

func (t *Target) verifyAsymmetric(ctx context.Context, v *byok.Verification, version string, row algRow, info byok.KeyInfo, src byok.KeySource) error {
	srcPub, err := byok.ParsePublicKeyDER(info.PublicKeyDER)
	if err != nil {
		return fmt.Errorf("gcpkms: the source public key: %w", err)
	}
	var kmsPub crypto.PublicKey
	var pubCheck *byok.Check
	pk, err := t.client.GetPublicKey(ctx, &kmspb.GetPublicKeyRequest{Name: version})
	switch {
	case skipRefused(v, "GetPublicKey", err):
	case err != nil:
		return fmt.Errorf("gcpkms: GetPublicKey %s: %w", version, err)
	default:
		if err := checkReceived("GetPublicKey", "the public key PEM", []byte(pk.GetPem()), pk.GetPemCrc32C()); err != nil {
			return err
		}
		blk, _ := pem.Decode([]byte(pk.GetPem()))
		if blk == nil {
			return fmt.Errorf("gcpkms: GetPublicKey %s returned no PEM block", version)
		}
		if kmsPub, err = byok.ParsePublicKeyDER(blk.Bytes); err != nil {
			return fmt.Errorf("gcpkms: GetPublicKey %s: %w", version, err)
		}
		pubCheck = &byok.Check{Name: CheckPublicKey, OK: bytes.Equal(blk.Bytes, info.PublicKeyDER)}
	}
	// The private-key operation runs before the GetPublicKey check is
	// recorded: whether that check is an identity check depends on it.
	var sub byok.Verification
	var acted bool
	switch row.purpose {
	case kmspb.CryptoKey_ASYMMETRIC_SIGN:
		acted, err = t.verifySign(ctx, &sub, version, row, info, srcPub, kmsPub, pubCheck != nil && pubCheck.OK, src)
	case kmspb.CryptoKey_ASYMMETRIC_DECRYPT:
		acted, err = t.verifyDecrypt(ctx, &sub, version, row, info, srcPub)
	}
	if pubCheck != nil {
		// GetPublicKey's answer is Cloud KMS's word about the private key
		// it holds, not an operation of that key: equality is an identity
		// check only when the version's private key also acted in this
		// proof (its signature verified under the source public key, or it
		// decrypted what was encrypted under it), and the source's public
		// key was derived from its private key.
		c := pubCheck
		c.Identity = info.PublicKeyFromPrivate && acted
		switch {
		case !c.OK:
			c.Detail = "Cloud KMS holds a different public key than the source's"
			if !info.PublicKeyFromPrivate {
				c.Detail += " (read from its token, which need not match the token's private key)"
			}
		case !info.PublicKeyFromPrivate:
			c.Detail = "the source's public key was read from its token, not derived from its private key, so equality does not show that Cloud KMS holds that private key"
		case !acted:
			c.Detail = notActed
		}
		v.Add(*c)
	}
	for _, c := range sub.Checks {
		v.Add(c)
	}
	for _, s := range sub.Skipped {
		v.Skip(s)
	}
	return err
}

// notActed explains why a check resting on GetPublicKey's answer alone is
// not an identity check.
const notActed = "not an identity check: no operation of the version's private key succeeded in this proof " +
	"(AsymmetricSign or AsymmetricDecrypt did not run or did not verify), and GetPublicKey's answer alone is Cloud KMS's word " +
	"about the key it holds, not a use of it"

// scheme is how an algorithm signs: its hash, PSS or PKCS#1 v1.5 (raw:
// Cloud KMS signs a DigestInfo the client sends as data).
type scheme struct {
	h        crypto.Hash
	pss, raw bool
}

func schemeOf(alg kmspb.CryptoKeyVersion_CryptoKeyVersionAlgorithm) scheme {
	n := alg.String()
	s := scheme{h: crypto.SHA256}
	switch {
	case strings.HasSuffix(n, "_SHA512"):
		s.h = crypto.SHA512
	case strings.HasSuffix(n, "_SHA384"):
		s.h = crypto.SHA384
	}
	s.pss = strings.HasPrefix(n, "RSA_SIGN_PSS_")
	s.raw = strings.HasPrefix(n, "RSA_SIGN_RAW_PKCS1_")
	return s
}

// digestInfoPrefix is the DER DigestInfo prefix of SHA-256 (RFC 8017,
// 9.2, note 1), for the raw PKCS#1 algorithms.
var digestInfoPrefix = []byte{0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20}

func (s scheme) opts() crypto.SignerOpts {
	if s.pss {
		return &rsa.PSSOptions{SaltLength: s.h.Size(), Hash: s.h}
	}
	return s.h
}

// verifySign runs the signing checks; acted reports whether a Cloud KMS
// signature verified under the source public key (the version's private
// key acted in this proof). pubEqual is whether GetPublicKey returned the
// source public key.
func (t *Target) verifySign(ctx context.Context, v *byok.Verification, version string, row algRow, info byok.KeyInfo, srcPub, kmsPub crypto.PublicKey,
	pubEqual bool, src byok.KeySource) (acted bool, err error) {
	s := schemeOf(row.alg)
	h := s.h.New()
	h.Write(append([]byte("byok import proof "), randomBytes(32)...))
	digest := h.Sum(nil)
	req := &kmspb.AsymmetricSignRequest{Name: version}
	if s.raw {
		data := append(append([]byte(nil), digestInfoPrefix...), digest...)
		req.Data, req.DataCrc32C = data, crc(data)
	} else {
		req.Digest, req.DigestCrc32C = digestOf(s.h, digest), crc(digest)
	}
	resp, err := t.client.AsymmetricSign(ctx, req)
	var kmsSig []byte
	switch {
	case skipRefused(v, "AsymmetricSign", err):
	case err != nil:
		return false, fmt.Errorf("gcpkms: AsymmetricSign %s: %w", version, err)
	default:
		verified := resp.GetVerifiedDigestCrc32C()
		if s.raw {
			verified = resp.GetVerifiedDataCrc32C()
		}
		if err := checkSent("AsymmetricSign", "the digest", verified); err != nil {
			return false, err
		}
		if err := checkReceived("AsymmetricSign", "the signature", resp.GetSignature(), resp.GetSignatureCrc32C()); err != nil {
			return false, err
		}
		if resp.GetName() != "" && resp.GetName() != version {
			return false, fmt.Errorf("gcpkms: AsymmetricSign answered for %s, not %s", resp.GetName(), version)
		}
		kmsSig = resp.GetSignature()
		// Like GetPublicKey, identity only for a public key derived from
		// the source's private key.
		e := verifySignature(srcPub, s, digest, kmsSig)
		acted = e == nil
		v.Record(fmt.Sprintf("%s (%s)", CheckKMSSignature, row.alg), info.PublicKeyFromPrivate, e)
	}
	ss, ok := src.(byok.SignerSource)
	if !ok {
		v.Skip("the source cannot sign, so no source signature was checked under Cloud KMS's public key")
		return acted, nil
	}
	signer, err := ss.Signer(ctx)
	if err != nil {
		return acted, fmt.Errorf("gcpkms: the source's signer: %w", err)
	}
	sig, err := signer.Sign(rand.Reader, digest, s.opts())
	if err != nil {
		if s.pss {
			v.Skip(fmt.Sprintf("the source could not make an RSASSA-PSS signature (%v), so none was checked under Cloud KMS's public key", err))
			return acted, nil
		}
		return acted, fmt.Errorf("gcpkms: signing with the source key: %w", err)
	}
	if kmsPub == nil {
		v.Skip("GetPublicKey did not run, so the source's signature could not be checked under Cloud KMS's public key")
	} else {
		// Cloud KMS has no Verify RPC: signatures are verified with the
		// public key GetPublicKey returns. A signature by the source's
		// private key that verifies under it shows that the source's
		// private key belongs to that public key; that Cloud KMS's private
		// key does too rests on GetPublicKey's answer, unless Cloud KMS's
		// own signature verified under the source public key (acted), which
		// GetPublicKey returned (pubEqual): then both private keys belong
		// to one public key, even one the source read from its token.
		c := byok.Check{Name: fmt.Sprintf("%s (%s)", CheckSrcSignature, row.alg), OK: true, Identity: acted && pubEqual}
		if err := verifySignature(kmsPub, s, digest, sig); err != nil {
			c.OK, c.Detail = false, fmt.Sprintf("the source's signature does not verify under Cloud KMS's public key: %v", err)
		} else if !c.Identity {
			c.Detail = notActed
		}
		v.Add(c)
	}
	if !s.pss && kmsSig != nil {
		if _, isRSA := srcPub.(*rsa.PublicKey); isRSA {
			var e error
			if !bytes.Equal(sig, kmsSig) {
				e = errors.New("the deterministic RSASSA-PKCS1-v1_5 signatures differ")
			}
			v.Record(CheckPKCS1Equal, true, e)
		}
	}
	return acted, nil
}

func digestOf(h crypto.Hash, d []byte) *kmspb.Digest {
	switch h {
	case crypto.SHA384:
		return &kmspb.Digest{Digest: &kmspb.Digest_Sha384{Sha384: d}}
	case crypto.SHA512:
		return &kmspb.Digest{Digest: &kmspb.Digest_Sha512{Sha512: d}}
	}
	return &kmspb.Digest{Digest: &kmspb.Digest_Sha256{Sha256: d}}
}

// verifySignature checks sig over digest under pub with scheme s: RSA
// PKCS#1 v1.5 or PSS, DER ECDSA on NIST curves or secp256k1.
func verifySignature(pub crypto.PublicKey, s scheme, digest, sig []byte) error {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		if s.pss {
			return rsa.VerifyPSS(k, s.h, digest, sig, &rsa.PSSOptions{SaltLength: s.h.Size(), Hash: s.h})
		}
		return rsa.VerifyPKCS1v15(k, s.h, digest, sig)
	case *ecdsa.PublicKey:
		if !ecdsa.VerifyASN1(k, digest, sig) {
			return errors.New("the ECDSA signature does not verify")
		}
		return nil
	case *secp256k1.PublicKey:
		es, err := secpecdsa.ParseDERSignature(sig)
		if err != nil {
			return fmt.Errorf("the ECDSA signature is not DER: %w", err)
		}
		if !es.Verify(digest, k) {
			return errors.New("the ECDSA signature does not verify")
		}
		return nil
	}
	return fmt.Errorf("cannot verify signatures of a %T", pub)
}

// verifyDecrypt has Cloud KMS decrypt a fresh message encrypted under the
// source public key; acted reports whether it recovered it (the version's
// private key acted in this proof).
func (t *Target) verifyDecrypt(ctx context.Context, v *byok.Verification, version string, row algRow, info byok.KeyInfo, srcPub crypto.PublicKey) (acted bool, err error) {
	pub, ok := srcPub.(*rsa.PublicKey)
	if !ok {
		return false, fmt.Errorf("gcpkms: %s with a %T public key", row.alg, srcPub)
	}
	newHash := crypto.SHA256.New
	switch {
	case strings.HasSuffix(row.alg.String(), "_SHA1"):
		newHash = sha1.New
	case strings.HasSuffix(row.alg.String(), "_SHA512"):
		newHash = crypto.SHA512.New
	}
	var msg []byte
	var resp *kmspb.AsymmetricDecryptResponse
	// A ciphertext_crc32c mismatch is corruption between byok and Cloud
	// KMS, not a failed decryption: Cloud KMS reports it as an error and
	// the client should "perform a limited number of retries"
	// (https://cloud.google.com/kms/docs/reference/rpc/google.cloud.kms.v1#asymmetricdecryptrequest,
	// https://cloud.google.com/kms/docs/data-integrity-guidelines). byok
	// retries once with a fresh message and ciphertext; a second mismatch
	// stops the proof (UNPROVEN), never FAILED.
	for attempt := 0; attempt < 2; attempt++ {
		msg = randomBytes(32)
		var ct []byte
		if ct, err = rsa.EncryptOAEP(newHash(), rand.Reader, pub, msg, nil); err != nil {
			return false, fmt.Errorf("gcpkms: encrypting under the source public key: %w", err)
		}
		resp, err = t.client.AsymmetricDecrypt(ctx, &kmspb.AsymmetricDecryptRequest{Name: version, Ciphertext: ct, CiphertextCrc32C: crc(ct)})
		if !isChecksumError(err) {
			break
		}
		if attempt == 1 {
			return false, &errIntegrity{"AsymmetricDecrypt", fmt.Sprintf("the ciphertext, twice (Cloud KMS: %v)", status.Convert(err).Message())}
		}
	}
	var e error
	switch {
	case code(err) == codes.InvalidArgument:
		// RSAES-OAEP decryption fails for a ciphertext not made for the
		// private key (RFC 8017, 7.1.2): evidence of another key. (A
		// checksum error was taken apart above.)
		e = fmt.Errorf("Cloud KMS could not decrypt it (%v), so it holds another private key", err)
	case skipRefused(v, "AsymmetricDecrypt", err):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("gcpkms: AsymmetricDecrypt %s: %w", version, err)
	default:
		if err := checkSent("AsymmetricDecrypt", "the ciphertext", resp.GetVerifiedCiphertextCrc32C()); err != nil {
			return false, err
		}
		if err := checkReceived("AsymmetricDecrypt", "the plaintext", resp.GetPlaintext(), resp.GetPlaintextCrc32C()); err != nil {
			return false, err
		}
		if !bytes.Equal(resp.GetPlaintext(), msg) {
			e = errors.New("Cloud KMS decrypted it to something else")
		}
	}
	v.Record(fmt.Sprintf("%s (%s)", CheckDecrypt, row.alg), info.PublicKeyFromPrivate, e)
	return e == nil, nil
}

func (t *Target) verifyMAC(ctx context.Context, v *byok.Verification, version string, src byok.KeySource) error {
	ms, ok := src.(byok.MACSource)
	if !ok {
		v.Skip("the source cannot compute an HMAC, so Cloud KMS's MAC cannot be compared with it")
		return nil
	}
	msg := append([]byte("byok import proof "), randomBytes(32)...)
	resp, err := t.client.MacSign(ctx, &kmspb.MacSignRequest{Name: version, Data: msg, DataCrc32C: crc(msg)})
	switch {
	case skipRefused(v, "MacSign", err):
		return nil
	case err != nil:
		return fmt.Errorf("gcpkms: MacSign %s: %w", version, err)
	}
	if err := checkSent("MacSign", "the data", resp.GetVerifiedDataCrc32C()); err != nil {
		return err
	}
	if err := checkReceived("MacSign", "the MAC", resp.GetMac(), resp.GetMacCrc32C()); err != nil {
		return err
	}
	local, err := ms.MAC(ctx, msg)
	if err != nil {
		v.Skip(fmt.Sprintf("the source could not compute an HMAC: %v", err))
		return nil
	}
	var e error
	if !hmac.Equal(resp.GetMac(), local) {
		e = errors.New("Cloud KMS's HMAC differs from the source's")
	}
	v.Record(CheckMAC, true, e)
	return nil
}

// verifyRoundTrip: GOOGLE_SYMMETRIC_ENCRYPTION ciphertexts are in Cloud
// KMS's own format (with internal metadata), so nothing outside Cloud KMS
// can decrypt them and a round trip proves only that the key works.
func (t *Target) verifyRoundTrip(ctx context.Context, v *byok.Verification, key, version string) error {
	msg := append([]byte("byok import proof "), randomBytes(32)...)
	aad := []byte("byok verify")
	enc, err := t.client.Encrypt(ctx, &kmspb.EncryptRequest{Name: version, Plaintext: msg, PlaintextCrc32C: crc(msg),
		AdditionalAuthenticatedData: aad, AdditionalAuthenticatedDataCrc32C: crc(aad)})
	switch {
	case skipRefused(v, "Encrypt", err):
		return nil
	case err != nil:
		return fmt.Errorf("gcpkms: Encrypt %s: %w", version, err)
	}
	if err := checkSent("Encrypt", "the plaintext and AAD", enc.GetVerifiedPlaintextCrc32C() && enc.GetVerifiedAdditionalAuthenticatedDataCrc32C()); err != nil {
		return err
	}
	if err := checkReceived("Encrypt", "the ciphertext", enc.GetCiphertext(), enc.GetCiphertextCrc32C()); err != nil {
		return err
	}
	dec, err := t.client.Decrypt(ctx, &kmspb.DecryptRequest{Name: key, Ciphertext: enc.GetCiphertext(), CiphertextCrc32C: crc(enc.GetCiphertext()),
		AdditionalAuthenticatedData: aad, AdditionalAuthenticatedDataCrc32C: crc(aad)})
	switch {
	case skipRefused(v, "Decrypt", err):
		return nil
	case err != nil:
		return fmt.Errorf("gcpkms: Decrypt with %s: %w", key, err)
	}
	if err := checkReceived("Decrypt", "the plaintext", dec.GetPlaintext(), dec.GetPlaintextCrc32C()); err != nil {
		return err
	}
	var e error
	if !bytes.Equal(dec.GetPlaintext(), msg) {
		e = errors.New("Decrypt did not return the plaintext")
	}
	v.Record(CheckRoundTrip, false, e)
	v.Skip("GOOGLE_SYMMETRIC_ENCRYPTION ciphertexts are in Cloud KMS's own format, so nothing outside Cloud KMS can show the key is the source's; " +
		"for an identity check import a software AES key as AES_256_GCM (--gcp-algorithm AES_256_GCM)")
	return nil
}

// rawPlaintextLen is a multiple of the AES block size, as raw AES-CBC
// requires.
const rawPlaintextLen = 64

func (t *Target) verifyRaw(ctx context.Context, v *byok.Verification, version string, row algRow, src byok.KeySource) error {
	msg := randomBytes(rawPlaintextLen)
	req := &kmspb.RawEncryptRequest{Name: version, Plaintext: msg, PlaintextCrc32C: crc(msg)}
	var aad []byte
	if row.alg == kmspb.CryptoKeyVersion_AES_256_GCM {
		aad = []byte("byok verify")
		req.AdditionalAuthenticatedData, req.AdditionalAuthenticatedDataCrc32C = aad, crc(aad)
	}
	enc, err := t.client.RawEncrypt(ctx, req)
	switch {
	case skipRefused(v, "RawEncrypt", err):
		return nil
	case err != nil:
		return fmt.Errorf("gcpkms: RawEncrypt %s: %w", version, err)
	}
	ok := enc.GetVerifiedPlaintextCrc32C() && (aad == nil || enc.GetVerifiedAdditionalAuthenticatedDataCrc32C())
	if err := checkSent("RawEncrypt", "the plaintext and AAD", ok); err != nil {
		return err
	}
	if err := checkReceived("RawEncrypt", "the ciphertext", enc.GetCiphertext(), enc.GetCiphertextCrc32C()); err != nil {
		return err
	}
	if err := checkReceived("RawEncrypt", "the IV", enc.GetInitializationVector(), enc.GetInitializationVectorCrc32C()); err != nil {
		return err
	}
	if ms, ok := src.(MaterialSource); ok && ms.Material() != nil && ms.Material().Len() == 32 {
		key := ms.Material().Bytes()
		defer clear(key)
		got, err := rawDecrypt(row.alg, key, enc.GetInitializationVector(), enc.GetCiphertext(), aad, int(enc.GetTagLength()))
		var e error
		switch {
		case err != nil:
			e = fmt.Errorf("the source key cannot decrypt Cloud KMS's ciphertext (%v), so Cloud KMS holds another key", err)
		case !bytes.Equal(got, msg):
			e = errors.New("the source key decrypts Cloud KMS's ciphertext to something else, so Cloud KMS holds another key")
		}
		v.Record(fmt.Sprintf("%s (%s)", CheckRawLocal, row.alg), true, e)
		return nil
	}
	dec, err := t.client.RawDecrypt(ctx, &kmspb.RawDecryptRequest{Name: version, Ciphertext: enc.GetCiphertext(), CiphertextCrc32C: crc(enc.GetCiphertext()),
		AdditionalAuthenticatedData: aad, AdditionalAuthenticatedDataCrc32C: crc(aad), InitializationVector: enc.GetInitializationVector(),
		InitializationVectorCrc32C: crc(enc.GetInitializationVector()), TagLength: enc.GetTagLength()})
	switch {
	case skipRefused(v, "RawDecrypt", err):
		return nil
	case err != nil:
		return fmt.Errorf("gcpkms: RawDecrypt %s: %w", version, err)
	}
	if err := checkReceived("RawDecrypt", "the plaintext", dec.GetPlaintext(), dec.GetPlaintextCrc32C()); err != nil {
		return err
	}
	var e error
	if !bytes.Equal(dec.GetPlaintext(), msg) {
		e = errors.New("RawDecrypt did not return the plaintext")
	}
	v.Record(CheckRawRoundTrip, false, e)
	v.Skip("the source does not hold its key in memory, so Cloud KMS's raw ciphertext could not be decrypted with the source key")
	return nil
}

// rawDecrypt decrypts Cloud KMS raw AES output with key: AES-GCM
// (ciphertext || tag), AES-CBC (no padding, or PKCS#7) or AES-CTR.
// https://cloud.google.com/kms/docs/encrypt-decrypt-raw
func rawDecrypt(alg kmspb.CryptoKeyVersion_CryptoKeyVersionAlgorithm, key, iv, ct, aad []byte, tagLen int) ([]byte, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	switch alg {
	case kmspb.CryptoKeyVersion_AES_256_GCM:
		var g cipher.AEAD
		switch {
		case tagLen == 0 || tagLen == 16:
			g, err = cipher.NewGCMWithNonceSize(block, len(iv))
		case len(iv) == 12:
			g, err = cipher.NewGCMWithTagSize(block, tagLen)
		default:
			return nil, fmt.Errorf("a %d-byte IV with a %d-byte tag", len(iv), tagLen)
		}
		if err != nil {
			return nil, err
		}
		return g.Open(nil, iv, ct, aad)
	case kmspb.CryptoKeyVersion_AES_256_CBC:
		if len(iv) != aes.BlockSize || len(ct)%aes.BlockSize != 0 || len(ct) == 0 {
			return nil, fmt.Errorf("a %d-byte IV and %d bytes of AES-CBC ciphertext", len(iv), len(ct))
		}
		out := make([]byte, len(ct))
		cipher.NewCBCDecrypter(block, iv).CryptBlocks(out, ct)
		if len(out) == rawPlaintextLen+aes.BlockSize && bytes.Equal(out[rawPlaintextLen:], bytes.Repeat([]byte{aes.BlockSize}, aes.BlockSize)) {
			out = out[:rawPlaintextLen] // PKCS#7 padding
		}
		return out, nil
	case kmspb.CryptoKeyVersion_AES_256_CTR:
		if len(iv) != aes.BlockSize {
			return nil, fmt.Errorf("a %d-byte AES-CTR IV", len(iv))
		}
		out := make([]byte, len(ct))
		cipher.NewCTR(block, iv).XORKeyStream(out, ct)
		return out, nil
	}
	return nil, fmt.Errorf("%s is not a raw AES algorithm", alg)
}
