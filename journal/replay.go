package journal

import (
	"fmt"
	"time"
)

// State is what a journal's records say, for resuming a run and for
// rebuilding its results.
type State struct {
	// Start is the latest start record, nil if there is none.
	Start *Record
	// Began is the time of the first start record: when the work began,
	// resumed runs included.
	Began time.Time
	// Rows holds the rows that any record names, by step index.
	Rows map[int]*RowState
	// Stopped is the reason of a stop record written after the latest
	// start, "" if there is none.
	Stopped string
}

// RowState is what the journal knows of one row.
type RowState struct {
	// Final is the row's latest final record, nil if it has none (or a
	// submission followed it).
	Final *Record
	// JobID and JobStatus are the row's job as last recorded.
	JobID, JobStatus string
	// InDoubt is set when the row's latest submission has no answer, or
	// an answer of class ClassUnknown: it may or may not have been
	// carried out, and must be reconciled before anything is sent again.
	InDoubt bool
	// Attempts counts the row's submit records: submission calls that
	// were, or may have been, sent.
	Attempts int
	// SubmittedAt is when Zoho accepted the row's job (the answer's time).
	SubmittedAt time.Time
}

// Replay folds records, in the order written, into per-row state. Records
// of an unknown kind are ignored, so that an older build can read a newer
// journal.
func Replay(records []Record) State {
	st := State{Rows: make(map[int]*RowState)}
	row := func(i int) *RowState {
		rs := st.Rows[i]
		if rs == nil {
			rs = &RowState{}
			st.Rows[i] = rs
		}
		return rs
	}
	for i := range records {
		r := &records[i]
		switch r.Kind {
		case KindStart:
			if st.Start == nil {
				st.Began = r.Time
			}
			st.Start = r
			st.Stopped = ""
		case KindStop:
			st.Stopped = r.Reason
		case KindSubmit:
			rs := row(r.Row)
			rs.Attempts++
			rs.InDoubt = true
			rs.Final = nil
		case KindAnswer:
			rs := row(r.Row)
			switch {
			case r.JobID != "":
				rs.JobID, rs.JobStatus = r.JobID, ""
				rs.SubmittedAt = r.Time
				rs.InDoubt = false
			case r.Class != ClassUnknown:
				rs.InDoubt = false
			}
		case KindStatus:
			rs := row(r.Row)
			if r.JobID != "" {
				rs.JobID = r.JobID
			}
			rs.JobStatus = r.JobStatus
		case KindFinal:
			rs := row(r.Row)
			rs.Final = r
			rs.InDoubt = false
			if r.JobID != "" {
				rs.JobID = r.JobID
			}
			if r.JobStatus != "" {
				rs.JobStatus = r.JobStatus
			}
			if !r.SubmittedAt.IsZero() {
				rs.SubmittedAt = r.SubmittedAt
			}
		}
	}
	return st
}

// OtherInputError says that a journal belongs to another input file.
type OtherInputError struct {
	// Journal is the journal's path.
	Journal string
	// File and SHA256 are the input the journal was written for.
	File, SHA256 string
	// GotFile and GotSHA256 are the input given now.
	GotFile, GotSHA256 string
}

// Error names both inputs and the ways out.
func (e *OtherInputError) Error() string {
	return fmt.Sprintf("journal %s belongs to input %s (sha256 %s), not %s (sha256 %s): use --fresh to start a new journal or --journal to pick another file",
		e.Journal, e.File, short(e.SHA256), e.GotFile, short(e.GotSHA256))
}

func short(sha string) string {
	if len(sha) > 12 {
		return sha[:12] + "…"
	}
	return sha
}

// CheckInput returns an *OtherInputError if the journal at path, whose
// records st holds, was written for an input other than the one with the
// hex SHA-256 sha, named file. A journal without a start record fits any
// input; so does a renamed input with the same content.
func CheckInput(path string, st State, file, sha string) error {
	if st.Start == nil || st.Start.InputSHA256 == sha {
		return nil
	}
	return &OtherInputError{Journal: path, File: st.Start.InputFile, SHA256: st.Start.InputSHA256, GotFile: file, GotSHA256: sha}
}
