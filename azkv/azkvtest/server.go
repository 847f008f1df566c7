package azkvtest

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azkeys"
)

// Server is a fake Key Vault (or Managed HSM) keys endpoint on a loopback
// HTTPS listener. It is safe for concurrent use.
type Server struct {
	cfg    config
	srv    *httptest.Server
	token  string // the bearer token Credential hands out and the server accepts
	tenant string // the tenant ID the challenge names

	mu   sync.Mutex
	keys map[string]*keyEntry // by key name
}

// Option configures New.
type Option func(*config)

type config struct {
	managedHSM bool
	log        io.Writer
	now        func() time.Time
	faults     map[string]fault
}

type fault struct {
	status int
	code   string
}

// WithManagedHSM makes the server behave as a Managed HSM: oct-HSM keys
// (AES-128/192/256) can be created and imported, software key types (RSA,
// EC without -HSM) cannot, and the authentication challenge names the
// Managed HSM resource. The default is a Key Vault of the Premium SKU.
func WithManagedHSM() Option { return func(c *config) { c.managedHSM = true } }

// WithLog writes one line per request to w: method, path (without the query)
// and the HTTP status of the answer. Bodies, and so key bytes, are never
// logged.
func WithLog(w io.Writer) Option { return func(c *config) { c.log = w } }

// WithClock sets the clock for key timestamps (created, updated) and token
// expiry. The default is time.Now.
func WithClock(now func() time.Time) Option { return func(c *config) { c.now = now } }

// WithFault makes every authenticated request for operation op fail with
// HTTP status and error code code (the message names the fault). op is the
// azkeys.Client method name: CreateKey, GetKey, ImportKey, UpdateKey,
// DeleteKey, ListKeyProperties, ListKeyPropertiesVersions, Sign, Verify, Encrypt,
// Decrypt, WrapKey or UnwrapKey. A later WithFault for the same op replaces
// the earlier one.
func WithFault(op string, status int, code string) Option {
	return func(c *config) {
		if c.faults == nil {
			c.faults = map[string]fault{}
		}
		c.faults[op] = fault{status, code}
	}
}

// The resources the authentication challenge names ("Authentication,
// requests, and responses", Authentication requirements:
// https://learn.microsoft.com/azure/key-vault/general/authentication-requests-and-responses#authentication-requirements).
const (
	resourceVault      = "https://vault.azure.net"
	resourceManagedHSM = "https://managedhsm.azure.net"
	authority          = "https://login.microsoftonline.com/"
)

// New starts a fake Key Vault on 127.0.0.1 with a fresh self-signed TLS
// certificate. Close it when done.
func New(opts ...Option) (*Server, error) {
	cfg := config{now: time.Now}
	for _, o := range opts {
		if o == nil {
			return nil, errors.New("azkvtest: nil Option")
		}
		o(&cfg)
	}
	if cfg.now == nil {
		return nil, errors.New("azkvtest: WithClock needs a clock function")
	}
	for op, f := range cfg.faults {
		if !knownOps[op] {
			return nil, fmt.Errorf("azkvtest: WithFault: unknown operation %q", op)
		}
		if f.status < 400 || f.status > 599 || f.code == "" {
			return nil, fmt.Errorf("azkvtest: WithFault(%q): status must be 4xx or 5xx and code non-empty", op)
		}
	}
	s := &Server{cfg: cfg, keys: map[string]*keyEntry{}}
	s.token = "azkvtest-" + randomHex(16)
	s.tenant = uuidLike()
	s.srv = httptest.NewTLSServer(http.HandlerFunc(s.serveHTTP))
	return s, nil
}

// URL is the vault URL to give azkeys.NewClient: https://127.0.0.1:PORT.
func (s *Server) URL() string { return s.srv.URL }

// Close shuts the server down.
func (s *Server) Close() { s.srv.Close() }

// Credential returns a token credential that stands in for Microsoft Entra
// ID: it hands out the one bearer token the server accepts, and only for the
// scope and tenant the server's challenge names (so the client's challenge
// handling is exercised, not bypassed).
func (s *Server) Credential() azcore.TokenCredential { return credential{s} }

// ClientOptions returns client options whose transport trusts the server's
// certificate, with DisableChallengeResourceVerification set (the challenge
// names vault.azure.net or managedhsm.azure.net while the server is
// 127.0.0.1) and short retry delays so that faults do not slow tests down.
func (s *Server) ClientOptions() *azkeys.ClientOptions {
	return &azkeys.ClientOptions{
		ClientOptions: azcore.ClientOptions{
			Transport: s.srv.Client(),
			Retry: policy.RetryOptions{
				RetryDelay:    time.Millisecond,
				MaxRetryDelay: 10 * time.Millisecond,
			},
		},
		DisableChallengeResourceVerification: true,
	}
}

func (s *Server) resource() string {
	if s.cfg.managedHSM {
		return resourceManagedHSM
	}
	return resourceVault
}

type credential struct{ s *Server }

func (c credential) GetToken(_ context.Context, o policy.TokenRequestOptions) (azcore.AccessToken, error) {
	want := c.s.resource() + "/.default"
	if !slices.Equal(o.Scopes, []string{want}) {
		return azcore.AccessToken{}, fmt.Errorf("azkvtest: token requested for scopes %q, the vault's challenge names %q", o.Scopes, want)
	}
	if o.TenantID != c.s.tenant {
		return azcore.AccessToken{}, fmt.Errorf("azkvtest: token requested for tenant %q, the vault's challenge names %q", o.TenantID, c.s.tenant)
	}
	return azcore.AccessToken{Token: c.s.token, ExpiresOn: c.s.cfg.now().Add(time.Hour)}, nil
}

// statusWriter records the status for the request log.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

var logMu sync.Mutex

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	sw := &statusWriter{ResponseWriter: w}
	s.handle(sw, r)
	if s.cfg.log != nil {
		st := sw.status
		if st == 0 {
			st = http.StatusOK
		}
		logMu.Lock()
		fmt.Fprintf(s.cfg.log, "%s %s %d\n", r.Method, r.URL.Path, st)
		logMu.Unlock()
	}
}

func (s *Server) handle(w http.ResponseWriter, r *http.Request) {
	// Authentication first: an unauthenticated request learns nothing about
	// the vault but where to get a token (401 with WWW-Authenticate).
	if !s.authenticated(r) {
		w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer authorization="%s%s", resource="%s"`, authority, s.tenant, s.resource()))
		writeError(w, &kvError{http.StatusUnauthorized, codeUnauthorized, "AKV10000: Request is missing a valid Bearer token."})
		return
	}
	rt, kerr := route(r)
	if kerr != nil {
		writeError(w, kerr)
		return
	}
	if kerr := checkAPIVersion(r); kerr != nil {
		writeError(w, kerr)
		return
	}
	if f, ok := s.cfg.faults[rt.op]; ok {
		writeError(w, &kvError{f.status, f.code, fmt.Sprintf("azkvtest: fault injected for %s", rt.op)})
		return
	}
	status, body, kerr := s.dispatch(rt, r)
	if kerr != nil {
		writeError(w, kerr)
		return
	}
	writeJSON(w, status, body)
}

func (s *Server) authenticated(r *http.Request) bool {
	h := r.Header.Get("Authorization")
	tok, ok := strings.CutPrefix(h, "Bearer ")
	return ok && subtle.ConstantTimeCompare([]byte(tok), []byte(s.token)) == 1
}

// supportedAPIVersions are the api-version values the fake answers: the
// service versions azkeys v1.x sends (7.4, 7.5, 7.6, 2025-07-01 and, for
// v1.6.0, 2026-04-01). Key Vault has no default version ("Supported API
// versions",
// https://learn.microsoft.com/azure/key-vault/general/authentication-requests-and-responses#supported-api-versions).
var supportedAPIVersions = map[string]bool{
	"7.4": true, "7.5": true, "7.6": true, "2025-07-01": true, "2026-04-01": true,
}

func checkAPIVersion(r *http.Request) *kvError {
	v := r.URL.Query()["api-version"]
	if len(v) != 1 || v[0] == "" {
		return badParam("the api-version query parameter is required")
	}
	if !supportedAPIVersions[v[0]] {
		return badParam("the specified version (%s) is not recognized", v[0])
	}
	return nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic("azkvtest: crypto/rand: " + err.Error())
	}
	return hex.EncodeToString(b)
}

func uuidLike() string {
	h := randomHex(16)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}
