package gcpkmstest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"testing"

	"cloud.google.com/go/kms/apiv1/kmspb"
	"github.com/decred/dcrd/dcrec/secp256k1/v4"
)

// The strict readings of "Formatting keys for import" that doc.go lists,
// each with material that breaks exactly one of them. (The import tests
// cover the same through the real client; these reach encodings OpenSSL
// does not write.)

type pkcs8Attrs struct {
	Version    int
	Algo       pkix.AlgorithmIdentifier
	PrivateKey []byte
	Attrs      asn1.RawValue `asn1:"optional,tag:0"`
}

func mustMarshal(t *testing.T, v any) []byte {
	t.Helper()
	b, err := asn1.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// ecPKCS8 builds EC PKCS#8 from parts.
func ecPKCS8(t *testing.T, version int, curve asn1.ObjectIdentifier, inner ecPrivateKey) []byte {
	t.Helper()
	return mustMarshal(t, pkcs8{
		Version:    version,
		Algo:       pkix.AlgorithmIdentifier{Algorithm: oidECPublicKey, Parameters: asn1.RawValue{FullBytes: mustMarshal(t, curve)}},
		PrivateKey: mustMarshal(t, inner),
	})
}

func TestMaterialStrictness(t *testing.T) {
	p256 := algorithms[kmspb.CryptoKeyVersion_EC_SIGN_P256_SHA256]
	k1 := algorithms[kmspb.CryptoKeyVersion_EC_SIGN_SECP256K1_SHA256]
	rsa2048 := algorithms[kmspb.CryptoKeyVersion_RSA_SIGN_PKCS1_2048_SHA256]
	oidP256 := asn1.ObjectIdentifier{1, 2, 840, 10045, 3, 1, 7}

	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	good, err := x509.MarshalPKCS8PrivateKey(ec)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := parseMaterial(p256, good); err != nil {
		t.Fatalf("Go's own P-256 PKCS#8 refused: %v", err)
	}
	d := ec.D.FillBytes(make([]byte, 32))
	pub, _ := ec.PublicKey.Bytes()
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	otherPub, _ := other.PublicKey.Bytes()
	inner := func(d []byte, curve asn1.ObjectIdentifier, pub []byte) ecPrivateKey {
		k := ecPrivateKey{Version: 1, PrivateKey: d, Curve: curve}
		if pub != nil {
			k.PublicKey = asn1.BitString{Bytes: pub, BitLength: 8 * len(pub)}
		}
		return k
	}
	var info pkcs8
	if _, err := asn1.Unmarshal(good, &info); err != nil {
		t.Fatal(err)
	}
	withAttrs := mustMarshal(t, pkcs8Attrs{Version: 0, Algo: info.Algo, PrivateKey: info.PrivateKey,
		Attrs: asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: mustMarshal(t, asn1.RawValue{Tag: asn1.TagSequence, IsCompound: true})}})

	rk, err := rsa.GenerateMultiPrimeKey(rand.Reader, 3, 2048)
	if err != nil {
		t.Fatal(err)
	}
	multi, err := x509.MarshalPKCS8PrivateKey(rk)
	if err != nil {
		t.Fatal(err)
	}

	k1key, _ := secp256k1.GeneratePrivateKey()
	k1d := k1key.Serialize()
	k1pub := k1key.PubKey().SerializeUncompressed()
	n := secp256k1.S256().N.FillBytes(make([]byte, 32))

	cases := []struct {
		name string
		r    algRule
		mat  []byte
		ok   bool
	}{
		{"without public key", p256, ecPKCS8(t, 0, oidP256, inner(d, nil, nil)), true},
		{"with inner curve", p256, ecPKCS8(t, 0, oidP256, inner(d, oidP256, pub)), true},
		{"PKCS#8 version 1", p256, ecPKCS8(t, 1, oidP256, inner(d, nil, pub)), false},
		{"attributes", p256, withAttrs, false},
		{"public key not d·G", p256, ecPKCS8(t, 0, oidP256, inner(d, nil, otherPub)), false},
		{"inner curve differs", p256, ecPKCS8(t, 0, oidP256, inner(d, oidSECP256K1, pub)), false},
		{"short scalar", p256, ecPKCS8(t, 0, oidP256, inner(d[1:], nil, nil)), d[0] == 0},
		{"multi-prime RSA", rsa2048, multi, false},
		{"secp256k1", k1, ecPKCS8(t, 0, oidSECP256K1, inner(k1d, nil, k1pub)), true},
		{"secp256k1 without public key", k1, ecPKCS8(t, 0, oidSECP256K1, inner(k1d, nil, nil)), true},
		{"secp256k1 public key not d·G", k1, ecPKCS8(t, 0, oidSECP256K1, inner(k1d, nil, otherPub)), false},
		{"secp256k1 scalar n", k1, ecPKCS8(t, 0, oidSECP256K1, inner(n, nil, nil)), false},
		{"secp256k1 scalar 0", k1, ecPKCS8(t, 0, oidSECP256K1, inner(make([]byte, 32), nil, nil)), false},
		{"secp256k1 as P-256", k1, ecPKCS8(t, 0, oidP256, inner(k1d, nil, nil)), false},
		{"secp256k1 PKCS#8 version 1", k1, ecPKCS8(t, 1, oidSECP256K1, inner(k1d, nil, nil)), false},
	}
	for _, c := range cases {
		_, err := parseMaterial(c.r, c.mat)
		if (err == nil) != c.ok {
			t.Errorf("%s: parseMaterial error %v, want accepted=%v", c.name, err, c.ok)
		}
	}
}
