package runner

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"offboard/pacer"
	"offboard/plan"
	"offboard/result"
	"offboard/zoho"
)

// errStopped is what the commit point answers when the run must stop: the
// request is not sent.
var errStopped = errors.New("submitting stopped")

// errJournal is what the commit point answers when the submission could
// not be recorded: the request is not sent, and the run stops.
var errJournal = errors.New("the journal could not be written")

// errAheadOff keeps a step launched ahead of a free slot from being sent
// once sending ahead has stopped for the run (a refusal not about the job
// limit): it goes back in line unsent.
var errAheadOff = errors.New("sending ahead stopped")

// submit sends step i, which holds a job slot, until Zoho takes it or
// refuses it, or the run stops.
//
// Every wait is on r.stopCtx, which ends the moment the run must stop: the
// shared pacer here, and in the client the access token, the rate limiter
// and room among the calls in flight. The client then calls commit, the
// one place that decides that a submission goes.
func (r *run) submit(l launch) {
	defer r.wg.Done()
	i := l.step
	st := &r.p.Steps[i]
	log := r.rowLog(i)
	if l.ahead {
		defer r.aheadAnswered()
	}
	if r.mustCheck(i) && !r.checkEarlier(i, log) {
		return
	}
	for {
		if err := r.pacer.Pause(r.stopCtx); err != nil {
			r.end(i, result.NotRun, "", r.notRunReason())
			return
		}
		var (
			attempt   int
			journaled bool // BeforeSubmit recorded this attempt
			sentAt    time.Time
		)
		beforeSend := func(refused error) error {
			if refused != nil && journaled && r.opt.AfterSubmit != nil {
				// Zoho refused the access token: nothing was done, and the
				// client sends the request again with a fresh one.
				r.opt.AfterSubmit(i, attempt, zoho.Job{}, refused)
			}
			journaled = false
			a, err := r.commit(i, l.ahead)
			if err != nil {
				return err
			}
			attempt, journaled, sentAt = a, true, time.Now()
			return nil
		}
		sent := r.pacer.Now()
		job, err := r.c.TransferAndDelete(r.stopCtx, st.Request, beforeSend)
		if journaled {
			answer := err
			var ns *zoho.NotSentError
			switch {
			case errors.As(err, &ns) && ns.Answered != nil:
				// The recorded send reached Zoho, which refused its token;
				// the send that was to follow is the one that never left.
				answer = ns.Answered
			case errors.Is(err, zoho.ErrNotSent):
				// The run stopped before the request had a connection.
				r.update(i, func(res *result.Row) { res.Attempts-- })
			}
			if r.opt.AfterSubmit != nil {
				r.opt.AfterSubmit(i, attempt, job, answer)
			}
		}
		if errors.Is(err, errStopped) || errors.Is(err, errJournal) {
			r.end(i, result.NotRun, "", r.notRunReason())
			return
		}
		if errors.Is(err, errAheadOff) {
			// Not sent: back in line, not counted as a step Zoho did not
			// take (sending ahead has stopped, as stop says).
			r.aheadBack(l, err, true, time.Time{}, log)
			return
		}
		class := zoho.Classify(err)
		if class != zoho.ClassRetry && class != zoho.ClassJobLimit {
			r.pacer.Succeeded()
		}
		if class != zoho.ClassRetry && class != zoho.ClassCanceled {
			r.mu.Lock()
			r.laterSince = time.Time{} // Zoho answered a submission
			r.mu.Unlock()
		}
		switch class {
		case zoho.ClassNone:
			r.accepted(i, job, l, sentAt, log)
			return

		case zoho.ClassCanceled:
			r.end(i, result.NotRun, "", r.notRunReason())
			return

		case zoho.ClassOutcomeUnknown:
			r.lost(i, sentAt, err, log)
			return

		case zoho.ClassRetry:
			d := r.pacer.Backoff(sent, pacer.RetryAfter(err))
			// How long submissions alone have been answered "later": the
			// reads and polls between them may be answered, and do not
			// count.
			r.mu.Lock()
			if r.laterSince.IsZero() {
				r.laterSince = time.Now()
			}
			t := time.Since(r.laterSince)
			r.mu.Unlock()
			if t >= r.pacer.GiveUp() {
				// 429s (or 5xx) for so long with nothing answered in
				// between: the org's limits, not a moment's crowd. Zoho
				// sends no credit header before half the credits are
				// used, so this is the bound when it sends none.
				r.halt(limitStop(t, err))
				r.end(i, result.NotRun, "", r.notRunReason())
				return
			}
			if r.raced(l) {
				r.aheadBack(l, err, false, time.Time{}, log)
				return
			}
			log.Warn().Err(err).Int("attempt", attempt).Int64("wait_ms", d.Milliseconds()).Msg("submission not taken, every worker backs off")

		case zoho.ClassJobLimit:
			if r.raced(l) {
				r.aheadBack(l, err, false, sentAt, log)
				return
			}
			r.slotsFull(i, log)
			return

		case zoho.ClassCreditsExhausted:
			r.halt(creditsStop)
			r.end(i, result.NotRun, "", r.notRunReason())
			return

		default: // ClassFatal, ClassRejected
			var auth *zoho.AuthError
			if errors.As(err, &auth) {
				r.halt(authStop(err))
				r.end(i, result.NotRun, "", r.notRunReason())
				return
			}
			if r.raced(l) {
				r.aheadBack(l, err, true, time.Time{}, log)
				return
			}
			r.refused(i, err, log)
			return
		}
	}
}

// commit is the one place that decides that a submission of step i goes
// now. The client calls it after its last wait, just before the request
// is sent. Under the lock that halt takes it checks that the run has not
// stopped (nor, for a step sent ahead, sending ahead) and counts the
// attempt; then BeforeSubmit records it in the journal, outside the lock.
// The client checks the stop once more until the request has a
// connection, so a stop during the journal's write still keeps it from
// leaving.
func (r *run) commit(i int, ahead bool) (attempt int, err error) {
	r.mu.Lock()
	if r.stopped() {
		r.mu.Unlock()
		return 0, errStopped
	}
	if ahead && !r.aheadOn {
		// Sending ahead stopped while this step waited for the client.
		r.mu.Unlock()
		return 0, errAheadOff
	}
	r.steps[i].res.Attempts++
	attempt = r.steps[i].res.Attempts
	r.mu.Unlock()
	if r.opt.BeforeSubmit != nil {
		if jerr := r.opt.BeforeSubmit(i, attempt); jerr != nil {
			r.update(i, func(res *result.Row) { res.Attempts-- }) // not sent
			r.halt(Stop{Reason: "the journal could not be written, so nothing more is sent: " + jerr.Error(), Fatal: true})
			return 0, fmt.Errorf("%w: %v", errJournal, jerr)
		}
	}
	return attempt, nil
}

func (r *run) notRunReason() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	reason := "the run stopped before this row was submitted"
	if r.stopped() {
		reason += ": " + r.stop.Reason
	}
	return reason
}

func (r *run) mustCheck(i int) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.steps[i].check
}

// checkEarlier reads the user of step i, whose earlier submission's answer
// was lost longer ago than the job timeout, before it is sent again, and
// reports whether it should be: a user found deleted was deleted by that
// submission.
func (r *run) checkEarlier(i int, log *zerolog.Logger) bool {
	u, err := r.readUser(r.stopCtx, i, log)
	switch {
	case gone(u, err):
		r.end(i, result.Deleted, CodeReconciled, "an earlier run's submission of this user got no answer; the user was then found deleted")
		return false
	case err != nil:
		fatal := r.fatalOnRead(err)
		r.mu.Lock()
		defer r.mu.Unlock()
		if fatal || r.stopped() {
			r.endUnsent(i)
			return false
		}
		r.finish(i, result.Failed, CodeOutcomeUnknown, fmt.Sprintf("an earlier run's submission of this user got no answer, and the user could not be read (%v); check the user in Zoho before running this row again", err))
		return false
	}
	r.mu.Lock()
	r.steps[i].check = false
	r.mu.Unlock()
	log.Info().Str("status", u.Status).Msg("an earlier run's submission of this user got no answer long ago and the user is not deleted: sending it again")
	return true
}

// gone reports whether a read of a user says the user is deleted: Zoho
// shows the user deleted, or no longer has a record of them (204).
func gone(u zoho.User, err error) bool {
	if err != nil {
		return errors.Is(err, zoho.ErrUserNotFound)
	}
	return u.Deleted()
}

// accepted records that Zoho took step i's submission, and starts
// following its job.
func (r *run) accepted(i int, job zoho.Job, l launch, sentAt time.Time, log *zerolog.Logger) {
	now := time.Now()
	r.mu.Lock()
	s := &r.steps[i]
	s.res.JobID, s.res.JobStatus, s.res.Outcome, s.res.SubmittedAt = job.ID, zoho.JobScheduled, result.Submitted, r.opt.Now()
	s.phase = running
	r.sending--
	r.tookAhead(l, sentAt)
	r.streak, r.lastCode = 0, ""
	r.slotFound()
	r.out.put(i, s.res, false)
	if r.opt.NoWait && !r.needed[i] {
		// The job goes on at Zoho, holding one of its slots, unseen.
		r.notFollowed = append(r.notFollowed, now)
		r.finish(i, result.Submitted, "", fmt.Sprintf("job %s submitted and not followed (--no-wait); check it in Zoho", job.ID))
		r.mu.Unlock()
		return
	}
	r.spans[i] = &span{since: now}
	first := r.firstPoll()
	r.mu.Unlock()
	log.Debug().Str("job_id", job.ID).Msg("submitted")
	r.watch(&watch{step: i, kind: watchJob, jobID: job.ID, learn: true,
		since: now, deadline: now.Add(r.opt.JobTimeout), due: now.Add(first)})
}

// lost records that the answer to step i's submission, sent at sentAt,
// was lost: Zoho may or may not have scheduled the job, and what it
// answers to a second submission for the same user is not documented. So
// the user is never sent again by this run: it is watched until seen
// deleted, or until the job timeout has passed.
func (r *run) lost(i int, sentAt time.Time, err error, log *zerolog.Logger) {
	r.mu.Lock()
	r.steps[i].phase = inDoubt // keeps its slot: a job may be running
	r.sending--
	r.mu.Unlock()
	log.Warn().Err(err).Msg("the submission's answer was lost; the user is watched until seen deleted and is not sent again")
	// Zoho had the request, if at all, by now: any job it started ends
	// within the job timeout from now.
	now := time.Now()
	r.watch(&watch{step: i, kind: watchDoubt, cause: err,
		since: sentAt, deadline: now.Add(r.opt.JobTimeout), due: now.Add(max(r.jobs.firstPoll(), r.opt.PollMin))})
}

// slotsFull puts step i back in line after Zoho refused it because its
// job limit was reached: by this run's jobs and others' (another admin's,
// or this run's lost submissions). No new submission is tried until one
// of this run's jobs ends, or a wait that doubles while Zoho keeps
// refusing; if none of this run's jobs runs and no slot frees for the
// job timeout, the run stops.
func (r *run) slotsFull(i int, log *zerolog.Logger) {
	now := time.Now()
	r.mu.Lock()
	r.steps[i].phase = waiting
	r.sending--
	r.release(i, false)
	if r.fullSince.IsZero() {
		r.fullSince = now
	}
	// The slots Zoho holds for this run: those counted, less the jobs a
	// step sent ahead showed ended.
	r.capacity = min(max(r.held-r.over, 0), r.opt.MaxJobs)
	if r.probeWait == 0 {
		r.probeWait = r.opt.BackoffBase
	} else {
		r.probeWait = min(2*r.probeWait, r.opt.BackoffMax)
	}
	wait := r.probeWait/2 + rand.N(r.probeWait/2+1)
	r.armProbe(wait)
	held, since := r.held, now.Sub(r.fullSince)
	// Jobs let go of unfollowed (--no-wait) may still hold Zoho's slots.
	unseen := 0
	for _, at := range r.notFollowed {
		if now.Sub(at) < r.opt.JobTimeout {
			unseen++
		}
	}
	r.mu.Unlock()
	log.Warn().Int("jobs_running", held).Int("jobs_not_followed", unseen).Int64("wait_ms", wait.Milliseconds()).Msg("zoho's job slots are full, waiting for one")
	if held == 0 && unseen == 0 && since >= r.opt.JobTimeout {
		r.halt(Stop{Reason: fmt.Sprintf("Zoho has refused every submission for %s because its limit of transfer-and-delete jobs is reached, and none of them is this run's: another admin's jobs hold the slots; run again once they have finished", since.Round(time.Second))})
	}
}

// armProbe lets one more submission try Zoho's slots after d. r.mu must be
// held.
func (r *run) armProbe(d time.Duration) {
	if r.probe != nil {
		r.probe.Stop()
	}
	r.probe = time.AfterFunc(d, func() {
		r.mu.Lock()
		if r.capacity <= r.held && r.capacity < r.opt.MaxJobs {
			r.capacity = r.held + 1
		}
		r.mu.Unlock()
		r.kick()
	})
}

// slotFound records that Zoho took a submission: while the run holds
// fewer slots than MaxJobs because Zoho's were full, one more is tried
// soon. r.mu must be held.
func (r *run) slotFound() {
	r.fullSince = time.Time{}
	if r.capacity >= r.opt.MaxJobs {
		return
	}
	r.probeWait = 0
	r.armProbe(r.opt.BackoffBase)
}

// refused ends step i, which Zoho refused, and counts the refusal for the
// circuit breaker. A breaker that trips stops the run before the row's job
// slot is freed, so that no other submission starts in between.
func (r *run) refused(i int, err error, log *zerolog.Logger) {
	code, msg := refusal(err)
	var api *zoho.APIError
	if errors.As(err, &api) && api.Code == zoho.CodeInvalidData && api.Detail("owner_status") == zoho.StatusDeleted {
		// Zoho says a user of the row is deleted: the user to delete (since
		// the plan was made, someone deleted them) or a target. Which one,
		// Zoho does not document: read the user to know.
		u, rerr := r.readUser(r.calls, i, log)
		switch {
		case gone(u, rerr):
			r.end(i, result.Skipped, plan.CodeAlreadyDeleted, "Zoho refused the submission because the user is already deleted (since the plan was made, and not by this run): nothing more to do for this row")
			return
		case rerr == nil:
			msg = fmt.Sprintf("Zoho refused the submission: %s; the user is still %s, so a transfer or subordinates target is deleted in Zoho: pick an active user and run this row again", api.Message, u.Status)
		}
	}
	r.mu.Lock()
	if code == r.lastCode {
		r.streak++
	} else {
		r.streak, r.lastCode = 1, code
	}
	trip, n := r.streak >= r.opt.BreakerThreshold, r.streak
	r.mu.Unlock()
	if trip {
		r.halt(Stop{Reason: fmt.Sprintf("the last %d submissions were all refused with %s (%v); the rest were not sent: fix the cause and run again", n, code, err)})
	}
	r.end(i, result.Failed, code, msg)
}

// readUser reads the user of step i through the shared pacer (see
// pacer.Read), until ctx ends.
func (r *run) readUser(ctx context.Context, i int, log *zerolog.Logger) (zoho.User, error) {
	id := r.p.Steps[i].Request.UserID
	var u zoho.User
	err := r.pacer.Read(ctx, *log, "read user "+string(id), func(ctx context.Context) (err error) {
		u, err = r.oneUser(ctx, id)
		return err
	})
	return u, err
}

// oneUser reads one user. A refused ID (400 INVALID_DATA), which some
// org may answer for a deleted user but which proves nothing alone, is
// checked against the list of deleted users: the user counts as deleted
// only when Zoho lists them so, and the refusal stands otherwise.
func (r *run) oneUser(ctx context.Context, id string) (zoho.User, error) {
	u, err := r.c.User(ctx, id)
	if !errors.Is(err, zoho.ErrUserIDRefused) || r.backs == nil {
		return u, err
	}
	users, lerr := r.backs.bulk.UsersByID(ctx, zoho.DeletedUsers, []string{id})
	if lerr != nil {
		return u, err
	}
	for _, v := range users {
		if string(v.ID) == id && v.Deleted() {
			return v, nil
		}
	}
	return u, err
}

// namesTransfer reports whether a "required field not found" refusal is
// about the transfer: its field is "transfer", or the field's parent is
// (the v8 OpenAPI's shape: api_name "id", parent_api_name "transfer"), or
// its JSON path is in it.
func namesTransfer(api *zoho.APIError) bool {
	path := api.Detail("json_path")
	return api.Detail("api_name") == "transfer" || api.Detail("parent_api_name") == "transfer" ||
		path == "$.transfer_and_delete.transfer" || strings.HasPrefix(path, "$.transfer_and_delete.transfer.") ||
		strings.HasPrefix(path, "$.transfer_and_delete[0].transfer")
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
		if s := api.Detail("owner_status"); s != "" {
			todo = fmt.Sprintf("Zoho says a user this row names (the user or a target) is %s: check them in Zoho, fix the row and run it again", s)
		} else {
			todo = "check the row's user and targets against Zoho, fix the row and run it again"
		}
	case zoho.CodeNotAllowed:
		todo = "Zoho does not allow this deletion as asked: change the row's targets (or settle the job already running for this user) and run it again"
	case zoho.CodeMandatoryNotFound, zoho.CodeExpectedField:
		if namesTransfer(api) {
			// Zoho's v8 marks transfer required; its v7 page lets the
			// subordinates' move stand alone. This org wants both.
			todo = "this Zoho org wants every deletion to transfer the user's records: add a transfer_to (who takes them) to the row, and run it again"
		} else {
			todo = "fix the cause and run this row again"
		}
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
