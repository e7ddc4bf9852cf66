package main

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"offboard/journal"
	"offboard/plan"
	"offboard/report"
	"offboard/runner"
)

// runReport rebuilds a run's results workbook from its journal alone, for
// when the results file was lost, or to see where a run that is still
// going, or was killed, stands.
func runReport(_ context.Context, e env, args []string) error {
	fs := newFlagSet(e, "report", "--journal FILE --output FILE")
	var path, output string
	fs.StringVar(&path, "journal", "", "the journal of the run (required)")
	fs.StringVar(&output, "output", "", "the results workbook to write, .xlsx or .csv (required)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if path == "" || output == "" {
		return usageError{"report needs --journal FILE and --output FILE"}
	}
	if err := checkOutput(output); err != nil {
		return err
	}
	// Read, not Open: a run may hold the journal's lock; its results
	// so far are what is asked for.
	records, err := journal.Read(path)
	if err != nil {
		return fatal(err)
	}
	st := journal.Replay(records)
	if st.Start == nil {
		return fatal(fmt.Errorf("journal %s holds no run", path))
	}
	results, counts := journalResults(st)
	note := "rebuilt from the journal " + filepath.Base(path)
	switch {
	case st.Finished:
		note += "; the run reached its end"
	default:
		note += "; the run did not reach its end (killed, interrupted or still running): run the same offboard run command again to resume it"
	}
	if st.Stopped != "" {
		note += "; it stopped early: " + st.Stopped
	}
	w, err := report.Create(output, st.Start.Header)
	if err != nil {
		return fatal(err)
	}
	for _, r := range results {
		if err := w.Write(r); err != nil {
			w.Abort()
			return fatal(err)
		}
	}
	err = w.Close(report.Summary{
		Command:       "report",
		InputFile:     filepath.Base(st.Start.InputFile),
		InputSHA256:   st.Start.InputSHA256,
		RowsRead:      st.Start.RowsRead,
		HiddenRows:    st.Start.HiddenRows,
		IncludeHidden: st.Start.IncludeHidden,
		Start:         st.Began,
		End:           lastTime(records),
		APIDomain:     st.Start.APIDomain,
		Sandbox:       st.Start.Sandbox,
		Version:       buildVersion(),
		Note:          note,
	})
	if err != nil {
		return fatal(err)
	}
	fmt.Fprintf(e.stdout, "Results of the run of %s rebuilt from %s: %d rows.\n\n", filepath.Base(st.Start.InputFile), path, len(results))
	for _, o := range []plan.Outcome{plan.Deleted, plan.Submitted, plan.Failed, plan.Invalid, plan.Skipped, plan.Deferred, plan.NotRun} {
		fmt.Fprintf(e.stdout, "  %-9s %5d\n", o, counts[o])
	}
	if !st.Finished {
		fmt.Fprintf(e.stdout, "\nThe run did not reach its end: run the same offboard run command again to resume it.\n")
	}
	fmt.Fprintf(e.stdout, "\nResults: %s\n", output)
	return nil
}

// journalResults are the results rows of the journal's latest run: each
// row's final record if it has one, else what the journal knows of it.
func journalResults(st journal.State) ([]report.Result, map[plan.Outcome]int) {
	counts := map[plan.Outcome]int{}
	out := make([]report.Result, len(st.Start.Steps))
	for i, s := range st.Start.Steps {
		r := report.Result{Line: s.Line, Cells: s.Cells, Outcome: s.Outcome, Code: s.Code, Message: s.Message,
			UserID: s.UserID, UserEmail: s.UserEmail, TransferToID: s.TransferToID, SubordinatesToID: s.SubordinatesToID}
		rs := st.Rows[i]
		switch {
		case rs != nil && rs.Final != nil:
			f := rs.Final
			r.Outcome, r.Code, r.Message = f.Outcome, f.Code, f.Message
			r.JobID, r.JobStatus, r.Attempts, r.SubmittedAt, r.FinishedAt = f.JobID, f.JobStatus, f.Attempts, f.SubmittedAt, f.FinishedAt
		case rs != nil && rs.JobID != "":
			r.Outcome, r.Code = string(plan.Submitted), ""
			r.Message = fmt.Sprintf("job %s was submitted and had not finished when the journal ends; run offboard run again to follow it, or check the user in Zoho", rs.JobID)
			r.JobID, r.JobStatus, r.Attempts, r.SubmittedAt = rs.JobID, rs.JobStatus, rs.Attempts, rs.SubmittedAt
		case rs != nil && rs.InDoubt:
			r.Outcome, r.Code = string(plan.Failed), runner.CodeOutcomeUnknown
			r.Message = "a submission may have been sent (the journal records it just before it was sent) and no answer is in the journal; run offboard run again: it watches the user and sends nothing again before the job timeout has passed"
			r.Attempts = rs.Attempts
		case s.Outcome == string(plan.Planned):
			r.Outcome, r.Message = string(plan.NotRun), "the journal ends before this row was submitted"
		}
		counts[plan.Outcome(r.Outcome)]++
		out[i] = r
	}
	return out, counts
}

func lastTime(records []journal.Record) time.Time {
	if len(records) == 0 {
		return time.Time{}
	}
	return records[len(records)-1].Time
}
