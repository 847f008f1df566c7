package software

import (
	"context"
	"errors"
	"fmt"

	"github.com/byok-go/byok"
	"github.com/byok-go/byok/driver"
)

func init() { driver.Register("software", softwareDriver{}) }

type softwareDriver struct{}

// Open implements driver.Driver: cfg.Key is the key file path; cfg.KeySpec
// is needed for raw, hex or base64 secret keys; cfg.Passphrase decrypts an
// encrypted PKCS#8 or PKCS#12 file. The option "key_format" (raw, hex or
// base64: byok.LoadOptions.Format) says how a secret key file is encoded;
// the byok command sets it from --key-format, a manifest from a source's
// options.
func (softwareDriver) Open(ctx context.Context, cfg driver.Config) (driver.Source, error) {
	if cfg.Key == "" {
		return nil, errors.New("software: no key file named")
	}
	load := byok.LoadOptions{KeySpec: cfg.KeySpec}
	for k, v := range cfg.Options {
		if k != "key_format" {
			return nil, fmt.Errorf("software: unknown option %q: the software driver takes key_format (raw, hex or base64) only", k)
		}
		f, err := byok.ParseSecretFormat(v)
		if err != nil || f == byok.SecretAuto {
			return nil, fmt.Errorf("software: option key_format=%q: want raw, hex or base64", v)
		}
		load.Format = f
	}
	if cfg.Passphrase != nil {
		p, err := cfg.Passphrase.PIN(ctx)
		if err != nil {
			return nil, err
		}
		defer clear(p)
		load.Passphrase = p
	}
	return Open(cfg.Key, load, Options{Usage: cfg.Usage})
}
