package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"time"

	"github.com/byok-go/byok/kmstest"
)

func runEmulator(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("emulator", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "127.0.0.1:8555", "listen on `ADDR`, host:port (loopback unless --allow-remote)")
	state := fs.String("state", "", "keep keys in the directory `DIR` across restarts (TEST material, written unencrypted with mode 0600)")
	region := fs.String("region", kmstest.DefaultRegion, "default `REGION` (requests are served for the Region they are signed for)")
	account := fs.String("account", kmstest.DefaultAccount, "12-digit AWS account `ID` in ARNs")
	quotas := fs.Bool("quotas", false, "enforce AWS's default request quotas (GetParametersForImport 1/s, CreateKey 5/s, …): over them, ThrottlingException")
	cache := fs.Bool("fast-wrapping-keys", false, "reuse pre-generated wrapping key pairs instead of a fresh one per GetParametersForImport (AWS gives a fresh one)")
	remote := fs.Bool("allow-remote", false, "allow a non-loopback --listen address")
	quiet := fs.Bool("quiet", false, "do not log each request")
	offset := fs.String("time-offset", "", "run the emulator's clock `SPAN` ahead of real time (e.g. 400d, 36h; -2h behind): key material past its ValidTo is deleted and its key is PendingImport, without waiting. Only the emulator's clock moves: byok and the AWS CLI keep the local clock")
	fs.Usage = func() {
		fmt.Fprintln(stderr, `Usage: byok emulator [--listen 127.0.0.1:8555] [--state DIR] [flags]

Runs byok's verifying AWS KMS emulator (package kmstest) as a server for the
AWS CLI, SDKs and byok itself. It speaks the AWS JSON 1.1 protocol of KMS,
really unwraps imported key material with its own wrapping keys and checks
it as KMS does. It logs one line per request to stderr. Stop it with Ctrl-C.

It is a test tool: it checks no signatures or permissions, and with --state
it writes key material to disk unencrypted.

Examples:
  byok emulator --listen 127.0.0.1:8555 --state /tmp/kms-state
  byok emulator --state /tmp/kms-state --time-offset 3d   # 3 days later:
    imported material past its ValidTo (say valid_to: +2d) is gone, its keys
    are PendingImport. Only the emulator's clock moves: byok counts ValidTo
    (+365d) and time left by the local clock, so keep the offset to days;
    with 400d, every ValidTo byok sets is already in the emulator's past
  AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test \
    AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1 \
    aws --endpoint-url http://127.0.0.1:8555 kms create-key --origin EXTERNAL
  (AWS_DEFAULT_REGION: the AWS CLI version 1 ignores AWS_REGION)

Flags:`)
		printFlags(stderr, fs)
	}
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return err
		}
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	host, _, err := net.SplitHostPort(*listen)
	if err != nil {
		return fmt.Errorf("%w: --listen %q: %v (want host:port, e.g. 127.0.0.1:8555)", errUsage, *listen, err)
	}
	if ip := net.ParseIP(host); !*remote && host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return fmt.Errorf("%w: --listen %s is not a loopback address; the emulator has no authentication — pass --allow-remote if you mean it", errUsage, *listen)
	}
	opts := []kmstest.Option{kmstest.WithRegion(*region), kmstest.WithAccount(*account), kmstest.WithWrappingKeyCache(*cache)}
	if *state != "" {
		opts = append(opts, kmstest.WithStateDir(*state))
	}
	if *quotas {
		opts = append(opts, kmstest.WithDefaultQuotas())
	}
	var skew time.Duration
	if *offset != "" {
		if skew, err = parseSpan(*offset); err != nil {
			return fmt.Errorf("%w: --time-offset %s", errUsage, err)
		}
		opts = append(opts, kmstest.WithClock(func() time.Time { return time.Now().Add(skew) }))
	}
	emu, err := kmstest.NewHandler(opts...)
	if err != nil {
		return err
	}
	defer emu.Close()
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", *listen, err)
	}
	var h http.Handler = emu
	if !*quiet {
		h = logRequests(emu, log.New(stderr, "", log.LstdFlags|log.Lmicroseconds))
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(stdout, "byok emulator: AWS KMS on http://%s (Region %s, account %s)\n", ln.Addr(), *region, *account)
	if *state != "" {
		fmt.Fprintf(stdout, "byok emulator: state in %s\n", *state)
	}
	if skew != 0 {
		fmt.Fprintf(stdout, "byok emulator: its clock is %s from real time: %s\n", *offset, time.Now().Add(skew).UTC().Format(time.RFC3339))
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shut, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shut); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	fmt.Fprintln(stdout, "byok emulator: stopped")
	return nil
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

// Hijack lets the emulator's connection-reset fault reach the connection.
func (w *statusWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	h, ok := w.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, errors.New("hijacking not supported")
	}
	return h.Hijack()
}

// logRequests logs one line per request: the operation, the status and the
// time taken. Request bodies are never logged (they carry key material).
func logRequests(next http.Handler, l *log.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(sw, r)
		l.Printf("%s %s %d %s", r.RemoteAddr, r.Header.Get("X-Amz-Target"), sw.status, time.Since(start).Round(time.Microsecond))
	})
}
