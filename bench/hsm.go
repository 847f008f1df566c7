//go:build cgo

package bench

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strconv"

	"github.com/miekg/pkcs11"

	"github.com/byok-go/byok"
	"github.com/byok-go/byok/driver"
	"github.com/byok-go/byok/driver/opencryptoki"
	"github.com/byok-go/byok/driver/softhsm"
	"github.com/byok-go/byok/hsm"
)

func (h HSM) profile() (*hsm.Profile, error) {
	switch h.Backend {
	case BackendSoftHSM:
		return &softhsm.Profile, nil
	case BackendOpenCryptoki:
		return &opencryptoki.Profile, nil
	}
	return nil, fmt.Errorf("bench: %q is not a PKCS#11 backend; want %s or %s", h.Backend, BackendSoftHSM, BackendOpenCryptoki)
}

// ThrowawaySoftHSM makes a SoftHSM 2 token for a run: a configuration and
// token directory in dir, and a token labelled "byok-bench" with random
// PINs. SoftHSM reads its configuration when the library is loaded, so
// this sets SOFTHSM2_CONF for the whole process and loads the library; the
// function returned unloads it (when no one else holds it) and restores
// SOFTHSM2_CONF. Call it before anything in the process loads SoftHSM:
// otherwise the token is made in the configuration already loaded.
func ThrowawaySoftHSM(dir string) (HSM, func() error, error) {
	path, err := softhsm.Profile.DefaultModule()
	if err != nil {
		return HSM{}, nil, err
	}
	tokens := filepath.Join(dir, "tokens")
	if err := os.MkdirAll(tokens, 0o700); err != nil {
		return HSM{}, nil, err
	}
	conf := filepath.Join(dir, "softhsm2.conf")
	body := fmt.Sprintf("directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n", tokens)
	if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
		return HSM{}, nil, err
	}
	old, had := os.LookupEnv("SOFTHSM2_CONF")
	restore := func() {
		if had {
			os.Setenv("SOFTHSM2_CONF", old)
		} else {
			os.Unsetenv("SOFTHSM2_CONF")
		}
	}
	if err := os.Setenv("SOFTHSM2_CONF", conf); err != nil {
		return HSM{}, nil, err
	}
	m, err := hsm.OpenModule(path)
	if err != nil {
		restore()
		return HSM{}, nil, err
	}
	release := func() error {
		err := m.Close()
		restore()
		return err
	}
	soPIN, userPIN := randomPIN(), randomPIN()
	const label = "byok-bench"
	if err := initSoftHSMToken(m, label, soPIN, userPIN); err != nil {
		release()
		return HSM{}, nil, err
	}
	pin := driver.PINFunc(func(context.Context) ([]byte, error) { return []byte(userPIN), nil })
	return HSM{Backend: BackendSoftHSM, Module: path, Token: label, PIN: pin}, release, nil
}

func randomPIN() string {
	b := make([]byte, 8)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// initSoftHSMToken initialises a token in SoftHSM's free slot and sets its
// user PIN (C_InitToken, C_Login as SO, C_InitPIN).
func initSoftHSMToken(m *hsm.Module, label, soPIN, userPIN string) error {
	ctx, ok := m.API().(*pkcs11.Ctx)
	if !ok {
		return errors.New("bench: SoftHSM is not a loaded PKCS#11 library")
	}
	toks, err := m.Tokens()
	if err != nil {
		return err
	}
	free := -1
	for _, t := range toks {
		if t.Label == label && t.Initialized() {
			return fmt.Errorf("bench: SoftHSM already has a token labelled %q", label)
		}
		if !t.Initialized() && free < 0 {
			free = int(t.Slot)
		}
	}
	if free < 0 {
		return errors.New("bench: SoftHSM has no free slot")
	}
	if err := ctx.InitToken(uint(free), soPIN, label); err != nil {
		return fmt.Errorf("bench: SoftHSM C_InitToken: %w", err)
	}
	info, err := m.FindToken(hsm.TokenSelector{Label: label}) // SoftHSM renumbers the slot
	if err != nil {
		return err
	}
	sh, err := ctx.OpenSession(info.Slot, pkcs11.CKF_SERIAL_SESSION|pkcs11.CKF_RW_SESSION)
	if err != nil {
		return fmt.Errorf("bench: SoftHSM C_OpenSession: %w", err)
	}
	defer ctx.CloseSession(sh)
	if err := ctx.Login(sh, pkcs11.CKU_SO, soPIN); err != nil {
		return fmt.Errorf("bench: SoftHSM C_Login as SO: %w", err)
	}
	defer ctx.Logout(sh)
	if err := ctx.InitPIN(sh, userPIN); err != nil {
		return fmt.Errorf("bench: SoftHSM C_InitPIN: %w", err)
	}
	return nil
}

// hsmBackend is an HSM set up for a run.
type hsmBackend struct {
	cfg  HSM
	prof *hsm.Profile
	keys map[byok.KeySpec]*hsmKey
}

// hsmKey is a fixture key in the token, opened through byok's driver.
type hsmKey struct {
	src  driver.Source
	hs   *hsm.Source
	algs []byok.WrappingAlgorithm
}

// setupHSM loads the module, opens the token, puts the fixture keys in
// and opens them with the driver. What cannot be measured (a key the
// module refuses, a spec it cannot wrap for KMS) goes into the notes.
func (s *suite) setupHSM(ctx context.Context, cfg HSM, env *Environment) (*hsmBackend, error) {
	prof, err := cfg.profile()
	if err != nil {
		return nil, err
	}
	path := cfg.Module
	if path == "" {
		if path, err = prof.DefaultModule(); err != nil {
			return nil, err
		}
	}
	mod, err := hsm.OpenModule(path)
	if err != nil {
		return nil, err
	}
	s.closers = append(s.closers, func() { mod.Close() })
	if info, err := mod.Info(); err == nil {
		env.Modules = append(env.Modules, Module{
			Name: fmt.Sprintf("%s (%s, %s, PKCS#11 %d.%d)", path, trimPad(info.ManufacturerID), trimPad(info.LibraryDescription),
				info.CryptokiVersion.Major, info.CryptokiVersion.Minor),
			Version: fmt.Sprintf("%d.%d", info.LibraryVersion.Major, info.LibraryVersion.Minor)})
	}
	// This token holds the fixture keys: they are session objects of its
	// sessions, so it stays open until the run ends (closers run in
	// reverse, after the sources).
	tok, err := mod.OpenToken(ctx, hsm.TokenSelector{Label: cfg.Token}, hsm.TokenOptions{PIN: cfg.PIN, Profile: prof})
	if err != nil {
		return nil, err
	}
	s.closers = append(s.closers, func() { tok.Close() })
	b := &hsmBackend{cfg: cfg, prof: prof, keys: map[byok.KeySpec]*hsmKey{}}
	tag := randomPIN()
	for _, spec := range byok.KeySpecs() {
		mat := fixtures.material[spec]
		label := "byok-bench-" + string(spec) + "-" + tag
		err := tok.WithSession(ctx, func(sh pkcs11.SessionHandle) error {
			return createFixtureKey(mod.API(), sh, spec, mat, label)
		})
		if err != nil {
			s.notes = append(s.notes, fmt.Sprintf("%s: %s: not measured: the module did not take the key: %v", cfg.Backend, spec, err))
			continue
		}
		dc := driver.Config{Module: path, Token: cfg.Token, Key: "label=" + label, PIN: cfg.PIN, KeySpec: spec}
		if spec.Kind() == byok.KindRSA {
			dc.Options = map[string]string{"material-length": strconv.Itoa(len(mat))}
		}
		src, err := driver.Open(ctx, cfg.Backend, dc)
		if err != nil {
			s.notes = append(s.notes, fmt.Sprintf("%s: %s: not measured: %v", cfg.Backend, spec, err))
			continue
		}
		s.closers = append(s.closers, func() { src.Close() })
		hs, ok := src.(*hsm.Source)
		if !ok {
			return nil, fmt.Errorf("bench: the %s driver returned a %T, not an *hsm.Source", cfg.Backend, src)
		}
		algs, err := hs.WrappingAlgorithms(ctx)
		if err != nil {
			s.notes = append(s.notes, fmt.Sprintf("%s: %s: not measured: %v", cfg.Backend, spec, err))
			continue
		}
		b.keys[spec] = &hsmKey{src: src, hs: hs, algs: algs}
	}
	return b, nil
}

func trimPad(s string) string {
	for len(s) > 0 && (s[len(s)-1] == ' ' || s[len(s)-1] == 0) {
		s = s[:len(s)-1]
	}
	return s
}

// createFixtureKey creates the fixture key of spec as an extractable,
// sensitive session object labelled label (and, for EC keys, its public
// key object, which PKCS#11 keeps apart).
func createFixtureKey(api hsm.PKCS11, sh pkcs11.SessionHandle, spec byok.KeySpec, mat []byte, label string) error {
	id := []byte(label)
	common := []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_TOKEN, false),
		pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, true),
		pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, true),
		pkcs11.NewAttribute(pkcs11.CKA_EXTRACTABLE, true),
		pkcs11.NewAttribute(pkcs11.CKA_SIGN, true),
		pkcs11.NewAttribute(pkcs11.CKA_LABEL, label),
		pkcs11.NewAttribute(pkcs11.CKA_ID, id),
	}
	var tmpl, pub []*pkcs11.Attribute
	switch spec.Kind() {
	case byok.KindSymmetric:
		tmpl = append(common, pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_SECRET_KEY),
			pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_AES), pkcs11.NewAttribute(pkcs11.CKA_VALUE, mat),
			pkcs11.NewAttribute(pkcs11.CKA_ENCRYPT, true), pkcs11.NewAttribute(pkcs11.CKA_DECRYPT, true))
	case byok.KindHMAC:
		tmpl = append(common, pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_SECRET_KEY),
			pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_GENERIC_SECRET), pkcs11.NewAttribute(pkcs11.CKA_VALUE, mat))
	case byok.KindRSA:
		k, err := x509.ParsePKCS8PrivateKey(mat)
		if err != nil {
			return err
		}
		rk, ok := k.(*rsa.PrivateKey)
		if !ok || len(rk.Primes) != 2 {
			return errors.New("bench: the RSA fixture is not a two-prime RSA key")
		}
		tmpl = append(common, pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_PRIVATE_KEY),
			pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_RSA),
			pkcs11.NewAttribute(pkcs11.CKA_DECRYPT, true),
			pkcs11.NewAttribute(pkcs11.CKA_MODULUS, rk.N.Bytes()),
			pkcs11.NewAttribute(pkcs11.CKA_PUBLIC_EXPONENT, big.NewInt(int64(rk.E)).Bytes()),
			pkcs11.NewAttribute(pkcs11.CKA_PRIVATE_EXPONENT, rk.D.Bytes()),
			pkcs11.NewAttribute(pkcs11.CKA_PRIME_1, rk.Primes[0].Bytes()),
			pkcs11.NewAttribute(pkcs11.CKA_PRIME_2, rk.Primes[1].Bytes()),
			pkcs11.NewAttribute(pkcs11.CKA_EXPONENT_1, rk.Precomputed.Dp.Bytes()),
			pkcs11.NewAttribute(pkcs11.CKA_EXPONENT_2, rk.Precomputed.Dq.Bytes()),
			pkcs11.NewAttribute(pkcs11.CKA_COEFFICIENT, rk.Precomputed.Qinv.Bytes()))
	case byok.KindEC:
		params, d, point, err := parseECFixture(mat)
		if err != nil {
			return err
		}
		tmpl = append(common, pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_PRIVATE_KEY),
			pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_EC),
			pkcs11.NewAttribute(pkcs11.CKA_EC_PARAMS, params), pkcs11.NewAttribute(pkcs11.CKA_VALUE, d))
		octets, err := asn1.Marshal(point)
		if err != nil {
			return err
		}
		pub = []*pkcs11.Attribute{
			pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_PUBLIC_KEY),
			pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_EC),
			pkcs11.NewAttribute(pkcs11.CKA_TOKEN, false),
			pkcs11.NewAttribute(pkcs11.CKA_VERIFY, true),
			pkcs11.NewAttribute(pkcs11.CKA_EC_PARAMS, params),
			pkcs11.NewAttribute(pkcs11.CKA_EC_POINT, octets),
			pkcs11.NewAttribute(pkcs11.CKA_LABEL, label),
			pkcs11.NewAttribute(pkcs11.CKA_ID, id),
		}
	default:
		return fmt.Errorf("bench: no PKCS#11 form for %s", spec)
	}
	h, err := api.CreateObject(sh, tmpl)
	if err != nil {
		return fmt.Errorf("C_CreateObject: %w", err)
	}
	if pub != nil {
		if _, err := api.CreateObject(sh, pub); err != nil {
			api.DestroyObject(sh, h)
			return fmt.Errorf("C_CreateObject of the public key: %w", err)
		}
	}
	return nil
}

// parseECFixture splits KMS-form EC PKCS#8 into CKA_EC_PARAMS (the named
// curve's OID, DER), the private scalar and the uncompressed public point.
func parseECFixture(der []byte) (params, d, point []byte, err error) {
	var pki struct {
		Version int
		Algo    struct {
			Algorithm asn1.ObjectIdentifier
			Params    asn1.RawValue
		}
		PrivateKey []byte
	}
	if _, err := asn1.Unmarshal(der, &pki); err != nil {
		return nil, nil, nil, fmt.Errorf("bench: the EC fixture: %w", err)
	}
	var ec struct {
		Version    int
		PrivateKey []byte
		Params     asn1.RawValue  `asn1:"optional,explicit,tag:0"`
		Public     asn1.BitString `asn1:"optional,explicit,tag:1"`
	}
	if _, err := asn1.Unmarshal(pki.PrivateKey, &ec); err != nil {
		return nil, nil, nil, fmt.Errorf("bench: the EC fixture's ECPrivateKey: %w", err)
	}
	if len(ec.Public.Bytes) == 0 {
		return nil, nil, nil, errors.New("bench: the EC fixture has no public key")
	}
	return pki.Algo.Params.FullBytes, ec.PrivateKey, ec.Public.Bytes, nil
}

// importParams are the import parameters of case c with the fixture
// wrapping key.
func importParams(c Case) byok.ImportParameters {
	return byok.ImportParameters{KeyID: NullKeyARN, Algorithm: c.Algorithm, WrappingKeySpec: c.WrappingKeySpec,
		WrappingKey: &fixtures.wrapping[c.WrappingKeySpec].PublicKey, ImportToken: nullToken}
}

// hsmWrapMember adds the row of backend b wrapping case c through byok's
// driver (Source.Wrap), after checking one output.
func (s *suite) hsmWrapMember(g *group, r Row, b *hsmBackend, c Case) (*member, error) {
	k := b.keys[c.KeySpec]
	ctx := context.Background()
	p := importParams(c)
	priv := fixtures.wrapping[c.WrappingKeySpec]
	mat := fixtures.material[c.KeySpec]
	return s.newMember(g, r, true, func() (func(int) error, error) {
		out, err := k.src.Wrap(ctx, p)
		if err != nil {
			return nil, err
		}
		if err := checkWrapped(priv, c.Algorithm, out, mat); err != nil {
			return nil, fmt.Errorf("%s: %w", b.cfg.Backend, err)
		}
		return func(n int) error {
			for range n {
				out, err := k.src.Wrap(ctx, p)
				if err != nil {
					return err
				}
				sink = out
			}
			return nil
		}, nil
	})
}

// hsmOverheadGroup compares, for backend b, byok's HSM path (Source.Wrap of
// SYMMETRIC_DEFAULT under RSA_4096 with the module's first RSAES_OAEP
// algorithm) with a bare C_WrapKey loop of the same wrap on a session of
// the same pool, the wrapping key imported once, and with the same loop
// importing and destroying the wrapping key around each call, as byok does.
func (s *suite) hsmOverheadGroup(b *hsmBackend) (*group, *hsmOverhead, error) {
	k := b.keys[byok.SymmetricDefault]
	if k == nil {
		return nil, nil, nil
	}
	var alg byok.WrappingAlgorithm
	for _, a := range k.algs {
		if !a.IsKeyWrap() {
			alg = a
			break
		}
	}
	if alg == "" {
		return nil, nil, nil
	}
	c := Case{alg, byok.WrappingRSA4096, byok.SymmetricDefault}
	g := &group{name: "PKCS#11 path overhead/" + b.cfg.Backend, weight: 5}
	base := Row{Operation: OpHSMWrap, Algorithm: c.Algorithm, WrappingKeySpec: c.WrappingKeySpec, KeySpec: c.KeySpec,
		Backend: b.cfg.Backend, MaterialBytes: len(fixtures.material[c.KeySpec])}
	path, err := s.hsmWrapMember(g, base, b, c)
	if err != nil {
		return nil, nil, err
	}
	r := base
	r.Operation = OpCWrapKey
	priv := fixtures.wrapping[c.WrappingKeySpec]
	mat := fixtures.material[c.KeySpec]
	ctx := context.Background()
	tok := k.hs.Token()
	api := tok.Module().API()
	key := k.hs.Key().Handle
	hash := pkcs11.NewOAEPParams(pkcs11.CKM_SHA_1, pkcs11.CKG_MGF1_SHA1, pkcs11.CKZ_DATA_SPECIFIED, nil)
	if alg.Hash().Size() == 32 {
		hash = pkcs11.NewOAEPParams(pkcs11.CKM_SHA256, pkcs11.CKG_MGF1_SHA256, pkcs11.CKZ_DATA_SPECIFIED, nil)
	}
	mech := []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_RSA_PKCS_OAEP, hash)}
	tmpl := []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_PUBLIC_KEY),
		pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_RSA),
		pkcs11.NewAttribute(pkcs11.CKA_TOKEN, false),
		pkcs11.NewAttribute(pkcs11.CKA_WRAP, true),
		pkcs11.NewAttribute(pkcs11.CKA_MODULUS, priv.N.Bytes()),
		pkcs11.NewAttribute(pkcs11.CKA_PUBLIC_EXPONENT, big.NewInt(int64(priv.E)).Bytes()),
	}
	if b.prof.WrappingKeyEncrypt {
		tmpl = append(tmpl, pkcs11.NewAttribute(pkcs11.CKA_ENCRYPT, true))
	}
	// loop runs n C_WrapKey calls in one session, the wrapping key made once.
	loop := func(n int) ([]byte, error) {
		var out []byte
		err := tok.WithSession(ctx, func(sh pkcs11.SessionHandle) error {
			wk, err := api.CreateObject(sh, tmpl)
			if err != nil {
				return fmt.Errorf("C_CreateObject: %w", err)
			}
			defer api.DestroyObject(sh, wk)
			for range n {
				if out, err = api.WrapKey(sh, mech, wk, key); err != nil {
					return fmt.Errorf("C_WrapKey: %w", err)
				}
			}
			return nil
		})
		return out, err
	}
	bare, err := s.newMember(g, r, true, func() (func(int) error, error) {
		out, err := loop(1)
		if err != nil {
			return nil, err
		}
		if err := checkWrapped(priv, alg, out, mat); err != nil {
			return nil, fmt.Errorf("%s: bare C_WrapKey: %w", b.cfg.Backend, err)
		}
		return func(n int) error {
			out, err := loop(n)
			sink = out
			return err
		}, nil
	})
	if err != nil {
		return nil, nil, err
	}
	r.Operation = OpCWrapKeyImport
	bareImport, err := s.newMember(g, r, true, func() (func(int) error, error) {
		return func(n int) error {
			return tok.WithSession(ctx, func(sh pkcs11.SessionHandle) error {
				for range n {
					wk, err := api.CreateObject(sh, tmpl)
					if err != nil {
						return fmt.Errorf("C_CreateObject: %w", err)
					}
					out, err := api.WrapKey(sh, mech, wk, key)
					if derr := api.DestroyObject(sh, wk); err == nil && derr != nil {
						err = fmt.Errorf("C_DestroyObject: %w", derr)
					}
					if err != nil {
						return err
					}
					sink = out
				}
				return nil
			})
		}, nil
	})
	if err != nil {
		return nil, nil, err
	}
	return g, &hsmOverhead{b.cfg.Backend, path, bare, bareImport}, nil
}
