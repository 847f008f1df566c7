package kmstest

import (
	"maps"
	"time"
)

// The defaults of an emulator.
const (
	// DefaultRegion is the Region AWSConfig signs for unless WithRegion
	// says otherwise.
	DefaultRegion = "us-east-1"
	// DefaultAccount is the emulated AWS account, the one of AWS's
	// documentation examples.
	DefaultAccount = "111122223333"
)

// Names of the shared request quotas of the cryptographic operations, for
// WithQuota. A cryptographic request counts against the pool of its KMS key's
// type and, when one is set with WithQuota, against the quota of its
// operation name.
const (
	// QuotaPoolSymmetric is shared by Encrypt, Decrypt, GenerateMac and
	// VerifyMac with symmetric encryption and HMAC keys.
	QuotaPoolSymmetric = "CryptographicOperationsSymmetric"
	// QuotaPoolRSA is shared by Encrypt, Decrypt, Sign and Verify with RSA
	// keys.
	QuotaPoolRSA = "CryptographicOperationsRSA"
	// QuotaPoolECC is shared by Sign, Verify and DeriveSharedSecret with
	// elliptic curve keys.
	QuotaPoolECC = "CryptographicOperationsECC"
)

// AWS's default request quotas per account and Region, in requests per
// second, as the KMS Developer Guide ("Request quotas") lists them. The
// symmetric pool varies by Region from 5,500 to 100,000; the emulator uses
// 10,000.
const (
	QuotaCreateKey                 = 5     // CreateKey requests per second
	QuotaGetParametersForImport    = 1     // GetParametersForImport requests per second
	QuotaImportKeyMaterial         = 15    // ImportKeyMaterial requests per second
	QuotaDeleteImportedKeyMaterial = 5     // DeleteImportedKeyMaterial requests per second
	QuotaGetPublicKey              = 2000  // GetPublicKey requests per second
	QuotaDescribeKey               = 2000  // DescribeKey requests per second
	QuotaListKeys                  = 500   // ListKeys requests per second
	QuotaListAliases               = 500   // ListAliases requests per second
	QuotaCreateAlias               = 5     // CreateAlias requests per second
	QuotaTagResource               = 10    // TagResource requests per second
	QuotaListResourceTags          = 100   // ListResourceTags requests per second
	QuotaScheduleKeyDeletion       = 5     // ScheduleKeyDeletion requests per second
	QuotaReplicateKey              = 5     // ReplicateKey requests per second
	QuotaRotateKeyOnDemand         = 5     // RotateKeyOnDemand requests per second
	QuotaListKeyRotations          = 100   // ListKeyRotations requests per second
	QuotaSymmetricCryptographic    = 10000 // shared pool QuotaPoolSymmetric
	QuotaRSACryptographic          = 1000  // shared pool QuotaPoolRSA
	QuotaECCCryptographic          = 1000  // shared pool QuotaPoolECC
)

// DefaultQuotas returns the quotas WithDefaultQuotas applies: bucket name (an
// operation name or a QuotaPool* name) to requests per second.
func DefaultQuotas() map[string]float64 {
	return map[string]float64{
		"CreateKey":                 QuotaCreateKey,
		"GetParametersForImport":    QuotaGetParametersForImport,
		"ImportKeyMaterial":         QuotaImportKeyMaterial,
		"DeleteImportedKeyMaterial": QuotaDeleteImportedKeyMaterial,
		"GetPublicKey":              QuotaGetPublicKey,
		"DescribeKey":               QuotaDescribeKey,
		"ListKeys":                  QuotaListKeys,
		"ListAliases":               QuotaListAliases,
		"CreateAlias":               QuotaCreateAlias,
		"TagResource":               QuotaTagResource,
		"ListResourceTags":          QuotaListResourceTags,
		"ScheduleKeyDeletion":       QuotaScheduleKeyDeletion,
		"ReplicateKey":              QuotaReplicateKey,
		"RotateKeyOnDemand":         QuotaRotateKeyOnDemand,
		"ListKeyRotations":          QuotaListKeyRotations,
		QuotaPoolSymmetric:          QuotaSymmetricCryptographic,
		QuotaPoolRSA:                QuotaRSACryptographic,
		QuotaPoolECC:                QuotaECCCryptographic,
	}
}

// Option configures an emulator (NewHandler, NewServer).
type Option func(*options)

type options struct {
	now           func() time.Time
	region        string
	account       string
	defaultQuotas bool
	quotas        map[string]float64
	fault         func(op string) error
	latency       time.Duration
	stateDir      string
	cacheWrapping bool
}

func buildOptions(opts []Option) *options {
	o := &options{now: time.Now, region: DefaultRegion, account: DefaultAccount, quotas: map[string]float64{}}
	for _, f := range opts {
		f(o)
	}
	return o
}

// effectiveQuotas merges the defaults (if enabled) and the explicit quotas,
// the explicit ones winning.
func (o *options) effectiveQuotas() map[string]float64 {
	q := map[string]float64{}
	if o.defaultQuotas {
		q = DefaultQuotas()
	}
	maps.Copy(q, o.quotas)
	return q
}

// WithClock sets the emulator's clock: it dates keys and decides when import
// tokens (24 hours), imported key material (ValidTo) and keys scheduled for
// deletion expire. Request quotas and latency use real time regardless.
func WithClock(now func() time.Time) Option {
	return func(o *options) {
		if now != nil {
			o.now = now
		}
	}
}

// WithRegion sets the emulator's default Region (DefaultRegion otherwise),
// the one AWSConfig signs for. The emulator serves every Region: it takes a
// request's Region from its SigV4 credential scope.
func WithRegion(r string) Option { return func(o *options) { o.region = r } }

// WithAccount sets the emulated 12-digit AWS account ID (DefaultAccount
// otherwise).
func WithAccount(id string) Option { return func(o *options) { o.account = id } }

// WithDefaultQuotas applies AWS's default request quotas (DefaultQuotas) with
// a token bucket per quota, per Region; a request over quota fails with
// ThrottlingException. Without it, or WithQuota, nothing is throttled.
func WithDefaultQuotas() Option { return func(o *options) { o.defaultQuotas = true } }

// WithQuota sets a request quota, in requests per second, for an operation
// name ("CreateKey", "Sign", …) or a shared pool (QuotaPoolSymmetric,
// QuotaPoolRSA, QuotaPoolECC). The bucket holds one second's worth of
// requests (at least one). A quota of 0 or less removes the quota.
func WithQuota(op string, perSecond float64) Option {
	return func(o *options) { o.quotas[op] = perSecond }
}

// WithFault installs a hook called with the operation name before each
// request is served. A nil result serves the request; a *FaultError fails,
// delays or resets it as the FaultError says; any other error is answered as
// KMSInternalException (HTTP 500) with the error's text.
func WithFault(f func(op string) error) Option { return func(o *options) { o.fault = f } }

// WithLatency delays every response by d (real time).
func WithLatency(d time.Duration) Option { return func(o *options) { o.latency = d } }

// WithStateDir makes the emulator persist its state (keys with their key
// material, aliases, tags, unexpired import tokens with their wrapping
// private keys) in dir, so that an emulator started again on the same
// directory keeps its keys, even after a crash: every request's changes are
// written before it is answered. The directory is created with mode 0700,
// its files with mode 0600: a snapshot, kmstest-state.json, and a log of
// the changes since, kmstest-state.log, one JSON line per changed key,
// alias or import token, folded into a new snapshot when it outgrows the
// live state (and at start and Close). A write costs what the request
// changed, not what the emulator holds.
//
// Both files hold secret key material in the clear: this is a TEST
// emulator. Point it only at a directory of its own, never at one holding
// real keys, and do not let two emulators use one directory at once.
func WithStateDir(dir string) Option { return func(o *options) { o.stateDir = dir } }

// WithWrappingKeyCache makes GetParametersForImport reuse one pre-generated
// wrapping key pair per wrapping key spec, shared by all emulators in the
// process, instead of generating a fresh RSA key pair per call as AWS does
// (RSA-4096 generation takes around a second, more under the race detector).
// Import tokens stay unique per call and bound to their KMS key, wrapping
// key pair and wrapping algorithm.
func WithWrappingKeyCache(enabled bool) Option { return func(o *options) { o.cacheWrapping = enabled } }
