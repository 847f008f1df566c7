package gcpkmstest_test

import (
	"bytes"
	"encoding/hex"
	"strings"
	"testing"

	"cloud.google.com/go/kms/apiv1/kmspb"
)

func init() { checkRawHook = checkRawOpenSSL }

// checkRawOpenSSL encrypts with RawEncrypt and checks the ciphertext under
// the material: CBC and CTR with `openssl enc -d`, GCM (which `openssl enc`
// does not do) with crypto/cipher; then RawDecrypt must give the plaintext
// back.
func checkRawOpenSSL(f *fixture, v *kmspb.CryptoKeyVersion, material []byte) {
	f.t.Helper()
	pt := []byte("sixteen byte blk" + "and another one.")
	resp, err := f.c.RawEncrypt(f.ctx, &kmspb.RawEncryptRequest{Name: v.GetName(), Plaintext: pt})
	if err != nil {
		f.t.Fatalf("RawEncrypt: %v", err)
	}
	alg := v.GetAlgorithm().String()
	if mode := alg[len(alg)-3:]; mode != "GCM" {
		bits := "256"
		if strings.HasPrefix(alg, "AES_128_") {
			bits = "128"
		}
		got := f.openssl("enc", "-d", "-aes-"+bits+"-"+strings.ToLower(mode), "-nopad", "-K", hex.EncodeToString(material),
			"-iv", hex.EncodeToString(resp.GetInitializationVector()), "-in", f.file(name(), resp.GetCiphertext()))
		if !bytes.Equal(got, pt) {
			f.t.Fatalf("openssl enc -d of RawEncrypt's ciphertext = %q, want %q", got, pt)
		}
	} else {
		checkGCM(f.t, material, resp.GetInitializationVector(), pt, nil, resp.GetCiphertext())
	}
	dec, err := f.c.RawDecrypt(f.ctx, &kmspb.RawDecryptRequest{Name: v.GetName(), Ciphertext: resp.GetCiphertext(), InitializationVector: resp.GetInitializationVector()})
	if err != nil || !bytes.Equal(dec.GetPlaintext(), pt) {
		f.t.Fatalf("RawDecrypt: %q %v", dec.GetPlaintext(), err)
	}
}

// TestImportRaw imports raw encryption keys of both sizes and every mode.
func TestImportRaw(t *testing.T) {
	f := newFixture(t)
	ring := f.keyRing("raw")
	job := f.waitJob(f.job(ring, "j", kmspb.ImportJob_RSA_OAEP_4096_SHA256, kmspb.ProtectionLevel_SOFTWARE).GetName())
	algs := []kmspb.CryptoKeyVersion_CryptoKeyVersionAlgorithm{
		kmspb.CryptoKeyVersion_AES_128_GCM, kmspb.CryptoKeyVersion_AES_256_GCM,
		kmspb.CryptoKeyVersion_AES_128_CBC, kmspb.CryptoKeyVersion_AES_256_CBC,
		kmspb.CryptoKeyVersion_AES_128_CTR, kmspb.CryptoKeyVersion_AES_256_CTR,
	}
	for alg, mat := range f.materials(algs...) {
		t.Run(alg.String(), func(t *testing.T) {
			f := f.with(t)
			key := f.importKey(ring, strings.ToLower(strings.ReplaceAll(alg.String(), "_", "-")), alg, kmspb.ProtectionLevel_SOFTWARE)
			v, err := f.importWrapped(key, job.GetName(), alg, f.wrapOpenSSL(job, mat))
			if err != nil || v.GetState() != kmspb.CryptoKeyVersion_ENABLED {
				t.Fatalf("import: %v %v", v, err)
			}
			f.checkVersion(v, mat)
		})
	}
}
