package hsm_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/byok-go/byok"
	"github.com/byok-go/byok/hsm"
	"github.com/byok-go/byok/hsm/hsmtest"
	"github.com/byok-go/byok/kmstest"
	"github.com/miekg/pkcs11"
)

// wrappingKey is the test's own KMS-style wrapping key pair: what a source
// wraps under it, the test unwraps with byok.UnwrapKeyMaterial and compares
// byte for byte.
var wrappingKey = hsmtest.WrappingKey

func params(alg byok.WrappingAlgorithm) byok.ImportParameters { return hsmtest.ImportParameters(alg) }

// loadRSA returns one of hsmtest's RSA test keys.
func loadRSA(t testing.TB, name string) *rsa.PrivateKey {
	t.Helper()
	k, err := hsmtest.RSAKey(name)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// testKey is a key of known value to put in a token.
type testKey struct {
	name string
	spec byok.KeySpec
	// secret keys
	keyType uint
	value   []byte
	// private keys
	priv any
	// materialLen is given to the source (RSA keys on zero-filling modules).
	materialLen int
}

// material returns the KMS key material of k: what KMS must receive.
func (k testKey) material(t testing.TB) []byte {
	t.Helper()
	if k.value != nil {
		return k.value
	}
	m, err := byok.NewKeyMaterial(k.priv)
	if err != nil {
		t.Fatal(err)
	}
	return m.Bytes()
}

func (k testKey) create(t testing.TB, api hsm.PKCS11, sh pkcs11.SessionHandle, o hsmtest.KeyOptions) {
	t.Helper()
	var err error
	if k.value != nil {
		_, err = hsmtest.ImportSecret(api, sh, k.keyType, k.value, o)
	} else {
		_, err = hsmtest.ImportPrivate(api, sh, k.priv, o)
	}
	if err != nil {
		t.Fatalf("creating %s: %v", k.name, err)
	}
}

func random(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// allKeys returns hsmtest.Keys: a key of every importable type, of known
// value.
func allKeys(t testing.TB) []testKey {
	t.Helper()
	ks, err := hsmtest.Keys()
	if err != nil {
		t.Fatal(err)
	}
	var out []testKey
	for _, k := range ks {
		out = append(out, testKey{name: k.Name, spec: k.Spec, keyType: k.KeyType, value: k.Value, priv: k.Priv, materialLen: k.MaterialLen})
	}
	return out
}

// newKMS starts a verifying KMS emulator for the test.
func newKMS(t testing.TB) *byok.KMS {
	t.Helper()
	srv := kmstest.NewServer(kmstest.WithWrappingKeyCache(true))
	t.Cleanup(srv.Close)
	return &byok.KMS{Client: kms.NewFromConfig(srv.AWSConfig())}
}

// checkWrapsExactly wraps with every algorithm the source lists and checks
// that each blob unwraps to exactly the key's material.
func checkWrapsExactly(t *testing.T, src *hsm.Source, want []byte) []byok.WrappingAlgorithm {
	t.Helper()
	ctx := context.Background()
	algs, err := src.WrappingAlgorithms(ctx)
	if err != nil {
		t.Fatalf("WrappingAlgorithms: %v", err)
	}
	for _, alg := range algs {
		blob, err := src.Wrap(ctx, params(alg))
		if err != nil {
			t.Fatalf("Wrap %s: %v", alg, err)
		}
		got, err := byok.UnwrapKeyMaterial(wrappingKey(), alg, blob)
		if err != nil {
			t.Fatalf("%s: the blob does not unwrap: %v", alg, err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("%s: unwrapped %d bytes, want the key's %d bytes of material", alg, len(got), len(want))
		}
	}
	return algs
}

// checkVerified checks that an import was proved with the checks its key
// type allows.
func checkVerified(t *testing.T, res *byok.Result) {
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
