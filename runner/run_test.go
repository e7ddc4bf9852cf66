package runner

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"offboard/plan"
	"offboard/result"
	"offboard/sandbox"
	"offboard/sandbox/sandboxtest"
	"offboard/zoho"
)

// These tests run Run against the simulated org over real HTTP. Jobs take
// tens of milliseconds and every wait is scaled down to match, so the
// tests are fast; they assert outcomes and what the simulator saw, never
// how long anything took.

// heir is the demo org's super admin: active, never deleted.
const heir = "5210498000000411001"

// demo returns the demo org's user ID with the given middle number, e.g.
// demo(417) is Aisha Bello.
func demo(n int) string { return fmt.Sprintf("5210498000000%03d001", n) }

// plain are active demo users without reports that a test may delete.
var plainUsers = []int{417, 418, 419, 420, 421, 423, 425, 429, 430, 431, 432, 437, 438, 439, 440}

func plain(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = demo(plainUsers[i])
	}
	return out
}

// row is one planned step: delete user, transfer to to, after the given
// steps.
type row struct {
	user, to string
	after    []int
}

func makePlan(rows ...row) *plan.Plan {
	p := &plan.Plan{}
	for i, r := range rows {
		p.Steps = append(p.Steps, plan.Step{Index: i, Line: i + 2, Outcome: result.Planned, After: r.after,
			Request: zoho.TransferRequest{UserID: r.user, Transfer: &zoho.Transfer{ToID: r.to, Records: true}}})
		p.Order = append(p.Order, i)
	}
	return p
}

func toHeir(users ...string) []row {
	rows := make([]row, len(users))
	for i, u := range users {
		rows[i] = row{user: u, to: heir}
	}
	return rows
}

type sim struct {
	srv    *sandbox.Server
	client *zoho.Client
}

func newSim(t *testing.T, cfg sandbox.Config, inFlight int) *sim {
	t.Helper()
	return simWith(t, cfg, func(c *zoho.Config) { c.MaxInFlight = inFlight })
}

func fast() Options {
	return Options{BackoffBase: 2 * time.Millisecond, BackoffMax: 20 * time.Millisecond,
		JobDuration: 30 * time.Millisecond, PollMin: 5 * time.Millisecond, PollMax: 50 * time.Millisecond,
		Grace: 2 * time.Second, JobTimeout: 5 * time.Second, RequestTimeout: 50 * time.Millisecond}
}

// outcome is the part of a result a test compares.
type outcome struct {
	Outcome result.Outcome
	Code    string
}

func outcomes(rs []result.Row) []outcome {
	out := make([]outcome, len(rs))
	for i, r := range rs {
		out[i] = outcome{r.Outcome, r.Code}
	}
	return out
}

func repeat(o outcome, n int) []outcome {
	out := make([]outcome, n)
	for i := range out {
		out[i] = o
	}
	return out
}

var deleted = outcome{result.Deleted, ""}

// posts counts the transfer-and-delete submissions per user that reached
// the simulator, and those answered 200.
func posts(t *testing.T, srv *sandbox.Server) (sent, accepted map[string]int) {
	t.Helper()
	sent, accepted = map[string]int{}, map[string]int{}
	for id, statuses := range sandboxtest.Submissions(t, srv) {
		for _, st := range statuses {
			sent[id]++
			if st == 200 {
				accepted[id]++
			}
		}
	}
	return sent, accepted
}

// rowsOf returns the rows a plan gives Run: each step's verdict.
func rowsOf(p *plan.Plan) []result.Row {
	rows := make([]result.Row, len(p.Steps))
	for i, st := range p.Steps {
		rows[i] = result.Row{Line: st.Line, Outcome: st.Outcome, Code: st.Code, Message: st.Message, UserID: st.Request.UserID}
	}
	return rows
}

// runPlan runs p from its plan's verdicts.
func runPlan(ctx context.Context, c Client, p *plan.Plan, opt Options) ([]result.Row, *Stop, error) {
	return Run(ctx, c, p, rowsOf(p), opt)
}

// pollsOf counts the status calls the simulator answered for the job.
func pollsOf(srv *sandbox.Server, jobID string) int {
	n := 0
	for _, r := range srv.Requests() {
		if r.Method == "GET" && strings.Contains(r.RawQuery, "job_id="+jobID) {
			n++
		}
	}
	return n
}

func runSim(t *testing.T, s *sim, p *plan.Plan, opt Options) ([]result.Row, *Stop) {
	t.Helper()
	res, stop, err := Run(t.Context(), s.client, p, rowsOf(p), opt)
	if err != nil {
		t.Fatalf("Run() error = %v, want nil", err)
	}
	if len(res) != len(p.Steps) {
		t.Fatalf("Run() = %d results, want %d", len(res), len(p.Steps))
	}
	return res, stop
}

func TestRunDeletesAndStaysWithinConcurrency(t *testing.T) {
	s := newSim(t, sandbox.Config{ConcurrencyLimit: 3, Latency: 3 * time.Millisecond}, 3)
	users := plain(12)
	p := makePlan(toHeir(users...)...)
	// A row the plan did not plan is copied through untouched.
	p.Steps = append(p.Steps, plan.Step{Index: 12, Line: 14, Outcome: result.Invalid, Code: plan.CodeUserNotFound, Message: "no such user"})
	var changes atomic.Int32
	opt := fast()
	opt.OnChange = func(int, result.Row, bool) { changes.Add(1) }
	res, stop := runSim(t, s, p, opt)
	want := append(repeat(deleted, 12), outcome{result.Invalid, plan.CodeUserNotFound})
	if diff := cmp.Diff(want, outcomes(res)); diff != "" {
		t.Errorf("Run() outcomes (-want +got):\n%s", diff)
	}
	if stop != nil {
		t.Errorf("Run() stop = %+v, want nil", stop)
	}
	if got := s.srv.MaxInFlight(); got > 3 {
		t.Errorf("simulator MaxInFlight() = %d, want ≤ 3 (--concurrency)", got)
	}
	sandboxtest.CheckOneJobPerUser(t, s.srv)
	for _, r := range res[:12] {
		if r.Attempts != 1 || r.JobID == "" || r.JobStatus != zoho.JobCompleted || r.SubmittedAt.IsZero() || r.FinishedAt.IsZero() {
			t.Errorf("result %+v: want 1 attempt, a completed job and both times", r)
		}
	}
	if changes.Load() == 0 {
		t.Error("OnChange was never called")
	}
	calls := 0
	for _, r := range s.srv.Requests() {
		if !r.Token {
			calls++
		}
	}
	polls := s.srv.CountCalls("GET", "/crm/v7/users/actions/transfer_and_delete")
	t.Logf("%d users: %d API calls, %.2f per user, %.2f status polls per job", len(users), calls,
		float64(calls)/float64(len(users)), float64(polls)/float64(len(users)))
}

func TestRunKeepsMaxJobs(t *testing.T) {
	s := newSim(t, sandbox.Config{JobLimit: -1}, 8)
	p := makePlan(toHeir(plain(9)...)...)
	opt := fast()
	opt.MaxJobs = 2
	res, _ := runSim(t, s, p, opt)
	if diff := cmp.Diff(repeat(deleted, 9), outcomes(res)); diff != "" {
		t.Errorf("Run() outcomes (-want +got):\n%s", diff)
	}
	// At no submission were more than two of the run's jobs unfinished.
	jobs := s.srv.Jobs()
	for _, j := range jobs {
		open := 0
		for _, k := range jobs {
			if !k.SubmittedAt.After(j.SubmittedAt) && k.FinishedAt.After(j.SubmittedAt) {
				open++
			}
		}
		if open > 2 {
			t.Errorf("when job %s was submitted, %d jobs were unfinished, want ≤ 2 (--max-jobs)", j.ID, open)
		}
	}
}

func TestRunTooManyRequestsStorm(t *testing.T) {
	s := newSim(t, sandbox.Config{}, 4)
	var calls atomic.Int32
	s.srv.SetFaults(func(c sandbox.Call) sandbox.Fault {
		// Two calls in three answered 429 for the first 40 API calls.
		if !strings.HasPrefix(c.Path, "/crm/") {
			return sandbox.NoFault
		}
		if n := calls.Add(1); n <= 40 && n%3 != 0 {
			return sandbox.TooManyRequests
		}
		return sandbox.NoFault
	})
	p := makePlan(toHeir(plain(6)...)...)
	res, stop := runSim(t, s, p, fast())
	if diff := cmp.Diff(repeat(deleted, 6), outcomes(res)); diff != "" {
		t.Errorf("Run() outcomes (-want +got):\n%s", diff)
	}
	if stop != nil {
		t.Errorf("Run() stop = %+v, want nil", stop)
	}
	sandboxtest.CheckOneJobPerUser(t, s.srv)
	var throttled int
	for _, r := range s.srv.Requests() {
		if r.Status == 429 {
			throttled++
		}
	}
	if throttled == 0 {
		t.Error("no 429 answered; the storm did not happen")
	}
}

// TestDurationsBracketTheLength: jobs alike bracket the next one's
// length, and each first poll splits the bracket until it is tight, then
// comes at its top; lengths spread are polled from their median, ever
// less often.
func TestDurationsBracketTheLength(t *testing.T) {
	const s = time.Second
	d := newDurations(0, s/4, 10*time.Minute)
	if d.known() || d.firstPoll() != 0 {
		t.Fatalf("a new run knows nothing: known %v, firstPoll %v", d.known(), d.firstPoll())
	}
	// The probe: polled from PollMin, each wait half its age.
	if got := d.nextPoll(4 * s); got != 2*s {
		t.Errorf("probe nextPoll(4s) = %v, want 2s", got)
	}
	d.observe(4*s, 6*s) // unfinished at 4 s, done at 6 s
	steps := []struct {
		name   string
		lo, hi time.Duration
		want   time.Duration
	}{
		{"after the probe: split (4 s, 6 s]", 0, 0, 4898979485},
		{"done at 4.9 s: split (4 s, 4.9 s]", 0, 4900 * time.Millisecond, 4427188724},
		{"unfinished at 4.43 s: split (4.43 s, 4.9 s]", 4427 * time.Millisecond, 4900 * time.Millisecond, 4657499329},
		{"done at 4.66 s: (4.43 s, 4.66 s] is tight, 3 % past its top", 0, 4660 * time.Millisecond, 4799800000},
	}
	for _, st := range steps {
		if st.hi > 0 {
			d.observe(st.lo, st.hi)
		}
		if got := d.firstPoll(); got != st.want {
			t.Errorf("%s: firstPoll = %v, want %v", st.name, got, st.want)
		}
	}
	// A job unfinished at 4.4 s: polled next 3 % past the top, 4.8 s.
	if got := d.nextPoll(4400 * time.Millisecond); got != 399800*time.Microsecond {
		t.Errorf("nextPoll(4.4s) inside the bracket = %v, want 399.8ms (to 4.7998 s)", got)
	}
	// A job past the top is most likely a little late: the next look
	// doubles how far past it is, 5 s → 5.34 s.
	if got := d.nextPoll(5 * s); got != 340*time.Millisecond {
		t.Errorf("nextPoll(5s) past the bracket = %v, want 340ms", got)
	}
	// Half-second jobs alike: a job 40 ms past their top is due any
	// moment, and its slot idles until it is seen ended; it is looked at
	// again in 50 ms (a fifth of PollMin), not PollMin's 250 ms, half a
	// job.
	half := newDurations(0, s/4, 10*time.Minute)
	half.observe(440*time.Millisecond, 460*time.Millisecond)
	if got := half.nextPoll(500 * time.Millisecond); got != 50*time.Millisecond {
		t.Errorf("half-second jobs: nextPoll(500ms) past the bracket = %v, want 50ms", got)
	}
	// A job far past the top is not like the others: its polls grow by 40 %.
	if got := d.nextPoll(10 * s); got != 3999999999 {
		t.Errorf("nextPoll(10s) past the bracket = %v, want 4s", got)
	}
	// Lengths spread: brackets that disagree. The median of the points.
	spread := newDurations(0, s/4, 10*time.Minute)
	for _, b := range [][2]time.Duration{{s, 2 * s}, {8 * s, 10 * s}, {0, 3 * s}} {
		spread.observe(b[0], b[1])
	}
	// Points: √2 s ≈ 1.41 s, √80 s ≈ 8.94 s, 2 s (two thirds of 3 s).
	if got := spread.firstPoll(); got != 2*s {
		t.Errorf("spread: firstPoll = %v, want 2s, the median", got)
	}
	// Only a job alike past the top may come sooner than PollMin: the
	// probe and spread lengths keep it.
	if got := newDurations(0, s/4, 10*time.Minute).nextPoll(s / 4); got != s/4 {
		t.Errorf("probe: nextPoll(250ms) = %v, want PollMin (250ms)", got)
	}
	if got := spread.nextPoll(s / 10); got != s/4 {
		t.Errorf("spread: nextPoll(100ms) = %v, want PollMin (250ms)", got)
	}
	if got := spread.nextPoll(time.Hour); got != 10*time.Minute {
		t.Errorf("spread: nextPoll(1h) = %v, want 10m (PollMax)", got)
	}
	// Jobs all done at their first poll: one looks 10 % below; the
	// others meanwhile just past the top.
	hits := newDurations(0, s/4, 10*time.Minute)
	hits.observe(0, 3*s)
	if got := hits.firstPoll(); got != 2700*time.Millisecond {
		t.Errorf("hits only: firstPoll = %v, want 2.7s", got)
	}
	if got := hits.firstPoll(); got != 3090*time.Millisecond {
		t.Errorf("hits only, a test under way: firstPoll = %v, want 3.09s", got)
	}
	// An earlier run's guess is a loose bracket: (4 s, 9 s] for 6 s.
	if got := newDurations(6*s, s/4, 10*time.Minute).firstPoll(); got != 6*s {
		t.Errorf("guess 6s: firstPoll = %v, want 6s (the middle of (4s, 9s])", got)
	}
}

func TestRunJobLimitHeldByAnotherAdmin(t *testing.T) {
	s := newSim(t, sandbox.Config{JobLimit: 3}, 4)
	s.srv.HoldJobSlots(2, 150*time.Millisecond) // another admin's jobs
	p := makePlan(toHeir(plain(5)...)...)
	res, stop := runSim(t, s, p, fast())
	if diff := cmp.Diff(repeat(deleted, 5), outcomes(res)); diff != "" {
		t.Errorf("Run() outcomes (-want +got):\n%s", diff)
	}
	if stop != nil {
		t.Errorf("Run() stop = %+v, want nil", stop)
	}
	sandboxtest.CheckOneJobPerUser(t, s.srv)
	retried := 0
	for _, r := range res {
		retried += r.Attempts - 1
	}
	if retried == 0 {
		t.Error("no submission was retried; the job limit was never hit")
	}
}

func TestRunTokenExpiresMidRun(t *testing.T) {
	s := newSim(t, sandbox.Config{}, 4)
	s.srv.SetFaults(func(c sandbox.Call) sandbox.Fault {
		if c.Method == "POST" && strings.HasPrefix(c.Path, "/crm/") && c.Seq == 3 {
			s.srv.ExpireAccessTokens()
		}
		return sandbox.NoFault
	})
	p := makePlan(toHeir(plain(6)...)...)
	res, stop := runSim(t, s, p, fast())
	if diff := cmp.Diff(repeat(deleted, 6), outcomes(res)); diff != "" {
		t.Errorf("Run() outcomes (-want +got):\n%s", diff)
	}
	if stop != nil {
		t.Errorf("Run() stop = %+v, want nil", stop)
	}
	if got := s.client.TokenRequests(); got != 2 {
		t.Errorf("token requests = %d, want 2 (one refresh shared by every worker)", got)
	}
	sandboxtest.CheckOneJobPerUser(t, s.srv)
}

func count(rs []result.Row) map[outcome]int {
	m := map[outcome]int{}
	for _, r := range rs {
		m[outcome{r.Outcome, r.Code}]++
	}
	return m
}

func TestRunRefreshTokenRevoked(t *testing.T) {
	s := newSim(t, sandbox.Config{JobDuration: time.Second}, 4)
	_, _, refresh := s.srv.Credentials()
	s.srv.SetFaults(func(c sandbox.Call) sandbox.Fault {
		if c.Method == "POST" && strings.HasPrefix(c.Path, "/crm/") && c.Seq == 3 {
			s.srv.RevokeRefreshToken(refresh)
		}
		return sandbox.NoFault
	})
	p := makePlan(toHeir(plain(6)...)...)
	opt := fast()
	opt.MaxJobs = 3
	res, stop := runSim(t, s, p, opt)
	if stop == nil || !stop.Fatal || !strings.Contains(stop.Reason, "refresh token") {
		t.Errorf("Run() stop = %+v, want a fatal stop naming the refresh token", stop)
	}
	// Jobs submitted before the revocation cannot be followed without
	// credentials: they stay submitted; nothing else was sent.
	jobs := len(s.srv.Jobs())
	want := map[outcome]int{{result.Submitted, ""}: jobs, {result.NotRun, ""}: 6 - jobs}
	if diff := cmp.Diff(want, count(res)); diff != "" {
		t.Errorf("Run() outcome counts (-want +got):\n%s", diff)
	}
	if sent, _ := posts(t, s.srv); len(sent) > 3 {
		t.Errorf("users submitted = %d, want ≤ 3: nothing after the refresh token was refused", len(sent))
	}
}

func TestRunFollowsSubmittedJobsAfterStop(t *testing.T) {
	s := newSim(t, sandbox.Config{JobDuration: 100 * time.Millisecond}, 4)
	s.srv.SetFaults(func(c sandbox.Call) sandbox.Fault {
		if c.Method == "POST" && strings.HasPrefix(c.Path, "/crm/") && c.Seq == 3 {
			s.srv.SetScopes("ZohoCRM.users.READ") // reads still work; submissions are refused
		}
		return sandbox.NoFault
	})
	p := makePlan(toHeir(plain(6)...)...)
	opt := fast()
	opt.MaxJobs = 3
	opt.BreakerThreshold = 1
	res, stop := runSim(t, s, p, opt)
	if stop == nil || stop.Fatal || !strings.Contains(stop.Reason, zoho.CodeScopeMismatch) {
		t.Errorf("Run() stop = %+v, want the breaker naming %s", stop, zoho.CodeScopeMismatch)
	}
	// The jobs submitted before the refusal were followed to the end,
	// although submitting had stopped while they ran.
	jobs := len(s.srv.Jobs())
	want := map[outcome]int{deleted: jobs, {result.Failed, zoho.CodeScopeMismatch}: 3 - jobs, {result.NotRun, ""}: 3}
	if diff := cmp.Diff(want, count(res)); diff != "" {
		t.Errorf("Run() outcome counts (-want +got):\n%s", diff)
	}
	if jobs == 0 {
		t.Error("no job was submitted before the refusal")
	}
}

// TestRunLostSubmissionWaitsForItsJob loses the answer to a submission
// that Zoho took: the runner reads the user a job's length later, finds
// the user deleted, and never sends the user again.
func TestRunLostSubmissionWaitsForItsJob(t *testing.T) {
	s := newSim(t, sandbox.Config{JobDuration: 40 * time.Millisecond}, 4)
	users := plain(2)
	s.srv.SetFaults(func(c sandbox.Call) sandbox.Fault {
		if c.Method == "POST" && strings.Contains(string(c.Body), users[0]) {
			return sandbox.DropAfterCommit
		}
		return sandbox.NoFault
	})
	opt := fast()
	opt.JobDuration = 80 * time.Millisecond // the first guess: longer than the job
	res, _ := runSim(t, s, makePlan(toHeir(users...)...), opt)
	if diff := cmp.Diff([]outcome{{result.Deleted, CodeReconciled}, deleted}, outcomes(res)); diff != "" {
		t.Errorf("Run() outcomes (-want +got):\n%s", diff)
	}
	if sent, _ := posts(t, s.srv); sent[users[0]] != 1 {
		t.Errorf("submissions of the user whose answer was lost = %d, want 1", sent[users[0]])
	}
	if reads := s.srv.CountCalls("GET", "/crm/v7/users/"+users[0]); reads == 0 {
		t.Error("the user whose answer was lost was never read")
	}
}

func TestRunDroppedAfterCommitReconciled(t *testing.T) {
	s := newSim(t, sandbox.Config{}, 4)
	users := plain(2)
	s.srv.SetFaults(func(c sandbox.Call) sandbox.Fault {
		switch {
		case c.Method == "POST" && strings.Contains(string(c.Body), users[0]):
			return sandbox.DropAfterCommit
		case c.Method == "GET" && c.Path == "/crm/v7/users/"+users[0] && c.Seq == 1:
			time.Sleep(60 * time.Millisecond) // the job ends while the check is in flight
		}
		return sandbox.NoFault
	})
	res, _ := runSim(t, s, makePlan(toHeir(users...)...), fast())
	if diff := cmp.Diff([]outcome{{result.Deleted, CodeReconciled}, deleted}, outcomes(res)); diff != "" {
		t.Errorf("Run() outcomes (-want +got):\n%s", diff)
	}
	if sent, _ := posts(t, s.srv); sent[users[0]] != 1 {
		t.Errorf("submissions of the reconciled user = %d, want 1 (never again once seen deleted)", sent[users[0]])
	}
}

func jobIndex(srv *sandbox.Server, user string) int {
	for i, j := range srv.Jobs() {
		if j.UserID == user {
			return i
		}
	}
	return -1
}

func TestRunFailedJobAndItsDependent(t *testing.T) {
	s := newSim(t, sandbox.Config{}, 4)
	ravi := demo(424) // the demo org fails Ravi Patel's job
	p := makePlan(row{user: ravi, to: heir}, row{user: demo(425), to: ravi, after: []int{0}}, row{user: demo(417), to: heir})
	res, stop := runSim(t, s, p, fast())
	want := []outcome{{result.Failed, CodeJobFailed}, {result.NotRun, ""}, deleted}
	if diff := cmp.Diff(want, outcomes(res)); diff != "" {
		t.Errorf("Run() outcomes (-want +got):\n%s", diff)
	}
	if stop != nil {
		t.Errorf("Run() stop = %+v, want nil", stop)
	}
	if !strings.Contains(res[0].Message, "approval process") || res[0].JobStatus != zoho.JobFailed {
		t.Errorf("failed job message = %q (status %q), want Zoho's reason and status failed", res[0].Message, res[0].JobStatus)
	}
	if !strings.Contains(res[1].Message, "row 2") {
		t.Errorf("dependent message = %q, want it to name row 2", res[1].Message)
	}
	if sent, _ := posts(t, s.srv); sent[demo(425)] != 0 {
		t.Error("the dependent of a failed job was submitted")
	}
}

func TestRunChain(t *testing.T) {
	s := newSim(t, sandbox.Config{}, 4)
	a, b, c := demo(417), demo(418), demo(419)
	// Listed so that input order alone would be wrong; Order fixes it.
	p := makePlan(row{user: c, to: heir, after: []int{1}}, row{user: b, to: c, after: []int{2}}, row{user: a, to: b})
	p.Order = []int{2, 1, 0}
	res, _ := runSim(t, s, p, fast())
	if diff := cmp.Diff(repeat(deleted, 3), outcomes(res)); diff != "" {
		t.Errorf("Run() outcomes (-want +got):\n%s", diff)
	}
	jobs := s.srv.Jobs()
	for _, pair := range [][2]string{{a, b}, {b, c}} {
		first, then := jobs[jobIndex(s.srv, pair[0])], jobs[jobIndex(s.srv, pair[1])]
		if then.SubmittedAt.Before(first.FinishedAt) {
			t.Errorf("job of %s submitted at %v, before the job of %s finished at %v", pair[1], then.SubmittedAt, pair[0], first.FinishedAt)
		}
	}
	if got := s.srv.RecordsOwnedBy(heir); got == 0 {
		t.Error("no records reached the end of the chain")
	}
}

func TestRunNoWait(t *testing.T) {
	s := newSim(t, sandbox.Config{}, 4)
	p := makePlan(row{user: demo(417), to: heir}, row{user: demo(418), to: demo(419)}, row{user: demo(419), to: heir, after: []int{1}})
	opt := fast()
	opt.NoWait = true
	res, _ := runSim(t, s, p, opt)
	// Row 1 is followed anyway: row 2 may only go once it completed.
	want := []outcome{{result.Submitted, ""}, deleted, {result.Submitted, ""}}
	if diff := cmp.Diff(want, outcomes(res)); diff != "" {
		t.Errorf("Run() outcomes (-want +got):\n%s", diff)
	}
	if res[0].JobID == "" || pollsOf(s.srv, res[0].JobID) != 0 || pollsOf(s.srv, res[2].JobID) != 0 {
		t.Errorf("--no-wait results %+v, %+v: want a job ID and no polls", res[0], res[2])
	}
}

func TestRunJobTimeout(t *testing.T) {
	s := newSim(t, sandbox.Config{JobDuration: time.Hour}, 4)
	opt := fast()
	opt.JobTimeout = 80 * time.Millisecond
	res, _ := runSim(t, s, makePlan(toHeir(plain(2)...)...), opt)
	if diff := cmp.Diff(repeat(outcome{result.Submitted, ""}, 2), outcomes(res)); diff != "" {
		t.Errorf("Run() outcomes (-want +got):\n%s", diff)
	}
	if !strings.Contains(res[0].Message, "job-timeout") {
		t.Errorf("message = %q, want it to name --job-timeout", res[0].Message)
	}
}

func TestRunBreakerTripsOnNoPermission(t *testing.T) {
	s := newSim(t, sandbox.Config{}, 4)
	s.srv.SetCaller(demo(412)) // an administrator, but not the super admin
	p := makePlan(toHeir(plain(8)...)...)
	opt := fast()
	opt.MaxJobs = 1
	res, stop := runSim(t, s, p, opt)
	want := append(repeat(outcome{result.Failed, zoho.CodeNoPermission}, 5), repeat(outcome{result.NotRun, ""}, 3)...)
	if diff := cmp.Diff(want, outcomes(res)); diff != "" {
		t.Errorf("Run() outcomes (-want +got):\n%s", diff)
	}
	if stop == nil || stop.Fatal || !strings.Contains(stop.Reason, zoho.CodeNoPermission) {
		t.Errorf("Run() stop = %+v, want a non-fatal stop naming NO_PERMISSION", stop)
	}
	if !strings.Contains(res[0].Message, "super admin") {
		t.Errorf("message = %q, want it to say what to do", res[0].Message)
	}
	if !strings.Contains(res[7].Message, zoho.CodeNoPermission) {
		t.Errorf("not_run message = %q, want it to say why", res[7].Message)
	}
}

func TestRunRowRefusalGoesOn(t *testing.T) {
	s := newSim(t, sandbox.Config{}, 4)
	ellen := demo(436) // deleted in the demo org
	p := makePlan(row{user: demo(417), to: heir}, row{user: demo(418), to: ellen}, row{user: demo(419), to: heir})
	res, stop := runSim(t, s, p, fast())
	want := []outcome{deleted, {result.Failed, zoho.CodeInvalidData}, deleted}
	if diff := cmp.Diff(want, outcomes(res)); diff != "" {
		t.Errorf("Run() outcomes (-want +got):\n%s", diff)
	}
	if stop != nil {
		t.Errorf("Run() stop = %+v, want nil", stop)
	}
	if !strings.Contains(res[1].Message, "active user") {
		t.Errorf("message = %q, want advice to pick an active target", res[1].Message)
	}
}

func TestRunCreditsExhausted(t *testing.T) {
	s := newSim(t, sandbox.Config{DailyCredits: 7}, 4)
	p := makePlan(toHeir(plain(6)...)...)
	opt := fast()
	opt.MaxJobs = 1
	res, stop := runSim(t, s, p, opt)
	if stop == nil || stop.Fatal || !strings.Contains(stop.Reason, "credits") {
		t.Errorf("Run() stop = %+v, want a non-fatal stop about credits", stop)
	}
	// The jobs are followed while credits last, and their users read
	// back: once Zoho says how many credits are left, and they are few,
	// the users are not gathered.
	counts := map[result.Outcome]int{}
	for _, r := range res {
		counts[r.Outcome]++
		if r.JobStatus == zoho.JobCompleted && r.Outcome != result.Deleted && !strings.Contains(r.Message, "completed") {
			t.Errorf("row %d: %s %q; its job completed: want deleted, or a message saying so", r.Line, r.Outcome, r.Message)
		}
	}
	if counts[result.Failed] != 0 || counts[result.NotRun] == 0 || counts[result.Deleted] == 0 {
		t.Errorf("Run() outcome counts = %v, want some deleted, some not_run, none failed", counts)
	}
}

func TestRunCancelled(t *testing.T) {
	s := newSim(t, sandbox.Config{}, 4)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	s.srv.SetFaults(func(c sandbox.Call) sandbox.Fault {
		if c.Method == "POST" && c.Seq == 2 {
			cancel()
		}
		return sandbox.NoFault
	})
	p := makePlan(toHeir(plain(6)...)...)
	opt := fast()
	opt.MaxJobs = 1
	res, stop, err := Run(ctx, s.client, p, rowsOf(p), opt)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Run() error = %v, want context.Canceled", err)
	}
	if stop == nil || !strings.Contains(stop.Reason, "interrupted") {
		t.Errorf("Run() stop = %+v, want interrupted", stop)
	}
	// The job in flight when ctx ended was still followed to the end.
	want := append(repeat(deleted, 2), repeat(outcome{result.NotRun, ""}, 4)...)
	if diff := cmp.Diff(want, outcomes(res)); diff != "" {
		t.Errorf("Run() outcomes (-want +got):\n%s", diff)
	}
}

// fake is an in-process Client for answers the simulator cannot give.
type fake struct {
	mu     sync.Mutex
	status string
}

func (f *fake) TransferAndDelete(_ context.Context, req zoho.TransferRequest, beforeSend func(error) error) (zoho.Job, error) {
	if beforeSend != nil {
		if err := beforeSend(nil); err != nil {
			return zoho.Job{}, &zoho.NotSentError{Method: "POST", Path: "/crm/v7/users/actions/transfer_and_delete", Err: err}
		}
	}
	return zoho.Job{ID: "9000000000000000001", UserID: req.UserID}, nil
}

func (f *fake) JobStatus(context.Context, string) (zoho.JobStatus, error) {
	return zoho.JobStatus{Status: zoho.JobCompleted}, nil
}

func (f *fake) User(_ context.Context, id string) (zoho.User, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return zoho.User{ID: zoho.ID(id), Status: f.status}, nil
}

func TestRunNotDeletedAfterCompletedJob(t *testing.T) {
	f := &fake{status: zoho.StatusActive}
	res, _, err := runPlan(t.Context(), f, makePlan(toHeir(demo(417))...), fast())
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]outcome{{result.Failed, CodeNotDeleted}}, outcomes(res)); diff != "" {
		t.Errorf("Run() outcomes (-want +got):\n%s", diff)
	}
}

func TestRefusalMessages(t *testing.T) {
	tests := []struct {
		err      error
		code     string
		contains string
	}{
		{&zoho.APIError{HTTPStatus: 403, Code: "NO_PERMISSION", Message: "Only super admin"}, "NO_PERMISSION", "super admin"},
		{&zoho.APIError{HTTPStatus: 400, Code: "INVALID_DATA", Message: "target inactive",
			Details: map[string]any{"owner_status": "inactive"}}, "INVALID_DATA", "(the user or a target) is inactive"},
		{&zoho.APIError{HTTPStatus: 400, Code: "INVALID_DATA", Message: "bad id"}, "INVALID_DATA", "fix the row"},
		{&zoho.APIError{HTTPStatus: 400, Code: "NOT_ALLOWED", Message: "no"}, "NOT_ALLOWED", "change the row's targets"},
		{errors.New("zoho: bad id"), "SUBMIT_ERROR", "not sent"},
		// An org that wants a transfer with every deletion, in each shape
		// it may say so: the simulator's, the v8 OpenAPI's, a path only.
		{&zoho.APIError{HTTPStatus: 400, Code: "MANDATORY_NOT_FOUND", Message: "required field not found",
			Details: map[string]any{"api_name": "transfer"}}, "MANDATORY_NOT_FOUND", "add a transfer_to"},
		{&zoho.APIError{HTTPStatus: 400, Code: "MANDATORY_NOT_FOUND", Message: "required field not found",
			Details: map[string]any{"api_name": "id", "parent_api_name": "transfer", "json_path": "$.transfer_and_delete.transfer.id"}}, "MANDATORY_NOT_FOUND", "add a transfer_to"},
		{&zoho.APIError{HTTPStatus: 400, Code: "MANDATORY_NOT_FOUND", Message: "required field not found",
			Details: map[string]any{"json_path": "$.transfer_and_delete[0].transfer"}}, "MANDATORY_NOT_FOUND", "add a transfer_to"},
		{&zoho.APIError{HTTPStatus: 400, Code: "MANDATORY_NOT_FOUND", Message: "required field not found",
			Details: map[string]any{"api_name": "id", "json_path": "$.transfer_and_delete.id"}}, "MANDATORY_NOT_FOUND", "fix the cause"},
	}
	for _, tt := range tests {
		code, msg := refusal(tt.err)
		if code != tt.code || !strings.Contains(msg, tt.contains) {
			t.Errorf("refusal(%v) = %q, %q; want %q and a message containing %q", tt.err, code, msg, tt.code, tt.contains)
		}
	}
}

// TestRunReadBackOutlastsThrottling answers the read-back of a deleted
// user with ten 429s in a row: the row still ends deleted, since a 429
// only says "later".
func TestRunReadBackOutlastsThrottling(t *testing.T) {
	s := newSim(t, sandbox.Config{}, 4)
	var reads atomic.Int32
	s.srv.SetFaults(func(c sandbox.Call) sandbox.Fault {
		one := strings.HasPrefix(c.Path, "/crm/v7/users/") && !strings.Contains(c.Path, "/actions/")
		many := c.Path == "/crm/v7/users" && c.Query.Has("ids")
		if c.Method != "GET" || !one && !many {
			return sandbox.NoFault
		}
		if reads.Add(1) <= 10 {
			return sandbox.TooManyRequests
		}
		return sandbox.NoFault
	})
	res, stop := runSim(t, s, makePlan(toHeir(plain(1)...)...), fast())
	if diff := cmp.Diff([]outcome{deleted}, outcomes(res)); diff != "" || stop != nil {
		t.Errorf("Run() outcomes (-want +got):\n%s\nstop %+v; message %q", diff, stop, res[0].Message)
	}
	if n := reads.Load(); n != 11 {
		t.Errorf("user reads = %d, want 10 refused and 1 answered", n)
	}
}
