package migrate

import "time"

// Progress is how far a run is: what Migration.OnProgress receives. Done
// counts the keys finished either way; Total - Done are in flight or not
// started.
type Progress struct {
	// Total is the number of keys in the manifest.
	Total int
	// Done = Imported + AlreadyDone + Failed + Planned.
	Done, Imported, AlreadyDone, Failed, Planned int
	// Started is when the run started.
	Started time.Time
}

// progress hands the counts of sum to OnProgress, if set.
func (r *runner) progress(sum *Summary) {
	if r.m.OnProgress == nil {
		return
	}
	r.m.OnProgress(Progress{Total: sum.Total, Done: sum.Imported + sum.AlreadyDone + sum.Failed + sum.Planned,
		Imported: sum.Imported, AlreadyDone: sum.AlreadyDone, Failed: sum.Failed, Planned: sum.Planned, Started: sum.Started})
}
