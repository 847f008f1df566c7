// Command kmstest shows how to test your own code that uses AWS KMS with
// byok's emulator, package kmstest: the program signs documents with a KMS
// key (DocumentSigner below); main_test.go tests it without AWS by
// importing a key whose private half the test knows, so that it can check
// the signatures KMS makes.
//
//	go run ./examples/kmstest KEY-ID < document      # prints a base64 signature
//	go test ./examples/kmstest                        # the tests, against kmstest
package main

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"log"
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
)

// SignAPI is the part of the KMS client DocumentSigner uses; *kms.Client
// implements it.
type SignAPI interface {
	Sign(ctx context.Context, in *kms.SignInput, optFns ...func(*kms.Options)) (*kms.SignOutput, error)
}

// DocumentSigner signs documents with an ECC_NIST_P256 KMS key.
type DocumentSigner struct {
	Client SignAPI
	KeyID  string
}

// Sign returns the DER ECDSA signature of SHA-256(doc).
func (s *DocumentSigner) Sign(ctx context.Context, doc []byte) ([]byte, error) {
	digest := sha256.Sum256(doc)
	out, err := s.Client.Sign(ctx, &kms.SignInput{
		KeyId:            aws.String(s.KeyID),
		Message:          digest[:],
		MessageType:      types.MessageTypeDigest,
		SigningAlgorithm: types.SigningAlgorithmSpecEcdsaSha256,
	})
	if err != nil {
		return nil, fmt.Errorf("signing with %s: %w", s.KeyID, err)
	}
	return out.Signature, nil
}

func main() {
	if len(os.Args) != 2 {
		log.Fatal("usage: kmstest KEY-ID < document")
	}
	ctx := context.Background()
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		log.Fatal(err)
	}
	doc, err := io.ReadAll(os.Stdin)
	if err != nil {
		log.Fatal(err)
	}
	s := &DocumentSigner{Client: kms.NewFromConfig(cfg), KeyID: os.Args[1]}
	sig, err := s.Sign(ctx, doc)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(base64.StdEncoding.EncodeToString(sig))
}
