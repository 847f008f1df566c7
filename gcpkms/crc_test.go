package gcpkms

import (
	"context"
	"errors"
	"strings"
	"testing"

	"cloud.google.com/go/kms/apiv1/kmspb"
	"github.com/googleapis/gax-go/v2"

	"github.com/byok-go/byok"
)

// corrupting is a client whose MacSign responses are altered in transit
// (one bit of the MAC flipped, its checksum kept) and whose AsymmetricSign
// responses say the digest's checksum was not verified.
type corrupting struct{ API }

func (c corrupting) MacSign(ctx context.Context, req *kmspb.MacSignRequest, opts ...gax.CallOption) (*kmspb.MacSignResponse, error) {
	resp, err := c.API.MacSign(ctx, req, opts...)
	if err == nil {
		resp.Mac[0] ^= 1
	}
	return resp, err
}

func (c corrupting) AsymmetricSign(ctx context.Context, req *kmspb.AsymmetricSignRequest, opts ...gax.CallOption) (*kmspb.AsymmetricSignResponse, error) {
	resp, err := c.API.AsymmetricSign(ctx, req, opts...)
	if err == nil {
		resp.VerifiedDigestCrc32C = false
	}
	return resp, err
}

// TestIntegrityFields: a response that fails its CRC32C check stops the
// proof (UNPROVEN, an error naming the check), rather than counting as
// evidence of another key (FAILED) or passing.
func TestIntegrityFields(t *testing.T) {
	_, client := newFake(t)
	ctx := context.Background()
	for _, spec := range []byok.KeySpec{byok.HMAC256, byok.ECCNISTP256} {
		tg := fakeTarget(t, corrupting{client}, Options{KeyID: "crc-" + strings.ToLower(string(spec))})
		res, err := new(byok.Importer).Import(ctx, softwareKey(t, spec), tg)
		var ie *errIntegrity
		if !errors.Is(err, byok.ErrUnproven) || !errors.As(err, &ie) || res.Verification.Verdict != byok.VerdictUnproven {
			t.Errorf("%s: want UNPROVEN from a CRC32C mismatch: %v %+v", spec, err, res.Verification)
		}
	}
}
