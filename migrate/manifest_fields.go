package migrate

import (
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/byok-go/byok"
	"github.com/byok-go/byok/internal/readfile"
	"github.com/byok-go/byok/internal/validto"
	"gopkg.in/yaml.v3"
)

func str(v *yaml.Node, field string, errs *errList) (string, bool) {
	v = deref(v)
	if v.Kind != yaml.ScalarNode || v.Tag == "!!null" {
		errs.add(v.Line, field, "want a string")
		return "", false
	}
	return v.Value, true
}

func boolean(v *yaml.Node, field string, errs *errList) (bool, bool) {
	v = deref(v)
	if v.Kind != yaml.ScalarNode || v.Tag != "!!bool" {
		errs.add(v.Line, field, "want true or false")
		return false, false
	}
	var b bool
	if err := v.Decode(&b); err != nil {
		errs.add(v.Line, field, "want true or false")
		return false, false
	}
	return b, true
}

func strList(v *yaml.Node, field string, errs *errList) ([]string, bool) {
	v = deref(v)
	if v.Kind == yaml.ScalarNode && v.Tag != "!!null" {
		return []string{v.Value}, true
	}
	if v.Kind != yaml.SequenceNode {
		errs.add(v.Line, field, "want a list of strings")
		return nil, false
	}
	var out []string
	for i, c := range v.Content {
		s, ok := str(c, fmt.Sprintf("%s[%d]", field, i), errs)
		if !ok {
			return nil, false
		}
		out = append(out, s)
	}
	return out, true
}

func strMap(v *yaml.Node, field string, errs *errList, into map[string]string) map[string]string {
	if v = deref(v); v.Kind != yaml.MappingNode {
		errs.add(v.Line, field, "want a mapping of names to strings")
		return into
	}
	out := map[string]string{}
	for k, val := range into {
		out[k] = val
	}
	var merged [][2]*yaml.Node
	own := map[string]bool{}
	for i := 0; i+1 < len(v.Content); i += 2 {
		k := deref(v.Content[i])
		if k.Tag == "!!merge" {
			if !mergeInto(&merged, v.Content[i+1], field, errs, 0) {
				return out
			}
			continue
		}
		own[k.Value] = true
	}
	// Merged members first (an earlier one wins), then the mapping's own.
	for i := len(merged) - 1; i >= 0; i-- {
		if k, val := merged[i][0], merged[i][1]; !own[k.Value] {
			if s, ok := str(val, field+"."+k.Value, errs); ok {
				out[k.Value] = s
			}
		}
	}
	for i := 0; i+1 < len(v.Content); i += 2 {
		k, val := deref(v.Content[i]), v.Content[i+1]
		if k.Tag == "!!merge" {
			continue
		}
		if s, ok := str(val, field+"."+k.Value, errs); ok {
			out[k.Value] = s
		}
	}
	return out
}

var (
	headerFields  = []string{"version", "id", "defaults", "keys"}
	defaultFields = []string{"source", "target", "targets", "options"}
	keyFields     = []string{"name", "source", "target", "targets", "options"}
	sourceFields  = []string{"driver", "key", "module", "token", "pin_env", "pin_file", "passphrase_env", "passphrase_file", "key_spec", "usage", "options"}
	targetFields  = []string{"key_id", "region", "regions", "multi_region", "replica_regions", "alias", "description", "tags", "policy", "policy_file", "valid_to", "rotate", "key_material_description"}
	optionFields  = []string{"algorithm", "wrapping_key_spec", "skip_verify"}
)

func (m *Manifest) parseHeader(n *yaml.Node, errs *errList) {
	n = deref(n)
	if n == nil || isNull(n) {
		errs.add(1, "", "the manifest is empty; it needs version, id and keys")
		return
	}
	var haveVersion bool
	fields(n, "", errs, headerFields, func(name string, v *yaml.Node) {
		switch name {
		case "version":
			haveVersion = true
			if v.Kind != yaml.ScalarNode || v.Tag != "!!int" || v.Value != strconv.Itoa(ManifestVersion) {
				errs.add(v.Line, "version", "want %d; this byok reads manifest version %d", ManifestVersion, ManifestVersion)
			}
			m.Version = ManifestVersion
		case "id":
			if s, ok := str(v, "id", errs); ok {
				if !nameRe.MatchString(s) {
					errs.add(v.Line, "id", "%q: want 1 to 128 letters, digits and _ . : / = + @ -", s)
				}
				m.ID = s
			}
		case "defaults":
			fields(v, "defaults", errs, defaultFields, func(name string, v *yaml.Node) {
				switch name {
				case "source":
					m.parseSource(v, "defaults.source", errs, &m.defaults.Source)
				case "target":
					m.parseTarget(v, "defaults.target", errs, &m.defaults.Target)
				case "targets":
					m.defaultTargets = m.parseTargets(v, "defaults.targets", errs, &m.defaults.Target)
				case "options":
					parseOptions(v, "defaults.options", errs, &m.defaults.Options)
				}
			})
			if m.defaults.Target.KeyID != "" {
				errs.add(v.Line, "defaults.target.key_id", "a default key_id would import every key into one KMS key; give key_id per key")
			}
			if m.defaults.Target.Alias != "" {
				errs.add(v.Line, "defaults.target.alias", "aliases are unique per Region; give alias per key")
			}
		}
	})
	if !haveVersion {
		errs.add(n.Line, "version", "missing; want version: %d", ManifestVersion)
	}
	if m.ID == "" {
		errs.add(n.Line, "id", "missing: name the migration (it is tagged on every key it creates, so that an interrupted run finds them again)")
	}
}

func (m *Manifest) resolvePath(p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(filepath.Dir(m.Path), p)
}

func (m *Manifest) parseSource(v *yaml.Node, where string, errs *errList, s *Source) {
	v = deref(v)
	if v.Kind == yaml.ScalarNode && v.Tag != "!!null" {
		s.Key = v.Value // shorthand: source: path/to/key.pem
		return
	}
	fields(v, where, errs, sourceFields, func(name string, v *yaml.Node) {
		f := where + "." + name
		if name == "options" {
			s.Options = strMap(v, f, errs, s.Options)
			return
		}
		val, ok := str(v, f, errs)
		if !ok {
			return
		}
		switch name {
		case "driver":
			s.Driver = val
		case "key":
			s.Key = val
		case "module":
			s.Module = val
		case "token":
			s.Token = val
		case "pin_env":
			s.PINEnv, s.PINFile = val, ""
		case "pin_file":
			s.PINFile, s.PINEnv = val, ""
		case "passphrase_env":
			s.PassphraseEnv, s.PassphraseFile = val, ""
		case "passphrase_file":
			s.PassphraseFile, s.PassphraseEnv = val, ""
		case "key_spec":
			spec, err := byok.ParseKeySpec(val)
			if err != nil {
				errs.add(v.Line, f, "%v", err)
			}
			s.KeySpec = spec
		case "usage":
			switch u := byok.KeyUsage(val); u {
			case byok.EncryptDecrypt, byok.SignVerify, byok.GenerateVerifyMAC, byok.KeyAgreement:
				s.Usage = u
			default:
				errs.add(v.Line, f, "%q: want ENCRYPT_DECRYPT, SIGN_VERIFY, GENERATE_VERIFY_MAC or KEY_AGREEMENT", val)
			}
		}
	})
}

func (m *Manifest) parseTarget(v *yaml.Node, where string, errs *errList, t *Target) {
	fields(v, where, errs, targetFields, func(name string, v *yaml.Node) {
		f := where + "." + name
		switch name {
		case "multi_region":
			if b, ok := boolean(v, f, errs); ok {
				t.MultiRegion = b
			}
			return
		case "rotate":
			if b, ok := boolean(v, f, errs); ok {
				t.Rotate = b
			}
			return
		case "tags":
			t.Tags = strMap(v, f, errs, t.Tags)
			for k, val := range t.Tags {
				switch {
				case strings.HasPrefix(strings.ToLower(k), "aws:") || strings.HasPrefix(k, "byok:"):
					errs.add(v.Line, f+"."+k, "tag keys beginning with aws: or byok: are reserved")
				case len(k) > 128 || len(val) > 256:
					errs.add(v.Line, f+"."+k, "tag keys have at most 128 characters, values at most 256")
				}
			}
			if len(t.Tags) > 50-len(reservedTags) {
				errs.add(v.Line, f, "at most %d tags (KMS allows 50; byok adds %d)", 50-len(reservedTags), len(reservedTags))
			}
			return
		case "regions", "replica_regions":
			l, ok := strList(v, f, errs)
			if !ok {
				return
			}
			for i, r := range l {
				if !regionRe.MatchString(r) {
					errs.add(v.Line, fmt.Sprintf("%s[%d]", f, i), "%q is not an AWS Region name (e.g. us-east-1)", r)
				}
			}
			if name == "regions" {
				t.Regions = l
			} else {
				t.ReplicaRegions = l
			}
			return
		}
		val, ok := str(v, f, errs)
		if !ok {
			return
		}
		switch name {
		case "key_id":
			t.KeyID = val
		case "region":
			if !regionRe.MatchString(val) {
				errs.add(v.Line, f, "%q is not an AWS Region name (e.g. us-east-1)", val)
			}
			t.Regions = []string{val}
		case "alias":
			if !strings.HasPrefix(val, "alias/") {
				val = "alias/" + val
			}
			if !aliasRe.MatchString(val) || strings.HasPrefix(val, "alias/aws/") || len(val) > 256 {
				errs.add(v.Line, f, "%q: want alias/NAME with letters, digits, / _ - (not alias/aws/)", val)
			}
			t.Alias = val
		case "description":
			if len(val) > 8192 {
				errs.add(v.Line, f, "at most 8192 characters")
			}
			t.Description = val
		case "policy":
			if !json.Valid([]byte(val)) {
				errs.add(v.Line, f, "not a JSON document")
			}
			t.Policy, t.PolicyFile = val, ""
		case "policy_file":
			p := m.resolvePath(val)
			// At most 32 KiB, the largest key policy KMS takes; a
			// device, FIFO or directory is refused unread.
			b, err := readfile.ReadFile(p, "key policy JSON file", readfile.Policy)
			switch {
			case err != nil:
				errs.add(v.Line, f, "%v", err)
			case !json.Valid(b):
				errs.add(v.Line, f, "%s is not a JSON document", val)
			}
			t.PolicyFile, t.Policy = p, ""
		case "valid_to":
			vt, err := validto.Parse(val, m.now)
			if errors.Is(err, validto.ErrSyntax) {
				err = fmt.Errorf("%q: %w", val, err)
			}
			if err != nil {
				errs.add(v.Line, f, "%v", err)
			}
			t.ValidTo = vt
		case "key_material_description":
			t.KeyMaterialDescription = val
		}
	})
}

func parseOptions(v *yaml.Node, where string, errs *errList, o *Options) {
	fields(v, where, errs, optionFields, func(name string, v *yaml.Node) {
		f := where + "." + name
		if name == "skip_verify" {
			if b, ok := boolean(v, f, errs); ok {
				o.SkipVerify = b
			}
			return
		}
		val, ok := str(v, f, errs)
		if !ok {
			return
		}
		switch name {
		case "algorithm":
			a, err := byok.ParseWrappingAlgorithm(val)
			if err != nil {
				errs.add(v.Line, f, "%v", err)
			}
			o.Algorithm = a
		case "wrapping_key_spec":
			w, err := byok.ParseWrappingKeySpec(val)
			if err != nil {
				errs.add(v.Line, f, "%v", err)
			}
			o.WrappingKeySpec = w
		}
	})
}

// parseKey parses entry i; ok is false when it has mistakes (added to errs).
func (m *Manifest) parseKey(n *yaml.Node, i int, errs *errList) (Key, bool) {
	before := len(errs.errs) + errs.more
	where := fmt.Sprintf("keys[%d]", i)
	k := Key{Line: n.Line}
	k.Source = m.defaults.Source
	k.Source.Options = cloneMap(k.Source.Options)
	k.Target = m.defaults.Target
	k.Target.Tags = cloneMap(k.Target.Tags)
	k.Target.Regions = slices.Clone(k.Target.Regions)
	k.Target.ReplicaRegions = slices.Clone(k.Target.ReplicaRegions)
	k.Options = m.defaults.Options
	k.Clouds = slices.Clone(m.defaultTargets.clouds)
	// Without defaults.targets, every key has an AWS target, as before
	// targets lists existed; with it, a key has one when the list does.
	hasAWS := !m.defaultTargets.given || m.defaultTargets.aws
	var sawTarget, sawTargets bool
	if n = deref(n); n.Kind != yaml.MappingNode {
		errs.add(n.Line, where, "want a mapping with name, source and target")
		return k, false
	}
	fields(n, where, errs, keyFields, func(name string, v *yaml.Node) {
		switch name {
		case "name":
			if s, ok := str(v, where+".name", errs); ok {
				if !nameRe.MatchString(s) {
					errs.add(v.Line, where+".name", "%q: want 1 to 128 letters, digits and _ . : / = + @ -", s)
				}
				k.Name = s
			}
		case "source":
			m.parseSource(v, where+".source", errs, &k.Source)
		case "target":
			// The AWS target's fields: the key has an AWS target.
			sawTarget, hasAWS = true, true
			m.parseTarget(v, where+".target", errs, &k.Target)
		case "targets":
			// The key's own list replaces the defaults' list; its aws
			// item's fields still start from the defaults' AWS fields.
			sawTargets = true
			l := m.parseTargets(v, where+".targets", errs, &k.Target)
			hasAWS, k.Clouds = l.aws, l.clouds
		case "options":
			parseOptions(v, where+".options", errs, &k.Options)
		}
	})
	if sawTarget && sawTargets {
		errs.add(n.Line, where+".target", "give either target (AWS only) or targets (a list), not both: move these fields into the list's aws item")
	}
	if !hasAWS {
		k.Target = Target{}
		if len(k.Clouds) == 0 {
			errs.add(n.Line, where+".targets", "no target: give target (AWS) or targets (aws, gcp, azure items), here or in defaults")
		}
	}
	checkClouds(&k, where, errs)
	if k.Name == "" {
		errs.add(n.Line, where+".name", "missing: every key needs a unique name")
	}
	m.checkKey(&k, where, errs, hasAWS)
	if k.Source.Driver == "" {
		k.Source.Driver = "software"
	}
	if k.Source.Driver == "software" {
		k.Source.Key = m.resolvePath(k.Source.Key)
	}
	k.Source.PINFile = m.resolvePath(k.Source.PINFile)
	k.Source.PassphraseFile = m.resolvePath(k.Source.PassphraseFile)
	return k, len(errs.errs)+errs.more == before
}

func (m *Manifest) checkKey(k *Key, where string, errs *errList, hasAWS bool) {
	line := k.Line
	if k.Source.Key == "" {
		errs.add(line, where+".source.key", "missing: a key file or an HSM object (pkcs11: URI, label=NAME, id=HEX)")
	}
	if strings.Contains(strings.ToLower(k.Source.Key), "pin-value") || strings.Contains(strings.ToLower(k.Source.Key), "pin-source") {
		errs.add(line, where+".source.key", "the PIN never goes in the manifest: remove pin-value/pin-source and use pin_env or pin_file")
	}
	if hasAWS {
		m.checkAWS(k, where, errs)
	}
	if k.Source.PINEnv != "" && !regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`).MatchString(k.Source.PINEnv) {
		errs.add(line, where+".source.pin_env", "%q is not an environment variable name (the PIN itself never goes in the manifest)", k.Source.PINEnv)
	}
	if k.Source.Driver == "" || k.Source.Driver == "software" {
		if k.Source.Module != "" || k.Source.Token != "" || k.Source.PINEnv != "" || k.Source.PINFile != "" {
			errs.add(line, where+".source.driver", "module, token and PINs are for PKCS#11 drivers; set driver (softhsm, pkcs11, …)")
		}
	}
	if k.Options.Algorithm != "" && k.Options.WrappingKeySpec != "" && k.Source.KeySpec != "" {
		if err := byok.CheckCompatible(k.Source.KeySpec, k.Options.Algorithm, k.Options.WrappingKeySpec); err != nil {
			errs.add(line, where+".options.algorithm", "%v", err)
		}
	}
}

// checkAWS checks a key's AWS target.
func (m *Manifest) checkAWS(k *Key, where string, errs *errList) {
	t := &k.Target
	line := k.Line
	if t.KeyID != "" {
		if r := regionOfARN(t.KeyID); r != "" {
			if len(t.Regions) > 0 && (len(t.Regions) > 1 || t.Regions[0] != r) {
				// An ARN names its Region: a default region does not apply.
				t.Regions = nil
			}
			t.Regions = []string{r}
		}
		for _, bad := range []struct {
			set  bool
			name string
		}{{t.MultiRegion, "multi_region"}, {len(t.ReplicaRegions) > 0, "replica_regions"}, {t.Alias != "", "alias"},
			{t.Policy != "" || t.PolicyFile != "", "policy"}} {
			if bad.set {
				errs.add(line, where+".target."+bad.name, "applies only to keys the migration creates; with key_id, the existing key (and its replicas) is used as it is")
			}
		}
		if len(t.Regions) != 1 {
			errs.add(line, where+".target.region", "key_id %q needs one Region: give the key's ARN, or region", t.KeyID)
		}
	} else {
		if t.Rotate {
			errs.add(line, where+".target.rotate", "rotation imports new key material into an existing key: give key_id")
		}
		if len(t.Regions) == 0 {
			errs.add(line, where+".target.region", "missing: give region (or regions), here or in defaults.target")
		}
	}
	if t.MultiRegion {
		if len(t.Regions) != 1 {
			errs.add(line, where+".target.regions", "a multi-Region key has one primary Region (region) and replica_regions")
		}
		for _, r := range t.ReplicaRegions {
			if len(t.Regions) > 0 && r == t.Regions[0] {
				errs.add(line, where+".target.replica_regions", "%s is the primary Region", r)
			}
		}
	} else if len(t.ReplicaRegions) > 0 && t.KeyID == "" {
		errs.add(line, where+".target.replica_regions", "replicas need multi_region: true")
	}
	if dup := firstDup(t.AllRegions()); dup != "" && len(t.Regions)+len(t.ReplicaRegions) > 0 {
		errs.add(line, where+".target.regions", "%s is given twice", dup)
	}
	if t.KeyMaterialDescription != "" && !regexp.MustCompile(`^[a-zA-Z0-9:/_\s.-]{1,256}$`).MatchString(t.KeyMaterialDescription) {
		errs.add(line, where+".target.key_material_description", "want at most 256 letters, digits, spaces and : / _ . -")
	}
}

func firstDup(l []string) string {
	s := slices.Clone(l)
	sort.Strings(s)
	for i := 1; i < len(s); i++ {
		if s[i] == s[i-1] {
			return s[i]
		}
	}
	return ""
}

func cloneMap(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// regionOfARN returns the Region of a KMS ARN, or "".
func regionOfARN(s string) string {
	f := strings.SplitN(s, ":", 6)
	if len(f) == 6 && f[0] == "arn" && f[2] == "kms" {
		return f[3]
	}
	return ""
}
