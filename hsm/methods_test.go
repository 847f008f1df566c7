package hsm

import (
	"crypto"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/byok-go/byok"
	"github.com/miekg/pkcs11"
)

// TestMethods is the decision table: which algorithms a module's
// capabilities give for which key, and how.
func TestMethods(t *testing.T) {
	sha1, sha256 := crypto.SHA1, crypto.SHA256
	softhsm := &Capabilities{OAEP: []crypto.Hash{sha1}, AESKeyWrap: pkcs11.CKM_AES_KEY_WRAP_PAD, AESKeyWrapZeroFills: true}
	softhsmECOK := &Capabilities{OAEP: []crypto.Hash{sha1}, AESKeyWrap: pkcs11.CKM_AES_KEY_WRAP_PAD, AESKeyWrapZeroFills: true, ECPKCS8PublicKey: true}
	full := &Capabilities{OAEP: []crypto.Hash{sha256, sha1}, RSAAESKeyWrap: []crypto.Hash{sha256, sha1}, AESKeyWrap: CKM_AES_KEY_WRAP_KWP,
		PrivateKeyOAEP: true, ECPKCS8PublicKey: true}
	mixed := &Capabilities{OAEP: []crypto.Hash{sha256}, RSAAESKeyWrapZeroFill: []crypto.Hash{sha256}, AESKeyWrap: CKM_AES_KEY_WRAP_KWP, ECPKCS8PublicKey: true}
	ock := &Capabilities{OAEP: []crypto.Hash{sha256, sha1}}
	aes := &Key{Spec: byok.SymmetricDefault}
	rsa := &Key{Spec: byok.RSA2048}
	ec := &Key{Spec: byok.ECCNISTP256}
	for _, c := range []struct {
		name string
		caps *Capabilities
		key  *Key
		len  int
		want map[byok.WrappingAlgorithm]method
		why  string
	}{
		{"softhsm aes", softhsm, aes, 0, map[byok.WrappingAlgorithm]method{byok.RSAESOAEPSHA1: {alg: byok.RSAESOAEPSHA1, path: pathOAEP}}, ""},
		{"softhsm rsa, length unknown", softhsm, rsa, 0, nil, "give it as the material length"},
		{"softhsm rsa, length 1216", softhsm, rsa, 1216, map[byok.WrappingAlgorithm]method{
			byok.RSAAESKeyWrapSHA1: {alg: byok.RSAAESKeyWrapSHA1, path: pathTwoStep, kwp: pkcs11.CKM_AES_KEY_WRAP_PAD, zeroFill: true}}, ""},
		{"softhsm rsa, length 1217", softhsm, rsa, 1217, nil, "7 trailing zero bytes"},
		{"softhsm ec", softhsm, ec, 0, nil, "has no public key"},
		{"zero-filling module, ec with public key", softhsmECOK, ec, 0, nil, "138 bytes, not a multiple of 8"},
		{"full rsa: native first", full, rsa, 0, map[byok.WrappingAlgorithm]method{
			byok.RSAAESKeyWrapSHA256: {alg: byok.RSAAESKeyWrapSHA256, path: pathRSAAES},
			byok.RSAAESKeyWrapSHA1:   {alg: byok.RSAAESKeyWrapSHA1, path: pathRSAAES}}, ""},
		{"full ec", full, ec, 0, map[byok.WrappingAlgorithm]method{
			byok.RSAESOAEPSHA256:     {alg: byok.RSAESOAEPSHA256, path: pathOAEP},
			byok.RSAESOAEPSHA1:       {alg: byok.RSAESOAEPSHA1, path: pathOAEP},
			byok.RSAAESKeyWrapSHA256: {alg: byok.RSAAESKeyWrapSHA256, path: pathRSAAES},
			byok.RSAAESKeyWrapSHA1:   {alg: byok.RSAAESKeyWrapSHA1, path: pathRSAAES}}, ""},
		{"exact two-step beats zero-filling native", mixed, rsa, 0, map[byok.WrappingAlgorithm]method{
			byok.RSAAESKeyWrapSHA256: {alg: byok.RSAAESKeyWrapSHA256, path: pathTwoStep, kwp: CKM_AES_KEY_WRAP_KWP}}, ""},
		{"opencryptoki rsa", ock, rsa, 0, nil, "no AES key wrap with padding"},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, why := methods(c.caps, c.key, c.len)
			for alg := range got {
				if !slices.Contains(byok.AllowedAlgorithms(c.key.Spec), alg) {
					delete(got, alg)
				}
			}
			if len(got) != len(c.want) {
				t.Fatalf("got %v; want %v (why: %v)", got, c.want, why)
			}
			for alg, m := range c.want {
				if got[alg] != m {
					t.Errorf("%s: got %+v; want %+v", alg, got[alg], m)
				}
			}
			if c.why != "" && !strings.Contains(strings.Join(why, "; "), c.why) {
				t.Errorf("reasons %q do not say %q", why, c.why)
			}
		})
	}
}

func TestRVError(t *testing.T) {
	err := rvError("op", pkcs11.Error(pkcs11.CKR_ARGUMENTS_BAD), false)
	var e *Error
	if !errors.As(err, &e) || e.Kind != nil {
		t.Errorf("CKR_ARGUMENTS_BAD outside a wrap: %v", err)
	}
	if err := rvError("op", nil, true); err != nil {
		t.Errorf("nil error mapped to %v", err)
	}
	if err := rvError("op", errors.New("plain"), true); !strings.Contains(err.Error(), "hsm: op: plain") {
		t.Errorf("%v", err)
	}
}

func TestDecodeECPoint(t *testing.T) {
	raw := append([]byte{4}, make([]byte, 64)...)
	der := append([]byte{4, 65}, raw...)
	for _, v := range [][]byte{raw, der} {
		if got, err := decodeECPoint(v, 32); err != nil || len(got) != 65 {
			t.Errorf("decodeECPoint(%x…): %v", v[:3], err)
		}
	}
	if _, err := decodeECPoint([]byte{4, 1, 2}, 32); err == nil {
		t.Error("a short point decoded")
	}
}
