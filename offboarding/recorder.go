package offboarding

import (
	"errors"
	"offboard/journal"
	"offboard/plan"
	"offboard/result"
	"offboard/runner"
	"offboard/zoho"
	"sync"

	"github.com/rs/zerolog"
)

// recorder writes one run's events to its journal: each submission
// before it is sent, its answer, job statuses and final results as they
// come. A record that cannot be written stops the run at its next
// submission (BeforeSubmit fails), since a deletion the journal does not
// know of could be repeated.
type recorder struct {
	j     *journal.Journal
	log   zerolog.Logger
	steps []plan.Step // for the user each submission deletes

	mu     sync.Mutex
	status map[int]string
	final  map[int]bool
	// sent holds the rows whose submission the journal records, or whose
	// earlier job the run follows: a job of theirs may be running at Zoho
	// until their final result.
	sent map[int]bool
	err  error
}

func newRecorder(j *journal.Journal, log zerolog.Logger, steps []plan.Step, resume map[int]runner.Resume) *recorder {
	rec := &recorder{j: j, log: log, steps: steps, status: map[int]string{}, final: map[int]bool{}, sent: map[int]bool{}}
	for i, r := range resume {
		if r.JobID != "" || r.InDoubt {
			rec.sent[i] = true
		}
	}
	return rec
}

// running counts the rows whose jobs may be running at Zoho: submitted,
// or followed from an earlier run, without a final result, and not seen
// ended (a completed job's user may wait to be read back).
func (rec *recorder) running() int {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	n := 0
	for i := range rec.sent {
		if st := rec.status[i]; !rec.final[i] && st != zoho.JobCompleted && st != zoho.JobFailed {
			n++
		}
	}
	return n
}

func (rec *recorder) append(r journal.Record) error {
	err := rec.j.Append(r)
	if err != nil {
		rec.mu.Lock()
		if rec.err == nil {
			rec.err = err
			rec.log.Error().Err(err).Msg("the journal could not be written: no more users are submitted")
		}
		rec.mu.Unlock()
	}
	return err
}

func (rec *recorder) failed() error {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return rec.err
}

// beforeSubmit records a submission about to be sent: the runner calls it
// after every wait, just before the request leaves.
func (rec *recorder) beforeSubmit(i, attempt int) error {
	if err := rec.failed(); err != nil {
		return err
	}
	if err := rec.append(journal.Record{Kind: journal.KindSubmit, Row: i, UserID: rec.steps[i].Request.UserID, Attempt: attempt}); err != nil {
		return err
	}
	rec.mu.Lock()
	rec.sent[i] = true
	rec.mu.Unlock()
	return nil
}

// afterSubmit records a submission's answer.
func (rec *recorder) afterSubmit(i, attempt int, job zoho.Job, err error) {
	r := journal.Record{Kind: journal.KindAnswer, Row: i, Attempt: attempt, JobID: job.ID}
	if err == nil {
		// The answer says the job is scheduled; only later statuses are
		// worth a record.
		rec.mu.Lock()
		rec.status[i] = zoho.JobScheduled
		rec.mu.Unlock()
	} else {
		r.JobID = ""
		class := zoho.Classify(err)
		r.Class = class.String()
		switch {
		case errors.Is(err, zoho.ErrNotSent):
			r.Class = journal.ClassUnsent
		case class == zoho.ClassOutcomeUnknown:
			r.Class = journal.ClassUnknown
		}
		var api *zoho.APIError
		if errors.As(err, &api) {
			r.Code = api.Code
		}
		r.Message = err.Error()
		if r.Class != journal.ClassUnknown {
			// No job: the submission never left, or Zoho refused it.
			rec.mu.Lock()
			delete(rec.sent, i)
			rec.mu.Unlock()
		}
	}
	rec.append(r)
}

// onChange records a job status seen, and a row's final result: the
// runner's OnChange.
func (rec *recorder) onChange(i int, row result.Row, final bool) {
	if final {
		rec.writeFinal(i, row)
		return
	}
	rec.mu.Lock()
	changed := row.JobStatus != "" && rec.status[i] != row.JobStatus
	rec.status[i] = row.JobStatus
	rec.mu.Unlock()
	if changed {
		rec.append(journal.Record{Kind: journal.KindStatus, Row: i, JobID: row.JobID, JobStatus: row.JobStatus})
	}
}

func (rec *recorder) writeFinal(i int, row result.Row) {
	rec.mu.Lock()
	done := rec.final[i]
	rec.final[i] = true
	rec.mu.Unlock()
	if done {
		return
	}
	rec.append(journal.Record{Kind: journal.KindFinal, Row: i, Result: &row})
}

// finish records the final result of every row not yet recorded (rows the
// runner did not run, rows carried from the journal) and why the run
// stopped early, if it did.
func (rec *recorder) finish(rows []result.Row, stop *runner.Stop) error {
	for i, row := range rows {
		rec.writeFinal(i, row)
	}
	if stop != nil {
		rec.append(journal.Record{Kind: journal.KindStop, Reason: stop.Reason})
	}
	return rec.failed()
}

// startRecord is the journal's record of a run about to begin: the tool,
// the input, the org, and every row as the run starts.
func startRecord(p *prepared, rows []result.Row, output, version string, resumed bool, opt runner.Options, owner journal.Owner) journal.Record {
	var approved *journal.Plan
	if a := p.sheet.approved; a != nil {
		approved = &journal.Plan{File: p.sheet.planPath, Digest: a.Digest, ApprovedBy: a.ApprovedBy, Approved: p.sheet.approvedLines()}
	}
	return journal.Record{
		Plan:           approved,
		Kind:           journal.KindStart,
		Version:        version,
		Owner:          &owner,
		InputFile:      p.sheet.path,
		InputSHA256:    p.sheet.SHA256,
		Sheet:          p.sheet.Name,
		Header:         p.sheet.Header.Names,
		RowsRead:       len(p.sheet.Rows),
		HiddenRows:     p.sheet.HiddenRows,
		IncludeHidden:  p.sheet.includeHidden,
		APIDomain:      p.apiDomain,
		OrgID:          p.orgID(),
		OrgName:        p.dir.Org.CompanyName,
		Admin:          p.admin(),
		Sandbox:        p.conn.sandbox != nil,
		Local:          zoho.IsLocal(p.apiDomain),
		Output:         output,
		Resumed:        resumed,
		JobTimeout:     opt.JobTimeout.String(),
		RequestTimeout: opt.RequestTimeout.String(),
		Settings:       journalSettings(p.settings),
		Steps:          rows,
	}
}
