package byok_test

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"fmt"
	"log"

	"github.com/byok-go/byok"
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
		fmt.Println(ce.Rule)
	}
	fmt.Println(byok.CheckCompatible(byok.RSA2048, byok.RSAESOAEPSHA256, byok.WrappingRSA4096))
	fmt.Println(byok.CheckCompatible(byok.SymmetricDefault, byok.RSAESPKCS1V15, byok.WrappingRSA4096))
	// Output:
	// true
	// ECC_NIST_P521 key material cannot be wrapped with RSAES_OAEP_* under an RSA_2048 wrapping key
	// byok: RSA_2048 key material cannot be wrapped with RSAES_OAEP_SHA_256: RSA private keys must be wrapped with RSA_AES_KEY_WRAP_SHA_256 or RSA_AES_KEY_WRAP_SHA_1; use RSA_AES_KEY_WRAP_SHA_256
	// byok: wrapping algorithm is not accepted by AWS KMS: RSAES_PKCS1_V1_5: AWS KMS stopped accepting it on 2023-10-10; use RSAES_OAEP_SHA_256 or RSA_AES_KEY_WRAP_SHA_256
}
