package main

import (
	"context"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azkeys"
	"github.com/byok-go/byok/azkv/azkvtest"
)

// TestJSONContractAzure validates byok import --to azure --json and byok
// wrap --for azure --json, succeeding and failing, against
// docs/schemas/import-azure.schema.json and wrap-azure.schema.json, with
// the real azkeys client and azkvtest (a fake of the published API). The
// key is named by key_id, never by error.key_arn (the schema refuses it).
func TestJSONContractAzure(t *testing.T) {
	s := schemas(t)
	srv, env, _ := azureEnv(t)
	for _, kv := range env {
		if k, v, ok := strings.Cut(kv, "="); ok && strings.HasPrefix(k, "BYOK_AZURE_") {
			t.Setenv(k, v)
		}
	}
	az := func(key string, extra ...string) []string {
		return append([]string{"import", "--to", "azure", "--json", "--azure-vault", srv.URL(), "--azure-key", key, "--azure-kek", "kek"}, extra...)
	}
	p256 := keyFile("p256.pkcs8.pem")

	ok := runJSONCase(t, s, jsonCase{schema: "import-azure", args: az("sig", p256)})
	id, _ := ok["key_id"].(string)
	if !strings.HasPrefix(id, srv.URL()+"/keys/sig/") || ok["kek_created"] != true {
		t.Errorf("success: key_id %v, kek_created %v", ok["key_id"], ok["kek_created"])
	}
	runJSONCase(t, s, jsonCase{schema: "import-azure", args: az("planned", p256, "--dry-run")})
	// The key exists: refused (a second import would add a version).
	runJSONCase(t, s, jsonCase{schema: "import-azure", args: az("sig", p256), code: 1, kind: kindFailed})
	// Azure's rules: AES only into a Managed HSM, before any request.
	runJSONCase(t, s, jsonCase{schema: "import-azure", args: az("aes", keyFile("aes256.bin"), "--key-spec", "SYMMETRIC_DEFAULT"), code: 1, kind: kindInput})
	runJSONCase(t, s, jsonCase{schema: "import-azure", args: az("bad_name", p256), code: 2, kind: kindUsage})

	// The .byok file under the KEK the first import made.
	kid, kekPEM := fakeKEK(t, srv, "kek")
	out := filepath.Join(t.TempDir(), "k.byok")
	w := runJSONCase(t, s, jsonCase{schema: "wrap-azure", args: []string{"wrap", "--for", "azure", "--json", "--kek-id", kid, "--kek-public", kekPEM, "--out", out, p256}})
	if w["file"] != out || !strings.Contains(w["import_command"].(string), "az keyvault key import") {
		t.Errorf("wrap: file %v, import_command %v", w["file"], w["import_command"])
	}
	runJSONCase(t, s, jsonCase{schema: "wrap-azure", args: []string{"wrap", "--for", "azure", "--json", "--kek-id", kid, "--kek-public", kekPEM, "--out", out, p256}, code: 2, kind: kindUsage})
}

// fakeKEK returns the versioned kid of the key exchange key name in the
// fake Key Vault, and a file holding its public key, as
// az keyvault key download writes it.
func fakeKEK(t *testing.T, srv *azkvtest.Server, name string) (kid, pemFile string) {
	t.Helper()
	c, err := azkeys.NewClient(srv.URL(), srv.Credential(), srv.ClientOptions())
	if err != nil {
		t.Fatal(err)
	}
	kek, err := c.GetKey(context.Background(), name, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	pub := &rsa.PublicKey{N: new(big.Int).SetBytes(kek.Key.N), E: int(new(big.Int).SetBytes(kek.Key.E).Int64())}
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	pemFile = filepath.Join(t.TempDir(), name+".pem")
	if err := os.WriteFile(pemFile, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return string(*kek.Key.KID), pemFile
}
