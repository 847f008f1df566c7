package hsm

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/asn1"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/byok-go/byok"
	"github.com/byok-go/byok/internal/kwp"
	"github.com/miekg/pkcs11"
)

// Capabilities is what a module and token can do towards AWS KMS import,
// each entry meaning "produces exactly what KMS imports", not merely "is in
// the mechanism list": mechanism lists lie by omission (SoftHSM 2.6.1 lists
// CKM_RSA_PKCS_OAEP for wrapping and refuses SHA-256 with it).
type Capabilities struct {
	// OAEP lists the hashes with which CKM_RSA_PKCS_OAEP (MGF1 with the
	// same hash, no label) wraps a secret key so that it decrypts to the key.
	OAEP []crypto.Hash
	// RSAAESKeyWrap lists the hashes with which the native
	// CKM_RSA_AES_KEY_WRAP (256-bit AES) produces exactly KMS's
	// RSA_AES_KEY_WRAP_SHA_*.
	RSAAESKeyWrap []crypto.Hash
	// RSAAESKeyWrapZeroFill lists the hashes with which the native
	// CKM_RSA_AES_KEY_WRAP works but zero-fills input that is not a
	// multiple of 8 bytes (see AESKeyWrapZeroFills); they are then not in
	// RSAAESKeyWrap.
	RSAAESKeyWrapZeroFill []crypto.Hash
	// AESKeyWrap is the AES key wrap mechanism of the two-step path
	// (ephemeral AES-256 key, key wrap with it, RSA-OAEP of it):
	// CKM_AES_KEY_WRAP_KWP (0x210B) or CKM_AES_KEY_WRAP_PAD (0x210A); 0 if
	// the module has neither.
	AESKeyWrap uint
	// AESKeyWrapZeroFills is true when AESKeyWrap pads input that is not a
	// multiple of 8 bytes with zeros and counts them in RFC 5649's length
	// field, as SoftHSM 2.6.1's CKM_AES_KEY_WRAP_PAD does: the result is RFC
	// 5649 only for input whose length is a multiple of 8, and otherwise
	// unwraps to the key followed by up to 7 zero bytes.
	AESKeyWrapZeroFills bool
	// PrivateKeyOAEP is true when CKM_RSA_PKCS_OAEP also wraps private keys
	// (as PKCS#8), which lets EC keys use RSAES_OAEP_*.
	PrivateKeyOAEP bool
	// ECPKCS8PublicKey is true when the PKCS#8 the module exports for EC
	// private keys carries the public key, as KMS requires. (SoftHSM 2.6.1's
	// does not.)
	ECPKCS8PublicKey bool
	// ECProbed is true when the EC entries were learned by a trial wrap
	// rather than taken from the profile.
	ECProbed bool
	// Probed is true when the capabilities were learned by trial wraps of
	// throwaway keys; false when they come from the profile.
	Probed bool
	// Findings says, in sentences, what the probe saw (for logs and errors).
	Findings []string
}

func (c *Capabilities) note(format string, args ...any) {
	c.Findings = append(c.Findings, fmt.Sprintf(format, args...))
}

func hashName(h crypto.Hash) string {
	if h == crypto.SHA1 {
		return "SHA-1"
	}
	return h.String()
}

func oaepParams(h crypto.Hash) *pkcs11.OAEPParams {
	if h == crypto.SHA1 {
		return pkcs11.NewOAEPParams(pkcs11.CKM_SHA_1, pkcs11.CKG_MGF1_SHA1, pkcs11.CKZ_DATA_SPECIFIED, nil)
	}
	return pkcs11.NewOAEPParams(pkcs11.CKM_SHA256, pkcs11.CKG_MGF1_SHA256, pkcs11.CKZ_DATA_SPECIFIED, nil)
}

// oaepMechanism is CKM_RSA_PKCS_OAEP with the hash and MGF1 hash set
// explicitly (some modules default to SHA-1 when hashAlg is 0, as Luna's
// documentation says its firmware does) and no source data (KMS uses an
// empty label).
func oaepMechanism(h crypto.Hash) []*pkcs11.Mechanism {
	return []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_RSA_PKCS_OAEP, oaepParams(h))}
}

// rsaAESMechanism is CKM_RSA_AES_KEY_WRAP with CK_RSA_AES_KEY_WRAP_PARAMS:
// a 256-bit AES key and OAEP with hash h.
func rsaAESMechanism(h crypto.Hash) []*pkcs11.Mechanism {
	return []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_RSA_AES_KEY_WRAP,
		&pkcs11.RSAAESKeyWrapParams{AESKeyBits: 256, OAEPParams: *oaepParams(h)})}
}

func mechName(m uint) string {
	switch m {
	case CKM_AES_KEY_WRAP_KWP:
		return "CKM_AES_KEY_WRAP_KWP"
	case pkcs11.CKM_AES_KEY_WRAP_PAD:
		return "CKM_AES_KEY_WRAP_PAD"
	}
	return fmt.Sprintf("mechanism %#x", m)
}

// probeState caches the probe of one token of a module.
type probeState struct {
	mu     sync.Mutex
	caps   *Capabilities // nil until the secret-key probe succeeded
	ecDone bool
}

// probeWrappingKey is the throwaway RSA key pair the probe wraps under; its
// private half lets the probe check what the module produced.
var probeWrappingKey = sync.OnceValues(func() (*rsa.PrivateKey, error) { return rsa.GenerateKey(rand.Reader, 2048) })

func (t *Token) probeKey() string {
	return fmt.Sprintf("%d/%s/%s", t.info.Slot, t.info.Serial, t.info.Label)
}

// Capabilities probes the token, once per module and token in this
// process, with trial wraps of throwaway session keys (never the key being
// migrated), and caches the result. With ec true it also learns how EC
// private keys come out (a throwaway P-256 key pair). Without probing
// (profile NoProbe) the profile's documented capabilities are returned.
func (t *Token) Capabilities(ctx context.Context, ec bool) (*Capabilities, error) {
	t.mod.probeMu.Lock()
	st := t.mod.probes[t.probeKey()]
	if st == nil {
		st = &probeState{}
		t.mod.probes[t.probeKey()] = st
	}
	t.mod.probeMu.Unlock()
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.caps == nil {
		c, err := t.probeSecret(ctx)
		if err != nil {
			return nil, err
		}
		st.caps = c
	}
	if ec && !st.ecDone {
		c := clone(st.caps)
		if err := t.probeEC(ctx, c); err != nil {
			return nil, err
		}
		st.caps, st.ecDone = c, true
	}
	return clone(st.caps), nil
}

func clone(c *Capabilities) *Capabilities {
	d := *c
	d.OAEP = slices.Clone(c.OAEP)
	d.RSAAESKeyWrap = slices.Clone(c.RSAAESKeyWrap)
	d.RSAAESKeyWrapZeroFill = slices.Clone(c.RSAAESKeyWrapZeroFill)
	d.Findings = slices.Clone(c.Findings)
	return &d
}

// throwaway makes session objects and destroys them all at the end.
type throwaway struct {
	api  PKCS11
	sh   pkcs11.SessionHandle
	objs []pkcs11.ObjectHandle
}

func (w *throwaway) add(h pkcs11.ObjectHandle) pkcs11.ObjectHandle {
	w.objs = append(w.objs, h)
	return h
}

func (w *throwaway) destroy() error {
	var first error
	for _, h := range w.objs {
		if err := w.api.DestroyObject(w.sh, h); err != nil && first == nil {
			first = err
		}
	}
	w.objs = nil
	return first
}

// withThrowaway runs fn with a throwaway list for the session sh and
// destroys what fn made; if that fails, the error asks the pool to close
// the session, which destroys its session objects.
func withThrowaway(api PKCS11, sh pkcs11.SessionHandle, fn func(w *throwaway) error) error {
	w := &throwaway{api: api, sh: sh}
	err := fn(w)
	if derr := w.destroy(); derr != nil {
		return errCloseSession{rvError("destroying the probe's throwaway session objects", derr, false)}
	}
	return err
}

// probeSecret learns the OAEP hashes, the native CKM_RSA_AES_KEY_WRAP
// hashes and the AES key wrap of the two-step path, with a throwaway
// 28-byte generic secret (28: not a multiple of 8, so that zero-filling
// shows) wrapped under a throwaway RSA key whose private half byok holds.
func (t *Token) probeSecret(ctx context.Context) (*Capabilities, error) {
	priv, err := probeWrappingKey()
	if err != nil {
		return nil, err
	}
	c := &Capabilities{Probed: true}
	err = t.WithSession(ctx, func(sh pkcs11.SessionHandle) error {
		return withThrowaway(t.mod.api, sh, func(w *throwaway) error { return t.probeSecretIn(sh, w, c, priv) })
	})
	if err != nil {
		var cs errCloseSession
		if errors.As(err, &cs) {
			err = cs.error
		}
		return nil, err
	}
	return c, nil
}

func (t *Token) probeSecretIn(sh pkcs11.SessionHandle, w *throwaway, c *Capabilities, priv *rsa.PrivateKey) error {
	api := t.mod.api
	pub, err := importWrappingKey(api, sh, &priv.PublicKey, t.opts.Profile.WrappingKeyEncrypt)
	if err != nil {
		return err
	}
	w.add(pub)
	const n = 28
	g, known, err := throwawaySecret(api, sh, n)
	if err != nil {
		return err
	}
	w.add(g)
	var value []byte // the throwaway secret, once an OAEP wrap revealed it
	defer func() { clear(value) }()
	if known != nil {
		value = known
	}
	for _, h := range []crypto.Hash{crypto.SHA256, crypto.SHA1} {
		out, err := api.WrapKey(sh, oaepMechanism(h), pub, g)
		if err != nil {
			c.note("CKM_RSA_PKCS_OAEP with %s: %v", hashName(h), err)
			continue
		}
		pt, err := rsa.DecryptOAEP(h.New(), nil, priv, out, nil)
		switch {
		case err != nil:
			c.note("CKM_RSA_PKCS_OAEP with %s: the output does not decrypt as RSA-OAEP with %s and MGF1-%s (the module may ignore the parameters)", hashName(h), hashName(h), hashName(h))
		case len(pt) != n || (value != nil && !bytes.Equal(pt, value)):
			c.note("CKM_RSA_PKCS_OAEP with %s: the output decrypts to %d bytes, not the %d-byte key", hashName(h), len(pt), n)
		default:
			c.OAEP = append(c.OAEP, h)
			value = pt
		}
	}
	for _, h := range []crypto.Hash{crypto.SHA256, crypto.SHA1} {
		out, err := api.WrapKey(sh, rsaAESMechanism(h), pub, g)
		if err != nil {
			c.note("CKM_RSA_AES_KEY_WRAP with %s: %v", hashName(h), err)
			continue
		}
		alg := byok.RSAAESKeyWrapSHA256
		if h == crypto.SHA1 {
			alg = byok.RSAAESKeyWrapSHA1
		}
		pt, err := byok.UnwrapKeyMaterial(priv, alg, out)
		switch {
		case err != nil:
			c.note("CKM_RSA_AES_KEY_WRAP with %s: the output is not KMS's %s", hashName(h), alg)
		case zeroFilled(pt, value, n):
			c.note("CKM_RSA_AES_KEY_WRAP with %s: the module zero-fills a %d-byte key to %d bytes inside RFC 5649 (the result is exact only for keys whose length is a multiple of 8)", hashName(h), n, len(pt))
			c.RSAAESKeyWrapZeroFill = append(c.RSAAESKeyWrapZeroFill, h)
		case len(pt) != n || (value != nil && !bytes.Equal(pt, value)):
			c.note("CKM_RSA_AES_KEY_WRAP with %s: the output does not unwrap to the key", hashName(h))
		default:
			c.RSAAESKeyWrap = append(c.RSAAESKeyWrap, h)
		}
		clear(pt)
	}
	if len(c.OAEP) == 0 {
		c.note("no OAEP: the two-step path (ephemeral AES key, then RSA-OAEP of it) is impossible")
		return nil
	}
	return t.probeAESKeyWrap(sh, w, c, priv, pub, g, value, n)
}

// zeroFilled reports whether pt is the n-byte value followed by the zeros
// that fill it to a multiple of 8.
func zeroFilled(pt, value []byte, n int) bool {
	if n%8 == 0 || len(pt) != (n+7)&^7 || !bytes.Equal(pt[n:], make([]byte, len(pt)-n)) {
		return false
	}
	return value == nil || bytes.Equal(pt[:n], value)
}

func (t *Token) probeAESKeyWrap(sh pkcs11.SessionHandle, w *throwaway, c *Capabilities, priv *rsa.PrivateKey, pub, g pkcs11.ObjectHandle, value []byte, n int) error {
	api := t.mod.api
	eph, err := generateEphemeral(api, sh)
	if err != nil {
		c.note("generating an ephemeral AES-256 session key: %v", err)
		return nil
	}
	w.add(eph)
	h := c.OAEP[0]
	head, err := api.WrapKey(sh, oaepMechanism(h), pub, eph)
	if err != nil {
		c.note("CKM_RSA_PKCS_OAEP of an ephemeral AES key: %v", err)
		return nil
	}
	kek, err := rsa.DecryptOAEP(h.New(), nil, priv, head, nil)
	if err != nil || len(kek) != 32 {
		c.note("CKM_RSA_PKCS_OAEP of an ephemeral AES key does not decrypt to 32 bytes")
		return nil
	}
	defer clear(kek)
	for _, m := range []uint{CKM_AES_KEY_WRAP_KWP, pkcs11.CKM_AES_KEY_WRAP_PAD} {
		tail, err := api.WrapKey(sh, []*pkcs11.Mechanism{pkcs11.NewMechanism(m, nil)}, eph, g)
		if err != nil {
			c.note("%s: %v", mechName(m), err)
			continue
		}
		pt, err := kwp.Unwrap(kek, tail)
		switch {
		case err != nil:
			c.note("%s: the output is not RFC 5649", mechName(m))
		case zeroFilled(pt, value, n):
			c.note("%s zero-fills a %d-byte key to %d bytes and counts the zeros in RFC 5649's length field: exact only for material whose length is a multiple of 8", mechName(m), n, len(pt))
			if c.AESKeyWrap == 0 {
				c.AESKeyWrap, c.AESKeyWrapZeroFills = m, true
			}
		case len(pt) != n || (value != nil && !bytes.Equal(pt, value)):
			c.note("%s: the output does not unwrap to the key", mechName(m))
		default:
			c.AESKeyWrap, c.AESKeyWrapZeroFills = m, false
			clear(pt)
			return nil
		}
		clear(pt)
	}
	return nil
}

// throwawaySecret makes an extractable n-byte generic secret session key:
// generated in the module, or (if the module cannot generate one) created
// from random bytes, which are then known.
func throwawaySecret(api PKCS11, sh pkcs11.SessionHandle, n int) (pkcs11.ObjectHandle, []byte, error) {
	tmpl := []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_SECRET_KEY),
		pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_GENERIC_SECRET),
		pkcs11.NewAttribute(pkcs11.CKA_TOKEN, false),
		pkcs11.NewAttribute(pkcs11.CKA_EXTRACTABLE, true),
		pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, true),
		pkcs11.NewAttribute(pkcs11.CKA_LABEL, "byok probe"),
	}
	h, err := api.GenerateKey(sh, []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_GENERIC_SECRET_KEY_GEN, nil)},
		append(slices.Clone(tmpl), pkcs11.NewAttribute(pkcs11.CKA_VALUE_LEN, n)))
	if err == nil {
		return h, nil, nil
	}
	v := make([]byte, n)
	rand.Read(v)
	h, err2 := api.CreateObject(sh, append(tmpl, pkcs11.NewAttribute(pkcs11.CKA_VALUE, v)))
	if err2 != nil {
		return 0, nil, rvError("probing: making a throwaway generic secret (C_GenerateKey, then C_CreateObject)", err, false)
	}
	return h, v, nil
}

// probeEC learns whether EC private keys come out in KMS's form: a
// throwaway P-256 key pair, wrapped every way the secret probe found.
func (t *Token) probeEC(ctx context.Context, c *Capabilities) error {
	priv, err := probeWrappingKey()
	if err != nil {
		return err
	}
	if !c.Probed {
		return nil
	}
	err = t.WithSession(ctx, func(sh pkcs11.SessionHandle) error {
		return withThrowaway(t.mod.api, sh, func(w *throwaway) error { return t.probeECIn(ctx, sh, w, c, priv) })
	})
	var cs errCloseSession
	if errors.As(err, &cs) {
		err = cs.error
	}
	return err
}

func (t *Token) probeECIn(ctx context.Context, sh pkcs11.SessionHandle, w *throwaway, c *Capabilities, priv *rsa.PrivateKey) error {
	api := t.mod.api
	params, _ := ECParams("P-256")
	pubKey, privKey, err := api.GenerateKeyPair(sh, []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_EC_KEY_PAIR_GEN, nil)},
		[]*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_TOKEN, false), pkcs11.NewAttribute(pkcs11.CKA_EC_PARAMS, params),
			pkcs11.NewAttribute(pkcs11.CKA_VERIFY, true)},
		[]*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_TOKEN, false), pkcs11.NewAttribute(pkcs11.CKA_EXTRACTABLE, true),
			pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, true), pkcs11.NewAttribute(pkcs11.CKA_SIGN, true),
			pkcs11.NewAttribute(pkcs11.CKA_LABEL, "byok probe")})
	if err != nil {
		c.note("generating a throwaway P-256 key pair: %v; trying one made in Go", err)
		if pubKey, privKey, err = createThrowawayEC(api, sh, params); err != nil {
			c.note("creating a throwaway P-256 key: %v (EC capabilities unknown)", err)
			return nil
		}
	}
	w.add(pubKey)
	w.add(privKey)
	c.ECProbed = true
	point, err := attr(api, sh, pubKey, pkcs11.CKA_EC_POINT)
	if err != nil {
		c.note("reading the throwaway EC public key: %v", err)
		return nil
	}
	raw, err := decodeECPoint(point, 32)
	if err != nil {
		c.note("the throwaway EC public key's CKA_EC_POINT %v", err)
		return nil
	}
	pub, err := importWrappingKey(api, sh, &priv.PublicKey, t.opts.Profile.WrappingKeyEncrypt)
	if err != nil {
		return err
	}
	w.add(pub)
	check := func(what string, pt []byte) {
		defer clear(pt)
		m, err := byok.ParseKeyMaterial(byok.ECCNISTP256, pt)
		if err != nil {
			if pkcs8WithoutPublicKey(pt) {
				c.note("%s: the module's PKCS#8 for EC keys has no public key, which KMS requires", what)
			} else {
				c.note("%s: the module's PKCS#8 for EC keys is not what KMS imports (%v)", what, err)
			}
			return
		}
		defer m.Destroy()
		if !bytes.HasSuffix(m.PublicKeyDER(), raw) {
			c.note("%s: the exported EC key does not match its public key", what)
			return
		}
		c.ECPKCS8PublicKey = true
	}
	h := crypto.SHA1
	if len(c.OAEP) > 0 {
		h = c.OAEP[0]
	}
	out, err := api.WrapKey(sh, oaepMechanism(h), pub, privKey)
	if err != nil {
		c.note("CKM_RSA_PKCS_OAEP of an EC private key: %v", err)
	} else if pt, err := rsa.DecryptOAEP(h.New(), nil, priv, out, nil); err != nil {
		c.note("CKM_RSA_PKCS_OAEP of an EC private key: the output does not decrypt")
	} else {
		c.PrivateKeyOAEP = true
		check("CKM_RSA_PKCS_OAEP of an EC private key", pt)
	}
	switch {
	case len(c.RSAAESKeyWrap)+len(c.RSAAESKeyWrapZeroFill) > 0:
		hh := append(slices.Clone(c.RSAAESKeyWrap), c.RSAAESKeyWrapZeroFill...)[0]
		alg := byok.RSAAESKeyWrapSHA256
		if hh == crypto.SHA1 {
			alg = byok.RSAAESKeyWrapSHA1
		}
		out, err := api.WrapKey(sh, rsaAESMechanism(hh), pub, privKey)
		if err != nil {
			c.note("CKM_RSA_AES_KEY_WRAP of an EC private key: %v", err)
			break
		}
		if pt, err := byok.UnwrapKeyMaterial(priv, alg, out); err == nil {
			check("CKM_RSA_AES_KEY_WRAP of an EC private key", trimZeroFill(pt))
		}
	case c.AESKeyWrap != 0:
		out, err := wrapTwoStep(ctx, api, sh, pub, privKey, h, c.AESKeyWrap)
		if err != nil {
			c.note("%s of an EC private key: %v", mechName(c.AESKeyWrap), err)
			break
		}
		alg := byok.RSAAESKeyWrapSHA256
		if h == crypto.SHA1 {
			alg = byok.RSAAESKeyWrapSHA1
		}
		if pt, err := byok.UnwrapKeyMaterial(priv, alg, out); err == nil {
			check(mechName(c.AESKeyWrap)+" of an EC private key", trimZeroFill(pt))
		}
	}
	return nil
}

// createThrowawayEC puts a fresh P-256 key pair made in Go into the token
// (for modules that cannot generate EC keys but may hold them).
func createThrowawayEC(api PKCS11, sh pkcs11.SessionHandle, params []byte) (pub, priv pkcs11.ObjectHandle, err error) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return 0, 0, err
	}
	d, _ := k.Bytes()
	defer clear(d)
	point, _ := k.PublicKey.Bytes()
	der, _ := asn1.Marshal(point)
	pub, err = api.CreateObject(sh, []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_PUBLIC_KEY),
		pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_EC), pkcs11.NewAttribute(pkcs11.CKA_TOKEN, false),
		pkcs11.NewAttribute(pkcs11.CKA_EC_PARAMS, params), pkcs11.NewAttribute(pkcs11.CKA_EC_POINT, der)})
	if err != nil {
		return 0, 0, err
	}
	priv, err = api.CreateObject(sh, []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_PRIVATE_KEY),
		pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_EC), pkcs11.NewAttribute(pkcs11.CKA_TOKEN, false),
		pkcs11.NewAttribute(pkcs11.CKA_EXTRACTABLE, true), pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, true),
		pkcs11.NewAttribute(pkcs11.CKA_EC_PARAMS, params), pkcs11.NewAttribute(pkcs11.CKA_VALUE, d)})
	if err != nil {
		api.DestroyObject(sh, pub)
		return 0, 0, err
	}
	return pub, priv, nil
}

// trimZeroFill removes the zeros a zero-filling module appends after a DER
// structure, so that the probe can judge the structure itself.
func trimZeroFill(pt []byte) []byte {
	if len(pt) < 2 || pt[0] != 0x30 {
		return pt
	}
	n := derLen(pt)
	if n > 0 && n < len(pt) && bytes.Equal(pt[n:], make([]byte, len(pt)-n)) {
		return pt[:n]
	}
	return pt
}

// derLen returns the length of the DER element at the start of b, or 0.
func derLen(b []byte) int {
	if len(b) < 2 {
		return 0
	}
	l := int(b[1])
	if l < 0x80 {
		return 2 + l
	}
	k := l & 0x7f
	if k == 0 || k > 3 || len(b) < 2+k {
		return 0
	}
	l = 0
	for _, c := range b[2 : 2+k] {
		l = l<<8 | int(c)
	}
	return 2 + k + l
}

// pkcs8WithoutPublicKey reports whether pt is an EC PKCS#8 whose
// ECPrivateKey lacks the optional [1] public key.
func pkcs8WithoutPublicKey(pt []byte) bool {
	var pki struct {
		Version    int
		Algorithm  asn1.RawValue
		PrivateKey []byte
	}
	if _, err := asn1.Unmarshal(pt, &pki); err != nil {
		return false
	}
	defer clear(pki.PrivateKey)
	var ec struct {
		Version    int
		PrivateKey []byte
		Params     asn1.RawValue `asn1:"optional,explicit,tag:0"`
		Public     asn1.RawValue `asn1:"optional,explicit,tag:1"`
	}
	if _, err := asn1.Unmarshal(pki.PrivateKey, &ec); err != nil {
		return false
	}
	clear(ec.PrivateKey)
	return len(ec.Public.FullBytes) == 0
}

// describeCaps summarises capabilities for an error message.
func describeCaps(c *Capabilities) string {
	var parts []string
	if len(c.OAEP) == 0 {
		parts = append(parts, "no usable CKM_RSA_PKCS_OAEP")
	} else {
		var hs []string
		for _, h := range c.OAEP {
			hs = append(hs, hashName(h))
		}
		parts = append(parts, "CKM_RSA_PKCS_OAEP with "+strings.Join(hs, " and "))
	}
	if len(c.RSAAESKeyWrap) == 0 && len(c.RSAAESKeyWrapZeroFill) == 0 {
		parts = append(parts, "no CKM_RSA_AES_KEY_WRAP")
	}
	switch {
	case c.AESKeyWrap == 0:
		parts = append(parts, "no AES key wrap with padding (CKM_AES_KEY_WRAP_KWP or _PAD)")
	case c.AESKeyWrapZeroFills:
		parts = append(parts, mechName(c.AESKeyWrap)+" that zero-fills instead of RFC 5649 padding")
	default:
		parts = append(parts, mechName(c.AESKeyWrap))
	}
	return strings.Join(parts, ", ")
}
