package gcpkms

import (
	"crypto"
	"fmt"
	"slices"

	"github.com/byok-go/byok"
)

// ChooseWrapping picks the Cloud KMS import method for info among the
// wrapping algorithms the source can perform (nil: all), as byok's
// algorithm and wrapping key spec (byok.WrappingChooser). It first applies
// the key rules (AlgorithmFor, Options.Algorithm, the protection level), so
// that a key Cloud KMS cannot hold is refused before any call.
//
// The order of preference: SHA-256 over SHA-1, which is chosen only when
// the source can perform no SHA-256 method Cloud KMS accepts for the key
// (Choice.Fallback; SoftHSM, for one, does RSA-OAEP with SHA-1 only); for
// AES and HMAC keys the direct RSA-OAEP over the key wrap; RSA_4096 over
// RSA_3072. alg and wks, when given, must name a method Cloud KMS has for
// this key, or the error wraps byok.ErrIncompatible and names the rule.
func (t *Target) ChooseWrapping(info byok.KeyInfo, can []byok.WrappingAlgorithm, alg byok.WrappingAlgorithm, wks byok.WrappingKeySpec) (byok.Choice, error) {
	if _, err := resolve(info.Spec, info.Usage, t.opts.Algorithm, t.level.String()); err != nil {
		return byok.Choice{}, err
	}
	kind := info.Spec.Kind()
	allowed := allowedFor(kind)
	if alg != "" || wks != "" {
		var asked []method
		for _, m := range allowed {
			if (alg == "" || m.alg == alg) && (wks == "" || m.wks == wks) {
				asked = append(asked, m)
			}
		}
		if len(asked) == 0 {
			return byok.Choice{}, refuseAsked(kind, alg, wks)
		}
		allowed = asked
	}
	var names []string
	for _, m := range allowed {
		names = append(names, m.m.String())
	}
	for _, m := range allowed {
		if can != nil && !slices.Contains(can, m.alg) {
			continue
		}
		c := byok.Choice{Algorithm: m.alg, WrappingKeySpec: m.wks}
		switch {
		case alg != "" || wks != "":
			c.Reason = fmt.Sprintf("%s (Cloud KMS import method %s) with %s, as asked", m.alg, m.m, wrappingKey(m.wks))
		case m.alg.Hash() == crypto.SHA1:
			c.Fallback = true
			c.Reason = fmt.Sprintf("%s (Cloud KMS import method %s): the source cannot perform a SHA-256 method Cloud KMS accepts for %s (it can %v), so the SHA-1 form of the RSA-AES key wrap is used",
				m.alg, m.m, info.Spec, can)
		case m.alg.IsKeyWrap() && (kind == byok.KindRSA || kind == byok.KindEC):
			c.Reason = fmt.Sprintf("%s (Cloud KMS import method %s): %s needs the RSA-AES key wrap in Cloud KMS; SHA-256 and the largest wrapping key are preferred", m.alg, m.m, material(kind))
		case m.alg.IsKeyWrap():
			c.Reason = fmt.Sprintf("%s (Cloud KMS import method %s): the source cannot perform RSAES_OAEP_SHA_256; the key wrap carries the same material", m.alg, m.m)
		default:
			c.Reason = fmt.Sprintf("%s (Cloud KMS import method %s): %s fits one RSA-OAEP block; SHA-256 and the largest wrapping key are preferred", m.alg, m.m, material(kind))
		}
		return c, nil
	}
	e := &RuleError{Rule: RuleMethods, What: fmt.Sprintf("%s key from a source that can wrap only with %v", a(string(info.Spec)), can),
		Fix: fmt.Sprintf("Cloud KMS accepts %v for it; use a source (HSM driver or mechanism) that can perform one of them", names)}
	if kind == byok.KindSymmetric || kind == byok.KindHMAC {
		e.Fix += " (an HSM whose RSA-OAEP is SHA-1 only cannot carry AES or HMAC keys to Cloud KMS: Cloud KMS has no direct RSA-OAEP SHA-1 method)"
	}
	return byok.Choice{}, e
}

// refuseAsked explains why no method fits the asked alg and wks.
func refuseAsked(kind byok.MaterialKind, alg byok.WrappingAlgorithm, wks byok.WrappingKeySpec) error {
	what := fmt.Sprintf("%s wrapped with %s under %s", material(kind), orAny(string(alg)), wrappingKey(wks))
	if alg == byok.RSAESOAEPSHA256 && kind != byok.KindSymmetric && kind != byok.KindHMAC {
		return &RuleError{Rule: RuleOAEPSymmetricOnly, What: what, Fix: "use RSA_AES_KEY_WRAP_SHA_256 (or let byok choose)"}
	}
	return &RuleError{Rule: RuleMethods, What: what,
		Fix: "use RSA_AES_KEY_WRAP_SHA_256 (or RSAES_OAEP_SHA_256 for AES and HMAC keys) with an RSA_4096 or RSA_3072 wrapping key, or let byok choose"}
}

func orAny(s string) string {
	if s == "" {
		return "any algorithm"
	}
	return s
}
