package byok_test

// The edges of the library: incomplete Go keys, typed-nil sources and
// targets, a context cancelled between the steps of Import, and targets
// that return parameters other than those asked for.

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"math/big"
	"sync"
	"testing"

	"github.com/byok-go/byok"
	"github.com/byok-go/byok/driver/software"
)

var (
	edgeOnce sync.Once
	edge2048 *rsa.PrivateKey
)

func edgeKey(t *testing.T) *rsa.PrivateKey {
	edgeOnce.Do(func() { edge2048, _ = rsa.GenerateKey(rand.Reader, 2048) })
	return edge2048
}

// fakeTarget returns what prepare builds from the asked parameters, and
// counts imports; cancel, if set, is called at the end of Prepare.
type fakeTarget struct {
	prepare func(alg byok.WrappingAlgorithm, wks byok.WrappingKeySpec) byok.ImportParameters
	cancel  func()
	imports int
}

func (f *fakeTarget) Prepare(_ context.Context, _ byok.KeyInfo, alg byok.WrappingAlgorithm, wks byok.WrappingKeySpec) (byok.ImportParameters, error) {
	p := f.prepare(alg, wks)
	if f.cancel != nil {
		f.cancel()
	}
	return p, nil
}

func (f *fakeTarget) Import(_ context.Context, p byok.ImportParameters, _ []byte) (byok.Imported, error) {
	f.imports++
	return byok.Imported{KeyID: p.KeyID, KeyARN: p.KeyID}, nil
}

// countingSource counts Wrap calls; cancel, if set, is called in Wrap.
type countingSource struct {
	byok.KeySource
	wraps  int
	cancel func()
}

func (c *countingSource) Wrap(ctx context.Context, p byok.ImportParameters) ([]byte, error) {
	c.wraps++
	if c.cancel != nil {
		c.cancel()
	}
	return c.KeySource.Wrap(ctx, p)
}

// good returns the parameters that were asked for, with a 2048-bit key.
func good(t *testing.T) func(byok.WrappingAlgorithm, byok.WrappingKeySpec) byok.ImportParameters {
	k := edgeKey(t)
	return func(alg byok.WrappingAlgorithm, wks byok.WrappingKeySpec) byok.ImportParameters {
		return byok.ImportParameters{KeyID: "arn:aws:kms:us-east-1:111122223333:key/edge", Algorithm: alg, WrappingKeySpec: wks, WrappingKey: &k.PublicKey, ImportToken: make([]byte, 1000)}
	}
}

func edgeImporter() *byok.Importer {
	return &byok.Importer{WrappingKeySpec: byok.WrappingRSA2048, SkipVerify: true}
}

// edgeCases are the catalogue's cases for the library's edges.
func edgeCases(t *testing.T) []badCase {
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	newKM := func(k any) func(*testing.T) error {
		return func(t *testing.T) error {
			defer func() {
				if p := recover(); p != nil {
					t.Errorf("NewKeyMaterial panicked: %v", p)
				}
			}()
			_, err := byok.NewKeyMaterial(k)
			return err
		}
	}
	src := func(t *testing.T) *countingSource {
		return &countingSource{KeySource: openSource(t, "aes256.bin", byok.LoadOptions{KeySpec: byok.SymmetricDefault}, software.Options{})}
	}
	// badParams imports through a target whose parameters mutate changes,
	// and fails the test if the source wrapped or the target imported.
	badParams := func(mutate func(*byok.ImportParameters), im *byok.Importer) func(*testing.T) error {
		return func(t *testing.T) error {
			s := src(t)
			base := good(t)
			f := &fakeTarget{prepare: func(alg byok.WrappingAlgorithm, wks byok.WrappingKeySpec) byok.ImportParameters {
				p := base(alg, wks)
				mutate(&p)
				return p
			}}
			if im == nil {
				im = edgeImporter()
			}
			_, err := im.Import(context.Background(), s, f)
			if s.wraps != 0 || f.imports != 0 {
				t.Errorf("the source wrapped %d times and the target imported %d times under bad parameters", s.wraps, f.imports)
			}
			return err
		}
	}
	return []badCase{
		{name: "ECDSA key with nil D", run: newKM(&ecdsa.PrivateKey{PublicKey: ec.PublicKey}), is: byok.ErrInvalidMaterial, msg: "incomplete"},
		{name: "ECDSA key with nil X and Y", run: newKM(&ecdsa.PrivateKey{PublicKey: ecdsa.PublicKey{Curve: elliptic.P256()}, D: ec.D}), is: byok.ErrInvalidMaterial, msg: "incomplete"},
		{name: "ECDSA key with nil Curve", run: newKM(&ecdsa.PrivateKey{PublicKey: ecdsa.PublicKey{X: ec.X, Y: ec.Y}, D: ec.D}), is: byok.ErrInvalidMaterial, msg: "incomplete"},
		{name: "zero ECDSA key", run: newKM(&ecdsa.PrivateKey{}), is: byok.ErrInvalidMaterial},
		{name: "ECDSA key with D = 0", run: newKM(&ecdsa.PrivateKey{PublicKey: ec.PublicKey, D: new(big.Int)}), is: byok.ErrInvalidMaterial},
		{name: "nil *rsa.PrivateKey", run: newKM((*rsa.PrivateKey)(nil)), is: byok.ErrInvalidMaterial, msg: "nil"},
		{name: "zero RSA key", run: newKM(&rsa.PrivateKey{}), is: byok.ErrInvalidMaterial, msg: "N or D is nil"},
		{name: "RSA key with nil D", run: func(t *testing.T) error {
			k := edgeKey(t)
			return newKM(&rsa.PrivateKey{PublicKey: k.PublicKey, Primes: k.Primes})(t)
		}, is: byok.ErrInvalidMaterial, msg: "N or D is nil"},
		{name: "nil private key", run: newKM(nil), is: byok.ErrInvalidMaterial, msg: "the private key is nil"},
		{name: "typed-nil source", run: func(t *testing.T) error {
			var s *software.Source
			_, err := edgeImporter().Import(context.Background(), s, &fakeTarget{prepare: good(t)})
			return err
		}, msg: "needs a source; got a nil *software.Source"},
		{name: "typed-nil target", run: func(t *testing.T) error {
			var k *byok.KMS
			_, err := edgeImporter().Import(context.Background(), src(t), k)
			return err
		}, msg: "needs a target; got a nil *byok.KMS"},
		{name: "context cancelled before Import", run: func(t *testing.T) error {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			f := &fakeTarget{prepare: good(t)}
			_, err := edgeImporter().Import(ctx, src(t), f)
			if f.imports != 0 {
				t.Error("imported after cancellation")
			}
			return err
		}, is: context.Canceled},
		{name: "context cancelled during Prepare", run: func(t *testing.T) error {
			ctx, cancel := context.WithCancel(context.Background())
			s := src(t)
			f := &fakeTarget{prepare: good(t), cancel: cancel}
			res, err := edgeImporter().Import(ctx, s, f)
			if s.wraps != 0 || f.imports != 0 || res == nil || res.KeyARN == "" {
				t.Errorf("after cancellation: %d wraps, %d imports, result %+v (want the key named)", s.wraps, f.imports, res)
			}
			return err
		}, is: context.Canceled, msg: "stopped before wrapping the source key for arn:aws:kms:us-east-1:111122223333:key/edge"},
		{name: "context cancelled during Wrap", run: func(t *testing.T) error {
			ctx, cancel := context.WithCancel(context.Background())
			s := src(t)
			s.cancel = cancel
			f := &fakeTarget{prepare: good(t)}
			_, err := edgeImporter().Import(ctx, s, f)
			if f.imports != 0 {
				t.Error("imported after cancellation")
			}
			return err
		}, is: context.Canceled, msg: "stopped before ImportKeyMaterial"},
		{name: "target returns another wrapping key size", run: badParams(func(p *byok.ImportParameters) {}, &byok.Importer{WrappingKeySpec: byok.WrappingRSA3072, SkipVerify: true}),
			is: byok.ErrBadParameters, msg: "a 2048-bit wrapping key, but RSA_3072 (3072 bits) was asked for"},
		{name: "target returns another wrapping key spec", run: badParams(func(p *byok.ImportParameters) { p.WrappingKeySpec = byok.WrappingRSA4096 }, nil),
			is: byok.ErrBadParameters, msg: "wrapping key spec \"RSA_4096\", but RSA_2048 was asked for"},
		{name: "target returns another algorithm", run: badParams(func(p *byok.ImportParameters) { p.Algorithm = byok.RSAESOAEPSHA1 }, nil),
			is: byok.ErrBadParameters, msg: "wrapping algorithm \"RSAES_OAEP_SHA_1\", but RSAES_OAEP_SHA_256 was asked for"},
		{name: "target returns a token over 6144 bytes", run: badParams(func(p *byok.ImportParameters) { p.ImportToken = make([]byte, 6145) }, nil),
			is: byok.ErrBadParameters, msg: "import token of 6145 bytes"},
		{name: "target returns no token", run: badParams(func(p *byok.ImportParameters) { p.ImportToken = nil }, nil), is: byok.ErrBadParameters, msg: "no import token"},
		{name: "target returns no wrapping key", run: badParams(func(p *byok.ImportParameters) { p.WrappingKey = nil }, nil), is: byok.ErrBadParameters, msg: "no wrapping public key"},
		{name: "target returns an empty wrapping key", run: badParams(func(p *byok.ImportParameters) { p.WrappingKey = &rsa.PublicKey{} }, nil), is: byok.ErrBadParameters, msg: "no wrapping public key"},
		{name: "target returns no key ID", run: badParams(func(p *byok.ImportParameters) { p.KeyID = "" }, nil), is: byok.ErrBadParameters, msg: "no KMS key ID"},
		{name: "target returns no algorithm", run: badParams(func(p *byok.ImportParameters) { p.Algorithm = "" }, nil), is: byok.ErrBadParameters, msg: "wrapping algorithm \"\""},
	}
}

// TestImportEdgesGoodParameters: the fake target of the edge cases, with
// the parameters asked for, imports (so the refusals above are caused by
// the one field each changes).
func TestImportEdgesGoodParameters(t *testing.T) {
	s := &countingSource{KeySource: openSource(t, "aes256.bin", byok.LoadOptions{KeySpec: byok.SymmetricDefault}, software.Options{})}
	f := &fakeTarget{prepare: good(t)}
	res, err := edgeImporter().Import(context.Background(), s, f)
	if err != nil || s.wraps != 1 || f.imports != 1 || res.KeyARN == "" {
		t.Fatalf("%v: %d wraps, %d imports", err, s.wraps, f.imports)
	}
	tok := good(t)
	f.prepare = func(alg byok.WrappingAlgorithm, wks byok.WrappingKeySpec) byok.ImportParameters {
		p := tok(alg, wks)
		p.ImportToken = make([]byte, 6144) // the longest GetParametersForImport returns
		return p
	}
	if _, err := edgeImporter().Import(context.Background(), s, f); err != nil {
		t.Errorf("a 6144-byte token: %v", err)
	}
}
