package runner

import (
	"time"

	"github.com/rs/zerolog"
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
// finished jobs say) lets the step go ahead. With jobs alike, at the
// job's first poll, which then waits a moment (the submission, which the
// run's pace hangs on, goes first among the calls in flight). With lengths
// spread, in place of any of its polls but one after a refusal: the job is
// polled once Zoho has answered. Zoho decides: while its ten jobs run it
// refuses the submission for its job limit, which says "not yet": the
// step goes back in line unharmed. When Zoho takes it, a slot was free:
// one of the jobs counted as holding one had ended (over), and the next
// one seen ended frees no slot for another step.
//
// What keeps this safe:
//   - a step goes ahead only as a step in its turn would: its
//     dependencies completed, the run not stopping, recorded in the
//     journal first;
//   - a refusal of any kind sends it back in line. So does a refusal of a
//     step sent in its turn while a step sent ahead was on its way
//     (raced): the slot it counted free may be the one that step took. A
//     refusal not about the job limit, which a step in its turn would have
//     to judge, also stops sending ahead for the rest of the run;
//   - a lost answer is a submission in doubt like any other;
//   - the job due is handed back to the poller whatever the answer, and a
//     job whose step sent ahead was refused is polled at its next look
//     (another admin's job may have taken the slot it freed);
//   - Zoho's refusals never make the runner count more slots than MaxJobs
//     (slotsFull);
//   - with MaxJobs below Zoho's limit, or NoWait, nothing is sent ahead:
//     the runner's own count holds its jobs to MaxJobs;
//   - were Zoho to take more than its documented ten, the jobs counted as
//     holding a slot would stay within one and a half times MaxJobs
//     (aheadRoom).

// aheadRoom is how many jobs of this run may count as holding a slot, at
// most, while steps go ahead: Zoho's refusal keeps them to its limit, and
// this keeps them bounded should an org take more.
func (r *run) aheadRoom() int { return r.opt.MaxJobs + r.opt.MaxJobs/2 }

// A claim is a job due to end that a step may go ahead of: handed, the
// step's submitter holds the job until Zoho has answered (lengths spread:
// the submission replaces the job's poll); otherwise the poller keeps it
// (jobs alike: its poll follows the submission).
type claim struct {
	w      *watch
	handed bool
}

// jobDue is called when job c.w's poll comes due. While every slot is
// held, it is offered to the next step that may go, and jobDue reports
// true. A job handed over is the step's submitter's until Zoho answers
// (or the scheduler's, which polls it at once if no step could go).
func (r *run) jobDue(c claim) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.aheadOn || !r.readyLeft || r.stopped() || r.capacity < r.opt.MaxJobs ||
		r.held-r.over < r.capacity || r.held >= r.aheadRoom() {
		return false
	}
	r.claims = append(r.claims, c)
	r.kick()
	return true
}

// aheadDone hands job w back to the poller once Zoho answered the step
// sent in its place: refused for the job limit, the job had not ended and
// is polled when it would have been after a poll that found it
// unfinished; otherwise it is polled at once.
func (r *run) aheadDone(w *watch, refused bool) {
	if !refused {
		r.again(w, 0)
		return
	}
	// Most likely the job had not ended; but another admin's job may hold
	// the slot it freed: its next look is a poll, whatever happens then.
	w.mustPoll = true
	if !time.Now().Before(w.deadline) {
		r.again(w, 0) // its poll ends it
		return
	}
	r.again(w, r.jobs.nextPoll(time.Since(w.since)))
}

// tookAhead records that Zoho took the submission of the step launched
// as l: if more of this run's jobs now count as running than Zoho runs,
// the extra ones had ended. r.mu must be held.
func (r *run) tookAhead(l launch, sentAt time.Time) {
	// Most likely the job due is the one that ended: what its poll learns
	// of its length starts from here.
	if w := l.of; w != nil && w.aheadTaken == 0 {
		w.aheadTaken = sentAt.Sub(w.since)
	}
	if w := l.near; w != nil && w.nearTaken == 0 {
		w.nearTaken = sentAt.Sub(w.since)
	}
	r.over = max(r.over, r.held-r.sending-r.opt.MaxJobs)
}

// aheadBack puts step i back in line after Zoho did not take it: sent
// ahead, or raced (sent in its turn while a step sent ahead was on its
// way). stop is set when the refusal is one a step sent in its turn would
// have to judge: nothing more goes ahead in this run. A raced step waits
// until no step sent ahead is on its way, so that it is judged alone, not
// resent again and again meanwhile.
func (r *run) aheadBack(l launch, err error, stop bool, log *zerolog.Logger) {
	i, wasAhead := l.step, l.ahead
	r.mu.Lock()
	s := &r.steps[i]
	s.phase, s.afterAheads = waiting, !wasAhead
	r.sending--
	if wasAhead && !stop {
		r.aheadRefused++
	}
	r.release(i, false)
	if stop && r.aheadOn {
		r.aheadOn = false
		log.Warn().Err(err).Msg("Zoho refused a submission while another, sent as a job was due to end, was on its way, and not for its job limit: the row goes again once it is judged alone, and nothing more is sent ahead of a free slot")
	}
	r.mu.Unlock()
	if !stop {
		log.Debug().Err(err).Bool("sent_ahead", wasAhead).Msg("not taken while a step went ahead of a free slot: back in line")
	}
}

// aheadAnswered records that a step sent ahead has its answer.
func (r *run) aheadAnswered() {
	r.mu.Lock()
	r.aheadsOut--
	if r.aheadsOut == 0 {
		r.kick() // raced steps may go again
	}
	r.mu.Unlock()
}

// raced reports whether Zoho's refusal of the step launched as l may be
// about a slot that a step sent ahead took: it was sent ahead itself, or
// sent in its turn while one was on its way, or one went while it was.
// Such a refusal is not the step's to judge: it goes back in line
// (aheadBack), and is judged when sent in its turn with nothing ahead.
func (r *run) raced(l launch) bool {
	if l.ahead || l.amid {
		return true
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.aheadEpoch != l.epoch
}
