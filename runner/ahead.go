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
// and a step waits, the step may go before a job is seen to end. With jobs
// alike, at a job's first poll, timed by what the run's finished jobs say
// (the poll then waits a moment: the submission, which the run's pace
// hangs on, goes first among the calls in flight). With lengths spread,
// when one of the run's jobs has most likely ended, whichever it is (see
// pace.go); their polls only tell which one ended. And whatever is known
// of the lengths, when a sweep shows jobs' users deleted (claimShown).
// Zoho decides: while its ten jobs run it refuses the submission for its
// job limit, which says "not yet": the step goes back in line unharmed.
// When Zoho takes it, a slot was free: one of the jobs counted as holding
// one had ended (over), and the next one seen ended frees no slot for
// another step.
//
// What keeps this safe:
//   - a step goes ahead only as a step in its turn would: its
//     dependencies completed, the run not stopping, recorded in the
//     journal first;
//   - a refusal of any kind sends it back in line. So does a refusal of a
//     step sent in its turn while a step sent ahead was on its way
//     (raced): the slot it counted free may be the one that step took. A
//     refusal not about the job limit, which a step in its turn would have
//     to judge, also stops sending ahead for the rest of the run (a step
//     launched ahead and not yet committed then is not sent: commit);
//   - a lost answer is a submission in doubt like any other;
//   - a step sent ahead never stands in for a poll: every job is polled
//     on its own schedule until seen ended, whatever Zoho answers (another
//     admin's job may have taken the slot one of them freed);
//   - Zoho's refusals never make the runner count more slots than MaxJobs
//     (slotsFull);
//   - with MaxJobs below Zoho's limit, or NoWait, nothing is sent ahead:
//     the runner's own count holds its jobs to MaxJobs;
//   - were Zoho to take more than its documented ten, the jobs counted as
//     holding a slot would stay within twice MaxJobs (aheadRoom).

// aheadRoom is how many jobs of this run may count as holding a slot, at
// most, while steps go ahead: Zoho's refusal keeps them to its limit, and
// this keeps them bounded should an org take more. Jobs Zoho showed ended
// count until a poll finds which they are: with lengths spread, their
// polls come far apart (paceGrowth), and at one and a half times MaxJobs
// the run waited on them (BENCHMARKS.md §0).
func (r *run) aheadRoom() int { return 2 * r.opt.MaxJobs }

// mayGoAhead reports whether a step may go ahead of a free slot now: every
// slot held, a step waiting for one, room left. r.mu must be held.
func (r *run) mayGoAhead() bool {
	return r.paced() && r.held-r.over >= r.capacity
}

// jobDue is called when the first poll of job w, alike to the run's
// finished jobs, comes due. While every slot is held, it is offered to
// the next step that may go, and jobDue reports true; the poller keeps w.
func (r *run) jobDue(w *watch) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.mayGoAhead() {
		return false
	}
	r.claims = append(r.claims, w)
	r.kick()
	return true
}

// claimShown offers the steps waiting for a slot the slots of the jobs a
// sweep showed ended (their users deleted), ahead of those jobs' polls:
// the polls' answers, then the submissions', would take two answers'
// latency more, and in a wave ending together the polls hold the calls in
// flight first. Jobs Zoho showed ended by taking a step sent ahead may be
// among them (over), and steps on their way ahead may take their slots:
// that many are not offered. Zoho decides, as for any step sent ahead;
// and since Zoho does not document when it lists a user deleted (an org
// may list users deleted as their jobs start), the first such step it
// refuses for its job limit ends these offers for the run (shownOff;
// another admin's job may have taken the slot, and that ends them too).
// The jobs offered have their polls wait a moment (pollSoon). r.mu must
// not be held; the sweep has the watches.
func (r *run) claimShown(shown []*watch) (offered []*watch) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.shownOff || !r.mayGoAhead() {
		return nil
	}
	for _, w := range shown[:max(len(shown)-r.over-r.aheadsOut, 0)] {
		if w.claimed || !w.learn {
			continue
		}
		w.claimed, w.shownClaim = true, true
		r.claims = append(r.claims, w)
		offered = append(offered, w)
	}
	if len(offered) > 0 {
		r.kick()
	}
	return offered
}

// tookAhead records that Zoho took the submission of the step launched
// as l: if more of this run's jobs now count as running than Zoho runs,
// the extra ones had ended. r.mu must be held.
func (r *run) tookAhead(l launch, sentAt time.Time) {
	// Most likely the job due is the one that ended: what its poll learns
	// of its length starts from here.
	if w := l.near; w != nil && w.nearTaken == 0 {
		w.nearTaken = sentAt.Sub(w.since)
	}
	r.over = max(r.over, r.held-r.sending-r.opt.MaxJobs)
	if l.ahead {
		r.paceTaken(sentAt)
	}
}

// aheadBack puts step i back in line after Zoho did not take it: sent
// ahead, or raced (sent in its turn while a step sent ahead was on its
// way). stop is set when the refusal is one a step sent in its turn would
// have to judge: nothing more goes ahead in this run. A raced step waits
// until no step sent ahead is on its way, so that it is judged alone, not
// resent again and again meanwhile. full is when a step sent ahead, which
// Zoho refused for its job limit, was sent (zero otherwise): none of the
// run's jobs had most likely ended then.
func (r *run) aheadBack(l launch, err error, stop bool, full time.Time, log *zerolog.Logger) {
	i, wasAhead := l.step, l.ahead
	r.mu.Lock()
	if wasAhead && !full.IsZero() {
		r.noneEnded(full)
	}
	s := &r.steps[i]
	s.phase, s.afterAheads = waiting, !wasAhead
	r.sending--
	shownOff := false
	if wasAhead && !stop {
		r.aheadRefused++
		if l.near != nil && l.near.shownClaim && !full.IsZero() && !r.shownOff {
			r.shownOff, shownOff = true, true
		}
	}
	r.release(i, false)
	if stop && r.aheadOn {
		r.aheadOn = false
		log.Warn().Err(err).Msg("Zoho refused a submission while another, sent as a job was due to end, was on its way, and not for its job limit: the row goes again once it is judged alone, and nothing more is sent ahead of a free slot")
	}
	r.mu.Unlock()
	if shownOff {
		log.Info().Msg("Zoho refused for its job limit a user sent as the list of deleted users showed a job ended (another admin's job may have taken the slot, or this org lists users deleted before their jobs end): from now on, users go only as the jobs' polls and lengths say")
	}
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
