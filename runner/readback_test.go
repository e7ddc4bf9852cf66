package runner

import (
	"bytes"
	"container/heap"
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/rs/zerolog"

	"offboard/result"
	"offboard/sandbox"
	"offboard/zoho"
)

// simOneLong is a simulated org whose jobs take 20 ms, but long's, which
// takes d.
func simOneLong(t *testing.T, long string, d time.Duration) *sim {
	return newSim(t, sandbox.Config{JobDuration: 20 * time.Millisecond, JobDurations: func(id string) time.Duration {
		if id == long {
			return d
		}
		return 0
	}}, 5)
}

// userReads counts the simulator's user reads: alone (GET /users/{id})
// and together (GET /users?ids=…).
func userReads(srv *sandbox.Server) (alone, together int) {
	for _, r := range srv.Requests() {
		switch {
		case r.Method != "GET" || r.Token:
		case strings.HasPrefix(r.Path, "/crm/v7/users/") && !strings.Contains(r.Path, "/actions/"):
			alone++
		case r.Path == "/crm/v7/users" && strings.Contains(r.RawQuery, "ids="):
			together++
		}
	}
	return alone, together
}

// TestReadBackTogether: the users whose jobs completed are read back
// together, and every row ends deleted whatever the org answers to the
// ids parameter (Zoho documents it; an org that ignored it, or a read
// that fails, leaves each user to be read alone). Nothing but a user
// shown deleted, by ID, is taken as deleted.
func TestReadBackTogether(t *testing.T) {
	for _, tt := range []struct {
		name      string
		cfg       sandbox.Config
		fail      bool
		wantAlone int
	}{
		{name: "ids honoured", wantAlone: 0},
		{name: "ids ignored", cfg: sandbox.Config{IgnoreIDs: true}, wantAlone: 0},
		{name: "the read fails", fail: true, wantAlone: 12},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := newSim(t, tt.cfg, 5)
			if tt.fail {
				s.srv.SetFaults(func(c sandbox.Call) sandbox.Fault {
					if c.Method == "GET" && c.Path == "/crm/v7/users" && c.Query.Has("ids") {
						return sandbox.ServerError
					}
					return sandbox.NoFault
				})
			}
			opt := fast()
			opt.JobDuration = 0 // nothing known: the probe, then the others
			res, stop := runSim(t, s, makePlan(toHeir(plain(12)...)...), opt)
			if diff := cmp.Diff(repeat(deleted, 12), outcomes(res)); diff != "" || stop != nil {
				t.Errorf("Run() outcomes (-want +got):\n%s\nstop %+v", diff, stop)
			}
			alone, together := userReads(s.srv)
			if alone != tt.wantAlone || together == 0 {
				t.Errorf("user reads: %d alone, %d together; want %d alone and at least one together", alone, together, tt.wantAlone)
			}
			if !tt.fail && together >= 12 {
				t.Errorf("%d reads together for 12 users: nothing shared a call", together)
			}
		})
	}
}

// TestProbeThatOutlivesTheJobTimeout: while nothing is known of the jobs'
// lengths, one job at a time is polled and the others wait. One job here
// never ends (past --job-timeout): whichever job is the probe when, the
// others must all be followed to their end, and it end submitted.
func TestProbeThatOutlivesTheJobTimeout(t *testing.T) {
	users := plain(6)
	s := simOneLong(t, users[0], time.Minute)
	opt := fast()
	opt.JobDuration, opt.JobTimeout = 0, 400*time.Millisecond
	res, _ := runSim(t, s, makePlan(toHeir(users...)...), opt)
	want := append([]outcome{{result.Submitted, ""}}, repeat(deleted, 5)...)
	if diff := cmp.Diff(want, outcomes(res)); diff != "" {
		t.Errorf("Run() outcomes (-want +got):\n%s", diff)
	}
}

// TestJobsThatAllOutliveTheJobTimeout: no job ends, so nothing is ever
// learnt of their lengths; every job is still followed to --job-timeout,
// each in turn the probe, and the run ends.
func TestJobsThatAllOutliveTheJobTimeout(t *testing.T) {
	s := newSim(t, sandbox.Config{JobDuration: time.Minute}, 5)
	opt := fast()
	opt.JobDuration, opt.JobTimeout = 0, 300*time.Millisecond
	res, _ := runSim(t, s, makePlan(toHeir(plain(4)...)...), opt)
	if diff := cmp.Diff(repeat(outcome{result.Submitted, ""}, 4), outcomes(res)); diff != "" {
		t.Errorf("Run() outcomes (-want +got):\n%s", diff)
	}
	for _, r := range res {
		if !strings.Contains(r.Message, "--job-timeout") {
			t.Errorf("row %d: %q, want it to name --job-timeout", r.Line, r.Message)
		}
	}
}

// rowWatcher records the rows' results as Run reports them (OnChange).
type rowWatcher struct {
	mu   sync.Mutex
	rows map[int]result.Row
}

func (w *rowWatcher) onChange(i int, r result.Row, _ bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.rows == nil {
		w.rows = map[int]result.Row{}
	}
	w.rows[i] = r
}

// count counts the rows ok holds for.
func (w *rowWatcher) count(ok func(result.Row) bool) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := 0
	for _, r := range w.rows {
		if ok(r) {
			n++
		}
	}
	return n
}

// TestReadBackWaitsToShareACall: the users of completed jobs wait to be
// read back together, up to Options.ReadBackWait: a run's four waves of
// jobs share one read when that wait is long (the default); a long wait
// ends, and the users waiting are read back while a job still runs; a
// stop reads them back at once, within the grace, rather than leaving
// their rows submitted when the grace ends.
func TestReadBackWaitsToShareACall(t *testing.T) {
	t.Run("four waves, one read", func(t *testing.T) {
		s := newSim(t, sandbox.Config{JobDuration: 20 * time.Millisecond, Seed: leavers(40)}, 5)
		opt := fast()
		res, stop := runSim(t, s, makePlan(leaverPlan(40)...), opt)
		if diff := cmp.Diff(repeat(deleted, 40), outcomes(res)); diff != "" || stop != nil {
			t.Errorf("Run() outcomes (-want +got):\n%s\nstop %+v", diff, stop)
		}
		if alone, together := userReads(s.srv); alone != 0 || together != 1 {
			t.Errorf("user reads: %d alone, %d together; want the 40 users read back in one call", alone, together)
		}
	})

	// stopWhen runs ten short jobs and one of an hour with opt, and
	// interrupts the run once ok holds of the rows (and atStop has looked
	// at the org); the ten short rows must end deleted, the long one
	// submitted.
	stopWhen := func(t *testing.T, opt Options, what string, ok func(*rowWatcher) bool, atStop func(*sim)) *sim {
		t.Helper()
		users := plain(11)
		s := simOneLong(t, users[10], time.Hour)
		var rows rowWatcher
		opt.JobTimeout, opt.OnChange = time.Hour, rows.onChange
		ctx, cancel := context.WithCancel(t.Context())
		wait := runAsync(ctx, s.client, makePlan(toHeir(users...)...), opt)
		waitFor(t, what, func() bool { return ok(&rows) })
		atStop(s)
		cancel()
		res, _, err := wait(t)
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Run() error = %v, want context.Canceled", err)
		}
		want := append(repeat(deleted, 10), outcome{result.Submitted, ""})
		if diff := cmp.Diff(want, outcomes(res)); diff != "" {
			t.Errorf("Run() outcomes (-want +got):\n%s", diff)
			for _, r := range res {
				t.Logf("line %d: %s %s", r.Line, r.Outcome, r.Message)
			}
		}
		return s
	}

	t.Run("the wait ends while a job runs", func(t *testing.T) {
		opt := fast()
		opt.ReadBackWait, opt.Grace = 100*time.Millisecond, 50*time.Millisecond
		stopWhen(t, opt, "the ten short rows deleted while the long job runs", func(rows *rowWatcher) bool {
			return rows.count(func(r result.Row) bool { return r.Outcome == result.Deleted }) == 10
		}, func(*sim) {})
	})

	t.Run("a stop reads them back at once", func(t *testing.T) {
		opt := fast()
		opt.ReadBackWait, opt.Grace = time.Hour, time.Second
		var log bytes.Buffer
		opt.Log = zerolog.New(zerolog.SyncWriter(&log))
		s := stopWhen(t, opt, "the ten short jobs completed", func(rows *rowWatcher) bool {
			return rows.count(func(r result.Row) bool { return r.JobStatus == "completed" }) == 10
		}, func(s *sim) {
			if _, together := userReads(s.srv); together != 0 {
				t.Fatalf("%d reads together before the stop, want none (ReadBackWait is an hour)", together)
			}
		})
		if alone, together := userReads(s.srv); alone != 0 || together == 0 {
			t.Errorf("user reads: %d alone, %d together; want the ten read back together at the stop", alone, together)
		}
		// The stop's line counts the job still running apart from the
		// completed jobs whose users are read back.
		const line = `"message":"stopping: nothing more is submitted; following 1 job for up to 1s and reading back the users of 10 completed jobs"`
		if !strings.Contains(log.String(), line) {
			t.Errorf("the log has no %s:\n%s", line, log.String())
		}
	})
}

// lateAnswer is a client whose status calls, once armed, find an
// unfinished job completed only after the call's context ended: the
// answer of a poll in flight as the grace ends.
type lateAnswer struct {
	*zoho.Client
	armed chan struct{}
}

func (c *lateAnswer) JobStatus(ctx context.Context, id string) (zoho.JobStatus, error) {
	st, err := c.Client.JobStatus(ctx, id)
	select {
	case <-c.armed:
		if err == nil && !st.Finished() {
			<-ctx.Done()
			time.Sleep(50 * time.Millisecond)
			return zoho.JobStatus{Status: zoho.JobCompleted}, nil
		}
	default:
	}
	return st, err
}

// TestCompletedAsTheCallsEnd: a poll that finds a job completed just as
// the grace ends, after the read-back has stopped, ends its row
// submitted, saying the job completed: the run returns (found by review:
// it waited for that row for ever).
func TestCompletedAsTheCallsEnd(t *testing.T) {
	users := plain(11)
	s := simOneLong(t, users[10], time.Hour)
	c := &lateAnswer{Client: s.client, armed: make(chan struct{})}
	var rows rowWatcher
	opt := fast()
	opt.OnChange, opt.Grace, opt.JobTimeout = rows.onChange, 300*time.Millisecond, time.Hour
	ctx, cancel := context.WithCancel(t.Context())
	wait := runAsync(ctx, c, makePlan(toHeir(users...)...), opt)
	waitFor(t, "ten jobs completed", func() bool {
		return rows.count(func(r result.Row) bool { return r.JobStatus == "completed" }) == 10
	})
	close(c.armed)
	cancel()
	res, _, _ := wait(t)
	for i, r := range res {
		if i < 10 && r.Outcome != result.Deleted && !(r.Outcome == result.Submitted && strings.Contains(r.Message, "completed")) {
			t.Errorf("line %d: %s %q, want deleted (read back at the stop) or submitted saying its job completed", r.Line, r.Outcome, r.Message)
		}
	}
	if last := res[10]; last.Outcome != result.Submitted || !strings.Contains(last.Message, "completed, but the run stopped before the user was read back") {
		t.Errorf("the long job's row: %s %q, want submitted, saying its job completed", last.Outcome, last.Message)
	}
}

// TestReadBackWhileCreditsLast: once Zoho says the day's credits are
// nearly spent, the users of completed jobs are read back without
// waiting for others: when the credits run out, the jobs that completed
// are confirmed deleted, not left submitted to check by hand (found by
// review: all 33 of 40 were).
func TestReadBackWhileCreditsLast(t *testing.T) {
	s := newSim(t, sandbox.Config{Seed: leavers(40), JobDuration: 20 * time.Millisecond, DailyCredits: 60}, 5)
	res, stop := runSim(t, s, makePlan(leaverPlan(40)...), fast())
	if stop == nil || !strings.Contains(stop.Reason, "credits") {
		t.Fatalf("Run() stop = %+v, want a stop about credits", stop)
	}
	counts := map[result.Outcome]int{}
	unconfirmed := 0
	for _, r := range res {
		counts[r.Outcome]++
		if r.Outcome == result.Submitted && r.JobStatus == zoho.JobCompleted {
			unconfirmed++
		}
	}
	t.Logf("outcomes %v, %d jobs completed and not confirmed", counts, unconfirmed)
	if counts[result.Deleted] == 0 || unconfirmed > 10 {
		t.Errorf("outcomes %v, %d completed jobs' users not read back; want deletions confirmed while credits last (at most 10 not)", counts, unconfirmed)
	}
}

// TestGatherWhileCreditsSuffice: credits left for about 3.2 calls a row
// see a run of jobs alike through, reading its users back together (a
// margin over the 2.3 it takes, for a loaded machine's extra polls);
// reading each at once whenever credits might not suffice (fewer than 4 a
// row) spent half a call more per user (80–120 reads here), and stopped
// runs with 2.8 a row for want of credits (found by review: 179 of 200
// deleted).
func TestGatherWhileCreditsSuffice(t *testing.T) {
	const n = 200
	s := newSim(t, sandbox.Config{Seed: leavers(n), JobDuration: 20 * time.Millisecond, DailyCredits: 2000}, 5)
	for { // another app spent the rest of the day's credits
		if left, known := s.client.CreditsRemaining(); known && left <= 640 {
			break
		}
		if _, err := s.client.Org(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	res, stop := runSim(t, s, makePlan(leaverPlan(n)...), fast())
	if diff := cmp.Diff(repeat(deleted, n), outcomes(res)); diff != "" || stop != nil {
		t.Errorf("Run() outcomes (-want +got):\n%s\nstop %+v", diff, stop)
	}
	// Read-backs, not sweeps: a loaded machine's noise may take the
	// lengths to spread for a while, and jobs are then swept, a read
	// together each.
	sweeps, readBacks, _ := userReadKinds(s.srv)
	t.Logf("%d read-backs, %d sweeps", readBacks, sweeps)
	if readBacks > 10 {
		t.Errorf("%d read-backs for %d users, want them gathered (at most 10)", readBacks, n)
	}
}

// TestReadBackWaitsOnlyForASweepDueSoon: once the users gathered have
// waited Options.ReadBackWait, they wait on only for a sweep (which reads
// them too) due within half that wait again, or under way and sent since
// they were gathered, and no longer than that; with none in sight, or
// one due later, they are read back at once.
func TestReadBackWaitsOnlyForASweepDueSoon(t *testing.T) {
	const wait = time.Minute
	for _, c := range []struct {
		name     string
		waited   time.Duration // by the oldest user gathered
		dues     []time.Duration
		underway time.Duration // a sweep sent this long before now is under way (0: none)
		off      bool          // sweeps stopped for the run
		min, max time.Duration
	}{
		{name: "the wait not over", waited: wait / 2, dues: []time.Duration{time.Second, time.Second}, min: wait/2 - time.Second, max: wait / 2},
		{name: "a sweep due in 10 s", waited: wait, dues: []time.Duration{10 * time.Second, 20 * time.Second}, min: 9 * time.Second, max: 10 * time.Second},
		{name: "a sweep due in 40 s", waited: wait, dues: []time.Duration{40 * time.Second, 50 * time.Second}},
		{name: "a poll due in 10 s, no sweep", waited: wait, dues: []time.Duration{10 * time.Second}},
		{name: "a sweep under way", waited: wait, underway: time.Second, min: wait/2 - time.Second, max: wait / 2},
		{name: "a sweep under way, sent before they were gathered", waited: wait, underway: 2 * wait},
		{name: "a sweep under way, half the wait again over", waited: wait * 3 / 2, underway: time.Second},
		{name: "sweeps stopped", waited: wait, dues: []time.Duration{10 * time.Second, 20 * time.Second}, off: true},
		{name: "waited half as long again", waited: wait * 3 / 2, dues: []time.Duration{time.Second, time.Second}},
	} {
		t.Run(c.name, func(t *testing.T) {
			now := time.Now()
			r := &run{opt: Options{ReadBackWait: wait}, backs: &readBacks{},
				jobs: newDurations(0, time.Second, 10*time.Minute), poll: &poller{wake: make(chan struct{}, 1)}}
			for _, d := range c.dues {
				heap.Push(&r.poll.queue, &watch{kind: watchJob, learn: true, since: now, due: now.Add(d), deadline: now.Add(time.Hour)})
			}
			if c.underway > 0 {
				r.poll.sweeping, r.poll.swept = 1, now.Add(-c.underway)
			}
			r.sweepOff.Store(c.off)
			if got := r.readBackIn(now.Add(-c.waited)); got < c.min || got > c.max {
				t.Errorf("readBackIn = %v, want %v to %v", got, c.min, c.max)
			}
		})
	}
}
