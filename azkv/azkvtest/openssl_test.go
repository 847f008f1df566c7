package azkvtest

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"encoding/hex"
	"encoding/pem"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azkeys"
	"github.com/byok-go/byok/internal/testenv"
)

// These tests make every transfer blob with OpenSSL 3, an implementation
// independent of both byok and the fake: the target key by genpkey, PKCS#8
// DER by pkcs8 -topk8, the AES key by rand, RSA-OAEP SHA-1 by pkeyutl and
// RFC 5649 by enc -id-aes256-wrap-pad. They then prove the imported key is
// the source key with OpenSSL too: the vault's signature verifies under the
// source public key (pkeyutl -verify) and the vault verifies OpenSSL's
// signature of the same digest.

type osl struct {
	t   *testing.T
	bin string
	dir string
}

func newOpenSSL(t *testing.T) *osl {
	t.Helper()
	return &osl{t: t, bin: testenv.MustHaveExecPath(t, "openssl"), dir: t.TempDir()}
}

func (o *osl) path(name string) string { return filepath.Join(o.dir, name) }

func (o *osl) run(args ...string) []byte {
	o.t.Helper()
	out, err := exec.Command(o.bin, args...).CombinedOutput()
	if err != nil {
		o.t.Fatalf("openssl %v: %v\n%s", args, err, out)
	}
	return out
}

func (o *osl) write(name string, b []byte) string {
	o.t.Helper()
	p := o.path(name)
	if err := os.WriteFile(p, b, 0o600); err != nil {
		o.t.Fatal(err)
	}
	return p
}

func (o *osl) read(name string) []byte {
	o.t.Helper()
	b, err := os.ReadFile(o.path(name))
	if err != nil {
		o.t.Fatal(err)
	}
	return b
}

// genKey makes key.pem and key.der (PKCS#8) with genpkey; spec is
// "RSA:2048" or "EC:P-256" (OpenSSL curve names).
func (o *osl) genKey(alg, param string) {
	switch alg {
	case "RSA":
		o.run("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:"+param, "-out", o.path("key.pem"))
	case "EC":
		o.run("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:"+param, "-out", o.path("key.pem"))
	}
	o.run("pkcs8", "-topk8", "-nocrypt", "-in", o.path("key.pem"), "-outform", "DER", "-out", o.path("key.der"))
	o.run("pkey", "-in", o.path("key.pem"), "-pubout", "-out", o.path("pub.pem"))
}

// transfer wraps the file material under the KEK public key as the BYOK
// specification says, with OpenSSL only, and returns the ciphertext.
func (o *osl) transfer(kek *rsa.PublicKey, material string) []byte {
	o.t.Helper()
	spki, err := x509.MarshalPKIXPublicKey(kek)
	if err != nil {
		o.t.Fatal(err)
	}
	o.write("kek.pem", pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: spki}))
	o.run("rand", "-out", o.path("aes.bin"), "32")
	o.run("pkeyutl", "-encrypt", "-pubin", "-inkey", o.path("kek.pem"), "-in", o.path("aes.bin"), "-out", o.path("aes.wrapped"),
		"-pkeyopt", "rsa_padding_mode:oaep", "-pkeyopt", "rsa_oaep_md:sha1", "-pkeyopt", "rsa_mgf1_md:sha1")
	o.run("enc", "-id-aes256-wrap-pad", "-K", hex.EncodeToString(o.read("aes.bin")), "-iv", "A65959A6",
		"-in", material, "-out", o.path("key.wrapped"))
	return append(o.read("aes.wrapped"), o.read("key.wrapped")...)
}

// verifyVaultSignature checks sig (the vault's, JWS form) over digest with
// pkeyutl -verify under pub.pem.
func (o *osl) verifyVaultSignature(alg string, digest, sig []byte) {
	o.t.Helper()
	args := []string{"pkeyutl", "-verify", "-pubin", "-inkey", o.path("pub.pem"), "-in", o.write("digest.bin", digest)}
	a := sigAlgs[alg]
	if a.curve != "" {
		sig = jwsToDER(o.t, sig)
	} else {
		args = append(args, "-pkeyopt", "digest:"+hashName(a.hash))
		if a.pss {
			args = append(args, "-pkeyopt", "rsa_padding_mode:pss", "-pkeyopt", "rsa_pss_saltlen:digest")
		}
	}
	args = append(args, "-sigfile", o.write("sig.bin", sig))
	if out := o.run(args...); !bytes.Contains(out, []byte("Verified Successfully")) {
		o.t.Fatalf("openssl did not verify the vault's %s signature: %s", alg, out)
	}
}

// sign signs digest with key.pem and returns the signature in JWS form.
func (o *osl) sign(alg string, digest []byte) []byte {
	o.t.Helper()
	args := []string{"pkeyutl", "-sign", "-inkey", o.path("key.pem"), "-in", o.write("digest.bin", digest), "-out", o.path("local.sig")}
	a := sigAlgs[alg]
	if a.curve == "" {
		args = append(args, "-pkeyopt", "digest:"+hashName(a.hash))
		if a.pss {
			args = append(args, "-pkeyopt", "rsa_padding_mode:pss", "-pkeyopt", "rsa_pss_saltlen:digest")
		}
	}
	o.run(args...)
	sig := o.read("local.sig")
	if a.curve != "" {
		return derToJWS(o.t, sig, curveBytes(a.curve))
	}
	return sig
}

func hashName(h crypto.Hash) string {
	return map[crypto.Hash]string{crypto.SHA256: "sha256", crypto.SHA384: "sha384", crypto.SHA512: "sha512"}[h]
}

func curveBytes(crv string) int {
	return map[string]int{"P-256": 32, "P-256K": 32, "P-384": 48, "P-521": 66}[crv]
}

type ecdsaSig struct{ R, S *big.Int }

func jwsToDER(t *testing.T, sig []byte) []byte {
	t.Helper()
	n := len(sig) / 2
	der, err := asn1.Marshal(ecdsaSig{new(big.Int).SetBytes(sig[:n]), new(big.Int).SetBytes(sig[n:])})
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func derToJWS(t *testing.T, der []byte, size int) []byte {
	t.Helper()
	var s ecdsaSig
	if rest, err := asn1.Unmarshal(der, &s); err != nil || len(rest) != 0 {
		t.Fatalf("openssl's signature is not DER: %v", err)
	}
	return append(s.R.FillBytes(make([]byte, size)), s.S.FillBytes(make([]byte, size))...)
}

// samePublicKey compares the vault's JWK with OpenSSL's pub.pem: for RSA and
// NIST curves through crypto/x509, for secp256k1 by the SPKI's point.
func (o *osl) samePublicKey(jwk *azkeys.JSONWebKey) {
	o.t.Helper()
	blk, _ := pem.Decode(o.read("pub.pem"))
	if blk == nil {
		o.t.Fatal("openssl wrote no PEM public key")
	}
	if jwk.Crv != nil && *jwk.Crv == azkeys.CurveNameP256K {
		var spki struct {
			Algo struct {
				Algorithm, Curve asn1.ObjectIdentifier
			}
			Point asn1.BitString
		}
		if _, err := asn1.Unmarshal(blk.Bytes, &spki); err != nil {
			o.t.Fatal(err)
		}
		want := append(append([]byte{4}, jwk.X...), jwk.Y...)
		if !bytes.Equal(spki.Point.Bytes, want) {
			o.t.Fatal("the vault's P-256K public key is not the source's")
		}
		return
	}
	pub, err := x509.ParsePKIXPublicKey(blk.Bytes)
	if err != nil {
		o.t.Fatal(err)
	}
	switch p := pub.(type) {
	case *rsa.PublicKey:
		if !p.Equal(rsaPublic(o.t, jwk)) {
			o.t.Fatal("the vault's RSA public key is not the source's")
		}
	case *ecdsa.PublicKey:
		size := (p.Curve.Params().BitSize + 7) / 8
		if !bytes.Equal(p.X.FillBytes(make([]byte, size)), jwk.X) || !bytes.Equal(p.Y.FillBytes(make([]byte, size)), jwk.Y) {
			o.t.Fatal("the vault's EC public key is not the source's")
		}
	default:
		o.t.Fatalf("unexpected public key %T", pub)
	}
}

func TestImportOpenSSLBlobs(t *testing.T) {
	cases := []struct {
		name, alg, param string
		kty              azkeys.KeyType
		crv              azkeys.CurveName
		sigs             []string
		kekBits          int32
	}{
		{"RSA-2048", "RSA", "2048", azkeys.KeyTypeRSAHSM, "", []string{"RS256", "PS256"}, 2048},
		{"RSA-3072", "RSA", "3072", azkeys.KeyTypeRSAHSM, "", []string{"RS384", "PS384"}, 3072},
		{"RSA-4096", "RSA", "4096", azkeys.KeyTypeRSAHSM, "", []string{"RS512", "PS512"}, 4096},
		{"P-256", "EC", "P-256", azkeys.KeyTypeECHSM, azkeys.CurveNameP256, []string{"ES256"}, 2048},
		{"P-384", "EC", "P-384", azkeys.KeyTypeECHSM, azkeys.CurveNameP384, []string{"ES384"}, 3072},
		{"P-521", "EC", "P-521", azkeys.KeyTypeECHSM, azkeys.CurveNameP521, []string{"ES512"}, 4096},
		{"P-256K", "EC", "secp256k1", azkeys.KeyTypeECHSM, azkeys.CurveNameP256K, []string{"ES256K"}, 2048},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			o := newOpenSSL(t)
			_, c := newVault(t)
			kid, kek := createKEK(t, c, "kek", tc.kekBits)
			o.genKey(tc.alg, tc.param)
			ct := o.transfer(kek, o.path("key.der"))
			resp, err := importBYOK(c, "imported", tc.kty, tc.crv, blob(kid, "CKM_RSA_AES_KEY_WRAP", ct),
				azkeys.KeyOperationSign, azkeys.KeyOperationVerify)
			if err != nil {
				t.Fatal(err)
			}
			if *resp.Key.Kty != tc.kty || len(resp.Key.D) != 0 {
				t.Fatalf("import answered kty %v with private parts %v", *resp.Key.Kty, len(resp.Key.D) != 0)
			}
			o.samePublicKey(resp.Key)
			for _, alg := range tc.sigs {
				h := sigAlgs[alg].hash.New()
				h.Write([]byte("proof of identity, " + alg))
				digest := h.Sum(nil)
				sr, err := c.Sign(ctx, "imported", "", azkeys.SignParameters{Algorithm: to.Ptr(azkeys.SignatureAlgorithm(alg)), Value: digest}, nil)
				if err != nil {
					t.Fatal(err)
				}
				o.verifyVaultSignature(alg, digest, sr.Result)
				local := o.sign(alg, digest)
				vr, err := c.Verify(ctx, "imported", resp.Key.KID.Version(), azkeys.VerifyParameters{
					Algorithm: to.Ptr(azkeys.SignatureAlgorithm(alg)), Digest: digest, Signature: local}, nil)
				if err != nil || !*vr.Value {
					t.Fatalf("the vault does not verify OpenSSL's %s signature: %v", alg, err)
				}
				local[len(local)-1] ^= 1
				vr, err = c.Verify(ctx, "imported", "", azkeys.VerifyParameters{
					Algorithm: to.Ptr(azkeys.SignatureAlgorithm(alg)), Digest: digest, Signature: local}, nil)
				if err != nil || *vr.Value {
					t.Fatalf("the vault verifies a corrupted %s signature: %v", alg, err)
				}
			}
		})
	}
}

// TestImportOpenSSLAES256ManagedHSM imports an AES-256 key made by OpenSSL
// into a Managed HSM and proves it the way a holder of the AES key can:
// wrapKey with A256KW (RFC 3394, deterministic) answers byte for byte what
// `openssl enc -id-aes256-wrap` computes, and unwrapKey undoes OpenSSL's wrap.
func TestImportOpenSSLAES256ManagedHSM(t *testing.T) {
	o := newOpenSSL(t)
	_, c := newVault(t, WithManagedHSM())
	kid, kek := createKEK(t, c, "kek", 3072)
	o.run("rand", "-out", o.path("target.bin"), "32")
	ct := o.transfer(kek, o.path("target.bin"))
	resp, err := importBYOK(c, "aes", azkeys.KeyTypeOctHSM, "", blob(kid, "CKM_RSA_AES_KEY_WRAP", ct),
		azkeys.KeyOperationWrapKey, azkeys.KeyOperationUnwrapKey)
	if err != nil {
		t.Fatal(err)
	}
	if *resp.Key.Kty != azkeys.KeyTypeOctHSM || len(resp.Key.K) != 0 {
		t.Fatal("the import answered the wrong kty or the key bytes")
	}
	o.run("rand", "-out", o.path("payload.bin"), "32")
	o.run("enc", "-id-aes256-wrap", "-K", hex.EncodeToString(o.read("target.bin")), "-iv", "A6A6A6A6A6A6A6A6",
		"-in", o.path("payload.bin"), "-out", o.path("payload.wrapped"))
	wr, err := c.WrapKey(ctx, "aes", "", azkeys.KeyOperationParameters{Algorithm: to.Ptr(azkeys.EncryptionAlgorithmA256KW), Value: o.read("payload.bin")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(wr.Result, o.read("payload.wrapped")) {
		t.Fatal("the vault's A256KW wrap differs from OpenSSL's under the source AES key")
	}
	ur, err := c.UnwrapKey(ctx, "aes", "", azkeys.KeyOperationParameters{Algorithm: to.Ptr(azkeys.EncryptionAlgorithmA256KW), Value: o.read("payload.wrapped")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(ur.Result, o.read("payload.bin")) {
		t.Fatal("the vault does not unwrap OpenSSL's A256KW wrap")
	}
}
