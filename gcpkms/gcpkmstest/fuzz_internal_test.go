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

// FuzzParseMaterial: key material is client input; no bytes may make the
// parser panic, and what it accepts must be usable (a public key for
// asymmetric material, the exact length for secrets).
func FuzzParseMaterial(f *testing.F) {
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ecDER, _ := x509.MarshalPKCS8PrivateKey(ec)
	rk, _ := rsa.GenerateKey(rand.Reader, 2048)
	rsaDER, _ := x509.MarshalPKCS8PrivateKey(rk)
	k1, _ := secp256k1.GeneratePrivateKey()
	inner, err := marshalForSeed(k1)
	if err != nil {
		f.Fatal(err)
	}
	if _, err := parseMaterial(algorithms[kmspb.CryptoKeyVersion_EC_SIGN_SECP256K1_SHA256], inner); err != nil {
		f.Fatalf("the secp256k1 seed is refused: %v", err)
	}
	for _, seed := range [][]byte{ecDER, rsaDER, inner, make([]byte, 32), nil} {
		f.Add(seed)
	}
	algs := []kmspb.CryptoKeyVersion_CryptoKeyVersionAlgorithm{
		kmspb.CryptoKeyVersion_EC_SIGN_P256_SHA256,
		kmspb.CryptoKeyVersion_EC_SIGN_SECP256K1_SHA256,
		kmspb.CryptoKeyVersion_RSA_SIGN_PSS_2048_SHA256,
		kmspb.CryptoKeyVersion_HMAC_SHA256,
	}
	f.Fuzz(func(t *testing.T, mat []byte) {
		for _, alg := range algs {
			r := algorithms[alg]
			m, err := parseMaterial(r, mat)
			if err != nil {
				continue
			}
			if r.kind == kindSecret && len(m.secret) != r.keyLen || r.kind != kindSecret && len(m.spki) == 0 {
				t.Fatalf("%s accepted unusable material", alg)
			}
		}
	})
}

// marshalForSeed is secp256k1 PKCS#8 as the fake reads it.
func marshalForSeed(k *secp256k1.PrivateKey) ([]byte, error) {
	params, err := asn1.Marshal(oidSECP256K1)
	if err != nil {
		return nil, err
	}
	pub := k.PubKey().SerializeUncompressed()
	inner, err := asn1.Marshal(ecPrivateKey{Version: 1, PrivateKey: k.Serialize(), PublicKey: asn1.BitString{Bytes: pub, BitLength: 8 * len(pub)}})
	if err != nil {
		return nil, err
	}
	return asn1.Marshal(pkcs8{Algo: pkix.AlgorithmIdentifier{Algorithm: oidECPublicKey, Parameters: asn1.RawValue{FullBytes: params}}, PrivateKey: inner})
}
