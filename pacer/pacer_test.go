package pacer

import (
	"context"
	"errors"
	"offboard/zoho"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

func TestPacerSlowsEveryCaller(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	p := New(Options{Base: time.Second, Max: 8 * time.Second, Now: func() time.Time { return now }})
	if d := p.Ready(); d > 0 {
		t.Fatalf("new pacer ready() = %v, want ≤ 0", d)
	}
	var waits []time.Duration
	for range 5 {
		waits = append(waits, p.Backoff(time.Time{}, 0))
	}
	for i, w := range waits {
		hi := min(time.Second<<i, 8*time.Second)
		if w < hi/2 || w > hi {
			t.Errorf("backoff #%d = %v, want within [%v, %v]", i+1, w, hi/2, hi)
		}
	}
	// The wait is shared: whoever asks next waits for the longest pushback.
	if got := p.Ready(); got < waits[4] {
		t.Errorf("ready() after backoffs = %v, want ≥ %v", got, waits[4])
	}
	if got := p.Backoff(time.Time{}, 30*time.Second); got != 30*time.Second {
		t.Errorf("backoff(hint 30s) = %v, want 30s (a retry hint wins)", got)
	}
	p.Succeeded()
	if got := p.Backoff(time.Time{}, 0); got > time.Second {
		t.Errorf("backoff after a success = %v, want ≤ 1s (reset)", got)
	}
}

// TestPacerOneSignalPerPause: the calls in flight when Zoho starts
// refusing are refused together; their refusals do not double the pause
// again and again, but a call sent after the pause does.
func TestPacerOneSignalPerPause(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	p := New(Options{Base: time.Second, Max: time.Minute, Now: func() time.Time { return now }})
	sent := now.Add(-100 * time.Millisecond) // five calls in flight
	first := p.Backoff(sent, 0)
	if first < 500*time.Millisecond || first > time.Second {
		t.Fatalf("first backoff = %v, want within [0.5s, 1s]", first)
	}
	for range 4 {
		if got := p.Backoff(sent, 0); got != first {
			t.Errorf("backoff for a call sent before the pause = %v, want the pause already set, %v", got, first)
		}
	}
	now = now.Add(first) // the pause is over; a new call is refused too
	second := p.Backoff(now, 0)
	if second < time.Second || second > 2*time.Second {
		t.Errorf("backoff for a call sent after the pause = %v, want doubled, within [1s, 2s]", second)
	}
	if got := p.Backoff(sent, 5*time.Second); got != 5*time.Second {
		t.Errorf("an old call's retry hint = %v, want 5s: a hint still holds", got)
	}
}

// fakeClock is a clock whose sleeps only move it forward.
type fakeClock struct {
	now   time.Time
	waits []time.Duration
}

func (c *fakeClock) options() Options {
	return Options{
		Base: time.Second, Max: 8 * time.Second,
		Now: func() time.Time { return c.now },
		Sleep: func(_ context.Context, d time.Duration) error {
			c.waits = append(c.waits, d)
			c.now = c.now.Add(d)
			return nil
		},
	}
}

var (
	throttled   = &zoho.APIError{HTTPStatus: 429, Code: "TOO_MANY_REQUESTS", CreditsRemaining: -1}
	unavailable = &zoho.APIError{HTTPStatus: 503, CreditsRemaining: -1}
	refused     = &zoho.APIError{HTTPStatus: 400, Code: "INVALID_DATA", CreditsRemaining: -1}
)

// answers returns a read that fails with errs in turn, then succeeds, and
// counts its calls.
func answers(calls *int, errs ...error) func(context.Context) error {
	return func(context.Context) error {
		*calls++
		if *calls <= len(errs) {
			return errs[*calls-1]
		}
		return nil
	}
}

func TestReadRetriesWhatZohoAnswersLater(t *testing.T) {
	c := &fakeClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	p := New(c.options())
	var calls int
	if err := p.Read(t.Context(), zerolog.Nop(), "read the org", answers(&calls, throttled, unavailable, unavailable)); err != nil {
		t.Fatalf("Read() after two 503s and a 429 = %v, want nil", err)
	}
	if calls != 4 {
		t.Errorf("calls = %d, want 4", calls)
	}
	if len(c.waits) != 3 {
		t.Fatalf("waits = %v, want 3, one after each failure", c.waits)
	}
	if c.waits[2] < c.waits[0] {
		t.Errorf("waits %v do not grow while the trouble lasts", c.waits)
	}
	if p.Troubled() != 0 {
		t.Errorf("Troubled() after an answer = %v, want 0", p.Troubled())
	}
}

// TestReadRetriesALimitNamed: a read starts no job, so a job-limit code
// answered to one (LIMIT_REACHED is Zoho's generic limit code) is some
// other limit of the org's: read again later, as after a 429.
func TestReadRetriesALimitNamed(t *testing.T) {
	c := &fakeClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	p := New(c.options())
	var calls int
	limit := &zoho.APIError{HTTPStatus: 400, Code: zoho.CodeLimitReached}
	if err := p.Read(t.Context(), zerolog.Nop(), "read user 1", answers(&calls, limit, limit)); err != nil {
		t.Fatalf("Read() after two LIMIT_REACHED = %v, want nil", err)
	}
	if calls != 3 {
		t.Errorf("calls = %d, want 3", calls)
	}
}

func TestReadGivesUp(t *testing.T) {
	t.Run("after Attempts failures other than a 429", func(t *testing.T) {
		c := &fakeClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
		o := c.options()
		o.Attempts = 3
		p := New(o)
		var calls int
		errs := []error{throttled, unavailable, throttled, unavailable, throttled, unavailable, unavailable}
		err := p.Read(t.Context(), zerolog.Nop(), "list the org's users (page 2)", answers(&calls, errs...))
		if err == nil || !strings.Contains(err.Error(), "list the org's users (page 2) (after 6 attempts)") {
			t.Errorf("Read() = %v, want it to give up at the third 503, the sixth call, naming the read", err)
		}
		if calls != 6 {
			t.Errorf("calls = %d, want 6: the 429s do not count", calls)
		}
		if !errors.Is(err, unavailable) {
			t.Errorf("Read() = %v, want it to wrap the last answer", err)
		}
	})
	t.Run("when every call has been answered later for GiveUp", func(t *testing.T) {
		c := &fakeClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
		o := c.options()
		o.GiveUp = time.Minute
		p := New(o)
		var calls int
		err := p.Read(t.Context(), zerolog.Nop(), "read the org", func(context.Context) error { calls++; return throttled })
		if err == nil || !strings.Contains(err.Error(), "answered every call \"later\"") {
			t.Fatalf("Read() against endless 429s = %v, want it to give up", err)
		}
		var waited time.Duration
		for _, w := range c.waits {
			waited += w
		}
		if waited < time.Minute-8*time.Second || waited > time.Minute+8*time.Second {
			t.Errorf("gave up after waiting %v in %d calls, want about a minute", waited, calls)
		}
	})
	t.Run("at once on a refusal", func(t *testing.T) {
		c := &fakeClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
		p := New(c.options())
		p.Backoff(time.Time{}, 0)
		var calls int
		err := p.Read(t.Context(), zerolog.Nop(), "read the roles", answers(&calls, refused))
		if !errors.Is(err, refused) || calls != 1 {
			t.Errorf("Read() = %v after %d calls, want the refusal after one", err, calls)
		}
		if p.Troubled() != 0 {
			t.Errorf("Troubled() after a refusal = %v, want 0: a refusal is an answer", p.Troubled())
		}
	})
	t.Run("when ctx ends", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		p := New(Options{Base: time.Hour, Max: time.Hour})
		var calls int
		err := p.Read(ctx, zerolog.Nop(), "read the org", func(context.Context) error {
			calls++
			cancel()
			return unavailable
		})
		if !errors.Is(err, context.Canceled) || calls != 1 {
			t.Errorf("Read() cancelled during its wait = %v after %d calls, want context.Canceled after 1", err, calls)
		}
	})
}

// readBesideAnswers runs one Read whose call number k (from 1) gets
// answer(k), while another read is answered between each of its tries,
// which resets the shared backoff. It returns the calls made, the waits
// and Read's error.
func readBesideAnswers(t *testing.T, answer func(k int) error) (calls int, waits []time.Duration, err error) {
	c := &fakeClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	o := c.options()
	o.Max = time.Minute
	p := New(o)
	err = p.Read(t.Context(), zerolog.Nop(), "read the org", func(context.Context) error {
		calls++
		p.Succeeded() // another read's answer, since this one's last try
		return answer(calls)
	})
	return calls, c.waits, err
}

// TestReadBacksOffWhileOthersAreAnswered: reads share the pacer, and
// every answer to one of them resets the backoff. A read that keeps
// failing meanwhile still backs off as it would alone, and does not spend
// its attempts in a few base waits.
func TestReadBacksOffWhileOthersAreAnswered(t *testing.T) {
	calls, waits, err := readBesideAnswers(t, func(int) error { return unavailable })
	if err == nil || calls != 6 {
		t.Fatalf("Read() = %v after %d calls, want it to give up after 6", err, calls)
	}
	var waited time.Duration
	for _, w := range waits {
		waited += w
	}
	// Alone, five failures in a row wait at least half of 1+2+4+8+16 s.
	if waited < 15500*time.Millisecond {
		t.Errorf("gave up after waiting %v (%v), want at least 15.5 s: the waits did not grow", waited, waits)
	}
}

// TestReadKeepsThePaceOf429sWhileOthersAreAnswered: a 429 clears as soon
// as a call in flight ends; while other reads are answered, a read
// answered 429 comes back at the shared pace, not ever later.
func TestReadKeepsThePaceOf429sWhileOthersAreAnswered(t *testing.T) {
	_, waits, err := readBesideAnswers(t, func(k int) error {
		if k <= 10 {
			return throttled
		}
		return nil
	})
	if err != nil {
		t.Fatalf("Read() = %v, want the 11th call answered", err)
	}
	for i, w := range waits {
		if w > time.Second {
			t.Errorf("wait #%d after a 429 = %v (%v), want at most Base, 1 s: others' answers say the 429 cleared", i+1, w, waits)
		}
	}
}

// TestReadHonoursRetryAfter: a retry hint in Zoho's answer is waited for,
// by every caller.
func TestReadHonoursRetryAfter(t *testing.T) {
	c := &fakeClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	p := New(c.options())
	hinted := &zoho.APIError{HTTPStatus: 429, CreditsRemaining: -1, RetryAfter: 45 * time.Second}
	var calls int
	if err := p.Read(t.Context(), zerolog.Nop(), "read the org", answers(&calls, hinted)); err != nil {
		t.Fatal(err)
	}
	if len(c.waits) != 1 || c.waits[0] != 45*time.Second {
		t.Errorf("waits = %v, want [45s]", c.waits)
	}
}

// TestRetryAfterIsBounded: a Retry-After of days (a broken or hostile
// server) parks no caller longer than the time trouble may last.
func TestRetryAfterIsBounded(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	p := New(Options{GiveUp: 10 * time.Minute, Now: func() time.Time { return now }})
	if got := p.Backoff(time.Time{}, 72*time.Hour); got != 10*time.Minute {
		t.Errorf("backoff(hint 72h) = %v, want 10m (GiveUp)", got)
	}
	if got := p.Ready(); got > 10*time.Minute {
		t.Errorf("ready() = %v, want ≤ 10m", got)
	}
}

// TestReadGivesUpOnALongRetryAfter: a read asked to wait longer than
// trouble may last gives up at once, rather than after the wait.
func TestReadGivesUpOnALongRetryAfter(t *testing.T) {
	c := &fakeClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	p := New(c.options())
	hinted := &zoho.APIError{HTTPStatus: 429, CreditsRemaining: -1, RetryAfter: 24 * time.Hour}
	var calls int
	err := p.Read(t.Context(), zerolog.Nop(), "read the org", answers(&calls, hinted))
	if err == nil || !strings.Contains(err.Error(), "asks to wait 24h0m0s") {
		t.Errorf("Read = %v, want it to give up, naming the wait asked for", err)
	}
	if len(c.waits) != 0 || calls != 1 {
		t.Errorf("waits = %v after %d calls, want none after 1", c.waits, calls)
	}
}
