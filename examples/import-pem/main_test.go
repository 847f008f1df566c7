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

// emulate points the AWS SDK's default configuration at a kmstest emulator,
// through the environment, as a user of the program would.
func emulate(t *testing.T) *kmstest.Server {
	srv := kmstest.NewServer(kmstest.WithWrappingKeyCache(true))
	t.Cleanup(srv.Close)
	none := filepath.Join(t.TempDir(), "none")
	for k, v := range map[string]string{
		"AWS_ENDPOINT_URL_KMS": srv.URL, "AWS_REGION": srv.Region,
		"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_SESSION_TOKEN": "", "AWS_PROFILE": "",
		"AWS_CONFIG_FILE": none, "AWS_SHARED_CREDENTIALS_FILE": none, "AWS_ENDPOINT_URL": "", "AWS_EC2_METADATA_DISABLED": "true",
	} {
		t.Setenv(k, v)
	}
	return srv
}

func TestImportPEM(t *testing.T) {
	srv := emulate(t)
	var out bytes.Buffer
	key := filepath.Join("..", "..", "testdata", "keys", "p384.pkcs8.pem")
	if err := run(context.Background(), []string{key, "example-p384"}, &out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"(ECC_NIST_P384) into arn:aws:kms:", "RSAES_OAEP_SHA_256", "verified: GetPublicKey equals the source public key"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	keys := srv.Emulator.Keys()
	if len(keys) != 1 || keys[0].KeyState != types.KeyStateEnabled || keys[0].Origin != types.OriginTypeExternal {
		t.Errorf("emulator keys: %+v", keys)
	}
	if err := run(context.Background(), nil, &out); err == nil {
		t.Error("no arguments: no usage error")
	}
}
