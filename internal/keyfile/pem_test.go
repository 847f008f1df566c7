package keyfile

import (
	"bytes"
	encasn1 "encoding/asn1"
	"encoding/pem"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/byok-go/byok/internal/testenv"
	"golang.org/x/crypto/cryptobyte"
	"golang.org/x/crypto/cryptobyte/asn1"
)

// TestPEMOpenSSLECKeys loads what the usual OpenSSL commands write for a new
// EC key, on every curve KMS imports: `openssl ecparam -genkey` writes an
// "EC PARAMETERS" block before the key unless given -noout, and that file
// holds one key. The loaded key must be the one `openssl pkey` reads.
func TestPEMOpenSSLECKeys(t *testing.T) {
	openssl := testenv.MustHaveExecPath(t, "openssl")
	dir := t.TempDir()
	run := func(args ...string) []byte {
		t.Helper()
		cmd := exec.Command(openssl, args...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("openssl %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
		}
		return out
	}
	type gen struct {
		name, spec string
		args       []string
		blocks     []string // the PEM block types OpenSSL writes
	}
	var gens []gen
	for _, c := range []struct{ openssl, spec string }{
		{"prime256v1", "ECC_NIST_P256"}, {"secp384r1", "ECC_NIST_P384"}, {"secp521r1", "ECC_NIST_P521"}, {"secp256k1", "ECC_SECG_P256K1"},
	} {
		gens = append(gens,
			gen{"ecparam -genkey " + c.openssl, c.spec, []string{"ecparam", "-name", c.openssl, "-genkey"}, []string{"EC PARAMETERS", "EC PRIVATE KEY"}},
			gen{"ecparam -genkey -noout " + c.openssl, c.spec, []string{"ecparam", "-name", c.openssl, "-genkey", "-noout"}, []string{"EC PRIVATE KEY"}},
			gen{"genpkey named_curve " + c.openssl, c.spec, []string{"genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:" + c.openssl, "-pkeyopt", "ec_param_enc:named_curve"}, []string{"PRIVATE KEY"}},
		)
	}
	for i, g := range gens {
		t.Run(g.name, func(t *testing.T) {
			data := run(g.args...)
			var types []string
			for rest := data; ; {
				var b *pem.Block
				if b, rest = pem.Decode(rest); b == nil {
					break
				}
				types = append(types, b.Type)
			}
			if strings.Join(types, ",") != strings.Join(g.blocks, ",") {
				t.Fatalf("openssl wrote blocks %q, the test expects %q", types, g.blocks)
			}
			k, err := Load(data, Options{})
			if err != nil {
				t.Fatalf("refused: %v", err)
			}
			defer k.Clear()
			if k.Spec() != g.spec {
				t.Errorf("spec %s, want %s", k.Spec(), g.spec)
			}
			f := filepath.Join(dir, strings.ReplaceAll(g.name, " ", "_")+string(rune('a'+i)))
			if err := os.WriteFile(f, data, 0o600); err != nil {
				t.Fatal(err)
			}
			want := run("pkcs8", "-topk8", "-nocrypt", "-outform", "DER", "-in", f)
			if !bytes.Equal(k.PKCS8(), want) {
				t.Errorf("the loaded key differs from `openssl pkcs8 -topk8 -nocrypt -outform DER`")
			}
		})
	}
}

// TestPEMECParameters: an "EC PARAMETERS" block is taken as saying which
// curve the key is on, so it must agree with the key; explicit parameters
// and a key of another kind are refused, and two keys stay ambiguous.
func TestPEMECParameters(t *testing.T) {
	fx := fixtures(t)
	params := func(curve string) []byte { // a named-curve EC PARAMETERS block
		var c *Curve
		for _, cc := range curves {
			if strings.Contains(cc.Name, curve) {
				c = cc
			}
		}
		oid, err := encasn1.Marshal(c.OID)
		if err != nil {
			t.Fatal(err)
		}
		return pem.EncodeToMemory(&pem.Block{Type: "EC PARAMETERS", Bytes: oid})
	}
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	good := []struct {
		name string
		data []byte
		spec string
	}{
		{"params then SEC 1", cat(params("P-256"), fx["p256.sec1.pem"]), "ECC_NIST_P256"},
		{"SEC 1 then params", cat(fx["p384.sec1.pem"], params("P-384")), "ECC_NIST_P384"},
		{"params then PKCS#8", cat(params("P-521"), fx["p521.pkcs8.pem"]), "ECC_NIST_P521"},
		{"params, text, key", cat(params("secp256k1"), []byte("Key Attributes: <No Attributes>\n"), fx["secp256k1.sec1.pem"]), "ECC_SECG_P256K1"},
		{"params twice", cat(params("P-256"), params("P-256"), fx["p256.sec1.pem"]), "ECC_NIST_P256"},
		{"params, key, certificate", cat(params("P-256"), fx["p256.pkcs8.pem"], fx["bad-p256.cert.pem"]), "ECC_NIST_P256"},
	}
	for _, g := range good {
		t.Run(g.name, func(t *testing.T) {
			k, err := Load(g.data, Options{})
			if err != nil {
				t.Fatalf("refused: %v", err)
			}
			defer k.Clear()
			base := map[string]string{"ECC_NIST_P256": "p256", "ECC_NIST_P384": "p384", "ECC_NIST_P521": "p521", "ECC_SECG_P256K1": "secp256k1"}[g.spec]
			if k.Spec() != g.spec || !bytes.Equal(k.PKCS8(), fx[base+".pkcs8.der"]) {
				t.Errorf("loaded %s, not the %s key of the file", k.Spec(), base)
			}
		})
	}
	// A SEC 1 key without its curve takes the curve the parameters name.
	noCurve := sec1WithoutCurve(t, fx["p384.sec1.der"])
	k, err := Load(cat(params("P-384"), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: noCurve})), Options{})
	if err != nil || k.Spec() != "ECC_NIST_P384" {
		t.Errorf("SEC 1 key without a curve after P-384 parameters: %v", err)
	} else {
		k.Clear()
	}

	bad := []struct {
		name string
		data []byte
		is   error
		frag []string
	}{
		{"params of another curve", cat(params("P-384"), fx["p256.sec1.pem"]), ErrInvalid,
			[]string{`the "EC PARAMETERS" block names P-384 (secp384r1), but the key is on P-256 (prime256v1)`, "re-export"}},
		{"params disagree", cat(params("P-256"), params("P-384"), fx["p256.sec1.pem"]), ErrInvalid,
			[]string{"P-256 (prime256v1) and P-384 (secp384r1)"}},
		{"params of a curve KMS does not import", cat(pem.EncodeToMemory(&pem.Block{Type: "EC PARAMETERS", Bytes: []byte{6, 5, 0x2b, 0x81, 4, 0, 0x21}}), fx["p256.sec1.pem"]), ErrUnsupportedKey,
			[]string{"P-224"}},
		{"params before an RSA key", cat(params("P-256"), fx["rsa2048.pkcs8.pem"]), ErrInvalid,
			[]string{`names P-256 (prime256v1), but the key is an RSA key`}},
		{"explicit params", fx["bad-p256.ecparam-explicit.pem"], ErrUnsupportedKey,
			[]string{`the "EC PARAMETERS" block spells out its curve`, "named curve"}},
		{"params not DER", cat(pem.EncodeToMemory(&pem.Block{Type: "EC PARAMETERS", Bytes: []byte{6, 9, 1}}), fx["p256.sec1.pem"]), ErrInvalid,
			[]string{`"EC PARAMETERS" block is not valid DER`}},
		{"params with trailing bytes", cat(pem.EncodeToMemory(&pem.Block{Type: "EC PARAMETERS", Bytes: []byte{6, 5, 0x2b, 0x81, 4, 0, 0x22, 0}}), fx["p384.sec1.pem"]), ErrInvalid,
			[]string{`unexpected data after the curve in the "EC PARAMETERS" block`}},
		{"params and two keys", cat(params("P-256"), fx["p256.sec1.pem"], fx["p256.pkcs8.pem"]), ErrInvalid,
			[]string{"2 private keys", "ambiguous"}},
		{"params only", params("P-256"), ErrInvalid, []string{"no key"}},
		{"params and a certificate", cat(params("P-256"), fx["bad-p256.cert.pem"]), ErrInvalid, []string{"ambiguous"}},
	}
	for _, b := range bad {
		t.Run(b.name, func(t *testing.T) {
			k, err := Load(b.data, Options{})
			if err == nil {
				k.Clear()
				t.Fatal("accepted")
			}
			if !errors.Is(err, b.is) {
				t.Errorf("error %q is not %v", err, b.is)
			}
			for _, f := range b.frag {
				if !strings.Contains(err.Error(), f) {
					t.Errorf("error %q does not contain %q", err, f)
				}
			}
		})
	}
}

// sec1WithoutCurve returns a SEC 1 ECPrivateKey without its [0] parameters,
// which RFC 5915 allows when the curve is known otherwise.
func sec1WithoutCurve(t *testing.T, der []byte) []byte {
	t.Helper()
	in := cryptobyte.String(der)
	var body, v, d, params, pub cryptobyte.String
	if !in.ReadASN1(&body, asn1.SEQUENCE) || !body.ReadASN1Element(&v, asn1.INTEGER) ||
		!body.ReadASN1Element(&d, asn1.OCTET_STRING) || !body.ReadASN1(&params, tagContext0) ||
		!body.ReadASN1Element(&pub, tagContext1) || !body.Empty() {
		t.Fatal("the fixture is not a SEC 1 key with curve and public key")
	}
	var b cryptobyte.Builder
	b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddBytes(v)
		b.AddBytes(d)
		b.AddBytes(pub)
	})
	return b.BytesOrPanic()
}
