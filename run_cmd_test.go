package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/xuri/excelize/v2"

	"offboard/journal"
	"offboard/pacer"
	"offboard/runner"
	"offboard/sandbox"
	"offboard/sandbox/sandboxtest"
	"offboard/zoho"
)

// simEnv starts a simulated org and returns what points offboard at it:
// its credentials, and its plain-http accounts URL under the key
// "--accounts-url", which runCmd and startIn put on the command line
// (offboard takes plain http from nowhere else).
func simEnv(t *testing.T, cfg sandbox.Config) (*sandbox.Server, map[string]string) {
	t.Helper()
	srv := sandboxtest.Start(t, cfg)
	environ := sandboxtest.Env(srv)
	environ["--accounts-url"] = srv.URL()
	return srv, environ
}

// TestRunGuardsSendNothing checks every way run refuses to start, with the
// simulator's request log as the proof that nothing was written.
func TestRunGuardsSendNothing(t *testing.T) {
	srv, environ := simEnv(t, sandbox.Config{})
	tests := []struct {
		name string
		args []string
		code int
		msg  string
	}{
		{"max deletes", []string{"--yes", "--max-deletes", "2"}, exitFatal, "more than --max-deletes 2"},
		{"strict", []string{"--yes", "--strict"}, exitIncomplete, "--strict: 9 rows are invalid"},
		{"no terminal, no --yes", nil, exitFatal, "pass --yes"},
		{"dry run", []string{"--yes", "--dry-run"}, exitIncomplete, "dry run"},
		{"bad max jobs", []string{"--yes", "--max-jobs", "11"}, exitUsage, "--max-jobs 11"},
		{"bad concurrency", []string{"--yes", "--concurrency", "40"}, exitUsage, "--concurrency 40"},
	}
	for _, tt := range tests {
		out := filepath.Join(t.TempDir(), "r.xlsx")
		args := append([]string{"run", "--input", "samples/offboarding.csv", "--output", out, "--as-of", "2026-11-28"}, tt.args...)
		code, _, stderr := runCmd(t, environ, args...)
		if code != tt.code || !strings.Contains(stderr, tt.msg) {
			t.Errorf("%s: offboard run = %d, %q; want %d and %q", tt.name, code, stderr, tt.code, tt.msg)
		}
		if n := sandboxtest.Writes(srv); n != 0 {
			t.Fatalf("%s: %d writes reached Zoho, want none", tt.name, n)
		}
	}
}

// TestRunSamples runs the sample sheet end to end against the simulator:
// every planned row is submitted exactly once, the chain runs in order,
// the failing job is reported, and the workbook holds every row.
func TestRunSamples(t *testing.T) {
	srv, environ := simEnv(t, sandbox.Config{JobDuration: 40 * time.Millisecond, ConcurrencyLimit: 5})
	out := filepath.Join(t.TempDir(), "run.xlsx")
	code, stdout, stderr := runCmd(t, environ, "run", "--input", "samples/offboarding.csv", "--output", out,
		"--as-of", "2026-11-28", "--yes", "--log-format", "json", "--concurrency", "3")
	if code != exitIncomplete {
		t.Fatalf("offboard run = %d, want 3 (invalid and failed rows); stdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	want := map[string][2]string{}
	for row, oc := range sampleOutcomes {
		want[row] = oc
		if oc[0] == "planned" {
			want[row] = [2]string{"deleted", ""}
		}
	}
	want["7"] = [2]string{"failed", "JOB_FAILED"} // Ravi Patel's job fails in the sandbox
	got := map[string][2]string{}
	for _, r := range readResults(t, out) {
		got[r["Row"]] = [2]string{r["Outcome"], r["Code"]}
		if r["Outcome"] == "deleted" && (r["Job ID"] == "" || r["Job Status"] != "completed" || r["Attempts"] != "1" || r["Finished At"] == "") {
			t.Errorf("deleted row %s: job %q status %q attempts %q finished %q", r["Row"], r["Job ID"], r["Job Status"], r["Attempts"], r["Finished At"])
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("outcomes by row (-want +got):\n%s", diff)
	}

	submitted := map[string]int{}
	for id, answers := range sandboxtest.Submissions(t, srv) {
		submitted[id] = len(answers)
	}
	if len(submitted) != 6 {
		t.Errorf("users submitted = %d, want the 6 planned", len(submitted))
	}
	for id, n := range submitted {
		if n != 1 {
			t.Errorf("user %s submitted %d times, want once", id, n)
		}
	}
	// Chloe → Zoe → Henrik: each job completes before the next is sent.
	jobs := map[string]sandbox.Job{}
	for _, j := range srv.Jobs() {
		jobs[j.UserID] = j
	}
	chloe, zoe, henrik := jobs["5210498000000425001"], jobs["5210498000000440001"], jobs["5210498000000416001"]
	if !chloe.FinishedAt.Before(zoe.SubmittedAt) || !zoe.FinishedAt.Before(henrik.SubmittedAt) {
		t.Errorf("chain order broken: chloe finished %v, zoe submitted %v finished %v, henrik submitted %v",
			chloe.FinishedAt, zoe.SubmittedAt, zoe.FinishedAt, henrik.SubmittedAt)
	}
	if m := srv.MaxInFlight(); m > 3 {
		t.Errorf("simulator saw %d calls in flight, want at most --concurrency 3", m)
	}
	if !strings.Contains(stdout, "deleted       5") || !strings.Contains(stdout, "failed        1") {
		t.Errorf("run summary:\n%s", stdout)
	}
	if !strings.Contains(stderr, `"outcome":"deleted"`) {
		t.Errorf("JSON logs have no per-row outcome line:\n%s", stderr)
	}
	_, secret, refresh := srv.Credentials()
	if strings.Contains(stdout+stderr, secret) || strings.Contains(stdout+stderr, refresh) {
		t.Errorf("output contains a secret")
	}
}

// TestConfirmOnATerminal drives the confirmation end to end: on a
// terminal, run asks for the number of users to delete; typing it runs,
// anything else sends nothing.
func TestConfirmOnATerminal(t *testing.T) {
	for _, tt := range []struct {
		typed string
		code  int
	}{{"6\n", exitIncomplete}, {"yes\n", exitFatal}, {"", exitFatal}} {
		srv, environ := simEnv(t, sandbox.Config{JobDuration: 40 * time.Millisecond})
		var stdout, stderr bytes.Buffer
		e := env{stdout: &stdout, stderr: &stderr, stdin: strings.NewReader(tt.typed), stdinTTY: true,
			getenv: func(k string) string { return environ[k] }, tuneRun: fastRun}
		out := filepath.Join(t.TempDir(), "r.xlsx")
		code := run(t.Context(), e, []string{"run", "--accounts-url", srv.URL(), "--input", "samples/offboarding.csv", "--output", out, "--as-of", "2026-11-28"})
		if code != tt.code || !strings.Contains(stdout.String(), "About to delete 6 users") || !strings.Contains(stdout.String(), "Type 6 to go ahead") {
			t.Errorf("typed %q: offboard run = %d, stdout %q; want %d after the prompt", tt.typed, code, stdout.String(), tt.code)
		}
		// Before the question: the org by name, ID and API domain, who is
		// deleted and who receives what, and the rows that are not sent,
		// with their reasons.
		asked, _, _ := strings.Cut(stdout.String(), "Type 7 to go ahead")
		for _, want := range []string{
			"Northwind Demo Traders (org 5210498000000000101, " + srv.URL() + ")",
			"row 3: delete Tom Brennan <tom.brennan@northwind-demo.example>, transferring records to Mei Tanaka <mei.tanaka@northwind-demo.example>",
			"row 11: SUPER_ADMIN: ",
			"row 10: NOT_DUE: ",
			"This cannot be undone",
		} {
			if !strings.Contains(asked, want) {
				t.Errorf("typed %q: before the question, stdout lacks %q:\n%s", tt.typed, want, asked)
			}
		}
		if sent := sandboxtest.Writes(srv); (tt.code == exitIncomplete) != (sent > 0) {
			t.Errorf("typed %q: %d submissions sent", tt.typed, sent)
		}
		if tt.code == exitIncomplete {
			// After the run: the rows that need a person, with reasons.
			_, after, _ := strings.Cut(stdout.String(), "Run of offboarding.csv")
			if !strings.Contains(after, "Rows that need you (10):") || !strings.Contains(after, "row 7: failed JOB_FAILED: the job failed") {
				t.Errorf("the run's summary does not list the rows that need attention:\n%s", after)
			}
		}
		if tt.code == exitFatal && !strings.Contains(stderr.String(), "not confirmed; nothing was sent") {
			t.Errorf("typed %q: stderr %q, want it to say nothing was sent", tt.typed, stderr.String())
		}
	}
}

// TestDemo runs what make demo runs, in-process: the whole job on the
// built-in sandbox, and checks the workbook a newcomer would open.
func TestDemo(t *testing.T) {
	out := filepath.Join(t.TempDir(), "demo-results.xlsx")
	code, stdout, stderr := runCmd(t, nil, "run", "--sandbox", "--yes", "--input", "samples/offboarding.xlsx", "--output", out, "--as-of", "2026-11-28")
	if code != exitIncomplete {
		t.Fatalf("demo run = %d, want 3; stdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	counts := map[string]int{}
	for _, r := range readResults(t, out) {
		counts[r["Outcome"]]++
	}
	want := map[string]int{"deleted": 5, "failed": 1, "invalid": 9, "skipped": 1, "deferred": 1}
	if diff := cmp.Diff(want, counts); diff != "" {
		t.Errorf("demo outcomes (-want +got):\n%s", diff)
	}
}

// TestRunAccountsServerSilent: the access token expires mid-run and the
// accounts server stops answering. The run ends: nothing more is sent,
// the results are written, exit 1, and the message names the accounts
// server.
func TestRunAccountsServerSilent(t *testing.T) {
	srv, environ := simEnv(t, sandbox.Config{JobDuration: 40 * time.Millisecond, ConcurrencyLimit: 5})
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	var tokens, posts atomic.Int32
	srv.SetFaults(func(c sandbox.Call) sandbox.Fault {
		switch {
		case c.Path == "/oauth/v2/token":
			if tokens.Add(1) > 1 {
				<-release // silent from the second token request on
			}
		case c.Method == "POST" && posts.Add(1) == 2:
			srv.ExpireAccessTokens()
		}
		return sandbox.NoFault
	})
	out := filepath.Join(t.TempDir(), "run.xlsx")
	var stdout, stderr bytes.Buffer
	e := env{stdout: &stdout, stderr: &stderr, stdin: strings.NewReader(""),
		getenv: func(k string) string { return environ[k] },
		tuneRun: func(o *runner.Options) {
			o.JobDuration, o.PollMin, o.Grace = 40*time.Millisecond, 10*time.Millisecond, 200*time.Millisecond
		},
		tuneClient: func(c *zoho.Config) {
			c.TokenTimeout, c.TokenAttempts, c.TokenBackoff = 100*time.Millisecond, 2, 20*time.Millisecond
		}}
	code := run(t.Context(), e, []string{"run", "--accounts-url", srv.URL(), "--input", "samples/offboarding.csv", "--output", out,
		"--as-of", "2026-11-28", "--yes", "--log-format", "json", "--max-jobs", "1"})
	if code != exitFatal || !strings.Contains(stderr.String(), srv.URL()) || !strings.Contains(stderr.String(), "did not answer") {
		t.Fatalf("offboard run with a silent accounts server = %d; want 1 naming %s; stderr:\n%s", code, srv.URL(), stderr.String())
	}
	if n := sandboxtest.Writes(srv); n > 2 {
		t.Errorf("submissions = %d, want at most 2: none once a token could not be had", n)
	}
	rows := readResults(t, out)
	if len(rows) != len(sampleOutcomes) {
		t.Errorf("results hold %d rows, want every input row (%d)", len(rows), len(sampleOutcomes))
	}
}

// TestInterruptedWhileReadingTheOrg: Ctrl-C while the org's users are
// read ends the command as interrupted (130), not as a failure, and sends
// nothing.
func TestInterruptedWhileReadingTheOrg(t *testing.T) {
	srv, environ := simEnv(t, sandbox.Config{})
	ctx, cancel := context.WithCancel(t.Context())
	srv.SetFaults(func(c sandbox.Call) sandbox.Fault {
		if c.Path == "/crm/v7/users" {
			cancel() // Ctrl-C while the directory is read
		}
		return sandbox.NoFault
	})
	var stdout, stderr bytes.Buffer
	e := env{stdout: &stdout, stderr: &stderr, stdin: strings.NewReader(""), getenv: func(k string) string { return environ[k] }}
	out := filepath.Join(t.TempDir(), "r.xlsx")
	code := run(ctx, e, []string{"run", "--accounts-url", srv.URL(), "--input", "samples/offboarding.csv", "--output", out, "--yes", "--as-of", "2026-11-28"})
	if code != exitInterrupted || !strings.Contains(stderr.String(), "interrupted") {
		t.Errorf("offboard run interrupted while reading the org = %d, %q; want 130", code, stderr.String())
	}
	if n := sandboxtest.Writes(srv); n != 0 {
		t.Errorf("%d writes reached Zoho, want none", n)
	}
}

// TestResultsArePrivate: the results and Retry files name the people who
// leave; like the journal, they are created readable by their owner only,
// whatever the umask, for plan as for run, CSV as for XLSX.
func TestResultsArePrivate(t *testing.T) {
	_, environ := simEnv(t, sandbox.Config{JobDuration: 40 * time.Millisecond})
	dir := t.TempDir()
	for _, args := range [][]string{
		{"run", "--yes", "--output", filepath.Join(dir, "run.csv")},
		{"run", "--yes", "--output", filepath.Join(dir, "run.xlsx")},
		{"plan", "--output", filepath.Join(dir, "plan.xlsx")},
		{"plan", "--output", filepath.Join(dir, "plan.csv")},
	} {
		args = append(args, "--input", "samples/offboarding.csv", "--as-of", "2026-11-28")
		if code, _, stderr := runCmd(t, environ, args...); code != exitIncomplete && code != exitOK {
			t.Fatalf("offboard %s = %d:\n%s", strings.Join(args, " "), code, stderr)
		}
	}
	for _, name := range []string{"run.csv", "run.retry.csv", "run.xlsx", "plan.xlsx", "plan.csv", "plan.retry.csv"} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			if name == "plan.retry.csv" && errors.Is(err, os.ErrNotExist) {
				continue // a plan may have nothing to retry
			}
			t.Errorf("%s: %v", name, err)
			continue
		}
		if perm := fi.Mode().Perm(); runtime.GOOS != "windows" && perm != 0o600 {
			t.Errorf("%s is mode %v, want -rw------- (0600)", name, perm)
		}
	}
}

// TestEighteenDigitIDs: Zoho's v8 OpenAPI shows 18-digit user IDs, its v7
// pages 19: an org whose IDs have 18 digits (the sample org and sheet with
// one digit fewer in every ID) is planned, run and reported as the sample
// is, the IDs kept digit for digit.
func TestEighteenDigitIDs(t *testing.T) {
	short := func(b []byte) []byte { return bytes.ReplaceAll(b, []byte("5210498"), []byte("521049")) }
	org, err := os.ReadFile("samples/sandbox-org.json")
	if err != nil {
		t.Fatal(err)
	}
	seed, err := sandbox.LoadSeed(bytes.NewReader(short(org)))
	if err != nil {
		t.Fatalf("the simulator refuses 18-digit IDs: %v", err)
	}
	data, err := os.ReadFile("samples/offboarding.csv")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	sheet := filepath.Join(dir, "leavers.csv")
	os.WriteFile(sheet, short(data), 0o600)
	// An org as the v8 examples show it: 18-digit IDs, "job_id" in the answer.
	srv, environ := simEnv(t, sandbox.Config{Seed: seed, JobDuration: 40 * time.Millisecond, JobIDKey: "job_id"})
	out := filepath.Join(dir, "run.xlsx")
	code, _, stderr := runCmd(t, environ, "run", "--input", sheet, "--output", out, "--as-of", "2026-11-28", "--yes")
	if code != exitIncomplete {
		t.Fatalf("offboard run = %d, want 3 (the sample's invalid and failed rows); stderr:\n%s", code, stderr)
	}
	got := map[string][2]string{}
	for _, r := range readResults(t, out) {
		got[r["Row"]] = [2]string{r["Outcome"], r["Code"]}
		for _, col := range []string{"User ID", "Transfer To ID", "Subordinates To ID", "Job ID"} {
			if v := r[col]; v != "" && (len(v) < 18 || len(v) > 19) {
				t.Errorf("row %s: %s %q is not an ID as Zoho gave it", r["Row"], col, v)
			}
		}
		if v := r["User ID"]; v != "" && len(v) != 18 {
			t.Errorf("row %s: User ID %q, want the org's 18-digit ID", r["Row"], v)
		}
	}
	want := map[string][2]string{}
	for row, oc := range sampleOutcomes {
		want[row] = oc
		if oc[0] == "planned" {
			want[row] = [2]string{"deleted", ""}
		}
	}
	want["7"] = [2]string{"failed", "JOB_FAILED"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("outcomes by row with 18-digit IDs (-want +got):\n%s", diff)
	}
	if n := len(sandboxtest.Submissions(t, srv)); n != 6 {
		t.Errorf("%d users submitted, want the sample's 6", n)
	}
}

// TestRerunNamesTheUserItDeleted: the sample's James Carter row names an
// email that an earlier, deleted James Carter had too. Run again through
// the same journal, the row means the James Carter the first run deleted
// (skipped, naming that run's job), not the older one.
func TestRerunNamesTheUserItDeleted(t *testing.T) {
	srv, environ := simEnv(t, sandbox.Config{JobDuration: 40 * time.Millisecond})
	out := filepath.Join(t.TempDir(), "run.xlsx")
	args := []string{"run", "--input", "samples/offboarding.csv", "--output", out, "--as-of", "2026-11-28", "--yes"}
	if code, _, stderr := runCmd(t, environ, args...); code != exitIncomplete {
		t.Fatalf("first run = %d; stderr:\n%s", code, stderr)
	}
	const active, older = "5210498000000435001", "5210498000000434001"
	var job string
	for _, j := range srv.Jobs() {
		if j.UserID == active {
			job = j.ID
		}
	}
	if job == "" {
		t.Fatalf("the first run sent no job for James Carter %s", active)
	}
	if code, _, stderr := runCmd(t, environ, args...); code != exitIncomplete {
		t.Fatalf("second run = %d; stderr:\n%s", code, stderr)
	}
	for _, r := range readResults(t, out) {
		if !strings.EqualFold(r["user"], "james.carter@northwind-demo.example") {
			continue
		}
		if r["User ID"] != active || r["Outcome"] != "skipped" || r["Code"] != "ALREADY_DELETED" || r["Job ID"] != job {
			t.Errorf("James Carter's row on the second run: user %s, %s %s, job %q; want user %s (not the older %s), skipped ALREADY_DELETED, job %s",
				r["User ID"], r["Outcome"], r["Code"], r["Job ID"], active, older, job)
		}
	}
}

// TestUserReadAnswers: whatever a real org answers when a deleted user is
// read alone (its record marked deleted, 204 No Content as the v8 OpenAPI
// documents for "no user record", or 400 INVALID_DATA for the ID), a
// completed job's row ends deleted, and a submission whose answer was lost
// is reconciled as deleted, never left "submitted" nor sent again. Reading
// users together is refused here, so that each is read alone (a refused ID
// is then confirmed by reading the deleted users with that one ID).
func TestUserReadAnswers(t *testing.T) {
	for _, mode := range []sandbox.UserRead{sandbox.ShowDeleted, sandbox.NoContentForGone, sandbox.InvalidIDForGone} {
		t.Run(mode.String(), func(t *testing.T) {
			srv, environ := simEnv(t, sandbox.Config{JobDuration: 40 * time.Millisecond, UserRead: mode})
			const lost = "5210498000000417001" // Aisha Bello, row 2
			var dropped atomic.Bool
			srv.SetFaults(func(c sandbox.Call) sandbox.Fault {
				switch {
				case c.Method == "GET" && c.Path == "/crm/v7/users" && strings.Contains(c.Query.Get("ids"), ","):
					return sandbox.Refuse // users read back together: each is read alone
				case c.Method == "POST" && strings.Contains(c.Path, "transfer_and_delete") && strings.Contains(c.Path+string(c.Body), lost) && !dropped.Swap(true):
					return sandbox.DropAfterCommit
				}
				return sandbox.NoFault
			})
			out := filepath.Join(t.TempDir(), "run.xlsx")
			code, _, stderr := runCmd(t, environ, "run", "--input", "samples/offboarding.csv", "--output", out, "--as-of", "2026-11-28", "--yes")
			if code != exitIncomplete {
				t.Fatalf("offboard run = %d, want 3 (the sample's invalid and failed rows); stderr:\n%s", code, stderr)
			}
			deleted := 0
			for _, r := range readResults(t, out) {
				switch {
				case r["Outcome"] == "submitted":
					t.Errorf("row %s ended submitted: %s", r["Row"], r["Message"])
				case r["User ID"] == lost && r["Outcome"] != "invalid" && (r["Outcome"] != "deleted" || r["Code"] != "RECONCILED"):
					t.Errorf("the row whose answer was lost: %s %s %q, want deleted RECONCILED", r["Outcome"], r["Code"], r["Message"])
				case r["Outcome"] == "deleted" && r["Code"] == "":
					deleted++
				}
			}
			if deleted != 5 {
				t.Errorf("%d rows deleted by their own job, want the sample's 6 less the lost answer's", deleted)
			}
			for id, posts := range sandboxtest.Submissions(t, srv) {
				if len(posts) != 1 {
					t.Errorf("user %s submitted %d times, want once", id, len(posts))
				}
			}
		})
	}
}

// TestJobLimitAnswers: whichever code a real org refuses a submission
// with while its job slots are full (the v8 OpenAPI's
// CONCURRENT_JOB_LIMIT_EXCEEDED, the SDKs' LIMIT_REACHED, with or without
// details), and with another admin's jobs holding three of the ten slots,
// the run waits for slots: no row fails for it, the breaker does not trip,
// every planned user is deleted, each submitted once.
func TestJobLimitAnswers(t *testing.T) {
	for _, mode := range []sandbox.JobLimitAnswer{sandbox.ConcurrentJobLimit, sandbox.LimitReached, sandbox.LimitReachedBare} {
		t.Run(mode.String(), func(t *testing.T) {
			srv, environ := simEnv(t, sandbox.Config{JobDuration: 60 * time.Millisecond, JobLimit: 4, JobLimitAnswer: mode})
			srv.HoldJobSlots(3, 150*time.Millisecond) // another admin's jobs
			out := filepath.Join(t.TempDir(), "run.xlsx")
			code, _, stderr := runCmd(t, environ, "run", "--input", "samples/offboarding.csv", "--output", out, "--as-of", "2026-11-28", "--yes", "--log-format", "json")
			if code != exitIncomplete {
				t.Fatalf("offboard run = %d, want 3 (the sample's invalid and failed rows); stderr:\n%s", code, stderr)
			}
			deleted := 0
			for _, r := range readResults(t, out) {
				if r["Outcome"] == "deleted" {
					deleted++
				}
				if r["Outcome"] == "not_run" || strings.Contains(r["Code"], "LIMIT") {
					t.Errorf("row %s: %s %s %q", r["Row"], r["Outcome"], r["Code"], r["Message"])
				}
			}
			if deleted != 5 {
				t.Errorf("%d rows deleted, want the sample's 5", deleted)
			}
			if !strings.Contains(stderr, "job slots are full") {
				t.Errorf("the refusals were not taken for full slots; stderr:\n%s", stderr)
			}
			for id, posts := range sandboxtest.Submissions(t, srv) {
				accepted := 0
				for _, status := range posts {
					if status == 200 || status == 201 || status == 202 {
						accepted++
					}
				}
				if accepted != 1 {
					t.Errorf("user %s has %d accepted submissions, want 1", id, accepted)
				}
			}
		})
	}
}

// TestSlotsHeldByOthers: when another admin's jobs hold every slot and
// none of this run's jobs runs, the run stops once --job-timeout has
// passed with no slot freed, saying so; it does not wait for ever.
func TestSlotsHeldByOthers(t *testing.T) {
	srv, environ := simEnv(t, sandbox.Config{JobDuration: 40 * time.Millisecond, JobLimitAnswer: sandbox.LimitReachedBare})
	srv.HoldJobSlots(10, time.Hour)
	out := filepath.Join(t.TempDir(), "run.xlsx")
	var stdout, errOut bytes.Buffer
	e := env{stdout: &stdout, stderr: &errOut, stdin: strings.NewReader(""), getenv: func(k string) string { return environ[k] },
		tuneRun: func(o *runner.Options) {
			fastRun(o)
			o.BackoffBase, o.BackoffMax = 20*time.Millisecond, 100*time.Millisecond // Zoho is tried again sooner
		}}
	environ, args := commandLine(environ, []string{"run", "--input", "samples/offboarding.csv", "--output", out, "--as-of", "2026-11-28", "--yes", "--job-timeout", "300ms"})
	code := run(t.Context(), e, args)
	stderr := errOut.String()
	if code != exitIncomplete && code != exitFatal {
		t.Fatalf("offboard run = %d; stderr:\n%s", code, stderr)
	}
	if !strings.Contains(stderr, "another admin's jobs hold the slots") {
		t.Errorf("no word that another admin's jobs hold the slots; stderr:\n%s", stderr)
	}
	if n := len(srv.Jobs()); n != 0 {
		t.Errorf("%d jobs started, want none", n)
	}
	for _, r := range readResults(t, out) {
		if r["Outcome"] == "failed" && strings.Contains(r["Code"], "LIMIT") {
			t.Errorf("row %s failed %s: a full scheduler is no row's failure", r["Row"], r["Code"])
		}
	}
}

// TestLocalEndpointRecorded: a run through a plain-http endpoint on
// loopback (named with --accounts-url: a simulator, not Zoho) says so in
// the Summary and in the journal's start record; the built-in sandbox says
// yes; a run against Zoho would say no.
func TestLocalEndpointRecorded(t *testing.T) {
	srv, environ := simEnv(t, sandbox.Config{JobDuration: 40 * time.Millisecond})
	dir := t.TempDir()
	summaryLine := func(path string) string {
		wb, err := excelize.OpenFile(path)
		if err != nil {
			t.Fatal(err)
		}
		defer wb.Close()
		rows, _ := wb.GetRows("Summary")
		for _, r := range rows {
			if len(r) > 1 && r[0] == "Sandbox" {
				return r[1]
			}
		}
		return ""
	}
	out := filepath.Join(dir, "local.xlsx")
	if code, _, stderr := runCmd(t, environ, "run", "--yes", "--input", "samples/offboarding.csv", "--output", out, "--as-of", "2026-11-28"); code != exitIncomplete {
		t.Fatalf("offboard run = %d:\n%s", code, stderr)
	}
	if got, want := summaryLine(out), "a local endpoint, not Zoho ("+srv.URL()+")"; got != want {
		t.Errorf("Summary's Sandbox = %q, want %q", got, want)
	}
	records, err := journal.Read(out + ".journal")
	if err != nil || len(records) == 0 || !records[0].Local || records[0].Sandbox {
		t.Errorf("the journal's start record: local %v, sandbox %v (%v); want local, not sandbox", len(records) > 0 && records[0].Local, len(records) > 0 && records[0].Sandbox, err)
	}
	sb := filepath.Join(dir, "sandbox.xlsx")
	if code, _, stderr := runCmd(t, nil, "plan", "--sandbox", "--input", "samples/offboarding.csv", "--output", sb, "--as-of", "2026-11-28"); code != exitIncomplete && code != exitOK {
		t.Fatalf("offboard plan --sandbox = %d:\n%s", code, stderr)
	}
	if got := summaryLine(sb); got != "yes" {
		t.Errorf("Summary's Sandbox with --sandbox = %q, want yes", got)
	}
}

// TestEndless429s: Zoho answers every submission 429 without the header
// that says the daily credits are spent (it sends none before half are
// used). The run does not retry for ever: once nothing has been taken for
// the time the pacer gives trouble, it stops, saying the org's limits are
// reached, and the rest are not_run, nothing sent twice.
func TestEndless429s(t *testing.T) {
	srv, environ := simEnv(t, sandbox.Config{JobDuration: 40 * time.Millisecond})
	srv.SetFaults(func(c sandbox.Call) sandbox.Fault {
		if c.Method == "POST" && strings.Contains(c.Path, "transfer_and_delete") {
			return sandbox.TooManyRequests
		}
		return sandbox.NoFault
	})
	out := filepath.Join(t.TempDir(), "run.xlsx")
	var stdout, errOut bytes.Buffer
	e := env{stdout: &stdout, stderr: &errOut, stdin: strings.NewReader(""), getenv: func(k string) string { return environ[k] },
		tuneRun: func(o *runner.Options) {
			fastRun(o)
			o.Pacer = pacer.New(pacer.Options{Base: 5 * time.Millisecond, Max: 40 * time.Millisecond, GiveUp: 300 * time.Millisecond})
		}}
	environ, args := commandLine(environ, []string{"run", "--input", "samples/offboarding.csv", "--output", out, "--as-of", "2026-11-28", "--yes"})
	code := run(t.Context(), e, args)
	stderr := errOut.String()
	if code != exitIncomplete {
		t.Fatalf("offboard run = %d, want 3; stderr:\n%s", code, stderr)
	}
	if !strings.Contains(stdout.String()+stderr, "limit reached") {
		t.Errorf("no word that the org's limits are reached; stdout:\n%s\nstderr:\n%s", stdout.String(), stderr)
	}
	notRun := 0
	for _, r := range readResults(t, out) {
		switch r["Outcome"] {
		case "not_run":
			notRun++
		case "deleted", "submitted":
			t.Errorf("row %s: %s, but Zoho took no submission", r["Row"], r["Outcome"])
		}
	}
	if notRun != 6 {
		t.Errorf("%d rows not_run, want the sample's 6 planned", notRun)
	}
	if n := len(srv.Jobs()); n != 0 {
		t.Errorf("%d jobs started, want none", n)
	}
}

// TestTransferRequired: Zoho's v7 page lets a row move the subordinates
// without transferring records; its v8 OpenAPI marks transfer required.
// An org that follows v8 refuses such a row: the row fails with Zoho's
// code and a message saying what to add, and every other row is sent.
func TestTransferRequired(t *testing.T) {
	srv, environ := simEnv(t, sandbox.Config{JobDuration: 40 * time.Millisecond, RequireTransfer: true})
	dir := t.TempDir()
	sheet := filepath.Join(dir, "leavers.csv")
	os.WriteFile(sheet, []byte("user,transfer_to,move_subordinates_to\n"+
		"tom.brennan@northwind-demo.example,,margaret.holloway@northwind-demo.example\n"+
		"aisha.bello@northwind-demo.example,lucas.meyer@northwind-demo.example,\n"), 0o600)
	out := filepath.Join(dir, "run.xlsx")
	code, _, stderr := runCmd(t, environ, "run", "--yes", "--input", sheet, "--output", out)
	if code != exitIncomplete {
		t.Fatalf("offboard run = %d, want 3; stderr:\n%s", code, stderr)
	}
	rows := readResults(t, out)
	if r := rows[0]; r["Outcome"] != "failed" || r["Code"] != "MANDATORY_NOT_FOUND" || !strings.Contains(r["Message"], "add a transfer_to") {
		t.Errorf("the row without transfer_to: %s %s %q; want failed MANDATORY_NOT_FOUND saying to add a transfer_to", r["Outcome"], r["Code"], r["Message"])
	}
	if r := rows[1]; r["Outcome"] != "deleted" {
		t.Errorf("the row with transfer_to: %s %s %q; want deleted", r["Outcome"], r["Code"], r["Message"])
	}
	if n := len(srv.Jobs()); n != 1 {
		t.Errorf("%d jobs, want 1", n)
	}
}

// TestRefusedIDIsNotProof: a 400 INVALID_DATA on reading one user (which
// some org may answer for a deleted user, or for anything else) is never
// taken alone for a deletion. A submission whose answer was lost before
// Zoho did anything, then a refused read: the user, still active, is not
// reported deleted; nor is a row Zoho refused reported already deleted.
func TestRefusedIDIsNotProof(t *testing.T) {
	srv, environ := simEnv(t, sandbox.Config{JobDuration: 40 * time.Millisecond})
	const aisha = "5210498000000417001"
	var dropped atomic.Bool
	srv.SetFaults(func(c sandbox.Call) sandbox.Fault {
		switch {
		case c.Method == "POST" && strings.Contains(string(c.Body), aisha) && !dropped.Swap(true):
			return sandbox.DropBeforeCommit
		case c.Method == "GET" && c.Path == "/crm/v7/users/"+aisha:
			return sandbox.Refuse
		}
		return sandbox.NoFault
	})
	out := filepath.Join(t.TempDir(), "run.xlsx")
	code, _, stderr := runCmd(t, environ, "run", "--input", "samples/offboarding.csv", "--output", out, "--as-of", "2026-11-28", "--yes")
	if code != exitIncomplete {
		t.Fatalf("offboard run = %d; stderr:\n%s", code, stderr)
	}
	u, _ := srv.User(aisha)
	for _, r := range readResults(t, out) {
		if r["User ID"] != aisha || r["Row"] != "2" {
			continue
		}
		if (r["Outcome"] == "deleted" || r["Outcome"] == "skipped") && u["status"] != "deleted" {
			t.Errorf("row 2: %s %s %q, but Zoho shows the user %v", r["Outcome"], r["Code"], r["Message"], u["status"])
		}
	}
}

// TestSendAheadFromTheCommandLine runs 24 leavers through offboard run
// with the default --max-jobs 10 and with --max-jobs 9. At ten, users are
// sent as jobs are due to end (the last log line counts them) and Zoho's
// refusals for its job limit fail no row; at nine, nothing is sent ahead:
// Zoho never refuses a submission and never runs more than nine.
func TestSendAheadFromTheCommandLine(t *testing.T) {
	for _, maxJobs := range []string{"10", "9"} {
		t.Run("max-jobs="+maxJobs, func(t *testing.T) {
			dir := t.TempDir()
			seed, sheet := crashOrg(t, dir, leavers)
			srv, environ := simEnv(t, sandbox.Config{Seed: seed, JobDuration: 60 * time.Millisecond})
			out := filepath.Join(dir, "results.xlsx")
			code, _, stderr := runCmd(t, environ, "run", "--input", sheet, "--output", out, "--yes", "--log-format", "json", "--rate", "200", "--max-jobs", maxJobs)
			if code != exitOK {
				t.Fatalf("offboard run --max-jobs %s = %d, want 0; stderr:\n%s", maxJobs, code, stderr)
			}
			for _, r := range readResults(t, out) {
				if r["Outcome"] != "deleted" {
					t.Errorf("row %s: %s %s %q, want deleted", r["Row"], r["Outcome"], r["Code"], r["Message"])
				}
			}
			sandboxtest.CheckOneJobPerUser(t, srv)
			var last map[string]any
			for _, line := range strings.Split(strings.TrimSpace(stderr), "\n") {
				var m map[string]any
				if json.Unmarshal([]byte(line), &m) == nil && m["message"] == "run finished" {
					last = m
				}
			}
			if last == nil {
				t.Fatalf("no \"run finished\" line; stderr:\n%s", stderr)
			}
			ahead, _ := last["sent_ahead"].(float64)
			refused := 0
			for _, r := range srv.Requests() {
				if r.Method == "POST" && !r.Token && r.Status != 200 {
					refused++
				}
			}
			if maxJobs == "10" {
				if ahead == 0 {
					t.Errorf("nothing sent ahead with --max-jobs 10; last line: %v", last)
				}
				return
			}
			if ahead != 0 || refused != 0 {
				t.Errorf("--max-jobs 9: %v sent ahead, %d submissions refused; want none", ahead, refused)
			}
			jobs := srv.Jobs()
			for _, j := range jobs {
				open := 0
				for _, k := range jobs {
					if !k.SubmittedAt.After(j.SubmittedAt) && k.FinishedAt.After(j.SubmittedAt) {
						open++
					}
				}
				if open > 9 {
					t.Errorf("when job %s was submitted, %d jobs were unfinished, want ≤ 9", j.ID, open)
				}
			}
		})
	}
}
