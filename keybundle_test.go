package byok_test

// PKCS#12 files and PEM key-plus-certificate files: fixtures made here with
// go-pkcs12's encoders and with openssl, never by byok.

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/byok-go/byok"
	"github.com/byok-go/byok/internal/testenv"
	"software.sslmate.com/src/go-pkcs12"
)

type certKey struct {
	key  crypto.Signer
	cert *x509.Certificate
}

var (
	fixOnce  sync.Once
	fixEC    certKey // P-256, self-signed
	fixRSA   certKey // RSA 2048, signed by fixCA
	fixCA    certKey // P-384 CA
	fixOther certKey // P-256, another key
)

func selfSigned(t testing.TB, key crypto.Signer, parent *certKey, cn string) *x509.Certificate {
	t.Helper()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), BasicConstraintsValid: true, IsCA: parent == nil}
	issuer, signer := tmpl, key
	if parent != nil {
		issuer, signer = parent.cert, parent.key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, issuer, key.Public(), signer)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func bundleFixtures(t testing.TB) {
	fixOnce.Do(func() {
		ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		fixEC = certKey{ec, selfSigned(t, ec, nil, "ec")}
		ca, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
		fixCA = certKey{ca, selfSigned(t, ca, nil, "ca")}
		r, _ := rsa.GenerateKey(rand.Reader, 2048)
		fixRSA = certKey{r, selfSigned(t, r, &fixCA, "rsa")}
		o, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		fixOther = certKey{o, selfSigned(t, o, nil, "other")}
	})
}

func pemOf(t testing.TB, typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

func pkcs8PEM(t testing.TB, k crypto.Signer) []byte {
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return pemOf(t, "PRIVATE KEY", der)
}

func certPEM(c *x509.Certificate) []byte { return pemOf(nil, "CERTIFICATE", c.Raw) }

// sameKey checks that m is the material of k, by an independent encoder
// (crypto/x509) and the public key.
func sameKey(t *testing.T, name string, m *byok.KeyMaterial, k crypto.Signer) {
	t.Helper()
	want, err := byok.NewKeyMaterial(k)
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := x509.MarshalPKIXPublicKey(k.Public())
	if !bytes.Equal(m.Bytes(), want.Bytes()) || !bytes.Equal(m.PublicKeyDER(), pub) {
		t.Errorf("%s: loaded another key", name)
	}
}

func TestPEMKeyWithCertificates(t *testing.T) {
	bundleFixtures(t)
	ecKey, rsaKey := pkcs8PEM(t, fixEC.key), pkcs8PEM(t, fixRSA.key)
	rsaPKCS1 := pemOf(t, "RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(fixRSA.key.(*rsa.PrivateKey)))
	for name, c := range map[string]struct {
		data []byte
		key  crypto.Signer
	}{
		"key, cert":              {cat(ecKey, certPEM(fixEC.cert)), fixEC.key},
		"cert, key":              {cat(certPEM(fixEC.cert), ecKey), fixEC.key},
		"key, leaf, CA":          {cat(rsaKey, certPEM(fixRSA.cert), certPEM(fixCA.cert)), fixRSA.key},
		"CA, key, leaf (PKCS#1)": {cat(certPEM(fixCA.cert), rsaPKCS1, certPEM(fixRSA.cert)), fixRSA.key},
		"openssl-style bag text": {cat([]byte("Bag Attributes\n    localKeyID: 01 02\nsubject=CN = ec\n"), certPEM(fixEC.cert), []byte("Bag Attributes\n    localKeyID: 01 02\nKey Attributes: <No Attributes>\n"), ecKey), fixEC.key},
		"key, cert, blank lines": {cat(ecKey, []byte("\n\n"), certPEM(fixEC.cert), []byte("\n \n")), fixEC.key},
	} {
		m, err := byok.LoadKeyFile(c.data, byok.LoadOptions{})
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		sameKey(t, name, m, c.key)
	}
}

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// twoKeyPFX builds a PKCS#12 file with two private keys, which no encoder
// writes: the key bag of b is added to the safe contents of a's key bag
// (both unencrypted, Passwordless).
func twoKeyPFX(t *testing.T, a, b certKey) []byte {
	t.Helper()
	type contentInfo struct {
		ContentType asn1.ObjectIdentifier
		Content     asn1.RawValue `asn1:"tag:0,explicit,optional"`
	}
	type pfxPDU struct {
		Version  int
		AuthSafe contentInfo
		MacData  asn1.RawValue `asn1:"optional"`
	}
	oidKeyBag := asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 12, 10, 1, 1}
	decode := func(p []byte) (pfxPDU, []contentInfo, [][]asn1.RawValue) {
		var pdu pfxPDU
		if _, err := asn1.Unmarshal(p, &pdu); err != nil {
			t.Fatal(err)
		}
		var authSafe []byte
		if _, err := asn1.Unmarshal(pdu.AuthSafe.Content.Bytes, &authSafe); err != nil {
			t.Fatal(err)
		}
		var cis []contentInfo
		if _, err := asn1.Unmarshal(authSafe, &cis); err != nil {
			t.Fatal(err)
		}
		bags := make([][]asn1.RawValue, len(cis))
		for i, ci := range cis {
			var sc []byte
			if _, err := asn1.Unmarshal(ci.Content.Bytes, &sc); err != nil {
				t.Fatal(err)
			}
			if _, err := asn1.Unmarshal(sc, &bags[i]); err != nil {
				t.Fatal(err)
			}
		}
		return pdu, cis, bags
	}
	isKey := func(bag asn1.RawValue) bool {
		var b struct {
			ID    asn1.ObjectIdentifier
			Value asn1.RawValue `asn1:"tag:0,explicit"`
			Attrs asn1.RawValue `asn1:"optional"`
		}
		_, err := asn1.Unmarshal(bag.FullBytes, &b)
		return err == nil && b.ID.Equal(oidKeyBag)
	}
	pa, _ := pkcs12.Passwordless.Encode(a.key, a.cert, nil, "")
	pb, _ := pkcs12.Passwordless.Encode(b.key, b.cert, nil, "")
	pdu, cis, bagsA := decode(pa)
	_, _, bagsB := decode(pb)
	var extra asn1.RawValue
	for _, bs := range bagsB {
		for _, bag := range bs {
			if isKey(bag) {
				extra = bag
			}
		}
	}
	added := false
	for i, bs := range bagsA {
		for _, bag := range bs {
			if isKey(bag) && !added {
				bagsA[i] = append(bagsA[i], extra)
				added = true
				break
			}
		}
	}
	if !added || extra.FullBytes == nil {
		t.Fatal("no key bag found in go-pkcs12's output")
	}
	for i := range cis {
		sc, err := asn1.Marshal(bagsA[i])
		if err != nil {
			t.Fatal(err)
		}
		oct, _ := asn1.Marshal(sc)
		cis[i].Content = asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: oct}
	}
	as, _ := asn1.Marshal(cis)
	oct, _ := asn1.Marshal(as)
	pdu.AuthSafe.Content = asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: oct}
	out, err := asn1.Marshal(pdu)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestPKCS12(t *testing.T) {
	bundleFixtures(t)
	pass := []byte("correct horse")
	for name, enc := range map[string]*pkcs12.Encoder{
		"Modern2023": pkcs12.Modern2023, "Modern2026": pkcs12.Modern2026, "LegacyDES": pkcs12.LegacyDES, "LegacyRC2": pkcs12.LegacyRC2,
	} {
		for _, ck := range []certKey{fixEC, fixRSA} {
			pfx, err := enc.Encode(ck.key, ck.cert, []*x509.Certificate{fixCA.cert}, string(pass))
			if err != nil {
				t.Fatal(err)
			}
			m, err := byok.LoadKeyFile(pfx, byok.LoadOptions{Passphrase: pass})
			if err != nil {
				t.Errorf("%s: %v", name, err)
				continue
			}
			sameKey(t, name, m, ck.key)
			if _, err := byok.LoadKeyFile(pfx, byok.LoadOptions{}); !errors.Is(err, byok.ErrEncrypted) || !strings.Contains(err.Error(), "PKCS#12") {
				t.Errorf("%s without a passphrase: %v", name, err)
			}
			if _, err := byok.LoadKeyFile(pfx, byok.LoadOptions{Passphrase: []byte("wrong")}); !errors.Is(err, byok.ErrWrongPassphrase) {
				t.Errorf("%s with a wrong passphrase: %v", name, err)
			}
		}
	}
	// Not protected: opens without a passphrase.
	pfx, _ := pkcs12.Passwordless.Encode(fixEC.key, fixEC.cert, nil, "")
	m, err := byok.LoadKeyFile(pfx, byok.LoadOptions{})
	if err != nil {
		t.Fatalf("passwordless: %v", err)
	}
	sameKey(t, "passwordless", m, fixEC.key)
	if _, err := byok.LoadKeyFile(pfx, byok.LoadOptions{KeySpec: byok.RSA2048}); !errors.Is(err, byok.ErrSpecMismatch) {
		t.Errorf("spec mismatch: %v", err)
	}
}

// TestPKCS12OpenSSL reads what openssl pkcs12 -export writes, with OpenSSL
// 3's defaults and with -legacy; and a secp256k1 key, which byok's PKCS#12
// reader cannot take, is refused with the way out.
func TestPKCS12OpenSSL(t *testing.T) {
	openssl := testenv.MustHaveExecPath(t, "openssl")
	bundleFixtures(t)
	dir := t.TempDir()
	run := func(args ...string) error {
		cmd := exec.Command(openssl, args...)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Logf("openssl %v: %s", args, out)
		}
		return err
	}
	write := func(name string, b []byte) {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("rsa.key", pkcs8PEM(t, fixRSA.key))
	write("rsa.crt", certPEM(fixRSA.cert))
	write("ca.crt", certPEM(fixCA.cert))
	write("pass", []byte("s3cret\n"))
	for _, legacy := range []bool{false, true} {
		args := []string{"pkcs12", "-export", "-inkey", "rsa.key", "-in", "rsa.crt", "-certfile", "ca.crt", "-passout", "file:pass", "-out", "k.p12"}
		if legacy {
			args = append(args, "-legacy")
		}
		if err := run(args...); err != nil {
			if legacy {
				t.Logf("openssl -legacy is not available here (the legacy provider): %v", err)
				continue
			}
			t.Fatal(err)
		}
		pfx, _ := os.ReadFile(filepath.Join(dir, "k.p12"))
		m, err := byok.LoadKeyFile(pfx, byok.LoadOptions{Passphrase: []byte("s3cret")})
		if err != nil {
			t.Errorf("legacy=%v: %v", legacy, err)
			continue
		}
		sameKey(t, "openssl", m, fixRSA.key)
	}
	// secp256k1: openssl writes it; go-pkcs12 cannot parse the key.
	write("k1.key", keyFile(t, "secp256k1.pkcs8.pem"))
	if err := run("req", "-x509", "-key", "k1.key", "-subj", "/CN=k1", "-days", "1", "-out", "k1.crt"); err != nil {
		t.Fatal(err)
	}
	if err := run("pkcs12", "-export", "-inkey", "k1.key", "-in", "k1.crt", "-passout", "file:pass", "-out", "k1.p12"); err != nil {
		t.Fatal(err)
	}
	pfx, _ := os.ReadFile(filepath.Join(dir, "k1.p12"))
	if _, err := byok.LoadKeyFile(pfx, byok.LoadOptions{Passphrase: []byte("s3cret")}); !errors.Is(err, byok.ErrUnsupportedKey) || !strings.Contains(err.Error(), "secp256k1") || !strings.Contains(err.Error(), "openssl pkcs8 -topk8 -v2 aes-256-cbc") {
		t.Errorf("secp256k1 in PKCS#12: %v", err)
	}
}

// bundleCases are the catalogue's cases for PEM bundles, PKCS#12 and
// lenient PEM.
func bundleCases(t *testing.T) []badCase {
	bundleFixtures(t)
	ecKey := pkcs8PEM(t, fixEC.key)
	p256 := keyFile(t, "p256.pkcs8.pem")
	data := func(b []byte) func(*testing.T) []byte { return func(*testing.T) []byte { return b } }
	pfx := func(enc *pkcs12.Encoder, ck certKey, chain []*x509.Certificate) func(*testing.T) []byte {
		return func(t *testing.T) []byte {
			p, err := enc.Encode(ck.key, ck.cert, chain, "pw")
			if err != nil {
				t.Fatal(err)
			}
			return p
		}
	}
	certOnly := func(t *testing.T) []byte {
		p, err := pkcs12.Modern2023.EncodeTrustStore([]*x509.Certificate{fixCA.cert}, "pw")
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	pw := byok.LoadOptions{Passphrase: []byte("pw")}
	return []badCase{
		// Lenient PEM: anything but whitespace after the last block.
		{name: "PEM key followed by text", run: loadBytes(data(cat(p256, []byte("garbage\n"))), byok.LoadOptions{}), is: byok.ErrInvalidMaterial, msg: "unexpected data after the last PEM block"},
		{name: "PEM key followed by binary bytes", run: loadBytes(data(cat(p256, []byte{0x00, 0xff, 0x13})), byok.LoadOptions{}), is: byok.ErrInvalidMaterial, msg: "after the last PEM block"},
		{name: "PEM key followed by a half END line", run: loadBytes(data(cat(p256, []byte("-----END PRIVATE KEY-----\n"))), byok.LoadOptions{}), is: byok.ErrInvalidMaterial, msg: "after the last PEM block"},
		{name: "binary data between PEM blocks", run: loadBytes(data(cat(ecKey, []byte{0x01, 0x02, 0x00}, certPEM(fixEC.cert))), byok.LoadOptions{}), is: byok.ErrInvalidMaterial, msg: "binary data before a PEM block"},
		// PEM key plus certificates.
		{name: "PEM key with another key's certificate", run: loadBytes(data(cat(ecKey, certPEM(fixOther.cert))), byok.LoadOptions{}), is: byok.ErrInvalidMaterial, msg: "no certificate is for that private key"},
		{name: "PEM with two keys and a certificate", run: loadBytes(data(cat(ecKey, pkcs8PEM(t, fixOther.key), certPEM(fixEC.cert))), byok.LoadOptions{}), is: byok.ErrInvalidMaterial, msg: "2 private keys"},
		{name: "PEM key with a certificate and a public key", run: loadBytes(data(cat(ecKey, certPEM(fixEC.cert), pemOf(t, "PUBLIC KEY", mustSPKI(t, fixEC.key)))), byok.LoadOptions{}), is: byok.ErrInvalidMaterial, msg: "ambiguous"},
		// PKCS#12.
		{name: "PKCS#12 without a passphrase", run: loadBytes(pfx(pkcs12.Modern2023, fixEC, nil), byok.LoadOptions{}), is: byok.ErrEncrypted, msg: "PKCS#12"},
		{name: "PKCS#12 with a wrong passphrase", run: loadBytes(pfx(pkcs12.LegacyDES, fixRSA, nil), byok.LoadOptions{Passphrase: []byte("nope")}), is: byok.ErrWrongPassphrase, msg: "PKCS#12"},
		{name: "PKCS#12 with two private keys", run: loadBytes(func(t *testing.T) []byte { return twoKeyPFX(t, fixEC, fixOther) }, byok.LoadOptions{}), is: byok.ErrInvalidMaterial, msg: "several private keys"},
		{name: "PKCS#12 with certificates only", run: loadBytes(certOnly, pw), is: byok.ErrPublicKeyOnly, msg: "certificates only"},
		{name: "PKCS#12 whose certificate is for another key", run: loadBytes(func(t *testing.T) []byte {
			p, err := pkcs12.Modern2023.Encode(fixEC.key, fixOther.cert, nil, "pw")
			if err != nil {
				t.Fatal(err)
			}
			return p
		}, pw), is: byok.ErrInvalidMaterial, msg: "no certificate is for that private key"},
		{name: "PKCS#12 with trailing data", run: loadBytes(func(t *testing.T) []byte { return append(pfx(pkcs12.Modern2023, fixEC, nil)(t), 0) }, pw), is: byok.ErrInvalidMaterial, msg: "PKCS#12"},
		{name: "PKCS#12 truncated", run: loadBytes(func(t *testing.T) []byte { p := pfx(pkcs12.Modern2023, fixEC, nil)(t); return p[:len(p)-40] }, pw), is: byok.ErrInvalidMaterial},
	}
}

func mustSPKI(t *testing.T, k crypto.Signer) []byte {
	der, err := x509.MarshalPKIXPublicKey(k.Public())
	if err != nil {
		t.Fatal(err)
	}
	return der
}
