package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/byok-go/byok"
	"github.com/byok-go/byok/internal/offline"
)

// summary prints a two-column table: a name, then a value, wrapped to fit
// 100 columns (a word longer than a line, such as an ARN or a path, stays
// whole). Lines of a value that start with spaces (a check's detail under
// its name) keep their indent when wrapped.
type summary struct {
	w    io.Writer
	rows [][2]string
}

func newSummary(w io.Writer) *summary { return &summary{w: w} }

func (s *summary) row(name, format string, a ...any) {
	s.rows = append(s.rows, [2]string{name, fmt.Sprintf(format, a...)})
}

// lineWidth is how wide byok's human output may be.
const lineWidth = 100

func (s *summary) flush() {
	width := 0
	for _, r := range s.rows {
		width = max(width, len(r[0]))
	}
	pad := strings.Repeat(" ", width+2)
	for _, r := range s.rows {
		first := fmt.Sprintf("%-*s", width+2, r[0])
		for i, l := range strings.Split(r[1], "\n") {
			lead := pad
			if i == 0 {
				lead = first
			}
			if len(pad)+utf8.RuneCountInString(l) <= lineWidth {
				fmt.Fprintln(s.w, lead+l) // fits: kept as written, spacing included
				continue
			}
			indent := l[:len(l)-len(strings.TrimLeft(l, " "))]
			text := wrapText(strings.TrimLeft(l, " "), pad+indent, lineWidth)
			fmt.Fprint(s.w, lead+indent+strings.TrimPrefix(text, pad+indent))
		}
	}
	s.rows = nil
}

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
		fmt.Fprint(p.w, wrapText(fmt.Sprintf(format, a...), "", lineWidth))
	}
}

// hooks are the offline package's hooks for command name: progress as
// say prints it, notes and warnings on stderr (JSON output too), AWS hints.
func (p progress) hooks(name string) offline.Hooks {
	return offline.Hooks{
		Say:  p.say,
		Note: func(msg string) { fmt.Fprintf(p.w, "byok %s: %s\n", name, msg) },
		Warn: func(msg string) { fmt.Fprintf(p.w, "byok %s: warning: %s\n", name, msg) },
		Hint: withHint,
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
func effectiveUsage(info byok.KeyInfo) byok.KeyUsage { return offline.EffectiveUsage(info) }

// verificationOut is a byok.Verification in byok's JSON spelling.
type verificationOut struct {
	// Verdict is PASSED, FAILED or UNPROVEN; Verified is Verdict == PASSED.
	Verdict  byok.Verdict `json:"verdict"`
	Verified bool         `json:"verified"`
	Checks   []checkOut   `json:"checks"`
	Skipped  []string     `json:"skipped"`
}

type checkOut struct {
	Name   string `json:"name"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail"`
	// Identity: the check, passing, shows KMS holds the source key itself
	// (not only a working key).
	Identity bool `json:"identity"`
}

func toVerificationOut(v *byok.Verification) *verificationOut {
	if v == nil {
		return nil
	}
	o := &verificationOut{Verdict: v.Verdict, Verified: v.Verified, Checks: []checkOut{}, Skipped: []string{}}
	if o.Verdict == "" {
		o.Verdict = byok.VerdictUnproven
	}
	o.Skipped = append(o.Skipped, v.Skipped...)
	for _, c := range v.Checks {
		o.Checks = append(o.Checks, checkOut{c.Name, c.OK, c.Detail, c.Identity})
	}
	return o
}

// verdictLine says what a verdict means, in one line, for AWS KMS.
func verdictLine(v *verificationOut) string { return verdictLineFor(v, "KMS") }

// verdictLineFor says what a verdict means, in one line, naming the
// service that holds (or not) the key: "KMS", "Key Vault", "Managed HSM".
func verdictLineFor(v *verificationOut, holder string) string {
	failed := 0
	for _, c := range v.Checks {
		if !c.OK {
			failed++
		}
	}
	switch v.Verdict {
	case byok.VerdictPassed:
		return fmt.Sprintf("PASSED: %s holds the source key (%s, all passed)", holder, plural(len(v.Checks), "check"))
	case byok.VerdictFailed:
		return fmt.Sprintf("FAILED: %d of %s failed; %s does not hold the source key; do not use it", failed, plural(len(v.Checks), "check"), holder)
	}
	return fmt.Sprintf("UNPROVEN: %s ran, none failed, but none proves %s holds the source key", plural(len(v.Checks), "check"), holder)
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// checkWidth is how wide a check's text may be in the human table: the
// table's name column, a 6-column mark and this fit in 100 columns.
const checkWidth = 76

// verificationRows prints a verification of an AWS KMS import: the
// verdict, then every check on its own lines (mark, name, detail) and every
// skipped step.
func verificationRows(s *summary, v *verificationOut) { verificationRowsFor(s, v, "KMS") }

// verificationRowsFor prints a verification as verificationRows does,
// naming holder as the service that holds the key ("Key Vault",
// "Managed HSM").
func verificationRowsFor(s *summary, v *verificationOut, holder string) {
	if v == nil {
		s.row("verification", "SKIPPED (--no-verify): nothing proves that %s holds the source key", holder)
		return
	}
	var b strings.Builder
	b.WriteString(verdictLineFor(v, holder))
	for _, c := range v.Checks {
		mark := "ok    "
		if !c.OK {
			mark = "FAIL  "
		}
		writeWrapped(&b, mark, c.Name)
		if c.Detail != "" {
			writeWrapped(&b, "      ", c.Detail)
		}
	}
	for _, sk := range v.Skipped {
		writeWrapped(&b, "skip  ", sk)
	}
	s.row("verification", "%s", b.String())
}

// writeWrapped writes text on new lines of at most checkWidth columns,
// the first after mark, the others indented as far.
func writeWrapped(b *strings.Builder, mark, text string) {
	indent := strings.Repeat(" ", len(mark))
	line := ""
	flush := func() {
		b.WriteString("\n" + mark + line)
		mark, line = indent, ""
	}
	for _, w := range strings.Fields(text) {
		if line != "" && len(line)+1+len(w) > checkWidth {
			flush()
		}
		if line != "" {
			line += " "
		}
		line += w
	}
	flush()
}

func fmtTime(t time.Time) string { return offline.FormatTime(t) }

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
			return "ImportKeyMaterial's integrity; GetPublicKey equals the source public key; a KMS signature verifies under it; KMS verifies the source's signature"
		case byok.EncryptDecrypt:
			return "ImportKeyMaterial's integrity; GetPublicKey equals the source public key; KMS decrypts what the source public key encrypted"
		}
		return "ImportKeyMaterial's integrity; GetPublicKey equals the source public key"
	case byok.KindHMAC:
		return "ImportKeyMaterial's integrity; KMS GenerateMac equals the source's HMAC of a fresh message"
	case byok.KindSymmetric:
		return "ImportKeyMaterial's OAEP/RFC 5649 integrity (KMS unwrapped exactly what the source wrapped); an Encrypt/Decrypt round trip (usability only)"
	}
	return ""
}
