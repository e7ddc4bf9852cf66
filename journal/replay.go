package journal

import (
	"fmt"
	"maps"
	"offboard/result"
	"slices"
	"time"
)

// State is what a journal's records say, for resuming a run and for
// rebuilding its results.
type State struct {
	// Start is the latest start record, nil if there is none.
	Start *Record
	// Began is the time of the start record that began the latest run:
	// when its work began, resumed runs included.
	Began time.Time
	// Rows holds the rows of the latest run that any record names, by
	// step index.
	Rows map[int]*RowState
	// Stopped is the reason of a stop record written after the latest
	// start, "" if there is none.
	Stopped string
	// Finished is set when an end record follows the latest start: that
	// run reached its end. A journal whose latest run is not finished is
	// resumed by the next run of the same input.
	Finished bool
	// Users is what every run in the journal did to each user, by user
	// ID: the latest submission, job and outcome of a row that deleted
	// (or tried to delete) them.
	Users map[string]*UserState
}

// Unfinished reports whether the journal holds a run that did not reach
// its end (killed, interrupted, or still running).
func (st State) Unfinished() bool { return st.Start != nil && !st.Finished }

// RowState is what the journal knows of one row.
type RowState struct {
	// Final is the row's latest final result, nil if it has none (or a
	// submission followed it).
	Final *result.Row
	// JobID and JobStatus are the row's job as last recorded.
	JobID, JobStatus string
	// InDoubt is set when the row's latest submission has no answer, or
	// an answer of class ClassUnknown: it may or may not have been
	// carried out, and must be reconciled before anything is sent again.
	InDoubt bool
	// DoubtSince is when the row's latest submission was recorded, just
	// before it was sent.
	DoubtSince time.Time
	// DoubtWindow is how long after DoubtSince a job that submission
	// started may still run, by the timeouts of the run that sent it; 0
	// when the journal does not say.
	DoubtWindow time.Duration
	// Attempts counts the row's submit records: submission calls that
	// were, or may have been, sent.
	Attempts int
	// SubmittedAt is when Zoho accepted the row's job (the answer's time).
	SubmittedAt time.Time
	// Host is the host of the run that wrote the latest submit record,
	// whose clock DoubtSince is on; "" when the journal does not say.
	Host string
}

// UserState is what the journal's runs did to one user.
type UserState struct {
	// InputFile and Line are the input and row that last submitted the
	// user.
	InputFile string `json:"input_file,omitempty"`
	Line      int    `json:"line,omitempty"`
	// JobID and JobStatus are the user's latest job as last recorded.
	JobID     string `json:"job_id,omitempty"`
	JobStatus string `json:"job_status,omitempty"`
	// InDoubt is set when the latest submission has no answer.
	InDoubt bool `json:"in_doubt,omitempty"`
	// DoubtSince is when the latest submission was recorded, just before
	// it was sent, and DoubtWindow how long after it a job it started may
	// still run (see RowState).
	DoubtSince  time.Time     `json:"doubt_since,omitzero"`
	DoubtWindow time.Duration `json:"doubt_window,omitempty"`
	// Host is the host of the run that last submitted the user, whose
	// clock DoubtSince is on; "" when the journal does not say.
	Host string `json:"host,omitempty"`
	// Outcome and Code are the latest final outcome of a row that
	// submitted the user ("" while none is recorded).
	Outcome string `json:"outcome,omitempty"`
	Code    string `json:"code,omitempty"`
	// SubmittedAt and FinishedAt are that row's times.
	SubmittedAt time.Time `json:"submitted_at,omitzero"`
	FinishedAt  time.Time `json:"finished_at,omitzero"`
	// Updated is the time of the latest record about the user, on the
	// clock of the host that wrote it.
	Updated time.Time `json:"updated,omitzero"`

	// The fields above are the latest record's. A later record (another
	// run following an older job, say) must not make the journal forget
	// a job still running or a submission still in doubt, so these are
	// kept apart:
	//
	// Jobs are the user's jobs the journal knows, each true once seen to
	// end (completed, failed, or no longer known to Zoho).
	Jobs map[string]bool `json:"jobs,omitempty"`
	// Doubts are the user's submissions that got no answer and that no
	// later record of this journal settles: not an answer to them, not
	// the user seen deleted, not a later submission of the user (which a
	// run sends only once any job a doubt started has ended).
	Doubts []Doubt `json:"doubts,omitempty"`
}

// Doubt is a submission whose answer was lost: it may have started a job.
type Doubt struct {
	// Since is when it was recorded, just before it was sent, on the
	// clock of Host ("" when the journal does not say).
	Since time.Time `json:"since,omitzero"`
	Host  string    `json:"host,omitempty"`
	// Window is how long after Since a job it started may run, by the
	// timeouts of the run that sent it; 0 when the journal does not say.
	Window time.Duration `json:"window,omitempty"`
}

// Running returns the user's jobs the journal knows and did not see end.
func (us *UserState) Running() []string {
	var ids []string
	for id, ended := range us.Jobs {
		if !ended {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids
}

func (us *UserState) job(id string, ended bool) {
	if id == "" {
		return
	}
	if us.Jobs == nil {
		us.Jobs = map[string]bool{}
	}
	us.Jobs[id] = us.Jobs[id] || ended
}

// Replay folds records, in the order written, into per-row state. Records
// of an unknown kind are ignored, so that an older build can read a newer
// journal.
func Replay(records []Record) State {
	st := State{Rows: make(map[int]*RowState), Users: make(map[string]*UserState)}
	row := func(i int) *RowState {
		rs := st.Rows[i]
		if rs == nil {
			rs = &RowState{}
			st.Rows[i] = rs
		}
		return rs
	}
	// user is the user of the latest run's row i, nil if unknown. Only
	// rows that were submitted have a user state.
	user := func(i int, id string, create bool) *UserState {
		if id == "" && st.Start != nil && i >= 0 && i < len(st.Start.Steps) {
			id = st.Start.Steps[i].UserID
		}
		if id == "" || st.Start != nil && st.Start.Sandbox {
			// A sandbox run's users were the sandbox's, which ended with
			// it: no later run has anything to learn from them.
			return nil
		}
		us := st.Users[id]
		if us == nil && create {
			us = &UserState{}
			st.Users[id] = us
		}
		return us
	}
	// What a submit record replaced, by row, so that a withdrawn
	// submission (ClassUnsent) leaves no trace.
	type before struct {
		row  RowState
		user *UserState
		had  UserState
	}
	pending := map[int]before{}
	for i := range records {
		r := &records[i]
		switch r.Kind {
		case KindHistory:
			for id, us := range r.Users {
				if us != nil {
					c := *us
					st.Users[id] = &c
				}
			}
		case KindStart:
			// A start record of an older offboard names no sheet: the run
			// that resumed it was matched on its rows (CheckInput).
			if st.Start == nil || !r.Resumed || r.InputSHA256 != st.Start.InputSHA256 || (r.Sheet != st.Start.Sheet && st.Start.Sheet != "") {
				st.Began = r.Time
				st.Rows = make(map[int]*RowState)
			}
			st.Start = r
			st.Stopped = ""
			st.Finished = false
		case KindStop:
			st.Stopped = r.Reason
		case KindEnd:
			st.Finished = true
		case KindSubmit:
			rs := row(r.Row)
			b := before{row: *rs}
			rs.Attempts++
			rs.InDoubt = true
			rs.DoubtSince, rs.DoubtWindow = r.Time, doubtWindow(st.Start)
			rs.Host = ""
			if st.Start != nil && st.Start.Owner != nil {
				rs.Host = st.Start.Owner.Host
			}
			rs.Final = nil
			if us := user(r.Row, r.UserID, true); us != nil {
				b.user, b.had = us, *us
				jobs := maps.Clone(us.Jobs)
				*us = UserState{InDoubt: true, DoubtSince: r.Time, DoubtWindow: rs.DoubtWindow, Host: rs.Host, Updated: r.Time, Jobs: jobs,
					Doubts: []Doubt{{Since: r.Time, Host: rs.Host, Window: rs.DoubtWindow}}}
				if st.Start != nil {
					us.InputFile = st.Start.InputFile
					if r.Row >= 0 && r.Row < len(st.Start.Steps) {
						us.Line = st.Start.Steps[r.Row].Line
					}
				}
			}
			pending[r.Row] = b
		case KindAnswer:
			rs := row(r.Row)
			us := user(r.Row, "", false)
			if r.Class == ClassUnsent {
				if b, ok := pending[r.Row]; ok {
					*rs = b.row
					if b.user != nil {
						*b.user = b.had
					}
				}
				delete(pending, r.Row)
				continue
			}
			delete(pending, r.Row)
			switch {
			case r.JobID != "":
				rs.JobID, rs.JobStatus = r.JobID, ""
				rs.SubmittedAt = r.Time
				rs.InDoubt = false
				if us != nil {
					us.JobID, us.JobStatus, us.SubmittedAt, us.InDoubt = r.JobID, "", r.Time, false
					us.job(r.JobID, false)
					us.Doubts = nil
				}
			case r.Class != ClassUnknown:
				rs.InDoubt = false
				if us != nil {
					us.InDoubt = false
					us.Doubts = nil
				}
			}
			if us != nil {
				us.Updated = r.Time
			}
		case KindStatus:
			rs := row(r.Row)
			if r.JobID != "" {
				rs.JobID = r.JobID
			}
			rs.JobStatus = r.JobStatus
			if us := user(r.Row, "", false); us != nil {
				us.job(rs.JobID, r.JobStatus == "completed" || r.JobStatus == "failed")
				if us.JobID == rs.JobID {
					us.JobStatus, us.Updated = r.JobStatus, r.Time
				}
			}
		case KindFinal:
			f := finalResult(r, st.Start)
			rs := row(r.Row)
			rs.Final = f
			rs.InDoubt = false
			takeJob(f, &rs.JobID, &rs.JobStatus, &rs.SubmittedAt)
			// A user is only touched by rows that were submitted or that
			// followed a job (an earlier run's, maybe another journal's):
			// the final record of a skipped or invalid row says nothing new.
			if rs.Attempts > 0 || f.JobID != "" {
				if us := user(r.Row, "", true); us != nil {
					// A job's row that ended anything but submitted saw the
					// job end; a user seen deleted settles every doubt.
					us.job(f.JobID, f.Outcome != result.Submitted && f.Outcome != result.NotRun)
					if f.Outcome == result.Deleted || f.Code == "ALREADY_DELETED" {
						us.Doubts = nil
					}
					us.Outcome, us.Code, us.FinishedAt, us.InDoubt = string(f.Outcome), f.Code, f.FinishedAt, false
					takeJob(f, &us.JobID, &us.JobStatus, &us.SubmittedAt)
					// When the outcome was learnt: a row a resumed run
					// copies from its first part is recorded again, later,
					// but says nothing newer than it did then.
					learnt := r.Time
					if !f.FinishedAt.IsZero() && f.FinishedAt.Before(learnt) {
						learnt = f.FinishedAt
					}
					if learnt.After(us.Updated) {
						us.Updated = learnt
					}
					if us.InputFile == "" && st.Start != nil {
						us.InputFile, us.Line = st.Start.InputFile, f.Line
					}
				}
			}
		}
	}
	return st
}

// finalResult is a final record's row result. A journal written before
// records carried Result has the verdict and the job in the record
// itself, and the row's cells and users in the start record's step.
// doubtWindow is how long after a submission's record a job it started
// may still run, by the timeouts start recorded; 0 when it recorded none.
func doubtWindow(start *Record) time.Duration {
	if start == nil {
		return 0
	}
	job, err1 := time.ParseDuration(start.JobTimeout)
	req, err2 := time.ParseDuration(start.RequestTimeout)
	if err1 != nil || err2 != nil || job < 0 || req < 0 {
		return 0
	}
	return job + req
}

func finalResult(r *Record, start *Record) *result.Row {
	if r.Result != nil {
		return r.Result
	}
	var f result.Row
	if start != nil && r.Row >= 0 && r.Row < len(start.Steps) {
		f = start.Steps[r.Row]
	}
	f.Set(result.Outcome(r.Outcome), r.Code, r.Message)
	f.JobID, f.JobStatus, f.Attempts, f.SubmittedAt, f.FinishedAt = r.JobID, r.JobStatus, r.Attempts, r.SubmittedAt, r.FinishedAt
	return &f
}

// takeJob copies what a final result says of its job onto a row's or a
// user's state, keeping what the result leaves blank.
func takeJob(r *result.Row, jobID, status *string, submitted *time.Time) {
	if r.JobID != "" {
		*jobID = r.JobID
	}
	if r.JobStatus != "" {
		*status = r.JobStatus
	}
	if !r.SubmittedAt.IsZero() {
		*submitted = r.SubmittedAt
	}
}

// OtherInputError says that a journal's interrupted run belongs to
// another input: another file (by content), another sheet of it, or
// other rows.
type OtherInputError struct {
	// Journal is the journal's path.
	Journal string
	// File, SHA256 and Sheet are the input the journal was written for.
	File, SHA256, Sheet string
	// GotFile, GotSHA256 and GotSheet are the input given now.
	GotFile, GotSHA256, GotSheet string
	// Line, when not 0, is the first row whose cells differ though file
	// and sheet match (a journal written before sheets were recorded).
	Line int
}

// Error names both inputs and what differs.
func (e *OtherInputError) Error() string {
	switch {
	case e.SHA256 != e.GotSHA256:
		return fmt.Sprintf("journal %s belongs to input %s (sha256 %s), not %s (sha256 %s)",
			e.Journal, e.File+sheetName(e.Sheet), short(e.SHA256), e.GotFile+sheetName(e.GotSheet), short(e.GotSHA256))
	case e.Sheet != e.GotSheet:
		return fmt.Sprintf("journal %s belongs to input %s, not %s: another sheet of the same workbook",
			e.Journal, e.File+sheetName(e.Sheet), e.GotFile+sheetName(e.GotSheet))
	}
	return fmt.Sprintf("journal %s belongs to other rows than %s holds now: row %d differs", e.Journal, e.GotFile+sheetName(e.GotSheet), e.Line)
}

func sheetName(sheet string) string {
	if sheet == "" {
		return ""
	}
	return fmt.Sprintf(" (sheet %q)", sheet)
}

func short(sha string) string {
	if len(sha) > 12 {
		return sha[:12] + "…"
	}
	return sha
}

// CheckInput returns an *OtherInputError if the journal at path, whose
// records st holds, was written for an input other than the one given
// (file named file, hex SHA-256 sha, sheet, rows), and its latest run is
// unfinished. A journal without a start record, or whose latest run
// reached its end, fits any input (the new run is appended after the
// earlier ones); so does a renamed input with the same content. Rows are
// compared by their line and cells: a journal written before sheets were
// recorded says no sheet.
func CheckInput(path string, st State, file, sha, sheet string, rows []result.Row) error {
	if !st.Unfinished() {
		return nil
	}
	e := &OtherInputError{Journal: path, File: st.Start.InputFile, SHA256: st.Start.InputSHA256, Sheet: st.Start.Sheet,
		GotFile: file, GotSHA256: sha, GotSheet: sheet}
	switch {
	case st.Start.InputSHA256 != sha:
		return e
	case st.Start.Sheet != sheet && st.Start.Sheet != "":
		return e
	}
	steps := st.Start.Steps
	if len(steps) == 0 {
		return nil // a start record that lists no rows says nothing of them
	}
	for i := range max(len(steps), len(rows)) {
		if i >= len(steps) || i >= len(rows) || steps[i].Line != rows[i].Line || !sameCells(steps[i].Cells, rows[i].Cells) {
			e.Line = 0
			if i < len(rows) {
				e.Line = rows[i].Line
			} else if i < len(steps) {
				e.Line = steps[i].Line
			}
			e.Sheet = sheet // the sheet is not what differs
			return e
		}
	}
	return nil
}

// sameCells compares two rows' cells as a person sees them: empty cells at
// the end do not count (an older offboard kept a row as wide as its
// header; this one keeps a row's cells up to its last non-empty one).
func sameCells(a, b []string) bool {
	return slices.Equal(trimEmpty(a), trimEmpty(b))
}

func trimEmpty(c []string) []string {
	for len(c) > 0 && c[len(c)-1] == "" {
		c = c[:len(c)-1]
	}
	return c
}
