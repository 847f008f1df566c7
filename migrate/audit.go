package migrate

import (
	"encoding/json"
	"io"
	"sync"
	"time"

	"github.com/byok-go/byok"
)

// AuditRecord is one line of the audit log: what happened to one key in one
// Region. It holds no secret — no key material, PIN, wrapping key or import
// token — only identifiers, fingerprints and outcomes.
type AuditRecord struct {
	Time      time.Time `json:"time"`
	Migration string    `json:"migration"`
	Run       string    `json:"run"`
	Key       string    `json:"key"`
	// Source is the driver and the key's name in it (a file path, a PKCS#11
	// URI without any PIN attribute).
	Source string `json:"source"`
	// Fingerprint is the source key's fingerprint: of the public key for
	// asymmetric keys, a keyed hash of the material for secret keys.
	Fingerprint string        `json:"fingerprint,omitempty"`
	KeySpec     byok.KeySpec  `json:"key_spec,omitempty"`
	KeyUsage    byok.KeyUsage `json:"key_usage,omitempty"`
	// Target is the kind of target: aws, gcp or azure (empty in records
	// written before targets outside AWS existed: aws).
	Target string `json:"target,omitempty"`
	// Region and KeyARN name the KMS key of an AWS target; KeyName the
	// cloud key of another (a Cloud KMS CryptoKey's resource name, a Key
	// Vault key's URL), whose version is KeyMaterialID.
	Region  string `json:"region,omitempty"`
	KeyARN  string `json:"key_arn,omitempty"`
	KeyName string `json:"key_name,omitempty"`
	// Role is "single-Region", "primary", "replica" or "existing".
	Role            string                 `json:"role,omitempty"`
	Created         bool                   `json:"created,omitempty"`
	Algorithm       byok.WrappingAlgorithm `json:"algorithm,omitempty"`
	WrappingKeySpec byok.WrappingKeySpec   `json:"wrapping_key_spec,omitempty"`
	KeyMaterialID   string                 `json:"key_material_id,omitempty"`
	ImportType      string                 `json:"import_type,omitempty"`
	Rotated         bool                   `json:"rotated,omitempty"`
	ExpirationModel string                 `json:"expiration_model,omitempty"`
	ValidTo         *time.Time             `json:"valid_to,omitempty"`
	// Verdict is the outcome of the proof after import (PASSED, FAILED or
	// UNPROVEN; empty when it did not run); Verified is Verdict == PASSED.
	// Checks names every check that ran, Skipped what could not run.
	Verdict  byok.Verdict `json:"verdict,omitempty"`
	Verified bool         `json:"verified"`
	Checks   []byok.Check `json:"checks"`
	Skipped  []string     `json:"skipped"`
	// Outcome is OutcomeImported, OutcomeFailed or OutcomeDryRun.
	Outcome  Outcome   `json:"outcome"`
	Error    string    `json:"error,omitempty"`
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished"`
}

// auditLog writes AuditRecords as JSON lines. It does not fsync each line:
// the journal is what a resumed run relies on; Run syncs the audit log at
// the end when it can.
type auditLog struct {
	mu sync.Mutex
	w  io.Writer
}

func (a *auditLog) write(r *AuditRecord) error {
	if a == nil || a.w == nil {
		return nil
	}
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	b = append(b, '\n')
	a.mu.Lock()
	defer a.mu.Unlock()
	_, err = a.w.Write(b)
	return err
}

func (a *auditLog) sync() {
	if s, ok := a.w.(interface{ Sync() error }); ok {
		s.Sync()
	}
}
