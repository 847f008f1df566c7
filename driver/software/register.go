package software

import (
	"context"
	"errors"

	"github.com/byok-go/byok"
	"github.com/byok-go/byok/driver"
)

func init() { driver.Register("software", softwareDriver{}) }

type softwareDriver struct{}

// Open implements driver.Driver: cfg.Key is the key file path; cfg.KeySpec
// is needed for raw, hex or base64 secret keys; cfg.Passphrase decrypts an
// encrypted PKCS#8 file.
func (softwareDriver) Open(ctx context.Context, cfg driver.Config) (driver.Source, error) {
	if cfg.Key == "" {
		return nil, errors.New("software: no key file named (driver.Config.Key)")
	}
	load := byok.LoadOptions{KeySpec: cfg.KeySpec}
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
