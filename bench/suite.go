package bench

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/rsa"
	"crypto/x509"
	"fmt"
	"slices"

	"github.com/byok-go/byok"
	"github.com/byok-go/byok/bench/opensslbench"
	"github.com/byok-go/byok/driver/software"
	"github.com/byok-go/byok/internal/kwp"
)

// kwpKEK is the fixed key-encryption key of the OpKWP rows.
var kwpKEK = []byte("byok bench RFC 5649 AES-256 KEK!")

// targetCase is the complete wrap the project compares with OpenSSL.
var targetCase = Case{byok.RSAAESKeyWrapSHA256, byok.WrappingRSA4096, byok.RSA4096}

// Limits the project holds byok to (issue 7).
const (
	LimitKWPvsOpenSSL  = 0.22 // RFC 5649 wrap of 2375 B, byok / OpenSSL EVP_aes_256_wrap_pad
	LimitWrapVsOpenSSL = 1.3  // RSA_AES_KEY_WRAP_SHA_256, RSA-4096 key and material, byok / OpenSSL
	LimitKWPvsBound    = 1.15 // RFC 5649 wrap of 2375 B / its AES chain latency bound
	LimitHSMvsBare     = 1.1  // byok's PKCS#11 path / a bare C_WrapKey loop on the same session
)

// sink keeps results alive so that no work is optimised away.
var sink []byte

type suite struct {
	opts     *Options
	backends []string
	closers  []func()

	kwp, kwpOpenSSL, bound *member
	target, targetOpenSSL  *member
	imports                []importMembers
	hsms                   []*hsmBackend
	hsmOverheads           []hsmOverhead
	notes                  []string
}

type hsmOverhead struct {
	backend                string
	path, bare, bareImport *member
}

type importMembers struct {
	spec       byok.KeySpec
	full, orch *member
	c          Case
}

func (s *suite) close() {
	for _, c := range slices.Backward(s.closers) {
		c()
	}
}

func (s *suite) has(backend string) bool { return slices.Contains(s.backends, backend) }

// keep reports whether a row of this name is wanted.
func (s *suite) keep(name string) bool {
	return s.opts.Match == nil || s.opts.Match.MatchString(name)
}

func (s *suite) newMember(g *group, r Row, goHeap bool, setup func() (func(int) error, error)) (*member, error) {
	r.Name = rowName(r.Operation, string(r.Algorithm), string(r.WrappingKeySpec), string(r.KeySpec), r.Backend)
	if r.Operation == OpKWP || r.Operation == OpAESChain {
		r.Name = rowName(r.Operation, fmt.Sprintf("%dB", r.MaterialBytes), r.Backend)
	}
	if !s.keep(r.Name) {
		return nil, nil
	}
	r.Group = g.name
	run, err := setup()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", r.Name, err)
	}
	m := &member{row: &r, run: run, goHeap: goHeap}
	g.members = append(g.members, m)
	return m, nil
}

// groups sets up every group to measure, checking each backend's output.
func (s *suite) groups() ([]*group, error) {
	var gs []*group
	g, err := s.kwpGroup()
	if err != nil {
		return nil, err
	}
	gs = append(gs, g)
	for _, c := range Cases() {
		g, err := s.wrapGroup(c)
		if err != nil {
			return nil, err
		}
		gs = append(gs, g)
	}
	for _, spec := range byok.KeySpecs() {
		g, err := s.importGroup(spec)
		if err != nil {
			return nil, err
		}
		gs = append(gs, g)
	}
	for _, b := range s.hsms {
		g, h, err := s.hsmOverheadGroup(b)
		if err != nil {
			return nil, err
		}
		if g == nil {
			s.notes = append(s.notes, b.cfg.Backend+": the PKCS#11 path overhead is not measured: the module cannot wrap SYMMETRIC_DEFAULT with RSAES_OAEP")
			continue
		}
		gs = append(gs, g)
		s.hsmOverheads = append(s.hsmOverheads, *h)
	}
	return gs, nil
}

func (s *suite) kwpGroup() (*group, error) {
	pt := fixtures.material[byok.RSA4096]
	g := &group{name: fmt.Sprintf("RFC 5649 wrap of %d bytes under AES-256", len(pt)), weight: 5}
	want, err := kwp.Wrap(kwpKEK, pt)
	if err != nil {
		return nil, err
	}
	if back, err := kwp.Unwrap(kwpKEK, want); err != nil || !bytes.Equal(back, pt) {
		return nil, fmt.Errorf("bench: kwp.Unwrap(kwp.Wrap(x)) != x: %v", err)
	}
	base := Row{Operation: OpKWP, Backend: BackendGo, MaterialBytes: len(pt)}
	if s.kwp, err = s.newMember(g, base, true, func() (func(int) error, error) {
		return func(n int) error {
			for range n {
				out, err := kwp.Wrap(kwpKEK, pt)
				if err != nil {
					return err
				}
				sink = out
			}
			return nil
		}, nil
	}); err != nil {
		return nil, err
	}
	if s.has(BackendOpenSSL) {
		r := base
		r.Backend = BackendOpenSSL
		if s.kwpOpenSSL, err = s.newMember(g, r, false, func() (func(int) error, error) {
			got, err := opensslbench.WrapPad(kwpKEK, pt, 1)
			if err != nil {
				return nil, err
			}
			if !bytes.Equal(got, want) {
				return nil, fmt.Errorf("OpenSSL's RFC 5649 output differs from byok's")
			}
			return func(n int) error {
				out, err := opensslbench.WrapPad(kwpKEK, pt, n)
				sink = out
				return err
			}, nil
		}); err != nil {
			return nil, err
		}
	}
	r := base
	r.Operation = OpAESChain
	if s.bound, err = s.newMember(g, r, true, func() (func(int) error, error) {
		c, err := aes.NewCipher(kwpKEK)
		if err != nil {
			return nil, err
		}
		steps := 6 * ((len(pt) + 7) / 8)
		buf := make([]byte, 16)
		return func(n int) error {
			for range n {
				for range steps {
					c.Encrypt(buf, buf)
				}
			}
			sink = buf
			return nil
		}, nil
	}); err != nil {
		return nil, err
	}
	return g, nil
}

// checkWrapped checks that wrapped unwraps to material, as KMS would
// unwrap it.
func checkWrapped(priv *rsa.PrivateKey, alg byok.WrappingAlgorithm, wrapped, material []byte) error {
	want := priv.Size() // one RSA block; RSA_AES_KEY_WRAP adds RFC 5649 of the material
	if alg.IsKeyWrap() {
		want += 8 + (len(material)+7)&^7
	}
	if len(wrapped) != want {
		return fmt.Errorf("the wrapped material is %d bytes, want %d", len(wrapped), want)
	}
	back, err := byok.UnwrapKeyMaterial(priv, alg, wrapped)
	if err != nil {
		return fmt.Errorf("the output does not unwrap: %w", err)
	}
	if !bytes.Equal(back, material) {
		return fmt.Errorf("the output unwraps to other material")
	}
	return nil
}

func (s *suite) wrapGroup(c Case) (*group, error) {
	g := &group{name: OpWrap + "/" + c.String(), weight: 1}
	if c == targetCase {
		g.weight = 5
	}
	mat := fixtures.material[c.KeySpec]
	priv := fixtures.wrapping[c.WrappingKeySpec]
	base := Row{Operation: OpWrap, Algorithm: c.Algorithm, WrappingKeySpec: c.WrappingKeySpec, KeySpec: c.KeySpec,
		Backend: BackendGo, MaterialBytes: len(mat)}
	m, err := s.newMember(g, base, true, func() (func(int) error, error) {
		out, err := byok.WrapKeyMaterial(&priv.PublicKey, c.Algorithm, mat)
		if err != nil {
			return nil, err
		}
		if err := checkWrapped(priv, c.Algorithm, out, mat); err != nil {
			return nil, err
		}
		return func(n int) error {
			for range n {
				out, err := byok.WrapKeyMaterial(&priv.PublicKey, c.Algorithm, mat)
				if err != nil {
					return err
				}
				sink = out
			}
			return nil
		}, nil
	})
	if err != nil {
		return nil, err
	}
	if c == targetCase {
		s.target = m
	}
	if s.has(BackendOpenSSL) {
		r := base
		r.Backend = BackendOpenSSL
		m, err := s.newMember(g, r, false, func() (func(int) error, error) {
			spki, err := x509.MarshalPKIXPublicKey(&priv.PublicKey)
			if err != nil {
				return nil, err
			}
			k, err := opensslbench.ParsePublicKey(spki)
			if err != nil {
				return nil, err
			}
			s.closers = append(s.closers, k.Close)
			out, err := k.Wrap(c.Algorithm, mat, 1)
			if err != nil {
				return nil, err
			}
			if err := checkWrapped(priv, c.Algorithm, out, mat); err != nil {
				return nil, fmt.Errorf("OpenSSL: %w", err)
			}
			return func(n int) error {
				out, err := k.Wrap(c.Algorithm, mat, n)
				sink = out
				return err
			}, nil
		})
		if err != nil {
			return nil, err
		}
		if c == targetCase {
			s.targetOpenSSL = m
		}
	}
	for _, b := range s.hsms {
		if k := b.keys[c.KeySpec]; k == nil || !slices.Contains(k.algs, c.Algorithm) {
			continue
		}
		r := base
		r.Backend = b.cfg.Backend
		if _, err := s.hsmWrapMember(g, r, b, c); err != nil {
			return nil, err
		}
	}
	return g, nil
}

// cannedSource is a byok.KeySource whose answers are computed beforehand,
// so that an Import with it times byok.Importer's own work only.
type cannedSource struct {
	info    byok.KeyInfo
	wrapped []byte
}

// Describe returns the precomputed description.
func (c *cannedSource) Describe(context.Context) (byok.KeyInfo, error) { return c.info, nil }

// Wrap returns the precomputed wrapped material.
func (c *cannedSource) Wrap(context.Context, byok.ImportParameters) ([]byte, error) {
	return c.wrapped, nil
}

func (s *suite) importGroup(spec byok.KeySpec) (*group, error) {
	g := &group{name: OpImport + "/" + string(spec), weight: 1}
	ctx := context.Background()
	choice, err := byok.ChooseWrapping(spec, nil)
	if err != nil {
		return nil, err
	}
	im := &byok.Importer{SkipVerify: true}
	mat := fixtures.material[spec]
	priv := fixtures.wrapping[choice.WrappingKeySpec]
	base := Row{Operation: OpImport, Algorithm: choice.Algorithm, WrappingKeySpec: choice.WrappingKeySpec, KeySpec: spec,
		Backend: BackendGo, MaterialBytes: len(mat)}
	check := func(res *byok.Result, err error) error {
		if err != nil {
			return err
		}
		if res.KeyARN != NullKeyARN || res.Algorithm != choice.Algorithm || res.WrappingKeySpec != choice.WrappingKeySpec {
			return fmt.Errorf("unexpected import result %+v", res)
		}
		return nil
	}
	var src *software.Source
	newSource := func() error {
		if src != nil {
			return nil
		}
		m, err := byok.ParseKeyMaterial(spec, mat)
		if err != nil {
			return err
		}
		if src, err = software.New(m, software.Options{Label: "bench fixture " + string(spec)}); err != nil {
			m.Destroy()
			return err
		}
		s.closers = append(s.closers, func() { src.Close() })
		return nil
	}
	full, err := s.newMember(g, base, true, func() (func(int) error, error) {
		if err := newSource(); err != nil {
			return nil, err
		}
		// The target does not look at the blob: check it here, once.
		p, err := NullTarget{}.Prepare(ctx, byok.KeyInfo{}, choice.Algorithm, choice.WrappingKeySpec)
		if err != nil {
			return nil, err
		}
		out, err := src.Wrap(ctx, p)
		if err != nil {
			return nil, err
		}
		if err := checkWrapped(priv, choice.Algorithm, out, mat); err != nil {
			return nil, err
		}
		if err := check(im.Import(ctx, src, NullTarget{})); err != nil {
			return nil, err
		}
		return func(n int) error {
			for range n {
				if _, err := im.Import(ctx, src, NullTarget{}); err != nil {
					return err
				}
			}
			return nil
		}, nil
	})
	if err != nil {
		return nil, err
	}
	r := base
	r.Operation = OpImportOrchestration
	orch, err := s.newMember(g, r, true, func() (func(int) error, error) {
		if err := newSource(); err != nil {
			return nil, err
		}
		info, err := src.Describe(ctx)
		if err != nil {
			return nil, err
		}
		p, err := NullTarget{}.Prepare(ctx, info, choice.Algorithm, choice.WrappingKeySpec)
		if err != nil {
			return nil, err
		}
		wrapped, err := src.Wrap(ctx, p)
		if err != nil {
			return nil, err
		}
		cs := &cannedSource{info: info, wrapped: wrapped}
		if err := check(im.Import(ctx, cs, NullTarget{})); err != nil {
			return nil, err
		}
		return func(n int) error {
			for range n {
				if _, err := im.Import(ctx, cs, NullTarget{}); err != nil {
					return err
				}
			}
			return nil
		}, nil
	})
	if err != nil {
		return nil, err
	}
	if full != nil || orch != nil {
		s.imports = append(s.imports, importMembers{spec: spec, full: full, orch: orch,
			c: Case{choice.Algorithm, choice.WrappingKeySpec, spec}})
	}
	return g, nil
}

func (s *suite) comparisons() []Comparison {
	var out []Comparison
	add := func(name string, of, to *member, limit float64, note string) {
		if of == nil || to == nil {
			return
		}
		c := Comparison{Name: name, Of: of.row.Name, To: to.row.Name, Ratio: roundRatio(of, to), Limit: limit, Note: note}
		c.Met = limit > 0 && c.Ratio <= limit
		if c.Note == "" {
			c.Note = fmt.Sprintf("%s vs %s per operation", fmtNs(of.row.NsPerOp), fmtNs(to.row.NsPerOp))
		}
		out = append(out, c)
	}
	add("RFC 5649 wrap, 2375 B, AES-256: byok / OpenSSL EVP_aes_256_wrap_pad", s.kwp, s.kwpOpenSSL, LimitKWPvsOpenSSL, "")
	add("RSA_AES_KEY_WRAP_SHA_256, RSA_4096 wrapping key, RSA_4096 material: byok / OpenSSL", s.target, s.targetOpenSSL, LimitWrapVsOpenSSL, "")
	add("RFC 5649 wrap, 2375 B, AES-256: byok / its latency bound (6·n chained AES-256 blocks through crypto/aes)", s.kwp, s.bound, LimitKWPvsBound, "")
	for _, h := range s.hsmOverheads {
		if h.path == nil {
			continue
		}
		what := fmt.Sprintf("%s, %s wrapping key, %s", h.path.row.Algorithm, h.path.row.WrappingKeySpec, h.path.row.KeySpec)
		add(fmt.Sprintf("byok's PKCS#11 path (%s) / a bare C_WrapKey loop on the same session: %s", h.backend, what),
			h.path, h.bare, LimitHSMvsBare, "")
		add(fmt.Sprintf("byok's PKCS#11 path (%s) / the same loop importing the wrapping key around each C_WrapKey, as byok does: %s", h.backend, what),
			h.path, h.bareImport, 0, "")
	}
	for _, im := range s.imports {
		if im.full == nil || im.orch == nil {
			continue
		}
		note := fmt.Sprintf("byok.Importer's own work: %s (%d allocations) of %s per Import",
			fmtNs(im.orch.row.NsPerOp), im.orch.row.AllocsPerOp, fmtNs(im.full.row.NsPerOp))
		add(fmt.Sprintf("byok's own work in an Import of %s (%s, %s), excluding wrap and target", im.spec, im.c.Algorithm, im.c.WrappingKeySpec),
			im.orch, im.full, 0, note)
	}
	return out
}

// fmtNs formats a duration in nanoseconds with a unit that suits it.
func fmtNs(ns float64) string {
	switch a := max(ns, -ns); {
	case a >= 1e6:
		return fmt.Sprintf("%.2f ms", ns/1e6)
	case a >= 1e3:
		return fmt.Sprintf("%.1f µs", ns/1e3)
	default:
		return fmt.Sprintf("%.0f ns", ns)
	}
}
