package migrate

// Outcome is what happened to a key (Result.Outcome) or to a key in one
// Region (AuditRecord.Outcome). It is written as its string in JSON.
type Outcome string

// Outcomes of a key, and of a key in one Region.
const (
	// OutcomeImported: imported and proven (PASSED) in every Region.
	OutcomeImported Outcome = "imported"
	// OutcomeAlreadyDone: an earlier run finished the key (per the
	// journal); nothing was called.
	OutcomeAlreadyDone Outcome = "already-done"
	// OutcomePlanned: a dry run planned the key (Result.Plan says how).
	OutcomePlanned Outcome = "planned"
	// OutcomeFailed: the key failed; Result.Err (AuditRecord.Error) says
	// why.
	OutcomeFailed Outcome = "failed"
	// OutcomeDryRun is the outcome of an audit record of a dry run.
	OutcomeDryRun Outcome = "dry-run"
)
