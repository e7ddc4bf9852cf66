// Package journal is offboard run's append-only journal (docs/journal.md): one
// JSON record per line, each written and flushed to disk before Append
// returns, so that a run killed at any moment can be resumed without
// sending a submission twice, and its results workbook rebuilt from the
// journal alone.
//
// A journal holds no token, secret or request body; Record has no field
// for one. It does hold personal data, as the results workbook does: the
// input's cells and the users' emails. Treat it like the results.
//
// While a run uses a journal it holds a lock, the sibling file PATH.lock,
// that names the holder (pid, host, start time). A lock left by a dead
// process on this host is taken over; a lock held from another host is
// never taken over, since that host's pid cannot be checked from here.
package journal

import (
	"offboard/result"
	"time"
)

// The kinds of record.
const (
	// KindStart opens each run: the tool, the input and the whole plan.
	KindStart = "start"
	// KindSubmit is written before a submission is sent.
	KindSubmit = "submit"
	// KindAnswer is the submission's answer: a job, or an error.
	KindAnswer = "answer"
	// KindStatus is a job status Zoho reported.
	KindStatus = "status"
	// KindFinal is a row's final result.
	KindFinal = "final"
	// KindStop says why a run stopped submitting.
	KindStop = "stop"
	// KindEnd says the run reached its end: every row has its final
	// record and the results were written. A run without one was killed
	// or interrupted, and the next run on the journal resumes it.
	KindEnd = "end"
)

// ClassUnknown is the answer class of a submission whose outcome is not
// known (connection dropped, timeout, 5xx after sending): the row stays in
// doubt, as if no answer had come.
const ClassUnknown = "unknown"

// ClassUnsent is the answer class of a submission that was recorded and
// then withdrawn before it left (the run stopped before the request had a
// connection): nothing was sent, and the submit record no longer counts.
const ClassUnsent = "unsent"

// Record is one journal line. Kind says which fields are set:
//
//   - start: Version, Owner, InputFile, InputSHA256, Sheet, Header, RowsRead,
//     HiddenRows, IncludeHidden, APIDomain, OrgID, OrgName, Admin, Sandbox,
//     Output, Settings, Resumed, Steps, and Plan for a run of an approved plan;
//   - submit: Row, UserID, Attempt (written after every wait, immediately
//     before the request is sent);
//   - answer: Row, Attempt, and JobID or Code, Class and Message (Class
//     ClassUnsent withdraws the submit record);
//   - status: Row, JobID, JobStatus;
//   - final: Row, Result (a journal written before Result existed has the
//     result's Outcome, Code, Message, JobID, JobStatus, Attempts,
//     SubmittedAt and FinishedAt in the record itself; Replay reads both);
//   - stop: Reason;
//   - end: nothing more;
//   - history: Users (a compacted journal's first record).
//
// Every record has its Time.
type Record struct {
	// Kind is one of the Kind constants.
	Kind string `json:"kind"`
	// Time is when the record was written; Append sets it when zero.
	Time time.Time `json:"time,omitzero"`

	// Version is the tool's version.
	Version string `json:"version,omitempty"`
	// Owner is the run that wrote the start record, as its lock names it:
	// a run looking at a journal held by a live run knows whether the
	// latest start record is that run's, and whose clock its times are.
	Owner *Owner `json:"owner,omitempty"`
	// InputFile is the input's file name and InputSHA256 its hex SHA-256.
	InputFile   string `json:"input_file,omitempty"`
	InputSHA256 string `json:"input_sha256,omitempty"`
	// Sheet is the XLSX sheet read ("" for a CSV): a workbook's sheets
	// are different inputs with one SHA-256.
	Sheet string `json:"sheet,omitempty"`
	// Header are the input's header names, as written.
	Header []string `json:"header,omitempty"`
	// RowsRead counts the input's rows below the header.
	RowsRead int `json:"rows_read,omitempty"`
	// HiddenRows counts the rows the sheet hides; IncludeHidden is set
	// when the run planned them (--include-hidden) rather than skipping
	// them.
	HiddenRows    int  `json:"hidden_rows,omitempty"`
	IncludeHidden bool `json:"include_hidden,omitempty"`
	// APIDomain is the Zoho API base URL the run speaks to, and OrgID the
	// ID of the org it was checked against: together they say which org a
	// run was against (journals before OrgID have the API domain alone).
	APIDomain string `json:"api_domain,omitempty"`
	OrgID     string `json:"org_id,omitempty"`
	// OrgName is the org's name and Admin the user whose token ran the
	// run, for the Summary of a workbook rebuilt from the journal
	// (journals before them have neither).
	OrgName string `json:"org_name,omitempty"`
	Admin   *Admin `json:"admin,omitempty"`
	// Sandbox is set for a run against the simulated org.
	Sandbox bool `json:"sandbox,omitempty"`
	// Local is set for a run against a plain-http endpoint on loopback
	// named on the command line (offboard sandbox, a test's simulator):
	// not Zoho. Unlike Sandbox, its org outlives the run, and the run
	// resumes as one against a real org would.
	Local bool `json:"local,omitempty"`
	// Output is the results file the run writes.
	Output string `json:"output,omitempty"`
	// JobTimeout and RequestTimeout are the run's: a submission may reach
	// Zoho up to RequestTimeout after its record, and its job may run for
	// JobTimeout, so a later run waits that long after a submission whose
	// answer was lost before it sends the user again, even when its own
	// timeouts are shorter. Duration strings ("30m0s").
	JobTimeout     string `json:"job_timeout,omitempty"`
	RequestTimeout string `json:"request_timeout,omitempty"`
	// Settings are the run's limits and guards, as given on its command
	// line, for the Summary of a workbook rebuilt from the journal
	// (journals before them have none).
	Settings *Settings `json:"settings,omitempty"`
	// Resumed is set on the start record of a run that continues the
	// interrupted run before it (same input): the rows that run settled
	// keep their records. Without it a start record begins a new run.
	Resumed bool `json:"resumed,omitempty"`
	// Steps is the plan the run executes, one row result per input row,
	// as the run starts.
	Steps []result.Row `json:"steps,omitempty"`
	// Plan is the approved plan workbook a run of offboard run --plan
	// executes (nil for a run of an input sheet): a run resumes only with
	// the same plan, approved the same way.
	Plan *Plan `json:"plan,omitempty"`
	// Result is a final row's result (kind final).
	Result *result.Row `json:"result,omitempty"`

	// Row is the step's index in the plan (not its line in the input).
	Row int `json:"row,omitempty"`
	// UserID is the user a submission deletes.
	UserID string `json:"user_id,omitempty"`
	// Attempt is the submission call's number for its row, from 1.
	Attempt int `json:"attempt,omitempty"`

	// Outcome is a final row's outcome, in a journal written before
	// Result existed.
	Outcome string `json:"outcome,omitempty"`
	// Code is the error code that answered a submission (and a final row's
	// code, in a journal written before Result existed).
	Code string `json:"code,omitempty"`
	// Class is how the runner took an error answer (ClassUnknown, or
	// another class of the runner's).
	Class string `json:"class,omitempty"`
	// Message is a sentence a person can act on.
	Message string `json:"message,omitempty"`
	// JobID and JobStatus are the job as Zoho showed it.
	JobID     string `json:"job_id,omitempty"`
	JobStatus string `json:"job_status,omitempty"`
	// Attempts, SubmittedAt and FinishedAt are a final row's, in a journal
	// written before Result existed.
	Attempts    int       `json:"attempts,omitempty"`
	SubmittedAt time.Time `json:"submitted_at,omitzero"`
	FinishedAt  time.Time `json:"finished_at,omitzero"`

	// Reason says why the run stopped.
	Reason string `json:"reason,omitempty"`

	// Users is a history record's: what the journal's earlier runs did
	// to each user, by user ID.
	Users map[string]*UserState `json:"users,omitempty"`
}

// Plan is the approved plan a run executes.
type Plan struct {
	// File is the plan workbook as named on the command line.
	File string `json:"file,omitempty"`
	// Digest is the sealed plan's digest.
	Digest string `json:"digest"`
	// ApprovedBy is the workbook's last author, "" when it names none.
	ApprovedBy string `json:"approved_by,omitempty"`
	// Approved are the input lines approved, ascending.
	Approved []int `json:"approved"`
}

// Admin is the user whose token ran a run.
type Admin struct {
	ID    string `json:"id,omitempty"`
	Email string `json:"email,omitempty"`
	Name  string `json:"name,omitempty"`
}

// Settings are a run's limits and guards, as given on its command line
// (its job timeout is the start record's JobTimeout).
type Settings struct {
	// MaxJobs is --max-jobs.
	MaxJobs int `json:"max_jobs"`
	// Rate is --rate, in API calls a second; Concurrency is
	// --concurrency, API calls in flight.
	Rate        float64 `json:"rate"`
	Concurrency int     `json:"concurrency"`
	// Strict is --strict, MaxDeletes --max-deletes, NoWait --no-wait.
	Strict     bool `json:"strict"`
	MaxDeletes int  `json:"max_deletes"`
	NoWait     bool `json:"no_wait"`
}
