package plan

import (
	"fmt"
	"slices"
	"strings"

	"offboard/directory"
	"offboard/input"
	"offboard/zoho"
)

// CheckCaller returns a fatal error when the token's own user is not the
// org's super admin: Zoho would answer every row NO_PERMISSION, so there is
// no point in planning.
func CheckCaller(d directory.Directory) error {
	if d.Org.IsSuperAdmin(d.Caller) {
		return nil
	}
	admin := d.Org.PrimaryEmail
	for i := range d.Users {
		if !d.Users[i].Deleted() && d.Org.IsSuperAdmin(d.Users[i]) {
			admin = describe(&d.Users[i])
			break
		}
	}
	if admin == "" {
		admin = "unknown (Zoho did not name one)"
	}
	caller := describe(&d.Caller)
	if caller == "" {
		caller = "a user Zoho did not name"
	}
	return fmt.Errorf("the token belongs to %s, who is not the org's super admin; only the super admin, %s, may delete users: create the refresh token while signed in as the super admin", caller, admin)
}

// orgIndex indexes a Directory once, so that each row costs a few map
// look-ups however large the org is.
type orgIndex struct {
	org     zoho.Org
	users   []zoho.User         // a copy: steps point into it
	byID    map[zoho.ID]int     // CRM user ID → index in users
	byZUID  map[zoho.ID]int     // only to explain a zuid typed as a user ID
	byEmail map[string]int      // lower-cased email → the user meant, see index
	roleUp  map[zoho.ID]zoho.ID // role → the role it reports to
}

// emailRank orders the users who share one email: the lowest rank is the
// one a row means. A deleted user's email may be reused by a new user, and
// the sheet means the one who still exists; Zoho should not let two
// undeleted users share an email, but if it did, the active one is the
// one people work with.
func emailRank(u *zoho.User, deletedByUs map[zoho.ID]bool) int {
	switch {
	case u.Active():
		return 0
	case !u.Deleted():
		return 1
	case deletedByUs[u.ID]:
		// Of deleted users, the one a run of ours deleted: after a run,
		// the row's own user (the sheet means who it meant then).
		return 2
	}
	return 3
}

func index(d directory.Directory, deletedByUs map[zoho.ID]bool) *orgIndex {
	dir := &orgIndex{
		org:     d.Org,
		users:   slices.Clone(d.Users),
		byID:    make(map[zoho.ID]int, len(d.Users)),
		byZUID:  make(map[zoho.ID]int, len(d.Users)),
		byEmail: make(map[string]int, len(d.Users)),
		roleUp:  make(map[zoho.ID]zoho.ID, len(d.Roles)),
	}
	for i := range dir.users {
		u := &dir.users[i]
		if u.ID != "" {
			if _, dup := dir.byID[u.ID]; !dup {
				dir.byID[u.ID] = i
			}
		}
		if u.ZUID != "" {
			if _, dup := dir.byZUID[u.ZUID]; !dup {
				dir.byZUID[u.ZUID] = i
			}
		}
		email := foldEmail(u.Email)
		if email == "" {
			continue
		}
		// Among equals the first listed wins, so the choice does not
		// depend on map order.
		if j, ok := dir.byEmail[email]; !ok || emailRank(u, deletedByUs) < emailRank(&dir.users[j], deletedByUs) {
			dir.byEmail[email] = i
		}
	}
	for _, r := range d.Roles {
		if r.ReportingTo != nil && r.ReportingTo.ID != "" {
			dir.roleUp[r.ID] = r.ReportingTo.ID
		}
	}
	return dir
}

// foldEmail is the key emails are compared by. strings.ToLower does not
// allocate for an address that is already lower case.
func foldEmail(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

// lookup resolves a cell to a user, or nil.
func (d *orgIndex) lookup(r input.Ref) *zoho.User {
	var i int
	var ok bool
	switch {
	case r.ID != "":
		i, ok = d.byID[zoho.ID(r.ID)]
	case r.Email != "":
		i, ok = d.byEmail[foldEmail(r.Email)]
	}
	if !ok {
		return nil
	}
	return &d.users[i]
}

// notFound explains a cell that names no user.
func (d *orgIndex) notFound(column string, r input.Ref) string {
	if r.ID != "" {
		if i, ok := d.byZUID[zoho.ID(r.ID)]; ok {
			u := &d.users[i]
			return fmt.Sprintf("%s %q is the Zoho account ID (zuid) of %s, not a CRM user ID: write %s or the email instead", column, r.Raw, describe(u), u.ID)
		}
		return fmt.Sprintf("%s %q is no user ID of this Zoho org: check the ID, or write the email instead", column, r.Raw)
	}
	return fmt.Sprintf("%s %q is no user's email in this Zoho org: check the spelling", column, r.Raw)
}

// isSubordinate reports whether sub is below boss in the org's hierarchy:
// under the role hierarchy, sub's role is strictly below boss's role; under
// the reporting-to hierarchy, sub's chain of managers reaches boss. Both
// walks stop after as many steps as there are roles or users, so a cycle in
// the data cannot hang the plan.
func (d *orgIndex) isSubordinate(sub, boss *zoho.User) bool {
	if d.org.Hierarchy() == zoho.ReportingToHierarchy {
		for m, n := sub.ReportingTo, 0; m != nil && m.ID != "" && n <= len(d.users); n++ {
			if m.ID == boss.ID {
				return true
			}
			i, ok := d.byID[m.ID]
			if !ok {
				return false
			}
			m = d.users[i].ReportingTo
		}
		return false
	}
	if sub.Role == nil || boss.Role == nil || sub.Role.ID == "" || boss.Role.ID == "" {
		return false
	}
	for r, n := d.roleUp[sub.Role.ID], 0; r != "" && n <= len(d.roleUp); n++ {
		if r == boss.Role.ID {
			return true
		}
		r = d.roleUp[r]
	}
	return false
}

// describe names a user for a person: "Full Name <email>", or what there
// is of it.
func describe(u *zoho.User) string {
	name := fullName(u)
	switch {
	case name != "" && u.Email != "":
		return name + " <" + u.Email + ">"
	case u.Email != "":
		return u.Email
	case name != "" && u.ID != "":
		return name + " (" + string(u.ID) + ")"
	case name != "":
		return name
	}
	return string(u.ID)
}

func fullName(u *zoho.User) string {
	if u.FullName != "" {
		return u.FullName
	}
	return strings.TrimSpace(u.FirstName + " " + u.LastName)
}
