package main

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/rs/zerolog"

	"offboard/journal"
	"offboard/plan"
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
		return plan.Step{Outcome: plan.Planned, User: user(id), Request: zoho.TransferRequest{UserID: id}}
	}
	gone := func(id string) plan.Step {
		return plan.Step{Outcome: plan.Skipped, Code: plan.CodeAlreadyDeleted, Message: "already deleted.", User: user(id)}
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
		0: {Final: &journal.Record{Outcome: "deleted", JobID: "j0", JobStatus: "completed", Attempts: 1, SubmittedAt: at, FinishedAt: at}, JobID: "j0", Attempts: 1},
		1: {Final: &journal.Record{Outcome: "failed", Code: "INVALID_DATA", Message: "refused", Attempts: 1, FinishedAt: at}, Attempts: 1},
		2: {JobID: "j2", JobStatus: "in_progress", Attempts: 1, SubmittedAt: at},
		3: {InDoubt: true, Attempts: 2, DoubtSince: at},
		4: {InDoubt: true, Attempts: 1, DoubtSince: at},
		5: {Final: &journal.Record{Outcome: "not_run", Message: "interrupted"}},
	}}
	rp := applyJournal(p, st, true, false, nil, now)

	wantResume := map[int]runner.Resume{
		2: {JobID: "j2", SubmittedAt: at, Attempts: 1},
		3: {InDoubt: true, Attempts: 2, DoubtSince: at},
	}
	if diff := cmp.Diff(wantResume, rp.resume); diff != "" {
		t.Errorf("resume (-want +got):\n%s", diff)
	}
	wantCarried := map[int]runner.Result{
		0: {Index: 0, Outcome: plan.Deleted, JobID: "j0", JobStatus: "completed", Attempts: 1, SubmittedAt: at, FinishedAt: at, Final: true},
		1: {Index: 1, Outcome: plan.Failed, Code: "INVALID_DATA", Message: "refused", Attempts: 1, FinishedAt: at, Final: true},
		4: {Index: 4, Outcome: plan.Deleted, Code: runner.CodeReconciled, Attempts: 1, FinishedAt: now, Final: true,
			Message: "the answer to an earlier submission was lost; the user was then found deleted"},
	}
	if diff := cmp.Diff(wantCarried, rp.carried); diff != "" {
		t.Errorf("carried (-want +got):\n%s", diff)
	}
	// The runner submits or follows rows 2, 3, 5 and 6 only; 2 is
	// followed although the live org shows its user deleted.
	if diff := cmp.Diff([]int{3, 5, 6, 2}, p.Order); diff != "" {
		t.Errorf("order (-want +got):\n%s", diff)
	}
	if p.Steps[2].Outcome != plan.Planned || p.Steps[2].Request.UserID != "u2" {
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
		{Outcome: plan.Skipped, Code: plan.CodeAlreadyDeleted, Message: "already deleted.", User: user("u0")},
		{Outcome: plan.Planned, User: user("u1"), Request: zoho.TransferRequest{UserID: "u1"}},
		{Outcome: plan.Planned, User: user("u2"), Request: zoho.TransferRequest{UserID: "u2"}},
		{Outcome: plan.Planned, User: user("u3"), Request: zoho.TransferRequest{UserID: "u3"}},
	}, Order: []int{1, 2, 3}}
	st := journal.State{Start: &journal.Record{}, Finished: true, Users: map[string]*journal.UserState{
		"u0": {InputFile: "/in/monday.csv", Line: 7, JobID: "j0", Outcome: "deleted", SubmittedAt: at},
		"u1": {InputFile: "monday.csv", Line: 8, JobID: "j1", Outcome: "submitted", SubmittedAt: at},
		"u2": {InputFile: "monday.csv", Line: 9, Outcome: "failed", Code: runner.CodeOutcomeUnknown, DoubtSince: at},
		"u3": {InputFile: "monday.csv", Line: 10, Outcome: "failed", Code: "JOB_FAILED", JobID: "j3"},
	}}
	rp := applyJournal(p, st, false, true, nil, at)
	if diff := cmp.Diff(map[int]runner.Resume{1: {JobID: "j1", SubmittedAt: at}, 2: {InDoubt: true, DoubtSince: at}}, rp.resume); diff != "" {
		t.Errorf("resume (-want +got):\n%s", diff)
	}
	got := rp.carried[0]
	want := runner.Result{Index: 0, Outcome: plan.Skipped, Code: plan.CodeAlreadyDeleted, JobID: "j0", JobStatus: zoho.JobCompleted, SubmittedAt: at, Final: true,
		Message: "already deleted (deleted by job j0, submitted on 2026-12-01T02:00:00Z by an earlier run of this journal: monday.csv row 7)"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("row 0 (-want +got):\n%s", diff)
	}
	if len(rp.carried) != 1 {
		t.Errorf("carried %v, want row 0 only (u3's job failed: it is submitted again)", rp.carried)
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
	rec := newRecorder(j, zerolog.Nop(), steps)
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
}
