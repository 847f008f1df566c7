package gcpkmstest

import (
	"regexp"
	"strconv"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Resource names, as the API Reference gives them
// (https://cloud.google.com/kms/docs/reference/rpc/google.cloud.kms.v1):
// projects/*/locations/*/keyRings/*, …/cryptoKeys/*,
// …/cryptoKeys/*/cryptoKeyVersions/*, …/importJobs/*. The IDs a client
// chooses (key_ring_id, crypto_key_id, import_job_id) "must match the
// regular expression [a-zA-Z0-9_-]{1,63}" (CreateKeyRingRequest,
// CreateCryptoKeyRequest, CreateImportJobRequest). Project and location IDs
// are not checked further than being one non-empty path segment of
// [a-zA-Z0-9_.-] (the fake has no list of projects or locations: every one
// exists). Version IDs are the decimal numbers the fake assigns, from 1.

var (
	idRE      = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,63}$`)
	segmentRE = regexp.MustCompile(`^[a-zA-Z0-9_.-]{1,100}$`)
)

// validID fails with InvalidArgument unless id is a valid ID of kind.
func validID(kind, id string) error {
	if !idRE.MatchString(id) {
		return status.Errorf(codes.InvalidArgument, "%s id %q must match the regular expression [a-zA-Z0-9_-]{1,63}", kind, id)
	}
	return nil
}

// splitName checks name against pattern (segments "projects", "*", …) and
// returns the wildcard segments.
func splitName(name string, pattern ...string) ([]string, bool) {
	parts := strings.Split(name, "/")
	if len(parts) != len(pattern) {
		return nil, false
	}
	var ids []string
	for i, p := range pattern {
		if p != "*" {
			if parts[i] != p {
				return nil, false
			}
			continue
		}
		ids = append(ids, parts[i])
	}
	return ids, true
}

var (
	patLocation = []string{"projects", "*", "locations", "*"}
	patKeyRing  = append(append([]string{}, patLocation...), "keyRings", "*")
	patKey      = append(append([]string{}, patKeyRing...), "cryptoKeys", "*")
	patVersion  = append(append([]string{}, patKey...), "cryptoKeyVersions", "*")
	patJob      = append(append([]string{}, patKeyRing...), "importJobs", "*")
)

func invalidName(name, what string) error {
	return status.Errorf(codes.InvalidArgument, "Resource name [%s] does not represent a valid %s.", name, what)
}

func checkLocation(name string) error {
	ids, ok := splitName(name, patLocation...)
	if !ok || !segmentRE.MatchString(ids[0]) || !segmentRE.MatchString(ids[1]) {
		return invalidName(name, "location")
	}
	return nil
}

func checkKeyRingName(name string) error {
	ids, ok := splitName(name, patKeyRing...)
	if !ok || !segmentRE.MatchString(ids[0]) || !segmentRE.MatchString(ids[1]) || !idRE.MatchString(ids[2]) {
		return invalidName(name, "key ring")
	}
	return nil
}

func checkKeyName(name string) error {
	ids, ok := splitName(name, patKey...)
	if !ok || checkKeyRingName(parentOf(name, 2)) != nil || !idRE.MatchString(ids[3]) {
		return invalidName(name, "crypto key")
	}
	return nil
}

func checkJobName(name string) error {
	ids, ok := splitName(name, patJob...)
	if !ok || checkKeyRingName(parentOf(name, 2)) != nil || !idRE.MatchString(ids[3]) {
		return invalidName(name, "import job")
	}
	return nil
}

// parseVersionName checks a CryptoKeyVersion name and returns its key's
// name and its number.
func parseVersionName(name string) (string, int, error) {
	ids, ok := splitName(name, patVersion...)
	if !ok {
		return "", 0, invalidName(name, "crypto key version")
	}
	key := parentOf(name, 2)
	n, err := strconv.Atoi(ids[4])
	if checkKeyName(key) != nil || err != nil || n < 1 || strconv.Itoa(n) != ids[4] {
		return "", 0, invalidName(name, "crypto key version")
	}
	return key, n, nil
}

// parentOf drops the last n segments of name.
func parentOf(name string, n int) string {
	for range n {
		i := strings.LastIndexByte(name, '/')
		if i < 0 {
			return ""
		}
		name = name[:i]
	}
	return name
}
