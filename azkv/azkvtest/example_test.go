package azkvtest_test

import (
	"context"
	"fmt"
	"log"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azkeys"
	"github.com/byok-go/byok/azkv/azkvtest"
)

// The real azkeys client against the fake: create the key exchange key a
// BYOK transfer blob is wrapped under, as the BYOK specification's first
// step does.
func ExampleNew() {
	srv, err := azkvtest.New()
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	client, err := azkeys.NewClient(srv.URL(), srv.Credential(), srv.ClientOptions())
	if err != nil {
		log.Fatal(err)
	}
	resp, err := client.CreateKey(context.Background(), "KEKforBYOK", azkeys.CreateKeyParameters{
		Kty:     to.Ptr(azkeys.KeyTypeRSAHSM),
		KeySize: to.Ptr[int32](4096),
		KeyOps:  []*azkeys.KeyOperation{to.Ptr(azkeys.KeyOperationImport)},
	}, nil)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(*resp.Key.Kty, len(resp.Key.N)*8, *resp.Key.KeyOps[0])
	// Output: RSA-HSM 4096 import
}
