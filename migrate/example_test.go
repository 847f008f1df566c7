package migrate_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/aws/aws-sdk-go-v2/service/kms"
	_ "github.com/byok-go/byok/driver/software" // the drivers the manifest names
	"github.com/byok-go/byok/kmstest"
	"github.com/byok-go/byok/migrate"
)

// Example migrates a small manifest into the kmstest emulator. Against AWS,
// Client builds clients from config.LoadDefaultConfig instead, and Quotas
// is left nil (AWS's default quotas) or set to the account's raised ones.
func Example() {
	dir, _ := os.MkdirTemp("", "byok-example")
	defer os.RemoveAll(dir)
	os.WriteFile(filepath.Join(dir, "aes.hex"), []byte("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n"), 0o600)
	os.WriteFile(filepath.Join(dir, "fleet.yaml"), []byte(`version: 1
id: example
keys:
  - name: orders
    source: {key: aes.hex, key_spec: SYMMETRIC_DEFAULT}
    target:
      multi_region: true
      region: us-east-1
      replica_regions: [eu-west-1]
      alias: alias/orders
`), 0o600)

	m, err := migrate.OpenManifest(filepath.Join(dir, "fleet.yaml"))
	if err != nil {
		log.Fatal(err) // a *migrate.ManifestError names each mistake's line and field
	}
	srv := kmstest.NewServer(kmstest.WithWrappingKeyCache(true))
	defer srv.Close()
	mig := &migrate.Migration{
		Manifest: m,
		Client: func(_ context.Context, region string) (migrate.API, error) {
			return srv.Client(func(o *kms.Options) { o.Region = region }), nil
		},
		Journal: filepath.Join(dir, "fleet.journal.jsonl"), // run again to resume
		Audit:   os.Stderr,
		OnResult: func(r migrate.Result) {
			for _, rr := range r.Regions {
				fmt.Printf("%s: %s key in %s, verified %v\n", r.Key, rr.Role, rr.Region, rr.Verified)
			}
		},
	}
	sum, err := mig.Run(context.Background())
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("imported %d, failed %d\n", sum.Imported, sum.Failed)
	// Output:
	// orders: primary key in us-east-1, verified true
	// orders: replica key in eu-west-1, verified true
	// imported 1, failed 0
}
