package main

// Every command shown in a fenced sh block of README.md and docs/*.md runs
// as printed, against byok's emulator (issue 12). Each block runs in a
// fresh workspace with a fresh in-process emulator, unless the line before
// its fence is "<!-- docs-test: continue -->": then it goes on in the
// previous block's workspace (the AWS CLI upload after the offline flow).
// The placeholders the docs use are defined below; the commands that
// cannot run here are listed in docSkips with the reason.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azkeys"
	"github.com/byok-go/byok/azkv/azkvtest"
	"github.com/byok-go/byok/gcpkms/gcpkmstest"
	"github.com/byok-go/byok/internal/testenv"
	"github.com/byok-go/byok/kmstest"
)

// docSkips are the commands that cannot run in this test, with the reason.
var docSkips = []struct {
	re     *regexp.Regexp
	reason string
}{
	{regexp.MustCompile(`^bash \.ci/run\b`), "CI's entry point: installs packages as root, then runs every test"},
	{regexp.MustCompile(`^bash scripts/test\.sh\b`), "the whole test suite, of which this test is part"},
	{regexp.MustCompile(`^uptime$`), "not byok: the host's load, before measuring"},
	{regexp.MustCompile(`^(\S+=\S+ )*go test `), "Go benchmarks and long-running tests of the repository (minutes), not a byok command"},
	{regexp.MustCompile(`^(\S+=\S+ )*go run -tags openssl \./cmd/byok bench\b`), "a real measurement: about a minute per run, with OpenSSL's cgo build (TestBenchShortJSON runs byok bench --short)"},
	{regexp.MustCompile(`^(go run \./cmd/byok|byok) demo$`), "about 30 s: a fresh RSA-4096 wrapping key per import, as AWS does (TestDemoJSON and TestCLIDemoBinary run byok demo)"},
	{regexp.MustCompile(`^byok emulator\b`), "a server that runs until Ctrl-C: the test's in-process emulator stands in for it (its URL replaces http://127.0.0.1:8555)"},
	{regexp.MustCompile(`--driver cloudhsm\b`), "needs a real AWS CloudHSM cluster (the key-file line after it runs instead)"},
	{regexp.MustCompile(`^(\S+=\S+ )*byok migrate manifest\.yaml --endpoint-url http://127\.0\.0\.1:8601$`), "the 1 000-key fleet of the benchmark above (about 17 minutes at AWS's quotas); TestMigrateCLI runs byok migrate"},
}

// docCmd is one command of a doc's sh block.
type docCmd struct {
	where string // file:line
	text  string
}

type docBlock struct {
	where     string
	continue_ bool
	cmds      []docCmd
}

// docBlocks extracts the sh blocks of README.md and docs/*.md: backslash
// continuations joined, comments and blank lines dropped.
func docBlocks(t *testing.T) []docBlock {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join("..", "..", "docs", "*.md"))
	files = append([]string{filepath.Join("..", "..", "README.md")}, files...)
	var blocks []docBlock
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		name := strings.TrimPrefix(filepath.ToSlash(f), "../../")
		var cur *docBlock
		var pending, prev string
		pendingLine := 0
		sc := bufio.NewScanner(bytes.NewReader(b))
		for n := 1; sc.Scan(); n++ {
			line := sc.Text()
			switch {
			case cur == nil && line == "```sh":
				cur = &docBlock{where: fmt.Sprintf("%s:%d", name, n), continue_: strings.TrimSpace(prev) == "<!-- docs-test: continue -->"}
			case cur != nil && line == "```":
				blocks = append(blocks, *cur)
				cur = nil
			case cur != nil:
				code := strings.TrimSpace(stripComment(line))
				if pending == "" {
					pendingLine = n
				}
				if strings.HasSuffix(code, "\\") {
					pending += strings.TrimSuffix(code, "\\") + " "
					continue
				}
				code = strings.TrimSpace(pending + code)
				pending = ""
				if code != "" {
					cur.cmds = append(cur.cmds, docCmd{fmt.Sprintf("%s:%d", name, pendingLine), strings.Join(strings.Fields(code), " ")})
				}
			}
			prev = line
		}
	}
	return blocks
}

// stripComment drops a shell comment: # at the start of a word, outside
// single quotes.
func stripComment(line string) string {
	in := false
	for i, r := range line {
		switch {
		case r == '\'':
			in = !in
		case r == '#' && !in && (i == 0 || line[i-1] == ' ' || line[i-1] == '\t'):
			return line[:i]
		}
	}
	return line
}

// docWorkspace is where a block runs: the files its placeholders name, an
// emulator, and the last key ARN a command printed.
type docWorkspace struct {
	dir     string
	srv     *kmstest.Server
	lastARN string
	aliases map[string]bool  // aliases made for the docs' commands
	azure   *azkvtest.Server // the fake Key Vault, once started
	kek     string           // the kid of its KEK, once made
}

// The placeholders docs/targets.md uses for Azure.
const (
	docVault = "https://contoso.vault.azure.net"
	docKEKID = docVault + "/keys/KEK/0123456789abcdef0123456789abcdef"
)

// startClouds starts the fakes of Cloud KMS and Key Vault for the commands
// that name them, and points byok at them as docs/targets.md says: the
// BYOK_GCP_ENDPOINT, BYOK_AZURE_CA_FILE and BYOK_AZURE_TOKEN_FILE
// variables.
func (ws *docWorkspace) startClouds(t *testing.T) {
	if ws.azure != nil {
		return
	}
	g, err := gcpkmstest.New()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.Close)
	t.Setenv(envGCPEndpoint, g.Addr())
	srv, env, _ := azureEnv(t)
	for _, kv := range env {
		if k, v, ok := strings.Cut(kv, "="); ok && strings.HasPrefix(k, "BYOK_AZURE_") {
			t.Setenv(k, v)
		}
	}
	ws.azure = srv
}

// makeKEK makes the key exchange key in the fake Key Vault, as
// `az keyvault key create --kty RSA-HSM --ops import` would, and writes its
// public key to KEK.pem, as `az keyvault key download` would.
func (ws *docWorkspace) makeKEK(t *testing.T) {
	if ws.kek != "" {
		return
	}
	c, err := azkeys.NewClient(ws.azure.URL(), ws.azure.Credential(), ws.azure.ClientOptions())
	if err != nil {
		t.Fatal(err)
	}
	kty, size, op := azkeys.KeyTypeRSAHSM, int32(3072), azkeys.KeyOperationImport
	resp, err := c.CreateKey(context.Background(), "KEK", azkeys.CreateKeyParameters{Kty: &kty, KeySize: &size, KeyOps: []*azkeys.KeyOperation{&op}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	pub := &rsa.PublicKey{N: new(big.Int).SetBytes(resp.Key.N), E: int(new(big.Int).SetBytes(resp.Key.E).Int64())}
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(ws.dir, "KEK.pem"), pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	ws.kek = string(*resp.Key.KID)
}

var arnRE = regexp.MustCompile(`arn:aws:kms:[a-z0-9-]+:\d{12}:key/[0-9a-f-]{36}`)

// newDocWorkspace makes the fixtures the docs name:
//   - signing-key.pem (a P-256 key), signing-key.pub.pem, aes.hex and aes.bin
//     (an AES-256 key, hex and raw);
//   - fleet.yaml, a manifest of two key files (docs/migrate.md);
//   - testdata, the repository's test keys;
//   - the environment of a configured AWS account, pointing at the emulator.
func newDocWorkspace(t *testing.T) *docWorkspace {
	t.Helper()
	ws := &docWorkspace{dir: t.TempDir(), srv: kmstest.NewServer(kmstest.WithWrappingKeyCache(true))}
	t.Cleanup(ws.srv.Close)
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKCS8PrivateKey(k)
	pub, _ := x509.MarshalPKIXPublicKey(&k.PublicKey)
	aes := make([]byte, 32)
	rand.Read(aes)
	hmacKey := make([]byte, 32)
	rand.Read(hmacKey)
	abs, _ := filepath.Abs(filepath.Join("..", "..", "testdata"))
	os.Mkdir(filepath.Join(ws.dir, "keys"), 0o700)
	for name, b := range map[string][]byte{
		"signing-key.pem":     pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}),
		"signing-key.pub.pem": pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}),
		"aes.hex":             []byte(hex.EncodeToString(aes) + "\n"),
		"aes.bin":             aes,
		"keys/signing.pem":    pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}),
		"keys/data.hex":       []byte(hex.EncodeToString(hmacKey) + "\n"),
		"fleet.yaml": []byte(`version: 1
id: docs-test
defaults:
  target: {region: us-east-1}
keys:
  - name: data-key
    source: {key: keys/data.hex, key_spec: SYMMETRIC_DEFAULT}
    target: {alias: alias/docs/data}
  - name: signing
    source: keys/signing.pem
`),
	} {
		if err := os.WriteFile(filepath.Join(ws.dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(abs, filepath.Join(ws.dir, "testdata")); err != nil {
		t.Fatal(err)
	}
	// A configured account, as the docs assume where they set nothing: the
	// Region in ~/.aws/config (read by byok and both AWS CLI versions), no
	// Region variables; credentials and the endpoint from the environment.
	setEmulatorEnv(t, ws.srv.URL)
	config := filepath.Join(ws.dir, "aws-config")
	os.WriteFile(config, []byte("[default]\nregion = us-east-1\n"), 0o600)
	t.Setenv("AWS_CONFIG_FILE", config)
	for _, k := range []string{"AWS_REGION", "AWS_DEFAULT_REGION"} {
		t.Setenv(k, "")
		os.Unsetenv(k)
	}
	return ws
}

// placeholders replaces what the docs leave for the reader to fill in.
func (ws *docWorkspace) placeholders(t *testing.T, s string) string {
	s = strings.ReplaceAll(s, "http://127.0.0.1:8555", ws.srv.URL)
	if strings.Contains(s, "--to gcp") || strings.Contains(s, "--to azure") || strings.Contains(s, "--for azure") {
		ws.startClouds(t)
		if strings.Contains(s, docKEKID) {
			ws.makeKEK(t)
			s = strings.ReplaceAll(s, docKEKID, ws.kek)
		}
		s = strings.ReplaceAll(s, docVault, ws.azure.URL())
	}
	s = regexp.MustCompile(`\bSOURCE\b`).ReplaceAllString(s, "signing-key.pem")
	// Aliases the docs name, made on first use by importing the key file
	// they go with.
	for alias, fixture := range map[string]string{
		"alias/payments-aes": "byok import aes.bin --key-spec SYMMETRIC_DEFAULT --alias payments-aes",
	} {
		if strings.Contains(s, alias) && !ws.aliases[alias] {
			if ws.aliases == nil {
				ws.aliases = map[string]bool{}
			}
			ws.aliases[alias] = true
			ws.run(t, docCmd{"fixture", fixture})
		}
	}
	arnLike := regexp.MustCompile(`arn:aws:kms:[a-z0-9-]+:\d{12}:key/…|\bARN\b`)
	if arnLike.MatchString(s) {
		if ws.lastARN == "" {
			// A key that holds signing-key.pem, for commands that name one.
			ws.run(t, docCmd{"fixture", "byok import signing-key.pem"})
		}
		s = arnLike.ReplaceAllString(s, ws.lastARN)
	}
	return s
}

// run runs one command of a doc as printed (after the placeholders) and
// fails the test unless it succeeds.
func (ws *docWorkspace) run(t *testing.T, c docCmd) {
	t.Helper()
	text := ws.placeholders(t, c.text)
	words := shellWords(t, text)
	// VAR=value before the command, or export VAR=value: the environment.
	var env []string
	for len(words) > 0 && strings.Contains(words[0], "=") && !strings.HasPrefix(words[0], "-") {
		env, words = append(env, words[0]), words[1:]
	}
	if len(words) > 0 && words[0] == "export" {
		for _, kv := range words[1:] {
			k, v, ok := strings.Cut(kv, "=")
			if !ok {
				t.Fatalf("%s: export %q", c.where, kv)
			}
			t.Setenv(k, v)
		}
		return
	}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	if len(words) >= 3 && words[0] == "go" && words[1] == "run" && words[2] == "./cmd/byok" {
		words = append([]string{"byok"}, words[3:]...)
	}
	var out string
	switch words[0] {
	case "byok":
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), words[1:], &stdout, &stderr)
		out = stdout.String() + stderr.String()
		if code != 0 {
			t.Fatalf("%s: %s\nexit %d\n%s", c.where, text, code, out)
		}
	case "aws":
		path, err := exec.LookPath("aws")
		if err != nil {
			if testenv.OnCI() {
				t.Fatalf("%s: the AWS CLI is required on CI: %v", c.where, err)
			}
			t.Logf("%s: skipped, the AWS CLI is not installed: %s", c.where, text)
			return
		}
		cmd := exec.Command(path, words[1:]...)
		cmd.Dir = ws.dir
		b, err := cmd.CombinedOutput()
		out = string(b)
		if err != nil {
			t.Fatalf("%s: %s\n%v\n%s", c.where, text, err, out)
		}
	default:
		t.Fatalf("%s: %q is neither byok nor the AWS CLI, and not in docSkips", c.where, text)
	}
	if m := arnRE.FindAllString(out, -1); len(m) > 0 {
		ws.lastARN = m[len(m)-1]
	}
	t.Logf("%s: ok: %s", c.where, text)
}

// TestDocsCommandsRun runs every command of the docs' sh blocks.
func TestDocsCommandsRun(t *testing.T) {
	blocks := docBlocks(t)
	if len(blocks) < 10 {
		t.Fatalf("found %d sh blocks in README.md and docs/; the extraction is broken", len(blocks))
	}
	ran, skipped := 0, 0
	usedSkip := make([]bool, len(docSkips))
	for i := 0; i < len(blocks); {
		// A block and those that continue it share a workspace.
		j := i + 1
		for j < len(blocks) && blocks[j].continue_ {
			j++
		}
		group := blocks[i:j]
		i = j
		t.Run(group[0].where, func(t *testing.T) {
			var ws *docWorkspace
			for _, b := range group {
				for _, c := range b.cmds {
					skip := ""
					for k, s := range docSkips {
						if s.re.MatchString(c.text) {
							skip, usedSkip[k] = s.reason, true
							break
						}
					}
					if skip != "" {
						skipped++
						t.Logf("%s: skipped (%s): %s", c.where, skip, c.text)
						continue
					}
					// AWS CLI v1 ignores AWS_REGION: whoever sets it sets
					// AWS_DEFAULT_REGION too.
					if strings.Contains(c.text, "AWS_REGION=") && !strings.Contains(c.text, "AWS_DEFAULT_REGION=") {
						t.Errorf("%s sets AWS_REGION without AWS_DEFAULT_REGION (the AWS CLI v1 reads only the latter): %s", c.where, c.text)
					}
					if ws == nil {
						ws = newDocWorkspace(t)
						t.Chdir(ws.dir)
					}
					ws.run(t, c)
					ran++
				}
			}
		})
	}
	for k, used := range usedSkip {
		if !used {
			t.Errorf("docSkips[%d] (%s) matches no command: remove it", k, docSkips[k].re)
		}
	}
	t.Logf("%d commands ran, %d skipped", ran, skipped)
	if ran < 12 {
		t.Errorf("only %d commands ran", ran)
	}
}

// TestHelpExamplesSetDefaultRegion: a --help example that sets AWS_REGION
// sets AWS_DEFAULT_REGION too, for the AWS CLI version 1.
func TestHelpExamplesSetDefaultRegion(t *testing.T) {
	for _, c := range commands() {
		_, out, _ := runCLI(t, c.name, "--help")
		for _, l := range strings.Split(out, "\n") {
			if strings.Contains(l, "AWS_REGION=") && !strings.Contains(l, "AWS_DEFAULT_REGION=") {
				t.Errorf("byok %s --help: %q sets AWS_REGION without AWS_DEFAULT_REGION", c.name, l)
			}
		}
	}
}
