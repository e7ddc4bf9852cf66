package runner

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
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
	// trigger, when set, makes the next job polled end (it is the probe,
	// the one job polled while nothing is known), and one other job end
	// unseen: its poll's answer is held until unseen is closed.
	trigger bool
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
	if f.trigger {
		f.trigger = false
		j.ended = true
		f.note("end (probe)", j.user, 0)
		for _, u := range f.users {
			if f.unseen == nil {
				break
			}
			if y := f.byUser[u]; y != nil && y != j {
				y.ended = true
				f.holdPoll[u] = f.unseen
				f.note("end (unseen)", u, 0)
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
// next step goes in its turn; before it reaches Zoho (a slow path), two
// steps sent ahead of jobs due take the slot it counted on and one more
// that had ended unseen. Zoho refuses the step in its turn for its job
// limit: slotsFull sets capacity to held, which counts the steps that went
// ahead, so capacity is now above --max-jobs, and with over > 0 the
// scheduler sends a step in its turn again at once, and again...
func TestAheadStepInTurnLosesSlotToAheads(t *testing.T) {
	const n = 30
	f := newZfake()
	users := leaverIDs(n)
	// Step 10 (the first to wait) goes in its turn once J0 is seen ended:
	// hold it on its way.
	releaseN := make(chan struct{})
	f.holdPost[users[10]] = releaseN
	// The probe ends, and another job ends unseen: its status answer is
	// slow.
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
	f.trigger = true
	f.mu.Unlock()
	// Step 10 goes in its turn, and is held on its way; steps go ahead
	// of the jobs that come due and Zoho takes two (J0's and J1's slots).
	for deadline := time.Now().Add(3 * time.Second); f.count("POST", 200) < 12; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			f.mu.Lock()
			for _, e := range f.log {
				t.Logf("%v %s %s %d", e.at, e.what, e.user, e.status)
			}
			f.mu.Unlock()
			t.Fatal("no two steps taken ahead")
		}
	}
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
// --concurrency 5: two jobs end at 30 ms, the others run for 10 s.
// Whichever of the two is seen ended first lets step 10 go in its turn;
// its submission is held on its way until Zoho took two steps sent ahead;
// the other short job's status answer is held (a slow answer).
func TestAheadStepInTurnLosesSlotToAheadsSandbox(t *testing.T) {
	const n = 30
	s := simShortAmongLong(t, n, 30*time.Millisecond, 3, 6)
	short := map[string]bool{leaverID(3): true, leaverID(6): true}
	releaseN, releaseUnseen := make(chan struct{}), make(chan struct{})
	defer close(releaseUnseen)
	var mu sync.Mutex
	seen := "" // the short job seen ended first
	s.srv.SetFaults(func(c sandbox.Call) sandbox.Fault {
		switch {
		case os.Getenv("REVIEW_NO_HOLD") == "" && c.Method == "POST" && bytes.Contains(c.Body, []byte(leaverID(10))):
			<-releaseN
		case c.Method == "GET" && c.Query.Get("job_id") != "":
			user := ""
			for _, j := range s.srv.Jobs() {
				if j.ID == c.Query.Get("job_id") {
					user = j.UserID
				}
			}
			mu.Lock()
			first := seen
			if first == "" && short[user] && time.Since(s.srv.Jobs()[0].SubmittedAt) > 40*time.Millisecond {
				seen = user
			}
			mu.Unlock()
			if first != "" && short[user] && user != first {
				<-releaseUnseen
			}
		}
		return sandbox.NoFault
	})
	opt := fast()
	opt.JobDuration = 0
	opt.JobTimeout = time.Minute
	ctx, cancel := context.WithCancel(t.Context())
	run := startRun(ctx, s.client, makePlan(leaverPlan(n)...), opt)
	waitFor(t, "twelve jobs", func() bool { return len(s.srv.Jobs()) >= 12 })
	time.Sleep(20 * time.Millisecond)
	count := func() (refused int) {
		for _, r := range s.srv.Requests() {
			if r.Method == "POST" && !r.Token && r.Status == 400 {
				refused++
			}
		}
		return refused
	}
	before := count()
	close(releaseN)
	time.Sleep(2 * time.Second)
	refused := count() - before
	t.Logf("%d submissions refused for the job limit in the 2 s after step 10 reached Zoho; polls answered meanwhile: see below", refused)
	// Steps sent ahead of the other jobs as they come due are refused too
	// (about 9 in these 2 s); the loop this guards against sent 33 or more.
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
	f.trigger = true
	f.mu.Unlock()
	waitFor(t, "a step taken ahead", func() bool { return f.count("POST", 200) == 11 })
	close(releaseN)
	waitFor(t, "step 10 answered", func() bool { return len(f.posts(users[10])) > 0 })
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
