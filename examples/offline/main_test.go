package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/byok-go/byok/kmstest"
)

func setenv(t *testing.T, kv map[string]string) {
	for k, v := range kv {
		t.Setenv(k, v)
	}
}

// TestOffline runs the three steps against a kmstest emulator reached
// through the environment; the wrap step runs with no AWS configuration at
// all and an unreachable endpoint.
func TestOffline(t *testing.T) {
	srv := kmstest.NewServer(kmstest.WithWrappingKeyCache(true))
	defer srv.Close()
	none := filepath.Join(t.TempDir(), "none")
	online := map[string]string{
		"AWS_ENDPOINT_URL_KMS": srv.URL, "AWS_REGION": srv.Region, "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
		"AWS_SESSION_TOKEN": "", "AWS_PROFILE": "", "AWS_ENDPOINT_URL": "", "AWS_CONFIG_FILE": none,
		"AWS_SHARED_CREDENTIALS_FILE": none, "AWS_EC2_METADATA_DISABLED": "true",
	}
	ctx := context.Background()
	keys := filepath.Join("..", "..", "testdata", "keys")
	for _, tc := range []struct{ spec, key string }{
		{"RSA_3072", "rsa3072.pkcs1.pem"},
		{"HMAC_384", "hmac384.hex"},
	} {
		dir := filepath.Join(t.TempDir(), "params")
		var out bytes.Buffer
		setenv(t, online)
		if err := run(ctx, []string{"params", dir, tc.spec}, &out); err != nil {
			t.Fatal(err)
		}
		setenv(t, map[string]string{"AWS_ENDPOINT_URL_KMS": "http://127.0.0.1:1", "AWS_REGION": "", "AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": ""})
		if err := run(ctx, []string{"wrap", dir, filepath.Join(keys, tc.key)}, &out); err != nil {
			t.Fatal(err)
		}
		if err := run(ctx, []string{"wrap", dir, filepath.Join(keys, "p256.pkcs8.pem")}, &out); err == nil || !strings.Contains(err.Error(), "ECC_NIST_P256") && !strings.Contains(err.Error(), "HMAC_384") {
			t.Errorf("wrapping a key of another spec: %v", err)
		}
		setenv(t, online)
		if err := run(ctx, []string{"upload", dir, filepath.Join(keys, tc.key)}, &out); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(out.String(), "verified: ") {
			t.Errorf("%s: not verified:\n%s", tc.spec, out.String())
		}
	}
	for _, k := range srv.Emulator.Keys() {
		if k.KeyState != types.KeyStateEnabled {
			t.Errorf("%s is %s", *k.KeyId, k.KeyState)
		}
	}
}
