// Package runner executes an offboarding against Zoho: it reads the org
// directory that the plan checks rows against (FetchDirectory), and
// submits the planned steps within Zoho's limits and follows their jobs
// (Run).
package runner

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/rs/zerolog"

	"offboard/plan"
	"offboard/zoho"
)

// maxUserPages stops a listing that never ends (a million users).
const maxUserPages = 5000

// Directory is what the runner needs of the Zoho client to read the org.
type Directory interface {
	UsersPage(ctx context.Context, typ zoho.UserType, page, perPage int) ([]zoho.User, bool, error)
	CurrentUser(ctx context.Context) (zoho.User, error)
	Org(ctx context.Context) (zoho.Org, error)
	Roles(ctx context.Context) ([]zoho.Role, error)
}

// ReadPolicy says how reads are retried after transient errors (a
// concurrency 429, a 5xx, a dropped connection). Reads change nothing, so
// they are simply sent again after a wait.
type ReadPolicy struct {
	// Attempts is how many times a read is tried in all; 0 means 6.
	Attempts int
	// Base is the first wait, doubled after each failure up to Max;
	// 0 means 1 s and 30 s. A retry hint in Zoho's answer wins.
	Base, Max time.Duration
	// Sleep waits for d or until ctx ends; nil means a real timer. Tests
	// replace it to run without waiting.
	Sleep func(ctx context.Context, d time.Duration) error
	// Log receives one warning per retry.
	Log zerolog.Logger
}

func (p ReadPolicy) withDefaults() ReadPolicy {
	if p.Attempts <= 0 {
		p.Attempts = 6
	}
	if p.Base <= 0 {
		p.Base = time.Second
	}
	if p.Max <= 0 {
		p.Max = 30 * time.Second
	}
	if p.Sleep == nil {
		p.Sleep = sleep
	}
	return p
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// read runs fn until it succeeds, fails for good, or runs out of attempts.
func (p ReadPolicy) read(ctx context.Context, what string, fn func(context.Context) error) error {
	wait := p.Base
	for attempt := 1; ; attempt++ {
		err := fn(ctx)
		if err == nil || zoho.Classify(err) != zoho.ClassRetry || attempt >= p.Attempts {
			if err != nil && attempt > 1 {
				return fmt.Errorf("%s (after %d attempts): %w", what, attempt, err)
			}
			if err != nil {
				return fmt.Errorf("%s: %w", what, err)
			}
			return nil
		}
		d := wait/2 + rand.N(wait/2+1) // jitter, so many callers do not retry in step
		if hint := retryAfter(err); hint > d {
			d = hint
		}
		p.Log.Warn().Err(err).Str("read", what).Int("attempt", attempt).Int64("wait_ms", d.Milliseconds()).Msg("read failed, retrying")
		if err := p.Sleep(ctx, d); err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		wait = min(wait*2, p.Max)
	}
}

func retryAfter(err error) time.Duration {
	var api *zoho.APIError
	if errors.As(err, &api) {
		return api.RetryAfter
	}
	return 0
}

// FetchDirectory reads what the plan checks rows against: every user (all
// pages of type AllUsers), the org, the token's own user and, when
// withRoles is set, the roles. The number of calls depends on the size of
// the org, never on the number of rows.
func FetchDirectory(ctx context.Context, c Directory, withRoles bool, policy ReadPolicy) (plan.Directory, error) {
	p := policy.withDefaults()
	var d plan.Directory
	err := p.read(ctx, "read the org", func(ctx context.Context) (err error) {
		d.Org, err = c.Org(ctx)
		return err
	})
	if err != nil {
		return d, err
	}
	err = p.read(ctx, "read the token's user", func(ctx context.Context) (err error) {
		d.Caller, err = c.CurrentUser(ctx)
		return err
	})
	if err != nil {
		return d, err
	}
	// Page by page, so that a failed page is retried alone.
	for page, more := 1, true; more; page++ {
		if page > maxUserPages {
			return d, fmt.Errorf("list the org's users: no end after %d pages", maxUserPages)
		}
		var users []zoho.User
		err = p.read(ctx, fmt.Sprintf("list the org's users (page %d)", page), func(ctx context.Context) (err error) {
			users, more, err = c.UsersPage(ctx, zoho.AllUsers, page, zoho.MaxPerPage)
			return err
		})
		if err != nil {
			return d, err
		}
		if more && len(users) == 0 {
			return d, fmt.Errorf("list the org's users: page %d was empty but said more follow", page)
		}
		d.Users = append(d.Users, users...)
	}
	if withRoles {
		err = p.read(ctx, "read the roles", func(ctx context.Context) (err error) {
			d.Roles, err = c.Roles(ctx)
			return err
		})
	}
	return d, err
}
