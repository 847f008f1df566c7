package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kms"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// byokBinary builds cmd/byok once per test run.
func byokBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "byok-bin")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "byok")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			buildErr = err
			t.Logf("go build: %s", out)
		}
	})
	if buildErr != nil {
		t.Fatalf("building byok: %v", buildErr)
	}
	return binPath
}

// startEmulator runs `byok emulator` on a free loopback port and returns its
// URL and a buffer collecting its request log.
func startEmulator(t *testing.T, args ...string) (string, *syncBuffer) {
	t.Helper()
	cmd := exec.Command(byokBinary(t), append([]string{"emulator", "--listen", "127.0.0.1:0", "--fast-wrapping-keys"}, args...)...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	cmd.Stderr = logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
		}
	})
	sc := bufio.NewScanner(stdout)
	re := regexp.MustCompile(`AWS KMS on (http://127\.0\.0\.1:\d+)`)
	urlc := make(chan string, 1)
	go func() {
		for sc.Scan() {
			if m := re.FindStringSubmatch(sc.Text()); m != nil {
				urlc <- m[1]
			}
		}
	}()
	select {
	case u := <-urlc:
		return u, logs
	case <-time.After(20 * time.Second):
		t.Fatalf("byok emulator did not start; stderr:\n%s", logs.String())
	}
	return "", nil
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func sdkClient(url string) *kms.Client {
	return kms.New(kms.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(url),
		Credentials:  credentials.NewStaticCredentialsProvider("test", "test", ""),
	})
}

// awsCLI runs the AWS CLI against the emulator and decodes its JSON output.
func awsCLI(t *testing.T, url string, args ...string) map[string]any {
	t.Helper()
	dir := t.TempDir()
	cmd := exec.Command("aws", append([]string{"--endpoint-url", url, "--output", "json", "kms"}, args...)...)
	cmd.Env = append(os.Environ(),
		"AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test", "AWS_DEFAULT_REGION=us-east-1", "AWS_REGION=us-east-1",
		"AWS_CONFIG_FILE="+filepath.Join(dir, "none"), "AWS_SHARED_CREDENTIALS_FILE="+filepath.Join(dir, "none"),
		"AWS_PAGER=", "AWS_MAX_ATTEMPTS=1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("aws kms %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	m := map[string]any{}
	if len(bytes.TrimSpace(out)) > 0 {
		if err := json.Unmarshal(out, &m); err != nil {
			t.Fatalf("aws kms %s: output is not JSON: %v\n%s", args[0], err, out)
		}
	}
	return m
}

func runTool(t *testing.T, dir, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

func writeB64(t *testing.T, path string, v any) {
	t.Helper()
	s, _ := v.(string)
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil || len(b) == 0 {
		t.Fatalf("%s: not base64: %v", path, err)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func mustHex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// cleanEnv returns the environment without AWS_* variables, with shared
// config and credentials files that do not exist and IMDS off, so that
// nothing on the test machine reaches the byok under test.
func cleanEnv(t *testing.T, extra ...string) []string {
	t.Helper()
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AWS_") {
			env = append(env, kv)
		}
	}
	none := filepath.Join(t.TempDir(), "none")
	env = append(env, "AWS_CONFIG_FILE="+none, "AWS_SHARED_CREDENTIALS_FILE="+none, "AWS_EC2_METADATA_DISABLED=true")
	return append(env, extra...)
}

// emulatorEnv is cleanEnv plus test credentials, a Region and the emulator
// as the KMS endpoint, the way an operator's environment would name them.
func emulatorEnv(t *testing.T, url string, extra ...string) []string {
	t.Helper()
	return cleanEnv(t, append([]string{"AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test",
		"AWS_REGION=us-east-1", "AWS_ENDPOINT_URL_KMS=" + url, "AWS_MAX_ATTEMPTS=2"}, extra...)...)
}

// result is one run of the byok binary.
type result struct {
	code           int
	stdout, stderr string
}

func (r result) String() string {
	return "exit " + strconv.Itoa(r.code) + "\nstdout:\n" + r.stdout + "\nstderr:\n" + r.stderr
}

// runByok runs the built byok binary with env and args, in dir (if not empty).
func runByok(t *testing.T, env []string, args ...string) result {
	t.Helper()
	// A guard against a hung binary, not a speed limit: the demo makes a
	// fresh RSA-4096 wrapping key per import, which takes minutes on a
	// loaded 2-core machine.
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, byokBinary(t), args...)
	cmd.Env = env
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := result{stdout: out.String(), stderr: errb.String()}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	default:
		t.Fatalf("running byok %v: %v", args, err)
	}
	return r
}

// mustByok runs byok and fails the test unless it exits with want.
func mustByok(t *testing.T, want int, env []string, args ...string) result {
	t.Helper()
	r := runByok(t, env, args...)
	if r.code != want {
		t.Fatalf("byok %s: want exit %d, got %s", strings.Join(args, " "), want, r)
	}
	return r
}

// decode unmarshals a command's JSON output.
func decode[T any](t *testing.T, r result) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(r.stdout), &v); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, r)
	}
	return v
}

// keyFile is a test key from testdata/keys.
func keyFile(name string) string { return filepath.Join("..", "..", "testdata", "keys", name) }

// requests counts the KMS requests in an emulator's log.
func requests(logs *syncBuffer) int { return strings.Count(logs.String(), "TrentService.") }
