package hsm

import (
	"context"
	"crypto"
	"crypto/rsa"
	"encoding/asn1"
	"errors"
	"fmt"
	"io"
	"math/big"

	"github.com/byok-go/byok"
	"github.com/miekg/pkcs11"
)

// signer signs with an HSM key through C_Sign.
type signer struct {
	s   *Source
	pub crypto.PublicKey
}

// Signer returns a crypto.Signer that signs inside the module with C_Sign:
// RSA keys sign RSASSA-PKCS1-v1_5 (opts a crypto.Hash; CKM_RSA_PKCS over
// the DigestInfo) or RSASSA-PSS (*rsa.PSSOptions; CKM_RSA_PKCS_PSS); EC
// keys sign ECDSA (CKM_ECDSA) and return ASN.1 DER signatures, as Go and
// KMS do. The key needs CKA_SIGN=true.
func (s *Source) Signer(context.Context) (crypto.Signer, error) {
	switch s.key.Spec.Kind() {
	case byok.KindRSA, byok.KindEC:
	default:
		return nil, fmt.Errorf("hsm: a %s key cannot sign", s.key.Spec)
	}
	if !s.key.CanSign {
		return nil, &Error{Op: fmt.Sprintf("signing with %s", s.key), Kind: ErrNotPermitted,
			Fix: "the key's CKA_SIGN is false, so the module cannot prove that KMS holds the same key by signing; import with verification skipped, or set CKA_SIGN"}
	}
	pub, err := byok.ParsePublicKeyDER(s.key.PublicKeyDER)
	if err != nil {
		return nil, err
	}
	return &signer{s: s, pub: pub}, nil
}

func (g *signer) Public() crypto.PublicKey { return g.pub }

// DigestInfo prefixes of RSASSA-PKCS1-v1_5 (RFC 8017 §9.2, note 1).
var digestInfo = map[crypto.Hash][]byte{
	crypto.SHA1:   {0x30, 0x21, 0x30, 0x09, 0x06, 0x05, 0x2b, 0x0e, 0x03, 0x02, 0x1a, 0x05, 0x00, 0x04, 0x14},
	crypto.SHA224: {0x30, 0x2d, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x04, 0x05, 0x00, 0x04, 0x1c},
	crypto.SHA256: {0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20},
	crypto.SHA384: {0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02, 0x05, 0x00, 0x04, 0x30},
	crypto.SHA512: {0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x03, 0x05, 0x00, 0x04, 0x40},
}

// hashMechanisms maps a hash to its PKCS#11 digest mechanism, MGF1 and
// HMAC mechanism.
var hashMechanisms = map[crypto.Hash]struct{ digest, mgf, hmac uint }{
	crypto.SHA1:   {pkcs11.CKM_SHA_1, pkcs11.CKG_MGF1_SHA1, pkcs11.CKM_SHA_1_HMAC},
	crypto.SHA224: {pkcs11.CKM_SHA224, pkcs11.CKG_MGF1_SHA224, pkcs11.CKM_SHA224_HMAC},
	crypto.SHA256: {pkcs11.CKM_SHA256, pkcs11.CKG_MGF1_SHA256, pkcs11.CKM_SHA256_HMAC},
	crypto.SHA384: {pkcs11.CKM_SHA384, pkcs11.CKG_MGF1_SHA384, pkcs11.CKM_SHA384_HMAC},
	crypto.SHA512: {pkcs11.CKM_SHA512, pkcs11.CKG_MGF1_SHA512, pkcs11.CKM_SHA512_HMAC},
}

// Sign signs digest inside the module. rand is ignored: the module has its
// own randomness.
func (g *signer) Sign(_ io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	h := opts.HashFunc()
	if h != 0 && len(digest) != h.Size() {
		return nil, fmt.Errorf("hsm: the digest is %d bytes; %s digests are %d", len(digest), h, h.Size())
	}
	var mech *pkcs11.Mechanism
	data := digest
	switch g.pub.(type) {
	case *rsa.PublicKey:
		hm, ok := hashMechanisms[h]
		if !ok {
			return nil, fmt.Errorf("hsm: RSA signatures with %v are not supported", h)
		}
		if pss, ok := opts.(*rsa.PSSOptions); ok {
			salt := pss.SaltLength
			if salt == rsa.PSSSaltLengthAuto || salt == rsa.PSSSaltLengthEqualsHash {
				salt = h.Size()
			}
			mech = pkcs11.NewMechanism(pkcs11.CKM_RSA_PKCS_PSS, pkcs11.NewPSSParams(hm.digest, hm.mgf, uint(salt)))
		} else {
			mech = pkcs11.NewMechanism(pkcs11.CKM_RSA_PKCS, nil)
			data = append(append([]byte(nil), digestInfo[h]...), digest...)
		}
	default:
		mech = pkcs11.NewMechanism(pkcs11.CKM_ECDSA, nil)
	}
	sig, err := g.s.sign(mech, data)
	if err != nil {
		return nil, err
	}
	if _, isRSA := g.pub.(*rsa.PublicKey); isRSA {
		return sig, nil
	}
	if len(sig) == 0 || len(sig)%2 != 0 {
		return nil, fmt.Errorf("hsm: the module returned a %d-byte ECDSA signature; want r||s", len(sig))
	}
	half := len(sig) / 2
	return asn1.Marshal(struct{ R, S *big.Int }{new(big.Int).SetBytes(sig[:half]), new(big.Int).SetBytes(sig[half:])})
}

func (s *Source) sign(mech *pkcs11.Mechanism, data []byte) ([]byte, error) {
	var sig []byte
	err := s.tok.WithSession(context.Background(), func(sh pkcs11.SessionHandle) error {
		api := s.tok.mod.api
		if err := api.SignInit(sh, []*pkcs11.Mechanism{mech}, s.key.Handle); err != nil {
			err = rvError(fmt.Sprintf("signing with %s (C_SignInit, mechanism %#x)", s.key, mech.Mechanism), err, false)
			var e *Error
			if errors.As(err, &e) && e.Kind == ErrMechanism {
				e.Fix = "the module cannot sign (or compute the HMAC) with this mechanism, which the proof after import needs; check its mechanism list (pkcs11-tool --module LIB -M), or import with verification skipped (byok.Importer.SkipVerify) and check the key another way"
			}
			return err
		}
		var err error
		sig, err = api.Sign(sh, data)
		return rvError(fmt.Sprintf("signing with %s (C_Sign)", s.key), err, false)
	})
	return sig, err
}

// MAC returns the HMAC of message computed inside the module (C_Sign with
// CKM_SHA224_HMAC … CKM_SHA512_HMAC, the hash of the key's spec), for
// comparison with KMS GenerateMac. The key needs CKA_SIGN=true.
func (s *Source) MAC(ctx context.Context, message []byte) ([]byte, error) {
	h := s.key.Spec.HMACHash()
	if h == 0 {
		return nil, fmt.Errorf("hsm: a %s key computes no HMAC", s.key.Spec)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return s.sign(pkcs11.NewMechanism(hashMechanisms[h].hmac, nil), message)
}
