package runner

import (
	"container/heap"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
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
		// Seen unfinished before the step left (it waited for the rate,
		// say): the slot it took was another job's.
		{"seen unfinished, then taken", 420 * ms, true, 420 * ms, 487 * ms},
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

// TestRetimeBringsFirstPollsForward: once the finished jobs bracket a
// shorter length, the jobs alike waiting for their first poll at the top
// of the earlier, wider bracket are polled at the new top: after the
// probe, the second wave would otherwise be seen ended up to half a job
// late, its slots idle. Polls already made, and polls due sooner, stay.
func TestRetimeBringsFirstPollsForward(t *testing.T) {
	ms := time.Millisecond
	r := &run{jobs: newDurations(0, 250*ms, 10*time.Minute), poll: &poller{wake: make(chan struct{}, 1)}}
	// The probe: seen unfinished at 9.6 s, done by 14.4 s.
	r.jobs.observe(9600*ms, 14400*ms)
	since := time.Now()
	first := func(due time.Duration) *watch {
		return &watch{kind: watchJob, learn: true, since: since, due: since.Add(due)}
	}
	atTop := first(14832 * ms) // 3 % past 14.4 s
	sooner := first(11 * time.Second)
	again := first(14832 * ms)
	again.looks = 1 // seen unfinished once: its wait is nextPoll's
	doubt := &watch{kind: watchDoubt, since: since, due: since.Add(14832 * ms)}
	for _, w := range []*watch{atTop, sooner, again, doubt} {
		heap.Push(&r.poll.queue, w)
	}
	// The job that split the bracket was done at 11.76 s: (9.6 s, 11.76 s].
	r.jobs.observe(0, 11760*ms)
	r.retime()
	for _, c := range []struct {
		name string
		w    *watch
		want time.Duration
	}{
		{"waiting at the old top", atTop, 12112800 * time.Microsecond},
		{"due sooner", sooner, 11 * time.Second},
		{"polled once already", again, 14832 * ms},
		{"a user in doubt", doubt, 14832 * ms},
	} {
		if got := c.w.due.Sub(since); got != c.want {
			t.Errorf("%s: due %v after its submission, want %v", c.name, got, c.want)
		}
	}
	if r.poll.queue[0] != sooner {
		t.Errorf("the poller's next watch is due %v, want the one due at 11 s", r.poll.queue[0].due.Sub(since))
	}
}

// follow plays one job of the given length through d, as the poller
// would, one job at a time: its first poll, then the next ones until one
// finds it done; it reports when the first poll came, and the polls that
// found the job unfinished.
func follow(d *durations, length time.Duration) (first time.Duration, misses int) {
	first = d.firstPoll()
	lo, age := time.Duration(0), first
	for age < length {
		misses++
		lo, age = age, age+d.nextPoll(age)
	}
	d.observe(lo, age)
	return first, misses
}

// TestTestsBelowGrowRarer: jobs alike all done at their first poll say
// nothing of whether jobs got shorter, so now and then one job looks
// lower, which costs a poll (and a step sent ahead refused) when they
// did not. While a test finds them no shorter, the next test waits
// twice as many jobs (up to maxQuiet); jobs that did get shorter are
// found within about that many, and then tested for again as often as at
// the start.
func TestTestsBelowGrowRarer(t *testing.T) {
	const s = time.Second
	d := newDurations(0, s/4, 10*time.Minute)
	d.observe(600*time.Millisecond, 1200*time.Millisecond) // the probe
	misses := 0
	var last time.Duration
	for range 1000 {
		first, m := follow(d, s)
		misses, last = misses+m, first
	}
	// A test every keepJobs jobs missed 81 polls (before tests grew
	// rarer); every 20 then every 40, 38.
	if misses > 50 {
		t.Errorf("1,000 jobs of 1 s: %d polls found a job unfinished, want at most 50", misses)
	}
	if last < s || last > 1100*time.Millisecond {
		t.Errorf("the 1,000th job of 1 s: first poll at %v, want just past 1 s", last)
	}
	// The jobs get shorter: found within maxQuiet jobs and a few tests,
	// and the next tests come as often as at the start.
	kept := map[int]bool{} // how long each test kept what it found
	note := func() {
		if d.floorLeft == d.quiet {
			kept[d.floorLeft] = true
		}
	}
	for shorter := 0; last > 750*time.Millisecond; shorter++ {
		if shorter > maxQuiet+5 {
			t.Fatalf("jobs of 0.7 s after jobs of 1 s: first polls still at %v after %d jobs", last, shorter)
		}
		last, _ = follow(d, 700*time.Millisecond)
		note()
	}
	for range 2 * maxQuiet {
		follow(d, 700*time.Millisecond)
		note()
	}
	if want := map[int]bool{keepJobs: true, maxQuiet: true}; !cmp.Equal(kept, want) {
		t.Errorf("jobs found shorter: the tests then kept what they found for %v jobs, want %v (20, then 40)", kept, want)
	}
	// The jobs get longer: found as soon as the jobs of 0.7 s are no
	// longer recent.
	for longer := 0; last < 2*s; longer++ {
		if longer > keepJobs+2 {
			t.Fatalf("jobs of 2 s after jobs of 0.7 s: first polls still at %v after %d jobs", last, longer)
		}
		last, _ = follow(d, 2*s)
	}
}
