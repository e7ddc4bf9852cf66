package runner

import (
	"context"
	"math/rand/v2"
	"slices"
	"sync"
	"time"
)

// pacer is shared by every worker of a run, as rclone's lib/pacer: a 429
// or another transient answer to any call pushes back the time at which
// every worker may make its next call, not only the one that got it.
// The wait grows exponentially (with jitter) while trouble lasts and is
// reset by a success. A retry hint in Zoho's answer wins when longer.
type pacer struct {
	base, max time.Duration
	now       func() time.Time

	mu     sync.Mutex
	resume time.Time     // no call before this
	wait   time.Duration // the last backoff; 0 after a success
}

func newPacer(base, max time.Duration, now func() time.Time) *pacer {
	return &pacer{base: base, max: max, now: now}
}

// ready returns how long a caller must wait before its next call.
func (p *pacer) ready() time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.resume.Sub(p.now())
}

// pause waits until the pacer lets calls through again, or until ctx ends
// or stop (if not nil) is closed.
func (p *pacer) pause(ctx context.Context, stop <-chan struct{}) error {
	for {
		d := p.ready()
		if d <= 0 {
			return nil
		}
		if err := sleepUnless(ctx, stop, d); err != nil {
			return err
		}
	}
}

// backoff records a transient failure and returns the wait it imposes on
// every caller from now.
func (p *pacer) backoff(hint time.Duration) time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.wait == 0 {
		p.wait = p.base
	} else {
		p.wait = min(p.wait*2, p.max)
	}
	d := p.wait/2 + rand.N(p.wait/2+1) // jitter, so that workers do not all come back at once
	if hint > d {
		d = hint
	}
	if at := p.now().Add(d); at.After(p.resume) {
		p.resume = at
	}
	return d
}

// succeeded resets the backoff; a resume time already set still holds.
func (p *pacer) succeeded() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.wait = 0
}

// stoppedError is returned by waits that the end of submitting cut short.
type stoppedError struct{}

func (stoppedError) Error() string { return "submitting stopped" }

// sleepUnless waits for d, or until ctx ends or stop (if not nil) closes.
func sleepUnless(ctx context.Context, stop <-chan struct{}, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-stop:
		return stoppedError{}
	}
}

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
// (both since its submission). The midpoint is the best guess of its
// duration: hi alone would only ever grow the estimate.
func (d *durations) observe(lo, hi time.Duration) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.samples = append(d.samples, lo+(hi-lo)/2)
	if len(d.samples) > keepSamples {
		d.samples = d.samples[len(d.samples)-keepSamples:]
	}
}

// firstPoll is when to poll a new job first: a little after the usual
// duration, so that the first poll usually finds the job finished.
func (d *durations) firstPoll() time.Duration {
	e := d.estimate()
	return min(max(e+e/5, d.min), d.max)
}

// nextPoll is the wait after a poll that found the job unfinished: a
// quarter of the usual duration at first, then 1.5 times the last wait.
func (d *durations) nextPoll(last time.Duration, first bool) time.Duration {
	if first {
		return min(max(d.estimate()/4, d.min), d.max)
	}
	return min(max(last+last/2, d.min), d.max)
}
