package gcpkmstest_test

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"log"
	"time"

	kms "cloud.google.com/go/kms/apiv1"
	"cloud.google.com/go/kms/apiv1/kmspb"

	"github.com/byok-go/byok/gcpkms/gcpkmstest"
)

// Import an HMAC key with the real Cloud KMS client: key ring, import-only
// key, import job (wait for ACTIVE), RSAES-OAEP-SHA256 wrapping under the
// job's public key, ImportCryptoKeyVersion (wait for ENABLED), MacSign.
func Example() {
	srv, err := gcpkmstest.New()
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	ctx := context.Background()
	c, err := kms.NewKeyManagementClient(ctx, srv.ClientOptions()...)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	ring, err := c.CreateKeyRing(ctx, &kmspb.CreateKeyRingRequest{Parent: "projects/p/locations/global", KeyRingId: "ring"})
	if err != nil {
		log.Fatal(err)
	}
	key, err := c.CreateCryptoKey(ctx, &kmspb.CreateCryptoKeyRequest{
		Parent: ring.GetName(), CryptoKeyId: "mac", SkipInitialVersionCreation: true,
		CryptoKey: &kmspb.CryptoKey{
			Purpose: kmspb.CryptoKey_MAC, ImportOnly: true,
			VersionTemplate: &kmspb.CryptoKeyVersionTemplate{Algorithm: kmspb.CryptoKeyVersion_HMAC_SHA256, ProtectionLevel: kmspb.ProtectionLevel_HSM},
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	job, err := c.CreateImportJob(ctx, &kmspb.CreateImportJobRequest{
		Parent: ring.GetName(), ImportJobId: "job",
		ImportJob: &kmspb.ImportJob{ImportMethod: kmspb.ImportJob_RSA_OAEP_3072_SHA256, ProtectionLevel: kmspb.ProtectionLevel_HSM},
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("job:", job.GetState())
	for job.GetState() == kmspb.ImportJob_PENDING_GENERATION {
		time.Sleep(20 * time.Millisecond)
		if job, err = c.GetImportJob(ctx, &kmspb.GetImportJobRequest{Name: job.GetName()}); err != nil {
			log.Fatal(err)
		}
	}
	fmt.Println("job:", job.GetState())

	block, _ := pem.Decode([]byte(job.GetPublicKey().GetPem()))
	pub, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		log.Fatal(err)
	}
	material := make([]byte, 32) // HMAC-SHA256 key material: 32 raw bytes
	rand.Read(material)
	wrapped, err := rsa.EncryptOAEP(sha256.New(), rand.Reader, pub.(*rsa.PublicKey), material, nil)
	if err != nil {
		log.Fatal(err)
	}
	v, err := c.ImportCryptoKeyVersion(ctx, &kmspb.ImportCryptoKeyVersionRequest{
		Parent: key.GetName(), ImportJob: job.GetName(), Algorithm: kmspb.CryptoKeyVersion_HMAC_SHA256, WrappedKey: wrapped,
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("version:", v.GetState())
	for v.GetState() == kmspb.CryptoKeyVersion_PENDING_IMPORT {
		time.Sleep(10 * time.Millisecond)
		if v, err = c.GetCryptoKeyVersion(ctx, &kmspb.GetCryptoKeyVersionRequest{Name: v.GetName()}); err != nil {
			log.Fatal(err)
		}
	}
	fmt.Println("version:", v.GetState())

	mac, err := c.MacSign(ctx, &kmspb.MacSignRequest{Name: v.GetName(), Data: []byte("hello")})
	if err != nil {
		log.Fatal(err)
	}
	h := hmac.New(sha256.New, material)
	h.Write([]byte("hello"))
	fmt.Println("same MAC:", hmac.Equal(mac.GetMac(), h.Sum(nil)))
	// Output:
	// job: PENDING_GENERATION
	// job: ACTIVE
	// version: PENDING_IMPORT
	// version: ENABLED
	// same MAC: true
}
