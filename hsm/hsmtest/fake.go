package hsmtest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"encoding/asn1"
	"encoding/binary"
	"fmt"
	"reflect"
	"slices"
	"sync"

	"github.com/byok-go/byok/hsm"
	"github.com/miekg/pkcs11"
)

// Fake is an in-memory PKCS#11 module with one token, for tests: it
// implements hsm.PKCS11 (so it stands in for a *pkcs11.Ctx through
// hsm.Config.API), records every call with its decoded mechanism
// parameters and templates, and performs the cryptography in Go, so that
// what it wraps can be unwrapped and imported. Its behaviour fields model
// what a vendor documents; set them before first use. PINs are never
// recorded.
type Fake struct {
	// TokenLabel is the token's label; empty: "fake".
	TokenLabel string
	// PIN is the user PIN C_Login accepts (for UserPassword, the whole
	// "user:password").
	PIN []byte
	// UserPassword makes C_Login refuse a PIN that is not "user:password"
	// with CKR_PIN_INCORRECT (AWS CloudHSM).
	UserPassword bool
	// Mechanisms is the mechanism list; C_WrapKey and C_Sign with a
	// mechanism not in it fail with CKR_MECHANISM_INVALID.
	Mechanisms []uint
	// OAEPHashes are the hashAlg values CKM_RSA_PKCS_OAEP accepts
	// (CKM_SHA_1, CKM_SHA256, …); others fail with
	// CKR_MECHANISM_PARAM_INVALID. The MGF must be MGF1 with the same hash
	// and the source CKZ_DATA_SPECIFIED with no data.
	OAEPHashes []uint
	// OAEPZeroIsSHA1 makes hashAlg 0 mean SHA-1 (Luna's firmware default);
	// otherwise 0 is refused.
	OAEPZeroIsSHA1 bool
	// PrivateKeyOAEP lets CKM_RSA_PKCS_OAEP wrap private keys; otherwise
	// that fails with CKR_KEY_NOT_WRAPPABLE.
	PrivateKeyOAEP bool
	// WrapNeedsEncrypt makes C_WrapKey under an RSA public key require
	// CKA_ENCRYPT=true on it as well as CKA_WRAP (Luna's procedure sets both).
	WrapNeedsEncrypt bool
	// Fail, when set, is called before each call is performed; a non-nil
	// result fails the call with that error (error injection).
	Fail func(c *Call) error

	mu       sync.Mutex
	init     bool
	loggedIn bool
	sessions map[pkcs11.SessionHandle]*fakeSession
	objects  map[pkcs11.ObjectHandle]*object
	next     uint
	calls    []Call
	// Per-session operation state: C_FindObjects matches, C_Sign and
	// C_Digest operations.
	finds, signs, digests sync.Map
}

var _ hsm.PKCS11 = (*Fake)(nil)

// FakeSlot is the slot of the fake's token.
const FakeSlot = 7

// Call is one recorded call.
type Call struct {
	// Func is the PKCS#11 function, e.g. "C_WrapKey".
	Func    string
	Session pkcs11.SessionHandle
	// Mechanism and its decoded parameters (OAEP for CKM_RSA_PKCS_OAEP, RSAAES
	// for CKM_RSA_AES_KEY_WRAP, Raw otherwise).
	Mechanism uint
	OAEP      *pkcs11.OAEPParams
	RSAAES    *pkcs11.RSAAESKeyWrapParams
	Raw       []byte
	// Template holds the attributes given (C_CreateObject, C_GenerateKey,
	// C_FindObjectsInit; the private template of C_GenerateKeyPair), secret
	// values (CKA_VALUE and private key components) removed.
	Template map[uint][]byte
	// Object is the object acted on or created; Key the key wrapped or
	// used (C_WrapKey's wrapping key is Object, the wrapped key Key).
	Object, Key pkcs11.ObjectHandle
	// UserType is C_Login's user type.
	UserType uint
	// Err is the call's result.
	Err error
}

type fakeSession struct{}

type object struct {
	attrs   map[uint][]byte
	session pkcs11.SessionHandle // creator, for session objects
}

func (o *object) ulong(t uint) uint {
	v, ok := o.attrs[t]
	if !ok || len(v) != 8 {
		return ^uint(0)
	}
	return uint(binary.NativeEndian.Uint64(v))
}

func (o *object) bool(t uint) bool { v := o.attrs[t]; return len(v) == 1 && v[0] != 0 }

func ulong(x uint) []byte { return pkcs11.NewAttribute(0, x).Value }

func boolean(b bool) []byte {
	if b {
		return []byte{1}
	}
	return []byte{0}
}

// secretAttrs are never recorded or returned for sensitive objects.
var secretAttrs = []uint{pkcs11.CKA_VALUE, pkcs11.CKA_PRIVATE_EXPONENT, pkcs11.CKA_PRIME_1, pkcs11.CKA_PRIME_2,
	pkcs11.CKA_EXPONENT_1, pkcs11.CKA_EXPONENT_2, pkcs11.CKA_COEFFICIENT}

func templateMap(t []*pkcs11.Attribute) map[uint][]byte {
	m := map[uint][]byte{}
	for _, a := range t {
		m[a.Type] = append([]byte(nil), a.Value...)
	}
	return m
}

func recorded(m map[uint][]byte) map[uint][]byte {
	out := map[uint][]byte{}
	for k, v := range m {
		if !slices.Contains(secretAttrs, k) {
			out[k] = v
		}
	}
	return out
}

// MechanismParams decodes the parameters github.com/miekg/pkcs11 keeps
// inside a *pkcs11.Mechanism until the call (they hold C pointers): OAEP
// for CKM_RSA_PKCS_OAEP, RSAAES for CKM_RSA_AES_KEY_WRAP, nil otherwise.
func MechanismParams(m *pkcs11.Mechanism) (oaep *pkcs11.OAEPParams, rsaaes *pkcs11.RSAAESKeyWrapParams) {
	f := reflect.ValueOf(m).Elem().FieldByName("generator")
	if !f.IsValid() || f.IsNil() {
		return nil, nil
	}
	e := f.Elem()
	if e.Kind() != reflect.Pointer {
		return nil, nil
	}
	switch p := reflect.NewAt(e.Type().Elem(), e.UnsafePointer()).Interface().(type) {
	case *pkcs11.OAEPParams:
		c := *p
		c.SourceData = slices.Clone(p.SourceData)
		return &c, nil
	case *pkcs11.RSAAESKeyWrapParams:
		c := *p
		c.OAEPParams.SourceData = slices.Clone(p.OAEPParams.SourceData)
		return nil, &c
	}
	return nil, nil
}

func (f *Fake) record(c Call) error {
	if f.Fail != nil {
		if err := f.Fail(&c); err != nil {
			c.Err = err
			f.calls = append(f.calls, c)
			return err
		}
	}
	f.calls = append(f.calls, c)
	return nil
}

// result stores a call's outcome in its record.
func (f *Fake) result(err error) error {
	if len(f.calls) > 0 && f.calls[len(f.calls)-1].Err == nil {
		f.calls[len(f.calls)-1].Err = err
	}
	return err
}

func mechCall(fn string, sh pkcs11.SessionHandle, m []*pkcs11.Mechanism) Call {
	c := Call{Func: fn, Session: sh}
	if len(m) == 1 {
		c.Mechanism = m[0].Mechanism
		c.OAEP, c.RSAAES = MechanismParams(m[0])
		c.Raw = slices.Clone(m[0].Parameter)
	}
	return c
}

// Calls returns the calls recorded so far.
func (f *Fake) Calls() []Call {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

// CallsTo returns the recorded calls of one function.
func (f *Fake) CallsTo(fn string) []Call {
	var out []Call
	for _, c := range f.Calls() {
		if c.Func == fn {
			out = append(out, c)
		}
	}
	return out
}

// SessionObjects returns the number of session objects (CKA_TOKEN false)
// that exist: after byok is done, none of its own should remain.
func (f *Fake) SessionObjects() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, o := range f.objects {
		if !o.bool(pkcs11.CKA_TOKEN) {
			n++
		}
	}
	return n
}

// OpenSessions returns the number of open sessions.
func (f *Fake) OpenSessions() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.sessions)
}

// Initialize implements C_Initialize (CKR_CRYPTOKI_ALREADY_INITIALIZED the
// second time).
func (f *Fake) Initialize(...pkcs11.InitializeOption) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.record(Call{Func: "C_Initialize"}); err != nil {
		return err
	}
	if f.init {
		return f.result(pkcs11.Error(pkcs11.CKR_CRYPTOKI_ALREADY_INITIALIZED))
	}
	f.init = true
	if f.sessions == nil {
		f.sessions = map[pkcs11.SessionHandle]*fakeSession{}
		f.objects = map[pkcs11.ObjectHandle]*object{}
	}
	return nil
}

// Finalize implements C_Finalize: sessions close, the login ends; objects
// stay.
func (f *Fake) Finalize() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record(Call{Func: "C_Finalize"})
	f.init = false
	f.sessions = map[pkcs11.SessionHandle]*fakeSession{}
	f.loggedIn = false
	return nil
}

// GetInfo implements C_GetInfo.
func (f *Fake) GetInfo() (pkcs11.Info, error) {
	return pkcs11.Info{ManufacturerID: "byok hsmtest", LibraryDescription: "fake PKCS#11 module"}, nil
}

// GetSlotList implements C_GetSlotList: one slot, FakeSlot.
func (f *Fake) GetSlotList(bool) ([]uint, error) { return []uint{FakeSlot}, nil }

// GetTokenInfo implements C_GetTokenInfo: an initialised token labelled
// TokenLabel.
func (f *Fake) GetTokenInfo(slot uint) (pkcs11.TokenInfo, error) {
	if slot != FakeSlot {
		return pkcs11.TokenInfo{}, pkcs11.Error(pkcs11.CKR_SLOT_ID_INVALID)
	}
	label := f.TokenLabel
	if label == "" {
		label = "fake"
	}
	return pkcs11.TokenInfo{Label: label, ManufacturerID: "byok", Model: "hsmtest.Fake", SerialNumber: "0001",
		Flags: pkcs11.CKF_TOKEN_INITIALIZED | pkcs11.CKF_LOGIN_REQUIRED | pkcs11.CKF_USER_PIN_INITIALIZED}, nil
}

// GetMechanismList implements C_GetMechanismList: Mechanisms.
func (f *Fake) GetMechanismList(uint) ([]*pkcs11.Mechanism, error) {
	var out []*pkcs11.Mechanism
	for _, m := range f.Mechanisms {
		out = append(out, pkcs11.NewMechanism(m, nil))
	}
	return out, nil
}

// OpenSession implements C_OpenSession.
func (f *Fake) OpenSession(slot uint, flags uint) (pkcs11.SessionHandle, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.record(Call{Func: "C_OpenSession"}); err != nil {
		return 0, err
	}
	if slot != FakeSlot {
		return 0, f.result(pkcs11.Error(pkcs11.CKR_SLOT_ID_INVALID))
	}
	f.next++
	sh := pkcs11.SessionHandle(f.next)
	f.sessions[sh] = &fakeSession{}
	return sh, nil
}

// CloseSession implements C_CloseSession: the session objects it made are
// destroyed, and closing the last session logs out.
func (f *Fake) CloseSession(sh pkcs11.SessionHandle) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record(Call{Func: "C_CloseSession", Session: sh})
	if f.sessions[sh] == nil {
		return f.result(pkcs11.Error(pkcs11.CKR_SESSION_HANDLE_INVALID))
	}
	delete(f.sessions, sh)
	for h, o := range f.objects {
		if o.session == sh && !o.bool(pkcs11.CKA_TOKEN) {
			delete(f.objects, h)
		}
	}
	if len(f.sessions) == 0 {
		f.loggedIn = false
	}
	return nil
}

func (f *Fake) session(sh pkcs11.SessionHandle) error {
	if !f.init {
		return pkcs11.Error(pkcs11.CKR_CRYPTOKI_NOT_INITIALIZED)
	}
	if f.sessions[sh] == nil {
		return pkcs11.Error(pkcs11.CKR_SESSION_HANDLE_INVALID)
	}
	return nil
}

// Login implements C_Login as CKU_USER with PIN (and, with UserPassword, the
// "user:password" form).
func (f *Fake) Login(sh pkcs11.SessionHandle, userType uint, pin string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.record(Call{Func: "C_Login", Session: sh, UserType: userType}); err != nil {
		return err
	}
	if err := f.session(sh); err != nil {
		return f.result(err)
	}
	if f.loggedIn {
		return f.result(pkcs11.Error(pkcs11.CKR_USER_ALREADY_LOGGED_IN))
	}
	if userType != pkcs11.CKU_USER {
		return f.result(pkcs11.Error(pkcs11.CKR_USER_TYPE_INVALID))
	}
	if f.UserPassword {
		if u, p, ok := bytes.Cut([]byte(pin), []byte(":")); !ok || len(u) == 0 || len(p) == 0 {
			return f.result(pkcs11.Error(pkcs11.CKR_PIN_INCORRECT))
		}
	}
	if !hmac.Equal([]byte(pin), f.PIN) {
		return f.result(pkcs11.Error(pkcs11.CKR_PIN_INCORRECT))
	}
	f.loggedIn = true
	return nil
}

func (f *Fake) newObject(sh pkcs11.SessionHandle, attrs map[uint][]byte) pkcs11.ObjectHandle {
	f.next++
	h := pkcs11.ObjectHandle(f.next)
	if _, ok := attrs[pkcs11.CKA_TOKEN]; !ok {
		attrs[pkcs11.CKA_TOKEN] = boolean(false)
	}
	if _, ok := attrs[pkcs11.CKA_PRIVATE]; !ok {
		cls := (&object{attrs: attrs}).ulong(pkcs11.CKA_CLASS)
		attrs[pkcs11.CKA_PRIVATE] = boolean(cls == pkcs11.CKO_PRIVATE_KEY || cls == pkcs11.CKO_SECRET_KEY)
	}
	if v, ok := attrs[pkcs11.CKA_VALUE]; ok && (&object{attrs: attrs}).ulong(pkcs11.CKA_CLASS) == pkcs11.CKO_SECRET_KEY {
		attrs[pkcs11.CKA_VALUE_LEN] = ulong(uint(len(v)))
	}
	f.objects[h] = &object{attrs: attrs, session: sh}
	return h
}

// CreateObject implements C_CreateObject.
func (f *Fake) CreateObject(sh pkcs11.SessionHandle, temp []*pkcs11.Attribute) (pkcs11.ObjectHandle, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	attrs := templateMap(temp)
	c := Call{Func: "C_CreateObject", Session: sh, Template: recorded(attrs)}
	if err := f.record(c); err != nil {
		return 0, err
	}
	if err := f.session(sh); err != nil {
		return 0, f.result(err)
	}
	if (&object{attrs: attrs}).ulong(pkcs11.CKA_CLASS) == ^uint(0) {
		return 0, f.result(pkcs11.Error(pkcs11.CKR_TEMPLATE_INCOMPLETE))
	}
	h := f.newObject(sh, attrs)
	f.calls[len(f.calls)-1].Object = h
	return h, nil
}

// DestroyObject implements C_DestroyObject.
func (f *Fake) DestroyObject(sh pkcs11.SessionHandle, oh pkcs11.ObjectHandle) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.record(Call{Func: "C_DestroyObject", Session: sh, Object: oh}); err != nil {
		return err
	}
	if err := f.session(sh); err != nil {
		return f.result(err)
	}
	if f.objects[oh] == nil {
		return f.result(pkcs11.Error(pkcs11.CKR_OBJECT_HANDLE_INVALID))
	}
	delete(f.objects, oh)
	return nil
}

// visible reports whether the session may see o.
func (f *Fake) visible(o *object) bool { return f.loggedIn || !o.bool(pkcs11.CKA_PRIVATE) }

// GetAttributeValue implements C_GetAttributeValue; secret values of
// sensitive or unextractable keys fail with CKR_ATTRIBUTE_SENSITIVE.
func (f *Fake) GetAttributeValue(sh pkcs11.SessionHandle, oh pkcs11.ObjectHandle, a []*pkcs11.Attribute) ([]*pkcs11.Attribute, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.session(sh); err != nil {
		return nil, err
	}
	o := f.objects[oh]
	if o == nil || !f.visible(o) {
		return nil, pkcs11.Error(pkcs11.CKR_OBJECT_HANDLE_INVALID)
	}
	var out []*pkcs11.Attribute
	for _, want := range a {
		v, ok := o.attrs[want.Type]
		if !ok {
			return nil, pkcs11.Error(pkcs11.CKR_ATTRIBUTE_TYPE_INVALID)
		}
		if slices.Contains(secretAttrs, want.Type) && (o.bool(pkcs11.CKA_SENSITIVE) || !o.bool(pkcs11.CKA_EXTRACTABLE)) &&
			o.ulong(pkcs11.CKA_CLASS) != pkcs11.CKO_PUBLIC_KEY {
			return nil, pkcs11.Error(pkcs11.CKR_ATTRIBUTE_SENSITIVE)
		}
		out = append(out, pkcs11.NewAttribute(want.Type, slices.Clone(v)))
	}
	return out, nil
}

// FindObjectsInit implements C_FindObjectsInit: private objects are found
// only after login.
func (f *Fake) FindObjectsInit(sh pkcs11.SessionHandle, temp []*pkcs11.Attribute) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	want := templateMap(temp)
	if err := f.record(Call{Func: "C_FindObjectsInit", Session: sh, Template: recorded(want)}); err != nil {
		return err
	}
	if err := f.session(sh); err != nil {
		return f.result(err)
	}
	var match []pkcs11.ObjectHandle
	for h, o := range f.objects {
		if !f.visible(o) {
			continue
		}
		ok := true
		for k, v := range want {
			if !bytes.Equal(o.attrs[k], v) {
				ok = false
			}
		}
		if ok {
			match = append(match, h)
		}
	}
	slices.Sort(match)
	f.finds.Store(sh, match)
	return nil
}

// FindObjects implements C_FindObjects.
func (f *Fake) FindObjects(sh pkcs11.SessionHandle, max int) ([]pkcs11.ObjectHandle, bool, error) {
	v, ok := f.finds.Load(sh)
	if !ok {
		return nil, false, pkcs11.Error(pkcs11.CKR_OPERATION_NOT_INITIALIZED)
	}
	hs := v.([]pkcs11.ObjectHandle)
	n := min(max, len(hs))
	f.finds.Store(sh, hs[n:])
	return hs[:n], false, nil
}

// FindObjectsFinal implements C_FindObjectsFinal.
func (f *Fake) FindObjectsFinal(sh pkcs11.SessionHandle) error {
	f.finds.Delete(sh)
	return nil
}

func (f *Fake) mechanismOK(m []*pkcs11.Mechanism) error {
	if len(m) != 1 || !slices.Contains(f.Mechanisms, m[0].Mechanism) {
		return pkcs11.Error(pkcs11.CKR_MECHANISM_INVALID)
	}
	return nil
}

// GenerateKey implements C_GenerateKey for CKM_AES_KEY_GEN and
// CKM_GENERIC_SECRET_KEY_GEN.
func (f *Fake) GenerateKey(sh pkcs11.SessionHandle, m []*pkcs11.Mechanism, temp []*pkcs11.Attribute) (pkcs11.ObjectHandle, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	attrs := templateMap(temp)
	c := mechCall("C_GenerateKey", sh, m)
	c.Template = recorded(attrs)
	if err := f.record(c); err != nil {
		return 0, err
	}
	if err := f.session(sh); err != nil {
		return 0, f.result(err)
	}
	if err := f.mechanismOK(m); err != nil {
		return 0, f.result(err)
	}
	n := (&object{attrs: attrs}).ulong(pkcs11.CKA_VALUE_LEN)
	switch m[0].Mechanism {
	case pkcs11.CKM_AES_KEY_GEN:
		if n != 16 && n != 24 && n != 32 {
			return 0, f.result(pkcs11.Error(pkcs11.CKR_TEMPLATE_INCONSISTENT))
		}
		attrs[pkcs11.CKA_KEY_TYPE] = ulong(pkcs11.CKK_AES)
	case pkcs11.CKM_GENERIC_SECRET_KEY_GEN:
		if n == 0 || n > 512 {
			return 0, f.result(pkcs11.Error(pkcs11.CKR_TEMPLATE_INCONSISTENT))
		}
		attrs[pkcs11.CKA_KEY_TYPE] = ulong(pkcs11.CKK_GENERIC_SECRET)
	default:
		return 0, f.result(pkcs11.Error(pkcs11.CKR_MECHANISM_INVALID))
	}
	attrs[pkcs11.CKA_CLASS] = ulong(pkcs11.CKO_SECRET_KEY)
	v := make([]byte, n)
	rand.Read(v)
	attrs[pkcs11.CKA_VALUE] = v
	h := f.newObject(sh, attrs)
	f.calls[len(f.calls)-1].Object = h
	return h, nil
}

// GenerateKeyPair implements C_GenerateKeyPair for CKM_EC_KEY_PAIR_GEN on
// P-256, P-384 and P-521.
func (f *Fake) GenerateKeyPair(sh pkcs11.SessionHandle, m []*pkcs11.Mechanism, public, private []*pkcs11.Attribute) (pkcs11.ObjectHandle, pkcs11.ObjectHandle, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	pub, priv := templateMap(public), templateMap(private)
	c := mechCall("C_GenerateKeyPair", sh, m)
	c.Template = recorded(priv)
	if err := f.record(c); err != nil {
		return 0, 0, err
	}
	if err := f.session(sh); err != nil {
		return 0, 0, f.result(err)
	}
	if err := f.mechanismOK(m); err != nil || m[0].Mechanism != pkcs11.CKM_EC_KEY_PAIR_GEN {
		return 0, 0, f.result(pkcs11.Error(pkcs11.CKR_MECHANISM_INVALID))
	}
	var curve elliptic.Curve
	for _, name := range []string{"P-256", "P-384", "P-521"} {
		if p, _ := hsm.ECParams(name); bytes.Equal(p, pub[pkcs11.CKA_EC_PARAMS]) {
			curve = map[string]elliptic.Curve{"P-256": elliptic.P256(), "P-384": elliptic.P384(), "P-521": elliptic.P521()}[name]
		}
	}
	if curve == nil {
		return 0, 0, f.result(pkcs11.Error(pkcs11.CKR_CURVE_NOT_SUPPORTED))
	}
	k, _ := ecdsa.GenerateKey(curve, rand.Reader)
	d, _ := k.Bytes()
	point, _ := k.PublicKey.Bytes()
	der, _ := asn1.Marshal(point)
	pub[pkcs11.CKA_CLASS], pub[pkcs11.CKA_KEY_TYPE], pub[pkcs11.CKA_EC_POINT] = ulong(pkcs11.CKO_PUBLIC_KEY), ulong(pkcs11.CKK_EC), der
	priv[pkcs11.CKA_CLASS], priv[pkcs11.CKA_KEY_TYPE] = ulong(pkcs11.CKO_PRIVATE_KEY), ulong(pkcs11.CKK_EC)
	priv[pkcs11.CKA_EC_PARAMS], priv[pkcs11.CKA_VALUE] = pub[pkcs11.CKA_EC_PARAMS], d
	ph, vh := f.newObject(sh, pub), f.newObject(sh, priv)
	f.calls[len(f.calls)-1].Object = vh
	return ph, vh, nil
}

// Value returns the secret value of a key object (the fake is test code;
// a real module never does this for a sensitive key).
func (f *Fake) Value(h pkcs11.ObjectHandle) []byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	if o := f.objects[h]; o != nil {
		return slices.Clone(o.attrs[pkcs11.CKA_VALUE])
	}
	return nil
}

// String describes the fake's behaviour.
func (f *Fake) String() string {
	return fmt.Sprintf("hsmtest.Fake{mechanisms %#x, OAEP hashes %#x}", f.Mechanisms, f.OAEPHashes)
}
