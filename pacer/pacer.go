// Package pacer spaces the calls offboard makes to Zoho and retries the
// reads Zoho answers "later", with one policy for every read: the
// directory, the user list, job polls, users read back. As rclone's
// lib/pacer, it is shared by everyone who calls the same org: a 429 or
// another transient answer to any call pushes back the time at which
// every caller may make its next call, not only the one that got it. The
// wait grows exponentially (with jitter) while trouble lasts and is reset
// by an answer; a retry hint in Zoho's answer wins when longer. Whether to
// retry is zoho.Classify's decision, a pure function of the answer.
package pacer

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"offboard/zoho"
)

// Options configures New. The zero value is usable.
type Options struct {
	// Base and Max bound the wait after a transient failure; 0 means
	// 0.5 s and 60 s. Zoho's concurrency 429 clears as soon as a call in
	// flight ends, and the wait doubles for every refusal of a call sent
	// after the last pause, so a short base costs little when the trouble
	// lasts.
	Base, Max time.Duration
	// GiveUp is how long reads may keep being answered "later" (429, 5xx,
	// no answer) with no answer at all in between before Read gives up;
	// 0 means 10 minutes. Without it a day's spent API credits that Zoho
	// does not announce as such would be retried for ever.
	GiveUp time.Duration
	// Attempts is how many times Read tries a call that fails for a
	// reason other than Zoho's concurrency limit (a 5xx, a dropped
	// connection); 0 means 6.
	Attempts int
	// Now and Sleep are the clock; nil means the real one. Tests replace
	// them to run without waiting: a Sleep(d) must move Now on by d.
	Now   func() time.Time
	Sleep func(ctx context.Context, d time.Duration) error
}

// Pacer is safe for concurrent use.
type Pacer struct {
	base, max, giveUp time.Duration
	attempts          int
	now               func() time.Time
	sleep             func(ctx context.Context, d time.Duration) error

	mu     sync.Mutex
	resume time.Time     // no call before this
	wait   time.Duration // the last backoff; 0 after an answer
	since  time.Time     // when the last backoff was imposed
	// trouble is when calls began to be answered "later" with no answer
	// since; zero while they are answered.
	trouble time.Time
}

// New returns a pacer.
func New(o Options) *Pacer {
	p := &Pacer{base: o.Base, max: o.Max, giveUp: o.GiveUp, attempts: o.Attempts, now: o.Now, sleep: o.Sleep}
	if p.attempts <= 0 {
		p.attempts = 6
	}
	if p.base <= 0 {
		p.base = 500 * time.Millisecond
	}
	if p.max <= 0 {
		p.max = time.Minute
	}
	if p.giveUp <= 0 {
		p.giveUp = 10 * time.Minute
	}
	if p.now == nil {
		p.now = time.Now
	}
	if p.sleep == nil {
		p.sleep = Sleep
	}
	return p
}

// Sleep waits for d, or until ctx ends.
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Now returns the pacer's time, for the sent argument of Backoff.
func (p *Pacer) Now() time.Time { return p.now() }

// Ready returns how long a caller must wait before its next call.
func (p *Pacer) Ready() time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.resume.Sub(p.now())
}

// Pause waits until the pacer lets calls through again, or until ctx
// ends.
func (p *Pacer) Pause(ctx context.Context) error {
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		d := p.Ready()
		if d <= 0 {
			return nil
		}
		if err := p.sleep(ctx, d); err != nil {
			return err
		}
	}
}

// Backoff records a transient failure of a call sent at sent and returns
// the wait it imposes on every caller from now.
//
// The calls in flight when Zoho starts refusing are all refused together:
// that is one signal, already answered by the backoff the first of them
// imposed. So a failure of a call sent before the latest backoff does not
// double the wait again; it only keeps the pause already set (a zero sent
// always counts).
func (p *Pacer) Backoff(sent time.Time, hint time.Duration) time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	// A Retry-After beyond the time trouble may last would only delay
	// the giving up; one from a broken or hostile server must not park
	// the run for days.
	hint = min(hint, p.giveUp)
	now := p.now()
	if p.trouble.IsZero() {
		p.trouble = now
	}
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
	d := p.wait/2 + rand.N(p.wait/2+1) // jitter, so that callers do not all come back at once
	if hint > d {
		d = hint
	}
	if at := now.Add(d); at.After(p.resume) {
		p.resume = at
	}
	return d
}

// Succeeded records an answer: the backoff is reset (a resume time already
// set still holds).
func (p *Pacer) Succeeded() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.wait = 0
	p.trouble = time.Time{}
}

// Troubled returns how long calls have been answered "later" with no
// answer in between; 0 while they are answered.
func (p *Pacer) Troubled() time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.trouble.IsZero() {
		return 0
	}
	return p.now().Sub(p.trouble)
}

// GiveUp is how long Read lets trouble last.
func (p *Pacer) GiveUp() time.Duration { return p.giveUp }

// Read runs read, a call that changes nothing in Zoho, until it is
// answered, fails for good, or fails Options.Attempts times for a reason other
// than Zoho's concurrency limit (a 5xx, a dropped connection). A 429 only
// says "later", and the pacer makes every caller wait, so it is retried
// for as long as ctx lasts, and as long as the trouble has lasted less
// than the pacer gives it. The error names what was read.
func (p *Pacer) Read(ctx context.Context, log zerolog.Logger, what string, read func(context.Context) error) error {
	failures := 0
	for n := 1; ; n++ {
		if err := p.Pause(ctx); err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		sent := p.Now()
		err := read(ctx)
		class := zoho.Classify(err)
		if class == zoho.ClassJobLimit {
			// A read starts no job: a limit named on one is some other
			// of the org's limits, which clears as a 429 does.
			class = zoho.ClassRetry
		}
		if class != zoho.ClassRetry {
			if class != zoho.ClassCanceled {
				p.Succeeded() // an answer, even a refusal: Zoho is not throttling
			}
			if err != nil {
				return fmt.Errorf("%s: %w", what, err)
			}
			return nil
		}
		if !errors.Is(err, zoho.ErrRateLimited) {
			failures++
		}
		if failures >= p.attempts {
			return fmt.Errorf("%s (after %d attempts): %w", what, n, err)
		}
		if ra := retryAfter(err); ra >= p.giveUp {
			// Waiting would end in giving up: give up now.
			return fmt.Errorf("%s: Zoho asks to wait %s before calling again, longer than offboard waits (%s): %w", what, ra.Round(time.Second), p.giveUp, err)
		}
		d := p.Backoff(sent, retryAfter(err))
		if t := p.Troubled(); t >= p.giveUp {
			return fmt.Errorf("%s: Zoho has answered every call \"later\" for %s, with no answer in between (the org's API limits): %w", what, t.Round(time.Second), err)
		}
		// Other callers' answers reset the shared backoff (Succeeded):
		// a read that keeps failing (a 5xx, no answer) while reads beside
		// it are answered would come back at the base wait each time and
		// spend its attempts in a second or two. Its own retries back off
		// as if it called alone: at least the shortest wait the shared
		// backoff imposes at that many failures in a row. Not a 429: it
		// clears as soon as a call in flight ends, and others' answers
		// say it has.
		var own time.Duration
		if !errors.Is(err, zoho.ErrRateLimited) {
			own = p.ownWait(failures)
		}
		log.Warn().Err(err).Str("read", what).Int("attempt", n).Int64("wait_ms", max(d, own).Milliseconds()).Msg("read not answered, every caller backs off")
		if own > d {
			if err := p.sleep(ctx, own); err != nil {
				return fmt.Errorf("%s: %w", what, err)
			}
		}
	}
}

// ownWait is the shortest wait the backoff imposes on a caller alone at
// its n-th failure in a row: half of Base doubled n-1 times, at most half
// of Max.
func (p *Pacer) ownWait(n int) time.Duration {
	w := p.base
	for i := 1; i < n && w < p.max; i++ {
		w *= 2
	}
	return min(w, p.max) / 2
}

func retryAfter(err error) time.Duration {
	var api *zoho.APIError
	if errors.As(err, &api) {
		return api.RetryAfter
	}
	return 0
}

// RetryAfter returns the wait an error's answer asked for, or 0.
func RetryAfter(err error) time.Duration { return retryAfter(err) }
