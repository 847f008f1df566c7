package byok_test

import (
	"bytes"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/byok-go/byok"
	"github.com/byok-go/byok/internal/testenv"
)

// OpenSSL 3 is the independent implementation: it generates the key material
// of every importable spec, unwraps what WrapKeyMaterial produced, and wraps
// what UnwrapKeyMaterial must accept.

// opensslTool runs the openssl binary.
type opensslTool struct {
	path string
	dir  string // scratch directory
	seq  atomic.Int64
}

// run runs openssl with args, feeding it in as a file (if in is not nil),
// and returns its standard output. It fails the test on error.
func (o *opensslTool) run(t testing.TB, in []byte, args ...string) []byte {
	t.Helper()
	out, err := o.exec(in, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// exec is run without the test, for use from other goroutines.
func (o *opensslTool) exec(in []byte, args ...string) ([]byte, error) {
	if in != nil {
		f := filepath.Join(o.dir, fmt.Sprintf("in-%d", o.seq.Add(1)))
		if err := os.WriteFile(f, in, 0o600); err != nil {
			return nil, err
		}
		defer os.Remove(f)
		args = append(args, "-in", f)
	}
	cmd := exec.Command(o.path, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("openssl %s: %v\n%s", strings.Join(redactKey(args), " "), err, stderr.String())
	}
	return stdout.Bytes(), nil
}

// redactKey hides the ephemeral AES key in logged command lines.
func redactKey(args []string) []string {
	out := append([]string(nil), args...)
	for i := range out {
		if i > 0 && out[i-1] == "-K" {
			out[i] = "<key>"
		}
	}
	return out
}

// oaepOpts are the pkeyutl options for RSA-OAEP with alg's hash for OAEP
// and MGF1.
func oaepOpts(alg byok.WrappingAlgorithm) []string {
	md := map[int]string{20: "sha1", 32: "sha256"}[wrapAlgHash(alg).Size()]
	return []string{"-pkeyopt", "rsa_padding_mode:oaep", "-pkeyopt", "rsa_oaep_md:" + md, "-pkeyopt", "rsa_mgf1_md:" + md}
}

func (o *opensslTool) oaepDecrypt(t testing.TB, alg byok.WrappingAlgorithm, bits int, ct []byte) []byte {
	t.Helper()
	args := append([]string{"pkeyutl", "-decrypt", "-inkey", wrapKeyFile(t, bits, false)}, oaepOpts(alg)...)
	return o.run(t, ct, args...)
}

func (o *opensslTool) oaepEncrypt(t testing.TB, alg byok.WrappingAlgorithm, bits int, pt []byte) []byte {
	t.Helper()
	args := append([]string{"pkeyutl", "-encrypt", "-pubin", "-inkey", wrapKeyFile(t, bits, true)}, oaepOpts(alg)...)
	return o.run(t, pt, args...)
}

// kwp runs RFC 5649 AES-256 key wrap with padding (decrypt for unwrap).
func (o *opensslTool) kwp(t testing.TB, decrypt bool, key, in []byte) []byte {
	t.Helper()
	args := []string{"enc", "-id-aes256-wrap-pad", "-iv", "A65959A6", "-K", hex.EncodeToString(key)}
	if decrypt {
		args = append(args, "-d")
	}
	return o.run(t, in, args...)
}

// genPKCS8 generates a private key with openssl genpkey and returns its
// PKCS#8 DER. (OpenSSL 3.0's `genpkey -outform DER` writes the traditional
// PKCS#1/SEC1 form, so the PEM output, which is PKCS#8, is decoded here.)
func (o *opensslTool) genPKCS8(args ...string) ([]byte, error) {
	out, err := o.exec(nil, append([]string{"genpkey", "-quiet"}, args...)...)
	if err != nil {
		return nil, err
	}
	block, _ := pem.Decode(out)
	if block == nil || block.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("openssl genpkey %v: no PKCS#8 PEM block in its output", args)
	}
	return block.Bytes, nil
}

// interopMaterials generates, with OpenSSL, key material for every
// importable key spec.
func interopMaterials(t *testing.T, o *opensslTool) map[byok.KeySpec][]byte {
	rand := func(n string) func() ([]byte, error) {
		return func() ([]byte, error) { return o.exec(nil, "rand", n) }
	}
	gen := map[byok.KeySpec]func() ([]byte, error){
		"SYMMETRIC_DEFAULT": rand("32"),
		"HMAC_224":          rand("28"),
		"HMAC_256":          rand("32"),
		"HMAC_384":          rand("48"),
		"HMAC_512":          rand("64"),
	}
	for _, bits := range wrapKeyBits {
		gen[byok.KeySpec(fmt.Sprintf("RSA_%d", bits))] = func() ([]byte, error) {
			return o.genPKCS8("-algorithm", "RSA", "-pkeyopt", fmt.Sprintf("rsa_keygen_bits:%d", bits))
		}
	}
	for spec, curve := range map[byok.KeySpec]string{
		"ECC_NIST_P256": "P-256", "ECC_NIST_P384": "P-384", "ECC_NIST_P521": "P-521", "ECC_SECG_P256K1": "secp256k1",
	} {
		gen[spec] = func() ([]byte, error) {
			return o.genPKCS8("-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:"+curve)
		}
	}
	var (
		mu   sync.Mutex
		wg   sync.WaitGroup
		out  = map[byok.KeySpec][]byte{}
		errs []error
	)
	// RSA key generation dominates: start it first, concurrently with the rest.
	sem := make(chan struct{}, 3)
	order := slices.Concat([]byok.KeySpec{"RSA_4096", "RSA_3072", "RSA_2048"}, slices.DeleteFunc(byok.KeySpecs(), func(s byok.KeySpec) bool {
		return s.Kind() == byok.KindRSA
	}))
	for _, spec := range order {
		f := gen[spec]
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			m, err := f()
			mu.Lock()
			defer mu.Unlock()
			out[spec] = m
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", spec, err))
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	for _, spec := range byok.KeySpecs() {
		m := out[spec]
		switch spec.Kind() {
		case byok.KindSymmetric, byok.KindHMAC, byok.KindEC:
			if len(m) != spec.MaterialLen() {
				t.Fatalf("%s: OpenSSL made %d bytes of material; MaterialLen is %d", spec, len(m), spec.MaterialLen())
			}
		case byok.KindRSA:
			if len(m) == 0 || len(m) > spec.MaterialLen() {
				t.Fatalf("%s: OpenSSL made a %d-byte PKCS#8 key; MaterialLen is %d", spec, len(m), spec.MaterialLen())
			}
		default:
			t.Fatalf("no material for %s", spec)
		}
	}
	return out
}

func TestInteropOpenSSL(t *testing.T) {
	path := testenv.MustHaveExecPath(t, "openssl")
	o := &opensslTool{path: path, dir: t.TempDir()}
	if v := string(o.run(t, nil, "version")); !strings.HasPrefix(v, "OpenSSL 3.") {
		if testenv.OnCI() {
			t.Fatalf("%s is %q; the interop tests need OpenSSL 3", path, strings.TrimSpace(v))
		}
		t.Skipf("%s is %q; the interop tests need OpenSSL 3 (%s)", path, strings.TrimSpace(v), testenv.InstallHint("openssl"))
	} else {
		t.Logf("%s: %s", path, strings.TrimSpace(v))
	}
	start := time.Now()
	materials := interopMaterials(t, o)
	t.Logf("key material generated by OpenSSL in %v", time.Since(start).Round(time.Millisecond))

	var ran, refused atomic.Int64
	t.Cleanup(func() {
		t.Logf("%d allowed combinations wrapped both ways, %d disallowed ones refused, in %v",
			ran.Load(), refused.Load(), time.Since(start).Round(time.Millisecond))
		if !t.Failed() && (ran.Load() != 94 || refused.Load() != 50) {
			t.Errorf("exercised %d allowed and %d disallowed combinations; want 94 and 50", ran.Load(), refused.Load())
		}
	})
	for _, alg := range byok.WrappingAlgorithms() {
		for _, w := range byok.WrappingKeySpecs() {
			for _, spec := range byok.KeySpecs() {
				material := materials[spec]
				bits := w.Bits()
				if err := byok.CheckCompatible(spec, alg, w); err != nil {
					t.Run(fmt.Sprintf("%s/%s/%s/refused", alg, w, spec), func(t *testing.T) {
						interopRefused(t, spec, alg, bits, material, err)
						refused.Add(1)
					})
					continue
				}
				t.Run(fmt.Sprintf("%s/%s/%s", alg, w, spec), func(t *testing.T) {
					t.Parallel()
					interopOursToOpenSSL(t, o, alg, bits, material)
					interopOpenSSLToOurs(t, o, alg, bits, material)
					ran.Add(1)
				})
			}
		}
	}
}

// interopOursToOpenSSL: WrapKeyMaterial, then OpenSSL unwraps.
func interopOursToOpenSSL(t *testing.T, o *opensslTool, alg byok.WrappingAlgorithm, bits int, material []byte) {
	blob, err := byok.WrapKeyMaterial(&wrapKey(t, bits).PublicKey, alg, material)
	if err != nil {
		t.Fatalf("WrapKeyMaterial: %v", err)
	}
	k := bits / 8
	var got []byte
	if wrapIsKeyWrap(alg) {
		key := o.oaepDecrypt(t, alg, bits, blob[:k])
		if len(key) != 32 {
			t.Fatalf("OpenSSL decrypted a %d-byte AES key from the RSA block; want 32", len(key))
		}
		got = o.kwp(t, true, key, blob[k:])
	} else {
		got = o.oaepDecrypt(t, alg, bits, blob)
	}
	if !bytes.Equal(got, material) {
		t.Fatalf("OpenSSL unwrapped our blob to\n%x\nwant\n%x", got, material)
	}
}

// interopOpenSSLToOurs: OpenSSL wraps, then UnwrapKeyMaterial.
func interopOpenSSLToOurs(t *testing.T, o *opensslTool, alg byok.WrappingAlgorithm, bits int, material []byte) {
	var blob []byte
	if wrapIsKeyWrap(alg) {
		key := o.run(t, nil, "rand", "32")
		tail := o.kwp(t, false, key, material)
		head := o.oaepEncrypt(t, alg, bits, key)
		blob = append(head, tail...)
	} else {
		blob = o.oaepEncrypt(t, alg, bits, material)
	}
	if len(blob) != wrappedLen(alg, bits, len(material)) {
		t.Errorf("OpenSSL's blob is %d bytes; want %d", len(blob), wrappedLen(alg, bits, len(material)))
	}
	got, err := byok.UnwrapKeyMaterial(wrapKey(t, bits), alg, blob)
	if err != nil || !bytes.Equal(got, material) {
		t.Fatalf("UnwrapKeyMaterial(OpenSSL's blob) = %x, %v; want %x", got, err, material)
	}
	// And the same blob under the other hash is refused.
	mustUnwrapFail(t, "OpenSSL blob, other hash", wrapKey(t, bits), wrapAlgOtherHash(alg), blob)
}

// interopRefused checks a combination AWS does not allow: CheckCompatible
// refuses it, and so does WrapKeyMaterial whenever the refusal follows from
// what it can see (OAEP and material over the size limit). For the other
// refusals (e.g. RSA_AES_KEY_WRAP of symmetric material) WrapKeyMaterial
// cannot know the key spec, so CheckCompatible alone answers.
func interopRefused(t *testing.T, spec byok.KeySpec, alg byok.WrappingAlgorithm, bits int, material []byte, err error) {
	var ce *byok.CompatibilityError
	if !errors.Is(err, byok.ErrIncompatible) || !errors.As(err, &ce) || ce.Rule == "" {
		t.Fatalf("CheckCompatible = %v; want a *CompatibilityError naming a rule", err)
	}
	if !wrapIsKeyWrap(alg) && len(material) > oaepLimit(bits, wrapAlgHash(alg)) {
		out, err := byok.WrapKeyMaterial(&wrapKey(t, bits).PublicKey, alg, material)
		if !errors.Is(err, byok.ErrIncompatible) || out != nil {
			t.Fatalf("WrapKeyMaterial of %d bytes = %d bytes, %v; want ErrIncompatible", len(material), len(out), err)
		}
	}
}
