// Command luna migrates keys from a Thales Luna HSM partition into AWS KMS
// as imported key material: for each key it creates a KMS key of the same
// spec, has the Luna HSM wrap the key under KMS's wrapping public key (the
// plaintext never leaves the HSM), imports it and proves the import.
//
//	export LUNA_PIN='partition-crypto-officer-password'   # never on the command line
//	LUNA_PARTITION=payments go run ./examples/luna label=signing-2024
//
// Keys are named as the byok command names them: label=NAME, id=HEX or an
// RFC 7512 pkcs11: URI. The module is LUNA_MODULE, default
// /usr/safenet/lunaclient/lib/libCryptoki2_64.so; the partition is chosen by
// its token label, LUNA_PARTITION (default: the only one). The AWS
// configuration is the SDK's default chain (AWS_PROFILE, AWS_REGION, …).
//
// The key objects must be extractable (CKA_EXTRACTABLE) for the HSM to wrap
// them; check with `byok inspect --driver luna label=NAME`.
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
	_ "github.com/byok-go/byok/driver/luna" // registers the "luna" driver
)

const defaultModule = "/usr/safenet/lunaclient/lib/libCryptoki2_64.so"

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdout); err != nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context, keys []string, w io.Writer) error {
	if len(keys) == 0 {
		return errors.New("usage: luna KEY... (label=NAME, id=HEX or pkcs11:object=NAME)")
	}
	module := os.Getenv("LUNA_MODULE")
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
		src, err := driver.Open(ctx, "luna", driver.Config{
			Key:    key,
			Module: module,
			Token:  os.Getenv("LUNA_PARTITION"),
			PIN:    driver.PINFromEnv("LUNA_PIN"),
		})
		if err != nil {
			fmt.Fprintf(w, "%s: FAILED: %v\n", key, err)
			failed++
			continue
		}
		res, err := im.Import(ctx, src, target)
		src.Close()
		if err != nil {
			fmt.Fprintf(w, "%s: FAILED: %v\n", key, err)
			failed++
			continue
		}
		fmt.Fprintf(w, "%s: %s imported into %s with %s, %d checks passed\n", key, res.KeySpec, res.KeyARN, res.Algorithm, len(res.Verification.Checks))
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d keys failed", failed, len(keys))
	}
	return nil
}
