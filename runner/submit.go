package runner

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"offboard/plan"
	"offboard/zoho"
)

// Codes the runner gives rows, besides Zoho's own (CONTRACT §6).
const (
	// CodeJobFailed: the job ended failed; the message carries Zoho's reason.
	CodeJobFailed = "JOB_FAILED"
	// CodeNotDeleted: the job completed but the user read back is not deleted.
	CodeNotDeleted = "NOT_DELETED"
	// CodeReconciled: the submission's answer was lost, and the user was
	// then found deleted.
	CodeReconciled = "RECONCILED"
	// CodeOutcomeUnknown: the submission's answer was lost and the runner
	// could not find out what Zoho did (the user could not be read, or the
	// run had to stop first).
	CodeOutcomeUnknown = "OUTCOME_UNKNOWN"
	// CodeJobNotFound: Zoho no longer knows the job, and the user is not
	// deleted.
	CodeJobNotFound = "JOB_NOT_FOUND"
)

// Client is what the runner needs of the Zoho client; *zoho.Client
// satisfies it. The client is expected to enforce --rate and
// --concurrency on every call itself and to refresh the access token once
// after 401 INVALID_TOKEN; the runner retries everything else.
type Client interface {
	TransferAndDelete(ctx context.Context, req zoho.TransferRequest) (zoho.Job, error)
	JobStatus(ctx context.Context, jobID string) (zoho.JobStatus, error)
	User(ctx context.Context, id string) (zoho.User, error)
}

// Options configures Run. The zero value is usable: every field has a
// default.
type Options struct {
	// MaxJobs is how many of this run's jobs may be unfinished at once
	// (Zoho runs at most 10 per org); 0 means 10.
	MaxJobs int
	// NoWait stops following a job once it is submitted: its row ends
	// submitted. Jobs that a later step waits for are still followed,
	// since that step may only be submitted once they completed.
	NoWait bool
	// JobTimeout bounds how long one job is followed after its
	// submission; a job still unfinished then leaves its row submitted.
	// 0 means 30 minutes.
	JobTimeout time.Duration
	// Grace is how long jobs already submitted are still followed once
	// the run must stop (refused credentials, the daily credits spent, the
	// circuit breaker, ctx cancelled); 0 means 30 s.
	Grace time.Duration
	// BreakerThreshold is how many consecutive submissions refused with
	// the same Zoho code stop the run; 0 means 5. Five is enough to tell a
	// refusal of the whole run (NO_PERMISSION, OAUTH_SCOPE_MISMATCH) from
	// a few bad rows, and few enough to fail only a handful of rows alike.
	BreakerThreshold int
	// BackoffBase and BackoffMax bound the shared pacer's wait after a
	// 429 or another transient error, and the wait for a job slot when
	// none of this run's jobs is running; 0 means 0.5 s and 60 s. Zoho's
	// concurrency 429 clears as soon as a call in flight ends, and the
	// pacer doubles the wait for every refusal of a call sent after the
	// last pause, so a short base costs little when the trouble lasts.
	BackoffBase, BackoffMax time.Duration
	// JobDuration is the first guess of how long a job takes, before any
	// job of this run has finished; 0 means 5 s. The first poll of a job
	// comes a little after the median duration of the jobs seen so far.
	JobDuration time.Duration
	// PollMin and PollMax bound the wait between two polls of one job;
	// 0 means 1 s and 60 s.
	PollMin, PollMax time.Duration
	// Log receives one info line per row outcome and one warning per retry
	// or backoff.
	Log zerolog.Logger
	// OnChange, if set, is called whenever a row's result changes, one
	// call at a time, with the runner's lock held: it must return quickly
	// and must not call back into the runner.
	OnChange func(Result)
	// Now gives the times recorded in results; nil means time.Now.
	Now func() time.Time
	// BeforeSubmit, if set, is called before every submission call is
	// sent, with the step's index and the attempt's number; the journal
	// records the submission there and flushes it to disk. An error stops
	// the run (Fatal) and the call is not sent.
	BeforeSubmit func(index, attempt int) error
	// AfterSubmit, if set, is called when a submission call returns, with
	// Zoho's job or the call's error (zoho.Classify tells a lost answer
	// from a refusal), before the runner acts on it; the journal records
	// the answer there.
	AfterSubmit func(index, attempt int, job zoho.Job, err error)
	// Resume carries what an earlier, interrupted run of the same plan
	// left behind, by step index: a job to follow instead of submitting,
	// or a submission whose answer never came, to reconcile first.
	Resume map[int]Resume
}

// Resume is what an earlier run knows of one step.
type Resume struct {
	// JobID is the job an earlier submission created: it is followed, and
	// the user is not submitted again.
	JobID string
	// SubmittedAt is when that job was accepted.
	SubmittedAt time.Time
	// InDoubt is set when a submission was sent and no answer recorded:
	// the user is read before anything is sent again.
	InDoubt bool
	// Attempts are the submission calls already made.
	Attempts int
}

// Defaults returns the options Run uses for the zero Options: the
// benchmarks scale them to their time scale.
func Defaults() Options { return Options{}.withDefaults() }

func (o Options) withDefaults() Options {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	if o.MaxJobs <= 0 {
		o.MaxJobs = 10
	}
	if o.BreakerThreshold <= 0 {
		o.BreakerThreshold = 5
	}
	def(&o.JobTimeout, 30*time.Minute)
	def(&o.Grace, 30*time.Second)
	def(&o.BackoffBase, 500*time.Millisecond)
	def(&o.BackoffMax, time.Minute)
	def(&o.JobDuration, 5*time.Second)
	def(&o.PollMin, time.Second)
	def(&o.PollMax, time.Minute)
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

// Result is what became of one step.
type Result struct {
	// Index is the step's index in the plan.
	Index int
	// Outcome is the row's outcome: a step that was not planned keeps the
	// plan's outcome; a planned one ends deleted, submitted, failed or
	// not_run.
	Outcome plan.Outcome
	// Code is the plan's code, Zoho's error code, or one of the runner's
	// (JOB_FAILED, NOT_DELETED, RECONCILED, OUTCOME_UNKNOWN, JOB_NOT_FOUND).
	Code string
	// Message is a sentence a person can act on.
	Message string
	// JobID and JobStatus are the job as Zoho last showed it.
	JobID, JobStatus string
	// Attempts counts the submission calls made for the row, retries
	// included; status polls and user reads are not counted.
	Attempts int
	// Polls counts the job status calls made for the row.
	Polls int
	// SubmittedAt is when Zoho accepted the job; FinishedAt when the row
	// reached its outcome. Zero when it did not happen.
	SubmittedAt, FinishedAt time.Time
	// Final is set once the row has its final outcome.
	Final bool
}

// Stop says why the run stopped submitting before every step was tried.
type Stop struct {
	// Reason is one sentence for the operator.
	Reason string
	// Fatal is set when the run could not go on at all (credentials
	// refused): exit status 1 rather than 3.
	Fatal bool
}

// Run submits the plan's planned steps to Zoho and follows their jobs.
//
// Steps are submitted in p.Order as soon as every step in their After has
// a completed, verified deletion, and fewer than MaxJobs of this run's
// jobs are unfinished. A step whose predecessor did not end deleted ends
// not_run, naming that row. results holds one Result per plan step,
// index-aligned; steps that are not planned are copied through.
//
// stop is set when submitting stopped early: the daily credits are spent,
// the circuit breaker tripped, the credentials were refused (Fatal), or ctx
// was cancelled. Jobs already submitted are then followed for
// Options.Grace on a context detached from ctx, and the steps never
// submitted end not_run. err is ctx's error when ctx was cancelled, so that
// a cancellation is never taken for a failure; otherwise nil.
func Run(ctx context.Context, c Client, p *plan.Plan, opt Options) (results []Result, stop *Stop, err error) {
	opt = opt.withDefaults()
	r := &run{
		c:       c,
		p:       p,
		opt:     opt,
		log:     opt.Log,
		pacer:   newPacer(opt.BackoffBase, opt.BackoffMax, time.Now),
		jobs:    &durations{initial: opt.JobDuration, min: opt.PollMin, max: opt.PollMax},
		results: make([]Result, len(p.Steps)),
		final:   make([]bool, len(p.Steps)),
		needed:  make([]bool, len(p.Steps)),
		events:  make(chan event),
		stopCh:  make(chan struct{}),
		freed:   make(chan struct{}),
		doubt:   make([]bool, len(p.Steps)),
	}
	for i, st := range p.Steps {
		r.results[i] = Result{Index: i, Outcome: st.Outcome, Code: st.Code, Message: st.Message}
		r.final[i] = st.Outcome != plan.Planned
		if res, ok := opt.Resume[i]; ok && res.InDoubt && res.JobID == "" && !r.final[i] {
			r.doubt[i] = true
			r.doubts++
		}
		for _, j := range st.After {
			if j >= 0 && j < len(r.needed) {
				r.needed[j] = true
			}
		}
	}
	// Calls are made on a context detached from ctx, so that a Ctrl-C
	// neither cuts a submission in half (its outcome would be unknown) nor
	// stops following the jobs already submitted; it ends Grace after the
	// run must stop.
	var cancelCalls context.CancelFunc
	r.calls, cancelCalls = context.WithCancel(context.WithoutCancel(ctx))
	defer cancelCalls()
	r.cancelCalls = cancelCalls
	defer func() {
		r.mu.Lock()
		if r.grace != nil {
			r.grace.Stop()
		}
		r.mu.Unlock()
	}()

	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case <-ctx.Done():
			r.interrupted.Store(true)
			r.halt(Stop{Reason: "interrupted: no more users are submitted; jobs already submitted were followed for a short while"})
		case <-done:
		}
	}()

	r.schedule()

	r.mu.Lock()
	for i := range r.results {
		if !r.final[i] {
			reason := "the run stopped before this row was submitted"
			if r.stop != nil {
				reason += ": " + r.stop.Reason
			}
			r.finish(i, r.results[i].withOutcome(plan.NotRun, "", reason))
		}
	}
	results = append([]Result(nil), r.results...)
	if r.stop != nil {
		s := *r.stop
		stop = &s
	}
	r.mu.Unlock()
	r.logSummary(results)
	if r.interrupted.Load() {
		return results, stop, ctx.Err()
	}
	return results, stop, nil
}

// logSummary logs the run's counts and the status polls spent per job
// followed (the benchmark's measure of how few calls a user costs).
func (r *run) logSummary(results []Result) {
	var jobs, polls, attempts int
	counts := zerolog.Dict()
	n := map[plan.Outcome]int{}
	for _, res := range results {
		n[res.Outcome]++
		attempts += res.Attempts
		if res.Polls > 0 {
			jobs++
			polls += res.Polls
		}
	}
	for o, c := range n {
		counts.Int(string(o), c)
	}
	ev := r.log.Info().Dict("outcomes", counts).Int("submissions", attempts).Int("polls", polls)
	if jobs > 0 {
		ev = ev.Float64("polls_per_job", float64(polls)/float64(jobs))
	}
	ev.Msg("run finished")
}

// run is the state of one Run.
type run struct {
	c     Client
	p     *plan.Plan
	opt   Options
	log   zerolog.Logger
	pacer *pacer
	jobs  *durations
	calls context.Context // every API call; detached from Run's ctx, ended Grace after a stop
	// cancelCalls ends calls.
	cancelCalls context.CancelFunc
	// interrupted is set when ctx ended before the run did.
	interrupted atomic.Bool
	// needed marks the steps that another step waits for.
	needed []bool
	events chan event
	stopCh chan struct{} // closed when submitting must stop

	mu       sync.Mutex
	results  []Result
	final    []bool
	stop     *Stop
	grace    *time.Timer
	freed    chan struct{} // closed, then replaced, whenever one of our jobs finishes
	streak   int           // consecutive submissions refused with streakCode
	lastCode string
	// doubt marks the steps an earlier run sent without an answer, until
	// they are checked; doubts counts them. No other step is submitted
	// while doubts > 0.
	doubt  []bool
	doubts int
}

type eventKind int

const (
	slotFreed  eventKind = iota // the step's job finished, or it never got one
	rowDone                     // the step reached its final outcome
	reconciled                  // a step in doubt was checked: new submissions may go
)

type event struct {
	index int
	kind  eventKind
}

func (r Result) withOutcome(o plan.Outcome, code, message string) Result {
	r.Outcome, r.Code, r.Message = o, code, message
	return r
}

// schedule launches a worker per step as soon as its dependencies and a
// slot allow, and returns when every worker is done and nothing more can
// be launched.
func (r *run) schedule() {
	// What an earlier run left (jobs to follow, submissions to check) goes
	// first; new submissions wait until every submission in doubt has
	// been checked.
	var pending, fresh []int
	for _, i := range r.p.Order {
		if _, ok := r.opt.Resume[i]; ok {
			pending = append(pending, i)
		} else {
			fresh = append(fresh, i)
		}
	}
	pending = append(pending, fresh...)
	slots, live := 0, 0
	for {
		if !r.stopped() {
			kept := pending[:0]
			waitDoubts := r.doubtsLeft() > 0
			for n, i := range pending {
				if slots >= r.opt.MaxJobs {
					// Full: the rest waits for a slot (and is checked then).
					kept = append(kept, pending[n:]...)
					break
				}
				if _, resumed := r.opt.Resume[i]; waitDoubts && !resumed {
					kept = append(kept, i)
					continue
				}
				switch ready, blocker := r.readiness(i); {
				case blocker >= 0:
					r.dependencyFailed(i, blocker)
				case ready && !r.stopped():
					slots++
					live++
					go r.work(i)
				default:
					kept = append(kept, i)
				}
			}
			pending = kept
		}
		if live == 0 {
			// Nothing runs, so nothing pending can become ready: either the
			// run stopped or every step was tried.
			return
		}
		select {
		case ev := <-r.events:
			switch ev.kind {
			case slotFreed:
				slots--
			case rowDone:
				live--
			case reconciled:
			}
		case <-r.stopCh:
			// Drain the workers; nothing more is launched.
			for live > 0 {
				if ev := <-r.events; ev.kind == rowDone {
					live--
				}
			}
			return
		}
	}
}

// readiness says whether step i may be submitted now, or which step it
// waited for ended without a deletion (blocker ≥ 0).
func (r *run) readiness(i int) (ready bool, blocker int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	ready = true
	for _, j := range r.p.Steps[i].After {
		if j < 0 || j >= len(r.results) {
			continue
		}
		switch {
		case r.final[j] && r.results[j].Outcome == plan.Deleted:
		case r.final[j]:
			return false, j
		default:
			ready = false
		}
	}
	return ready, -1
}

func (r *run) dependencyFailed(i, j int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	dep := r.p.Steps[j]
	msg := fmt.Sprintf("not submitted: this row waits for row %d, which transfers to this user and ended %s", dep.Line, r.results[j].Outcome)
	if r.results[j].Code != "" {
		msg += " (" + r.results[j].Code + ")"
	}
	msg += "; settle row " + fmt.Sprint(dep.Line) + " first, then run this row again"
	r.finish(i, r.results[i].withOutcome(plan.NotRun, "", msg))
}

func (r *run) doubtsLeft() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.doubts
}

// checked records that step i, sent by an earlier run without an answer,
// was checked (or ended): once none is left, new steps are submitted.
func (r *run) checked(i int) {
	r.mu.Lock()
	was := r.doubt[i]
	if was {
		r.doubt[i] = false
		r.doubts--
	}
	r.mu.Unlock()
	if was {
		r.events <- event{i, reconciled}
	}
}

func (r *run) stopped() bool {
	select {
	case <-r.stopCh:
		return true
	default:
		return false
	}
}

// halt stops submitting; the first reason given wins. Calls in flight and
// jobs already submitted get Grace to finish.
func (r *run) halt(s Stop) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.stop != nil {
		return
	}
	r.stop = &s
	close(r.stopCh)
	r.grace = time.AfterFunc(r.opt.Grace, r.cancelCalls)
	r.log.Warn().Str("reason", s.Reason).Bool("fatal", s.Fatal).Msg("submitting stopped")
}

// update records a row's interim result.
func (r *run) update(i int, f func(*Result)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	f(&r.results[i])
	if r.opt.OnChange != nil {
		r.opt.OnChange(r.results[i])
	}
}

// finish records a row's final result; r.mu must be held.
func (r *run) finish(i int, res Result) {
	if r.final[i] {
		return
	}
	res.FinishedAt = r.opt.Now()
	res.Final = true
	r.results[i] = res
	r.final[i] = true
	r.log.Info().Int("row", r.p.Steps[i].Line).Str("user_id", r.p.Steps[i].Request.UserID).
		Str("outcome", string(res.Outcome)).Str("code", res.Code).Str("job_id", res.JobID).
		Int("attempts", res.Attempts).Int("polls", res.Polls).Msg("row finished")
	if r.opt.OnChange != nil {
		r.opt.OnChange(res)
	}
}

// end records a row's final outcome.
func (r *run) end(i int, o plan.Outcome, code, message string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.finish(i, r.results[i].withOutcome(o, code, message))
}

// jobFreed returns a channel closed when one of our jobs next finishes.
func (r *run) jobFreed() <-chan struct{} {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.freed
}

// work submits step i and follows its job to the end.
func (r *run) work(i int) {
	var once sync.Once
	// zohoFree is cleared when the step's job still runs at Zoho although
	// the run lets go of it (--no-wait): the run's slot is released, but
	// workers waiting for one of Zoho's slots are not woken for nothing.
	zohoFree := true
	free := func() {
		once.Do(func() {
			if zohoFree {
				r.mu.Lock()
				close(r.freed)
				r.freed = make(chan struct{})
				r.mu.Unlock()
			}
			r.events <- event{i, slotFreed}
		})
	}
	defer func() { r.events <- event{i, rowDone} }()
	defer free()
	defer r.checked(i)

	st := &r.p.Steps[i]
	log := r.log.With().Int("row", st.Line).Str("user_id", st.Request.UserID).Logger()
	var job zoho.Job
	ok := true
	if res, found := r.opt.Resume[i]; found && res.JobID != "" {
		// An earlier run's job: follow it, never submit the user again.
		job = zoho.Job{ID: res.JobID, UserID: st.Request.UserID}
		r.update(i, func(out *Result) {
			out.JobID, out.Outcome, out.Attempts, out.SubmittedAt = res.JobID, plan.Submitted, res.Attempts, res.SubmittedAt
		})
		log.Info().Str("job_id", res.JobID).Msg("following the job of an earlier run")
	} else {
		job, ok = r.submit(i, log)
	}
	if !ok {
		return
	}
	if r.opt.NoWait && !r.needed[i] {
		zohoFree = false
		free()
		r.end(i, plan.Submitted, "", fmt.Sprintf("job %s submitted and not followed (--no-wait); check it in Zoho", job.ID))
		return
	}
	r.follow(i, job, free, log)
}

// submit sends step i until Zoho takes it, refuses it, or the run stops.
// ok is false when the row already has its final outcome.
func (r *run) submit(i int, log zerolog.Logger) (job zoho.Job, ok bool) {
	st := &r.p.Steps[i]
	res := r.opt.Resume[i]
	inDoubt := res.InDoubt // an earlier submission's answer was lost
	if res.Attempts > 0 {
		r.update(i, func(out *Result) { out.Attempts = res.Attempts })
	}
	unknowns, slotWaits := 0, 0
	rechecked := false // the user in doubt was read twice, a job's length apart
	notRun := func() {
		if inDoubt {
			r.end(i, plan.Failed, CodeOutcomeUnknown, "the answer to the submission was lost and the run stopped before it could be checked whether Zoho received it; check the user in Zoho, or run this row again (a deleted user is then skipped)")
			return
		}
		reason := "the run stopped before this row was submitted"
		if s := r.stopReason(); s != "" {
			reason += ": " + s
		}
		r.end(i, plan.NotRun, "", reason)
	}
	for {
		if r.stopped() {
			notRun()
			return job, false
		}
		if inDoubt {
			// Never send a write twice blindly: a user that is gone was
			// deleted by the submission we lost.
			u, err := r.readUser(i, log, 6)
			if err != nil {
				if r.fatalOnRead(err) || r.stopped() {
					notRun()
					return job, false
				}
				r.end(i, plan.Failed, CodeOutcomeUnknown, fmt.Sprintf("the answer to the submission was lost and the user could not be read back (%v); check the user in Zoho before running this row again", err))
				return job, false
			}
			if u.Deleted() {
				r.end(i, plan.Deleted, CodeReconciled, "Zoho's answer to the submission was lost; the user was then found deleted")
				return job, false
			}
			r.checked(i)
			if !rechecked {
				// The lost submission may have created a job that has not
				// finished yet, and Zoho's answer to a second submission
				// for a user with a running job is undocumented: give the
				// job the time jobs take, then look again before sending.
				rechecked = true
				wait := r.jobs.firstPoll()
				log.Info().Int64("wait_ms", wait.Milliseconds()).Msg("the user is not deleted yet; waiting a job's length before checking again")
				_ = sleepUnless(r.calls, r.stopCh, wait) // cut short by a stop: the loop's top ends the row
				continue
			}
		}
		if err := r.pacer.pause(r.calls, r.stopCh); err != nil {
			continue // the loop's top ends the row
		}
		r.update(i, func(res *Result) { res.Attempts++ })
		attempt := r.attempts(i)
		if r.opt.BeforeSubmit != nil {
			if err := r.opt.BeforeSubmit(i, attempt); err != nil {
				r.update(i, func(res *Result) { res.Attempts-- }) // not sent
				r.halt(Stop{Reason: "the journal could not be written, so nothing more is sent: " + err.Error(), Fatal: true})
				notRun()
				return job, false
			}
		}
		sent := r.pacer.now()
		job, err := r.c.TransferAndDelete(r.calls, st.Request)
		if r.opt.AfterSubmit != nil {
			r.opt.AfterSubmit(i, attempt, job, err)
		}
		class := zoho.Classify(err)
		if class != zoho.ClassRetry && class != zoho.ClassJobLimit {
			r.pacer.succeeded()
		}
		switch class {
		case zoho.ClassNone:
			r.breakerOK()
			r.update(i, func(res *Result) {
				res.JobID, res.JobStatus, res.Outcome, res.SubmittedAt = job.ID, zoho.JobScheduled, plan.Submitted, r.opt.Now()
			})
			log.Debug().Str("job_id", job.ID).Int("attempt", attempt).Msg("submitted")
			return job, true

		case zoho.ClassCanceled:
			// The grace period ended while the call was waiting to be sent.
			notRun()
			return job, false

		case zoho.ClassOutcomeUnknown:
			unknowns++
			inDoubt, rechecked = true, false
			log.Warn().Err(err).Int("attempt", attempt).Msg("submission answer lost, checking the user")
			if unknowns > 3 {
				r.end(i, plan.Failed, CodeOutcomeUnknown, fmt.Sprintf("%d submissions got no answer (%v) and the user is not deleted; check the user in Zoho before running this row again", unknowns, err))
				return job, false
			}

		case zoho.ClassRetry:
			d := r.pacer.backoff(sent, retryAfter(err))
			log.Warn().Err(err).Int("attempt", attempt).Int64("wait_ms", d.Milliseconds()).Msg("submission throttled, every worker backs off")

		case zoho.ClassJobLimit:
			// Another admin's jobs may hold Zoho's slots too: wait for one
			// of ours to finish, or a while if none of ours runs.
			d := backoffStep(r.opt.BackoffBase, r.opt.BackoffMax, slotWaits)
			slotWaits++
			log.Warn().Int("attempt", attempt).Int64("wait_ms", d.Milliseconds()).Msg("zoho's job slots are full, waiting for one")
			t := time.NewTimer(d)
			select {
			case <-t.C:
			case <-r.jobFreed():
			case <-r.stopCh:
			case <-r.calls.Done():
			}
			t.Stop()

		case zoho.ClassCreditsExhausted:
			r.halt(Stop{Reason: "Zoho's daily API credits are spent (429 with no credits remaining); they renew over 24 hours: run again later, finished rows are skipped"})
			notRun()
			return job, false

		default: // ClassFatal, ClassRejected
			var auth *zoho.AuthError
			if errors.As(err, &auth) {
				r.halt(Stop{Reason: "the credentials were refused: " + err.Error(), Fatal: true})
				notRun()
				return job, false
			}
			var api *zoho.APIError
			if errors.As(err, &api) && inDoubt {
				if id := api.Detail("job_id"); api.Code == zoho.CodeNotAllowed && id != "" {
					// The lost submission did create a job: follow it.
					// (Zoho's answer to a second submission for a user
					// with a running job is undocumented; the simulator
					// answers NOT_ALLOWED with details.job_id.)
					job = zoho.Job{ID: id, UserID: st.Request.UserID}
					r.update(i, func(res *Result) {
						res.JobID, res.JobStatus, res.Outcome, res.SubmittedAt = id, "", plan.Submitted, r.opt.Now()
					})
					log.Info().Str("job_id", id).Msg("the lost submission had created a job, following it")
					return job, true
				}
				if api.Code == zoho.CodeInvalidData && api.Detail("owner_status") == zoho.StatusDeleted && victimField(api) {
					r.end(i, plan.Deleted, CodeReconciled, "Zoho's answer to the submission was lost; Zoho then said the user is already deleted")
					return job, false
				}
			}
			code, msg := refusal(err)
			r.end(i, plan.Failed, code, msg)
			r.breakerRecord(code, err)
			return job, false
		}
	}
}

func (r *run) attempts(i int) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.results[i].Attempts
}

func (r *run) stopReason() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.stop == nil {
		return ""
	}
	return r.stop.Reason
}

func (r *run) breakerOK() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.streak, r.lastCode = 0, ""
}

// breakerRecord counts a submission refused with code; the same code on
// BreakerThreshold submissions in a row stops the run.
func (r *run) breakerRecord(code string, err error) {
	r.mu.Lock()
	if code == r.lastCode {
		r.streak++
	} else {
		r.streak, r.lastCode = 1, code
	}
	trip := r.streak >= r.opt.BreakerThreshold
	n := r.streak
	r.mu.Unlock()
	if trip {
		r.halt(Stop{Reason: fmt.Sprintf("the last %d submissions were all refused with %s (%v); the rest were not sent: fix the cause and run again", n, code, err)})
	}
}

// fatalOnRead stops the run for errors on reads that no retry can cure,
// and reports whether it did.
func (r *run) fatalOnRead(err error) bool {
	switch zoho.Classify(err) {
	case zoho.ClassCreditsExhausted:
		r.halt(Stop{Reason: "Zoho's daily API credits are spent (429 with no credits remaining); they renew over 24 hours: run again later, finished rows are skipped"})
		return true
	case zoho.ClassFatal:
		r.halt(Stop{Reason: "the credentials were refused: " + err.Error(), Fatal: true})
		return true
	case zoho.ClassCanceled:
		return true
	}
	return false
}

// readUser reads the user of step i, retrying transient errors through
// the shared pacer, at most attempts times.
//
// A 429 (Zoho's concurrency limit) does not count against attempts: it
// only says "later", and the shared pacer makes every worker wait, so the
// read is retried for as long as the run's calls may go on. Other
// transient errors (5xx, a dropped connection) are tried attempts times.
func (r *run) readUser(i int, log zerolog.Logger, attempts int) (zoho.User, error) {
	id := r.p.Steps[i].Request.UserID
	failures := 0
	for n := 1; ; n++ {
		if err := r.pacer.pause(r.calls, nil); err != nil {
			return zoho.User{}, err
		}
		sent := r.pacer.now()
		u, err := r.c.User(r.calls, id)
		if err == nil {
			r.pacer.succeeded()
			return u, nil
		}
		if zoho.Classify(err) != zoho.ClassRetry {
			return u, err
		}
		if !errors.Is(err, zoho.ErrRateLimited) {
			failures++
		}
		if failures >= attempts {
			return u, err
		}
		d := r.pacer.backoff(sent, retryAfter(err))
		log.Warn().Err(err).Int("attempt", n).Int64("wait_ms", d.Milliseconds()).Msg("user read failed, every worker backs off")
	}
}

// follow polls job until it finishes, then reads the user back.
func (r *run) follow(i int, job zoho.Job, free func(), log zerolog.Logger) {
	start := time.Now()
	deadline := start.Add(r.opt.JobTimeout)
	wait := r.jobs.firstPoll()
	first := true
	var unfinishedAt time.Duration // the job was last seen unfinished this long after submission
	lastStatus := ""
	stoppedFollowing := func(why string) {
		free()
		r.end(i, plan.Submitted, "", fmt.Sprintf("job %s was submitted, but %s; check the job in Zoho", job.ID, why))
	}
	for {
		if wait > 0 {
			if left := time.Until(deadline); wait > left {
				wait = max(left, 0)
			}
			if err := sleepUnless(r.calls, nil, wait); err != nil {
				stoppedFollowing("the run stopped before the job finished")
				return
			}
		}
		if err := r.pacer.pause(r.calls, nil); err != nil {
			stoppedFollowing("the run stopped before the job finished")
			return
		}
		r.update(i, func(res *Result) { res.Polls++ })
		sent := r.pacer.now()
		st, err := r.c.JobStatus(r.calls, job.ID)
		switch zoho.Classify(err) {
		case zoho.ClassNone:
			r.pacer.succeeded()
			lastStatus = st.Status
			r.update(i, func(res *Result) { res.JobStatus = st.Status })
			elapsed := time.Since(start)
			if st.Finished() {
				r.jobs.observe(unfinishedAt, elapsed)
				free()
				if st.Status == zoho.JobFailed {
					reason := st.Reason
					if reason == "" {
						reason = "Zoho gave no reason"
					}
					r.end(i, plan.Failed, CodeJobFailed, fmt.Sprintf("the job failed: %s; fix the cause in Zoho and run this row again", reason))
					return
				}
				r.verify(i, job, log)
				return
			}
			unfinishedAt = elapsed
			if !time.Now().Before(deadline) {
				stoppedFollowing(fmt.Sprintf("it was still %s after %s (--job-timeout)", lastStatus, r.opt.JobTimeout))
				return
			}
			wait = r.jobs.nextPoll(wait, first)
			first = false
		case zoho.ClassRetry:
			d := r.pacer.backoff(sent, retryAfter(err))
			log.Warn().Err(err).Str("job_id", job.ID).Int64("wait_ms", d.Milliseconds()).Msg("job status read failed, every worker backs off")
			wait = 0
			if !time.Now().Before(deadline) {
				stoppedFollowing(fmt.Sprintf("its status could not be read within %s (--job-timeout): %v", r.opt.JobTimeout, err))
				return
			}
		default:
			if errors.Is(err, zoho.ErrJobNotFound) {
				free()
				r.verifyLostJob(i, job, log)
				return
			}
			r.fatalOnRead(err)
			stoppedFollowing(fmt.Sprintf("its status could not be read (%v)", err))
			return
		}
	}
}

// verify reads the user back once after the job completed.
func (r *run) verify(i int, job zoho.Job, log zerolog.Logger) {
	u, err := r.readUser(i, log, 6)
	if err != nil {
		r.fatalOnRead(err)
		r.end(i, plan.Submitted, "", fmt.Sprintf("job %s completed, but the user could not be read back to confirm the deletion (%v); check the user in Zoho", job.ID, err))
		return
	}
	if !u.Deleted() {
		r.end(i, plan.Failed, CodeNotDeleted, fmt.Sprintf("job %s completed, but Zoho still shows the user as %s; check the user in Zoho, then run this row again", job.ID, u.Status))
		return
	}
	r.end(i, plan.Deleted, "", "")
}

// verifyLostJob decides a row whose job Zoho no longer knows.
func (r *run) verifyLostJob(i int, job zoho.Job, log zerolog.Logger) {
	u, err := r.readUser(i, log, 6)
	switch {
	case err != nil:
		r.fatalOnRead(err)
		r.end(i, plan.Submitted, "", fmt.Sprintf("Zoho no longer knows job %s and the user could not be read (%v); check the user in Zoho", job.ID, err))
	case u.Deleted():
		r.end(i, plan.Deleted, "", "")
	default:
		r.end(i, plan.Failed, CodeJobNotFound, fmt.Sprintf("Zoho no longer knows job %s and the user is still %s; run this row again", job.ID, u.Status))
	}
}

// backoffStep is base doubled n times, capped at max.
func backoffStep(base, max time.Duration, n int) time.Duration {
	d := base
	for range n {
		if d >= max/2 {
			return max
		}
		d *= 2
	}
	return min(d, max)
}

// victimField reports whether a refusal is about the user being deleted
// rather than a transfer or subordinates target (whose json_path names
// transfer or move_subordinate).
func victimField(api *zoho.APIError) bool {
	p := api.Detail("json_path")
	return !strings.Contains(p, "transfer_and_delete.transfer") && !strings.Contains(p, "move_subordinate")
}

// refusal turns a refused submission into a row's code and a message a
// person can act on: Zoho's own words, then what to do.
func refusal(err error) (code, message string) {
	var api *zoho.APIError
	if !errors.As(err, &api) {
		return "SUBMIT_ERROR", fmt.Sprintf("the submission was not sent: %v", err)
	}
	what := api.Message
	if what == "" {
		what = "no message"
	}
	var todo string
	switch api.Code {
	case zoho.CodeNoPermission:
		todo = "only the super admin may delete users: use a refresh token of the super admin"
	case zoho.CodeScopeMismatch:
		todo = "the refresh token lacks the scope ZohoCRM.users.ALL (or .DELETE): create a new one with that scope"
	case zoho.CodeInvalidData:
		switch {
		case api.Detail("owner_status") == zoho.StatusDeleted && victimField(api):
			todo = "the user is already deleted in Zoho: nothing more to do for this row"
		case api.Detail("owner_status") != "":
			todo = fmt.Sprintf("a transfer or subordinates target is %s in Zoho: pick an active user and run this row again", api.Detail("owner_status"))
		default:
			todo = "check the row's user and targets against Zoho, fix the row and run it again"
		}
	case zoho.CodeNotAllowed:
		todo = "Zoho does not allow this deletion as asked: change the row's targets (or settle the job already running for this user) and run it again"
	default:
		todo = "fix the cause and run this row again"
	}
	if f := api.Detail("api_name"); f != "" {
		what += " (field " + f + ")"
	}
	code = api.Code
	if code == "" {
		code = fmt.Sprintf("HTTP_%d", api.HTTPStatus)
	}
	return code, fmt.Sprintf("Zoho refused the submission: %s; %s", what, todo)
}
