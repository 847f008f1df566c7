package hsm

import "github.com/miekg/pkcs11"

// PKCS11 is the part of *pkcs11.Ctx (github.com/miekg/pkcs11) that hsm
// calls. A loaded module is a *pkcs11.Ctx; a test can put a fake in its place
// (see package hsmtest) and see every call hsm makes, with its mechanism,
// parameters and templates.
type PKCS11 interface {
	Initialize(opts ...pkcs11.InitializeOption) error
	Finalize() error
	GetInfo() (pkcs11.Info, error)
	GetSlotList(tokenPresent bool) ([]uint, error)
	GetTokenInfo(slotID uint) (pkcs11.TokenInfo, error)
	GetMechanismList(slotID uint) ([]*pkcs11.Mechanism, error)
	OpenSession(slotID uint, flags uint) (pkcs11.SessionHandle, error)
	CloseSession(sh pkcs11.SessionHandle) error
	Login(sh pkcs11.SessionHandle, userType uint, pin string) error
	CreateObject(sh pkcs11.SessionHandle, temp []*pkcs11.Attribute) (pkcs11.ObjectHandle, error)
	DestroyObject(sh pkcs11.SessionHandle, oh pkcs11.ObjectHandle) error
	GetAttributeValue(sh pkcs11.SessionHandle, o pkcs11.ObjectHandle, a []*pkcs11.Attribute) ([]*pkcs11.Attribute, error)
	FindObjectsInit(sh pkcs11.SessionHandle, temp []*pkcs11.Attribute) error
	FindObjects(sh pkcs11.SessionHandle, max int) ([]pkcs11.ObjectHandle, bool, error)
	FindObjectsFinal(sh pkcs11.SessionHandle) error
	GenerateKey(sh pkcs11.SessionHandle, m []*pkcs11.Mechanism, temp []*pkcs11.Attribute) (pkcs11.ObjectHandle, error)
	GenerateKeyPair(sh pkcs11.SessionHandle, m []*pkcs11.Mechanism, public, private []*pkcs11.Attribute) (pkcs11.ObjectHandle, pkcs11.ObjectHandle, error)
	WrapKey(sh pkcs11.SessionHandle, m []*pkcs11.Mechanism, wrappingkey, key pkcs11.ObjectHandle) ([]byte, error)
	SignInit(sh pkcs11.SessionHandle, m []*pkcs11.Mechanism, o pkcs11.ObjectHandle) error
	Sign(sh pkcs11.SessionHandle, message []byte) ([]byte, error)
	DigestInit(sh pkcs11.SessionHandle, m []*pkcs11.Mechanism) error
	DigestUpdate(sh pkcs11.SessionHandle, message []byte) error
	DigestKey(sh pkcs11.SessionHandle, key pkcs11.ObjectHandle) error
	DigestFinal(sh pkcs11.SessionHandle) ([]byte, error)
}

var _ PKCS11 = (*pkcs11.Ctx)(nil)

// PKCS#11 constants that github.com/miekg/pkcs11 v1.1.2 does not define.
const (
	// CKM_AES_KEY_WRAP_KWP is PKCS#11 v3.0's AES key wrap with padding,
	// exactly RFC 5649 (NIST SP 800-38F KWP). Version 2.40's
	// CKM_AES_KEY_WRAP_PAD (0x210A) was specified loosely, and modules
	// differ in what it does (SoftHSM 2.6.1 zero-pads; see Quirks).
	CKM_AES_KEY_WRAP_KWP = 0x210B //nolint:revive // PKCS#11 spelling

	// CKK_EC_EDWARDS is the key type of Ed25519 and Ed448 keys (PKCS#11
	// v3.0), which KMS does not import.
	CKK_EC_EDWARDS = 0x40 //nolint:revive

)
