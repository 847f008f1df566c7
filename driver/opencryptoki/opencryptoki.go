// Package opencryptoki is the byok key source driver for opencryptoki
// (github.com/opencryptoki/opencryptoki), registered as "opencryptoki":
//
//	import _ "github.com/byok-go/byok/driver/opencryptoki"
//
//	src, err := driver.Open(ctx, "opencryptoki", driver.Config{
//		Key: "pkcs11:token=mytoken;object=mykey",
//		PIN: driver.PINFromEnv("OCK_PIN"),
//	})
//
// opencryptoki needs its slot daemon, pkcsslotd, running, and its token
// initialised (pkcsconf -I, then -u and -p for the user PIN). See package
// driver/pkcs11 for the configuration and options, and Profile for what
// byok verified about opencryptoki 3.8.1's software token.
package opencryptoki

import (
	"context"
	"crypto"

	"github.com/byok-go/byok/driver"
	"github.com/byok-go/byok/driver/pkcs11"
	"github.com/byok-go/byok/hsm"
)

// Profile is opencryptoki as byok found version 3.8.1's software token
// (Debian 12's opencryptoki 3.8.1+dfsg-3.2, slot 3, libpkcs11_sw.so), by
// trial wraps:
//
//   - CKM_RSA_PKCS_OAEP wraps secret keys with SHA-1 and with SHA-256
//     (MGF1 of the same hash), correctly: this is the module where
//     RSAES_OAEP_SHA_256 runs for real in byok's tests.
//   - No CKM_RSA_AES_KEY_WRAP and no AES key wrap (neither
//     CKM_AES_KEY_WRAP_PAD nor _KWP), so RSA keys cannot be wrapped in the
//     form KMS imports; byok refuses them with the reason.
//   - The software token of this build lists no EC mechanisms, so it holds
//     no EC keys.
//   - After C_InitPIN the user PIN must be changed (pkcsconf -p, or
//     C_SetPIN in a public session); the daemon pkcsslotd must run.
//   - It crashed once (SIGSEGV inside C_Initialize) when a process
//     initialised the library again after finalising it, so the library
//     stays initialised for the process once loaded (KeepLoaded).
var Profile = hsm.Profile{
	Name: "opencryptoki",
	ModulePaths: []string{
		"/usr/lib/x86_64-linux-gnu/pkcs11/libopencryptoki.so",
		"/usr/lib/x86_64-linux-gnu/opencryptoki/libopencryptoki.so",
		"/usr/lib/s390x-linux-gnu/pkcs11/libopencryptoki.so",
		"/usr/lib64/opencryptoki/libopencryptoki.so",
		"/usr/lib/opencryptoki/libopencryptoki.so",
	},
	InstallHint: "apt-get install opencryptoki, then start pkcsslotd",
	KeepLoaded:  true,
	Documented:  hsm.Capabilities{OAEP: []crypto.Hash{crypto.SHA256, crypto.SHA1}},
	Quirks: []string{
		"the slot daemon pkcsslotd must run, and the token be initialised with pkcsconf",
		"the 3.8 software token has no AES key wrap and no CKM_RSA_AES_KEY_WRAP: RSA keys cannot be migrated from it",
		"the 3.8 software token lists no EC mechanisms",
		"a new user PIN must be changed before use (CKF_USER_PIN_TO_BE_CHANGED)",
		"C_Initialize after C_Finalize in one process crashed once: the library stays initialised until the process exits",
	},
}

// drv is the opencryptoki driver: the profile under its registered name.
var drv = pkcs11.Driver{Name: "opencryptoki", Profile: &Profile}

// Config configures the opencryptoki driver: it is hsm.Config, and its Profile
// defaults to Profile.
type Config = pkcs11.Config

// Open opens the key cfg names in opencryptoki, without the registry. Close the
// source when done.
func Open(ctx context.Context, cfg Config) (*pkcs11.Source, error) { return drv.OpenConfig(ctx, cfg) }

func init() { driver.Register(drv.Name, drv) }
