package azkvtest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azkeys"
)

// The negative import cases: each would import successfully without the
// rule it names (the material is otherwise valid), so each fails if its rule
// is removed.

func rsaPKCS8(t *testing.T, bits int) []byte {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKCS8PrivateKey(k)
	return der
}

func ecPKCS8(t *testing.T, c elliptic.Curve) []byte {
	t.Helper()
	k, _ := ecdsa.GenerateKey(c, rand.Reader)
	der, _ := x509.MarshalPKCS8PrivateKey(k)
	return der
}

// TestImportValidControl is the control for the negative cases below: the
// same setup with nothing broken imports.
func TestImportValidControl(t *testing.T) {
	_, c := newVault(t)
	kid, kek := createKEK(t, c, "kek", 2048)
	if _, err := importBYOK(c, "ok", azkeys.KeyTypeECHSM, azkeys.CurveNameP256, blob(kid, blobEnc, wrapGo(t, kek, ecPKCS8(t, elliptic.P256())))); err != nil {
		t.Fatal(err)
	}
}

func TestKEKRules(t *testing.T) {
	_, c := newVault(t)
	material := ecPKCS8(t, elliptic.P256())

	t.Run("without import op", func(t *testing.T) {
		kid, kek := createKEK(t, c, "no-import", 2048, azkeys.KeyOperationWrapKey, azkeys.KeyOperationUnwrapKey)
		_, err := importBYOK(c, "t1", azkeys.KeyTypeECHSM, azkeys.CurveNameP256, blob(kid, blobEnc, wrapGo(t, kek, material)))
		wantCode(t, err, http.StatusBadRequest, codeBadParameter)
		if !strings.Contains(err.Error(), `exactly [\"import\"]`) {
			t.Fatalf("the error does not name the key_ops rule: %v", err)
		}
	})
	t.Run("default ops are not import", func(t *testing.T) {
		resp, err := c.CreateKey(ctx, "default-ops", azkeys.CreateKeyParameters{Kty: to.Ptr(azkeys.KeyTypeRSAHSM)}, nil)
		if err != nil {
			t.Fatal(err)
		}
		kid := string(*resp.Key.KID)
		_, err = importBYOK(c, "t2", azkeys.KeyTypeECHSM, azkeys.CurveNameP256, blob(kid, blobEnc, wrapGo(t, rsaPublic(t, resp.Key), material)))
		wantCode(t, err, http.StatusBadRequest, codeBadParameter)
	})
	t.Run("import with extra ops", func(t *testing.T) {
		_, err := c.CreateKey(ctx, "extra", azkeys.CreateKeyParameters{Kty: to.Ptr(azkeys.KeyTypeRSAHSM),
			KeyOps: []*azkeys.KeyOperation{to.Ptr(azkeys.KeyOperationImport), to.Ptr(azkeys.KeyOperationSign)}}, nil)
		wantCode(t, err, http.StatusBadRequest, codeBadParameter)
		if !strings.Contains(err.Error(), "mutually exclusive") {
			t.Fatalf("the error does not name the rule: %v", err)
		}
	})
	t.Run("import on a software RSA key", func(t *testing.T) {
		_, err := c.CreateKey(ctx, "soft", azkeys.CreateKeyParameters{Kty: to.Ptr(azkeys.KeyTypeRSA),
			KeyOps: []*azkeys.KeyOperation{to.Ptr(azkeys.KeyOperationImport)}}, nil)
		wantCode(t, err, http.StatusBadRequest, codeBadParameter)
	})
	t.Run("import on an EC key", func(t *testing.T) {
		_, err := c.CreateKey(ctx, "ec-kek", azkeys.CreateKeyParameters{Kty: to.Ptr(azkeys.KeyTypeECHSM),
			KeyOps: []*azkeys.KeyOperation{to.Ptr(azkeys.KeyOperationImport)}}, nil)
		wantCode(t, err, http.StatusBadRequest, codeBadParameter)
	})
	t.Run("KEK of 1024 bits", func(t *testing.T) {
		_, err := c.CreateKey(ctx, "small", azkeys.CreateKeyParameters{Kty: to.Ptr(azkeys.KeyTypeRSAHSM), KeySize: to.Ptr[int32](1024),
			KeyOps: []*azkeys.KeyOperation{to.Ptr(azkeys.KeyOperationImport)}}, nil)
		wantCode(t, err, http.StatusBadRequest, codeBadParameter)
	})
	t.Run("KEK cannot sign", func(t *testing.T) {
		createKEK(t, c, "kek-sign", 2048)
		d := sha256.Sum256(nil)
		_, err := c.Sign(ctx, "kek-sign", "", azkeys.SignParameters{Algorithm: to.Ptr(azkeys.SignatureAlgorithmRS256), Value: d[:]}, nil)
		wantCode(t, err, http.StatusForbidden, codeForbidden)
	})
}

func TestKidRules(t *testing.T) {
	srv, c := newVault(t)
	other, oc := newVault(t)
	material := ecPKCS8(t, elliptic.P256())
	kid, kek := createKEK(t, c, "kek", 2048)
	otherKid, otherKEK := createKEK(t, oc, "kek", 2048)
	version := kid[strings.LastIndex(kid, "/")+1:]
	cases := map[string]struct {
		kid string
		kek *rsa.PublicKey
	}{
		"another vault's KEK": {otherKid, otherKEK},
		// The same key name and version under the other vault's host: only
		// the host is wrong.
		"this KEK under another host": {strings.Replace(kid, srv.URL(), other.URL(), 1), kek},
		"unknown key":                 {srv.URL() + "/keys/nokek/" + version, kek},
		"unknown version":             {srv.URL() + "/keys/kek/" + strings.Repeat("0", 32), kek},
		"no version":                  {srv.URL() + "/keys/kek", kek},
		"http":                        {strings.Replace(kid, "https://", "http://", 1), kek},
		"not a key path":              {srv.URL() + "/secrets/kek/" + version, kek},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := importBYOK(c, "t", azkeys.KeyTypeECHSM, azkeys.CurveNameP256, blob(tc.kid, blobEnc, wrapGo(t, tc.kek, material)))
			wantCode(t, err, http.StatusBadRequest, codeBadParameter)
		})
	}
}

func TestBlobFormatRules(t *testing.T) {
	_, c := newVault(t)
	kid, kek := createKEK(t, c, "kek", 2048)
	ct := wrapGo(t, kek, ecPKCS8(t, elliptic.P256()))
	good := func() map[string]any {
		var m map[string]any
		_ = json.Unmarshal(blob(kid, blobEnc, ct), &m)
		return m
	}
	mutate := map[string]func(m map[string]any){
		"enc RSA_AES_KEY_WRAP_256": func(m map[string]any) { m["header"].(map[string]any)["enc"] = "RSA_AES_KEY_WRAP_256" },
		"enc RSA_AES_KEY_WRAP_384": func(m map[string]any) { m["header"].(map[string]any)["enc"] = "RSA_AES_KEY_WRAP_384" },
		"enc CKM_RSA_AES_KEY_WRAP_PAD": func(m map[string]any) {
			m["header"].(map[string]any)["enc"] = "CKM_RSA_AES_KEY_WRAP_PAD"
		},
		"alg RSA-OAEP":           func(m map[string]any) { m["header"].(map[string]any)["alg"] = "RSA-OAEP" },
		"schema_version 2.0.0":   func(m map[string]any) { m["schema_version"] = "2.0.0" },
		"no generator":           func(m map[string]any) { delete(m, "generator") },
		"no kid":                 func(m map[string]any) { delete(m["header"].(map[string]any), "kid") },
		"unknown member":         func(m map[string]any) { m["extra"] = "x" },
		"ciphertext std base64":  func(m map[string]any) { m["ciphertext"] = m["ciphertext"].(string) + "==" },
		"ciphertext missing":     func(m map[string]any) { delete(m, "ciphertext") },
		"header not an object":   func(m map[string]any) { m["header"] = "dir" },
		"schema_version missing": func(m map[string]any) { delete(m, "schema_version") },
	}
	for name, f := range mutate {
		t.Run(name, func(t *testing.T) {
			m := good()
			f(m)
			b, _ := json.Marshal(m)
			_, err := importBYOK(c, "t", azkeys.KeyTypeECHSM, azkeys.CurveNameP256, b)
			wantCode(t, err, http.StatusBadRequest, codeBadParameter)
		})
	}
	t.Run("key_hsm not JSON", func(t *testing.T) {
		_, err := importBYOK(c, "t", azkeys.KeyTypeECHSM, azkeys.CurveNameP256, ct)
		wantCode(t, err, http.StatusBadRequest, codeBadParameter)
	})
}

func TestCiphertextRules(t *testing.T) {
	_, c := newVault(t)
	kid, kek := createKEK(t, c, "kek", 2048)
	material := ecPKCS8(t, elliptic.P256())
	imp := func(ct []byte) error {
		_, err := importBYOK(c, "t", azkeys.KeyTypeECHSM, azkeys.CurveNameP256, blob(kid, blobEnc, ct))
		return err
	}
	t.Run("tampered RSA part", func(t *testing.T) {
		ct := wrapGo(t, kek, material)
		ct[10] ^= 1
		wantCode(t, imp(ct), http.StatusBadRequest, codeBadParameter)
	})
	t.Run("tampered KWP part", func(t *testing.T) {
		ct := wrapGo(t, kek, material)
		ct[len(ct)-3] ^= 1
		wantCode(t, imp(ct), http.StatusBadRequest, codeBadParameter)
	})
	t.Run("truncated", func(t *testing.T) {
		ct := wrapGo(t, kek, material)
		wantCode(t, imp(ct[:len(ct)-8]), http.StatusBadRequest, codeBadParameter)
	})
	t.Run("RSA part only", func(t *testing.T) {
		ct := wrapGo(t, kek, material)
		wantCode(t, imp(ct[:kek.Size()]), http.StatusBadRequest, codeBadParameter)
	})
	t.Run("OAEP with SHA-256", func(t *testing.T) {
		aesKey := make([]byte, 32)
		_, _ = rand.Read(aesKey)
		// A valid blob in every way but the OAEP hash: it would import
		// if SHA-256 were accepted.
		head, _ := rsa.EncryptOAEP(sha256.New(), rand.Reader, kek, aesKey, nil)
		wantCode(t, imp(wrapGoWithKey(t, kek, material, aesKey, head)), http.StatusBadRequest, codeBadParameter)
	})
	t.Run("AES-128 ephemeral key", func(t *testing.T) {
		aesKey := make([]byte, 16)
		_, _ = rand.Read(aesKey)
		head, _ := rsa.EncryptOAEP(sha1New(), rand.Reader, kek, aesKey, nil)
		wantCode(t, imp(wrapGoWithKey(t, kek, material, aesKey, head)), http.StatusBadRequest, codeBadParameter)
	})
}

func TestMaterialRules(t *testing.T) {
	_, c := newVault(t)
	_, mc := newVault(t, WithManagedHSM())
	kid, kek := createKEK(t, c, "kek", 3072)
	mkid, mkek := createKEK(t, mc, "kek", 3072)
	aes256 := make([]byte, 32)
	_, _ = rand.Read(aes256)
	p256 := ecPKCS8(t, elliptic.P256())
	rsa2048 := rsaPKCS8(t, 2048)
	cases := []struct {
		name     string
		mhsm     bool
		kty      azkeys.KeyType
		crv      azkeys.CurveName
		material []byte
	}{
		{"RSA material as EC-HSM", false, azkeys.KeyTypeECHSM, azkeys.CurveNameP256, rsa2048},
		{"P-256 material as P-384", false, azkeys.KeyTypeECHSM, azkeys.CurveNameP384, p256},
		{"P-256 material as P-256K", false, azkeys.KeyTypeECHSM, azkeys.CurveNameP256K, p256},
		{"EC material as RSA-HSM", false, azkeys.KeyTypeRSAHSM, "", p256},
		{"AES material as RSA-HSM", false, azkeys.KeyTypeRSAHSM, "", aes256},
		{"48 bytes as oct-HSM", true, azkeys.KeyTypeOctHSM, "", rsa2048[:48]},
		{"EC-HSM without crv", false, azkeys.KeyTypeECHSM, "", p256},
		{"RSA-1024 material", false, azkeys.KeyTypeRSAHSM, "", rsaPKCS8(t, 1024)},
		{"oct-HSM in a vault", false, azkeys.KeyTypeOctHSM, "", aes256},
		{"AES-160 on Managed HSM", true, azkeys.KeyTypeOctHSM, "", aes256[:20]},
		{"software kty RSA", false, azkeys.KeyTypeRSA, "", rsa2048},
		{"software kty EC", false, azkeys.KeyTypeEC, azkeys.CurveNameP256, p256},
		{"PKCS#8 with trailing bytes", false, azkeys.KeyTypeECHSM, azkeys.CurveNameP256, append(append([]byte(nil), p256...), 0, 0, 0, 0, 0, 0, 0, 0)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cl, k, pub := c, kid, kek
			if tc.mhsm {
				cl, k, pub = mc, mkid, mkek
			}
			_, err := importBYOK(cl, "t", tc.kty, tc.crv, blob(k, blobEnc, wrapGo(t, pub, tc.material)))
			wantCode(t, err, http.StatusBadRequest, codeBadParameter)
		})
	}
	t.Run("EC-HSM without crv names the rule", func(t *testing.T) {
		_, err := importBYOK(c, "t", azkeys.KeyTypeECHSM, "", blob(kid, blobEnc, wrapGo(t, kek, p256)))
		wantCode(t, err, http.StatusBadRequest, codeBadParameter)
		if !strings.Contains(err.Error(), "key.crv is required") {
			t.Fatalf("the error does not say crv is required: %v", err)
		}
	})
	t.Run("Managed HSM AES-128/192/256 control", func(t *testing.T) {
		for _, n := range []int{16, 24, 32} {
			if _, err := importBYOK(mc, "aes", azkeys.KeyTypeOctHSM, "", blob(mkid, blobEnc, wrapGo(t, mkek, aes256[:n]))); err != nil {
				t.Fatalf("AES-%d: %v", 8*n, err)
			}
		}
	})
}

func TestOctKeysOnlyOnManagedHSM(t *testing.T) {
	_, c := newVault(t)
	_, err := c.CreateKey(ctx, "aes", azkeys.CreateKeyParameters{Kty: to.Ptr(azkeys.KeyTypeOctHSM), KeySize: to.Ptr[int32](256)}, nil)
	wantCode(t, err, http.StatusBadRequest, codeBadParameter)
	_, mc := newVault(t, WithManagedHSM())
	if _, err := mc.CreateKey(ctx, "aes", azkeys.CreateKeyParameters{Kty: to.Ptr(azkeys.KeyTypeOctHSM), KeySize: to.Ptr[int32](256)}, nil); err != nil {
		t.Fatal(err)
	}
	_, err = mc.CreateKey(ctx, "rsa", azkeys.CreateKeyParameters{Kty: to.Ptr(azkeys.KeyTypeRSA)}, nil)
	wantCode(t, err, http.StatusBadRequest, codeBadParameter)
}

// TestKEKTypeCheckedAtImport: the API cannot make a software or imported key
// with key_ops ["import"] (CreateKey and ImportKey refuse it), so the
// import-time check of rows 1 and 3 is defense in depth; it is tested by
// storing such keys directly.
func TestKEKTypeCheckedAtImport(t *testing.T) {
	srv, c := newVault(t)
	material := ecPKCS8(t, elliptic.P256())
	priv, _ := rsa.GenerateKey(rand.Reader, 2048)
	for name, k := range map[string]*keyVersion{
		"software RSA": {name: "soft", kty: ktyRSA},
		"imported":     {name: "imp", kty: ktyRSAHSM, imported: true},
	} {
		t.Run(name, func(t *testing.T) {
			k.version, k.ops, k.enabled, k.rsaKey = randomHex(16), []string{opImport}, true, priv
			srv.store(k)
			_, err := importBYOK(c, "t", azkeys.KeyTypeECHSM, azkeys.CurveNameP256, blob(srv.kid(k), blobEnc, wrapGo(t, &priv.PublicKey, material)))
			wantCode(t, err, http.StatusBadRequest, codeBadParameter)
		})
	}
}
