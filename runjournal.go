package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"offboard/journal"
	"offboard/plan"
	"offboard/runner"
	"offboard/zoho"
)

// openJournal takes the journal's lock and reads what it holds. created
// reports that the file did not exist before, so that a run that ends up
// sending nothing can remove it again.
func openJournal(log zerolog.Logger, path string, now time.Time) (j *journal.Journal, st journal.State, created bool, err error) {
	_, statErr := os.Stat(path)
	created = errors.Is(statErr, os.ErrNotExist)
	host, _ := os.Hostname()
	j, records, err := journal.Open(path, journal.Owner{PID: os.Getpid(), Host: host, Started: now})
	if err != nil {
		return nil, st, false, fatal(err)
	}
	if o := j.StaleLock(); o != nil {
		ev := log.Warn().Str("journal", path)
		if o.PID != 0 {
			ev = ev.Int("pid", o.PID).Str("host", o.Host).Time("since", o.Started)
		}
		ev.Msg("took over the journal's lock from a process that is gone")
	}
	return j, journal.Replay(records), created, nil
}

// findInterrupted looks in dir for the journal of an interrupted run of
// the input with the hex SHA-256 sha that wrote its results under the
// default name (offboard-results-*), so that running the same command
// again without --output resumes it. It returns the newest such journal's
// path, or "".
func findInterrupted(log zerolog.Logger, dir, sha string) string {
	paths, _ := filepath.Glob(filepath.Join(dir, "offboard-results-*.journal"))
	best, bestAt := "", time.Time{}
	for _, path := range paths {
		records, err := journal.Read(path)
		if err != nil {
			log.Debug().Err(err).Str("journal", path).Msg("not a journal to resume")
			continue
		}
		st := journal.Replay(records)
		if !st.Unfinished() || st.Start.InputSHA256 != sha || st.Start.Sandbox {
			continue
		}
		if best == "" || st.Began.After(bestAt) {
			best, bestAt = path, st.Began
		}
	}
	return best
}

// unsettledElsewhere reads the other journals with offboard's default name
// in dir (offboard-results-*.journal) for users they left unsettled: a job
// not followed to its end, or a submission whose answer was lost. A run
// that writes its own, new journal (another sheet, --fresh, no --output)
// must still not send those users again while their jobs may run. Only
// journals of runs against apiDomain count; a journal that cannot be read
// is passed over.
func unsettledElsewhere(log zerolog.Logger, dir, self, apiDomain string) map[string]*journal.UserState {
	paths, _ := filepath.Glob(filepath.Join(dir, "offboard-results-*.journal"))
	out := map[string]*journal.UserState{}
	for _, path := range paths {
		if same(path, self) {
			continue
		}
		records, err := journal.Read(path)
		if err != nil {
			log.Debug().Err(err).Str("journal", path).Msg("not a journal to learn from")
			continue
		}
		st := journal.Replay(records)
		if st.Start == nil || st.Start.Sandbox || st.Start.APIDomain != apiDomain {
			continue
		}
		for id, us := range st.Users {
			if !unsettled(us) {
				continue
			}
			if have := out[id]; have == nil || lastSeen(us).After(lastSeen(have)) {
				out[id] = us
				log.Info().Str("journal", path).Str("user_id", id).Str("job_id", us.JobID).Bool("in_doubt", us.InDoubt || us.Code == runner.CodeOutcomeUnknown).
					Msg("another journal here left this user's deletion unsettled: it is followed, not sent again")
			}
		}
	}
	return out
}

// unsettled reports whether a user's deletion may still be under way: a job
// not followed to its end, or a submission whose answer was lost.
func unsettled(us *journal.UserState) bool {
	switch {
	case us.InDoubt, us.Code == runner.CodeOutcomeUnknown:
		return true
	case us.JobID != "" && (us.Outcome == "" || us.Outcome == string(plan.Submitted)):
		return true
	}
	return false
}

func lastSeen(us *journal.UserState) time.Time {
	if us.SubmittedAt.After(us.DoubtSince) {
		return us.SubmittedAt
	}
	return us.DoubtSince
}

// same reports whether two paths name one file.
func same(a, b string) bool {
	fa, err1 := os.Stat(a)
	fb, err2 := os.Stat(b)
	return err1 == nil && err2 == nil && os.SameFile(fa, fb)
}

// resumePlan is what the journal changes in a run's plan.
type resumePlan struct {
	// resume is what the runner must know of steps already submitted.
	resume map[int]runner.Resume
	// carried are final results kept from the journal, or plan results
	// annotated with what earlier runs did; they replace the runner's.
	carried map[int]runner.Result
	// settled counts the rows the interrupted run had settled, following
	// the jobs to follow again.
	settled, following int
}

// toSubmit counts the planned steps that will be sent: not those whose
// job is only followed.
func (rp resumePlan) toSubmit(p *plan.Plan) int {
	n := 0
	for _, i := range p.Order {
		if p.Steps[i].Outcome == plan.Planned && rp.resume[i].JobID == "" {
			n++
		}
	}
	return n
}

// applyJournal fits the plan to what the journal knows. With resume, the
// journal's latest run is this run's interrupted first part: the rows it
// settled keep their results, its jobs are followed, and its submissions
// without an answer are reconciled before anything is sent again. With
// history, what the journal's earlier runs did to each user is used: a
// job still unfinished is followed rather than submitted again, and a row
// skipped as already deleted names the job that deleted the user. others
// are users that other journals left unsettled: they are treated as the
// journal's own history, which wins where it knows the user too.
func applyJournal(p *plan.Plan, st journal.State, resume, history bool, others map[string]*journal.UserState, now time.Time) resumePlan {
	rp := resumePlan{resume: map[int]runner.Resume{}, carried: map[int]runner.Result{}}
	follow := func(i int, r runner.Resume) {
		st := &p.Steps[i]
		if st.Outcome != plan.Planned {
			// The live org no longer shows the user to delete as it was
			// (the job went on while offboard was not running): follow the
			// job anyway, to learn how it ended.
			userID := ""
			if st.User != nil {
				userID = string(st.User.ID)
			}
			st.Outcome, st.Code, st.Message = plan.Planned, "", ""
			st.Request = zoho.TransferRequest{UserID: userID}
			st.After = nil
			p.Order = append(p.Order, i)
		}
		rp.resume[i] = r
		rp.following++
	}
	inDoubt := func(i int, attempts int, since time.Time) {
		st := &p.Steps[i]
		switch {
		case st.Outcome == plan.Planned:
			rp.resume[i] = runner.Resume{InDoubt: true, Attempts: attempts, DoubtSince: since}
		case st.Code == plan.CodeAlreadyDeleted:
			rp.carried[i] = runner.Result{Index: i, Outcome: plan.Deleted, Code: runner.CodeReconciled, Attempts: attempts, FinishedAt: now, Final: true,
				Message: "the answer to an earlier submission was lost; the user was then found deleted"}
			st.Outcome, st.Code, st.Message = plan.Deleted, runner.CodeReconciled, rp.carried[i].Message
		default:
			st.Message += " (an earlier submission of this row got no answer, and the user is not deleted)"
		}
	}
	for i := range p.Steps {
		step := &p.Steps[i]
		if resume {
			if rs := st.Rows[i]; rs != nil && applyRow(i, rs, &rp, step, follow, inDoubt) {
				continue
			}
		}
		if step.User == nil {
			continue
		}
		var us *journal.UserState
		if history {
			us = st.Users[string(step.User.ID)]
		}
		if us == nil {
			us = others[string(step.User.ID)]
		}
		if us == nil {
			continue
		}
		switch {
		case step.Outcome == plan.Planned && (us.InDoubt || us.Code == runner.CodeOutcomeUnknown):
			// An earlier run lost the answer to its submission and could
			// not find out: watch the user, and send nothing before that
			// submission is older than the job timeout.
			rp.resume[i] = runner.Resume{InDoubt: true, DoubtSince: us.DoubtSince}
		case step.Outcome == plan.Planned && us.JobID != "" && (us.Outcome == "" || us.Outcome == string(plan.Submitted)):
			follow(i, runner.Resume{JobID: us.JobID, SubmittedAt: us.SubmittedAt})
		case step.Code == plan.CodeAlreadyDeleted && us.JobID != "" && us.Outcome != string(plan.Failed):
			status := us.JobStatus
			if us.Outcome == string(plan.Deleted) {
				status = zoho.JobCompleted
			}
			when := ""
			if !us.SubmittedAt.IsZero() {
				when = " on " + us.SubmittedAt.UTC().Format(time.RFC3339)
			}
			msg := fmt.Sprintf("%s (deleted by job %s, submitted%s by an earlier run of this journal: %s row %d)",
				strings.TrimRight(step.Message, "."), us.JobID, when, filepath.Base(us.InputFile), us.Line)
			step.Message = msg
			rp.carried[i] = runner.Result{Index: i, Outcome: step.Outcome, Code: step.Code, Message: msg,
				JobID: us.JobID, JobStatus: status, SubmittedAt: us.SubmittedAt, Final: true}
		}
	}
	// Steps settled by the journal are no longer the runner's to submit.
	order := p.Order[:0]
	for _, i := range p.Order {
		if p.Steps[i].Outcome == plan.Planned {
			order = append(order, i)
		}
	}
	p.Order = order
	return rp
}

// applyRow fits step i to what the interrupted run recorded of it, and
// reports whether it did.
func applyRow(i int, rs *journal.RowState, rp *resumePlan, step *plan.Step, follow func(int, runner.Resume), inDoubt func(int, int, time.Time)) bool {
	if f := rs.Final; f != nil {
		switch {
		case f.Outcome == string(plan.NotRun):
			return false // never sent: planned afresh
		case f.Outcome == string(plan.Submitted) && rs.JobID != "":
			follow(i, runner.Resume{JobID: rs.JobID, SubmittedAt: rs.SubmittedAt, Attempts: rs.Attempts})
		case f.Code == runner.CodeOutcomeUnknown:
			inDoubt(i, rs.Attempts, rs.DoubtSince)
		default:
			res := runner.Result{Index: i, Outcome: plan.Outcome(f.Outcome), Code: f.Code, Message: f.Message,
				JobID: f.JobID, JobStatus: f.JobStatus, Attempts: f.Attempts,
				SubmittedAt: f.SubmittedAt, FinishedAt: f.FinishedAt, Final: true}
			rp.carried[i] = res
			rp.settled++
			// The runner copies a step that is not planned through, and a
			// step waiting for this one sees how it ended.
			step.Outcome, step.Code, step.Message = res.Outcome, res.Code, res.Message
			step.After = nil
		}
		return true
	}
	switch {
	case rs.JobID != "":
		follow(i, runner.Resume{JobID: rs.JobID, SubmittedAt: rs.SubmittedAt, Attempts: rs.Attempts})
	case rs.InDoubt:
		inDoubt(i, rs.Attempts, rs.DoubtSince)
	default:
		return false
	}
	return true
}

// jobDuration is the median time the journal's deleted users took from
// their job's acceptance to the row's end, 0 if it knows of none: the
// runner's first guess of a job's length, so that a resumed run polls its
// jobs, and waits before looking again at a user in doubt, as long as
// jobs actually took.
func jobDuration(st journal.State) time.Duration {
	var d []time.Duration
	for _, us := range st.Users {
		if us.Outcome == string(plan.Deleted) && !us.SubmittedAt.IsZero() && us.FinishedAt.After(us.SubmittedAt) {
			d = append(d, us.FinishedAt.Sub(us.SubmittedAt))
		}
	}
	if len(d) == 0 {
		return 0
	}
	slices.Sort(d)
	return d[len(d)/2]
}

// recorder writes one run's events to its journal: each submission
// before it is sent, its answer, job statuses and final results as they
// come. A record that cannot be written stops the run at its next
// submission (BeforeSubmit fails), since a deletion the journal does not
// know of could be repeated.
type recorder struct {
	j     *journal.Journal
	log   zerolog.Logger
	steps []plan.Step

	mu     sync.Mutex
	status map[int]string
	final  map[int]bool
	err    error
}

func newRecorder(j *journal.Journal, log zerolog.Logger, steps []plan.Step) *recorder {
	return &recorder{j: j, log: log, steps: steps, status: map[int]string{}, final: map[int]bool{}}
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
	return rec.append(journal.Record{Kind: journal.KindSubmit, Row: i, UserID: rec.steps[i].Request.UserID, Attempt: attempt})
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
	}
	rec.append(r)
}

// onChange records a job status seen, and a row's final result.
func (rec *recorder) onChange(res runner.Result) {
	if res.Final {
		rec.writeFinal(res)
		return
	}
	rec.mu.Lock()
	changed := res.JobStatus != "" && rec.status[res.Index] != res.JobStatus
	rec.status[res.Index] = res.JobStatus
	rec.mu.Unlock()
	if changed {
		rec.append(journal.Record{Kind: journal.KindStatus, Row: res.Index, JobID: res.JobID, JobStatus: res.JobStatus})
	}
}

func (rec *recorder) writeFinal(res runner.Result) {
	rec.mu.Lock()
	done := rec.final[res.Index]
	rec.final[res.Index] = true
	rec.mu.Unlock()
	if done {
		return
	}
	rec.append(finalRecord(res))
}

func finalRecord(res runner.Result) journal.Record {
	return journal.Record{Kind: journal.KindFinal, Row: res.Index, Outcome: string(res.Outcome), Code: res.Code, Message: res.Message,
		JobID: res.JobID, JobStatus: res.JobStatus, Attempts: res.Attempts, SubmittedAt: res.SubmittedAt, FinishedAt: res.FinishedAt}
}

// finish records the final result of every row not yet recorded (rows the
// runner did not run, rows carried from the journal) and why the run
// stopped early, if it did.
func (rec *recorder) finish(results []runner.Result, stop *runner.Stop) error {
	for _, res := range results {
		rec.writeFinal(res)
	}
	if stop != nil {
		rec.append(journal.Record{Kind: journal.KindStop, Reason: stop.Reason})
	}
	return rec.failed()
}

// startRecord is the journal's record of a run of p about to begin.
func startRecord(p *prepared, output string, resumed bool) journal.Record {
	r := journal.Record{
		Kind:          journal.KindStart,
		Version:       buildVersion(),
		InputFile:     p.sheet.path,
		InputSHA256:   p.sheet.sha256,
		Header:        p.sheet.header.Names,
		RowsRead:      len(p.sheet.rows),
		HiddenRows:    p.sheet.hidden,
		IncludeHidden: p.sheet.includeHidden,
		APIDomain:     p.conn.where,
		Sandbox:       p.conn.sandbox != nil,
		Output:        output,
		Resumed:       resumed,
		Steps:         make([]journal.Step, len(p.plan.Steps)),
	}
	for i, st := range p.plan.Steps {
		res := stepResult(p.sheet.rows[st.Index], st)
		r.Steps[i] = journal.Step{Line: res.Line, Cells: res.Cells, Outcome: res.Outcome, Code: res.Code, Message: res.Message,
			UserID: res.UserID, UserEmail: res.UserEmail, TransferToID: res.TransferToID, SubordinatesToID: res.SubordinatesToID}
		if r.Steps[i].UserID == "" && st.Request.UserID != "" {
			r.Steps[i].UserID = st.Request.UserID
		}
	}
	return r
}
