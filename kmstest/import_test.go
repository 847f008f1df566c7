package kmstest_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/byok-go/byok"
	"github.com/byok-go/byok/kmstest"
	"github.com/decred/dcrd/dcrec/secp256k1/v4"
	k1ecdsa "github.com/decred/dcrd/dcrec/secp256k1/v4/ecdsa"
)

// TestImportEverySpec imports a Go-generated key of every importable spec
// with every wrapping algorithm AWS allows for it (SYMMETRIC_DEFAULT under
// all three wrapping key specs), through the real SDK client, and then uses
// the key in KMS and checks the result against the source key.
func TestImportEverySpec(t *testing.T) {
	srv := newServer(t)
	c := srv.Client()
	for _, spec := range byok.KeySpecs() {
		for _, alg := range byok.AllowedAlgorithms(spec) {
			wkss := []byok.WrappingKeySpec{byok.WrappingRSA2048, byok.WrappingRSA3072, byok.WrappingRSA4096}
			if spec != byok.SymmetricDefault {
				// The smallest wrapping key that fits is enough here.
				for _, w := range wkss {
					if byok.CheckCompatible(spec, alg, w) == nil {
						wkss = []byok.WrappingKeySpec{w}
						break
					}
				}
			}
			for _, wks := range wkss {
				usage := spec.Usages()[0]
				t.Run(name(spec, "/", alg, "/", wks), func(t *testing.T) {
					t.Parallel()
					src := sourceKey(t, spec)
					id := createExternal(t, c, spec, usage)
					out, err := importWith(t, c, id, src.km, alg, wks)
					if err != nil {
						t.Fatalf("ImportKeyMaterial: %v", err)
					}
					if !strings.HasSuffix(*out.KeyId, ":key/"+id) {
						t.Errorf("ImportKeyMaterial KeyId %s, want the key ARN", *out.KeyId)
					}
					md := describe(t, c, id)
					if md.KeyState != types.KeyStateEnabled || !md.Enabled {
						t.Fatalf("after import: KeyState %s Enabled %v", md.KeyState, md.Enabled)
					}
					if md.ExpirationModel != types.ExpirationModelTypeKeyMaterialDoesNotExpire || md.ValidTo != nil {
						t.Errorf("ExpirationModel %s ValidTo %v", md.ExpirationModel, md.ValidTo)
					}
					if spec == byok.SymmetricDefault {
						if out.KeyMaterialId == nil || md.CurrentKeyMaterialId == nil || *out.KeyMaterialId != *md.CurrentKeyMaterialId || len(*out.KeyMaterialId) != 64 {
							t.Errorf("KeyMaterialId %v, CurrentKeyMaterialId %v", out.KeyMaterialId, md.CurrentKeyMaterialId)
						}
					} else if out.KeyMaterialId != nil {
						t.Errorf("KeyMaterialId %s for a %s key", *out.KeyMaterialId, spec)
					}
					checkUse(t, c, id, src, usage)
				})
			}
		}
	}
}

// TestImportOtherUsages imports the specs whose second key usage is
// ENCRYPT_DECRYPT (RSA) or KEY_AGREEMENT (NIST curves) and uses them.
func TestImportOtherUsages(t *testing.T) {
	srv := newServer(t)
	c := srv.Client()
	for _, spec := range byok.KeySpecs() {
		for _, usage := range spec.Usages()[1:] {
			t.Run(name(spec, "/", usage), func(t *testing.T) {
				t.Parallel()
				src := sourceKey(t, spec)
				id := createExternal(t, c, spec, usage)
				mustImport(t, c, id, src.km)
				checkUse(t, c, id, src, usage)
			})
		}
	}
}

// checkUse exercises an imported key against its source.
func checkUse(t *testing.T, c *kms.Client, id string, src *srcKey, usage byok.KeyUsage) {
	t.Helper()
	ctx := context.Background()
	spec := src.km.Spec()
	md := describe(t, c, id)
	switch spec.Kind() {
	case byok.KindSymmetric:
		ec := map[string]string{"purpose": "test"}
		enc, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(id), Plaintext: []byte("hello"), EncryptionContext: ec})
		if err != nil {
			t.Fatal(err)
		}
		dec, err := c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob, EncryptionContext: ec})
		if err != nil {
			t.Fatal(err)
		}
		if string(dec.Plaintext) != "hello" || *dec.KeyId != *enc.KeyId || *dec.KeyMaterialId != *md.CurrentKeyMaterialId {
			t.Fatalf("Decrypt: %q key %s material %v", dec.Plaintext, *dec.KeyId, dec.KeyMaterialId)
		}
		_, err = c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob, EncryptionContext: map[string]string{"purpose": "other"}})
		wantAs[*types.InvalidCiphertextException](t, err)
	case byok.KindHMAC:
		alg := types.MacAlgorithmSpec(strings.Replace(string(spec), "HMAC_", "HMAC_SHA_", 1))
		if !slices.Equal(md.MacAlgorithms, []types.MacAlgorithmSpec{alg}) {
			t.Errorf("MacAlgorithms %v, want [%s]", md.MacAlgorithms, alg)
		}
		msg := []byte("message")
		out, err := c.GenerateMac(ctx, &kms.GenerateMacInput{KeyId: aws.String(id), MacAlgorithm: alg, Message: msg})
		if err != nil {
			t.Fatal(err)
		}
		raw := src.km.Bytes()
		h := hmac.New(spec.HMACHash().New, raw)
		clear(raw)
		h.Write(msg)
		if !bytes.Equal(out.Mac, h.Sum(nil)) {
			t.Fatal("GenerateMac differs from the local HMAC")
		}
		v, err := c.VerifyMac(ctx, &kms.VerifyMacInput{KeyId: aws.String(id), MacAlgorithm: alg, Message: msg, Mac: out.Mac})
		if err != nil || !v.MacValid {
			t.Fatalf("VerifyMac: %v", err)
		}
		bad := slices.Clone(out.Mac)
		bad[0] ^= 1
		_, err = c.VerifyMac(ctx, &kms.VerifyMacInput{KeyId: aws.String(id), MacAlgorithm: alg, Message: msg, Mac: bad})
		wantAs[*types.KMSInvalidMacException](t, err)
	default:
		pub, err := c.GetPublicKey(ctx, &kms.GetPublicKeyInput{KeyId: aws.String(id)})
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(pub.PublicKey, src.km.PublicKeyDER()) {
			t.Fatal("GetPublicKey differs from the source key's SubjectPublicKeyInfo")
		}
		if string(pub.KeySpec) != string(spec) || string(pub.KeyUsage) != string(usage) {
			t.Errorf("GetPublicKey KeySpec %s KeyUsage %s", pub.KeySpec, pub.KeyUsage)
		}
		switch usage {
		case byok.SignVerify:
			if len(pub.SigningAlgorithms) == 0 || !slices.Equal(pub.SigningAlgorithms, md.SigningAlgorithms) {
				t.Errorf("SigningAlgorithms %v / %v", pub.SigningAlgorithms, md.SigningAlgorithms)
			}
			for _, alg := range pub.SigningAlgorithms {
				checkSign(t, c, id, src, alg)
			}
		case byok.EncryptDecrypt:
			checkRSAEncrypt(t, c, id, src, pub.EncryptionAlgorithms)
		case byok.KeyAgreement:
			checkAgreement(t, c, id, src)
		}
	}
}

func hashOf(alg types.SigningAlgorithmSpec) crypto.Hash {
	switch {
	case strings.HasSuffix(string(alg), "384"):
		return crypto.SHA384
	case strings.HasSuffix(string(alg), "512"):
		return crypto.SHA512
	}
	return crypto.SHA256
}

// checkSign signs in KMS (RAW and DIGEST), verifies locally with the
// source's public key and in KMS.
func checkSign(t *testing.T, c *kms.Client, id string, src *srcKey, alg types.SigningAlgorithmSpec) {
	t.Helper()
	ctx := context.Background()
	msg := []byte("message to sign " + string(alg))
	h := hashOf(alg)
	d := h.New()
	d.Write(msg)
	digest := d.Sum(nil)
	for _, mt := range []types.MessageType{types.MessageTypeRaw, types.MessageTypeDigest} {
		in := msg
		if mt == types.MessageTypeDigest {
			in = digest
		}
		out, err := c.Sign(ctx, &kms.SignInput{KeyId: aws.String(id), Message: in, MessageType: mt, SigningAlgorithm: alg})
		if err != nil {
			t.Fatalf("Sign %s %s: %v", alg, mt, err)
		}
		ok := false
		switch pub := src.km.Public().(type) {
		case *rsa.PublicKey:
			if strings.HasPrefix(string(alg), "RSASSA_PSS") {
				ok = rsa.VerifyPSS(pub, h, digest, out.Signature, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash}) == nil
			} else {
				ok = rsa.VerifyPKCS1v15(pub, h, digest, out.Signature) == nil
			}
		case *ecdsa.PublicKey:
			ok = ecdsa.VerifyASN1(pub, digest, out.Signature)
		case *secp256k1.PublicKey:
			sig, err := k1ecdsa.ParseDERSignature(out.Signature)
			ok = err == nil && sig.Verify(digest, pub)
		default:
			t.Fatalf("public key %T", pub)
		}
		if !ok {
			t.Fatalf("Sign %s %s: the signature does not verify with the source public key", alg, mt)
		}
		v, err := c.Verify(ctx, &kms.VerifyInput{KeyId: aws.String(id), Message: in, MessageType: mt, SigningAlgorithm: alg, Signature: out.Signature})
		if err != nil || !v.SignatureValid {
			t.Fatalf("Verify %s %s: %v", alg, mt, err)
		}
	}
	_, err := c.Verify(ctx, &kms.VerifyInput{KeyId: aws.String(id), Message: []byte("other"), SigningAlgorithm: alg, Signature: bytes.Repeat([]byte{0x30}, 8)})
	wantAs[*types.KMSInvalidSignatureException](t, err)
}

func checkRSAEncrypt(t *testing.T, c *kms.Client, id string, src *srcKey, algs []types.EncryptionAlgorithmSpec) {
	t.Helper()
	ctx := context.Background()
	if !slices.Equal(algs, []types.EncryptionAlgorithmSpec{types.EncryptionAlgorithmSpecRsaesOaepSha1, types.EncryptionAlgorithmSpecRsaesOaepSha256}) {
		t.Errorf("EncryptionAlgorithms %v", algs)
	}
	priv := src.priv.(*rsa.PrivateKey)
	for _, alg := range algs {
		h := crypto.SHA256
		if alg == types.EncryptionAlgorithmSpecRsaesOaepSha1 {
			h = crypto.SHA1
		}
		out, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(id), Plaintext: []byte("secret"), EncryptionAlgorithm: alg})
		if err != nil {
			t.Fatal(err)
		}
		pt, err := rsa.DecryptOAEP(h.New(), nil, priv, out.CiphertextBlob, nil)
		if err != nil || string(pt) != "secret" {
			t.Fatalf("local decryption of KMS's %s ciphertext: %v", alg, err)
		}
		ct, _ := rsa.EncryptOAEP(h.New(), rand.Reader, &priv.PublicKey, []byte("local"), nil)
		dec, err := c.Decrypt(ctx, &kms.DecryptInput{KeyId: aws.String(id), CiphertextBlob: ct, EncryptionAlgorithm: alg})
		if err != nil || string(dec.Plaintext) != "local" {
			t.Fatalf("KMS decryption of a local %s ciphertext: %v", alg, err)
		}
	}
	_, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(id), Plaintext: []byte("x")})
	wantAs[*types.InvalidKeyUsageException](t, err) // SYMMETRIC_DEFAULT with an RSA key
}

func checkAgreement(t *testing.T, c *kms.Client, id string, src *srcKey) {
	t.Helper()
	pub := src.km.Public().(*ecdsa.PublicKey)
	peer, err := ecdsa.GenerateKey(pub.Curve, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	peerDER, err := x509.MarshalPKIXPublicKey(&peer.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	out, err := c.DeriveSharedSecret(context.Background(), &kms.DeriveSharedSecretInput{KeyId: aws.String(id),
		KeyAgreementAlgorithm: types.KeyAgreementAlgorithmSpecEcdh, PublicKey: peerDER})
	if err != nil {
		t.Fatal(err)
	}
	a, _ := peer.ECDH()
	b, _ := pub.ECDH()
	want, _ := a.ECDH(b)
	if !bytes.Equal(out.SharedSecret, want) {
		t.Fatal("DeriveSharedSecret differs from local ECDH")
	}
	if pub.Curve != elliptic.P256() {
		return
	}
	other, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	der, _ := x509.MarshalPKIXPublicKey(&other.PublicKey)
	_, err = c.DeriveSharedSecret(context.Background(), &kms.DeriveSharedSecretInput{KeyId: aws.String(id),
		KeyAgreementAlgorithm: types.KeyAgreementAlgorithmSpecEcdh, PublicKey: der})
	wantCode(t, err, kmstest.ErrValidation)
}

// TestImportRefusals checks that what AWS refuses, the emulator refuses with
// AWS's error, as the SDK's typed error.
func TestImportRefusals(t *testing.T) {
	clk := newClock()
	srv := newServer(t, kmstest.WithClock(clk.Now))
	c := srv.Client()
	ctx := context.Background()
	sym := sourceKey(t, byok.SymmetricDefault)

	t.Run("TamperedBlob", func(t *testing.T) {
		id := createExternal(t, c, byok.SymmetricDefault, byok.EncryptDecrypt)
		pub, tok := params(t, c, id, byok.RSAESOAEPSHA256, byok.WrappingRSA2048)
		w, _ := sym.km.Wrap(pub, byok.RSAESOAEPSHA256)
		w[len(w)/2] ^= 0x80
		_, err := c.ImportKeyMaterial(ctx, &kms.ImportKeyMaterialInput{KeyId: &id, ImportToken: tok, EncryptedKeyMaterial: w,
			ExpirationModel: types.ExpirationModelTypeKeyMaterialDoesNotExpire})
		wantAs[*types.InvalidCiphertextException](t, err)
		if md := describe(t, c, id); md.KeyState != types.KeyStatePendingImport {
			t.Errorf("after a failed import: %s", md.KeyState)
		}
	})
	t.Run("TamperedKeyWrapBlob", func(t *testing.T) {
		ec := sourceKey(t, byok.ECCNISTP256)
		id := createExternal(t, c, byok.ECCNISTP256, byok.SignVerify)
		pub, tok := params(t, c, id, byok.RSAAESKeyWrapSHA256, byok.WrappingRSA2048)
		w, _ := ec.km.Wrap(pub, byok.RSAAESKeyWrapSHA256)
		w[len(w)-1] ^= 1
		_, err := c.ImportKeyMaterial(ctx, &kms.ImportKeyMaterialInput{KeyId: &id, ImportToken: tok, EncryptedKeyMaterial: w,
			ExpirationModel: types.ExpirationModelTypeKeyMaterialDoesNotExpire})
		wantAs[*types.InvalidCiphertextException](t, err)
	})
	t.Run("WrongHash", func(t *testing.T) {
		id := createExternal(t, c, byok.SymmetricDefault, byok.EncryptDecrypt)
		pub, tok := params(t, c, id, byok.RSAESOAEPSHA256, byok.WrappingRSA2048)
		w, _ := sym.km.Wrap(pub, byok.RSAESOAEPSHA1) // SHA-1 blob, SHA-256 token
		_, err := c.ImportKeyMaterial(ctx, &kms.ImportKeyMaterialInput{KeyId: &id, ImportToken: tok, EncryptedKeyMaterial: w,
			ExpirationModel: types.ExpirationModelTypeKeyMaterialDoesNotExpire})
		wantAs[*types.InvalidCiphertextException](t, err)
	})
	t.Run("TokenOfAnotherKey", func(t *testing.T) {
		id1 := createExternal(t, c, byok.SymmetricDefault, byok.EncryptDecrypt)
		id2 := createExternal(t, c, byok.SymmetricDefault, byok.EncryptDecrypt)
		pub, tok := params(t, c, id1, byok.RSAESOAEPSHA256, byok.WrappingRSA2048)
		w, _ := sym.km.Wrap(pub, byok.RSAESOAEPSHA256)
		_, err := c.ImportKeyMaterial(ctx, &kms.ImportKeyMaterialInput{KeyId: &id2, ImportToken: tok, EncryptedKeyMaterial: w,
			ExpirationModel: types.ExpirationModelTypeKeyMaterialDoesNotExpire})
		wantAs[*types.InvalidImportTokenException](t, err)
		// A forged token (flipped MAC bit) is invalid too.
		tok[len(tok)-1] ^= 1
		_, err = c.ImportKeyMaterial(ctx, &kms.ImportKeyMaterialInput{KeyId: &id1, ImportToken: tok, EncryptedKeyMaterial: w,
			ExpirationModel: types.ExpirationModelTypeKeyMaterialDoesNotExpire})
		wantAs[*types.InvalidImportTokenException](t, err)
	})
	t.Run("ExpiredToken", func(t *testing.T) {
		id := createExternal(t, c, byok.SymmetricDefault, byok.EncryptDecrypt)
		out, err := c.GetParametersForImport(ctx, &kms.GetParametersForImportInput{KeyId: &id,
			WrappingAlgorithm: types.AlgorithmSpecRsaesOaepSha256, WrappingKeySpec: types.WrappingKeySpecRsa2048})
		if err != nil {
			t.Fatal(err)
		}
		if want := clk.Now().Add(24 * time.Hour); !out.ParametersValidTo.Equal(want) {
			t.Errorf("ParametersValidTo %v, want %v", out.ParametersValidTo, want)
		}
		pub, _ := byok.ParseWrappingPublicKey(out.PublicKey)
		w, _ := sym.km.Wrap(pub, byok.RSAESOAEPSHA256)
		clk.Add(24*time.Hour + time.Second)
		_, err = c.ImportKeyMaterial(ctx, &kms.ImportKeyMaterialInput{KeyId: &id, ImportToken: out.ImportToken, EncryptedKeyMaterial: w,
			ExpirationModel: types.ExpirationModelTypeKeyMaterialDoesNotExpire})
		wantAs[*types.ExpiredImportTokenException](t, err)
	})
	t.Run("WrongLength", func(t *testing.T) {
		id := createExternal(t, c, byok.SymmetricDefault, byok.EncryptDecrypt)
		pub, tok := params(t, c, id, byok.RSAESOAEPSHA256, byok.WrappingRSA2048)
		w, err := byok.WrapKeyMaterial(pub, byok.RSAESOAEPSHA256, make([]byte, 31))
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.ImportKeyMaterial(ctx, &kms.ImportKeyMaterialInput{KeyId: &id, ImportToken: tok, EncryptedKeyMaterial: w,
			ExpirationModel: types.ExpirationModelTypeKeyMaterialDoesNotExpire})
		wantAs[*types.IncorrectKeyMaterialException](t, err)
	})
	t.Run("HMACWrongLength", func(t *testing.T) {
		id := createExternal(t, c, byok.HMAC384, byok.GenerateVerifyMAC)
		pub, tok := params(t, c, id, byok.RSAESOAEPSHA256, byok.WrappingRSA2048)
		w, _ := byok.WrapKeyMaterial(pub, byok.RSAESOAEPSHA256, make([]byte, 32)) // HMAC_256 length
		_, err := c.ImportKeyMaterial(ctx, &kms.ImportKeyMaterialInput{KeyId: &id, ImportToken: tok, EncryptedKeyMaterial: w,
			ExpirationModel: types.ExpirationModelTypeKeyMaterialDoesNotExpire})
		wantAs[*types.IncorrectKeyMaterialException](t, err)
	})
	t.Run("OtherCurve", func(t *testing.T) {
		id := createExternal(t, c, byok.ECCNISTP256, byok.SignVerify)
		other := sourceKey(t, byok.ECCNISTP384)
		pub, tok := params(t, c, id, byok.RSAAESKeyWrapSHA256, byok.WrappingRSA2048)
		w, _ := other.km.Wrap(pub, byok.RSAAESKeyWrapSHA256)
		_, err := c.ImportKeyMaterial(ctx, &kms.ImportKeyMaterialInput{KeyId: &id, ImportToken: tok, EncryptedKeyMaterial: w,
			ExpirationModel: types.ExpirationModelTypeKeyMaterialDoesNotExpire})
		wantAs[*types.IncorrectKeyMaterialException](t, err)
		// secp256k1 into a P-256 key: same size, other curve.
		k1 := sourceKey(t, byok.ECCSECGP256K1)
		pub, tok = params(t, c, id, byok.RSAESOAEPSHA256, byok.WrappingRSA2048)
		w, _ = k1.km.Wrap(pub, byok.RSAESOAEPSHA256)
		_, err = c.ImportKeyMaterial(ctx, &kms.ImportKeyMaterialInput{KeyId: &id, ImportToken: tok, EncryptedKeyMaterial: w,
			ExpirationModel: types.ExpirationModelTypeKeyMaterialDoesNotExpire})
		wantAs[*types.IncorrectKeyMaterialException](t, err)
	})
	t.Run("OtherRSASize", func(t *testing.T) {
		id := createExternal(t, c, byok.RSA2048, byok.SignVerify)
		other := sourceKey(t, byok.RSA3072)
		_, err := importWith(t, c, id, other.km, byok.RSAAESKeyWrapSHA256, byok.WrappingRSA2048)
		wantAs[*types.IncorrectKeyMaterialException](t, err)
	})
	t.Run("AWSKMSKey", func(t *testing.T) {
		out, err := c.CreateKey(ctx, &kms.CreateKeyInput{})
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.GetParametersForImport(ctx, &kms.GetParametersForImportInput{KeyId: out.KeyMetadata.KeyId,
			WrappingAlgorithm: types.AlgorithmSpecRsaesOaepSha256, WrappingKeySpec: types.WrappingKeySpecRsa4096})
		wantAs[*types.UnsupportedOperationException](t, err)
		_, err = c.DeleteImportedKeyMaterial(ctx, &kms.DeleteImportedKeyMaterialInput{KeyId: out.KeyMetadata.KeyId})
		wantAs[*types.UnsupportedOperationException](t, err)
	})
	t.Run("PKCS1v15", func(t *testing.T) {
		id := createExternal(t, c, byok.SymmetricDefault, byok.EncryptDecrypt)
		_, err := c.GetParametersForImport(ctx, &kms.GetParametersForImportInput{KeyId: &id,
			WrappingAlgorithm: types.AlgorithmSpecRsaesPkcs1V15, WrappingKeySpec: types.WrappingKeySpecRsa2048})
		wantCode(t, err, kmstest.ErrValidation)
		_, err = c.GetParametersForImport(ctx, &kms.GetParametersForImportInput{KeyId: &id,
			WrappingAlgorithm: types.AlgorithmSpecRsaesOaepSha256, WrappingKeySpec: types.WrappingKeySpecSm2})
		wantCode(t, err, kmstest.ErrValidation)
	})
	t.Run("IncompatibleAlgorithm", func(t *testing.T) {
		// RSA private keys need RSA_AES_KEY_WRAP; symmetric keys RSAES_OAEP;
		// no P-521 with RSAES_OAEP under RSA_2048.
		for _, tc := range []struct {
			spec  byok.KeySpec
			usage byok.KeyUsage
			alg   byok.WrappingAlgorithm
			wks   byok.WrappingKeySpec
		}{
			{byok.RSA2048, byok.SignVerify, byok.RSAESOAEPSHA256, byok.WrappingRSA4096},
			{byok.SymmetricDefault, byok.EncryptDecrypt, byok.RSAAESKeyWrapSHA256, byok.WrappingRSA2048},
			{byok.HMAC256, byok.GenerateVerifyMAC, byok.RSAAESKeyWrapSHA1, byok.WrappingRSA2048},
			{byok.ECCNISTP521, byok.SignVerify, byok.RSAESOAEPSHA1, byok.WrappingRSA2048},
		} {
			id := createExternal(t, c, tc.spec, tc.usage)
			pub, tok := params(t, c, id, tc.alg, tc.wks)
			raw := sourceKey(t, tc.spec).km.Bytes()
			var w []byte
			if tc.alg.IsKeyWrap() || len(raw) <= pub.Size()-2*tc.alg.Hash().Size()-2 {
				var err error
				if w, err = byok.WrapKeyMaterial(pub, tc.alg, raw); err != nil {
					t.Fatal(err)
				}
			} else {
				w = make([]byte, pub.Size()) // cannot be wrapped at all
			}
			clear(raw)
			_, err := c.ImportKeyMaterial(ctx, &kms.ImportKeyMaterialInput{KeyId: &id, ImportToken: tok, EncryptedKeyMaterial: w,
				ExpirationModel: types.ExpirationModelTypeKeyMaterialDoesNotExpire})
			wantCode(t, err, kmstest.ErrValidation)
		}
	})
	t.Run("ValidTo", func(t *testing.T) {
		id := createExternal(t, c, byok.SymmetricDefault, byok.EncryptDecrypt)
		for _, tc := range []struct {
			model   types.ExpirationModelType
			validTo *time.Time
		}{
			{types.ExpirationModelTypeKeyMaterialExpires, aws.Time(clk.Now().Add(366 * 24 * time.Hour))},
			{types.ExpirationModelTypeKeyMaterialExpires, aws.Time(clk.Now().Add(-time.Minute))},
			{types.ExpirationModelTypeKeyMaterialExpires, nil},
			{"", nil}, // the default is KEY_MATERIAL_EXPIRES
			{types.ExpirationModelTypeKeyMaterialDoesNotExpire, aws.Time(clk.Now().Add(time.Hour))},
		} {
			_, err := importWith(t, c, id, sym.km, byok.RSAESOAEPSHA256, byok.WrappingRSA2048, func(in *kms.ImportKeyMaterialInput) {
				in.ExpirationModel, in.ValidTo = tc.model, tc.validTo
			})
			wantCode(t, err, kmstest.ErrValidation)
		}
		_, err := importWith(t, c, id, sym.km, byok.RSAESOAEPSHA256, byok.WrappingRSA2048, func(in *kms.ImportKeyMaterialInput) {
			in.ExpirationModel, in.ValidTo = types.ExpirationModelTypeKeyMaterialExpires, aws.Time(clk.Now().Add(365*24*time.Hour))
		})
		if err != nil {
			t.Fatalf("ValidTo 365 days ahead: %v", err)
		}
	})
	t.Run("SymmetricOnlyParameters", func(t *testing.T) {
		id := createExternal(t, c, byok.HMAC256, byok.GenerateVerifyMAC)
		_, err := importWith(t, c, id, sourceKey(t, byok.HMAC256).km, byok.RSAESOAEPSHA256, byok.WrappingRSA2048, func(in *kms.ImportKeyMaterialInput) {
			in.ImportType = types.ImportTypeNewKeyMaterial
		})
		wantCode(t, err, kmstest.ErrValidation)
	})
}

// TestImmutableMaterial: asymmetric and HMAC keys take only the same key
// material again.
func TestImmutableMaterial(t *testing.T) {
	srv := newServer(t)
	c := srv.Client()
	for _, spec := range []byok.KeySpec{byok.ECCNISTP256, byok.HMAC256, byok.RSA2048} {
		t.Run(string(spec), func(t *testing.T) {
			t.Parallel()
			usage := spec.Usages()[0]
			id := createExternal(t, c, spec, usage)
			src := sourceKey(t, spec)
			mustImport(t, c, id, src.km)
			mustImport(t, c, id, src.km) // the same material again: fine
			_, err := importWith(t, c, id, newSourceKey(t, spec).km, cheapAlg(spec), byok.WrappingRSA2048)
			wantAs[*types.IncorrectKeyMaterialException](t, err)
			// Nor after the material was deleted.
			if _, err := c.DeleteImportedKeyMaterial(context.Background(), &kms.DeleteImportedKeyMaterialInput{KeyId: &id}); err != nil {
				t.Fatal(err)
			}
			if md := describe(t, c, id); md.KeyState != types.KeyStatePendingImport {
				t.Fatalf("after DeleteImportedKeyMaterial: %s", md.KeyState)
			}
			_, err = importWith(t, c, id, newSourceKey(t, spec).km, cheapAlg(spec), byok.WrappingRSA2048)
			wantAs[*types.IncorrectKeyMaterialException](t, err)
			mustImport(t, c, id, src.km)
			checkUse(t, c, id, src, usage)
		})
	}
}

func cheapAlg(spec byok.KeySpec) byok.WrappingAlgorithm {
	a, _ := cheapWrapping(spec)
	return a
}

// TestExpiry: when ValidTo passes, the key returns to PendingImport and its
// material is unusable until it is imported again.
func TestExpiry(t *testing.T) {
	clk := newClock()
	srv := newServer(t, kmstest.WithClock(clk.Now))
	c := srv.Client()
	ctx := context.Background()
	sym := newSourceKey(t, byok.SymmetricDefault)
	id := createExternal(t, c, byok.SymmetricDefault, byok.EncryptDecrypt)
	validTo := clk.Now().Add(time.Hour)
	mustImport(t, c, id, sym.km, func(in *kms.ImportKeyMaterialInput) {
		in.ExpirationModel, in.ValidTo = types.ExpirationModelTypeKeyMaterialExpires, &validTo
	})
	md := describe(t, c, id)
	if md.ExpirationModel != types.ExpirationModelTypeKeyMaterialExpires || md.ValidTo == nil || !md.ValidTo.Equal(validTo) {
		t.Fatalf("ExpirationModel %s ValidTo %v", md.ExpirationModel, md.ValidTo)
	}
	enc, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: &id, Plaintext: []byte("x")})
	if err != nil {
		t.Fatal(err)
	}
	clk.Add(time.Hour)
	if md := describe(t, c, id); md.KeyState != types.KeyStatePendingImport || md.Enabled {
		t.Fatalf("after ValidTo: %s", md.KeyState)
	}
	_, err = c.Encrypt(ctx, &kms.EncryptInput{KeyId: &id, Plaintext: []byte("x")})
	wantAs[*types.KMSInvalidStateException](t, err)
	_, err = c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob})
	wantAs[*types.KMSInvalidStateException](t, err)
	// Other material is refused; the same material brings the key back.
	_, err = importWith(t, c, id, newSourceKey(t, byok.SymmetricDefault).km, byok.RSAESOAEPSHA256, byok.WrappingRSA2048)
	wantAs[*types.IncorrectKeyMaterialException](t, err)
	mustImport(t, c, id, sym.km)
	dec, err := c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob})
	if err != nil || string(dec.Plaintext) != "x" {
		t.Fatalf("Decrypt after reimport: %v", err)
	}

	// An asymmetric key too.
	ec := sourceKey(t, byok.ECCNISTP384)
	eid := createExternal(t, c, byok.ECCNISTP384, byok.SignVerify)
	validTo = clk.Now().Add(48 * time.Hour)
	mustImport(t, c, eid, ec.km, func(in *kms.ImportKeyMaterialInput) {
		in.ExpirationModel, in.ValidTo = types.ExpirationModelTypeKeyMaterialExpires, &validTo
	})
	clk.Add(49 * time.Hour)
	_, err = c.Sign(ctx, &kms.SignInput{KeyId: &eid, Message: []byte("m"), SigningAlgorithm: types.SigningAlgorithmSpecEcdsaSha384})
	wantAs[*types.KMSInvalidStateException](t, err)
	_, err = c.GetPublicKey(ctx, &kms.GetPublicKeyInput{KeyId: &eid})
	wantAs[*types.KMSInvalidStateException](t, err)
}

// TestSymmetricRotation imports new key material into a symmetric key and
// rotates it in on demand.
func TestSymmetricRotation(t *testing.T) {
	srv := newServer(t)
	c := srv.Client()
	ctx := context.Background()
	id := createExternal(t, c, byok.SymmetricDefault, byok.EncryptDecrypt)
	first, second := newSourceKey(t, byok.SymmetricDefault), newSourceKey(t, byok.SymmetricDefault)
	out1 := mustImport(t, c, id, first.km, func(in *kms.ImportKeyMaterialInput) {
		in.KeyMaterialDescription = aws.String("first material")
	})
	enc1, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: &id, Plaintext: []byte("one")})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.RotateKeyOnDemand(ctx, &kms.RotateKeyOnDemandInput{KeyId: &id})
	wantAs[*types.KMSInvalidStateException](t, err) // nothing pending

	// Without ImportType, a key that has material takes only that material.
	_, err = importWith(t, c, id, second.km, byok.RSAESOAEPSHA256, byok.WrappingRSA2048)
	wantAs[*types.IncorrectKeyMaterialException](t, err)
	out2 := mustImport(t, c, id, second.km, func(in *kms.ImportKeyMaterialInput) { in.ImportType = types.ImportTypeNewKeyMaterial })
	if *out2.KeyMaterialId == *out1.KeyMaterialId {
		t.Fatal("two materials, one KeyMaterialId")
	}
	rot, err := c.ListKeyRotations(ctx, &kms.ListKeyRotationsInput{KeyId: &id, IncludeKeyMaterial: types.IncludeKeyMaterialAllKeyMaterial})
	if err != nil {
		t.Fatal(err)
	}
	if len(rot.Rotations) != 2 || rot.Rotations[0].KeyMaterialState != types.KeyMaterialStateCurrent ||
		rot.Rotations[1].KeyMaterialState != types.KeyMaterialStatePendingRotation ||
		rot.Rotations[0].ImportState != types.ImportStateImported || *rot.Rotations[0].KeyMaterialDescription != "first material" {
		t.Fatalf("ListKeyRotations: %+v", rot.Rotations)
	}
	// A second pending material is refused until the first is rotated in.
	_, err = importWith(t, c, id, newSourceKey(t, byok.SymmetricDefault).km, byok.RSAESOAEPSHA256, byok.WrappingRSA2048,
		func(in *kms.ImportKeyMaterialInput) { in.ImportType = types.ImportTypeNewKeyMaterial })
	wantAs[*types.KMSInvalidStateException](t, err)
	// EXISTING_KEY_MATERIAL with the wrong KeyMaterialId.
	_, err = importWith(t, c, id, first.km, byok.RSAESOAEPSHA256, byok.WrappingRSA2048, func(in *kms.ImportKeyMaterialInput) {
		in.ImportType, in.KeyMaterialId = types.ImportTypeExistingKeyMaterial, out2.KeyMaterialId
	})
	wantAs[*types.IncorrectKeyMaterialException](t, err)

	if _, err := c.RotateKeyOnDemand(ctx, &kms.RotateKeyOnDemandInput{KeyId: &id}); err != nil {
		t.Fatal(err)
	}
	md := describe(t, c, id)
	if *md.CurrentKeyMaterialId != *out2.KeyMaterialId {
		t.Fatalf("CurrentKeyMaterialId %s, want %s", *md.CurrentKeyMaterialId, *out2.KeyMaterialId)
	}
	enc2, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: &id, Plaintext: []byte("two")})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		blob []byte
		pt   string
		mat  string
	}{{enc1.CiphertextBlob, "one", *out1.KeyMaterialId}, {enc2.CiphertextBlob, "two", *out2.KeyMaterialId}} {
		dec, err := c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: tc.blob})
		if err != nil || string(dec.Plaintext) != tc.pt || *dec.KeyMaterialId != tc.mat {
			t.Fatalf("Decrypt: %v", err)
		}
	}
	rot, err = c.ListKeyRotations(ctx, &kms.ListKeyRotationsInput{KeyId: &id})
	if err != nil {
		t.Fatal(err)
	}
	if len(rot.Rotations) != 1 || rot.Rotations[0].RotationType != types.RotationTypeOnDemand || rot.Rotations[0].RotationDate == nil {
		t.Fatalf("ListKeyRotations after rotation: %+v", rot.Rotations)
	}
	// Deleting the non-current material makes the key PendingImport until
	// it is reimported (by KeyMaterialId).
	if _, err := c.DeleteImportedKeyMaterial(ctx, &kms.DeleteImportedKeyMaterialInput{KeyId: &id, KeyMaterialId: out1.KeyMaterialId}); err != nil {
		t.Fatal(err)
	}
	if md := describe(t, c, id); md.KeyState != types.KeyStatePendingImport {
		t.Fatalf("after deleting non-current material: %s", md.KeyState)
	}
	mustImport(t, c, id, first.km, func(in *kms.ImportKeyMaterialInput) {
		in.ImportType, in.KeyMaterialId = types.ImportTypeExistingKeyMaterial, out1.KeyMaterialId
	})
	if md := describe(t, c, id); md.KeyState != types.KeyStateEnabled {
		t.Fatalf("after reimport: %s", md.KeyState)
	}
	_, err = c.RotateKeyOnDemand(ctx, &kms.RotateKeyOnDemandInput{KeyId: aws.String(createExternal(t, c, byok.HMAC256, byok.GenerateVerifyMAC))})
	wantAs[*types.UnsupportedOperationException](t, err)
}

// TestWrappingKeys: without the cache every GetParametersForImport has a
// fresh wrapping key; tokens are unique either way.
func TestWrappingKeys(t *testing.T) {
	for _, cache := range []bool{false, true} {
		srv := kmstest.NewServer(kmstest.WithWrappingKeyCache(cache))
		defer srv.Close()
		c := srv.Client()
		id := createExternal(t, c, byok.SymmetricDefault, byok.EncryptDecrypt)
		p1, t1 := params(t, c, id, byok.RSAESOAEPSHA256, byok.WrappingRSA2048)
		p2, t2 := params(t, c, id, byok.RSAESOAEPSHA256, byok.WrappingRSA2048)
		if p1.Equal(p2) != cache {
			t.Errorf("cache %v: the two wrapping keys are equal: %v", cache, p1.Equal(p2))
		}
		if bytes.Equal(t1, t2) {
			t.Errorf("cache %v: two equal import tokens", cache)
		}
		// The first token goes with the first wrapping key only.
		w, _ := sourceKey(t, byok.SymmetricDefault).km.Wrap(p2, byok.RSAESOAEPSHA256)
		_, err := srv.Client().ImportKeyMaterial(context.Background(), &kms.ImportKeyMaterialInput{KeyId: &id, ImportToken: t1,
			EncryptedKeyMaterial: w, ExpirationModel: types.ExpirationModelTypeKeyMaterialDoesNotExpire})
		if !cache {
			wantAs[*types.InvalidCiphertextException](t, err)
		} else if err != nil {
			t.Fatal(err)
		}
	}
}

// TestMultiRegionRotation rotates an imported multi-Region symmetric key:
// new key material goes into the primary, then into the replica, then the
// primary rotates both.
func TestMultiRegionRotation(t *testing.T) {
	srv := newServer(t)
	east := srv.Client()
	west := srv.Client(inRegion("us-west-2"))
	ctx := context.Background()
	out, err := east.CreateKey(ctx, &kms.CreateKeyInput{Origin: types.OriginTypeExternal, MultiRegion: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	id := *out.KeyMetadata.KeyId
	if _, err := east.ReplicateKey(ctx, &kms.ReplicateKeyInput{KeyId: &id, ReplicaRegion: aws.String("us-west-2")}); err != nil {
		t.Fatal(err)
	}
	first, second := newSourceKey(t, byok.SymmetricDefault), newSourceKey(t, byok.SymmetricDefault)
	// The replica cannot take new key material itself.
	_, err = importWith(t, west, id, first.km, byok.RSAESOAEPSHA256, byok.WrappingRSA2048)
	wantAs[*types.UnsupportedOperationException](t, err)
	mustImport(t, east, id, first.km)
	if md := describe(t, west, id); md.KeyState != types.KeyStatePendingImport {
		t.Fatalf("replica before its import: %s", md.KeyState)
	}
	mustImport(t, west, id, first.km)
	out2 := mustImport(t, east, id, second.km, func(in *kms.ImportKeyMaterialInput) { in.ImportType = types.ImportTypeNewKeyMaterial })
	rot, err := east.ListKeyRotations(ctx, &kms.ListKeyRotationsInput{KeyId: &id, IncludeKeyMaterial: types.IncludeKeyMaterialAllKeyMaterial})
	if err != nil || len(rot.Rotations) != 2 || rot.Rotations[1].KeyMaterialState != types.KeyMaterialStatePendingMultiRegionImportAndRotation {
		t.Fatalf("ListKeyRotations: %v %+v", err, rot)
	}
	_, err = east.RotateKeyOnDemand(ctx, &kms.RotateKeyOnDemandInput{KeyId: &id})
	wantAs[*types.KMSInvalidStateException](t, err)
	_, err = west.RotateKeyOnDemand(ctx, &kms.RotateKeyOnDemandInput{KeyId: &id})
	wantAs[*types.UnsupportedOperationException](t, err)
	mustImport(t, west, id, second.km, func(in *kms.ImportKeyMaterialInput) {
		in.ImportType, in.KeyMaterialId = types.ImportTypeExistingKeyMaterial, out2.KeyMaterialId
	})
	if _, err := east.RotateKeyOnDemand(ctx, &kms.RotateKeyOnDemandInput{KeyId: &id}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []*kms.Client{east, west} {
		if md := describe(t, c, id); *md.CurrentKeyMaterialId != *out2.KeyMaterialId || md.KeyState != types.KeyStateEnabled {
			t.Fatalf("after rotation: %s %s", *md.CurrentKeyMaterialId, md.KeyState)
		}
	}
	enc, err := west.Encrypt(ctx, &kms.EncryptInput{KeyId: &id, Plaintext: []byte("x")})
	if err != nil {
		t.Fatal(err)
	}
	if dec, err := east.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob}); err != nil || *dec.KeyMaterialId != *out2.KeyMaterialId {
		t.Fatalf("Decrypt: %v", err)
	}

	// A key KMS generated rotates without imports.
	gen, err := east.CreateKey(ctx, &kms.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	before := *gen.KeyMetadata.CurrentKeyMaterialId
	if _, err := east.RotateKeyOnDemand(ctx, &kms.RotateKeyOnDemandInput{KeyId: gen.KeyMetadata.KeyId}); err != nil {
		t.Fatal(err)
	}
	rot, err = east.ListKeyRotations(ctx, &kms.ListKeyRotationsInput{KeyId: gen.KeyMetadata.KeyId})
	if err != nil || len(rot.Rotations) != 1 || *rot.Rotations[0].KeyMaterialId == before || rot.Rotations[0].ImportState != "" {
		t.Fatalf("ListKeyRotations: %v %+v", err, rot)
	}
}
