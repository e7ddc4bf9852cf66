package runner

import (
	"time"

	"github.com/rs/zerolog"

	"offboard/zoho"
)

// ZohoJobLimit is how many transfer-and-delete jobs Zoho runs at once
// per org: its scheduler refuses more with CONCURRENT_JOB_LIMIT_EXCEEDED
// (or LIMIT_REACHED).
const ZohoJobLimit = 10

// Submissions sent ahead of a free slot.
//
// A job's slot frees at Zoho the moment the job ends, but a poll's answer
// tells the runner only after that, and the next submission reaches Zoho
// one answer later still: two answers' latency in every slot's turn, a
// fifth of a half-second job. And when lengths spread, finding which of
// ten jobs ended takes a poll of each.
//
// So when MaxJobs is Zoho's own limit (ZohoJobLimit), every slot is held
// and a step waits, a job's poll that comes due (timed by what the run's
// finished jobs say) is sent as that step's submission instead. Zoho
// decides: while its ten jobs run it refuses the submission for its job
// limit, which says "not yet": none of the run's jobs has ended, the step
// goes back in line unharmed, and the job is polled again later, as if
// that poll had found it unfinished. When Zoho takes the submission, a
// slot was free: one of the jobs counted as holding one had ended (over),
// the step's job runs in its place, and the job due is polled at once to
// learn whether it was the one.
//
// What keeps this safe: a step goes ahead only as a step in its turn
// would (its dependencies completed, the run not stopping, recorded in the
// journal first); a refusal of any kind sends it back in line (a refusal
// that is not about the job limit, which a step in its turn would have to
// judge, also stops sending ahead for the rest of the run); a lost answer
// is a submission in doubt as any other; the job due is always handed
// back to the poller, whatever the answer. With MaxJobs below Zoho's limit
// nothing is sent ahead: the runner's own count holds its jobs to
// MaxJobs. And were Zoho to take more than its documented ten, the jobs
// counted as holding a slot would still stay under one and a half times
// MaxJobs (aheadRoom).

// aheadRoom is how many jobs of this run may count as holding a slot, at
// most, while steps go ahead: Zoho's refusal keeps them to its limit, and
// this keeps them bounded should an org take more.
func (r *run) aheadRoom() int { return r.opt.MaxJobs + r.opt.MaxJobs/2 }

// jobDue is called when job w's poll comes due. While every slot is held,
// it is offered to the next step that may go, in place of the poll, and
// jobDue reports true: w is the step's submitter's until Zoho answers (or
// the scheduler's, which polls it at once if no step could go).
func (r *run) jobDue(w *watch) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.aheadOn || !r.readyLeft || r.stopped() || r.capacity < r.opt.MaxJobs ||
		r.held-r.over < r.capacity || r.held >= r.aheadRoom() {
		return false
	}
	r.claims = append(r.claims, w)
	r.kick()
	return true
}

// aheadDone hands job w back to the poller once Zoho answered the step
// sent in its place: refused for the job limit at age refusedAt (> 0), the
// job had not ended and is polled when it would have been after a poll
// that found it unfinished; otherwise it is polled at once.
func (r *run) aheadDone(w *watch, refusedAt time.Duration) {
	if refusedAt <= 0 {
		r.again(w, 0)
		return
	}
	w.unfinishedAt = max(w.unfinishedAt, refusedAt)
	if !time.Now().Before(w.deadline) {
		r.again(w, 0) // its poll ends it
		return
	}
	r.again(w, r.jobs.nextPoll(time.Since(w.since)))
}

// tookAhead records that Zoho took step i's submission: if more of this
// run's jobs now count as running than Zoho runs, the extra ones had
// ended. r.mu must be held.
func (r *run) tookAhead(i int, of *watch, sentAt time.Time) {
	s := &r.steps[i]
	if s.ahead && of != nil && of.aheadTaken == 0 {
		// Most likely the job due is the one that ended: what its poll
		// learns of its length starts from here. (The step's submitter
		// holds of until it hands it back.)
		of.aheadTaken = sentAt.Sub(of.since)
	}
	s.ahead = false
	r.over = max(r.over, r.held-r.sending-r.opt.MaxJobs)
}

// aheadBack puts step i, sent ahead, back in line after Zoho did not take
// it; stop is set when the refusal is one a step sent in its turn would
// have to judge: nothing more goes ahead in this run.
func (r *run) aheadBack(i int, err error, stop bool, log *zerolog.Logger) {
	r.mu.Lock()
	s := &r.steps[i]
	s.phase, s.ahead = waiting, false
	r.sending--
	if !stop {
		r.aheadRefused++
	}
	r.release(i, false)
	if stop && r.aheadOn {
		r.aheadOn = false
		log.Warn().Err(err).Msg("Zoho refused a submission sent as a job was due to end, not for its job limit: the row goes again when a slot is free, and nothing more is sent ahead of a free slot")
	}
	r.mu.Unlock()
	if !stop {
		log.Debug().Err(err).Msg("sent ahead of a free slot and not taken: back in line")
	}
}

// isAhead reports whether step i is being sent ahead of a free slot.
func (r *run) isAhead(i int) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.steps[i].ahead
}

// refusedForLimit reports whether err is Zoho's refusal for its job limit.
func refusedForLimit(err error) bool { return zoho.Classify(err) == zoho.ClassJobLimit }
