package runner

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/rs/zerolog"

	"offboard/result"
	"offboard/sandbox"
	"offboard/sandbox/sandboxtest"
	"offboard/zoho"
)

// These tests try to break what sending ahead of a free slot must keep
// (ahead.go): every row ends as it would without it, no user gets two
// jobs, a refusal of any kind harms no row, and with --max-jobs below
// Zoho's ten nothing is sent before a job is seen to end.

// leaverID is the ID of the i-th leaver added to the demo org by leavers.
func leaverID(i int) string { return fmt.Sprintf("52104980000009%05d", i) }

// leavers is the demo org with n more active users to delete.
func leavers(n int) *sandbox.Seed {
	s := sandbox.DemoSeed()
	for i := range n {
		s.Users = append(s.Users, sandbox.User{
			ID: leaverID(i), Email: fmt.Sprintf("leaver%05d@northwind-demo.example", i),
			LastName: fmt.Sprintf("Leaver %05d", i), Status: sandbox.StatusActive, Confirm: true,
			ZUID: fmt.Sprint(770000000 + i), Role: sandbox.Ref{ID: "5210498000000026005"},
			Profile: sandbox.Ref{ID: "5210498000000031002", Name: "Standard"},
		})
	}
	return s
}

// leaverPlan deletes the n leavers, records to the super admin.
func leaverPlan(n int) []row { return toHeir(leaverIDs(n)...) }

// leaverIDs are the IDs of the n leavers.
func leaverIDs(n int) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = leaverID(i)
	}
	return ids
}

// aheadOptions are fast() with the jobs' length known from the start, so
// that jobs are due, and steps go ahead, from the first wave.
func aheadOptions(job time.Duration) Options {
	opt := fast()
	opt.JobDuration = job
	return opt
}

// sentAhead counts the accepted submissions that Zoho took while none of
// the run's jobs had been seen ended since the last one it took: sent
// before the runner could know a slot was free. ended reports when each
// job ended; a poll that saw a job ended is a status call answered after
// that job's end.
func sentAhead(srv *sandbox.Server) (ahead, limitRefusals int) {
	jobs := srv.Jobs()
	ended := map[string]time.Time{}
	for _, j := range jobs {
		ended[j.ID] = j.FinishedAt
	}
	type event struct {
		at     time.Time
		poll   bool // a poll that saw its job ended
		submit bool // an accepted submission
	}
	var evs []event
	for _, r := range srv.Requests() {
		switch {
		case r.Token:
		case r.Method == "POST" && r.Status == 200:
			evs = append(evs, event{at: r.Start, submit: true})
		case r.Method == "POST" && r.Status == 400:
			limitRefusals++
		case r.Method == "GET" && strings.Contains(r.RawQuery, "job_id="):
			q, _ := url.ParseQuery(r.RawQuery)
			if end, ok := ended[q.Get("job_id")]; ok && !end.IsZero() && !r.Start.Before(end) {
				evs = append(evs, event{at: r.End, poll: true})
			}
		}
	}
	slices.SortStableFunc(evs, func(a, b event) int { return a.at.Compare(b.at) })
	// Every submission after the first ten needs a slot: one job seen
	// ended (a poll's answer before it was sent) pays for one.
	seen, taken := 0, 0
	for _, e := range evs {
		switch {
		case e.poll:
			seen++
		case e.submit:
			taken++
			if taken > 10 && seen < taken-10 {
				ahead++
				seen++ // it stands for the end it did not wait to see
			}
		}
	}
	return ahead, limitRefusals
}

// sendClock is a client that records when each submission was handed to
// it and when it was answered, and how.
type sendClock struct {
	*zoho.Client
	mu    sync.Mutex
	sends []timedSend
}

type timedSend struct {
	start, end time.Time
	err        error
}

func (c *sendClock) TransferAndDelete(ctx context.Context, req zoho.TransferRequest, beforeSend func(error) error) (zoho.Job, error) {
	start := time.Now()
	job, err := c.Client.TransferAndDelete(ctx, req, beforeSend)
	c.mu.Lock()
	c.sends = append(c.sends, timedSend{start, time.Now(), err})
	c.mu.Unlock()
	return job, err
}

// refusedAfter counts the submissions Zoho refused (400) that were handed
// to the client after off, once every submission handed to it before off
// had its answer: none was on its way when they went.
func (c *sendClock) refusedAfter(off time.Time) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	quiet := off
	for _, s := range c.sends {
		if s.start.Before(off) && s.end.After(quiet) {
			quiet = s.end
		}
	}
	n := 0
	for _, s := range c.sends {
		var api *zoho.APIError
		if s.start.After(quiet) && errors.As(s.err, &api) && api.HTTPStatus == http.StatusBadRequest {
			n++
		}
	}
	return n
}

// lineClock is a log that records when a line saying what was first
// written.
type lineClock struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	what []byte
	at   time.Time
}

func (l *lineClock) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.at.IsZero() && bytes.Contains(p, l.what) {
		l.at = time.Now()
	}
	return l.buf.Write(p)
}

func (l *lineClock) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// sentAfterLoss counts the submissions of user that reached srv after one
// whose answer was dropped.
func sentAfterLoss(srv *sandbox.Server, user string) int {
	lost, n := false, 0
	for _, r := range srv.Requests() {
		if r.Method != "POST" || r.Token || !strings.Contains(r.Path+string(r.Body), user) {
			continue
		}
		if lost {
			n++
		}
		lost = lost || r.Dropped
	}
	return n
}

// maxUnfinished is the most jobs the org had unfinished at once.
func maxUnfinished(srv *sandbox.Server) int {
	jobs := srv.Jobs()
	most := 0
	for _, j := range jobs {
		open := 0
		for _, k := range jobs {
			if !k.SubmittedAt.After(j.SubmittedAt) && (k.FinishedAt.IsZero() || k.FinishedAt.After(j.SubmittedAt)) {
				open++
			}
		}
		most = max(most, open)
	}
	return most
}

// TestAheadKeepsEveryRow runs 40 leavers with --max-jobs 10 under each
// answer an org may give to a submission while its ten slots are full.
// Steps go ahead of jobs due to end; whatever Zoho answers them, every
// row ends deleted, once.
func TestAheadKeepsEveryRow(t *testing.T) {
	const n = 40
	modes := []sandbox.JobLimitAnswer{sandbox.ConcurrentJobLimit, sandbox.LimitReached, sandbox.LimitReachedBare, sandbox.LimitInvalidData, sandbox.QueueBeyondLimit}
	for _, mode := range modes {
		t.Run(mode.String(), func(t *testing.T) {
			s := newSim(t, sandbox.Config{Seed: leavers(n), JobDuration: 40 * time.Millisecond, JobLimitAnswer: mode, Latency: 2 * time.Millisecond}, 5)
			logs := &lineClock{what: []byte("nothing more is sent ahead")}
			opt := aheadOptions(40 * time.Millisecond)
			opt.Log = zerolog.New(logs)
			// A job left unpolled would be looked at only at its
			// deadline: far enough that a run waiting for one shows.
			opt.JobTimeout = 20 * time.Second
			began := time.Now()
			c := &sendClock{Client: s.client}
			p := makePlan(leaverPlan(n)...)
			res, stop, err := Run(t.Context(), c, p, rowsOf(p), opt)
			if err != nil {
				t.Fatalf("Run() error = %v, want nil", err)
			}
			if took := time.Since(began); took > opt.JobTimeout/2 {
				t.Errorf("the run took %s for %d jobs of 40 ms: a job was left to its --job-timeout", took, n)
			}
			if diff := cmp.Diff(repeat(deleted, n), outcomes(res)); diff != "" {
				t.Errorf("outcomes (-want +got):\n%s\nlog:\n%s", diff, logs.String())
			}
			if stop != nil {
				t.Errorf("stop = %+v, want none", stop)
			}
			sandboxtest.CheckOneJobPerUser(t, s.srv)
			ahead, refusals := sentAhead(s.srv)
			most := maxUnfinished(s.srv)
			t.Logf("%d submissions sent ahead and taken, %d refused, at most %d jobs unfinished", ahead, refusals, most)
			switch mode {
			case sandbox.QueueBeyondLimit:
				// Zoho takes them all: the run's own bound holds.
				if most > 20 {
					t.Errorf("%d jobs unfinished at once, want at most 20 (twice --max-jobs)", most)
				}
			case sandbox.LimitInvalidData:
				// A refusal it cannot tell from a row's: the row goes
				// again in its turn, and nothing more is sent ahead.
				// Steps already on their way when the run stopped
				// sending ahead may be refused too (and a step sent in
				// its turn meanwhile, whose slot one of them took), but
				// none once they all have their answer.
				if late := c.refusedAfter(logs.at); refusals > 0 && late > 0 {
					t.Errorf("%d submissions refused once every step sent ahead had its answer after the run stopped sending ahead: sending ahead must stop there", late)
				}
				if refusals == 1 && !strings.Contains(logs.String(), "nothing more is sent ahead") {
					t.Errorf("a refusal, and no word that nothing more is sent ahead; log:\n%s", logs.String())
				}
			default:
				if most > 10 {
					t.Errorf("%d jobs unfinished at once, want at most Zoho's 10", most)
				}
				if ahead+refusals == 0 {
					t.Error("nothing was sent ahead of a free slot: the test tests nothing")
				}
			}
		})
	}
}

// TestNothingAheadBelowZohoLimit: with --max-jobs 9 the runner's own count
// holds its jobs, and nothing is sent before a job is seen to end: Zoho
// never refuses one, and never more than 9 jobs run.
func TestNothingAheadBelowZohoLimit(t *testing.T) {
	const n = 30
	s := newSim(t, sandbox.Config{Seed: leavers(n), JobDuration: 40 * time.Millisecond, Latency: 2 * time.Millisecond}, 5)
	opt := aheadOptions(40 * time.Millisecond)
	opt.MaxJobs = 9
	res, _ := runSim(t, s, makePlan(leaverPlan(n)...), opt)
	if diff := cmp.Diff(repeat(deleted, n), outcomes(res)); diff != "" {
		t.Errorf("outcomes (-want +got):\n%s", diff)
	}
	if most := maxUnfinished(s.srv); most > 9 {
		t.Errorf("%d jobs unfinished at once, want at most 9 (--max-jobs)", most)
	}
	for _, r := range s.srv.Requests() {
		if r.Method == "POST" && !r.Token && r.Status != 200 {
			t.Errorf("a submission was answered %d: with --max-jobs 9 none should meet a full scheduler", r.Status)
		}
	}
	for _, r := range res {
		if r.Attempts != 1 {
			t.Errorf("row %d: %d attempts, want 1", r.Line, r.Attempts)
		}
	}
}

// TestAheadAnswerLost drops the answers of submissions while steps go
// ahead, taken by Zoho or refused: a user whose answer was lost is never
// sent again, and ends deleted once seen so, or failed OUTCOME_UNKNOWN if
// Zoho had refused it.
func TestAheadAnswerLost(t *testing.T) {
	const n = 30
	s := newSim(t, sandbox.Config{Seed: leavers(n), JobDuration: 40 * time.Millisecond, Latency: 2 * time.Millisecond}, 5)
	var mu sync.Mutex
	dropped := map[string]bool{}
	s.srv.SetFaults(func(c sandbox.Call) sandbox.Fault {
		if c.Method != "POST" || c.Seq < 12 || c.Seq > 22 || c.Seq%2 == 1 {
			return sandbox.NoFault
		}
		mu.Lock()
		defer mu.Unlock()
		for i := range n {
			if bytes.Contains(c.Body, []byte(leaverID(i))) || strings.Contains(c.Path, leaverID(i)) {
				dropped[leaverID(i)] = true
			}
		}
		return sandbox.DropAfterCommit
	})
	opt := aheadOptions(40 * time.Millisecond)
	opt.JobTimeout = 400 * time.Millisecond
	res, _ := runSim(t, s, makePlan(leaverPlan(n)...), opt)
	sandboxtest.CheckOneJobPerUser(t, s.srv)
	mu.Lock()
	defer mu.Unlock()
	if len(dropped) == 0 {
		t.Fatal("no answer was dropped: the test tests nothing")
	}
	for i, r := range res {
		id := leaverID(i)
		switch {
		case dropped[id]:
			if n := sentAfterLoss(s.srv, id); n > 0 {
				t.Errorf("user %s was sent %d times after the answer to its submission was lost, want never", id, n)
			}
			if r.Outcome == result.Deleted && r.Code != CodeReconciled ||
				r.Outcome == result.Failed && r.Code != CodeOutcomeUnknown ||
				r.Outcome != result.Deleted && r.Outcome != result.Failed {
				t.Errorf("user %s, whose answer was lost: %s %s, want deleted RECONCILED or failed OUTCOME_UNKNOWN", id, r.Outcome, r.Code)
			}
		case r.Outcome != result.Deleted:
			t.Errorf("user %s: %s %s %q, want deleted", id, r.Outcome, r.Code, r.Message)
		}
	}
}

// TestNothingGoesAheadOnceSendingAheadStopped: a step launched ahead of a
// free slot that reaches the client's last moment after the run stopped
// sending ahead (a refusal not about the job limit, answered meanwhile)
// is not sent, and not recorded in the journal; a step in its turn is.
func TestNothingGoesAheadOnceSendingAheadStopped(t *testing.T) {
	journaled := 0
	r := &run{stopCtx: context.Background(), steps: make([]stepState, 2),
		opt: Options{BeforeSubmit: func(int, int) error { journaled++; return nil }}}
	if _, err := r.commit(0, true); !errors.Is(err, errAheadOff) || journaled != 0 || r.steps[0].res.Attempts != 0 {
		t.Errorf("a step sent ahead once sending ahead stopped: commit = %v, %d journaled, %d attempts; want %v, none", err, journaled, r.steps[0].res.Attempts, errAheadOff)
	}
	if _, err := r.commit(1, false); err != nil || journaled != 1 {
		t.Errorf("a step in its turn: commit = %v, %d journaled; want sent, 1", err, journaled)
	}
	r.aheadOn = true
	if _, err := r.commit(0, true); err != nil || journaled != 2 {
		t.Errorf("a step sent ahead while sending ahead is on: commit = %v, %d journaled; want sent, 2", err, journaled)
	}
}

// TestSlotsFullCountsNoMoreThanMaxJobs: ten jobs hold Zoho's slots and a
// step sent ahead was taken (one of the ten had ended, unseen: over 1);
// then a step sent in its turn, with nothing on its way ahead (another
// admin's job took the slot), is refused for the job limit. The slots
// counted stay within --max-jobs, and the step is not sent again at once:
// capacity set to the slots held (eleven) had it resent in a tight loop.
func TestSlotsFullCountsNoMoreThanMaxJobs(t *testing.T) {
	p := makePlan(leaverPlan(13)...)
	r := pacedRun(time.Now())
	r.p, r.steps = p, make([]stepState, len(p.Steps))
	r.opt.BackoffBase, r.opt.BackoffMax, r.opt.JobTimeout = time.Hour, time.Hour, time.Hour
	for i := range 11 {
		r.steps[i] = stepState{phase: running, holds: true}
	}
	r.held, r.over = 11, 1
	r.steps[11] = stepState{phase: sending}
	r.sending = 1
	r.take(11)
	log := zerolog.Nop()
	r.slotsFull(11, &log)
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.capacity > r.opt.MaxJobs {
		t.Errorf("capacity %d after the refusal, want at most --max-jobs (%d)", r.capacity, r.opt.MaxJobs)
	}
	if start := r.startable(); len(start) > 0 {
		t.Errorf("step %d sent again at once (held %d, over %d, capacity %d), want it to wait for a slot", start[0].step, r.held, r.over, r.capacity)
	}
	if r.probe != nil {
		r.probe.Stop()
	}
}

// TestSweepAheadCountsWhatIsKnown: a sweep shows four users deleted while
// the ten slots are held, one step on its way ahead (it may take one of
// their slots) and one taken that had Zoho show a job ended (over): two
// steps go ahead, of two of the four jobs. Zoho answering "later" (a 429)
// to a step sent on a sweep's showing says nothing of the listing; once
// it refused one for its job limit, none goes on a sweep's showing again
// in the run.
func TestSweepAheadCountsWhatIsKnown(t *testing.T) {
	r := fullRun(250 * time.Millisecond)
	r.steps = make([]stepState, 12)
	for i := range 12 {
		r.steps[i] = stepState{phase: running, holds: true}
	}
	r.steps[11].phase = sending
	r.held, r.over, r.aheadsOut, r.sending = 12, 1, 1, 1
	shown := []*watch{{step: 0, learn: true}, {step: 1, learn: true}, {step: 2, learn: true}, {step: 3, learn: true}}
	offered := r.claimShown(shown)
	if len(offered) != 2 || len(r.claims) != 2 || !offered[0].shownClaim || !offered[1].shownClaim {
		t.Fatalf("claimShown offered %d (claims %d), want 2: four shown, less one on its way ahead and one over", len(offered), len(r.claims))
	}
	r.claims = nil
	log := zerolog.Nop()
	r.aheadBack(launch{step: 11, ahead: true, near: offered[0]}, errors.New("later"), false, time.Time{}, &log)
	r.aheadsOut, r.over = 0, 0
	if !r.mayGoAhead() {
		t.Fatal("no step may go ahead after the refusal: the checks below would prove nothing")
	}
	if offered := r.claimShown([]*watch{{step: 4, learn: true}}); len(offered) != 1 {
		t.Errorf("claimShown offered %d after Zoho answered \"later\" to a step sent on a sweep's showing, want 1", len(offered))
	}
	r.claims = nil
	r.steps[10].phase, r.sending = sending, 1
	r.aheadBack(launch{step: 10, ahead: true, near: offered[1]}, errors.New("limit"), false, time.Now(), &log)
	if !r.mayGoAhead() {
		t.Fatal("no step may go ahead after the refusal: the check below would prove nothing")
	}
	if offered := r.claimShown([]*watch{{step: 5, learn: true}}); len(offered) != 0 {
		t.Errorf("claimShown offered %d after Zoho refused a step sent on a sweep's showing, want none", len(offered))
	}
}
