package bench

import (
	"fmt"
	"os"
	"slices"

	"github.com/byok-go/byok/driver/softhsm"
)

// Tokens says which PKCS#11 tokens a run measures, as `byok bench`'s flags
// give them.
type Tokens struct {
	// Backends are the backends asked for; empty: every one available.
	Backends []string
	// SoftHSM is an existing SoftHSM token (Token set); without one, a
	// throwaway token is made for the run when SoftHSM is installed.
	SoftHSM HSM
	// OpenCryptoki is an opencryptoki token, measured when Token is set.
	OpenCryptoki HSM
}

// AddTokens adds to o.HSMs the tokens t names, making a throwaway SoftHSM
// token (see ThrowawaySoftHSM) when no SoftHSM token is named and SoftHSM
// is installed; when it is not installed, the report notes it, unless
// softhsm was asked for by name (then it is an error). The function
// returned removes what was made; call it after Run.
func (o *Options) AddTokens(t Tokens) (release func(), err error) {
	release = func() {}
	wanted := func(b string) bool { return len(t.Backends) == 0 || slices.Contains(t.Backends, b) }
	switch {
	case !wanted(BackendSoftHSM):
	case t.SoftHSM.Token != "":
		t.SoftHSM.Backend = BackendSoftHSM
		o.HSMs = append(o.HSMs, t.SoftHSM)
	default:
		if _, err := softhsm.Profile.DefaultModule(); err != nil {
			if len(t.Backends) > 0 {
				return release, err
			}
			break // not installed: the report notes it
		}
		dir, err := os.MkdirTemp("", "byok-bench-softhsm-")
		if err != nil {
			return release, err
		}
		h, unload, err := ThrowawaySoftHSM(dir)
		if err != nil {
			os.RemoveAll(dir)
			return release, fmt.Errorf("making a throwaway SoftHSM token: %w", err)
		}
		release = func() { unload(); os.RemoveAll(dir) }
		if o.Progress != nil {
			o.Progress("made a throwaway SoftHSM token in %s", dir)
		}
		o.HSMs = append(o.HSMs, h)
	}
	if t.OpenCryptoki.Token != "" && wanted(BackendOpenCryptoki) {
		t.OpenCryptoki.Backend = BackendOpenCryptoki
		o.HSMs = append(o.HSMs, t.OpenCryptoki)
	}
	return release, nil
}
