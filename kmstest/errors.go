package kmstest

import (
	"fmt"
	"net/http"
	"time"
)

// The error names (the "__type" of an AWS JSON 1.1 error body) the emulator
// returns. The AWS SDK for Go v2 turns those KMS models into typed errors
// (*types.NotFoundException and so on); ValidationException,
// ThrottlingException, SerializationException and UnknownOperationException
// are common AWS errors that arrive as *smithy.GenericAPIError with that
// ErrorCode.
const (
	ErrAlreadyExists              = "AlreadyExistsException"              // AlreadyExistsException
	ErrCustomKeyStoreNotFound     = "CustomKeyStoreNotFoundException"     // CustomKeyStoreNotFoundException
	ErrDependencyTimeout          = "DependencyTimeoutException"          // DependencyTimeoutException
	ErrDisabled                   = "DisabledException"                   // DisabledException
	ErrDryRunOperation            = "DryRunOperationException"            // DryRunOperationException
	ErrExpiredImportToken         = "ExpiredImportTokenException"         // ExpiredImportTokenException
	ErrIncorrectKey               = "IncorrectKeyException"               // IncorrectKeyException
	ErrIncorrectKeyMaterial       = "IncorrectKeyMaterialException"       // IncorrectKeyMaterialException
	ErrInvalidAliasName           = "InvalidAliasNameException"           // InvalidAliasNameException
	ErrInvalidArn                 = "InvalidArnException"                 // InvalidArnException
	ErrInvalidCiphertext          = "InvalidCiphertextException"          // InvalidCiphertextException
	ErrInvalidImportToken         = "InvalidImportTokenException"         // InvalidImportTokenException
	ErrInvalidKeyUsage            = "InvalidKeyUsageException"            // InvalidKeyUsageException
	ErrInvalidMarker              = "InvalidMarkerException"              // InvalidMarkerException
	ErrKMSInternal                = "KMSInternalException"                // KMSInternalException
	ErrKMSInvalidMac              = "KMSInvalidMacException"              // KMSInvalidMacException
	ErrKMSInvalidSignature        = "KMSInvalidSignatureException"        // KMSInvalidSignatureException
	ErrKMSInvalidState            = "KMSInvalidStateException"            // KMSInvalidStateException
	ErrLimitExceeded              = "LimitExceededException"              // LimitExceededException
	ErrMalformedPolicyDocument    = "MalformedPolicyDocumentException"    // MalformedPolicyDocumentException
	ErrNotFound                   = "NotFoundException"                   // NotFoundException
	ErrTag                        = "TagException"                        // TagException
	ErrUnsupportedOperation       = "UnsupportedOperationException"       // UnsupportedOperationException
	ErrValidation                 = "ValidationException"                 // ValidationException
	ErrThrottling                 = "ThrottlingException"                 // ThrottlingException
	ErrSerialization              = "SerializationException"              // SerializationException
	ErrUnknownOperation           = "UnknownOperationException"           // UnknownOperationException
	ErrMissingAuthenticationToken = "MissingAuthenticationTokenException" // MissingAuthenticationTokenException
	ErrIncompleteSignature        = "IncompleteSignatureException"        // IncompleteSignatureException
	ErrInvalidSignature           = "InvalidSignatureException"           // InvalidSignatureException
	// ErrNotImplemented is the emulator's own: an operation KMS has and
	// the emulator does not emulate (HTTP 501). AWS never returns it.
	ErrNotImplemented = "NotImplemented"
)

// statusOf is the HTTP status KMS answers an error with. The KMS API
// Reference documents 400 for every client error (the Smithy model's
// httpError traits, 404 for NotFoundException and 409 for
// KMSInvalidStateException, are not what the service sends) and 500 for
// DependencyTimeoutException, KMSInternalException and
// KeyUnavailableException.
func statusOf(typ string) int {
	switch typ {
	case ErrKMSInternal, ErrDependencyTimeout, "KeyUnavailableException":
		return http.StatusInternalServerError
	case ErrDryRunOperation:
		return http.StatusPreconditionFailed
	case ErrNotImplemented:
		return http.StatusNotImplemented
	}
	return http.StatusBadRequest
}

// apiError is an error the emulator answers a request with.
type apiError struct {
	status int
	typ    string
	msg    string
}

func (e *apiError) Error() string { return e.typ + ": " + e.msg }

func newErr(typ, format string, args ...any) *apiError {
	return &apiError{status: statusOf(typ), typ: typ, msg: fmt.Sprintf(format, args...)}
}

// validationErr formats a ValidationException as AWS's request validation
// does: "1 validation error detected: Value … at '…' failed to satisfy
// constraint: …".
func validationErr(value any, member, constraint string) *apiError {
	v := "null"
	if value != nil {
		v = fmt.Sprintf("'%v'", value)
	}
	return newErr(ErrValidation, "1 validation error detected: Value %s at '%s' failed to satisfy constraint: %s", v, member, constraint)
}

func requiredErr(member string) *apiError {
	return validationErr(nil, member, "Member must not be null")
}

// FaultError is what a WithFault hook returns to make the emulator fail a
// request on purpose. A FaultError with Reset closes the connection without
// answering; otherwise, after Delay, the emulator answers with HTTP Status
// (400 when zero) and the error body {"__type": Type, "message": Message}.
// A FaultError with a Status but no Type answers with KMSInternalException;
// one with only a Delay (no Type, no Status, no Reset) delays the request and
// then serves it normally.
type FaultError struct {
	// Status is the HTTP status code; 0 means the status AWS uses for Type
	// (400 for client errors, 500 for KMSInternalException and
	// DependencyTimeoutException).
	Status int
	// Type is the AWS error name, e.g. "ThrottlingException" or
	// "KMSInternalException".
	Type string
	// Message is the error message.
	Message string
	// Reset closes the connection without an HTTP response.
	Reset bool
	// Delay is how long to wait before failing (or before serving the
	// request, when Type is empty and Reset is false).
	Delay time.Duration
}

// Error describes the fault.
func (f *FaultError) Error() string {
	switch {
	case f.Reset:
		return "kmstest: fault: connection reset"
	case f.Type == "" && f.Status == 0:
		return fmt.Sprintf("kmstest: fault: delay %v", f.Delay)
	}
	return fmt.Sprintf("kmstest: fault: HTTP %d %s: %s", f.Status, f.Type, f.Message)
}
