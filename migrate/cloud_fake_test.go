package migrate

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/byok-go/byok"
)

// fakeCloud is an in-test cloud (one kind: gcp or azure) behind the
// CloudTarget seam: it records every call with its time, really unwraps
// what it is sent (RSAES_OAEP_SHA_256, with crypto/rsa: not byok's code),
// keeps the material per key name, and proves an import by comparing the
// material's fingerprint with the source's.
type fakeCloud struct {
	kind string
	priv *rsa.PrivateKey

	mu       sync.Mutex
	calls    []fakeCall
	material map[string][]byte // by key name: what was imported
	state    map[string]string // by key name: overrides KeyState
	opened   int
	// hooks, when set, run inside a call (before it acts); an error is
	// the call's answer.
	onPrepare func(name string) error
	onImport  func(name string) error
	// onChoose, when set, may refuse a key by the cloud's rules
	// (ChooseWrapping); onVerify sees what VerifyImport is given and may
	// stop the proof (an error: UNPROVEN).
	onChoose func(name string) error
	onVerify func(name string, imp byok.Imported) error
	// throttle makes the next n Import calls answer "throttled".
	throttle int
}

type fakeCall struct {
	method, name string
	at           time.Time
}

type fakeThrottle struct{}

func (fakeThrottle) Error() string { return "fake: 429 Too Many Requests" }

func newFakeCloud(t testing.TB, kind string) *fakeCloud {
	t.Helper()
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return &fakeCloud{kind: kind, priv: priv, material: map[string][]byte{}, state: map[string]string{}}
}

func (c *fakeCloud) opener() TargetOpener {
	return func(_ context.Context, spec CloudSpec) (CloudTarget, error) {
		if spec.Kind != c.kind {
			return nil, fmt.Errorf("fake %s opener asked for %s", c.kind, spec.Kind)
		}
		c.mu.Lock()
		c.opened++
		c.mu.Unlock()
		return &fakeTarget{c: c, name: spec.Name()}, nil
	}
}

func (c *fakeCloud) record(method, name string) {
	c.mu.Lock()
	c.calls = append(c.calls, fakeCall{method, name, time.Now()})
	c.mu.Unlock()
}

// count returns the calls of method (for name, or all when name is "").
func (c *fakeCloud) count(method, name string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, k := range c.calls {
		if k.method == method && (name == "" || k.name == name) {
			n++
		}
	}
	return n
}

func (c *fakeCloud) times(method string) []time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []time.Time
	for _, k := range c.calls {
		if k.method == method {
			out = append(out, k.at)
		}
	}
	return out
}

type fakeTarget struct {
	c    *fakeCloud
	name string
}

var (
	_ CloudTarget        = (*fakeTarget)(nil)
	_ ThrottleClassifier = (*fakeTarget)(nil)
)

func (t *fakeTarget) ChooseWrapping(info byok.KeyInfo, can []byok.WrappingAlgorithm, alg byok.WrappingAlgorithm, wks byok.WrappingKeySpec) (byok.Choice, error) {
	if h := t.c.onChoose; h != nil {
		if err := h(t.name); err != nil {
			return byok.Choice{}, err
		}
	}
	if info.Spec != byok.SymmetricDefault {
		return byok.Choice{}, fmt.Errorf("%w: the fake %s target takes AES keys only", byok.ErrIncompatible, t.c.kind)
	}
	return byok.Choice{Algorithm: byok.RSAESOAEPSHA256, WrappingKeySpec: byok.WrappingRSA2048, Reason: "the fake's rule"}, nil
}

func (t *fakeTarget) Prepare(_ context.Context, _ byok.KeyInfo, alg byok.WrappingAlgorithm, wks byok.WrappingKeySpec) (byok.ImportParameters, error) {
	t.c.record("Prepare", t.name)
	if h := t.c.onPrepare; h != nil {
		if err := h(t.name); err != nil {
			return byok.ImportParameters{}, err
		}
	}
	return byok.ImportParameters{KeyID: t.name, Algorithm: alg, WrappingKeySpec: wks, WrappingKey: &t.c.priv.PublicKey,
		ImportToken: []byte("import-job-for-" + t.name), ValidTo: time.Now().Add(time.Hour)}, nil
}

func (t *fakeTarget) Import(_ context.Context, p byok.ImportParameters, wrapped []byte) (byok.Imported, error) {
	t.c.mu.Lock()
	if t.c.throttle > 0 {
		t.c.throttle--
		t.c.calls = append(t.c.calls, fakeCall{"Throttled", t.name, time.Now()})
		t.c.mu.Unlock()
		return byok.Imported{}, fakeThrottle{}
	}
	t.c.mu.Unlock()
	if p.KeyID != t.name || string(p.ImportToken) != "import-job-for-"+t.name {
		return byok.Imported{}, errors.New("fake: parameters of another key")
	}
	material, err := rsa.DecryptOAEP(sha256.New(), nil, t.c.priv, wrapped, nil)
	if err != nil {
		return byok.Imported{}, fmt.Errorf("fake: unwrapping: %w", err)
	}
	t.c.record("Import", t.name)
	t.c.mu.Lock()
	t.c.material[t.name] = material
	version := fmt.Sprintf("%s/versions/%d", t.name, t.c.count0("Import", t.name))
	t.c.mu.Unlock()
	if h := t.c.onImport; h != nil {
		if err := h(t.name); err != nil {
			return byok.Imported{}, err
		}
	}
	// Named as the real targets name it: Cloud KMS's gcpkms the version in
	// KeyARN, Key Vault's azkv the versioned key id in KeyID and KeyARN.
	if t.c.kind == KindAzure {
		return byok.Imported{KeyID: version, KeyARN: version, Algorithm: p.Algorithm}, nil
	}
	return byok.Imported{KeyID: t.name, KeyARN: version, Algorithm: p.Algorithm}, nil
}

// count0 is count with c.mu held.
func (c *fakeCloud) count0(method, name string) int {
	n := 0
	for _, k := range c.calls {
		if k.method == method && k.name == name {
			n++
		}
	}
	return n
}

func (t *fakeTarget) VerifyImport(_ context.Context, imp byok.Imported, info byok.KeyInfo, _ byok.KeySource) (byok.Verification, error) {
	t.c.record("Verify", t.name)
	var v byok.Verification
	if h := t.c.onVerify; h != nil {
		if err := h(t.name, imp); err != nil {
			return v, err
		}
	}
	name, _, _ := strings.Cut(imp.KeyID, "/versions/")
	t.c.mu.Lock()
	m := t.c.material[name]
	t.c.mu.Unlock()
	if m == nil {
		return v, fmt.Errorf("fake: no key %s", imp.KeyID)
	}
	km, err := byok.NewSecretKeyMaterial(byok.SymmetricDefault, m)
	if err != nil {
		return v, err
	}
	v.Add(byok.Check{Name: "the fake holds the source's material", OK: km.Fingerprint() == info.Fingerprint, Identity: true})
	// A verdict the migration must not trust: it settles from the checks.
	v.Verdict, v.Verified = byok.VerdictPassed, true
	return v, nil
}

func (t *fakeTarget) KeyState(_ context.Context, keyID string) (string, error) {
	t.c.record("KeyState", keyID)
	// A version (Import's KeyMaterialID) is read as its key.
	keyID, _, _ = strings.Cut(keyID, "/versions/")
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	if s := t.c.state[keyID]; s != "" {
		return s, nil
	}
	if t.c.material[keyID] == nil {
		return "", fmt.Errorf("fake: no key %s", keyID)
	}
	if t.c.kind == KindGCP {
		return "ENABLED", nil
	}
	return "Enabled", nil
}

func (t *fakeTarget) IsThrottled(err error) bool { return errors.As(err, new(fakeThrottle)) }
