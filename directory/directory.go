// Package directory is the org as offboard reads it once, before anything
// is written: its users, the org itself, the token's own user and, where a
// row moves subordinates, the roles. The plan checks every row against it;
// the number of calls depends on the size of the org, never on the number
// of rows.
package directory

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/rs/zerolog"

	"offboard/pacer"
	"offboard/zoho"
)

// Directory is what the plan checks rows against.
type Directory struct {
	// Org names the super admin and the hierarchy type.
	Org zoho.Org
	// Users are every user of the org, deleted ones included (type
	// AllUsers).
	Users []zoho.User
	// Roles are the org's roles; needed only when a row moves
	// subordinates under the role hierarchy. Without them no target is
	// found to be a subordinate there.
	Roles []zoho.Role
	// Caller is the user the access token belongs to.
	Caller zoho.User
}

// Client is what reading the org needs of the Zoho client; *zoho.Client
// satisfies it.
type Client interface {
	UsersPage(ctx context.Context, typ zoho.UserType, page, perPage int) ([]zoho.User, bool, error)
	CurrentUser(ctx context.Context) (zoho.User, error)
	Org(ctx context.Context) (zoho.Org, error)
	Roles(ctx context.Context) ([]zoho.Role, error)
}

// maxPages stops a listing that never ends (a million users).
const maxPages = 5000

// Fetch reads the org: the org, the token's own user, every user (all
// pages of type AllUsers) and, when withRoles is set, the roles. The reads
// go at once, the user pages one after another, so that a run's start-up
// costs the longest of them rather than their sum. Each read is retried
// through p (a failed page alone). When one fails for good the error is the
// first failure among the org, the token's user, the roles and the users,
// in that order, whichever came first; the reads after it are cancelled
// (the users last: a refused single read ends the listing at once).
func Fetch(ctx context.Context, c Client, withRoles bool, p *pacer.Pacer, log zerolog.Logger) (Directory, error) {
	var (
		d      Directory
		wg     sync.WaitGroup
		errs   [4]error // the org, the token's user, the roles, the users
		ctxs   [4]context.Context
		cancel [4]context.CancelFunc
	)
	for i := range ctxs {
		ctxs[i], cancel[i] = context.WithCancel(ctx)
		defer cancel[i]()
	}
	// A read that fails for good cancels the reads after it in that
	// order, not those before: whichever fails first, the error is the
	// same.
	read := func(i int, f func(ctx context.Context) error) {
		wg.Go(func() {
			if errs[i] = f(ctxs[i]); errs[i] != nil {
				for _, c := range cancel[i+1:] {
					c()
				}
			}
		})
	}
	read(0, func(ctx context.Context) error {
		return p.Read(ctx, log, "read the org", func(ctx context.Context) (err error) {
			d.Org, err = c.Org(ctx)
			return err
		})
	})
	read(1, func(ctx context.Context) error {
		return p.Read(ctx, log, "read the token's user", func(ctx context.Context) (err error) {
			d.Caller, err = c.CurrentUser(ctx)
			return err
		})
	})
	if withRoles {
		read(2, func(ctx context.Context) error {
			return p.Read(ctx, log, "read the roles", func(ctx context.Context) (err error) {
				d.Roles, err = c.Roles(ctx)
				return err
			})
		})
	}
	read(3, func(ctx context.Context) (err error) {
		d.Users, err = ListUsers(ctx, c, zoho.AllUsers, p, log)
		return err
	})
	wg.Wait()
	return d, firstFailure(errs[:])
}

// firstFailure is the first of errs that is not a read cancelled because
// another had failed: the one that failed for good, in errs' order.
func firstFailure(errs []error) error {
	var canceled error
	for _, err := range errs {
		switch {
		case err == nil:
		case errors.Is(err, context.Canceled):
			canceled = cmp.Or(canceled, err)
		default:
			return err
		}
	}
	return canceled
}

// ListUsers reads every user of a type, page by page, 200 a page, so that
// a failed page is retried alone.
func ListUsers(ctx context.Context, c Client, typ zoho.UserType, p *pacer.Pacer, log zerolog.Logger) ([]zoho.User, error) {
	var all []zoho.User
	for page, more := 1, true; more; page++ {
		if page > maxPages {
			return nil, fmt.Errorf("list the org's users: no end after %d pages", maxPages)
		}
		var users []zoho.User
		err := p.Read(ctx, log, fmt.Sprintf("list the org's users (page %d)", page), func(ctx context.Context) (err error) {
			users, more, err = c.UsersPage(ctx, typ, page, zoho.MaxPerPage)
			return err
		})
		if err != nil {
			return nil, err
		}
		if more && len(users) == 0 {
			return nil, fmt.Errorf("list the org's users: page %d was empty but said more follow", page)
		}
		all = append(all, users...)
	}
	return all, nil
}
