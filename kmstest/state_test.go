package kmstest

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
)

// stateJSON is everything the emulator persists, as JSON, for comparison.
func stateJSON(t *testing.T, e *Emulator) []byte {
	t.Helper()
	e.mu.Lock()
	defer e.mu.Unlock()
	b, err := json.Marshal(struct {
		Secret  []byte
		Regions map[string]*regionState
		Tokens  map[string]*tokenRec
	}{e.tokenSecret, e.regions, e.tokens})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *testClock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// workload runs every state-changing operation once or more.
func workload(t *testing.T, c *kms.Client, east, west func(*kms.Options), clk *testClock) {
	t.Helper()
	ctx := context.Background()
	must := func(_ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	var ids []string
	for i := 0; i < 6; i++ {
		out, err := c.CreateKey(ctx, &kms.CreateKeyInput{Description: aws.String("k"),
			Tags: []types.Tag{{TagKey: aws.String("n"), TagValue: aws.String("v")}}})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, *out.KeyMetadata.KeyId)
	}
	must(c.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String("alias/a"), TargetKeyId: &ids[0]}))
	must(c.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String("alias/b"), TargetKeyId: &ids[1]}))
	must(c.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String("alias/gone"), TargetKeyId: &ids[5]}))
	must(c.DeleteAlias(ctx, &kms.DeleteAliasInput{AliasName: aws.String("alias/b")}))
	must(c.TagResource(ctx, &kms.TagResourceInput{KeyId: &ids[2], Tags: []types.Tag{{TagKey: aws.String("x"), TagValue: aws.String("y")}}}))
	must(c.UntagResource(ctx, &kms.UntagResourceInput{KeyId: &ids[3], TagKeys: []string{"n"}}))
	must(c.DisableKey(ctx, &kms.DisableKeyInput{KeyId: &ids[4]}))
	must(c.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: &ids[5], PendingWindowInDays: aws.Int32(7)}))

	// An imported symmetric key, with new key material rotated in.
	ext, err := c.CreateKey(ctx, &kms.CreateKeyInput{Origin: types.OriginTypeExternal})
	if err != nil {
		t.Fatal(err)
	}
	importSym := func(id string, mat []byte, mod func(*kms.ImportKeyMaterialInput)) {
		t.Helper()
		p, err := c.GetParametersForImport(ctx, &kms.GetParametersForImportInput{KeyId: &id,
			WrappingAlgorithm: types.AlgorithmSpecRsaesOaepSha256, WrappingKeySpec: types.WrappingKeySpecRsa2048})
		if err != nil {
			t.Fatal(err)
		}
		pub, err := x509.ParsePKIXPublicKey(p.PublicKey)
		if err != nil {
			t.Fatal(err)
		}
		blob, err := rsa.EncryptOAEP(sha256.New(), rand.Reader, pub.(*rsa.PublicKey), mat, nil)
		if err != nil {
			t.Fatal(err)
		}
		in := &kms.ImportKeyMaterialInput{KeyId: &id, ImportToken: p.ImportToken, EncryptedKeyMaterial: blob,
			ExpirationModel: types.ExpirationModelTypeKeyMaterialExpires, ValidTo: aws.Time(clk.now().Add(48 * time.Hour))}
		if mod != nil {
			mod(in)
		}
		must(c.ImportKeyMaterial(ctx, in))
	}
	m1, m2 := make([]byte, 32), make([]byte, 32)
	rand.Read(m1)
	rand.Read(m2)
	importSym(*ext.KeyMetadata.KeyId, m1, nil)
	importSym(*ext.KeyMetadata.KeyId, m2, func(in *kms.ImportKeyMaterialInput) {
		in.ImportType, in.ExpirationModel, in.ValidTo = types.ImportTypeNewKeyMaterial, types.ExpirationModelTypeKeyMaterialDoesNotExpire, nil
	})
	must(c.RotateKeyOnDemand(ctx, &kms.RotateKeyOnDemandInput{KeyId: ext.KeyMetadata.KeyId}))
	// An import token left unused.
	must(c.GetParametersForImport(ctx, &kms.GetParametersForImportInput{KeyId: ext.KeyMetadata.KeyId,
		WrappingAlgorithm: types.AlgorithmSpecRsaesOaepSha1, WrappingKeySpec: types.WrappingKeySpecRsa2048}))

	// A multi-Region key and its replica.
	mrk, err := c.CreateKey(ctx, &kms.CreateKeyInput{MultiRegion: aws.Bool(true)}, east)
	if err != nil {
		t.Fatal(err)
	}
	must(c.ReplicateKey(ctx, &kms.ReplicateKeyInput{KeyId: mrk.KeyMetadata.KeyId, ReplicaRegion: aws.String("us-west-2")}, east))
	must(c.TagResource(ctx, &kms.TagResourceInput{KeyId: mrk.KeyMetadata.KeyId, Tags: []types.Tag{{TagKey: aws.String("r"), TagValue: aws.String("w")}}}, west))

	// Time passes: key material expires, the scheduled key and its alias go.
	clk.add(8 * 24 * time.Hour)
	must(c.ListKeys(ctx, &kms.ListKeysInput{}))
}

// TestStateLogRoundTrip: an emulator started on the state directory of a
// running one (snapshot and log, no Close) holds exactly the same state;
// so does one started after compactions and after Close.
func TestStateLogRoundTrip(t *testing.T) {
	defer func(n int) { compactMin = n }(compactMin)
	for _, min := range []int{1 << 20, 4} { // never compact; compact often
		compactMin = min
		dir := t.TempDir()
		clk := &testClock{t: time.Now().UTC().Truncate(time.Second)}
		srv := NewServer(WithStateDir(dir), WithClock(clk.now), WithWrappingKeyCache(true))
		c := srv.Client()
		workload(t, c, func(o *kms.Options) { o.Region = "us-east-1" }, func(o *kms.Options) { o.Region = "us-west-2" }, clk)
		want := stateJSON(t, srv.Emulator)
		srv.Emulator.mu.Lock()
		gen := srv.Emulator.p.gen
		srv.Emulator.mu.Unlock()
		if compacted := gen > 1; compacted != (min == 4) {
			t.Errorf("compactMin %d: generation %d after the workload", min, gen)
		}

		// Like a crash: the first emulator is not closed.
		again, err := NewHandler(WithStateDir(dir), WithClock(clk.now))
		if err != nil {
			t.Fatalf("compactMin %d: reloading: %v", min, err)
		}
		if got := stateJSON(t, again); !bytes.Equal(got, want) {
			t.Errorf("compactMin %d: reloaded state differs:\n got %s\nwant %s", min, got, want)
		}
		again.closeLog()
		srv.Close()
		after, err := NewHandler(WithStateDir(dir), WithClock(clk.now))
		if err != nil {
			t.Fatal(err)
		}
		if got := stateJSON(t, after); !bytes.Equal(got, want) {
			t.Errorf("compactMin %d: state after Close differs", min)
		}
		after.Close()
	}
}

// TestStateLogDamage: a log of another generation is ignored (the snapshot
// is newer), a last line cut short is ignored, a damaged line elsewhere is
// an error.
func TestStateLogDamage(t *testing.T) {
	dir := t.TempDir()
	srv := NewServer(WithStateDir(dir))
	c := srv.Client()
	ctx := context.Background()
	if _, err := c.CreateKey(ctx, &kms.CreateKeyInput{}); err != nil {
		t.Fatal(err)
	}
	want := stateJSON(t, srv.Emulator)
	srv.Emulator.mu.Lock()
	snap, _ := os.ReadFile(filepath.Join(dir, stateFile))
	log, _ := os.ReadFile(filepath.Join(dir, logFile))
	srv.Emulator.mu.Unlock()
	srv.Close()
	if bytes.Count(log, []byte("\n")) != 2 {
		t.Fatalf("log after one CreateKey:\n%s", log)
	}
	// load restores the snapshot and a log as they were before a crash.
	load := func(log []byte) ([]byte, error) {
		t.Helper()
		os.WriteFile(filepath.Join(dir, stateFile), snap, 0o600)
		os.WriteFile(filepath.Join(dir, logFile), log, 0o600)
		e, err := NewHandler(WithStateDir(dir))
		if err != nil {
			return nil, err
		}
		defer e.closeLog()
		return stateJSON(t, e), nil
	}
	got, err := load(log)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("log replayed: %v", err)
	}
	// Another generation's log is ignored: the key is not there.
	other := bytes.Replace(log, []byte(`"generation":`), []byte(`"generation":9`), 1)
	if got, err := load(other); err != nil || bytes.Equal(got, want) {
		t.Errorf("a log of another generation: %v, replayed %v", err, bytes.Equal(got, want))
	}
	// Cut short: the key's record is lost, the rest loads.
	if got, err := load(log[:len(log)-10]); err != nil || bytes.Equal(got, want) {
		t.Errorf("a torn last line: %v", err)
	}
	// Damage in the middle is an error.
	bad := append([]byte{}, log...)
	i := bytes.IndexByte(bad, '\n')
	bad = append(bad[:i+1], append([]byte("{not json\n"), bad[i+1:]...)...)
	if _, err := load(bad); err == nil {
		t.Error("a damaged line in the middle of the log loaded")
	}
}

// TestTokensDroppedAtExpiry: import token records (each holds a wrapping
// private key) go when the token expires; the token is still answered as
// expired, not as invalid.
func TestTokensDroppedAtExpiry(t *testing.T) {
	clk := &testClock{t: time.Now().UTC()}
	srv := NewServer(WithClock(clk.now), WithWrappingKeyCache(true))
	defer srv.Close()
	c := srv.Client(func(o *kms.Options) { o.Retryer = aws.NopRetryer{} })
	ctx := context.Background()
	out, err := c.CreateKey(ctx, &kms.CreateKeyInput{Origin: types.OriginTypeExternal})
	if err != nil {
		t.Fatal(err)
	}
	var tok []byte
	for i := 0; i < 20; i++ {
		p, err := c.GetParametersForImport(ctx, &kms.GetParametersForImportInput{KeyId: out.KeyMetadata.KeyId,
			WrappingAlgorithm: types.AlgorithmSpecRsaesOaepSha256, WrappingKeySpec: types.WrappingKeySpecRsa2048})
		if err != nil {
			t.Fatal(err)
		}
		tok = p.ImportToken
	}
	count := func() int { srv.Emulator.mu.Lock(); defer srv.Emulator.mu.Unlock(); return len(srv.Emulator.tokens) }
	if n := count(); n != 20 {
		t.Fatalf("%d token records, want 20", n)
	}
	clk.add(tokenValidity)
	_, err = c.ImportKeyMaterial(ctx, &kms.ImportKeyMaterialInput{KeyId: out.KeyMetadata.KeyId, ImportToken: tok,
		EncryptedKeyMaterial: make([]byte, 256), ExpirationModel: types.ExpirationModelTypeKeyMaterialDoesNotExpire})
	var exp *types.ExpiredImportTokenException
	if !errors.As(err, &exp) {
		t.Errorf("an expired token: %v, want ExpiredImportTokenException", err)
	}
	if n := count(); n != 0 {
		t.Errorf("%d token records kept after expiry", n)
	}
	// A token of another key is invalid, expired or not.
	other, _ := c.CreateKey(ctx, &kms.CreateKeyInput{Origin: types.OriginTypeExternal})
	_, err = c.ImportKeyMaterial(ctx, &kms.ImportKeyMaterialInput{KeyId: other.KeyMetadata.KeyId, ImportToken: tok,
		EncryptedKeyMaterial: make([]byte, 256), ExpirationModel: types.ExpirationModelTypeKeyMaterialDoesNotExpire})
	var inv *types.InvalidImportTokenException
	if !errors.As(err, &inv) {
		t.Errorf("another key's token: %v, want InvalidImportTokenException", err)
	}
}
