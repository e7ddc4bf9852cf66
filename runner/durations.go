package runner

import (
	"slices"
	"sync"
	"time"
)

// durations learns how long jobs take from the jobs that already
// finished, so that a job is polled about when it should be done: one
// poll for most jobs instead of one every few seconds.
type durations struct {
	initial, min, max time.Duration

	mu      sync.Mutex
	samples []time.Duration // the most recent, at most keepSamples
}

const keepSamples = 64

// estimate is the median of the samples, or the initial guess.
func (d *durations) estimate() time.Duration {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.samples) == 0 {
		return d.initial
	}
	s := slices.Clone(d.samples)
	slices.Sort(s)
	return s[len(s)/2]
}

// observe records that a job was unfinished after lo and finished by hi
// (both since its submission). The midpoint is the best guess of a
// bracketed duration, and of the first job's (the first guess may be far
// off). Later, a job already finished at its first poll (lo = 0) says
// only that it took at most hi: it is recorded as a little under the
// current estimate, so that the estimate creeps down while first polls
// keep finding jobs done, and a miss (a bracket) pulls it back up. The
// midpoint of (0, hi) would drag the estimate to about 0.6 of the true
// duration, and half the first polls would then miss.
func (d *durations) observe(lo, hi time.Duration) {
	e := d.estimate()
	d.mu.Lock()
	defer d.mu.Unlock()
	sample := lo + (hi-lo)/2
	if lo <= 0 && len(d.samples) > 0 {
		sample = min(hi, e-e/32)
	}
	d.samples = append(d.samples, sample)
	if len(d.samples) > keepSamples {
		d.samples = d.samples[len(d.samples)-keepSamples:]
	}
}

// firstPoll is when to poll a new job first: just after the usual
// duration, so that the first poll usually finds the job finished and the
// slot is not left idle for long after it did.
func (d *durations) firstPoll() time.Duration {
	e := d.estimate()
	return min(max(e+e/20, d.min), d.max)
}

// nextPoll is the wait after a poll that found the job unfinished: a
// tenth of the usual duration at first (the job is most likely just about
// to end), then 1.5 times the last wait; twice the last wait while no job
// has finished yet, since the first guess may be far too short.
func (d *durations) nextPoll(last time.Duration, first bool) time.Duration {
	if first {
		return min(max(d.estimate()/10, d.min), d.max)
	}
	d.mu.Lock()
	known := len(d.samples) > 0
	d.mu.Unlock()
	if !known {
		return min(max(2*last, d.min), d.max)
	}
	return min(max(last+last/2, d.min), d.max)
}
