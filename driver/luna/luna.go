// Package luna is the byok key source driver for Thales Luna HSMs through
// the Luna Client's PKCS#11 library, registered as "luna":
//
//	import _ "github.com/byok-go/byok/driver/luna"
//
//	src, err := driver.Open(ctx, "luna", driver.Config{
//		Token: "my-partition",
//		Key:   "label=my-key",
//		PIN:   driver.PINFromEnv("LUNA_PARTITION_PASSWORD"),
//	})
//
// It does through PKCS#11 what the Luna walkthrough does with cmu and
// ckdemo: import the KMS wrapping public key with wrap and encrypt true
// (here a session object, destroyed afterwards), then wrap with RSA-OAEP —
// with the OAEP hash set to SHA-256 explicitly, since the firmware's default
// is SHA-1.
//
// Not tried on a real Luna: byok's tests run this driver against
// hsmtest.Fake configured as Thales's documentation describes (see
// Profile). See package driver/pkcs11 for the configuration and options.
package luna

import (
	"context"
	"crypto"

	"github.com/byok-go/byok/driver"
	"github.com/byok-go/byok/driver/pkcs11"
	"github.com/byok-go/byok/hsm"
)

// Profile is the Luna Client's PKCS#11 library (Luna 7) as Thales's
// documentation describes it (Luna HSM 7 SDK reference, mechanisms
// CKM_RSA_PKCS_OAEP and CKM_AES_KW/CKM_AES_KWP):
//
//   - CKM_RSA_PKCS_OAEP takes the hash CKM_SHA_1 … CKM_SHA512; hashAlg 0
//     means the firmware's default, SHA-1. byok always sets the hash and
//     the MGF explicitly.
//   - The wrapping public key gets CKA_WRAP and CKA_ENCRYPT true, as the
//     cmu import procedure sets them (WrappingKeyEncrypt).
//   - AES key wrap with padding exists as CKM_AES_KWP; CKM_AES_KW wraps
//     symmetric keys only. Whether the library takes PKCS#11 v3.0's
//     CKM_AES_KEY_WRAP_KWP (0x210B) for it, and whether it offers
//     CKM_RSA_AES_KEY_WRAP, byok did not find documented: the probe
//     finds out, and without them RSA keys cannot be migrated.
//   - The PIN is the partition's crypto officer (or crypto user) password.
var Profile = hsm.Profile{
	Name: "Thales Luna",
	ModulePaths: []string{
		"/usr/safenet/lunaclient/lib/libCryptoki2_64.so",
		"/usr/safenet/lunaclient/lib/libCryptoki2.so",
	},
	InstallHint:        "install the Luna Client (with its PKCS#11 library) and register the partition (vtl verify should list it)",
	WrappingKeyEncrypt: true,
	Documented:         hsm.Capabilities{OAEP: []crypto.Hash{crypto.SHA256, crypto.SHA1}},
	Quirks: []string{
		"CKM_RSA_PKCS_OAEP defaults to SHA-1 when hashAlg is 0; byok sets SHA-256 and MGF1-SHA-256 explicitly",
		"the wrapping key needs CKA_WRAP and CKA_ENCRYPT true",
		"CKM_RSA_AES_KEY_WRAP and the value of CKM_AES_KWP are not documented where byok looked; the probe decides",
	},
}

// drv is the luna driver: the profile under its registered name.
var drv = pkcs11.Driver{Name: "luna", Profile: &Profile}

// Config configures the luna driver: it is hsm.Config, and its Profile
// defaults to Profile.
type Config = pkcs11.Config

// Open opens the key cfg names in a Luna partition, without the registry.
// Close the source when done.
func Open(ctx context.Context, cfg Config) (*pkcs11.Source, error) { return drv.OpenConfig(ctx, cfg) }

func init() { driver.Register(drv.Name, drv) }
