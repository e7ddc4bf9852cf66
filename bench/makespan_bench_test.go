package bench

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"offboard/result"
	"offboard/runner"
	"offboard/sandbox"
)

// A scenario is the org's weather during a run.
type scenario struct {
	name string
	// refuse is the share of API calls answered 429 TOO_MANY_REQUESTS
	// (concurrency style) before they are handled.
	refuse float64
	// held is how many of Zoho's 10 job slots another admin's jobs hold for
	// the whole run.
	held int
	// real are the real job durations R the run stands for.
	real []time.Duration
}

var scenarios = []scenario{
	{name: "clean", real: []time.Duration{5 * time.Second, time.Minute}},
	{name: "storm25", refuse: 0.25, real: []time.Duration{5 * time.Second, time.Minute}},
	{name: "held3", held: 3, real: []time.Duration{5 * time.Second}},
}

// storm answers a share of the API calls 429: a seeded generator drawn in
// arrival order, so every run sees the same sequence of refusals.
func storm(share float64) func(sandbox.Call) sandbox.Fault {
	var mu sync.Mutex
	rng := rand.New(rand.NewPCG(8, 8))
	return func(c sandbox.Call) sandbox.Fault {
		if !strings.HasPrefix(c.Path, "/crm/") {
			return sandbox.NoFault // the token endpoint has its own throttle
		}
		mu.Lock()
		defer mu.Unlock()
		if rng.Float64() < share {
			return sandbox.TooManyRequests
		}
		return sandbox.NoFault
	}
}

// BenchmarkMakespan runs N leavers through offboard's whole pipeline in
// process (read the sheet, read the org over HTTP, plan, run) against the
// simulated org. Jobs take D (OFFBOARD_BENCH_JOB, default 250ms) and stand
// for real jobs of R: 5 s (the runner's first guess) and, clean and in the
// storm, also 60 s; the production defaults are scaled by D/R (see scale).
// It reports the run's makespan against the ideal ceil(N/slots)·D, where
// slots is 10 less the slots another admin holds, and the API calls per
// user, the directory's reads included. A row that does not end deleted fails the
// benchmark: no weather may cost a row.
func BenchmarkMakespan(b *testing.B) {
	for _, sc := range scenarios {
		for _, r := range sc.real {
			s := benchScale(b, r)
			for _, n := range []int{100, 500} {
				b.Run(fmt.Sprintf("%s/%s/N=%d", sc.name, s, n), func(b *testing.B) {
					benchmarkMakespan(b, s, sc, n)
				})
			}
		}
	}
}

func benchmarkMakespan(b *testing.B, s scale, sc scenario, n int) {
	sheet := writeSheet(b, n)
	slots := 10 - sc.held
	best := ideal(n, slots, s.job)
	var makespan, prepare time.Duration
	var c calls
	var maxInFlight int
	var lag lags
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		o := startOrg(b, s, n)
		if sc.refuse > 0 {
			o.srv.SetFaults(storm(sc.refuse))
		}
		if sc.held > 0 {
			o.srv.HoldJobSlots(sc.held, time.Hour)
		}
		b.StartTimer()

		start := time.Now()
		p, rows := o.prepare(b.Context(), b, s, sheet, n)
		planned := time.Now()
		results, stop, err := runner.Run(b.Context(), o.client, p, rows, s.options())
		end := time.Now()

		b.StopTimer()
		if err != nil || stop != nil {
			b.Fatalf("runner.Run = %+v, %v", stop, err)
		}
		for _, r := range results {
			if r.Outcome != result.Deleted {
				b.Fatalf("row %d ended %s %s: %s", r.Line, r.Outcome, r.Code, r.Message)
			}
		}
		prepare += planned.Sub(start)
		makespan += end.Sub(planned)
		got := countCalls(o.srv)
		c.total += got.total
		c.submits += got.submits
		c.polls += got.polls
		c.userReads += got.userReads
		c.directory += got.directory
		c.refused429 += got.refused429
		c.refusedSlot += got.refusedSlot
		maxInFlight = max(maxInFlight, o.srv.MaxInFlight())
		l := slotLags(o.srv)
		lag.detect += l.detect
		lag.refill += l.refill
		lag.first += l.first
		o.close()
		b.StartTimer()
	}
	runs := float64(b.N)
	perUser := func(v int) float64 { return float64(v) / runs / float64(n) }
	b.ReportMetric(float64(makespan)/runs/float64(best), "x-ideal")
	b.ReportMetric(float64(makespan)/runs/1e9, "s-makespan")
	b.ReportMetric(float64(best)/1e9, "s-ideal")
	b.ReportMetric(float64(prepare)/runs/1e9, "s-prepare")
	b.ReportMetric(perUser(c.total), "calls/user")
	b.ReportMetric(perUser(c.polls), "polls/user")
	b.ReportMetric(perUser(c.directory), "dir-calls/user")
	b.ReportMetric(perUser(c.refused429), "429s/user")
	b.ReportMetric(perUser(c.refusedSlot), "slot-refusals/user")
	b.ReportMetric(float64(maxInFlight), "max-in-flight")
	b.ReportMetric(float64(lag.detect)/runs/float64(s.job), "detect-lag/D")
	b.ReportMetric(float64(lag.refill)/runs/float64(s.job), "refill-lag/D")
	b.ReportMetric(lag.first/runs, "first-poll-hit")
}
