package runner

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"offboard/result"
	"offboard/sandbox"
	"offboard/sandbox/sandboxtest"
)

// postsAfter lists the submissions that reached srv after t.
func postsAfter(srv *sandbox.Server, at time.Time) (n int) {
	for _, r := range srv.Requests() {
		if r.Method == "POST" && !r.Token && r.Start.After(at) {
			n++
		}
	}
	return n
}

// TestAheadCancelMidAheads: Ctrl-C at various moments while steps go
// ahead of jobs due (spread lengths, most refused).
func TestAheadCancelMidAheads(t *testing.T) {
	for _, after := range []time.Duration{37, 81, 133, 210, 290} {
		t.Run(fmt.Sprint(after*time.Millisecond), func(t *testing.T) {
			const n = 80
			s := newSim(t, sandbox.Config{Seed: leavers(n), JobDuration: 10 * time.Millisecond,
				JobDurations: spread(10 * time.Millisecond), Latency: time.Millisecond}, 8)
			opt := aheadOptions(10 * time.Millisecond)
			opt.Grace = 300 * time.Millisecond
			lw := &slowLog{}
			opt.Log = zerolog.New(lw).Level(zerolog.WarnLevel)
			defer func() {
				if t.Failed() {
					for _, l := range strings.Split(lw.String(), "\n") {
						if strings.Contains(l, "lost") {
							t.Log(l)
						}
					}
				}
			}()
			ctx, cancel := context.WithCancel(t.Context())
			var cancelled atomic.Pointer[time.Time]
			var late atomic.Int32
			// A submitter past the commit point when the cancel came still
			// records and sends its request; the bounds leave a loaded
			// machine room for that (stop_test.go proves the commit point
			// itself, each wait parked).
			opt.BeforeSubmit = func(i, a int) error {
				if c := cancelled.Load(); c != nil && time.Since(*c) > 250*time.Millisecond {
					late.Add(1)
				}
				return nil
			}
			wait := runAsync(ctx, s.client, makePlan(leaverPlan(n)...), opt)
			time.Sleep(after * time.Millisecond)
			now := time.Now()
			cancelled.Store(&now)
			cancel()
			res, stop, err := wait(t)
			if !errors.Is(err, context.Canceled) || stop == nil {
				t.Errorf("err %v stop %+v", err, stop)
			}
			time.Sleep(20 * time.Millisecond)
			if k := postsAfter(s.srv, now.Add(250*time.Millisecond)); k > 0 || late.Load() > 0 {
				t.Errorf("%d submissions reached Zoho, %d journaled, more than 250 ms after the cancel", k, late.Load())
			}
			jobs := map[string]bool{}
			for _, j := range s.srv.Jobs() {
				jobs[j.UserID] = true
			}
			for i, r := range res {
				switch {
				case r.Outcome == result.NotRun && jobs[leaverID(i)]:
					t.Errorf("row %d not_run, but Zoho has its job", i)
				case r.Outcome == result.NotRun, r.Outcome == result.Deleted, r.Outcome == result.Submitted:
				case r.Outcome == result.Failed && r.Code == CodeOutcomeUnknown && strings.Contains(r.Message, "the run stopped"):
					// A submission on its way at the cancel whose answer
					// the end of the grace cut off: Zoho may have its job.
				default:
					t.Errorf("row %d: %s %s %q", i, r.Outcome, r.Code, r.Message)
				}
				if r.Outcome == result.Submitted && !jobs[leaverID(i)] {
					t.Errorf("row %d submitted, but Zoho has no job", i)
				}
			}
			sandboxtest.CheckOneJobPerUser(t, s.srv)
		})
	}
}

// TestAheadDropBeforeCommit: connections dropped before Zoho acted,
// while steps go ahead.
func TestAheadDrops(t *testing.T) {
	for _, fault := range []sandbox.Fault{sandbox.DropBeforeCommit, sandbox.DropAfterCommit} {
		t.Run(fault.String(), func(t *testing.T) {
			const n = 50
			s := newSim(t, sandbox.Config{Seed: leavers(n), JobDuration: 10 * time.Millisecond,
				JobDurations: spread(10 * time.Millisecond), Latency: time.Millisecond}, 8)
			var mu sync.Mutex
			dropped := map[string]bool{}
			s.srv.SetFaults(func(c sandbox.Call) sandbox.Fault {
				if c.Method != "POST" || c.Seq < 11 || c.Seq%4 != 0 || c.Seq > 60 {
					return sandbox.NoFault
				}
				mu.Lock()
				defer mu.Unlock()
				for i := range n {
					if strings.Contains(string(c.Body), leaverID(i)) {
						dropped[leaverID(i)] = true
					}
				}
				return fault
			})
			opt := aheadOptions(10 * time.Millisecond)
			opt.JobTimeout = 600 * time.Millisecond
			res, stop, _ := runOrDump(t, s, makePlan(leaverPlan(n)...), opt, 20*time.Second)
			if stop != nil {
				t.Errorf("stop %+v", stop)
			}
			sandboxtest.CheckOneJobPerUser(t, s.srv)
			mu.Lock()
			defer mu.Unlock()
			for i, r := range res {
				id := leaverID(i)
				if dropped[id] {
					if k := sentAfterLoss(s.srv, id); k > 0 {
						t.Errorf("user %s sent %d times after its lost answer", id, k)
					}
					continue
				}
				if r.Outcome != result.Deleted {
					t.Errorf("row %d: %s %s %q", i, r.Outcome, r.Code, r.Message)
				}
			}
			t.Logf("%d answers dropped", len(dropped))
		})
	}
}

// TestAhead429Storm: two submissions in three answered 429 while
// steps go ahead.
func TestAhead429Storm(t *testing.T) {
	const n = 50
	s := newSim(t, sandbox.Config{Seed: leavers(n), JobDuration: 10 * time.Millisecond,
		JobDurations: spread(10 * time.Millisecond), Latency: time.Millisecond}, 8)
	var k atomic.Int32
	s.srv.SetFaults(func(c sandbox.Call) sandbox.Fault {
		if c.Method == "POST" && c.Seq > 10 && c.Seq < 150 && k.Add(1)%3 != 0 {
			return sandbox.TooManyRequests
		}
		return sandbox.NoFault
	})
	opt := aheadOptions(10 * time.Millisecond)
	opt.JobTimeout = 10 * time.Second
	res, stop, _ := runOrDump(t, s, makePlan(leaverPlan(n)...), opt, 20*time.Second)
	if stop != nil {
		t.Errorf("stop %+v", stop)
	}
	for i, r := range res {
		if r.Outcome != result.Deleted {
			t.Errorf("row %d: %s %s %q", i, r.Outcome, r.Code, r.Message)
		}
	}
	sandboxtest.CheckOneJobPerUser(t, s.srv)
}

// TestAheadChains: leaver 2k transfers to leaver 2k+1, whose row
// waits for it; steps go ahead.
func TestAheadChains(t *testing.T) {
	const n = 60
	s := newSim(t, sandbox.Config{Seed: leavers(n), JobDuration: 10 * time.Millisecond,
		JobDurations: spread(10 * time.Millisecond), Latency: time.Millisecond}, 8)
	var rows []row
	for i := 0; i < n; i += 2 {
		rows = append(rows, row{user: leaverID(i), to: leaverID(i + 1)}, row{user: leaverID(i + 1), to: heir, after: []int{i}})
	}
	s.srv.FailJob(leaverID(10), "boom")
	opt := aheadOptions(10 * time.Millisecond)
	res, stop, _ := runOrDump(t, s, makePlan(rows...), opt, 20*time.Second)
	if stop != nil {
		t.Errorf("stop %+v", stop)
	}
	jobs := map[string]sandbox.Job{}
	for _, j := range s.srv.Jobs() {
		jobs[j.UserID] = j
	}
	for i := 1; i < n; i += 2 {
		dep, j := jobs[leaverID(i-1)], jobs[leaverID(i)]
		if j.ID != "" && (dep.FinishedAt.IsZero() || j.SubmittedAt.Before(dep.FinishedAt)) {
			t.Errorf("row %d submitted at %v, before its dependency ended at %v", i, j.SubmittedAt, dep.FinishedAt)
		}
	}
	for i, r := range res {
		want := result.Deleted
		switch i {
		case 10:
			want = result.Failed
		case 11:
			want = result.NotRun
		}
		if r.Outcome != want {
			t.Errorf("row %d: %s %s %q, want %s", i, r.Outcome, r.Code, r.Message, want)
		}
	}
	sandboxtest.CheckOneJobPerUser(t, s.srv)
}

// TestAheadShortJobTimeout: the job timeout is shorter than many
// jobs: aheads race with deadlines.
func TestAheadShortJobTimeout(t *testing.T) {
	const n = 60
	s := newSim(t, sandbox.Config{Seed: leavers(n), JobDuration: 10 * time.Millisecond,
		JobDurations: spread(12 * time.Millisecond), Latency: time.Millisecond}, 8)
	opt := aheadOptions(10 * time.Millisecond)
	opt.JobTimeout = 40 * time.Millisecond
	res, _, _ := runOrDump(t, s, makePlan(leaverPlan(n)...), opt, 30*time.Second)
	counts := map[result.Outcome]int{}
	for i, r := range res {
		counts[r.Outcome]++
		if r.Outcome != result.Deleted && r.Outcome != result.Submitted {
			t.Errorf("row %d: %s %s %q", i, r.Outcome, r.Code, r.Message)
		}
	}
	t.Logf("outcomes %v; at most %d unfinished", counts, maxUnfinished(s.srv))
	sandboxtest.CheckOneJobPerUser(t, s.srv)
}

// TestAheadResumeWithAheads: a run is interrupted with jobs running;
// the next run resumes them (followed, not learnt from) and sends the
// rest, steps going ahead.
func TestAheadResumeWithAheads(t *testing.T) {
	const n = 60
	s := newSim(t, sandbox.Config{Seed: leavers(n), JobDuration: 10 * time.Millisecond,
		JobDurations: spread(15 * time.Millisecond), Latency: time.Millisecond}, 8)
	p := makePlan(leaverPlan(n)...)
	opt := aheadOptions(10 * time.Millisecond)
	opt.Grace = time.Millisecond // jobs left running
	ctx, cancel := context.WithCancel(t.Context())
	wait := runAsync(ctx, s.client, p, opt)
	time.Sleep(120 * time.Millisecond)
	cancel()
	first, _, _ := wait(t)
	resume := map[int]Resume{}
	rows := rowsOf(p)
	for i, r := range first {
		switch {
		case r.Outcome == result.Deleted:
			rows[i] = r
		case r.Outcome == result.Submitted:
			resume[i] = Resume{JobID: r.JobID, SubmittedAt: r.SubmittedAt, Attempts: r.Attempts}
		case r.Outcome == result.Failed && r.Code == CodeOutcomeUnknown:
			resume[i] = Resume{InDoubt: true, DoubtSince: time.Now(), Attempts: r.Attempts}
		case r.Outcome == result.NotRun:
			resume[i] = Resume{Attempts: r.Attempts}
		default:
			t.Fatalf("first run row %d: %s %s %q", i, r.Outcome, r.Code, r.Message)
		}
	}
	t.Logf("resumed: %d rows, first run left %d", len(resume), len(first))
	// Rows settled in the first run are not planned any more.
	p2 := makePlan(leaverPlan(n)...)
	for i := range p2.Steps {
		if rows[i].Outcome == result.Deleted {
			p2.Steps[i].Outcome = result.Deleted
		}
	}
	opt2 := aheadOptions(10 * time.Millisecond)
	opt2.Resume = resume
	res, stop, err := Run(t.Context(), s.client, p2, rows, opt2)
	if err != nil || stop != nil {
		t.Fatalf("err %v stop %+v", err, stop)
	}
	for i, r := range res {
		if r.Outcome != result.Deleted {
			t.Errorf("row %d: %s %s %q", i, r.Outcome, r.Code, r.Message)
		}
	}
	sandboxtest.CheckOneJobPerUser(t, s.srv)
}

// TestAheadRoomUnderQueue: an org that takes every submission
// (QueueBeyondLimit); jobs submitted together come due together.
func TestAheadRoomUnderQueue(t *testing.T) {
	for _, lengths := range []string{"alike", "spread"} {
		t.Run(lengths, func(t *testing.T) {
			const n = 100
			cfg := sandbox.Config{Seed: leavers(n), JobDuration: 40 * time.Millisecond, JobLimitAnswer: sandbox.QueueBeyondLimit, Latency: time.Millisecond}
			if lengths == "spread" {
				cfg.JobDurations = spread(15 * time.Millisecond)
			}
			s := newSim(t, cfg, 25)
			opt := aheadOptions(40 * time.Millisecond)
			res, _, _ := runOrDump(t, s, makePlan(leaverPlan(n)...), opt, 30*time.Second)
			for i, r := range res {
				if r.Outcome != result.Deleted {
					t.Errorf("row %d: %s %s", i, r.Outcome, r.Code)
				}
			}
			// Jobs of this run taken and not yet ended (queued or running).
			jobs := s.srv.Jobs()
			most := 0
			for _, j := range jobs {
				open := 0
				for _, k := range jobs {
					if !k.SubmittedAt.After(j.SubmittedAt) && k.FinishedAt.After(j.SubmittedAt) {
						open++
					}
				}
				most = max(most, open)
			}
			t.Logf("at most %d of the run's jobs taken and unfinished at once", most)
			if most > 20 {
				t.Errorf("%d jobs taken and unfinished at once, want at most 20 (aheadRoom: twice --max-jobs)", most)
			}
		})
	}
}

// TestAheadLimitInvalidDataJitter: sandbox.LimitInvalidData, spread
// lengths, submissions reach Zoho after up to 15 ms (a slow path).
func TestAheadLimitInvalidDataJitter(t *testing.T) {
	const n = 150
	s := newSim(t, sandbox.Config{Seed: leavers(n), JobDuration: 20 * time.Millisecond, JobLimitAnswer: sandbox.LimitInvalidData,
		JobDurations: spread(20 * time.Millisecond), Latency: time.Millisecond}, 10)
	var k atomic.Int64
	s.srv.SetFaults(func(c sandbox.Call) sandbox.Fault {
		if c.Method == "POST" && strings.HasPrefix(c.Path, "/crm/") {
			time.Sleep(time.Duration(k.Add(7919) % int64(15*time.Millisecond)))
		}
		return sandbox.NoFault
	})
	opt := aheadOptions(20 * time.Millisecond)
	opt.JobTimeout = 10 * time.Second
	res, stop, _ := runOrDump(t, s, makePlan(leaverPlan(n)...), opt, 30*time.Second)
	if stop != nil {
		t.Errorf("stop %+v", stop)
	}
	for i, r := range res {
		if r.Outcome != result.Deleted {
			t.Errorf("row %d: %s %s %q", i, r.Outcome, r.Code, r.Message)
		}
	}
}
