package gcpkmstest_test

import (
	"bytes"
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/binary"
	"encoding/pem"
	"hash"
	"strconv"
	"strings"
	"testing"

	"cloud.google.com/go/kms/apiv1/kmspb"
)

// The checks of an imported version: each proves that the fake uses exactly
// the key material that was wrapped, with references independent of it
// (OpenSSL for public keys, signatures and RSA encryption; crypto/hmac; the
// fake's documented ciphertext format opened with crypto/aes).

// checkVersion runs the check that fits the algorithm.
func (f *fixture) checkVersion(v *kmspb.CryptoKeyVersion, material []byte) {
	f.t.Helper()
	alg := v.GetAlgorithm()
	switch purposeOf(alg) {
	case kmspb.CryptoKey_ENCRYPT_DECRYPT:
		f.checkSymmetric(v, material)
	case kmspb.CryptoKey_MAC:
		f.checkMAC(v, material)
	case kmspb.CryptoKey_ASYMMETRIC_SIGN:
		f.checkPublicKey(v, material)
		f.checkSign(v, material)
	case kmspb.CryptoKey_ASYMMETRIC_DECRYPT:
		f.checkPublicKey(v, material)
		f.checkDecrypt(v, material)
	case kmspb.CryptoKey_RAW_ENCRYPT_DECRYPT:
		f.checkRaw(v, material)
	}
}

// checkSymmetric encrypts with the version and opens the ciphertext with the
// material: the fake's format (doc.go) is "gkt1", the version number as
// uint32 big endian, a 12-byte nonce, AES-256-GCM with header‖AAD as AAD.
func (f *fixture) checkSymmetric(v *kmspb.CryptoKeyVersion, material []byte) {
	f.t.Helper()
	pt, aad := []byte("attack at dawn"), []byte("context")
	resp, err := f.c.Encrypt(f.ctx, &kmspb.EncryptRequest{Name: v.GetName(), Plaintext: pt, AdditionalAuthenticatedData: aad})
	if err != nil {
		f.t.Fatalf("Encrypt: %v", err)
	}
	ct := resp.GetCiphertext()
	if len(ct) < 20 || string(ct[:4]) != "gkt1" {
		f.t.Fatalf("ciphertext %x is not in the documented format", ct)
	}
	b, _ := aes.NewCipher(material)
	g, _ := cipher.NewGCM(b)
	got, err := g.Open(nil, ct[8:20], ct[20:], append(append([]byte{}, ct[:20]...), aad...))
	if err != nil || !bytes.Equal(got, pt) {
		f.t.Fatalf("the ciphertext does not open with the imported key material: %v", err)
	}
	if n := binary.BigEndian.Uint32(ct[4:8]); !strings.HasSuffix(v.GetName(), "/"+strconv.Itoa(int(n))) {
		f.t.Fatalf("ciphertext names version %d, encrypted with %s", n, v.GetName())
	}
	key := v.GetName()[:strings.Index(v.GetName(), "/cryptoKeyVersions/")]
	dec, err := f.c.Decrypt(f.ctx, &kmspb.DecryptRequest{Name: key, Ciphertext: ct, AdditionalAuthenticatedData: aad})
	if err != nil || !bytes.Equal(dec.GetPlaintext(), pt) {
		f.t.Fatalf("Decrypt: %v", err)
	}
}

func hmacHash(alg kmspb.CryptoKeyVersion_CryptoKeyVersionAlgorithm) func() hash.Hash {
	switch alg {
	case kmspb.CryptoKeyVersion_HMAC_SHA1:
		return sha1.New
	case kmspb.CryptoKeyVersion_HMAC_SHA224:
		return sha256.New224
	case kmspb.CryptoKeyVersion_HMAC_SHA384:
		return sha512.New384
	case kmspb.CryptoKeyVersion_HMAC_SHA512:
		return sha512.New
	}
	return sha256.New
}

// checkMAC compares MacSign with crypto/hmac under the material, and checks
// MacVerify both ways.
func (f *fixture) checkMAC(v *kmspb.CryptoKeyVersion, material []byte) {
	f.t.Helper()
	data := []byte("message to authenticate")
	resp, err := f.c.MacSign(f.ctx, &kmspb.MacSignRequest{Name: v.GetName(), Data: data})
	if err != nil {
		f.t.Fatalf("MacSign: %v", err)
	}
	h := hmac.New(hmacHash(v.GetAlgorithm()), material)
	h.Write(data)
	want := h.Sum(nil)
	if !bytes.Equal(resp.GetMac(), want) {
		f.t.Fatalf("MacSign = %x, crypto/hmac with the material = %x", resp.GetMac(), want)
	}
	ok, err := f.c.MacVerify(f.ctx, &kmspb.MacVerifyRequest{Name: v.GetName(), Data: data, Mac: want})
	if err != nil || !ok.GetSuccess() {
		f.t.Fatalf("MacVerify of the right MAC: %v %v", ok, err)
	}
	want[0] ^= 1
	bad, err := f.c.MacVerify(f.ctx, &kmspb.MacVerifyRequest{Name: v.GetName(), Data: data, Mac: want})
	if err != nil || bad.GetSuccess() {
		f.t.Fatalf("MacVerify of a wrong MAC: %v %v", bad, err)
	}
}

// pubFromOpenSSL is the public key OpenSSL derives from PKCS#8 material, PEM.
func (f *fixture) pubFromOpenSSL(material []byte) []byte {
	f.t.Helper()
	return f.openssl("pkey", "-inform", "DER", "-in", f.file(name(), material), "-pubout")
}

// checkPublicKey compares GetPublicKey with the public key OpenSSL derives.
func (f *fixture) checkPublicKey(v *kmspb.CryptoKeyVersion, material []byte) {
	f.t.Helper()
	pk, err := f.c.GetPublicKey(f.ctx, &kmspb.GetPublicKeyRequest{Name: v.GetName()})
	if err != nil {
		f.t.Fatalf("GetPublicKey: %v", err)
	}
	if pk.GetAlgorithm() != v.GetAlgorithm() || pk.GetName() != v.GetName() {
		f.t.Fatalf("GetPublicKey answered for %s %s", pk.GetName(), pk.GetAlgorithm())
	}
	got, _ := pem.Decode([]byte(pk.GetPem()))
	want, _ := pem.Decode(f.pubFromOpenSSL(material))
	if got == nil || want == nil || !bytes.Equal(got.Bytes, want.Bytes) {
		f.t.Fatalf("GetPublicKey PEM differs from OpenSSL's public key of the material:\n%s", pk.GetPem())
	}
	if c := pk.GetPemCrc32C(); c == nil || c.GetValue() != int64(crc32c([]byte(pk.GetPem()))) {
		f.t.Fatalf("pem_crc32c %v is not the CRC32C of the PEM", c)
	}
}

// signParams: the digest and the OpenSSL options of a signing algorithm.
func signParams(alg kmspb.CryptoKeyVersion_CryptoKeyVersionAlgorithm) (crypto.Hash, []string) {
	s := alg.String()
	h := crypto.SHA256
	switch {
	case strings.HasSuffix(s, "SHA384"):
		h = crypto.SHA384
	case strings.HasSuffix(s, "SHA512"):
		h = crypto.SHA512
	}
	var opts []string
	if strings.HasPrefix(s, "RSA_SIGN_PSS_") {
		opts = []string{"-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:digest", "-sigopt", "rsa_mgf1_md:" + strings.ToLower(strings.ReplaceAll(h.String(), "-", ""))}
	}
	return h, opts
}

// checkSign signs a digest with the version and verifies the signature with
// `openssl dgst -verify` under OpenSSL's public key of the material.
func (f *fixture) checkSign(v *kmspb.CryptoKeyVersion, material []byte) {
	f.t.Helper()
	data := []byte("the data that is signed")
	h, opts := signParams(v.GetAlgorithm())
	hh := h.New()
	hh.Write(data)
	sum := hh.Sum(nil)
	d := &kmspb.Digest{}
	switch h {
	case crypto.SHA256:
		d.Digest = &kmspb.Digest_Sha256{Sha256: sum}
	case crypto.SHA384:
		d.Digest = &kmspb.Digest_Sha384{Sha384: sum}
	case crypto.SHA512:
		d.Digest = &kmspb.Digest_Sha512{Sha512: sum}
	}
	resp, err := f.c.AsymmetricSign(f.ctx, &kmspb.AsymmetricSignRequest{Name: v.GetName(), Digest: d, DigestCrc32C: wrapCRC(sum)})
	if err != nil {
		f.t.Fatalf("AsymmetricSign: %v", err)
	}
	if !resp.GetVerifiedDigestCrc32C() || resp.GetSignatureCrc32C().GetValue() != int64(crc32c(resp.GetSignature())) {
		f.t.Fatalf("AsymmetricSign checksums: verified %v, signature_crc32c %v", resp.GetVerifiedDigestCrc32C(), resp.GetSignatureCrc32C())
	}
	pub := f.file(name(), f.pubFromOpenSSL(material))
	args := []string{"dgst", "-" + strings.ToLower(strings.ReplaceAll(h.String(), "-", "")), "-verify", pub, "-signature", f.file(name(), resp.GetSignature())}
	args = append(args, opts...)
	out := f.openssl(append(args, f.file(name(), data))...)
	if !bytes.Contains(out, []byte("Verified OK")) {
		f.t.Fatalf("openssl dgst -verify: %s", out)
	}
}

// checkDecrypt encrypts with OpenSSL (RSA-OAEP, the algorithm's hash for
// OAEP and MGF1) under OpenSSL's public key of the material and decrypts
// with the version.
func (f *fixture) checkDecrypt(v *kmspb.CryptoKeyVersion, material []byte) {
	f.t.Helper()
	md := "sha256"
	switch s := v.GetAlgorithm().String(); {
	case strings.HasSuffix(s, "SHA1"):
		md = "sha1"
	case strings.HasSuffix(s, "SHA512"):
		md = "sha512"
	}
	pt := []byte("a secret for the key holder")
	ct := f.openssl("pkeyutl", "-encrypt", "-pubin", "-inkey", f.file(name(), f.pubFromOpenSSL(material)), "-in", f.file(name(), pt),
		"-pkeyopt", "rsa_padding_mode:oaep", "-pkeyopt", "rsa_oaep_md:"+md, "-pkeyopt", "rsa_mgf1_md:"+md)
	resp, err := f.c.AsymmetricDecrypt(f.ctx, &kmspb.AsymmetricDecryptRequest{Name: v.GetName(), Ciphertext: ct, CiphertextCrc32C: wrapCRC(ct)})
	if err != nil {
		f.t.Fatalf("AsymmetricDecrypt: %v", err)
	}
	if !bytes.Equal(resp.GetPlaintext(), pt) || !resp.GetVerifiedCiphertextCrc32C() {
		f.t.Fatalf("AsymmetricDecrypt = %q (verified crc %v), want %q", resp.GetPlaintext(), resp.GetVerifiedCiphertextCrc32C(), pt)
	}
}

// checkRaw is filled in by raw_test.go when raw encryption is emulated.
var checkRawHook func(f *fixture, v *kmspb.CryptoKeyVersion, material []byte)

func (f *fixture) checkRaw(v *kmspb.CryptoKeyVersion, material []byte) {
	f.t.Helper()
	if checkRawHook == nil {
		f.t.Fatalf("no check for %s", v.GetAlgorithm())
	}
	checkRawHook(f, v, material)
}

// checkGCM fails unless ct is AES-GCM (16-byte tag) of pt under key and iv.
func checkGCM(t *testing.T, key, iv, pt, aad, ct []byte) {
	t.Helper()
	b, err := aes.NewCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	g, err := cipher.NewGCM(b)
	if err != nil {
		t.Fatal(err)
	}
	got, err := g.Open(nil, iv, ct, aad)
	if err != nil || !bytes.Equal(got, pt) {
		t.Fatalf("the GCM ciphertext does not open with the key material: %v", err)
	}
}
