package runner

import (
	"container/heap"
	"context"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"offboard/result"
	"offboard/sandbox"
	"offboard/sandbox/sandboxtest"
)

// pacedRun is a run whose ten slots are held by ten jobs of spread
// lengths (1 s median, σ = 1 as learnt from twenty jobs), with a step
// waiting: the state in which steps go ahead by pace.
func pacedRun(now time.Time) *run {
	r := fullRun(250 * time.Millisecond)
	// Twenty lengths at the quantiles of a log-normal of median 1 s, σ 1:
	// each bracket's middle is the length.
	for k := range 20 {
		z := math.Sqrt2 * math.Erfinv(2*(float64(k)+0.5)/20-1)
		l := time.Duration(float64(time.Second) * math.Exp(z))
		r.jobs.observe(l*9/10, l*10/9)
	}
	for i := range ZohoJobLimit {
		r.spans[i] = &span{since: now.Add(-time.Duration(i) * 100 * time.Millisecond)}
	}
	return r
}

// fullRun is a run whose ten slots are held, with a step waiting and
// nothing known of the jobs' lengths.
func fullRun(pollMin time.Duration) *run {
	return &run{
		opt:     Options{MaxJobs: ZohoJobLimit, PollMin: pollMin, PollMax: 10 * time.Minute},
		stopCtx: context.Background(),
		jobs:    newDurations(0, pollMin, 10*time.Minute),
		spans:   map[int]*span{},
		aheadOn: true, readyLeft: true,
		capacity: ZohoJobLimit, held: ZohoJobLimit,
	}
}

// TestSpreadModelFitsTheLengths: the log-normal fitted to the recent
// jobs is the one they were drawn from; jobs alike fit none.
func TestSpreadModelFitsTheLengths(t *testing.T) {
	r := pacedRun(time.Now())
	m, ok := r.jobs.spreadModel(nil)
	if !ok {
		t.Fatal("spreadModel: no fit for twenty jobs from 0.1 s to 8 s")
	}
	if median := time.Duration(math.Exp(m.mu)); median < 950*time.Millisecond || median > 1050*time.Millisecond {
		t.Errorf("median %s, want 1 s", median)
	}
	// The twenty quantiles' deviation is a little under σ = 1.
	if m.sigma < 0.85 || m.sigma > 1.05 {
		t.Errorf("sigma %.2f, want about 1", m.sigma)
	}
	// A job seen done at a first poll 1 ns after its submission (a clock
	// that stood still) and one at the far end: the fit stays finite.
	odd := newDurations(0, time.Millisecond, time.Minute)
	odd.observe(0, 1)
	odd.observe(5*time.Second, 9*time.Second)
	if m, ok := odd.spreadModel([]time.Duration{time.Hour, math.MaxInt64}); !ok || math.IsNaN(m.mu+m.sigma) || math.IsInf(m.mu+m.sigma, 0) {
		t.Errorf("spreadModel = %+v, %v; want a finite fit", m, ok)
	}
	alike := newDurations(0, 250*time.Millisecond, 10*time.Minute)
	for range 5 {
		alike.observe(time.Second, 1050*time.Millisecond)
	}
	if _, ok := alike.spreadModel(nil); ok {
		t.Error("spreadModel fitted jobs alike: they are timed by their bracket, not paced")
	}
}

// TestExpectedEnds: the ends expected since the last step sent ahead,
// from each job's age and what is known of it.
func TestExpectedEnds(t *testing.T) {
	now := time.Now()
	m := lengths{mu: math.Log(float64(time.Second)), sigma: 1}
	r := &run{spans: map[int]*span{0: {since: now.Add(-time.Second)}}}
	near := func(got, want float64) bool { return math.Abs(got-want) < 1e-9 }
	// A job of the median's age, never seen running: even odds.
	if got := r.expectedEnds(m, now); !near(got, 0.5) {
		t.Errorf("one job at the median age: %.3f ends expected, want 0.5", got)
	}
	// Zoho refused a step sent ahead now: none had ended; a second later
	// the job of 2 s has the odds of a job past 1 s to end by 2 s.
	r.noneEnded(now)
	if got := r.expectedEnds(m, now); got != 0 {
		t.Errorf("right after a refusal: %.3f ends expected, want 0", got)
	}
	want := (m.cdf(2*time.Second) - m.cdf(time.Second)) / (1 - m.cdf(time.Second))
	if got := r.expectedEnds(m, now.Add(time.Second)); !near(got, want) {
		t.Errorf("a second after a refusal: %.3f ends expected, want %.3f", got, want)
	}
	// Zoho took a step sent ahead when 1.4 ends were expected: at least
	// one job had ended, and 0.86 more are expected to have.
	r.pace.expected = 1.4
	r.paceTaken(now)
	if got, want := r.expectedEnds(m, now), 1.4/(1-math.Exp(-1.4))-1; !near(got, want) {
		t.Errorf("right after a step taken: %.3f ends expected, want %.3f", got, want)
	}
	// A job far past every recent length counts for nothing: its polls
	// find it.
	r = &run{spans: map[int]*span{0: {since: now.Add(-time.Hour), unfinished: time.Hour}}}
	if got := r.expectedEnds(m, now.Add(time.Hour)); got != 0 {
		t.Errorf("a job far past every length: %.3f ends expected, want 0", got)
	}
}

// TestPaceWaitComesWhenAJobHasMostLikelyEnded: the next step goes ahead
// at the first moment paceEnds ends are expected, and not while a step
// sent ahead is on its way, the run stops, a slot is free, or no step
// waits.
func TestPaceWaitComesWhenAJobHasMostLikelyEnded(t *testing.T) {
	now := time.Now()
	r := pacedRun(now)
	r.noneEnded(now) // Zoho just refused one: no job had ended
	m, _ := r.model()
	wait, ok := r.paceWait(now)
	if !ok || wait <= 0 {
		t.Fatalf("paceWait = %s, %v; want a wait", wait, ok)
	}
	if e := r.expectedEnds(m, now.Add(wait)); e < paceEnds {
		t.Errorf("at the wait (%s): %.3f ends expected, want at least %g", wait, e, paceEnds)
	}
	if e := r.expectedEnds(m, now.Add(wait*97/100)); e >= paceEnds {
		t.Errorf("3 %% before the wait (%s): %.3f ends expected already", wait, e)
	}
	// Ten jobs of 1 s median, from 0 to 0.9 s old, none ended: paceEnds
	// of them end within a few tenths of a second.
	if wait < 50*time.Millisecond || wait > time.Second {
		t.Errorf("wait %s, want a few tenths of a second", wait)
	}
	if wait, ok := r.paceWait(now.Add(wait)); !ok || wait != 0 {
		t.Errorf("at the moment: paceWait = %s, %v; want now", wait, ok)
	}

	for _, c := range []struct {
		name  string
		apply func(r *run)
	}{
		{"a step sent ahead on its way", func(r *run) { r.aheadsOut = 1 }},
		{"a step already due to go", func(r *run) { r.claims = []*watch{nil} }},
		{"no step waits", func(r *run) { r.readyLeft = false }},
		{"a slot free", func(r *run) { r.held = ZohoJobLimit - 1 }},
		{"sending ahead stopped", func(r *run) { r.aheadOn = false }},
		{"the run stopping", func(r *run) { r.stop = &Stop{Reason: "interrupted"} }},
		{"room full", func(r *run) { r.held, r.over = 2*ZohoJobLimit, ZohoJobLimit }},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := pacedRun(now)
			c.apply(r)
			if wait, ok := r.paceWait(now.Add(time.Hour)); ok {
				t.Errorf("paceWait = %s, true; want no step sent ahead", wait)
			}
		})
	}
}

// TestPolledApartWhilePaced: while steps go ahead by pace, a job of
// spread length is polled first past the median and then at twice its
// age (PollMax aside: its polls only find which job ended); otherwise,
// when its polls are what frees the slots, as the lengths say.
func TestPolledApartWhilePaced(t *testing.T) {
	r := pacedRun(time.Now())
	median := r.jobs.firstPoll()
	unpaced := []time.Duration{median, r.opt.PollMax}
	if diff := cmp.Diff([]time.Duration{time.Duration(paceFirst * float64(median)), 30 * time.Minute},
		[]time.Duration{r.firstPoll(), r.nextPoll(&watch{learn: true}, 30*time.Minute)}); diff != "" {
		t.Errorf("paced: first poll and the wait after one at 30 min (-want +got):\n%s", diff)
	}
	// A job seen running at 0.1 s, far short of the lengths' median (one
	// of the first wave, seen while the short ones ended), is looked at
	// next where a new job would be, not at twice its age.
	m, _ := r.model()
	if got, want := r.nextPoll(&watch{learn: true}, 100*time.Millisecond), time.Duration(paceFirst*math.Exp(m.mu))-100*time.Millisecond; got != want || got < time.Second {
		t.Errorf("paced: wait after a poll at 0.1 s %s, want %s (1.25 × the median of about 1 s, less 0.1 s)", got, want)
	}
	for _, c := range []struct {
		name  string
		apply func(r *run)
	}{
		{"no step waits", func(r *run) { r.readyLeft = false }},
		{"another admin's jobs hold slots", func(r *run) { r.capacity, r.held = 4, 4 }},
		{"room full", func(r *run) { r.held = 2 * ZohoJobLimit }},
		{"the run stopping", func(r *run) { r.stop = &Stop{Reason: "interrupted"} }},
		{"sending ahead stopped", func(r *run) { r.aheadOn = false }},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := pacedRun(time.Now())
			c.apply(r)
			if diff := cmp.Diff(unpaced, []time.Duration{r.firstPoll(), r.nextPoll(&watch{learn: true}, 30*time.Minute)}); diff != "" {
				t.Errorf("first poll and the wait after one at 30 min (-want +got):\n%s", diff)
			}
		})
	}
	// Steps may go, but the lengths spread with one of them known (two
	// jobs seen running past it): nothing goes ahead without a fit, and
	// the polls are what frees the slots.
	r = pacedRun(time.Now())
	r.jobs = newDurations(0, r.opt.PollMin, r.opt.PollMax)
	r.jobs.observe(0, time.Second)
	r.spans[0].polled, r.spans[1].polled = 2*time.Second, 2*time.Second
	r.runningPolled()
	if !r.jobs.spread() {
		t.Fatal("two jobs running past the one length known: the lengths do not spread")
	}
	want := []time.Duration{max(r.jobs.firstPoll(), r.opt.PollMin), r.jobs.nextPoll(100 * time.Millisecond), r.jobs.nextPoll(30 * time.Minute)}
	if diff := cmp.Diff(want, []time.Duration{r.firstPoll(), r.nextPoll(&watch{learn: true}, 100*time.Millisecond), r.nextPoll(&watch{learn: true}, 30*time.Minute)}); diff != "" {
		t.Errorf("one length known: first poll, waits after one at 0.1 s and at 30 min (-want +got):\n%s", diff)
	}
}

// TestUnpaceBringsPollsForward: once no step goes ahead, polls of jobs
// of spread lengths timed while steps went ahead come when the lengths
// alone would have them (they free the slots now: the run's last wave, a
// stop, another admin's jobs).
func TestUnpaceBringsPollsForward(t *testing.T) {
	now := time.Now()
	r := pacedRun(now)
	r.poll = &poller{wake: make(chan struct{}, 1)}
	fresh := &watch{kind: watchJob, learn: true, since: now, due: now.Add(time.Hour)}
	polled := &watch{kind: watchJob, learn: true, since: now.Add(-20 * time.Second), looks: 2,
		unfinishedAt: 20 * time.Second, due: now.Add(20 * time.Second)}
	soon := &watch{kind: watchJob, learn: true, since: now, due: now.Add(time.Millisecond)}
	for _, w := range []*watch{fresh, polled, soon} {
		heap.Push(&r.poll.queue, w)
	}
	r.unpace()
	want := []time.Time{now.Add(r.jobs.firstPoll()), now.Add(r.jobs.nextPoll(20 * time.Second)), now.Add(time.Millisecond)}
	got := []time.Time{fresh.due, polled.due, soon.due}
	for i := range want {
		if d := got[i].Sub(want[i]); d < -time.Millisecond || d > time.Millisecond {
			t.Errorf("watch %d due %s after now, want %s", i, got[i].Sub(now), want[i].Sub(now))
		}
	}
}

// TestStaleClaimLapses: a step sent ahead by pace is not sent once the
// end it counted on may be spent: a step in its turn took a free slot in
// the same pass, or Zoho refused a step in its turn for its job limit
// (another admin's jobs) since.
func TestStaleClaimLapses(t *testing.T) {
	for _, c := range []struct {
		name  string
		apply func(r *run)
	}{
		{"a slot seen free", func(r *run) { r.steps[9], r.held = stepState{phase: done}, 9 }},
		{"capacity dropped", func(r *run) { r.held, r.capacity = 10, 9 }},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := makePlan(leaverPlan(12)...)
			r := pacedRun(time.Now())
			r.p = p
			r.steps = make([]stepState, len(p.Steps))
			for i := range 10 {
				r.steps[i] = stepState{phase: running, holds: true}
			}
			r.claims = []*watch{nil} // paceLoop: one end expected
			c.apply(r)
			r.mu.Lock()
			start := r.startable()
			r.mu.Unlock()
			for _, l := range start {
				if l.ahead {
					t.Errorf("step %d sent ahead on a claim that lapsed (held %d, capacity %d)", l.step, r.held, r.capacity)
				}
			}
		})
	}
}

// TestPacedAheadSpread: over HTTP, jobs of spread lengths, every slot
// held: steps go ahead of free slots by pace (none would otherwise: no
// job's poll stands for one), every row ends deleted, no user gets two
// jobs, and Zoho takes most of the steps sent ahead.
func TestPacedAheadSpread(t *testing.T) {
	for _, mode := range []sandbox.JobLimitAnswer{sandbox.ConcurrentJobLimit, sandbox.LimitReached} {
		t.Run(mode.String(), func(t *testing.T) {
			const n = 150
			s := newSim(t, sandbox.Config{Seed: leavers(n), JobDuration: 20 * time.Millisecond,
				JobDurations: spread(20 * time.Millisecond), JobLimitAnswer: mode, Latency: time.Millisecond}, 8)
			opt := aheadOptions(20 * time.Millisecond)
			opt.JobTimeout = 10 * time.Second
			runDeletesAll(t, s, n, opt)
			ahead, refusals := sentAhead(s.srv)
			t.Logf("%d steps sent ahead and taken, %d refused, at most %d jobs unfinished", ahead, refusals, maxUnfinished(s.srv))
			if ahead == 0 {
				t.Error("no step went ahead of a free slot while lengths spread")
			}
			if most := maxUnfinished(s.srv); most > ZohoJobLimit {
				t.Errorf("%d jobs unfinished at once, want at most Zoho's 10", most)
			}
		})
	}
}

// TestARunningJobPastTheTopSaysSpread: while the finished jobs agree on
// their length, a poll that finds a job still running well past their
// top says the lengths spread at once, not only once that job ends: its
// polls, and the other jobs', are timed so from then on. A job gone
// without ending (its timeout) says nothing more.
func TestARunningJobPastTheTopSaysSpread(t *testing.T) {
	d := newDurations(0, time.Millisecond, time.Minute)
	if d.runningFor(jobsAt(2, time.Second)) || d.spread() {
		t.Fatal("a job running while nothing is known says the lengths spread")
	}
	d.runningFor(nil) // that job ended
	for range 3 {
		d.observe(90*time.Millisecond, 100*time.Millisecond)
	}
	alike := d.doneBy()
	if d.runningFor(jobsAt(2, 105*time.Millisecond)) || d.spread() || !d.alike() {
		t.Fatal("a job running at 105 ms, within the answers' noise of jobs of 90–100 ms, says the lengths spread")
	}
	if !d.runningFor(jobsAt(2, 120*time.Millisecond)) {
		t.Error("a job running at 120 ms, past jobs of 90–100 ms: not reported as the change")
	}
	if !d.spread() || d.alike() || d.doneBy() != 0 {
		t.Errorf("a job running at 120 ms: spread %v, alike %v, done by %s; want spread, not alike, done by 0", d.spread(), d.alike(), d.doneBy())
	}
	median := time.Duration(math.Sqrt(float64(90*time.Millisecond) * float64(100*time.Millisecond)))
	if got := d.firstPoll(); got != median {
		t.Errorf("first poll of a new job %s, want the median %s", got, median)
	}
	growth := spreadGrowth
	if got, want := d.nextPoll(200*time.Millisecond), time.Duration(float64(200*time.Millisecond)*(growth-1)); got != want {
		t.Errorf("wait after a poll at 200 ms %s, want %s (growth as when lengths spread)", got, want)
	}
	if d.runningFor(jobsAt(2, 150*time.Millisecond)) {
		t.Error("the change reported twice")
	}
	d.runningFor(nil)
	if d.spread() || !d.alike() || d.doneBy() != alike {
		t.Errorf("the job gone without ending: spread %v, alike %v, done by %s; want alike again, done by %s", d.spread(), d.alike(), d.doneBy(), alike)
	}
}

// jobsAt is n running jobs, each last polled unfinished at age.
func jobsAt(n int, age time.Duration) []time.Duration {
	return slices.Repeat([]time.Duration{age}, n)
}

// TestOddJobsAfterTwentySayNothing: once twenty jobs have ended alike,
// two running long are odd ones (stuck, say), and the lengths stay alike;
// five, half of Zoho's slots, say the lengths grew.
func TestOddJobsAfterTwentySayNothing(t *testing.T) {
	d := newDurations(0, time.Millisecond, time.Minute)
	for range keepJobs {
		d.observe(90*time.Millisecond, 100*time.Millisecond)
	}
	if d.runningFor(jobsAt(4, time.Second)) || d.spread() || !d.alike() {
		t.Error("four jobs running long after twenty alike: the lengths spread")
	}
	if !d.runningFor(jobsAt(5, time.Second)) || !d.spread() {
		t.Error("five jobs running long after twenty alike: the lengths still alike")
	}
}

// TestRoomFullPollsTheLikeliest: steps wait and may go but for the room,
// full of the run's jobs, most of which Zoho has likely ended: one poll
// comes forward, that of the job with the soonest even odds of having
// ended, to that moment (now, if past), unless a poll comes sooner anyway;
// none while steps go ahead or the lengths are alike. Without a fit of
// the lengths, every poll comes forward, as in unpace.
func TestRoomFullPollsTheLikeliest(t *testing.T) {
	now := time.Now()
	later := now.Add(time.Hour)
	// Under pacedRun's lengths (median about 1 s): likely has ended (seen
	// running at 0.5 s, 5 s ago) with odds past even; young is 0.2 s old;
	// seen was seen running at 6 s, just now.
	queue := func() (likely, young, seen *watch) {
		return &watch{kind: watchJob, learn: true, since: now.Add(-5 * time.Second), unfinishedAt: 500 * time.Millisecond, looks: 1, due: later},
			&watch{kind: watchJob, learn: true, since: now.Add(-200 * time.Millisecond), due: later},
			&watch{kind: watchJob, learn: true, since: now.Add(-6 * time.Second), unfinishedAt: 6 * time.Second, looks: 3, due: later}
	}
	evenOdds := func(r *run, w *watch) time.Time {
		m, _ := r.model()
		a, _ := m.evenOdds(w.unfinishedAt)
		return w.since.Add(a)
	}
	for _, c := range []struct {
		name  string
		apply func(r *run, likely, young, seen *watch)
		// want is when each of likely, young and seen is due after.
		want func(r *run, likely, young, seen *watch) []time.Time
	}{
		{"room full", func(r *run, likely, young, seen *watch) {},
			func(r *run, likely, young, seen *watch) []time.Time { return []time.Time{now, later, later} }},
		{"none has likely ended yet", func(r *run, likely, young, seen *watch) { likely.unfinishedAt = 5 * time.Second },
			func(r *run, likely, young, seen *watch) []time.Time {
				return []time.Time{later, evenOdds(r, young), later}
			}},
		{"a poll due sooner", func(r *run, likely, young, seen *watch) { young.due = now.Add(-time.Millisecond) },
			func(r *run, likely, young, seen *watch) []time.Time { return []time.Time{later, young.due, later} }},
		{"room left", func(r *run, likely, young, seen *watch) { r.held = r.aheadRoom() - 1 },
			func(r *run, likely, young, seen *watch) []time.Time { return []time.Time{later, later, later} }},
		{"no step waits", func(r *run, likely, young, seen *watch) { r.readyLeft = false },
			func(r *run, likely, young, seen *watch) []time.Time { return []time.Time{later, later, later} }},
		{"lengths alike", func(r *run, likely, young, seen *watch) {
			r.jobs = newDurations(0, r.opt.PollMin, r.opt.PollMax)
			r.jobs.observe(900*time.Millisecond, time.Second)
		}, func(r *run, likely, young, seen *watch) []time.Time { return []time.Time{later, later, later} }},
		{"one length known, two jobs running past it", func(r *run, likely, young, seen *watch) {
			r.jobs = newDurations(0, r.opt.PollMin, r.opt.PollMax)
			r.jobs.observe(0, 100*time.Millisecond)
			r.spans[0].polled, r.spans[1].polled = time.Second, time.Second
			r.runningPolled()
		}, func(r *run, likely, young, seen *watch) []time.Time {
			first := max(r.jobs.firstPoll(), r.opt.PollMin)
			return []time.Time{now, young.since.Add(first), seen.since.Add(seen.unfinishedAt + r.jobs.nextPoll(seen.unfinishedAt))}
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := pacedRun(now)
			r.held = r.aheadRoom()
			r.poll = &poller{wake: make(chan struct{}, 1)}
			likely, young, seen := queue()
			c.apply(r, likely, young, seen)
			for _, w := range []*watch{likely, young, seen} {
				heap.Push(&r.poll.queue, w)
			}
			want := c.want(r, likely, young, seen)
			start := time.Now()
			r.pollLikeliest()
			r.pollLikeliest() // a second call brings nothing more forward
			for i, w := range []*watch{likely, young, seen} {
				// Now is when the call was made, to within its own time.
				if want[i].Equal(now) && !w.due.Before(start) && !w.due.After(time.Now()) {
					continue
				}
				if d := w.due.Sub(want[i]); d < -time.Millisecond || d > time.Millisecond {
					t.Errorf("watch %d due %s from now, want %s", i, w.due.Sub(now), want[i].Sub(now))
				}
			}
		})
	}
}

// TestOneOddJobDoesNotSaySpread: jobs alike, and one of them seen running
// far past them (stuck, or just long): the lengths are still taken as
// alike, and users go ahead of its slot as for jobs alike; a second one
// says they spread.
func TestOneOddJobDoesNotSaySpread(t *testing.T) {
	r := pacedRun(time.Now())
	r.steps = make([]stepState, ZohoJobLimit)
	r.jobs = newDurations(0, r.opt.PollMin, r.opt.PollMax)
	for range 5 {
		r.jobs.observe(90*time.Millisecond, 100*time.Millisecond)
	}
	r.stillRunning(3, time.Minute)
	if r.jobs.spread() || !r.jobs.alike() {
		t.Fatal("one job running for a minute among jobs of 0.1 s: the lengths spread")
	}
	r.stillRunning(5, 120*time.Millisecond)
	if !r.jobs.spread() || r.jobs.alike() {
		t.Error("two jobs running past jobs of 0.1 s: the lengths do not spread")
	}
	r.release(5, true)
	if r.jobs.spread() {
		t.Error("one of the two gone (its timeout): the lengths still spread")
	}
}

// TestFirstWaveSpreadFromARunningJob: over HTTP, a short job ends first
// (the others wait on it); of the next ten, three as short end at their
// first poll, seven far longer are seen running, and users wait. The
// lengths spread from the polls that find two of them running past the
// short ones, not once one of them ends: with four lengths known, users go
// ahead by pace and the seven are polled apart, rather than each looked
// at again and again just past a top it is far past.
func TestFirstWaveSpreadFromARunningJob(t *testing.T) {
	const n, short, long = 20, 10 * time.Millisecond, 400 * time.Millisecond
	s := newSim(t, sandbox.Config{Seed: leavers(n), JobDuration: long,
		JobDurations: func(id string) time.Duration {
			for i := range 4 {
				if id == leaverID(i) {
					return short
				}
			}
			return 0
		}}, 4)
	opt := fast()
	// No first guess: the probe's first poll, at PollMin, finds row 0's
	// job ended.
	opt.JobDuration, opt.PollMin, opt.PollMax, opt.JobTimeout = 0, 12*time.Millisecond, 10*time.Second, 20*time.Second
	rows := leaverPlan(n)
	for i := 1; i < n; i++ {
		rows[i].after = []int{0}
	}
	res, stop := runSim(t, s, makePlan(rows...), opt)
	if stop != nil {
		t.Fatalf("stop %+v", stop)
	}
	if diff := cmp.Diff(repeat(deleted, n), outcomes(res)); diff != "" {
		t.Fatalf("outcomes (-want +got):\n%s", diff)
	}
	sandboxtest.CheckOneJobPerUser(t, s.srv)
	polls := 0
	for i := 4; i <= 10; i++ {
		polls += pollsOf(s.srv, res[i].JobID)
	}
	// 6 polls a job here (10 to 11 when the seven were taken for jobs
	// alike until one of them ended).
	if polls > 8*7 {
		t.Errorf("the first wave's seven 400 ms jobs polled %d times, want at most 8 each", polls)
	}
}

// TestQueuedOrgPolledAsJobsEnd: over HTTP, an org that takes jobs past
// its ten (it queues them): the run counts 20 of its jobs as running and
// waits, its room full, while none may have ended. The job most likely
// ended is polled as its odds come even, not again and again: about as
// many polls a job as when the room is not full (8 here; 22 to 31 when a
// poll came forward to now after each that found its job running).
func TestQueuedOrgPolledAsJobsEnd(t *testing.T) {
	const n = 60
	s := newSim(t, sandbox.Config{Seed: leavers(n), JobDuration: 100 * time.Millisecond, JobLimitAnswer: sandbox.QueueBeyondLimit,
		JobDurations: spread(100 * time.Millisecond), Latency: time.Millisecond}, 25)
	opt := aheadOptions(100 * time.Millisecond)
	opt.JobTimeout = 20 * time.Second
	res := runDeletesAll(t, s, n, opt)
	polls := 0
	for _, r := range res {
		polls += pollsOf(s.srv, r.JobID)
	}
	if polls > 14*n {
		t.Errorf("%d polls for %d jobs, want at most 14 a job", polls, n)
	}
	if most := maxUnfinished(s.srv); most > 2*ZohoJobLimit {
		t.Errorf("%d jobs unfinished at once, want at most the room's 20", most)
	}
}

// TestAlikeWithOneLongJob: over HTTP, 200 jobs alike but one 60 times as
// long. Users go ahead of the others' slots as for jobs alike while it
// runs (11 to 65 refused here, over some 80 runs on loaded machines; 175
// to 197 when that one job made the lengths spread for as long as it ran,
// and users went ahead by pace).
func TestAlikeWithOneLongJob(t *testing.T) {
	if refused := alikeWithLongJobs(t, 200, 2*time.Second, 3); refused > 120 {
		t.Errorf("%d submissions refused for the job limit, want at most 120 (0.6 a user)", refused)
	}
}

// TestAlikeWithTwoLongJobs: over HTTP, 300 jobs alike but two, side by
// side well into the sheet, 50 times as long (stuck, say). Once twenty
// jobs have ended alike, two running past them are odd jobs, not lengths
// that spread: users go ahead as for jobs alike (23 to 39 refused here; 290
// to 347 when the two made the lengths spread for as long as they ran).
func TestAlikeWithTwoLongJobs(t *testing.T) {
	if refused := alikeWithLongJobs(t, 300, 1500*time.Millisecond, 40, 41); refused > 180 {
		t.Errorf("%d submissions refused for the job limit, want at most 180 (0.6 a user)", refused)
	}
}

// alikeWithLongJobs runs n leavers over HTTP, their jobs 30 ms but those
// of the rows long, each as long as long, and returns how many
// submissions Zoho refused for its job limit.
func alikeWithLongJobs(t *testing.T, n int, long time.Duration, rows ...int) (refused int) {
	t.Helper()
	s := newSim(t, sandbox.Config{Seed: leavers(n), JobDuration: 30 * time.Millisecond, Latency: time.Millisecond,
		JobDurations: func(id string) time.Duration {
			for _, i := range rows {
				if id == leaverID(i) {
					return long
				}
			}
			return 0
		}}, 8)
	opt := aheadOptions(30 * time.Millisecond)
	opt.JobTimeout = 10 * time.Second
	runDeletesAll(t, s, n, opt)
	_, refused = sentAhead(s.srv)
	t.Logf("%d submissions refused for the job limit", refused)
	return refused
}

// runDeletesAll runs the plan of n leavers over HTTP, and checks what
// every run here must end with: no stop, every row deleted, one job per
// user.
func runDeletesAll(t *testing.T, s *sim, n int, opt Options) []result.Row {
	t.Helper()
	return runDeletesAllWithin(t, s, n, opt, 60*time.Second)
}

// runDeletesAllWithin is runDeletesAll, failing if the run takes longer
// than timeout.
func runDeletesAllWithin(t *testing.T, s *sim, n int, opt Options, timeout time.Duration) []result.Row {
	t.Helper()
	res, stop, err := runOrDump(t, s, makePlan(leaverPlan(n)...), opt, timeout)
	if err != nil || stop != nil {
		t.Errorf("err %v stop %+v", err, stop)
	}
	if diff := cmp.Diff(repeat(deleted, n), outcomes(res)); diff != "" {
		t.Errorf("outcomes (-want +got):\n%s", diff)
	}
	sandboxtest.CheckOneJobPerUser(t, s.srv)
	return res
}

// TestLengthsThatGrowMidRun: over HTTP, 40 jobs of 30 ms, then 60 of
// 600 ms. Once five of the run's jobs run past the short ones' top, the
// lengths spread, though twenty have ended alike: the long jobs are not
// each looked at again and again just past a top they are far past
// (113 to 120 polls for the 60 here; 212 to 223 when only the first
// twenty jobs' running could say so).
func TestLengthsThatGrowMidRun(t *testing.T) {
	const n, short = 100, 40
	s := newSim(t, sandbox.Config{Seed: leavers(n), JobDuration: 30 * time.Millisecond, Latency: time.Millisecond,
		JobDurations: func(id string) time.Duration {
			if id >= leaverID(short) {
				return 600 * time.Millisecond
			}
			return 0
		}}, 8)
	opt := aheadOptions(30 * time.Millisecond)
	opt.JobTimeout = 20 * time.Second
	res := runDeletesAll(t, s, n, opt)
	polls := 0
	for _, r := range res[short:] {
		polls += pollsOf(s.srv, r.JobID)
	}
	t.Logf("%d polls for the %d long jobs", polls, n-short)
	if polls > 160 {
		t.Errorf("%d polls for the %d long jobs, want at most 160", polls, n-short)
	}
}

// TestTwoLengthsPaceByTheJobsAge: two lengths known (about 25 ms and
// 35 ms) and eight jobs running past them, Zoho having just refused a
// step sent ahead: the next step goes ahead after a share of the jobs'
// age that neither collapses nor vanishes as they age. (Fitted with the
// spread of the two lengths as it came, the fit followed the running
// jobs, all about to end: a step every 7 % of their age at 40 ms; then,
// once they were far past it, none for PollMax, the slots freed by polls
// alone.)
func TestTwoLengthsPaceByTheJobsAge(t *testing.T) {
	now := time.Now()
	ms := time.Millisecond
	for _, age := range []time.Duration{40 * ms, 60 * ms, 100 * ms, 200 * ms, 400 * ms} {
		r := fullRun(5 * ms)
		r.jobs.observe(20*ms, 30*ms)
		r.jobs.observe(28*ms, 42*ms)
		var ages []time.Duration
		for i := range ZohoJobLimit - 2 {
			r.spans[i] = &span{since: now.Add(-age - time.Duration(i)*ms), unfinished: age, polled: age}
			ages = append(ages, age)
		}
		r.jobs.runningFor(ages)
		r.noneEnded(now)
		wait, ok := r.paceWait(now)
		share := float64(wait) / float64(age)
		t.Logf("jobs running at %v: the next step goes ahead in %v (%.0f %% of their age)", age, wait, 100*share)
		if !ok || share < 0.15 || share > 0.5 {
			t.Errorf("jobs running at %v: the next step goes ahead in %v, %v; want 15 %% to 50 %% of their age", age, wait, ok)
		}
	}
}
