package runner

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"offboard/pacer"
	"offboard/plan"
	"offboard/result"
	"offboard/zoho"
)

// Codes the runner gives rows, besides Zoho's own and the plan's.
const (
	// CodeJobFailed: the job ended failed; the message carries Zoho's reason.
	CodeJobFailed = "JOB_FAILED"
	// CodeNotDeleted: the job completed but the user read back is not deleted.
	CodeNotDeleted = "NOT_DELETED"
	// CodeReconciled: the submission's answer was lost, and the user was
	// then found deleted.
	CodeReconciled = "RECONCILED"
	// CodeOutcomeUnknown: the submission's answer was lost and the runner
	// could not find out what Zoho did: the user was not seen deleted
	// within the job timeout, could not be read, or the run had to stop
	// first.
	CodeOutcomeUnknown = "OUTCOME_UNKNOWN"
	// CodeJobNotFound: Zoho no longer knows the job, and the user is not
	// deleted.
	CodeJobNotFound = "JOB_NOT_FOUND"
)

// Client is what the runner needs of the Zoho client; *zoho.Client
// satisfies it. The client is expected to enforce --rate and
// --concurrency on every call itself, with waits that end with the call's
// context, and to refresh the access token once after 401 INVALID_TOKEN;
// the runner retries everything else.
type Client interface {
	// TransferAndDelete submits one user. beforeSend is called after the
	// client's every wait, immediately before the request is sent (again,
	// with the refusal, when a refused access token makes the client send
	// it once more); an error from it keeps the request from being sent.
	// Once the request has a connection, ctx no longer cancels it.
	TransferAndDelete(ctx context.Context, req zoho.TransferRequest, beforeSend func(refused error) error) (zoho.Job, error)
	JobStatus(ctx context.Context, jobID string) (zoho.JobStatus, error)
	User(ctx context.Context, id string) (zoho.User, error)
}

// Options configures Run. The zero value is usable: every field has a
// default.
type Options struct {
	// MaxJobs is how many of this run's jobs may be unfinished at once
	// (Zoho runs at most 10 per org); 0 means 10. A submission whose
	// answer was lost counts as an unfinished job until the user is seen
	// deleted or the job timeout has passed: it may have started one. At
	// 10, steps go ahead of free slots and Zoho's refusal holds the run to
	// its limit (should an org take more, the run counts at most twice
	// MaxJobs: see ahead.go).
	MaxJobs int
	// NoWait stops following a job once it is submitted: its row ends
	// submitted. Jobs that a later step waits for are still followed,
	// since that step may only be submitted once they completed.
	NoWait bool
	// JobTimeout bounds how long one job is followed after its
	// submission (a job still unfinished then leaves its row submitted),
	// and how long a user whose submission's answer was lost is watched
	// before the row ends failed with OUTCOME_UNKNOWN. It is also taken as
	// the longest a job can run: a submission in doubt older than that is
	// sent again (after reading the user) by a later run. It bounds, too,
	// how long the run waits while Zoho's job slots are all held by jobs
	// that are not this run's. 0 means 30 minutes.
	JobTimeout time.Duration
	// RequestTimeout is the longest a submission may take to reach Zoho
	// once sent: the client's deadline for one call. A submission in doubt
	// from an earlier run may have started its job that much after it was
	// recorded, so it is sent again only once it is older than
	// RequestTimeout plus JobTimeout. 0 means 60 s, the client's default.
	RequestTimeout time.Duration
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
	// 429 or another transient error, and the wait before trying Zoho's
	// job slots again after Zoho said they are all taken; 0 means 0.5 s
	// and 60 s. Zoho's concurrency 429 clears as soon as a call in flight
	// ends, and the pacer doubles the wait for every refusal of a call
	// sent after the last pause, so a short base costs little when the
	// trouble lasts.
	BackoffBase, BackoffMax time.Duration
	// Pacer is shared with the calls made before the run (reading the
	// org), so that a 429 answered to those still holds; nil means a new
	// one, bounded by BackoffBase and BackoffMax.
	Pacer *pacer.Pacer
	// JobDuration is a first guess of how long a job takes, from an
	// earlier run (the journal); 0 means none. Without one, the first job
	// is polled ever less often from PollMin until it ends, and the others
	// wait for it. Then jobs are polled as the run's finished jobs say
	// (see durations).
	JobDuration time.Duration
	// PollMin and PollMax bound the wait between two polls of one job;
	// 0 means 250 ms and 10 min. Between them, the wait is a share of the
	// job's age, so a job is seen done within about a third of its length.
	// A job a little past the length of jobs alike to it, and so due any
	// moment, or a job a step went ahead of, may be looked at again after
	// a fifth of PollMin.
	PollMin, PollMax time.Duration
	// ReadBackWait is how long the user of a completed job waits to be
	// read back with others (one call confirms up to 100 deletions; the
	// job's slot is free meanwhile); 0 means 30 min. Where the run's jobs
	// are swept, a user whose wait is over may wait up to half as long
	// again for the sweep under way or due next, which reads it too. The
	// users gathered are read back at once when a hundred are, when no other
	// row is left, when a later row waits for one of them, when the run
	// must stop, and once Zoho says the day's API credits are nearly
	// spent (3 per MaxJobs left).
	ReadBackWait time.Duration
	// Log receives one info line per row outcome and one warning per retry
	// or backoff. Once the run must stop, one warning says so and how many
	// jobs are followed for how long; the rows it then never sends are
	// logged at debug level, and counted in one line at the end.
	Log zerolog.Logger
	// InterruptNote ends the warning logged when Run's ctx ends: what the
	// person who interrupted the run can do next (offboard: "Ctrl-C again
	// to quit now"); "" adds nothing.
	InterruptNote string
	// OnChange, if set, is called whenever a row's result changes, with
	// the step's index and final set once the row has its final result. It
	// is called from one goroutine, in the order the changes happened, and
	// never with the runner's lock held: it may take its time (a journal
	// on a slow disk) without holding up the run. Run returns only after
	// the last call.
	OnChange func(index int, row result.Row, final bool)
	// Now gives the times recorded in results; nil means time.Now.
	Now func() time.Time
	// BeforeSubmit, if set, is called after every wait, immediately
	// before a submission is sent, with the step's index and the attempt's
	// number; the journal records the submission there and flushes it to
	// disk. An error stops the run (Fatal) and the call is not sent.
	BeforeSubmit func(index, attempt int) error
	// AfterSubmit, if set, is called for every attempt BeforeSubmit
	// accepted, when the call returns, with Zoho's job or the call's error,
	// before the runner acts on it; the journal records the answer there.
	// An error that wraps zoho.ErrNotSent means the attempt never left
	// (the run stopped before the request had a connection): nothing was
	// sent, and the attempt no longer counts.
	AfterSubmit func(index, attempt int, job zoho.Job, err error)
	// Resume carries what an earlier, interrupted run of the same plan
	// left behind, by step index: a job to follow instead of submitting,
	// or a submission whose answer never came.
	Resume map[int]Resume
}

// Resume is what an earlier run knows of one step.
type Resume struct {
	// JobID is the job an earlier submission created: it is followed, and
	// the user is not submitted again.
	JobID string
	// SubmittedAt is when that job was accepted.
	SubmittedAt time.Time
	// InDoubt is set when a submission was sent and no answer recorded.
	// Until that submission is older than the request timeout plus the job
	// timeout (any job it started has ended by then) the user is only
	// watched, never sent again; after that the user is read, and sent
	// again if still there.
	InDoubt bool
	// DoubtSince is when the submission in doubt was sent; zero means
	// now.
	DoubtSince time.Time
	// DoubtWindow is the request timeout plus the job timeout of the run
	// that sent it, when longer than this run's: that run may have let
	// its job run longer than this run would.
	DoubtWindow time.Duration
	// Attempts are the submission calls already made.
	Attempts int
}

// Defaults returns the options Run uses for the zero Options: the
// benchmarks scale them to their time scale.
func Defaults() Options { return Options{}.withDefaults() }

// Effective returns o as Run uses it: every unset option at its default.
func (o Options) Effective() Options { return o.withDefaults() }

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
	def(&o.RequestTimeout, time.Minute)
	def(&o.Grace, 30*time.Second)
	def(&o.BackoffBase, 500*time.Millisecond)
	def(&o.BackoffMax, time.Minute)
	def(&o.PollMin, 250*time.Millisecond)
	def(&o.PollMax, 10*time.Minute)
	def(&o.ReadBackWait, 30*time.Minute)
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Pacer == nil {
		o.Pacer = pacer.New(pacer.Options{Base: o.BackoffBase, Max: o.BackoffMax})
	}
	return o
}

// Stop says why the run stopped submitting before every step was tried.
type Stop struct {
	// Reason is one sentence for the operator.
	Reason string
	// Fatal is set when the run could not go on at all (credentials
	// refused, the accounts server unreachable, the journal unwritable):
	// exit status 1 rather than 3.
	Fatal bool
}

// Run submits the plan's planned steps to Zoho and follows their jobs.
//
// Steps are submitted in p.Order as soon as every step in their After has
// a completed, verified deletion, and fewer than MaxJobs of this run's
// jobs are unfinished. A step whose predecessor did not end deleted ends
// not_run, naming that row. rows are the steps' results as the run starts
// (the plan's verdicts, or what an earlier run settled), index-aligned
// with p.Steps; results are them at the end, the planned ones completed
// (deleted, submitted, failed, skipped or not_run); the others are copied
// through.
//
// Once the run must stop (ctx ends, the daily credits are spent, the
// circuit breaker trips, the credentials are refused) no submission
// starts: every wait before one ends, and the stop is checked again after
// the last wait, before the journal's record, and until the request has a
// connection. A request already on the wire is allowed to finish. Jobs
// already submitted are then followed for Options.Grace, and the steps
// never submitted end not_run; stop says why. A user whose submission's
// answer was lost is never submitted again by this run: it is watched
// until seen deleted or until the job timeout passes.
//
// err is ctx's error when ctx was cancelled, so that a cancellation is
// never taken for a failure; otherwise nil.
func Run(ctx context.Context, c Client, p *plan.Plan, rows []result.Row, opt Options) (results []result.Row, stop *Stop, err error) {
	if len(rows) != len(p.Steps) {
		return nil, nil, fmt.Errorf("runner: %d rows for %d steps", len(rows), len(p.Steps))
	}
	opt = opt.withDefaults()
	r := &run{
		c:        c,
		p:        p,
		began:    time.Now(),
		opt:      opt,
		log:      opt.Log,
		pacer:    opt.Pacer,
		jobs:     newDurations(opt.JobDuration, opt.PollMin, opt.PollMax),
		steps:    make([]stepState, len(p.Steps)),
		wake:     make(chan struct{}, 1),
		paceWake: make(chan struct{}, 1),
		spans:    map[int]*span{},
		poll:     &poller{wake: make(chan struct{}, 1)},
		out:      newOutbox(),
	}
	r.capacity = opt.MaxJobs
	r.aheadOn = opt.MaxJobs == ZohoJobLimit && !opt.NoWait
	r.needed = make([]bool, len(p.Steps))
	for _, st := range p.Steps {
		for _, j := range st.After {
			if j >= 0 && j < len(r.needed) {
				r.needed[j] = true
			}
		}
	}
	// Submissions wait on stopCtx: it ends the moment the run must stop.
	// Reads (polls, user reads) go on, on calls, which is detached from
	// ctx so that a Ctrl-C does not stop following the jobs already
	// submitted; it ends Grace after the stop.
	r.stopCtx, r.cancelStop = context.WithCancel(ctx)
	defer r.cancelStop()
	r.calls, r.cancelCalls = context.WithCancel(context.WithoutCancel(ctx))
	defer r.cancelCalls()

	var notified sync.WaitGroup
	notified.Go(func() { r.out.deliver(opt.OnChange) })

	// ctx's end reaches stopCtx, and so every wait, at once; the stop is
	// recorded by whoever sees it first: this, or stopped. This may run
	// before ctx's cancellation has reached stopCtx (both hang on ctx, in
	// no set order), and with no step waiting nothing else would ask
	// stopped again: the run went on past the stop, polling its last job
	// (seen once in CI, on a loaded machine). So it ends stopCtx itself.
	interrupt := func() {
		r.cancelStop()
		r.mu.Lock()
		if r.stop != nil && !r.interrupted.Load() {
			// The run was stopping already, for another reason: say what
			// the interruption leaves to happen.
			r.logStopping("interrupted while stopping", r.opt.Grace-time.Since(r.halted), true)
		}
		r.stopped()
		r.mu.Unlock()
		r.kick()
	}
	r.mu.Lock()
	r.stopped() // a ctx that ended already: nothing is sent
	r.mu.Unlock()
	defer context.AfterFunc(ctx, interrupt)()

	if bulk, ok := c.(bulkReader); ok {
		r.backs = &readBacks{bulk: bulk, wake: make(chan struct{}, 1)}
		r.backs.credits, _ = c.(creditsReporter)
		r.wg.Add(1)
		go r.readBackLoop()
	}
	r.begin(rows)
	r.wg.Add(1)
	go r.pollLoop()
	r.wg.Add(1)
	go r.paceLoop()
	r.schedule()
	r.cancelCalls() // ends the poller
	r.wg.Wait()

	r.mu.Lock()
	if r.grace != nil {
		r.grace.Stop()
	}
	if r.unsent > 0 {
		r.log.Warn().Int("rows_not_run", r.unsent).Str("reason", r.stop.Reason).
			Msgf("%d rows not run: the run stopped before they were submitted", r.unsent)
	}
	if r.probe != nil {
		r.probe.Stop()
	}
	results = make([]result.Row, len(r.steps))
	polls := 0
	for i := range r.steps {
		results[i] = r.steps[i].res
		polls += r.steps[i].polls
	}
	if r.stop != nil {
		s := *r.stop
		stop = &s
	}
	r.mu.Unlock()
	r.out.close()
	notified.Wait()
	r.logSummary(results, polls)
	if r.interrupted.Load() {
		return results, stop, ctx.Err()
	}
	return results, stop, nil
}

// phase is where a step stands.
type phase uint8

const (
	// waiting: not sent yet; it waits for its turn, its dependencies and a
	// job slot.
	waiting phase = iota
	// sending: a submitter owns it until Zoho answers.
	sending
	// running: its job is followed.
	running
	// inDoubt: its submission's answer was lost; the user is watched.
	inDoubt
	// done: it has its final result.
	done
)

// stepState is the runner's state of one step; run.mu guards it.
type stepState struct {
	phase phase
	res   result.Row
	polls int // job status calls made
	// holds is set while the step holds one of the MaxJobs job slots.
	holds bool
	// afterAheads is set once the step came back raced (see ahead.go): it
	// waits until no step sent ahead is on its way.
	afterAheads bool
	// check is set for a submission in doubt from an earlier run, older
	// than the job timeout: the user is read before anything is sent.
	check bool
}

// run is the state of one Run.
type run struct {
	c      Client
	p      *plan.Plan
	opt    Options
	log    zerolog.Logger
	pacer  *pacer.Pacer
	jobs   *durations
	needed []bool // the steps that another step waits for

	stopCtx     context.Context // every wait before a submission; ends at the stop
	cancelStop  context.CancelFunc
	calls       context.Context // every read; detached from Run's ctx, ended Grace after the stop
	cancelCalls context.CancelFunc
	interrupted atomic.Bool // Run's ctx ended before the run did

	wake chan struct{} // the scheduler has something to look at
	// paceWake tells paceLoop that what it decides on may have changed.
	paceWake chan struct{}
	wg       sync.WaitGroup // submitters, checks and the poller
	poll     *poller
	// laterSince is when submissions began to be answered "later" (a 429,
	// a 5xx before sending) with none answered since; zero while they are
	// answered. Guarded by mu.
	laterSince time.Time
	// backs gathers the users whose jobs completed, to read them back
	// together; nil when the client reads users one at a time.
	backs *readBacks
	// began is when the run began, and rows how many rows it set out to
	// end (those planned).
	began time.Time
	rows  int
	out   *outbox
	// sweepOff is set once sweeps cannot be trusted (stopSweeps): jobs
	// are each polled from then on (see sweep.go).
	sweepOff atomic.Bool

	mu    sync.Mutex
	steps []stepState
	open  int // steps without their final result
	stop  *Stop
	grace *time.Timer
	// halted is when the stop came.
	halted time.Time
	// unsent counts the steps ended not_run because the run stopped.
	unsent int
	// ended and failed count the run's jobs seen ended and, of them,
	// failed (see countEnd).
	ended, failed int
	// held counts the job slots held; capacity is how many may be held:
	// MaxJobs, less while Zoho refuses submissions because its own job
	// limit is reached by jobs that are not this run's.
	held, capacity int
	// sending counts the steps being sent (they hold slots too).
	sending int
	// aheadOn, over and claims are for submissions sent ahead of a free
	// slot: see ahead.go. A claim is a job alike due to end or a job a
	// sweep showed ended (claimShown), or nil: one of the jobs of spread
	// lengths has most likely ended (pace.go).
	aheadOn bool
	over    int
	claims  []*watch
	// shownOff is set once Zoho refused for its job limit a step sent
	// ahead of a job a sweep showed ended: this org's listing may not say
	// jobs ended (or another admin's job took the slot).
	shownOff bool
	// spans are the run's jobs followed, by step, and pace what paceLoop
	// knows of them: see pace.go.
	spans map[int]*span
	pace  pace
	// wasPaced is paced() as the scheduler last saw it.
	wasPaced bool
	// aheadSent and aheadRefused count the submissions sent ahead of a
	// free slot, and those Zoho did not take (refused for its job limit,
	// or answered "later").
	aheadSent, aheadRefused int
	// aheadEpoch counts the steps sent ahead so far; aheadsOut those not
	// answered yet.
	aheadEpoch, aheadsOut int
	// readyLeft is set when the scheduler's last pass left a step that
	// may go waiting for a slot: a job due may then let it go ahead.
	// unsentLeft is set when it left any step unsent: one that may go,
	// or one waiting on another row's job.
	readyLeft, unsentLeft bool
	probe                 *time.Timer   // lets one more submission try Zoho's slots
	probeWait             time.Duration // the last wait before such a try
	fullSince             time.Time     // Zoho said its slots were full, and none freed since
	notFollowed           []time.Time   // when each job let go of unfollowed (--no-wait) was accepted
	streak                int           // consecutive submissions refused with lastCode
	lastCode              string
}

// begin sets every step's first state: steps that are not planned keep
// the plan's verdict; an earlier run's jobs are followed, and its
// submissions in doubt watched or checked.
func (r *run) begin(rows []result.Row) {
	now := time.Now()
	var watches []*watch
	r.mu.Lock()
	for i, st := range r.p.Steps {
		s := &r.steps[i]
		s.res = rows[i]
		if st.Outcome != result.Planned {
			s.phase = done
			continue
		}
		r.open++
		r.rows++
		res, ok := r.opt.Resume[i]
		if !ok {
			continue
		}
		s.res.Attempts = res.Attempts
		switch {
		case res.JobID != "":
			// An earlier run's job: follow it, never submit the user again.
			s.phase = running
			s.res.JobID, s.res.Outcome, s.res.SubmittedAt = res.JobID, result.Submitted, res.SubmittedAt
			r.take(i)
			watches = append(watches, &watch{step: i, kind: watchJob, jobID: res.JobID,
				since: now, deadline: now.Add(r.opt.JobTimeout), due: now.Add(max(r.jobs.firstPoll(), r.opt.PollMin))})
			r.rowLog(i).Info().Str("job_id", res.JobID).Msg("following the job of an earlier run")
		case res.InDoubt:
			since := res.DoubtSince
			if since.IsZero() || since.After(now) {
				since = now
			}
			// It may have reached Zoho up to a request's timeout after it
			// was recorded, and its job may run for the job timeout.
			window := max(r.opt.RequestTimeout+r.opt.JobTimeout, res.DoubtWindow)
			if settled := since.Add(window); now.Before(settled) {
				// Any job it started may still run: watch the user, and
				// hold a slot for that job.
				s.phase = inDoubt
				r.take(i)
				watches = append(watches, &watch{step: i, kind: watchDoubt, resumed: true,
					since: since, deadline: settled, due: now})
				r.rowLog(i).Info().Time("sent", since).Msg("an earlier run's submission of this user got no answer; watching the user")
			} else {
				s.check = true
			}
		}
	}
	r.mu.Unlock()
	for _, w := range watches {
		r.watch(w)
	}
}

// schedule starts a submitter for every step that may go, until every
// step has its final result.
func (r *run) schedule() {
	for {
		r.mu.Lock()
		if r.open == 0 {
			r.mu.Unlock()
			return
		}
		start := r.startable()
		// A claim is for the moment it came: one no step took lapses.
		r.claims = nil
		// Polls of jobs of spread lengths came far apart while steps went
		// ahead of free slots; now that none do, they free the slots.
		paced := r.paced()
		unpaced := r.wasPaced && !paced
		roomFull := unpaced && r.mayPace()
		r.wasPaced = paced
		r.mu.Unlock()
		switch {
		case roomFull:
			r.pollLikeliest()
		case unpaced:
			r.unpace()
		}
		for _, l := range start {
			r.wg.Add(1)
			go r.submit(l)
		}
		r.pokePace() // readyLeft may have changed
		<-r.wake
	}
}

// startable marks the steps that may be sent now as sending, each with a
// job slot, and returns them; steps that never will be are ended. r.mu
// must be held.
func (r *run) startable() []launch {
	var start []launch
	r.readyLeft, r.unsentLeft = false, false
	for _, i := range r.p.Order {
		s := &r.steps[i]
		if s.phase != waiting {
			continue
		}
		if r.stopped() {
			r.endUnsent(i)
			continue
		}
		ready, blocker := r.readiness(i)
		switch {
		case blocker >= 0:
			r.dependencyFailed(i, blocker)
		case ready && s.afterAheads && r.aheadsOut > 0:
			// Raced: sent again once judged alone (aheadAnswered kicks).
		case ready && r.held-r.over < r.capacity:
			// Sent in its turn; while a step sent ahead is on its way, the
			// slot counted free may be the one it takes (see raced).
			s.phase, s.afterAheads = sending, false
			r.sending++
			r.take(i)
			start = append(start, launch{step: i, epoch: r.aheadEpoch, amid: r.aheadsOut > 0})
			// The end paceLoop expected may be the one that freed this
			// slot: its claim lapses.
			r.claims = slices.DeleteFunc(r.claims, func(w *watch) bool { return w == nil })
		case ready && len(r.claims) > 0 && r.aheadOn && r.capacity >= r.opt.MaxJobs && r.held < r.aheadRoom():
			// A job is due to end: this step goes ahead of its slot.
			s.phase, s.afterAheads = sending, false
			r.aheadSent++
			r.aheadEpoch++
			r.aheadsOut++
			r.sending++
			r.take(i)
			start = append(start, launch{step: i, ahead: true, near: r.claims[0]})
			r.claims = r.claims[1:]
		case ready:
			r.readyLeft = true
		}
		if s.phase == waiting {
			r.unsentLeft = true
		}
	}
	return start
}

// launch is a step to send: in its turn, or ahead of a free slot (see
// ahead.go), and then ahead of the job due, near, which the poller keeps
// (jobs alike: see watch.look; nil when lengths spread: see pace.go).
type launch struct {
	step  int
	ahead bool
	near  *watch // only its nearTaken is written, under r.mu
	// epoch and amid are, for a step sent in its turn, the count of steps
	// sent ahead so far and whether one was on its way when it went.
	epoch int
	amid  bool
}

// readiness says whether step i may be submitted now, or which step it
// waited for ended without a deletion (blocker ≥ 0). r.mu must be held.
func (r *run) readiness(i int) (ready bool, blocker int) {
	ready = true
	for _, j := range r.p.Steps[i].After {
		if j < 0 || j >= len(r.steps) {
			continue
		}
		switch s := &r.steps[j]; {
		case s.phase == done && s.res.Outcome == result.Deleted:
		case s.phase == done:
			return false, j
		default:
			ready = false
		}
	}
	return ready, -1
}

// dependencyFailed ends step i, which waited for step j, which did not
// end deleted. r.mu must be held.
func (r *run) dependencyFailed(i, j int) {
	dep := r.p.Steps[j]
	msg := fmt.Sprintf("not submitted: this row waits for row %d, which transfers to this user and ended %s", dep.Line, r.steps[j].res.Outcome)
	if c := r.steps[j].res.Code; c != "" {
		msg += " (" + c + ")"
	}
	msg += "; settle row " + fmt.Sprint(dep.Line) + " first, then run this row again"
	r.finish(i, result.NotRun, "", msg)
}

// endUnsent ends a step that this run never sent. r.mu must be held.
func (r *run) endUnsent(i int) {
	if r.steps[i].check {
		r.finish(i, result.Failed, CodeOutcomeUnknown, "an earlier run's submission of this user got no answer, and the run stopped before the user could be read; run this row again: the user is read before anything is sent")
		return
	}
	reason := "the run stopped before this row was submitted"
	if r.stopped() {
		reason += ": " + r.stop.Reason
	}
	r.finish(i, result.NotRun, "", reason)
}

// take gives step i a job slot. r.mu must be held.
func (r *run) take(i int) {
	if !r.steps[i].holds {
		r.steps[i].holds = true
		r.held++
	}
}

// release frees step i's job slot, if it holds one; ended is set when
// the slot's job (or the submission in doubt) ended, rather than a
// submission being refused. r.mu must be held.
func (r *run) release(i int, ended bool) {
	if s := r.spans[i]; s != nil {
		delete(r.spans, i)
		if s.polled > 0 {
			r.runningPolled()
		}
	}
	if r.steps[i].holds {
		r.steps[i].holds = false
		r.held--
		if ended && r.over > 0 {
			// One of the jobs Zoho had shown ended, by taking a job sent
			// ahead: its slot is in use already.
			r.over--
		}
		r.kick()
	}
}

// kick wakes the scheduler.
func (r *run) kick() {
	r.pokePace()
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// interruptedStop is the stop when Run's ctx ends: the Summary's and the
// rows' reason once the run has ended.
func interruptedStop(grace time.Duration) Stop {
	return Stop{Reason: fmt.Sprintf("interrupted: nothing more was submitted, and the jobs already submitted were followed for up to %s", grace)}
}

// halt stops submitting; the first reason given wins. Calls in flight and
// jobs already submitted get Grace to finish.
func (r *run) halt(s Stop) {
	r.mu.Lock()
	r.haltLocked(s)
	r.mu.Unlock()
	r.kick()
}

// haltLocked is halt with r.mu held.
func (r *run) haltLocked(s Stop) {
	if r.stop != nil {
		return
	}
	r.stop = &s
	r.halted = time.Now()
	r.cancelStop()
	r.grace = time.AfterFunc(r.opt.Grace, r.cancelCalls)
	r.logStopping("stopping", r.opt.Grace, r.interrupted.Load())
}

// logStopping logs, in one line, that nothing more is submitted and what
// the run does before it ends: the jobs it follows, for up to grace. An
// interruption's line ends with Options.InterruptNote. r.mu must be held.
func (r *run) logStopping(what string, grace time.Duration, interrupt bool) {
	// The jobs followed, and the submissions whose answer was lost
	// (watched until the user is seen deleted). A submission on the wire
	// becomes one when its answer comes; the others waiting are not sent.
	// A job seen ended holds no slot: its user is read back. Of the jobs
	// holding one, r.over had ended (Zoho took steps sent ahead of them).
	jobs, doubts, backs := 0, 0, 0
	for i := range r.steps {
		switch s := &r.steps[i]; {
		case s.phase == inDoubt:
			doubts++
		case s.phase == running && s.holds:
			jobs++
		case s.phase == running:
			backs++
		}
	}
	jobs = jobs - min(r.over, jobs) + doubts
	grace = max(grace, 0)
	if grace >= time.Second {
		grace = grace.Round(time.Second)
	}
	reading := ""
	switch backs {
	case 0:
	case 1:
		reading = "reading back the user of 1 completed job"
	default:
		reading = fmt.Sprintf("reading back the users of %d completed jobs", backs)
	}
	msg := what + ": nothing more is submitted; "
	switch {
	case jobs == 0 && backs == 0:
		msg += "no job to follow; writing the results"
	case jobs == 0:
		msg += reading + ", then writing the results"
	case jobs == 1:
		msg += fmt.Sprintf("following 1 job for up to %s", grace)
	default:
		msg += fmt.Sprintf("following %d jobs for up to %s", jobs, grace)
	}
	if jobs > 0 && backs > 0 {
		msg += " and " + reading
	}
	ev := r.log.Warn().Int("jobs_following", jobs).Int("users_to_read_back", backs).Float64("grace_s", grace.Seconds())
	if interrupt {
		if r.opt.InterruptNote != "" {
			msg += "; " + r.opt.InterruptNote
		}
	} else {
		ev = ev.Str("reason", r.stop.Reason).Bool("fatal", r.stop.Fatal)
	}
	ev.Msg(msg)
}

// stopped reports whether the run must stop. r.mu must be held. The end
// of Run's ctx ends stopCtx at once, and is recorded here as the stop if
// no other came first.
func (r *run) stopped() bool {
	if r.stop == nil && r.stopCtx.Err() != nil {
		r.interrupted.Store(true)
		r.haltLocked(interruptedStop(r.opt.Grace))
	}
	return r.stop != nil
}

// finish records step i's final result, frees its slot and tells
// OnChange. r.mu must be held.
func (r *run) finish(i int, o result.Outcome, code, message string) {
	s := &r.steps[i]
	if s.phase == done {
		return
	}
	res := s.res
	if o == result.Deleted && message == "" {
		// The plan's message says who received the records and the
		// subordinates: a deleted row keeps it.
		message = r.p.Steps[i].Message
	}
	res.Set(o, code, message)
	res.FinishedAt = r.opt.Now()
	s.res = res
	was := s.phase
	s.phase = done
	r.open--
	r.backs.poke() // the users gathered may be all that is left
	if was == sending {
		r.sending--
	}
	r.release(i, was == running || was == inDoubt)
	r.kick()
	st := &r.p.Steps[i]
	logged := res
	if logged.UserID == "" {
		logged.UserID = st.Request.UserID
	}
	ev := r.log.Info()
	if o == result.NotRun && r.stop != nil {
		// One of the rows a stop leaves unsent, which may be thousands:
		// they are counted in one line at the end.
		r.unsent++
		ev = r.log.Debug()
	}
	LogRow(ev, logged, stepEmail(st)).Int("attempts", res.Attempts).Int("polls", s.polls).Msg("row finished")
	r.out.put(i, res, true)
}

// end records step i's final result.
func (r *run) end(i int, o result.Outcome, code, message string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.finish(i, o, code, message)
}

// update changes step i's interim result and tells OnChange.
func (r *run) update(i int, f func(*result.Row)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	f(&r.steps[i].res)
	r.out.put(i, r.steps[i].res, false)
}

// polled counts a job status call of step i.
func (r *run) polled(i int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.steps[i].polls++
}

func (r *run) rowLog(i int) *zerolog.Logger {
	st := &r.p.Steps[i]
	l := r.log.With().Int("row", st.Line).Str("user_id", st.Request.UserID).Str("user_email", stepEmail(st)).Logger()
	return &l
}

// fatalOnRead stops the run for errors on reads that no retry can cure,
// and reports whether it did.
func (r *run) fatalOnRead(err error) bool {
	switch zoho.Classify(err) {
	case zoho.ClassCreditsExhausted:
		r.halt(creditsStop)
		return true
	case zoho.ClassFatal:
		var auth *zoho.AuthError
		if errors.As(err, &auth) || errors.Is(err, zoho.ErrUnauthorized) {
			r.halt(authStop(err))
			return true
		}
	case zoho.ClassCanceled:
		return true
	}
	return false
}

var creditsStop = Stop{Reason: "Zoho's daily API credits are spent (429 with no credits remaining); they renew over 24 hours: run again later, finished rows are skipped"}

// limitStop is the stop when Zoho has answered every call "later" for t:
// its API limits are reached (the daily credits, with no header saying
// so, or another app holding the org's concurrency).
func limitStop(t time.Duration, err error) Stop {
	unit := time.Second
	if t < time.Minute {
		unit = 10 * time.Millisecond
	}
	return Stop{Reason: fmt.Sprintf("limit reached: Zoho has answered every submission \"later\" for %s with none taken in between (%v): the org's API limits (its daily credits, or other apps' calls) are reached; the rest were not sent: run again later, finished rows are skipped", t.Round(unit), err)}
}

// authStop is the stop for an error that says no call can succeed: the
// credentials were refused, or the accounts server does not answer.
func authStop(err error) Stop {
	var auth *zoho.AuthError
	if errors.As(err, &auth) && auth.Unreachable {
		return Stop{Reason: err.Error() + "; nothing more is sent", Fatal: true}
	}
	return Stop{Reason: "the credentials were refused: " + err.Error(), Fatal: true}
}

// logSummary logs the run's counts and the status polls spent per job
// followed (the benchmark's measure of how few calls a user costs).
func (r *run) logSummary(results []result.Row, polls int) {
	var jobs, attempts int
	counts := zerolog.Dict()
	n := map[result.Outcome]int{}
	for i, res := range results {
		n[res.Outcome]++
		attempts += res.Attempts
		if r.steps[i].polls > 0 {
			jobs++
		}
	}
	for o, c := range n {
		counts.Int(string(o), c)
	}
	ev := r.log.Info().Dict("outcomes", counts).Int("submissions", attempts).Int("polls", polls)
	if jobs > 0 {
		ev = ev.Float64("polls_per_job", float64(polls)/float64(jobs))
	}
	r.mu.Lock()
	if r.aheadSent > 0 {
		// Of the submissions, those sent as a job was due to end, and
		// those Zoho did not take then (each sent again later).
		ev = ev.Int("sent_ahead", r.aheadSent).Int("ahead_not_yet", r.aheadRefused)
	}
	r.mu.Unlock()
	ev.Msg("run finished")
}

// outbox hands results to OnChange from one goroutine, in order, so that
// nobody who changes a result waits for OnChange.
type outbox struct {
	mu     sync.Mutex
	queue  []change
	closed bool
	more   chan struct{}
}

// change is one call of OnChange to make.
type change struct {
	index int
	row   result.Row
	final bool
}

func newOutbox() *outbox { return &outbox{more: make(chan struct{}, 1)} }

func (o *outbox) put(index int, row result.Row, final bool) {
	o.mu.Lock()
	o.queue = append(o.queue, change{index, row, final})
	o.mu.Unlock()
	select {
	case o.more <- struct{}{}:
	default:
	}
}

// close lets deliver return once the queue is empty.
func (o *outbox) close() {
	o.mu.Lock()
	o.closed = true
	o.mu.Unlock()
	select {
	case o.more <- struct{}{}:
	default:
	}
}

// deliver calls f with every result put, in order, until close.
func (o *outbox) deliver(f func(int, result.Row, bool)) {
	for {
		o.mu.Lock()
		batch, closed := o.queue, o.closed
		o.queue = nil
		o.mu.Unlock()
		if f != nil {
			for _, c := range batch {
				f(c.index, c.row, c.final)
			}
		}
		if closed && len(batch) == 0 {
			return
		}
		if len(batch) == 0 {
			<-o.more
		}
	}
}
