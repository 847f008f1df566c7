package azkv_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/byok-go/byok"
	"github.com/byok-go/byok/azkv"
	"github.com/byok-go/byok/driver/software"
	"github.com/byok-go/byok/internal/testenv"
)

// azureKeys are key files of every spec Azure imports (AES on Managed HSM
// only), from the root's testdata.
var azureKeys = []struct {
	spec byok.KeySpec
	file string
	opts byok.LoadOptions
}{
	{byok.RSA2048, "rsa2048.pkcs8.pem", byok.LoadOptions{}},
	{byok.RSA3072, "rsa3072.pkcs1.pem", byok.LoadOptions{}},
	{byok.RSA4096, "rsa4096.pkcs8.pem", byok.LoadOptions{}},
	{byok.ECCNISTP256, "p256.sec1.pem", byok.LoadOptions{}},
	{byok.ECCNISTP384, "p384.pkcs8.pem", byok.LoadOptions{}},
	{byok.ECCNISTP521, "p521.pkcs8.pem", byok.LoadOptions{}},
	{byok.ECCSECGP256K1, "secp256k1.sec1.pem", byok.LoadOptions{}},
	{byok.SymmetricDefault, "aes256.bin", byok.LoadOptions{KeySpec: byok.SymmetricDefault}},
}

func keyPath(file string) string { return filepath.Join("..", "testdata", "keys", file) }

func openKey(t testing.TB, file string, opts byok.LoadOptions, so software.Options) *software.Source {
	t.Helper()
	src, err := software.Open(keyPath(file), opts, so)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { src.Close() })
	return src
}

// kekPair returns a KEK private key of the given size (a test key file) and
// its PKCS#8 PEM path.
func kekPair(t testing.TB, bits int) (*rsa.PrivateKey, string) {
	t.Helper()
	path := keyPath(map[int]string{2048: "rsa2048.pkcs8.pem", 3072: "rsa3072.pkcs8.pem", 4096: "rsa4096.pkcs8.pem"}[bits])
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(b)
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return k.(*rsa.PrivateKey), path
}

const testKID = "https://contoso.managedhsm.azure.net/keys/KEKforBYOK/0123456789abcdef0123456789abcdef"

// opensslUnwrap undoes a .byok ciphertext with OpenSSL 3 alone: RSA-OAEP
// with SHA-1 (or the hash given) and MGF1 of the same hash under the KEK
// private key, then AES key wrap with padding (RFC 5649) under the result.
func opensslUnwrap(t *testing.T, openssl, kekPEM string, modBytes int, md string, ct []byte) []byte {
	t.Helper()
	dir := t.TempDir()
	head, tail, aes, out := filepath.Join(dir, "head"), filepath.Join(dir, "tail"), filepath.Join(dir, "aes"), filepath.Join(dir, "out")
	os.WriteFile(head, ct[:modBytes], 0o600)
	os.WriteFile(tail, ct[modBytes:], 0o600)
	run := func(args ...string) {
		t.Helper()
		if b, err := exec.Command(openssl, args...).CombinedOutput(); err != nil {
			t.Fatalf("openssl %s: %v\n%s", strings.Join(args, " "), err, b)
		}
	}
	run("pkeyutl", "-decrypt", "-inkey", kekPEM, "-in", head, "-out", aes,
		"-pkeyopt", "rsa_padding_mode:oaep", "-pkeyopt", "rsa_oaep_md:"+md, "-pkeyopt", "rsa_mgf1_md:"+md)
	key, err := os.ReadFile(aes)
	if err != nil || len(key) != 32 {
		t.Fatalf("the ephemeral AES key is %d bytes (%v); want 32", len(key), err)
	}
	run("enc", "-d", "-id-aes256-wrap-pad", "-K", hex.EncodeToString(key), "-iv", "A65959A6", "-in", tail, "-out", out)
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Every .byok file byok writes, for every spec Azure imports and every KEK
// size, is undone by OpenSSL 3 into exactly the key's material: PKCS#8 for
// RSA and EC, the raw bytes for AES, as the specification asks.
func TestTransferFileOpenSSL(t *testing.T) {
	openssl := testenv.MustHaveExecPath(t, "openssl")
	ctx := context.Background()
	sizes := []int{2048, 3072, 4096}
	for i, k := range azureKeys {
		bits := sizes[i%3]
		t.Run(string(k.spec), func(t *testing.T) {
			src := openKey(t, k.file, k.opts, software.Options{})
			priv, kekPEM := kekPair(t, bits)
			b, err := azkv.NewTransferFile(ctx, src, azkv.KEK{ID: testKID, PublicKey: &priv.PublicKey}, azkv.FileOptions{})
			if err != nil {
				t.Fatal(err)
			}
			f, err := azkv.ParseTransferFile(b)
			if err != nil {
				t.Fatalf("byok cannot read its own file: %v\n%s", err, b)
			}
			if f.KID != testKID || f.Enc != azkv.EncCKMRSAAESKeyWrap || f.Alg != "dir" || f.SchemaVersion != "1.0.0" {
				t.Fatalf("header: %+v", f)
			}
			want := src.Material().Bytes()
			defer clear(want)
			got := opensslUnwrap(t, openssl, kekPEM, bits/8, "sha1", f.Ciphertext)
			if !bytes.Equal(got, want) {
				t.Fatalf("OpenSSL unwrapped %d bytes that are not the key's %d bytes of material", len(got), len(want))
			}
			if k.spec.Kind() != byok.KindSymmetric {
				if _, err := x509.ParsePKCS8PrivateKey(got); err != nil && k.spec != byok.ECCSECGP256K1 {
					t.Fatalf("not PKCS#8: %v", err)
				}
			}
		})
	}
}

// The SHA-256 form names RSA_AES_KEY_WRAP_256 and OpenSSL undoes it with
// SHA-256 for OAEP and MGF1.
func TestTransferFileSHA256OpenSSL(t *testing.T) {
	openssl := testenv.MustHaveExecPath(t, "openssl")
	src := openKey(t, "p384.pkcs8.pem", byok.LoadOptions{}, software.Options{})
	priv, kekPEM := kekPair(t, 3072)
	b, err := azkv.NewTransferFile(context.Background(), src, azkv.KEK{ID: testKID, PublicKey: &priv.PublicKey}, azkv.FileOptions{Enc: azkv.EncRSAAESKeyWrap256})
	if err != nil {
		t.Fatal(err)
	}
	f, err := azkv.ParseTransferFile(b)
	if err != nil || f.Enc != azkv.EncRSAAESKeyWrap256 {
		t.Fatalf("%v %+v", err, f)
	}
	if alg, _ := f.Algorithm(); alg != byok.RSAAESKeyWrapSHA256 {
		t.Fatalf("Algorithm = %s", alg)
	}
	if got := opensslUnwrap(t, openssl, kekPEM, 384, "sha256", f.Ciphertext); !bytes.Equal(got, src.Material().Bytes()) {
		t.Fatal("OpenSSL did not unwrap the key's material")
	}
}

// The file's layout is the specification's, field for field and in order,
// with an unpadded base64url ciphertext.
func TestTransferFileLayout(t *testing.T) {
	src := openKey(t, "p256.sec1.pem", byok.LoadOptions{}, software.Options{})
	priv, _ := kekPair(t, 2048)
	b, err := azkv.NewTransferFile(context.Background(), src, azkv.KEK{ID: testKID, PublicKey: &priv.PublicKey}, azkv.FileOptions{Generator: "test gen"})
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	for _, want := range []string{`"schema_version": "1.0.0"`, `"kid": "` + testKID + `"`, `"alg": "dir"`, `"enc": "CKM_RSA_AES_KEY_WRAP"`, `"generator": "test gen"`} {
		if !strings.Contains(text, want) {
			t.Errorf("missing %s in\n%s", want, text)
		}
	}
	order := []string{"schema_version", "header", "kid", "alg", "enc", "ciphertext", "generator"}
	last := -1
	for _, k := range order {
		i := strings.Index(text, `"`+k+`"`)
		if i < last {
			t.Fatalf("field %s out of order in\n%s", k, text)
		}
		last = i
	}
	var raw map[string]any
	json.Unmarshal(b, &raw)
	ct := raw["ciphertext"].(string)
	if strings.ContainsAny(ct, "+/=") {
		t.Fatalf("ciphertext is not unpadded base64url: %s", ct)
	}
	if d, err := base64.RawURLEncoding.DecodeString(ct); err != nil || len(d) != 256+8+(138+7)/8*8 {
		t.Fatalf("ciphertext: %d bytes, %v", len(d), err)
	}
}

func validFile(t *testing.T) map[string]any {
	t.Helper()
	src := openKey(t, "p256.sec1.pem", byok.LoadOptions{}, software.Options{})
	priv, _ := kekPair(t, 2048)
	b, err := azkv.NewTransferFile(context.Background(), src, azkv.KEK{ID: testKID, PublicKey: &priv.PublicKey}, azkv.FileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// ParseTransferFile refuses, naming the problem, everything that is not
// exactly a .byok file.
func TestParseTransferFileStrict(t *testing.T) {
	m := validFile(t)
	good, _ := json.Marshal(m)
	if _, err := azkv.ParseTransferFile(good); err != nil {
		t.Fatalf("a valid file: %v", err)
	}
	ct := m["ciphertext"].(string)
	ctBytes, _ := base64.RawURLEncoding.DecodeString(ct)
	edit := func(f func(m map[string]any)) []byte {
		var c map[string]any
		json.Unmarshal(good, &c)
		f(c)
		b, _ := json.Marshal(c)
		return b
	}
	hdr := func(k string, v any) []byte {
		return edit(func(c map[string]any) { c["header"].(map[string]any)[k] = v })
	}
	cases := map[string]struct {
		in   []byte
		want string
	}{
		"empty":           {nil, "not a .byok file"},
		"array":           {[]byte(`[]`), "not a .byok file"},
		"trailing":        {append(append([]byte{}, good...), []byte(` {}`)...), "data after"},
		"duplicate field": {[]byte(strings.Replace(string(good), `"generator":`, `"generator":"x","generator":`, 1)), "appears twice"},
		"unknown field":   {edit(func(c map[string]any) { c["extra"] = 1 }), "unknown field"},
		"unknown header":  {hdr("iv", "x"), "unknown field"},
		"no schema":       {edit(func(c map[string]any) { delete(c, "schema_version") }), "schema_version"},
		"schema 2":        {edit(func(c map[string]any) { c["schema_version"] = "2.0.0" }), "schema_version"},
		"no header":       {edit(func(c map[string]any) { delete(c, "header") }), "no header"},
		"alg":             {hdr("alg", "RSA-OAEP"), `"dir"`},
		"enc":             {hdr("enc", "A256GCM"), "unknown enc"},
		"no kid":          {edit(func(c map[string]any) { delete(c["header"].(map[string]any), "kid") }), "kid"},
		"kid http":        {hdr("kid", strings.Replace(testKID, "https", "http", 1)), "https"},
		"kid no version":  {hdr("kid", "https://contoso.vault.azure.net/keys/KEK"), "no KEK version"},
		"kid secrets":     {hdr("kid", "https://contoso.vault.azure.net/secrets/KEK/0123"), "/keys/NAME"},
		"kid query":       {hdr("kid", testKID+"?x=1"), "query"},
		"kid type":        {hdr("kid", 5), "not a .byok file"},
		"no ciphertext":   {edit(func(c map[string]any) { delete(c, "ciphertext") }), "no ciphertext"},
		"std base64": {edit(func(c map[string]any) {
			c["ciphertext"] = base64.StdEncoding.EncodeToString(append(ctBytes, 0xfb, 0xff, 0xfe, 0xfb, 0xff, 0xfe, 0xfb, 0xff))
		}), "base64url"},
		"spaces":           {edit(func(c map[string]any) { c["ciphertext"] = ct[:10] + " " + ct[10:] }), "base64url"},
		"short ciphertext": {edit(func(c map[string]any) { c["ciphertext"] = base64.RawURLEncoding.EncodeToString(ctBytes[:256+8]) }), "RFC 5649"},
		"odd ciphertext": {edit(func(c map[string]any) {
			c["ciphertext"] = base64.RawURLEncoding.EncodeToString(ctBytes[:len(ctBytes)-3])
		}), "RFC 5649"},
		"generator ctl": {edit(func(c map[string]any) { c["generator"] = "a\nb" }), "control"},
		"too large":     {bytes.Repeat([]byte(" "), azkv.MaxTransferFile+1), "more than"},
		"deep": {edit(func(c map[string]any) {
			c["header"].(map[string]any)["kid"] = map[string]any{"a": map[string]any{"b": []any{1}}}
		}), "not a .byok file"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := azkv.ParseTransferFile(c.in)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v; want it to mention %q", err, c.want)
			}
		})
	}
	// Padded base64url and a missing generator are accepted.
	padded := edit(func(c map[string]any) {
		c["ciphertext"] = base64.URLEncoding.EncodeToString(ctBytes)
		delete(c, "generator")
	})
	f, err := azkv.ParseTransferFile(padded)
	if err != nil || !bytes.Equal(f.Ciphertext, ctBytes) || f.Generator != "" {
		t.Fatalf("padded, no generator: %v", err)
	}
}

// ParseKEKPublicKey takes what az keyvault key download writes (PEM or DER
// SubjectPublicKeyInfo) of an RSA 2048/3072/4096 key, and nothing else.
func TestParseKEKPublicKey(t *testing.T) {
	for _, bits := range []int{2048, 3072, 4096} {
		priv, _ := kekPair(t, bits)
		der, _ := x509.MarshalPKIXPublicKey(&priv.PublicKey)
		p := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
		for _, in := range [][]byte{p, der} {
			pub, err := azkv.ParseKEKPublicKey(in)
			if err != nil || !pub.Equal(&priv.PublicKey) {
				t.Fatalf("%d bits: %v", bits, err)
			}
		}
	}
	read := func(f string) []byte {
		b, err := os.ReadFile(keyPath(f))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	priv, _ := kekPair(t, 2048)
	der, _ := x509.MarshalPKIXPublicKey(&priv.PublicKey)
	p := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	bad := map[string][]byte{
		"private key":  read("rsa2048.pkcs8.pem"),
		"EC key":       read("p256.pub.der"),
		"1024 bits":    read("bad-rsa1024.pem"),
		"pkcs1 pub":    read("bad-rsa2048.pkcs1-pub.pem"),
		"garbage":      []byte("hello"),
		"trailing PEM": append(append([]byte{}, p...), p...),
	}
	for name, in := range bad {
		if _, err := azkv.ParseKEKPublicKey(in); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// NewTransferFile refuses, before the source wraps anything, keys Azure
// does not import and KEKs Azure does not make.
func TestNewTransferFileRefusals(t *testing.T) {
	ctx := context.Background()
	priv, _ := kekPair(t, 2048)
	kek := azkv.KEK{ID: testKID, PublicKey: &priv.PublicKey}
	vaultKEK := azkv.KEK{ID: "https://contoso.vault.azure.net/keys/KEK/0123456789abcdef0123456789abcdef", PublicKey: &priv.PublicKey}
	hmacSrc := openKey(t, "hmac256.b64", byok.LoadOptions{KeySpec: byok.HMAC256}, software.Options{})
	aes := openKey(t, "aes256.bin", byok.LoadOptions{KeySpec: byok.SymmetricDefault}, software.Options{})
	ka := openKey(t, "p256.sec1.pem", byok.LoadOptions{}, software.Options{Usage: byok.KeyAgreement})
	if _, err := azkv.NewTransferFile(ctx, hmacSrc, kek, azkv.FileOptions{}); !errors.Is(err, azkv.RuleNoHMAC) || !errors.Is(err, byok.ErrIncompatible) {
		t.Errorf("HMAC: %v", err)
	}
	if _, err := azkv.NewTransferFile(ctx, aes, vaultKEK, azkv.FileOptions{}); !errors.Is(err, azkv.RuleOctManagedHSM) {
		t.Errorf("AES into a key vault: %v", err)
	}
	if _, err := azkv.NewTransferFile(ctx, aes, vaultKEK, azkv.FileOptions{ManagedHSM: true}); err != nil {
		t.Errorf("AES with ManagedHSM: %v", err)
	}
	if _, err := azkv.NewTransferFile(ctx, ka, kek, azkv.FileOptions{}); !errors.Is(err, azkv.RuleNoKeyAgreement) {
		t.Errorf("KEY_AGREEMENT: %v", err)
	}
	src := openKey(t, "p256.sec1.pem", byok.LoadOptions{}, software.Options{})
	if _, err := azkv.NewTransferFile(ctx, src, azkv.KEK{ID: "https://contoso.vault.azure.net/keys/KEK", PublicKey: &priv.PublicKey}, azkv.FileOptions{}); err == nil || !strings.Contains(err.Error(), "no version") {
		t.Errorf("unversioned KEK: %v", err)
	}
	if _, err := azkv.NewTransferFile(ctx, src, kek, azkv.FileOptions{Enc: azkv.EncRSAAESKeyWrap384}); err == nil || !strings.Contains(err.Error(), "SHA-384") {
		t.Errorf("SHA-384: %v", err)
	}
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err == nil {
		if _, err := azkv.NewTransferFile(ctx, src, azkv.KEK{ID: testKID, PublicKey: &small.PublicKey}, azkv.FileOptions{}); err == nil {
			t.Error("a 1024-bit KEK was accepted")
		}
	}
}
