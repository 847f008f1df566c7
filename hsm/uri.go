package hsm

import (
	"encoding/hex"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// URI is an RFC 7512 PKCS#11 URI: "pkcs11:" path attributes separated by
// ";", then optionally "?" and query attributes separated by "&", values
// percent-encoded. Example:
//
//	pkcs11:token=prod;object=signing-key;type=private?module-path=/usr/lib/softhsm/libsofthsm2.so
//
// pin-value is refused: a PIN in a URI ends up in shell history, process
// listings and logs. Use pin-source (a file) or a PINSource instead.
type URI struct {
	// Token attributes (CK_TOKEN_INFO): label, manufacturerID, model and
	// serialNumber.
	Token, Manufacturer, Model, Serial string
	// Slot attributes: slot-id (HasSlotID says whether it was given),
	// slot-description and slot-manufacturer.
	SlotID                            uint
	HasSlotID                         bool
	SlotDescription, SlotManufacturer string
	// Library attributes (CK_INFO).
	LibraryManufacturer, LibraryDescription, LibraryVersion string
	// Object attributes: object is CKA_LABEL, id is CKA_ID, type is one of
	// cert, data, private, public, secret-key.
	Object string
	ID     []byte
	Type   string
	// Query attributes.
	PINSource  string
	ModuleName string
	ModulePath string
	// Vendor holds vendor-specific attributes (names starting "x-").
	Vendor map[string]string
}

var uriTypes = []string{"cert", "data", "private", "public", "secret-key"}

// ParseURI parses an RFC 7512 PKCS#11 URI. Unknown standard attributes,
// repeated path attributes, bad percent-encoding and pin-value are errors.
func ParseURI(s string) (*URI, error) {
	rest, ok := strings.CutPrefix(s, "pkcs11:")
	if !ok {
		if len(s) >= 7 && strings.EqualFold(s[:7], "pkcs11:") {
			rest = s[7:]
		} else {
			return nil, fmt.Errorf("hsm: %q is not a PKCS#11 URI: it must start with \"pkcs11:\"", truncate(s))
		}
	}
	path, query, _ := strings.Cut(rest, "?")
	u := &URI{}
	seen := map[string]bool{}
	if path != "" {
		for _, attr := range strings.Split(path, ";") {
			if err := u.set(attr, true, seen); err != nil {
				return nil, err
			}
		}
	}
	if query != "" {
		for _, attr := range strings.Split(query, "&") {
			if err := u.set(attr, false, seen); err != nil {
				return nil, err
			}
		}
	}
	return u, nil
}

func truncate(s string) string {
	if len(s) > 60 {
		return s[:60] + "…"
	}
	return s
}

func (u *URI) set(attr string, inPath bool, seen map[string]bool) error {
	name, raw, ok := strings.Cut(attr, "=")
	if !ok || name == "" {
		return fmt.Errorf("hsm: PKCS#11 URI attribute %q is not name=value", truncate(attr))
	}
	name = strings.ToLower(name)
	if inPath {
		if seen[name] {
			return fmt.Errorf("hsm: PKCS#11 URI attribute %q appears twice in the path", name)
		}
		seen[name] = true
	}
	if name == "pin-value" {
		return fmt.Errorf("hsm: the PKCS#11 URI carries pin-value; byok never takes a PIN from a URI or the command line: use pin-source=FILE or a PIN source (environment variable, file, prompt)")
	}
	v, err := url.PathUnescape(raw)
	if err != nil {
		return fmt.Errorf("hsm: PKCS#11 URI attribute %s: bad percent-encoding", name)
	}
	pathAttr := func(dst *string) error {
		if !inPath {
			return fmt.Errorf("hsm: PKCS#11 URI attribute %s belongs in the path (before ?)", name)
		}
		*dst = v
		return nil
	}
	queryAttr := func(dst *string) error {
		if inPath {
			return fmt.Errorf("hsm: PKCS#11 URI attribute %s belongs in the query (after ?)", name)
		}
		*dst = v
		return nil
	}
	switch name {
	case "token":
		return pathAttr(&u.Token)
	case "manufacturer":
		return pathAttr(&u.Manufacturer)
	case "model":
		return pathAttr(&u.Model)
	case "serial":
		return pathAttr(&u.Serial)
	case "slot-description":
		return pathAttr(&u.SlotDescription)
	case "slot-manufacturer":
		return pathAttr(&u.SlotManufacturer)
	case "library-manufacturer":
		return pathAttr(&u.LibraryManufacturer)
	case "library-description":
		return pathAttr(&u.LibraryDescription)
	case "library-version":
		return pathAttr(&u.LibraryVersion)
	case "object":
		return pathAttr(&u.Object)
	case "slot-id":
		if !inPath {
			return fmt.Errorf("hsm: PKCS#11 URI attribute slot-id belongs in the path")
		}
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return fmt.Errorf("hsm: PKCS#11 URI slot-id %q is not a decimal number", truncate(v))
		}
		u.SlotID, u.HasSlotID = uint(n), true
		return nil
	case "id":
		if !inPath {
			return fmt.Errorf("hsm: PKCS#11 URI attribute id belongs in the path")
		}
		u.ID = []byte(v)
		return nil
	case "type":
		if !inPath {
			return fmt.Errorf("hsm: PKCS#11 URI attribute type belongs in the path")
		}
		if v == "secret" { // a common misspelling
			v = "secret-key"
		}
		if !slices.Contains(uriTypes, v) {
			return fmt.Errorf("hsm: PKCS#11 URI type %q: want one of %v", truncate(v), uriTypes)
		}
		u.Type = v
		return nil
	case "pin-source":
		return queryAttr(&u.PINSource)
	case "module-name":
		return queryAttr(&u.ModuleName)
	case "module-path":
		return queryAttr(&u.ModulePath)
	}
	if strings.HasPrefix(name, "x-") {
		if u.Vendor == nil {
			u.Vendor = map[string]string{}
		}
		u.Vendor[name] = v
		return nil
	}
	return fmt.Errorf("hsm: unknown PKCS#11 URI attribute %q", truncate(name))
}

// escape percent-encodes everything but RFC 7512's unreserved characters
// and the few it allows unescaped in values.
func escape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-._~:[]@!$'()*+,", c) >= 0 {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// String returns the URI in RFC 7512 form, attributes in a fixed order.
func (u *URI) String() string {
	var path, query []string
	add := func(dst *[]string, k, v string) {
		if v != "" {
			*dst = append(*dst, k+"="+escape(v))
		}
	}
	add(&path, "library-description", u.LibraryDescription)
	add(&path, "library-manufacturer", u.LibraryManufacturer)
	add(&path, "library-version", u.LibraryVersion)
	add(&path, "slot-description", u.SlotDescription)
	add(&path, "slot-manufacturer", u.SlotManufacturer)
	if u.HasSlotID {
		path = append(path, fmt.Sprintf("slot-id=%d", u.SlotID))
	}
	add(&path, "manufacturer", u.Manufacturer)
	add(&path, "model", u.Model)
	add(&path, "serial", u.Serial)
	add(&path, "token", u.Token)
	add(&path, "object", u.Object)
	if len(u.ID) > 0 {
		var b strings.Builder
		for _, c := range u.ID {
			fmt.Fprintf(&b, "%%%02X", c)
		}
		path = append(path, "id="+b.String())
	}
	add(&path, "type", u.Type)
	keys := make([]string, 0, len(u.Vendor))
	for k := range u.Vendor {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		add(&path, k, u.Vendor[k])
	}
	add(&query, "module-name", u.ModuleName)
	add(&query, "module-path", u.ModulePath)
	add(&query, "pin-source", u.PINSource)
	s := "pkcs11:" + strings.Join(path, ";")
	if len(query) > 0 {
		s += "?" + strings.Join(query, "&")
	}
	return s
}

// TokenSelector returns the token the URI names.
func (u *URI) TokenSelector() TokenSelector {
	return TokenSelector{Label: u.Token, Serial: u.Serial, Manufacturer: u.Manufacturer, Model: u.Model, Slot: u.SlotID, HasSlot: u.HasSlotID}
}

// KeyRef names a key object: by label (CKA_LABEL), id (CKA_ID), both, or
// object handle; Class narrows the search to "private" or "secret-key".
type KeyRef struct {
	Label     string
	ID        []byte
	Handle    uint
	HasHandle bool
	Class     string
}

// String describes the reference in ParseKeyRef form, for messages.
func (r KeyRef) String() string {
	var parts []string
	if r.HasHandle {
		parts = append(parts, fmt.Sprintf("handle=%d", r.Handle))
	}
	if r.Label != "" {
		parts = append(parts, fmt.Sprintf("label=%q", r.Label))
	}
	if len(r.ID) > 0 {
		parts = append(parts, "id="+hex.EncodeToString(r.ID))
	}
	if r.Class != "" {
		parts = append(parts, "type="+r.Class)
	}
	if len(parts) == 0 {
		return "(no key named)"
	}
	return strings.Join(parts, ";")
}

// ParseKeyRef parses how byok names a key in an HSM: an RFC 7512 URI
// ("pkcs11:token=…;object=…"), returned as well, or attributes joined by
// ";": "label=NAME", "id=HEX" (CKA_ID in hex), "handle=N" (an object
// handle, valid only within this process's use of the module) and
// "type=private|secret-key".
func ParseKeyRef(s string) (KeyRef, *URI, error) {
	if len(s) >= 7 && strings.EqualFold(s[:7], "pkcs11:") {
		u, err := ParseURI(s)
		if err != nil {
			return KeyRef{}, nil, err
		}
		r := KeyRef{Label: u.Object, ID: u.ID}
		switch u.Type {
		case "", "private", "secret-key":
			r.Class = u.Type
		default:
			return KeyRef{}, nil, fmt.Errorf("hsm: the PKCS#11 URI names a %s object; byok migrates private and secret keys (type=private or type=secret-key)", u.Type)
		}
		if r.Label == "" && len(r.ID) == 0 {
			return KeyRef{}, nil, fmt.Errorf("hsm: the PKCS#11 URI names no key: add object=LABEL or id=%%XX…")
		}
		return r, u, nil
	}
	var r KeyRef
	if strings.TrimSpace(s) == "" {
		return r, nil, fmt.Errorf("hsm: no key named: give a pkcs11: URI, label=NAME, id=HEX or handle=N")
	}
	for _, part := range strings.Split(s, ";") {
		k, v, ok := strings.Cut(part, "=")
		if !ok {
			return KeyRef{}, nil, fmt.Errorf("hsm: key reference %q: want label=NAME, id=HEX, handle=N or a pkcs11: URI", truncate(part))
		}
		switch strings.ToLower(strings.TrimSpace(k)) {
		case "label", "object":
			r.Label = v
		case "id":
			id, err := hex.DecodeString(strings.TrimPrefix(strings.ReplaceAll(v, ":", ""), "0x"))
			if err != nil || len(id) == 0 {
				return KeyRef{}, nil, fmt.Errorf("hsm: key reference id=%q: want the CKA_ID in hex", truncate(v))
			}
			r.ID = id
		case "handle":
			n, err := strconv.ParseUint(strings.TrimSpace(v), 0, 64)
			if err != nil {
				return KeyRef{}, nil, fmt.Errorf("hsm: key reference handle=%q: want a number", truncate(v))
			}
			r.Handle, r.HasHandle = uint(n), true
		case "type":
			if v == "secret" {
				v = "secret-key"
			}
			if v != "private" && v != "secret-key" {
				return KeyRef{}, nil, fmt.Errorf("hsm: key reference type=%q: want private or secret-key", truncate(v))
			}
			r.Class = v
		default:
			return KeyRef{}, nil, fmt.Errorf("hsm: key reference attribute %q: want label, id, handle or type", truncate(k))
		}
	}
	if r.Label == "" && len(r.ID) == 0 && !r.HasHandle {
		return KeyRef{}, nil, fmt.Errorf("hsm: key reference %q names no key: give label=NAME, id=HEX or handle=N", truncate(s))
	}
	return r, nil, nil
}
