// Package cloudhsm is the byok key source driver for AWS CloudHSM through
// its PKCS #11 library (Client SDK 5), registered as "cloudhsm":
//
//	import _ "github.com/byok-go/byok/driver/cloudhsm"
//
//	src, err := driver.Open(ctx, "cloudhsm", driver.Config{
//		Key: "label=my-aes-key",
//		PIN: driver.PINFromEnv("CLOUDHSM_PIN"), // "crypto-user:password"
//	})
//
// It does through PKCS#11 what AWS's CloudHSM-to-KMS walkthrough does with
// CloudHSM CLI: import the KMS wrapping public key with wrap=true (here a
// session object, CKA_TOKEN=false, destroyed afterwards), then wrap with
// RSA-OAEP or RSA-AES using SHA-256 and MGF1-SHA-256. As there, the key must
// be extractable and owned by the crypto user who logs in.
//
// Not tried on real CloudHSM: byok's tests run this driver against
// hsmtest.Fake configured as CloudHSM's documentation describes (see
// Profile). See package driver/pkcs11 for the configuration and options.
package cloudhsm

import (
	"context"
	"crypto"

	"github.com/byok-go/byok/driver"
	"github.com/byok-go/byok/driver/pkcs11"
	"github.com/byok-go/byok/hsm"
)

// Profile is AWS CloudHSM's PKCS #11 library (Client SDK 5) as its
// documentation describes it (AWS CloudHSM User Guide: "Supported
// mechanisms for the PKCS #11 library for AWS CloudHSM Client SDK 5",
// "Authenticate to the PKCS #11 library", CloudHSM CLI "key wrap rsa-oaep"
// and "key wrap rsa-aes"):
//
//   - The PIN is "<crypto user name>:<password>" (PINUserPassword); byok
//     refuses a PIN without the colon before calling C_Login.
//   - Key wrap mechanisms include RSA-OAEP and RSA-AES
//     (CKM_RSA_AES_KEY_WRAP), with SHA-1 to SHA-512 and the matching MGF1,
//     so every key type migrates with a SHA-256 algorithm.
//   - Only the crypto user who owns a key can wrap it, and its extractable
//     attribute must be true.
//   - CloudHSM's own AES key wraps (CKM_CLOUDHSM_AES_KEY_WRAP_ZERO_PAD and
//     friends) are vendor mechanisms byok does not use.
//
// Whether CloudHSM's RSA-OAEP wraps private keys (so that EC keys could
// use RSAES_OAEP_*) is not documented; byok's probe finds out, and
// RSA_AES_KEY_WRAP_SHA_256 serves EC keys anyway.
var Profile = hsm.Profile{
	Name:        "AWS CloudHSM",
	ModulePaths: []string{"/opt/cloudhsm/lib/libcloudhsm_pkcs11.so"},
	InstallHint: "install the AWS CloudHSM PKCS #11 library (Client SDK 5) and configure it for the cluster (/opt/cloudhsm/bin/configure-pkcs11 -a <HSM IP>)",
	PINFormat:   hsm.PINUserPassword,
	Documented: hsm.Capabilities{
		OAEP:             []crypto.Hash{crypto.SHA256, crypto.SHA1},
		RSAAESKeyWrap:    []crypto.Hash{crypto.SHA256, crypto.SHA1},
		ECPKCS8PublicKey: true,
	},
	Quirks: []string{
		`the PIN is "crypto-user:password"`,
		"only the crypto user who owns a key (created it) can wrap it",
		"CKM_CLOUDHSM_AES_KEY_WRAP_* are vendor mechanisms; byok uses CKM_RSA_AES_KEY_WRAP and CKM_RSA_PKCS_OAEP",
	},
}

// drv is the cloudhsm driver: the profile under its registered name.
var drv = pkcs11.Driver{Name: "cloudhsm", Profile: &Profile}

// Config configures the cloudhsm driver: it is hsm.Config, and its Profile
// defaults to Profile.
type Config = pkcs11.Config

// Open opens the key cfg names in CloudHSM, without the registry. Close the
// source when done.
func Open(ctx context.Context, cfg Config) (*pkcs11.Source, error) { return drv.OpenConfig(ctx, cfg) }

func init() { driver.Register(drv.Name, drv) }
