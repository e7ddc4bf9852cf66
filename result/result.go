// Package result is what became of each row of an offboarding sheet: the
// outcomes, and the one row result that the plan starts, the runner
// completes, the journal keeps and the results workbook shows. Every other
// package speaks of a row's result in these terms, so nothing copies a
// result field by field from one type into another.
package result

import "time"

// Outcome is what became of a row.
type Outcome string

// The outcomes. The plan gives Planned, Invalid, Skipped and Deferred; a
// run turns Planned into Deleted, Submitted, Failed, Skipped or NotRun.
const (
	Deleted   Outcome = "deleted"
	Submitted Outcome = "submitted"
	Failed    Outcome = "failed"
	Invalid   Outcome = "invalid"
	Skipped   Outcome = "skipped"
	Deferred  Outcome = "deferred"
	Planned   Outcome = "planned"
	NotRun    Outcome = "not_run"
)

// Outcomes returns every outcome, in the order summaries list them.
func Outcomes() []Outcome {
	return []Outcome{Deleted, Submitted, Failed, Invalid, Skipped, Deferred, Planned, NotRun}
}

// Final returns the outcomes a run's rows end with (every outcome but
// planned), in the order summaries list them.
func Final() []Outcome {
	return []Outcome{Deleted, Submitted, Failed, Invalid, Skipped, Deferred, NotRun}
}

// Known reports whether o is one of the outcomes.
func (o Outcome) Known() bool {
	switch o {
	case Deleted, Submitted, Failed, Invalid, Skipped, Deferred, Planned, NotRun:
		return true
	}
	return false
}

// NeedsRetry reports whether a row with this outcome goes to the Retry
// sheet, to be fixed and run again: invalid, failed and not_run rows do.
func (o Outcome) NeedsRetry() bool { return o == Invalid || o == Failed || o == NotRun }

// Done reports whether a row with this outcome needs nothing more: the user
// is deleted, was already, or is not due yet. A run whose rows are all done
// succeeds (exit status 0).
func (o Outcome) Done() bool { return o == Deleted || o == Skipped || o == Deferred }

// Counts returns the number of rows per outcome.
func Counts(rows []Row) map[Outcome]int {
	m := make(map[Outcome]int, 8)
	for i := range rows {
		m[rows[i].Outcome]++
	}
	return m
}

// Row is what became of one input row: the input's own cells, the verdict,
// the resolved users and the job. Its JSON is the journal's.
type Row struct {
	// Line is the row's number in the input file.
	Line int `json:"line"`
	// Cells are the input row's own cells, in header order, up to its last
	// non-empty one (never more than the header has).
	Cells []string `json:"cells,omitempty"`
	// Outcome, Code and Message are the verdict: the plan's, then the
	// run's. Message is a sentence a person can act on.
	Outcome Outcome `json:"outcome"`
	Code    string  `json:"code,omitempty"`
	Message string  `json:"message,omitempty"`
	// UserID and UserEmail are the resolved user to delete.
	UserID    string `json:"user_id,omitempty"`
	UserEmail string `json:"user_email,omitempty"`
	// TransferToID and SubordinatesToID are the resolved targets, and
	// TransferToEmail and SubordinatesToEmail their emails, so that a
	// reviewer sees who received what without looking IDs up.
	TransferToID        string `json:"transfer_to_id,omitempty"`
	SubordinatesToID    string `json:"subordinates_to_id,omitempty"`
	TransferToEmail     string `json:"transfer_to_email,omitempty"`
	SubordinatesToEmail string `json:"subordinates_to_email,omitempty"`
	// JobID and JobStatus are the job as Zoho last showed it.
	JobID     string `json:"job_id,omitempty"`
	JobStatus string `json:"job_status,omitempty"`
	// Attempts counts the submission calls made for the row, retries
	// included; status polls and user reads are not counted.
	Attempts int `json:"attempts,omitempty"`
	// SubmittedAt is when Zoho accepted the job, FinishedAt when the row
	// reached its outcome; zero when it did not happen.
	SubmittedAt time.Time `json:"submitted_at,omitzero"`
	FinishedAt  time.Time `json:"finished_at,omitzero"`
}

// Set gives the row a verdict.
func (r *Row) Set(o Outcome, code, message string) {
	r.Outcome, r.Code, r.Message = o, code, message
}
