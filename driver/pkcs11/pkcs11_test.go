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
	"github.com/byok-go/byok/driver/cloudhsm"
	"github.com/byok-go/byok/driver/luna"
	"github.com/byok-go/byok/driver/opencryptoki"
	p11 "github.com/byok-go/byok/driver/pkcs11"
	"github.com/byok-go/byok/driver/softhsm"
	"github.com/byok-go/byok/hsm"
	"github.com/byok-go/byok/hsm/hsmtest"
	"github.com/google/go-cmp/cmp"
	"github.com/miekg/pkcs11"
)

func TestFromDriverConfig(t *testing.T) {
	pin := hsmtest.PIN("1234")
	c, err := p11.FromDriverConfig(driver.Config{Module: "/lib.so", Token: "t", Key: "label=k", KeySpec: byok.HMAC256, Usage: byok.GenerateVerifyMAC,
		PIN: pin, Options: map[string]string{"material-length": "1216", "max-sessions": "2", "slot": "3", "serial": "s", "probe": "off"}}, &hsm.Generic)
	if err != nil {
		t.Fatal(err)
	}
	want := p11.Config{Module: "/lib.so", Token: hsm.TokenSelector{Label: "t", Serial: "s", Slot: 3, HasSlot: true}, Key: "label=k",
		PIN: pin, KeySpec: byok.HMAC256, Usage: byok.GenerateVerifyMAC, MaterialLen: 1216, MaxSessions: 2, NoProbe: true, Profile: &hsm.Generic}
	if diff := cmp.Diff(want, c); diff != "" {
		t.Errorf("FromDriverConfig (-want +got):\n%s", diff)
	}
	if c.Profile != &hsm.Generic {
		t.Errorf("the profile is a copy, not the one given")
	}
	c, err = p11.FromDriverConfig(driver.Config{Key: "label=k"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(p11.Config{Key: "label=k"}, c); diff != "" {
		t.Errorf("FromDriverConfig with no options (-want +got):\n%s", diff)
	}
	if c.PIN != nil {
		t.Errorf("no PIN given, but the config has the PIN source %#v", c.PIN)
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

// TestVendors: each vendor package is its profile under a name. Through the
// registry and directly, the profile is the vendor's: its name is in
// messages, and its default library paths are the ones looked for.
func TestVendors(t *testing.T) {
	ctx := context.Background()
	vendors := []struct {
		name string
		prof *hsm.Profile
		open func(context.Context, p11.Config) (*p11.Source, error)
	}{
		{"cloudhsm", &cloudhsm.Profile, cloudhsm.Open},
		{"luna", &luna.Profile, luna.Open},
		{"opencryptoki", &opencryptoki.Profile, opencryptoki.Open},
		{"softhsm", &softhsm.Profile, softhsm.Open},
		{"pkcs11", &hsm.Generic, p11.Open},
	}
	pin := hsmtest.PIN("user:pin-1")
	for _, v := range vendors {
		t.Run(v.name, func(t *testing.T) {
			if !slices.Contains(driver.Drivers(), v.name) {
				t.Fatalf("%s is not registered: %v", v.name, driver.Drivers())
			}
			f := &hsmtest.Fake{TokenLabel: "fake", PIN: pin, Mechanisms: []uint{pkcs11.CKM_RSA_PKCS_OAEP}, OAEPHashes: []uint{pkcs11.CKM_SHA256}}
			_, err := v.open(ctx, p11.Config{API: f, Key: "label=absent", PIN: pin})
			if !errors.Is(err, hsm.ErrKeyNotFound) || !strings.Contains(err.Error(), v.prof.Name) {
				t.Errorf("direct: %v; want ErrKeyNotFound naming %q", err, v.prof.Name)
			}
			_, err = driver.Open(ctx, v.name, driver.Config{Module: filepath.Join(t.TempDir(), "absent.so"), Key: "label=k"})
			if !errors.Is(err, hsm.ErrModuleNotFound) {
				t.Errorf("registry, a missing module: %v; want ErrModuleNotFound", err)
			}
			_, err = driver.Open(ctx, v.name, driver.Config{Key: "label=k", Options: map[string]string{"colour": "red"}})
			if err == nil || !strings.HasPrefix(err.Error(), v.name+": unknown driver option") {
				t.Errorf("registry, an unknown option: %v; want it refused, naming the driver", err)
			}
			if len(v.prof.ModulePaths) == 0 {
				return
			}
			if _, err := v.prof.DefaultModule(); err == nil {
				return // installed here: nothing to say about the paths
			}
			_, err = driver.Open(ctx, v.name, driver.Config{Key: "label=k"})
			if !errors.Is(err, hsm.ErrModuleNotFound) || !strings.Contains(err.Error(), v.prof.ModulePaths[0]) {
				t.Errorf("registry, no module given: %v; want ErrModuleNotFound listing %s", err, v.prof.ModulePaths[0])
			}
		})
	}
}
