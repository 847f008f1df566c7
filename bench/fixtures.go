package bench

import (
	"context"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"embed"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/byok-go/byok"
)

// The fixture keys are published with the source code: they exist to be
// wrapped in benchmarks and must never protect anything. Fixed keys make
// runs comparable (the RSA-4096 material is 2375 bytes of PKCS#8, the size
// the RFC 5649 figures are quoted for) and spare every run the seconds of
// RSA key generation.
//
//go:embed fixtures/*.der
var fixtureFS embed.FS

var fixtureFiles = map[byok.KeySpec]string{
	byok.RSA2048:       "rsa2048.der",
	byok.RSA3072:       "rsa3072.der",
	byok.RSA4096:       "rsa4096.der",
	byok.ECCNISTP256:   "p256.der",
	byok.ECCNISTP384:   "p384.der",
	byok.ECCNISTP521:   "p521.der",
	byok.ECCSECGP256K1: "secp256k1.der",
}

var wrappingFiles = map[byok.WrappingKeySpec]string{
	byok.WrappingRSA2048: "wrapping-rsa2048.der",
	byok.WrappingRSA3072: "wrapping-rsa3072.der",
	byok.WrappingRSA4096: "wrapping-rsa4096.der",
}

// Case is one combination AWS KMS accepts: key material of KeySpec
// wrapped with Algorithm under a wrapping key of WrappingKeySpec.
type Case struct {
	Algorithm       byok.WrappingAlgorithm
	WrappingKeySpec byok.WrappingKeySpec
	KeySpec         byok.KeySpec
}

// String returns the case as ALGORITHM/WRAPPING_KEY_SPEC/KEY_SPEC, the
// form the Go benchmarks' sub-benchmark names take.
func (c Case) String() string {
	return string(c.Algorithm) + "/" + string(c.WrappingKeySpec) + "/" + string(c.KeySpec)
}

// Cases returns every wrapping algorithm × wrapping key spec × key spec
// combination byok.CheckCompatible allows, in a stable order: by
// algorithm (byok.WrappingAlgorithms), then wrapping key spec, largest
// first, then key spec (byok.KeySpecs).
func Cases() []Case {
	var out []Case
	for _, alg := range byok.WrappingAlgorithms() {
		for _, w := range byok.WrappingKeySpecs() {
			for _, k := range byok.KeySpecs() {
				if byok.CheckCompatible(k, alg, w) == nil {
					out = append(out, Case{alg, w, k})
				}
			}
		}
	}
	return out
}

var fixtures struct {
	once     sync.Once
	err      error
	material map[byok.KeySpec][]byte
	wrapping map[byok.WrappingKeySpec]*rsa.PrivateKey
}

func loadFixtures() error {
	fixtures.once.Do(func() {
		fixtures.material = map[byok.KeySpec][]byte{}
		fixtures.wrapping = map[byok.WrappingKeySpec]*rsa.PrivateKey{}
		for _, spec := range byok.KeySpecs() {
			if name, ok := fixtureFiles[spec]; ok {
				der, err := fixtureFS.ReadFile("fixtures/" + name)
				if err != nil {
					fixtures.err = err
					return
				}
				fixtures.material[spec] = der
				continue
			}
			// Symmetric and HMAC material: bytes derived from the spec name,
			// fixed so that runs are alike.
			sum := sha256.Sum256([]byte("byok bench fixture " + spec))
			b := make([]byte, spec.MaterialLen())
			for i := range b {
				b[i] = sum[i%len(sum)] ^ byte(i/len(sum))
			}
			fixtures.material[spec] = b
		}
		for w, name := range wrappingFiles {
			der, err := fixtureFS.ReadFile("fixtures/" + name)
			if err != nil {
				fixtures.err = err
				return
			}
			k, err := x509.ParsePKCS8PrivateKey(der)
			if err != nil {
				fixtures.err = fmt.Errorf("bench: fixture %s: %w", name, err)
				return
			}
			rk, ok := k.(*rsa.PrivateKey)
			if !ok || rk.N.BitLen() != w.Bits() {
				fixtures.err = fmt.Errorf("bench: fixture %s is not an %s key", name, w)
				return
			}
			rk.Precompute()
			fixtures.wrapping[w] = rk
		}
	})
	return fixtures.err
}

// Material returns the fixed example key material of spec that the
// benchmarks wrap, in the form KMS imports (see byok.KeyMaterial). The
// keys are public fixtures; never use them to protect anything.
func Material(spec byok.KeySpec) (*byok.KeyMaterial, error) {
	if err := loadFixtures(); err != nil {
		return nil, err
	}
	b, ok := fixtures.material[spec]
	if !ok {
		return nil, fmt.Errorf("bench: no fixture for key spec %q", spec)
	}
	return byok.ParseKeyMaterial(spec, b)
}

// WrappingKey returns the fixed RSA key pair standing in for the wrapping
// key GetParametersForImport returns for spec w. It is shared: do not
// modify it. Like Material's keys it is a public fixture.
func WrappingKey(w byok.WrappingKeySpec) (*rsa.PrivateKey, error) {
	if err := loadFixtures(); err != nil {
		return nil, err
	}
	k, ok := fixtures.wrapping[w]
	if !ok {
		return nil, fmt.Errorf("bench: no wrapping key fixture for %q", w)
	}
	return k, nil
}

// NullTarget is a byok.KMSTarget that does no work: Prepare hands out the
// WrappingKey fixture and a constant import token, and Import accepts any
// non-empty blob without looking into it. Timing byok.Importer.Import
// against it measures byok's own work, not a KMS's (real or emulated).
type NullTarget struct{}

var _ byok.KMSTarget = NullTarget{}

// NullKeyARN is the key ARN NullTarget reports.
const NullKeyARN = "arn:aws:kms:us-east-1:111122223333:key/00000000-0000-4000-8000-000000000000"

var nullToken = []byte("byok bench null import token")

// Prepare returns import parameters with the wrapping key fixture of wks.
func (NullTarget) Prepare(_ context.Context, _ byok.KeyInfo, alg byok.WrappingAlgorithm, wks byok.WrappingKeySpec) (byok.ImportParameters, error) {
	k, err := WrappingKey(wks)
	if err != nil {
		return byok.ImportParameters{}, err
	}
	return byok.ImportParameters{KeyID: NullKeyARN, Algorithm: alg, WrappingKeySpec: wks,
		WrappingKey: &k.PublicKey, ImportToken: nullToken, ValidTo: time.Now().Add(24 * time.Hour)}, nil
}

// Import accepts the wrapped material unread.
func (NullTarget) Import(_ context.Context, p byok.ImportParameters, wrapped []byte) (byok.Imported, error) {
	if len(wrapped) == 0 {
		return byok.Imported{}, errors.New("bench: NullTarget.Import: no wrapped key material")
	}
	return byok.Imported{KeyID: "00000000-0000-4000-8000-000000000000", KeyARN: p.KeyID,
		ExpirationModel: "KEY_MATERIAL_DOES_NOT_EXPIRE"}, nil
}
