package gcpkms

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"testing"

	"github.com/byok-go/byok"
	"github.com/byok-go/byok/driver/software"
	"github.com/decred/dcrd/dcrec/secp256k1/v4"
)

// softwareKey returns a software source of a fresh key of spec.
func softwareKey(t testing.TB, spec byok.KeySpec, usage ...byok.KeyUsage) *software.Source {
	t.Helper()
	var m *byok.KeyMaterial
	var err error
	switch spec.Kind() {
	case byok.KindRSA:
		var k *rsa.PrivateKey
		if k, err = rsa.GenerateKey(rand.Reader, spec.Bits()); err == nil {
			m, err = byok.NewKeyMaterial(k)
		}
	case byok.KindEC:
		var k any
		switch spec {
		case byok.ECCSECGP256K1:
			k, err = secp256k1.GeneratePrivateKey()
		case byok.ECCNISTP384:
			k, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
		case byok.ECCNISTP521:
			k, err = ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
		default:
			k, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		}
		if err == nil {
			m, err = byok.NewKeyMaterial(k)
		}
	default:
		b := make([]byte, spec.MaterialLen())
		rand.Read(b)
		m, err = byok.NewSecretKeyMaterial(spec, b)
	}
	if err != nil {
		t.Fatal(err)
	}
	o := software.Options{}
	if len(usage) > 0 {
		o.Usage = usage[0]
	}
	s, err := software.New(m, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}
