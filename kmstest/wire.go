package kmstest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// epoch is a timestamp on the wire: epoch seconds as a JSON number, with
// millisecond precision, as KMS sends them.
type epoch time.Time

func (t epoch) MarshalJSON() ([]byte, error) {
	ms := time.Time(t).UnixMilli()
	return []byte(strconv.FormatFloat(float64(ms)/1000, 'f', -1, 64)), nil
}

func ts(t time.Time) *epoch {
	if t.IsZero() {
		return nil
	}
	e := epoch(t)
	return &e
}

// timeFromEpoch converts a request timestamp (epoch seconds, possibly
// fractional).
func timeFromEpoch(f float64) (time.Time, bool) {
	if math.IsNaN(f) || math.IsInf(f, 0) || f < 0 || f > 1e11 {
		return time.Time{}, false
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(math.Round(frac*1e9))).UTC(), true
}

// decodeRequest parses an AWS JSON 1.1 request body into v. Unknown members
// are ignored, as AWS does; a member of the wrong JSON type, malformed
// base64 or anything but one JSON object is a SerializationException.
func decodeRequest(body []byte, v any) *apiError {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		body = []byte("{}")
	}
	if body[0] != '{' {
		return newErr(ErrSerialization, "Start of structure or map found where not expected; the request body must be a JSON object")
	}
	// encoding/json matches member names case-insensitively; AWS does not:
	// a member spelled otherwise is an unknown member, ignored.
	var top json.RawMessage
	if err := json.Unmarshal(body, &top); err != nil {
		return newErr(ErrSerialization, "malformed JSON request body: %v", err)
	}
	body = exactMembers(top, reflect.TypeOf(v))
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return newErr(ErrSerialization, "member %q: expected %s, found JSON %s", te.Field, te.Type, te.Value)
		}
		return newErr(ErrSerialization, "malformed JSON request body: %v", err)
	}
	if dec.More() {
		return newErr(ErrSerialization, "malformed JSON request body: data after the top-level object")
	}
	if _, err := dec.Token(); err == nil {
		return newErr(ErrSerialization, "malformed JSON request body: data after the top-level object")
	}
	return nil
}

// exactMembers drops the members of JSON objects in raw whose names are not
// exactly the name of a field of t (or of the structs t contains).
func exactMembers(raw json.RawMessage, t reflect.Type) json.RawMessage {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case t.Kind() == reflect.Struct:
		var m map[string]json.RawMessage
		if json.Unmarshal(raw, &m) != nil || m == nil {
			return raw
		}
		fields := map[string]reflect.Type{}
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			name := f.Name
			if tag, _, _ := strings.Cut(f.Tag.Get("json"), ","); tag != "" && tag != "-" {
				name = tag
			}
			fields[name] = f.Type
		}
		out := map[string]json.RawMessage{}
		for k, val := range m {
			if ft, ok := fields[k]; ok {
				out[k] = exactMembers(val, ft)
			}
		}
		b, _ := json.Marshal(out)
		return b
	case t.Kind() == reflect.Slice && t.Elem().Kind() != reflect.Uint8:
		var list []json.RawMessage
		if json.Unmarshal(raw, &list) != nil || list == nil {
			return raw
		}
		for i := range list {
			list[i] = exactMembers(list[i], t.Elem())
		}
		b, _ := json.Marshal(list)
		return b
	}
	return raw
}

// Field validation, with AWS's member names (lower camel case) and
// constraint wording.

func checkRequiredString(p *string, member string, min, max int) *apiError {
	if p == nil {
		return requiredErr(member)
	}
	return checkString(p, member, min, max)
}

func checkString(p *string, member string, min, max int) *apiError {
	if p == nil {
		return nil
	}
	n := utf8.RuneCountInString(*p)
	if n < min {
		return validationErr(*p, member, fmt.Sprintf("Member must have length greater than or equal to %d", min))
	}
	if n > max {
		return validationErr(*p, member, fmt.Sprintf("Member must have length less than or equal to %d", max))
	}
	return nil
}

func checkBlob(b []byte, present bool, member string, min, max int, required bool) *apiError {
	if !present {
		if required {
			return requiredErr(member)
		}
		return nil
	}
	if len(b) < min {
		return validationErr("java.nio.HeapByteBuffer", member, fmt.Sprintf("Member must have length greater than or equal to %d", min))
	}
	if len(b) > max {
		return validationErr("java.nio.HeapByteBuffer", member, fmt.Sprintf("Member must have length less than or equal to %d", max))
	}
	return nil
}

func checkEnum[T ~string](v T, member string, values []T) *apiError {
	if v == "" || slices.Contains(values, v) {
		return nil
	}
	names := make([]string, len(values))
	for i, s := range values {
		names[i] = string(s)
	}
	return validationErr(string(v), member, fmt.Sprintf("Member must satisfy enum value set: %v", names))
}

func checkLimit(p *int32, member string, max int32) *apiError {
	if p == nil {
		return nil
	}
	if *p < 1 {
		return validationErr(*p, member, "Member must have value greater than or equal to 1")
	}
	if *p > max {
		return validationErr(*p, member, fmt.Sprintf("Member must have value less than or equal to %d", max))
	}
	return nil
}

var (
	aliasNamePattern   = regexp.MustCompile(`^[a-zA-Z0-9:/_-]+$`)
	regionPattern      = regexp.MustCompile(`^([a-z]+-){2,3}\d+$`)
	materialIDPattern  = regexp.MustCompile(`^[a-f0-9]{64}$`)
	materialDescPatern = regexp.MustCompile(`^[a-zA-Z0-9:/_\s.-]+$`)
)

// page applies Limit and Marker to n items; markers are decimal offsets.
func page(n int, limit *int32, marker *string, def int) (start, end int, next *string, err *apiError) {
	l := def
	if limit != nil {
		l = int(*limit)
	}
	if marker != nil {
		s, convErr := strconv.Atoi(*marker)
		if convErr != nil || s < 0 || s > n {
			return 0, 0, nil, newErr(ErrInvalidMarker, "Invalid marker: %s", *marker)
		}
		start = s
	}
	end = min(start+l, n)
	if end < n {
		m := strconv.Itoa(end)
		next = &m
	}
	return start, end, next, nil
}

// Response shapes. Field names are KMS's; optional members are omitted when
// empty, as KMS omits them.

type keyMetadataJSON struct {
	AWSAccountId             string                 `json:"AWSAccountId"`
	KeyId                    string                 `json:"KeyId"`
	Arn                      string                 `json:"Arn"`
	CreationDate             *epoch                 `json:"CreationDate"`
	Enabled                  bool                   `json:"Enabled"`
	Description              string                 `json:"Description"`
	KeyUsage                 string                 `json:"KeyUsage"`
	KeyState                 string                 `json:"KeyState"`
	DeletionDate             *epoch                 `json:"DeletionDate,omitempty"`
	PendingDeletionWindow    *int32                 `json:"PendingDeletionWindowInDays,omitempty"`
	ValidTo                  *epoch                 `json:"ValidTo,omitempty"`
	Origin                   string                 `json:"Origin"`
	ExpirationModel          string                 `json:"ExpirationModel,omitempty"`
	KeyManager               string                 `json:"KeyManager"`
	CustomerMasterKeySpec    string                 `json:"CustomerMasterKeySpec"`
	KeySpec                  string                 `json:"KeySpec"`
	EncryptionAlgorithms     []string               `json:"EncryptionAlgorithms,omitempty"`
	SigningAlgorithms        []string               `json:"SigningAlgorithms,omitempty"`
	KeyAgreementAlgorithms   []string               `json:"KeyAgreementAlgorithms,omitempty"`
	MacAlgorithms            []string               `json:"MacAlgorithms,omitempty"`
	MultiRegion              bool                   `json:"MultiRegion"`
	MultiRegionConfiguration *multiRegionConfigJSON `json:"MultiRegionConfiguration,omitempty"`
	CurrentKeyMaterialId     string                 `json:"CurrentKeyMaterialId,omitempty"`
}

type multiRegionConfigJSON struct {
	MultiRegionKeyType string               `json:"MultiRegionKeyType"`
	PrimaryKey         *multiRegionKeyJSON  `json:"PrimaryKey"`
	ReplicaKeys        []multiRegionKeyJSON `json:"ReplicaKeys"`
}

type multiRegionKeyJSON struct {
	Arn    string `json:"Arn"`
	Region string `json:"Region"`
}

type tagJSON struct {
	TagKey   *string `json:"TagKey"`
	TagValue *string `json:"TagValue"`
}
