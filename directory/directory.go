// Package directory is the org as offboard reads it once, before anything
// is written: its users, the org itself, the token's own user and, where a
// row moves subordinates, the roles. The plan checks every row against it;
// the number of calls depends on the size of the org, never on the number
// of rows.
package directory

import (
	"context"
	"fmt"

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
// pages of type AllUsers) and, when withRoles is set, the roles. Each read
// is retried through p (a failed page alone).
func Fetch(ctx context.Context, c Client, withRoles bool, p *pacer.Pacer, log zerolog.Logger) (Directory, error) {
	var d Directory
	err := p.Read(ctx, log, "read the org", func(ctx context.Context) (err error) {
		d.Org, err = c.Org(ctx)
		return err
	})
	if err != nil {
		return d, err
	}
	err = p.Read(ctx, log, "read the token's user", func(ctx context.Context) (err error) {
		d.Caller, err = c.CurrentUser(ctx)
		return err
	})
	if err != nil {
		return d, err
	}
	if d.Users, err = ListUsers(ctx, c, zoho.AllUsers, p, log); err != nil {
		return d, err
	}
	if withRoles {
		err = p.Read(ctx, log, "read the roles", func(ctx context.Context) (err error) {
			d.Roles, err = c.Roles(ctx)
			return err
		})
	}
	return d, err
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
