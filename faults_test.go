package byok_test

// Fault injection against kmstest: the importer (through the AWS SDK's
// standard retryer: exponential backoff with jitter) rides out what is
// retryable, fails fast on what is not, and reports each key's fate.

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/smithy-go"
	"github.com/byok-go/byok"
	"github.com/byok-go/byok/driver/software"
	"github.com/byok-go/byok/kmstest"
)

// faultPlan injects a fault into the first n calls of an operation.
type faultPlan struct {
	mu    sync.Mutex
	calls map[string]int
	plan  map[string]struct {
		n     int
		fault *kmstest.FaultError
	}
}

func newFaultPlan() *faultPlan {
	return &faultPlan{calls: map[string]int{}, plan: map[string]struct {
		n     int
		fault *kmstest.FaultError
	}{}}
}

func (p *faultPlan) on(op string, n int, f *kmstest.FaultError) *faultPlan {
	p.plan[op] = struct {
		n     int
		fault *kmstest.FaultError
	}{n, f}
	return p
}

func (p *faultPlan) hook(op string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls[op]++
	if f, ok := p.plan[op]; ok && (f.n < 0 || p.calls[op] <= f.n) {
		return f.fault
	}
	return nil
}

func (p *faultPlan) count(op string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.calls[op]
}

func faultClient(t *testing.T, p *faultPlan, opts ...func(*kms.Options)) *kms.Client {
	srv := kmstest.NewServer(kmstest.WithWrappingKeyCache(true), kmstest.WithFault(p.hook))
	t.Cleanup(srv.Close)
	return kms.NewFromConfig(srv.AWSConfig(), opts...)
}

func TestFaultsRetried(t *testing.T) {
	for _, tc := range []struct {
		name  string
		op    string
		n     int
		fault *kmstest.FaultError
	}{
		{"throttling storm on every GetParametersForImport", "GetParametersForImport", 2, &kmstest.FaultError{Type: "ThrottlingException", Message: "Rate exceeded"}},
		{"throttling on CreateKey", "CreateKey", 2, &kmstest.FaultError{Type: "ThrottlingException", Message: "Rate exceeded"}},
		{"500 from ImportKeyMaterial", "ImportKeyMaterial", 1, &kmstest.FaultError{Type: "KMSInternalException", Message: "internal"}},
		{"503 DependencyTimeout", "GetParametersForImport", 1, &kmstest.FaultError{Status: 503, Type: "DependencyTimeoutException", Message: "slow"}},
		{"connection reset", "GetParametersForImport", 1, &kmstest.FaultError{Reset: true}},
		{"connection reset on GetPublicKey during the proof", "GetPublicKey", 1, &kmstest.FaultError{Reset: true}},
		{"slow responses", "ImportKeyMaterial", 1, &kmstest.FaultError{Delay: 300 * time.Millisecond}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newFaultPlan().on(tc.op, tc.n, tc.fault)
			client := faultClient(t, p)
			src := openSource(t, "p256.pkcs8.pem", byok.LoadOptions{}, software.Options{})
			res, err := new(byok.Importer).Import(context.Background(), src, &byok.KMS{Client: client})
			if err != nil {
				t.Fatalf("not ridden out: %v", err)
			}
			checkVerified(t, res)
			want := tc.n + 1
			if tc.fault.Type == "" && !tc.fault.Reset {
				want = 1 // a slow answer is an answer
			}
			if got := p.count(tc.op); got != want {
				t.Errorf("%d %s calls; want %d", got, tc.op, want)
			}
			if p.count("CreateKey") != 1+boolInt(tc.op == "CreateKey")*tc.n {
				t.Errorf("%d CreateKey calls: a retry created another key?", p.count("CreateKey"))
			}
		})
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func TestFaultsFailFastAndReportTheKey(t *testing.T) {
	ctx := context.Background()
	t.Run("validation error is not retried", func(t *testing.T) {
		p := newFaultPlan().on("GetParametersForImport", -1, &kmstest.FaultError{Type: "ValidationException", Message: "bad"})
		src := openSource(t, "p256.pkcs8.pem", byok.LoadOptions{}, software.Options{})
		res, err := new(byok.Importer).Import(ctx, src, &byok.KMS{Client: faultClient(t, p)})
		if err == nil || p.count("GetParametersForImport") != 1 {
			t.Fatalf("err %v after %d calls; want failure after exactly one", err, p.count("GetParametersForImport"))
		}
		// The key was created: the result names it, so nothing is lost.
		if res == nil || res.KeyARN == "" {
			t.Errorf("the result does not name the created key: %+v", res)
		}
	})
	t.Run("a storm longer than the retries", func(t *testing.T) {
		p := newFaultPlan().on("ImportKeyMaterial", -1, &kmstest.FaultError{Type: "ThrottlingException", Message: "Rate exceeded"})
		src := openSource(t, "hmac256.hex", byok.LoadOptions{KeySpec: byok.HMAC256}, software.Options{})
		res, err := new(byok.Importer).Import(ctx, src, &byok.KMS{Client: faultClient(t, p)})
		var api smithy.APIError
		if !errors.As(err, &api) || api.ErrorCode() != "ThrottlingException" {
			t.Fatalf("err %v; want the SDK's APIError ThrottlingException after the retries", err)
		}
		if n := p.count("ImportKeyMaterial"); n != 3 {
			t.Errorf("%d ImportKeyMaterial attempts; the SDK's standard retryer makes 3", n)
		}
		if res == nil || res.KeyARN == "" || res.Verification != nil {
			t.Errorf("result %+v: want the key named and no verification claimed", res)
		}
	})
	t.Run("timeout", func(t *testing.T) {
		p := newFaultPlan().on("ImportKeyMaterial", -1, &kmstest.FaultError{Delay: 5 * time.Second})
		src := openSource(t, "aes256.bin", byok.LoadOptions{KeySpec: byok.SymmetricDefault}, software.Options{})
		cctx, cancel := context.WithTimeout(ctx, 1500*time.Millisecond)
		defer cancel()
		start := time.Now()
		res, err := new(byok.Importer).Import(cctx, src, &byok.KMS{Client: faultClient(t, p)})
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("err %v; want the deadline", err)
		}
		if time.Since(start) > 4*time.Second {
			t.Errorf("the import outlived its context by %s", time.Since(start)-1500*time.Millisecond)
		}
		if res == nil || res.KeyARN == "" {
			t.Errorf("the result does not name the created key: %+v", res)
		}
	})
}
