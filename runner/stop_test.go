package runner

import (
	"context"
	"errors"
	"os"
	"runtime/pprof"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/time/rate"

	"offboard/plan"
	"offboard/result"
	"offboard/sandbox"
	"offboard/sandbox/sandboxtest"
	"offboard/zoho"
)

// These tests try to break the runner's first promise: once the run must
// stop, no submission starts. Each parks the submitters in one of the waits
// before a submission, stops the run, and then lets the wait end; the
// simulator's request log must show no submission after the stop.

// simWith starts a simulator and a client built by cfg.
func simWith(t *testing.T, sc sandbox.Config, cfg func(*zoho.Config)) *sim {
	t.Helper()
	if sc.JobDuration == 0 {
		sc.JobDuration = 30 * time.Millisecond
	}
	srv := sandboxtest.Start(t, sc)
	return &sim{srv: srv, client: sandboxtest.Client(t, srv, func(c *zoho.Config) {
		c.MaxInFlight = 4
		if cfg != nil {
			cfg(c)
		}
	})}
}

// gate is a fault hook's way to hold calls at the simulator until the test
// lets them go.
type gate struct {
	once    sync.Once
	release chan struct{}
	held    chan struct{} // closed when the first call is held
	heldOne sync.Once
}

func newGate(t *testing.T) *gate {
	g := &gate{release: make(chan struct{}), held: make(chan struct{})}
	t.Cleanup(g.open) // never leave a server goroutine blocked
	return g
}

func (g *gate) hold() {
	g.heldOne.Do(func() { close(g.held) })
	<-g.release
}

func (g *gate) open() { g.once.Do(func() { close(g.release) }) }

// waitFor waits until ok holds, failing the test after a long while (a
// broken runner, not a slow machine).
func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func postCount(srv *sandbox.Server) int { return srv.CountCalls("POST", "/crm/") }

// bgRun is a Run on its own goroutine: once done is closed, res, stop
// and err hold what it returned.
type bgRun struct {
	res  []result.Row
	stop *Stop
	err  error
	done chan struct{}
}

// startRun starts Run on its own goroutine.
func startRun(ctx context.Context, c Client, p *plan.Plan, opt Options) *bgRun {
	b := &bgRun{done: make(chan struct{})}
	go func() {
		defer close(b.done)
		b.res, b.stop, b.err = Run(ctx, c, p, rowsOf(p), opt)
	}()
	return b
}

// runAsync runs Run on its own goroutine.
func runAsync(ctx context.Context, c Client, p *plan.Plan, opt Options) (wait func(t *testing.T) ([]result.Row, *Stop, error)) {
	b := startRun(ctx, c, p, opt)
	return func(t *testing.T) ([]result.Row, *Stop, error) {
		t.Helper()
		select {
		case <-b.done:
			return b.res, b.stop, b.err
		case <-time.After(30 * time.Second):
			pprof.Lookup("goroutine").WriteTo(os.Stderr, 1)
			t.Fatal("Run did not return after the stop")
			return nil, nil, nil
		}
	}
}

func TestStopWithSubmittersParkedInEveryWait(t *testing.T) {
	t.Run("job slots", func(t *testing.T) {
		s := simWith(t, sandbox.Config{JobDuration: time.Hour}, nil)
		opt := fast()
		opt.MaxJobs, opt.Grace = 2, 50*time.Millisecond
		ctx, cancel := context.WithCancel(t.Context())
		wait := runAsync(ctx, s.client, makePlan(toHeir(plain(6)...)...), opt)
		waitFor(t, "two jobs", func() bool { return len(s.srv.Jobs()) == 2 })
		cancel()
		res, stop, err := wait(t)
		checkStopped(t, s, res, stop, err, 2)
	})

	t.Run("rate limiter", func(t *testing.T) {
		// A call every 300 ms: the first submission goes, the others wait
		// in turn, well within the grace period that follows the stop.
		s := simWith(t, sandbox.Config{JobDuration: 100 * time.Millisecond}, func(c *zoho.Config) {
			c.Limiter = rate.NewLimiter(rate.Every(300*time.Millisecond), 1)
		})
		opt := fast()
		opt.Grace = 5 * time.Second
		ctx, cancel := context.WithCancel(t.Context())
		wait := runAsync(ctx, s.client, makePlan(toHeir(plain(4)...)...), opt)
		waitFor(t, "the first job", func() bool { return len(s.srv.Jobs()) == 1 })
		cancel()
		res, stop, err := wait(t)
		checkStopped(t, s, res, stop, err, 1)
	})

	t.Run("room among the calls in flight", func(t *testing.T) {
		// One call in flight at a time, and the first submission is held
		// at Zoho: every other submitter waits for room.
		g := newGate(t)
		s := simWith(t, sandbox.Config{JobDuration: time.Hour}, func(c *zoho.Config) { c.MaxInFlight = 1 })
		s.srv.SetFaults(func(c sandbox.Call) sandbox.Fault {
			if c.Method == "POST" && c.Seq == 1 && strings.HasPrefix(c.Path, "/crm/") {
				g.hold()
			}
			return sandbox.NoFault
		})
		opt := fast()
		opt.Grace = 50 * time.Millisecond
		ctx, cancel := context.WithCancel(t.Context())
		wait := runAsync(ctx, s.client, makePlan(toHeir(plain(4)...)...), opt)
		<-g.held
		cancel()
		g.open() // the call on the wire finishes; room frees for the others
		res, stop, err := wait(t)
		checkStopped(t, s, res, stop, err, 1)
		if jobs := s.srv.Jobs(); len(jobs) != 1 {
			t.Errorf("jobs = %d, want 1: the submission on the wire at the stop was allowed to finish", len(jobs))
		}
	})

	t.Run("the shared pacer", func(t *testing.T) {
		// Zoho answers 429 and the pacer makes every worker wait an hour.
		s := simWith(t, sandbox.Config{}, nil)
		s.srv.SetFaults(func(c sandbox.Call) sandbox.Fault {
			if c.Method == "POST" && strings.HasPrefix(c.Path, "/crm/") {
				return sandbox.TooManyRequests
			}
			return sandbox.NoFault
		})
		opt := fast()
		opt.MaxJobs, opt.BackoffBase, opt.BackoffMax = 1, time.Hour, time.Hour
		ctx, cancel := context.WithCancel(t.Context())
		wait := runAsync(ctx, s.client, makePlan(toHeir(plain(3)...)...), opt)
		waitFor(t, "a 429", func() bool { return postCount(s.srv) == 1 })
		cancel()
		res, stop, err := wait(t)
		checkStopped(t, s, res, stop, err, 1)
	})

	t.Run("the access token", func(t *testing.T) {
		// The accounts server holds the first token request.
		g := newGate(t)
		s := simWith(t, sandbox.Config{}, nil)
		s.srv.SetFaults(func(c sandbox.Call) sandbox.Fault {
			if c.Path == "/oauth/v2/token" {
				g.hold()
			}
			return sandbox.NoFault
		})
		ctx, cancel := context.WithCancel(t.Context())
		wait := runAsync(ctx, s.client, makePlan(toHeir(plain(3)...)...), fast())
		<-g.held
		cancel()
		res, stop, err := wait(t) // returns while the token request is still held
		g.open()
		checkStopped(t, s, res, stop, err, 0)
	})

	t.Run("the journal's write", func(t *testing.T) {
		// The journal's disk is slow: the stop comes while the submission's
		// record is being written. The record is written, the request is
		// not sent, and the journal hears that it was withdrawn.
		g := newGate(t)
		s := simWith(t, sandbox.Config{}, nil)
		var mu sync.Mutex
		var answers []error
		opt := fast()
		opt.MaxJobs = 1
		opt.BeforeSubmit = func(int, int) error { g.hold(); return nil }
		opt.AfterSubmit = func(_, _ int, _ zoho.Job, err error) {
			mu.Lock()
			defer mu.Unlock()
			answers = append(answers, err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		wait := runAsync(ctx, s.client, makePlan(toHeir(plain(2)...)...), opt)
		<-g.held
		cancel()
		g.open()
		res, stop, err := wait(t)
		checkStopped(t, s, res, stop, err, 0)
		mu.Lock()
		defer mu.Unlock()
		if len(answers) != 1 || !errors.Is(answers[0], zoho.ErrNotSent) {
			t.Errorf("AfterSubmit answers = %v, want one that says the submission was not sent", answers)
		}
		if res[0].Attempts != 0 {
			t.Errorf("row 0 attempts = %d, want 0: the withdrawn attempt never left", res[0].Attempts)
		}
	})

	t.Run("the circuit breaker", func(t *testing.T) {
		s := simWith(t, sandbox.Config{}, nil)
		s.srv.SetCaller(demo(412)) // not the super admin: NO_PERMISSION
		opt := fast()
		opt.MaxJobs, opt.BreakerThreshold = 1, 1
		res, stop, err := runPlan(t.Context(), s.client, makePlan(toHeir(plain(4)...)...), opt)
		if err != nil || stop == nil || !strings.Contains(stop.Reason, zoho.CodeNoPermission) {
			t.Fatalf("Run() = stop %+v, err %v; want the breaker's stop", stop, err)
		}
		if n := postCount(s.srv); n != 1 {
			t.Errorf("submissions = %d, want 1: none after the breaker tripped", n)
		}
		want := append([]outcome{{result.Failed, zoho.CodeNoPermission}}, repeat(outcome{result.NotRun, ""}, 3)...)
		if diff := cmp.Diff(want, outcomes(res)); diff != "" {
			t.Errorf("Run() outcomes (-want +got):\n%s", diff)
		}
	})

	t.Run("refused credentials", func(t *testing.T) {
		s := simWith(t, sandbox.Config{JobDuration: time.Hour}, nil)
		_, _, refresh := s.srv.Credentials()
		s.srv.SetFaults(func(c sandbox.Call) sandbox.Fault {
			if c.Method == "POST" && c.Seq == 2 && !strings.HasPrefix(c.Path, "/oauth") {
				s.srv.RevokeRefreshToken(refresh) // this submission is refused 401
			}
			return sandbox.NoFault
		})
		opt := fast()
		opt.MaxJobs, opt.Grace = 1, 50*time.Millisecond
		opt.NoWait = true
		res, stop, _ := runPlan(t.Context(), s.client, makePlan(toHeir(plain(4)...)...), opt)
		if stop == nil || !stop.Fatal {
			t.Fatalf("Run() stop = %+v, want a fatal stop", stop)
		}
		if n := postCount(s.srv); n != 2 {
			t.Errorf("submissions = %d, want 2: the one accepted, the one refused, none after", n)
		}
		want := append([]outcome{{result.Submitted, ""}}, repeat(outcome{result.NotRun, ""}, 3)...)
		if diff := cmp.Diff(want, outcomes(res)); diff != "" {
			t.Errorf("Run() outcomes (-want +got):\n%s", diff)
		}
	})
}

// checkStopped checks a run interrupted once posts submissions had reached
// Zoho: no more reached it, the rows whose submission Zoho took are
// submitted or deleted, and every other row is not_run, counting only the
// attempts Zoho refused.
func checkStopped(t *testing.T, s *sim, res []result.Row, stop *Stop, err error, posts int) {
	t.Helper()
	if !errors.Is(err, context.Canceled) || stop == nil || !strings.Contains(stop.Reason, "interrupted") {
		t.Errorf("Run() = stop %+v, err %v; want interrupted, context.Canceled; results %+v", stop, err, res)
	}
	// Give anything that slipped through the time to reach the simulator.
	time.Sleep(20 * time.Millisecond)
	if n := postCount(s.srv); n != posts {
		t.Errorf("submissions that reached Zoho = %d, want %d: none after the stop", n, posts)
	}
	jobs := len(s.srv.Jobs())
	notRun, refused := 0, 0
	for i, r := range res {
		switch r.Outcome {
		case result.NotRun:
			notRun++
			refused += r.Attempts
		case result.Submitted, result.Deleted:
		default:
			t.Errorf("row %d = %s %s %q, want submitted, deleted or not_run", i, r.Outcome, r.Code, r.Message)
		}
	}
	if notRun != len(res)-jobs || refused != posts-jobs {
		t.Errorf("%d rows not_run with %d attempts in all, want %d rows and %d attempts (refused by Zoho)", notRun, refused, len(res)-jobs, posts-jobs)
	}
}

func TestRunCancelledBeforeStart(t *testing.T) {
	s := newSim(t, sandbox.Config{}, 4)
	ctx, cancel := context.WithCancel(t.Context())
	cancel() // Ctrl-C at the confirmation prompt
	res, stop, err := runPlan(ctx, s.client, makePlan(toHeir(plain(5)...)...), fast())
	if !errors.Is(err, context.Canceled) || stop == nil {
		t.Errorf("Run(cancelled ctx) = stop %+v, err %v; want interrupted", stop, err)
	}
	if diff := cmp.Diff(repeat(outcome{result.NotRun, ""}, 5), outcomes(res)); diff != "" {
		t.Errorf("Run(cancelled ctx) outcomes (-want +got):\n%s", diff)
	}
	if n := len(s.srv.Requests()); n != 0 {
		t.Errorf("requests to Zoho = %d, want none", n)
	}
}

// TestRunLostAnswerOnALongJob loses the answer to the submission of a user
// whose job takes twenty times as long as the others, under every answer
// Zoho might give to a second submission: the user is sent once, and the
// row ends deleted once the job has deleted the user.
func TestRunLostAnswerOnALongJob(t *testing.T) {
	for _, mode := range []sandbox.SecondSubmission{sandbox.RefuseNamingJob, sandbox.RefuseBare, sandbox.StartSecondJob} {
		t.Run(mode.String(), func(t *testing.T) {
			t.Parallel()
			users := plain(6)
			slow := users[2]
			s := newSim(t, sandbox.Config{JobDuration: 20 * time.Millisecond, SecondSubmission: mode,
				JobDurations: func(u string) time.Duration {
					if u == slow {
						return 400 * time.Millisecond
					}
					return 0
				}}, 4)
			s.srv.SetFaults(func(c sandbox.Call) sandbox.Fault {
				if c.Method == "POST" && strings.Contains(string(c.Body), slow) {
					return sandbox.DropAfterCommit
				}
				return sandbox.NoFault
			})
			opt := fast()
			opt.JobDuration = 20 * time.Millisecond
			res, stop := runSim(t, s, makePlan(toHeir(users...)...), opt)
			want := repeat(deleted, 6)
			want[2] = outcome{result.Deleted, CodeReconciled}
			if diff := cmp.Diff(want, outcomes(res)); diff != "" || stop != nil {
				t.Errorf("Run() outcomes (-want +got):\n%s\nstop %+v", diff, stop)
			}
			sent, _ := posts(t, s.srv)
			if sent[slow] != 1 || res[2].Attempts != 1 {
				t.Errorf("submissions of the user whose answer was lost = %d (attempts %d), want 1", sent[slow], res[2].Attempts)
			}
			sandboxtest.CheckOneJobPerUser(t, s.srv)
		})
	}
}

// TestRunLostAnswerNothingDone loses answers to submissions that Zoho did
// not carry out (a 500, a connection dropped before anything was done):
// the runner cannot tell, so it watches the user for the job timeout,
// never sends it again, and says what to check.
func TestRunLostAnswerNothingDone(t *testing.T) {
	for _, fault := range []sandbox.Fault{sandbox.ServerError, sandbox.DropBeforeCommit} {
		t.Run(fault.String(), func(t *testing.T) {
			t.Parallel()
			s := newSim(t, sandbox.Config{}, 4)
			users := plain(3)
			s.srv.SetFaults(func(c sandbox.Call) sandbox.Fault {
				if c.Method == "POST" && strings.Contains(string(c.Body), users[0]) {
					return fault
				}
				return sandbox.NoFault
			})
			opt := fast()
			opt.JobTimeout = 300 * time.Millisecond
			res, _ := runSim(t, s, makePlan(toHeir(users...)...), opt)
			want := []outcome{{result.Failed, CodeOutcomeUnknown}, deleted, deleted}
			if diff := cmp.Diff(want, outcomes(res)); diff != "" {
				t.Errorf("Run() outcomes (-want +got):\n%s", diff)
			}
			if sent, _ := posts(t, s.srv); sent[users[0]] != 1 {
				t.Errorf("submissions of the user in doubt = %d, want 1", sent[users[0]])
			}
			if !strings.Contains(res[0].Message, "check the user in Zoho") || !strings.Contains(res[0].Message, "still active") {
				t.Errorf("message = %q, want what was seen and what to check", res[0].Message)
			}
			// Watched until the job timeout had passed: the user is read
			// until a read comes after it (on a starved machine the first
			// read may already be that one).
			var posted, lastRead time.Time
			for _, r := range s.srv.Requests() {
				switch {
				case r.Method == "POST" && strings.Contains(string(r.Body), users[0]):
					posted = r.Start
				case r.Method == "GET" && r.Path == "/crm/v7/users/"+users[0]:
					lastRead = r.Start
				}
			}
			if lastRead.IsZero() || lastRead.Sub(posted) < opt.JobTimeout {
				t.Errorf("the user in doubt was last read %v after its submission, want it watched for the job timeout (%v)", lastRead.Sub(posted), opt.JobTimeout)
			}
		})
	}
}

// TestRunAccountsServerSilent: the access token expires mid-run and the
// accounts server stops answering. The run does not hang: it stops as
// for refused credentials, naming the accounts server.
func TestRunAccountsServerSilent(t *testing.T) {
	g := newGate(t)
	s := simWith(t, sandbox.Config{JobDuration: 100 * time.Millisecond}, func(c *zoho.Config) {
		c.TokenTimeout, c.TokenAttempts, c.TokenBackoff = 50*time.Millisecond, 2, 10*time.Millisecond
	})
	var tokens atomic.Int32
	s.srv.SetFaults(func(c sandbox.Call) sandbox.Fault {
		if c.Path == "/oauth/v2/token" && tokens.Add(1) > 1 {
			g.hold() // silent from the second token request on
		}
		if c.Method == "POST" && c.Seq == 3 && !strings.HasPrefix(c.Path, "/oauth") {
			s.srv.ExpireAccessTokens()
		}
		return sandbox.NoFault
	})
	opt := fast()
	opt.MaxJobs, opt.Grace = 3, 200*time.Millisecond
	ctx := t.Context()
	wait := runAsync(ctx, s.client, makePlan(toHeir(plain(6)...)...), opt)
	res, stop, err := wait(t)
	if err != nil || stop == nil || !stop.Fatal || !strings.Contains(stop.Reason, s.srv.URL()) || !strings.Contains(stop.Reason, "did not answer") {
		t.Fatalf("Run() = stop %+v, err %v; want a fatal stop naming the accounts server %s", stop, err, s.srv.URL())
	}
	if n := postCount(s.srv); n > 3 {
		t.Errorf("submissions = %d, want at most 3: none once a token could not be had", n)
	}
	for i, r := range res {
		if r.Outcome == result.Failed {
			t.Errorf("row %d failed (%s %q), want submitted, deleted or not_run", i, r.Code, r.Message)
		}
	}
}

// TestRunDoubtWaitingOnNewRow resumes a submission in doubt that waits,
// in the plan, for a row this run sends first (its records go to the user
// in doubt): the run makes progress and both rows end deleted.
func TestRunDoubtWaitingOnNewRow(t *testing.T) {
	for _, age := range []struct {
		name string
		ago  time.Duration
	}{{"older than the job timeout", time.Hour}, {"younger than the job timeout", 0}} {
		t.Run(age.name, func(t *testing.T) {
			s := newSim(t, sandbox.Config{}, 4)
			a, b := demo(417), demo(418)
			p := makePlan(row{user: a, to: b}, row{user: b, to: heir, after: []int{0}})
			opt := fast()
			opt.JobTimeout = 300 * time.Millisecond
			opt.Resume = map[int]Resume{1: {InDoubt: true, Attempts: 1, DoubtSince: time.Now().Add(-age.ago)}}
			res, stop := runSim(t, s, p, opt)
			if diff := cmp.Diff(repeat(deleted, 2), outcomes(res)); diff != "" || stop != nil {
				t.Errorf("Run() outcomes (-want +got):\n%s\nstop %+v", diff, stop)
			}
		})
	}
}

// TestRunSlowJournalDoesNotStall blocks OnChange (a journal on a slow
// disk) until the run has deleted every user: the run does not wait for it.
func TestRunSlowJournalDoesNotStall(t *testing.T) {
	s := newSim(t, sandbox.Config{}, 4)
	users := plain(4)
	var once sync.Once
	opt := fast()
	opt.OnChange = func(int, result.Row, bool) {
		once.Do(func() {
			waitFor(t, "every user deleted while OnChange is blocked", func() bool {
				for _, u := range users {
					if m, ok := s.srv.User(u); !ok || m["status"] != "deleted" {
						return false
					}
				}
				return true
			})
		})
	}
	res, _ := runSim(t, s, makePlan(toHeir(users...)...), opt)
	if diff := cmp.Diff(repeat(deleted, 4), outcomes(res)); diff != "" {
		t.Errorf("Run() outcomes (-want +got):\n%s", diff)
	}
}

// TestRunJobSlotsHeldByOthers: another admin's jobs hold every one of
// Zoho's slots, and none of this run's runs: the run waits for the job
// timeout, then stops and says why.
func TestRunJobSlotsHeldByOthers(t *testing.T) {
	s := newSim(t, sandbox.Config{}, 4)
	s.srv.HoldJobSlots(10, time.Hour)
	opt := fast()
	opt.JobTimeout = 200 * time.Millisecond
	res, stop := runSim(t, s, makePlan(toHeir(plain(3)...)...), opt)
	if stop == nil || stop.Fatal || !strings.Contains(stop.Reason, "another admin") {
		t.Fatalf("Run() stop = %+v, want a stop that says another admin's jobs hold the slots", stop)
	}
	if diff := cmp.Diff(repeat(outcome{result.NotRun, ""}, 3), outcomes(res)); diff != "" {
		t.Errorf("Run() outcomes (-want +got):\n%s", diff)
	}
	if len(s.srv.Jobs()) != 0 {
		t.Error("a job was created although every slot was held")
	}
	// While Zoho's slots were full, submissions were tried one at a time,
	// not every waiting row at once.
	if n, max := postCount(s.srv), 3+int(opt.JobTimeout/opt.BackoffBase); n > max {
		t.Errorf("submissions refused for the job limit = %d, want at most %d", n, max)
	}
}

// TestStopAfterRefusedToken: a submission reaches Zoho, which refuses its
// access token (401: nothing done), and the run stops while the client
// waits for a fresh token. The journal hears Zoho's answer to the send
// that happened, not that it was withdrawn, and the attempt counts.
func TestStopAfterRefusedToken(t *testing.T) {
	g := newGate(t)
	s := simWith(t, sandbox.Config{}, nil)
	if _, err := s.client.User(t.Context(), heir); err != nil { // the first token
		t.Fatal(err)
	}
	s.srv.ExpireAccessTokens()
	s.srv.SetFaults(func(c sandbox.Call) sandbox.Fault {
		if c.Path == "/oauth/v2/token" {
			g.hold() // the fresh token does not come
		}
		return sandbox.NoFault
	})
	var mu sync.Mutex
	var answers []error
	opt := fast()
	opt.AfterSubmit = func(_, _ int, _ zoho.Job, err error) {
		mu.Lock()
		defer mu.Unlock()
		answers = append(answers, err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	wait := runAsync(ctx, s.client, makePlan(toHeir(plain(1)...)...), opt)
	<-g.held
	cancel()
	res, _, _ := wait(t)
	if n := postCount(s.srv); n != 1 {
		t.Fatalf("submissions at Zoho = %d, want the one refused 401", n)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(answers) != 1 || errors.Is(answers[0], zoho.ErrNotSent) || !errors.Is(answers[0], zoho.ErrUnauthorized) {
		t.Errorf("answers recorded = %v, want Zoho's 401, not a withdrawal", answers)
	}
	if res[0].Outcome != result.NotRun || res[0].Attempts != 1 {
		t.Errorf("row = %s with %d attempts, want not_run with the 1 attempt that reached Zoho", res[0].Outcome, res[0].Attempts)
	}
}

// TestRunNoWaitWaitsForItsOwnJobs: with --no-wait, jobs let go of still
// hold Zoho's slots. When Zoho's limit is reached by them, the run waits
// for slots and submits every row, and never blames another admin.
func TestRunNoWaitWaitsForItsOwnJobs(t *testing.T) {
	s := newSim(t, sandbox.Config{JobDuration: 300 * time.Millisecond, JobLimit: 2}, 5)
	opt := fast()
	opt.NoWait = true
	opt.JobTimeout = 3 * time.Second
	res, stop := runSim(t, s, makePlan(toHeir(plain(5)...)...), opt)
	if stop != nil {
		t.Errorf("Run() stop = %q, want none: the slots are held by the run's own jobs", stop.Reason)
	}
	if diff := cmp.Diff(repeat(outcome{result.Submitted, ""}, 5), outcomes(res)); diff != "" {
		t.Errorf("Run() outcomes (-want +got):\n%s", diff)
	}
	sandboxtest.CheckOneJobPerUser(t, s.srv)
}
