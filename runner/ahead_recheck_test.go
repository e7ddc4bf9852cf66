package runner

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"offboard/result"
	"offboard/zoho"
)

// zrefuser is zfake refusing chosen users (row refusals), before the job limit.
type zrefuser struct {
	*zfake
	rmu    sync.Mutex
	refuse map[string]string // user -> code
}

func (z *zrefuser) TransferAndDelete(ctx context.Context, req zoho.TransferRequest, beforeSend func(error) error) (zoho.Job, error) {
	z.rmu.Lock()
	code := z.refuse[string(req.UserID)]
	z.rmu.Unlock()
	if code == "" {
		return z.zfake.TransferAndDelete(ctx, req, beforeSend)
	}
	if err := beforeSend(nil); err != nil {
		return zoho.Job{}, &zoho.NotSentError{Method: "POST", Path: "/x", Err: err}
	}
	z.mu.Lock()
	hold := z.holdPost[string(req.UserID)]
	z.mu.Unlock()
	if hold != nil {
		<-hold
	}
	z.mu.Lock()
	z.note("POST", string(req.UserID), 400)
	z.mu.Unlock()
	return zoho.Job{}, &zoho.APIError{HTTPStatus: http.StatusBadRequest, Code: code, Message: "refused " + code, CreditsRemaining: -1}
}

// endAllUntil ends every job of users, now and as they are submitted,
// until done is closed.
func endAllUntil(f *zfake, users []string, done chan struct{}) {
	for {
		select {
		case <-done:
			return
		case <-time.After(time.Millisecond):
			for _, u := range users {
				f.end(u)
			}
		}
	}
}

// A row Zoho refuses (NOT_ALLOWED), sent in its turn while a step sent
// ahead is slow to be answered: is it resent in a loop until that answer?
func TestAheadRecheckRowRefusalWhileAheadInFlight(t *testing.T) {
	const n = 30
	f := newZfake()
	z := &zrefuser{zfake: f, refuse: map[string]string{}}
	users := leaverIDs(n)
	z.refuse[users[11]] = zoho.CodeNotAllowed
	release10 := make(chan struct{})
	f.holdPost[users[10]] = release10
	opt := fast()
	opt.JobTimeout = 10 * time.Second
	var attempts sync.Map
	opt.BeforeSubmit = func(i, a int) error { attempts.Store(i, a); return nil }
	run := startRun(t.Context(), z, makePlan(toHeir(users...)...), opt)
	waitFor(t, "ten jobs", func() bool { return f.count("POST", 200) == 10 })
	time.Sleep(100 * time.Millisecond) // aheads go; step 10's is held
	f.end(users[0])
	f.end(users[1])
	time.Sleep(300 * time.Millisecond)
	n11 := len(f.posts(users[11]))
	t.Logf("row 11 (NOT_ALLOWED) submissions while step 10 (ahead) was held 300 ms: %d", n11)
	close(release10)
	go endAllUntil(f, users, run.done)
	<-run.done
	res := run.res
	a, _ := attempts.Load(11)
	t.Logf("row 11: %s %s attempts=%v posts=%d", res[11].Outcome, res[11].Code, a, len(f.posts(users[11])))
	if res[11].Outcome != result.Failed || res[11].Code != zoho.CodeNotAllowed {
		t.Errorf("row 11 = %s %s, want failed NOT_ALLOWED", res[11].Outcome, res[11].Code)
	}
	if n11 > 3 {
		t.Errorf("row 11, refused NOT_ALLOWED, was sent %d times in 300 ms while a step sent ahead awaited its answer", n11)
	}
}

// Every row after the first ten is refused NO_PERMISSION: with steps sent
// ahead, does the breaker trip after 5 and how many are sent?
func TestAheadRecheckBreakerWithAheads(t *testing.T) {
	const n = 60
	f := newZfake()
	z := &zrefuser{zfake: f, refuse: map[string]string{}}
	users := make([]string, n)
	for i := range users {
		users[i] = leaverID(i)
		if i >= 10 {
			z.refuse[users[i]] = zoho.CodeNoPermission
		}
	}
	opt := fast()
	opt.JobTimeout = 10 * time.Second
	run := startRun(t.Context(), z, makePlan(toHeir(users...)...), opt)
	waitFor(t, "ten jobs", func() bool { return f.count("POST", 200) == 10 })
	time.Sleep(100 * time.Millisecond)
	go endAllUntil(f, users, run.done)
	<-run.done
	res, stop := run.res, run.stop
	failed := 0
	for _, r := range res {
		if r.Outcome == result.Failed {
			failed++
		}
	}
	t.Logf("stop %+v; %d rows failed; %d refused posts", stop, failed, f.count("POST", 400))
	if stop == nil || !strings.Contains(stop.Reason, "NO_PERMISSION") {
		t.Errorf("breaker did not trip: %+v", stop)
	}
	// Five refusals in a row trip the breaker; submissions already on
	// their way then (up to the other nine slots') are refused too.
	if failed < 5 || failed > 5+9 {
		t.Errorf("%d rows failed, want 5, or up to 9 more sent before the breaker tripped", failed)
	}
}

// Another admin's two jobs take the slots two of this run's jobs freed,
// while a step sent ahead waits 300 ms for its answer: the step sent in its
// turn is refused for the job limit, raced, back in line, and sent again.
func TestAheadRecheckLimitRefusalWhileAheadInFlight(t *testing.T) {
	const n = 30
	f := newZfake()
	users := leaverIDs(n)
	release10 := make(chan struct{})
	f.holdPost[users[10]] = release10
	opt := fast()
	opt.JobTimeout = 10 * time.Second
	ctx, cancel := context.WithCancel(t.Context())
	run := startRun(ctx, f, makePlan(toHeir(users...)...), opt)
	waitFor(t, "ten jobs", func() bool { return f.count("POST", 200) == 10 })
	time.Sleep(100 * time.Millisecond)
	f.mu.Lock()
	f.jobs["o1"], f.jobs["o2"] = &zjob{id: "o1", user: "o1"}, &zjob{id: "o2", user: "o2"}
	f.mu.Unlock()
	before := f.count("POST", 400)
	f.end(users[0])
	f.end(users[1])
	time.Sleep(300 * time.Millisecond)
	t.Logf("submissions refused for the job limit in the 300 ms a step sent ahead awaited its answer: %d", f.count("POST", 400)-before)
	// Steps go ahead of the other eight jobs as they come due, each in
	// place of one of their polls (at most 50 ms apart here), and are
	// refused (the other admin's jobs hold the slots): at most 8 × 7 in
	// 300 ms. The loop this guards against sent 32,504.
	if d := f.count("POST", 400) - before; d > 8*7 {
		t.Errorf("%d refusals in 300 ms: more than one per look of a job: a hot loop", d)
	}
	close(release10)
	cancel()
	<-run.done
}
