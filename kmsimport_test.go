package byok_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/byok-go/byok"
	"github.com/byok-go/byok/driver/software"
	"github.com/byok-go/byok/kmstest"
)

// KMS is eventually consistent: right after CreateKey, GetParametersForImport
// can answer NotFoundException. The target retries that for a key it just
// created, and only then.
func TestPrepareRetriesEventualConsistency(t *testing.T) {
	var gpfi atomic.Int64
	fault := func(op string) error {
		if op == "GetParametersForImport" && gpfi.Add(1) <= 2 {
			return &kmstest.FaultError{Type: "NotFoundException", Message: "Key does not exist yet"}
		}
		return nil
	}
	_, client := newServer(t, kmstest.WithFault(fault))
	src := openSource(t, "p256.pkcs8.pem", byok.LoadOptions{}, software.Options{})
	res, err := new(byok.Importer).Import(context.Background(), src, &byok.KMS{Client: client})
	if err != nil {
		t.Fatalf("Import did not ride out two NotFoundExceptions after CreateKey: %v", err)
	}
	if n := gpfi.Load(); n != 3 {
		t.Errorf("%d GetParametersForImport calls; want 3 (two refused, one served)", n)
	}
	checkVerified(t, res)

	// For an existing key, NotFoundException is an answer, not a delay.
	gpfi.Store(0)
	_, err = new(byok.Importer).Import(context.Background(), src, &byok.KMS{Client: client, KeyID: res.KeyARN})
	var nf *types.NotFoundException
	if !errors.As(err, &nf) || gpfi.Load() != 1 {
		t.Errorf("existing key: err %v after %d calls; want the typed NotFoundException after one call", err, gpfi.Load())
	}
}

// Typed SDK errors pass through the target's %w wrapping.
func TestTypedErrorsPassThrough(t *testing.T) {
	_, client := newServer(t)
	src := openSource(t, "p256.pkcs8.pem", byok.LoadOptions{}, software.Options{})
	_, err := new(byok.Importer).Import(context.Background(), src, &byok.KMS{Client: client, KeyID: "arn:aws:kms:us-east-1:111122223333:key/00000000-0000-0000-0000-000000000000"})
	var nf *types.NotFoundException
	if !errors.As(err, &nf) {
		t.Fatalf("err %v (%T); want a *types.NotFoundException inside", err, err)
	}
}

// NewKMS takes the configuration the caller loaded: here the SDK's default
// chain reads the Region and credentials from the environment, and optFns
// point the client at the emulator.
func TestNewKMSFromConfig(t *testing.T) {
	srv := kmstest.NewServer(kmstest.WithWrappingKeyCache(true))
	t.Cleanup(srv.Close)
	t.Setenv("AWS_ENDPOINT_URL_KMS", "")
	t.Setenv("AWS_REGION", "eu-west-1")
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	t.Setenv("AWS_CONFIG_FILE", t.TempDir()+"/none")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", t.TempDir()+"/none")
	cfg, err := config.LoadDefaultConfig(context.Background(), config.WithRetryMaxAttempts(1))
	if err != nil {
		t.Fatal(err)
	}
	target := byok.NewKMS(cfg, func(o *kms.Options) { o.BaseEndpoint = aws.String(srv.URL) })
	src := openSource(t, "hmac384.hex", byok.LoadOptions{KeySpec: byok.HMAC384}, software.Options{})
	res, err := new(byok.Importer).Import(context.Background(), src, target)
	if err != nil {
		t.Fatal(err)
	}
	checkVerified(t, res)
	if want := "arn:aws:kms:eu-west-1:"; len(res.KeyARN) < len(want) || res.KeyARN[:len(want)] != want {
		t.Errorf("key %s; want one in eu-west-1, the Region of the environment", res.KeyARN)
	}
}

// A token that expires between GetParametersForImport and ImportKeyMaterial
// is replaced once, for the same key: no second key is created.
func TestImportRefreshesAnExpiredToken(t *testing.T) {
	var skew atomic.Int64 // nanoseconds added to the emulator's clock
	var gpfi, creates atomic.Int64
	clock := func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }
	fault := func(op string) error {
		switch op {
		case "GetParametersForImport":
			gpfi.Add(1)
		case "CreateKey":
			creates.Add(1)
		case "ImportKeyMaterial":
			// The first import arrives 25 hours after its parameters.
			if gpfi.Load() == 1 {
				skew.Store(int64(25 * time.Hour))
			}
		}
		return nil
	}
	_, client := newServer(t, kmstest.WithClock(clock), kmstest.WithFault(fault))
	src := openSource(t, "aes256.bin", byok.LoadOptions{KeySpec: byok.SymmetricDefault}, software.Options{})
	res, err := new(byok.Importer).Import(context.Background(), src, &byok.KMS{Client: client})
	if err != nil {
		t.Fatalf("Import did not recover from an expired token: %v", err)
	}
	if gpfi.Load() != 2 || creates.Load() != 1 {
		t.Errorf("%d GetParametersForImport and %d CreateKey calls; want 2 and 1", gpfi.Load(), creates.Load())
	}
	checkVerified(t, res)
}

// Parameters already past their ValidTo are refused before wrapping.
func TestExpiredParametersRefusedLocally(t *testing.T) {
	src := openSource(t, "aes256.bin", byok.LoadOptions{KeySpec: byok.SymmetricDefault}, software.Options{})
	target := &staleTarget{}
	_, err := (&byok.Importer{WrappingKeySpec: byok.WrappingRSA2048}).Import(context.Background(), src, target)
	if !errors.Is(err, byok.ErrExpiredParameters) || target.imports != 0 {
		t.Errorf("err %v after %d imports; want ErrExpiredParameters before any import", err, target.imports)
	}
}

// staleTarget hands out parameters that expired an hour ago.
type staleTarget struct{ imports int }

func (s *staleTarget) Prepare(_ context.Context, info byok.KeyInfo, alg byok.WrappingAlgorithm, w byok.WrappingKeySpec) (byok.ImportParameters, error) {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return byok.ImportParameters{}, err
	}
	return byok.ImportParameters{KeyID: "k", Algorithm: alg, WrappingKeySpec: byok.WrappingRSA2048, WrappingKey: &k.PublicKey, ImportToken: []byte("t"), ValidTo: time.Now().Add(-time.Hour)}, nil
}

func (s *staleTarget) Import(context.Context, byok.ImportParameters, []byte) (byok.Imported, error) {
	s.imports++
	return byok.Imported{}, nil
}

// An import with an alias checks the alias before CreateKey: a rerun after
// an interruption finishes the key the alias names (reported as not
// created), and an alias naming another kind of key is refused with
// ErrAliasInUse before anything is created. A failure after CreateKey
// (here CreateAlias) still reports the key's ARN; ScheduleDeletion removes
// the alias and schedules the key's deletion with the minimum waiting
// period.
func TestAliasCheckedBeforeCreateKey(t *testing.T) {
	var mu sync.Mutex
	calls := map[string]int{}
	failing := map[string]bool{}
	_, client := newServer(t, kmstest.WithFault(func(op string) error {
		mu.Lock()
		defer mu.Unlock()
		calls[op]++
		if failing[op] {
			return &kmstest.FaultError{Type: "AccessDeniedException", Message: "injected"}
		}
		return nil
	}))
	count := func(op string) int { mu.Lock(); defer mu.Unlock(); return calls[op] }
	setFail := func(op string, on bool) { mu.Lock(); defer mu.Unlock(); failing[op] = on }
	ctx := context.Background()
	src := openSource(t, "p256.pkcs8.pem", byok.LoadOptions{}, software.Options{})

	setFail("GetParametersForImport", true)
	res, err := new(byok.Importer).Import(ctx, src, &byok.KMS{Client: client, Alias: "rerun"})
	setFail("GetParametersForImport", false)
	if err == nil || res == nil || res.KeyARN == "" || count("CreateKey") != 1 {
		t.Fatalf("interrupted import: %v %+v", err, res)
	}
	first := res.KeyARN
	res, err = new(byok.Importer).Import(ctx, src, &byok.KMS{Client: client, Alias: "alias/rerun"})
	if err != nil || res.KeyARN != first || res.Created || count("CreateKey") != 1 {
		t.Fatalf("rerun: %v; key %s (want %s), created %v, %d CreateKey", err, res.KeyARN, first, res.Created, count("CreateKey"))
	}
	checkVerified(t, res)

	// alias/rerun now names an Enabled key: refused, nothing created.
	other := openSource(t, "p384.pkcs8.pem", byok.LoadOptions{}, software.Options{})
	_, err = new(byok.Importer).Import(ctx, other, &byok.KMS{Client: client, Alias: "rerun"})
	if !errors.Is(err, byok.ErrAliasInUse) || count("CreateKey") != 1 || !strings.Contains(err.Error(), first) {
		t.Fatalf("alias in use: %v, %d CreateKey", err, count("CreateKey"))
	}

	// CreateAlias fails after CreateKey: the ARN is reported, and
	// ScheduleDeletion undoes the key.
	setFail("CreateAlias", true)
	target := &byok.KMS{Client: client, Alias: "doomed"}
	res, err = new(byok.Importer).Import(ctx, src, target)
	setFail("CreateAlias", false)
	if err == nil || res == nil || res.KeyARN == "" {
		t.Fatalf("CreateAlias failing: %v %+v; want the created key's ARN", err, res)
	}
	start := time.Now()
	del, err := target.ScheduleDeletion(ctx, res.KeyARN)
	if err != nil || del.Date.Sub(start) < 7*24*time.Hour-time.Minute || del.Date.Sub(start) > 7*24*time.Hour+time.Hour {
		t.Fatalf("ScheduleDeletion: %v %+v", err, del)
	}
	if del.AliasDeleted != "" {
		t.Errorf("deleted alias %s, which never named the key", del.AliasDeleted)
	}
	out, err := client.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(res.KeyARN)})
	if err != nil || out.KeyMetadata.KeyState != types.KeyStatePendingDeletion {
		t.Errorf("after ScheduleDeletion: %v %+v", err, out)
	}
}
