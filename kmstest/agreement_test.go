package kmstest_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"
	"hash"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/smithy-go"
	"github.com/byok-go/byok"
	"github.com/byok-go/byok/kmstest"
	kwp "github.com/tink-crypto/tink-go/v2/kwp/subtle"
)

// agreementAlgorithms are every wrapping algorithm outside China Regions,
// the deprecated one included.
var agreementAlgorithms = []types.AlgorithmSpec{
	types.AlgorithmSpecRsaesOaepSha1,
	types.AlgorithmSpecRsaesOaepSha256,
	types.AlgorithmSpecRsaAesKeyWrapSha1,
	types.AlgorithmSpecRsaAesKeyWrapSha256,
	types.AlgorithmSpecRsaesPkcs1V15,
}

var agreementWrappingKeySpecs = []types.WrappingKeySpec{
	types.WrappingKeySpecRsa2048, types.WrappingKeySpecRsa3072, types.WrappingKeySpecRsa4096,
}

// TestAgreement runs every importable key spec × wrapping algorithm ×
// wrapping key spec through byok.CheckCompatible and through the emulator
// (CreateKey EXTERNAL, GetParametersForImport, a wrap of the test's own,
// ImportKeyMaterial) and requires the same answer. Where they disagree,
// AWS's documentation decides which is wrong (the emulator's table cites
// the pages, rules.go).
func TestAgreement(t *testing.T) {
	srv := newServer(t)
	c := srv.Client(noRetry)
	ctx := context.Background()
	var accepted, refused int
	for _, spec := range byok.KeySpecs() {
		mat := sourceKey(t, spec).km.Bytes() // generated once per spec
		t.Cleanup(func() { clear(mat) })
		for _, alg := range agreementAlgorithms {
			for _, wks := range agreementWrappingKeySpecs {
				cell := fmt.Sprintf("%s × %s × %s", spec, alg, wks)
				byokErr := byok.CheckCompatible(spec, byok.WrappingAlgorithm(alg), byok.WrappingKeySpec(wks))
				emuErr := emulatorImport(ctx, c, spec, alg, wks, mat)
				var ae smithy.APIError
				if emuErr != nil && (!errors.As(emuErr, &ae) || ae.ErrorCode() != kmstest.ErrValidation) {
					// A refusal must be the rule's, not a failed unwrap or parse.
					t.Errorf("%s: the emulator failed other than by a rule: %v", cell, emuErr)
					continue
				}
				switch {
				case byokErr == nil && emuErr != nil:
					t.Errorf("%s: byok accepts, the emulator refuses: %v", cell, emuErr)
				case byokErr != nil && emuErr == nil:
					t.Errorf("%s: the emulator accepts, byok refuses: %v", cell, byokErr)
				case byokErr == nil:
					accepted++
				default:
					refused++
				}
			}
		}
	}
	// The matrix is 12 × 5 × 3; AWS's documents make 94 cells importable:
	// symmetric and HMAC (5 specs) under RSAES_OAEP_* (2) × 3 wrapping keys,
	// RSA (3) under RSA_AES_KEY_WRAP_* (2) × 3, EC (4) under all four but
	// P-521 with RSAES_OAEP_* under RSA_2048.
	if want := 5*2*3 + 3*2*3 + 4*4*3 - 2; accepted != want || accepted+refused != 12*5*3 {
		t.Errorf("%d cells accepted and %d refused; want %d of %d accepted", accepted, refused, want, 12*5*3)
	}
}

// emulatorImport asks the emulator to import mat into a new EXTERNAL key of
// spec with alg and wks. It wraps with crypto/rsa and Tink's KWP, not with
// byok, so that byok's refusal cannot hide the emulator's answer; material
// OAEP cannot carry at all is sent as a modulus-sized blob of zeros, which
// the emulator must refuse by its rules before unwrapping.
func emulatorImport(ctx context.Context, c *kms.Client, spec byok.KeySpec, alg types.AlgorithmSpec, wks types.WrappingKeySpec, mat []byte) error {
	usage := types.KeyUsageType(spec.Usages()[0])
	ck, err := c.CreateKey(ctx, &kms.CreateKeyInput{Origin: types.OriginTypeExternal, KeySpec: types.KeySpec(spec), KeyUsage: usage})
	if err != nil {
		return fmt.Errorf("CreateKey: %w", err)
	}
	id := ck.KeyMetadata.KeyId
	p, err := c.GetParametersForImport(ctx, &kms.GetParametersForImportInput{KeyId: id, WrappingAlgorithm: alg, WrappingKeySpec: wks})
	if err != nil {
		return err
	}
	pubAny, err := x509.ParsePKIXPublicKey(p.PublicKey)
	if err != nil {
		return fmt.Errorf("the wrapping public key does not parse: %v", err)
	}
	pub, ok := pubAny.(*rsa.PublicKey)
	if !ok {
		return fmt.Errorf("the wrapping public key is a %T", pubAny)
	}
	blob, err := testWrap(pub, alg, mat)
	if err != nil {
		return fmt.Errorf("test wrap: %v", err)
	}
	_, err = c.ImportKeyMaterial(ctx, &kms.ImportKeyMaterialInput{KeyId: id, ImportToken: p.ImportToken,
		EncryptedKeyMaterial: blob, ExpirationModel: types.ExpirationModelTypeKeyMaterialDoesNotExpire})
	if err != nil {
		return err
	}
	md, err := c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: id})
	if err != nil {
		return err
	}
	if md.KeyMetadata.KeyState != types.KeyStateEnabled {
		return fmt.Errorf("imported, but the key is %s", md.KeyMetadata.KeyState)
	}
	return nil
}

// testWrap is the test's own implementation of the wrapping algorithms.
func testWrap(pub *rsa.PublicKey, alg types.AlgorithmSpec, mat []byte) ([]byte, error) {
	var h func() hash.Hash
	keyWrap := false
	switch alg {
	case types.AlgorithmSpecRsaesOaepSha1:
		h = sha1.New
	case types.AlgorithmSpecRsaesOaepSha256:
		h = sha256.New
	case types.AlgorithmSpecRsaAesKeyWrapSha1:
		h, keyWrap = sha1.New, true
	case types.AlgorithmSpecRsaAesKeyWrapSha256:
		h, keyWrap = sha256.New, true
	default:
		return nil, fmt.Errorf("no wrap for %s", alg)
	}
	if !keyWrap {
		if len(mat) > pub.Size()-2*h().Size()-2 {
			return make([]byte, pub.Size()), nil // OAEP cannot carry it
		}
		return rsa.EncryptOAEP(h(), rand.Reader, pub, mat, nil)
	}
	aesKey := make([]byte, 32)
	rand.Read(aesKey)
	defer clear(aesKey)
	head, err := rsa.EncryptOAEP(h(), rand.Reader, pub, aesKey, nil)
	if err != nil {
		return nil, err
	}
	w, err := kwp.NewKWP(aesKey)
	if err != nil {
		return nil, err
	}
	tail, err := w.Wrap(mat)
	if err != nil {
		return nil, err
	}
	return append(head, tail...), nil
}
