package byok

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/smithy-go"
	"github.com/decred/dcrd/dcrec/secp256k1/v4"
	secpecdsa "github.com/decred/dcrd/dcrec/secp256k1/v4/ecdsa"
)

// ParsePublicKeyDER parses a DER SubjectPublicKeyInfo of an importable
// asymmetric key spec, as KMS GetPublicKey returns it: *rsa.PublicKey,
// *ecdsa.PublicKey (NIST curves) or *secp256k1.PublicKey.
func ParsePublicKeyDER(der []byte) (crypto.PublicKey, error) {
	if pub, err := x509.ParsePKIXPublicKey(der); err == nil {
		return pub, nil
	}
	pub, err := parseECPublic(der)
	if err != nil {
		return nil, fmt.Errorf("byok: not a SubjectPublicKeyInfo of an importable key spec")
	}
	return pub, nil
}

// signingAlgorithm returns the KMS signing algorithm and hash byok uses to
// prove an asymmetric import.
func signingAlgorithm(spec KeySpec) (types.SigningAlgorithmSpec, crypto.Hash) {
	switch spec {
	case RSA2048, RSA3072, RSA4096:
		return types.SigningAlgorithmSpecRsassaPkcs1V15Sha256, crypto.SHA256
	case ECCNISTP384:
		return types.SigningAlgorithmSpecEcdsaSha384, crypto.SHA384
	case ECCNISTP521:
		return types.SigningAlgorithmSpecEcdsaSha512, crypto.SHA512
	}
	return types.SigningAlgorithmSpecEcdsaSha256, crypto.SHA256
}

// verifySignature checks a KMS signature (RSASSA-PKCS1-v1_5 or DER ECDSA)
// over digest under the source public key.
func verifySignature(pub crypto.PublicKey, h crypto.Hash, digest, sig []byte) error {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		return rsa.VerifyPKCS1v15(k, h, digest, sig)
	case *ecdsa.PublicKey:
		if !ecdsa.VerifyASN1(k, digest, sig) {
			return errors.New("ECDSA signature does not verify")
		}
		return nil
	case *secp256k1.PublicKey:
		s, err := secpecdsa.ParseDERSignature(sig)
		if err != nil {
			return fmt.Errorf("ECDSA signature is not DER: %w", err)
		}
		if !s.Verify(digest, k) {
			return errors.New("ECDSA signature does not verify")
		}
		return nil
	}
	return fmt.Errorf("cannot verify signatures of a %T", pub)
}

func randomMessage() []byte {
	m := make([]byte, 32)
	rand.Read(m)
	return append([]byte("byok import proof "), m...)
}

// Names of the checks byok runs. They are stable, so that scripts and tests
// can look for them; details vary.
const (
	checkGetPublicKey  = "GetPublicKey equals the source public key"
	checkRoundTrip     = "usability only: a KMS Encrypt/Decrypt round trip works (any key would)"
	checkDescribe      = "DescribeKey: Origin EXTERNAL and the source's key spec"
	checkReimport      = "re-import: KMS accepts the source's key material again as this key's material"
	checkReimportMatID = "re-import: KMS accepted it as the key's current key material ID"
	checkDecrypt       = "KMS decrypts RSAES_OAEP_SHA_256 ciphertext made with the source public key"
)

// integrityCheck names what a successful ImportKeyMaterial proves: KMS
// unwrapped, under its own private wrapping key, exactly the bytes the
// source wrapped. RSAES-OAEP decryption fails on any ciphertext not made
// for that key (RFC 8017, 7.1.2); RSA_AES_KEY_WRAP adds RFC 5649's integrity
// check on the material itself (RFC 5649, 3).
func integrityCheck(alg WrappingAlgorithm) Check {
	how := "OAEP/RFC 5649 integrity"
	switch {
	case alg == "":
	case alg.IsKeyWrap():
		how = string(alg) + ": OAEP and RFC 5649 integrity"
	default:
		how = string(alg) + ": OAEP integrity"
	}
	return Check{
		Name: "KMS unwrapped and accepted exactly the material the source wrapped (" + how + ")",
		OK:   true,
		Detail: "ImportKeyMaterial succeeded: KMS decrypted the EncryptedKeyMaterial with its private wrapping key, " +
			"which fails for any altered or foreign ciphertext, and accepted the material for this key",
		Identity: true,
	}
}

// VerifyImport proves, right after ImportKeyMaterial, that the KMS key holds
// the source key:
//
//   - Every spec: KMS unwrapped and accepted exactly the material the source
//     wrapped (the integrity of RSAES-OAEP, and of RFC 5649 for
//     RSA_AES_KEY_WRAP). This rests on the source having wrapped its own key.
//   - RSA and EC: GetPublicKey equals the source public key (KMS derives it
//     from the imported private key); for SIGN_VERIFY, a KMS signature over
//     a fresh message verifies under the source public key and, when the
//     source can sign (SignerSource), KMS verifies the source's signature
//     (RSASSA-PKCS1-v1_5 signatures, being deterministic, are also equal);
//     for RSA ENCRYPT_DECRYPT, KMS decrypts what the source public key
//     encrypted. The public-key checks are identity checks only when the
//     source derived its public key from its private key
//     (KeyInfo.PublicKeyFromPrivate).
//   - HMAC: KMS GenerateMac equals the source's HMAC of a fresh message (the
//     source must be a MACSource).
//   - SYMMETRIC_DEFAULT: an Encrypt/Decrypt round trip, recorded as a
//     usability check (any key passes it); KMS ciphertexts are opaque.
//
// A call refused with AccessDeniedException is recorded in Skipped and the
// others still run. To prove later, or material wrapped elsewhere, use
// VerifyKey.
func (t *KMS) VerifyImport(ctx context.Context, imp Imported, info KeyInfo, src KeySource) (Verification, error) {
	var v Verification
	v.Add(integrityCheck(imp.Algorithm))
	arn := imp.KeyARN
	if arn == "" {
		arn = imp.KeyID
	}
	err := t.useChecks(ctx, &v, arn, info, src, true)
	v.settle()
	return v, err
}

// refused reports whether err is KMS refusing a call for a reason that
// leaves the proof unable to run rather than wrong: no permission, the key's
// state, an operation KMS does not support for this key.
func refused(err error) bool {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		switch ae.ErrorCode() {
		case "AccessDeniedException", "KMSInvalidStateException", "DisabledException", "UnsupportedOperationException":
			return true
		}
	}
	return false
}

// skipRefused records a refused call in v and reports whether it did.
func skipRefused(v *Verification, op string, err error) bool {
	if !refused(err) {
		return false
	}
	v.Skip(fmt.Sprintf("%s was refused, so its check could not run: %v", op, err))
	return true
}

// useChecks uses the KMS key and compares with the source: public key,
// signatures or decryption (RSA, EC), HMAC (HMAC keys), and at import time a
// round trip (SYMMETRIC_DEFAULT).
func (t *KMS) useChecks(ctx context.Context, v *Verification, arn string, info KeyInfo, src KeySource, importTime bool) error {
	id := aws.String(arn)
	switch info.Spec.Kind() {
	case KindRSA, KindEC:
		out, err := t.Client.GetPublicKey(ctx, &kms.GetPublicKeyInput{KeyId: id})
		switch {
		case skipRefused(v, "GetPublicKey", err):
		case err != nil:
			return fmt.Errorf("GetPublicKey: %w", err)
		default:
			// Equal public keys show that KMS holds the source's private key
			// only when the source derived its public key from that private
			// key. An HSM's public-key object need not match the private
			// key beside it; then this check is not an identity check, and
			// another one must prove the key (signatures both ways, or the
			// re-import, which has the source wrap its private key).
			c := Check{Name: checkGetPublicKey, OK: bytes.Equal(out.PublicKey, info.PublicKeyDER), Identity: info.PublicKeyFromPrivate}
			switch {
			case !c.OK:
				c.Detail = "KMS holds a different public key"
			case !c.Identity:
				c.Detail = "the source's public key was read from its token, not derived from its private key, so equality does not show that KMS holds that private key"
			}
			if !c.OK && !info.PublicKeyFromPrivate {
				c.Detail += " than the source's public key (read from its token, which need not match the token's private key)"
			}
			v.Add(c)
		}
		pub, err := ParsePublicKeyDER(info.PublicKeyDER)
		if err != nil {
			return err
		}
		switch info.usage() {
		case SignVerify:
			return t.verifySign(ctx, v, id, info, pub, src)
		case EncryptDecrypt:
			rsaPub, ok := pub.(*rsa.PublicKey)
			if !ok {
				return fmt.Errorf("ENCRYPT_DECRYPT with a %T", pub)
			}
			msg := randomMessage()
			ct, err := rsa.EncryptOAEP(crypto.SHA256.New(), rand.Reader, rsaPub, msg, nil)
			if err != nil {
				return err
			}
			dec, err := t.Client.Decrypt(ctx, &kms.DecryptInput{KeyId: id, CiphertextBlob: ct, EncryptionAlgorithm: types.EncryptionAlgorithmSpecRsaesOaepSha256})
			var invalid *types.InvalidCiphertextException
			var e error
			switch {
			case errors.As(err, &invalid):
				// RSAES-OAEP decryption fails for a ciphertext not made
				// for the private key (RFC 8017, 7.1.2): KMS refusing one
				// made with the source public key shows it holds another
				// key. It is evidence, not a call that could not run.
				e = fmt.Errorf("KMS could not decrypt it (InvalidCiphertextException: %s), so it holds another private key", invalid.ErrorMessage())
			case skipRefused(v, "Decrypt", err):
				return nil
			case err != nil:
				return fmt.Errorf("Decrypt: %w", err)
			case !bytes.Equal(dec.Plaintext, msg):
				e = errors.New("KMS decrypted to something else")
			}
			// Decrypting proves KMS holds the private key of the source's
			// public key: the source's own only when that public key was
			// derived from it.
			v.Record(checkDecrypt, info.PublicKeyFromPrivate, e)
		default:
			what := "only the public key is compared"
			if !info.PublicKeyFromPrivate {
				what = "only the public key (read from the source's token) is compared, which does not prove the private key"
			}
			v.Skip(fmt.Sprintf("%s: %s (byok does not run DeriveSharedSecret)", info.usage(), what))
		}
	case KindHMAC:
		ms, ok := src.(MACSource)
		if !ok {
			v.Skip("the source cannot compute an HMAC, so KMS's HMAC cannot be compared with it")
			return nil
		}
		msg := randomMessage()
		alg := types.MacAlgorithmSpec("HMAC_SHA_" + string(info.Spec)[len("HMAC_"):])
		out, err := t.Client.GenerateMac(ctx, &kms.GenerateMacInput{KeyId: id, Message: msg, MacAlgorithm: alg})
		switch {
		case skipRefused(v, "GenerateMac", err):
			return nil
		case err != nil:
			return fmt.Errorf("GenerateMac: %w", err)
		}
		local, err := ms.MAC(ctx, msg)
		if err != nil {
			v.Skip(fmt.Sprintf("the source could not compute an HMAC: %v", err))
			return nil
		}
		var e error
		if !hmac.Equal(out.Mac, local) {
			e = errors.New("KMS's HMAC differs from the source's")
		}
		v.Record(fmt.Sprintf("KMS GenerateMac (%s) equals the source's HMAC of a fresh message", alg), true, e)
	case KindSymmetric:
		if !importTime {
			return nil
		}
		msg := randomMessage()
		ctxMap := map[string]string{"byok": "verify"}
		enc, err := t.Client.Encrypt(ctx, &kms.EncryptInput{KeyId: id, Plaintext: msg, EncryptionContext: ctxMap})
		switch {
		case skipRefused(v, "Encrypt", err):
			return nil
		case err != nil:
			return fmt.Errorf("Encrypt: %w", err)
		}
		dec, err := t.Client.Decrypt(ctx, &kms.DecryptInput{KeyId: id, CiphertextBlob: enc.CiphertextBlob, EncryptionContext: ctxMap})
		switch {
		case skipRefused(v, "Decrypt", err):
			return nil
		case err != nil:
			return fmt.Errorf("Decrypt: %w", err)
		}
		var e error
		if !bytes.Equal(dec.Plaintext, msg) {
			e = errors.New("Decrypt did not return the plaintext")
		}
		v.Record(checkRoundTrip, false, e)
	}
	return nil
}

func (t *KMS) verifySign(ctx context.Context, v *Verification, id *string, info KeyInfo, pub crypto.PublicKey, src KeySource) error {
	alg, h := signingAlgorithm(info.Spec)
	msg := randomMessage()
	hh := h.New()
	hh.Write(msg)
	digest := hh.Sum(nil)
	out, err := t.Client.Sign(ctx, &kms.SignInput{KeyId: id, Message: digest, MessageType: types.MessageTypeDigest, SigningAlgorithm: alg})
	switch {
	case skipRefused(v, "Sign", err):
	case err != nil:
		return fmt.Errorf("Sign: %w", err)
	default:
		// Like GetPublicKey, this shows identity only for a public key
		// derived from the source's private key.
		v.Record(fmt.Sprintf("a KMS %s signature over a fresh message verifies under the source public key", alg), info.PublicKeyFromPrivate,
			verifySignature(pub, h, digest, out.Signature))
	}
	ss, ok := src.(SignerSource)
	if !ok {
		v.Skip("the source cannot sign, so KMS was not asked to verify a source signature")
		return nil
	}
	signer, err := ss.Signer(ctx)
	if err != nil {
		return fmt.Errorf("the source's signer: %w", err)
	}
	sig, err := signer.Sign(rand.Reader, digest, h)
	if err != nil {
		return fmt.Errorf("signing with the source key: %w", err)
	}
	vo, err := t.Client.Verify(ctx, &kms.VerifyInput{KeyId: id, Message: digest, MessageType: types.MessageTypeDigest, Signature: sig, SigningAlgorithm: alg})
	var e error
	var invalid *types.KMSInvalidSignatureException
	switch {
	case errors.As(err, &invalid):
		e = errors.New("KMS says the source's signature is invalid")
	case skipRefused(v, "Verify", err):
		return nil
	case err != nil:
		return fmt.Errorf("Verify: %w", err)
	case !vo.SignatureValid:
		e = errors.New("KMS says the source's signature is invalid")
	}
	v.Record(fmt.Sprintf("KMS verifies a %s signature made by the source", alg), true, e)
	if _, isRSA := pub.(*rsa.PublicKey); isRSA && out != nil {
		var e error
		if !bytes.Equal(sig, out.Signature) {
			e = errors.New("the deterministic RSASSA-PKCS1-v1_5 signatures differ")
		}
		v.Record("KMS's and the source's RSASSA-PKCS1-v1_5 signatures of the same message are byte-identical", true, e)
	}
	return nil
}
