package gcpkmstest_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"hash/crc32"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	kms "cloud.google.com/go/kms/apiv1"
	"cloud.google.com/go/kms/apiv1/kmspb"
	kwp "github.com/tink-crypto/tink-go/v2/kwp/subtle"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/byok-go/byok/gcpkms/gcpkmstest"
	"github.com/byok-go/byok/internal/testenv"
)

// The tests talk to the fake only through the real Go client, and wrap key
// material independently of byok: with OpenSSL 3 as Google's "Wrapping a key
// using OpenSSL on Linux" does (https://cloud.google.com/kms/docs/wrapping-a-key),
// or with crypto/rsa and Tink's KWP where a test needs to damage the result.

const location = "projects/test-project/locations/us-east1"

type fixture struct {
	t   *testing.T
	srv *gcpkmstest.Server
	c   *kms.KeyManagementClient
	ctx context.Context
	dir string
}

func newFixture(t *testing.T, opts ...gcpkmstest.Option) *fixture {
	t.Helper()
	srv, err := gcpkmstest.New(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	t.Cleanup(cancel)
	c, err := kms.NewKeyManagementClient(ctx, srv.ClientOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &fixture{t: t, srv: srv, c: c, ctx: ctx, dir: t.TempDir()}
}

func (f *fixture) keyRing(id string) string {
	f.t.Helper()
	kr, err := f.c.CreateKeyRing(f.ctx, &kmspb.CreateKeyRingRequest{Parent: location, KeyRingId: id})
	if err != nil {
		f.t.Fatalf("CreateKeyRing: %v", err)
	}
	return kr.GetName()
}

// importKey creates an import-only key without versions.
func (f *fixture) importKey(ring, id string, alg kmspb.CryptoKeyVersion_CryptoKeyVersionAlgorithm, level kmspb.ProtectionLevel) string {
	f.t.Helper()
	k, err := f.c.CreateCryptoKey(f.ctx, &kmspb.CreateCryptoKeyRequest{
		Parent:      ring,
		CryptoKeyId: id,
		CryptoKey: &kmspb.CryptoKey{
			Purpose:         purposeOf(alg),
			VersionTemplate: &kmspb.CryptoKeyVersionTemplate{Algorithm: alg, ProtectionLevel: level},
			ImportOnly:      true,
		},
		SkipInitialVersionCreation: true,
	})
	if err != nil {
		f.t.Fatalf("CreateCryptoKey %s %s: %v", alg, level, err)
	}
	return k.GetName()
}

func purposeOf(alg kmspb.CryptoKeyVersion_CryptoKeyVersionAlgorithm) kmspb.CryptoKey_CryptoKeyPurpose {
	s := alg.String()
	switch {
	case s == "GOOGLE_SYMMETRIC_ENCRYPTION":
		return kmspb.CryptoKey_ENCRYPT_DECRYPT
	case strings.HasPrefix(s, "AES_"):
		return kmspb.CryptoKey_RAW_ENCRYPT_DECRYPT
	case strings.HasPrefix(s, "HMAC_"):
		return kmspb.CryptoKey_MAC
	case strings.HasPrefix(s, "RSA_DECRYPT_"):
		return kmspb.CryptoKey_ASYMMETRIC_DECRYPT
	}
	return kmspb.CryptoKey_ASYMMETRIC_SIGN
}

// job creates an import job; wait makes the caller wait until it is ACTIVE.
func (f *fixture) job(ring, id string, m kmspb.ImportJob_ImportMethod, level kmspb.ProtectionLevel) *kmspb.ImportJob {
	f.t.Helper()
	j, err := f.c.CreateImportJob(f.ctx, &kmspb.CreateImportJobRequest{
		Parent:      ring,
		ImportJobId: id,
		ImportJob:   &kmspb.ImportJob{ImportMethod: m, ProtectionLevel: level},
	})
	if err != nil {
		f.t.Fatalf("CreateImportJob %s %s: %v", m, level, err)
	}
	return j
}

func (f *fixture) waitJob(name string) *kmspb.ImportJob {
	f.t.Helper()
	for {
		j, err := f.c.GetImportJob(f.ctx, &kmspb.GetImportJobRequest{Name: name})
		if err != nil {
			f.t.Fatalf("GetImportJob: %v", err)
		}
		if j.GetState() != kmspb.ImportJob_PENDING_GENERATION {
			return j
		}
		select {
		case <-f.ctx.Done():
			f.t.Fatalf("import job %s still PENDING_GENERATION", name)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// importWrapped imports and waits for the outcome.
func (f *fixture) importWrapped(key, job string, alg kmspb.CryptoKeyVersion_CryptoKeyVersionAlgorithm, wrapped []byte) (*kmspb.CryptoKeyVersion, error) {
	f.t.Helper()
	v, err := f.c.ImportCryptoKeyVersion(f.ctx, &kmspb.ImportCryptoKeyVersionRequest{
		Parent: key, ImportJob: job, Algorithm: alg, WrappedKey: wrapped,
	})
	if err != nil {
		return nil, err
	}
	return f.waitVersion(v.GetName()), nil
}

func (f *fixture) waitVersion(name string) *kmspb.CryptoKeyVersion {
	f.t.Helper()
	for {
		v, err := f.c.GetCryptoKeyVersion(f.ctx, &kmspb.GetCryptoKeyVersionRequest{Name: name})
		if err != nil {
			f.t.Fatalf("GetCryptoKeyVersion: %v", err)
		}
		if v.GetState() != kmspb.CryptoKeyVersion_PENDING_IMPORT {
			return v
		}
		select {
		case <-f.ctx.Done():
			f.t.Fatalf("version %s still PENDING_IMPORT", name)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// methodParams: the RSA-OAEP hash of each import method and whether it adds
// AES-KWP (ImportMethod, https://cloud.google.com/kms/docs/reference/rpc/google.cloud.kms.v1).
func methodParams(m kmspb.ImportJob_ImportMethod) (hash string, kwp bool) {
	s := m.String()
	hash = "sha256"
	if strings.Contains(s, "_SHA1_") {
		hash = "sha1"
	}
	return hash, strings.HasSuffix(s, "_AES_256")
}

var allMethods = []kmspb.ImportJob_ImportMethod{
	kmspb.ImportJob_RSA_OAEP_3072_SHA1_AES_256,
	kmspb.ImportJob_RSA_OAEP_4096_SHA1_AES_256,
	kmspb.ImportJob_RSA_OAEP_3072_SHA256_AES_256,
	kmspb.ImportJob_RSA_OAEP_4096_SHA256_AES_256,
	kmspb.ImportJob_RSA_OAEP_3072_SHA256,
	kmspb.ImportJob_RSA_OAEP_4096_SHA256,
}

func (f *fixture) openssl(args ...string) []byte {
	f.t.Helper()
	bin := testenv.MustHaveExecPath(f.t, "openssl")
	var stderr bytes.Buffer
	cmd := exec.Command(bin, args...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		f.t.Fatalf("openssl %s: %v\n%s", strings.Join(args, " "), err, stderr.Bytes())
	}
	return out
}

func (f *fixture) file(name string, b []byte) string {
	f.t.Helper()
	p := filepath.Join(f.dir, name)
	if err := os.WriteFile(p, b, 0o600); err != nil {
		f.t.Fatal(err)
	}
	return p
}

var fileSeq atomic.Int64

// name is a fresh file name in the fixture's directory.
func name() string { return fmt.Sprintf("t%d", fileSeq.Add(1)) }

// wrapOpenSSL wraps material for an import job with OpenSSL, as "Wrapping a
// key using OpenSSL on Linux" does: pkeyutl RSA-OAEP (MGF1 with the same
// hash) of a fresh AES-256 key, then `enc -id-aes256-wrap-pad` (RFC 5649)
// of the material; or, for the plain RSA_OAEP_*_SHA256 methods, pkeyutl
// RSA-OAEP of the material itself.
func (f *fixture) wrapOpenSSL(job *kmspb.ImportJob, material []byte) []byte {
	f.t.Helper()
	hash, kwp := methodParams(job.GetImportMethod())
	pub := f.file(name(), []byte(job.GetPublicKey().GetPem()))
	oaep := func(in []byte) []byte {
		return f.openssl("pkeyutl", "-encrypt", "-pubin", "-inkey", pub, "-in", f.file(name(), in),
			"-pkeyopt", "rsa_padding_mode:oaep", "-pkeyopt", "rsa_oaep_md:"+hash, "-pkeyopt", "rsa_mgf1_md:"+hash)
	}
	if !kwp {
		return oaep(material)
	}
	aesKey := make([]byte, 32)
	if _, err := rand.Read(aesKey); err != nil {
		f.t.Fatal(err)
	}
	wrappedKey := oaep(aesKey)
	wrappedMat := f.openssl("enc", "-id-aes256-wrap-pad", "-iv", "A65959A6", "-K", hex.EncodeToString(aesKey),
		"-in", f.file(name(), material))
	return append(wrappedKey, wrappedMat...)
}

// wrapGo wraps like wrapOpenSSL with crypto/rsa and Tink's KWP, for tests
// that need control over the parts.
func wrapGo(t *testing.T, job *kmspb.ImportJob, material []byte) []byte {
	t.Helper()
	block, _ := pem.Decode([]byte(job.GetPublicKey().GetPem()))
	if block == nil {
		t.Fatal("import job public key is not PEM")
	}
	k, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	pub := k.(*rsa.PublicKey)
	hashName, useKWP := methodParams(job.GetImportMethod())
	h := crypto.SHA256
	if hashName == "sha1" {
		h = crypto.SHA1
	}
	if !useKWP {
		out, err := rsa.EncryptOAEP(h.New(), rand.Reader, pub, material, nil)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	aesKey := make([]byte, 32)
	rand.Read(aesKey)
	head, err := rsa.EncryptOAEP(h.New(), rand.Reader, pub, aesKey, nil)
	if err != nil {
		t.Fatal(err)
	}
	w, err := kwp.NewKWP(aesKey)
	if err != nil {
		t.Fatal(err)
	}
	tail, err := w.Wrap(material)
	if err != nil {
		t.Fatal(err)
	}
	return append(head, tail...)
}

// genPKCS8 makes PKCS#8 DER private key material with OpenSSL: genpkey
// (PEM) converted with `pkcs8 -topk8 -nocrypt -outform DER`, as "Formatting
// keys for import" (https://cloud.google.com/kms/docs/formatting-keys-for-import)
// does. (genpkey -outform DER would write the traditional SEC1 or PKCS#1
// form, which Cloud KMS does not import.)
func (f *fixture) genPKCS8(args ...string) []byte {
	f.t.Helper()
	p := f.openssl(append([]string{"genpkey"}, args...)...)
	return f.openssl("pkcs8", "-topk8", "-nocrypt", "-inform", "PEM", "-outform", "DER", "-in", f.file(name(), p))
}

func randBytes(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// wantCode fails unless err is a gRPC status with code c.
func wantCode(t *testing.T, err error, c codes.Code, what string) {
	t.Helper()
	if status.Code(err) != c {
		t.Fatalf("%s: got %v, want code %s", what, err, c)
	}
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func crc32c(b []byte) uint32 { return crc32.Checksum(b, castagnoli) }

func wrapCRC(b []byte) *wrapperspb.Int64Value { return wrapperspb.Int64(int64(crc32c(b))) }
