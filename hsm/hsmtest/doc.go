// Package hsmtest holds what byok's HSM tests need, for this module's tests
// and for anyone testing code built on package hsm:
//
//   - Fake, an in-memory PKCS#11 module that records every call (mechanism,
//     parameters, templates) and performs the cryptography in Go, with
//     switches for the documented behaviour of vendors (AWS CloudHSM, Thales
//     Luna) and for error injection, to stand in for a *pkcs11.Ctx through
//     hsm.Config.API;
//   - SoftHSM, a throwaway SoftHSM2 token directory and configuration;
//   - OpenCryptoki, the system's opencryptoki software token, initialised
//     for tests if needed;
//   - ImportSecret and ImportPrivate, which put keys of known value into a
//     token (extractable, so that they can be migrated and compared);
//   - MustHaveModule, which fails a test on CI and skips it elsewhere when
//     a PKCS#11 library is missing.
//
// THIS IS TEST CODE: the fake keeps keys in memory in the clear, and the
// helpers use well-known PINs.
package hsmtest
