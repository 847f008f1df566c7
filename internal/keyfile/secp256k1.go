package keyfile

// secp256k1 (ECC_SECG_P256K1), which the standard library does not know:
// the arithmetic comes from github.com/decred/dcrd/dcrec/secp256k1/v4.

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	encasn1 "encoding/asn1"
	"fmt"
	"math/big"

	"github.com/decred/dcrd/dcrec/secp256k1/v4"
)

var secp256k1Curve = &Curve{
	Spec:  "ECC_SECG_P256K1",
	Name:  "secp256k1",
	OID:   encasn1.ObjectIdentifier{1, 3, 132, 0, 10},
	Size:  32,
	Order: secp256k1.Params().N.FillBytes(make([]byte, 32)),
}

// secp256k1Public computes d·G on secp256k1, uncompressed.
func secp256k1Public(d []byte) ([]byte, error) {
	var s secp256k1.ModNScalar
	defer s.Zero()
	if overflow := s.SetByteSlice(d); overflow || s.IsZero() {
		return nil, fmt.Errorf("%w: the secp256k1 private scalar is not in [1, n-1]; the key is corrupt", ErrInvalid)
	}
	k := secp256k1.NewPrivateKey(&s)
	defer k.Zero()
	return k.PubKey().SerializeUncompressed(), nil
}

func parseSecp256k1Public(point []byte) (any, error) { return secp256k1.ParsePubKey(point) }

// fromSecp256k1 takes decred's secp256k1 private key.
func fromSecp256k1(k *secp256k1.PrivateKey) (*Key, error) {
	d := k.Serialize()
	defer clear(d)
	return newEC(secp256k1Curve, d, nil)
}

// isSecp256k1 reports whether the parameters of a custom elliptic.Curve
// (such as decred's S256) are secp256k1's.
func isSecp256k1(p *elliptic.CurveParams) bool {
	s := secp256k1.Params()
	return p != nil && p.P != nil && p.N != nil && p.B != nil && p.Gx != nil && p.Gy != nil &&
		p.P.Cmp(s.P) == 0 && p.N.Cmp(s.N) == 0 && p.B.Cmp(big.NewInt(7)) == 0 && p.Gx.Cmp(s.Gx) == 0 && p.Gy.Cmp(s.Gy) == 0
}

// fromECDSASecp256k1 takes an *ecdsa.PrivateKey on a custom curve with
// secp256k1's parameters.
func fromECDSASecp256k1(k *ecdsa.PrivateKey) (*Key, error) {
	d, ok := scalarBytes(k.D, 32) //nolint:staticcheck // D is the only way to a custom curve's scalar
	if !ok {
		return nil, fmt.Errorf("%w: the secp256k1 private scalar is out of range; check how the key was built", ErrInvalid)
	}
	defer clear(d)
	var pub []byte
	if k.X != nil && k.Y != nil { //nolint:staticcheck // as above
		pub = make([]byte, 65)
		pub[0] = 4
		if k.X.Sign() < 0 || k.Y.Sign() < 0 || k.X.BitLen() > 256 || k.Y.BitLen() > 256 { //nolint:staticcheck
			return nil, fmt.Errorf("%w: the secp256k1 public key is invalid; check how the key was built", ErrInvalid)
		}
		k.X.FillBytes(pub[1:33]) //nolint:staticcheck
		k.Y.FillBytes(pub[33:])  //nolint:staticcheck
	}
	return newEC(secp256k1Curve, d, pub)
}

// scalarBytes returns d as a size-byte big-endian buffer (for keys handed in
// as *big.Int); false if it does not fit.
func scalarBytes(d *big.Int, size int) ([]byte, bool) {
	if d == nil || d.Sign() <= 0 || d.BitLen() > size*8 {
		return nil, false
	}
	return d.FillBytes(make([]byte, size)), true
}
