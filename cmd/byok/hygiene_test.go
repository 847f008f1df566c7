package main

// Secret hygiene: every command and flow runs with known secrets (key
// material, an encrypted file's passphrase, an HSM PIN), and every byte
// byok writes — stdout, stderr, the emulator's request log, every file it
// creates — is searched for those secrets in raw, hex and base64 form,
// whole or any 16-byte piece of them. There must be no hit.
//
// Not searched, by design: the emulator's --state directory (a test KMS
// keeps the material it imported) and SoftHSM's own token files.

import (
	"bytes"
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/byok-go/byok"
	"github.com/byok-go/byok/gcpkms/gcpkmstest"
	"github.com/byok-go/byok/internal/testenv"
)

// secret is one known secret and the forms it could leak in.
type secret struct {
	name    string
	needles [][]byte
}

const window = 16

func newSecret(name string, b []byte) secret {
	s := secret{name: name}
	add := func(n []byte) { s.needles = append(s.needles, n) }
	for i := 0; i+window <= len(b) || (i == 0 && len(b) < window); i++ {
		w := b[i:min(i+window, len(b))]
		add(w)
		add([]byte(hex.EncodeToString(w)))
		add([]byte(strings.ToUpper(hex.EncodeToString(w))))
		if i+window > len(b) {
			break
		}
	}
	// Base64 of any part, at every alignment: 20 characters are 15 bytes.
	for a := 0; a < 3 && a < len(b); a++ {
		for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawURLEncoding} {
			e := enc.EncodeToString(b[a:])
			for j := 0; j+20 <= len(e); j += 4 {
				add([]byte(e[j : j+20]))
			}
			if len(e) < 20 {
				add([]byte(strings.TrimRight(e, "=")))
			}
		}
	}
	return s
}

func (s secret) find(haystack []byte) string {
	for _, n := range s.needles {
		if len(n) > 0 && bytes.Contains(haystack, n) {
			return fmt.Sprintf("%q", n)
		}
	}
	return ""
}

type hygiene struct {
	t       *testing.T
	secrets []secret
	checked int
}

func (h *hygiene) check(where string, b []byte) {
	h.t.Helper()
	h.checked++
	for _, s := range h.secrets {
		if hit := s.find(b); hit != "" {
			h.t.Errorf("%s contains %s (%s)", where, s.name, hit)
		}
	}
}

func (h *hygiene) run(env []string, want int, args ...string) result {
	h.t.Helper()
	r := runByok(h.t, env, args...)
	if want >= 0 && r.code != want {
		h.t.Errorf("byok %s: want exit %d, got %s", strings.Join(args, " "), want, r)
	}
	h.check("stdout of byok "+strings.Join(args, " "), []byte(r.stdout))
	h.check("stderr of byok "+strings.Join(args, " "), []byte(r.stderr))
	return r
}

func (h *hygiene) checkTree(dir string) {
	h.t.Helper()
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			h.t.Errorf("reading %s: %v", p, err)
			return nil
		}
		h.check(p, b)
		return nil
	})
}

func TestSecretHygiene(t *testing.T) {
	url, logs := startEmulator(t)
	h := &hygiene{t: t}
	material := func(file string, opts byok.LoadOptions) []byte {
		b, err := os.ReadFile(keyFile(file))
		if err != nil {
			t.Fatal(err)
		}
		m, err := byok.LoadKeyFile(b, opts)
		if err != nil {
			t.Fatal(err)
		}
		return m.Bytes()
	}
	const passphrase = "byok-test-passphrase" // testdata/gen-keys.sh
	h.secrets = []secret{
		newSecret("the AES key", material("aes256.bin", byok.LoadOptions{KeySpec: byok.SymmetricDefault})),
		newSecret("the HMAC_512 key", material("hmac512.bin", byok.LoadOptions{KeySpec: byok.HMAC512})),
		newSecret("the passphrase", []byte(passphrase)),
	}
	// Of asymmetric keys, the private numbers are secret; the PKCS#8
	// headers and algorithm identifiers are not (the public key shares them).
	for _, f := range []string{"rsa2048.pkcs8.der", "p256.pkcs8.der", "secp256k1.pkcs8.der", "p384.pkcs8.der"} {
		for i, part := range privateParts(t, material(f, byok.LoadOptions{})) {
			h.secrets = append(h.secrets, newSecret(fmt.Sprintf("private number %d of %s", i, f), part))
		}
	}
	env := emulatorEnv(t, url, "BYOK_HYG_PASS="+passphrase, "BYOK_HYG_WRONG=not-the-passphrase")
	offline := cleanEnv(t)
	offlinePass := cleanEnv(t, "BYOK_HYG_PASS="+passphrase)
	work := t.TempDir()

	// One-shot imports, human and JSON, of every kind of secret.
	for _, src := range [][]string{
		{keyFile("aes256.bin"), "--key-spec", "SYMMETRIC_DEFAULT"},
		{keyFile("hmac512.hex"), "--key-spec", "HMAC_512"},
		{keyFile("rsa2048.pkcs1.pem")},
		{keyFile("p256.sec1.pem")},
		{keyFile("secp256k1.pkcs8.pem")},
		{keyFile("p384.enc.pem"), "--passphrase-env", "BYOK_HYG_PASS"},
	} {
		h.run(env, 0, append([]string{"import"}, src...)...)
		h.run(env, 0, append([]string{"import", "--json"}, src...)...)
		h.run(env, 0, append([]string{"import", "--dry-run"}, src...)...)
		h.run(offlinePass, 0, append([]string{"inspect"}, src...)...)
		h.run(offlinePass, 0, append([]string{"inspect", "--json"}, src...)...)
	}
	// Failures carry no secret either.
	h.run(env, 1, "import", keyFile("p384.enc.pem"), "--passphrase-env", "BYOK_HYG_WRONG")
	h.run(env, -1, "import", keyFile("aes256.bin"), "--key-spec", "HMAC_384")
	h.run(env, -1, "import", keyFile("rsa2048.pkcs8.pem"), "--algorithm", "RSAES_OAEP_SHA_256")

	// The offline flow, and every file it writes.
	params := filepath.Join(work, "params")
	h.run(env, 0, "params", "--out", params, keyFile("p256.pkcs8.pem"))
	h.run(offline, 0, "wrap", "--params", params, keyFile("p256.sec1.der"))
	h.run(offline, 1, "wrap", "--params", params, keyFile("p384.pkcs8.pem")) // the wrong key
	r := h.run(env, 0, "upload", "--params", params, "--source", keyFile("p256.pkcs8.pem"))
	arn := ""
	for _, f := range strings.Fields(r.stdout) {
		if strings.HasPrefix(f, "arn:aws:kms:") {
			arn = strings.TrimRight(f, ".,;)")
			break
		}
	}
	if arn == "" {
		t.Fatalf("upload named no key ARN:\n%s", r)
	}
	h.run(env, 0, "verify", "--key-id", arn, keyFile("p256.pkcs8.pem"))
	h.run(env, 3, "verify", "--key-id", arn, keyFile("secp256k1.pkcs8.pem"))

	// A fleet: the journal and the audit log (written into work) are
	// searched with every other file below.
	abs := func(f string) string {
		a, err := filepath.Abs(keyFile(f))
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	manifest := filepath.Join(work, "fleet.yaml")
	os.WriteFile(manifest, []byte(fmt.Sprintf(`version: 1
id: hygiene
defaults:
  target:
    region: us-east-1
keys:
  - name: aes
    source: {key: %q, key_spec: SYMMETRIC_DEFAULT}
  - name: hmac
    source: {key: %q, key_spec: HMAC_512}
  - name: rsa
    source: %q
  - name: k1
    source: %q
  - name: p384-encrypted
    source: {key: %q, passphrase_env: BYOK_HYG_PASS}
`, abs("aes256.bin"), abs("hmac512.hex"), abs("rsa2048.pkcs1.pem"), abs("secp256k1.pkcs8.pem"), abs("p384.enc.pem"))), 0o600)
	journal, audit := filepath.Join(work, "fleet.journal"), filepath.Join(work, "fleet.audit.jsonl")
	fleet := []string{"migrate", manifest, "--journal", journal, "--audit", audit, "--quota-scale", "100", "--progress", "lines"}
	h.run(env, 0, fleet...)
	h.run(env, 0, append(fleet, "--json")...) // resumed: everything is done
	// Living with the keys: status reopens every source (the passphrase
	// too), renewal re-imports, shred deletes and the printed command
	// restores.
	status := []string{"status", manifest, "--journal", journal, "--audit", audit}
	h.run(env, 0, status...)
	h.run(env, 0, append(status, "--json")...)
	h.run(env, 0, append(fleet, "--renew-within", "30d")...)
	h.run(env, 0, "shred", manifest, "--key", "aes", "--audit", audit, "--yes-delete-key-material")
	h.run(env, 5, status...) // the shredded key is PendingImport
	h.run(env, 0, "shred", manifest, "--key", "p384-encrypted", "--audit", audit, "--yes-delete-key-material", "--json")
	for _, f := range []string{journal, audit} {
		if st, err := os.Stat(f); err != nil || st.Size() == 0 {
			t.Errorf("%s was not written: %v", f, err)
		}
	}

	// The other clouds: Cloud KMS and Key Vault fakes, their request logs,
	// the Azure access token, the .byok file.
	h.clouds(work)

	// An HSM key and its PIN.
	h.softhsm(env, work)

	h.checkTree(work)
	h.check("the emulator's request log", []byte(logs.String()))
	if h.checked < 80 {
		t.Errorf("only %d outputs were searched", h.checked)
	}
	// The detector itself finds what it should.
	probe := newSecret("probe", []byte("0123456789abcdef-secret"))
	for _, leak := range []string{"x0123456789abcdefx", hex.EncodeToString([]byte("23456789abcdef-s")), base64.StdEncoding.EncodeToString([]byte("z0123456789abcdef-secret"))} {
		if probe.find([]byte(leak)) == "" {
			t.Errorf("the detector missed %q", leak)
		}
	}
}

// privateParts returns the secret numbers of a PKCS#8 key: an EC key's
// scalar; an RSA key's d, p, q, dP, dQ and qInv.
func privateParts(t *testing.T, pkcs8 []byte) [][]byte {
	t.Helper()
	var pki struct {
		Version    int
		Algorithm  asn1.RawValue
		PrivateKey []byte
	}
	if _, err := asn1.Unmarshal(pkcs8, &pki); err != nil {
		t.Fatal(err)
	}
	var ec struct {
		Version    int
		PrivateKey []byte
		Params     asn1.RawValue `asn1:"optional,explicit,tag:0"`
		Public     asn1.RawValue `asn1:"optional,explicit,tag:1"`
	}
	if _, err := asn1.Unmarshal(pki.PrivateKey, &ec); err == nil && ec.Version == 1 {
		return [][]byte{ec.PrivateKey}
	}
	k, err := x509.ParsePKCS1PrivateKey(pki.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	return [][]byte{k.D.Bytes(), k.Primes[0].Bytes(), k.Primes[1].Bytes(), k.Precomputed.Dp.Bytes(), k.Precomputed.Dq.Bytes(), k.Precomputed.Qinv.Bytes()}
}

// softhsm puts a known AES key into a throwaway SoftHSM token with the
// module's own tools, then has byok inspect and import it with a known PIN.
func (h *hygiene) softhsm(env []string, work string) {
	t := h.t
	lib := "/usr/lib/softhsm/libsofthsm2.so"
	if _, err := os.Stat(lib); err != nil {
		if testenv.OnCI() {
			t.Fatalf("SoftHSM is not installed (%s): apt-get install softhsm2", lib)
		}
		t.Logf("SoftHSM not installed: the PIN part of the hygiene test is skipped")
		return
	}
	testenv.MustHaveExecPath(t, "softhsm2-util")
	testenv.MustHaveExecPath(t, "pkcs11-tool")
	const pin = "hyg-PIN-4417-unique"
	dir := filepath.Join(work, "softhsm")
	os.MkdirAll(filepath.Join(dir, "tokens"), 0o700)
	conf := filepath.Join(dir, "softhsm2.conf")
	os.WriteFile(conf, []byte("directories.tokendir = "+filepath.Join(dir, "tokens")+"\nobjectstore.backend = file\nlog.level = ERROR\n"), 0o600)
	key := make([]byte, 32)
	copy(key, "hygiene AES key: known, not rnd")
	keyPath := filepath.Join(t.TempDir(), "aes.bin") // outside work: it is the secret itself
	os.WriteFile(keyPath, key, 0o600)
	h.secrets = append(h.secrets, newSecret("the SoftHSM AES key", key), newSecret("the PIN", []byte(pin)))
	tool := func(name string, args ...string) {
		cmd := exec.Command(name, args...)
		cmd.Env = append(os.Environ(), "SOFTHSM2_CONF="+conf)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s %v: %v\n%s", name, args, err, out)
		}
	}
	// The test's own setup passes the PIN to the module's tools; byok never
	// takes one on its command line.
	tool("softhsm2-util", "--init-token", "--free", "--label", "hyg", "--so-pin", "so-"+pin, "--pin", pin)
	tool("pkcs11-tool", "--module", lib, "--token-label", "hyg", "--login", "--pin", pin,
		"--write-object", keyPath, "--type", "secrkey", "--key-type", "AES:32", "--label", "hyg-aes", "--extractable", "--sensitive")
	henv := append(append([]string{}, env...), "SOFTHSM2_CONF="+conf, "BYOK_HYG_PIN="+pin, "BYOK_HYG_BADPIN=0000")
	uri := "pkcs11:token=hyg;object=hyg-aes;type=secret-key"
	h.run(henv, 0, "inspect", "--driver", "softhsm", "--pin-env", "BYOK_HYG_PIN", "--key-spec", "SYMMETRIC_DEFAULT", uri)
	h.run(henv, 0, "import", "--driver", "softhsm", "--pin-env", "BYOK_HYG_PIN", "--key-spec", "SYMMETRIC_DEFAULT", uri)
	h.run(henv, 0, "import", "--json", "--driver", "softhsm", "--pin-env", "BYOK_HYG_PIN", "--key-spec", "SYMMETRIC_DEFAULT", uri)
	r := h.run(henv, 1, "import", "--driver", "softhsm", "--pin-env", "BYOK_HYG_BADPIN", "--key-spec", "SYMMETRIC_DEFAULT", uri)
	if !strings.Contains(strings.ToLower(r.stderr), "pin") {
		t.Errorf("a wrong PIN is not named as such:\n%s", r)
	}
	// SoftHSM's own token files hold the key (encrypted under the PIN):
	// not byok's output.
	os.RemoveAll(filepath.Join(dir, "tokens"))
}

// clouds imports the known keys into the Cloud KMS and Key Vault fakes,
// writes a .byok file, and fails some imports; the Azure access token is a
// secret too, and the fakes' request logs are searched.
func (h *hygiene) clouds(work string) {
	t := h.t
	var glog syncBuffer
	g, err := gcpkmstest.New(gcpkmstest.WithLog(&glog))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.Close)
	az, azEnv, alog := azureEnv(t)
	env := append(azEnv, envGCPEndpoint+"="+g.Addr(), "BYOK_HYG_PASS=byok-test-passphrase")
	for _, kv := range azEnv {
		if path, ok := strings.CutPrefix(kv, envAzureTokenFile+"="); ok {
			tok, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			h.secrets = append(h.secrets, newSecret("the Azure access token", bytes.TrimSpace(tok)))
		}
	}
	if h.secrets[len(h.secrets)-1].name != "the Azure access token" {
		t.Fatalf("azureEnv set no %s: %v", envAzureTokenFile, azEnv)
	}
	ring := "projects/hygiene/locations/global/keyRings/r"
	for i, src := range [][]string{
		{keyFile("aes256.bin"), "--key-spec", "SYMMETRIC_DEFAULT", "--gcp-algorithm", "AES_256_GCM"},
		{keyFile("hmac512.hex"), "--key-spec", "HMAC_512"},
		{keyFile("rsa2048.pkcs1.pem")},
		{keyFile("p256.sec1.pem")},
		{keyFile("p384.enc.pem"), "--passphrase-env", "BYOK_HYG_PASS"},
	} {
		gcp := []string{"import", "--to", "gcp", "--gcp-key-ring", ring, "--gcp-key", fmt.Sprintf("k%d", i)}
		h.run(env, 0, append(gcp, src...)...)
		h.run(env, 0, append(append(gcp, "--json", "--dry-run"), src...)...)
	}
	for i, src := range [][]string{
		{keyFile("rsa2048.pkcs1.pem")},
		{keyFile("secp256k1.pkcs8.pem")},
		{keyFile("p384.enc.pem"), "--passphrase-env", "BYOK_HYG_PASS"},
	} {
		h.run(env, 0, append([]string{"import", "--to", "azure", "--azure-vault", az.URL(), "--azure-key", fmt.Sprintf("k%d", i), "--json"}, src...)...)
	}
	// Failures: a key the cloud does not take, a wrong passphrase.
	h.run(env, -1, "import", "--to", "azure", "--azure-vault", az.URL(), "--azure-key", "aes", keyFile("aes256.bin"), "--key-spec", "SYMMETRIC_DEFAULT")
	h.run(env, -1, "import", "--to", "gcp", "--gcp-key-ring", ring, "--gcp-key", "bad", keyFile("p384.enc.pem"), "--passphrase-env", "BYOK_HYG_WRONG")

	// The .byok file under the KEK the first Azure import made.
	kid, kekPEM := fakeKEK(t, az, "k0-kek")
	h.run(env, 0, "wrap", "--for", "azure", "--kek-id", kid, "--kek-public", kekPEM,
		"--out", filepath.Join(work, "p256.byok"), keyFile("p256.sec1.pem"), "--json")
	h.check("the Cloud KMS fake's request log", []byte(glog.String()))
	h.check("the Key Vault fake's request log", []byte(alog.String()))
}
