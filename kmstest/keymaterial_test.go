package kmstest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"strings"
	"testing"

	"github.com/decred/dcrd/dcrec/secp256k1/v4"
)

// reencodeEC decodes EC PKCS#8, lets f change the ECPrivateKey and the
// curve parameters, and encodes it again.
func reencodeEC(t *testing.T, der []byte, f func(*pkcs8, *ecPrivateKey)) []byte {
	t.Helper()
	var p pkcs8
	if _, err := asn1.Unmarshal(der, &p); err != nil {
		t.Fatal(err)
	}
	var ec ecPrivateKey
	if _, err := asn1.Unmarshal(p.PrivateKey, &ec); err != nil {
		t.Fatal(err)
	}
	f(&p, &ec)
	inner, err := asn1.Marshal(ec)
	if err != nil {
		t.Fatal(err)
	}
	p.PrivateKey = inner
	out, err := asn1.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestMaterialStrictness: the emulator's parser takes the canonical PKCS#8
// of the right key and refuses everything near it.
func TestMaterialStrictness(t *testing.T) {
	mats := map[string][]byte{}
	for _, spec := range []string{"SYMMETRIC_DEFAULT", "HMAC_224", "HMAC_512", "RSA_2048", "ECC_NIST_P256", "ECC_NIST_P521", "ECC_SECG_P256K1"} {
		m, err := generateMaterial(spec)
		if err != nil {
			t.Fatal(err)
		}
		if err := checkMaterial(spec, m); err != nil {
			t.Fatalf("%s: generated material refused: %v", spec, err)
		}
		mats[spec] = m
	}
	other := func(spec string) []byte {
		m, err := generateMaterial(spec)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	k1, p256 := mats["ECC_SECG_P256K1"], mats["ECC_NIST_P256"]
	otherK1pub := func() asn1.BitString {
		var pub []byte
		reencodeEC(t, other("ECC_SECG_P256K1"), func(_ *pkcs8, ec *ecPrivateKey) { pub = ec.PublicKey.Bytes })
		return asn1.BitString{Bytes: pub, BitLength: 8 * len(pub)}
	}()
	n := secp256k1.S256().N.FillBytes(make([]byte, 32))

	for _, tc := range []struct {
		name, spec string
		mat        []byte
	}{
		{"symmetric 31 bytes", "SYMMETRIC_DEFAULT", make([]byte, 31)},
		{"symmetric 33 bytes", "SYMMETRIC_DEFAULT", make([]byte, 33)},
		{"HMAC_384 of HMAC_256 length", "HMAC_384", make([]byte, 32)},
		{"HMAC_224 of 64 bytes", "HMAC_224", make([]byte, 64)},
		{"RSA trailing byte", "RSA_2048", append(bytes.Clone(mats["RSA_2048"]), 0)},
		{"RSA_2048 as RSA_3072", "RSA_3072", mats["RSA_2048"]},
		{"RSA as EC", "ECC_NIST_P256", mats["RSA_2048"]},
		{"P-256 as P-521", "ECC_NIST_P521", p256},
		{"P-256 as secp256k1", "ECC_SECG_P256K1", p256},
		{"secp256k1 as P-256", "ECC_NIST_P256", k1},
		{"P-256 trailing byte", "ECC_NIST_P256", append(bytes.Clone(p256), 0)},
		{"P-256 without public key", "ECC_NIST_P256", reencodeEC(t, p256, func(_ *pkcs8, ec *ecPrivateKey) { ec.PublicKey = asn1.BitString{} })},
		{"P-256 with curve in ECPrivateKey", "ECC_NIST_P256", reencodeEC(t, p256, func(_ *pkcs8, ec *ecPrivateKey) {
			ec.NamedCurveOID = asn1.ObjectIdentifier{1, 2, 840, 10045, 3, 1, 7}
		})},
		{"secp256k1 trailing byte", "ECC_SECG_P256K1", append(bytes.Clone(k1), 0)},
		{"secp256k1 without public key", "ECC_SECG_P256K1", reencodeEC(t, k1, func(_ *pkcs8, ec *ecPrivateKey) { ec.PublicKey = asn1.BitString{} })},
		{"secp256k1 with another public key", "ECC_SECG_P256K1", reencodeEC(t, k1, func(_ *pkcs8, ec *ecPrivateKey) { ec.PublicKey = otherK1pub })},
		{"secp256k1 scalar n", "ECC_SECG_P256K1", reencodeEC(t, k1, func(_ *pkcs8, ec *ecPrivateKey) { ec.PrivateKey = n })},
		{"secp256k1 scalar 0", "ECC_SECG_P256K1", reencodeEC(t, k1, func(_ *pkcs8, ec *ecPrivateKey) { ec.PrivateKey = make([]byte, 32) })},
		{"secp256k1 short scalar", "ECC_SECG_P256K1", reencodeEC(t, k1, func(_ *pkcs8, ec *ecPrivateKey) { ec.PrivateKey = ec.PrivateKey[1:] })},
		{"secp256k1 PKCS#8 version 1", "ECC_SECG_P256K1", reencodeEC(t, k1, func(p *pkcs8, _ *ecPrivateKey) { p.Version = 1 })},
		{"secp256k1 curve in ECPrivateKey", "ECC_SECG_P256K1", reencodeEC(t, k1, func(_ *pkcs8, ec *ecPrivateKey) { ec.NamedCurveOID = oidSECP256K1 })},
		{"empty", "RSA_2048", nil},
	} {
		if err := checkMaterial(tc.spec, tc.mat); err == nil {
			t.Errorf("%s: accepted as %s", tc.name, tc.spec)
		}
	}

	// The public keys: GetPublicKey's SPKI is the key's own.
	for spec, m := range mats {
		if _, ok := secretLen[spec]; ok {
			continue
		}
		pk, err := parsePrivate(spec, m)
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case pk.rsa != nil, pk.ec != nil:
			pub, err := x509.ParsePKIXPublicKey(pk.spki)
			if err != nil {
				t.Fatalf("%s: SPKI does not parse: %v", spec, err)
			}
			if k, ok := pub.(*rsa.PublicKey); ok && !k.Equal(&pk.rsa.PublicKey) {
				t.Errorf("%s: SPKI holds another key", spec)
			}
			if k, ok := pub.(*ecdsa.PublicKey); ok && !k.Equal(&pk.ec.PublicKey) {
				t.Errorf("%s: SPKI holds another key", spec)
			}
		case pk.k1 != nil:
			var s spkiDER
			if rest, err := asn1.Unmarshal(pk.spki, &s); err != nil || len(rest) != 0 {
				t.Fatalf("secp256k1 SPKI: %v", err)
			}
			var curve asn1.ObjectIdentifier
			asn1.Unmarshal(s.Algo.Parameters.FullBytes, &curve)
			if !s.Algo.Algorithm.Equal(oidECPublicKey) || !curve.Equal(oidSECP256K1) ||
				!bytes.Equal(s.PublicKey.Bytes, pk.k1.PubKey().SerializeUncompressed()) {
				t.Errorf("secp256k1 SPKI %x is not id-ecPublicKey, secp256k1 and the uncompressed point", pk.spki)
			}
			if !strings.HasPrefix(string(pk.spki), "\x30\x56\x30\x10\x06\x07\x2a\x86\x48\xce\x3d\x02\x01\x06\x05\x2b\x81\x04\x00\x0a\x03\x42\x00\x04") {
				t.Errorf("secp256k1 SPKI %x has not the DER prefix RFC 5480 gives", pk.spki)
			}
		}
	}
}
