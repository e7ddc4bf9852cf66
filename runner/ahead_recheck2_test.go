package runner

import (
	"bytes"
	"context"
	"testing"
	"time"

	"offboard/result"
	"offboard/sandbox"
)

// Against the simulator at --rate 50, --concurrency 5: step 10's
// submission (sent ahead) takes 1 s to be answered; rows 11 on are
// refused by the org (sandbox.Refuse, 400 INVALID_DATA).
func TestAheadRecheckRowRefusalWhileAheadInFlightSandbox(t *testing.T) {
	const n = 30
	s := simShortAmongLong(t, n, 60*time.Millisecond, 0, 1)
	s.srv.SetFaults(func(c sandbox.Call) sandbox.Fault {
		if c.Method == "POST" && bytes.Contains(c.Body, []byte(leaverID(10))) {
			time.Sleep(time.Second)
		}
		if c.Method == "POST" {
			for i := 11; i < n; i++ {
				if bytes.Contains(c.Body, []byte(leaverID(i))) {
					return sandbox.Refuse
				}
			}
		}
		return sandbox.NoFault
	})
	opt := fast()
	opt.JobDuration = 50 * time.Millisecond
	opt.JobTimeout = time.Minute
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Second)
	defer cancel()
	p := makePlan(leaverPlan(n)...)
	res, _, _ := Run(ctx, s.client, p, rowsOf(p), opt)
	sent, _ := posts(t, s.srv)
	total, failed := 0, 0
	for i := 11; i < n; i++ {
		total += sent[leaverID(i)]
		if res[i].Outcome == result.Failed {
			failed++
		}
		if sent[leaverID(i)] > 1 {
			t.Logf("row %d: %s %s, attempts %d, posts %d", i, res[i].Outcome, res[i].Code, res[i].Attempts, sent[leaverID(i)])
		}
	}
	t.Logf("rows 11..%d (refused by the org): %d submissions, %d rows failed", n-1, total, failed)
	// A row goes at most three times: sent ahead, then in its turn while
	// step 10's submission is on its way (raced), then judged alone. (A
	// raced row was once resent as fast as the rate allowed.)
	for i := 11; i < n; i++ {
		if sent[leaverID(i)] > 3 {
			dumpReqs(t, s.srv)
			t.Fatalf("row %d, refused by the org, sent %d times, want at most 3", i, sent[leaverID(i)])
		}
	}
}

func dumpReqs(t *testing.T, srv *sandbox.Server) {
	t0 := time.Time{}
	for _, r := range srv.Requests() {
		if r.Token {
			continue
		}
		if t0.IsZero() {
			t0 = r.Start
		}
		who := ""
		for i := 0; i < 30; i++ {
			if bytes.Contains(r.Body, []byte(leaverID(i))) {
				who = leaverID(i)[14:]
			}
		}
		t.Logf("%6dms %6dms %s %s%s %s %d", r.Start.Sub(t0).Milliseconds(), r.End.Sub(t0).Milliseconds(), r.Method, r.Path, "?"+r.RawQuery, who, r.Status)
	}
}

// Another admin takes every slot for good mid-run, with steps going
// ahead: the run must stop with "another admin's jobs hold the slots"
// about --job-timeout after its last job ended, with few refusals.
func TestAheadRecheckOtherAdminTakesAllSlots(t *testing.T) {
	const n = 60
	s := newSim(t, sandbox.Config{Seed: leavers(n), JobDuration: 10 * time.Millisecond,
		JobDurations: spread(10 * time.Millisecond), Latency: time.Millisecond}, 8)
	opt := aheadOptions(10 * time.Millisecond)
	opt.JobTimeout = time.Second
	heldAt := holdSlotsWhen(t, s, func() bool { return len(s.srv.Jobs()) >= 25 })
	began := time.Now()
	res, stop, _ := runOrDump(t, s, makePlan(leaverPlan(n)...), opt, 20*time.Second)
	held := heldAt()
	refused := 0
	for _, r := range s.srv.Requests() {
		if r.Method == "POST" && !r.Token && r.Status == 400 && r.End.After(held) {
			refused++
		}
	}
	counts := map[result.Outcome]int{}
	for _, r := range res {
		counts[r.Outcome]++
	}
	t.Logf("took %s (held at %s); stop %+v; %v; %d refused after the hold", time.Since(began).Round(time.Millisecond), held.Sub(began).Round(time.Millisecond), stop, counts, refused)
	if stop == nil || !bytes.Contains([]byte(stop.Reason), []byte("another admin")) {
		t.Errorf("stop = %+v", stop)
	}
}
