package zoho_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/rs/zerolog"

	"offboard/directory"
	"offboard/pacer"
	"offboard/sandbox"
	"offboard/sandbox/sandboxtest"
	"offboard/zoho"
)

// These tests run the client against the simulated org over real HTTP:
// the simulator speaks raw JSON and knows nothing of this package's types,
// so a wrong JSON tag or path here fails them.

type fixture struct {
	srv    *sandbox.Server
	client *zoho.Client
	clock  *sandboxtest.Clock
}

func start(t *testing.T, cfg sandbox.Config) *fixture {
	t.Helper()
	f := &fixture{clock: &sandboxtest.Clock{}}
	if cfg.Clock == nil {
		cfg.Clock = f.clock.Now
	}
	f.srv = sandboxtest.Start(t, cfg)
	f.client = f.newClient(t)
	return f
}

func (f *fixture) newClient(t *testing.T) *zoho.Client {
	t.Helper()
	return sandboxtest.Client(t, f.srv, func(c *zoho.Config) { c.Now = f.clock.Now })
}

// listUsers lists every user of a type as offboard does, page by page.
func listUsers(ctx context.Context, f *fixture, typ zoho.UserType) ([]zoho.User, error) {
	return directory.ListUsers(ctx, f.client, typ, pacer.New(pacer.Options{}), zerolog.Nop())
}

// demo returns users of the demo org picked by a predicate.
func demoUsers(t *testing.T, f *fixture, keep func(zoho.User) bool) []zoho.User {
	t.Helper()
	all, err := listUsers(t.Context(), f, zoho.AllUsers)
	if err != nil {
		t.Fatalf("Users(AllUsers) = %v", err)
	}
	var out []zoho.User
	for _, u := range all {
		if keep(u) {
			out = append(out, u)
		}
	}
	return out
}

func TestSimDirectory(t *testing.T) {
	f := start(t, sandbox.Config{})
	ctx := t.Context()
	org, err := f.client.Org(ctx)
	if err != nil {
		t.Fatalf("Org() = %v", err)
	}
	all, err := listUsers(ctx, f, zoho.AllUsers)
	if err != nil {
		t.Fatalf("Users(AllUsers) = %v", err)
	}
	var supers, deleted, active int
	for _, u := range all {
		if !zoho.IsUserID(string(u.ID)) || len(u.ID) != 19 {
			t.Errorf("user %q: id is not a 19-digit string", u.ID)
		}
		if org.IsSuperAdmin(u) {
			supers++
		}
		if u.Deleted() {
			deleted++
		}
		if u.Active() {
			active++
		}
	}
	if supers != 1 {
		t.Errorf("super admins in the demo org = %d, want 1", supers)
	}
	if deleted == 0 || active == 0 {
		t.Errorf("demo org has %d deleted and %d active users, want some of each", deleted, active)
	}
	me, err := f.client.CurrentUser(ctx)
	if err != nil || !org.IsSuperAdmin(me) {
		t.Errorf("CurrentUser() = %+v, %v; want the super admin", me, err)
	}
	byType := map[zoho.UserType]int{}
	for _, typ := range zoho.UserTypes {
		users, err := listUsers(ctx, f, typ)
		if err != nil {
			t.Errorf("Users(%s) = %v", typ, err)
		}
		byType[typ] = len(users)
	}
	if byType[zoho.DeletedUsers] != deleted {
		t.Errorf("Users(DeletedUsers) = %d users, want the %d deleted ones of AllUsers", byType[zoho.DeletedUsers], deleted)
	}
	if byType[zoho.CurrentUser] != 1 {
		t.Errorf("Users(CurrentUser) = %d users, want 1", byType[zoho.CurrentUser])
	}
	if byType[zoho.ActiveUsers] == 0 || byType[zoho.ActiveUsers] >= len(all) {
		t.Errorf("Users(ActiveUsers) = %d of %d, want a strict subset", byType[zoho.ActiveUsers], len(all))
	}
	roles, err := f.client.Roles(ctx)
	if err != nil || len(roles) < 2 {
		t.Fatalf("Roles() = %d roles, %v", len(roles), err)
	}
	tops := 0
	for _, r := range roles {
		if r.ReportingTo == nil {
			tops++
		}
	}
	if tops != 1 {
		t.Errorf("roles without a parent = %d, want 1 (the top of the tree)", tops)
	}
	one, err := f.client.User(ctx, string(all[0].ID))
	if err != nil || one.ID != all[0].ID || one.Email != all[0].Email {
		t.Errorf("User(%s) = %+v, %v", all[0].ID, one, err)
	}
	_, err = f.client.User(ctx, "1111111111111111111")
	var api *zoho.APIError
	if !errors.As(err, &api) || api.Code != zoho.CodeInvalidData || !errors.Is(err, zoho.ErrUserIDRefused) || errors.Is(err, zoho.ErrUserNotFound) {
		t.Errorf("User(unknown id) = %v, want INVALID_DATA, the id refused (not proof the user is gone)", err)
	}
	if got := f.client.TokenRequests(); got != 1 {
		t.Errorf("token requests = %d, want 1", got)
	}
}

func TestSimPagination(t *testing.T) {
	seed := sandbox.DemoSeed()
	base := seed.Users[len(seed.Users)-1]
	for i := range 450 {
		u := base
		u.ID = fmt.Sprintf("9%018d", i)
		u.Email = fmt.Sprintf("bulk%03d@northwind-demo.example", i)
		u.ZUID = ""
		u.ReportingTo = nil
		seed.Users = append(seed.Users, u)
	}
	f := start(t, sandbox.Config{Seed: seed})
	users, err := listUsers(t.Context(), f, zoho.AllUsers)
	if err != nil {
		t.Fatal(err)
	}
	if len(users) != len(seed.Users) {
		t.Errorf("Users(AllUsers) = %d users, want %d", len(users), len(seed.Users))
	}
	seen := map[zoho.ID]bool{}
	for _, u := range users {
		if seen[u.ID] {
			t.Errorf("user %s listed twice", u.ID)
		}
		seen[u.ID] = true
	}
	pages := f.srv.CountCalls("GET", "/crm/v7/users")
	if want := (len(seed.Users) + 199) / 200; pages != want {
		t.Errorf("GET /users calls = %d, want %d pages of 200", pages, want)
	}
}

func TestSimTransferAndDeleteLifecycle(t *testing.T) {
	f := start(t, sandbox.Config{JobDuration: 10 * time.Second})
	ctx := t.Context()
	org, _ := f.client.Org(ctx)
	actives := demoUsers(t, f, func(u zoho.User) bool { return u.Active() && !org.IsSuperAdmin(u) })
	leaver, heir := pickLeaverAndHeir(t, f, actives)
	records := f.srv.RecordsOwnedBy(string(leaver.ID))
	heirRecords := f.srv.RecordsOwnedBy(string(heir.ID))

	job, err := f.client.TransferAndDelete(ctx, zoho.TransferRequest{UserID: string(leaver.ID),
		Transfer: &zoho.Transfer{ToID: string(heir.ID), Records: true, Assignment: true, Criteria: true}}, nil)
	if err != nil {
		t.Fatalf("TransferAndDelete() = %v", err)
	}
	if !zoho.IsUserID(job.ID) || job.UserID != string(leaver.ID) {
		t.Fatalf("TransferAndDelete() = %+v, want a job id and the user id", job)
	}
	var seen []string
	for range 4 {
		st, err := f.client.JobStatus(ctx, job.ID)
		if err != nil {
			t.Fatalf("JobStatus() = %v", err)
		}
		if len(seen) == 0 || seen[len(seen)-1] != st.Status {
			seen = append(seen, st.Status)
		}
		f.clock.Advance(4 * time.Second)
	}
	if diff := cmp.Diff([]string{zoho.JobScheduled, zoho.JobInProgress, zoho.JobCompleted}, seen); diff != "" {
		t.Errorf("job statuses seen (-want +got):\n%s", diff)
	}
	u, err := f.client.User(ctx, string(leaver.ID))
	if err != nil || !u.Deleted() {
		t.Errorf("User(leaver) after completion = %+v, %v; want deleted", u, err)
	}
	if got := f.srv.RecordsOwnedBy(string(heir.ID)); got != heirRecords+records {
		t.Errorf("heir owns %d records, want %d + %d", got, heirRecords, records)
	}
	_, err = f.client.TransferAndDelete(ctx, zoho.TransferRequest{UserID: string(leaver.ID),
		Transfer: &zoho.Transfer{ToID: string(heir.ID), Records: true}}, nil)
	var api *zoho.APIError
	if !errors.As(err, &api) || api.Code != zoho.CodeInvalidData || zoho.Classify(err) != zoho.ClassRejected {
		t.Errorf("TransferAndDelete(already deleted) = %v, want a rejected INVALID_DATA", err)
	}
	if _, err := f.client.JobStatus(ctx, "1234567890123456789"); !errors.Is(err, zoho.ErrJobNotFound) {
		t.Errorf("JobStatus(unknown) = %v, want ErrJobNotFound", err)
	}
}

// pickLeaverAndHeir returns two active users where the heir is not a
// subordinate of the leaver: the leaver is someone nobody reports to.
func pickLeaverAndHeir(t *testing.T, f *fixture, actives []zoho.User) (zoho.User, zoho.User) {
	t.Helper()
	managers := map[zoho.ID]bool{}
	for _, u := range actives {
		if u.ReportingTo != nil {
			managers[u.ReportingTo.ID] = true
		}
	}
	for _, l := range actives {
		if managers[l.ID] {
			continue
		}
		for _, h := range actives {
			if h.ID != l.ID && f.srv.RecordsOwnedBy(string(l.ID)) > 0 {
				return l, h
			}
		}
	}
	t.Fatal("demo org has no leaf user with records")
	return zoho.User{}, zoho.User{}
}

func TestSimFailedJob(t *testing.T) {
	f := start(t, sandbox.Config{JobDuration: time.Second})
	ctx := t.Context()
	org, _ := f.client.Org(ctx)
	actives := demoUsers(t, f, func(u zoho.User) bool { return u.Active() && !org.IsSuperAdmin(u) })
	leaver, heir := pickLeaverAndHeir(t, f, actives)
	f.srv.FailJob(string(leaver.ID), "records are locked by a running approval process")
	job, err := f.client.TransferAndDelete(ctx, zoho.TransferRequest{UserID: string(leaver.ID),
		Transfer: &zoho.Transfer{ToID: string(heir.ID), Records: true}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(2 * time.Second)
	st, err := f.client.JobStatus(ctx, job.ID)
	want := zoho.JobStatus{Status: zoho.JobFailed, Reason: "records are locked by a running approval process"}
	if diff := cmp.Diff(want, st); diff != "" || err != nil {
		t.Errorf("JobStatus(failing job) = %v (-want +got):\n%s", err, diff)
	}
	u, _ := f.client.User(ctx, string(leaver.ID))
	if u.Deleted() {
		t.Errorf("user of a failed job is deleted, want untouched")
	}
}

func TestSimRefusals(t *testing.T) {
	f := start(t, sandbox.Config{})
	ctx := t.Context()
	org, _ := f.client.Org(ctx)
	all := demoUsers(t, f, func(zoho.User) bool { return true })
	var super, deleted, inactive zoho.User
	var actives []zoho.User
	for _, u := range all {
		switch {
		case org.IsSuperAdmin(u):
			super = u
		case u.Deleted():
			deleted = u
		case u.Status == zoho.StatusInactive:
			inactive = u
		case u.Active():
			actives = append(actives, u)
		}
	}
	leaver, heir := pickLeaverAndHeir(t, f, actives)
	tr := func(to string) *zoho.Transfer { return &zoho.Transfer{ToID: to, Records: true} }
	tests := []struct {
		name   string
		req    zoho.TransferRequest
		code   string
		status int
	}{
		{"super admin", zoho.TransferRequest{UserID: string(super.ID), Transfer: tr(string(heir.ID))}, zoho.CodeNotAllowed, 400},
		{"already deleted", zoho.TransferRequest{UserID: string(deleted.ID), Transfer: tr(string(heir.ID))}, zoho.CodeInvalidData, 400},
		{"unknown user", zoho.TransferRequest{UserID: "1111111111111111111", Transfer: tr(string(heir.ID))}, zoho.CodeInvalidData, 400},
		{"deleted target", zoho.TransferRequest{UserID: string(leaver.ID), Transfer: tr(string(deleted.ID))}, zoho.CodeInvalidData, 400},
		{"unknown target", zoho.TransferRequest{UserID: string(leaver.ID), Transfer: tr("2222222222222222222")}, zoho.CodeInvalidData, 400},
		{"inactive subordinates target", zoho.TransferRequest{UserID: string(leaver.ID), SubordinatesTo: string(inactive.ID)}, zoho.CodeInvalidData, 400},
	}
	for _, tt := range tests {
		_, err := f.client.TransferAndDelete(ctx, tt.req, nil)
		var api *zoho.APIError
		if !errors.As(err, &api) || api.Code != tt.code || api.HTTPStatus != tt.status || zoho.Classify(err) != zoho.ClassRejected {
			t.Errorf("%s: TransferAndDelete() = %v, want %d %s, rejected", tt.name, err, tt.status, tt.code)
		}
	}
	if n := len(f.srv.Jobs()); n != 0 {
		t.Errorf("jobs after refusals = %d, want 0", n)
	}

	// A token that is not the super admin's: NO_PERMISSION, fatal.
	f.srv.SetCaller(string(heir.ID))
	_, err := f.client.TransferAndDelete(ctx, zoho.TransferRequest{UserID: string(leaver.ID), Transfer: tr(string(heir.ID))}, nil)
	var api *zoho.APIError
	if !errors.As(err, &api) || api.Code != zoho.CodeNoPermission || zoho.Classify(err) != zoho.ClassFatal {
		t.Errorf("TransferAndDelete() as a non super admin = %v, want NO_PERMISSION, fatal", err)
	}
}

func TestSimSubordinateTarget(t *testing.T) {
	f := start(t, sandbox.Config{})
	ctx := t.Context()
	org, _ := f.client.Org(ctx)
	all := demoUsers(t, f, func(u zoho.User) bool { return u.Active() && !org.IsSuperAdmin(u) })
	// A manager and someone reporting to them, directly.
	for _, sub := range all {
		if sub.ReportingTo == nil {
			continue
		}
		for _, mgr := range all {
			if mgr.ID != sub.ReportingTo.ID {
				continue
			}
			_, err := f.client.TransferAndDelete(ctx, zoho.TransferRequest{UserID: string(mgr.ID), SubordinatesTo: string(sub.ID)}, nil)
			var api *zoho.APIError
			if !errors.As(err, &api) || api.Code != zoho.CodeNotAllowed {
				t.Errorf("moving %s's subordinates to %s, who reports to them = %v, want NOT_ALLOWED", mgr.Email, sub.Email, err)
			}
			return
		}
	}
	t.Fatal("demo org has no active manager with an active report")
}

func TestSimJobLimitAndSlots(t *testing.T) {
	f := start(t, sandbox.Config{JobDuration: time.Minute})
	ctx := t.Context()
	org, _ := f.client.Org(ctx)
	actives := demoUsers(t, f, func(u zoho.User) bool { return u.Active() && !org.IsSuperAdmin(u) })
	_, heir := pickLeaverAndHeir(t, f, actives)
	f.srv.HoldJobSlots(10, 30*time.Second)
	var leaver zoho.User
	for _, u := range actives {
		if u.ID != heir.ID && u.ReportingTo != nil && u.ReportingTo.ID != heir.ID {
			leaver = u
			break
		}
	}
	req := zoho.TransferRequest{UserID: string(leaver.ID), Transfer: &zoho.Transfer{ToID: string(heir.ID), Records: true}}
	_, err := f.client.TransferAndDelete(ctx, req, nil)
	if !errors.Is(err, zoho.ErrJobLimit) || zoho.Classify(err) != zoho.ClassJobLimit {
		t.Fatalf("TransferAndDelete() with every slot held = %v, want ErrJobLimit", err)
	}
	f.clock.Advance(31 * time.Second)
	if _, err := f.client.TransferAndDelete(ctx, req, nil); err != nil {
		t.Errorf("TransferAndDelete() after the slots freed = %v", err)
	}
}

func TestSimTokenExpiryAndRevocation(t *testing.T) {
	f := start(t, sandbox.Config{TokenLifetime: time.Hour})
	ctx := t.Context()
	if _, err := f.client.Org(ctx); err != nil {
		t.Fatal(err)
	}
	f.srv.ExpireAccessTokens()
	if _, err := f.client.Org(ctx); err != nil {
		t.Errorf("Org() after Zoho expired the token = %v, want a transparent refresh", err)
	}
	if got := f.client.TokenRequests(); got != 2 {
		t.Errorf("token requests = %d, want 2", got)
	}
	f.clock.Advance(2 * time.Hour) // the client sees the expiry coming and refreshes first
	if _, err := f.client.Org(ctx); err != nil {
		t.Errorf("Org() after the lifetime passed = %v", err)
	}
	_, _, refresh := f.srv.Credentials()
	f.srv.RevokeRefreshToken(refresh)
	f.srv.ExpireAccessTokens()
	_, err := f.client.Org(ctx)
	var aerr *zoho.AuthError
	if !errors.As(err, &aerr) || !aerr.Fatal {
		t.Errorf("Org() after the refresh token was revoked = %v, want a fatal *AuthError", err)
	}
	if strings.Contains(err.Error(), refresh) {
		t.Errorf("error %q contains the refresh token", err)
	}
}

func TestSimTokenThrottle(t *testing.T) {
	f := start(t, sandbox.Config{})
	var throttled int
	for range 12 {
		_, err := f.newClient(t).Org(t.Context()) // a new client, a new token request each time
		var aerr *zoho.AuthError
		if errors.As(err, &aerr) && aerr.Throttled {
			throttled++
		} else if err != nil {
			t.Fatalf("Org() = %v", err)
		}
	}
	if throttled != 2 {
		t.Errorf("throttled token requests = %d of 12, want 2 (Zoho allows 10 per 10 minutes)", throttled)
	}
	f.clock.Advance(11 * time.Minute)
	if _, err := f.newClient(t).Org(t.Context()); err != nil {
		t.Errorf("Org() after the throttle window = %v", err)
	}
}

func TestSimRateLimits(t *testing.T) {
	f := start(t, sandbox.Config{ConcurrencyLimit: 2, Latency: 20 * time.Millisecond})
	ctx := t.Context()
	if _, err := f.client.Org(ctx); err != nil { // token, outside the race below
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var limited int
	for range 8 {
		wg.Go(func() {
			_, err := f.client.Org(ctx)
			if errors.Is(err, zoho.ErrRateLimited) && zoho.Classify(err) == zoho.ClassRetry {
				mu.Lock()
				limited++
				mu.Unlock()
			} else if err != nil {
				t.Errorf("Org() = %v", err)
			}
		})
	}
	wg.Wait()
	if limited == 0 {
		t.Errorf("8 simultaneous calls against a limit of 2: no 429, want some")
	}

	// The same load through a client bounded to 2 calls in flight: no 429.
	id, secret, refresh := f.srv.Credentials()
	bounded, err := zoho.New(zoho.Config{ClientID: id, ClientSecret: secret, RefreshToken: refresh,
		AccountsURL: f.srv.URL(), MaxInFlight: 2, Now: f.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	for range 8 {
		wg.Go(func() {
			if _, err := bounded.Org(ctx); err != nil {
				t.Errorf("bounded Org() = %v", err)
			}
		})
	}
	wg.Wait()

	g := start(t, sandbox.Config{DailyCredits: 3})
	var last error
	for range 5 {
		_, last = g.client.Org(ctx)
	}
	if !errors.Is(last, zoho.ErrCreditsExhausted) || zoho.Classify(last) != zoho.ClassCreditsExhausted {
		t.Errorf("Org() past the daily credits = %v, want ErrCreditsExhausted", last)
	}

	// The credits left, as Zoho says once half are used, on answers and
	// refusals alike.
	c := start(t, sandbox.Config{DailyCredits: 10})
	var said []int
	for range 12 {
		c.client.Org(ctx)
		if n, known := c.client.CreditsRemaining(); known {
			said = append(said, n)
		}
	}
	if diff := cmp.Diff([]int{5, 4, 3, 2, 1, 0, 0, 0}, said); diff != "" {
		t.Errorf("CreditsRemaining() after each of 12 calls with 10 credits (-want +got):\n%s", diff)
	}
}

func TestSimFaults(t *testing.T) {
	f := start(t, sandbox.Config{})
	ctx := t.Context()
	org, _ := f.client.Org(ctx)
	actives := demoUsers(t, f, func(u zoho.User) bool { return u.Active() && !org.IsSuperAdmin(u) })
	leaver, heir := pickLeaverAndHeir(t, f, actives)
	req := zoho.TransferRequest{UserID: string(leaver.ID), Transfer: &zoho.Transfer{ToID: string(heir.ID), Records: true}}

	f.srv.SetFaults(func(c sandbox.Call) sandbox.Fault {
		if c.Method == "POST" {
			return sandbox.DropAfterCommit
		}
		return sandbox.NoFault
	})
	_, err := f.client.TransferAndDelete(ctx, req, nil)
	if zoho.Classify(err) != zoho.ClassOutcomeUnknown {
		t.Fatalf("TransferAndDelete() dropped after commit = %v, want outcome unknown", err)
	}
	if jobs := f.srv.Jobs(); len(jobs) != 1 || jobs[0].UserID != string(leaver.ID) {
		t.Errorf("jobs after a dropped-but-committed call = %+v, want the leaver's job", jobs)
	}

	f.srv.SetFaults(func(c sandbox.Call) sandbox.Fault {
		if c.Method == "GET" && c.Seq == 1 {
			return sandbox.ServerError
		}
		return sandbox.NoFault
	})
	_, err = f.client.Roles(ctx)
	if zoho.Classify(err) != zoho.ClassRetry {
		t.Errorf("Roles() answered 500 = %v, want retryable", err)
	}
	if _, err := f.client.Roles(ctx); err != nil {
		t.Errorf("Roles() on the second try = %v", err)
	}
	f.srv.SetFaults(nil)
}

func TestSimExchangeGrantCode(t *testing.T) {
	f := start(t, sandbox.Config{})
	f.srv.AddGrantCode("1000.grant.abc", "ZohoCRM.users.ALL", "ZohoCRM.org.READ", "ZohoCRM.settings.roles.READ")
	id, secret, _ := f.srv.Credentials()
	cfg := zoho.Config{ClientID: id, ClientSecret: secret, AccountsURL: f.srv.URL()}
	g, err := zoho.ExchangeGrantCode(t.Context(), cfg, "1000.grant.abc")
	if err != nil {
		t.Fatalf("ExchangeGrantCode() = %v", err)
	}
	if g.RefreshToken == "" || g.APIDomain != f.srv.URL() {
		t.Errorf("ExchangeGrantCode() = %+v, want a refresh token and the simulator's api domain", g)
	}
	cfg.RefreshToken = g.RefreshToken
	c, err := zoho.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Org(t.Context()); err != nil {
		t.Errorf("Org() with the exchanged refresh token = %v", err)
	}
	_, err = zoho.ExchangeGrantCode(t.Context(), cfg, "1000.grant.abc")
	if err == nil || !strings.Contains(err.Error(), "grant code was refused") {
		t.Errorf("ExchangeGrantCode() with a used code = %v, want it refused", err)
	}
}

func TestSimCanceledContext(t *testing.T) {
	f := start(t, sandbox.Config{})
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := f.client.Org(ctx)
	if zoho.Classify(err) != zoho.ClassCanceled {
		t.Errorf("Org() with a cancelled context = %v (class %v), want canceled", err, zoho.Classify(err))
	}
}

// TestUsersByID: GET /users?type=DeletedUsers&ids=… answers the deleted
// users among those asked for; none, with a 204. A call names 1 to 100
// valid IDs.
func TestUsersByID(t *testing.T) {
	f := start(t, sandbox.Config{})
	deleted := demoUsers(t, f, func(u zoho.User) bool { return u.Deleted() })
	active := demoUsers(t, f, func(u zoho.User) bool { return u.Active() })
	if len(deleted) == 0 || len(active) < 2 {
		t.Fatalf("the demo org has %d deleted and %d active users, want some of each", len(deleted), len(active))
	}
	got, err := f.client.UsersByID(t.Context(), zoho.DeletedUsers, []string{string(deleted[0].ID), string(active[0].ID)})
	if err != nil || len(got) != 1 || got[0].ID != deleted[0].ID || !got[0].Deleted() {
		t.Errorf("UsersByID(a deleted and an active user) = %+v, %v; want the deleted one alone", got, err)
	}
	got, err = f.client.UsersByID(t.Context(), zoho.DeletedUsers, []string{string(active[0].ID), string(active[1].ID)})
	if err != nil || len(got) != 0 {
		t.Errorf("UsersByID(two active users) = %+v, %v; want none (204), no error", got, err)
	}
	many := make([]string, zoho.MaxIDs+1)
	for i := range many {
		many[i] = string(active[0].ID)
	}
	for _, ids := range [][]string{nil, many, {"12345"}} {
		if _, err := f.client.UsersByID(t.Context(), zoho.DeletedUsers, ids); err == nil {
			t.Errorf("UsersByID(%d ids, first %q) = no error, want one", len(ids), first(ids))
		}
	}
}

func first(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}
