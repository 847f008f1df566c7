package main

// Tests of the byok commands through the real binary, against `byok
// emulator` (also the real binary) over HTTP, with the environment an
// operator would set: AWS_REGION, AWS_ENDPOINT_URL_KMS, credentials.

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/byok-go/byok"
	"github.com/byok-go/byok/internal/params"
	"github.com/byok-go/byok/internal/testenv"
)

// importOut mirrors importOutput for decoding.
type importOut = importOutput

// secretKeys are the key files whose material must never appear in output.
var secretKeys = []struct {
	file string
	spec byok.KeySpec
}{
	{"aes256.hex", byok.SymmetricDefault},
	{"hmac224.hex", byok.HMAC224},
	{"hmac256.hex", byok.HMAC256},
	{"hmac384.hex", byok.HMAC384},
	{"hmac512.hex", byok.HMAC512},
}

// TestCLIImportEverySpec imports a key file of every importable spec with
// `byok import --json`, the endpoint and Region from the environment.
func TestCLIImportEverySpec(t *testing.T) {
	t.Parallel()
	url, logs := startEmulator(t)
	env := emulatorEnv(t, url)
	files := map[byok.KeySpec][]string{
		byok.RSA2048:       {"rsa2048.pkcs1.pem"},
		byok.RSA3072:       {"rsa3072.pkcs8.der"},
		byok.RSA4096:       {"rsa4096.pkcs8.pem"},
		byok.ECCNISTP256:   {"p256.sec1.pem"},
		byok.ECCNISTP384:   {"p384.pkcs8.pem"},
		byok.ECCNISTP521:   {"p521.pkcs8.pem"},
		byok.ECCSECGP256K1: {"secp256k1.sec1.pem"},
	}
	for _, s := range secretKeys {
		files[s.spec] = []string{s.file, "--key-spec", string(s.spec)}
	}
	for _, spec := range byok.KeySpecs() {
		args := append([]string{"import", "--json", keyFile(files[spec][0])}, files[spec][1:]...)
		r := mustByok(t, 0, env, args...)
		o := decode[importOut](t, r)
		if !o.OK || !o.Created || o.Source.KeySpec != spec || o.Verification == nil || !o.Verification.Verified {
			t.Errorf("%s: %+v", spec, o)
		}
		want, _ := byok.ChooseWrapping(spec, nil)
		if o.Algorithm != want.Algorithm || o.WrappingKeySpec != want.WrappingKeySpec || o.Reason == "" {
			t.Errorf("%s: %s/%s, want %s/%s", spec, o.Algorithm, o.WrappingKeySpec, want.Algorithm, want.WrappingKeySpec)
		}
		if o.ExpirationModel != "KEY_MATERIAL_DOES_NOT_EXPIRE" || o.ValidTo != nil {
			t.Errorf("%s: default expiration %s %v; want none", spec, o.ExpirationModel, o.ValidTo)
		}
		if !strings.HasPrefix(o.KeyARN, "arn:aws:kms:us-east-1:111122223333:key/") {
			t.Errorf("%s: key ARN %q", spec, o.KeyARN)
		}
		if r.stderr != "" {
			t.Errorf("%s: --json printed progress on stderr: %s", spec, r.stderr)
		}
	}
	if n := strings.Count(logs.String(), "TrentService.ImportKeyMaterial 200"); n != len(files) {
		t.Errorf("%d ImportKeyMaterial requests; want %d", n, len(files))
	}
}

// TestCLIImportHuman checks the human output: progress on stderr, the
// summary table on stdout, and that no secret is printed.
func TestCLIImportHuman(t *testing.T) {
	t.Parallel()
	url, _ := startEmulator(t)
	env := emulatorEnv(t, url)
	r := mustByok(t, 0, env, "import", keyFile("rsa2048.pkcs8.pem"), "--alias", "human-test")
	for _, want := range []string{"KMS key", "arn:aws:kms:us-east-1:111122223333:key/", "created by this import, alias human-test",
		"RSA_2048", "SIGN_VERIFY", "RSA_AES_KEY_WRAP_SHA_256 under an RSA_4096 wrapping key", "RSA private keys are too long",
		"KEY_MATERIAL_DOES_NOT_EXPIRE", "PASSED: KMS holds the source key (5 checks, all passed)",
		"ok    KMS unwrapped and accepted exactly the material the source wrapped", "byte-identical", "time"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, r.stdout)
		}
	}
	for _, want := range []string{"opening", "creating a KMS key (RSA_2048, SIGN_VERIFY, Origin EXTERNAL)", "getting import parameters", "wrapping the key material", "ImportKeyMaterial", "verifying"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("no progress %q on stderr:\n%s", want, r.stderr)
		}
	}
	for _, s := range secretKeys[:2] {
		r := mustByok(t, 0, env, "import", keyFile(s.file), "--key-spec", string(s.spec))
		assertNoSecret(t, s.file, r)
	}
	pemBody, _ := os.ReadFile(keyFile("rsa2048.pkcs8.pem"))
	blk, _ := pem.Decode(pemBody)
	line := strings.Split(string(pemBody), "\n")[1]
	if strings.Contains(r.stdout+r.stderr, line) || strings.Contains(r.stdout+r.stderr, base64.StdEncoding.EncodeToString(blk.Bytes)[:40]) {
		t.Error("the output contains the private key")
	}
}

// assertNoSecret fails if the material of a secret key file appears in the
// output, in hex or base64.
func assertNoSecret(t *testing.T, file string, r result) {
	t.Helper()
	hexText, err := os.ReadFile(keyFile(file))
	if err != nil {
		t.Fatal(err)
	}
	h := strings.ToLower(strings.TrimSpace(string(hexText)))
	raw, _ := os.ReadFile(keyFile(strings.TrimSuffix(file, ".hex") + ".bin"))
	all := strings.ToLower(r.stdout + r.stderr)
	if strings.Contains(all, h) || strings.Contains(all, h[:16]) ||
		strings.Contains(r.stdout+r.stderr, base64.StdEncoding.EncodeToString(raw)[:16]) {
		t.Errorf("%s: the output contains the key material:\n%s", file, r)
	}
}

func TestCLIImportOptions(t *testing.T) {
	t.Parallel()
	url, _ := startEmulator(t)
	env := emulatorEnv(t, url)
	client := sdkClient(url)
	ctx := context.Background()
	dir := t.TempDir()
	policy := filepath.Join(dir, "policy.json")
	os.WriteFile(policy, []byte(`{"Version":"2012-10-17","Statement":[{"Sid":"root","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:*","Resource":"*"}]}`), 0o600)

	r := mustByok(t, 0, env, "import", "--json", keyFile("aes256.b64"), "--key-spec", "SYMMETRIC_DEFAULT",
		"--alias", "alias/options-test", "--description", "options test", "--tag", "team=payments", "--tag", "env=test",
		"--policy", policy, "--multi-region", "--valid-to", "+30d")
	o := decode[importOut](t, r)
	if o.ExpirationModel != "KEY_MATERIAL_EXPIRES" || o.ValidTo == nil || o.ValidTo.Sub(time.Now()) < 29*24*time.Hour {
		t.Errorf("expiration %s %v", o.ExpirationModel, o.ValidTo)
	}
	d, err := client.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String("alias/options-test")})
	if err != nil {
		t.Fatal(err)
	}
	md := d.KeyMetadata
	if aws.ToString(md.Arn) != o.KeyARN || aws.ToString(md.Description) != "options test" || !aws.ToBool(md.MultiRegion) ||
		md.Origin != types.OriginTypeExternal || md.KeyState != types.KeyStateEnabled || md.ExpirationModel != types.ExpirationModelTypeKeyMaterialExpires ||
		md.ValidTo == nil || !md.ValidTo.Equal(*o.ValidTo) {
		t.Errorf("DescribeKey: %+v", md)
	}
	tags, err := client.ListResourceTags(ctx, &kms.ListResourceTagsInput{KeyId: md.KeyId})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, tg := range tags.Tags {
		got[aws.ToString(tg.TagKey)] = aws.ToString(tg.TagValue)
	}
	if got["team"] != "payments" || got["env"] != "test" || got[byok.SourceFingerprintTag] != o.Source.Fingerprint || len(got) != 3 {
		t.Errorf("tags %v", got)
	}

	// An existing key, created with the SDK as an operator might have.
	c, err := client.CreateKey(ctx, &kms.CreateKeyInput{Origin: types.OriginTypeExternal, KeySpec: types.KeySpecRsa3072, KeyUsage: types.KeyUsageTypeEncryptDecrypt})
	if err != nil {
		t.Fatal(err)
	}
	id := aws.ToString(c.KeyMetadata.KeyId)
	r = mustByok(t, 0, env, "import", "--json", "--key-id", id, keyFile("rsa3072.pkcs8.pem"), "--usage", "ENCRYPT_DECRYPT")
	o = decode[importOut](t, r)
	if o.Created || o.KeyARN != aws.ToString(c.KeyMetadata.Arn) || !o.Verification.Verified || !strings.Contains(o.Verification.Checks[2].Name, "decrypts") {
		t.Errorf("import into an existing key: %+v", o)
	}
	// The wrong usage for that key is refused before any import.
	c2, _ := client.CreateKey(ctx, &kms.CreateKeyInput{Origin: types.OriginTypeExternal, KeySpec: types.KeySpecRsa3072, KeyUsage: types.KeyUsageTypeEncryptDecrypt})
	r = mustByok(t, 1, env, "import", "--key-id", aws.ToString(c2.KeyMetadata.KeyId), keyFile("rsa3072.pkcs8.pem"))
	if !strings.Contains(r.stderr, "has key usage ENCRYPT_DECRYPT; the import asks for SIGN_VERIFY") {
		t.Errorf("wrong usage: %s", r)
	}

	// --no-verify says so loudly, and the JSON says verification was skipped.
	r = mustByok(t, 0, env, "import", keyFile("p521.pkcs8.pem"), "--no-verify")
	if !strings.Contains(r.stderr, "VERIFICATION SKIPPED") || !strings.Contains(r.stderr, "byok verify --key-id arn:") || !strings.Contains(r.stdout, "SKIPPED (--no-verify)") {
		t.Errorf("--no-verify is not loud:\n%s", r)
	}
	o = decode[importOut](t, mustByok(t, 0, env, "import", "--json", keyFile("p521.pkcs8.pem"), "--no-verify"))
	if o.Verification != nil || !o.VerificationSkipped {
		t.Errorf("--no-verify --json: %+v", o)
	}

	// Forced algorithm and wrapping key spec.
	o = decode[importOut](t, mustByok(t, 0, env, "import", "--json", keyFile("p256.pkcs8.pem"), "--algorithm", "RSA_AES_KEY_WRAP_SHA_1", "--wrapping-key-spec", "RSA_2048"))
	if o.Algorithm != byok.RSAAESKeyWrapSHA1 || o.WrappingKeySpec != byok.WrappingRSA2048 || !o.Verification.Verified {
		t.Errorf("forced algorithm: %+v", o)
	}
	// And one AWS forbids is refused before any AWS call.
	r = mustByok(t, 1, env, "import", keyFile("rsa2048.pkcs8.pem"), "--algorithm", "RSAES_OAEP_SHA_256")
	if !strings.Contains(r.stderr, "--algorithm RSAES_OAEP_SHA_256 cannot carry an RSA_2048 key") || !strings.Contains(r.stderr, "RSA private keys must be wrapped with RSA_AES_KEY_WRAP") {
		t.Errorf("incompatible algorithm: %s", r)
	}
}

// TestCLIDryRun checks that --dry-run prints the plan and makes no AWS call.
func TestCLIDryRun(t *testing.T) {
	t.Parallel()
	url, logs := startEmulator(t)
	env := emulatorEnv(t, url)
	before := requests(logs)
	r := mustByok(t, 0, env, "import", "--dry-run", keyFile("p384.pkcs8.pem"), "--alias", "x", "--tag", "a=b", "--valid-to", "+10d")
	for _, want := range []string{"dry run: no AWS call was made", "ECC_NIST_P384", "SIGN_VERIFY", "RSAES_OAEP_SHA_256", "RSA_4096",
		"fits in one RSA-OAEP block", "a new key, Origin EXTERNAL (alias x, 1 tags)", "KEY_MATERIAL_EXPIRES", "CreateKey, CreateAlias, GetParametersForImport, ImportKeyMaterial, GetPublicKey, Sign, Verify"} {
		// The plan's values wrap to fit 100 columns: compare the words.
		if flat := strings.Join(strings.Fields(r.stdout), " "); !strings.Contains(flat, want) {
			t.Errorf("plan lacks %q:\n%s", want, r.stdout)
		}
	}
	o := decode[importOut](t, mustByok(t, 0, env, "import", "--dry-run", "--json", keyFile("rsa4096.pkcs8.pem"), "--key-id", "1234abcd-12ab-34cd-56ef-1234567890ab"))
	if !o.DryRun || o.Algorithm != byok.RSAAESKeyWrapSHA256 || o.WrappingKeySpec != byok.WrappingRSA4096 || o.Reason == "" || o.AWSCalls[0] != "DescribeKey" {
		t.Errorf("dry run JSON: %+v", o)
	}
	// No credentials, no Region, an unreachable endpoint: still fine.
	mustByok(t, 0, cleanEnv(t, "AWS_ENDPOINT_URL_KMS=http://127.0.0.1:1"), "import", "--dry-run", keyFile("hmac384.b64"), "--key-spec", "HMAC_384")
	time.Sleep(100 * time.Millisecond)
	if n := requests(logs); n != before {
		t.Errorf("--dry-run made %d KMS requests:\n%s", n-before, logs.String())
	}
}

// TestCLIConfigFromEnvironment checks that byok takes the Region, profile
// and endpoint as the AWS CLI does, and --region, --profile and
// --endpoint-url over them.
func TestCLIConfigFromEnvironment(t *testing.T) {
	t.Parallel()
	url, _ := startEmulator(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config")
	// An explicit profile's credentials win over the environment's, as in
	// the AWS CLI: the profile "other" carries its own.
	os.WriteFile(cfg, []byte("[profile byoktest]\nregion = eu-west-1\n[profile other]\nregion = ap-south-1\naws_access_key_id = other\naws_secret_access_key = other\n"), 0o600)
	base := cleanEnv(t, "AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test")
	withCfg := func(extra ...string) []string {
		var env []string
		for _, kv := range base {
			if !strings.HasPrefix(kv, "AWS_CONFIG_FILE=") {
				env = append(env, kv)
			}
		}
		return append(append(env, "AWS_CONFIG_FILE="+cfg), extra...)
	}
	for _, tc := range []struct {
		env    []string
		args   []string
		region string
	}{
		{withCfg("AWS_PROFILE=byoktest", "AWS_ENDPOINT_URL_KMS="+url), nil, "eu-west-1"},
		{withCfg("AWS_PROFILE=byoktest", "AWS_ENDPOINT_URL_KMS="+url), []string{"--region", "us-west-2"}, "us-west-2"},
		{withCfg("AWS_PROFILE=byoktest"), []string{"--profile", "other", "--endpoint-url", url}, "ap-south-1"},
		{withCfg("AWS_REGION=ca-central-1", "AWS_ENDPOINT_URL_KMS=http://127.0.0.1:1"), []string{"--endpoint-url", url}, "ca-central-1"},
	} {
		args := append([]string{"import", "--json", keyFile("p256.pkcs8.pem")}, tc.args...)
		o := decode[importOut](t, mustByok(t, 0, tc.env, args...))
		if o.Region != tc.region || !strings.HasPrefix(o.KeyARN, "arn:aws:kms:"+tc.region+":") {
			t.Errorf("%v: Region %s, key %s; want %s", tc.args, o.Region, o.KeyARN, tc.region)
		}
	}
	r := mustByok(t, 2, cleanEnv(t, "AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test", "AWS_ENDPOINT_URL_KMS="+url), "import", keyFile("p256.pkcs8.pem"))
	if !strings.Contains(r.stderr, "no AWS Region: pass --region") {
		t.Errorf("no Region: %s", r)
	}
	r = mustByok(t, 1, cleanEnv(t, "AWS_REGION=us-east-1", "AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test", "AWS_MAX_ATTEMPTS=1"), "import", keyFile("p256.pkcs8.pem"), "--endpoint-url", "http://127.0.0.1:1")
	if !strings.Contains(r.stderr, "what to do: KMS is not reachable") {
		t.Errorf("unreachable endpoint: %s", r)
	}
	r = mustByok(t, 1, emulatorEnv(t, url), "verify", "--key-id", "1234abcd-12ab-34cd-56ef-1234567890ab", keyFile("p256.pkcs8.pem"))
	if !strings.Contains(r.stderr, "NotFoundException") || !strings.Contains(r.stderr, "what to do: check the key ID") {
		t.Errorf("unknown key: %s", r)
	}
}

// writeNewP256 writes a fresh P-256 key (PKCS#8 PEM) into dir.
func writeNewP256(t *testing.T, dir string) string {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKCS8PrivateKey(k)
	name := filepath.Join(dir, "other-p256.pem")
	if err := os.WriteFile(name, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return name
}

type verifyOut = verifyOutput

// TestCLIVerify checks byok verify, and its exit status 3 when the KMS key
// is not the source key.
func TestCLIVerify(t *testing.T) {
	t.Parallel()
	url, _ := startEmulator(t)
	env := emulatorEnv(t, url)
	o := decode[importOut](t, mustByok(t, 0, env, "import", "--json", keyFile("p256.pkcs8.pem"), "--alias", "verify-me"))
	for _, src := range []string{"p256.pkcs8.pem", "p256.sec1.der", "p256.pkcs8-nopub.pem"} {
		v := decode[verifyOut](t, mustByok(t, 0, env, "verify", "--json", "--key-id", "alias/verify-me", keyFile(src)))
		if !v.OK || v.KeyARN != o.KeyARN || v.KeyState != "Enabled" || !v.Verification.Verified || v.Verdict != byok.VerdictPassed || len(v.Verification.Checks) != 4 {
			t.Errorf("%s: %+v", src, v)
		}
	}
	other := writeNewP256(t, t.TempDir())
	r := mustByok(t, 3, env, "verify", "--key-id", o.KeyARN, other)
	if !strings.Contains(r.stdout, "FAILED") || !strings.Contains(r.stdout, "FAIL  GetPublicKey equals the source public key") || !strings.Contains(r.stderr, "verification failed") {
		t.Errorf("another key verified:\n%s", r)
	}
	v := decode[verifyOut](t, mustByok(t, 3, env, "verify", "--json", "--key-id", o.KeyARN, other))
	if v.OK || v.Verification.Verified || v.Error == nil || v.Error.Kind != kindProofFailed || v.Error.ExitCode != 3 {
		t.Errorf("JSON of a failed verification: %+v", v)
	}
	r = mustByok(t, 3, env, "verify", "--key-id", o.KeyARN, keyFile("p384.pkcs8.pem"))
	if !strings.Contains(r.stderr, "the KMS key is ECC_NIST_P256; the source is ECC_NIST_P384") || !strings.Contains(r.stdout, "FAIL  DescribeKey: Origin EXTERNAL and the source's key spec") {
		t.Errorf("spec mismatch: %s", r)
	}
	// A key still waiting for its material: nothing can be compared.
	c, _ := sdkClient(url).CreateKey(context.Background(), &kms.CreateKeyInput{Origin: types.OriginTypeExternal, KeySpec: types.KeySpecEccNistP256, KeyUsage: types.KeyUsageTypeSignVerify})
	r = mustByok(t, 4, env, "verify", "--key-id", aws.ToString(c.KeyMetadata.KeyId), keyFile("p256.pkcs8.pem"))
	if !strings.Contains(r.stderr, "is PendingImport, not Enabled") {
		t.Errorf("pending key: %s", r)
	}
}

type paramsOut = paramsOutput
type wrapOut = wrapOutput
type uploadOut = uploadOutput

// TestCLIOfflineFlow runs params, wrap and upload as three separate
// processes, wrap with no AWS configuration at all, and checks the files.
func TestCLIOfflineFlow(t *testing.T) {
	t.Parallel()
	url, logs := startEmulator(t)
	env := emulatorEnv(t, url)
	offline := cleanEnv(t, "AWS_ENDPOINT_URL_KMS=http://127.0.0.1:1") // the HSM host: no credentials, no route
	for _, tc := range []struct {
		name   string
		params []string
		source []string
		spec   byok.KeySpec
		alg    byok.WrappingAlgorithm
	}{
		{"p256-by-spec", []string{"--key-spec", "ECC_NIST_P256"}, []string{keyFile("p256.pkcs8.pem")}, byok.ECCNISTP256, byok.RSAESOAEPSHA256},
		{"rsa2048-by-public-key", []string{"--public-key", keyFile("rsa2048.pub.der"), "--alias", "offline-rsa"}, []string{keyFile("rsa2048.pkcs1.der")}, byok.RSA2048, byok.RSAAESKeyWrapSHA256},
		{"hmac512-by-source", []string{keyFile("hmac512.hex"), "--key-spec", "HMAC_512", "--algorithm", "RSAES_OAEP_SHA_1"}, []string{keyFile("hmac512.b64"), "--key-spec", "HMAC_512"}, byok.HMAC512, byok.RSAESOAEPSHA1},
		{"secp256k1-sha1-keywrap", []string{"--public-key", keyFile("secp256k1.pub.der"), "--algorithm", "RSA_AES_KEY_WRAP_SHA_1", "--wrapping-key-spec", "RSA_3072"}, []string{keyFile("secp256k1.pkcs8.der")}, byok.ECCSECGP256K1, byok.RSAAESKeyWrapSHA1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "params")
			p := decode[paramsOut](t, mustByok(t, 0, env, append([]string{"params", "--json", "--out", dir}, tc.params...)...))
			m := p.Meta
			if !p.OK || m.KeySpec != tc.spec || m.Algorithm != tc.alg || !m.CreatedKey || m.ValidTo == nil || m.Region != "us-east-1" ||
				time.Until(*m.ValidTo) < 23*time.Hour || !strings.HasPrefix(m.KeyARN, "arn:aws:kms:us-east-1:") {
				t.Fatalf("params: %+v", m)
			}
			for _, f := range []string{params.WrappingKeyFile, params.ImportTokenFile, params.MetadataFile} {
				st, err := os.Stat(filepath.Join(dir, f))
				if err != nil || st.Mode().Perm() != 0o600 {
					t.Errorf("%s: %v %v", f, err, st)
				}
			}
			der, _ := os.ReadFile(filepath.Join(dir, params.WrappingKeyFile))
			if pub, err := byok.ParseWrappingPublicKey(der); err != nil || pub.N.BitLen() != m.WrappingKeySpec.Bits() {
				t.Errorf("WrappingPublicKey.bin: %v", err)
			}
			before := requests(logs)
			w := decode[wrapOut](t, mustByok(t, 0, offline, append([]string{"wrap", "--json", "--params", dir}, tc.source...)...))
			if !w.OK || w.File != filepath.Join(dir, params.EncryptedKeyMaterialFile) || w.Source.KeySpec != tc.spec {
				t.Errorf("wrap: %+v", w)
			}
			if n := requests(logs); n != before {
				t.Errorf("byok wrap made %d KMS requests", n-before)
			}
			// Wrapping again needs --force.
			r := mustByok(t, 1, offline, append([]string{"wrap", "--params", dir}, tc.source...)...)
			if !strings.Contains(r.stderr, "--force") {
				t.Errorf("second wrap: %s", r)
			}
			mustByok(t, 0, offline, append([]string{"wrap", "--force", "--params", dir}, tc.source...)...)

			src := append([]string{"--source"}, tc.source...)
			u := decode[uploadOut](t, mustByok(t, 0, env, append([]string{"upload", "--json", "--params", dir}, src...)...))
			if !u.OK || u.KeyARN != m.KeyARN || u.Verification == nil || !u.Verification.Verified {
				t.Errorf("upload: %+v", u)
			}
			v := decode[verifyOut](t, mustByok(t, 0, env, append([]string{"verify", "--json", "--key-id", m.KeyARN}, tc.source...)...))
			if !v.Verification.Verified {
				t.Errorf("verify after upload: %+v", v)
			}
		})
	}
}

// TestCLIOfflineUploadWithoutSource uploads without --source: byok says
// verification was skipped and how to run it, and still compares the public
// key with the one recorded at wrap time.
func TestCLIOfflineUploadWithoutSource(t *testing.T) {
	t.Parallel()
	url, _ := startEmulator(t)
	env := emulatorEnv(t, url)
	dir := t.TempDir()
	mustByok(t, 0, env, "params", "--out", dir, "--key-spec", "ECC_NIST_P521")
	r := mustByok(t, 1, env, "upload", "--params", dir)
	if !strings.Contains(r.stderr, "has no EncryptedKeyMaterial.bin: run byok wrap") {
		t.Errorf("upload before wrap: %s", r)
	}
	mustByok(t, 0, env, "wrap", "--params", dir, keyFile("p521.sec1.pem"))
	r = mustByok(t, 0, env, "upload", "--params", dir, "--valid-to", "+7d")
	if !strings.Contains(r.stderr, "VERIFICATION SKIPPED") || !strings.Contains(r.stderr, "byok verify --key-id arn:aws:kms:") ||
		!strings.Contains(r.stdout, "ok    GetPublicKey equals the public key of the source byok wrap wrapped") || !strings.Contains(r.stdout, "KEY_MATERIAL_EXPIRES") {
		t.Errorf("upload without source:\n%s", r)
	}
	// Uploading the same material again (re-import) is allowed by KMS.
	u := decode[uploadOut](t, mustByok(t, 0, env, "upload", "--json", "--params", dir))
	if !u.VerificationSkipped || u.VerifyCommand == "" || u.PublicKeyChecked == nil || !*u.PublicKeyChecked {
		t.Errorf("upload --json without source: %+v", u)
	}
	// The wrong source for the proof is refused before uploading.
	r = mustByok(t, 1, env, "upload", "--params", dir, "--source", keyFile("p256.pkcs8.pem"))
	if !strings.Contains(r.stderr, "is not the key byok wrap wrapped") {
		t.Errorf("wrong --source: %s", r)
	}
}

// TestCLIOfflineRefusals checks what byok wrap and upload refuse.
func TestCLIOfflineRefusals(t *testing.T) {
	t.Parallel()
	url, logs := startEmulator(t)
	env := emulatorEnv(t, url)
	offline := cleanEnv(t)
	tmp := t.TempDir()

	// A source whose spec differs from the KMS key's.
	spec := filepath.Join(tmp, "spec")
	mustByok(t, 0, env, "params", "--out", spec, "--key-spec", "ECC_NIST_P384")
	r := mustByok(t, 1, offline, "wrap", "--params", spec, keyFile("p256.pkcs8.pem"))
	if !strings.Contains(r.stderr, "is ECC_NIST_P384, but the source is an ECC_NIST_P256 key") {
		t.Errorf("spec mismatch: %s", r)
	}

	// A source that is not the one recorded at params time.
	rec := filepath.Join(tmp, "recorded")
	mustByok(t, 0, env, "params", "--out", rec, keyFile("p256.pkcs8.pem"))
	other := writeNewP256(t, tmp)
	r = mustByok(t, 1, offline, "wrap", "--params", rec, other)
	if !strings.Contains(r.stderr, "is not the key recorded by byok params") {
		t.Errorf("another key of the same spec: %s", r)
	}
	mustByok(t, 0, offline, "wrap", "--params", rec, keyFile("p256.sec1-nopub.der"), "--key-spec", "ECC_NIST_P256")

	// Files of two params runs mixed up.
	mixed := filepath.Join(tmp, "mixed")
	mustByok(t, 0, env, "params", "--out", mixed, "--key-spec", "ECC_NIST_P256")
	tok, _ := os.ReadFile(filepath.Join(rec, params.ImportTokenFile))
	os.WriteFile(filepath.Join(mixed, params.ImportTokenFile), tok, 0o600)
	r = mustByok(t, 1, offline, "wrap", "--params", mixed, keyFile("p256.pkcs8.pem"))
	if !strings.Contains(r.stderr, "mixed up") {
		t.Errorf("mixed-up token: %s", r)
	}
	r = mustByok(t, 1, env, "upload", "--params", mixed)
	if !strings.Contains(r.stderr, "mixed up") {
		t.Errorf("upload of a mixed-up directory: %s", r)
	}

	// Encrypted key material that is not the one wrap recorded.
	enc, _ := os.ReadFile(filepath.Join(rec, params.EncryptedKeyMaterialFile))
	enc[10] ^= 1
	os.WriteFile(filepath.Join(rec, params.EncryptedKeyMaterialFile), enc, 0o600)
	r = mustByok(t, 1, env, "upload", "--params", rec)
	if !strings.Contains(r.stderr, "is not the one `byok wrap` recorded") {
		t.Errorf("altered EncryptedKeyMaterial.bin: %s", r)
	}

	// Expired parameters.
	exp := filepath.Join(tmp, "expired")
	mustByok(t, 0, env, "params", "--out", exp, "--key-spec", "HMAC_256")
	mustByok(t, 0, offline, "wrap", "--params", exp, keyFile("hmac256.bin"), "--key-spec", "HMAC_256")
	setValidTo(t, exp, time.Now().Add(-time.Minute))
	r = mustByok(t, 1, offline, "wrap", "--force", "--params", exp, keyFile("hmac256.bin"), "--key-spec", "HMAC_256")
	if !strings.Contains(r.stderr, "expired at") || !strings.Contains(r.stderr, "run byok params again") {
		t.Errorf("expired params, wrap: %s", r)
	}
	before := requests(logs)
	r = mustByok(t, 1, env, "upload", "--params", exp)
	if !strings.Contains(r.stderr, "expired at") || requests(logs) != before {
		t.Errorf("expired params, upload: %s", r)
	}
	setValidTo(t, exp, time.Now().Add(30*time.Minute))
	r = mustByok(t, 0, offline, "wrap", "--force", "--params", exp, keyFile("hmac256.bin"), "--key-spec", "HMAC_256")
	if !strings.Contains(r.stderr, "warning: the parameters expire in") {
		t.Errorf("parameters about to expire: no warning: %s", r)
	}

	// --algorithm cannot change what GetParametersForImport fixed.
	r = mustByok(t, 2, offline, "wrap", "--force", "--params", exp, "--algorithm", "RSAES_OAEP_SHA_1", keyFile("hmac256.bin"), "--key-spec", "HMAC_256")
	if !strings.Contains(r.stderr, "were fetched for RSAES_OAEP_SHA_256") {
		t.Errorf("--algorithm on a params directory: %s", r)
	}
	// Garbage metadata.
	os.WriteFile(filepath.Join(exp, params.MetadataFile), []byte(`{"format":"byok-import-parameters/1","surprise":1}`), 0o600)
	r = mustByok(t, 1, offline, "wrap", "--force", "--params", exp, keyFile("hmac256.bin"), "--key-spec", "HMAC_256")
	if !strings.Contains(r.stderr, "not byok import parameters metadata") {
		t.Errorf("garbage metadata: %s", r)
	}
	// params refuses to overwrite.
	r = mustByok(t, 1, env, "params", "--out", rec, "--key-spec", "ECC_NIST_P256")
	if !strings.Contains(r.stderr, "already holds import parameters") {
		t.Errorf("params over params: %s", r)
	}
}

func setValidTo(t *testing.T, dir string, to time.Time) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, params.MetadataFile))
	if err != nil {
		t.Fatal(err)
	}
	var m params.Metadata
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	m.ValidTo = &to
	if err := params.WriteMetadata(dir, &m); err != nil {
		t.Fatal(err)
	}
}

// TestCLIOfflineWithAWSCLI has the AWS CLI upload the files byok wrap
// wrote, as the documentation of byok wrap shows, then proves the import
// with byok verify.
func TestCLIOfflineWithAWSCLI(t *testing.T) {
	t.Parallel()
	testenv.MustHaveExecPath(t, "aws")
	url, _ := startEmulator(t)
	env := emulatorEnv(t, url)
	for _, tc := range []struct {
		spec   string
		source []string
	}{
		{"RSA_4096", []string{keyFile("rsa4096.pkcs8.pem")}},
		{"SYMMETRIC_DEFAULT", []string{keyFile("aes256.bin"), "--key-spec", "SYMMETRIC_DEFAULT"}},
	} {
		dir := t.TempDir()
		p := decode[paramsOut](t, mustByok(t, 0, env, "params", "--json", "--out", dir, "--key-spec", tc.spec))
		r := mustByok(t, 0, cleanEnv(t), append([]string{"wrap", "--params", dir}, tc.source...)...)
		if !strings.Contains(r.stdout, "aws kms import-key-material \\\n    --key-id "+p.Meta.KeyARN+" \\\n") {
			t.Errorf("wrap does not show the AWS CLI command:\n%s", r.stdout)
		}
		awsCLI(t, url, "import-key-material", "--key-id", p.Meta.KeyARN,
			"--encrypted-key-material", "fileb://"+filepath.Join(dir, params.EncryptedKeyMaterialFile),
			"--import-token", "fileb://"+filepath.Join(dir, params.ImportTokenFile),
			"--expiration-model", "KEY_MATERIAL_DOES_NOT_EXPIRE")
		if st := awsCLI(t, url, "describe-key", "--key-id", p.Meta.KeyARN)["KeyMetadata"].(map[string]any)["KeyState"]; st != "Enabled" {
			t.Fatalf("%s: after aws kms import-key-material the key is %v", tc.spec, st)
		}
		v := decode[verifyOut](t, mustByok(t, 0, env, append([]string{"verify", "--json", "--key-id", p.Meta.KeyARN}, tc.source...)...))
		if !v.Verification.Verified {
			t.Errorf("%s: %+v", tc.spec, v)
		}
	}
}

// consoleZip writes an ImportParameters.zip as the KMS console downloads
// it, from a GetParametersForImport of the emulator.
func consoleZip(t *testing.T, url string, spec types.KeySpec, alg types.AlgorithmSpec, readme string) (string, string) {
	t.Helper()
	ctx := context.Background()
	client := sdkClient(url)
	c, err := client.CreateKey(ctx, &kms.CreateKeyInput{Origin: types.OriginTypeExternal, KeySpec: spec, KeyUsage: types.KeyUsageTypeSignVerify})
	if spec == types.KeySpecSymmetricDefault {
		c, err = client.CreateKey(ctx, &kms.CreateKeyInput{Origin: types.OriginTypeExternal})
	}
	if err != nil {
		t.Fatal(err)
	}
	id, arn := aws.ToString(c.KeyMetadata.KeyId), aws.ToString(c.KeyMetadata.Arn)
	p, err := client.GetParametersForImport(ctx, &kms.GetParametersForImportInput{KeyId: aws.String(id), WrappingAlgorithm: alg, WrappingKeySpec: types.WrappingKeySpecRsa2048})
	if err != nil {
		t.Fatal(err)
	}
	name := filepath.Join(t.TempDir(), "ImportParameters.zip")
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	ts := "_1123151500"
	for n, b := range map[string][]byte{
		"wrappingKey_" + id + ts:     p.PublicKey,
		"importToken_" + id + ts:     p.ImportToken,
		"README_" + id + ts + ".txt": []byte(strings.NewReplacer("ARN", arn, "ID", id).Replace(readme)),
	} {
		w, _ := zw.Create(n)
		w.Write(b)
	}
	zw.Close()
	os.WriteFile(name, buf.Bytes(), 0o600)
	return name, arn
}

// TestCLIConsoleZip takes the KMS console's ImportParameters.zip: directly
// in byok wrap, and converted by byok params.
func TestCLIConsoleZip(t *testing.T) {
	t.Parallel()
	url, _ := startEmulator(t)
	env := emulatorEnv(t, url)
	offline := cleanEnv(t)
	readme := "Wrapping key and import token for KMS key ARN.\nWrapping algorithm: RSAES_OAEP_SHA_256\nWrapping key spec: RSA_2048\n"

	zipFile, arn := consoleZip(t, url, types.KeySpecEccNistP256, types.AlgorithmSpecRsaesOaepSha256, readme)
	out := filepath.Join(t.TempDir(), "p")
	w := decode[wrapOut](t, mustByok(t, 0, offline, "wrap", "--json", "--params", zipFile, "--out", out, keyFile("p256.pkcs8.pem")))
	if !w.OK || w.KeyARN != arn || w.Algorithm != byok.RSAESOAEPSHA256 || w.WrappingSpec != byok.WrappingRSA2048 || len(w.Warnings) != 1 {
		t.Errorf("wrap from the console zip: %+v", w)
	}
	u := decode[uploadOut](t, mustByok(t, 0, env, "upload", "--json", "--params", out, "--source", keyFile("p256.pkcs8.pem")))
	if !u.OK || !u.Verification.Verified {
		t.Errorf("upload: %+v", u)
	}

	// A README that does not name the algorithm: --algorithm is needed.
	zipFile, _ = consoleZip(t, url, types.KeySpecSymmetricDefault, types.AlgorithmSpecRsaesOaepSha1, "Import parameters for ID.\n")
	out = filepath.Join(t.TempDir(), "p")
	r := mustByok(t, 2, offline, "wrap", "--params", zipFile, "--out", out, keyFile("aes256.hex"), "--key-spec", "SYMMETRIC_DEFAULT")
	if !strings.Contains(r.stderr, "does not name the wrapping algorithm: pass --algorithm") {
		t.Errorf("no algorithm: %s", r)
	}
	// An algorithm AWS does not allow for the key is refused.
	r = mustByok(t, 1, offline, "wrap", "--params", zipFile, "--out", out, "--algorithm", "RSA_AES_KEY_WRAP_SHA_1", keyFile("aes256.hex"), "--key-spec", "SYMMETRIC_DEFAULT")
	if !strings.Contains(r.stderr, "cannot carry this SYMMETRIC_DEFAULT key") || !strings.Contains(r.stderr, "must be wrapped with RSAES_OAEP") {
		t.Errorf("incompatible algorithm: %s", r)
	}
	mustByok(t, 0, offline, "wrap", "--params", zipFile, "--out", out, "--algorithm", "RSAES_OAEP_SHA_1", keyFile("aes256.hex"), "--key-spec", "SYMMETRIC_DEFAULT")
	u = decode[uploadOut](t, mustByok(t, 0, env, "upload", "--json", "--params", out, "--source", keyFile("aes256.b64"), "--key-spec", "SYMMETRIC_DEFAULT"))
	if !u.OK || !u.Verification.Verified {
		t.Errorf("upload: %+v", u)
	}

	// byok params converts the zip (no AWS call), recording the source.
	zipFile, arn = consoleZip(t, url, types.KeySpecRsa2048, types.AlgorithmSpecRsaAesKeyWrapSha256, readme)
	r = mustByok(t, 1, offline, "params", "--out", t.TempDir(), "--console-zip", zipFile, keyFile("rsa2048.pkcs8.pem"))
	if !strings.Contains(r.stderr, "says the parameters are for RSAES_OAEP_SHA_256") && !strings.Contains(r.stderr, "cannot carry this key") {
		t.Errorf("README naming another algorithm than the key needs: %s", r)
	}
	zipFile, arn = consoleZip(t, url, types.KeySpecRsa2048, types.AlgorithmSpecRsaAesKeyWrapSha256, "Parameters for ARN: RSA_AES_KEY_WRAP_SHA_256, RSA_2048.")
	out = filepath.Join(t.TempDir(), "p")
	p := decode[paramsOut](t, mustByok(t, 0, offline, "params", "--json", "--out", out, "--console-zip", zipFile, "--public-key", keyFile("rsa2048.pub.der")))
	if p.Meta.KeyARN != arn || p.Meta.Region != "us-east-1" || p.Meta.From != params.FromConsoleZip || p.Meta.Source == nil || p.Meta.ValidTo != nil {
		t.Errorf("params --console-zip: %+v", p.Meta)
	}
	r = mustByok(t, 1, offline, "wrap", "--params", out, keyFile("rsa3072.pkcs8.pem"))
	if !strings.Contains(r.stderr, "not the key recorded by byok params") && !strings.Contains(r.stderr, "recorded an RSA_2048 source key") {
		t.Errorf("wrong source against a zip's recorded public key: %s", r)
	}
	mustByok(t, 0, offline, "wrap", "--params", out, keyFile("rsa2048.pkcs1.pem"))
	mustByok(t, 0, env, "upload", "--params", out, "--source", keyFile("rsa2048.pkcs8.der"))
}

// TestCLIInspect describes key files without revealing them.
func TestCLIInspect(t *testing.T) {
	t.Parallel()
	env := cleanEnv(t)
	r := mustByok(t, 0, env, "inspect", keyFile("p384.sec1.pem"))
	pub, _ := os.ReadFile(keyFile("p384.pub.der"))
	pubPEM := string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}))
	for _, want := range []string{"ECC_NIST_P384 (EC private key, 384 bits)", "SIGN_VERIFY (KMS allows: SIGN_VERIFY, KEY_AGREEMENT)",
		"sha256:", "185 bytes", "not applicable", "RSAES_OAEP_SHA_256 under an RSA_4096 wrapping key", pubPEM} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("inspect lacks %q:\n%s", want, r.stdout)
		}
	}
	if strings.Contains(r.stdout, "PRIVATE KEY") {
		t.Error("inspect printed a private key")
	}
	type inspectOut = inspectOutput
	for _, s := range secretKeys {
		r := mustByok(t, 0, env, "inspect", "--json", keyFile(s.file), "--key-spec", string(s.spec))
		o := decode[inspectOut](t, r)
		if o.KeySpec != s.spec || o.MaterialBytes != s.spec.MaterialLen() || o.PublicKey != nil || len(o.AllowedAlgorithms) != 2 || !strings.HasPrefix(o.Fingerprint, "sha256:") {
			t.Errorf("%s: %+v", s.file, o)
		}
		assertNoSecret(t, s.file, r)
		assertNoSecret(t, s.file, mustByok(t, 0, env, "inspect", keyFile(s.file), "--key-spec", string(s.spec)))
	}
	// The fingerprint of an asymmetric key is the SHA-256 of its public
	// key, as `openssl pkey -pubout -outform DER | sha256sum` computes it.
	o := decode[inspectOutput](t, mustByok(t, 0, env, "inspect", "--json", keyFile("rsa3072.pkcs1.der"), "--usage", "ENCRYPT_DECRYPT"))
	if o.Fingerprint != "sha256:"+params.Digest(mustRead(t, keyFile("rsa3072.pub.der"))) || o.KeyUsage != byok.EncryptDecrypt || !bytes.Equal(o.PublicKey, mustRead(t, keyFile("rsa3072.pub.der"))) {
		t.Errorf("rsa3072: %+v", o)
	}
}

func mustRead(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestCLIPassphrase loads encrypted key files with the passphrase from the
// environment and from a file, and refuses without one when there is no
// terminal to ask on. The passphrase is never printed.
func TestCLIPassphrase(t *testing.T) {
	t.Parallel()
	const pass = "byok-test-passphrase"
	dir := t.TempDir()
	passFile := filepath.Join(dir, "pass")
	os.WriteFile(passFile, []byte(pass+"\n"), 0o600)
	env := cleanEnv(t, "BYOK_TEST_PASS="+pass)
	for _, args := range [][]string{
		{"inspect", keyFile("p256.enc.pem"), "--passphrase-env", "BYOK_TEST_PASS"},
		{"inspect", keyFile("rsa2048.enc.der"), "--passphrase-file", passFile},
	} {
		r := mustByok(t, 0, env, args...)
		if strings.Contains(r.stdout+r.stderr, pass) {
			t.Errorf("%v printed the passphrase", args)
		}
	}
	r := mustByok(t, 1, env, "inspect", keyFile("p256.enc.pem"))
	if !strings.Contains(r.stderr, "the key file is encrypted: pass --passphrase-env NAME or --passphrase-file PATH") {
		t.Errorf("no passphrase: %s", r)
	}
	r = mustByok(t, 1, cleanEnv(t, "BYOK_TEST_PASS=wrong"), "inspect", keyFile("p256.enc.pem"), "--passphrase-env", "BYOK_TEST_PASS")
	if !strings.Contains(r.stderr, "wrong passphrase") || strings.Contains(r.stderr, "wrong\n") {
		t.Errorf("wrong passphrase: %s", r)
	}
	r = mustByok(t, 1, env, "inspect", keyFile("p256.enc.pem"), "--passphrase-env", "BYOK_NOT_SET")
	if !strings.Contains(r.stderr, "BYOK_NOT_SET") {
		t.Errorf("unset variable: %s", r)
	}
}

// TestCLIDemoBinary runs `byok demo` as a newcomer would: the default,
// honest mode (a fresh wrapping key pair per GetParametersForImport), and
// --all --fast.
func TestCLIDemoBinary(t *testing.T) {
	t.Parallel()
	start := time.Now()
	// The binary has the softhsm driver: with SoftHSM installed, the demo
	// also imports its 3 keys (TestDemoSoftHSM checks them).
	n, hsmKeys := len(byok.KeySpecs()), 0
	if _, err := os.Stat(softhsmModule); err == nil {
		hsmKeys = len(softhsmDemoKeys)
	}
	r := mustByok(t, 0, cleanEnv(t), "demo")
	for _, spec := range byok.KeySpecs() {
		if !strings.Contains(r.stdout, string(spec)+" ") {
			t.Errorf("table lacks a row for %s:\n%s", spec, r.stdout)
		}
	}
	for _, want := range []string{"KEY SPEC", "USAGE", "ALGORITHM", "WRAPPING", "TIME", "VERDICT", "PASSED", "  key   arn:aws:kms:us-east-1:111122223333:key/",
		"  ok    GetPublicKey equals the source public key", "  ok    KMS GenerateMac (HMAC_SHA_256)", "  ok    KMS unwrapped and accepted exactly",
		fmt.Sprintf("%d imported and verified, 0 failed", n+hsmKeys)} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("demo output lacks %q:\n%s", want, r.stdout)
		}
	}
	if !strings.Contains(r.stderr, "fresh RSA wrapping key pair for each") || !strings.Contains(r.stderr, fmt.Sprintf("[%d/%d]", n+hsmKeys, n+hsmKeys)) {
		t.Errorf("no progress on stderr:\n%s", r.stderr)
	}
	t.Logf("byok demo took %s", time.Since(start))

	if testing.Short() {
		return
	}
	r = mustByok(t, 0, cleanEnv(t), "demo", "--all", "--fast", "--json")
	rows := decode[demoOutput](t, r).Results
	// Counted from AWS's rules, independently of the code: symmetric and
	// HMAC (5 specs) × 2 OAEP × 3 wrapping keys; RSA (3) × 2 key-wrap × 3;
	// P-256, P-384, secp256k1 × 4 × 3; P-521 × 4 × 3 less OAEP-SHA-1 and
	// OAEP-SHA-256 under RSA_2048.
	// SoftHSM 2.6.1's keys: RSAES_OAEP_SHA_1 only, × 3 wrapping keys.
	const want = 5*2*3 + 3*2*3 + 3*4*3 + (4*3 - 2)
	if got := len(rows); got != want+3*hsmKeys {
		t.Errorf("%d combinations; want %d + %d from SoftHSM", got, want, 3*hsmKeys)
	}
	for _, r := range rows {
		if r.Source == "softhsm" && r.Algorithm != byok.RSAESOAEPSHA1 {
			t.Errorf("%s (softhsm) was tried with %s, which SoftHSM 2.6.1 cannot perform", r.KeySpec, r.Algorithm)
		}
		if !r.OK || !r.Verified {
			t.Errorf("%s %s %s: %+v", r.KeySpec, r.Algorithm, r.WrappingKeySpec, r.Error)
		}
		if r.KeySpec == byok.ECCNISTP521 && r.WrappingKeySpec == byok.WrappingRSA2048 && !r.Algorithm.IsKeyWrap() {
			t.Errorf("P-521 under RSA_2048 with %s should not have been attempted", r.Algorithm)
		}
	}
}
