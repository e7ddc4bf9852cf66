package bench

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"offboard/plan"
	"offboard/sandbox"
	"offboard/zoho"
)

// BenchmarkMatrixFloor runs each matrix cell (BenchmarkMatrix) with what
// no run that sends in sheet order with offboard's client can beat: a
// scheduler told every job's length in advance, and how long Zoho's
// answers take at the least. It reads the org as
// offboard does (a run must check every row against the live user list
// before it sends anything), then keeps the ten slots full in sheet order,
// with the same client (rate limit, five calls in flight): it sends each
// slot's next user so that Zoho takes it the instant the slot's job ends
// at the earliest (the job's end less the least answer latency), and never
// looks at a job. Its makespan runs to the last job's end at the
// simulator, not to the moment a run could know it.
//
// x-ideal is that makespan against the same ideal as BenchmarkMatrix
// (list scheduling in sheet order): where it is over a goal, no such run
// meets that goal in that cell. (A scheduler free to reorder, longest job
// first, could beat both where lengths spread; with jobs alike the order
// does not matter.)
func BenchmarkMatrixFloor(b *testing.B) {
	for _, c := range matrixCells() {
		b.Run(c.String(), func(b *testing.B) { benchmarkFloor(b, c) })
	}
}

func benchmarkFloor(b *testing.B, c matrixCell) {
	cr := newCellRun(b, c)
	var total, startup, refill time.Duration
	var got calls
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		o := cr.org(b, c.n)
		b.StartTimer()

		start := time.Now()
		p, _ := o.prepare(b.Context(), b, cr.s, cr.sheet, c.n)
		if err := fillSlots(b.Context(), o.client, p, cr.byID, cr.s.of(matrixLatency)); err != nil {
			b.Fatal(err)
		}

		b.StopTimer()
		jobs, last := ended(o)
		if len(jobs) != c.n {
			b.Fatalf("%d jobs, want %d", len(jobs), c.n)
		}
		total += last.Sub(start)
		st, rf, _ := phases(jobs, start, last)
		startup += st
		refill += rf
		cc := countCalls(o.srv)
		got.total += cc.total
		got.refusedSlot += cc.refusedSlot
		o.close()
		b.StartTimer()
	}
	runs := float64(b.N)
	b.ReportMetric(float64(total)/runs/float64(cr.best), "x-ideal")
	b.ReportMetric(float64(got.total)/runs/float64(c.n), "calls/user")
	b.ReportMetric(float64(got.refusedSlot)/runs/float64(c.n), "slot-refusals/user")
	b.ReportMetric(float64(startup)/runs/float64(cr.best), "startup-share")
	b.ReportMetric(float64(refill)/runs/float64(cr.best), "refill-share")
}

// ended waits for every job at o's simulator to end, and returns them and
// when the last one ended.
func ended(o *org) ([]sandbox.Job, time.Time) {
	for {
		jobs := o.srv.Jobs()
		var last time.Time
		for _, j := range jobs {
			if j.FinishedAt.IsZero() {
				last = time.Time{}
				break
			}
			if j.FinishedAt.After(last) {
				last = j.FinishedAt
			}
		}
		if !last.IsZero() {
			return jobs, last
		}
		time.Sleep(time.Millisecond)
	}
}

// fillSlots submits p's steps in order on ten slots, each slot's next user
// sent at its job's end less least: Zoho takes it least to (least + the
// jitter) after it leaves, so never before the job has ended. A job starts
// at Zoho before its submission's answer arrives, so the answer's arrival
// plus the job's length is never before the job's end.
func fillSlots(ctx context.Context, c *zoho.Client, p *plan.Plan, length map[string]time.Duration, least time.Duration) error {
	var (
		mu   sync.Mutex
		next int
		errs []error
		wg   sync.WaitGroup
	)
	take := func() (plan.Step, bool) {
		mu.Lock()
		defer mu.Unlock()
		if next == len(p.Order) {
			return plan.Step{}, false
		}
		next++
		return p.Steps[p.Order[next-1]], true
	}
	for range 10 {
		wg.Go(func() {
			var at time.Time // when this slot's job is due to end, less least
			for {
				time.Sleep(time.Until(at))
				st, ok := take()
				if !ok {
					return
				}
				for {
					_, err := c.TransferAndDelete(ctx, st.Request, nil)
					if err == nil {
						break
					}
					if !errors.Is(err, zoho.ErrJobLimit) {
						mu.Lock()
						errs = append(errs, err)
						mu.Unlock()
						return
					}
					time.Sleep(time.Millisecond) // the slot had not freed: never here if the floor holds
				}
				at = time.Now().Add(length[st.Request.UserID] - least)
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}
