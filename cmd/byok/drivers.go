package main

// The key source drivers this build of byok carries. Each registers itself
// with package driver when imported: software (key files), and the PKCS#11
// drivers — pkcs11 (any module), and softhsm, cloudhsm, luna and
// opencryptoki with each vendor's defaults and quirks.
import (
	_ "github.com/byok-go/byok/driver/cloudhsm"
	_ "github.com/byok-go/byok/driver/luna"
	_ "github.com/byok-go/byok/driver/opencryptoki"
	_ "github.com/byok-go/byok/driver/pkcs11"
	_ "github.com/byok-go/byok/driver/softhsm"
	_ "github.com/byok-go/byok/driver/software"
)
