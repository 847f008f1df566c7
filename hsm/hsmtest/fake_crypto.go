package hsmtest

import (
	"bytes"
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/binary"
	"hash"
	"io"
	"math/big"
	"slices"

	"github.com/byok-go/byok"
	"github.com/byok-go/byok/hsm"
	"github.com/byok-go/byok/internal/kwp"
	"github.com/decred/dcrd/dcrec/secp256k1/v4"
	secpecdsa "github.com/decred/dcrd/dcrec/secp256k1/v4/ecdsa"
	"github.com/miekg/pkcs11"
)

// The fake's cryptography: wrapping, signing and digesting in Go, as a
// module would inside the token.

// hashOf maps CKM_SHA_* (and MGF1) values to hashes.
func hashOf(mech uint) crypto.Hash {
	switch mech {
	case pkcs11.CKM_SHA_1:
		return crypto.SHA1
	case pkcs11.CKM_SHA224:
		return crypto.SHA224
	case pkcs11.CKM_SHA256:
		return crypto.SHA256
	case pkcs11.CKM_SHA384:
		return crypto.SHA384
	case pkcs11.CKM_SHA512:
		return crypto.SHA512
	}
	return 0
}

func mgfOf(h crypto.Hash) uint {
	return map[crypto.Hash]uint{crypto.SHA1: pkcs11.CKG_MGF1_SHA1, crypto.SHA224: pkcs11.CKG_MGF1_SHA224, crypto.SHA256: pkcs11.CKG_MGF1_SHA256,
		crypto.SHA384: pkcs11.CKG_MGF1_SHA384, crypto.SHA512: pkcs11.CKG_MGF1_SHA512}[h]
}

// oaepHash checks CK_RSA_PKCS_OAEP_PARAMS as the fake's vendor would.
func (f *Fake) oaepHash(p *pkcs11.OAEPParams) (crypto.Hash, error) {
	if p == nil {
		return 0, pkcs11.Error(pkcs11.CKR_MECHANISM_PARAM_INVALID)
	}
	hashAlg := p.HashAlg
	if hashAlg == 0 && f.OAEPZeroIsSHA1 {
		hashAlg = pkcs11.CKM_SHA_1
	}
	h := hashOf(hashAlg)
	if h == 0 || !slices.Contains(f.OAEPHashes, hashAlg) || (p.MGF != mgfOf(h) && !(p.MGF == 0 && p.HashAlg == 0 && f.OAEPZeroIsSHA1)) ||
		p.SourceType != pkcs11.CKZ_DATA_SPECIFIED || len(p.SourceData) != 0 {
		return 0, pkcs11.Error(pkcs11.CKR_MECHANISM_PARAM_INVALID)
	}
	return h, nil
}

// keyData returns what C_WrapKey wraps: a secret key's value, or a private
// key's PKCS#8 in the form KMS imports.
func keyData(o *object) ([]byte, error) {
	switch o.ulong(pkcs11.CKA_CLASS) {
	case pkcs11.CKO_SECRET_KEY:
		return slices.Clone(o.attrs[pkcs11.CKA_VALUE]), nil
	case pkcs11.CKO_PRIVATE_KEY:
		k, err := goKey(o)
		if err != nil {
			return nil, err
		}
		var key crypto.PrivateKey = k
		if k1, ok := k.(*k1Signer); ok {
			key = k1.k
		}
		m, err := byok.NewKeyMaterial(key)
		if err != nil {
			return nil, err
		}
		defer m.Destroy()
		return m.Bytes(), nil
	}
	return nil, pkcs11.Error(pkcs11.CKR_KEY_NOT_WRAPPABLE)
}

// goKey rebuilds the Go private key of a private key object.
func goKey(o *object) (crypto.Signer, error) {
	b := func(t uint) *big.Int { return new(big.Int).SetBytes(o.attrs[t]) }
	switch o.ulong(pkcs11.CKA_KEY_TYPE) {
	case pkcs11.CKK_RSA:
		k := &rsa.PrivateKey{PublicKey: rsa.PublicKey{N: b(pkcs11.CKA_MODULUS), E: int(b(pkcs11.CKA_PUBLIC_EXPONENT).Int64())},
			D: b(pkcs11.CKA_PRIVATE_EXPONENT), Primes: []*big.Int{b(pkcs11.CKA_PRIME_1), b(pkcs11.CKA_PRIME_2)}}
		k.Precompute()
		return k, k.Validate()
	case pkcs11.CKK_EC:
		d := o.attrs[pkcs11.CKA_VALUE]
		for _, c := range []struct {
			name  string
			curve ecdh.Curve
			ell   elliptic.Curve
		}{{"P-256", ecdh.P256(), elliptic.P256()}, {"P-384", ecdh.P384(), elliptic.P384()}, {"P-521", ecdh.P521(), elliptic.P521()}} {
			if p, _ := hsm.ECParams(c.name); bytes.Equal(p, o.attrs[pkcs11.CKA_EC_PARAMS]) {
				return ecdsa.ParseRawPrivateKey(c.ell, d)
			}
		}
		if p, _ := hsm.ECParams("secp256k1"); bytes.Equal(p, o.attrs[pkcs11.CKA_EC_PARAMS]) {
			return &k1Signer{secp256k1.PrivKeyFromBytes(d)}, nil
		}
	}
	return nil, pkcs11.Error(pkcs11.CKR_KEY_TYPE_INCONSISTENT)
}

type k1Signer struct{ k *secp256k1.PrivateKey }

func (s *k1Signer) Public() crypto.PublicKey { return s.k.PubKey() }
func (s *k1Signer) Sign(_ io.Reader, digest []byte, _ crypto.SignerOpts) ([]byte, error) {
	return secpecdsa.Sign(s.k, digest).Serialize(), nil
}

// WrapKey implements C_WrapKey with CKM_RSA_PKCS_OAEP, CKM_RSA_AES_KEY_WRAP,
// CKM_AES_KEY_WRAP_PAD and CKM_AES_KEY_WRAP_KWP (both exact RFC 5649),
// checking what the vendor would: the mechanism list, the parameters,
// CKA_WRAP (and CKA_ENCRYPT with WrapNeedsEncrypt), CKA_EXTRACTABLE,
// CKA_WRAP_WITH_TRUSTED. Private keys are wrapped as the PKCS#8 KMS imports.
func (f *Fake) WrapKey(sh pkcs11.SessionHandle, m []*pkcs11.Mechanism, wrappingKey, key pkcs11.ObjectHandle) ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := mechCall("C_WrapKey", sh, m)
	c.Object, c.Key = wrappingKey, key
	if err := f.record(c); err != nil {
		return nil, err
	}
	out, err := f.wrap(sh, m, wrappingKey, key)
	return out, f.result(err)
}

func (f *Fake) wrap(sh pkcs11.SessionHandle, m []*pkcs11.Mechanism, wrappingKey, key pkcs11.ObjectHandle) ([]byte, error) {
	if err := f.session(sh); err != nil {
		return nil, err
	}
	if err := f.mechanismOK(m); err != nil {
		return nil, err
	}
	w, k := f.objects[wrappingKey], f.objects[key]
	if w == nil || !f.visible(w) {
		return nil, pkcs11.Error(pkcs11.CKR_WRAPPING_KEY_HANDLE_INVALID)
	}
	if k == nil || !f.visible(k) {
		return nil, pkcs11.Error(pkcs11.CKR_KEY_HANDLE_INVALID)
	}
	if !f.loggedIn {
		return nil, pkcs11.Error(pkcs11.CKR_USER_NOT_LOGGED_IN)
	}
	if !w.bool(pkcs11.CKA_WRAP) {
		return nil, pkcs11.Error(pkcs11.CKR_KEY_FUNCTION_NOT_PERMITTED)
	}
	if !k.bool(pkcs11.CKA_EXTRACTABLE) {
		return nil, pkcs11.Error(pkcs11.CKR_KEY_UNEXTRACTABLE)
	}
	if k.bool(pkcs11.CKA_WRAP_WITH_TRUSTED) && !w.bool(pkcs11.CKA_TRUSTED) {
		return nil, pkcs11.Error(pkcs11.CKR_KEY_NOT_WRAPPABLE)
	}
	data, err := keyData(k)
	if err != nil {
		return nil, err
	}
	defer clear(data)
	mech := m[0]
	switch mech.Mechanism {
	case pkcs11.CKM_RSA_PKCS_OAEP, pkcs11.CKM_RSA_AES_KEY_WRAP:
		if w.ulong(pkcs11.CKA_CLASS) != pkcs11.CKO_PUBLIC_KEY || w.ulong(pkcs11.CKA_KEY_TYPE) != pkcs11.CKK_RSA {
			return nil, pkcs11.Error(pkcs11.CKR_WRAPPING_KEY_TYPE_INCONSISTENT)
		}
		if f.WrapNeedsEncrypt && !w.bool(pkcs11.CKA_ENCRYPT) {
			return nil, pkcs11.Error(pkcs11.CKR_KEY_FUNCTION_NOT_PERMITTED)
		}
		pub := &rsa.PublicKey{N: new(big.Int).SetBytes(w.attrs[pkcs11.CKA_MODULUS]), E: int(new(big.Int).SetBytes(w.attrs[pkcs11.CKA_PUBLIC_EXPONENT]).Int64())}
		oaep, rsaaes := MechanismParams(mech)
		if mech.Mechanism == pkcs11.CKM_RSA_PKCS_OAEP {
			h, err := f.oaepHash(oaep)
			if err != nil {
				return nil, err
			}
			if k.ulong(pkcs11.CKA_CLASS) == pkcs11.CKO_PRIVATE_KEY && !f.PrivateKeyOAEP {
				return nil, pkcs11.Error(pkcs11.CKR_KEY_NOT_WRAPPABLE)
			}
			out, err := rsa.EncryptOAEP(h.New(), rand.Reader, pub, data, nil)
			if err != nil {
				return nil, pkcs11.Error(pkcs11.CKR_KEY_SIZE_RANGE)
			}
			return out, nil
		}
		if rsaaes == nil || rsaaes.AESKeyBits != 256 {
			return nil, pkcs11.Error(pkcs11.CKR_MECHANISM_PARAM_INVALID)
		}
		h, err := f.oaepHash(&rsaaes.OAEPParams)
		if err != nil {
			return nil, err
		}
		var kek [32]byte
		defer clear(kek[:])
		rand.Read(kek[:])
		head, err := rsa.EncryptOAEP(h.New(), rand.Reader, pub, kek[:], nil)
		if err != nil {
			return nil, pkcs11.Error(pkcs11.CKR_KEY_SIZE_RANGE)
		}
		tail, err := kwp.Wrap(kek[:], data)
		if err != nil {
			return nil, pkcs11.Error(pkcs11.CKR_GENERAL_ERROR)
		}
		return append(head, tail...), nil
	case pkcs11.CKM_AES_KEY_WRAP_PAD, hsm.CKM_AES_KEY_WRAP_KWP:
		if w.ulong(pkcs11.CKA_KEY_TYPE) != pkcs11.CKK_AES || len(mech.Parameter) != 0 {
			return nil, pkcs11.Error(pkcs11.CKR_WRAPPING_KEY_TYPE_INCONSISTENT)
		}
		out, err := kwp.Wrap(w.attrs[pkcs11.CKA_VALUE], data)
		if err != nil {
			return nil, pkcs11.Error(pkcs11.CKR_GENERAL_ERROR)
		}
		return out, nil
	}
	return nil, pkcs11.Error(pkcs11.CKR_MECHANISM_INVALID)
}

// signing state per session.
type signOp struct {
	mech *pkcs11.Mechanism
	key  *object
}

// SignInit implements C_SignInit; the key needs CKA_SIGN.
func (f *Fake) SignInit(sh pkcs11.SessionHandle, m []*pkcs11.Mechanism, oh pkcs11.ObjectHandle) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := mechCall("C_SignInit", sh, m)
	c.Key = oh
	if err := f.record(c); err != nil {
		return err
	}
	if err := f.session(sh); err != nil {
		return f.result(err)
	}
	if err := f.mechanismOK(m); err != nil {
		return f.result(err)
	}
	o := f.objects[oh]
	if o == nil || !f.visible(o) {
		return f.result(pkcs11.Error(pkcs11.CKR_KEY_HANDLE_INVALID))
	}
	if !o.bool(pkcs11.CKA_SIGN) {
		return f.result(pkcs11.Error(pkcs11.CKR_KEY_FUNCTION_NOT_PERMITTED))
	}
	f.signs.Store(sh, &signOp{mech: m[0], key: o})
	return nil
}

// Sign implements C_Sign: CKM_RSA_PKCS (raw), CKM_RSA_PKCS_PSS, CKM_ECDSA
// (r||s) and the HMAC mechanisms.
func (f *Fake) Sign(sh pkcs11.SessionHandle, msg []byte) ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	v, ok := f.signs.LoadAndDelete(sh)
	if !ok {
		return nil, pkcs11.Error(pkcs11.CKR_OPERATION_NOT_INITIALIZED)
	}
	op := v.(*signOp)
	if err := f.record(Call{Func: "C_Sign", Session: sh, Mechanism: op.mech.Mechanism}); err != nil {
		return nil, err
	}
	out, err := f.sign(op, msg)
	return out, f.result(err)
}

func (f *Fake) sign(op *signOp, msg []byte) ([]byte, error) {
	hm := map[uint]func() hash.Hash{pkcs11.CKM_SHA224_HMAC: crypto.SHA224.New, pkcs11.CKM_SHA256_HMAC: crypto.SHA256.New,
		pkcs11.CKM_SHA384_HMAC: crypto.SHA384.New, pkcs11.CKM_SHA512_HMAC: crypto.SHA512.New, pkcs11.CKM_SHA_1_HMAC: crypto.SHA1.New}
	if newHash, ok := hm[op.mech.Mechanism]; ok {
		mac := hmac.New(newHash, op.key.attrs[pkcs11.CKA_VALUE])
		mac.Write(msg)
		return mac.Sum(nil), nil
	}
	k, err := goKey(op.key)
	if err != nil {
		return nil, err
	}
	switch op.mech.Mechanism {
	case pkcs11.CKM_RSA_PKCS:
		rk, ok := k.(*rsa.PrivateKey)
		if !ok {
			return nil, pkcs11.Error(pkcs11.CKR_KEY_TYPE_INCONSISTENT)
		}
		return rsa.SignPKCS1v15(nil, rk, 0, msg)
	case pkcs11.CKM_RSA_PKCS_PSS:
		rk, ok := k.(*rsa.PrivateKey)
		p := op.mech.Parameter
		if !ok || len(p) != 24 {
			return nil, pkcs11.Error(pkcs11.CKR_MECHANISM_PARAM_INVALID)
		}
		h := hashOf(uint(binary.NativeEndian.Uint64(p)))
		salt := int(binary.NativeEndian.Uint64(p[16:]))
		return rsa.SignPSS(rand.Reader, rk, h, msg, &rsa.PSSOptions{SaltLength: salt, Hash: h})
	case pkcs11.CKM_ECDSA:
		switch ek := k.(type) {
		case *ecdsa.PrivateKey:
			r, s, err := ecdsa.Sign(rand.Reader, ek, msg)
			if err != nil {
				return nil, err
			}
			size := (ek.Curve.Params().BitSize + 7) / 8
			out := make([]byte, 2*size)
			r.FillBytes(out[:size])
			s.FillBytes(out[size:])
			return out, nil
		case *k1Signer:
			sig := secpecdsa.Sign(ek.k, msg)
			r, s := sig.R(), sig.S()
			out := make([]byte, 64)
			r.PutBytesUnchecked(out[:32])
			s.PutBytesUnchecked(out[32:])
			return out, nil
		}
	}
	return nil, pkcs11.Error(pkcs11.CKR_MECHANISM_INVALID)
}

// DigestInit implements C_DigestInit for CKM_SHA256.
func (f *Fake) DigestInit(sh pkcs11.SessionHandle, m []*pkcs11.Mechanism) error {
	if len(m) != 1 || m[0].Mechanism != pkcs11.CKM_SHA256 {
		return pkcs11.Error(pkcs11.CKR_MECHANISM_INVALID)
	}
	f.digests.Store(sh, sha256.New())
	return nil
}

func (f *Fake) digest(sh pkcs11.SessionHandle) (hash.Hash, error) {
	v, ok := f.digests.Load(sh)
	if !ok {
		return nil, pkcs11.Error(pkcs11.CKR_OPERATION_NOT_INITIALIZED)
	}
	return v.(hash.Hash), nil
}

// DigestUpdate implements C_DigestUpdate.
func (f *Fake) DigestUpdate(sh pkcs11.SessionHandle, msg []byte) error {
	h, err := f.digest(sh)
	if err == nil {
		h.Write(msg)
	}
	return err
}

// DigestKey implements C_DigestKey for secret keys.
func (f *Fake) DigestKey(sh pkcs11.SessionHandle, key pkcs11.ObjectHandle) error {
	h, err := f.digest(sh)
	if err != nil {
		return err
	}
	f.mu.Lock()
	o := f.objects[key]
	f.mu.Unlock()
	if o == nil || o.ulong(pkcs11.CKA_CLASS) != pkcs11.CKO_SECRET_KEY {
		return pkcs11.Error(pkcs11.CKR_KEY_INDIGESTIBLE)
	}
	h.Write(o.attrs[pkcs11.CKA_VALUE])
	return nil
}

// DigestFinal implements C_DigestFinal.
func (f *Fake) DigestFinal(sh pkcs11.SessionHandle) ([]byte, error) {
	h, err := f.digest(sh)
	if err != nil {
		return nil, err
	}
	f.digests.Delete(sh)
	return h.Sum(nil), nil
}
