package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/byok-go/byok"
)

// summary prints a two-column table: a name, then a value.
type summary struct{ tw *tabwriter.Writer }

func newSummary(w io.Writer) *summary {
	return &summary{tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)}
}

func (s *summary) row(name, format string, a ...any) {
	v := fmt.Sprintf(format, a...)
	lines := strings.Split(v, "\n")
	fmt.Fprintf(s.tw, "%s\t%s\n", name, lines[0])
	for _, l := range lines[1:] {
		fmt.Fprintf(s.tw, "\t%s\n", l)
	}
}

func (s *summary) flush() { s.tw.Flush() }

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// progress prints progress lines to stderr unless quiet (JSON output).
type progress struct {
	w     io.Writer
	quiet bool
}

func (p progress) say(format string, a ...any) {
	if !p.quiet {
		fmt.Fprintf(p.w, format+"\n", a...)
	}
}

// sourceOut describes a source key in output; never its material.
type sourceOut struct {
	Source      string        `json:"source"`
	Driver      string        `json:"driver"`
	KeySpec     byok.KeySpec  `json:"key_spec"`
	KeyUsage    byok.KeyUsage `json:"key_usage"`
	Fingerprint string        `json:"fingerprint,omitempty"`
	PublicKey   []byte        `json:"public_key,omitempty"`
}

func newSourceOut(sf *sourceFlags, info byok.KeyInfo) sourceOut {
	return sourceOut{Source: sf.shown(), Driver: sf.driverName(), KeySpec: info.Spec, KeyUsage: effectiveUsage(info),
		Fingerprint: info.Fingerprint, PublicKey: info.PublicKeyDER}
}

// effectiveUsage is the KMS key usage a KeyInfo stands for.
func effectiveUsage(info byok.KeyInfo) byok.KeyUsage {
	if info.Usage != "" {
		return info.Usage
	}
	if u := info.Spec.Usages(); len(u) > 0 {
		return u[0]
	}
	return ""
}

// verificationOut is a byok.Verification in byok's JSON spelling.
type verificationOut struct {
	Verified bool       `json:"verified"`
	Checks   []checkOut `json:"checks"`
	Skipped  []string   `json:"skipped,omitempty"`
}

type checkOut struct {
	Name   string `json:"name"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail,omitempty"`
}

func toVerificationOut(v *byok.Verification) *verificationOut {
	if v == nil {
		return nil
	}
	o := &verificationOut{Verified: v.Verified, Checks: []checkOut{}, Skipped: v.Skipped}
	for _, c := range v.Checks {
		o.Checks = append(o.Checks, checkOut{c.Name, c.OK, c.Detail})
	}
	return o
}

// verificationRows prints a verification: the outcome, then one line per
// check and per skipped step.
func verificationRows(s *summary, v *verificationOut) {
	if v == nil {
		s.row("verification", "SKIPPED (--no-verify): nothing proves that KMS holds the source key")
		return
	}
	passed := 0
	for _, c := range v.Checks {
		if c.OK {
			passed++
		}
	}
	outcome := "PASSED"
	if !v.Verified {
		outcome = "FAILED"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %d of %d checks passed", outcome, passed, len(v.Checks))
	for _, c := range v.Checks {
		mark := "ok    "
		if !c.OK {
			mark = "FAIL  "
		}
		fmt.Fprintf(&b, "\n%s%s", mark, c.Name)
		if c.Detail != "" {
			fmt.Fprintf(&b, ": %s", c.Detail)
		}
	}
	for _, sk := range v.Skipped {
		fmt.Fprintf(&b, "\nnote  %s", sk)
	}
	s.row("verification", "%s", b.String())
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "unknown"
	}
	return t.UTC().Format(time.RFC3339)
}

func fmtDuration(d time.Duration) string {
	if d < time.Second {
		return d.Round(time.Millisecond).String()
	}
	return d.Round(10 * time.Millisecond).String()
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// plannedChecks says what the proof after import will do for a key.
func plannedChecks(spec byok.KeySpec, usage byok.KeyUsage) string {
	switch spec.Kind() {
	case byok.KindRSA, byok.KindEC:
		switch usage {
		case byok.SignVerify:
			return "GetPublicKey equals the source public key; a KMS signature verifies under it; KMS verifies the source's signature"
		case byok.EncryptDecrypt:
			return "GetPublicKey equals the source public key; KMS decrypts what the source public key encrypted"
		}
		return "GetPublicKey equals the source public key"
	case byok.KindHMAC:
		return "KMS GenerateMac equals the source's HMAC of a fresh message"
	case byok.KindSymmetric:
		return "an Encrypt/Decrypt round trip with the imported material"
	}
	return ""
}
