package hsm

import (
	"context"
	"crypto"
	"crypto/rsa"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strings"

	"github.com/byok-go/byok"
	"github.com/miekg/pkcs11"
)

// How a wrapping algorithm is performed in the module.
type path int

const (
	pathOAEP    path = iota + 1 // CKM_RSA_PKCS_OAEP of the key
	pathRSAAES                  // CKM_RSA_AES_KEY_WRAP of the key
	pathTwoStep                 // ephemeral AES key; AES key wrap of the key; OAEP of the AES key
)

// method is how one KMS wrapping algorithm is done for one key.
type method struct {
	alg  byok.WrappingAlgorithm
	path path
	kwp  uint // the AES key wrap mechanism of pathTwoStep
	// zeroFill: the mechanism zero-fills, and the material length is known
	// to be a multiple of 8, so the result is still exact.
	zeroFill bool
}

func (m method) String() string {
	h := hashName(m.alg.Hash())
	switch m.path {
	case pathOAEP:
		return "CKM_RSA_PKCS_OAEP (" + h + ", MGF1-" + h + ")"
	case pathRSAAES:
		return "CKM_RSA_AES_KEY_WRAP (AES-256, OAEP " + h + ")"
	}
	return fmt.Sprintf("an ephemeral AES-256 key, %s, and CKM_RSA_PKCS_OAEP (%s) of the AES key", mechName(m.kwp), h)
}

// materialLen returns the length of the key's KMS material when it is
// known: fixed for secret and EC keys (KMS's EC PKCS#8 with the public key
// is 138, 185, 241 or 135 bytes, none a multiple of 8), given by the caller
// for RSA keys (0: unknown).
func materialLen(k *Key, given int) int {
	switch k.Spec.Kind() {
	case byok.KindSymmetric, byok.KindHMAC, byok.KindEC:
		return k.Spec.MaterialLen()
	}
	return given
}

// methods works out, from the capabilities, how the module can perform each
// KMS wrapping algorithm for key k so that KMS gets exactly its material;
// why says, when an algorithm is impossible, the reasons.
func methods(c *Capabilities, k *Key, givenLen int) (map[byok.WrappingAlgorithm]method, []string) {
	out := map[byok.WrappingAlgorithm]method{}
	var why []string
	reason := func(format string, args ...any) {
		s := fmt.Sprintf(format, args...)
		if !slices.Contains(why, s) {
			why = append(why, s)
		}
	}
	kind := k.Spec.Kind()
	n := materialLen(k, givenLen)
	// Every algorithm the module can perform for the key is listed, not
	// only those AWS accepts for its spec: which one a target accepts is the
	// target's rule, applied by the importer (AWS's table, or the target's
	// own, e.g. RSA_AES_KEY_WRAP for an AES key going to Azure).
	for _, alg := range byok.WrappingAlgorithms() {
		h := alg.Hash()
		oaep := slices.Contains(c.OAEP, h)
		if !alg.IsKeyWrap() {
			switch {
			case !oaep:
				reason("the module has no working CKM_RSA_PKCS_OAEP with %s", hashName(h))
			case kind == byok.KindRSA:
				// RSA PKCS#8 never fits one RSA-OAEP block; AWS requires RSA_AES_KEY_WRAP.
			case kind == byok.KindEC && !c.PrivateKeyOAEP:
				reason("the module's CKM_RSA_PKCS_OAEP does not wrap private keys")
			case kind == byok.KindEC && !c.ECPKCS8PublicKey:
				reason("the PKCS#8 the module exports for EC keys has no public key, which KMS requires")
			default:
				out[alg] = method{alg: alg, path: pathOAEP}
			}
			continue
		}
		if kind == byok.KindEC && !c.ECPKCS8PublicKey && (slices.Contains(c.RSAAESKeyWrap, h) || slices.Contains(c.RSAAESKeyWrapZeroFill, h) || (oaep && c.AESKeyWrap != 0)) {
			reason("the PKCS#8 the module exports for EC keys has no public key, which KMS requires")
			continue
		}
		exact := n > 0 && n%8 == 0
		switch {
		case slices.Contains(c.RSAAESKeyWrap, h):
			out[alg] = method{alg: alg, path: pathRSAAES}
		case oaep && c.AESKeyWrap != 0 && !c.AESKeyWrapZeroFills:
			out[alg] = method{alg: alg, path: pathTwoStep, kwp: c.AESKeyWrap}
		case slices.Contains(c.RSAAESKeyWrapZeroFill, h) && exact:
			out[alg] = method{alg: alg, path: pathRSAAES, zeroFill: true}
		case oaep && c.AESKeyWrap != 0 && exact:
			out[alg] = method{alg: alg, path: pathTwoStep, kwp: c.AESKeyWrap, zeroFill: true}
		case slices.Contains(c.RSAAESKeyWrapZeroFill, h) || (oaep && c.AESKeyWrap != 0):
			mech := "CKM_RSA_AES_KEY_WRAP"
			if !slices.Contains(c.RSAAESKeyWrapZeroFill, h) {
				mech = mechName(c.AESKeyWrap)
			}
			switch {
			case kind == byok.KindRSA && n == 0:
				reason("the module's %s zero-fills material to a multiple of 8 bytes and counts the zeros (not RFC 5649), so KMS would get the key followed by zero bytes unless the key's PKCS#8 encoding is a multiple of 8 bytes long; the module cannot tell byok that length without exporting the key: if you know it (from the file the key was imported from: `openssl pkcs8 -topk8 -nocrypt -outform DER -in key.pem | wc -c`) and it is a multiple of 8, give it as the material length (hsm.Config.MaterialLen, driver option material-length)", mech)
			case kind == byok.KindEC:
				reason("the module's %s zero-fills material to a multiple of 8 bytes and counts the zeros (not RFC 5649); KMS's %s material is %d bytes, not a multiple of 8, so KMS would get trailing zero bytes", mech, k.Spec, n)
			default:
				reason("the module's %s zero-fills material to a multiple of 8 bytes and counts the zeros (not RFC 5649); this key's material is %d bytes, not a multiple of 8, so KMS would get %d trailing zero bytes and refuse it", mech, n, (8-n%8)%8)
			}
		case !oaep && len(c.RSAAESKeyWrap) == 0:
			reason("the module has neither CKM_RSA_AES_KEY_WRAP nor a working CKM_RSA_PKCS_OAEP with %s", hashName(h))
		default:
			reason("the module has no CKM_RSA_AES_KEY_WRAP with %s and no AES key wrap with padding (CKM_AES_KEY_WRAP_KWP or CKM_AES_KEY_WRAP_PAD) for the two-step path", hashName(h))
		}
	}
	return out, why
}

// importWrappingKey imports the KMS wrapping public key as a session object
// (CKA_TOKEN=false) that may wrap (CKA_WRAP=true, and CKA_ENCRYPT=true when
// the profile asks). The caller destroys it.
func importWrappingKey(api PKCS11, sh pkcs11.SessionHandle, pub *rsa.PublicKey, encrypt bool) (pkcs11.ObjectHandle, error) {
	tmpl := []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_PUBLIC_KEY),
		pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_RSA),
		pkcs11.NewAttribute(pkcs11.CKA_TOKEN, false),
		pkcs11.NewAttribute(pkcs11.CKA_WRAP, true),
		pkcs11.NewAttribute(pkcs11.CKA_MODULUS, pub.N.Bytes()),
		pkcs11.NewAttribute(pkcs11.CKA_PUBLIC_EXPONENT, big.NewInt(int64(pub.E)).Bytes()),
		pkcs11.NewAttribute(pkcs11.CKA_LABEL, "byok KMS wrapping key"),
	}
	if encrypt {
		tmpl = append(tmpl, pkcs11.NewAttribute(pkcs11.CKA_ENCRYPT, true))
	}
	h, err := api.CreateObject(sh, tmpl)
	return h, rvError("importing the KMS wrapping public key as a session object (C_CreateObject, CKA_TOKEN=false, CKA_WRAP=true)", err, false)
}

// ephemeralTemplate is the template of the two-step path's AES key: a
// 256-bit session key that may only wrap, and may itself be wrapped.
func ephemeralTemplate() []*pkcs11.Attribute {
	return []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_SECRET_KEY),
		pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_AES),
		pkcs11.NewAttribute(pkcs11.CKA_VALUE_LEN, 32),
		pkcs11.NewAttribute(pkcs11.CKA_TOKEN, false),
		pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, true),
		pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, true),
		pkcs11.NewAttribute(pkcs11.CKA_EXTRACTABLE, true),
		pkcs11.NewAttribute(pkcs11.CKA_WRAP, true),
		pkcs11.NewAttribute(pkcs11.CKA_UNWRAP, false),
		pkcs11.NewAttribute(pkcs11.CKA_ENCRYPT, false),
		pkcs11.NewAttribute(pkcs11.CKA_DECRYPT, false),
		pkcs11.NewAttribute(pkcs11.CKA_LABEL, "byok ephemeral"),
	}
}

func generateEphemeral(api PKCS11, sh pkcs11.SessionHandle) (pkcs11.ObjectHandle, error) {
	h, err := api.GenerateKey(sh, []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_AES_KEY_GEN, nil)}, ephemeralTemplate())
	return h, rvError("generating the ephemeral AES-256 session key (C_GenerateKey, CKM_AES_KEY_GEN)", err, false)
}

// errCloseSession marks an error after which the session must be closed:
// an ephemeral key could not be destroyed, and closing the session
// destroys its session objects.
type errCloseSession struct{ error }

func (e errCloseSession) Unwrap() error { return e.error }

// wrapTwoStep does RSA_AES_KEY_WRAP inside the module in two steps: a fresh
// extractable AES-256 session key K, C_WrapKey of the key under K with kwp,
// C_WrapKey of K under the wrapping key with RSA-OAEP(h). K is destroyed on
// every path; if that fails, the error says to close the session.
func wrapTwoStep(ctx context.Context, api PKCS11, sh pkcs11.SessionHandle, wrapping, key pkcs11.ObjectHandle, h crypto.Hash, kwp uint) (out []byte, err error) {
	eph, err := generateEphemeral(api, sh)
	if err != nil {
		return nil, err
	}
	defer func() {
		if derr := api.DestroyObject(sh, eph); derr != nil {
			out = nil
			err = errCloseSession{rvError("destroying the ephemeral AES key (C_DestroyObject); the session is closed so that the module destroys it", derr, false)}
		}
	}()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	head, err := api.WrapKey(sh, oaepMechanism(h), wrapping, eph)
	if err != nil {
		return nil, rvError(fmt.Sprintf("wrapping the ephemeral AES key under the KMS wrapping key (C_WrapKey, CKM_RSA_PKCS_OAEP, %s)", hashName(h)), err, true)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	tail, err := api.WrapKey(sh, []*pkcs11.Mechanism{pkcs11.NewMechanism(kwp, nil)}, eph, key)
	if err != nil {
		return nil, rvError(fmt.Sprintf("wrapping the key under the ephemeral AES key (C_WrapKey, %s)", mechName(kwp)), err, true)
	}
	return append(head, tail...), nil
}

// wrap performs m for key under the KMS wrapping key pub, in one session.
func (s *Source) wrap(ctx context.Context, m method, pub *rsa.PublicKey) ([]byte, error) {
	var out []byte
	err := s.tok.WithSession(ctx, func(sh pkcs11.SessionHandle) error {
		api := s.tok.mod.api
		wk, err := importWrappingKey(api, sh, pub, s.tok.opts.Profile.WrappingKeyEncrypt)
		if err != nil {
			return err
		}
		return withThrowaway(api, sh, func(w *throwaway) error {
			w.add(wk)
			out, err = s.wrapIn(ctx, api, sh, m, wk)
			return err
		})
	})
	if err != nil {
		var cs errCloseSession
		if errors.As(err, &cs) {
			return nil, cs.error
		}
		return nil, err
	}
	return out, s.checkWrapped(m, pub, out)
}

func (s *Source) wrapIn(ctx context.Context, api PKCS11, sh pkcs11.SessionHandle, m method, wk pkcs11.ObjectHandle) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var out []byte
	var err error
	h := m.alg.Hash()
	switch m.path {
	case pathOAEP:
		out, err = api.WrapKey(sh, oaepMechanism(h), wk, s.key.Handle)
	case pathRSAAES:
		out, err = api.WrapKey(sh, rsaAESMechanism(h), wk, s.key.Handle)
	case pathTwoStep:
		return wrapTwoStep(ctx, api, sh, wk, s.key.Handle, h, m.kwp)
	}
	if err != nil {
		return nil, rvError(fmt.Sprintf("wrapping %s with %s (C_WrapKey)", s.key, m), err, true)
	}
	return out, nil
}

// checkWrapped checks the blob's length against what the algorithm gives
// for this key's material, as far as it is known.
func (s *Source) checkWrapped(m method, pub *rsa.PublicKey, out []byte) error {
	k := pub.Size()
	bad := func(want string) error {
		return &Error{Op: fmt.Sprintf("wrapping %s with %s", s.key, m), Kind: ErrNoWrapping,
			Fix: fmt.Sprintf("the module returned %d bytes, %s; this is not what KMS imports", len(out), want)}
	}
	if !m.alg.IsKeyWrap() {
		if len(out) != k {
			return bad(fmt.Sprintf("not one %d-byte RSA block", k))
		}
		return nil
	}
	if len(out) < k+16 || (len(out)-k)%8 != 0 {
		return bad("not an RSA block followed by RFC 5649 output")
	}
	if n := materialLen(s.key, s.materialLen); n > 0 && len(out) != k+kwpLen(n) {
		return bad(fmt.Sprintf("not %d bytes (a %d-byte RSA block and RFC 5649 of %d bytes of material)", k+kwpLen(n), k, n))
	}
	return nil
}

// kwpLen is the length of RFC 5649 (AES key wrap with padding) output for n
// bytes of input: an 8-byte integrity block and the input padded to a
// multiple of 8 bytes (RFC 5649, 4.1).
func kwpLen(n int) int { return 8 + (n+7)&^7 }

func algNames(algs []byok.WrappingAlgorithm) string {
	var s []string
	for _, a := range algs {
		s = append(s, string(a))
	}
	return strings.Join(s, ", ")
}
