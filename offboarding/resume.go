package offboarding

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"offboard/journal"
	"offboard/plan"
	"offboard/result"
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
		return nil, st, false, err
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
// journals of runs against p's org count; a journal that cannot be read is
// passed over.
func unsettledElsewhere(log zerolog.Logger, dir, self string, p *prepared) map[string]*journal.UserState {
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
		if st.Start == nil || st.Start.Sandbox {
			continue
		}
		if same, _ := sameOrg(st.Start, p); !same {
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
	case us.JobID != "" && (us.Outcome == "" || us.Outcome == string(result.Submitted)):
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
	// settled counts the rows the interrupted run had settled, following
	// the jobs to follow again.
	settled, following int
}

// toSubmit counts the planned steps that will be sent: not those whose
// job is only followed.
func (rp resumePlan) toSubmit(p *plan.Plan) int {
	n := 0
	for _, i := range p.Order {
		if p.Steps[i].Outcome == result.Planned && rp.resume[i].JobID == "" {
			n++
		}
	}
	return n
}

// applyJournal fits the plan, and the rows the run starts from, to what
// the journal knows. With resume, the journal's latest run is this run's
// interrupted first part: the rows it settled keep their results (the
// step is no longer planned, and its row is the journal's), its jobs are
// followed, and its submissions without an answer are watched before
// anything is sent again. With history, what the journal's earlier runs
// did to each user is used: a job still unfinished is followed rather than
// submitted again, and a row skipped as already deleted names the job that
// deleted the user. others are users that other journals left unsettled:
// they are treated as the journal's own history, which wins where it knows
// the user too.
func applyJournal(p *plan.Plan, rows []result.Row, st journal.State, resume, history bool, others map[string]*journal.UserState, now time.Time) resumePlan {
	rp := resumePlan{resume: map[int]runner.Resume{}}
	follow := func(i int, r runner.Resume) {
		step := &p.Steps[i]
		if step.Outcome != result.Planned {
			// The live org no longer shows the user to delete as it was
			// (the job went on while offboard was not running): follow the
			// job anyway, to learn how it ended.
			userID := ""
			if step.User != nil {
				userID = string(step.User.ID)
			}
			step.Outcome, step.Code, step.Message = result.Planned, "", ""
			step.Request = zoho.TransferRequest{UserID: userID}
			step.After = nil
			p.Order = append(p.Order, i)
			rows[i].Set(result.Planned, "", "")
		}
		rp.resume[i] = r
		rp.following++
	}
	settle := func(i int, row result.Row) {
		// The runner copies a step that is not planned through, and a step
		// waiting for this one sees how it ended.
		step := &p.Steps[i]
		step.Outcome, step.Code, step.Message = row.Outcome, row.Code, row.Message
		step.After = nil
		rows[i] = row
	}
	inDoubt := func(i int, attempts int, since time.Time) {
		step := &p.Steps[i]
		switch {
		case step.Outcome == result.Planned:
			rp.resume[i] = runner.Resume{InDoubt: true, Attempts: attempts, DoubtSince: since}
		case step.Code == plan.CodeAlreadyDeleted:
			row := rows[i]
			row.Set(result.Deleted, runner.CodeReconciled, "the answer to an earlier submission was lost; the user was then found deleted")
			row.Attempts, row.FinishedAt = attempts, now
			settle(i, row)
		default:
			rows[i].Message += " (an earlier submission of this row got no answer, and the user is not deleted)"
			step.Message = rows[i].Message
		}
	}
	for i := range p.Steps {
		step := &p.Steps[i]
		if resume {
			if rs := st.Rows[i]; rs != nil && applyRow(i, rs, &rp, follow, inDoubt, settle) {
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
		case step.Outcome == result.Planned && (us.InDoubt || us.Code == runner.CodeOutcomeUnknown):
			// An earlier run lost the answer to its submission and could
			// not find out: watch the user, and send nothing before that
			// submission is older than the job timeout.
			rp.resume[i] = runner.Resume{InDoubt: true, DoubtSince: us.DoubtSince}
		case step.Outcome == result.Planned && us.JobID != "" && (us.Outcome == "" || us.Outcome == string(result.Submitted)):
			follow(i, runner.Resume{JobID: us.JobID, SubmittedAt: us.SubmittedAt})
		case step.Code == plan.CodeAlreadyDeleted && us.JobID != "" && us.Outcome != string(result.Failed):
			status := us.JobStatus
			if us.Outcome == string(result.Deleted) {
				status = zoho.JobCompleted
			}
			when := ""
			if !us.SubmittedAt.IsZero() {
				when = " on " + us.SubmittedAt.UTC().Format(time.RFC3339)
			}
			row := rows[i]
			row.Message = fmt.Sprintf("%s (deleted by job %s, submitted%s by an earlier run: %s row %d)",
				strings.TrimRight(step.Message, "."), us.JobID, when, filepath.Base(us.InputFile), us.Line)
			row.JobID, row.JobStatus, row.SubmittedAt = us.JobID, status, us.SubmittedAt
			settle(i, row)
		}
	}
	// Steps settled by the journal are no longer the runner's to submit.
	order := p.Order[:0]
	for _, i := range p.Order {
		if p.Steps[i].Outcome == result.Planned {
			order = append(order, i)
		}
	}
	p.Order = order
	return rp
}

// applyRow fits step i to what the interrupted run recorded of it, and
// reports whether it did.
func applyRow(i int, rs *journal.RowState, rp *resumePlan, follow func(int, runner.Resume), inDoubt func(int, int, time.Time), settle func(int, result.Row)) bool {
	if f := rs.Final; f != nil {
		switch {
		case f.Outcome == result.NotRun:
			return false // never sent: planned afresh
		case f.Outcome == result.Submitted && rs.JobID != "":
			follow(i, runner.Resume{JobID: rs.JobID, SubmittedAt: rs.SubmittedAt, Attempts: rs.Attempts})
		case f.Code == runner.CodeOutcomeUnknown:
			inDoubt(i, rs.Attempts, rs.DoubtSince)
		default:
			settle(i, *f)
			rp.settled++
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
		if us.Outcome == string(result.Deleted) && !us.SubmittedAt.IsZero() && us.FinishedAt.After(us.SubmittedAt) {
			d = append(d, us.FinishedAt.Sub(us.SubmittedAt))
		}
	}
	if len(d) == 0 {
		return 0
	}
	slices.Sort(d)
	return d[len(d)/2]
}

// removeJournal removes a journal a run created and never wrote to.
func removeJournal(path string) { os.Remove(path) }
