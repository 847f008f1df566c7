package bench

import (
	"fmt"

	"github.com/byok-go/byok/driver"
)

// HSM names the PKCS#11 token a PKCS#11 backend runs on. Run puts the
// fixture keys into it as session objects (CKA_TOKEN=false: they vanish
// when the run ends, whatever happens), opens each with byok's driver of
// the backend's name (driver.Open) and times Source.Wrap for every
// combination the module can perform, as the module's capability probe
// finds them.
type HSM struct {
	// Backend is BackendSoftHSM or BackendOpenCryptoki.
	Backend string
	// Module is the PKCS#11 library path; empty: the driver's default paths.
	Module string
	// Token is the token's label.
	Token string
	// PIN is the user PIN.
	PIN driver.PINSource
}

// check reports whether h names a PKCS#11 backend.
func (h HSM) check() error {
	switch h.Backend {
	case BackendSoftHSM, BackendOpenCryptoki:
		return nil
	}
	return fmt.Errorf("bench: %q is not a PKCS#11 backend; want %s or %s", h.Backend, BackendSoftHSM, BackendOpenCryptoki)
}
