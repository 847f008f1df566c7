package hsm_test

import (
	"strings"
	"testing"

	"github.com/byok-go/byok/hsm"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func TestParseURI(t *testing.T) {
	u, err := hsm.ParseURI("pkcs11:token=My%20Token;manufacturer=SoftHSM%20project;serial=abc;slot-id=3;object=key%3b1;id=%01%02%ff;type=private;x-vendor=v?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=file:/run/pin")
	if err != nil {
		t.Fatal(err)
	}
	want := &hsm.URI{Token: "My Token", Manufacturer: "SoftHSM project", Serial: "abc", SlotID: 3, HasSlotID: true,
		Object: "key;1", ID: []byte{1, 2, 0xff}, Type: "private", Vendor: map[string]string{"x-vendor": "v"},
		ModulePath: "/usr/lib/softhsm/libsofthsm2.so", PINSource: "file:/run/pin"}
	if diff := cmp.Diff(want, u, cmpopts.EquateEmpty()); diff != "" {
		t.Fatalf("ParseURI (-want +got):\n%s", diff)
	}
	again, err := hsm.ParseURI(u.String())
	if err != nil {
		t.Fatalf("round trip of %q: %v", u.String(), err)
	}
	if diff := cmp.Diff(u, again, cmpopts.EquateEmpty()); diff != "" {
		t.Fatalf("round trip of %q (-first +second):\n%s", u.String(), diff)
	}
	wantSel := hsm.TokenSelector{Label: "My Token", Manufacturer: "SoftHSM project", Serial: "abc", Slot: 3, HasSlot: true}
	if diff := cmp.Diff(wantSel, u.TokenSelector()); diff != "" {
		t.Errorf("TokenSelector (-want +got):\n%s", diff)
	}
	for _, bad := range []string{
		"pkcs11:object=a;object=b",
		"pkcs11:token=x?pin-value=1234",
		"pkcs11:token=%zz",
		"pkcs11:slot-id=x",
		"pkcs11:type=pear",
		"pkcs11:nonsense=1",
		"pkcs11:token",
		"pkcs11:?token=x",
		"pkcs11:module-path=/x",
		"https://example.com",
	} {
		if _, err := hsm.ParseURI(bad); err == nil {
			t.Errorf("ParseURI(%q) succeeded", bad)
		}
	}
	if _, err := hsm.ParseURI("pkcs11:token=x?pin-value=1234"); err == nil || strings.Contains(err.Error(), "1234") {
		t.Errorf("pin-value: %v; want a refusal that does not repeat the PIN", err)
	}
}

func TestParseKeyRef(t *testing.T) {
	for _, c := range []struct {
		in   string
		want hsm.KeyRef
	}{
		{"label=my key", hsm.KeyRef{Label: "my key"}},
		{"id=0a0B", hsm.KeyRef{ID: []byte{0x0a, 0x0b}}},
		{"id=0a:0b", hsm.KeyRef{ID: []byte{0x0a, 0x0b}}},
		{"handle=42", hsm.KeyRef{Handle: 42, HasHandle: true}},
		{"label=k;id=01;type=secret", hsm.KeyRef{Label: "k", ID: []byte{1}, Class: "secret-key"}},
		{"pkcs11:token=t;object=k;type=secret-key", hsm.KeyRef{Label: "k", Class: "secret-key"}},
		{"PKCS11:object=k", hsm.KeyRef{Label: "k"}},
	} {
		got, _, err := hsm.ParseKeyRef(c.in)
		if err != nil {
			t.Errorf("ParseKeyRef(%q): %v", c.in, err)
		} else if diff := cmp.Diff(c.want, got, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("ParseKeyRef(%q) (-want +got):\n%s", c.in, diff)
		}
	}
	for _, bad := range []string{"", "my-key", "id=zz", "handle=-1", "type=cert", "colour=red", "pkcs11:token=t", "pkcs11:object=k;type=cert"} {
		if _, _, err := hsm.ParseKeyRef(bad); err == nil {
			t.Errorf("ParseKeyRef(%q) succeeded", bad)
		}
	}
}

func FuzzParseURI(f *testing.F) {
	for _, s := range []string{"pkcs11:token=a;object=b;id=%01?module-path=/x", "pkcs11:", "pkcs11:x-a=b;slot-id=1", "pkcs11:type=secret"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		u, err := hsm.ParseURI(s)
		if err != nil {
			return
		}
		canon := u.String()
		again, err := hsm.ParseURI(canon)
		if err != nil {
			t.Fatalf("%q parsed, but its canonical form %q does not: %v", s, canon, err)
		}
		if again.String() != canon {
			t.Fatalf("canonical form not stable: %q → %q", canon, again.String())
		}
	})
}

func FuzzParseKeyRef(f *testing.F) {
	for _, s := range []string{"label=a", "id=00ff", "handle=0x10", "label=a;type=private", "pkcs11:object=x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, _, err := hsm.ParseKeyRef(s)
		if err == nil && r.Label == "" && len(r.ID) == 0 && !r.HasHandle {
			t.Fatalf("%q parsed to a reference naming no key", s)
		}
	})
}
