package runner

import (
	"container/heap"
	"math"
	"slices"
	"time"

	"offboard/result"
	"offboard/zoho"
)

// Sweeps: many jobs looked at in one call.
//
// A job's status is read one job per call. But a job that completed has
// deleted its user, and one GET /users?type=DeletedUsers&ids=… shows
// which of up to 100 users are deleted. So while the lengths are not
// known to be alike (nothing is known yet, or they spread), a job's look
// that comes due is made a sweep: one call reads the users of every job
// the run follows (their looks due or not) and of the first wave's jobs
// waiting on the probe, and only the jobs whose users it shows deleted
// are polled: at once, or, when steps waiting for a slot went ahead of
// them (claimShown), a moment later (pollSoon). A job it does not show
// deleted counts as seen running then, as after a poll, and keeps its
// next look (see sweep).
// While users go ahead by pace, sweeps come no closer than sweepGap.
//
// A sweep also reads the users gathered to be read back (their jobs
// completed), and stands in for the read-back of those it shows deleted.
//
// A sweep never ends a job's row by what it shows of the job's end (it
// ends only the rows of users gathered for the read-back, whose jobs were
// seen completed before it was sent): the job's own poll says whether it
// completed or failed, as without sweeps. Zoho does not document when a
// user shows deleted, so the runner relies on none of it. Sweeps stop for
// the run (stopSweeps), and jobs are polled as before, when:
//   - a poll finds running a job whose user a sweep showed deleted (Zoho
//     shows users deleted as their jobs start, say);
//   - a sweep does not show deleted the user of a job seen completed
//     (Zoho lists deletions late, or never);
//   - a sweep's call fails, or Zoho answers users not asked for (it
//     ignores ids);
//   - failed jobs, which delete no one, are one in ten of those ended.
//
// Until then a job is still polled itself, ever less often: once its age
// is sweepFallback times what it was when last polled (or first swept).
//
// Where jobs are alike, each one's poll comes about as it ends, one at a
// time, and a sweep would save nothing: they are not swept.

// sweepFallback is how much older than when it was last polled (or
// first swept) a job is when it is polled itself, whatever the sweeps
// found: a failed job deletes nothing, and only its poll finds it. (At
// 3, a hundred jobs spread around 30 min had 24 to 28 such polls, most
// finding the job running; 14 to 22 at 4, and about 0.1 fewer calls per
// user for a hundred spread jobs of any length: BENCHMARKS.md §0.)
const sweepFallback = 4

// sweepEnds is how many of the run's jobs are expected to have ended,
// while steps go ahead by pace, between two sweeps: a sweep sooner than
// that is put off (see sweepGap). Polls then only find which jobs ended,
// and each sweep is a call.
const sweepEnds = 3

// sweepGap is the least time between two sweeps while steps go ahead by
// pace: how long the run's jobs take to end sweepEnds of them, by the
// fit of their lengths, and no longer than their median (0: no least
// time). Options.PollMax does not bound it, as it does not bound those
// jobs' polls (see paceGrowth): capped at it, a hundred jobs spread
// around 30 min were swept half as often again (0.33 to 0.37 reads per
// user, 0.34 to 0.43 capped). The median does, as the mean grows without
// bound with the spread (lengths of 5 s and 30 min, half and half: a mean
// of two hours).
func (r *run) sweepGap() time.Duration {
	if r.backs == nil || r.sweepOff.Load() || !r.jobs.spread() {
		return 0
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.paced() {
		return 0
	}
	m, ok := r.model()
	if !ok {
		return 0
	}
	mean := math.Exp(m.mu + m.sigma*m.sigma/2)
	return time.Duration(min(sweepEnds*mean/float64(r.opt.MaxJobs), math.Exp(m.mu)))
}

// tailShare is how far apart looks at the run's jobs come once no step
// waits for a slot (the run's tail; also while the steps left wait on
// others' jobs, or after a stop) and they are swept, as a share of the
// time the run has taken so far: the run's last job is then seen ended
// at most that share of the run late. Spaced by the lengths alone (40 %
// of a job's age), the last and longest job of a hundred spread was seen
// ended up to a sixth of the run late (BENCHMARKS.md §0).
//
// Each look costs a call: about 1/share of them for each e-fold of the
// tail (a tail as long again as the run before it: 0.7/share; ten times
// as long: 2.3/share), most of them polls of the last job alone (28 or
// 29 for a job of 3 s at the end of a hundred short ones, against 9
// spaced by its age). So the share is no less than one over the rows the
// run set out to end, which bounds those calls per row. (Five over the
// rows, 0.25 at twenty, spent 0.15 to 0.7 fewer calls per row of twenty
// spread, and left the run 1.13 to 1.33 times the ideal from 0.5 s to
// 10 min, where 0.05 had 1.02 to 1.17: BENCHMARKS.md §0.)
//
// It is the share for the last job alone. Once no row is left to send,
// while k of the run's jobs run, the looks come √k times further apart:
// only the last end bears on the run's length, and one of k is the last
// only if the others end before it; the last jobs ending close together
// are seen up to √k shares late, and no more than tailWidest of the run
// (should all ten end at once). (Of twenty spread, a tail of ten jobs
// spent 0.5 calls per row fewer, the runs as long within their noise:
// BENCHMARKS.md §0.) While a row waits on another row's job, that job's
// end bears on it too: the share is not widened.
const tailShare = 0.05

// tailWidest is the widest share √k widens the tail's to: √10 times
// tailShare, not √10 times one over the rows of a run of fewer than
// twenty (a third of the run for ten rows).
const tailWidest = 0.16

// tailGap is the most time between two looks at the run's jobs in the
// tail, while they are swept (0: not in the tail, or not swept). r.mu
// must be held.
func (r *run) tailGap() time.Duration {
	if r.readyLeft || r.backs == nil || r.sweepOff.Load() || !r.jobs.spread() {
		return 0
	}
	share := max(tailShare, 1/float64(max(r.rows, 1)))
	if !r.unsentLeft {
		share = max(share, min(share*math.Sqrt(float64(max(r.held, 1))), tailWidest))
	}
	return max(time.Duration(share*float64(time.Since(r.began))), r.opt.PollMin)
}

// sweepable reports whether polls due now may be made one sweep: the
// client reads many users at once, sweeps have not been found wrong, and
// the lengths are not known to be alike.
func (r *run) sweepable() bool {
	return r.backs != nil && !r.sweepOff.Load() && !r.jobs.alike()
}

// sweeps reports whether w's next look may be a sweep's.
func (w *watch) sweeps(now time.Time) bool {
	age := now.Sub(w.since)
	return w.kind == watchJob && w.learn && w.deletedAt == 0 && now.Before(w.deadline) &&
		(w.checkedAt == 0 || age < sweepFallback*w.checkedAt)
}

// gatherSweep takes out of due, and out of the queue, the looks a sweep
// makes now, and returns them with the parked jobs it also reads (left
// parked). It returns nothing when fewer than two jobs would be read: one
// poll then costs the same call. Within gap of the last sweep, the looks
// due that a sweep would make wait for its end. r.poll.mu must be held.
func (r *run) gatherSweep(due []*watch, now time.Time, gap time.Duration) (rest, batch, parked []*watch) {
	if next := r.poll.swept.Add(gap); now.Before(next) {
		// Too soon after the last sweep: the looks it would make wait
		// for the next.
		for _, w := range due {
			if w.sweeps(now) {
				// No later than its own poll (see sweepFallback).
				w.due = minTime(next, w.deadline)
				if w.checkedAt > 0 {
					w.due = minTime(w.due, w.since.Add(sweepFallback*w.checkedAt))
				}
				heap.Push(&r.poll.queue, w)
				continue
			}
			rest = append(rest, w)
		}
		return rest, nil, nil
	}
	probe := false
	for _, w := range due {
		if w.sweeps(now) && len(batch) < zoho.MaxIDs {
			batch = append(batch, w)
			probe = probe || w.probe
			continue
		}
		rest = append(rest, w)
	}
	if len(batch) == 0 {
		return due, nil, nil
	}
	if probe {
		parked = r.poll.parked[:min(len(r.poll.parked), zoho.MaxIDs-len(batch))]
	}
	var others []*watch
	for _, w := range r.poll.queue {
		if len(batch)+len(parked)+len(others) < zoho.MaxIDs && w.sweeps(now) {
			others = append(others, w)
		}
	}
	if len(batch)+len(parked)+len(others) < 2 {
		return due, nil, nil
	}
	if len(others) > 0 {
		keep := r.poll.queue[:0]
		for _, w := range r.poll.queue {
			if index(others, w) < 0 {
				keep = append(keep, w)
			}
		}
		r.poll.queue = keep
		heap.Init(&r.poll.queue)
		batch = append(batch, others...)
	}
	r.poll.swept = now
	r.poll.sweeping++
	return rest, batch, append([]*watch(nil), parked...)
}

// nextSweep returns when the next sweep is due to be sent: the earliest
// look that the poller is to make a sweep, no sooner than sweepGap after
// the last sweep; underway if a sweep sent after since (when the oldest
// user gathered to be read back was gathered: that sweep reads it) is yet
// to be answered; ok false if none is in sight (the jobs are not swept,
// or fewer than two would be read).
func (r *run) nextSweep(since time.Time) (at time.Time, underway, ok bool) {
	if !r.sweepable() {
		return time.Time{}, false, false
	}
	gap := r.sweepGap()
	r.poll.mu.Lock()
	defer r.poll.mu.Unlock()
	if r.poll.sweeping > 0 && !r.poll.swept.Before(since) {
		return time.Time{}, true, true
	}
	var first *watch
	for _, w := range r.poll.queue {
		if w.sweeps(w.due) && (first == nil || w.due.Before(first.due)) {
			first = w
		}
	}
	if first == nil {
		return time.Time{}, false, false
	}
	at = maxTime(first.due, r.poll.swept.Add(gap))
	n := 0
	if first.probe {
		n = len(r.poll.parked)
	}
	for _, w := range r.poll.queue {
		if w.sweeps(at) {
			n++
		}
	}
	return at, false, n >= 2
}

// sweep reads the users of batch's and parked's jobs in one call; the
// jobs of those shown deleted are polled (steps waiting for a slot go
// ahead of them first: claimShown), the others are looked at again later,
// as after a poll that found them running.
func (r *run) sweep(batch, parked []*watch) {
	defer r.wg.Done()
	all := append(append([]*watch(nil), batch...), parked...)
	completed := r.backs.waiting(zoho.MaxIDs - len(all))
	all = append(all, completed...)
	sent := time.Now()
	ids, deleted, unasked, err := r.readDeleted(all, "look for ended jobs among %d users")
	if err == nil {
		r.sweptCompleted(completed, ids[len(all)-len(completed):], deleted)
	}
	switch {
	case err != nil && r.calls.Err() != nil:
		// The run's calls ended (its grace is over): nothing to say.
	case err != nil:
		r.stopSweeps("looking for ended jobs together failed: each job is polled for its end from now on", err)
	case unasked:
		// Only the first page is read: users asked for may be on others.
		r.stopSweeps("Zoho answered users not asked for (it ignores ids): each job is polled for its end from now on", nil)
	}
	r.poll.mu.Lock()
	r.poll.sweeping--
	r.poll.mu.Unlock()
	// The users gathered to be read back may have waited for this sweep
	// (see readBackIn).
	r.backs.poke()
	if err != nil {
		// Each job's look comes when it was due.
		for _, w := range batch {
			if w.due.After(sent) {
				r.watch(w)
				continue
			}
			r.wg.Add(1)
			go r.look(w)
		}
		return
	}
	r.mu.Lock()
	tail := r.tailGap()
	r.mu.Unlock()
	var shown []*watch
	for k, w := range batch {
		age := sent.Sub(w.since)
		if deleted[ids[k]] {
			w.deletedAt = age
			shown = append(shown, w)
			continue
		}
		if !time.Now().Before(w.deadline) {
			// Past its deadline: its poll ends the row.
			r.wg.Add(1)
			go r.look(w)
			continue
		}
		// A job looked at before its look was due (for others) keeps that
		// look, and is polled itself by when it was due.
		planned := w.due
		w.looks++
		if w.checkedAt == 0 {
			w.checkedAt = max(age, planned.Sub(w.since))
		}
		w.unfinishedAt = max(w.unfinishedAt, age)
		r.stillRunning(w.step, age)
		wait := max(time.Until(planned), r.nextPoll(w, time.Since(w.since)))
		if tail > 0 {
			wait = min(wait, tail)
		}
		// Its own poll comes when its age reaches sweepFallback times
		// checkedAt, not at the next look after.
		wait = min(wait, max(time.Until(w.since.Add(sweepFallback*w.checkedAt)), 0))
		r.again(w, wait)
	}
	// Shown deleted: polled for its outcome, a moment later when a step
	// went ahead of it (so as not to hold up that submission among the
	// calls in flight).
	shown = append(shown, r.sweptParked(parked, ids[len(batch):], deleted, sent)...)
	offered := r.claimShown(shown)
	for _, w := range shown {
		if !slices.Contains(offered, w) {
			r.wg.Add(1)
			go r.look(w)
		}
	}
	r.pollSoon(offered)
	r.pollLikeliest()
}

// afterAhead is how long the poll of a job of age waits after a step went
// ahead of it: a moment, so that the submission goes first among the
// calls in flight.
func (r *run) afterAhead(age time.Duration) time.Duration {
	return max(age/20, r.opt.PollMin/5)
}

// pollSoon queues the polls of ws a moment from now, so that the steps
// sent ahead of them go first among the calls in flight: afterAhead, as
// for a job alike a step went ahead of (see look), but no more than
// PollMin. The sweep showed these jobs ended; a longer wait
// (90 s for a job of 30 min) outlasted a stop's grace, and their rows
// ended submitted, not deleted (found by review). Straight into the
// queue: a job never looked at would be parked again while nothing is
// known (see watch).
func (r *run) pollSoon(ws []*watch) {
	if len(ws) == 0 {
		return
	}
	now := time.Now()
	r.poll.mu.Lock()
	if r.poll.closed {
		r.poll.mu.Unlock()
		for _, w := range ws {
			r.letGo(w)
		}
		return
	}
	for _, w := range ws {
		r.pushAt(w, now.Add(min(r.afterAhead(now.Sub(w.since)), r.opt.PollMin)))
	}
	r.poll.mu.Unlock()
	r.wakePoller()
}

// sweptParked records what a sweep found of the parked jobs it read: a
// job still parked whose user it showed deleted leaves the parked ones,
// and is returned (the caller has its poll made); one unparked meanwhile
// and queued has its poll brought forward to now.
func (r *run) sweptParked(parked []*watch, ids []string, deleted map[string]bool, sent time.Time) (shown []*watch) {
	if len(parked) == 0 {
		return nil
	}
	now := time.Now()
	var running []*watch
	moved := false
	r.poll.mu.Lock()
	for k, w := range parked {
		age := sent.Sub(w.since)
		switch at := index(r.poll.parked, w); {
		case at >= 0 && deleted[ids[k]]:
			r.poll.parked = append(r.poll.parked[:at], r.poll.parked[at+1:]...)
			w.deletedAt = age
			shown = append(shown, w)
		case at >= 0:
			w.unfinishedAt = max(w.unfinishedAt, age)
			running = append(running, w)
		case deleted[ids[k]] && index(r.poll.queue, w) >= 0:
			w.deletedAt, w.due = age, now
			heap.Init(&r.poll.queue)
			moved = true
		}
	}
	r.poll.mu.Unlock()
	for _, w := range running {
		r.stillRunning(w.step, sent.Sub(w.since))
	}
	if moved {
		r.wakePoller()
	}
	return shown
}

func index(ws []*watch, w *watch) int {
	for k, v := range ws {
		if v == w {
			return k
		}
	}
	return -1
}

// waiting returns up to n of the users gathered to be read back (their
// jobs completed), left gathered.
func (b *readBacks) waiting(n int) []*watch {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]*watch(nil), b.queue[:min(n, len(b.queue))]...)
}

// sweptCompleted ends deleted the rows of the users gathered to be read
// back (ws, their IDs ids) that a sweep showed deleted, as the read-back
// would: their jobs completed before the sweep, so it is a read-back of
// its own. A user it did not show deleted though its job completed says
// that Zoho lists deletions late, or never: sweeps stop, and the
// read-back reads the user as before.
func (r *run) sweptCompleted(ws []*watch, ids []string, deleted map[string]bool) {
	if len(ws) == 0 {
		return
	}
	b := r.backs
	var confirmed []*watch
	late := false
	b.mu.Lock()
	for k, w := range ws {
		at := index(b.queue, w)
		switch {
		case at < 0:
			// The read-back took it meanwhile.
		case deleted[ids[k]]:
			b.queue = append(b.queue[:at], b.queue[at+1:]...)
			confirmed = append(confirmed, w)
		default:
			late = true
		}
	}
	b.mu.Unlock()
	for _, w := range confirmed {
		r.end(w.step, result.Deleted, "", "")
	}
	if late {
		r.stopSweeps("Zoho does not yet list as deleted a user whose job completed: each job is polled for its end from now on", nil)
	}
}

// stopSweeps ends the sweeps for the run, saying why (err, if any).
func (r *run) stopSweeps(why string, err error) {
	if !r.sweepOff.Swap(true) {
		r.log.Info().Err(err).Msg(why)
	}
}

// countEnd counts a job of the run seen ended, and whether it failed: a
// failed job deletes no one, so no sweep shows it ended, and
// only its own poll, at sweepFallback times its age, finds it. Once
// failed jobs are one in ten of those ended (two at least), sweeps stop
// for the run, and each job is polled for its end as without them.
func (r *run) countEnd(failed bool) {
	r.mu.Lock()
	r.ended++
	if failed {
		r.failed++
	}
	many := r.failed >= 2 && 10*r.failed >= r.ended
	r.mu.Unlock()
	if many {
		r.stopSweeps("jobs fail, which deletes no one: each job is polled for its end from now on", nil)
	}
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
