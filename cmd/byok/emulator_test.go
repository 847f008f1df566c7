package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/byok-go/byok"
	"github.com/byok-go/byok/driver/software"
	"github.com/byok-go/byok/internal/testenv"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// byokBinary builds cmd/byok once per test run.
func byokBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "byok-bin")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "byok")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			buildErr = err
			t.Logf("go build: %s", out)
		}
	})
	if buildErr != nil {
		t.Fatalf("building byok: %v", buildErr)
	}
	return binPath
}

// startEmulator runs `byok emulator` on a free loopback port and returns its
// URL and a buffer collecting its request log.
func startEmulator(t *testing.T, args ...string) (string, *syncBuffer) {
	t.Helper()
	cmd := exec.Command(byokBinary(t), append([]string{"emulator", "--listen", "127.0.0.1:0", "--fast-wrapping-keys"}, args...)...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	cmd.Stderr = logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
		}
	})
	sc := bufio.NewScanner(stdout)
	re := regexp.MustCompile(`AWS KMS on (http://127\.0\.0\.1:\d+)`)
	urlc := make(chan string, 1)
	go func() {
		for sc.Scan() {
			if m := re.FindStringSubmatch(sc.Text()); m != nil {
				urlc <- m[1]
			}
		}
	}()
	select {
	case u := <-urlc:
		return u, logs
	case <-time.After(20 * time.Second):
		t.Fatalf("byok emulator did not start; stderr:\n%s", logs.String())
	}
	return "", nil
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func sdkClient(url string) *kms.Client {
	return kms.New(kms.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(url),
		Credentials:  credentials.NewStaticCredentialsProvider("test", "test", ""),
	})
}

// TestImportEveryPEMIntoByokEmulator runs the real binary's emulator and
// imports a key file of every importable type into it over HTTP, verified.
func TestImportEveryPEMIntoByokEmulator(t *testing.T) {
	url, logs := startEmulator(t)
	client := sdkClient(url)
	files := map[byok.KeySpec]struct {
		file string
		opts byok.LoadOptions
	}{
		byok.SymmetricDefault: {"aes256.hex", byok.LoadOptions{KeySpec: byok.SymmetricDefault}},
		byok.HMAC224:          {"hmac224.hex", byok.LoadOptions{KeySpec: byok.HMAC224}},
		byok.HMAC256:          {"hmac256.hex", byok.LoadOptions{KeySpec: byok.HMAC256}},
		byok.HMAC384:          {"hmac384.hex", byok.LoadOptions{KeySpec: byok.HMAC384}},
		byok.HMAC512:          {"hmac512.hex", byok.LoadOptions{KeySpec: byok.HMAC512}},
		byok.RSA2048:          {"rsa2048.pkcs8.pem", byok.LoadOptions{}},
		byok.RSA3072:          {"rsa3072.pkcs8.pem", byok.LoadOptions{}},
		byok.RSA4096:          {"rsa4096.pkcs8.pem", byok.LoadOptions{}},
		byok.ECCNISTP256:      {"p256.pkcs8.pem", byok.LoadOptions{}},
		byok.ECCNISTP384:      {"p384.pkcs8.pem", byok.LoadOptions{}},
		byok.ECCNISTP521:      {"p521.pkcs8.pem", byok.LoadOptions{}},
		byok.ECCSECGP256K1:    {"secp256k1.pkcs8.pem", byok.LoadOptions{}},
	}
	for _, spec := range byok.KeySpecs() {
		f := files[spec]
		src, err := software.Open(filepath.Join("..", "..", "testdata", "keys", f.file), f.opts, software.Options{})
		if err != nil {
			t.Fatal(err)
		}
		res, err := new(byok.Importer).Import(context.Background(), src, &byok.KMS{Client: client})
		src.Close()
		if err != nil {
			t.Errorf("%s: %v", spec, err)
			continue
		}
		if res.KeySpec != spec || res.Verification == nil || !res.Verification.Verified {
			t.Errorf("%s: not verified: %+v", spec, res.Verification)
		}
	}
	// One log line per request, naming the operation.
	if n := strings.Count(logs.String(), "TrentService.ImportKeyMaterial 200"); n != len(files) {
		t.Errorf("%d ImportKeyMaterial lines in the request log; want %d:\n%s", n, len(files), logs.String())
	}
}

// awsCLI runs the AWS CLI against the emulator and decodes its JSON output.
func awsCLI(t *testing.T, url string, args ...string) map[string]any {
	t.Helper()
	dir := t.TempDir()
	cmd := exec.Command("aws", append([]string{"--endpoint-url", url, "--output", "json", "kms"}, args...)...)
	cmd.Env = append(os.Environ(),
		"AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test", "AWS_DEFAULT_REGION=us-east-1", "AWS_REGION=us-east-1",
		"AWS_CONFIG_FILE="+filepath.Join(dir, "none"), "AWS_SHARED_CREDENTIALS_FILE="+filepath.Join(dir, "none"),
		"AWS_PAGER=", "AWS_MAX_ATTEMPTS=1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("aws kms %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	m := map[string]any{}
	if len(bytes.TrimSpace(out)) > 0 {
		if err := json.Unmarshal(out, &m); err != nil {
			t.Fatalf("aws kms %s: output is not JSON: %v\n%s", args[0], err, out)
		}
	}
	return m
}

func runTool(t *testing.T, dir, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

func writeB64(t *testing.T, path string, v any) {
	t.Helper()
	s, _ := v.(string)
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil || len(b) == 0 {
		t.Fatalf("%s: not base64: %v", path, err)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestAWSCLIAndOpenSSLAgainstByokEmulator checks the emulator with a client
// and a wrapper this project did not write: the AWS CLI creates the key and
// fetches the parameters, OpenSSL 3 wraps the key material, the AWS CLI
// imports it and signs, and OpenSSL verifies the signature.
func TestAWSCLIAndOpenSSLAgainstByokEmulator(t *testing.T) {
	testenv.MustHaveExecPath(t, "aws")
	testenv.MustHaveExecPath(t, "openssl")
	url, _ := startEmulator(t)
	for _, tc := range []struct {
		name, keySpec, alg, signAlg string
		genpkey                     []string
		dgst                        []string
	}{
		{"P256-OAEP", "ECC_NIST_P256", "RSAES_OAEP_SHA_256", "ECDSA_SHA_256",
			[]string{"-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"}, nil},
		{"RSA2048-KeyWrap", "RSA_2048", "RSA_AES_KEY_WRAP_SHA_256", "RSASSA_PSS_SHA_256",
			[]string{"-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"}, []string{"-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:32"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			runTool(t, dir, "openssl", append([]string{"genpkey", "-out", "key.pem"}, tc.genpkey...)...)
			runTool(t, dir, "openssl", "pkcs8", "-topk8", "-nocrypt", "-in", "key.pem", "-outform", "DER", "-out", "key.der")
			runTool(t, dir, "openssl", "pkey", "-in", "key.pem", "-pubout", "-out", "pub.pem")

			created := awsCLI(t, url, "create-key", "--origin", "EXTERNAL", "--key-spec", tc.keySpec, "--key-usage", "SIGN_VERIFY")
			md := created["KeyMetadata"].(map[string]any)
			keyID := md["KeyId"].(string)
			if md["KeyState"] != "PendingImport" || md["Origin"] != "EXTERNAL" {
				t.Fatalf("created key %v; want PendingImport, EXTERNAL", md)
			}
			params := awsCLI(t, url, "get-parameters-for-import", "--key-id", keyID, "--wrapping-algorithm", tc.alg, "--wrapping-key-spec", "RSA_4096")
			writeB64(t, filepath.Join(dir, "wrap.der"), params["PublicKey"])
			writeB64(t, filepath.Join(dir, "token.bin"), params["ImportToken"])
			oaep := []string{"-pkeyopt", "rsa_padding_mode:oaep", "-pkeyopt", "rsa_oaep_md:sha256", "-pkeyopt", "rsa_mgf1_md:sha256"}
			if tc.alg == "RSAES_OAEP_SHA_256" {
				runTool(t, dir, "openssl", append([]string{"pkeyutl", "-encrypt", "-pubin", "-keyform", "DER", "-inkey", "wrap.der", "-in", "key.der", "-out", "wrapped.bin"}, oaep...)...)
			} else {
				// The RSA_AES_KEY_WRAP construction by hand, as AWS's
				// documentation shows it for OpenSSL.
				aesHex := strings.TrimSpace(runTool(t, dir, "openssl", "rand", "-hex", "32"))
				if err := os.WriteFile(filepath.Join(dir, "aes.key"), mustHex(t, aesHex), 0o600); err != nil {
					t.Fatal(err)
				}
				runTool(t, dir, "openssl", "enc", "-id-aes256-wrap-pad", "-iv", "A65959A6", "-K", aesHex, "-in", "key.der", "-out", "kwp.bin")
				runTool(t, dir, "openssl", append([]string{"pkeyutl", "-encrypt", "-pubin", "-keyform", "DER", "-inkey", "wrap.der", "-in", "aes.key", "-out", "head.bin"}, oaep...)...)
				head, _ := os.ReadFile(filepath.Join(dir, "head.bin"))
				tail, _ := os.ReadFile(filepath.Join(dir, "kwp.bin"))
				os.WriteFile(filepath.Join(dir, "wrapped.bin"), append(head, tail...), 0o600)
			}
			imp := awsCLI(t, url, "import-key-material", "--key-id", keyID,
				"--encrypted-key-material", "fileb://"+filepath.Join(dir, "wrapped.bin"),
				"--import-token", "fileb://"+filepath.Join(dir, "token.bin"),
				"--expiration-model", "KEY_MATERIAL_DOES_NOT_EXPIRE")
			if imp["KeyId"] == nil {
				t.Errorf("import-key-material answered %v", imp)
			}
			if st := awsCLI(t, url, "describe-key", "--key-id", keyID)["KeyMetadata"].(map[string]any)["KeyState"]; st != "Enabled" {
				t.Fatalf("after import the key is %v; want Enabled", st)
			}
			msg := filepath.Join(dir, "msg.txt")
			os.WriteFile(msg, []byte("signed by the byok emulator, checked by OpenSSL"), 0o600)
			sig := awsCLI(t, url, "sign", "--key-id", keyID, "--message", "fileb://"+msg, "--message-type", "RAW", "--signing-algorithm", tc.signAlg)
			writeB64(t, filepath.Join(dir, "sig.bin"), sig["Signature"])
			out := runTool(t, dir, "openssl", append(append([]string{"dgst", "-sha256", "-verify", "pub.pem", "-signature", "sig.bin"}, tc.dgst...), "msg.txt")...)
			if !strings.Contains(out, "Verified OK") {
				t.Errorf("openssl dgst -verify: %s", out)
			}
			// And a tampered message does not verify: the check can fail.
			os.WriteFile(msg, []byte("something else"), 0o600)
			cmd := exec.Command("openssl", append(append([]string{"dgst", "-sha256", "-verify", "pub.pem", "-signature", "sig.bin"}, tc.dgst...), "msg.txt")...)
			cmd.Dir = dir
			if out, err := cmd.CombinedOutput(); err == nil || strings.Contains(string(out), "Verified OK") {
				t.Errorf("a tampered message verified: %s", out)
			}
			// GetPublicKey through the CLI equals OpenSSL's public key.
			pub := awsCLI(t, url, "get-public-key", "--key-id", keyID)
			writeB64(t, filepath.Join(dir, "kmspub.der"), pub["PublicKey"])
			runTool(t, dir, "openssl", "pkey", "-in", "key.pem", "-pubout", "-outform", "DER", "-out", "pub.der")
			a, _ := os.ReadFile(filepath.Join(dir, "kmspub.der"))
			b, _ := os.ReadFile(filepath.Join(dir, "pub.der"))
			if !bytes.Equal(a, b) {
				t.Error("GetPublicKey differs from the key OpenSSL generated")
			}
		})
	}
}

func mustHex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestEmulatorRefusesRemoteListen(t *testing.T) {
	code, _, errOut := runCLI(t, "emulator", "--listen", "0.0.0.0:0")
	if code != 2 || !strings.Contains(errOut, "not a loopback address") {
		t.Errorf("exit %d, %q; want a refusal naming loopback", code, errOut)
	}
}
