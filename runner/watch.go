package runner

import (
	"container/heap"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"offboard/pacer"
	"offboard/result"
	"offboard/zoho"
)

// watchKind is what a watch looks at.
type watchKind uint8

const (
	// watchJob polls a job's status until it ends, then reads the user
	// back.
	watchJob watchKind = iota
	// watchDoubt reads a user whose submission's answer was lost, until the
	// user is seen deleted or the job timeout has passed.
	watchDoubt
)

// watch is one thing the poller looks at again and again: a job, or a
// user in doubt. Only the goroutine that holds it (the poller, or the one
// check it started) touches it.
type watch struct {
	step  int
	kind  watchKind
	jobID string
	// due is when to look next.
	due time.Time
	// since is when the job was accepted, or the submission in doubt sent.
	since time.Time
	// deadline is when to stop looking.
	deadline time.Time
	// wait is the last wait between two looks; looks counts them.
	wait  time.Duration
	looks int
	// unfinishedAt is how long after since the job was last seen
	// unfinished.
	unfinishedAt time.Duration
	// learn is set for jobs this run submitted: their lengths teach the
	// runner when to poll.
	learn bool
	// probe is set for the one job polled while nothing is known of the
	// jobs' lengths; the others wait, parked, until a job has ended.
	probe bool
	// claimed is set once its slot was offered to a step waiting, to go
	// ahead of its poll: as the job was due to end, while jobs are alike,
	// or when a sweep showed its user deleted (whether or not a step took
	// the offer).
	claimed bool
	// shownClaim is set, as the offer is made, when it was made because a
	// sweep showed the job's user deleted (claimShown). Written once under
	// run.mu, and read under it (aheadBack).
	shownClaim bool
	// nearTaken is the job's age when a step sent ahead as it was due to
	// end was taken by Zoho (see ahead.go): it most likely had ended by
	// then; 0 if none. Written and read under run.mu, since the poller
	// has the job meanwhile.
	nearTaken time.Duration
	// resumed is set for a doubt an earlier run left: at the deadline the
	// user is sent again if still there, rather than the row failing.
	resumed bool
	// cause is why the submission is in doubt.
	cause error
	// checkedAt is the job's age when last polled, or when first swept
	// if later (0: neither); deletedAt is its age at the sweep that
	// showed its user deleted (0: none), its poll due at once or a moment
	// later (see sweep.go).
	checkedAt, deletedAt time.Duration
	// gathered is when the job was seen completed and its user gathered
	// to be read back (see readBackLater).
	gathered time.Time
}

// ownJob reports whether w follows a job this run submitted, other than
// the probe: one whose polls the run times by what it learns.
func (w *watch) ownJob() bool { return w.kind == watchJob && w.learn && !w.probe }

// poller holds the watches, soonest due first.
type poller struct {
	mu    sync.Mutex
	queue watchQueue
	// parked are jobs not polled until the probe, or another job, has
	// shown how long jobs take; probe is that job, nil if none.
	parked []*watch
	probe  *watch
	// swept is when the last sweep was made, and sweeping how many are
	// under way: sent, their answers not yet read (see sweep.go).
	swept    time.Time
	sweeping int
	closed   bool          // the run's calls ended: nothing more is looked at
	wake     chan struct{} // a watch was added
}

type watchQueue []*watch

func (q watchQueue) Len() int           { return len(q) }
func (q watchQueue) Less(i, j int) bool { return q[i].due.Before(q[j].due) }
func (q watchQueue) Swap(i, j int)      { q[i], q[j] = q[j], q[i] }
func (q *watchQueue) Push(x any)        { *q = append(*q, x.(*watch)) }
func (q *watchQueue) Pop() any {
	old := *q
	w := old[len(old)-1]
	*q = old[:len(old)-1]
	return w
}

// watch hands w to the poller; once the run's calls have ended, w is let
// go at once.
func (r *run) watch(w *watch) {
	r.poll.mu.Lock()
	if r.poll.closed {
		r.poll.mu.Unlock()
		r.letGo(w)
		return
	}
	if w.kind == watchJob && w.learn && w.looks == 0 && !r.jobs.known() {
		// Nothing is known of how long jobs take: one job, the probe, is
		// polled ever less often until it ends; the others wait for it.
		// (known is checked under poll.mu, and unpark takes poll.mu after
		// a job's length is learnt: a job parked here is never left.)
		if r.poll.probe != nil {
			r.poll.parked = append(r.poll.parked, w)
			r.poll.mu.Unlock()
			return
		}
		w.probe, r.poll.probe = true, w
		w.due = w.since.Add(r.jobs.probeFirst())
	}
	heap.Push(&r.poll.queue, w)
	r.poll.mu.Unlock()
	r.wakePoller()
}

// pollLoop starts a look at every watch when it is due, until the run's
// calls end; then it lets go of the watches left.
func (r *run) pollLoop() {
	defer r.wg.Done()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		gap := r.sweepGap()
		r.poll.mu.Lock()
		if r.calls.Err() != nil {
			r.poll.closed = true
			left := append(r.poll.queue, r.poll.parked...)
			r.poll.queue, r.poll.parked = nil, nil
			r.poll.mu.Unlock()
			for _, w := range left {
				r.letGo(w)
			}
			return
		}
		now := time.Now()
		var due, batch, parked []*watch
		for len(r.poll.queue) > 0 && !r.poll.queue[0].due.After(now) {
			due = append(due, heap.Pop(&r.poll.queue).(*watch))
		}
		if len(due) > 0 && r.sweepable() {
			due, batch, parked = r.gatherSweep(due, now, gap)
		}
		next := time.Hour
		if len(r.poll.queue) > 0 {
			next = r.poll.queue[0].due.Sub(now)
		}
		r.poll.mu.Unlock()
		for _, w := range due {
			r.wg.Add(1)
			go r.look(w)
		}
		if len(batch) > 0 {
			r.wg.Add(1)
			go r.sweep(batch, parked)
		}
		timer.Reset(next)
		select {
		case <-timer.C:
		case <-r.poll.wake:
		case <-r.calls.Done():
		}
	}
}

// look makes one check of w and hands it back to the poller, or ends its
// row.
func (r *run) look(w *watch) {
	defer r.wg.Done()
	w.looks++
	switch w.kind {
	case watchJob:
		if w.learn && !w.probe && !w.claimed && w.deletedAt == 0 && time.Now().Before(w.deadline) && r.jobs.alike() && r.jobDue(w) {
			// Jobs alike: a step goes ahead as this job is due to end,
			// and its poll waits a moment, so as not to hold up that
			// submission among the calls in flight. Should Zoho take the
			// step, the job had most likely ended by then: its length is
			// learnt from that (tookAhead).
			w.looks, w.claimed = w.looks-1, true
			r.again(w, r.afterAhead(time.Since(w.since)))
			return
		}
		if again := r.pollJob(w); !again && w.probe {
			r.probeEnded(w)
		}
	case watchDoubt:
		r.readDoubt(w)
	}
}

// unpark schedules the parked jobs' first polls, now that a job's length
// is known.
func (r *run) unpark() {
	r.poll.mu.Lock()
	parked := r.poll.parked
	r.poll.parked = nil
	for _, w := range parked {
		r.pushAt(w, w.since.Add(r.jobs.firstPoll()))
	}
	r.poll.mu.Unlock()
	if len(parked) > 0 {
		r.wakePoller()
	}
}

// retime brings forward the first polls, already scheduled, of jobs
// alike, once what the finished jobs bracket says they are done sooner: a
// job due at the top of an earlier, wider bracket would be seen ended
// late, its slot idle meanwhile. (After the probe, the first wave's
// bracket is as wide as the probe's last wait, up to half a job; the
// next wave's first polls came at its top.)
func (r *run) retime() {
	t := r.jobs.doneBy()
	if t == 0 {
		return
	}
	r.bringForward(func(w *watch) (time.Time, bool) {
		return w.since.Add(t), w.looks == 0 && !w.claimed
	})
}

// bringForward moves the next look of every job of this run the poller
// holds (the probe aside) to at(w), if at(w) says so and that is sooner,
// and not before now.
func (r *run) bringForward(at func(w *watch) (due time.Time, ok bool)) {
	now := time.Now()
	moved := false
	r.poll.mu.Lock()
	for _, w := range r.poll.queue {
		if !w.ownJob() {
			continue
		}
		due, ok := at(w)
		if !ok || !due.Before(w.due) {
			continue
		}
		if due.Before(now) {
			due = now
		}
		w.due, moved = due, true
	}
	if moved {
		heap.Init(&r.poll.queue)
	}
	r.poll.mu.Unlock()
	if moved {
		r.wakePoller()
	}
}

// rotateProbe hands the probe's part to the next parked job, after the
// probe was found unfinished at age: jobs submitted together are alike
// in all that is known of them, so polling each in turn on one growing
// schedule costs no more than polling one, and finds a short job among
// long ones early. w is parked. It reports false when no job is parked.
func (r *run) rotateProbe(w *watch, age time.Duration) bool {
	r.poll.mu.Lock()
	if len(r.poll.parked) == 0 || r.poll.closed || r.jobs.known() {
		r.poll.mu.Unlock()
		return false
	}
	next := r.poll.parked[0]
	r.poll.parked = append(r.poll.parked[1:], w)
	w.probe, next.probe, r.poll.probe = false, true, next
	due := next.since.Add(age + r.jobs.nextPoll(age))
	if due.After(next.deadline) {
		due = next.deadline
	}
	r.pushAt(next, due)
	r.poll.mu.Unlock()
	r.wakePoller()
	return true
}

// probeEnded is called when the probe's watch ends. If a job's length is
// known by now the parked jobs are polled; otherwise (the probe's job
// timed out, or its status could not be read) the oldest parked job is
// the next probe.
func (r *run) probeEnded(w *watch) {
	r.poll.mu.Lock()
	if r.poll.probe == w {
		r.poll.probe = nil
	}
	if r.jobs.known() || len(r.poll.parked) == 0 || r.poll.closed {
		r.poll.mu.Unlock()
		r.unpark()
		return
	}
	next := r.poll.parked[0]
	r.poll.parked = r.poll.parked[1:]
	next.probe, r.poll.probe = true, next
	r.pushAt(next, next.since.Add(r.jobs.probeFirst()))
	r.poll.mu.Unlock()
	r.wakePoller()
}

// again hands w back to the poller, due after wait (the deadline at the
// latest).
func (r *run) again(w *watch, wait time.Duration) {
	now := time.Now()
	w.wait = wait
	w.due = now.Add(wait)
	if w.due.After(w.deadline) && now.Before(w.deadline) {
		w.due = w.deadline
	}
	r.watch(w)
}

// pollJob asks Zoho for w's job's status, and reports whether it handed
// w back to the poller to look again.
func (r *run) pollJob(w *watch) (again bool) {
	i := w.step
	log := r.rowLog(i)
	if err := r.pacer.Pause(r.calls); err != nil {
		r.letGo(w)
		return false
	}
	r.polled(i)
	sent := r.pacer.Now()
	// The job's age when the poll left: what the poll's answer says of
	// the job's length is measured on the same footing as the next poll's
	// timing, whatever the answer's latency.
	elapsed := time.Since(w.since)
	st, err := r.c.JobStatus(r.calls, w.jobID)
	w.checkedAt = elapsed
	switch zoho.Classify(err) {
	case zoho.ClassNone:
		r.pacer.Succeeded()
		r.update(i, func(res *result.Row) { res.JobStatus = st.Status })
		if st.Finished() {
			if w.learn {
				r.countEnd(st.Status == zoho.JobFailed)
				r.jobs.observe(r.learnt(w, elapsed))
				r.unpark()
				r.retime()
			}
			r.jobEnded(i)
			if st.Status == zoho.JobFailed {
				reason := st.Reason
				if reason == "" {
					reason = "Zoho gave no reason"
				}
				r.end(i, result.Failed, CodeJobFailed, fmt.Sprintf("the job failed: %s; fix the cause in Zoho and run this row again", strings.TrimRight(reason, ". ")))
				return false
			}
			r.readBackLater(w)
			return false
		}
		w.unfinishedAt = elapsed
		if w.deletedAt > 0 {
			// A sweep showed the user deleted, and the job runs: this
			// org shows deletions before the jobs end. Its polls say
			// when jobs end, as without sweeps.
			w.deletedAt = 0
			r.stopSweeps("Zoho listed a user deleted while the user's job still ran: each job is polled for its end from now on", nil)
		}
		r.stillRunning(i, elapsed)
		if !time.Now().Before(w.deadline) {
			r.end(i, result.Submitted, "", fmt.Sprintf("job %s was submitted, but it was still %s after %s (--job-timeout); check the job in Zoho", w.jobID, st.Status, r.opt.JobTimeout))
			return false
		}
		if w.probe && r.rotateProbe(w, elapsed) {
			return true
		}
		r.again(w, r.nextPoll(w, time.Since(w.since)))
		r.pollLikeliest()
		return true
	case zoho.ClassRetry:
		d := r.pacer.Backoff(sent, pacer.RetryAfter(err))
		log.Warn().Err(err).Str("job_id", w.jobID).Int64("wait_ms", d.Milliseconds()).Msg("job status read failed, every worker backs off")
		if !time.Now().Before(w.deadline) {
			r.end(i, result.Submitted, "", fmt.Sprintf("job %s was submitted, but its status could not be read within %s (--job-timeout): %v; check the job in Zoho", w.jobID, r.opt.JobTimeout, err))
			return false
		}
		r.again(w, 0)
		return true
	case zoho.ClassCanceled:
		r.letGo(w)
	default:
		if errors.Is(err, zoho.ErrJobNotFound) {
			r.jobEnded(i)
			r.readBack(w, true)
			return false
		}
		r.fatalOnRead(err)
		r.end(i, result.Submitted, "", fmt.Sprintf("job %s was submitted, but its status could not be read (%v); check the job in Zoho", w.jobID, err))
	}
	return false
}

// learnt is what job w, seen finished by a poll sent at elapsed (since
// its submission), says of its length: unfinished at lo, finished by hi.
// A step sent ahead of it that Zoho took says sooner when it finished
// (most likely: it is the job due).
func (r *run) learnt(w *watch, elapsed time.Duration) (lo, hi time.Duration) {
	r.mu.Lock() // tookAhead writes nearTaken while the poller has w
	near := w.nearTaken
	r.mu.Unlock()
	lo, hi = w.unfinishedAt, elapsed
	if w.deletedAt > 0 && w.deletedAt < hi {
		hi = w.deletedAt // a sweep showed the user deleted then
	}
	// A step goes ahead of a job alike at its first look: a poll that saw
	// the job unfinished came after, and a step sent later still (it
	// waited for the rate, say) took another job's slot.
	if near > 0 && lo == 0 && near < hi {
		hi = near
	}
	return lo, hi
}

// jobEnded records that step i's job ended at Zoho: its slot is free.
func (r *run) jobEnded(i int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.release(i, true)
}

// readBack reads the user once the job has ended at Zoho: completed, or
// no longer known to Zoho (lost).
func (r *run) readBack(w *watch, lost bool) {
	i := w.step
	u, err := r.readUser(r.calls, i, r.rowLog(i))
	what, code := fmt.Sprintf("job %s completed", w.jobID), CodeNotDeleted
	if lost {
		what, code = fmt.Sprintf("Zoho no longer knows job %s", w.jobID), CodeJobNotFound
	}
	switch {
	case gone(u, err):
		r.end(i, result.Deleted, "", "")
	case err != nil:
		r.fatalOnRead(err)
		r.end(i, result.Submitted, "", fmt.Sprintf("%s, but the user could not be read back to confirm the deletion (%v); check the user in Zoho", what, err))
	default:
		r.end(i, result.Failed, code, fmt.Sprintf("%s, but Zoho still shows the user as %s; check the user in Zoho, then run this row again", what, u.Status))
	}
}

// readDoubt reads the user of a submission whose answer was lost.
func (r *run) readDoubt(w *watch) {
	i := w.step
	log := r.rowLog(i)
	if err := r.pacer.Pause(r.calls); err != nil {
		r.letGo(w)
		return
	}
	sent := r.pacer.Now()
	u, err := r.oneUser(r.calls, r.p.Steps[i].Request.UserID)
	class := zoho.Classify(err)
	switch {
	case gone(u, err):
		r.pacer.Succeeded()
		msg := "Zoho's answer to the submission was lost; the user was then found deleted"
		if w.resumed {
			msg = "Zoho's answer to an earlier run's submission was lost; the user was then found deleted"
		}
		r.end(i, result.Deleted, CodeReconciled, msg)
		return
	case class == zoho.ClassCanceled:
		r.letGo(w)
		return
	case class == zoho.ClassRetry:
		d := r.pacer.Backoff(sent, pacer.RetryAfter(err))
		log.Warn().Err(err).Int64("wait_ms", d.Milliseconds()).Msg("user read failed, every worker backs off")
		if time.Now().Before(w.deadline) {
			r.again(w, 0)
			return
		}
	case err != nil:
		r.fatalOnRead(err)
		r.end(i, result.Failed, CodeOutcomeUnknown, fmt.Sprintf("the answer to the submission was lost and the user could not be read (%v); check the user in Zoho before running this row again", err))
		return
	default:
		r.pacer.Succeeded()
	}
	if time.Now().Before(w.deadline) {
		wait := r.jobs.nextPoll(time.Since(w.since))
		if w.looks == 1 && w.resumed {
			wait = max(r.jobs.firstPoll(), r.opt.PollMin)
		}
		r.again(w, wait)
		return
	}
	status := u.Status
	if err != nil {
		status = "not readable (" + err.Error() + ")"
	}
	if w.resumed {
		// The earlier run's submission is now so old that any job it
		// started has ended. A user read still there is sent again; one
		// whose last read failed is read again before anything is sent.
		r.mu.Lock()
		r.steps[i].phase = waiting
		r.steps[i].check = err != nil
		r.release(i, true)
		r.mu.Unlock()
		log.Info().Str("status", status).Msg("an earlier run's submission of this user got no answer and the user was not seen deleted: it is sent again, once read")
		return
	}
	r.end(i, result.Failed, CodeOutcomeUnknown, fmt.Sprintf(
		"Zoho's answer to the submission was lost (%v), and %s later the user is still %s: Zoho may not have received it; check the user in Zoho (running this row again reads the user first, then sends it)",
		w.cause, r.opt.JobTimeout, status))
}

// letGo ends a watch the run can no longer look at: the grace period after
// a stop is over.
func (r *run) letGo(w *watch) {
	switch w.kind {
	case watchJob:
		r.end(w.step, result.Submitted, "", fmt.Sprintf("job %s was submitted, but the run stopped before the job finished; check the job in Zoho, or run the same command again to follow it", w.jobID))
	case watchDoubt:
		r.end(w.step, result.Failed, CodeOutcomeUnknown, "the answer to the submission was lost and the run stopped before the user was seen deleted; check the user in Zoho, or run this row again (the user is read before anything is sent again)")
	}
}

// wakePoller tells the poller that its queue changed.
func (r *run) wakePoller() {
	select {
	case r.poll.wake <- struct{}{}:
	default:
	}
}

// pushAt queues w to be looked at due, or now if due has passed. r.poll.mu
// must be held.
func (r *run) pushAt(w *watch, due time.Time) {
	if now := time.Now(); due.Before(now) {
		due = now
	}
	w.due = due
	heap.Push(&r.poll.queue, w)
}
