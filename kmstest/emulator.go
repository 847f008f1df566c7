package kmstest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/kms/types"
)

// maxBody bounds a request body. The largest KMS request members are a
// 6144-byte blob and a 32768-byte policy, base64-encoded where binary.
const maxBody = 1 << 20

// Emulator is the KMS emulator as an http.Handler, for serving on a listener
// of one's own (`byok emulator --listen`); NewServer wraps one in an
// httptest.Server. It is safe for concurrent use.
type Emulator struct {
	opts    *options
	limiter *limiter
	wrap    *wrappingKeys

	mu          sync.Mutex
	regions     map[string]*regionState
	tokens      map[string]*tokenRec
	tokenQueue  []string // token handles in order of expiry, for pruneTokens
	tokenSecret []byte
	sweepAt     time.Time   // when sweep next has work; zero: now
	p           persistence // with WithStateDir
	closed      bool
}

// reqCtx is what a handler knows about its request.
type reqCtx struct {
	ctx    context.Context
	op     string
	region string
	now    time.Time
	locked bool // the handler holds e.mu (enter); ServeHTTP releases it
}

// enter takes the emulator for a request whose body has been decoded and
// checked: the decoding of a large request (up to 1 MiB) holds no one up.
// It reads the clock and applies the passage of time. ServeHTTP releases
// the lock when the handler returns.
func (e *Emulator) enter(rc *reqCtx) *apiError {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return closedErr()
	}
	rc.locked = true
	rc.now = e.opts.now()
	e.sweep(rc.now)
	return nil
}

type handler func(e *Emulator, rc *reqCtx, body []byte) (any, *apiError)

// operations are the KMS operations the emulator serves.
var operations map[string]handler

func init() {
	operations = map[string]handler{
		"CreateKey":                 (*Emulator).createKey,
		"DescribeKey":               (*Emulator).describeKey,
		"ListKeys":                  (*Emulator).listKeys,
		"CreateAlias":               (*Emulator).createAlias,
		"DeleteAlias":               (*Emulator).deleteAlias,
		"ListAliases":               (*Emulator).listAliases,
		"TagResource":               (*Emulator).tagResource,
		"UntagResource":             (*Emulator).untagResource,
		"ListResourceTags":          (*Emulator).listResourceTags,
		"GetKeyPolicy":              (*Emulator).getKeyPolicy,
		"ScheduleKeyDeletion":       (*Emulator).scheduleKeyDeletion,
		"CancelKeyDeletion":         (*Emulator).cancelKeyDeletion,
		"EnableKey":                 (*Emulator).enableKey,
		"DisableKey":                (*Emulator).disableKey,
		"GetParametersForImport":    (*Emulator).getParametersForImport,
		"ImportKeyMaterial":         (*Emulator).importKeyMaterial,
		"DeleteImportedKeyMaterial": (*Emulator).deleteImportedKeyMaterial,
		"GetPublicKey":              (*Emulator).getPublicKey,
		"Sign":                      (*Emulator).sign,
		"Verify":                    (*Emulator).verify,
		"Encrypt":                   (*Emulator).encrypt,
		"Decrypt":                   (*Emulator).decrypt,
		"GenerateMac":               (*Emulator).generateMac,
		"VerifyMac":                 (*Emulator).verifyMac,
		"DeriveSharedSecret":        (*Emulator).deriveSharedSecret,
		"ReplicateKey":              (*Emulator).replicateKey,
		"RotateKeyOnDemand":         (*Emulator).rotateKeyOnDemand,
		"ListKeyRotations":          (*Emulator).listKeyRotations,
	}
}

// knownOperations are KMS operations the emulator does not emulate; they
// fail with HTTP 501 NotImplemented rather than UnknownOperationException.
var knownOperations = []string{
	"ConnectCustomKeyStore", "CreateCustomKeyStore", "CreateGrant", "Decapsulate",
	"DeleteCustomKeyStore", "DescribeCustomKeyStores", "DisableKeyRotation",
	"DisconnectCustomKeyStore", "EnableKeyRotation", "Encapsulate", "GenerateDataKey",
	"GenerateDataKeyPair", "GenerateDataKeyPairWithoutPlaintext",
	"GenerateDataKeyWithoutPlaintext", "GenerateRandom", "GetKeyLastUsage",
	"GetKeyRotationStatus", "ListGrants", "ListKeyPolicies", "ListRetirableGrants",
	"PutKeyPolicy", "ReEncrypt", "RetireGrant", "RevokeGrant", "UpdateAlias",
	"UpdateCustomKeyStore", "UpdateKeyDescription", "UpdatePrimaryRegion",
}

// NewHandler returns a KMS emulator to serve with net/http. With
// WithStateDir it loads the state a previous emulator left in that
// directory. Call Close when done.
func NewHandler(opts ...Option) (*Emulator, error) {
	o := buildOptions(opts)
	if !regionPattern.MatchString(o.region) {
		return nil, fmt.Errorf("kmstest: %q is not an AWS Region name", o.region)
	}
	if len(o.account) != 12 || strings.Trim(o.account, "0123456789") != "" {
		return nil, fmt.Errorf("kmstest: account %q is not a 12-digit AWS account ID", o.account)
	}
	e := &Emulator{
		opts:    o,
		limiter: newLimiter(o.effectiveQuotas()),
		wrap:    newWrappingKeys(o.cacheWrapping),
		regions: map[string]*regionState{},
		tokens:  map[string]*tokenRec{},
	}
	if o.stateDir != "" {
		if err := e.load(); err != nil {
			return nil, err
		}
	}
	if e.tokenSecret == nil {
		e.tokenSecret = make([]byte, 32)
		rand.Read(e.tokenSecret)
	}
	for h := range e.tokens {
		e.tokenQueue = append(e.tokenQueue, h)
	}
	slices.SortFunc(e.tokenQueue, func(a, b string) int { return e.tokens[a].Expires.Compare(e.tokens[b].Expires) })
	if o.stateDir != "" {
		// Start from a fresh snapshot and an empty log.
		if err := e.save(); err != nil {
			return nil, err
		}
	}
	return e, nil
}

// Region returns the emulator's default Region.
func (e *Emulator) Region() string { return e.opts.region }

// Account returns the emulated AWS account ID.
func (e *Emulator) Account() string { return e.opts.account }

// Close makes the emulator refuse further requests (HTTP 503) and, with
// WithStateDir, writes its state a last time.
func (e *Emulator) Close() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return nil
	}
	e.closed = true
	if e.opts.stateDir != "" {
		defer e.closeLog()
		return e.save()
	}
	return nil
}

// Keys returns a snapshot of the metadata of every KMS key in every Region,
// as DescribeKey would return it, in order of creation. It holds no key
// material.
func (e *Emulator) Keys() []types.KeyMetadata {
	e.mu.Lock()
	defer e.mu.Unlock()
	now := e.opts.now()
	e.sweep(now)
	var all []*key
	for _, rs := range e.regions {
		for _, k := range rs.Keys {
			all = append(all, k)
		}
	}
	slices.SortFunc(all, func(a, b *key) int {
		if c := a.Created.Compare(b.Created); c != 0 {
			return c
		}
		return strings.Compare(a.Region+a.ID, b.Region+b.ID)
	})
	out := make([]types.KeyMetadata, len(all))
	for i, k := range all {
		out[i] = e.metadata(k).sdk()
	}
	return out
}

// ServeHTTP serves one AWS JSON 1.1 KMS request.
func (e *Emulator) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	op, aerr := e.route(r)
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	region, aerr := regionFromAuth(r.Header.Get("Authorization"))
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	if e.opts.latency > 0 && !sleep(r.Context(), e.opts.latency) {
		return
	}
	if e.opts.fault != nil {
		if err := e.opts.fault(op); err != nil {
			var f *FaultError
			if !errors.As(err, &f) {
				writeError(w, newErr(ErrKMSInternal, "%v", err))
				return
			}
			if f.Delay > 0 && !sleep(r.Context(), f.Delay) {
				return
			}
			if f.Reset {
				resetConnection(w)
				return
			}
			if f.Type != "" || f.Status != 0 {
				typ := f.Type
				if typ == "" {
					typ = ErrKMSInternal
				}
				st := f.Status
				if st == 0 {
					st = statusOf(typ)
				}
				writeError(w, &apiError{status: st, typ: typ, msg: f.Message})
				return
			}
		}
	}
	h, ok := operations[op]
	if !ok {
		writeError(w, newErr(ErrNotImplemented, "kmstest does not emulate the KMS operation %s", op))
		return
	}
	if !e.limiter.allow(region, op) {
		writeError(w, throttled())
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		writeError(w, newErr(ErrSerialization, "reading the request body: %v", err))
		return
	}
	if len(body) > maxBody {
		writeError(w, &apiError{status: http.StatusRequestEntityTooLarge, typ: ErrSerialization, msg: "request body too large"})
		return
	}

	// The handler decodes and checks the request unlocked, then takes the
	// emulator (enter); it is released here, after the changes are logged.
	rc := &reqCtx{ctx: r.Context(), op: op, region: region, now: e.opts.now()}
	resp, aerr := h(e, rc, body)
	if rc.locked {
		if err := e.flush(); err != nil && aerr == nil {
			aerr = newErr(ErrKMSInternal, "kmstest: persisting the state: %v", err)
		}
		e.mu.Unlock()
	}

	if aerr != nil {
		writeError(w, aerr)
		return
	}
	out, err := json.Marshal(resp)
	if err != nil {
		writeError(w, newErr(ErrKMSInternal, "kmstest: encoding the response: %v", err))
		return
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("x-amzn-RequestId", newUUID())
	w.WriteHeader(http.StatusOK)
	w.Write(out)
}

// unlocked runs f without holding the emulator's lock (for slow crypto that
// touches no state), then takes the lock again. It fails if the emulator was
// closed meanwhile; the caller must look up again whatever it holds, as
// other requests may have changed it.
func (e *Emulator) unlocked(f func()) *apiError {
	e.mu.Unlock()
	f()
	e.mu.Lock()
	if e.closed {
		return closedErr()
	}
	return nil
}

func closedErr() *apiError {
	return &apiError{status: http.StatusServiceUnavailable, typ: "ServiceUnavailableException", msg: "kmstest: the emulator is closed"}
}

// route checks the HTTP envelope of an AWS JSON 1.1 request and returns the
// operation name.
func (e *Emulator) route(r *http.Request) (string, *apiError) {
	if r.Method != http.MethodPost || r.URL.Path != "/" {
		return "", &apiError{status: http.StatusNotFound, typ: ErrUnknownOperation, msg: "KMS answers POST / only"}
	}
	target := r.Header.Get("X-Amz-Target")
	op, ok := strings.CutPrefix(target, "TrentService.")
	if !ok || op == "" {
		return "", newErr(ErrUnknownOperation, "missing or malformed X-Amz-Target header %q; want TrentService.<Operation>", target)
	}
	ct := r.Header.Get("Content-Type")
	if mt, _, _ := strings.Cut(ct, ";"); strings.TrimSpace(mt) != "application/x-amz-json-1.1" {
		return "", newErr(ErrUnknownOperation, "Content-Type %q is not application/x-amz-json-1.1", ct)
	}
	if _, ok := operations[op]; !ok && !slices.Contains(knownOperations, op) {
		return "", newErr(ErrUnknownOperation, "unknown operation %s", op)
	}
	return op, nil
}

// regionFromAuth takes the Region from a SigV4 Authorization header's
// credential scope. The signature itself is not verified.
func regionFromAuth(h string) (string, *apiError) {
	if h == "" {
		return "", newErr(ErrMissingAuthenticationToken, "Missing Authentication Token")
	}
	rest, ok := strings.CutPrefix(h, "AWS4-HMAC-SHA256 ")
	if !ok {
		return "", newErr(ErrIncompleteSignature, "Authorization header requires the AWS4-HMAC-SHA256 algorithm (SigV4)")
	}
	var cred string
	var signed, sig bool
	for _, part := range strings.Split(rest, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "Credential":
			cred = v
		case "SignedHeaders":
			signed = v != ""
		case "Signature":
			sig = v != ""
		}
	}
	if cred == "" || !signed || !sig {
		return "", newErr(ErrIncompleteSignature, "Authorization header requires 'Credential', 'SignedHeaders' and 'Signature' parameters")
	}
	f := strings.Split(cred, "/")
	if len(f) != 5 || f[0] == "" || len(f[1]) != 8 || f[4] != "aws4_request" {
		return "", newErr(ErrIncompleteSignature, "Authorization header has a malformed Credential %q", cred)
	}
	if f[3] != "kms" {
		return "", newErr(ErrInvalidSignature, "Credential should be scoped to correct service: 'kms'.")
	}
	if !regionPattern.MatchString(f[2]) {
		return "", newErr(ErrInvalidSignature, "Credential should be scoped to a valid region.")
	}
	return f[2], nil
}

func writeError(w http.ResponseWriter, e *apiError) {
	body, _ := json.Marshal(struct {
		Type    string `json:"__type"`
		Message string `json:"message"`
	}{e.typ, e.msg})
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("x-amzn-RequestId", newUUID())
	w.WriteHeader(e.status)
	w.Write(body)
}

func throttled() *apiError {
	return newErr(ErrThrottling, "You have exceeded the rate at which you may call KMS. Reduce the frequency of your calls.")
}

// resetConnection drops the connection without an HTTP response, with a TCP
// RST where possible.
func resetConnection(w http.ResponseWriter) {
	if hj, ok := w.(http.Hijacker); ok {
		if conn, _, err := hj.Hijack(); err == nil {
			if tc, ok := conn.(*net.TCPConn); ok {
				tc.SetLinger(0)
			}
			conn.Close()
			return
		}
	}
	panic(http.ErrAbortHandler)
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

func newUUID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}
