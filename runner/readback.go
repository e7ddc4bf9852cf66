package runner

import (
	"context"
	"fmt"
	"sync"
	"time"

	"offboard/result"
	"offboard/zoho"
)

// bulkReader reads many users in one call (zoho.Client.UsersByID). A
// client without it reads each user back alone.
type bulkReader interface {
	UsersByID(ctx context.Context, typ zoho.UserType, ids []string) ([]zoho.User, error)
}

// creditsReporter says how many API credits Zoho last said the org has
// left for the day (zoho.Client.CreditsRemaining).
type creditsReporter interface {
	CreditsRemaining() (n int, known bool)
}

// creditsReserve is, per job slot (Options.MaxJobs), how few API credits
// left for the day make the gathered users' read-back urgent: the run is
// about to stop for want of credits, and the users gathered would end
// unconfirmed. (Reading at once whenever the credits left might not see
// the open rows through cost half a call more per user, and ended runs
// for want of credits that gathering would have finished: found by
// review.)
const creditsReserve = 3

// readBacks gathers the users whose jobs completed, to read them back
// together: GET /users?type=DeletedUsers&ids=… confirms up to 100
// deletions in one call, where one GET /users/{id} each would spend as
// many calls as jobs. A user the answer does not show deleted (Zoho
// ignored ids, or answered nothing, or the user is not deleted) is read
// alone, as without it: the bulk read only ever confirms.
type readBacks struct {
	bulk bulkReader

	mu     sync.Mutex
	queue  []*watch // in the order gathered
	closed bool     // the run's calls ended: nothing more is read back
	wake   chan struct{}
	// credits, if the client has it, says how many credits are left.
	credits creditsReporter
}

// readBackLater reads step w.step's user back once its job completed:
// with others, if the client can.
func (r *run) readBackLater(w *watch) {
	if r.backs == nil {
		r.readBack(w, false)
		return
	}
	b := r.backs
	b.mu.Lock()
	if b.closed {
		// A poll's answer that came as the run's calls ended.
		b.mu.Unlock()
		r.notReadBack(w)
		return
	}
	w.gathered = time.Now()
	b.queue = append(b.queue, w)
	b.mu.Unlock()
	b.poke()
}

// poke has the read-back loop look again whether the gathered users are
// to be read back now (a user was gathered, or a row ended: see urgent).
func (b *readBacks) poke() {
	if b == nil {
		return
	}
	select {
	case b.wake <- struct{}{}:
	default:
	}
}

// readBackLoop reads the gathered users back: at once when a hundred are
// gathered, when nothing else is left to wait for, when one of them holds
// up another row (it is deleted in this batch and others' records go to
// them), when the run must stop, or when the day's credits are nearly
// spent (see urgent); otherwise once the oldest has waited
// Options.ReadBackWait, so that the jobs ending in that while share one
// call, or by the next sweep if one is due soon after (see readBackIn).
// When the run's calls end, the users not read back end submitted.
func (r *run) readBackLoop() {
	defer r.wg.Done()
	b := r.backs
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	stopping := r.stopCtx.Done() // nil once seen: a stop is urgent (see urgent)
	for {
		b.mu.Lock()
		if r.calls.Err() != nil {
			left := b.queue
			b.queue, b.closed = nil, true
			b.mu.Unlock()
			for _, w := range left {
				r.notReadBack(w)
			}
			return
		}
		var wait time.Duration
		switch {
		case len(b.queue) == 0:
			wait = time.Hour
		case !r.urgent(b.queue):
			oldest := b.queue[0]
			b.mu.Unlock()
			wait = r.readBackIn(oldest.gathered)
			b.mu.Lock()
			if len(b.queue) > 0 && b.queue[0] != oldest {
				// A sweep read the oldest back meanwhile: the wait is
				// the next one's.
				b.mu.Unlock()
				continue
			}
		}
		if len(b.queue) == 0 || wait > 0 {
			b.mu.Unlock()
			if wait <= 0 {
				// Read back meanwhile (by a sweep).
				wait = time.Hour
			}
			timer.Reset(wait)
			select {
			case <-timer.C:
			case <-b.wake:
			case <-r.calls.Done():
			case <-stopping:
				stopping = nil
			}
			continue
		}
		batch := b.queue[:min(len(b.queue), zoho.MaxIDs)]
		b.queue = b.queue[len(batch):]
		b.mu.Unlock()
		r.readBackMany(batch)
	}
}

// readBackLate is how much longer than Options.ReadBackWait the users
// gathered may wait for a sweep that is to read them anyway (see
// readBackIn), as a share of it.
const readBackLate = 0.5

// readBackIn returns how long yet the users gathered, the oldest at
// since, wait to be read back (0: now): until the oldest has waited
// Options.ReadBackWait; then, while the run's jobs are swept, for the
// next sweep, which reads them too and stands in for the call, if it is
// under way or due within readBackLate of that wait again. (A hundred
// jobs spread around 30 min, gathered for as long, had 13 calls read
// users back on their own, where sweeps came every few minutes; 3 now:
// BENCHMARKS.md §0.)
func (r *run) readBackIn(since time.Time) time.Duration {
	if wait := r.opt.ReadBackWait - time.Since(since); wait > 0 {
		return wait
	}
	latest := since.Add(r.opt.ReadBackWait + time.Duration(readBackLate*float64(r.opt.ReadBackWait)))
	if !time.Now().Before(latest) {
		return 0
	}
	at, underway, ok := r.nextSweep(since)
	switch {
	case !ok:
		return 0
	case underway:
		// It pokes the loop once its answer is read.
		return time.Until(latest)
	case at.After(latest):
		return 0
	}
	// Due now, the poller has yet to send it: look again in a moment.
	return max(time.Until(at), time.Millisecond)
}

// notReadBack ends the row of w, whose job completed, once the run's
// calls ended before its user was read back.
func (r *run) notReadBack(w *watch) {
	r.end(w.step, result.Submitted, "", fmt.Sprintf("job %s completed, but the run stopped before the user was read back to confirm the deletion; check the user in Zoho", w.jobID))
}

// urgent reports whether the gathered users are read back now: a hundred
// of them, no other row left open, one a later row waits for, the run
// must stop (they are read back while its jobs are followed for
// Options.Grace, rather than end submitted when that ends), or Zoho
// says the day's credits are nearly spent.
func (r *run) urgent(queue []*watch) bool {
	if len(queue) >= zoho.MaxIDs {
		return true
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.open <= len(queue) || r.stopped() {
		return true
	}
	if c := r.backs.credits; c != nil {
		if n, known := c.CreditsRemaining(); known && n <= creditsReserve*r.opt.MaxJobs {
			return true
		}
	}
	for _, w := range queue {
		if r.needed[w.step] {
			return true
		}
	}
	return false
}

// readBackMany reads the users of batch back in one call; each user not
// shown deleted is read back alone.
func (r *run) readBackMany(batch []*watch) {
	ids, deleted, _, err := r.readDeleted(batch, "read back %d deleted users")
	if err != nil {
		r.log.Debug().Err(err).Int("users", len(ids)).Msg("reading deleted users back together failed; each is read alone")
	}
	for k, w := range batch {
		if deleted[ids[k]] {
			r.end(w.step, result.Deleted, "", "")
			continue
		}
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			r.readBack(w, false)
		}()
	}
}

// readDeleted reads the users of ws's steps in one call (what names it,
// with %d for their number), and returns their IDs, in ws's order, and
// which of them Zoho showed deleted: only those asked for count. unasked
// is set when the answer held users not asked for (an org that ignores
// ids answers every deleted user, a page at a time).
func (r *run) readDeleted(ws []*watch, what string) (ids []string, deleted map[string]bool, unasked bool, err error) {
	ids = make([]string, len(ws))
	asked := make(map[string]bool, len(ws))
	for k, w := range ws {
		ids[k] = string(r.p.Steps[w.step].Request.UserID)
		asked[ids[k]] = true
	}
	var users []zoho.User
	err = r.pacer.Read(r.calls, r.log, fmt.Sprintf(what, len(ids)), func(ctx context.Context) (err error) {
		users, err = r.backs.bulk.UsersByID(ctx, zoho.DeletedUsers, ids)
		return err
	})
	deleted = make(map[string]bool, len(users))
	for _, u := range users {
		switch {
		case !asked[string(u.ID)]:
			unasked = true
		case u.Deleted():
			deleted[string(u.ID)] = true
		}
	}
	return ids, deleted, unasked, err
}
