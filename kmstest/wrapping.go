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

// An import token is a version byte, a random 32-byte handle naming the
// emulator's record, the expiry (Unix nanoseconds, big-endian) and an
// HMAC-SHA256 under the emulator's secret over all that and the Region and
// key ID it was issued for. The record holds the wrapping key pair and
// algorithm and is dropped as soon as the token expires; the MAC alone then
// tells an expired token of this key (ExpiredImportTokenException) from one
// that was never issued for it (InvalidImportTokenException).
const (
	tokenVersion = 2
	tokenLen     = 1 + 32 + 8 + sha256.Size
)

// tokenMAC binds a token's handle and expiry to the Region and key.
func (e *Emulator) tokenMAC(handle []byte, expires int64, region, keyID string) []byte {
	h := hmac.New(sha256.New, e.tokenSecret)
	h.Write([]byte{tokenVersion})
	h.Write(handle)
	h.Write(binary.BigEndian.AppendUint64(nil, uint64(expires)))
	for _, s := range []string{region, keyID} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	return h.Sum(nil)
}

// issueToken records a new import token and returns its bytes.
func (e *Emulator) issueToken(r *tokenRec) []byte {
	handle := make([]byte, 32)
	rand.Read(handle)
	r.PrivateKey = x509.MarshalPKCS1PrivateKey(r.priv)
	h := hex.EncodeToString(handle)
	e.tokens[h] = r
	e.tokenQueue = append(e.tokenQueue, h)
	e.touchToken(h)
	exp := r.Expires.UnixNano()
	tok := append([]byte{tokenVersion}, handle...)
	tok = binary.BigEndian.AppendUint64(tok, uint64(exp))
	return append(tok, e.tokenMAC(handle, exp, r.Region, r.KeyID)...)
}

// checkToken finds the record of an import token for key k.
func (e *Emulator) checkToken(rc *reqCtx, k *key, tok []byte) (*tokenRec, *apiError) {
	invalid := newErr(ErrInvalidImportToken, "The import token is invalid or was not issued for %s.", e.arn(k))
	if len(tok) != tokenLen || tok[0] != tokenVersion {
		return nil, invalid
	}
	handle, exp := tok[1:33], int64(binary.BigEndian.Uint64(tok[33:41]))
	if !hmac.Equal(tok[41:], e.tokenMAC(handle, exp, rc.region, k.ID)) {
		return nil, invalid
	}
	if expires := time.Unix(0, exp); !rc.now.Before(expires) {
		return nil, newErr(ErrExpiredImportToken, "The import token expired at %s; call GetParametersForImport for a new one.", expires.UTC().Format(time.RFC3339))
	}
	r := e.tokens[hex.EncodeToString(handle)]
	if r == nil || r.Region != rc.region || r.KeyID != k.ID {
		return nil, invalid
	}
	if r.priv == nil {
		priv, err := x509.ParsePKCS1PrivateKey(r.PrivateKey)
		if err != nil {
			return nil, invalid
		}
		r.priv = priv
	}
	return r, nil
}

// pruneTokens drops the records of expired tokens, oldest first: a token
// outlives its record only to be answered as expired, which its MAC does.
// Tokens expire in the order they were issued (24 hours after), so this
// costs nothing while none has expired.
func (e *Emulator) pruneTokens(now time.Time) {
	for len(e.tokenQueue) > 0 {
		h := e.tokenQueue[0]
		if r := e.tokens[h]; r != nil {
			if now.Before(r.Expires) {
				return
			}
			clear(r.PrivateKey)
			delete(e.tokens, h)
			e.touchToken(h)
		}
		e.tokenQueue[0] = ""
		e.tokenQueue = e.tokenQueue[1:]
	}
	e.tokenQueue = nil
}
