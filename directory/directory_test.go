package directory_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"offboard/directory"
	"offboard/pacer"
	"offboard/sandbox"
	"offboard/sandbox/sandboxtest"
	"offboard/zoho"

	"github.com/google/go-cmp/cmp"
	"github.com/rs/zerolog"
)

func startSim(t *testing.T, cfg sandbox.Config) (*sandbox.Server, *zoho.Client) {
	t.Helper()
	srv := sandboxtest.Start(t, cfg)
	return srv, sandboxtest.Client(t, srv)
}

// noSleep is a clock whose sleeps are recorded and only move it on. Fetch
// reads at once: it is safe for concurrent use.
type noSleep struct {
	mu    sync.Mutex
	now   time.Time
	waits []time.Duration
}

func (n *noSleep) pacer(attempts int) *pacer.Pacer {
	if n.now.IsZero() {
		n.now = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	return pacer.New(pacer.Options{
		Attempts: attempts,
		Now: func() time.Time {
			n.mu.Lock()
			defer n.mu.Unlock()
			return n.now
		},
		Sleep: func(_ context.Context, d time.Duration) error {
			n.mu.Lock()
			defer n.mu.Unlock()
			n.waits = append(n.waits, d)
			n.now = n.now.Add(d)
			return nil
		},
	})
}

func TestFetchCallsDoNotGrowWithRows(t *testing.T) {
	seed := bigOrg(430)
	srv, c := startSim(t, sandbox.Config{Seed: seed})
	d, err := directory.Fetch(t.Context(), c, true, pacer.New(pacer.Options{}), zerolog.Nop())
	if err != nil {
		t.Fatalf("Fetch() = %v", err)
	}
	if len(d.Users) != len(seed.Users) || len(d.Roles) != len(seed.Roles) || d.Org.CompanyName == "" || d.Caller.ID == "" {
		t.Errorf("Fetch() = %d users, %d roles, org %q, caller %q; want %d users, %d roles",
			len(d.Users), len(d.Roles), d.Org.CompanyName, d.Caller.ID, len(seed.Users), len(seed.Roles))
	}
	var api int
	for _, r := range srv.Requests() {
		if !r.Token {
			api++
		}
		if r.Method != "GET" && !r.Token {
			t.Errorf("Fetch sent %s %s, want reads only", r.Method, r.Path)
		}
	}
	// 460 users: 3 pages, plus org, current user and roles.
	if api != 6 {
		t.Errorf("API calls = %d, want 6 (3 user pages, org, current user, roles)", api)
	}

	srv2, c2 := startSim(t, sandbox.Config{})
	if _, err := directory.Fetch(t.Context(), c2, false, pacer.New(pacer.Options{}), zerolog.Nop()); err != nil {
		t.Fatal(err)
	}
	if n := srv2.CountCalls("GET", "/crm/v7/settings/roles"); n != 0 {
		t.Errorf("roles read %d times without subordinate rows, want 0", n)
	}
}

func TestFetchRetriesTransientReads(t *testing.T) {
	srv, c := startSim(t, sandbox.Config{})
	var page1 int
	var mu sync.Mutex
	srv.SetFaults(func(call sandbox.Call) sandbox.Fault {
		mu.Lock()
		defer mu.Unlock()
		switch {
		case call.Path == "/crm/v7/users" && call.Query.Get("page") == "1":
			if page1++; page1 <= 2 {
				return sandbox.ServiceUnavailable
			}
		case call.Path == "/crm/v7/org" && call.Seq == 1:
			return sandbox.TooManyRequests
		}
		return sandbox.NoFault
	})
	ns := &noSleep{}
	d, err := directory.Fetch(t.Context(), c, false, ns.pacer(0), zerolog.Nop())
	if err != nil {
		t.Fatalf("Fetch() with transient faults = %v", err)
	}
	if len(d.Users) == 0 {
		t.Errorf("no users after retries")
	}
	// Each read is retried alone; how the waits fall depends on which
	// answer comes first, as the reads go at once (the pacer's own tests
	// hold the backoff).
	if org, page1 := reads(srv, 0, "/crm/v7/org", ""), reads(srv, 0, "/crm/v7/users", "page=1"); org != 2 || page1 != 3 {
		t.Errorf("calls = %d to the org, %d to the users; want 2 (one 429) and 3 (two 503s)", org, page1)
	}
	if len(ns.waits) == 0 {
		t.Errorf("no wait before the retries")
	}

	srv.SetFaults(func(sandbox.Call) sandbox.Fault { return sandbox.ServerError })
	_, err = directory.Fetch(t.Context(), c, false, ns.pacer(3), zerolog.Nop())
	if err == nil || !strings.Contains(err.Error(), "after 3 attempts") {
		t.Errorf("Fetch() against a broken org = %v, want it to give up after 3 attempts", err)
	}

}

// TestFetchStopsAtARefusal: a refusal that retrying cannot fix is not
// retried, and the listing of the users stops: of an org of sixteen pages,
// read slowly, a few at most are asked for, whichever single read (the
// org, the roles) was refused.
func TestFetchStopsAtARefusal(t *testing.T) {
	for _, c := range []struct {
		refused string
		scopes  []string
	}{
		{"/crm/v7/org", []string{"ZohoCRM.users.ALL", "ZohoCRM.settings.roles.READ"}},
		{"/crm/v7/settings/roles", []string{"ZohoCRM.users.ALL", "ZohoCRM.org.READ"}},
	} {
		t.Run(c.refused, func(t *testing.T) {
			srv, cl := startSim(t, sandbox.Config{Seed: bigOrg(3000), Latency: 20 * time.Millisecond})
			srv.SetScopes(c.scopes...)
			_, err := directory.Fetch(t.Context(), cl, true, pacer.New(pacer.Options{}), zerolog.Nop())
			if zoho.Classify(err) != zoho.ClassFatal {
				t.Errorf("Fetch() without the scope of %s = %v, want a fatal error", c.refused, err)
			}
			var calls []string
			for _, r := range srv.Requests() {
				if !r.Token {
					calls = append(calls, r.Path+"?"+r.RawQuery)
				}
			}
			// The first page goes with the refused read, the second as the
			// refusal comes (a third or fourth on a loaded machine); not
			// cancelled, the listing goes on to the sixteenth.
			if reads(srv, 0, c.refused, "") != 1 || reads(srv, 0, "/crm/v7/users", "page=") > 4 {
				t.Errorf("calls = %v, want %s once, and no user page after the fourth", calls, c.refused)
			}
		})
	}
}

// TestFetchRidesOutAnOutageWhileOthersAreAnswered: the org answers 503 for
// half a second while the user pages are answered. Its retries back off
// as they would alone (the pages' answers do not make them come back at
// the base wait), and the org is read.
func TestFetchRidesOutAnOutageWhileOthersAreAnswered(t *testing.T) {
	srv, c := startSim(t, sandbox.Config{Seed: bigOrg(5000), Latency: 20 * time.Millisecond})
	var (
		mu    sync.Mutex
		first time.Time
	)
	srv.SetFaults(func(call sandbox.Call) sandbox.Fault {
		if call.Path != "/crm/v7/org" {
			return sandbox.NoFault
		}
		mu.Lock()
		defer mu.Unlock()
		if first.IsZero() {
			first = time.Now()
		}
		if time.Since(first) < 500*time.Millisecond {
			return sandbox.ServiceUnavailable
		}
		return sandbox.NoFault
	})
	d, err := directory.Fetch(t.Context(), c, false, pacer.New(pacer.Options{Base: 40 * time.Millisecond}), zerolog.Nop())
	if err != nil {
		t.Fatalf("Fetch() with the org out for 0.5 s = %v (org asked %d times), want it read", err, reads(srv, 0, "/crm/v7/org", ""))
	}
	if d.Org.CompanyName == "" || len(d.Users) < 5000 {
		t.Errorf("Fetch() = org %q, %d users; want the org and every user", d.Org.CompanyName, len(d.Users))
	}
}

// bigOrg is the demo org with n more users.
func bigOrg(n int) *sandbox.Seed {
	seed := sandbox.DemoSeed()
	base := seed.Users[len(seed.Users)-1]
	for i := range n {
		u := base
		u.ID = fmt.Sprintf("77%017d", i)
		u.Email = "extra" + u.ID + "@northwind-demo.example"
		u.ZUID = ""
		seed.Users = append(seed.Users, u)
	}
	return seed
}

// reads counts the API calls to path whose query has the given part,
// from the from-th call the server saw.
func reads(srv *sandbox.Server, from int, path, query string) int {
	n := 0
	for _, r := range srv.Requests()[from:] {
		if !r.Token && r.Path == path && strings.Contains(r.RawQuery, query) {
			n++
		}
	}
	return n
}

// pages is a Client whose users come from a function of the page.
type pages struct {
	directory.Client
	requested []string
	page      func(n int) ([]zoho.User, bool)
}

func (p *pages) UsersPage(_ context.Context, typ zoho.UserType, n, perPage int) ([]zoho.User, bool, error) {
	p.requested = append(p.requested, fmt.Sprintf("%s %d/%d", typ, n, perPage))
	users, more := p.page(n)
	return users, more, nil
}

func TestListUsersReadsEveryPage(t *testing.T) {
	full := make([]zoho.User, zoho.MaxPerPage)
	c := &pages{page: func(n int) ([]zoho.User, bool) {
		if n < 3 {
			return full, true
		}
		return []zoho.User{{ID: "3000"}}, false
	}}
	users, err := directory.ListUsers(t.Context(), c, zoho.ActiveUsers, pacer.New(pacer.Options{}), zerolog.Nop())
	if err != nil || len(users) != 401 {
		t.Fatalf("ListUsers() = %d users, %v; want 401", len(users), err)
	}
	if diff := cmp.Diff([]string{"ActiveUsers 1/200", "ActiveUsers 2/200", "ActiveUsers 3/200"}, c.requested); diff != "" {
		t.Errorf("pages requested (-want +got):\n%s", diff)
	}

	empty := &pages{page: func(int) ([]zoho.User, bool) { return nil, true }}
	if _, err := directory.ListUsers(t.Context(), empty, zoho.AllUsers, pacer.New(pacer.Options{}), zerolog.Nop()); err == nil || !strings.Contains(err.Error(), "page 1 was empty but said more follow") {
		t.Errorf("ListUsers() on an empty page that says more follow = %v", err)
	}

	endless := &pages{page: func(int) ([]zoho.User, bool) { return full[:1], true }}
	if _, err := directory.ListUsers(t.Context(), endless, zoho.AllUsers, pacer.New(pacer.Options{}), zerolog.Nop()); err == nil || !strings.Contains(err.Error(), "no end after") {
		t.Errorf("ListUsers() on a listing that never ends = %v, want it to stop", err)
	}
}

// meeting is a Client whose org, token's user, first page of users and
// roles each wait, up to a few seconds, until all of them have been asked
// for: read one after another, the first waits in vain and fails for good.
// The read named failNow fails at once, and the others wait no more; the
// one named failLater fails a moment after that, unless cancelled.
type meeting struct {
	mu                 sync.Mutex
	arrived            map[string]bool
	all                chan struct{}
	closed             bool
	failNow, failLater string
}

// end ends the wait; m.mu must be held.
func (m *meeting) end() {
	if !m.closed {
		m.closed = true
		close(m.all)
	}
}

func newMeeting(failNow, failLater string) *meeting {
	return &meeting{arrived: map[string]bool{}, all: make(chan struct{}), failNow: failNow, failLater: failLater}
}

var (
	errScope = &zoho.APIError{HTTPStatus: 403, Code: "OAUTH_SCOPE_MISMATCH", Message: "invalid oauth scope"}
	errAlone = &zoho.APIError{HTTPStatus: 403, Code: "READ_ALONE", Message: "the others were not read meanwhile"}
)

func (m *meeting) meet(ctx context.Context, what string) error {
	m.mu.Lock()
	if m.arrived[what] = true; len(m.arrived) == 4 || what == m.failNow {
		m.end()
	}
	m.mu.Unlock()
	if what == m.failNow {
		return fmt.Errorf("%s: %w", what, errScope)
	}
	select {
	case <-m.all:
		if what != m.failLater {
			return nil
		}
		time.Sleep(50 * time.Millisecond) // for a cancellation to reach it
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("%s: %w", what, errScope)
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(5 * time.Second):
		return fmt.Errorf("%s: %w", what, errAlone)
	}
}

func (m *meeting) Org(ctx context.Context) (zoho.Org, error) {
	return zoho.Org{CompanyName: "Northwind"}, m.meet(ctx, "org")
}

func (m *meeting) CurrentUser(ctx context.Context) (zoho.User, error) {
	return zoho.User{ID: "1"}, m.meet(ctx, "caller")
}

func (m *meeting) UsersPage(ctx context.Context, _ zoho.UserType, _, _ int) ([]zoho.User, bool, error) {
	return []zoho.User{{ID: "1"}}, false, m.meet(ctx, "users")
}

func (m *meeting) Roles(ctx context.Context) ([]zoho.Role, error) {
	return []zoho.Role{{ID: "2"}}, m.meet(ctx, "roles")
}

func TestFetchReadsAtOnce(t *testing.T) {
	d, err := directory.Fetch(t.Context(), newMeeting("", ""), true, pacer.New(pacer.Options{}), zerolog.Nop())
	if err != nil {
		t.Fatalf("Fetch() = %v, want the org, the token's user, the users and the roles read at once", err)
	}
	if d.Org.CompanyName != "Northwind" || d.Caller.ID != "1" || len(d.Users) != 1 || len(d.Roles) != 1 {
		t.Errorf("Fetch() = %+v, want everything read", d)
	}
}

// TestFetchNamesTheReadThatFailed: the error is the first failure in the
// order org, token's user, roles, users, whichever failed first.
func TestFetchNamesTheReadThatFailed(t *testing.T) {
	for _, c := range []struct{ now, later, want string }{
		{now: "org", want: "org"},
		{now: "caller", want: "caller"},
		{now: "users", want: "users"},
		{now: "roles", want: "roles"},
		{now: "roles", later: "org", want: "org"},
		{now: "users", later: "caller", want: "caller"},
		{now: "caller", later: "roles", want: "caller"},
		{now: "users", later: "roles", want: "roles"},
	} {
		t.Run(c.now+"+"+c.later, func(t *testing.T) {
			_, err := directory.Fetch(t.Context(), newMeeting(c.now, c.later), true, pacer.New(pacer.Options{}), zerolog.Nop())
			if !errors.Is(err, errScope) || !strings.Contains(err.Error(), c.want+": ") {
				t.Errorf("Fetch() with the %s refused, then the %s = %v, want the %s's refusal", c.now, c.later, err, c.want)
			}
		})
	}
}
