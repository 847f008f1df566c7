// Package driver will hold the key source drivers (software, softhsm,
// cloudhsm, luna, opencryptoki, generic pkcs11), registered by name the way
// database/sql drivers are and constructible directly from a config struct.
//
// It holds no code yet: the software source arrives with the KMS target and
// the HSM drivers with the PKCS#11 layer. Until then, load software keys
// with byok.LoadKeyFile and wrap them with byok.KeyMaterial.Wrap.
package driver
