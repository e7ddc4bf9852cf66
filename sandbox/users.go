package sandbox

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// userTypes are the values of GET /users?type= in v7, each with the users it selects.
func userTypes(caller string) map[string]func(u *User) bool {
	live := func(u *User) bool { return u.Status != StatusDeleted }
	admin := func(u *User) bool { return u.Profile.Name == "Administrator" }
	return map[string]func(u *User) bool{
		"AllUsers":              func(*User) bool { return true },
		"ActiveUsers":           func(u *User) bool { return u.Status == StatusActive },
		"DeactiveUsers":         func(u *User) bool { return u.Status == StatusInactive },
		"ConfirmedUsers":        func(u *User) bool { return live(u) && u.Confirm },
		"NotConfirmedUsers":     func(u *User) bool { return live(u) && !u.Confirm },
		"DeletedUsers":          func(u *User) bool { return u.Status == StatusDeleted },
		"ActiveConfirmedUsers":  func(u *User) bool { return u.Status == StatusActive && u.Confirm },
		"AdminUsers":            func(u *User) bool { return live(u) && admin(u) },
		"ActiveConfirmedAdmins": func(u *User) bool { return u.Status == StatusActive && u.Confirm && admin(u) },
		"CurrentUser":           func(u *User) bool { return u.ID == caller },
	}
}

func invalidParam(name, message string) reply {
	return apiError(http.StatusBadRequest, "INVALID_DATA", message, map[string]any{"param_name": name})
}

// selectUsers applies the type and ids parameters shared by GET /users and its count.
func (s *Server) selectUsers(q url.Values) ([]*User, *reply) {
	typ := q.Get("type")
	if typ == "" {
		typ = "AllUsers"
	}
	keep, found := userTypes(s.caller)[typ]
	if !found {
		rep := invalidParam("type", "the type given seems to be invalid")
		return nil, &rep
	}
	var ids map[string]bool
	if q.Has("ids") && !s.cfg.IgnoreIDs {
		ids = map[string]bool{}
		for id := range strings.SplitSeq(q.Get("ids"), ",") {
			id = strings.TrimSpace(id)
			if !isZohoID(id) {
				rep := invalidParam("ids", "the ids given seem to be invalid")
				return nil, &rep
			}
			ids[id] = true
		}
		if len(ids) > maxIDs {
			rep := apiError(http.StatusBadRequest, "INVALID_DATA", "more than 100 ids given",
				map[string]any{"param_name": "ids", "maximum_length": maxIDs})
			return nil, &rep
		}
	}
	listed := s.listed()
	var out []*User
	for _, u := range s.users {
		if u = listed(u); keep(u) && (ids == nil || ids[u.ID]) {
			out = append(out, u)
		}
	}
	return out, nil
}

// listed returns how GET /users shows each user under Config.Listing: the user itself, or a
// copy with the status the listing shows.
func (s *Server) listed() func(u *User) *User {
	if s.cfg.Listing == ListedAtEnd {
		return func(u *User) *User { return u }
	}
	now := s.now()
	last := map[string]*job{} // each user's latest job
	for _, j := range s.jobs {
		last[j.UserID] = j
	}
	return func(u *User) *User {
		j := last[u.ID]
		if j == nil {
			return u
		}
		c := *u
		switch {
		case s.cfg.Listing == ListedAtStart && !j.settled && s.phase(j, now) == JobInProgress:
			c.Status = StatusDeleted
		case s.cfg.Listing == ListedLate && j.settled && j.Status == JobCompleted && now.Before(j.FinishedAt.Add(s.cfg.ListingLag)):
			c.Status = j.listedBefore
		default:
			return u
		}
		return &c
	}
}

// getUsers answers GET /crm/v7/users.
func (s *Server) getUsers(_ endpoint, q url.Values, _ []byte) reply {
	page, err := intParam(q, "page", 1)
	if err != nil || page < 1 {
		return invalidParam("page", "the page given seems to be invalid")
	}
	perPage, err := intParam(q, "per_page", maxPerPage)
	if err != nil || perPage < 1 || perPage > maxPerPage {
		return invalidParam("per_page", "the per_page given seems to be invalid")
	}
	users, rep := s.selectUsers(q)
	if rep != nil {
		return *rep
	}
	from := (page - 1) * perPage
	if from >= len(users) {
		return noContent()
	}
	to := min(from+perPage, len(users))
	list := make([]any, 0, to-from)
	for _, u := range users[from:to] {
		list = append(list, u.wire())
	}
	return ok(map[string]any{
		"users": list,
		"info": map[string]any{
			"per_page":     perPage,
			"count":        len(list),
			"page":         page,
			"more_records": to < len(users),
		},
	})
}

func intParam(q url.Values, name string, def int) (int, error) {
	if !q.Has(name) {
		return def, nil
	}
	return strconv.Atoi(q.Get(name))
}

// countUsers answers GET /crm/v7/users/actions/count.
func (s *Server) countUsers(_ endpoint, q url.Values, _ []byte) reply {
	users, rep := s.selectUsers(q)
	if rep != nil {
		return *rep
	}
	return ok(map[string]any{"count": len(users)})
}

// getUser answers GET /crm/v7/users/{id}.
func (s *Server) getUser(e endpoint, _ url.Values, _ []byte) reply {
	u := s.byID[e.id]
	gone := u == nil || u.Status == StatusDeleted
	switch {
	case gone && s.cfg.UserRead == NoContentForGone:
		return noContent()
	case u == nil, gone && s.cfg.UserRead == InvalidIDForGone:
		return apiError(http.StatusBadRequest, "INVALID_DATA", "the id given seems to be invalid",
			map[string]any{"resource_path_index": 1})
	}
	return ok(map[string]any{"users": []any{u.wire()}})
}

// getOrg answers GET /crm/v7/org.
func (s *Server) getOrg(endpoint, url.Values, []byte) reply {
	return ok(map[string]any{"org": []any{s.org.wire()}})
}

// getRoles answers GET /crm/v7/settings/roles.
func (s *Server) getRoles(endpoint, url.Values, []byte) reply {
	list := make([]any, 0, len(s.roles))
	for _, r := range s.roles {
		list = append(list, roleWire(r))
	}
	return ok(map[string]any{"roles": list})
}

// getRole answers GET /crm/v7/settings/roles/{id}.
func (s *Server) getRole(e endpoint, _ url.Values, _ []byte) reply {
	for _, r := range s.roles {
		if r.ID == e.id {
			return ok(map[string]any{"roles": []any{roleWire(r)}})
		}
	}
	return apiError(http.StatusBadRequest, "INVALID_DATA", "the id given seems to be invalid",
		map[string]any{"resource_path_index": 2})
}

func roleWire(r Role) map[string]any {
	m := map[string]any{
		"id":               r.ID,
		"name":             r.Name,
		"display_label":    cmpOr(r.DisplayLabel, r.Name),
		"share_with_peers": r.ShareWithPeers,
		"description":      nullable(r.Description),
		"forecast_manager": nil,
		"reporting_to":     nil,
	}
	if r.ReportingTo != nil {
		m["reporting_to"] = map[string]any{"id": r.ReportingTo.ID, "name": r.ReportingTo.Name}
	}
	return m
}
