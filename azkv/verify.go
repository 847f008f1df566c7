package azkv

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"
	"net/http"

	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azkeys"
	"github.com/decred/dcrd/dcrec/secp256k1/v4"
	secpecdsa "github.com/decred/dcrd/dcrec/secp256k1/v4/ecdsa"

	"github.com/byok-go/byok"
)

// Names of the checks. They are stable; details vary.
const (
	CheckImported  = "Key Vault unwrapped and accepted the .byok file (CKM_RSA_AES_KEY_WRAP: OAEP and RFC 5649 integrity)"
	CheckPublicKey = "GetKey's public key equals the source public key"
	CheckKeyType   = "GetKey: the key is an HSM key of the source's type"
	CheckDecrypt   = "Key Vault decrypts RSA-OAEP-256 ciphertext made with the source public key"
	CheckOctWrap   = "Key Vault's A256KW WrapKey of a fresh key equals the source key's own (RFC 3394 is deterministic)"
	CheckRoundTrip = "usability only: a Key Vault A256KW WrapKey/UnwrapKey round trip works (any AES key would)"
)

// refused reports whether err is Key Vault refusing a call (403 Forbidden:
// no permission, or an operation the key's state or key_ops forbid), which
// leaves a check unable to run rather than wrong.
func refused(err error) bool { return statusOf(err) == http.StatusForbidden }

func skipRefused(v *byok.Verification, op string, err error) bool {
	if !refused(err) {
		return false
	}
	v.Skip(fmt.Sprintf("%s was refused (403), so its check could not run: %v", op, err))
	return true
}

// VerifyImport proves, right after ImportKey, that the Key Vault key holds
// the source key, by using it:
//
//   - Every key: ImportKey succeeded, so Key Vault decrypted the .byok
//     with the KEK's private key, which fails for an altered or foreign
//     file (OAEP, RFC 8017 7.1.2; RFC 5649's integrity check). This shows
//     the vault holds the bytes the source wrapped, not that they are the
//     key the source describes: it is recorded, not counted as identity.
//   - RSA and EC: GetKey's public key equals the source public key; for
//     SIGN_VERIFY, a Key Vault signature (RS256, ES256/384/512, ES256K) over
//     a fresh digest verifies under the source public key and, when the
//     source can sign (byok.SignerSource), Key Vault verifies the source's
//     signature, and RSA PKCS#1 v1.5 signatures, deterministic, are
//     byte-identical; for RSA ENCRYPT_DECRYPT, Key Vault decrypts RSA-OAEP-256
//     ciphertext made with the source public key. The public-key checks are
//     identity checks only when the source derived its public key from its
//     private key (KeyInfo.PublicKeyFromPrivate).
//   - AES (Managed HSM): Key Vault's A256KW WrapKey of a fresh 32-byte value
//     equals the source key's own RFC 3394 wrap, when the source holds the
//     key in software (an identity check: A256KW is deterministic, and only
//     that key produces it); for other sources, a WrapKey/UnwrapKey round
//     trip, a usability check only (UNPROVEN).
//
// A call refused with 403 is recorded in Skipped and the others still run;
// a check that shows another key fails (FAILED).
func (t *Target) VerifyImport(ctx context.Context, imp byok.Imported, info byok.KeyInfo, src byok.KeySource) (byok.Verification, error) {
	var v byok.Verification
	v.Record(CheckImported, false, nil)
	name, version, err := t.keyRef(imp.KeyID)
	if err != nil {
		return v, err
	}
	err = t.useChecks(ctx, &v, name, version, info, src)
	return v, err
}

func (t *Target) useChecks(ctx context.Context, v *byok.Verification, name, version string, info byok.KeyInfo, src byok.KeySource) error {
	got, err := t.client.GetKey(ctx, name, version, nil)
	switch {
	case skipRefused(v, "GetKey", err):
	case err != nil:
		return fmt.Errorf("GetKey %s: %w", name, err)
	case got.Key == nil || got.Key.Kty == nil:
		return fmt.Errorf("GetKey %s returned no key", name)
	default:
		kt := keyTypes[info.Spec]
		var e error
		if string(*got.Key.Kty) != kt.kty || (kt.crv != "" && (got.Key.Crv == nil || string(*got.Key.Crv) != kt.crv)) {
			e = fmt.Errorf("the key is %s %v; the source is %s (%s %s)", *got.Key.Kty, deref(got.Key.Crv), info.Spec, kt.kty, kt.crv)
		}
		v.Record(CheckKeyType, false, e)
		if info.Spec.Kind() == byok.KindRSA || info.Spec.Kind() == byok.KindEC {
			pub, err := byok.ParsePublicKeyDER(info.PublicKeyDER)
			if err != nil {
				return err
			}
			c := byok.Check{Name: CheckPublicKey, Identity: info.PublicKeyFromPrivate}
			c.OK, c.Detail = samePublic(got.Key, pub)
			if c.OK && !c.Identity {
				c.Detail = "the source's public key was read from its token, not derived from its private key, so equality does not show that Key Vault holds that private key"
			}
			v.Add(c)
		}
	}
	switch info.Spec.Kind() {
	case byok.KindRSA, byok.KindEC:
		pub, err := byok.ParsePublicKeyDER(info.PublicKeyDER)
		if err != nil {
			return err
		}
		if usage(info) == byok.EncryptDecrypt {
			return t.verifyDecrypt(ctx, v, name, version, info, pub)
		}
		return t.verifySign(ctx, v, name, version, info, pub, src)
	case byok.KindSymmetric:
		return t.verifyOct(ctx, v, name, version, src)
	}
	return nil
}

func deref[T any](p *T) any {
	if p == nil {
		return ""
	}
	return *p
}

// samePublic compares a JWK's public key with the source's.
func samePublic(k *azkeys.JSONWebKey, pub crypto.PublicKey) (bool, string) {
	switch p := pub.(type) {
	case *rsa.PublicKey:
		e := new(big.Int).SetBytes(k.E)
		if new(big.Int).SetBytes(k.N).Cmp(p.N) == 0 && e.IsInt64() && e.Int64() == int64(p.E) {
			return true, ""
		}
		return false, "Key Vault holds a different RSA public key"
	case *ecdsa.PublicKey:
		size := (p.Curve.Params().BitSize + 7) / 8
		if bytes.Equal(k.X, p.X.FillBytes(make([]byte, size))) && bytes.Equal(k.Y, p.Y.FillBytes(make([]byte, size))) {
			return true, ""
		}
		return false, "Key Vault holds a different EC public key"
	case *secp256k1.PublicKey:
		b := p.SerializeUncompressed()
		if bytes.Equal(k.X, b[1:33]) && bytes.Equal(k.Y, b[33:]) {
			return true, ""
		}
		return false, "Key Vault holds a different secp256k1 public key"
	}
	return false, fmt.Sprintf("cannot compare a %T", pub)
}

// signAlg returns the Key Vault signature algorithm byok proves a spec with,
// its hash and, for EC, the length of r and of s in the signature (JWS
// signatures are r || s, RFC 7518 3.4).
func signAlg(spec byok.KeySpec) (azkeys.SignatureAlgorithm, crypto.Hash, int) {
	switch spec {
	case byok.ECCNISTP256:
		return azkeys.SignatureAlgorithmES256, crypto.SHA256, 32
	case byok.ECCNISTP384:
		return azkeys.SignatureAlgorithmES384, crypto.SHA384, 48
	case byok.ECCNISTP521:
		return azkeys.SignatureAlgorithmES512, crypto.SHA512, 66
	case byok.ECCSECGP256K1:
		return azkeys.SignatureAlgorithmES256K, crypto.SHA256, 32
	}
	return azkeys.SignatureAlgorithmRS256, crypto.SHA256, 0
}

func digestOf(h crypto.Hash, msg []byte) []byte {
	switch h {
	case crypto.SHA384:
		d := sha512.Sum384(msg)
		return d[:]
	case crypto.SHA512:
		d := sha512.Sum512(msg)
		return d[:]
	}
	d := sha256.Sum256(msg)
	return d[:]
}

func freshMessage() []byte {
	m := make([]byte, 32)
	rand.Read(m)
	return append([]byte("byok azure import proof "), m...)
}

// verifyJWS checks a Key Vault signature under the source public key.
func verifyJWS(pub crypto.PublicKey, h crypto.Hash, n int, digest, sig []byte) error {
	switch p := pub.(type) {
	case *rsa.PublicKey:
		return rsa.VerifyPKCS1v15(p, h, digest, sig)
	case *ecdsa.PublicKey, *secp256k1.PublicKey:
		if len(sig) != 2*n {
			return fmt.Errorf("the signature is %d bytes, not r || s of %d", len(sig), 2*n)
		}
		r, s := new(big.Int).SetBytes(sig[:n]), new(big.Int).SetBytes(sig[n:])
		if ep, ok := p.(*ecdsa.PublicKey); ok {
			if !ecdsa.Verify(ep, digest, r, s) {
				return errors.New("the ECDSA signature does not verify")
			}
			return nil
		}
		var rs, ss secp256k1.ModNScalar
		if rs.SetByteSlice(sig[:n]) || ss.SetByteSlice(sig[n:]) || rs.IsZero() || ss.IsZero() {
			return errors.New("the ECDSA signature's r or s is out of range")
		}
		if !secpecdsa.NewSignature(&rs, &ss).Verify(digest, p.(*secp256k1.PublicKey)) {
			return errors.New("the ECDSA signature does not verify")
		}
		return nil
	}
	return fmt.Errorf("cannot verify signatures of a %T", pub)
}

// jwsFromDER turns a DER ECDSA signature into r || s of n bytes each.
func jwsFromDER(der []byte, n int) ([]byte, error) {
	var sig struct{ R, S *big.Int }
	rest, err := asn1.Unmarshal(der, &sig)
	if err != nil || len(rest) != 0 || sig.R.Sign() <= 0 || sig.S.Sign() <= 0 || sig.R.BitLen() > 8*n || sig.S.BitLen() > 8*n {
		return nil, errors.New("the source's ECDSA signature is not DER of r and s")
	}
	out := make([]byte, 2*n)
	sig.R.FillBytes(out[:n])
	sig.S.FillBytes(out[n:])
	return out, nil
}

func (t *Target) verifySign(ctx context.Context, v *byok.Verification, name, version string, info byok.KeyInfo, pub crypto.PublicKey, src byok.KeySource) error {
	alg, h, n := signAlg(info.Spec)
	digest := digestOf(h, freshMessage())
	out, err := t.client.Sign(ctx, name, version, azkeys.SignParameters{Algorithm: to(alg), Value: digest}, nil)
	var vaultSig []byte
	switch {
	case skipRefused(v, "Sign", err):
	case err != nil:
		return fmt.Errorf("Sign: %w", err)
	default:
		vaultSig = out.Result
		v.Record(fmt.Sprintf("a Key Vault %s signature over a fresh digest verifies under the source public key", alg), info.PublicKeyFromPrivate,
			verifyJWS(pub, h, n, digest, vaultSig))
	}
	ss, ok := src.(byok.SignerSource)
	if !ok {
		v.Skip("the source cannot sign, so Key Vault was not asked to verify a source signature")
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
	jws := sig
	if n > 0 {
		if jws, err = jwsFromDER(sig, n); err != nil {
			return err
		}
	}
	vo, err := t.client.Verify(ctx, name, version, azkeys.VerifyParameters{Algorithm: to(alg), Digest: digest, Signature: jws}, nil)
	var e error
	switch {
	case skipRefused(v, "Verify", err):
		return nil
	case err != nil:
		return fmt.Errorf("Verify: %w", err)
	case vo.Value == nil || !*vo.Value:
		e = errors.New("Key Vault says the source's signature is invalid")
	}
	v.Record(fmt.Sprintf("Key Vault verifies a %s signature made by the source", alg), true, e)
	if _, isRSA := pub.(*rsa.PublicKey); isRSA && vaultSig != nil {
		var e error
		if !bytes.Equal(sig, vaultSig) {
			e = errors.New("the deterministic RSASSA-PKCS1-v1_5 signatures differ")
		}
		v.Record("Key Vault's and the source's RSASSA-PKCS1-v1_5 (RS256) signatures of the same digest are byte-identical", true, e)
	}
	return nil
}

func (t *Target) verifyDecrypt(ctx context.Context, v *byok.Verification, name, version string, info byok.KeyInfo, pub crypto.PublicKey) error {
	rsaPub, ok := pub.(*rsa.PublicKey)
	if !ok {
		return fmt.Errorf("ENCRYPT_DECRYPT with a %T", pub)
	}
	msg := freshMessage()
	ct, err := rsa.EncryptOAEP(sha256.New(), rand.Reader, rsaPub, msg, nil)
	if err != nil {
		return err
	}
	out, err := t.client.Decrypt(ctx, name, version, azkeys.KeyOperationParameters{Algorithm: to(azkeys.EncryptionAlgorithmRSAOAEP256), Value: ct}, nil)
	var e error
	switch {
	case skipRefused(v, "Decrypt", err):
		return nil
	case statusOf(err) == http.StatusBadRequest:
		// RSA-OAEP decryption fails for a ciphertext not made for the
		// private key (RFC 8017, 7.1.2): a well-formed request refused as
		// bad shows the vault holds another key.
		e = fmt.Errorf("Key Vault could not decrypt it, so it holds another private key: %v", err)
	case err != nil:
		return fmt.Errorf("Decrypt: %w", err)
	case !bytes.Equal(out.Result, msg):
		e = errors.New("Key Vault decrypted to something else")
	}
	v.Record(CheckDecrypt, info.PublicKeyFromPrivate, e)
	return nil
}

// verifyOct proves an AES key: A256KW of a fresh value, compared with the
// source's own wrap when the source holds the key in software; otherwise a
// round trip.
func (t *Target) verifyOct(ctx context.Context, v *byok.Verification, name, version string, src byok.KeySource) error {
	value := make([]byte, 32)
	rand.Read(value)
	defer clear(value)
	out, err := t.client.WrapKey(ctx, name, version, azkeys.KeyOperationParameters{Algorithm: to(azkeys.EncryptionAlgorithmA256KW), Value: value}, nil)
	switch {
	case skipRefused(v, "WrapKey", err):
		return nil
	case err != nil:
		return fmt.Errorf("WrapKey: %w", err)
	}
	if m, ok := src.(materialSource); ok && m.Material().Len() == 32 {
		key := m.Material().Bytes()
		want, err := aesKW(key, value)
		clear(key)
		if err != nil {
			return err
		}
		var e error
		if !bytes.Equal(out.Result, want) {
			e = errors.New("Key Vault's A256KW output differs from the source key's: it holds another AES key")
		}
		v.Record(CheckOctWrap, true, e)
		return nil
	}
	back, err := t.client.UnwrapKey(ctx, name, version, azkeys.KeyOperationParameters{Algorithm: to(azkeys.EncryptionAlgorithmA256KW), Value: out.Result}, nil)
	switch {
	case skipRefused(v, "UnwrapKey", err):
		return nil
	case err != nil:
		return fmt.Errorf("UnwrapKey: %w", err)
	}
	var e error
	if !bytes.Equal(back.Result, value) {
		e = errors.New("UnwrapKey did not return the wrapped value")
	}
	v.Record(CheckRoundTrip, false, e)
	v.Skip("the source holds its AES key in an HSM, which byok cannot ask for an A256KW wrap to compare with Key Vault's, so nothing shows the vault holds the source's key")
	return nil
}

// materialSource is a source that holds its key material in memory
// (driver/software.Source), so that the proof can compute with it.
type materialSource interface {
	byok.KeySource
	Material() *byok.KeyMaterial
}
