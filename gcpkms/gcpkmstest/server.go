package gcpkmstest

import (
	"context"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"time"

	"cloud.google.com/go/kms/apiv1/kmspb"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
)

// Defaults of the options.
const (
	// DefaultImportJobDelay is how long a new import job stays
	// PENDING_GENERATION (at least; generating its RSA key may take longer).
	DefaultImportJobDelay = 50 * time.Millisecond
	// DefaultImportDelay is how long an imported version stays
	// PENDING_IMPORT before it is ENABLED or IMPORT_FAILED.
	DefaultImportDelay = 50 * time.Millisecond
)

// config is what the options set.
type config struct {
	jobDelay    time.Duration
	importDelay time.Duration
	now         func() time.Time
	log         io.Writer
	faults      map[string][]error
}

// Option configures a Server.
type Option func(*config)

// WithImportJobDelay sets how long a new import job stays PENDING_GENERATION
// before it is ACTIVE (DefaultImportJobDelay by default), so that clients
// must wait for it as they must with Cloud KMS. The delay is measured in real
// time, not by the WithClock clock; the job also stays PENDING_GENERATION
// until its RSA wrapping key is generated.
func WithImportJobDelay(d time.Duration) Option {
	return func(c *config) { c.jobDelay = d }
}

// WithImportDelay sets how long an imported CryptoKeyVersion stays
// PENDING_IMPORT before it is ENABLED or IMPORT_FAILED (DefaultImportDelay by
// default), measured in real time.
func WithImportDelay(d time.Duration) Option {
	return func(c *config) { c.importDelay = d }
}

// WithClock sets the clock of every timestamp the fake returns and of import
// job expiry (3 days after creation): advance it past expire_time and the job
// is EXPIRED. The default is time.Now.
func WithClock(now func() time.Time) Option {
	return func(c *config) { c.now = now }
}

// WithLog writes one line per RPC to w: the method, the resource it names
// and the gRPC status code. Key material, plaintexts, signatures and MACs are
// never written.
func WithLog(w io.Writer) Option {
	return func(c *config) { c.log = w }
}

// WithFault makes the next call of method (its short name, such as
// "ImportCryptoKeyVersion", or the full gRPC method name) fail with err,
// once; several faults for one method are used in order. An err made with
// google.golang.org/grpc/status keeps its code; any other is sent as
// codes.Unknown. Server.InjectFault does the same on a running server.
func WithFault(method string, err error) Option {
	return func(c *config) {
		m := shortMethod(method)
		c.faults[m] = append(c.faults[m], err)
	}
}

// Server is a running fake of the Cloud KMS KeyManagementService gRPC API on
// a loopback port. It is safe for concurrent use.
type Server struct {
	kmspb.UnimplementedKeyManagementServiceServer

	cfg  config
	lis  net.Listener
	grpc *grpc.Server
	done chan struct{}

	mu        sync.Mutex
	faults    map[string][]error
	keyRings  map[string]*keyRing
	keys      map[string]*cryptoKey
	jobs      map[string]*importJob
	closeOnce sync.Once
	bg        sync.WaitGroup // key generation of import jobs
	logMu     sync.Mutex
}

// New starts a fake Cloud KMS on 127.0.0.1 on a free port, serving gRPC
// until Close.
func New(opts ...Option) (*Server, error) {
	cfg := config{
		jobDelay:    DefaultImportJobDelay,
		importDelay: DefaultImportDelay,
		now:         time.Now,
		faults:      map[string][]error{},
	}
	for _, o := range opts {
		o(&cfg)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("gcpkmstest: listen: %w", err)
	}
	s := &Server{
		cfg:      cfg,
		lis:      lis,
		done:     make(chan struct{}),
		faults:   cfg.faults,
		keyRings: map[string]*keyRing{},
		keys:     map[string]*cryptoKey{},
		jobs:     map[string]*importJob{},
	}
	s.grpc = grpc.NewServer(grpc.ChainUnaryInterceptor(s.logCall, s.injectFault))
	kmspb.RegisterKeyManagementServiceServer(s.grpc, s)
	go func() {
		defer close(s.done)
		_ = s.grpc.Serve(lis)
	}()
	return s, nil
}

// Addr is the host:port the server listens on.
func (s *Server) Addr() string { return s.lis.Addr().String() }

// ClientOptions are the options that point a real Cloud KMS client
// (cloud.google.com/go/kms/apiv1.NewKeyManagementClient) at the fake:
// its endpoint, no authentication, plaintext gRPC.
func (s *Server) ClientOptions() []option.ClientOption {
	return []option.ClientOption{
		option.WithEndpoint(s.Addr()),
		option.WithoutAuthentication(),
		option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())),
	}
}

// Close stops the server, ending open connections, and waits for it.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		s.grpc.Stop()
		<-s.done
		s.bg.Wait()
		s.mu.Lock()
		defer s.mu.Unlock()
		for _, k := range s.keys {
			for _, v := range k.versions {
				v.discard()
			}
		}
	})
}

// InjectFault makes the next call of method fail with err, once, as
// WithFault does.
func (s *Server) InjectFault(method string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := shortMethod(method)
	s.faults[m] = append(s.faults[m], err)
}

// shortMethod turns "/google.cloud.kms.v1.KeyManagementService/GetKeyRing"
// into "GetKeyRing".
func shortMethod(m string) string {
	if i := strings.LastIndexByte(m, '/'); i >= 0 {
		return m[i+1:]
	}
	return m
}

func (s *Server) injectFault(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	m := shortMethod(info.FullMethod)
	s.mu.Lock()
	var err error
	if q := s.faults[m]; len(q) > 0 {
		err, s.faults[m] = q[0], q[1:]
	}
	s.mu.Unlock()
	if err != nil {
		return nil, status.Convert(err).Err()
	}
	return h(ctx, req)
}

// resourceOf is the resource a request names, for the log.
func resourceOf(req any) string {
	switch r := req.(type) {
	case interface{ GetName() string }:
		return r.GetName()
	case interface{ GetParent() string }:
		return r.GetParent()
	}
	return "-"
}

func (s *Server) logCall(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	resp, err := h(ctx, req)
	if s.cfg.log != nil {
		res := resourceOf(req)
		switch r := req.(type) {
		case *kmspb.CreateKeyRingRequest:
			res = r.GetParent() + "/keyRings/" + r.GetKeyRingId()
		case *kmspb.CreateCryptoKeyRequest:
			res = r.GetParent() + "/cryptoKeys/" + r.GetCryptoKeyId()
		case *kmspb.CreateImportJobRequest:
			res = r.GetParent() + "/importJobs/" + r.GetImportJobId()
		case *kmspb.UpdateCryptoKeyVersionRequest:
			res = r.GetCryptoKeyVersion().GetName()
		}
		s.logMu.Lock()
		fmt.Fprintf(s.cfg.log, "gcpkmstest: %s %s %s\n", shortMethod(info.FullMethod), res, status.Code(err))
		s.logMu.Unlock()
	}
	return resp, err
}
