// Package pkcs11 is the byok key source driver for any PKCS#11 module, and
// the common ground of the vendor drivers (softhsm, cloudhsm, luna,
// opencryptoki): it opens a key through package hsm, which wraps it inside
// the module so that the plaintext never leaves it.
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
// or built directly: pkcs11.Open(ctx, pkcs11.Config{…}).
//
// # Configuration
//
// driver.Config.Key is an RFC 7512 "pkcs11:" URI or "label=NAME", "id=HEX",
// "handle=N" (see hsm.ParseKeyRef). Module is the library path (for this
// generic driver it is required unless the URI has module-path). Token is
// the token label (default: the URI's token, or the only initialised
// token). PIN is the user PIN; when it is nil and the URI has
// pin-source=FILE, the PIN is read from that file. Options:
//
//   - material-length=N: the length of the key's KMS material in bytes
//     (the PKCS#8 of an RSA key), for modules whose AES key wrap zero-fills
//     (see hsm.Config.MaterialLen);
//   - max-sessions=N: the session pool size (default 4);
//   - slot=N, serial=S: select the token by slot ID or serial number;
//   - probe=off: trust the profile's documented capabilities instead of
//     probing with trial wraps of throwaway keys.
package pkcs11

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"

	"github.com/byok-go/byok"
	"github.com/byok-go/byok/driver"
	"github.com/byok-go/byok/hsm"
)

// Source is a key in a PKCS#11 module (see hsm.Source).
type Source = hsm.Source

var _ driver.Source = (*Source)(nil)

// Config says which key to open with which module. The zero value of each
// field means the default; see the package documentation.
type Config struct {
	// Module is the PKCS#11 library path. Empty: the URI's module-path, then
	// the profile's default paths.
	Module string
	// Token is the token label; Slot (with HasSlot) and Serial select it
	// otherwise. Empty: the URI's token attributes, or the only initialised
	// token.
	Token   string
	Serial  string
	Slot    uint
	HasSlot bool
	// Key names the key: a "pkcs11:" URI, "label=NAME", "id=HEX" or "handle=N".
	Key string
	// PIN supplies the user PIN (driver.PINFromEnv, PINFromFile, PINPrompt).
	PIN hsm.PINSource
	// KeySpec, Usage, MaterialLen and MaxSessions are as in hsm.Config.
	KeySpec     byok.KeySpec
	Usage       byok.KeyUsage
	MaterialLen int
	MaxSessions int
	// Profile holds the vendor facts; nil: the driver's (hsm.Generic here).
	Profile *hsm.Profile
	// NoProbe trusts the profile's documented capabilities instead of
	// probing.
	NoProbe bool
	// API replaces the loaded library (a fake in tests); Module then only
	// names it.
	API hsm.PKCS11
	// Logger receives the probe's findings and warnings.
	Logger *slog.Logger
}

// Open opens the key cfg names. Close the Source when done.
func Open(ctx context.Context, cfg Config) (*Source, error) {
	prof := cfg.Profile
	if prof == nil {
		prof = &hsm.Generic
	}
	if cfg.NoProbe && !prof.NoProbe {
		p := *prof
		p.NoProbe = true
		prof = &p
	}
	hc := hsm.Config{Module: cfg.Module, API: cfg.API, Profile: prof,
		Token: hsm.TokenSelector{Label: cfg.Token, Serial: cfg.Serial, Slot: cfg.Slot, HasSlot: cfg.HasSlot},
		Key:   cfg.Key, PIN: cfg.PIN, KeySpec: cfg.KeySpec, Usage: cfg.Usage, MaterialLen: cfg.MaterialLen,
		MaxSessions: cfg.MaxSessions, Logger: cfg.Logger}
	if hc.PIN == nil {
		if _, uri, err := hsm.ParseKeyRef(cfg.Key); err == nil && uri != nil && uri.PINSource != "" {
			hc.PIN = driver.PINFromFile(strings.TrimPrefix(uri.PINSource, "file:"))
		}
	}
	return hsm.Open(ctx, hc)
}

// FromDriverConfig turns a driver.Config into a Config under profile p,
// parsing the driver options this package documents.
func FromDriverConfig(cfg driver.Config, p *hsm.Profile) (Config, error) {
	c := Config{Module: cfg.Module, Token: cfg.Token, Key: cfg.Key, KeySpec: cfg.KeySpec, Usage: cfg.Usage, Profile: p}
	if cfg.PIN != nil {
		c.PIN = cfg.PIN
	}
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
				c.Slot, c.HasSlot = uint(n), true
			}
		case "serial":
			c.Serial = v
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

// Driver is a driver.Driver for PKCS#11 modules of one profile; the vendor
// drivers register one each.
type Driver struct {
	// Name is the registered name, for messages.
	Name string
	// Profile is the vendor profile.
	Profile *hsm.Profile
}

// Open implements driver.Driver.
func (d Driver) Open(ctx context.Context, cfg driver.Config) (driver.Source, error) {
	c, err := FromDriverConfig(cfg, d.Profile)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", d.Name, err)
	}
	return Open(ctx, c)
}

func init() { driver.Register("pkcs11", Driver{Name: "pkcs11", Profile: &hsm.Generic}) }
