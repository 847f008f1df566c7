package migrate

import (
	"testing"

	"github.com/byok-go/byok"
)

func TestDefaultPaths(t *testing.T) {
	for in, want := range map[string][2]string{
		"fleet.yaml":     {"fleet.journal.jsonl", "fleet.audit.jsonl"},
		"dir/fleet.yml":  {"dir/fleet.journal.jsonl", "dir/fleet.audit.jsonl"},
		"fleet.json":     {"fleet.journal.jsonl", "fleet.audit.jsonl"},
		"fleet.manifest": {"fleet.manifest.journal.jsonl", "fleet.manifest.audit.jsonl"},
	} {
		j, a := DefaultPaths(in)
		if j != want[0] || a != want[1] {
			t.Errorf("DefaultPaths(%q) = %q, %q; want %q, %q", in, j, a, want[0], want[1])
		}
	}
}

func TestScaledQuotas(t *testing.T) {
	def := DefaultQuotas()
	q := ScaledQuotas(3, Quotas{"CreateKey": 7})
	if q["CreateKey"] != 7 {
		t.Errorf("CreateKey = %v, want the raised 7", q["CreateKey"])
	}
	if got, want := q["GetParametersForImport"], 3*def["GetParametersForImport"]; got != want {
		t.Errorf("GetParametersForImport = %v, want %v", got, want)
	}
	if DefaultQuotas()["CreateKey"] != def["CreateKey"] {
		t.Error("ScaledQuotas changed the defaults")
	}
}

func TestVerdicts(t *testing.T) {
	v := Verdicts{}
	v.Add(Result{Regions: []RegionResult{{Verdict: byok.VerdictPassed}, {Verdict: ""}, {Verdict: byok.VerdictUnproven}}})
	v.Add(Result{Regions: []RegionResult{{Verdict: byok.VerdictPassed}}})
	if v[byok.VerdictPassed] != 2 || v[byok.VerdictUnproven] != 1 || v[byok.VerdictFailed] != 0 || len(v) != 2 {
		t.Errorf("Verdicts = %v", v)
	}
}
