package main

import (
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/byok-go/byok/gcpkms/gcpkmstest"
)

// TestJSONContractGCP validates byok import --to gcp --json, succeeding
// and failing, against docs/schemas/import-gcp.schema.json, with the real
// Cloud KMS client and gcpkmstest (a fake of the published API). The Cloud
// KMS key is named by key_name on failure as on success, never by
// error.key_arn (the schema refuses it).
func TestJSONContractGCP(t *testing.T) {
	s := schemas(t)
	srv, err := gcpkmstest.New()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	ring := "projects/byok-json/locations/global/keyRings/r"
	gcp := func(key string, extra ...string) []string {
		return append([]string{"import", "--to", "gcp", "--json", "--gcp-key-ring", ring, "--gcp-key", key, "--gcp-endpoint", srv.Addr()}, extra...)
	}
	p256, p384 := keyFile("p256.pkcs8.pem"), keyFile("p384.pkcs8.pem")
	name := ring + "/cryptoKeys/sig"

	ok := runJSONCase(t, s, jsonCase{schema: "import-gcp", args: gcp("sig", p256)})
	if ok["key_name"] != name || ok["version_name"] == nil {
		t.Errorf("success: key_name %v, version_name %v", ok["key_name"], ok["version_name"])
	}
	runJSONCase(t, s, jsonCase{schema: "import-gcp", args: gcp("planned", p256, "--dry-run")})

	for _, c := range []jsonCase{
		// The existing key is P-256: a P-384 key is refused after the key
		// was looked at.
		{schema: "import-gcp", args: gcp("sig", p384), code: 1, kind: kindInput},
		// Cloud KMS's rules, before any call.
		{schema: "import-gcp", args: gcp("sig", p256, "--gcp-algorithm", "EC_SIGN_P384_SHA384"), code: 1, kind: kindInput},
	} {
		doc := runJSONCase(t, s, c)
		if doc["key_name"] != name {
			t.Errorf("%v: key_name %v, want %s (as on success)", c.args, doc["key_name"], name)
		}
	}
	// A version imported but not proven (AsymmetricSign refused, with and
	// without --json): GetPublicKey alone proves nothing, UNPROVEN.
	for range 2 {
		srv.InjectFault("AsymmetricSign", status.Error(codes.PermissionDenied, "Permission 'cloudkms.cryptoKeyVersions.useToSign' denied"))
	}
	doc := runJSONCase(t, s, jsonCase{schema: "import-gcp", args: gcp("sig", p256), code: 4, kind: kindUnproven})
	if doc["key_name"] != name || doc["version_name"] == nil || doc["verification"] == nil {
		t.Errorf("unproven: key_name %v, version_name %v, verification %v", doc["key_name"], doc["version_name"], doc["verification"])
	}
	// Usage errors: the flags do not name a key (no key_name).
	runJSONCase(t, s, jsonCase{schema: "import-gcp", args: []string{"import", "--to", "gcp", "--json", "--gcp-key-ring", "projects/p/keyRings/r", "--gcp-key", "k", p256},
		code: 2, kind: kindUsage})
	runJSONCase(t, s, jsonCase{schema: "import-gcp", args: []string{"import", "--to", "gcp", "--json", "--no-such-flag", p256}, code: 2, kind: kindUsage})
}
