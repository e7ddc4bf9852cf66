package offboarding

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/rs/zerolog"

	"offboard/input"
	"offboard/journal"
	"offboard/plan"
	"offboard/result"
	"offboard/runner"
	"offboard/zoho"
)

// TestApplyJournal fits a plan built from the live org to what an
// interrupted run of the same sheet recorded, row by row.
func TestApplyJournal(t *testing.T) {
	now := time.Date(2026, 12, 2, 3, 0, 0, 0, time.UTC)
	at := now.Add(-time.Hour)
	user := func(id string) *zoho.User { return &zoho.User{ID: zoho.ID(id)} }
	planned := func(id string) plan.Step {
		return plan.Step{Outcome: result.Planned, User: user(id), Request: zoho.TransferRequest{UserID: id}}
	}
	gone := func(id string) plan.Step {
		return plan.Step{Outcome: result.Skipped, Code: plan.CodeAlreadyDeleted, Message: "already deleted.", User: user(id)}
	}
	// The live org, now: users 0, 2 and 4 were deleted while offboard was
	// not running.
	p := &plan.Plan{Steps: []plan.Step{
		gone("u0"),    // settled: deleted, job j0
		planned("u1"), // settled: failed, refused by Zoho
		gone("u2"),    // job j2 was running: still followed
		planned("u3"), // sent, no answer, user still active: checked first
		gone("u4"),    // sent, no answer, user gone: reconciled
		planned("u5"), // not_run: planned afresh
		planned("u6"), // never touched
	}, Order: []int{1, 3, 5, 6}}
	for i := range p.Steps {
		p.Steps[i].Index, p.Steps[i].Line = i, i+2
	}
	st := journal.State{Start: &journal.Record{Kind: journal.KindStart}, Rows: map[int]*journal.RowState{
		0: {Final: &result.Row{Line: 2, Outcome: "deleted", JobID: "j0", JobStatus: "completed", Attempts: 1, SubmittedAt: at, FinishedAt: at}, JobID: "j0", Attempts: 1},
		1: {Final: &result.Row{Line: 3, Outcome: "failed", Code: "INVALID_DATA", Message: "refused", Attempts: 1, FinishedAt: at}, Attempts: 1},
		2: {JobID: "j2", JobStatus: "in_progress", Attempts: 1, SubmittedAt: at},
		3: {InDoubt: true, Attempts: 2, DoubtSince: at, DoubtWindow: time.Hour, Host: thisHost},
		4: {InDoubt: true, Attempts: 1, DoubtSince: at, Host: thisHost},
		5: {Final: &result.Row{Line: 7, Outcome: "not_run", Message: "interrupted"}},
	}}
	rows := rowsOf(p)
	rp := applyJournal(zerolog.Nop(), p, rows, st, time.Time{}, 0, true, false, nil, now)

	wantResume := map[int]runner.Resume{
		2: {JobID: "j2", SubmittedAt: at, Attempts: 1},
		3: {InDoubt: true, Attempts: 2, DoubtSince: at, DoubtWindow: time.Hour},
	}
	if diff := cmp.Diff(wantResume, rp.resume); diff != "" {
		t.Errorf("resume (-want +got):\n%s", diff)
	}
	// Rows the journal settled are its rows; the others are the plan's,
	// row 2's to be followed.
	wantRows := []result.Row{
		{Line: 2, Outcome: result.Deleted, JobID: "j0", JobStatus: "completed", Attempts: 1, SubmittedAt: at, FinishedAt: at},
		{Line: 3, Outcome: result.Failed, Code: "INVALID_DATA", Message: "refused", Attempts: 1, FinishedAt: at},
		{Line: 4, Outcome: result.Planned, UserID: "u2"},
		{Line: 5, Outcome: result.Planned, UserID: "u3"},
		{Line: 6, Outcome: result.Deleted, Code: runner.CodeReconciled, Attempts: 1, FinishedAt: now, UserID: "u4",
			Message: "the answer to an earlier submission was lost; the user was then found deleted"},
		{Line: 7, Outcome: result.Planned, UserID: "u5"},
		{Line: 8, Outcome: result.Planned, UserID: "u6"},
	}
	if diff := cmp.Diff(wantRows, rows); diff != "" {
		t.Errorf("rows (-want +got):\n%s", diff)
	}
	// The runner submits or follows rows 2, 3, 5 and 6 only; 2 is
	// followed although the live org shows its user deleted.
	if diff := cmp.Diff([]int{3, 5, 6, 2}, p.Order); diff != "" {
		t.Errorf("order (-want +got):\n%s", diff)
	}
	if p.Steps[2].Outcome != result.Planned || p.Steps[2].Request.UserID != "u2" {
		t.Errorf("row 2 = %s for %q, want planned for u2 (its job to follow)", p.Steps[2].Outcome, p.Steps[2].Request.UserID)
	}
	if rp.settled != 2 || rp.following != 1 || rp.toSubmit(p) != 3 {
		t.Errorf("settled %d, following %d, to submit %d; want 2, 1, 3", rp.settled, rp.following, rp.toSubmit(p))
	}
}

// TestApplyHistory is a new run on a journal of finished runs: a user an
// earlier run deleted names its job, a job left running is followed, and
// a user whose submission was lost is checked before it is sent again.
func TestApplyHistory(t *testing.T) {
	at := time.Date(2026, 12, 1, 2, 0, 0, 0, time.UTC)
	user := func(id string) *zoho.User { return &zoho.User{ID: zoho.ID(id)} }
	p := &plan.Plan{Steps: []plan.Step{
		{Outcome: result.Skipped, Code: plan.CodeAlreadyDeleted, Message: "already deleted.", User: user("u0")},
		{Outcome: result.Planned, User: user("u1"), Request: zoho.TransferRequest{UserID: "u1"}},
		{Outcome: result.Planned, User: user("u2"), Request: zoho.TransferRequest{UserID: "u2"}},
		{Outcome: result.Planned, User: user("u3"), Request: zoho.TransferRequest{UserID: "u3"}},
	}, Order: []int{1, 2, 3}}
	st := journal.State{Start: &journal.Record{}, Finished: true, Users: map[string]*journal.UserState{
		"u0": {InputFile: "/in/monday.csv", Line: 7, JobID: "j0", Outcome: "deleted", SubmittedAt: at, Jobs: map[string]bool{"j0": true}},
		"u1": {InputFile: "monday.csv", Line: 8, JobID: "j1", Outcome: "submitted", SubmittedAt: at, Jobs: map[string]bool{"j1": false}},
		"u2": {InputFile: "monday.csv", Line: 9, Outcome: "failed", Code: runner.CodeOutcomeUnknown, DoubtSince: at, Host: thisHost,
			Doubts: []journal.Doubt{{Since: at, Host: thisHost}}},
		"u3": {InputFile: "monday.csv", Line: 10, Outcome: "failed", Code: "JOB_FAILED", JobID: "j3", Jobs: map[string]bool{"j3": true}},
	}}
	for i := range p.Steps {
		p.Steps[i].Index, p.Steps[i].Line = i, i+2
	}
	rows := rowsOf(p)
	rp := applyJournal(zerolog.Nop(), p, rows, st, time.Time{}, 0, false, true, nil, at)
	if diff := cmp.Diff(map[int]runner.Resume{1: {JobID: "j1", SubmittedAt: at}, 2: {InDoubt: true, DoubtSince: at}}, rp.resume); diff != "" {
		t.Errorf("resume (-want +got):\n%s", diff)
	}
	want := result.Row{Line: 2, Outcome: result.Skipped, Code: plan.CodeAlreadyDeleted, JobID: "j0", JobStatus: zoho.JobCompleted, SubmittedAt: at, UserID: "u0",
		Message: "already deleted (deleted by job j0, submitted on 2026-12-01T02:00:00Z by an earlier run: monday.csv row 7)"}
	if diff := cmp.Diff(want, rows[0]); diff != "" {
		t.Errorf("row 0 (-want +got):\n%s", diff)
	}
	if rows[3].Outcome != result.Planned || rows[3].JobID != "" {
		t.Errorf("row 3 = %+v, want planned afresh (u3's job failed: it is submitted again)", rows[3])
	}
}

// TestApplyHistoryAndOtherJournals: what the run's own journal and the
// other journals of the directory know of a user is taken together: a
// job seen to end in one is not followed for another, an older settled
// row never hides a newer job.
func TestApplyHistoryAndOtherJournals(t *testing.T) {
	t1 := time.Date(2026, 12, 1, 2, 0, 0, 0, time.UTC)
	t2 := t1.Add(time.Hour)
	user := func(id string) *zoho.User { return &zoho.User{ID: zoho.ID(id)} }
	planned := func(id string) plan.Step {
		return plan.Step{Outcome: result.Planned, User: user(id), Request: zoho.TransferRequest{UserID: id}}
	}
	p := &plan.Plan{Steps: []plan.Step{
		{Outcome: result.Skipped, Code: plan.CodeAlreadyDeleted, Message: "already deleted.", User: user("u0")},
		planned("u1"), planned("u2"), planned("u3"),
	}, Order: []int{1, 2, 3}}
	for i := range p.Steps {
		p.Steps[i].Index, p.Steps[i].Line = i, i+2
	}
	st := journal.State{Start: &journal.Record{}, Finished: true, Users: map[string]*journal.UserState{
		// Failed here first, then submitted again by another run, whose
		// job may still run.
		"u1": {InputFile: "r.csv", Line: 3, Outcome: "failed", Code: "JOB_FAILED", JobID: "j1", Updated: t1, Jobs: map[string]bool{"j1": true}},
		// Left running by another run, then followed here to its failure.
		"u2": {InputFile: "r.csv", Line: 4, Outcome: "failed", Code: "JOB_FAILED", JobID: "j2", Updated: t2, Jobs: map[string]bool{"j2": true}},
	}}
	const other = "/dir/offboard-results-20261201-020000.xlsx.journal"
	others := map[string][]userRecord{
		"u0": {{&journal.UserState{InputFile: "/in/b.csv", Line: 9, JobID: "j0", JobStatus: "in_progress", Outcome: "submitted", SubmittedAt: t1, Updated: t1, Jobs: map[string]bool{"j0": false}}, other, t1}},
		"u1": {{&journal.UserState{InputFile: "b.csv", Line: 3, JobID: "j1b", SubmittedAt: t2, Updated: t2, Jobs: map[string]bool{"j1b": false}}, other, t2}},
		"u2": {{&journal.UserState{InputFile: "b.csv", Line: 4, JobID: "j2", SubmittedAt: t1, Updated: t1, Jobs: map[string]bool{"j2": false}}, other, t1}},
		"u3": {{&journal.UserState{InputFile: "b.csv", Line: 5, InDoubt: true, DoubtSince: t2, DoubtWindow: 2 * time.Hour, Host: thisHost, Updated: t2,
			Doubts: []journal.Doubt{{Since: t2, Host: thisHost, Window: 2 * time.Hour}}}, other, t2}},
	}
	rows := rowsOf(p)
	rp := applyJournal(zerolog.Nop(), p, rows, st, time.Time{}, 0, false, true, others, t2)
	want := map[int]runner.Resume{
		1: {JobID: "j1b", SubmittedAt: t2},
		3: {InDoubt: true, DoubtSince: t2, DoubtWindow: 2 * time.Hour},
	}
	if diff := cmp.Diff(want, rp.resume); diff != "" {
		t.Errorf("resume (-want +got):\n%s", diff)
	}
	if rows[2].Outcome != result.Planned || rp.toSubmit(p) != 2 {
		t.Errorf("row 2 = %s, %d rows to submit; want u2 planned afresh, and u2 and u3 (once its doubt is over) to submit", rows[2].Outcome, rp.toSubmit(p))
	}
	wantMsg := "already deleted (job j0 was submitted for this user on 2026-12-01T02:00:00Z by another run: b.csv row 9, journal offboard-results-20261201-020000.xlsx.journal, which did not see the job end)"
	if rows[0].Message != wantMsg || rows[0].JobStatus != "in_progress" {
		t.Errorf("row 0 = %q, job status %q; want %q, in_progress", rows[0].Message, rows[0].JobStatus, wantMsg)
	}
}

// TestStanding: how things stand for a user does not depend on the
// journals' clocks nor on the order they are read in.
func TestStanding(t *testing.T) {
	now := time.Date(2026, 12, 1, 3, 0, 0, 0, time.UTC)
	early, late := now.Add(-time.Hour), now.Add(-time.Minute)
	rec := func(us journal.UserState, journal string, mtime time.Time) userRecord {
		return userRecord{&us, journal, mtime}
	}
	j2Running := rec(journal.UserState{JobID: "j2", Outcome: "submitted", SubmittedAt: early, Updated: early, Jobs: map[string]bool{"j2": false}}, "b.journal", early)
	j1Running := rec(journal.UserState{JobID: "j1", Outcome: "submitted", SubmittedAt: late, Updated: late, Jobs: map[string]bool{"j1": false}}, "a.journal", late)
	j1Failed := rec(journal.UserState{JobID: "j1", Outcome: "failed", Updated: early, Jobs: map[string]bool{"j1": true}}, "c.journal", early)
	// A journal whose latest record is j1's failure, which kept j3 running
	// and a doubt from before it.
	kept := rec(journal.UserState{JobID: "j1", Outcome: "failed", Updated: late, Jobs: map[string]bool{"j1": true, "j3": false}}, "d.journal", late)
	hereDoubt := rec(journal.UserState{Updated: early, Doubts: []journal.Doubt{{Since: early, Host: thisHost, Window: 10 * time.Minute}}}, "x.journal", early)
	// Another host's doubt, its clock an hour behind: timed from the
	// file's mtime, a minute ago, it outlasts this host's older one.
	thereDoubt := rec(journal.UserState{Updated: early.Add(-time.Hour), Doubts: []journal.Doubt{{Since: early.Add(-time.Hour), Host: "other", Window: 10 * time.Minute}}}, "y.journal", late)
	tests := []struct {
		name       string
		recs       []userRecord
		follow     string
		doubtSince time.Time
	}{
		{"a running job", []userRecord{j2Running}, "j2", time.Time{}},
		{"a job ended elsewhere is not followed, another is", []userRecord{j1Running, j1Failed, j2Running}, "j2", time.Time{}},
		{"the same in another order", []userRecord{j2Running, j1Failed, j1Running}, "j2", time.Time{}},
		{"a job the latest record hides", []userRecord{kept}, "j3", time.Time{}},
		{"all ended", []userRecord{j1Running, j1Failed}, "", time.Time{}},
		{"this host's doubt, on its clock", []userRecord{hereDoubt}, "", early},
		{"two doubts: the one that ends last", []userRecord{hereDoubt, thereDoubt}, "", late},
		{"the same in another order", []userRecord{thereDoubt, hereDoubt}, "", late},
	}
	for _, tt := range tests {
		got := standing(tt.recs, now, 0)
		if got.follow != tt.follow || !got.doubtSince.Equal(tt.doubtSince) || got.doubt != !tt.doubtSince.IsZero() {
			t.Errorf("%s: follow %q, doubt %v since %v; want %q, since %v", tt.name, got.follow, got.doubt, got.doubtSince, tt.follow, tt.doubtSince)
		}
	}
}

// TestFsClock: a file's time is read on this host's clock through a file
// the run has just written: a file server (or a copy) an hour behind
// does not make a doubt look an hour older.
func TestFsClock(t *testing.T) {
	now := time.Date(2026, 12, 1, 3, 0, 0, 0, time.UTC)
	c := fsClock{now: now, fsNow: now.Add(-time.Hour)} // the server an hour behind
	if got, want := c.ours(now.Add(-time.Hour-time.Minute)), now.Add(-time.Minute); !got.Equal(want) {
		t.Errorf("ours(a minute before the server's now) = %v, want %v", got, want)
	}
	if got := (fsClock{now: now}).ours(now); !got.IsZero() {
		t.Errorf("ours() without the file system's now = %v, want zero (unknown)", got)
	}
}

// TestDoubtWithoutAWindow: an older offboard's doubt says no window; it
// is timed with this run's, like the runner does, and so may end last.
func TestDoubtWithoutAWindow(t *testing.T) {
	now := time.Date(2026, 12, 1, 3, 0, 0, 0, time.UTC)
	rec := func(us journal.UserState, mtime time.Time) userRecord { return userRecord{&us, "j", mtime} }
	here := rec(journal.UserState{Doubts: []journal.Doubt{{Since: now.Add(-10 * time.Second), Host: thisHost, Window: 5 * time.Second}}}, time.Time{})
	old := rec(journal.UserState{Doubts: []journal.Doubt{{Since: now.Add(-time.Hour)}}}, now.Add(-2*time.Second))
	got := standing([]userRecord{here, old}, now, 30*time.Second)
	if !got.doubt || !got.doubtSince.Equal(now.Add(-2*time.Second)) {
		t.Errorf("standing = doubt %v since %v; want the older offboard's, since its mtime %v", got.doubt, got.doubtSince, now.Add(-2*time.Second))
	}
}

// TestDoubtSince: a submission in doubt is timed on this host's clock
// when this host recorded it; otherwise from its journal's mtime, or from
// now when that is not known.
func TestDoubtSince(t *testing.T) {
	at := time.Date(2026, 12, 1, 2, 0, 0, 0, time.UTC)
	mtime := at.Add(time.Minute)
	for _, tt := range []struct {
		host  string
		mtime time.Time
		want  time.Time
	}{{thisHost, mtime, at}, {"other-host", mtime, mtime}, {"", mtime, mtime}, {"other-host", time.Time{}, time.Time{}}} {
		if got := doubtSince(journal.Doubt{Since: at, Host: tt.host}, tt.mtime); !got.Equal(tt.want) {
			t.Errorf("doubtSince(host %q, mtime %v) = %v, want %v", tt.host, tt.mtime, got, tt.want)
		}
	}
}

func TestBusyErrorOfAnotherHost(t *testing.T) {
	e := &BusyError{Journal: "/srv/off/a.xlsx.journal", Owner: journal.Owner{PID: 42, Host: "cron-old-1", Started: time.Date(2026, 12, 1, 2, 30, 0, 0, time.UTC)}}
	for _, want := range []string{"pid 42 on host cron-old-1", "is using journal /srv/off/a.xlsx.journal", "if no offboard runs on cron-old-1 any more, remove /srv/off/a.xlsx.journal.lock"} {
		if !strings.Contains(e.Error(), want) {
			t.Errorf("BusyError = %q, want it to say %q", e.Error(), want)
		}
	}
	host, _ := os.Hostname()
	e.Owner.Host = host
	if strings.Contains(e.Error(), "remove") {
		t.Errorf("BusyError of this host's run = %q: a live run's lock is not to be removed", e.Error())
	}
}

func TestJobDuration(t *testing.T) {
	at := time.Date(2026, 12, 1, 2, 0, 0, 0, time.UTC)
	st := journal.State{Users: map[string]*journal.UserState{
		"a": {Outcome: "deleted", SubmittedAt: at, FinishedAt: at.Add(40 * time.Second)},
		"b": {Outcome: "deleted", SubmittedAt: at, FinishedAt: at.Add(50 * time.Second)},
		"c": {Outcome: "deleted", SubmittedAt: at, FinishedAt: at.Add(90 * time.Second)},
		"d": {Outcome: "failed", SubmittedAt: at, FinishedAt: at.Add(time.Second)},    // not a job that ran to its end
		"e": {Outcome: "deleted", Code: runner.CodeReconciled, FinishedAt: at},        // no job known
		"f": {Outcome: "submitted", SubmittedAt: at, FinishedAt: at.Add(time.Minute)}, // not followed
	}}
	if got, want := jobDuration(st), 50*time.Second; got != want {
		t.Errorf("jobDuration() = %v, want %v (the median of the deleted users' jobs)", got, want)
	}
	if got := jobDuration(journal.State{}); got != 0 {
		t.Errorf("jobDuration(empty journal) = %v, want 0", got)
	}
}

// TestRecorderAnswers records what each kind of answer says of a
// submission: a job, a refusal, a lost answer (in doubt), and a submission
// withdrawn before it left (no longer counted).
func TestRecorderAnswers(t *testing.T) {
	path := filepath.Join(t.TempDir(), "run.journal")
	j, _, err := journal.Open(path, journal.Owner{PID: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	steps := []plan.Step{{Request: zoho.TransferRequest{UserID: "u0"}}, {Request: zoho.TransferRequest{UserID: "u1"}},
		{Request: zoho.TransferRequest{UserID: "u2"}}, {Request: zoho.TransferRequest{UserID: "u3"}}}
	rec := newRecorder(j, zerolog.Nop(), steps, map[int]runner.Resume{4: {JobID: "j4"}})
	answers := []error{
		nil,
		&zoho.APIError{HTTPStatus: 400, Code: "INVALID_DATA"},
		&zoho.OutcomeUnknownError{Method: "POST", Err: errors.New("connection reset")},
		&zoho.NotSentError{Method: "POST", Err: context.Canceled},
	}
	for i, err := range answers {
		if rerr := rec.beforeSubmit(i, 1); rerr != nil {
			t.Fatal(rerr)
		}
		job := zoho.Job{}
		if err == nil {
			job.ID = "j0"
		}
		rec.afterSubmit(i, 1, job, err)
	}
	records, err := journal.Read(path)
	if err != nil {
		t.Fatal(err)
	}
	st := journal.Replay(append([]journal.Record{{Kind: journal.KindStart}}, records...))
	type row struct {
		Job      string
		InDoubt  bool
		Attempts int
	}
	got := map[int]row{}
	for i, rs := range st.Rows {
		got[i] = row{rs.JobID, rs.InDoubt, rs.Attempts}
	}
	want := map[int]row{0: {"j0", false, 1}, 1: {"", false, 1}, 2: {"", true, 1}, 3: {"", false, 0}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("rows replayed from the recorded answers (-want +got):\n%s", diff)
	}
	// The jobs that may be running at Zoho, as a second Ctrl-C tells
	// them: the job, the lost answer and the earlier run's job followed.
	if n := rec.running(); n != 3 {
		t.Errorf("running() = %d, want 3", n)
	}
	rec.onChange(0, result.Row{Outcome: result.Deleted}, true)
	rec.onChange(4, result.Row{Outcome: result.Deleted}, true)
	if n := rec.running(); n != 1 {
		t.Errorf("running() after two final results = %d, want 1", n)
	}
	// A job seen completed is not running, though its user is still to
	// be read back.
	rec.onChange(2, result.Row{Outcome: result.Submitted, JobID: "j2", JobStatus: zoho.JobCompleted}, false)
	if n := rec.running(); n != 0 {
		t.Errorf("running() after the last job completed = %d, want 0", n)
	}
}

// rowsOf returns the rows a run of p starts from: each step's verdict.
func rowsOf(p *plan.Plan) []result.Row {
	rows := make([]result.Row, len(p.Steps))
	for i := range p.Steps {
		rows[i] = p.Steps[i].Result(input.Row{Line: p.Steps[i].Line})
	}
	return rows
}
