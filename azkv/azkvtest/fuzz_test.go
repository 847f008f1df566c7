package azkvtest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"testing"
)

// The parsers of untrusted input must refuse, never panic.

func FuzzParseTransferBlob(f *testing.F) {
	f.Add(blob("https://127.0.0.1:1/keys/kek/"+"0123456789abcdef0123456789abcdef", blobEnc, []byte{1, 2, 3}))
	f.Add([]byte(`{"schema_version":"1.0.0","header":{}}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		if blob, err := parseTransferBlob(b); err == nil && (blob.Header.Enc != blobEnc || blob.Header.Alg != blobAlg) {
			t.Fatal("a blob with another enc or alg was accepted")
		}
	})
}

func FuzzParseMaterial(f *testing.F) {
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.MarshalPKCS8PrivateKey(k)
	f.Add(der, "EC-HSM", "P-256")
	f.Add(make([]byte, 32), "oct-HSM", "")
	f.Add([]byte{0x30, 0x03, 0x02, 0x01, 0x00}, "RSA-HSM", "")
	f.Fuzz(func(t *testing.T, b []byte, kty, crv string) {
		k := &keyVersion{}
		if err := parseMaterial(k, kty, crv, b); err == nil && k.rsaKey == nil && k.ecKey == nil && k.k1Key == nil && k.octKey == nil {
			t.Fatal("accepted material without a key")
		}
	})
}
