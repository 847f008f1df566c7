// Package driver is the registry of key source drivers: software (key files
// and Go keys), and the PKCS#11 drivers softhsm, cloudhsm, luna,
// opencryptoki and pkcs11 (any module). Drivers register themselves by name
// in an init function, the way database/sql drivers do; import a driver
// package for its side effect to make it available:
//
//	import _ "github.com/byok-go/byok/driver/software"
//
//	src, err := driver.Open(ctx, "software", driver.Config{Key: "key.pem"})
//
// Every driver can also be built directly from its own config struct,
// without the registry; see each driver package.
package driver

import (
	"context"
	"fmt"
	"io"
	"slices"
	"sync"

	"github.com/byok-go/byok"
)

// Source is a key source a driver opened: a byok.KeySource that holds
// resources (a key in memory, an HSM session) until Close.
type Source interface {
	byok.KeySource
	io.Closer
}

// Config says which key to open and how to reach it. Which fields a driver
// uses is documented by the driver; the zero value of each field means the
// driver's default.
type Config struct {
	// Key names the key. For the software driver: a key file path. For the
	// PKCS#11 drivers: an RFC 7512 "pkcs11:" URI, or "label=NAME",
	// "id=HEX" or "handle=N".
	Key string
	// Module is the PKCS#11 library path; empty: the driver's default path.
	Module string
	// Token selects the PKCS#11 token by label; empty: the URI's token, or
	// the only initialised token.
	Token string
	// PIN supplies the PKCS#11 user PIN (CloudHSM: "user:password"). PINs
	// never come from the command line: see PINFromEnv, PINFromFile and
	// PINPrompt.
	PIN PINSource
	// KeySpec is needed for raw, hex or base64 secret key files (software),
	// and checks the key's spec otherwise.
	KeySpec byok.KeySpec
	// Usage is the KMS key usage; empty: the spec's usual one.
	Usage byok.KeyUsage
	// Passphrase decrypts an encrypted PKCS#8 key file (software).
	Passphrase PINSource
	// Options holds driver-specific settings in string form (from flags
	// and manifests). The PKCS#11 drivers take material-length, max-sessions,
	// slot, serial and probe, translated into hsm.Config by
	// pkcs11.FromDriverConfig; an unknown option is an error.
	Options map[string]string
}

// Driver opens key sources.
type Driver interface {
	Open(ctx context.Context, cfg Config) (Source, error)
}

var (
	mu      sync.RWMutex
	drivers = map[string]Driver{}
)

// Register makes a driver available by name. It panics if d is nil or the
// name is already registered: two drivers under one name is a programming
// error, not something to resolve silently.
func Register(name string, d Driver) {
	mu.Lock()
	defer mu.Unlock()
	if d == nil {
		panic("driver: Register driver is nil")
	}
	if _, dup := drivers[name]; dup {
		panic("driver: Register called twice for driver " + name)
	}
	drivers[name] = d
}

// Drivers returns the names of the registered drivers, sorted.
func Drivers() []string {
	mu.RLock()
	defer mu.RUnlock()
	names := make([]string, 0, len(drivers))
	for n := range drivers {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// Open opens a key source with the named driver.
func Open(ctx context.Context, name string, cfg Config) (Source, error) {
	mu.RLock()
	d, ok := drivers[name]
	mu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("driver: unknown driver %q (forgotten import?); registered: %v", name, Drivers())
	}
	return d.Open(ctx, cfg)
}
