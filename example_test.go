package byok_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"fmt"
	"log"
	"os"

	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/byok-go/byok"
	"github.com/byok-go/byok/driver/software"
	"github.com/byok-go/byok/kmstest"
)

// The wrapping public key arrives from GetParametersForImport as DER; here a
// key pair stands in for KMS's so that the example can also unwrap.
func ExampleWrapKeyMaterial() {
	kmsKey, err := rsa.GenerateKey(rand.Reader, 3072)
	if err != nil {
		log.Fatal(err)
	}
	der, _ := x509.MarshalPKIXPublicKey(&kmsKey.PublicKey) // GetParametersForImport's PublicKey
	wrappingKey, err := byok.ParseWrappingPublicKey(der)
	if err != nil {
		log.Fatal(err)
	}

	material := make([]byte, 32) // a SYMMETRIC_DEFAULT key
	rand.Read(material)
	defer clear(material)

	wrapped, err := byok.WrapKeyMaterial(wrappingKey, byok.RSAESOAEPSHA256, material)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("EncryptedKeyMaterial:", len(wrapped), "bytes")

	// What KMS does with it on ImportKeyMaterial:
	got, err := byok.UnwrapKeyMaterial(kmsKey, byok.RSAESOAEPSHA256, wrapped)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("KMS recovers the same key:", string(got) == string(material))
	// Output:
	// EncryptedKeyMaterial: 384 bytes
	// KMS recovers the same key: true
}

func ExampleChooseWrapping() {
	for _, spec := range []byok.KeySpec{byok.SymmetricDefault, byok.RSA4096, byok.ECCNISTP521} {
		c, err := byok.ChooseWrapping(spec, nil) // nil: a software key, every algorithm available
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(spec, "->", c.Algorithm, c.WrappingKeySpec)
	}

	// An HSM that can only do OAEP with SHA-1 (SoftHSM 2.6.1, for example):
	c, err := byok.ChooseWrapping(byok.HMAC256, []byok.WrappingAlgorithm{byok.RSAESOAEPSHA1})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(byok.HMAC256, "->", c.Algorithm, c.WrappingKeySpec, "fallback:", c.Fallback)
	// Output:
	// SYMMETRIC_DEFAULT -> RSAES_OAEP_SHA_256 RSA_4096
	// RSA_4096 -> RSA_AES_KEY_WRAP_SHA_256 RSA_4096
	// ECC_NIST_P521 -> RSAES_OAEP_SHA_256 RSA_4096
	// HMAC_256 -> RSAES_OAEP_SHA_1 RSA_4096 fallback: true
}

func ExampleCheckCompatible() {
	err := byok.CheckCompatible(byok.ECCNISTP521, byok.RSAESOAEPSHA256, byok.WrappingRSA2048)
	fmt.Println(errors.Is(err, byok.ErrIncompatible))
	var ce *byok.CompatibilityError
	if errors.As(err, &ce) {
		fmt.Println(string(ce.Rule), errors.Is(err, byok.RuleNoP521OAEP2048))
		fmt.Println(ce.Rule) // a Rule prints as the rule in words
	}
	fmt.Println(byok.CheckCompatible(byok.RSA2048, byok.RSAESOAEPSHA256, byok.WrappingRSA4096))
	fmt.Println(byok.CheckCompatible(byok.SymmetricDefault, byok.RSAESPKCS1V15, byok.WrappingRSA4096))
	// Output:
	// true
	// no_p521_oaep_2048 true
	// ECC_NIST_P521 key material cannot be wrapped with RSAES_OAEP_* under an RSA_2048 wrapping key
	// byok: RSA_2048 key material cannot be wrapped with RSAES_OAEP_SHA_256: RSA private keys must be wrapped with RSA_AES_KEY_WRAP_SHA_256 or RSA_AES_KEY_WRAP_SHA_1; use RSA_AES_KEY_WRAP_SHA_256
	// byok: wrapping algorithm is not accepted by AWS KMS: RSAES_PKCS1_V1_5: AWS KMS stopped accepting it on 2023-10-10; use RSAES_OAEP_SHA_256 or RSA_AES_KEY_WRAP_SHA_256
}

// Import a key file into KMS and prove it. Here KMS is the kmstest emulator;
// against AWS, load the configuration (profile, Region, credentials,
// AWS_ENDPOINT_URL_KMS) with config.LoadDefaultConfig and pass it to
// byok.NewKMS(cfg).
func ExampleImporter_Import() {
	srv := kmstest.NewServer()
	defer srv.Close()
	target := &byok.KMS{Client: kms.NewFromConfig(srv.AWSConfig()), Alias: "alias/migrated-signing-key"}

	src, err := software.Open("testdata/keys/p256.pkcs8.pem", byok.LoadOptions{}, software.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer src.Close()

	res, err := new(byok.Importer).Import(context.Background(), src, target)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(res.KeySpec, res.KeyUsage, res.Algorithm, res.WrappingKeySpec)
	fmt.Println(res.Verification.Verdict)
	for _, c := range res.Verification.Checks {
		fmt.Println(c.OK, c.Name)
	}
	// Output:
	// ECC_NIST_P256 SIGN_VERIFY RSAES_OAEP_SHA_256 RSA_4096
	// PASSED
	// true KMS unwrapped and accepted exactly the material the source wrapped (RSAES_OAEP_SHA_256: OAEP integrity)
	// true GetPublicKey equals the source public key
	// true a KMS ECDSA_SHA_256 signature over a fresh message verifies under the source public key
	// true KMS verifies a ECDSA_SHA_256 signature made by the source
}

// LoadKeyFile detects the key spec and re-encodes the key as KMS wants it.
func ExampleLoadKeyFile() {
	pemBytes, err := os.ReadFile("testdata/keys/secp256k1.sec1.pem") // SEC1, which crypto/x509 cannot read
	if err != nil {
		log.Fatal(err)
	}
	key, err := byok.LoadKeyFile(pemBytes, byok.LoadOptions{})
	if err != nil {
		log.Fatal(err)
	}
	defer key.Destroy()
	fmt.Println(key.Spec(), key.Usages(), key.Len(), "bytes of PKCS#8")
	fmt.Printf("%v\n", key.Spec() == byok.ECCSECGP256K1)

	_, err = byok.LoadKeyFile(pemBytes[:100], byok.LoadOptions{})
	fmt.Println(errors.Is(err, byok.ErrInvalidMaterial))
	// Output:
	// ECC_SECG_P256K1 [SIGN_VERIFY] 135 bytes of PKCS#8
	// true
	// true
}
