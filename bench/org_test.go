package bench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/time/rate"

	"offboard/directory"
	"offboard/input"
	"offboard/pacer"
	"offboard/plan"
	"offboard/result"
	"offboard/runner"
	"offboard/sandbox"
	"offboard/zoho"
)

// The org: the simulator's demo org (Northwind) plus n leavers, each of whom
// hands their records to the super admin.
const (
	heirEmail = "margaret.holloway@northwind-demo.example"
	repRole   = "5210498000000026005" // Sales Representative
	standard  = "5210498000000031002" // Standard profile
)

func leaverID(i int) string    { return fmt.Sprintf("52104980000009%05d", i) }
func leaverEmail(i int) string { return fmt.Sprintf("leaver%05d@northwind-demo.example", i) }

// seed is the demo org with n leavers added.
func seed(n int) *sandbox.Seed {
	s := sandbox.DemoSeed()
	for i := range n {
		s.Users = append(s.Users, sandbox.User{
			ID: leaverID(i), Email: leaverEmail(i), LastName: fmt.Sprintf("Leaver %05d", i),
			Status: sandbox.StatusActive, Confirm: true, ZUID: fmt.Sprint(770000000 + i),
			Role: sandbox.Ref{ID: repRole}, Profile: sandbox.Ref{ID: standard, Name: "Standard"},
		})
	}
	return s
}

// writeSheet writes the offboarding sheet for the n leavers as HR would: one
// row per leaver, records to the super admin.
func writeSheet(tb testing.TB, n int) string {
	tb.Helper()
	var b strings.Builder
	b.WriteString("user,transfer_to,records,assignment,criteria\n")
	for i := range n {
		fmt.Fprintf(&b, "%s,%s,TRUE,TRUE,TRUE\n", leaverEmail(i), heirEmail)
	}
	path := filepath.Join(tb.TempDir(), "leavers.csv")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		tb.Fatal(err)
	}
	return path
}

// scale maps the production timings onto a benchmark's job duration: a
// simulated job takes D of wall time and stands for a real job of R. Every
// production wait (the runner's defaults), the rate limit and the
// simulator's latency are multiplied by D/R, so that a run replays at D
// what offboard would do with real R-long jobs, and the ratios the
// benchmarks report depend on R but not on D. Counts (jobs, calls in
// flight, burst) are not scaled.
type scale struct {
	job  time.Duration // D: how long a simulated job takes
	real time.Duration // R: how long the real job it stands for takes
}

func (s scale) of(d time.Duration) time.Duration {
	return time.Duration(float64(d) * float64(s.job) / float64(s.real))
}

func (s scale) String() string { return fmt.Sprintf("R=%gs", s.real.Seconds()) }

// benchScale is D (OFFBOARD_BENCH_JOB, default 250ms) standing for R.
func benchScale(tb testing.TB, r time.Duration) scale {
	tb.Helper()
	d := 250 * time.Millisecond
	if v := os.Getenv("OFFBOARD_BENCH_JOB"); v != "" {
		var err error
		if d, err = time.ParseDuration(v); err != nil || d <= 0 {
			tb.Fatalf("OFFBOARD_BENCH_JOB=%q: want a positive duration", v)
		}
	}
	return scale{job: d, real: r}
}

// Production defaults the scaled runs mirror (connect.go, runner.Options).
const (
	prodRate        = 50 // --rate, calls per second
	prodConcurrency = 5  // --concurrency
	orgConcurrency  = 10 // the simulated org's limit (Standard edition)
)

// prodLatency is what one API call is taken to cost at the real scale.
const prodLatency = 200 * time.Millisecond

// options are the runner's defaults, scaled. No first guess of a job's
// length: offboard has one only from an earlier run's journal.
func (s scale) options() runner.Options {
	d := runner.Defaults()
	return runner.Options{
		PollMin:      s.of(d.PollMin),
		PollMax:      s.of(d.PollMax),
		ReadBackWait: s.of(d.ReadBackWait),
		BackoffBase:  s.of(d.BackoffBase),
		BackoffMax:   s.of(d.BackoffMax),
		Grace:        s.of(d.Grace),
		JobTimeout:   s.of(d.JobTimeout),
	}
}

// org is one simulated org and a client for it, set up as offboard run
// sets up its own (rate limit, calls in flight), scaled.
type org struct {
	srv    *sandbox.Server
	client *zoho.Client
}

func startOrg(tb testing.TB, s scale, users int) *org {
	tb.Helper()
	return startOrgWith(tb, s, sandbox.Config{Seed: seed(users), Latency: s.of(prodLatency)})
}

// startOrgWith is startOrg with the simulator configured by cfg (its seed
// and latency, say); the job length, the org's limits and the client are
// the benchmarks' own.
func startOrgWith(tb testing.TB, s scale, cfg sandbox.Config) *org {
	tb.Helper()
	cfg.JobDuration, cfg.ConcurrencyLimit, cfg.TokenRequestLimit = s.job, orgConcurrency, -1
	srv, err := sandbox.Start(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	id, secret, refresh := srv.Credentials()
	perSecond := prodRate * float64(s.real) / float64(s.job)
	c, err := zoho.New(zoho.Config{ClientID: id, ClientSecret: secret, RefreshToken: refresh,
		AccountsURL: srv.URL(),
		Limiter:     rate.NewLimiter(rate.Limit(perSecond), prodRate),
		MaxInFlight: prodConcurrency,
	})
	if err != nil {
		srv.Close()
		tb.Fatal(err)
	}
	return &org{srv: srv, client: c}
}

func (o *org) close() { o.srv.Close() }

// prepare does what offboard run does before it sends anything: read the
// sheet, read the org's directory, check every row.
func (o *org) prepare(ctx context.Context, tb testing.TB, s scale, sheet string, n int) (*plan.Plan, []result.Row) {
	tb.Helper()
	_, rows, err := input.ReadAll(sheet, input.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	// offboard's own pacing (6 attempts), its waits scaled.
	d := runner.Defaults()
	pc := pacer.New(pacer.Options{Base: s.of(d.BackoffBase), Max: s.of(d.BackoffMax)})
	dir, err := directory.Fetch(ctx, o.client, false, pc, zerolog.Nop())
	if err != nil {
		tb.Fatal(err)
	}
	p := plan.Build(rows, dir, input.DateOf(time.Now()))
	if got := p.Counts()[result.Planned]; got != n {
		tb.Fatalf("plan.Build: %d rows planned, want %d: %v", got, n, p.Counts())
	}
	return p, p.Results(rows)
}

// calls sorts the API calls the simulator saw (token requests aside).
type calls struct {
	total, submits, polls, userReads, directory, refused429, refusedSlot int
}

func countCalls(srv *sandbox.Server) calls {
	var c calls
	for _, r := range srv.Requests() {
		if r.Token {
			continue
		}
		c.total++
		switch {
		case r.Method == "POST":
			c.submits++
		case r.Path == "/crm/v7/users/actions/transfer_and_delete":
			c.polls++
		case strings.HasPrefix(r.Path, "/crm/v7/users/") && r.Path != "/crm/v7/users/actions/count",
			r.Path == "/crm/v7/users" && strings.Contains(r.RawQuery, "ids="):
			c.userReads++ // the read-back of deleted users, alone or together
		default:
			c.directory++ // org, users pages, the token's own user, roles
		}
		switch r.Status {
		case 429:
			c.refused429++
		case 400:
			if r.Method == "POST" {
				c.refusedSlot++ // the only 400 these runs can get is the job limit
			}
		}
	}
	return c
}

// ideal is the least time n jobs of duration d take when at most slots run
// at once: ceil(n/slots)·d.
func ideal(n, slots int, d time.Duration) time.Duration {
	return time.Duration((n+slots-1)/slots) * d
}
