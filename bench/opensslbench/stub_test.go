//go:build !(openssl && cgo)

package opensslbench

import (
	"errors"
	"testing"

	"github.com/byok-go/byok"
)

func TestStub(t *testing.T) {
	if Available || Version() != "" {
		t.Error("the stub claims OpenSSL")
	}
	if _, err := WrapPad(make([]byte, 32), []byte("x"), 1); !errors.Is(err, ErrUnavailable) {
		t.Errorf("WrapPad: %v", err)
	}
	if _, err := ParsePublicKey([]byte{1}); !errors.Is(err, ErrUnavailable) {
		t.Errorf("ParsePublicKey: %v", err)
	}
	var k *PublicKey
	k.Close()
	if _, err := k.Wrap(byok.RSAESOAEPSHA256, []byte("x"), 1); !errors.Is(err, ErrUnavailable) {
		t.Errorf("Wrap: %v", err)
	}
}
