// Package hsm will hold the PKCS#11 plumbing byok uses to wrap key material
// inside an HSM (module loading, session pool, login, object lookup, the
// CKM_RSA_PKCS_OAEP and CKM_RSA_AES_KEY_WRAP wrap mechanisms and a capability
// probe), so that the plaintext key never leaves the module.
//
// It holds no code yet: it is built under the issue "Wrap inside the HSM".
// Until then, byok wraps software keys only (see byok.WrapKeyMaterial).
package hsm
