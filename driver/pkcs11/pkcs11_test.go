package pkcs11_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/byok-go/byok"
	"github.com/byok-go/byok/driver"
	p11 "github.com/byok-go/byok/driver/pkcs11"
	"github.com/byok-go/byok/hsm"
	"github.com/byok-go/byok/hsm/hsmtest"
	"github.com/miekg/pkcs11"
)

func TestFromDriverConfig(t *testing.T) {
	c, err := p11.FromDriverConfig(driver.Config{Module: "/lib.so", Token: "t", Key: "label=k", KeySpec: byok.HMAC256,
		Options: map[string]string{"material-length": "1216", "max-sessions": "2", "slot": "3", "serial": "s", "probe": "off"}}, &hsm.Generic)
	if err != nil {
		t.Fatal(err)
	}
	if c.Module != "/lib.so" || c.Token != "t" || c.Key != "label=k" || c.KeySpec != byok.HMAC256 || c.MaterialLen != 1216 ||
		c.MaxSessions != 2 || !c.HasSlot || c.Slot != 3 || c.Serial != "s" || !c.NoProbe || c.Profile != &hsm.Generic {
		t.Errorf("config %+v", c)
	}
	for _, bad := range []map[string]string{{"material-length": "-1"}, {"slot": "x"}, {"probe": "maybe"}, {"nonsense": "1"}} {
		if _, err := p11.FromDriverConfig(driver.Config{Options: bad}, nil); err == nil {
			t.Errorf("options %v accepted", bad)
		}
	}
}

func TestRegistered(t *testing.T) {
	if !slices.Contains(driver.Drivers(), "pkcs11") {
		t.Fatalf("drivers %v", driver.Drivers())
	}
	_, err := driver.Open(context.Background(), "pkcs11", driver.Config{Key: "label=k"})
	if !errors.Is(err, hsm.ErrModuleNotFound) || !strings.Contains(err.Error(), "give the library path") {
		t.Fatalf("the generic driver without a module: %v", err)
	}
}

// TestPINSourceFromURI: with no PIN given, the URI's pin-source file
// supplies it (and a pin-value is refused).
func TestPINSourceFromURI(t *testing.T) {
	pinFile := filepath.Join(t.TempDir(), "pin")
	os.WriteFile(pinFile, []byte("uri-pin-1\n"), 0o600)
	f := &hsmtest.Fake{TokenLabel: "fake", PIN: []byte("uri-pin-1"), Mechanisms: []uint{pkcs11.CKM_RSA_PKCS_OAEP, pkcs11.CKM_GENERIC_SECRET_KEY_GEN},
		OAEPHashes: []uint{pkcs11.CKM_SHA256}}
	_, err := p11.Open(context.Background(), p11.Config{API: f, Key: "pkcs11:token=fake;object=absent?pin-source=file:" + pinFile})
	if !errors.Is(err, hsm.ErrKeyNotFound) {
		t.Fatalf("got %v; want a login with the file's PIN, then ErrKeyNotFound", err)
	}
	if logins := f.CallsTo("C_Login"); len(logins) != 1 || logins[0].Err != nil {
		t.Fatalf("C_Login calls %+v", logins)
	}
	_, err = p11.Open(context.Background(), p11.Config{API: f, Key: "pkcs11:token=fake;object=absent?pin-value=uri-pin-1"})
	if err == nil || !strings.Contains(err.Error(), "pin-value") || strings.Contains(err.Error(), "uri-pin-1") {
		t.Fatalf("pin-value: %v", err)
	}
}
