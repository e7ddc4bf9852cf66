package runner

import (
	"cmp"
	"container/heap"
	"math"
	"slices"
	"time"
)

// Steps sent ahead while job lengths spread.
//
// With lengths spread, no one job's poll says when a slot frees: any of
// the ten may end next. So a step goes ahead when one of the run's jobs
// has most likely ended, whichever it is: when the number of its jobs
// expected to have ended since the last step went ahead reaches paceEnds.
// That number comes from a log-normal fitted to the lengths of the recent
// jobs and of those still running (durations.spreadModel), each running
// job taken from its age and the latest age at which it was known
// unfinished: a poll that found it so, or a step sent ahead that Zoho
// refused for its job limit (all of the run's jobs were then most likely
// running). One such step is on its way at a time (steps may also go
// ahead of jobs a sweep showed ended: claimShown).
//
// Finding which job ended is left to the jobs' polls, which then come
// later and further apart (paceFirst, paceGrowth): they no longer free
// the slots. Sending ahead by each job's own polls, as before, sent one
// step per poll due, and Zoho refused 0.8 to 1.7 of them per user
// (BENCHMARKS.md §0).
//
// Nothing here bears on safety: it only times the steps that go ahead
// (ahead.go says what keeps those safe). A refusal never stands in for a
// poll, and the model is wrong at worst in the calls it spends.

const (
	// paceEnds is how many of the run's jobs are expected to have ended
	// since the last step sent ahead when the next one goes: were the ends
	// a Poisson count, Zoho would take it one time in two (1 − e^−0.7).
	// Lower sends more steps that Zoho refuses; higher leaves slots idle
	// for longer (0.6, 0.7, 0.9 and 1.4 were measured, BENCHMARKS.md §0).
	paceEnds = 0.7
	// paceFirst is how far past the median of the recent lengths a job
	// is polled first while steps go ahead by pace, and paceGrowth how
	// much its age grows between two polls then (uncapped by PollMax):
	// polls only find which job ended, and each one that finds the job
	// running is a call spent. Polled sooner, more of them find the job
	// running; later, jobs seen ended late keep their slots counted,
	// and the run may wait on aheadRoom.
	paceFirst  = 1.25
	paceGrowth = 2.0
)

// span is what paceLoop knows of one of the run's jobs: when Zoho took
// it, and the latest age at which it was known unfinished.
type span struct {
	since      time.Time
	unfinished time.Duration
	// polled is the latest age at which a poll found it unfinished.
	polled time.Duration
}

// pace is paceLoop's state, guarded by run.mu: the ends expected since
// mark (when the last step went ahead) start from carry; expected is the
// number expected when the last step went.
type pace struct {
	mark            time.Time
	carry, expected float64
}

// paced reports whether steps go ahead now (a step waits for a slot
// while sending ahead is on, and may go): while lengths spread, the jobs'
// polls then only find which job ended. Otherwise (another admin's jobs
// hold slots, the room is full, the run stops, no step waits) the polls
// are what frees the slots. r.mu must be held.
func (r *run) paced() bool {
	return r.mayPace() && r.held < r.aheadRoom()
}

// mayPace is paced but for the room: when it holds and paced does not,
// the room alone keeps steps from going ahead (see pollLikeliest). r.mu
// must be held.
func (r *run) mayPace() bool {
	return r.aheadOn && r.readyLeft && !r.stopped() && r.capacity >= r.opt.MaxJobs
}

// firstPoll is how long after its submission a new job is polled first.
// r.mu must be held.
func (r *run) firstPoll() time.Duration {
	t := r.jobs.firstPoll()
	if r.paced() && r.jobs.fits() {
		t = time.Duration(paceFirst * float64(t))
	}
	return max(t, r.opt.PollMin)
}

// nextPoll is the wait after a poll (or sweep) found w's job unfinished
// at age.
// Polls are far apart only while steps go ahead by pace, which takes a
// fit of the lengths: without one (a single length known) nothing goes
// ahead, and the polls are what frees the slots.
func (r *run) nextPoll(w *watch, age time.Duration) time.Duration {
	r.mu.Lock()
	var m lengths
	ok := false
	if r.paced() {
		m, ok = r.model()
	}
	tail := r.tailGap()
	r.mu.Unlock()
	var wait time.Duration
	if ok {
		// A job seen running well short of the lengths' median (one of
		// the first wave, polled while the short ones ended) is looked
		// at next where a new job would be.
		wait = max(time.Duration(float64(age)*(paceGrowth-1)), time.Duration(paceFirst*math.Exp(m.mu))-age, r.opt.PollMin)
	} else {
		wait = r.jobs.nextPoll(age)
	}
	if tail > 0 && w.learn {
		// In the tail, swept: see tailShare. (An earlier run's jobs are
		// not swept: each of their looks is a call.)
		wait = min(wait, tail)
	}
	return wait
}

// unpace brings forward the polls of jobs of spread lengths timed while
// steps went ahead by pace, to when the lengths alone would have them:
// none go ahead now, and a job seen ended late holds its slot idle.
func (r *run) unpace() {
	if !r.jobs.spread() {
		return
	}
	first := max(r.jobs.firstPoll(), r.opt.PollMin)
	r.mu.Lock()
	tail := r.tailGap()
	r.mu.Unlock()
	latest := time.Now().Add(tail)
	r.bringForward(func(w *watch) (time.Time, bool) {
		due := w.since.Add(first)
		if w.looks > 0 {
			due = w.since.Add(w.unfinishedAt + r.jobs.nextPoll(w.unfinishedAt))
		}
		if tail > 0 {
			// In the tail, swept: see tailShare.
			due = minTime(due, latest)
		}
		return due, w.looks == 0 || !w.claimed
	})
}

// pollLikeliest is unpace while the room alone keeps steps from going
// ahead: the run's jobs Zoho has most likely ended fill it, and a poll
// that finds one ended makes room again. Only one poll comes forward: that
// of the job with the soonest even odds of having ended (by the lengths'
// fit and its age when last seen running), to that moment, unless a poll
// comes before it anyway; pollJob calls this again after each poll that
// finds its job running. Bringing every job's poll forward, as unpace
// does, found the same one job at the price of a poll of each
// (BENCHMARKS.md §0); and where none of the jobs has ended (an org that
// queues jobs past ten, say), the polls come about as often as the
// lengths say jobs end.
func (r *run) pollLikeliest() {
	if !r.jobs.spread() {
		return // jobs alike: the lock is not taken after every poll
	}
	r.mu.Lock()
	full := r.mayPace() && !r.paced()
	var m lengths
	ok := false
	if full {
		m, ok = r.model()
	}
	r.mu.Unlock()
	if !full {
		return
	}
	if !ok {
		r.unpace()
		return
	}
	var best *watch
	var at, soonest time.Time
	r.poll.mu.Lock()
	for _, w := range r.poll.queue {
		if !w.ownJob() {
			continue
		}
		if soonest.IsZero() || w.due.Before(soonest) {
			soonest = w.due
		}
		if a, ok := m.evenOdds(w.unfinishedAt); ok && (best == nil || w.since.Add(a).Before(at)) {
			best, at = w, w.since.Add(a)
		}
	}
	if now := time.Now(); at.Before(now) {
		at = now
	}
	moved := best != nil && at.Before(soonest)
	if moved {
		best.due = at
		heap.Init(&r.poll.queue)
	}
	r.poll.mu.Unlock()
	switch {
	case best == nil:
		r.unpace()
	case moved:
		r.wakePoller()
	}
}

// stillRunning records that step i's job was unfinished at age.
func (r *run) stillRunning(i int, age time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.spans[i]
	if s == nil {
		return
	}
	s.unfinished, s.polled = max(s.unfinished, age), max(s.polled, age)
	r.runningPolled()
}

// runningPolled tells r.jobs the ages at which polls last found the
// run's running jobs unfinished: two running past the jobs alike so far
// say the lengths spread (one may be an odd job, or stuck, and jobs alike
// would be paced for as long as it runs; see durations.running). r.mu
// must be held.
func (r *run) runningPolled() {
	ages := make([]time.Duration, 0, len(r.spans))
	for _, s := range r.spans {
		if s.polled > 0 {
			ages = append(ages, s.polled)
		}
	}
	slices.SortFunc(ages, func(a, b time.Duration) int { return cmp.Compare(b, a) })
	if r.jobs.runningFor(ages) {
		r.pokePace()
	}
}

// noneEnded records that Zoho refused a step sent ahead at sentAt for
// its job limit: every job of the run was most likely unfinished then.
// r.mu must be held.
func (r *run) noneEnded(sentAt time.Time) {
	for _, s := range r.spans {
		if a := sentAt.Sub(s.since); a > s.unfinished {
			s.unfinished = a
		}
	}
	r.pace = pace{mark: sentAt}
}

// paceTaken records that Zoho took a step sent ahead at sentAt: at least
// one job had ended, and, were the ends a Poisson count of mean
// expected, E/(1−e^−E) − 1 more are expected to have. r.mu must be held.
func (r *run) paceTaken(sentAt time.Time) {
	e := r.pace.expected
	r.pace = pace{mark: sentAt}
	if e > 1e-3 {
		r.pace.carry = max(e/(1-math.Exp(-e))-1, 0)
	}
}

// lengths is a log-normal fitted to the recent jobs' lengths: ln L has
// mean mu and deviation sigma.
type lengths struct{ mu, sigma float64 }

// evenOdds is the age by which a job seen running at age u has even odds
// of having ended; ok is false far past every length.
func (m lengths) evenOdds(u time.Duration) (a time.Duration, ok bool) {
	c := m.cdf(u)
	if 1-c < 1e-9 {
		return 0, false
	}
	f := math.Exp(m.mu + m.sigma*math.Sqrt2*math.Erfinv(c))
	if f > float64(math.MaxInt64/2) {
		return 0, false
	}
	return time.Duration(f), true
}

// cdf is the share of jobs done by age a.
func (m lengths) cdf(a time.Duration) float64 {
	if a <= 0 {
		return 0
	}
	return 0.5 * math.Erfc(-(math.Log(float64(a))-m.mu)/(m.sigma*math.Sqrt2))
}

// model is the lengths of the run's jobs, fitted to those finished and
// those running (see durations.spreadModel). r.mu must be held.
func (r *run) model() (lengths, bool) {
	running := make([]time.Duration, 0, len(r.spans))
	for _, s := range r.spans {
		running = append(running, s.unfinished)
	}
	return r.jobs.spreadModel(running)
}

// expectedEnds is how many of the run's jobs are expected to have ended
// between the last step sent ahead and at. r.mu must be held.
func (r *run) expectedEnds(m lengths, at time.Time) float64 {
	e := r.pace.carry
	for _, s := range r.spans {
		left := 1 - m.cdf(s.unfinished)
		if left < 1e-9 {
			continue // far past every recent length: its polls find it
		}
		from := max(s.unfinished, r.pace.mark.Sub(s.since))
		if a := at.Sub(s.since); a > from {
			e += (m.cdf(a) - m.cdf(from)) / left
		}
	}
	return e
}

// paceWait is how long from now until a step should go ahead while
// lengths spread (0: now); ok is false when none should for now.
// r.mu must be held.
func (r *run) paceWait(now time.Time) (wait time.Duration, ok bool) {
	if !r.mayGoAhead() || r.aheadsOut > 0 || len(r.claims) > 0 {
		return 0, false
	}
	m, ok := r.model()
	if !ok {
		return 0, false
	}
	if r.expectedEnds(m, now) >= paceEnds {
		return 0, true
	}
	// The ends expected grow with time: the first moment they reach
	// paceEnds, to within a hundredth (or a millisecond); no later than
	// PollMax, when it is worked out again.
	lo, hi := time.Duration(0), r.opt.PollMax
	if r.expectedEnds(m, now.Add(hi)) < paceEnds {
		return hi, true
	}
	for hi-lo > time.Millisecond && hi-lo > hi/100 {
		mid := (lo + hi) / 2
		if r.expectedEnds(m, now.Add(mid)) >= paceEnds {
			hi = mid
		} else {
			lo = mid
		}
	}
	return hi, true
}

// paceLoop sends a step ahead of a free slot when, while lengths spread,
// one of the run's jobs has most likely ended (see above), until the
// run's calls end.
func (r *run) paceLoop() {
	defer r.wg.Done()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		now := time.Now()
		next := time.Hour
		r.mu.Lock()
		if wait, ok := r.paceWait(now); ok && wait > 0 {
			next = wait
		} else if ok {
			m, _ := r.model()
			r.pace.expected = r.expectedEnds(m, now)
			r.claims = append(r.claims, nil)
			r.kick()
		}
		r.mu.Unlock()
		timer.Reset(next)
		select {
		case <-timer.C:
		case <-r.paceWake:
		case <-r.calls.Done():
			return
		}
	}
}

// pokePace tells paceLoop to work out again when the next step goes;
// while jobs are alike it has nothing to do, and is left asleep (woken on
// every change, it took the run's lock for nothing and held up the
// scheduler: BENCHMARKS.md §0).
func (r *run) pokePace() {
	if !r.jobs.spread() {
		return
	}
	select {
	case r.paceWake <- struct{}{}:
	default:
	}
}
