package hsmtest

import (
	"bytes"
	"context"
	"crypto"
	"fmt"
	"testing"

	"github.com/byok-go/byok"
	"github.com/byok-go/byok/hsm"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/miekg/pkcs11"
)

// CheckWraps wraps the source's key with every algorithm the source lists,
// under WrappingKey, unwraps each blob with byok.UnwrapKeyMaterial and
// checks it is exactly k's KMS material. It returns the algorithms.
func CheckWraps(t testing.TB, src *hsm.Source, k Key) []byok.WrappingAlgorithm {
	t.Helper()
	ctx := context.Background()
	algs, err := src.WrappingAlgorithms(ctx)
	if err != nil {
		t.Fatalf("%s: WrappingAlgorithms: %v", k.Name, err)
	}
	want, err := k.Material()
	if err != nil {
		t.Fatal(err)
	}
	for _, alg := range algs {
		blob, err := src.Wrap(ctx, ImportParameters(alg))
		if err != nil {
			t.Fatalf("%s: Wrap %s: %v", k.Name, alg, err)
		}
		got, err := byok.UnwrapKeyMaterial(WrappingKey(), alg, blob)
		if err != nil {
			t.Fatalf("%s: %s blob does not unwrap: %v", k.Name, alg, err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("%s: %s unwrapped to %d bytes; want the key's %d bytes of material", k.Name, alg, len(got), len(want))
		}
	}
	return algs
}

// CheckVerified fails the test unless the import was proved: verified,
// with at least the checks the key type allows (1 for symmetric and HMAC
// keys, 3 for EC, 4 for RSA), all passed.
func CheckVerified(t testing.TB, res *byok.Result) {
	t.Helper()
	v := res.Verification
	if v == nil || !v.Verified {
		t.Fatalf("not verified: %+v", v)
	}
	min := map[byok.MaterialKind]int{byok.KindSymmetric: 1, byok.KindHMAC: 1, byok.KindRSA: 4, byok.KindEC: 3}[res.KeySpec.Kind()]
	if len(v.Checks) < min {
		t.Errorf("%d checks; want at least %d: %+v", len(v.Checks), min, v.Checks)
	}
	for _, c := range v.Checks {
		if !c.OK {
			t.Errorf("check %q failed: %s", c.Name, c.Detail)
		}
	}
}

// CapabilitiesDiff compares the capabilities a probe found with the ones
// expected (typically a driver's Profile.Documented) and returns the
// differences, -want +got, or "" when they agree. What only describes the
// probe (Findings, Probed, ECProbed) is left out, the order of hash lists
// does not count, and a nil list equals an empty one.
func CapabilitiesDiff(want, got hsm.Capabilities) string {
	return cmp.Diff(want, got,
		cmpopts.IgnoreFields(hsm.Capabilities{}, "Findings", "Probed", "ECProbed"),
		cmpopts.SortSlices(func(a, b crypto.Hash) bool { return a < b }),
		cmpopts.EquateEmpty())
}

// attrNames names the attributes byok's templates set, for readable diffs.
var attrNames = map[uint]string{
	pkcs11.CKA_CLASS: "CKA_CLASS", pkcs11.CKA_KEY_TYPE: "CKA_KEY_TYPE", pkcs11.CKA_TOKEN: "CKA_TOKEN",
	pkcs11.CKA_PRIVATE: "CKA_PRIVATE", pkcs11.CKA_LABEL: "CKA_LABEL", pkcs11.CKA_ID: "CKA_ID",
	pkcs11.CKA_WRAP: "CKA_WRAP", pkcs11.CKA_UNWRAP: "CKA_UNWRAP", pkcs11.CKA_ENCRYPT: "CKA_ENCRYPT",
	pkcs11.CKA_DECRYPT: "CKA_DECRYPT", pkcs11.CKA_SIGN: "CKA_SIGN", pkcs11.CKA_VERIFY: "CKA_VERIFY",
	pkcs11.CKA_EXTRACTABLE: "CKA_EXTRACTABLE", pkcs11.CKA_SENSITIVE: "CKA_SENSITIVE",
	pkcs11.CKA_VALUE_LEN: "CKA_VALUE_LEN", pkcs11.CKA_MODULUS: "CKA_MODULUS",
	pkcs11.CKA_PUBLIC_EXPONENT: "CKA_PUBLIC_EXPONENT",
}

// TemplateDiff compares the attributes in want with the same attributes
// of a recorded template (Call.Template) and returns the differences by
// attribute name, -want +got, or "" when they agree. Attributes want does
// not name are not compared; one want names that the template lacks is a
// difference. Build want with pkcs11.NewAttribute, so that booleans and
// CK_ULONGs are encoded as the module sees them.
func TemplateDiff(want []*pkcs11.Attribute, got map[uint][]byte) string {
	name := func(t uint) string {
		if n, ok := attrNames[t]; ok {
			return n
		}
		return fmt.Sprintf("attribute %#x", t)
	}
	w, g := map[string][]byte{}, map[string][]byte{}
	for _, a := range want {
		w[name(a.Type)] = a.Value
		if v, ok := got[a.Type]; ok {
			g[name(a.Type)] = v
		}
	}
	return cmp.Diff(w, g)
}

// OAEPDiff compares OAEP parameters a module received with want, returning
// the differences (-want +got) or "". No source data equals empty source
// data.
func OAEPDiff(want, got *pkcs11.OAEPParams) string { return cmp.Diff(want, got, cmpopts.EquateEmpty()) }
