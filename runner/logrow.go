package runner

import (
	"strings"

	"github.com/rs/zerolog"

	"offboard/plan"
	"offboard/result"
)

// LogRow adds to a log line what every line about a row's result carries,
// each key once: row, outcome, code, reason (the row's message, never the
// line's own "message"), user_id, user_email, and job_id when the row has
// a job. email is the user's email to give when r names none (the cell
// as written, for a user Zoho does not know).
//
// code is the row's code; a submitted or not_run row, which has none, gets
// its outcome in capitals (SUBMITTED, NOT_RUN),
// so that a log search for a code finds every row that needs attention.
func LogRow(e *zerolog.Event, r result.Row, email string) *zerolog.Event {
	code := r.Code
	if code == "" && (r.Outcome == result.Submitted || r.Outcome == result.NotRun) {
		code = strings.ToUpper(string(r.Outcome))
	}
	if r.UserEmail != "" {
		email = r.UserEmail
	}
	e = e.Int("row", r.Line).Str("outcome", string(r.Outcome)).Str("code", code).Str("reason", r.Message).
		Str("user_id", r.UserID).Str("user_email", email)
	if r.JobID != "" {
		e = e.Str("job_id", r.JobID)
	}
	return e
}

// stepEmail is the email of the user step st deletes, "" when the row
// names no user Zoho knows.
func stepEmail(st *plan.Step) string {
	if st.User != nil {
		return st.User.Email
	}
	return ""
}
