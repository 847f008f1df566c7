// Package pkcs11 is the byok key source driver for any PKCS#11 module, and
// the one constructor of the vendor drivers (softhsm, cloudhsm, luna,
// opencryptoki), which are only a profile (hsm.Profile) and a name: it
// opens a key through package hsm, which wraps it inside the module so
// that the plaintext never leaves it.
//
// Registered as "pkcs11":
//
//	import _ "github.com/byok-go/byok/driver/pkcs11"
//
//	src, err := driver.Open(ctx, "pkcs11", driver.Config{
//		Module: "/usr/lib/vendor/libpkcs11.so",
//		Key:    "pkcs11:token=prod;object=signing-key",
//		PIN:    driver.PINFromEnv("HSM_PIN"),
//	})
//
// or built directly, with no registry: pkcs11.Open(ctx, pkcs11.Config{…}).
//
// # Configuration
//
// Config is hsm.Config, the one configuration type of a PKCS#11 source.
// Through the registry, driver.Config's fields map onto it: Key is an RFC
// 7512 "pkcs11:" URI or "label=NAME", "id=HEX", "handle=N" (see
// hsm.ParseKeyRef); Module is the library path (for this generic driver it
// is required unless the URI has module-path); Token is the token label
// (default: the URI's token, or the only initialised token); PIN is the
// user PIN; KeySpec and Usage as in hsm.Config. When no PIN is given and
// the URI has pin-source=FILE, the PIN is read from that file (whether the
// source was opened through the registry or directly). driver.Config's
// Options are the string forms of the remaining fields:
//
//   - material-length=N: hsm.Config.MaterialLen, the length of the key's
//     KMS material in bytes (the PKCS#8 of an RSA key), for modules whose
//     AES key wrap zero-fills;
//   - max-sessions=N: hsm.Config.MaxSessions, the session pool size
//     (default 4);
//   - slot=N, serial=S: hsm.Config.Token's Slot and Serial, selecting the
//     token by slot ID or serial number;
//   - probe=off: hsm.Config.NoProbe, trusting the profile's documented
//     capabilities instead of probing with trial wraps of throwaway keys.
package pkcs11

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/byok-go/byok/driver"
	"github.com/byok-go/byok/hsm"
)

// Source is a key in a PKCS#11 module (see hsm.Source).
type Source = hsm.Source

var _ driver.Source = (*Source)(nil)

// Config is the configuration of a PKCS#11 source: hsm.Config. Its
// Profile, when nil, is the driver's (hsm.Generic for this package).
type Config = hsm.Config

// Driver is a PKCS#11 driver: a vendor profile under a registered name.
// The vendor packages each declare one and register it; its methods are
// the only code between the registry, the config struct and package hsm.
type Driver struct {
	// Name is the registered name, for messages (e.g. "softhsm").
	Name string
	// Profile is the vendor profile; nil: hsm.Generic.
	Profile *hsm.Profile
}

var _ driver.Driver = Driver{}

// generic is the "pkcs11" driver: any module, with the hsm.Generic profile.
var generic = Driver{Name: "pkcs11", Profile: &hsm.Generic}

// Open opens the key cfg names with the generic profile (unless cfg.Profile
// says otherwise). Close the Source when done.
func Open(ctx context.Context, cfg Config) (*Source, error) { return generic.OpenConfig(ctx, cfg) }

// OpenConfig opens the key cfg names, under the driver's profile unless
// cfg.Profile is set. With no PIN, a pin-source=FILE in the key's URI
// supplies it. Close the Source when done.
func (d Driver) OpenConfig(ctx context.Context, cfg Config) (*Source, error) {
	if cfg.Profile == nil {
		cfg.Profile = d.Profile
	}
	if cfg.PIN == nil {
		if _, uri, err := hsm.ParseKeyRef(cfg.Key); err == nil && uri != nil && uri.PINSource != "" {
			cfg.PIN = driver.PINFromFile(strings.TrimPrefix(uri.PINSource, "file:"))
		}
	}
	return hsm.Open(ctx, cfg)
}

// Open implements driver.Driver: it translates cfg (FromDriverConfig) and
// opens the key.
func (d Driver) Open(ctx context.Context, cfg driver.Config) (driver.Source, error) {
	c, err := FromDriverConfig(cfg, d.Profile)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", d.Name, err)
	}
	return d.OpenConfig(ctx, c)
}

// FromDriverConfig turns the registry's driver.Config into a Config under
// profile p, parsing the options the package documents. It is the one
// place where driver options are read.
func FromDriverConfig(cfg driver.Config, p *hsm.Profile) (Config, error) {
	c := Config{Module: cfg.Module, Token: hsm.TokenSelector{Label: cfg.Token}, Key: cfg.Key, PIN: cfg.PIN,
		KeySpec: cfg.KeySpec, Usage: cfg.Usage, Profile: p}
	for k, v := range cfg.Options {
		switch k {
		case "material-length", "max-sessions", "slot":
			n, err := strconv.ParseUint(v, 10, 31)
			if err != nil {
				return Config{}, fmt.Errorf("driver option %s=%q: want a number", k, v)
			}
			switch k {
			case "material-length":
				c.MaterialLen = int(n)
			case "max-sessions":
				c.MaxSessions = int(n)
			case "slot":
				c.Token.Slot, c.Token.HasSlot = uint(n), true
			}
		case "serial":
			c.Token.Serial = v
		case "probe":
			switch v {
			case "off", "false", "no":
				c.NoProbe = true
			case "on", "true", "yes":
			default:
				return Config{}, fmt.Errorf("driver option probe=%q: want on or off", v)
			}
		default:
			return Config{}, fmt.Errorf("unknown driver option %q: want material-length, max-sessions, slot, serial or probe", k)
		}
	}
	return c, nil
}

func init() { driver.Register(generic.Name, generic) }
