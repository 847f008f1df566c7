package azkvtest

import (
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"hash"
	"math/big"
	"net/http"

	"github.com/decred/dcrd/dcrec/secp256k1/v4"
	k1ecdsa "github.com/decred/dcrd/dcrec/secp256k1/v4/ecdsa"
)

// Cryptographic operations (rows 11 to 13).

type signRequest struct {
	Alg   string `json:"alg"`
	Value string `json:"value"`
}

type verifyRequest struct {
	Alg    string `json:"alg"`
	Digest string `json:"digest"`
	Value  string `json:"value"`
}

type cipherRequest struct {
	Alg   string `json:"alg"`
	Value string `json:"value"`
	IV    string `json:"iv,omitempty"`
	AAD   string `json:"aad,omitempty"`
	Tag   string `json:"tag,omitempty"`
}

type opResult struct {
	Kid   string `json:"kid"`
	Value string `json:"value"`
	IV    string `json:"iv,omitempty"`
	Tag   string `json:"tag,omitempty"`
	AAD   string `json:"aad,omitempty"`
}

// usable looks the key up and applies row 11: the key's key_ops must include
// op, and the key must be enabled.
func (s *Server) usable(rt routed, op string) (*keyVersion, *kvError) {
	s.mu.Lock()
	k, e := s.lookup(rt.name, rt.version)
	s.mu.Unlock()
	if e != nil {
		return nil, e
	}
	if !k.hasOp(op) {
		return nil, forbidden("Operation %s is not permitted on this key (key_ops %q) (%s)", op, k.ops, docAlgorithms)
	}
	if !k.enabled {
		return nil, forbidden("Operation %s is not allowed on a disabled key", op)
	}
	return k, nil
}

// sigAlg is row 12: each signature algorithm's hash and key.
type sigAlg struct {
	hash  crypto.Hash
	pss   bool   // RSA: PSS, else PKCS#1 v1.5
	curve string // EC: the curve, "" for RSA
}

var sigAlgs = map[string]sigAlg{
	"RS256": {crypto.SHA256, false, ""}, "RS384": {crypto.SHA384, false, ""}, "RS512": {crypto.SHA512, false, ""},
	"PS256": {crypto.SHA256, true, ""}, "PS384": {crypto.SHA384, true, ""}, "PS512": {crypto.SHA512, true, ""},
	"ES256": {crypto.SHA256, false, "P-256"}, "ES256K": {crypto.SHA256, false, "P-256K"},
	"ES384": {crypto.SHA384, false, "P-384"}, "ES512": {crypto.SHA512, false, "P-521"},
}

// signAlg checks alg against k and the digest's length.
func signAlg(k *keyVersion, alg string, digest []byte) (sigAlg, *kvError) {
	a, ok := sigAlgs[alg]
	if !ok {
		switch alg {
		case "RSNULL", "HS256", "HS384", "HS512":
			return a, notImplemented("azkvtest does not emulate signature algorithm %s", alg)
		}
		return a, badParam("signature algorithm %q is not supported (%s)", alg, docAlgorithms)
	}
	if a.curve == "" && k.rsaKey == nil {
		return a, badParam("%s is an RSA algorithm; the key is %s (%s)", alg, k.kty, docAlgorithms)
	}
	if a.curve != "" && a.curve != k.curve() {
		return a, badParam("%s needs a key on curve %s; the key is %s %s (%s)", alg, a.curve, k.kty, k.curve(), docAlgorithms)
	}
	if len(digest) != a.hash.Size() {
		return a, badParam("the digest for %s must be %d bytes, it is %d (%s)", alg, a.hash.Size(), len(digest), docAlgorithms)
	}
	return a, nil
}

func (s *Server) sign(rt routed, r *http.Request) (int, any, *kvError) {
	var req signRequest
	if e := decodeBody(r, &req); e != nil {
		return 0, nil, e
	}
	digest, err := b64.DecodeString(req.Value)
	if err != nil {
		return 0, nil, badParam("value is not base64url")
	}
	k, e := s.usable(rt, opSign)
	if e != nil {
		return 0, nil, e
	}
	a, e := signAlg(k, req.Alg, digest)
	if e != nil {
		return 0, nil, e
	}
	var sig []byte
	switch {
	case k.rsaKey != nil && a.pss:
		sig, err = rsa.SignPSS(rand.Reader, k.rsaKey, a.hash, digest, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
	case k.rsaKey != nil:
		sig, err = rsa.SignPKCS1v15(nil, k.rsaKey, a.hash, digest)
	case k.ecKey != nil:
		var rr, ss *big.Int
		rr, ss, err = ecdsa.Sign(rand.Reader, k.ecKey, digest)
		if err == nil {
			size := (k.ecKey.Curve.Params().BitSize + 7) / 8
			sig = append(rr.FillBytes(make([]byte, size)), ss.FillBytes(make([]byte, size))...)
		}
	case k.k1Key != nil:
		sg := k1ecdsa.Sign(k.k1Key, digest)
		rs, ss := sg.R(), sg.S()
		rb, sb := rs.Bytes(), ss.Bytes()
		sig = append(rb[:], sb[:]...)
	}
	if err != nil {
		return 0, nil, &kvError{http.StatusInternalServerError, "InternalError", "signing failed"}
	}
	return http.StatusOK, opResult{Kid: s.kid(k), Value: b64.EncodeToString(sig)}, nil
}

func (s *Server) verify(rt routed, r *http.Request) (int, any, *kvError) {
	var req verifyRequest
	if e := decodeBody(r, &req); e != nil {
		return 0, nil, e
	}
	digest, err1 := b64.DecodeString(req.Digest)
	sig, err2 := b64.DecodeString(req.Value)
	if err1 != nil || err2 != nil {
		return 0, nil, badParam("digest and value must be base64url")
	}
	k, e := s.usable(rt, opVerify)
	if e != nil {
		return 0, nil, e
	}
	a, e := signAlg(k, req.Alg, digest)
	if e != nil {
		return 0, nil, e
	}
	ok := false
	switch {
	case k.rsaKey != nil && a.pss:
		ok = rsa.VerifyPSS(&k.rsaKey.PublicKey, a.hash, digest, sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash}) == nil
	case k.rsaKey != nil:
		ok = rsa.VerifyPKCS1v15(&k.rsaKey.PublicKey, a.hash, digest, sig) == nil
	case k.ecKey != nil:
		size := (k.ecKey.Curve.Params().BitSize + 7) / 8
		if len(sig) == 2*size {
			rr, ss := new(big.Int).SetBytes(sig[:size]), new(big.Int).SetBytes(sig[size:])
			ok = ecdsa.Verify(&k.ecKey.PublicKey, digest, rr, ss)
		}
	case k.k1Key != nil:
		if len(sig) == 64 {
			var rr, ss secp256k1.ModNScalar
			of1 := rr.SetByteSlice(sig[:32])
			of2 := ss.SetByteSlice(sig[32:])
			if !of1 && !of2 && !rr.IsZero() && !ss.IsZero() {
				ok = k1ecdsa.NewSignature(&rr, &ss).Verify(digest, k.k1Key.PubKey())
			}
		}
	}
	return http.StatusOK, struct {
		Value bool `json:"value"`
	}{ok}, nil
}

// cipherAlg is row 13.
type cipherAlg struct {
	family string // ktyRSA or ktyOct
	oaep   func() hash.Hash
	pkcs1  bool
	kw     bool
	gcm    bool
	keyLen int // oct: the AES key length the algorithm needs
}

var cipherAlgs = map[string]cipherAlg{
	"RSA-OAEP":     {family: ktyRSA, oaep: sha1.New},
	"RSA-OAEP-256": {family: ktyRSA, oaep: sha256.New},
	"RSA1_5":       {family: ktyRSA, pkcs1: true},
	"A128KW":       {family: ktyOct, kw: true, keyLen: 16},
	"A192KW":       {family: ktyOct, kw: true, keyLen: 24},
	"A256KW":       {family: ktyOct, kw: true, keyLen: 32},
	"A128GCM":      {family: ktyOct, gcm: true, keyLen: 16},
	"A192GCM":      {family: ktyOct, gcm: true, keyLen: 24},
	"A256GCM":      {family: ktyOct, gcm: true, keyLen: 32},
}

const gcmIVLen, gcmTagLen = 12, 16

func (s *Server) cipher(rt routed, r *http.Request) (int, any, *kvError) {
	var req cipherRequest
	if e := decodeBody(r, &req); e != nil {
		return 0, nil, e
	}
	op := map[string]string{"Encrypt": opEncrypt, "Decrypt": opDecrypt, "WrapKey": opWrapKey, "UnwrapKey": opUnwrapKey}[rt.op]
	in, err := b64.DecodeString(req.Value)
	iv, err2 := b64.DecodeString(req.IV)
	aad, err3 := b64.DecodeString(req.AAD)
	tag, err4 := b64.DecodeString(req.Tag)
	if err != nil || err2 != nil || err3 != nil || err4 != nil {
		return 0, nil, badParam("value, iv, aad and tag must be base64url")
	}
	k, e := s.usable(rt, op)
	if e != nil {
		return 0, nil, e
	}
	a, ok := cipherAlgs[req.Alg]
	if !ok {
		switch req.Alg {
		case "A128CBC", "A192CBC", "A256CBC", "A128CBCPAD", "A192CBCPAD", "A256CBCPAD":
			return 0, nil, notImplemented("azkvtest does not emulate %s", req.Alg)
		}
		return 0, nil, badParam("algorithm %q is not supported (%s)", req.Alg, docAlgorithmsMHSM)
	}
	if a.family != family(k.kty) {
		return 0, nil, badParam("%s is not an algorithm for a %s key (%s)", req.Alg, k.kty, docAlgorithmsMHSM)
	}
	if a.kw && op != opWrapKey && op != opUnwrapKey {
		return 0, nil, badParam("%s is a key wrap algorithm: use wrapKey/unwrapKey", req.Alg)
	}
	if a.gcm && op != opEncrypt && op != opDecrypt {
		return 0, nil, badParam("%s is an encryption algorithm: use encrypt/decrypt", req.Alg)
	}
	if !a.gcm && (len(iv) > 0 || len(aad) > 0 || len(tag) > 0) {
		return 0, nil, badParam("iv, aad and tag are only for AES-GCM")
	}
	if a.keyLen != 0 && a.keyLen != len(k.octKey) {
		return 0, nil, badParam("%s needs a %d-bit key; the key is %d bits", req.Alg, 8*a.keyLen, 8*len(k.octKey))
	}
	res := opResult{Kid: s.kid(k)}
	var out []byte
	switch {
	case a.oaep != nil && (op == opEncrypt || op == opWrapKey):
		out, err = rsa.EncryptOAEP(a.oaep(), rand.Reader, &k.rsaKey.PublicKey, in, nil)
	case a.oaep != nil:
		out, err = rsa.DecryptOAEP(a.oaep(), nil, k.rsaKey, in, nil)
	case a.pkcs1 && (op == opEncrypt || op == opWrapKey):
		out, err = rsa.EncryptPKCS1v15(rand.Reader, &k.rsaKey.PublicKey, in)
	case a.pkcs1:
		out, err = rsa.DecryptPKCS1v15(nil, k.rsaKey, in)
	case a.kw && op == opWrapKey:
		out, err = kwWrap(k.octKey, in)
	case a.kw:
		out, err = kwUnwrap(k.octKey, in)
	case a.gcm:
		out, res, err = gcm(k.octKey, op == opEncrypt, in, iv, aad, tag, res)
	}
	if err != nil {
		return 0, nil, badParam("%s %s failed: the input is not valid for this key", req.Alg, op)
	}
	res.Value = b64.EncodeToString(out)
	return http.StatusOK, res, nil
}

// gcm is AES-GCM for oct-HSM keys. On encrypt the service makes the 12-byte
// IV (strict: a caller's IV is refused) and answers iv and a 16-byte tag; on
// decrypt iv and tag are required.
func gcm(key []byte, encrypt bool, in, iv, aad, tag []byte, res opResult) ([]byte, opResult, error) {
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, res, err
	}
	g, err := cipher.NewGCM(b)
	if err != nil {
		return nil, res, err
	}
	if encrypt {
		if len(iv) != 0 || len(tag) != 0 {
			return nil, res, errKW
		}
		iv = make([]byte, gcmIVLen)
		_, _ = rand.Read(iv)
		sealed := g.Seal(nil, iv, in, aad)
		n := len(sealed) - gcmTagLen
		res.IV, res.Tag = b64.EncodeToString(iv), b64.EncodeToString(sealed[n:])
		if len(aad) > 0 {
			res.AAD = b64.EncodeToString(aad)
		}
		return sealed[:n], res, nil
	}
	if len(iv) != gcmIVLen || len(tag) != gcmTagLen {
		return nil, res, errKW
	}
	out, err := g.Open(nil, iv, append(append([]byte(nil), in...), tag...), aad)
	return out, res, err
}
