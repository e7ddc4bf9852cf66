package runner

import (
	"testing"
	"time"
)

// TestStepTakenAheadBoundsTheJob: a step sent ahead of a job alike (the
// poller keeps the job, whose poll follows) and taken by Zoho says the
// job had most likely ended when the step was sent: that, not the later
// poll, is what the run learns of its length. Learnt from the poll, each
// job's length came out a poll's delay too long, and the next jobs'
// steps went later and later (0.5 s jobs: 11–16 % of the time lost
// idle, BENCHMARKS.md §0).
func TestStepTakenAheadBoundsTheJob(t *testing.T) {
	ms := time.Millisecond
	since := time.Now()
	for _, c := range []struct {
		name         string
		unfinishedAt time.Duration // seen unfinished by a poll sent then
		taken        bool          // Zoho took the step sent at 436 ms
		lo, hi       time.Duration // learnt from a poll at 487 ms that saw it done
	}{
		{"taken", 0, true, 0, 436 * ms},
		{"refused", 0, false, 0, 487 * ms},
		// Taken, but the job was seen unfinished after: another slot was
		// free, the step says nothing of this job.
		{"taken, then seen unfinished", 450 * ms, true, 450 * ms, 487 * ms},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := &run{opt: Options{MaxJobs: ZohoJobLimit}}
			w := &watch{since: since, unfinishedAt: c.unfinishedAt, learn: true}
			if c.taken {
				r.mu.Lock()
				r.tookAhead(launch{ahead: true, near: w}, since.Add(436*ms))
				r.mu.Unlock()
			}
			lo, hi := r.learnt(w, 487*ms)
			if lo != c.lo || hi != c.hi {
				t.Errorf("learnt = (%v, %v], want (%v, %v]", lo, hi, c.lo, c.hi)
			}
		})
	}
}
