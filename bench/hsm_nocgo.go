//go:build !cgo

package bench

import (
	"context"
	"errors"

	"github.com/byok-go/byok"
)

// errNoCgo is what the PKCS#11 backends report in a build without cgo:
// PKCS#11 modules are C libraries.
var errNoCgo = errors.New("bench: the PKCS#11 backends need cgo; this build has none")

// ThrowawaySoftHSM needs cgo; in this build it fails.
func ThrowawaySoftHSM(dir string) (HSM, func() error, error) { return HSM{}, nil, errNoCgo }

type hsmBackend struct {
	cfg  HSM
	keys map[byok.KeySpec]*hsmKey
}

type hsmKey struct{ algs []byok.WrappingAlgorithm }

func (s *suite) setupHSM(context.Context, HSM, *Environment) (*hsmBackend, error) {
	return nil, errNoCgo
}

func (s *suite) hsmWrapMember(*group, Row, *hsmBackend, Case) (*member, error) { return nil, errNoCgo }

func (s *suite) hsmOverheadGroup(*hsmBackend) (*group, *hsmOverhead, error) {
	return nil, nil, errNoCgo
}
