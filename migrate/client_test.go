package migrate

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"github.com/byok-go/byok/kmstest"
	"github.com/byok-go/byok/migrate/fleettest"
)

// TestErrorClasses: what the SDK's classifiers make of KMS's answers.
func TestErrorClasses(t *testing.T) {
	code := func(c string) error {
		return fmt.Errorf("operation error KMS: X: %w", &smithy.GenericAPIError{Code: c, Message: "m"})
	}
	for _, tc := range []struct {
		err                 error
		throttle, transient bool
	}{
		{code("ThrottlingException"), true, false},
		{code("LimitExceededException"), false, false}, // a resource quota: waiting does not help
		{code("KMSInternalException"), false, true},
		{code("DependencyTimeoutException"), false, true},
		{code("KeyUnavailableException"), false, true},
		{code("NotFoundException"), false, false},
		{code("ExpiredImportTokenException"), false, false},
		{&smithyhttp.RequestSendError{Err: io.EOF}, false, true},
		{&url.Error{Op: "Post", URL: "http://x", Err: syscall.ECONNREFUSED}, false, true},
		{&net.OpError{Op: "dial", Err: syscall.ECONNRESET}, false, true},
		{errLost, false, true},
		{context.Canceled, false, false},
		{fmt.Errorf("x: %w", context.DeadlineExceeded), false, false},
		{errors.New("something else"), false, false},
		{nil, false, false},
	} {
		if got := isThrottle(tc.err); got != tc.throttle {
			t.Errorf("isThrottle(%v) = %v", tc.err, got)
		}
		if got := isTransient(tc.err); got != tc.transient {
			t.Errorf("isTransient(%v) = %v", tc.err, got)
		}
	}
}

// TestMigrateRidesOutFaults: a KMS that throttles, answers HTTP 500 and
// resets connections now and then, on calls that change nothing
// (DescribeKey, GetParametersForImport, GetPublicKey) and on CreateKey
// (throttles only: a throttled call was not carried out), still gets
// every key, once.
func TestMigrateRidesOutFaults(t *testing.T) {
	m := fleet(t, 12, fleettest.Options{ID: "faults", RSAEvery: 4})
	var n atomic.Int64
	var thr, internal, reset atomic.Int64
	srv := emulator(t, kmstest.WithFault(func(op string) error {
		i := n.Add(1)
		switch op {
		case "DescribeKey", "GetParametersForImport", "GetPublicKey":
			switch i % 7 {
			case 1:
				thr.Add(1)
				return &kmstest.FaultError{Type: kmstest.ErrThrottling, Message: "Rate exceeded"}
			case 3:
				internal.Add(1)
				return &kmstest.FaultError{Type: kmstest.ErrKMSInternal, Message: "internal"}
			case 5:
				reset.Add(1)
				return &kmstest.FaultError{Reset: true}
			}
		case "CreateKey":
			if i%3 == 0 {
				thr.Add(1)
				return &kmstest.FaultError{Type: kmstest.ErrThrottling, Message: "Rate exceeded"}
			}
		}
		return nil
	}))
	sum, err := (&Migration{Manifest: m, Client: clientsOf(srv), Journal: filepath.Join(t.TempDir(), "j"), Quotas: fastQuotas()}).Run(context.Background())
	if err != nil || sum.Imported != 12 {
		t.Fatalf("%v %+v", err, sum.Failures)
	}
	if thr.Load() == 0 || internal.Load() == 0 || reset.Load() == 0 {
		t.Fatalf("faults injected: %d throttles, %d internal errors, %d resets", thr.Load(), internal.Load(), reset.Load())
	}
	throttles := 0
	for _, o := range sum.Ops {
		throttles += o.Throttles
	}
	if int64(throttles) != thr.Load() {
		t.Errorf("the limiter saw %d throttles; %d were sent", throttles, thr.Load())
	}
	counts, notEnabled := emulatorKeys(t, srv)
	if len(counts) != 12 || len(notEnabled) > 0 {
		t.Errorf("keys %v, not enabled %v", counts, notEnabled)
	}
	for k, c := range counts {
		if c != 1 {
			t.Errorf("%s: %d keys", k, c)
		}
	}
	t.Logf("%d throttles, %d HTTP 500, %d resets ridden out", thr.Load(), internal.Load(), reset.Load())
}
