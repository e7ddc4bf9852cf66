package bench

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"testing"
	"time"

	"offboard/result"
	"offboard/runner"
	"offboard/sandbox"
)

// What one answer takes in the matrix: from matrixLatency to
// matrixLatency + matrixJitter, a fresh draw for each answer. Zoho's
// answers to these calls take some tens of milliseconds, not always the
// same: the run cannot time a step sent ahead, or a poll, to the
// millisecond.
const (
	matrixLatency = 30 * time.Millisecond
	matrixJitter  = 30 * time.Millisecond
)

// realTimeUpTo is the longest job length the matrix runs in real time:
// for jobs this short the answers' latency is a large part of a job, and
// scaling it down would hide it. Longer jobs are replayed at D = 250 ms
// with every production timing scaled by D/R (see scale).
const realTimeUpTo = 2 * time.Second

// A matrixCell is one job length, alike or spread, and one N.
type matrixCell struct {
	length time.Duration // R: every job's length, or the median when spread
	spread bool          // log-normal lengths, σ = 1, around length
	n      int
}

func (c matrixCell) String() string {
	shape := "alike"
	if c.spread {
		shape = "spread"
	}
	return fmt.Sprintf("job=%s/%s/N=%d", c.length, shape, c.n)
}

// matrixCells are the cells make bench runs: OFFBOARD_BENCH_MATRIX=full
// adds N = 5,000 and the real-time cells' larger N (a full run takes
// about an hour).
func matrixCells() []matrixCell {
	full := os.Getenv("OFFBOARD_BENCH_MATRIX") == "full"
	var cells []matrixCell
	for _, l := range []time.Duration{500 * time.Millisecond, 2 * time.Second, 10 * time.Second, time.Minute, 10 * time.Minute, 30 * time.Minute} {
		for _, spread := range []bool{false, true} {
			for _, n := range []int{20, 100, 1000, 5000} {
				wall := time.Duration(n/10) * l // the ideal, in wall time
				if l > realTimeUpTo {
					wall = time.Duration(n/10) * 250 * time.Millisecond
				}
				if !full && (n > 1000 || wall > 60*time.Second) {
					continue
				}
				cells = append(cells, matrixCell{length: l, spread: spread, n: n})
			}
		}
	}
	return cells
}

// lengths gives each of n leavers a job length (at the benchmark's
// scale): all d, or log-normal around d with σ = 1 (a seeded draw, the
// same every run), cut at d/20 and 20·d.
func lengths(n int, d time.Duration, spread bool) []time.Duration {
	out := make([]time.Duration, n)
	rng := rand.New(rand.NewPCG(14, uint64(n)))
	for i := range out {
		out[i] = d
		if spread {
			f := math.Exp(rng.NormFloat64())
			out[i] = time.Duration(float64(d) * min(max(f, 1.0/20), 20))
		}
	}
	return out
}

// listSchedule is the makespan of jobs of the given lengths run in order
// on slots, each started the instant a slot frees: the ideal the matrix
// measures against.
func listSchedule(jobs []time.Duration, slots int) time.Duration {
	free := make([]time.Duration, slots)
	for _, d := range jobs {
		i := slices.Index(free, slices.Min(free))
		free[i] += d
	}
	return slices.Max(free)
}

// BenchmarkMatrix runs offboard's pipeline, as BenchmarkMakespan does,
// over job lengths from half a second to half an hour, alike or spread
// (log-normal, σ = 1), and N from 20 to 5,000, with offboard's default
// flags (--rate, --concurrency, the runner's defaults) and answers of
// 30 to 60 ms. It reports the makespan against list scheduling (each slot
// refilled the instant its job ends), the start-up included, and the API
// calls per user, everything counted; and what the naive loop (submit,
// poll every second until done, one user at a time) would take,
// computed: N·(R rounded up to the next second + 2 answers).
func BenchmarkMatrix(b *testing.B) {
	for _, c := range matrixCells() {
		b.Run(c.String(), func(b *testing.B) { benchmarkMatrix(b, c) })
	}
}

// A cellRun is what a matrix cell runs: its scale, its jobs' lengths (in
// sheet order, and by user id), the ideal, and the sheet.
type cellRun struct {
	s     scale
	jobs  []time.Duration
	byID  map[string]time.Duration
	best  time.Duration
	sheet string
}

func newCellRun(b *testing.B, c matrixCell) cellRun {
	s := scale{job: c.length, real: c.length}
	if c.length > realTimeUpTo {
		s.job = 250 * time.Millisecond
	}
	jobs := lengths(c.n, s.job, c.spread)
	byID := map[string]time.Duration{}
	for i, d := range jobs {
		byID[leaverID(i)] = d
	}
	return cellRun{s: s, jobs: jobs, byID: byID, best: listSchedule(jobs, 10), sheet: writeSheet(b, c.n)}
}

// org starts the cell's simulated org: its leavers' job lengths, answers
// of matrixLatency to matrixLatency + matrixJitter.
func (cr cellRun) org(b *testing.B, n int) *org {
	return startOrgWith(b, cr.s, sandbox.Config{
		Seed:          seed(n),
		JobDurations:  func(id string) time.Duration { return cr.byID[id] },
		Latency:       cr.s.of(matrixLatency),
		LatencyJitter: cr.s.of(matrixJitter),
	})
}

func benchmarkMatrix(b *testing.B, c matrixCell) {
	cr := newCellRun(b, c)
	s, jobs, best, sheet := cr.s, cr.jobs, cr.best, cr.sheet
	var total, startup, refill, tail time.Duration
	var got calls
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		o := cr.org(b, c.n)
		srv := o.srv
		b.StartTimer()

		start := time.Now()
		p, rows := o.prepare(b.Context(), b, s, sheet, c.n)
		opt := s.options()
		// --job-timeout as a user would set it: above the jobs' length
		// (the default, 30 min, is the length of the longest cell's jobs,
		// whose rows then end submitted or deleted by a coin's toss).
		opt.JobTimeout = max(opt.JobTimeout, s.of(2*c.length))
		if c.spread {
			// Lengths spread up to 20 times the median.
			opt.JobTimeout = max(opt.JobTimeout, s.of(25*c.length))
		}
		results, stop, err := runner.Run(b.Context(), o.client, p, rows, opt)
		total += time.Since(start)

		b.StopTimer()
		if err != nil || stop != nil {
			b.Fatalf("runner.Run = %+v, %v", stop, err)
		}
		for _, r := range results {
			if r.Outcome != result.Deleted {
				b.Fatalf("row %d ended %s %s: %s", r.Line, r.Outcome, r.Code, r.Message)
			}
		}
		st, rf, tl := phases(srv.Jobs(), start, start.Add(time.Since(start)))
		startup += st
		refill += rf
		tail += tl
		cc := countCalls(srv)
		got.total += cc.total
		got.polls += cc.polls
		got.userReads += cc.userReads
		got.directory += cc.directory
		got.refusedSlot += cc.refusedSlot
		o.close()
		b.StartTimer()
	}
	runs := float64(b.N)
	perUser := func(v int) float64 { return float64(v) / runs / float64(c.n) }
	b.ReportMetric(float64(total)/runs/float64(best), "x-ideal")
	b.ReportMetric(perUser(got.total), "calls/user")
	b.ReportMetric(perUser(got.polls), "polls/user")
	b.ReportMetric(perUser(got.userReads), "reads/user")
	b.ReportMetric(perUser(got.directory), "dir-calls/user")
	b.ReportMetric(perUser(got.refusedSlot), "slot-refusals/user")
	b.ReportMetric(s.real.Seconds()*float64(best)/float64(s.job), "s-ideal-real")
	// Where the time over the ideal went, in shares of the ideal: before
	// the first job started; slots idle between a job's end and the next
	// start; after the last job ended.
	b.ReportMetric(float64(startup)/runs/float64(best), "startup-share")
	b.ReportMetric(float64(refill)/runs/float64(best), "refill-share")
	b.ReportMetric(float64(tail)/runs/float64(best), "tail-share")
	var naive time.Duration
	for _, d := range jobs {
		real := time.Duration(float64(d) * float64(s.real) / float64(s.job))
		naive += real.Truncate(time.Second) + time.Second + 2*(matrixLatency+matrixJitter/2)
	}
	b.ReportMetric(float64(naive)/(float64(best)*float64(s.real)/float64(s.job)), "naive-x-ideal")
}

// phases splits a run's time at the simulator: before the first job
// started, the time the ten slots stood idle between a job's end and the
// next job's start (summed over slots, divided by ten: what it adds to
// the makespan), and after the last job ended.
func phases(jobs []sandbox.Job, start, end time.Time) (startup, refill, tail time.Duration) {
	if len(jobs) == 0 {
		return 0, 0, 0
	}
	startup = jobs[0].SubmittedAt.Sub(start)
	var free []time.Time // when each slot's job ended, earliest first
	last := jobs[0].FinishedAt
	for _, j := range jobs {
		if j.FinishedAt.After(last) {
			last = j.FinishedAt
		}
		if len(free) < 10 {
			free = append(free, j.FinishedAt)
		} else {
			slices.SortFunc(free, func(a, b time.Time) int { return a.Compare(b) })
			if gap := j.SubmittedAt.Sub(free[0]); gap > 0 {
				refill += gap
			}
			free[0] = j.FinishedAt
		}
	}
	return startup, refill / 10, end.Sub(last)
}
