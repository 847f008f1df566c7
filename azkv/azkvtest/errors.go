package azkvtest

import (
	"encoding/json"
	"fmt"
	"net/http"
)

// kvError is an error as Key Vault answers it: an HTTP status and a body
// {"error":{"code":…,"message":…}}, the shape "Authentication, requests, and
// responses" documents
// (https://learn.microsoft.com/azure/key-vault/general/authentication-requests-and-responses#handling-error-responses),
// which azcore decodes into azcore.ResponseError.ErrorCode.
type kvError struct {
	status int
	code   string
	msg    string
}

func (e *kvError) Error() string { return fmt.Sprintf("%d %s: %s", e.status, e.code, e.msg) }

// The error codes the fake answers with. Key Vault's REST reference
// documents the shape and the status classes, not a closed list of codes;
// these are the names Key Vault is seen to use for the same conditions.
const (
	codeBadParameter   = "BadParameter" // 400: malformed or refused request
	codeUnauthorized   = "Unauthorized" // 401: no or wrong bearer token
	codeForbidden      = "Forbidden"    // 403: key_ops does not allow the operation
	codeKeyNotFound    = "KeyNotFound"  // 404: no such key or version
	codeNotFound       = "NotFound"     // 404: no such route
	codeMethod         = "MethodNotAllowed"
	codeConflict       = "Conflict"       // 409: name held by a deleted key
	codeNotImplemented = "NotImplemented" // 501: outside what the fake emulates
)

func badParam(format string, args ...any) *kvError {
	return &kvError{http.StatusBadRequest, codeBadParameter, fmt.Sprintf(format, args...)}
}

func forbidden(format string, args ...any) *kvError {
	return &kvError{http.StatusForbidden, codeForbidden, fmt.Sprintf(format, args...)}
}

func keyNotFound(format string, args ...any) *kvError {
	return &kvError{http.StatusNotFound, codeKeyNotFound, fmt.Sprintf(format, args...)}
}

func notImplemented(format string, args ...any) *kvError {
	return &kvError{http.StatusNotImplemented, codeNotImplemented, fmt.Sprintf(format, args...)}
}

// writeJSON answers status with v as JSON.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"error":{"code":"InternalError","message":"azkvtest: cannot encode the response"}}`)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

func writeError(w http.ResponseWriter, e *kvError) {
	type inner struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	}
	writeJSON(w, e.status, struct {
		Error inner `json:"error"`
	}{inner{e.code, e.msg}})
}
