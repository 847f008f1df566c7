package migrate

import (
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// Target kinds: the keys of one item of a manifest's targets list.
const (
	KindAWS   = "aws"   // AWS KMS: Target (regions, multi-Region keys, …)
	KindGCP   = "gcp"   // Google Cloud KMS: GCPSpec
	KindAzure = "azure" // Azure Key Vault or Managed HSM: AzureSpec
)

// CloudSpec is a target outside AWS: one gcp or azure item of a key's
// targets list. Exactly one of GCP and Azure is set, as Kind says.
type CloudSpec struct {
	Kind  string // KindGCP or KindAzure
	Line  int    // the item's line in the manifest
	GCP   *GCPSpec
	Azure *AzureSpec
	// field is the item's path in the manifest (keys[3].targets[1].gcp,
	// or defaults.targets[0].azure for a target every key inherits), for
	// the mistakes the cloud's own checks find (CloudFieldError).
	field string
}

// GCPSpec is a Google Cloud KMS target: a CryptoKey in a key ring.
type GCPSpec struct {
	// KeyRing is the key ring's resource name,
	// projects/PROJECT/locations/LOCATION/keyRings/RING.
	KeyRing string
	// KeyID is the CryptoKey's id in the ring (letters, digits, _ and -,
	// at most 63); the manifest's default is the key's name.
	KeyID string
	// ProtectionLevel is HSM or SOFTWARE; empty means the target's default.
	ProtectionLevel string
	// Algorithm is a CryptoKeyVersionAlgorithm (EC_SIGN_P256_SHA256,
	// GOOGLE_SYMMETRIC_ENCRYPTION, …); empty means the target chooses it
	// from the source's key spec.
	Algorithm string
}

// KeyName returns the CryptoKey's resource name.
func (g *GCPSpec) KeyName() string { return g.KeyRing + "/cryptoKeys/" + g.KeyID }

// AzureSpec is an Azure Key Vault (or Managed HSM) target: a key in a
// vault, imported under a key-exchange key (KEK) of that vault.
type AzureSpec struct {
	// Vault is the vault's URL, https://NAME.vault.azure.net (or a
	// Managed HSM's https://NAME.managedhsm.azure.net): https only, as
	// the Azure target (azkv.New) takes it; a fake of the API in tests
	// serves https too.
	Vault string
	// KeyName is the key's name in the vault (letters, digits and -, at
	// most 127); the manifest's default is the key's name.
	KeyName string
	// KEKName names the key-exchange key; empty means the target's
	// default.
	KEKName string
	// ManagedHSM says the vault is a Managed HSM.
	ManagedHSM bool
}

// Name returns the identifier of the cloud key the target imports into:
// the CryptoKey's resource name, or the vault's URL with /keys/NAME.
func (c CloudSpec) Name() string {
	switch {
	case c.GCP != nil:
		return c.GCP.KeyName()
	case c.Azure != nil:
		return strings.TrimSuffix(c.Azure.Vault, "/") + "/keys/" + c.Azure.KeyName
	}
	return ""
}

// Unit returns the name the journal and the audit log give this target of
// a key: KIND:NAME (AWS Regions are named by the Region alone, which never
// holds a colon).
func (c CloudSpec) Unit() string { return c.Kind + ":" + c.Name() }

// Scope returns what the cloud's request quotas are counted per: a Google
// Cloud project and location (gcp:projects/P/locations/L), an Azure vault
// (azure:https://NAME.vault.azure.net).
func (c CloudSpec) Scope() string {
	switch {
	case c.GCP != nil:
		if i := strings.Index(c.GCP.KeyRing, "/keyRings/"); i >= 0 {
			return KindGCP + ":" + c.GCP.KeyRing[:i]
		}
		return KindGCP + ":" + c.GCP.KeyRing
	case c.Azure != nil:
		return KindAzure + ":" + strings.TrimSuffix(c.Azure.Vault, "/")
	}
	return c.Kind
}

// isCloudUnit reports whether a journal or audit unit names a target
// outside AWS (KIND:NAME) rather than an AWS Region.
func isCloudUnit(unit string) bool { return strings.Contains(unit, ":") }

// unitKind returns the kind of a unit: aws for a Region.
func unitKind(unit string) string {
	if k, _, ok := strings.Cut(unit, ":"); ok {
		return k
	}
	return KindAWS
}

var (
	targetKinds = []string{KindAWS, KindGCP, KindAzure}
	gcpFields   = []string{"key_ring", "key_id", "protection_level", "algorithm"}
	azureFields = []string{"vault", "key_name", "kek_name", "managed_hsm"}
	// The key ring as Cloud KMS names it, and as the gcp target (gcpkms)
	// checks it: a project ID (lowercase letters, digits, '.', ':' and -),
	// a location, a key ring ID.
	// https://cloud.google.com/kms/docs/resource-hierarchy
	keyRingRe    = regexp.MustCompile(`^projects/[a-z0-9.:-]{1,100}/locations/[a-z0-9-]{1,63}/keyRings/[a-zA-Z0-9_-]{1,63}$`)
	gcpKeyIDRe   = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,63}$`)
	gcpAlgRe     = regexp.MustCompile(`^[A-Z][A-Z0-9_]{2,63}$`)
	azureNameRe  = regexp.MustCompile(`^[0-9a-zA-Z-]{1,127}$`)
	protectionOK = []string{"HSM", "SOFTWARE"}
)

// targetList is what a targets list (a key's, or the defaults') says.
type targetList struct {
	given  bool // the list was there
	aws    bool // it has an aws item
	clouds []CloudSpec
}

// parseTargets parses a targets list; the aws item's fields are parsed
// over t (the defaults' AWS fields, or the key's).
func (m *Manifest) parseTargets(v *yaml.Node, where string, errs *errList, t *Target) targetList {
	out := targetList{given: true}
	v = deref(v)
	if v.Kind != yaml.SequenceNode {
		errs.add(v.Line, where, "want a list of targets, each with one of aws, gcp, azure")
		return out
	}
	for i, item := range v.Content {
		iw := fmt.Sprintf("%s[%d]", where, i)
		line := deref(item).Line
		var kinds []string
		fields(item, iw, errs, targetKinds, func(name string, val *yaml.Node) {
			kinds = append(kinds, name)
			f := iw + "." + name
			switch name {
			case KindAWS:
				if out.aws {
					errs.add(val.Line, f, "a key has one AWS target: list all its Regions in that item's regions")
					return
				}
				out.aws = true
				if isNull(deref(val)) {
					return // aws: {} or aws: — the defaults' AWS fields
				}
				m.parseTarget(val, f, errs, t)
			case KindGCP:
				g := &GCPSpec{}
				parseGCP(val, f, errs, g)
				out.clouds = append(out.clouds, CloudSpec{Kind: KindGCP, Line: line, GCP: g, field: f})
			case KindAzure:
				a := &AzureSpec{}
				parseAzure(val, f, errs, a)
				out.clouds = append(out.clouds, CloudSpec{Kind: KindAzure, Line: line, Azure: a, field: f})
			}
		})
		switch {
		case isNull(deref(item)):
			errs.add(line, iw, "empty: want one of aws, gcp, azure")
		case deref(item).Kind == yaml.MappingNode && len(kinds) == 0 && !hasUnknown(errs, line):
			errs.add(line, iw, "want one of aws, gcp, azure")
		case len(kinds) > 1:
			errs.add(line, iw, "one target per item, and this one names %s: make an item each", strings.Join(kinds, " and "))
		}
	}
	return out
}

// hasUnknown reports whether errs already holds a mistake on line (an
// unknown field), so that an item is not reported twice.
func hasUnknown(errs *errList, line int) bool {
	for _, e := range errs.errs {
		if e.Line == line {
			return true
		}
	}
	return false
}

func parseGCP(v *yaml.Node, where string, errs *errList, g *GCPSpec) {
	fields(v, where, errs, gcpFields, func(name string, v *yaml.Node) {
		f := where + "." + name
		s, ok := str(v, f, errs)
		if !ok {
			return
		}
		switch name {
		case "key_ring":
			if !keyRingRe.MatchString(s) {
				errs.add(v.Line, f, "%q: want projects/PROJECT/locations/LOCATION/keyRings/RING", s)
			}
			g.KeyRing = s
		case "key_id":
			if !gcpKeyIDRe.MatchString(s) {
				errs.add(v.Line, f, "%q: a Cloud KMS key id has 1 to 63 letters, digits, _ and -", s)
			}
			g.KeyID = s
		case "protection_level":
			if !slices.Contains(protectionOK, s) {
				errs.add(v.Line, f, "%q: want HSM or SOFTWARE", s)
			}
			g.ProtectionLevel = s
		case "algorithm":
			if !gcpAlgRe.MatchString(s) {
				errs.add(v.Line, f, "%q: want a Cloud KMS algorithm name, e.g. EC_SIGN_P256_SHA256", s)
			}
			g.Algorithm = s
		}
	})
	if deref(v).Kind == yaml.MappingNode && g.KeyRing == "" {
		errs.add(deref(v).Line, where+".key_ring", "missing: give the key ring, projects/PROJECT/locations/LOCATION/keyRings/RING")
	}
}

func parseAzure(v *yaml.Node, where string, errs *errList, a *AzureSpec) {
	fields(v, where, errs, azureFields, func(name string, v *yaml.Node) {
		f := where + "." + name
		if name == "managed_hsm" {
			if b, ok := boolean(v, f, errs); ok {
				a.ManagedHSM = b
			}
			return
		}
		s, ok := str(v, f, errs)
		if !ok {
			return
		}
		switch name {
		case "vault":
			if msg := checkVaultURL(s); msg != "" {
				errs.add(v.Line, f, "%q: %s", s, msg)
			}
			a.Vault = strings.TrimSuffix(s, "/")
		case "key_name":
			if !azureNameRe.MatchString(s) {
				errs.add(v.Line, f, "%q: a Key Vault key name has 1 to 127 letters, digits and -", s)
			}
			a.KeyName = s
		case "kek_name":
			if !azureNameRe.MatchString(s) {
				errs.add(v.Line, f, "%q: a Key Vault key name has 1 to 127 letters, digits and -", s)
			}
			a.KEKName = s
		}
	})
	if deref(v).Kind == yaml.MappingNode && a.Vault == "" {
		errs.add(deref(v).Line, where+".vault", "missing: give the vault's URL, https://NAME.vault.azure.net")
	}
}

// checkVaultURL says what is wrong with a vault URL ("" when nothing): the
// rule of the Azure target (azkv.New), so that a vault the manifest takes
// is one the run can open. Key Vault is reached over https only:
// https://learn.microsoft.com/azure/key-vault/general/about-keys-secrets-certificates#object-identifiers
func checkVaultURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" || (u.Path != "" && u.Path != "/") {
		return "want the vault's URL, https://NAME.vault.azure.net"
	}
	if u.Scheme != "https" {
		return "want https://NAME.vault.azure.net (Key Vault is reached over https only)"
	}
	return ""
}

// checkClouds fills defaults (a key id from the key's name) and checks a
// key's targets outside AWS.
func checkClouds(k *Key, where string, errs *errList) {
	seen := map[string]bool{}
	for i := range k.Clouds {
		c := &k.Clouds[i]
		f := c.field
		if f == "" {
			f = fmt.Sprintf("%s.targets[%d].%s", where, i, c.Kind)
		}
		switch {
		case c.GCP != nil:
			// A copy: the defaults' specs are shared by every key.
			g := *c.GCP
			c.GCP = &g
			if g.KeyID == "" {
				if !gcpKeyIDRe.MatchString(k.Name) {
					errs.add(c.Line, f+".key_id", "missing, and the key's name %q is not a Cloud KMS key id (1 to 63 letters, digits, _ and -): give key_id", k.Name)
				}
				c.GCP.KeyID = k.Name
			}
		case c.Azure != nil:
			a := *c.Azure
			c.Azure = &a
			if a.KeyName == "" {
				if !azureNameRe.MatchString(k.Name) {
					errs.add(c.Line, f+".key_name", "missing, and the key's name %q is not a Key Vault key name (1 to 127 letters, digits and -): give key_name", k.Name)
				}
				c.Azure.KeyName = k.Name
			}
		}
		if u := c.Unit(); seen[u] {
			errs.add(c.Line, f, "%s is given twice", c.Name())
		} else {
			seen[u] = true
		}
	}
}
