package gcpkmstest_test

import (
	"fmt"
	"strings"
	"testing"

	"cloud.google.com/go/kms/apiv1/kmspb"
)

// materials are key material for the import tests, made by OpenSSL
// (asymmetric, PKCS#8 DER from genpkey) and crypto/rand (symmetric, HMAC).
type materials map[kmspb.CryptoKeyVersion_CryptoKeyVersionAlgorithm][]byte

func (f *fixture) materials(algs ...kmspb.CryptoKeyVersion_CryptoKeyVersionAlgorithm) materials {
	f.t.Helper()
	m := materials{}
	for _, alg := range algs {
		s := alg.String()
		switch {
		case s == "GOOGLE_SYMMETRIC_ENCRYPTION", strings.HasPrefix(s, "AES_256_"):
			m[alg] = randBytes(f.t, 32)
		case strings.HasPrefix(s, "AES_128_"):
			m[alg] = randBytes(f.t, 16)
		case strings.HasPrefix(s, "HMAC_"):
			m[alg] = randBytes(f.t, hmacHash(alg)().Size())
		case strings.HasPrefix(s, "RSA_"):
			bits := "2048"
			for _, b := range []string{"3072", "4096"} {
				if strings.Contains(s, b) {
					bits = b
				}
			}
			m[alg] = f.genPKCS8("-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:"+bits)
		case s == "EC_SIGN_P256_SHA256":
			m[alg] = f.genPKCS8("-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256")
		case s == "EC_SIGN_P384_SHA384":
			m[alg] = f.genPKCS8("-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384")
		case s == "EC_SIGN_SECP256K1_SHA256":
			m[alg] = f.genPKCS8("-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:secp256k1")
		default:
			f.t.Fatalf("no material for %s", alg)
		}
	}
	return m
}

// TestImportEveryMethod imports symmetric, HMAC, EC and (with the key-wrap
// methods) RSA material with every import method, wrapped by OpenSSL, and
// proves each version uses exactly that material.
func TestImportEveryMethod(t *testing.T) {
	f := newFixture(t)
	ring := f.keyRing("methods")
	jobs := map[kmspb.ImportJob_ImportMethod]*kmspb.ImportJob{}
	for i, m := range allMethods {
		jobs[m] = f.job(ring, fmt.Sprintf("job-%d", i), m, kmspb.ProtectionLevel_SOFTWARE)
	}
	mats := f.materials(
		kmspb.CryptoKeyVersion_GOOGLE_SYMMETRIC_ENCRYPTION,
		kmspb.CryptoKeyVersion_HMAC_SHA256,
		kmspb.CryptoKeyVersion_EC_SIGN_P256_SHA256,
		kmspb.CryptoKeyVersion_RSA_SIGN_PKCS1_2048_SHA256,
	)
	for _, m := range allMethods {
		job := f.waitJob(jobs[m].GetName())
		if job.GetState() != kmspb.ImportJob_ACTIVE {
			t.Fatalf("%s: job %s", m, job.GetState())
		}
		for alg, mat := range mats {
			_, kwp := methodParams(m)
			if alg == kmspb.CryptoKeyVersion_RSA_SIGN_PKCS1_2048_SHA256 && !kwp {
				continue // TestRSAKeysNeedKeyWrap
			}
			t.Run(m.String()+"/"+alg.String(), func(t *testing.T) {
				f := f.with(t)
				key := f.importKey(ring, strings.ToLower(strings.ReplaceAll(m.String()+"-"+alg.String(), "_", "-")), alg, kmspb.ProtectionLevel_SOFTWARE)
				v, err := f.importWrapped(key, job.GetName(), alg, f.wrapOpenSSL(job, mat))
				if err != nil {
					t.Fatalf("ImportCryptoKeyVersion: %v", err)
				}
				if v.GetState() != kmspb.CryptoKeyVersion_ENABLED {
					t.Fatalf("version %s: %s", v.GetState(), v.GetImportFailureReason())
				}
				if v.GetImportJob() != job.GetName() || v.GetAlgorithm() != alg || !v.GetReimportEligible() {
					t.Fatalf("version %v", v)
				}
				f.checkVersion(v, mat)
			})
		}
	}
}

// with is the fixture for a subtest (same server and client).
func (f *fixture) with(t *testing.T) *fixture {
	g := *f
	g.t = t
	return &g
}

// TestImportAlgorithms imports one of every kind of key Cloud KMS imports,
// wrapped by OpenSSL, and proves each version uses exactly that material.
func TestImportAlgorithms(t *testing.T) {
	f := newFixture(t)
	ring := f.keyRing("algorithms")
	soft := f.job(ring, "soft", kmspb.ImportJob_RSA_OAEP_3072_SHA256_AES_256, kmspb.ProtectionLevel_SOFTWARE)
	hsm := f.job(ring, "hsm", kmspb.ImportJob_RSA_OAEP_4096_SHA1_AES_256, kmspb.ProtectionLevel_HSM)
	algs := []kmspb.CryptoKeyVersion_CryptoKeyVersionAlgorithm{
		kmspb.CryptoKeyVersion_HMAC_SHA1,
		kmspb.CryptoKeyVersion_HMAC_SHA224,
		kmspb.CryptoKeyVersion_HMAC_SHA384,
		kmspb.CryptoKeyVersion_HMAC_SHA512,
		kmspb.CryptoKeyVersion_RSA_SIGN_PSS_3072_SHA256,
		kmspb.CryptoKeyVersion_RSA_SIGN_PKCS1_4096_SHA512,
		kmspb.CryptoKeyVersion_RSA_SIGN_PSS_4096_SHA512,
		kmspb.CryptoKeyVersion_RSA_DECRYPT_OAEP_2048_SHA256,
		kmspb.CryptoKeyVersion_RSA_DECRYPT_OAEP_3072_SHA1,
		kmspb.CryptoKeyVersion_RSA_DECRYPT_OAEP_4096_SHA512,
		kmspb.CryptoKeyVersion_EC_SIGN_P384_SHA384,
	}
	mats := f.materials(algs...)
	k1 := f.materials(kmspb.CryptoKeyVersion_EC_SIGN_SECP256K1_SHA256)
	softJob, hsmJob := f.waitJob(soft.GetName()), f.waitJob(hsm.GetName())
	for _, level := range []kmspb.ProtectionLevel{kmspb.ProtectionLevel_SOFTWARE, kmspb.ProtectionLevel_HSM} {
		job := softJob
		if level == kmspb.ProtectionLevel_HSM {
			job = hsmJob
			for alg, mat := range k1 {
				mats[alg] = mat
			}
		}
		for alg, mat := range mats {
			t.Run(level.String()+"/"+alg.String(), func(t *testing.T) {
				f := f.with(t)
				key := f.importKey(ring, strings.ToLower(strings.ReplaceAll(level.String()+"-"+alg.String(), "_", "-")), alg, level)
				v, err := f.importWrapped(key, job.GetName(), alg, f.wrapOpenSSL(job, mat))
				if err != nil {
					t.Fatalf("ImportCryptoKeyVersion: %v", err)
				}
				if v.GetState() != kmspb.CryptoKeyVersion_ENABLED || v.GetProtectionLevel() != level {
					t.Fatalf("version %s %s: %s", v.GetState(), v.GetProtectionLevel(), v.GetImportFailureReason())
				}
				f.checkVersion(v, mat)
			})
		}
	}
}
