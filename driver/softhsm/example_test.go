package softhsm_test

import (
	"context"
	"fmt"
	"log"

	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/byok-go/byok"
	"github.com/byok-go/byok/driver"
	_ "github.com/byok-go/byok/driver/softhsm"
	"github.com/byok-go/byok/kmstest"
)

// Migrate an AES key from SoftHSM into KMS, wrapped inside SoftHSM. The
// token "byok-example" and its key "example-aes" exist (SoftHSM finds them
// through SOFTHSM2_CONF), and the user PIN is in BYOK_EXAMPLE_PIN.
// SoftHSM 2.6.1 can only do RSA-OAEP with SHA-1, so byok negotiates
// RSAES_OAEP_SHA_1 (and logs a warning, with a Logger set).
func Example() {
	ctx := context.Background()
	// A KMS emulator stands in for AWS KMS; byok.NewKMS(cfg) gives the real one.
	srv := kmstest.NewServer(kmstest.WithWrappingKeyCache(true))
	defer srv.Close()
	target := &byok.KMS{Client: kms.NewFromConfig(srv.AWSConfig())}

	src, err := driver.Open(ctx, "softhsm", driver.Config{
		Key: "pkcs11:token=byok-example;object=example-aes",
		PIN: driver.PINFromEnv("BYOK_EXAMPLE_PIN"),
	})
	if err != nil {
		log.Fatal(err)
	}
	defer src.Close()

	res, err := new(byok.Importer).Import(ctx, src, target)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(res.KeySpec, res.Algorithm, "verified:", res.Verification.Verified)
	// Output: SYMMETRIC_DEFAULT RSAES_OAEP_SHA_1 verified: true
}
