package hsmtest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"embed"
	"encoding/pem"
	"fmt"
	"sync"

	"github.com/byok-go/byok"
	"github.com/byok-go/byok/hsm"
	"github.com/decred/dcrd/dcrec/secp256k1/v4"
	"github.com/miekg/pkcs11"
)

// The RSA test keys: rsa{2048,3072,4096}-len8.pem have PKCS#8 encodings
// whose length is a multiple of 8 bytes (generated with crypto/rsa until
// they were, for modules whose AES key wrap zero-fills; see
// hsm.Capabilities), rsa2048-len-odd.pem one that is not.
//
//go:embed testdata/*.pem
var testdata embed.FS

// RSAKey returns a test RSA key: "rsa2048-len8", "rsa3072-len8",
// "rsa4096-len8" or "rsa2048-len-odd".
func RSAKey(name string) (*rsa.PrivateKey, error) {
	b, err := testdata.ReadFile("testdata/" + name + ".pem")
	if err != nil {
		return nil, err
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		return nil, fmt.Errorf("hsmtest: %s is not PEM", name)
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return nil, err
	}
	return k.(*rsa.PrivateKey), nil
}

// Key is a test key of known value, to put in a token and migrate.
type Key struct {
	// Name is short and unique ("aes256", "hmac224", "rsa2048", "p256", …).
	Name string
	// Spec is the KMS key spec the key maps to.
	Spec byok.KeySpec
	// KeyType and Value describe a secret key; Priv a private key.
	KeyType uint
	Value   []byte
	Priv    any
	// MaterialLen is the length of the KMS material of an RSA key (its
	// PKCS#8), for modules whose AES key wrap zero-fills.
	MaterialLen int
}

// Material returns the key's KMS key material: what KMS must receive.
func (k Key) Material() ([]byte, error) {
	if k.Value != nil {
		return k.Value, nil
	}
	m, err := byok.NewKeyMaterial(k.Priv)
	if err != nil {
		return nil, err
	}
	defer m.Destroy()
	return m.Bytes(), nil
}

// Create puts the key in the token (ImportSecret or ImportPrivate).
func (k Key) Create(api hsm.PKCS11, sh pkcs11.SessionHandle, o KeyOptions) error {
	var err error
	if k.Value != nil {
		_, err = ImportSecret(api, sh, k.KeyType, k.Value, o)
	} else {
		_, err = ImportPrivate(api, sh, k.Priv, o)
	}
	return err
}

func random(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// Keys returns a key of every type KMS imports, secrets and EC keys fresh
// from crypto/rand, RSA keys from RSAKey's "-len8" files: AES-256; HMAC
// generic secrets of 28, 32, 48 and 64 bytes and a CKK_SHA256_HMAC key; RSA
// 2048, 3072 and 4096; EC P-256, P-384, P-521 and secp256k1.
func Keys() ([]Key, error) {
	k1, err := secp256k1.GeneratePrivateKey()
	if err != nil {
		return nil, err
	}
	keys := []Key{
		{Name: "aes256", Spec: byok.SymmetricDefault, KeyType: pkcs11.CKK_AES, Value: random(32)},
		{Name: "hmac224", Spec: byok.HMAC224, KeyType: pkcs11.CKK_GENERIC_SECRET, Value: random(28)},
		{Name: "hmac256", Spec: byok.HMAC256, KeyType: pkcs11.CKK_GENERIC_SECRET, Value: random(32)},
		{Name: "hmac384", Spec: byok.HMAC384, KeyType: pkcs11.CKK_GENERIC_SECRET, Value: random(48)},
		{Name: "hmac512", Spec: byok.HMAC512, KeyType: pkcs11.CKK_GENERIC_SECRET, Value: random(64)},
		{Name: "hmac256-typed", Spec: byok.HMAC256, KeyType: pkcs11.CKK_SHA256_HMAC, Value: random(32)},
	}
	for _, bits := range []int{2048, 3072, 4096} {
		k, err := RSAKey(fmt.Sprintf("rsa%d-len8", bits))
		if err != nil {
			return nil, err
		}
		keys = append(keys, Key{Name: fmt.Sprintf("rsa%d", bits), Spec: map[int]byok.KeySpec{2048: byok.RSA2048, 3072: byok.RSA3072, 4096: byok.RSA4096}[bits], Priv: k})
	}
	for _, c := range []struct {
		name  string
		curve elliptic.Curve
		spec  byok.KeySpec
	}{{"p256", elliptic.P256(), byok.ECCNISTP256}, {"p384", elliptic.P384(), byok.ECCNISTP384}, {"p521", elliptic.P521(), byok.ECCNISTP521}} {
		k, err := ecdsa.GenerateKey(c.curve, rand.Reader)
		if err != nil {
			return nil, err
		}
		keys = append(keys, Key{Name: c.name, Spec: c.spec, Priv: k})
	}
	keys = append(keys, Key{Name: "secp256k1", Spec: byok.ECCSECGP256K1, Priv: k1})
	for i := range keys {
		if keys[i].Spec.Kind() == byok.KindRSA {
			m, err := keys[i].Material()
			if err != nil {
				return nil, err
			}
			keys[i].MaterialLen = len(m)
		}
	}
	return keys, nil
}

// WrappingKey returns a fixed RSA-3072 key pair to stand for a KMS wrapping
// key in tests that wrap without KMS and unwrap themselves
// (byok.UnwrapKeyMaterial). It is a copy of the repository's
// testdata/keys/rsa3072.pkcs1.pem.
var WrappingKey = sync.OnceValue(func() *rsa.PrivateKey {
	b, err := testdata.ReadFile("testdata/wrapping-rsa3072.pem")
	if err != nil {
		panic(err)
	}
	blk, _ := pem.Decode(b)
	k, err := x509.ParsePKCS1PrivateKey(blk.Bytes)
	if err != nil {
		panic(err)
	}
	return k
})

// ImportParameters returns import parameters for alg under WrappingKey.
func ImportParameters(alg byok.WrappingAlgorithm) byok.ImportParameters {
	return byok.ImportParameters{KeyID: "hsmtest", Algorithm: alg, WrappingKeySpec: byok.WrappingRSA3072,
		WrappingKey: &WrappingKey().PublicKey, ImportToken: []byte("hsmtest")}
}
