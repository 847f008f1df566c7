package byok_test

// The catalogue of bad inputs: each named case must be refused with a
// specific sentinel (or AWS error type) and a message that names the problem
// and the fix. HSM, offline-flow and manifest cases live beside their code
// (hsm, cmd/byok, migrate) and are listed in SECURITY.md.

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/byok-go/byok"
	"github.com/byok-go/byok/driver/software"
	"github.com/byok-go/byok/kmstest"
)

type badCase struct {
	name string
	run  func(t *testing.T) error
	is   error  // a sentinel errors.Is must match, or nil
	as   any    // a pointer to an error type errors.As must match, or nil
	msg  string // a fragment of the message (the problem or the fix)
}

func keyFile(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "keys", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func load(name string, opts byok.LoadOptions) func(t *testing.T) error {
	return func(t *testing.T) error {
		_, err := byok.LoadKeyFile(keyFile(t, name), opts)
		return err
	}
}

func loadBytes(f func(t *testing.T) []byte, opts byok.LoadOptions) func(t *testing.T) error {
	return func(t *testing.T) error {
		_, err := byok.LoadKeyFile(f(t), opts)
		return err
	}
}

var (
	catOnce   sync.Once
	catWrap   *rsa.PrivateKey
	catClient *kms.Client
	catSrv    *kmstest.Server
)

func catalogueKMS(t *testing.T) *kms.Client {
	catOnce.Do(func() {
		catSrv = kmstest.NewServer(kmstest.WithWrappingKeyCache(true))
		catClient = kms.NewFromConfig(catSrv.AWSConfig())
		catWrap, _ = rsa.GenerateKey(rand.Reader, 2048)
	})
	return catClient
}

// importInto imports file into a KMS key set up by mk.
func importInto(file string, opts byok.LoadOptions, target func(t *testing.T, c *kms.Client) *byok.KMS) func(t *testing.T) error {
	return func(t *testing.T) error {
		c := catalogueKMS(t)
		src, err := software.Open(filepath.Join("testdata", "keys", file), opts, software.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer src.Close()
		_, err = new(byok.Importer).Import(context.Background(), src, target(t, c))
		return err
	}
}

func existing(spec types.KeySpec, usage types.KeyUsageType, origin types.OriginType, after func(*kms.Client, string)) func(t *testing.T, c *kms.Client) *byok.KMS {
	return func(t *testing.T, c *kms.Client) *byok.KMS {
		out, err := c.CreateKey(context.Background(), &kms.CreateKeyInput{KeySpec: spec, KeyUsage: usage, Origin: origin})
		if err != nil {
			t.Fatal(err)
		}
		if after != nil {
			after(c, *out.KeyMetadata.Arn)
		}
		return &byok.KMS{Client: c, KeyID: *out.KeyMetadata.Arn}
	}
}

// rawImport drives GetParametersForImport and ImportKeyMaterial by hand, to
// reach KMS's own refusals.
func rawImport(t *testing.T, spec types.KeySpec, usage types.KeyUsageType, alg byok.WrappingAlgorithm, mutate func(c *kms.Client, keyID string, token []byte, wrapped []byte) ([]byte, []byte)) error {
	c := catalogueKMS(t)
	ctx := context.Background()
	out, err := c.CreateKey(ctx, &kms.CreateKeyInput{KeySpec: spec, KeyUsage: usage, Origin: types.OriginTypeExternal})
	if err != nil {
		t.Fatal(err)
	}
	id := *out.KeyMetadata.Arn
	p, err := c.GetParametersForImport(ctx, &kms.GetParametersForImportInput{KeyId: aws.String(id), WrappingAlgorithm: types.AlgorithmSpec(alg), WrappingKeySpec: types.WrappingKeySpecRsa2048})
	if err != nil {
		t.Fatal(err)
	}
	pub, err := byok.ParseWrappingPublicKey(p.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	material := make([]byte, 32)
	rand.Read(material)
	wrapped, err := byok.WrapKeyMaterial(pub, alg, material)
	if err != nil {
		t.Fatal(err)
	}
	token := p.ImportToken
	if mutate != nil {
		token, wrapped = mutate(c, id, token, wrapped)
	}
	_, err = c.ImportKeyMaterial(ctx, &kms.ImportKeyMaterialInput{KeyId: aws.String(id), ImportToken: token, EncryptedKeyMaterial: wrapped, ExpirationModel: types.ExpirationModelTypeKeyMaterialDoesNotExpire})
	return err
}

func TestBadInputCatalogue(t *testing.T) {
	truncated := func(name string, n int) func(t *testing.T) []byte {
		return func(t *testing.T) []byte { return keyFile(t, name)[:n] }
	}
	flipped := func(name string, at int) func(t *testing.T) []byte {
		return func(t *testing.T) []byte {
			b := keyFile(t, name)
			b[at] ^= 0x40
			return b
		}
	}
	trailing := func(t *testing.T) []byte { return append(keyFile(t, "p256.pkcs8.der"), 0x00) }
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ecSPKI, _ := x509.MarshalPKIXPublicKey(&ecKey.PublicKey)
	small, _ := rsa.GenerateKey(rand.Reader, 1024)
	cases := []badCase{
		// Key files and encodings.
		{name: "truncated PEM", run: loadBytes(truncated("p256.pkcs8.pem", 120), byok.LoadOptions{}), is: byok.ErrInvalidMaterial},
		{name: "truncated DER", run: loadBytes(truncated("rsa2048.pkcs8.der", 600), byok.LoadOptions{}), is: byok.ErrInvalidMaterial},
		{name: "corrupt DER length", run: loadBytes(flipped("p384.pkcs8.der", 1), byok.LoadOptions{}), is: byok.ErrInvalidMaterial},
		{name: "trailing data after DER", run: loadBytes(trailing, byok.LoadOptions{}), is: byok.ErrInvalidMaterial},
		{name: "empty input", run: loadBytes(func(*testing.T) []byte { return nil }, byok.LoadOptions{}), is: byok.ErrInvalidMaterial, msg: "empty"},
		{name: "not a key at all", run: loadBytes(func(*testing.T) []byte { return []byte("hello, world\n") }, byok.LoadOptions{}), is: byok.ErrInvalidMaterial},
		{name: "two keys in one PEM", run: load("bad-two-keys.pem", byok.LoadOptions{}), is: byok.ErrInvalidMaterial, msg: "ambiguous"},
		{name: "EC PARAMETERS naming another curve than the key's", run: load("bad-p256.ecparam-p384.pem", byok.LoadOptions{}), is: byok.ErrInvalidMaterial, msg: "names P-384 (secp384r1), but the key is on P-256"},
		{name: "explicit EC PARAMETERS before a key", run: load("bad-p256.ecparam-explicit.pem", byok.LoadOptions{}), is: byok.ErrUnsupportedKey, msg: "named curve"},
		{name: "EC PARAMETERS before two keys", run: loadBytes(func(t *testing.T) []byte {
			return append(keyFile(t, "p256.ecparam.pem"), keyFile(t, "p384.sec1.pem")...)
		}, byok.LoadOptions{}), is: byok.ErrInvalidMaterial, msg: "2 private keys"},
		{name: "Ed25519 key", run: load("bad-ed25519.pem", byok.LoadOptions{}), is: byok.ErrNotImportable},
		{name: "X25519 key", run: load("bad-x25519.pem", byok.LoadOptions{}), is: byok.ErrInvalidMaterial, msg: "X25519"},
		{name: "RSA 1024", run: load("bad-rsa1024.pem", byok.LoadOptions{}), is: byok.ErrUnsupportedKey, msg: "2048, 3072 or 4096"},
		{name: "RSA 2056", run: load("bad-rsa2056.pem", byok.LoadOptions{}), is: byok.ErrUnsupportedKey, msg: "2056-bit"},
		{name: "multi-prime RSA (PKCS#8)", run: load("bad-rsa2048-3prime.pem", byok.LoadOptions{}), is: byok.ErrUnsupportedKey, msg: "multi-prime"},
		{name: "multi-prime RSA (PKCS#1)", run: load("bad-rsa2048-3prime.pkcs1.pem", byok.LoadOptions{}), is: byok.ErrUnsupportedKey, msg: "multi-prime"},
		{name: "P-224", run: load("bad-p224.pem", byok.LoadOptions{}), is: byok.ErrUnsupportedKey, msg: "P-224"},
		{name: "brainpoolP256r1", run: load("bad-brainpoolP256r1.pem", byok.LoadOptions{}), is: byok.ErrUnsupportedKey, msg: "brainpool"},
		{name: "explicit EC parameters (PKCS#8)", run: load("bad-p256-explicit.pkcs8.pem", byok.LoadOptions{}), is: byok.ErrUnsupportedKey, msg: "named_curve"},
		{name: "explicit EC parameters (SEC1)", run: load("bad-p256-explicit.sec1.pem", byok.LoadOptions{}), is: byok.ErrUnsupportedKey, msg: "named curve"},
		{name: "encrypted PKCS#8 without passphrase", run: load("p256.enc.pem", byok.LoadOptions{}), is: byok.ErrEncrypted},
		{name: "encrypted PKCS#8, wrong passphrase", run: load("p256.enc.pem", byok.LoadOptions{Passphrase: []byte("not the passphrase")}), is: byok.ErrWrongPassphrase},
		{name: "legacy PEM encryption", run: load("bad-p256.legacy-enc.pem", byok.LoadOptions{}), is: byok.ErrUnsupportedEncryption, msg: "openssl pkcs8 -topk8"},
		{name: "scrypt-encrypted PKCS#8", run: load("bad-p256.enc-scrypt.pem", byok.LoadOptions{Passphrase: []byte("x")}), is: byok.ErrUnsupportedEncryption, msg: "scrypt"},
		{name: "PBES1-encrypted PKCS#8", run: load("bad-p256.enc-pbes1.pem", byok.LoadOptions{Passphrase: []byte("x")}), is: byok.ErrUnsupportedEncryption, msg: "PBES1"},
		{name: "public key where a private key is needed", run: load("bad-p256.pub.pem", byok.LoadOptions{}), is: byok.ErrPublicKeyOnly},
		{name: "certificate where a private key is needed", run: load("bad-p256.cert.pem", byok.LoadOptions{}), is: byok.ErrPublicKeyOnly},
		{name: "PKCS#1 public key", run: load("bad-rsa2048.pkcs1-pub.pem", byok.LoadOptions{}), is: byok.ErrPublicKeyOnly},
		{name: "file spec differs from the asked spec", run: load("p256.pkcs8.pem", byok.LoadOptions{KeySpec: byok.ECCNISTP384}), is: byok.ErrSpecMismatch},
		{name: "raw secret key without a key spec", run: load("aes256.bin", byok.LoadOptions{}), is: byok.ErrInvalidMaterial, msg: "give its key spec (SYMMETRIC_DEFAULT or HMAC_*)"},
		{name: "AES key of 31 bytes", run: func(*testing.T) error {
			_, err := byok.NewSecretKeyMaterial(byok.SymmetricDefault, make([]byte, 31))
			return err
		}, is: byok.ErrInvalidMaterial, msg: "32"},
		{name: "HMAC_256 key of 33 bytes", run: func(*testing.T) error {
			_, err := byok.NewSecretKeyMaterial(byok.HMAC256, make([]byte, 33))
			return err
		}, is: byok.ErrInvalidMaterial, msg: "32"},
		{name: "HMAC_384 material of 32 bytes unwrapped by KMS", run: func(*testing.T) error { _, err := byok.ParseKeyMaterial(byok.HMAC384, make([]byte, 32)); return err }, is: byok.ErrInvalidMaterial},
		// Specs and algorithms.
		{name: "unknown key spec", run: func(*testing.T) error { _, err := byok.ParseKeySpec("RSA_1024"); return err }, is: byok.ErrUnknownKeySpec},
		{name: "SM2 key spec", run: func(*testing.T) error { _, err := byok.ParseKeySpec("SM2"); return err }, is: byok.ErrNotImportable},
		{name: "ML-DSA key spec", run: func(*testing.T) error { _, err := byok.ParseKeySpec("ML_DSA_65"); return err }, is: byok.ErrNotImportable},
		{name: "unknown wrapping algorithm", run: func(*testing.T) error { _, err := byok.ParseWrappingAlgorithm("RSAES_OAEP_SHA_512"); return err }, is: byok.ErrUnknownAlgorithm},
		{name: "RSAES_PKCS1_V1_5", run: func(*testing.T) error { _, err := byok.ParseWrappingAlgorithm("RSAES_PKCS1_V1_5"); return err }, is: byok.ErrDeprecatedAlgorithm, msg: "2023-10-10"},
		{name: "RSA key with RSAES_OAEP", run: func(*testing.T) error {
			return byok.CheckCompatible(byok.RSA2048, byok.RSAESOAEPSHA256, byok.WrappingRSA4096)
		}, is: byok.ErrIncompatible, msg: "RSA_AES_KEY_WRAP"},
		{name: "AES key with RSA_AES_KEY_WRAP", run: func(*testing.T) error {
			return byok.CheckCompatible(byok.SymmetricDefault, byok.RSAAESKeyWrapSHA256, byok.WrappingRSA4096)
		}, is: byok.ErrIncompatible, msg: "RSAES_OAEP"},
		{name: "P-521 with OAEP under RSA_2048", run: func(*testing.T) error {
			return byok.CheckCompatible(byok.ECCNISTP521, byok.RSAESOAEPSHA1, byok.WrappingRSA2048)
		}, is: byok.ErrIncompatible, msg: "RSA_2048"},
		{name: "unknown wrapping key spec", run: func(*testing.T) error { _, err := byok.ParseWrappingKeySpec("RSA_1024"); return err }, is: byok.ErrUnknownAlgorithm},
		// Wrapping keys.
		{name: "wrapping key too small", run: func(*testing.T) error {
			_, err := byok.WrapKeyMaterial(&small.PublicKey, byok.RSAESOAEPSHA256, make([]byte, 32))
			return err
		}, is: byok.ErrWrappingKey, msg: "1024-bit"},
		{name: "wrapping key not RSA", run: func(*testing.T) error { _, err := byok.ParseWrappingPublicKey(ecSPKI); return err }, is: byok.ErrWrappingKey, msg: "RSA"},
		{name: "wrapping key is not a public key", run: func(*testing.T) error { _, err := byok.ParseWrappingPublicKey([]byte("garbage")); return err }, is: byok.ErrWrappingKey},
		{name: "wrapping key of another spec than asked", run: func(t *testing.T) error {
			c := catalogueKMS(t)
			src := openSource(t, "p256.pkcs8.pem", byok.LoadOptions{}, software.Options{})
			_, err := (&byok.Importer{WrappingKeySpec: byok.WrappingRSA4096}).Import(context.Background(), src, &byok.KMS{Client: smallerWrappingKey{c}})
			return err
		}, is: byok.ErrWrappingKey, msg: "RSA_4096"},
		{name: "tampered wrapped blob", run: func(*testing.T) error {
			w, _ := byok.WrapKeyMaterial(&catWrapKey(t).PublicKey, byok.RSAAESKeyWrapSHA256, make([]byte, 138))
			w[len(w)-1] ^= 1
			_, err := byok.UnwrapKeyMaterial(catWrapKey(t), byok.RSAAESKeyWrapSHA256, w)
			return err
		}, is: byok.ErrUnwrap},
		// KMS keys and tokens.
		{name: "KMS key is not EXTERNAL", run: importInto("p256.pkcs8.pem", byok.LoadOptions{}, existing(types.KeySpecEccNistP256, types.KeyUsageTypeSignVerify, types.OriginTypeAwsKms, nil)), msg: "Origin EXTERNAL"},
		{name: "KMS key of another spec", run: importInto("p256.pkcs8.pem", byok.LoadOptions{}, existing(types.KeySpecRsa2048, types.KeyUsageTypeSignVerify, types.OriginTypeExternal, nil)), msg: "same spec"},
		{name: "KMS key pending deletion", run: importInto("p256.pkcs8.pem", byok.LoadOptions{}, existing(types.KeySpecEccNistP256, types.KeyUsageTypeSignVerify, types.OriginTypeExternal, func(c *kms.Client, id string) {
			c.ScheduleKeyDeletion(context.Background(), &kms.ScheduleKeyDeletionInput{KeyId: aws.String(id), PendingWindowInDays: aws.Int32(7)})
		})), msg: "PendingDeletion"},
		{name: "import token of another key", run: func(t *testing.T) error {
			return rawImport(t, types.KeySpecSymmetricDefault, types.KeyUsageTypeEncryptDecrypt, byok.RSAESOAEPSHA256, func(c *kms.Client, id string, token, wrapped []byte) ([]byte, []byte) {
				other, _ := c.CreateKey(context.Background(), &kms.CreateKeyInput{Origin: types.OriginTypeExternal})
				p, _ := c.GetParametersForImport(context.Background(), &kms.GetParametersForImportInput{KeyId: other.KeyMetadata.KeyId, WrappingAlgorithm: types.AlgorithmSpecRsaesOaepSha256, WrappingKeySpec: types.WrappingKeySpecRsa2048})
				return p.ImportToken, wrapped
			})
		}, as: new(*types.InvalidImportTokenException)},
		{name: "blob wrapped with SHA-1 under a SHA-256 token", run: func(t *testing.T) error {
			return rawImport(t, types.KeySpecSymmetricDefault, types.KeyUsageTypeEncryptDecrypt, byok.RSAESOAEPSHA256, func(c *kms.Client, id string, token, wrapped []byte) ([]byte, []byte) {
				p, _ := c.GetParametersForImport(context.Background(), &kms.GetParametersForImportInput{KeyId: aws.String(id), WrappingAlgorithm: types.AlgorithmSpecRsaesOaepSha256, WrappingKeySpec: types.WrappingKeySpecRsa2048})
				pub, _ := byok.ParseWrappingPublicKey(p.PublicKey)
				w, _ := byok.WrapKeyMaterial(pub, byok.RSAESOAEPSHA1, make([]byte, 32))
				return p.ImportToken, w
			})
		}, as: new(*types.InvalidCiphertextException)},
		{name: "wrong-length material for the spec", run: func(t *testing.T) error {
			return rawImport(t, types.KeySpecHmac512, types.KeyUsageTypeGenerateVerifyMac, byok.RSAESOAEPSHA256, nil) // 32 bytes into HMAC_512
		}, as: new(*types.IncorrectKeyMaterialException)},
		{name: "expired parameters", run: func(t *testing.T) error {
			src := openSource(t, "aes256.bin", byok.LoadOptions{KeySpec: byok.SymmetricDefault}, software.Options{})
			_, err := (&byok.Importer{WrappingKeySpec: byok.WrappingRSA2048}).Import(context.Background(), src, &staleTarget{})
			return err
		}, is: byok.ErrExpiredParameters},
		{name: "key usage the spec does not allow", run: func(t *testing.T) error {
			src := openSource(t, "p256.pkcs8.pem", byok.LoadOptions{}, software.Options{})
			_, err := new(byok.Importer).Import(context.Background(), usageLiar{src}, &byok.KMS{Client: catalogueKMS(t)})
			return err
		}, msg: "not valid for ECC_NIST_P256"},
		{name: "destroyed key material", run: func(t *testing.T) error {
			m, _ := byok.NewSecretKeyMaterial(byok.SymmetricDefault, make([]byte, 32))
			m.Destroy()
			_, err := m.Wrap(&catWrapKey(t).PublicKey, byok.RSAESOAEPSHA256)
			return err
		}, is: byok.ErrDestroyed},
	}
	cases = append(cases, inputCases(t)...) // issue 12: catalogue_input_test.go
	if len(cases) < 40 {
		t.Fatalf("the catalogue has %d cases; it promises at least 40", len(cases))
	}
	seen := map[string]bool{}
	for _, c := range cases {
		if seen[c.name] {
			t.Fatalf("duplicate case %q", c.name)
		}
		seen[c.name] = true
		t.Run(c.name, func(t *testing.T) {
			err := c.run(t)
			if err == nil {
				t.Fatal("accepted")
			}
			if c.is != nil && !errors.Is(err, c.is) {
				t.Errorf("error %q is not %v", err, c.is)
			}
			if c.as != nil && !errors.As(err, c.as) {
				t.Errorf("error %q (%T) is not a %T", err, err, c.as)
			}
			if c.msg != "" && !strings.Contains(err.Error(), c.msg) {
				t.Errorf("error %q does not mention %q", err, c.msg)
			}
			if !strings.HasPrefix(err.Error(), "byok: ") && c.as == nil {
				t.Errorf("error %q does not say where it comes from (byok: …)", err)
			}
		})
	}
}

func catWrapKey(t *testing.T) *rsa.PrivateKey {
	catalogueKMS(t)
	return catWrap
}

// smallerWrappingKey asks KMS for RSA_2048 whatever it is asked for, as a
// misbehaving proxy might.
type smallerWrappingKey struct{ *kms.Client }

func (s smallerWrappingKey) GetParametersForImport(ctx context.Context, in *kms.GetParametersForImportInput, o ...func(*kms.Options)) (*kms.GetParametersForImportOutput, error) {
	in.WrappingKeySpec = types.WrappingKeySpecRsa2048
	return s.Client.GetParametersForImport(ctx, in, o...)
}

// usageLiar reports a key usage its key spec does not allow.
type usageLiar struct{ *software.Source }

func (u usageLiar) Describe(ctx context.Context) (byok.KeyInfo, error) {
	info, err := u.Source.Describe(ctx)
	info.Usage = byok.EncryptDecrypt
	return info, err
}
