package azkvtest

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"regexp"
	"strings"
)

// knownOps are the operation names (azkeys.Client method names) the fake
// routes; WithFault accepts these.
var knownOps = map[string]bool{
	"CreateKey": true, "GetKey": true, "ImportKey": true, "DeleteKey": true,
	"ListKeyProperties": true, "ListKeyPropertiesVersions": true, "UpdateKey": true,
	"Sign": true, "Verify": true, "Encrypt": true, "Decrypt": true,
	"WrapKey": true, "UnwrapKey": true,
}

// cryptoOps maps the last path segment of a cryptographic operation to its
// operation name.
var cryptoOps = map[string]string{
	"sign": "Sign", "verify": "Verify", "encrypt": "Encrypt", "decrypt": "Decrypt",
	"wrapkey": "WrapKey", "unwrapkey": "UnwrapKey",
}

// notEmulated are the other key routes azkeys has; they answer 501.
var notEmulated = map[string]bool{
	"backup": true, "rotate": true, "rotationpolicy": true, "release": true,
	"attestation": true, "secureunwrapkey": true, "securewrapkey": true,
}

// keyNameRE is the key-name pattern of the REST reference (row 17).
var keyNameRE = regexp.MustCompile(`^[0-9a-zA-Z-]{1,127}$`)

// versionRE is the form of the versions the fake mints (32 hex digits).
var versionRE = regexp.MustCompile(`^[0-9a-f]{32}$`)

type routed struct {
	op      string
	name    string
	version string // "" for the latest
}

// route maps a request to an operation.
func route(r *http.Request) (routed, *kvError) {
	p := r.URL.Path
	if p == "/keys" || p == "/keys/" {
		if r.Method != http.MethodGet {
			return routed{}, &kvError{http.StatusMethodNotAllowed, codeMethod, "method not allowed on /keys"}
		}
		return routed{op: "ListKeyProperties"}, nil
	}
	rest, ok := strings.CutPrefix(p, "/keys/")
	if !ok {
		if strings.HasPrefix(p, "/deletedkeys") || p == "/rng" || strings.HasPrefix(p, "/keys/restore") {
			return routed{}, notImplemented("azkvtest does not emulate %s", p)
		}
		return routed{}, &kvError{http.StatusNotFound, codeNotFound, "no such resource: " + p}
	}
	seg := strings.Split(strings.TrimSuffix(rest, "/"), "/")
	name := seg[0]
	if !keyNameRE.MatchString(name) {
		return routed{}, badParam("key name %q is invalid: it must match ^[0-9a-zA-Z-]+$ (1 to 127 characters)", name)
	}
	if name == "restore" && r.Method == http.MethodPost {
		return routed{}, notImplemented("azkvtest does not emulate RestoreKey")
	}
	bad := func() (routed, *kvError) {
		return routed{}, &kvError{http.StatusMethodNotAllowed, codeMethod, r.Method + " is not allowed on " + p}
	}
	switch len(seg) {
	case 1:
		switch r.Method {
		case http.MethodPut:
			return routed{op: "ImportKey", name: name}, nil
		case http.MethodGet:
			return routed{op: "GetKey", name: name}, nil
		case http.MethodDelete:
			return routed{op: "DeleteKey", name: name}, nil
		case http.MethodPatch:
			return routed{op: "UpdateKey", name: name}, nil
		}
		return bad()
	case 2:
		s := seg[1]
		switch {
		case s == "create":
			if r.Method != http.MethodPost {
				return bad()
			}
			return routed{op: "CreateKey", name: name}, nil
		case s == "versions":
			if r.Method != http.MethodGet {
				return bad()
			}
			return routed{op: "ListKeyPropertiesVersions", name: name}, nil
		case cryptoOps[s] != "":
			if r.Method != http.MethodPost {
				return bad()
			}
			return routed{op: cryptoOps[s], name: name}, nil
		case notEmulated[s]:
			return routed{}, notImplemented("azkvtest does not emulate /keys/{name}/%s", s)
		}
		if r.Method == http.MethodPatch {
			return routed{op: "UpdateKey", name: name, version: s}, nil
		}
		if r.Method != http.MethodGet {
			return bad()
		}
		return routed{op: "GetKey", name: name, version: s}, nil
	case 3:
		if op := cryptoOps[seg[2]]; op != "" {
			if r.Method != http.MethodPost {
				return bad()
			}
			return routed{op: op, name: name, version: seg[1]}, nil
		}
		if notEmulated[seg[2]] {
			return routed{}, notImplemented("azkvtest does not emulate /keys/{name}/{version}/%s", seg[2])
		}
	}
	return routed{}, &kvError{http.StatusNotFound, codeNotFound, "no such resource: " + p}
}

// maxBody bounds every request body. The largest legitimate one is an import
// of an RSA-4096 transfer blob: about 4 KB of base64url.
const maxBody = 64 << 10

// decodeBody reads r's JSON body into v, refusing unknown members, trailing
// data and bodies over maxBody.
func decodeBody(r *http.Request, v any) *kvError {
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		return badParam("the request body must be application/json, not %q", ct)
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		return badParam("cannot read the request body")
	}
	if len(body) > maxBody {
		return badParam("the request body is larger than %d bytes", maxBody)
	}
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return badParam("the request body is not valid: %v", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return badParam("the request body has data after the JSON object")
	}
	return nil
}

func (s *Server) dispatch(rt routed, r *http.Request) (int, any, *kvError) {
	if rt.version != "" && !versionRE.MatchString(rt.version) {
		return 0, nil, keyNotFound("A key with (name/id) %s/%s was not found in this key vault.", rt.name, rt.version)
	}
	switch rt.op {
	case "CreateKey":
		return s.createKey(rt, r)
	case "ImportKey":
		return s.importKey(rt, r)
	case "GetKey":
		return s.getKey(rt)
	case "DeleteKey":
		return s.deleteKey(rt)
	case "UpdateKey":
		return s.updateKey(rt, r)
	case "ListKeyProperties":
		return s.listKeys()
	case "ListKeyPropertiesVersions":
		return s.listVersions(rt)
	case "Sign":
		return s.sign(rt, r)
	case "Verify":
		return s.verify(rt, r)
	case "Encrypt", "Decrypt", "WrapKey", "UnwrapKey":
		return s.cipher(rt, r)
	}
	return 0, nil, notImplemented("azkvtest does not emulate %s", rt.op)
}
