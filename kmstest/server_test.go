package kmstest_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/byok-go/byok"
	"github.com/byok-go/byok/kmstest"
)

const testAuth = "AWS4-HMAC-SHA256 Credential=AKIAEXAMPLE/20260101/us-east-1/kms/aws4_request, SignedHeaders=host;x-amz-date, Signature=abcd"

// raw sends a hand-made request and returns the status and decoded body.
func raw(t *testing.T, srv *kmstest.Server, target, contentType, auth, body string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/", strings.NewReader(body))
	if target != "" {
		req.Header.Set("X-Amz-Target", target)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatalf("response %q is not JSON: %v", data, err)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/x-amz-json-1.1" {
		t.Errorf("Content-Type %q", ct)
	}
	return resp.StatusCode, m
}

func TestProtocol(t *testing.T) {
	srv := newServer(t)
	const ct = "application/x-amz-json-1.1"
	for _, tc := range []struct {
		name, target, ct, auth, body string
		status                       int
		typ                          string
	}{
		{"NoAuth", "TrentService.ListKeys", ct, "", "{}", 400, kmstest.ErrMissingAuthenticationToken},
		{"BadAuth", "TrentService.ListKeys", ct, "Bearer x", "{}", 400, kmstest.ErrIncompleteSignature},
		{"OtherService", "TrentService.ListKeys", ct, strings.Replace(testAuth, "/kms/", "/s3/", 1), "{}", 400, kmstest.ErrInvalidSignature},
		{"UnknownOp", "TrentService.MakeCoffee", ct, testAuth, "{}", 400, kmstest.ErrUnknownOperation},
		{"NoTarget", "", ct, testAuth, "{}", 400, kmstest.ErrUnknownOperation},
		{"WrongContentType", "TrentService.ListKeys", "application/json", testAuth, "{}", 400, kmstest.ErrUnknownOperation},
		{"MalformedJSON", "TrentService.ListKeys", ct, testAuth, "{", 400, kmstest.ErrSerialization},
		{"NotAnObject", "TrentService.ListKeys", ct, testAuth, "[]", 400, kmstest.ErrSerialization},
		{"WrongType", "TrentService.DescribeKey", ct, testAuth, `{"KeyId": 5}`, 400, kmstest.ErrSerialization},
		{"BadBase64", "TrentService.Encrypt", ct, testAuth, `{"KeyId":"alias/x","Plaintext":"!!"}`, 400, kmstest.ErrSerialization},
		{"MissingRequired", "TrentService.DescribeKey", ct, testAuth, `{}`, 400, kmstest.ErrValidation},
		{"MemberNamesAreCaseSensitive", "TrentService.DescribeKey", ct, testAuth, `{"keyId":"alias/none"}`, 400, kmstest.ErrValidation},
		{"TrailingData", "TrentService.ListKeys", ct, testAuth, `{} {}`, 400, kmstest.ErrSerialization},
		{"BadLimit", "TrentService.ListKeys", ct, testAuth, `{"Limit":0}`, 400, kmstest.ErrValidation},
		{"BadEnum", "TrentService.CreateKey", ct, testAuth, `{"KeySpec":"AES_128"}`, 400, kmstest.ErrValidation},
		{"NotFound", "TrentService.DescribeKey", ct, testAuth, `{"KeyId":"alias/none"}`, 400, kmstest.ErrNotFound},
		{"NotEmulated", "TrentService.GenerateRandom", ct, testAuth, `{}`, 501, kmstest.ErrNotImplemented},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body := raw(t, srv, tc.target, tc.ct, tc.auth, tc.body)
			if status != tc.status || body["__type"] != tc.typ {
				t.Fatalf("status %d body %v, want %d %s", status, body, tc.status, tc.typ)
			}
			if msg, _ := body["message"].(string); msg == "" {
				t.Errorf("no message in %v", body)
			}
		})
	}
	status, body := raw(t, srv, "TrentService.CreateKey", ct, testAuth, `{"Description":"raw"}`)
	md, _ := body["KeyMetadata"].(map[string]any)
	if status != 200 || md["KeyState"] != "Enabled" {
		t.Fatalf("CreateKey: %d %v", status, body)
	}
	if _, ok := md["CreationDate"].(float64); !ok {
		t.Errorf("CreationDate %v is not epoch seconds", md["CreationDate"])
	}
}

func TestDefaultQuotas(t *testing.T) {
	srv := newServer(t, kmstest.WithDefaultQuotas())
	c := srv.Client(noRetry)
	ctx := context.Background()
	var ids []string
	var throttled error
	for range 50 {
		out, err := c.CreateKey(ctx, &kms.CreateKeyInput{Origin: types.OriginTypeExternal})
		if err != nil {
			throttled = err
			break
		}
		ids = append(ids, *out.KeyMetadata.KeyId)
	}
	if len(ids) < kmstest.QuotaCreateKey-1 || len(ids) > 10 {
		t.Fatalf("%d CreateKey calls before throttling (%v); want about %d", len(ids), throttled, kmstest.QuotaCreateKey)
	}
	wantCode(t, throttled, kmstest.ErrThrottling)

	// GetParametersForImport: 1 per second.
	in := &kms.GetParametersForImportInput{KeyId: &ids[0], WrappingAlgorithm: types.AlgorithmSpecRsaesOaepSha256, WrappingKeySpec: types.WrappingKeySpecRsa2048}
	if _, err := c.GetParametersForImport(ctx, in); err != nil {
		t.Fatal(err)
	}
	_, err := c.GetParametersForImport(ctx, in)
	wantCode(t, err, kmstest.ErrThrottling)
	// Another Region has its own quota.
	if _, err := srv.Client(noRetry, inRegion("eu-west-1")).CreateKey(ctx, &kms.CreateKeyInput{}); err != nil {
		t.Fatalf("CreateKey in another Region: %v", err)
	}
	// The bucket refills at the quota's rate.
	time.Sleep(1100 * time.Millisecond)
	if _, err := c.GetParametersForImport(ctx, in); err != nil {
		t.Fatalf("a second later: %v", err)
	}
}

func TestQuota(t *testing.T) {
	srv := newServer(t, kmstest.WithQuota("Sign", 2), kmstest.WithQuota(kmstest.QuotaPoolSymmetric, 3))
	c := srv.Client(noRetry)
	ctx := context.Background()
	ec, err := c.CreateKey(ctx, &kms.CreateKeyInput{KeySpec: types.KeySpecEccNistP256, KeyUsage: types.KeyUsageTypeSignVerify})
	if err != nil {
		t.Fatal(err)
	}
	sym, err := c.CreateKey(ctx, &kms.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	count := func(f func() error) (n int, last error) {
		for range 10 {
			if last = f(); last != nil {
				return n, last
			}
			n++
		}
		return n, nil
	}
	n, err := count(func() error {
		_, err := c.Sign(ctx, &kms.SignInput{KeyId: ec.KeyMetadata.KeyId, Message: []byte("m"), SigningAlgorithm: types.SigningAlgorithmSpecEcdsaSha256})
		return err
	})
	if n < 1 || n > 2 {
		t.Errorf("%d Sign calls before throttling", n)
	}
	wantCode(t, err, kmstest.ErrThrottling)
	n, err = count(func() error {
		_, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: sym.KeyMetadata.KeyId, Plaintext: []byte("m")})
		return err
	})
	if n < 2 || n > 3 {
		t.Errorf("%d Encrypt calls before throttling", n)
	}
	wantCode(t, err, kmstest.ErrThrottling)
	if _, err := c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: sym.KeyMetadata.KeyId}); err != nil {
		t.Errorf("DescribeKey has no quota here: %v", err)
	}
}

func TestFault(t *testing.T) {
	var mode atomic.Value
	mode.Store("")
	srv := newServer(t, kmstest.WithFault(func(op string) error {
		if op != "DescribeKey" {
			return nil
		}
		switch mode.Load().(string) {
		case "internal":
			return &kmstest.FaultError{Type: kmstest.ErrKMSInternal, Message: "injected"}
		case "timeout":
			return &kmstest.FaultError{Type: kmstest.ErrDependencyTimeout, Message: "injected", Status: 503}
		case "reset":
			return &kmstest.FaultError{Reset: true}
		case "delay":
			return &kmstest.FaultError{Delay: 300 * time.Millisecond}
		case "plain":
			return errors.New("plain error")
		}
		return nil
	}))
	c := srv.Client(noRetry)
	ctx := context.Background()
	out, err := c.CreateKey(ctx, &kms.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	in := &kms.DescribeKeyInput{KeyId: out.KeyMetadata.KeyId}

	mode.Store("internal")
	_, err = c.DescribeKey(ctx, in)
	if e := wantAs[*types.KMSInternalException](t, err); e.ErrorMessage() != "injected" {
		t.Errorf("message %q", e.ErrorMessage())
	}
	mode.Store("timeout")
	_, err = c.DescribeKey(ctx, in)
	wantAs[*types.DependencyTimeoutException](t, err)
	mode.Store("plain")
	_, err = c.DescribeKey(ctx, in)
	wantAs[*types.KMSInternalException](t, err)
	mode.Store("reset")
	_, err = c.DescribeKey(ctx, in)
	if err == nil {
		t.Fatal("no error from a reset connection")
	}
	mode.Store("delay")
	tctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	_, err = c.DescribeKey(tctx, in)
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("delayed request: %v", err)
	}
	start := time.Now()
	if _, err := c.DescribeKey(ctx, in); err != nil || time.Since(start) < 300*time.Millisecond {
		t.Fatalf("delayed request: %v after %v", err, time.Since(start))
	}
	mode.Store("")
	if _, err := c.DescribeKey(ctx, in); err != nil {
		t.Fatal(err)
	}
	// With retries (the default), a transient fault is retried away.
	var n atomic.Int32
	srv2 := newServer(t, kmstest.WithFault(func(op string) error {
		if n.Add(1) == 1 {
			return &kmstest.FaultError{Type: kmstest.ErrThrottling, Message: "slow down"}
		}
		return nil
	}))
	if _, err := srv2.Client().ListKeys(ctx, &kms.ListKeysInput{}); err != nil || n.Load() != 2 {
		t.Fatalf("retried: %v after %d attempts", err, n.Load())
	}
}

func TestLatency(t *testing.T) {
	srv := newServer(t, kmstest.WithLatency(100*time.Millisecond))
	start := time.Now()
	if _, err := srv.Client().ListKeys(context.Background(), &kms.ListKeysInput{}); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 100*time.Millisecond {
		t.Fatalf("answered in %v", d)
	}
}

// TestPersistence restarts the emulator on the same state directory.
func TestPersistence(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	ctx := context.Background()
	sym := newSourceKey(t, byok.SymmetricDefault)
	ec := sourceKey(t, byok.ECCSECGP256K1)

	srv := kmstest.NewServer(kmstest.WithStateDir(dir), kmstest.WithWrappingKeyCache(true))
	c := srv.Client()
	id := createExternal(t, c, byok.SymmetricDefault, byok.EncryptDecrypt)
	mustImport(t, c, id, sym.km)
	if _, err := c.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String("alias/kept"), TargetKeyId: &id}); err != nil {
		t.Fatal(err)
	}
	enc, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String("alias/kept"), Plaintext: []byte("persisted")})
	if err != nil {
		t.Fatal(err)
	}
	eid := createExternal(t, c, byok.ECCSECGP256K1, byok.SignVerify)
	pub, tok := params(t, c, eid, byok.RSAESOAEPSHA256, byok.WrappingRSA2048) // outstanding across the restart
	srv.Close()

	for _, p := range []string{dir, filepath.Join(dir, "kmstest-state.json")} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		want := os.FileMode(0o600)
		if fi.IsDir() {
			want = 0o700
		}
		if fi.Mode().Perm() != want {
			t.Errorf("%s has mode %v, want %v", p, fi.Mode().Perm(), want)
		}
	}

	srv = kmstest.NewServer(kmstest.WithStateDir(dir), kmstest.WithWrappingKeyCache(true))
	defer srv.Close()
	c = srv.Client()
	if md := describe(t, c, "alias/kept"); *md.KeyId != id || md.KeyState != types.KeyStateEnabled {
		t.Fatalf("after restart: %s %s", *md.KeyId, md.KeyState)
	}
	dec, err := c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob})
	if err != nil || string(dec.Plaintext) != "persisted" {
		t.Fatalf("Decrypt after restart: %v", err)
	}
	w, _ := ec.km.Wrap(pub, byok.RSAESOAEPSHA256)
	if _, err := c.ImportKeyMaterial(ctx, &kms.ImportKeyMaterialInput{KeyId: &eid, ImportToken: tok, EncryptedKeyMaterial: w,
		ExpirationModel: types.ExpirationModelTypeKeyMaterialDoesNotExpire}); err != nil {
		t.Fatalf("import with a token from before the restart: %v", err)
	}
	checkUse(t, c, eid, ec, byok.SignVerify)

	if _, err := kmstest.NewHandler(kmstest.WithStateDir(dir), kmstest.WithAccount("444455556666")); err == nil {
		t.Error("a state directory of another account was accepted")
	}
}

// TestConcurrency hammers one key from many goroutines (run with -race).
func TestConcurrency(t *testing.T) {
	srv := newServer(t)
	c := srv.Client()
	ctx := context.Background()
	id := createExternal(t, c, byok.SymmetricDefault, byok.EncryptDecrypt)
	mustImport(t, c, id, sourceKey(t, byok.SymmetricDefault).km)
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for i := range 16 {
		wg.Go(func() {
			for range 8 {
				enc, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: &id, Plaintext: []byte{byte(i)}})
				if err != nil {
					errs <- err
					return
				}
				dec, err := c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob})
				if err != nil || dec.Plaintext[0] != byte(i) {
					errs <- errors.Join(err, errors.New("round trip failed"))
					return
				}
				if _, err := c.CreateKey(ctx, &kms.CreateKeyInput{}); err != nil {
					errs <- err
					return
				}
				_ = srv.Emulator.Keys()
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := len(srv.Emulator.Keys()); n != 1+16*8 {
		t.Errorf("%d keys", n)
	}
}

func TestNewHandler(t *testing.T) {
	if _, err := kmstest.NewHandler(kmstest.WithRegion("mars")); err == nil {
		t.Error("Region mars accepted")
	}
	if _, err := kmstest.NewHandler(kmstest.WithAccount("123")); err == nil {
		t.Error("account 123 accepted")
	}
	e, err := kmstest.NewHandler(kmstest.WithRegion("eu-west-3"), kmstest.WithAccount("123456789012"))
	if err != nil {
		t.Fatal(err)
	}
	if e.Region() != "eu-west-3" || e.Account() != "123456789012" {
		t.Errorf("Region %s Account %s", e.Region(), e.Account())
	}
	e.Close()
	srv := newServer(t, kmstest.WithRegion("eu-west-3"), kmstest.WithAccount("123456789012"))
	out, err := srv.Client().CreateKey(context.Background(), &kms.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(*out.KeyMetadata.Arn, "arn:aws:kms:eu-west-3:123456789012:key/") {
		t.Errorf("Arn %s", *out.KeyMetadata.Arn)
	}
}
