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

// VerifyImport proves that the KMS key now holds the source key, by using
// it. Asymmetric keys: GetPublicKey equals the source public key; for
// SIGN_VERIFY, a KMS signature over a fresh message verifies under the
// source public key and, when the source can sign (SignerSource), the
// source's signature verifies in KMS (and RSASSA-PKCS1-v1_5 signatures,
// being deterministic, are equal); for RSA ENCRYPT_DECRYPT, KMS decrypts
// what the source public key encrypted. HMAC keys: KMS GenerateMac equals the
// source's HMAC of a fresh message (the source must be a MACSource).
// Symmetric keys: an Encrypt/Decrypt round trip — KMS ciphertexts are opaque,
// so equality with the source key rests on KMS having unwrapped and accepted
// exactly that material.
func (t *KMS) VerifyImport(ctx context.Context, imp Imported, info KeyInfo, src KeySource) (Verification, error) {
	var v Verification
	id := aws.String(imp.KeyARN)
	switch info.Spec.Kind() {
	case KindRSA, KindEC:
		out, err := t.Client.GetPublicKey(ctx, &kms.GetPublicKeyInput{KeyId: id})
		if err != nil {
			return v, fmt.Errorf("GetPublicKey: %w", err)
		}
		var mismatch error
		if !bytes.Equal(out.PublicKey, info.PublicKeyDER) {
			mismatch = errors.New("KMS holds a different public key")
		}
		v.add("GetPublicKey equals the source public key", mismatch)
		pub, err := ParsePublicKeyDER(info.PublicKeyDER)
		if err != nil {
			return v, err
		}
		switch info.usage() {
		case SignVerify:
			if err := t.verifySign(ctx, &v, id, info, pub, src); err != nil {
				return v, err
			}
		case EncryptDecrypt:
			rsaPub, ok := pub.(*rsa.PublicKey)
			if !ok {
				return v, fmt.Errorf("ENCRYPT_DECRYPT with a %T", pub)
			}
			msg := randomMessage()
			ct, err := rsa.EncryptOAEP(crypto.SHA256.New(), rand.Reader, rsaPub, msg, nil)
			if err != nil {
				return v, err
			}
			dec, err := t.Client.Decrypt(ctx, &kms.DecryptInput{KeyId: id, CiphertextBlob: ct, EncryptionAlgorithm: types.EncryptionAlgorithmSpecRsaesOaepSha256})
			if err != nil {
				return v, fmt.Errorf("Decrypt: %w", err)
			}
			var e error
			if !bytes.Equal(dec.Plaintext, msg) {
				e = errors.New("KMS decrypted to something else")
			}
			v.add("KMS decrypts RSAES_OAEP_SHA_256 ciphertext made with the source public key", e)
		default:
			v.Skipped = append(v.Skipped, fmt.Sprintf("%s: only the public key is compared (byok does not run DeriveSharedSecret)", info.usage()))
		}
	case KindHMAC:
		ms, ok := src.(MACSource)
		if !ok {
			v.Skipped = append(v.Skipped, "the source cannot compute an HMAC, so KMS's HMAC cannot be compared with it")
			break
		}
		msg := randomMessage()
		alg := types.MacAlgorithmSpec("HMAC_SHA_" + string(info.Spec)[len("HMAC_"):])
		out, err := t.Client.GenerateMac(ctx, &kms.GenerateMacInput{KeyId: id, Message: msg, MacAlgorithm: alg})
		if err != nil {
			return v, fmt.Errorf("GenerateMac: %w", err)
		}
		local, err := ms.MAC(ctx, msg)
		if err != nil {
			return v, fmt.Errorf("the source's HMAC: %w", err)
		}
		var e error
		if !hmac.Equal(out.Mac, local) {
			e = errors.New("KMS's HMAC differs from the source's")
		}
		v.add(fmt.Sprintf("KMS GenerateMac (%s) equals the source's HMAC of a fresh message", alg), e)
	case KindSymmetric:
		msg := randomMessage()
		ctxMap := map[string]string{"byok": "verify"}
		enc, err := t.Client.Encrypt(ctx, &kms.EncryptInput{KeyId: id, Plaintext: msg, EncryptionContext: ctxMap})
		if err != nil {
			return v, fmt.Errorf("Encrypt: %w", err)
		}
		dec, err := t.Client.Decrypt(ctx, &kms.DecryptInput{KeyId: id, CiphertextBlob: enc.CiphertextBlob, EncryptionContext: ctxMap})
		if err != nil {
			return v, fmt.Errorf("Decrypt: %w", err)
		}
		var e error
		if !bytes.Equal(dec.Plaintext, msg) {
			e = errors.New("Decrypt did not return the plaintext")
		}
		v.add("KMS Encrypt/Decrypt round trip with the imported material", e)
		v.Skipped = append(v.Skipped, "symmetric: KMS ciphertexts are opaque; that KMS holds the source key rests on KMS having unwrapped and accepted exactly that material")
	}
	v.finish()
	return v, nil
}

func (t *KMS) verifySign(ctx context.Context, v *Verification, id *string, info KeyInfo, pub crypto.PublicKey, src KeySource) error {
	alg, h := signingAlgorithm(info.Spec)
	msg := randomMessage()
	hh := h.New()
	hh.Write(msg)
	digest := hh.Sum(nil)
	out, err := t.Client.Sign(ctx, &kms.SignInput{KeyId: id, Message: digest, MessageType: types.MessageTypeDigest, SigningAlgorithm: alg})
	if err != nil {
		return fmt.Errorf("Sign: %w", err)
	}
	v.add(fmt.Sprintf("a KMS %s signature over a fresh message verifies under the source public key", alg), verifySignature(pub, h, digest, out.Signature))
	ss, ok := src.(SignerSource)
	if !ok {
		v.Skipped = append(v.Skipped, "the source cannot sign, so KMS was not asked to verify a source signature")
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
	case err != nil:
		return fmt.Errorf("Verify: %w", err)
	case !vo.SignatureValid:
		e = errors.New("KMS says the source's signature is invalid")
	}
	v.add(fmt.Sprintf("KMS verifies a %s signature made by the source", alg), e)
	if _, isRSA := pub.(*rsa.PublicKey); isRSA {
		var e error
		if !bytes.Equal(sig, out.Signature) {
			e = errors.New("the deterministic RSASSA-PKCS1-v1_5 signatures differ")
		}
		v.add("KMS's and the source's RSASSA-PKCS1-v1_5 signatures of the same message are byte-identical", e)
	}
	return nil
}
