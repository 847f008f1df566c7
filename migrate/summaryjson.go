package migrate

// The JSON form of a run's results, in byok's JSON contract (docs/cli.md,
// "JSON output"; docs/schemas/migrate.schema.json): snake_case keys,
// durations in seconds (keys ending in _seconds), lists [] never null,
// times in RFC 3339. The Go types keep time.Duration for callers; these
// methods give their JSON.

import (
	"encoding/json"
	"maps"
	"slices"
	"time"

	"github.com/byok-go/byok"
)

type summaryJSON struct {
	Migration              string         `json:"migration"`
	Run                    string         `json:"run"`
	Total                  int            `json:"total"`
	Imported               int            `json:"imported"`
	AlreadyDone            int            `json:"already_done"`
	Failed                 int            `json:"failed"`
	Planned                int            `json:"planned"`
	NotStarted             int            `json:"not_started"`
	Renewed                int            `json:"renewed"`
	NotDue                 int            `json:"not_due"`
	Failures               []Failure      `json:"failures"`
	Orphans                []string       `json:"orphans"`
	GetParametersForImport map[string]int `json:"get_parameters_for_import"`
	CloudImports           map[string]int `json:"cloud_imports"`
	NotRenewed             int            `json:"not_renewed"`
	ExpiredTokens          int            `json:"expired_tokens"`
	Started                *time.Time     `json:"started,omitempty"`
	ElapsedSeconds         float64        `json:"elapsed_seconds"`
	KeysPerSecond          float64        `json:"keys_per_second"`
	BoundBy                string         `json:"bound_by,omitempty"`
	Ops                    []OpStats      `json:"ops"`
}

// MarshalJSON encodes the summary in byok's JSON contract.
func (s Summary) MarshalJSON() ([]byte, error) {
	j := summaryJSON{
		Migration: s.Migration, Run: s.Run, Total: s.Total, Imported: s.Imported, AlreadyDone: s.AlreadyDone,
		Failed: s.Failed, Planned: s.Planned, NotStarted: s.NotStarted, Renewed: s.Renewed, NotDue: s.NotDue,
		Failures: nonNil(s.Failures), Orphans: nonNil(s.Orphans),
		GetParametersForImport: map[string]int{}, CloudImports: map[string]int{}, NotRenewed: s.NotRenewed, ExpiredTokens: s.ExpiredTokens,
		ElapsedSeconds: s.Elapsed.Seconds(), KeysPerSecond: s.Rate(), BoundBy: s.Binding(), Ops: nonNil(s.Ops),
	}
	maps.Copy(j.GetParametersForImport, s.GetParametersForImport)
	maps.Copy(j.CloudImports, s.CloudImports)
	if !s.Started.IsZero() {
		t := s.Started.UTC()
		j.Started = &t
	}
	return json.Marshal(j)
}

type resultJSON struct {
	Key            string         `json:"key"`
	Line           int            `json:"line"`
	Outcome        Outcome        `json:"outcome"`
	Regions        []RegionResult `json:"regions"`
	Plan           string         `json:"plan,omitempty"`
	Error          string         `json:"error,omitempty"`
	ElapsedSeconds float64        `json:"elapsed_seconds"`
}

// MarshalJSON encodes the result in byok's JSON contract; Err becomes its
// message.
func (r Result) MarshalJSON() ([]byte, error) {
	j := resultJSON{Key: r.Key, Line: r.Line, Outcome: r.Outcome, Regions: nonNil(r.Regions), Plan: r.Plan,
		ElapsedSeconds: r.Elapsed.Seconds()}
	if r.Err != nil {
		j.Error = r.Err.Error()
	}
	return json.Marshal(j)
}

type regionResultJSON struct {
	Target        string       `json:"target"`
	Region        string       `json:"region"`
	KeyARN        string       `json:"key_arn"`
	KeyName       string       `json:"key_name,omitempty"`
	Role          string       `json:"role,omitempty"`
	KeyMaterialID string       `json:"key_material_id,omitempty"`
	Verified      bool         `json:"verified"`
	Verdict       byok.Verdict `json:"verdict,omitempty"`
}

// MarshalJSON encodes the Region's result in byok's JSON contract.
func (r RegionResult) MarshalJSON() ([]byte, error) {
	if r.Target == "" {
		r.Target = KindAWS
	}
	return json.Marshal(regionResultJSON(r))
}

type failureJSON struct {
	Key   string `json:"key"`
	Line  int    `json:"line"`
	Error string `json:"error"`
}

// MarshalJSON encodes the failure in byok's JSON contract.
func (f Failure) MarshalJSON() ([]byte, error) {
	return json.Marshal(failureJSON{Key: f.Key, Line: f.Line, Error: f.Err})
}

type opStatsJSON struct {
	Region        string  `json:"region"`
	Op            string  `json:"operation"`
	Quota         float64 `json:"quota_per_second"`
	Rate          float64 `json:"rate_per_second"`
	Calls         int     `json:"calls"`
	Throttles     int     `json:"throttles"`
	WaitedSeconds float64 `json:"waited_seconds"`
}

// MarshalJSON encodes the operation's counts in byok's JSON contract.
func (o OpStats) MarshalJSON() ([]byte, error) {
	return json.Marshal(opStatsJSON{Region: o.Region, Op: o.Op, Quota: o.Quota, Rate: o.Rate, Calls: o.Calls,
		Throttles: o.Throttles, WaitedSeconds: o.Waited.Seconds()})
}

// nonNil returns s, or an empty slice for nil: JSON lists are [] never null.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return slices.Clip(s)
}
