package runner

import (
	"bytes"
	"context"
	"fmt"
	"offboard/plan"
	"offboard/result"
	"os"
	"runtime/pprof"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/rs/zerolog"

	"offboard/sandbox"
	"offboard/sandbox/sandboxtest"
)

// slowLog is a log writer that takes its time on the lines that match:
// a slow terminal or disk.
type slowLog struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	match string
	delay time.Duration
	hits  atomic.Int32
}

func (l *slowLog) Write(p []byte) (int, error) {
	if l.match != "" && bytes.Contains(p, []byte(l.match)) {
		l.hits.Add(1)
		time.Sleep(l.delay)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *slowLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// spread gives the leavers' jobs spread lengths.
func spread(base time.Duration) func(string) time.Duration {
	return func(id string) time.Duration {
		var n int
		for _, c := range id {
			n = n*31 + int(c)
		}
		if n < 0 {
			n = -n
		}
		return []time.Duration{base, 3 * base, 8 * base}[n%3]
	}
}

// holdSlotsWhen has another admin take every job slot of s, for an hour,
// once ready holds; heldAt says when (zero if not yet).
func holdSlotsWhen(t *testing.T, s *sim, ready func() bool) (heldAt func() time.Time) {
	var mu sync.Mutex
	var held time.Time
	stop := make(chan struct{})
	t.Cleanup(func() { close(stop) })
	go func() {
		for !ready() {
			select {
			case <-stop:
				return
			case <-time.After(time.Millisecond):
			}
		}
		s.srv.HoldJobSlots(10, time.Hour)
		mu.Lock()
		held = time.Now()
		mu.Unlock()
	}()
	return func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		return held
	}
}

// TestAheadSlowLogBetweenBackAndHandBack: the debug line "back in line"
// is written after aheadBack put the step back in line, before its
// submitter returns. A slow log opens that window, in which the scheduler
// may send the step again. (While a step sent ahead stood in for a job's
// poll, the submitter then handed that job back to the poller: once, two
// submitters' jobs were mixed up and one was never polled again, and the
// run never ended. Steps sent ahead no longer hold jobs; every job keeps
// one watch.)
func TestAheadSlowLogBetweenBackAndHandBack(t *testing.T) {
	const n = 60
	s := newSim(t, sandbox.Config{Seed: leavers(n), JobDuration: 20 * time.Millisecond,
		JobDurations: spread(20 * time.Millisecond), Latency: 2 * time.Millisecond}, 5)
	lw := &slowLog{match: "back in line", delay: 30 * time.Millisecond}
	opt := aheadOptions(20 * time.Millisecond)
	opt.Log = zerolog.New(lw)
	opt.JobTimeout = 10 * time.Second
	began := time.Now()
	res, stop, err := runOrDump(t, s, makePlan(leaverPlan(n)...), opt, 20*time.Second)
	t.Logf("took %s; %d slow lines", time.Since(began), lw.hits.Load())
	if err != nil || stop != nil {
		t.Errorf("err %v stop %+v", err, stop)
	}
	if diff := cmp.Diff(repeat(deleted, n), outcomes(res)); diff != "" {
		t.Errorf("outcomes (-want +got):\n%s", diff)
	}
	sandboxtest.CheckOneJobPerUser(t, s.srv)
	// Two status polls of one job in flight at once: the job's watch is
	// in the poller twice.
	type span struct{ a, b time.Time }
	byJob := map[string][]span{}
	for _, r := range s.srv.Requests() {
		if r.Method == "GET" && strings.Contains(r.RawQuery, "job_id=") {
			byJob[r.RawQuery] = append(byJob[r.RawQuery], span{r.Start, r.End})
		}
	}
	dup := 0
	for q, sp := range byJob {
		for i := range sp {
			for j := i + 1; j < len(sp); j++ {
				if sp[i].a.Before(sp[j].b) && sp[j].a.Before(sp[i].b) {
					dup++
					t.Logf("overlapping polls %s", q)
				}
			}
		}
	}
	if dup > 0 {
		t.Errorf("%d pairs of overlapping polls of one job: a watch was handed back twice", dup)
	}
}

// runOrDump runs p, and dumps every goroutine if Run has not returned
// after limit.
func runOrDump(t *testing.T, s *sim, p *plan.Plan, opt Options, limit time.Duration) ([]result.Row, *Stop, error) {
	t.Helper()
	type ret struct {
		res  []result.Row
		stop *Stop
		err  error
	}
	ch := make(chan ret, 1)
	go func() {
		res, stop, err := Run(t.Context(), s.client, p, rowsOf(p), opt)
		ch <- ret{res, stop, err}
	}()
	select {
	case r := <-ch:
		return r.res, r.stop, r.err
	case <-time.After(limit):
		pprof.Lookup("goroutine").WriteTo(os.Stderr, 1)
		t.Fatalf("Run did not return within %s", limit)
		return nil, nil, nil
	}
}

// TestAheadStressSpread: many leavers of spread lengths, every slot full
// all the time: steps go ahead of jobs due, and most are refused.
func TestAheadStressSpread(t *testing.T) {
	const n = 200
	s := newSim(t, sandbox.Config{Seed: leavers(n), JobDuration: 10 * time.Millisecond,
		JobDurations: spread(10 * time.Millisecond), Latency: time.Millisecond}, 8)
	lw := &slowLog{}
	opt := aheadOptions(10 * time.Millisecond)
	opt.Log = zerolog.New(lw).Level(zerolog.WarnLevel)
	opt.JobTimeout = 8 * time.Second
	began := time.Now()
	res, stop, err := runOrDump(t, s, makePlan(leaverPlan(n)...), opt, 15*time.Second)
	t.Logf("took %s", time.Since(began))
	if err != nil || stop != nil {
		t.Errorf("err %v stop %+v", err, stop)
	}
	if diff := cmp.Diff(repeat(deleted, n), outcomes(res)); diff != "" {
		t.Errorf("outcomes (-want +got):\n%s", diff)
	}
	if took := time.Since(began); took > opt.JobTimeout/2 {
		t.Errorf("took %s: a job was left to its --job-timeout", took)
	}
	sandboxtest.CheckOneJobPerUser(t, s.srv)
	ahead, refusals := sentAhead(s.srv)
	t.Logf("%d ahead taken, %d refused, at most %d unfinished", ahead, refusals, maxUnfinished(s.srv))
}

// jitterLog sleeps a random while on matching lines.
type jitterLog struct {
	slowLog
	max time.Duration
	n   atomic.Int64
}

func (l *jitterLog) Write(p []byte) (int, error) {
	if bytes.Contains(p, []byte(l.match)) {
		l.hits.Add(1)
		k := l.n.Add(7919)
		time.Sleep(time.Duration(k % int64(l.max)))
	}
	return len(p), nil
}

// TestAheadLeakStress: steps go back in line while others go ahead; a
// log that takes a moment on the "back in line" line lets the scheduler
// send the step again before the old submitter has returned (once, with
// steps sent ahead in place of a job's poll, before it handed that job
// back).
func TestAheadLeakStress(t *testing.T) {
	const n = 120
	s := newSim(t, sandbox.Config{Seed: leavers(n), JobDuration: 10 * time.Millisecond,
		JobDurations: spread(10 * time.Millisecond), Latency: time.Millisecond}, 8)
	lw := &jitterLog{max: 3 * time.Millisecond}
	lw.match = "back in line"
	opt := aheadOptions(10 * time.Millisecond)
	opt.Log = zerolog.New(lw)
	opt.JobTimeout = 2 * time.Second // every watch ends by then, at the latest
	opt.Grace = time.Second
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var mu sync.Mutex
	final := map[int]bool{}
	opt.OnChange = func(i int, _ result.Row, f bool) {
		mu.Lock()
		defer mu.Unlock()
		if f {
			final[i] = true
		}
	}
	type ret struct {
		res []result.Row
	}
	ch := make(chan ret, 1)
	p := makePlan(leaverPlan(n)...)
	go func() {
		res, _, _ := Run(ctx, s.client, p, rowsOf(p), opt)
		ch <- ret{res}
	}()
	select {
	case r := <-ch:
		if diff := cmp.Diff(repeat(deleted, n), outcomes(r.res)); diff != "" {
			t.Errorf("outcomes (-want +got):\n%s", diff)
		}
		t.Logf("%d back-in-line lines", lw.hits.Load())
	case <-time.After(6 * time.Second):
		cancel() // Ctrl-C
		select {
		case <-ch:
			t.Logf("Run returned after the cancel")
		case <-time.After(5 * time.Second):
			t.Errorf("Run did not return within 5 s of ctx's cancel (Grace 1 s)")
		}
		mu.Lock()
		defer mu.Unlock()
		ended := map[string]time.Time{}
		for _, j := range s.srv.Jobs() {
			ended[j.UserID] = j.FinishedAt
		}
		for i := range n {
			if final[i] {
				continue
			}
			id := leaverID(i)
			t.Errorf("row %d (user %s) has no final result after 6 s (job timeout 2 s); its job ended at %v (%s ago)", i, id, ended[id].Format("15:04:05.000"), time.Since(ended[id]).Round(time.Millisecond))
		}
		t.Fatalf("Run had not returned after 6 s with jobs of at most 80 ms and a job timeout of 2 s")
	}
}

// TestAheadOtherAdminHidesEndedJobs: mid-run, another admin's jobs take
// Zoho's slots. This run's ten jobs end at Zoho within 80 ms, and the
// steps sent ahead meanwhile are refused for Zoho's job limit (the other
// admin's jobs), which says "none of the run's jobs has ended": each
// job's own polls must still see it end.
func TestAheadOtherAdminHidesEndedJobs(t *testing.T) {
	for _, maxJobs := range []int{9, 10} {
		t.Run(fmt.Sprintf("max-jobs %d", maxJobs), func(t *testing.T) {
			const n = 60
			s := newSim(t, sandbox.Config{Seed: leavers(n), JobDuration: 10 * time.Millisecond,
				JobDurations: spread(10 * time.Millisecond), Latency: time.Millisecond}, 8)
			opt := aheadOptions(10 * time.Millisecond)
			opt.MaxJobs = maxJobs
			opt.JobTimeout = 3 * time.Second
			// When a job is seen ended is measured by when its row ends
			// deleted: its user is read back at once, not gathered.
			opt.ReadBackWait = time.Millisecond
			// Once a good part of the rows is done (the lengths are known
			// to spread), another admin starts jobs that hold every slot.
			heldAt := holdSlotsWhen(t, s, func() bool {
				done := 0
				for _, j := range s.srv.Jobs() {
					if !j.FinishedAt.IsZero() && j.FinishedAt.Before(time.Now()) {
						done++
					}
				}
				return done >= 25
			})
			began := time.Now()
			res, stop, _ := runOrDump(t, s, makePlan(leaverPlan(n)...), opt, 20*time.Second)
			held := heldAt()
			t.Logf("took %s; stop %v", time.Since(began).Round(time.Millisecond), stop != nil)
			ended := map[string]time.Time{}
			for _, j := range s.srv.Jobs() {
				ended[j.UserID] = j.FinishedAt
			}
			worst, late := time.Duration(0), 0
			for i, r := range res {
				e := ended[leaverID(i)]
				if e.IsZero() || e.Before(held) || r.Outcome != result.Deleted {
					continue
				}
				lag := r.FinishedAt.Sub(e)
				worst = max(worst, lag)
				if lag > time.Second {
					late++
				}
			}
			refused := 0
			for _, r := range s.srv.Requests() {
				if r.Method == "POST" && !r.Token && r.Status == 400 && r.End.After(held) {
					refused++
				}
			}
			t.Logf("jobs that ended after the other admin's jobs took the slots: seen deleted up to %s after they ended; %d rows over 1 s late; %d submissions refused meanwhile", worst.Round(time.Millisecond), late, refused)
			if late > 0 {
				t.Errorf("%d rows whose jobs ended in under 80 ms were seen deleted only after more than 1 s (worst %s, --job-timeout %s)", late, worst.Round(time.Millisecond), opt.JobTimeout)
			}
		})
	}
}

// TestAheadReorderedArrivals: submissions reach Zoho after a random
// delay of up to 15 ms (a slow network path), so a step sent in its turn
// may arrive after steps sent ahead later, and be refused for the job
// limit while they are taken.
func TestAheadReorderedArrivals(t *testing.T) {
	for _, maxJobs := range []int{9, 10} {
		t.Run(fmt.Sprintf("max-jobs %d", maxJobs), func(t *testing.T) {
			const n = 150
			s := newSim(t, sandbox.Config{Seed: leavers(n), JobDuration: 20 * time.Millisecond,
				JobDurations: spread(20 * time.Millisecond), Latency: time.Millisecond}, 10)
			var k atomic.Int64
			s.srv.SetFaults(func(c sandbox.Call) sandbox.Fault {
				if c.Method == "POST" && strings.HasPrefix(c.Path, "/crm/") {
					time.Sleep(time.Duration(k.Add(7919) % int64(15*time.Millisecond)))
				}
				return sandbox.NoFault
			})
			opt := aheadOptions(20 * time.Millisecond)
			opt.MaxJobs = maxJobs
			opt.JobTimeout = 10 * time.Second
			res, stop, _ := runOrDump(t, s, makePlan(leaverPlan(n)...), opt, 30*time.Second)
			if diff := cmp.Diff(repeat(deleted, n), outcomes(res)); diff != "" || stop != nil {
				t.Errorf("stop %+v outcomes (-want +got):\n%s", stop, diff)
			}
			sandboxtest.CheckOneJobPerUser(t, s.srv)
			refused, inFlight := 0, 0
			var posts []sandbox.Request
			for _, r := range s.srv.Requests() {
				if r.Method == "POST" && !r.Token {
					posts = append(posts, r)
					if r.Status == 400 {
						refused++
					}
				}
			}
			for _, a := range posts {
				at := 0
				for _, b := range posts {
					if !b.Start.After(a.Start) && b.End.After(a.Start) {
						at++
					}
				}
				inFlight = max(inFlight, at)
			}
			t.Logf("%d submissions refused for the job limit; at most %d submissions in flight at once; at most %d jobs unfinished", refused, inFlight, maxUnfinished(s.srv))
			if inFlight > 2*ZohoJobLimit {
				t.Errorf("%d submissions in flight at once, for --max-jobs %d", inFlight, maxJobs)
			}
			if refused > 3*n {
				t.Errorf("%d submissions refused for the job limit, for %d users", refused, n)
			}
		})
	}
}
