// Package sandboxtest holds what the tests of offboard's packages need
// around the sandbox org: starting one for a test, a client for it, the
// environment that points the offboard binary at it, a hand-driven clock,
// and the checks every test of a deletion makes of the org's request log:
// who was submitted how often, and that no user ever had two jobs.
package sandboxtest

import (
	"encoding/json"
	"sync"
	"testing"
	"time"

	"offboard/sandbox"
	"offboard/zoho"
)

// Clock is a clock the test moves by hand; its zero value starts on
// 2026-11-28 02:00 UTC, a night run.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock returns a clock that starts at t.
func NewClock(t time.Time) *Clock { return &Clock{now: t} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.now.IsZero() {
		c.now = time.Date(2026, 11, 28, 2, 0, 0, 0, time.UTC)
	}
	return c.now
}

// Advance moves the clock on by d.
func (c *Clock) Advance(d time.Duration) {
	c.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// Start serves a sandbox org for the length of the test.
func Start(t testing.TB, cfg sandbox.Config) *sandbox.Server {
	t.Helper()
	srv, err := sandbox.Start(cfg)
	if err != nil {
		t.Fatalf("sandbox.Start() = %v", err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv
}

// Client returns a client of srv with its credentials; opts adjust its
// configuration.
func Client(t testing.TB, srv *sandbox.Server, opts ...func(*zoho.Config)) *zoho.Client {
	t.Helper()
	id, secret, refresh := srv.Credentials()
	cfg := zoho.Config{ClientID: id, ClientSecret: secret, RefreshToken: refresh, AccountsURL: srv.URL()}
	for _, o := range opts {
		o(&cfg)
	}
	c, err := zoho.New(cfg)
	if err != nil {
		t.Fatalf("zoho.New() = %v", err)
	}
	return c
}

// Env is the environment that gives the offboard binary srv's
// credentials. Its accounts URL, plain http, goes on the command line:
// --accounts-url srv.URL().
func Env(srv *sandbox.Server) map[string]string {
	id, secret, refresh := srv.Credentials()
	return map[string]string{"ZOHO_CLIENT_ID": id, "ZOHO_CLIENT_SECRET": secret, "ZOHO_REFRESH_TOKEN": refresh}
}

// Submissions returns, per user, the HTTP status of every
// transfer-and-delete submission that reached srv, in order.
func Submissions(t testing.TB, srv *sandbox.Server) map[string][]int {
	t.Helper()
	out := map[string][]int{}
	for _, r := range srv.Requests() {
		if r.Method != "POST" || r.Token {
			continue
		}
		var body struct {
			TransferAndDelete []struct {
				ID string `json:"id"`
			} `json:"transfer_and_delete"`
		}
		if err := json.Unmarshal(r.Body, &body); err != nil || len(body.TransferAndDelete) != 1 {
			t.Fatalf("POST %s body %s: not one transfer_and_delete element", r.Path, r.Body)
		}
		id := body.TransferAndDelete[0].ID
		out[id] = append(out[id], r.Status)
	}
	return out
}

// Writes counts the requests that reached srv other than reads and token
// requests: the calls that could change the org.
func Writes(srv *sandbox.Server) int {
	n := 0
	for _, r := range srv.Requests() {
		if r.Method != "GET" && !r.Token {
			n++
		}
	}
	return n
}

// CheckOneJobPerUser fails the test if srv ever held two jobs for one user
// or accepted one user's submission twice.
func CheckOneJobPerUser(t testing.TB, srv *sandbox.Server) {
	t.Helper()
	jobs := map[string]int{}
	for _, j := range srv.Jobs() {
		jobs[j.UserID]++
		if jobs[j.UserID] > 1 {
			t.Errorf("simulator jobs for user %s = %d, want at most 1", j.UserID, jobs[j.UserID])
		}
	}
	for u, statuses := range Submissions(t, srv) {
		accepted := 0
		for _, st := range statuses {
			if st == 200 {
				accepted++
			}
		}
		if accepted > 1 {
			t.Errorf("accepted submissions for user %s = %d, want at most 1", u, accepted)
		}
	}
}

// CheckNoOverlap fails the test if a user ever had two jobs running at
// once at srv: each of a user's jobs was submitted after the one before it
// had ended. A user may have had several jobs one after another (a failed
// job, then the row run again).
func CheckNoOverlap(t testing.TB, srv *sandbox.Server) {
	t.Helper()
	byUser := map[string][]sandbox.Job{}
	for _, j := range srv.Jobs() {
		byUser[j.UserID] = append(byUser[j.UserID], j)
	}
	for id, jobs := range byUser {
		for k := 1; k < len(jobs); k++ {
			if prev := jobs[k-1]; prev.FinishedAt.IsZero() || jobs[k].SubmittedAt.Before(prev.FinishedAt) {
				t.Errorf("user %s: job %s was submitted at %s while job %s still ran (it ended %v)",
					id, jobs[k].ID, jobs[k].SubmittedAt.Format(time.StampMilli), prev.ID, prev.FinishedAt.Format(time.StampMilli))
			}
		}
	}
}
