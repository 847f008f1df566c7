package kmstest

import (
	"net/http/httptest"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kms"
)

// Test credentials AWSConfig hands the SDK. The emulator does not verify
// signatures, so any credentials work; these make it obvious in logs that a
// request went to the emulator.
const (
	TestAccessKeyID     = "AKIAKMSTESTEMULATOR0"                     // access key ID
	TestSecretAccessKey = "kmstest/emulator/not/a/real/secret/key00" // secret access key
)

// Server is a KMS emulator listening on a loopback address, like an
// httptest.Server.
type Server struct {
	// URL is the base URL, http://127.0.0.1:port, with no trailing slash.
	URL string
	// Region is the default Region, the one AWSConfig signs for.
	Region string
	// Account is the emulated AWS account ID.
	Account string
	// Emulator is the handler the server serves.
	Emulator *Emulator

	srv *httptest.Server
}

// NewServer starts a KMS emulator on 127.0.0.1 on a free port. Like
// httptest.NewServer it panics if it cannot (for example when WithStateDir
// names an unreadable state). Call Close when done.
func NewServer(opts ...Option) *Server {
	e, err := NewHandler(opts...)
	if err != nil {
		panic(err)
	}
	srv := httptest.NewServer(e)
	return &Server{URL: srv.URL, Region: e.Region(), Account: e.Account(), Emulator: e, srv: srv}
}

// Close shuts the server down, waits for outstanding requests and closes the
// emulator (which, with WithStateDir, writes the state a last time).
func (s *Server) Close() {
	s.srv.Close()
	s.Emulator.Close()
}

// AWSConfig returns an aws.Config for the emulator: the default Region,
// static test credentials, BaseEndpoint set to URL and the SDK's default
// retryer, so that kms.NewFromConfig(s.AWSConfig()) talks to the emulator.
// It reads no environment variables or shared config files.
func (s *Server) AWSConfig() aws.Config {
	return aws.Config{
		Region:       s.Region,
		Credentials:  credentials.NewStaticCredentialsProvider(TestAccessKeyID, TestSecretAccessKey, ""),
		BaseEndpoint: aws.String(s.URL),
		HTTPClient:   s.srv.Client(),
	}
}

// Client returns a KMS client for the emulator, built from AWSConfig; the
// options can, for example, set another Region or disable retries.
func (s *Server) Client(optFns ...func(*kms.Options)) *kms.Client {
	return kms.NewFromConfig(s.AWSConfig(), optFns...)
}
