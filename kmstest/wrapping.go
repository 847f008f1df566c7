package kmstest

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/binary"
	"encoding/hex"
	"sync"
	"time"
)

// tokenValidity is how long a wrapping key and import token stay usable.
const tokenValidity = 24 * time.Hour

// wrappingKeys hands out wrapping key pairs: a fresh one per call, as AWS
// does, or with the cache one per size shared by the whole process.
type wrappingKeys struct{ cache bool }

func newWrappingKeys(cache bool) *wrappingKeys { return &wrappingKeys{cache: cache} }

type cachedKey struct {
	once sync.Once
	key  *rsa.PrivateKey
	err  error
}

var wrappingCache sync.Map // bits -> *cachedKey

func (w *wrappingKeys) get(bits int) (*rsa.PrivateKey, error) {
	if !w.cache {
		return rsa.GenerateKey(rand.Reader, bits)
	}
	v, _ := wrappingCache.LoadOrStore(bits, &cachedKey{})
	c := v.(*cachedKey)
	c.once.Do(func() { c.key, c.err = rsa.GenerateKey(rand.Reader, bits) })
	return c.key, c.err
}

// tokenRec is the emulator's record of one import token: the KMS key it is
// for, the wrapping key pair and algorithm, and when it expires.
type tokenRec struct {
	Region          string    `json:"region"`
	KeyID           string    `json:"keyId"`
	Algorithm       string    `json:"algorithm"`
	WrappingKeySpec string    `json:"wrappingKeySpec"`
	Expires         time.Time `json:"expires"`
	PrivateKey      []byte    `json:"privateKey"` // PKCS#1 DER, secret

	priv *rsa.PrivateKey
}

const (
	tokenVersion = 1
	tokenLen     = 1 + 32 + sha256.Size
)

// tokenMAC binds a token handle to everything its record says.
func (e *Emulator) tokenMAC(handle []byte, r *tokenRec) []byte {
	h := hmac.New(sha256.New, e.tokenSecret)
	h.Write([]byte{tokenVersion})
	h.Write(handle)
	for _, s := range []string{r.Region, r.KeyID, r.Algorithm, r.WrappingKeySpec} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	pub := sha256.Sum256(x509.MarshalPKCS1PublicKey(&r.priv.PublicKey))
	h.Write(pub[:])
	h.Write(binary.BigEndian.AppendUint64(nil, uint64(r.Expires.UnixNano())))
	return h.Sum(nil)
}

// issueToken records a new import token and returns its bytes: a version
// byte, a random 32-byte handle and an HMAC over the handle and the record.
func (e *Emulator) issueToken(r *tokenRec) []byte {
	handle := make([]byte, 32)
	rand.Read(handle)
	r.PrivateKey = x509.MarshalPKCS1PrivateKey(r.priv)
	e.tokens[hex.EncodeToString(handle)] = r
	tok := append([]byte{tokenVersion}, handle...)
	return append(tok, e.tokenMAC(handle, r)...)
}

// checkToken finds the record of an import token for key k.
func (e *Emulator) checkToken(rc *reqCtx, k *key, tok []byte) (*tokenRec, *apiError) {
	invalid := newErr(ErrInvalidImportToken, "The import token is invalid or was not issued for %s.", e.arn(k))
	if len(tok) != tokenLen || tok[0] != tokenVersion {
		return nil, invalid
	}
	handle := tok[1:33]
	r := e.tokens[hex.EncodeToString(handle)]
	if r == nil {
		return nil, invalid
	}
	if r.priv == nil {
		priv, err := x509.ParsePKCS1PrivateKey(r.PrivateKey)
		if err != nil {
			return nil, invalid
		}
		r.priv = priv
	}
	if !hmac.Equal(tok[33:], e.tokenMAC(handle, r)) {
		return nil, invalid
	}
	if r.Region != rc.region || r.KeyID != k.ID {
		return nil, invalid
	}
	if !rc.now.Before(r.Expires) {
		return nil, newErr(ErrExpiredImportToken, "The import token expired at %s; call GetParametersForImport for a new one.", r.Expires.UTC().Format(time.RFC3339))
	}
	return r, nil
}

// pruneTokens forgets tokens that expired more than a day ago (until then an
// expired token is reported as expired rather than invalid).
func (e *Emulator) pruneTokens(now time.Time) {
	for h, r := range e.tokens {
		if now.Sub(r.Expires) > tokenValidity {
			clear(r.PrivateKey)
			delete(e.tokens, h)
			e.dirty = true
		}
	}
}
