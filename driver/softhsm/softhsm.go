// Package softhsm is the byok key source driver for SoftHSM 2
// (github.com/softhsm/SoftHSMv2), registered as "softhsm":
//
//	import _ "github.com/byok-go/byok/driver/softhsm"
//
//	src, err := driver.Open(ctx, "softhsm", driver.Config{
//		Key: "pkcs11:token=mytoken;object=mykey",
//		PIN: driver.PINFromEnv("SOFTHSM_PIN"),
//	})
//
// See package driver/pkcs11 for the configuration and options, and Profile
// for what byok verified about SoftHSM 2.6.1 (Debian 12's package): the
// module is probed at first use, so a newer SoftHSM that fixes these
// quirks is used as it is.
//
// # What migrates from SoftHSM 2.6.1
//
// AES-256 and HMAC keys migrate, wrapped with RSAES_OAEP_SHA_1 (the SHA-1
// fallback; byok warns). RSA keys migrate with RSA_AES_KEY_WRAP_SHA_1, done
// in two steps inside the module, only when the length of the key's PKCS#8
// encoding is given (option material-length) and is a multiple of 8. EC
// keys do not migrate from SoftHSM 2.6.1 at all; the error says why.
package softhsm

import (
	"context"
	"crypto"

	"github.com/byok-go/byok/driver"
	"github.com/byok-go/byok/driver/pkcs11"
	"github.com/byok-go/byok/hsm"
	gopkcs11 "github.com/miekg/pkcs11"
)

// Profile is SoftHSM 2 as byok found version 2.6.1 (Debian 12's softhsm2
// 2.6.1-2.1), by trial wraps (see hsm.Capabilities and the tests):
//
//   - CKM_RSA_PKCS_OAEP wraps secret keys with SHA-1 and MGF1-SHA-1 only;
//     SHA-256 fails with CKR_ARGUMENTS_BAD although the mechanism is listed
//     for wrapping (SoftHSM's source checks "SHA-1 is the only supported
//     option"). It refuses private keys (CKR_KEY_NOT_WRAPPABLE).
//   - No CKM_RSA_AES_KEY_WRAP (CKR_MECHANISM_INVALID; SoftHSM's change log
//     adds it in 2.7.0) and no CKM_AES_KEY_WRAP_KWP (0x210B).
//   - CKM_AES_KEY_WRAP_PAD (0x210A) pads input that is not a multiple of 8
//     bytes with zeros and puts the padded length in RFC 5649's length
//     field, so it unwraps to the key plus 1 to 7 zero bytes (a 28-byte
//     key comes back as 32 bytes). For lengths that are multiples of 8 its
//     output is RFC 5649. CKM_AES_KEY_WRAP and CKM_AES_CBC zero-fill the
//     same way, so no mechanism tells the length of a private key's
//     encoding without exporting it.
//   - The PKCS#8 it wraps for an EC private key omits the public key (and
//     the curve inside ECPrivateKey); KMS needs the public key.
//   - HMAC keys must be at least as long as the hash (SHA256-HMAC keySize
//     32..512), which KMS's HMAC key lengths are.
var Profile = hsm.Profile{
	Name: "SoftHSM 2",
	ModulePaths: []string{
		"/usr/lib/softhsm/libsofthsm2.so",
		"/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
		"/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so",
		"/usr/lib64/pkcs11/libsofthsm2.so",
		"/usr/local/lib/softhsm/libsofthsm2.so",
		"/opt/homebrew/lib/softhsm/libsofthsm2.so",
	},
	InstallHint: "apt-get install softhsm2, dnf install softhsm or brew install softhsm",
	Documented: hsm.Capabilities{
		OAEP:                []crypto.Hash{crypto.SHA1},
		AESKeyWrap:          gopkcs11.CKM_AES_KEY_WRAP_PAD,
		AESKeyWrapZeroFills: true,
	},
	Quirks: []string{
		"CKM_RSA_PKCS_OAEP works with SHA-1 only (SHA-256: CKR_ARGUMENTS_BAD) and refuses private keys (CKR_KEY_NOT_WRAPPABLE)",
		"no CKM_RSA_AES_KEY_WRAP (added in SoftHSM 2.7.0) and no CKM_AES_KEY_WRAP_KWP",
		"CKM_AES_KEY_WRAP_PAD zero-fills to a multiple of 8 bytes and counts the zeros: exact only for material whose length is a multiple of 8",
		"the PKCS#8 of EC private keys omits the public key",
		"softhsm2-util --import makes keys non-extractable; use pkcs11-tool --write-object … --extractable, or C_CreateObject/C_GenerateKey with CKA_EXTRACTABLE=true",
		"C_InitToken gives the token a new slot ID: find it by label",
	},
}

// drv is the softhsm driver: the profile under its registered name.
var drv = pkcs11.Driver{Name: "softhsm", Profile: &Profile}

// Config configures the softhsm driver: it is hsm.Config, and its Profile
// defaults to Profile.
type Config = pkcs11.Config

// Open opens the key cfg names in SoftHSM, without the registry. Close the
// source when done.
func Open(ctx context.Context, cfg Config) (*pkcs11.Source, error) { return drv.OpenConfig(ctx, cfg) }

func init() { driver.Register(drv.Name, drv) }
