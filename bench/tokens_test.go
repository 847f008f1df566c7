package bench

import "testing"

func TestAddTokensNamed(t *testing.T) {
	var o Options
	release, err := o.AddTokens(Tokens{
		SoftHSM:      HSM{Token: "soft", Module: "/x/libsofthsm2.so"},
		OpenCryptoki: HSM{Token: "ock"},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	if len(o.HSMs) != 2 || o.HSMs[0].Backend != BackendSoftHSM || o.HSMs[0].Token != "soft" || o.HSMs[0].Module != "/x/libsofthsm2.so" ||
		o.HSMs[1].Backend != BackendOpenCryptoki || o.HSMs[1].Token != "ock" {
		t.Errorf("HSMs = %+v", o.HSMs)
	}
}

func TestAddTokensOnlyWanted(t *testing.T) {
	var o Options
	release, err := o.AddTokens(Tokens{Backends: []string{BackendGo}, SoftHSM: HSM{Token: "soft"}, OpenCryptoki: HSM{Token: "ock"}})
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	if len(o.HSMs) != 0 {
		t.Errorf("--backend go measured tokens: %+v", o.HSMs)
	}
	release, err = o.AddTokens(Tokens{Backends: []string{BackendOpenCryptoki}, OpenCryptoki: HSM{Token: "ock"}})
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	if len(o.HSMs) != 1 || o.HSMs[0].Backend != BackendOpenCryptoki {
		t.Errorf("HSMs = %+v", o.HSMs)
	}
}
