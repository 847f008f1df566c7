package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/byok-go/byok"
	"github.com/byok-go/byok/driver/software"
	"github.com/byok-go/byok/internal/testenv"
)

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

func TestEmulatorRefusesRemoteListen(t *testing.T) {
	code, _, errOut := runCLI(t, "emulator", "--listen", "0.0.0.0:0")
	if code != 2 || !strings.Contains(errOut, "not a loopback address") {
		t.Errorf("exit %d, %q; want a refusal naming loopback", code, errOut)
	}
}
