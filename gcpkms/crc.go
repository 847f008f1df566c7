package gcpkms

import (
	"fmt"
	"hash/crc32"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"google.golang.org/protobuf/types/known/wrapperspb"
)

// Cloud KMS's end-to-end integrity fields are CRC32C (Castagnoli) checksums:
// the client sends the checksum of what it sends, Cloud KMS says whether it
// verified it (verified_*_crc32c) and sends the checksum of what it returns.
// A mismatch means corruption in transit, not a different key: the proof
// stops (UNPROVEN) rather than failing.
// https://cloud.google.com/kms/docs/data-integrity-guidelines
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func crc(b []byte) *wrapperspb.Int64Value {
	return wrapperspb.Int64(int64(crc32.Checksum(b, castagnoli)))
}

// errIntegrity reports a CRC32C mismatch of op.
type errIntegrity struct{ op, what string }

func (e *errIntegrity) Error() string {
	return fmt.Sprintf("gcpkms: %s: the CRC32C integrity check of %s failed (data corrupted between byok and Cloud KMS); run the proof again", e.op, e.what)
}

// checkSent fails unless Cloud KMS verified the checksum of what was sent.
func checkSent(op, what string, verified bool) error {
	if !verified {
		return &errIntegrity{op, what + " (Cloud KMS did not confirm the request's checksum)"}
	}
	return nil
}

// checkReceived fails unless b matches the checksum Cloud KMS returned.
func checkReceived(op, what string, b []byte, sum *wrapperspb.Int64Value) error {
	if sum == nil || sum.GetValue() != int64(crc32.Checksum(b, castagnoli)) {
		return &errIntegrity{op, what}
	}
	return nil
}

// isChecksumError reports whether err is Cloud KMS refusing a request
// because a *_crc32c field the client sent did not match its data: an
// INVALID_ARGUMENT whose message names the checksum (Cloud KMS "will report
// an error if the checksum verification fails"; its status code is the
// one of every bad argument, so the message tells them apart). It is
// corruption in transit, not evidence about the key.
// https://cloud.google.com/kms/docs/data-integrity-guidelines
func isChecksumError(err error) bool {
	if status.Code(err) != codes.InvalidArgument {
		return false
	}
	m := strings.ToLower(status.Convert(err).Message())
	return strings.Contains(m, "crc32c") || strings.Contains(m, "checksum")
}
