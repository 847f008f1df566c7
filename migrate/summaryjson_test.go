package migrate

import (
	"encoding/json"
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/byok-go/byok"
)

var snakeKey = regexp.MustCompile(`^[a-z][a-z0-9]*(_[a-z0-9]+)*$`)

// checkJSON fails on a PascalCase key, a null, or a duration not given in
// seconds; keys of the map by Region are data.
func checkJSON(t *testing.T, v any, path string) {
	t.Helper()
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if !snakeKey.MatchString(k) {
				t.Errorf("key %s.%s is not snake_case", path, k)
			}
			if e == nil {
				t.Errorf("%s.%s is null", path, k)
			}
			if strings.Contains(k, "elapsed") || strings.Contains(k, "wait") {
				if !strings.HasSuffix(k, "_seconds") {
					t.Errorf("%s.%s: a duration whose key does not end in _seconds", path, k)
				}
			}
			if k != "get_parameters_for_import" && k != "cloud_imports" {
				checkJSON(t, e, path+"."+k)
			}
		}
	case []any:
		for _, e := range x {
			checkJSON(t, e, path+"[]")
		}
	}
}

// TestSummaryJSON: a Summary and a Result encode in byok's JSON contract,
// empty lists as [], durations in seconds.
func TestSummaryJSON(t *testing.T) {
	empty, err := json.Marshal(Summary{})
	if err != nil {
		t.Fatal(err)
	}
	var v any
	json.Unmarshal(empty, &v)
	checkJSON(t, v, "")
	for _, want := range []string{`"failures":[]`, `"orphans":[]`, `"ops":[]`, `"get_parameters_for_import":{}`} {
		if !strings.Contains(string(empty), want) {
			t.Errorf("the empty summary lacks %s: %s", want, empty)
		}
	}

	s := Summary{Migration: "m", Run: "r", Total: 2, Imported: 1, Failed: 1, Elapsed: 1500 * time.Millisecond,
		Started:  time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		Failures: []Failure{{Key: "k", Line: 7, Err: "boom"}}, GetParametersForImport: map[string]int{"us-east-1": 2},
		Ops: []OpStats{{Region: "us-east-1", Op: "CreateKey", Quota: 10, Calls: 3, Waited: 250 * time.Millisecond}}}
	b, _ := json.Marshal(s)
	json.Unmarshal(b, &v)
	checkJSON(t, v, "")
	m := v.(map[string]any)
	if m["elapsed_seconds"] != 1.5 || m["started"] != "2026-01-02T03:04:05Z" || m["keys_per_second"] != 1/1.5 {
		t.Errorf("summary: %s", b)
	}
	if op := m["ops"].([]any)[0].(map[string]any); op["waited_seconds"] != 0.25 || op["operation"] != "CreateKey" {
		t.Errorf("ops: %s", b)
	}
	if f := m["failures"].([]any)[0].(map[string]any); f["error"] != "boom" || f["line"] != 7.0 {
		t.Errorf("failures: %s", b)
	}

	r := Result{Key: "k", Line: 3, Outcome: "failed", Err: errors.New("no"), Elapsed: 2 * time.Second,
		Regions: []RegionResult{{Region: "us-east-1", KeyARN: "arn", Verdict: byok.VerdictPassed, Verified: true}}}
	b, _ = json.Marshal(r)
	json.Unmarshal(b, &v)
	checkJSON(t, v, "")
	if m := v.(map[string]any); m["error"] != "no" || m["elapsed_seconds"] != 2.0 || m["regions"].([]any)[0].(map[string]any)["key_arn"] != "arn" {
		t.Errorf("result: %s", b)
	}
	b, _ = json.Marshal(Result{Key: "k"})
	if !strings.Contains(string(b), `"regions":[]`) {
		t.Errorf("a result without Regions: %s", b)
	}
}
