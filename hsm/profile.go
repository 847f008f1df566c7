package hsm

import (
	"fmt"
	"os"
	"strings"
)

// Profile is what byok knows about a family of PKCS#11 modules: where the
// library usually is, how to log in, how to import the KMS wrapping key,
// and what the module can do. Vendor facts live in profiles (see the
// drivers softhsm, cloudhsm, luna and opencryptoki), not in conditionals in
// the code. The zero value is a generic module: no default path, a plain
// PIN, probing on.
type Profile struct {
	// Name names the module family in messages, e.g. "SoftHSM 2".
	Name string
	// ModulePaths are the usual library paths, tried in order when no path
	// is given.
	ModulePaths []string
	// InstallHint says how to get the library when none is found.
	InstallHint string
	// PINFormat and UserType say how to log in.
	PINFormat PINFormat
	UserType  UserType
	// WrappingKeyEncrypt also sets CKA_ENCRYPT=true on the KMS wrapping
	// public key byok imports (CKA_WRAP=true always): Thales's Luna
	// procedure sets both.
	WrappingKeyEncrypt bool
	// KeepLoaded keeps the library initialised for the rest of the process
	// once a source of this profile has loaded it: closing the last Source
	// does not call C_Finalize, so a program that opens and closes sources
	// one after another (byok migrate does) initialises the library once.
	// For modules that do not survive C_Initialize after C_Finalize in one
	// process (opencryptoki 3.8.1 crashed so, in C_Initialize).
	KeepLoaded bool
	// NoProbe turns off the trial wraps of throwaway keys; the capabilities
	// are then Documented, unverified. Probing is on by default because
	// mechanism lists lie by omission.
	NoProbe bool
	// Documented is what the vendor documents (or byok verified) the module
	// can do, used when NoProbe is set and to describe the module.
	Documented Capabilities
	// Quirks lists known deviations, in sentences, for documentation and
	// messages. The probe finds them by itself; this says why.
	Quirks []string
}

// Generic is the profile of a module byok knows nothing about.
var Generic = Profile{Name: "PKCS#11 module"}

func (p *Profile) name() string {
	if p == nil || p.Name == "" {
		return Generic.Name
	}
	return p.Name
}

// DefaultModule returns the first of ModulePaths that exists, or an error
// matching ErrModuleNotFound that lists them.
func (p *Profile) DefaultModule() (string, error) {
	for _, path := range p.ModulePaths {
		if _, err := os.Stat(path); err == nil {
			return path, nil
		}
	}
	fix := "give the library path"
	if len(p.ModulePaths) > 0 {
		fix = fmt.Sprintf("none of %s exists; install it (%s) or give the library path", strings.Join(p.ModulePaths, ", "), p.InstallHint)
	}
	return "", &Error{Op: "finding the " + p.name() + " library", Kind: ErrModuleNotFound, Fix: fix}
}
