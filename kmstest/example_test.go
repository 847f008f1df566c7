package kmstest_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"log"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/byok-go/byok"
	"github.com/byok-go/byok/kmstest"
)

// Import a SYMMETRIC_DEFAULT key into an EXTERNAL KMS key with the real AWS
// SDK client, then encrypt and decrypt with it.
func Example() {
	srv := kmstest.NewServer(kmstest.WithWrappingKeyCache(true))
	defer srv.Close()
	client := kms.NewFromConfig(srv.AWSConfig())
	ctx := context.Background()

	// 1. A KMS key for imported key material.
	created, err := client.CreateKey(ctx, &kms.CreateKeyInput{Origin: types.OriginTypeExternal})
	if err != nil {
		log.Fatal(err)
	}
	keyID := created.KeyMetadata.KeyId
	fmt.Println("created:", created.KeyMetadata.KeyState)

	// 2. A wrapping public key and an import token.
	params, err := client.GetParametersForImport(ctx, &kms.GetParametersForImportInput{
		KeyId:             keyID,
		WrappingAlgorithm: types.AlgorithmSpecRsaesOaepSha256,
		WrappingKeySpec:   types.WrappingKeySpecRsa3072,
	})
	if err != nil {
		log.Fatal(err)
	}
	wrappingKey, err := byok.ParseWrappingPublicKey(params.PublicKey)
	if err != nil {
		log.Fatal(err)
	}

	// 3. Wrap the key material.
	raw := make([]byte, 32)
	rand.Read(raw)
	material, err := byok.NewSecretKeyMaterial(byok.SymmetricDefault, raw)
	clear(raw)
	if err != nil {
		log.Fatal(err)
	}
	defer material.Destroy()
	wrapped, err := material.Wrap(wrappingKey, byok.RSAESOAEPSHA256)
	if err != nil {
		log.Fatal(err)
	}

	// 4. Import it.
	if _, err := client.ImportKeyMaterial(ctx, &kms.ImportKeyMaterialInput{
		KeyId:                keyID,
		ImportToken:          params.ImportToken,
		EncryptedKeyMaterial: wrapped,
		ExpirationModel:      types.ExpirationModelTypeKeyMaterialDoesNotExpire,
	}); err != nil {
		log.Fatal(err)
	}
	described, err := client.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: keyID})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("imported:", described.KeyMetadata.KeyState)

	// Use it.
	enc, err := client.Encrypt(ctx, &kms.EncryptInput{KeyId: keyID, Plaintext: []byte("hello, KMS"),
		EncryptionContext: map[string]string{"app": "example"}})
	if err != nil {
		log.Fatal(err)
	}
	dec, err := client.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob,
		EncryptionContext: map[string]string{"app": "example"}})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("decrypted: %s\n", dec.Plaintext)
	fmt.Println("same key:", aws.ToString(dec.KeyId) == aws.ToString(described.KeyMetadata.Arn))
	// Output:
	// created: PendingImport
	// imported: Enabled
	// decrypted: hello, KMS
	// same key: true
}
