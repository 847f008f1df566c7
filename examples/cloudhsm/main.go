// Command cloudhsm migrates keys from an AWS CloudHSM cluster into AWS KMS
// as imported key material: for each key it creates a KMS key of the same
// spec, has CloudHSM wrap the key under KMS's wrapping public key (the
// plaintext never leaves the HSM), imports it and proves the import.
//
//	export CLOUDHSM_PIN='crypto_user:password'   # never on the command line
//	go run ./examples/cloudhsm label=payments-signing label=orders-hmac
//
// Keys are named as the byok command names them: label=NAME, id=HEX or an
// RFC 7512 pkcs11: URI. The module is CLOUDHSM_MODULE, default
// /opt/cloudhsm/lib/libcloudhsm_pkcs11.so (CloudHSM Client SDK 5). The AWS
// configuration is the SDK's default chain (AWS_PROFILE, AWS_REGION, …).
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"os"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/byok-go/byok"
	"github.com/byok-go/byok/driver"
	_ "github.com/byok-go/byok/driver/cloudhsm" // registers the "cloudhsm" driver
)

const defaultModule = "/opt/cloudhsm/lib/libcloudhsm_pkcs11.so"

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdout); err != nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context, keys []string, w io.Writer) error {
	if len(keys) == 0 {
		return errors.New("usage: cloudhsm KEY... (label=NAME, id=HEX or pkcs11:object=NAME)")
	}
	module := os.Getenv("CLOUDHSM_MODULE")
	if module == "" {
		module = defaultModule
	}
	cfg, err := config.LoadDefaultConfig(ctx) // profile, Region, credentials, AWS_ENDPOINT_URL_KMS
	if err != nil {
		return fmt.Errorf("loading the AWS configuration: %w", err)
	}
	target := byok.NewKMS(cfg)
	im := &byok.Importer{Logger: slog.Default()}
	failed := 0
	for _, key := range keys {
		if err := migrate(ctx, im, target, key, module, w); err != nil {
			fmt.Fprintf(w, "%s: FAILED: %v\n", key, err)
			failed++
		}
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d keys failed", failed, len(keys))
	}
	return nil
}

func migrate(ctx context.Context, im *byok.Importer, target *byok.KMS, key, module string, w io.Writer) error {
	src, err := driver.Open(ctx, "cloudhsm", driver.Config{
		Key:    key,
		Module: module,
		PIN:    driver.PINFromEnv("CLOUDHSM_PIN"), // "crypto_user:password"
	})
	if err != nil {
		return fmt.Errorf("%w", err)
	}
	defer src.Close()
	res, err := im.Import(ctx, src, target)
	if err != nil {
		if res != nil && res.KeyARN != "" {
			return fmt.Errorf("%s: %w", res.KeyARN, err)
		}
		return err
	}
	fmt.Fprintf(w, "%s: %s imported into %s with %s, %d checks passed\n", key, res.KeySpec, res.KeyARN, res.Algorithm, len(res.Verification.Checks))
	return nil
}
