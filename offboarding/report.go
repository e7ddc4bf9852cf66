package offboarding

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"offboard/journal"
	"offboard/report"
	"offboard/result"
	"offboard/runner"
)

// ReportOptions are the options of offboard report.
type ReportOptions struct {
	// Journal is the run's journal; Output the results workbook to write.
	Journal, Output string
	// Version is offboard's, for the Summary.
	Version string
}

// Report rebuilds a run's results workbook from its journal alone, for
// when the results file was lost, or to see where a run that is still
// going, or was killed, stands. It does not take the journal's lock: a
// run may hold it.
func Report(ios IO, o ReportOptions) error {
	if err := checkDirs(o.Output); err != nil {
		return err
	}
	if err := checkNotInput(o.Journal, o.Output); err != nil {
		return err
	}
	if _, err := os.Stat(o.Output); err == nil && !report.IsResults(o.Output) {
		return fmt.Errorf("%s exists and is not an offboard results file: pick another --output", o.Output)
	}
	records, err := journal.Read(o.Journal)
	if err != nil {
		return err
	}
	st := journal.Replay(records)
	if st.Start == nil {
		return fmt.Errorf("journal %s holds no run", o.Journal)
	}
	rows := journalResults(st)
	counts := result.Counts(rows)
	note := "rebuilt from the journal " + filepath.Base(o.Journal)
	switch {
	case st.Finished:
		note += "; the run reached its end"
	default:
		note += "; the run did not reach its end (killed, interrupted or still running): run the same offboard run command again to resume it"
	}
	if st.Stopped != "" {
		note += "; it stopped early: " + st.Stopped
	}
	version := st.Start.Version // the run's: what the Summary of its results said
	if version != o.Version {
		note += "; rebuilt by offboard " + o.Version
	}
	domain := st.Start.APIDomain
	if st.Start.Sandbox {
		domain = "sandbox"
	}
	sum := report.Summary{
		Command:       "report",
		InputFile:     filepath.Base(st.Start.InputFile),
		InputSHA256:   st.Start.InputSHA256,
		Sheet:         st.Start.Sheet,
		RowsRead:      st.Start.RowsRead,
		HiddenRows:    st.Start.HiddenRows,
		IncludeHidden: st.Start.IncludeHidden,
		Start:         st.Began,
		End:           lastTime(records),
		OrgName:       st.Start.OrgName,
		OrgID:         st.Start.OrgID,
		APIDomain:     domain,
		Settings:      reportSettings(st.Start),
		Sandbox:       st.Start.Sandbox,
		Local:         st.Start.Local,
		Version:       version,
		Note:          note,
	}
	if st.Start.Owner != nil {
		sum.Host = st.Start.Owner.Host // the run's host, not this one's
	}
	withAdmin(&sum, st.Start.Admin)
	if err := writeResults(o.Output, st.Start.Header, rows, sum); err != nil {
		return err
	}
	fmt.Fprintf(ios.Out, "Results of the run of %s rebuilt from %s: %d rows.\n\n", filepath.Base(st.Start.InputFile), o.Journal, len(rows))
	for _, oc := range result.Final() {
		fmt.Fprintf(ios.Out, "  %-9s %5d\n", oc, counts[oc])
	}
	if !st.Finished {
		fmt.Fprintf(ios.Out, "\nThe run did not reach its end: run the same offboard run command again to resume it.\n")
	}
	fmt.Fprintf(ios.Out, "\nResults: %s\n", o.Output)
	return nil
}

// journalResults are the result rows of the journal's latest run: each
// row's final result if it has one, else what the journal knows of it.
func journalResults(st journal.State) []result.Row {
	out := make([]result.Row, len(st.Start.Steps))
	for i, r := range st.Start.Steps {
		rs := st.Rows[i]
		switch {
		case rs != nil && rs.Final != nil:
			r = *rs.Final
		case rs != nil && rs.JobID != "":
			r.Set(result.Submitted, "", fmt.Sprintf("job %s was submitted and had not finished when the journal ends; run offboard run again to follow it, or check the user in Zoho", rs.JobID))
			r.JobID, r.JobStatus, r.Attempts, r.SubmittedAt = rs.JobID, rs.JobStatus, rs.Attempts, rs.SubmittedAt
		case rs != nil && rs.InDoubt:
			r.Set(result.Failed, runner.CodeOutcomeUnknown, "a submission may have been sent (the journal records it just before it was sent) and no answer is in the journal; run offboard run again: it watches the user and sends nothing again before the job timeout has passed")
			r.Attempts = rs.Attempts
		case r.Outcome == result.Planned:
			r.Set(result.NotRun, "", "the journal ends before this row was submitted")
		}
		out[i] = r
	}
	return out
}

// lastTime is the time of the journal's last record: when the run was
// last heard of.
func lastTime(records []journal.Record) time.Time {
	if len(records) == 0 {
		return time.Time{}
	}
	return records[len(records)-1].Time
}
