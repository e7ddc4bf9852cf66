package runner

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"offboard/zoho"
	"offboard/zoho/zohotest"
)

func startSim(t *testing.T, cfg zohotest.Config) (*zohotest.Server, *zoho.Client) {
	t.Helper()
	srv, err := zohotest.Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	id, secret, refresh := srv.Credentials()
	c, err := zoho.New(zoho.Config{ClientID: id, ClientSecret: secret, RefreshToken: refresh, AccountsURL: srv.URL()})
	if err != nil {
		t.Fatal(err)
	}
	return srv, c
}

// noSleep records the waits instead of sleeping.
type noSleep struct{ waits []time.Duration }

func (n *noSleep) sleep(_ context.Context, d time.Duration) error {
	n.waits = append(n.waits, d)
	return nil
}

func TestFetchDirectoryCallsDoNotGrowWithRows(t *testing.T) {
	seed := zohotest.DemoSeed()
	base := seed.Users[len(seed.Users)-1]
	for i := range 430 {
		u := base
		u.ID = "77" + strings.Repeat("0", 14) + string(rune('0'+i/100)) + string(rune('0'+i/10%10)) + string(rune('0'+i%10))
		u.Email = "extra" + u.ID + "@northwind-demo.example"
		u.ZUID = ""
		seed.Users = append(seed.Users, u)
	}
	srv, c := startSim(t, zohotest.Config{Seed: seed})
	d, err := FetchDirectory(t.Context(), c, true, ReadPolicy{})
	if err != nil {
		t.Fatalf("FetchDirectory() = %v", err)
	}
	if len(d.Users) != len(seed.Users) || len(d.Roles) != len(seed.Roles) || d.Org.CompanyName == "" || d.Caller.ID == "" {
		t.Errorf("FetchDirectory() = %d users, %d roles, org %q, caller %q; want %d users, %d roles",
			len(d.Users), len(d.Roles), d.Org.CompanyName, d.Caller.ID, len(seed.Users), len(seed.Roles))
	}
	var api int
	for _, r := range srv.Requests() {
		if !r.Token {
			api++
		}
		if r.Method != "GET" && !r.Token {
			t.Errorf("FetchDirectory sent %s %s, want reads only", r.Method, r.Path)
		}
	}
	// 460 users: 3 pages, plus org, current user and roles.
	if api != 6 {
		t.Errorf("API calls = %d, want 6 (3 user pages, org, current user, roles)", api)
	}

	srv2, c2 := startSim(t, zohotest.Config{})
	if _, err := FetchDirectory(t.Context(), c2, false, ReadPolicy{}); err != nil {
		t.Fatal(err)
	}
	if n := srv2.CountCalls("GET", "/crm/v7/settings/roles"); n != 0 {
		t.Errorf("roles read %d times without subordinate rows, want 0", n)
	}
}

func TestFetchDirectoryRetriesTransientReads(t *testing.T) {
	srv, c := startSim(t, zohotest.Config{})
	var page1 int
	var mu sync.Mutex
	srv.SetFaults(func(call zohotest.Call) zohotest.Fault {
		mu.Lock()
		defer mu.Unlock()
		switch {
		case call.Path == "/crm/v7/users" && call.Query.Get("page") == "1":
			if page1++; page1 <= 2 {
				return zohotest.ServiceUnavailable
			}
		case call.Path == "/crm/v7/org" && call.Seq == 1:
			return zohotest.TooManyRequests
		}
		return zohotest.NoFault
	})
	ns := &noSleep{}
	d, err := FetchDirectory(t.Context(), c, false, ReadPolicy{Sleep: ns.sleep})
	if err != nil {
		t.Fatalf("FetchDirectory() with transient faults = %v", err)
	}
	if len(d.Users) == 0 {
		t.Errorf("no users after retries")
	}
	if len(ns.waits) != 3 {
		t.Fatalf("waits = %v, want 3 (one 429, two 503s)", ns.waits)
	}
	if ns.waits[2] < ns.waits[1]/2 {
		t.Errorf("waits %v do not back off", ns.waits)
	}

	srv.SetFaults(func(zohotest.Call) zohotest.Fault { return zohotest.ServerError })
	_, err = FetchDirectory(t.Context(), c, false, ReadPolicy{Sleep: ns.sleep, Attempts: 3})
	if err == nil || !strings.Contains(err.Error(), "after 3 attempts") {
		t.Errorf("FetchDirectory() against a broken org = %v, want it to give up after 3 attempts", err)
	}

	// A refusal that retrying cannot fix is not retried.
	srv.SetFaults(nil)
	srv.SetScopes("ZohoCRM.users.ALL")
	before := len(srv.Requests())
	_, err = FetchDirectory(t.Context(), c, false, ReadPolicy{Sleep: ns.sleep})
	if zoho.Classify(err) != zoho.ClassFatal {
		t.Errorf("FetchDirectory() without the org scope = %v, want a fatal error", err)
	}
	if n := len(srv.Requests()) - before; n != 1 {
		t.Errorf("calls after a scope refusal = %d, want 1", n)
	}
}
