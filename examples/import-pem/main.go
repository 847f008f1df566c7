// Command import-pem imports one PEM (or DER) private key file into AWS KMS
// and proves the import: the smallest complete use of byok.
//
//	go run ./examples/import-pem signing-key.pem [alias]
//
// It creates a KMS key with Origin EXTERNAL of the key's spec (RSA_2048,
// ECC_NIST_P256, …), imports the key material with the wrapping algorithm
// byok chooses, and uses the KMS key to check that it holds the same key.
// The AWS configuration is the SDK's default chain: AWS_PROFILE,
// AWS_REGION, AWS_ENDPOINT_URL_KMS, ~/.aws/config and so on.
//
// To try it without an AWS account, start byok's emulator in another
// terminal (go run ./cmd/byok emulator) and run:
//
//	AWS_ENDPOINT_URL_KMS=http://127.0.0.1:8555 AWS_REGION=us-east-1 \
//	AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test \
//	go run ./examples/import-pem testdata/keys/p256.pkcs8.pem
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"os"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/byok-go/byok"
	"github.com/byok-go/byok/driver/software"
)

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdout); err != nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context, args []string, w io.Writer) error {
	if len(args) < 1 || len(args) > 2 {
		return errors.New("usage: import-pem KEY-FILE [ALIAS]")
	}
	// The software source holds the key in memory and wraps it in pure Go;
	// Close clears it.
	src, err := software.Open(args[0], byok.LoadOptions{}, software.Options{})
	if err != nil {
		return err
	}
	defer src.Close()

	cfg, err := config.LoadDefaultConfig(ctx) // profile, Region, credentials, AWS_ENDPOINT_URL_KMS
	if err != nil {
		return fmt.Errorf("loading the AWS configuration: %w", err)
	}
	target := byok.NewKMS(cfg)
	if len(args) == 2 {
		target.Alias = args[1]
	}

	// The zero Importer negotiates the wrapping and verifies the import.
	res, err := new(byok.Importer).Import(ctx, src, target)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "imported %s (%s) into %s\n", args[0], res.KeySpec, res.KeyARN)
	fmt.Fprintf(w, "wrapped with %s under an %s wrapping key: %s\n", res.Algorithm, res.WrappingKeySpec, res.Reason)
	for _, c := range res.Verification.Checks {
		fmt.Fprintf(w, "verified: %s\n", c.Name)
	}
	return nil
}
