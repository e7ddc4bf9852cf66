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
	since  time.Time     // when the last backoff was imposed
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

// pause waits until the pacer lets calls through again, or until ctx
// ends.
func (p *pacer) pause(ctx context.Context) error {
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		d := p.ready()
		if d <= 0 {
			return nil
		}
		if err := sleep(ctx, d); err != nil {
			return err
		}
	}
}

// backoff records a transient failure of a call sent at sent and returns
// the wait it imposes on every caller from now.
//
// The calls in flight when Zoho starts refusing are all refused together:
// that is one signal, already answered by the backoff the first of them
// imposed. So a failure of a call sent before the latest backoff does not
// double the wait again; it only keeps the pause already set (a zero sent
// always counts).
func (p *pacer) backoff(sent time.Time, hint time.Duration) time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	if p.wait != 0 && !sent.IsZero() && sent.Before(p.since) {
		if at := now.Add(hint); at.After(p.resume) {
			p.resume = at
		}
		return max(p.resume.Sub(now), 0)
	}
	p.since = now
	if p.wait == 0 {
		p.wait = p.base
	} else {
		p.wait = min(p.wait*2, p.max)
	}
	d := p.wait/2 + rand.N(p.wait/2+1) // jitter, so that workers do not all come back at once
	if hint > d {
		d = hint
	}
	if at := now.Add(d); at.After(p.resume) {
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
