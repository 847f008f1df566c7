// Package fleettest writes synthetic fleets for tests and benchmarks of
// package migrate: software key files of several types and a manifest that
// moves them into several Regions, some as multi-Region keys.
//
// The keys are fresh random TEST keys written to a directory of the
// caller's; never use them for anything real.
package fleettest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Options shape a fleet. The zero value gives single-Region symmetric,
// HMAC and EC keys in us-east-1.
type Options struct {
	// ID is the migration ID; empty: "fleet".
	ID string
	// Regions are the Regions keys are spread over, round robin; empty:
	// us-east-1.
	Regions []string
	// MultiRegionEvery makes every n-th key a multi-Region key, primary
	// in its Region and replicated to every other Region; 0: none.
	MultiRegionEvery int
	// RSAEvery makes every n-th key an RSA-2048 signing key (all share
	// one key pair, generated once); 0: none.
	RSAEvery int
	// Aliases gives every key an alias.
	Aliases bool
	// JSON writes manifest.json instead of manifest.yaml.
	JSON bool
	// Extra is appended to every key's target (YAML only), e.g.
	// "valid_to: +30d".
	Extra string
}

// Write writes n keys and a manifest into dir and returns the manifest's
// path.
func Write(dir string, n int, o Options) (string, error) {
	if o.ID == "" {
		o.ID = "fleet"
	}
	if len(o.Regions) == 0 {
		o.Regions = []string{"us-east-1"}
	}
	kd := filepath.Join(dir, "keys")
	if err := os.MkdirAll(kd, 0o700); err != nil {
		return "", err
	}
	var rsaPath string
	if o.RSAEvery > 0 {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			return "", err
		}
		der, _ := x509.MarshalPKCS8PrivateKey(k)
		rsaPath = filepath.Join(kd, "rsa2048.pem")
		if err := os.WriteFile(rsaPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
			return "", err
		}
	}
	type entry struct {
		Name    string         `json:"name"`
		Source  map[string]any `json:"source"`
		Target  map[string]any `json:"target"`
		Options map[string]any `json:"options,omitempty"`
	}
	entries := make([]entry, 0, n)
	for i := range n {
		name := fmt.Sprintf("key-%05d", i)
		region := o.Regions[i%len(o.Regions)]
		src := map[string]any{}
		tgt := map[string]any{"region": region}
		mr := o.MultiRegionEvery > 0 && i%o.MultiRegionEvery == 0 && len(o.Regions) > 1
		switch {
		case o.RSAEvery > 0 && i%o.RSAEvery == 1%o.RSAEvery:
			src["key"] = "keys/rsa2048.pem"
		case mr || i%3 == 0:
			p := filepath.Join(kd, name+".aes.hex")
			if err := writeSecret(p, 32); err != nil {
				return "", err
			}
			src["key"], src["key_spec"] = "keys/"+name+".aes.hex", "SYMMETRIC_DEFAULT"
		case i%3 == 1:
			p := filepath.Join(kd, name+".hmac.hex")
			if err := writeSecret(p, 32); err != nil {
				return "", err
			}
			src["key"], src["key_spec"] = "keys/"+name+".hmac.hex", "HMAC_256"
		default:
			k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
			if err != nil {
				return "", err
			}
			der, _ := x509.MarshalPKCS8PrivateKey(k)
			if err := os.WriteFile(filepath.Join(kd, name+".p256.pem"), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
				return "", err
			}
			src["key"] = "keys/" + name + ".p256.pem"
		}
		if mr {
			tgt["multi_region"] = true
			var reps []string
			for _, r := range o.Regions {
				if r != region {
					reps = append(reps, r)
				}
			}
			tgt["replica_regions"] = reps
		}
		if o.Aliases {
			tgt["alias"] = "alias/" + o.ID + "/" + name
		}
		entries = append(entries, entry{Name: name, Source: src, Target: tgt})
	}
	if o.JSON {
		b, err := json.MarshalIndent(map[string]any{"version": 1, "id": o.ID, "keys": entries}, "", "  ")
		if err != nil {
			return "", err
		}
		p := filepath.Join(dir, "manifest.json")
		return p, os.WriteFile(p, b, 0o600)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# A synthetic fleet of %d TEST keys (package fleettest).\nversion: 1\nid: %s\nkeys:\n", n, o.ID)
	for _, e := range entries {
		fmt.Fprintf(&b, "  - name: %s\n    source:\n", e.Name)
		for _, k := range []string{"key", "key_spec"} {
			if v, ok := e.Source[k]; ok {
				fmt.Fprintf(&b, "      %s: %v\n", k, v)
			}
		}
		fmt.Fprintf(&b, "    target:\n      region: %s\n", e.Target["region"])
		if e.Target["multi_region"] == true {
			fmt.Fprintf(&b, "      multi_region: true\n      replica_regions: [%s]\n", strings.Join(e.Target["replica_regions"].([]string), ", "))
		}
		if a, ok := e.Target["alias"]; ok {
			fmt.Fprintf(&b, "      alias: %s\n", a)
		}
		if o.Extra != "" {
			fmt.Fprintf(&b, "      %s\n", o.Extra)
		}
	}
	p := filepath.Join(dir, "manifest.yaml")
	return p, os.WriteFile(p, []byte(b.String()), 0o600)
}

func writeSecret(path string, n int) error {
	b := make([]byte, n)
	rand.Read(b)
	defer clear(b)
	return os.WriteFile(path, []byte(hex.EncodeToString(b)+"\n"), 0o600)
}
