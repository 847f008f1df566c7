//go:build byokfakecloud

// A byok built with -tags byokfakecloud (by TestMigrateKill9AcrossClouds
// only; never a release) has gcp and azure targets that keep their state
// in the directory BYOK_FAKE_CLOUD_DIR names, so that a migration into
// them can be killed with SIGKILL and resumed by another process. They
// really unwrap (crypto/rsa), keep the material per key, record every
// import in an append-only log, and say a key is ENABLED once its import
// is in that log.

package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/byok-go/byok"
	"github.com/byok-go/byok/migrate"
)

func init() {
	dir := os.Getenv("BYOK_FAKE_CLOUD_DIR")
	if dir == "" {
		return
	}
	for _, kind := range []string{migrate.KindGCP, migrate.KindAzure} {
		// In place of the real opener (package variables are set before
		// any init runs, so cloudTargets already holds it).
		cloudTargets[kind] = func(_ context.Context, spec migrate.CloudSpec) (migrate.CloudTarget, error) {
			priv, err := fakeCloudKey(dir)
			if err != nil {
				return nil, err
			}
			return &fakeCloudTarget{dir: dir, kind: kind, name: spec.Name(), priv: priv}, nil
		}
	}
}

// fakeCloudKey reads (or makes, once) the wrapping key pair.
func fakeCloudKey(dir string) (*rsa.PrivateKey, error) {
	p := filepath.Join(dir, "wrapping.key")
	if b, err := os.ReadFile(p); err == nil {
		k, err := x509.ParsePKCS8PrivateKey(b)
		if err != nil {
			return nil, err
		}
		return k.(*rsa.PrivateKey), nil
	}
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	b, _ := x509.MarshalPKCS8PrivateKey(k)
	tmp := p + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return nil, err
	}
	return k, os.Rename(tmp, p)
}

type fakeCloudTarget struct {
	dir, kind, name string
	priv            *rsa.PrivateKey
}

func (t *fakeCloudTarget) file(what string) string {
	h := sha256.Sum256([]byte(t.kind + ":" + t.name))
	return filepath.Join(t.dir, hex.EncodeToString(h[:8])+"."+what)
}

func (t *fakeCloudTarget) ChooseWrapping(info byok.KeyInfo, _ []byok.WrappingAlgorithm, _ byok.WrappingAlgorithm, _ byok.WrappingKeySpec) (byok.Choice, error) {
	if info.Spec != byok.SymmetricDefault {
		return byok.Choice{}, fmt.Errorf("%w: the fake cloud takes AES keys only", byok.ErrIncompatible)
	}
	return byok.Choice{Algorithm: byok.RSAESOAEPSHA256, WrappingKeySpec: byok.WrappingRSA2048, Reason: "the fake cloud"}, nil
}

func (t *fakeCloudTarget) Prepare(_ context.Context, _ byok.KeyInfo, alg byok.WrappingAlgorithm, wks byok.WrappingKeySpec) (byok.ImportParameters, error) {
	return byok.ImportParameters{KeyID: t.name, Algorithm: alg, WrappingKeySpec: wks, WrappingKey: &t.priv.PublicKey,
		ImportToken: []byte("job"), ValidTo: time.Now().Add(time.Hour)}, nil
}

// Import keeps the material (written whole, then renamed), waits a little
// (a cloud's latency, where kills land), then appends the import to the
// log: the import has happened once its line is there.
func (t *fakeCloudTarget) Import(_ context.Context, p byok.ImportParameters, wrapped []byte) (byok.Imported, error) {
	m, err := rsa.DecryptOAEP(sha256.New(), nil, t.priv, wrapped, nil)
	if err != nil {
		return byok.Imported{}, err
	}
	tmp := t.file("tmp")
	if err := os.WriteFile(tmp, m, 0o600); err != nil {
		return byok.Imported{}, err
	}
	if err := os.Rename(tmp, t.file("material")); err != nil {
		return byok.Imported{}, err
	}
	time.Sleep(30 * time.Millisecond)
	f, err := os.OpenFile(filepath.Join(t.dir, "imports.log"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return byok.Imported{}, err
	}
	defer f.Close()
	if _, err := f.WriteString(t.kind + " " + t.name + "\n"); err != nil {
		return byok.Imported{}, err
	}
	if err := f.Sync(); err != nil {
		return byok.Imported{}, err
	}
	time.Sleep(30 * time.Millisecond)
	return byok.Imported{KeyID: t.name}, nil
}

func (t *fakeCloudTarget) VerifyImport(_ context.Context, imp byok.Imported, info byok.KeyInfo, _ byok.KeySource) (byok.Verification, error) {
	var v byok.Verification
	m, err := os.ReadFile(t.file("material"))
	if err != nil {
		return v, err
	}
	km, err := byok.NewSecretKeyMaterial(byok.SymmetricDefault, m)
	if err != nil {
		return v, err
	}
	v.Add(byok.Check{Name: "the fake cloud holds the source's material", OK: km.Fingerprint() == info.Fingerprint, Identity: true})
	return v, nil
}

// KeyState is ENABLED once the key's import is in the log.
func (t *fakeCloudTarget) KeyState(_ context.Context, keyID string) (string, error) {
	b, err := os.ReadFile(filepath.Join(t.dir, "imports.log"))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return "", err
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if strings.TrimSpace(sc.Text()) == t.kind+" "+keyID {
			return "ENABLED", nil
		}
	}
	return "", fmt.Errorf("fake cloud: %s has no imported version", keyID)
}
