package azkvtest

// Review finding (issue 15, Azure side): fails on the code it was written
// against, passes once fixed.

import (
	"crypto/elliptic"
	"net/http"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azkeys"
)

// The fake is meant to be strict, but encoding/json matches member names
// without regard to case and keeps the last of a repeated member: a blob
// with "ciphertext" twice, or with members in capitals the specification
// does not name, is imported.
func TestReviewBlobMembersExactly(t *testing.T) {
	_, c := newVault(t)
	kid, kek := createKEK(t, c, "kek", 2048)
	ct := wrapGo(t, kek, ecPKCS8(t, elliptic.P256()))
	good := string(blob(kid, blobEnc, ct))
	cases := map[string]string{
		"ciphertext twice":   strings.Replace(good, `"ciphertext":`, `"ciphertext":"AAAA","ciphertext":`, 1),
		"Ciphertext by case": strings.Replace(good, `"ciphertext":`, `"CIPHERTEXT":`, 1),
		"Header by case":     strings.Replace(good, `"header":`, `"Header":`, 1),
	}
	if good == cases["ciphertext twice"] || good == cases["Header by case"] {
		t.Fatalf("the test's edits did not apply: %s", good)
	}
	i := 0
	for name, b := range cases {
		i++
		t.Run(name, func(t *testing.T) {
			_, err := importBYOK(c, "t"+strings.Repeat("x", i), azkeys.KeyTypeECHSM, azkeys.CurveNameP256, []byte(b))
			wantCode(t, err, http.StatusBadRequest, codeBadParameter)
		})
	}
}
