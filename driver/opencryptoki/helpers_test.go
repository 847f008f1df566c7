package opencryptoki_test

import (
	"context"
	"testing"

	"github.com/byok-go/byok/driver/opencryptoki"
	"github.com/byok-go/byok/hsm"
	"github.com/byok-go/byok/hsm/hsmtest"
)

// openToken opens opencryptoki's software token (failing in CI when it is
// missing), logged in as the user with opencryptoki's profile, for the
// test's life: session objects live as long as the session that made them,
// and sources opened in the test share this module.
func openToken(t *testing.T) (*hsm.Module, *hsm.Token, hsm.TokenInfo) {
	t.Helper()
	tokInfo := hsmtest.OpenCryptoki(t)
	m, err := hsm.OpenModule(hsmtest.OpenCryptokiPath)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	tok, err := m.OpenToken(context.Background(), hsm.TokenSelector{Label: tokInfo.Label},
		hsm.TokenOptions{PIN: hsmtest.OpenCryptokiUserPIN, Profile: &opencryptoki.Profile})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tok.Close() })
	return m, tok, tokInfo
}
