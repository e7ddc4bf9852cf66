package zoho

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// User statuses as Zoho reports them.
const (
	StatusActive   = "active"
	StatusInactive = "inactive"
	StatusDeleted  = "deleted"
	StatusDisabled = "disabled"
)

// UserType is the type filter of GET /users.
type UserType string

// The user types Zoho's v7 documentation lists.
const (
	AllUsers              UserType = "AllUsers"
	ActiveUsers           UserType = "ActiveUsers"
	DeactiveUsers         UserType = "DeactiveUsers"
	ConfirmedUsers        UserType = "ConfirmedUsers"
	NotConfirmedUsers     UserType = "NotConfirmedUsers"
	DeletedUsers          UserType = "DeletedUsers"
	ActiveConfirmedUsers  UserType = "ActiveConfirmedUsers"
	AdminUsers            UserType = "AdminUsers"
	ActiveConfirmedAdmins UserType = "ActiveConfirmedAdmins"
	CurrentUser           UserType = "CurrentUser"
)

// UserTypes lists every UserType, in the documentation's order.
var UserTypes = []UserType{AllUsers, ActiveUsers, DeactiveUsers, ConfirmedUsers, NotConfirmedUsers,
	DeletedUsers, ActiveConfirmedUsers, AdminUsers, ActiveConfirmedAdmins, CurrentUser}

// MaxPerPage is the largest page Zoho serves for GET /users.
const MaxPerPage = 200

// ID is a Zoho record ID. Zoho sends IDs as JSON strings, but an ID that
// arrives as a bare number is kept digit for digit: IDs have 19 digits and
// would be rounded by a float64.
type ID string

// UnmarshalJSON accepts a string, a number or null.
func (id *ID) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case bytes.Equal(b, []byte("null")):
		*id = ""
	case len(b) > 0 && b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*id = ID(s)
	default:
		var n json.Number
		if err := json.Unmarshal(b, &n); err != nil {
			return fmt.Errorf("zoho: id %s is neither a string nor a number", b)
		}
		*id = ID(n.String())
	}
	return nil
}

// Ref is a lookup to another record: a role, a profile, a manager.
type Ref struct {
	ID   ID     `json:"id"`
	Name string `json:"name"`
}

// User is a CRM user, with the fields offboard uses.
type User struct {
	ID          ID     `json:"id"`
	ZUID        ID     `json:"zuid"` // empty for users who never confirmed
	Email       string `json:"email"`
	FirstName   string `json:"first_name"`
	LastName    string `json:"last_name"`
	FullName    string `json:"full_name"`
	Status      string `json:"status"`
	Confirm     bool   `json:"confirm"`
	Role        *Ref   `json:"role"`
	Profile     *Ref   `json:"profile"`
	ReportingTo *Ref   `json:"Reporting_To"`
}

// Active reports whether the user can receive records and subordinates:
// active and confirmed.
func (u User) Active() bool { return u.Status == StatusActive && u.Confirm }

// Deleted reports whether the user is already deleted.
func (u User) Deleted() bool { return u.Status == StatusDeleted }

type usersPage struct {
	Users []User `json:"users"`
	Info  struct {
		PerPage     int  `json:"per_page"`
		Count       int  `json:"count"`
		Page        int  `json:"page"`
		MoreRecords bool `json:"more_records"`
	} `json:"info"`
}

// UsersPage fetches one page of GET /users. more reports whether Zoho has
// further pages. perPage ≤ 0 means MaxPerPage.
func (c *Client) UsersPage(ctx context.Context, typ UserType, page, perPage int) (users []User, more bool, err error) {
	if perPage <= 0 {
		perPage = MaxPerPage
	}
	q := url.Values{}
	if typ != "" {
		q.Set("type", string(typ))
	}
	q.Set("page", strconv.Itoa(page))
	q.Set("per_page", strconv.Itoa(perPage))
	resp, err := c.do(ctx, call{method: http.MethodGet, path: "/users", query: q})
	if err != nil {
		return nil, false, err
	}
	if resp.status == http.StatusNoContent || len(bytes.TrimSpace(resp.body)) == 0 {
		return nil, false, nil
	}
	var p usersPage
	if err := json.Unmarshal(resp.body, &p); err != nil {
		return nil, false, fmt.Errorf("zoho: decode users page %d: %w", page, err)
	}
	return p.Users, p.Info.MoreRecords, nil
}

// MaxIDs is how many user IDs one GET /users may name (ids).
const MaxIDs = 100

// UsersByID fetches the users of type typ among ids (at most MaxIDs) in
// one call: GET /users?type=…&ids=…. It returns what Zoho answered, which
// the caller must match by ID: a user asked for and not in the answer is
// not known to be anything (a 204 answers none).
func (c *Client) UsersByID(ctx context.Context, typ UserType, ids []string) ([]User, error) {
	if len(ids) == 0 || len(ids) > MaxIDs {
		return nil, fmt.Errorf("zoho: %d user ids in one call, want 1 to %d", len(ids), MaxIDs)
	}
	for _, id := range ids {
		if !IsUserID(id) {
			return nil, fmt.Errorf("zoho: %q is not a user id", id)
		}
	}
	q := url.Values{"ids": {strings.Join(ids, ",")}, "per_page": {strconv.Itoa(MaxPerPage)}}
	if typ != "" {
		q.Set("type", string(typ))
	}
	resp, err := c.do(ctx, call{method: http.MethodGet, path: "/users", query: q})
	if err != nil {
		return nil, err
	}
	if resp.status == http.StatusNoContent || len(bytes.TrimSpace(resp.body)) == 0 {
		return nil, nil
	}
	var p usersPage
	if err := json.Unmarshal(resp.body, &p); err != nil {
		return nil, fmt.Errorf("zoho: decode users by id: %w", err)
	}
	return p.Users, nil
}

// User fetches one user by ID. Zoho answers 204 No Content, "no user record
// exists for the specified user ID" (v8), for a user it does not know, and
// may do so for a deleted user: that is ErrUserNotFound. A 400
// INVALID_DATA for the ID is ErrUserIDRefused, which proves nothing alone.
func (c *Client) User(ctx context.Context, id string) (User, error) {
	if !IsUserID(id) {
		return User{}, fmt.Errorf("zoho: %q is not a user id", id)
	}
	resp, err := c.do(ctx, call{method: http.MethodGet, path: "/users/" + id})
	var api *APIError
	if errors.As(err, &api) && api.HTTPStatus == http.StatusBadRequest && api.Code == CodeInvalidData {
		// The ID, well formed and once a user's, "seems to be invalid":
		// perhaps a deleted user (Zoho documents 204 only), perhaps
		// anything else. The caller must confirm before believing it.
		return User{}, fmt.Errorf("zoho: user %s: %w (%w)", id, ErrUserIDRefused, err)
	}
	if err != nil {
		return User{}, err
	}
	if resp.status == http.StatusNoContent {
		return User{}, fmt.Errorf("zoho: user %s: %w", id, ErrUserNotFound)
	}
	if len(bytes.TrimSpace(resp.body)) == 0 {
		// Not Zoho's documented "no such user": an answer cut short. The
		// caller reads again.
		return User{}, fmt.Errorf("zoho: user %s: an empty answer (HTTP %d)", id, resp.status)
	}
	return oneUser(resp, "user "+id)
}

// CurrentUser fetches the user the access token belongs to.
func (c *Client) CurrentUser(ctx context.Context) (User, error) {
	q := url.Values{"type": {string(CurrentUser)}}
	resp, err := c.do(ctx, call{method: http.MethodGet, path: "/users", query: q})
	if err != nil {
		return User{}, err
	}
	return oneUser(resp, "current user")
}

func oneUser(resp *response, what string) (User, error) {
	if resp.status == http.StatusNoContent {
		return User{}, fmt.Errorf("zoho: %s: no such user", what)
	}
	var p usersPage
	if err := json.Unmarshal(resp.body, &p); err != nil {
		return User{}, fmt.Errorf("zoho: decode %s: %w", what, err)
	}
	if len(p.Users) == 0 {
		return User{}, fmt.Errorf("zoho: %s: no such user", what)
	}
	return p.Users[0], nil
}

// IsUserID reports whether s looks like a Zoho record ID: digits only.
func IsUserID(s string) bool {
	if s == "" || len(s) > 25 {
		return false
	}
	return strings.Trim(s, "0123456789") == ""
}
