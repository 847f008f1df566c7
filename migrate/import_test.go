package migrate

import (
	"context"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/kms"
	_ "github.com/byok-go/byok/driver/software"
	"github.com/byok-go/byok/kmstest"
	"github.com/byok-go/byok/migrate/fleettest"
)

// lossy wraps an API and loses the answer of the n-th call of an operation
// (the call is made; the caller gets a connection error), as a crash or a
// network failure between KMS and byok would.
type lossy struct {
	API
	op    string
	every int64
	n     atomic.Int64
}

var errLost = &lostErr{}

type lostErr struct{}

func (*lostErr) Error() string { return "read tcp: connection reset by peer" }

func (*lostErr) Timeout() bool { return false }

func (*lostErr) Temporary() bool { return true }

func (l *lossy) lose(op string) bool {
	return op == l.op && l.n.Add(1)%l.every == 0
}

func (l *lossy) CreateKey(ctx context.Context, in *kms.CreateKeyInput, o ...func(*kms.Options)) (*kms.CreateKeyOutput, error) {
	out, err := l.API.CreateKey(ctx, in, o...)
	if err == nil && l.lose("CreateKey") {
		return nil, errLost
	}
	return out, err
}

func (l *lossy) ImportKeyMaterial(ctx context.Context, in *kms.ImportKeyMaterialInput, o ...func(*kms.Options)) (*kms.ImportKeyMaterialOutput, error) {
	out, err := l.API.ImportKeyMaterial(ctx, in, o...)
	if err == nil && l.lose("ImportKeyMaterial") {
		return nil, errLost
	}
	return out, err
}

func (l *lossy) ReplicateKey(ctx context.Context, in *kms.ReplicateKeyInput, o ...func(*kms.Options)) (*kms.ReplicateKeyOutput, error) {
	out, err := l.API.ReplicateKey(ctx, in, o...)
	if err == nil && l.lose("ReplicateKey") {
		return nil, errLost
	}
	return out, err
}

// TestMigrateLostAnswers: when the answer to CreateKey, ReplicateKey or
// ImportKeyMaterial is lost, the engine finds what KMS did (by tag, by
// DescribeKey) instead of doing it twice.
func TestMigrateLostAnswers(t *testing.T) {
	for _, op := range []string{"CreateKey", "ReplicateKey", "ImportKeyMaterial"} {
		t.Run(op, func(t *testing.T) {
			m := fleet(t, 12, fleettest.Options{ID: "lost", Regions: []string{"us-east-1", "eu-west-1"}, MultiRegionEvery: 2})
			srv := emulator(t)
			clients := func(_ context.Context, region string) (API, error) {
				return &lossy{API: srv.Client(func(o *kms.Options) { o.Region = region }), op: op, every: 3}, nil
			}
			sum, err := (&Migration{Manifest: m, Client: clients, Journal: filepath.Join(t.TempDir(), "j"), Quotas: fastQuotas()}).Run(context.Background())
			if err != nil {
				t.Fatalf("%v %+v", err, sum.Failures)
			}
			counts, notEnabled := emulatorKeys(t, srv)
			for k, n := range counts {
				if n != 1 {
					t.Errorf("%s: %d keys", k, n)
				}
			}
			if len(counts) != 6*2+6 || len(notEnabled) > 0 {
				t.Errorf("%d keys, not enabled: %v", len(counts), notEnabled)
			}
		})
	}
}

func TestMigrateExpiredTokenIsFetchedAgain(t *testing.T) {
	m := fleet(t, 6, fleettest.Options{ID: "exp"})
	var n atomic.Int64
	srv := emulator(t, kmstest.WithFault(func(op string) error {
		if op == "ImportKeyMaterial" && n.Add(1)%2 == 1 {
			return &kmstest.FaultError{Type: kmstest.ErrExpiredImportToken, Message: "The import token expired"}
		}
		return nil
	}))
	sum, err := (&Migration{Manifest: m, Client: clientsOf(srv), Journal: filepath.Join(t.TempDir(), "j"), Quotas: fastQuotas()}).Run(context.Background())
	if err != nil {
		t.Fatalf("%v %+v", err, sum.Failures)
	}
	if sum.ExpiredTokens != 6 || sum.GetParametersForImport["us-east-1"] != 12 {
		t.Errorf("expired %d, GetParametersForImport %v; want 6 and 12", sum.ExpiredTokens, sum.GetParametersForImport)
	}
}

// TestMigrateEventualConsistency: right after CreateKey, KMS may answer
// NotFoundException for the new key for a while; the engine waits.
func TestMigrateEventualConsistency(t *testing.T) {
	m := fleet(t, 4, fleettest.Options{ID: "ec"})
	var n atomic.Int64
	srv := emulator(t, kmstest.WithFault(func(op string) error {
		if op == "DescribeKey" && n.Add(1)%2 == 1 {
			return &kmstest.FaultError{Type: kmstest.ErrNotFound, Message: "Key does not exist (yet)"}
		}
		return nil
	}))
	sum, err := (&Migration{Manifest: m, Client: clientsOf(srv), Journal: filepath.Join(t.TempDir(), "j"), Quotas: fastQuotas()}).Run(context.Background())
	if err != nil || sum.Imported != 4 {
		t.Fatalf("%v %+v", err, sum.Failures)
	}
	// Waiting for the key to appear asks for no import token.
	if n := sum.GetParametersForImport["us-east-1"]; n != 4 {
		t.Errorf("%d GetParametersForImport calls; want 4, one per key", n)
	}
}
