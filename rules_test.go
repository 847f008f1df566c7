package byok_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/byok-go/byok"
)

// The names below are spelled out as AWS spells them, not taken from the
// package's constants, so that a typo in a constant shows up here.
var (
	ruleSymmetricSpecs = []byok.KeySpec{"SYMMETRIC_DEFAULT"}
	ruleHMACSpecs      = []byok.KeySpec{"HMAC_224", "HMAC_256", "HMAC_384", "HMAC_512"}
	ruleRSASpecs       = []byok.KeySpec{"RSA_2048", "RSA_3072", "RSA_4096"}
	ruleECSpecs        = []byok.KeySpec{"ECC_NIST_P256", "ECC_NIST_P384", "ECC_NIST_P521", "ECC_SECG_P256K1"}
	ruleAlgorithms     = []byok.WrappingAlgorithm{"RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256", "RSA_AES_KEY_WRAP_SHA_1", "RSA_AES_KEY_WRAP_SHA_256"}
	ruleWrappingSpecs  = []byok.WrappingKeySpec{"RSA_2048", "RSA_3072", "RSA_4096"}
	ruleNotImportable  = []byok.KeySpec{"SM2", "ECC_NIST_EDWARDS25519", "ML_DSA_44", "ML_DSA_65", "ML_DSA_87", "ML_KEM_512", "ML_KEM_768", "ML_KEM_1024"}
)

func ruleImportable() []byok.KeySpec {
	return slices.Concat(ruleSymmetricSpecs, ruleHMACSpecs, ruleRSASpecs, ruleECSpecs)
}

// ruleExpect is AWS's documented compatibility table, written independently
// of rules.go (AWS KMS Developer Guide, "Select a wrapping algorithm" and
// "Supported wrapping key specs"):
//
//   - SYMMETRIC_DEFAULT and HMAC: RSAES_OAEP_SHA_1 or RSAES_OAEP_SHA_256 only;
//   - RSA private keys: RSA_AES_KEY_WRAP_SHA_1 or RSA_AES_KEY_WRAP_SHA_256 only;
//   - EC private keys: any of the four, except that ECC_NIST_P521 cannot be
//     wrapped with RSAES_OAEP_SHA_1 or RSAES_OAEP_SHA_256 under RSA_2048.
//
// It returns the empty Rule when the combination is allowed.
func ruleExpect(spec byok.KeySpec, alg byok.WrappingAlgorithm, w byok.WrappingKeySpec) byok.Rule {
	oaep := alg == "RSAES_OAEP_SHA_1" || alg == "RSAES_OAEP_SHA_256"
	switch {
	case slices.Contains(ruleSymmetricSpecs, spec), slices.Contains(ruleHMACSpecs, spec):
		if !oaep {
			return byok.RuleOAEPOnly
		}
	case slices.Contains(ruleRSASpecs, spec):
		if oaep {
			return byok.RuleKeyWrapOnly
		}
	case slices.Contains(ruleECSpecs, spec):
		if spec == "ECC_NIST_P521" && w == "RSA_2048" && oaep {
			return byok.RuleNoP521OAEP2048
		}
	default:
		panic("not importable: " + spec)
	}
	return ""
}

func TestRulesLists(t *testing.T) {
	if got := byok.KeySpecs(); !slices.Equal(got, ruleImportable()) {
		t.Errorf("KeySpecs() = %v, want %v", got, ruleImportable())
	}
	got := byok.WrappingAlgorithms()
	if len(got) != 4 || !slices.Equal(slices.Sorted(slices.Values(got)), slices.Sorted(slices.Values(ruleAlgorithms))) {
		t.Errorf("WrappingAlgorithms() = %v, want the four of %v", got, ruleAlgorithms)
	}
	if got[0] != "RSAES_OAEP_SHA_256" {
		t.Errorf("WrappingAlgorithms()[0] = %s, want RSAES_OAEP_SHA_256 (best first)", got[0])
	}
	if got := byok.WrappingKeySpecs(); !slices.Equal(got, []byok.WrappingKeySpec{"RSA_4096", "RSA_3072", "RSA_2048"}) {
		t.Errorf("WrappingKeySpecs() = %v", got)
	}
}

// TestRulesCompatibleTable checks CheckCompatible for every importable key
// spec, wrapping algorithm and wrapping key spec against ruleExpect, and
// that every allowed combination really wraps the largest material of the
// spec.
func TestRulesCompatibleTable(t *testing.T) {
	allowed, refused := 0, 0
	for _, spec := range ruleImportable() {
		for _, alg := range ruleAlgorithms {
			for _, w := range ruleWrappingSpecs {
				want := ruleExpect(spec, alg, w)
				err := byok.CheckCompatible(spec, alg, w)
				if want == "" {
					allowed++
					if err != nil {
						t.Errorf("CheckCompatible(%s, %s, %s) = %v; want nil", spec, alg, w, err)
						continue
					}
					// The largest material of the spec fits.
					if !wrapIsKeyWrap(alg) && spec.MaterialLen() > oaepLimit(w.Bits(), wrapAlgHash(alg)) {
						t.Errorf("%s/%s/%s allowed, but %d bytes exceed the OAEP limit %d", spec, alg, w, spec.MaterialLen(), oaepLimit(w.Bits(), wrapAlgHash(alg)))
					}
					if l := wrappedLen(alg, w.Bits(), spec.MaterialLen()); l > 6144 {
						t.Errorf("%s/%s/%s allowed, but the blob would be %d bytes", spec, alg, w, l)
					}
					continue
				}
				refused++
				var ce *byok.CompatibilityError
				if !errors.As(err, &ce) || !errors.Is(err, byok.ErrIncompatible) {
					t.Errorf("CheckCompatible(%s, %s, %s) = %v; want a *CompatibilityError matching ErrIncompatible (%s)", spec, alg, w, err, want)
					continue
				}
				if ce.Rule != want || ce.KeySpec != spec || ce.Algorithm != alg || ce.Fix == "" {
					t.Errorf("CheckCompatible(%s, %s, %s) = %+v; want rule %q, the spec and algorithm, and a fix", spec, alg, w, *ce, want)
				}
				if want == byok.RuleNoP521OAEP2048 && ce.WrappingKeySpec != "RSA_2048" {
					t.Errorf("P-521 refusal names wrapping key spec %q, want RSA_2048", ce.WrappingKeySpec)
				}
				msg := err.Error()
				if !strings.Contains(msg, string(spec)) || !strings.Contains(msg, string(alg)) || !strings.Contains(msg, want.Error()) {
					t.Errorf("error %q does not name the spec, the algorithm and the rule in words", msg)
				}
				if !errors.Is(err, want) {
					t.Errorf("errors.Is(%v, %s) = false; want true", err, string(want))
				}
			}
		}
	}
	// 5 symmetric/HMAC × 2 × 3 + 3 RSA × 2 × 3 + 4 EC × 4 × 3 − 2 = 94 allowed.
	if allowed != 94 || refused != 12*4*3-94 {
		t.Errorf("%d allowed, %d refused; want 94 and 50", allowed, refused)
	}
	t.Logf("%d combinations: %d allowed, %d refused", allowed+refused, allowed, refused)
}

// TestRulesP521WrapRefused ties the P-521 rule to WrapKeyMaterial: 241 bytes
// do not fit RSA-OAEP under RSA_2048, and do under RSA_3072.
func TestRulesP521WrapRefused(t *testing.T) {
	m := randBytes(t, byok.ECCNISTP521.MaterialLen())
	for _, alg := range []byok.WrappingAlgorithm{"RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256"} {
		if _, err := byok.WrapKeyMaterial(&wrapKey(t, 2048).PublicKey, alg, m); !errors.Is(err, byok.ErrIncompatible) {
			t.Errorf("%s, RSA_2048, 241 bytes: WrapKeyMaterial error %v; want ErrIncompatible", alg, err)
		}
		if _, err := byok.WrapKeyMaterial(&wrapKey(t, 3072).PublicKey, alg, m); err != nil {
			t.Errorf("%s, RSA_3072, 241 bytes: %v", alg, err)
		}
	}
}

func TestRulesCompatibleRefusals(t *testing.T) {
	for _, spec := range ruleNotImportable {
		if err := byok.CheckCompatible(spec, "RSAES_OAEP_SHA_256", "RSA_4096"); !errors.Is(err, byok.ErrNotImportable) || errors.Is(err, byok.ErrUnknownKeySpec) {
			t.Errorf("CheckCompatible(%s) = %v; want ErrNotImportable", spec, err)
		}
		if err := spec.Validate(); !errors.Is(err, byok.ErrNotImportable) {
			t.Errorf("%s.Validate() = %v; want ErrNotImportable", spec, err)
		}
		if got := byok.AllowedAlgorithms(spec); got != nil {
			t.Errorf("AllowedAlgorithms(%s) = %v; want nil", spec, got)
		}
		if spec.MaterialLen() != 0 || spec.Kind() != 0 {
			t.Errorf("%s: MaterialLen %d, Kind %v; want 0", spec, spec.MaterialLen(), spec.Kind())
		}
	}
	for _, spec := range []byok.KeySpec{"", "AES_256", "rsa_2048", "HMAC_1024", "ECC_NIST_P256 ", "RSA_1024", "ECC_SECG_P256K1\x00"} {
		if err := byok.CheckCompatible(spec, "RSAES_OAEP_SHA_256", "RSA_4096"); !errors.Is(err, byok.ErrUnknownKeySpec) || errors.Is(err, byok.ErrNotImportable) {
			t.Errorf("CheckCompatible(%q) = %v; want ErrUnknownKeySpec", spec, err)
		}
	}
	for _, spec := range ruleImportable() {
		for _, w := range ruleWrappingSpecs {
			for _, alg := range []byok.WrappingAlgorithm{"RSAES_PKCS1_V1_5", "SM2PKE"} {
				if err := byok.CheckCompatible(spec, alg, w); !errors.Is(err, byok.ErrDeprecatedAlgorithm) {
					t.Errorf("CheckCompatible(%s, %s, %s) = %v; want ErrDeprecatedAlgorithm", spec, alg, w, err)
				}
			}
			for _, alg := range []byok.WrappingAlgorithm{"", "RSAES_OAEP_SHA_512", "rsaes_oaep_sha_256", "RSA_AES_KEY_WRAP_SHA_384", "AES_KEY_WRAP"} {
				if err := byok.CheckCompatible(spec, alg, w); !errors.Is(err, byok.ErrUnknownAlgorithm) {
					t.Errorf("CheckCompatible(%s, %q, %s) = %v; want ErrUnknownAlgorithm", spec, alg, w, err)
				}
			}
		}
		// Unknown wrapping key specs, and SM2 (China Regions only).
		for _, w := range []byok.WrappingKeySpec{"", "RSA_1024", "RSA_8192", "rsa_4096"} {
			if err := byok.CheckCompatible(spec, "RSA_AES_KEY_WRAP_SHA_256", w); !errors.Is(err, byok.ErrUnknownAlgorithm) {
				t.Errorf("CheckCompatible(%s, RSA_AES_KEY_WRAP_SHA_256, %q) = %v; want ErrUnknownAlgorithm", spec, w, err)
			}
		}
		if err := byok.CheckCompatible(spec, "RSA_AES_KEY_WRAP_SHA_256", "SM2"); !errors.Is(err, byok.ErrDeprecatedAlgorithm) {
			t.Errorf("CheckCompatible(%s, …, SM2) = %v; want ErrDeprecatedAlgorithm", spec, err)
		}
	}
}

// TestRulesAllowedAlgorithms checks AllowedAlgorithms against ruleExpect:
// an algorithm is listed iff some wrapping key spec allows it, SHA-256 forms
// before SHA-1 forms.
func TestRulesAllowedAlgorithms(t *testing.T) {
	for _, spec := range ruleImportable() {
		got := byok.AllowedAlgorithms(spec)
		var want []byok.WrappingAlgorithm
		for _, alg := range ruleAlgorithms {
			for _, w := range ruleWrappingSpecs {
				if ruleExpect(spec, alg, w) == "" {
					want = append(want, alg)
					break
				}
			}
		}
		if !slices.Equal(slices.Sorted(slices.Values(got)), slices.Sorted(slices.Values(want))) {
			t.Errorf("AllowedAlgorithms(%s) = %v; want %v in some order", spec, got, want)
		}
		seenSHA1 := false
		for _, alg := range got {
			if wrapAlgHash(alg).Size() == 20 {
				seenSHA1 = true
			} else if seenSHA1 {
				t.Errorf("AllowedAlgorithms(%s) = %v: a SHA-256 form after a SHA-1 form", spec, got)
			}
		}
		if len(got) > 0 {
			got[0] = "clobbered"
			if byok.AllowedAlgorithms(spec)[0] == "clobbered" {
				t.Errorf("AllowedAlgorithms(%s) returns the package's own slice", spec)
			}
		}
	}
}

func TestChooseWrapping(t *testing.T) {
	sha1Only := []byok.WrappingAlgorithm{"RSAES_OAEP_SHA_1", "RSA_AES_KEY_WRAP_SHA_1"}
	type want struct {
		alg      byok.WrappingAlgorithm
		fallback bool
		err      error
	}
	for _, spec := range ruleImportable() {
		isRSA := slices.Contains(ruleRSASpecs, spec)
		isEC := slices.Contains(ruleECSpecs, spec)
		cases := []struct {
			name string
			can  []byok.WrappingAlgorithm
			want want
		}{
			{"nil", nil, want{alg: "RSAES_OAEP_SHA_256"}},
			{"all", ruleAlgorithms, want{alg: "RSAES_OAEP_SHA_256"}},
			{"SHA-1 only", sha1Only, want{alg: "RSAES_OAEP_SHA_1", fallback: true}},
			{"none", []byok.WrappingAlgorithm{}, want{err: byok.ErrIncompatible}},
			{"PKCS1 only", []byok.WrappingAlgorithm{"RSAES_PKCS1_V1_5"}, want{err: byok.ErrIncompatible}},
			{"OAEP only", []byok.WrappingAlgorithm{"RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256"}, want{alg: "RSAES_OAEP_SHA_256"}},
			{"OAEP SHA-1 only", []byok.WrappingAlgorithm{"RSAES_OAEP_SHA_1"}, want{alg: "RSAES_OAEP_SHA_1", fallback: true}},
			{"key wrap only", []byok.WrappingAlgorithm{"RSA_AES_KEY_WRAP_SHA_1", "RSA_AES_KEY_WRAP_SHA_256"}, want{err: byok.ErrIncompatible}},
			{"key wrap SHA-256 and OAEP SHA-1", []byok.WrappingAlgorithm{"RSAES_OAEP_SHA_1", "RSA_AES_KEY_WRAP_SHA_256"}, want{alg: "RSAES_OAEP_SHA_1", fallback: true}},
		}
		if isRSA {
			cases[0].want = want{alg: "RSA_AES_KEY_WRAP_SHA_256"}
			cases[1].want = want{alg: "RSA_AES_KEY_WRAP_SHA_256"}
			cases[2].want = want{alg: "RSA_AES_KEY_WRAP_SHA_1", fallback: true}
			cases[5].want = want{err: byok.ErrIncompatible}
			cases[6].want = want{err: byok.ErrIncompatible}
			cases[7].want = want{alg: "RSA_AES_KEY_WRAP_SHA_256"}
			cases[8].want = want{alg: "RSA_AES_KEY_WRAP_SHA_256"}
		}
		if isEC {
			// EC keys may use either family: SHA-256 key wrap beats SHA-1 OAEP.
			cases[7].want = want{alg: "RSA_AES_KEY_WRAP_SHA_256"}
			cases[8].want = want{alg: "RSA_AES_KEY_WRAP_SHA_256"}
		}
		for _, c := range cases {
			got, err := byok.ChooseWrapping(spec, c.can)
			if c.want.err != nil {
				if !errors.Is(err, c.want.err) || got != (byok.Choice{}) {
					t.Errorf("%s, %s: ChooseWrapping = %+v, %v; want %v", spec, c.name, got, err, c.want.err)
				}
				continue
			}
			if err != nil {
				t.Errorf("%s, %s: ChooseWrapping: %v", spec, c.name, err)
				continue
			}
			if got.Algorithm != c.want.alg || got.WrappingKeySpec != "RSA_4096" || got.Fallback != c.want.fallback {
				t.Errorf("%s, %s: ChooseWrapping = %s/%s fallback=%v; want %s/RSA_4096 fallback=%v",
					spec, c.name, got.Algorithm, got.WrappingKeySpec, got.Fallback, c.want.alg, c.want.fallback)
			}
			if got.Reason == "" || !strings.Contains(got.Reason, string(got.Algorithm)) {
				t.Errorf("%s, %s: Reason %q does not mention %s", spec, c.name, got.Reason, got.Algorithm)
			}
			if err := byok.CheckCompatible(spec, got.Algorithm, got.WrappingKeySpec); err != nil {
				t.Errorf("%s, %s: ChooseWrapping chose %s/%s, which CheckCompatible refuses: %v", spec, c.name, got.Algorithm, got.WrappingKeySpec, err)
			}
			if c.can != nil && !slices.Contains(c.can, got.Algorithm) {
				t.Errorf("%s, %s: chose %s, which the source cannot perform", spec, c.name, got.Algorithm)
			}
		}
	}
	for _, spec := range ruleNotImportable {
		if _, err := byok.ChooseWrapping(spec, nil); !errors.Is(err, byok.ErrNotImportable) {
			t.Errorf("ChooseWrapping(%s) = %v; want ErrNotImportable", spec, err)
		}
	}
	if _, err := byok.ChooseWrapping("AES_128", nil); !errors.Is(err, byok.ErrUnknownKeySpec) {
		t.Errorf("ChooseWrapping(AES_128) = %v; want ErrUnknownKeySpec", err)
	}
}

// TestRulesMaterialLenEC checks the EC PKCS#8 lengths against
// crypto/x509's encoding (named curve, public key included).
func TestRulesMaterialLenEC(t *testing.T) {
	for spec, curve := range map[byok.KeySpec]elliptic.Curve{
		"ECC_NIST_P256": elliptic.P256(),
		"ECC_NIST_P384": elliptic.P384(),
		"ECC_NIST_P521": elliptic.P521(),
	} {
		want := map[byok.KeySpec]int{"ECC_NIST_P256": 138, "ECC_NIST_P384": 185, "ECC_NIST_P521": 241}[spec]
		for range 5 {
			key, err := ecdsa.GenerateKey(curve, rand.Reader)
			if err != nil {
				t.Fatal(err)
			}
			der, err := x509.MarshalPKCS8PrivateKey(key)
			if err != nil {
				t.Fatal(err)
			}
			if len(der) != want || spec.MaterialLen() != len(der) {
				t.Errorf("%s: PKCS#8 is %d bytes, MaterialLen %d; want both %d", spec, len(der), spec.MaterialLen(), want)
			}
		}
	}
	// secp256k1's OID is 3 bytes shorter than P-256's; the interop test checks
	// OpenSSL's encoding. Here: 138 − 3.
	if got := byok.ECCSECGP256K1.MaterialLen(); got != 135 {
		t.Errorf("ECC_SECG_P256K1.MaterialLen() = %d, want 135", got)
	}
}

// TestRulesMaterialLenRSA checks that MaterialLen bounds real PKCS#8 RSA
// keys (the fixtures and freshly generated ones) and the worst case: every
// INTEGER at its longest, with a leading zero byte.
func TestRulesMaterialLenRSA(t *testing.T) {
	specFor := map[int]byok.KeySpec{2048: "RSA_2048", 3072: "RSA_3072", 4096: "RSA_4096"}
	check := func(t *testing.T, key *rsa.PrivateKey) {
		t.Helper()
		der, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			t.Fatal(err)
		}
		spec := specFor[key.N.BitLen()]
		if len(der) > spec.MaterialLen() {
			t.Errorf("%s: a real key's PKCS#8 is %d bytes > MaterialLen %d", spec, len(der), spec.MaterialLen())
		}
	}
	for _, bits := range wrapKeyBits {
		check(t, wrapKey(t, bits))
		check(t, otherWrapKey(t, bits))

		worst := rulesWorstRSAPKCS8(t, bits)
		spec := specFor[bits]
		if worst > spec.MaterialLen() {
			t.Errorf("%s: the worst-case two-prime PKCS#8 is %d bytes > MaterialLen %d", spec, worst, spec.MaterialLen())
		}
		t.Logf("%s: MaterialLen %d, worst case %d", spec, spec.MaterialLen(), worst)
	}
	gen := map[int]int{2048: 4, 3072: 1, 4096: 1}
	if testing.Short() {
		gen = map[int]int{2048: 2}
	}
	for bits, n := range gen {
		for i := range n {
			t.Run(fmt.Sprintf("generate/%d/%d", bits, i), func(t *testing.T) {
				t.Parallel()
				key, err := rsa.GenerateKey(rand.Reader, bits)
				if err != nil {
					t.Fatal(err)
				}
				check(t, key)
			})
		}
	}
}

// rulesWorstRSAPKCS8 returns the length of the longest PKCS#8 encoding of a
// two-prime RSA key of the given size with e = 65537: n and d of bits bits,
// the five CRT values of bits/2 bits, all with the top bit set (so each
// INTEGER needs a leading zero byte).
func rulesWorstRSAPKCS8(t *testing.T, bits int) int {
	t.Helper()
	ones := func(n int) *big.Int { return new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), uint(n)), big.NewInt(1)) }
	type pkcs1 struct {
		Version                   int
		N, E, D, P, Q, DP, DQ, QI *big.Int
	}
	inner, err := asn1.Marshal(pkcs1{0, ones(bits), big.NewInt(65537), ones(bits), ones(bits / 2), ones(bits / 2), ones(bits / 2), ones(bits / 2), ones(bits / 2)})
	if err != nil {
		t.Fatal(err)
	}
	type pkcs8 struct {
		Version    int
		Algo       pkix.AlgorithmIdentifier
		PrivateKey []byte
	}
	outer, err := asn1.Marshal(pkcs8{0, pkix.AlgorithmIdentifier{
		Algorithm:  asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 1},
		Parameters: asn1.NullRawValue,
	}, inner})
	if err != nil {
		t.Fatal(err)
	}
	return len(outer)
}

// TestRuleNames: each Rule is a short stable name whose Error is the rule in
// words, and a refusal matches its own rule with errors.Is and no other.
func TestRuleNames(t *testing.T) {
	rules := []byok.Rule{byok.RuleOAEPOnly, byok.RuleKeyWrapOnly, byok.RuleNoP521OAEP2048, byok.RuleOAEPSize, byok.RuleMaxBlob}
	name := regexp.MustCompile(`^[a-z0-9]+(_[a-z0-9]+)*$`)
	seen := map[string]bool{}
	for _, r := range rules {
		if !name.MatchString(string(r)) || len(r) > 24 {
			t.Errorf("rule %q: want a short snake_case name", string(r))
		}
		text := r.Error()
		if text == string(r) || len(text) < 30 || strings.HasPrefix(text, "unknown") || seen[text] {
			t.Errorf("rule %q: Error() = %q; want its own sentence", string(r), text)
		}
		seen[text] = true
	}
	if got := byok.Rule("nonsense").Error(); !strings.Contains(got, "nonsense") {
		t.Errorf("an unknown rule's Error() = %q; want it to name the rule", got)
	}
	err := byok.CheckCompatible(byok.HMAC256, byok.RSAAESKeyWrapSHA256, byok.WrappingRSA4096)
	for _, r := range rules {
		if got, want := errors.Is(err, r), r == byok.RuleOAEPOnly; got != want {
			t.Errorf("errors.Is(%v, %s) = %v; want %v", err, string(r), got, want)
		}
	}
}
