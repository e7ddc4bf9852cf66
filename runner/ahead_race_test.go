package runner

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"offboard/result"
	"offboard/sandbox"
	"offboard/zoho"
)

// zfake is an in-process Zoho with a job limit of ten: jobs end when the
// test says; a test can hold a user's submission before it reaches
// Zoho's scheduler, and hold a job's status answer.
type zfake struct {
	mu       sync.Mutex
	jobs     map[string]*zjob // by job ID
	byUser   map[string]*zjob
	next     int
	holdPost map[string]chan struct{} // user -> closed when it may arrive
	holdPoll map[string]chan struct{} // user -> closed when its poll may be answered
	log      []zevent
	t0       time.Time
	// trigger, when above 0, makes that many of the next jobs polled end
	// at their poll (the first is the probe, the one job polled while
	// nothing is known: two lengths known say the jobs are alike), and,
	// with the first, one other job end unseen: its poll's answer is held
	// until unseen is closed.
	trigger int
	unseen  chan struct{}
	users   []string
	// invalidData refuses for the job limit with 400 INVALID_DATA
	// (sandbox.LimitInvalidData).
	invalidData bool
}

type zjob struct {
	id, user string
	ended    bool
}

type zevent struct {
	at     time.Duration
	what   string
	user   string
	status int
}

func newZfake() *zfake {
	return &zfake{jobs: map[string]*zjob{}, byUser: map[string]*zjob{},
		holdPost: map[string]chan struct{}{}, holdPoll: map[string]chan struct{}{}, t0: time.Now()}
}

func (f *zfake) note(what, user string, status int) {
	f.log = append(f.log, zevent{time.Since(f.t0), what, user, status})
}

func (f *zfake) end(user string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if j := f.byUser[user]; j != nil {
		j.ended = true
		f.note("end", user, 0)
	}
}

func (f *zfake) unfinished() int {
	n := 0
	for _, j := range f.jobs {
		if !j.ended {
			n++
		}
	}
	return n
}

func (f *zfake) TransferAndDelete(ctx context.Context, req zoho.TransferRequest, beforeSend func(error) error) (zoho.Job, error) {
	if err := beforeSend(nil); err != nil {
		return zoho.Job{}, &zoho.NotSentError{Method: "POST", Path: "/crm/v7/users/actions/transfer_and_delete", Err: err}
	}
	user := string(req.UserID)
	f.mu.Lock()
	hold := f.holdPost[user]
	f.note("POST sent", user, 0)
	f.mu.Unlock()
	if hold != nil {
		<-hold
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.unfinished() >= 10 {
		f.note("POST", user, 400)
		if f.invalidData {
			return zoho.Job{}, &zoho.APIError{HTTPStatus: http.StatusBadRequest, Code: zoho.CodeInvalidData, Message: "the limit of jobs is reached", Details: map[string]any{"limit": 10}, CreditsRemaining: -1}
		}
		return zoho.Job{}, &zoho.APIError{HTTPStatus: http.StatusBadRequest, Code: zoho.CodeJobLimit, Message: "job limit", CreditsRemaining: -1}
	}
	if f.byUser[user] != nil {
		panic("second job for " + user)
	}
	f.next++
	j := &zjob{id: fmt.Sprintf("9%018d", f.next), user: user}
	f.jobs[j.id], f.byUser[user] = j, j
	f.note("POST", user, 200)
	return zoho.Job{ID: j.id, UserID: req.UserID}, nil
}

func (f *zfake) JobStatus(ctx context.Context, id string) (zoho.JobStatus, error) {
	f.mu.Lock()
	j := f.jobs[id]
	if f.trigger > 0 && !j.ended && f.holdPoll[j.user] == nil {
		f.trigger--
		j.ended = true
		f.note("end (polled)", j.user, 0)
		for _, u := range f.users {
			if f.unseen == nil {
				break
			}
			if y := f.byUser[u]; y != nil && y != j && !y.ended {
				y.ended = true
				f.holdPoll[u] = f.unseen
				f.note("end (unseen)", u, 0)
				f.unseen = nil
				break
			}
		}
	}
	hold := f.holdPoll[j.user]
	f.mu.Unlock()
	if hold != nil {
		select {
		case <-hold:
		case <-ctx.Done():
			return zoho.JobStatus{}, ctx.Err()
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.note("poll", j.user, 0)
	if j.ended {
		return zoho.JobStatus{Status: zoho.JobCompleted}, nil
	}
	return zoho.JobStatus{Status: zoho.JobInProgress}, nil
}

func (f *zfake) User(ctx context.Context, id string) (zoho.User, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if j := f.byUser[id]; j != nil && j.ended {
		return zoho.User{ID: zoho.ID(id), Status: zoho.StatusDeleted}, nil
	}
	return zoho.User{ID: zoho.ID(id), Status: zoho.StatusActive}, nil
}

func (f *zfake) count(what string, status int) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, e := range f.log {
		if e.what == what && e.status == status {
			n++
		}
	}
	return n
}

func (f *zfake) posts(user string) []int {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []int
	for _, e := range f.log {
		if e.what == "POST" && e.user == user {
			out = append(out, e.status)
		}
	}
	return out
}

// TestAheadStepInTurnLosesSlotToAheads: a job is seen ended, and the
// next step goes in its turn; before it reaches Zoho (a slow path), steps
// sent ahead of jobs due take the slot it counted on and one more that had
// ended unseen. Zoho refuses the step in its turn for its job limit. The
// refusal is raced (a step went ahead meanwhile): the step goes back in
// line. Judged as a step in its turn refused with nothing ahead, it went
// to slotsFull; and had slotsFull set capacity to held, which counts the
// steps that went ahead, capacity was above --max-jobs, and with over > 0
// the scheduler sent a step in its turn again at once, and again: with
// both undone, over 100,000 refusals in 500 ms.
func TestAheadStepInTurnLosesSlotToAheads(t *testing.T) {
	const n = 30
	f := newZfake()
	users := leaverIDs(n)
	// Step 10 (the first to wait) goes in its turn once the probe is seen
	// ended: hold it on its way.
	releaseN := make(chan struct{})
	f.holdPost[users[10]] = releaseN
	// The probe ends, and another job ends unseen (its status answer is
	// slow); the next job polled ends too: two lengths known, the jobs are
	// alike, and steps go ahead of the others as they come due.
	releaseJ1 := make(chan struct{})
	f.users, f.unseen = users, releaseJ1
	opt := fast()
	opt.JobDuration = 0 // nothing known: J0 is the probe, the others wait
	opt.JobTimeout = 20 * time.Second
	opt.BackoffBase, opt.BackoffMax = 50*time.Millisecond, time.Second
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	run := startRun(ctx, f, makePlan(toHeir(users...)...), opt)
	waitFor(t, "ten jobs", func() bool { return f.count("POST", 200) == 10 })
	f.mu.Lock()
	f.trigger = 2
	f.mu.Unlock()
	// Step 10 goes in its turn and is held on its way; step 11 goes in
	// its turn too; steps go ahead of the jobs that come due, and Zoho
	// takes two (the probe's slot, and the one ended unseen).
	f.waitFull(t, 13)
	time.Sleep(50 * time.Millisecond)
	before := f.count("POST", 400)
	close(releaseN) // step 10 reaches Zoho: refused for the job limit
	time.Sleep(500 * time.Millisecond)
	refused := f.count("POST", 400) - before
	ans := f.posts(users[10])
	if len(ans) > 12 {
		ans = ans[:12]
	}
	t.Logf("step 10's answers (first 12 of %d) %v; %d submissions refused for the job limit in the 500 ms after it reached Zoho (no job was seen to end meanwhile)", len(f.posts(users[10])), ans, refused)
	f.inItsTurn(t, users[10])
	if refused > 20 {
		t.Errorf("%d submissions refused for the job limit in 500 ms with every slot held and no job seen ended: a hot loop", refused)
	}
	close(releaseJ1)
	for _, u := range users {
		f.end(u)
	}
	cancel()
	<-run.done
}

// waitFull waits until posts jobs were taken and Zoho's ten slots are
// held while step 10 is held on its way: steps sent ahead took the slot
// it counted on. It fails the test, showing what Zoho saw, if that does
// not come within 3 s.
func (f *zfake) waitFull(t *testing.T, posts int) {
	t.Helper()
	for deadline := time.Now().Add(3 * time.Second); ; time.Sleep(time.Millisecond) {
		f.mu.Lock()
		full := f.unfinished() >= 10
		f.mu.Unlock()
		if full && f.count("POST", 200) >= posts {
			return
		}
		if time.Now().After(deadline) {
			f.dump(t)
			t.Fatalf("Zoho took %d submissions, not %d with its slots full: no step taken ahead of step 10", f.count("POST", 200), posts)
		}
	}
}

// inItsTurn fails the test unless user's step went in its turn, not
// ahead (which the race needs), and Zoho refused it first: it was sent
// once the probe was seen ended (nothing was known before: no step went
// ahead), and answered 400 first.
func (f *zfake) inItsTurn(t *testing.T, user string) {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	var ended, sent time.Duration = -1, -1
	for _, e := range f.log {
		switch {
		case e.what == "end (polled)" && ended < 0:
			ended = e.at
		case e.what == "POST sent" && e.user == user && sent < 0:
			sent = e.at
		}
	}
	if ended < 0 || sent < ended {
		t.Errorf("step %s first sent at %v, before the probe was seen ended (%v): sent ahead, the race was not raised", user, sent, ended)
	}
	for _, e := range f.log {
		if e.what == "POST" && e.user == user {
			if e.status != 400 {
				t.Errorf("step %s first answered %d, want 400: its slot was not taken, the race was not raised", user, e.status)
			}
			return
		}
	}
	t.Errorf("step %s never answered: the race was not raised", user)
}

// dump logs what Zoho saw.
func (f *zfake) dump(t *testing.T) {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, e := range f.log {
		t.Logf("%v %s %s %d", e.at, e.what, e.user, e.status)
	}
}

// simShortAmongLong is a simulated org of n leavers whose jobs run 10 s,
// but those of the rows short, which take d; its client has offboard's
// default --rate 50 and --concurrency 5.
func simShortAmongLong(t *testing.T, n int, d time.Duration, short ...int) *sim {
	t.Helper()
	ids := map[string]bool{}
	for _, i := range short {
		ids[leaverID(i)] = true
	}
	return simWith(t, sandbox.Config{Seed: leavers(n), JobDuration: 10 * time.Second, Latency: time.Millisecond,
		JobDurations: func(id string) time.Duration {
			if ids[id] {
				return d
			}
			return 0
		}}, func(c *zoho.Config) {
		c.MaxInFlight = 5
		c.Limiter = rate.NewLimiter(50, 1)
	})
}

// TestAheadStepInTurnLosesSlotToAheadsSandbox is the same against the
// simulator over HTTP, with offboard's default --rate 50 and
// --concurrency 5: three jobs end at 30 ms, the others run for 10 s.
// Whichever short job is seen ended first lets step 10 go in its turn;
// its submission is held on its way until Zoho's slots are full again.
// The second short job seen ended lets step 11 go in its turn: two
// lengths known, and the jobs running past them say the lengths spread,
// so steps go ahead by pace. The status answers of the third short job,
// once it ended, are held (a slow answer): its slot, and step 10's, free
// at Zoho for steps sent ahead to take. The org refuses the sweeps, and
// each job is polled for its end: otherwise the sweep that shows the short
// jobs' users deleted sends steps ahead of their polls (claimShown), and
// none goes in its turn.
func TestAheadStepInTurnLosesSlotToAheadsSandbox(t *testing.T) {
	const n = 30
	s := simShortAmongLong(t, n, 30*time.Millisecond, 3, 6, 8)
	releaseN, releaseUnseen := make(chan struct{}), make(chan struct{})
	defer close(releaseUnseen)
	var mu sync.Mutex
	var seen []string       // the short jobs' users seen ended, in turn
	var seenEnded time.Time // when the first was
	s.srv.SetFaults(func(c sandbox.Call) sandbox.Fault {
		switch {
		case c.Method == "GET" && c.Query.Get("ids") != "":
			return sandbox.Refuse
		case c.Method == "POST" && bytes.Contains(c.Body, []byte(leaverID(10))):
			<-releaseN
		case c.Method == "GET" && c.Query.Get("job_id") != "":
			var job sandbox.Job
			for _, j := range s.srv.Jobs() {
				if j.ID == c.Query.Get("job_id") {
					job = j
				}
			}
			if job.FinishedAt.IsZero() {
				break
			}
			mu.Lock()
			if !slices.Contains(seen, job.UserID) && len(seen) < 2 {
				seen = append(seen, job.UserID)
				if seenEnded.IsZero() {
					seenEnded = time.Now()
				}
			}
			unseen := !slices.Contains(seen, job.UserID)
			mu.Unlock()
			if unseen {
				<-releaseUnseen
			}
		}
		return sandbox.NoFault
	})
	opt := fast()
	opt.JobDuration = 0
	opt.JobTimeout = time.Minute
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	run := startRun(ctx, s.client, makePlan(leaverPlan(n)...), opt)
	// Zoho's ten slots full again with step 10 held: steps 11 and 12 in
	// their turns, and one sent ahead.
	full := func() bool {
		running := 0
		for _, j := range s.srv.Jobs() {
			if j.FinishedAt.IsZero() {
				running++
			}
		}
		return running >= 10 && len(s.srv.Jobs()) >= 13
	}
	for deadline := time.Now().Add(5 * time.Second); !full(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t0 := s.srv.Jobs()[0].SubmittedAt
			for _, r := range s.srv.Requests() {
				t.Logf("%v %v %s %s %s %d", r.Start.Sub(t0), r.End.Sub(t0), r.Method, r.Path, r.RawQuery, r.Status)
			}
			t.Fatalf("%d jobs taken, and Zoho's slots not full again with step 10 held: no step went ahead of it", len(s.srv.Jobs()))
		}
	}
	posts := func() (refused int, step10 []sandbox.Request) {
		for _, r := range s.srv.Requests() {
			if r.Method != "POST" || r.Token {
				continue
			}
			if r.Status == 400 {
				refused++
			}
			if bytes.Contains(r.Body, []byte(leaverID(10))) {
				step10 = append(step10, r)
			}
		}
		return refused, step10
	}
	before, _ := posts()
	close(releaseN)
	time.Sleep(2 * time.Second)
	after, step10 := posts()
	refused := after - before
	t.Logf("%d submissions refused for the job limit in the 2 s after step 10 reached Zoho; step 10 sent %d times", refused, len(step10))
	mu.Lock()
	defer mu.Unlock()
	switch {
	case len(step10) == 0:
		t.Fatal("step 10 never reached Zoho")
	case seenEnded.IsZero() || step10[0].Start.Before(seenEnded):
		t.Errorf("step 10 first sent at %v, before a short job was seen ended (%v): sent ahead, the race was not raised", step10[0].Start, seenEnded)
	case step10[0].Status != 400:
		t.Errorf("step 10 first answered %d, want 400: its slot was not taken, the race was not raised", step10[0].Status)
	}
	// Steps sent ahead of the other jobs as they come due are refused too;
	// the loop this guards against sent 33 or more.
	if refused > 20 {
		t.Errorf("%d submissions refused for the job limit in 2 s with every slot held and no job seen ended: a hot loop at --rate", refused)
	}
	cancel()
	<-run.done
}

// TestAheadStepInTurnFailsUnderLimitInvalidData: an org that refuses for
// its job limit with INVALID_DATA (sandbox.LimitInvalidData). A job is
// seen ended and step 10 goes in its turn; on its way, a step sent ahead
// of a job due takes the slot. Zoho refuses step 10, which was not sent
// ahead: its row fails INVALID_DATA.
func TestAheadStepInTurnFailsUnderLimitInvalidData(t *testing.T) {
	const n = 30
	f := newZfake()
	f.invalidData = true
	users := leaverIDs(n)
	releaseN := make(chan struct{})
	f.holdPost[users[10]] = releaseN
	f.users = users
	opt := fast()
	opt.JobDuration = 0
	opt.JobTimeout = 5 * time.Second
	run := startRun(t.Context(), f, makePlan(toHeir(users...)...), opt)
	waitFor(t, "ten jobs", func() bool { return f.count("POST", 200) == 10 })
	f.mu.Lock()
	f.trigger = 2 // two lengths known: steps go ahead
	f.mu.Unlock()
	// Step 11 goes in its turn, and a step ahead takes step 10's slot.
	f.waitFull(t, 12)
	close(releaseN)
	waitFor(t, "step 10 answered", func() bool { return len(f.posts(users[10])) > 0 })
	f.inItsTurn(t, users[10])
	for _, u := range users {
		f.end(u)
	}
	// Jobs submitted from now on end at once.
	go endAllUntil(f, users, run.done)
	<-run.done
	res := run.res
	t.Logf("row 10: %s %s %q; step 10's answers %v", res[10].Outcome, res[10].Code, res[10].Message, f.posts(users[10]))
	if res[10].Outcome != result.Deleted {
		t.Errorf("row 10 (sent in its turn, its slot taken by a step sent ahead) = %s %s, want deleted", res[10].Outcome, res[10].Code)
	}
}
