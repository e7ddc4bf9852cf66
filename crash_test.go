package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"offboard/journal"
	"offboard/zoho/zohotest"
)

// These tests run the real binary against a simulator served by the test
// process, kill it at several points of a run, run the same command again,
// and check with the simulator's own records that no user got two jobs,
// that no answered submission was sent again, and that every row ends with
// its true outcome.

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

// binary builds offboard once for the test binary's lifetime.
func binary(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "offboard-bin-")
		if err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(dir, "offboard")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			binErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

// leavers is the number of users the crash tests delete.
const leavers = 24

// crashOrg is the demo org with leavers extra reps, and the sheet that
// deletes them, their records going to Lucas Meyer.
func crashOrg(t *testing.T, dir string, n int) (*zohotest.Seed, string) {
	t.Helper()
	seed := zohotest.DemoSeed()
	var sheet strings.Builder
	sheet.WriteString("user,transfer_to,records,assignment,criteria,move_subordinates_to,effective_date,ticket\n")
	for i := range n {
		seed.Users = append(seed.Users, zohotest.User{
			ID: fmt.Sprintf("52104980000009%05d", i), Email: fmt.Sprintf("rep%03d@northwind-demo.example", i),
			LastName: fmt.Sprintf("Rep %03d", i), Status: "active", Confirm: true, ZUID: fmt.Sprint(990000 + i),
			Role: zohotest.Ref{ID: "5210498000000026005"}, Profile: zohotest.Ref{ID: "5210498000000031002", Name: "Standard"},
		})
		fmt.Fprintf(&sheet, "rep%03d@northwind-demo.example,lucas.meyer@northwind-demo.example,TRUE,TRUE,FALSE,,,HR-%d\n", i, 2000+i)
	}
	path := filepath.Join(dir, "leavers.csv")
	if err := os.WriteFile(path, []byte(sheet.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return seed, path
}

// proc is a running offboard process.
type proc struct {
	cmd            *exec.Cmd
	stdout, stderr bytes.Buffer
	done           chan struct{}
	code           int
}

// start runs offboard with args against the simulator environ.
func start(t *testing.T, environ map[string]string, args ...string) *proc {
	t.Helper()
	p := &proc{cmd: exec.Command(binary(t), args...), done: make(chan struct{})}
	p.cmd.Env = append(os.Environ(), "OFFBOARD_TEST_POLL=60ms")
	for k, v := range environ {
		p.cmd.Env = append(p.cmd.Env, k+"="+v)
	}
	p.cmd.Stdout, p.cmd.Stderr = &p.stdout, &p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		err := p.cmd.Wait()
		var ee *exec.ExitError
		switch {
		case err == nil:
		case errors.As(err, &ee):
			p.code = ee.ExitCode() // -1 when a signal ended it
		default:
			p.code = -2
		}
		close(p.done)
	}()
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		<-p.done
	})
	return p
}

// wait waits for the process to end and returns its exit status. The
// bound only keeps a hung process from hanging the test run.
func (p *proc) wait(t *testing.T) int {
	t.Helper()
	select {
	case <-p.done:
		return p.code
	case <-time.After(60 * time.Second):
		t.Fatalf("offboard still running after a minute; stderr:\n%s", p.stderr.String())
		return 0
	}
}

// waitJournal waits until the journal's records satisfy ok.
func waitJournal(t *testing.T, path string, p *proc, ok func([]journal.Record) bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if records, err := journal.Read(path); err == nil && ok(records) {
			return
		}
		select {
		case <-p.done:
			t.Fatalf("offboard ended (status %d) before the point to stop it at; stderr:\n%s", p.code, p.stderr.String())
		case <-time.After(2 * time.Millisecond):
		}
	}
	t.Fatalf("the journal %s never reached the point to stop the run at", path)
}

func count(records []journal.Record, kind string) int {
	n := 0
	for _, r := range records {
		if r.Kind == kind {
			n++
		}
	}
	return n
}

// answers counts submissions answered with a job.
func answers(records []journal.Record) int {
	n := 0
	for _, r := range records {
		if r.Kind == journal.KindAnswer && r.JobID != "" {
			n++
		}
	}
	return n
}

// unanswered returns the users whose latest submission has no answer.
func unanswered(records []journal.Record) map[string]bool {
	st := journal.Replay(records)
	out := map[string]bool{}
	for id, us := range st.Users {
		if us.InDoubt {
			out[id] = true
		}
	}
	return out
}

// postsByUser counts the transfer-and-delete submissions per user, and
// how each was answered.
func postsByUser(t *testing.T, srv *zohotest.Server) map[string][]int {
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
			t.Fatalf("submission body %s: %v", r.Body, err)
		}
		id := body.TransferAndDelete[0].ID
		out[id] = append(out[id], r.Status)
	}
	return out
}

// checkOnce checks the simulator's records after a resumed run: every
// leaver has exactly one job, and was submitted once, except users whose
// submission was in doubt when the run died: their second submission may
// be sent only after reading the user, and Zoho refuses it (a job already
// runs) or it never comes (the user was found deleted).
func checkOnce(t *testing.T, srv *zohotest.Server, inDoubt map[string]bool) {
	t.Helper()
	jobs := map[string]int{}
	for _, j := range srv.Jobs() {
		jobs[j.UserID]++
	}
	posts := postsByUser(t, srv)
	if len(jobs) != leavers {
		t.Errorf("%d users got a job, want all %d", len(jobs), leavers)
	}
	for id, n := range jobs {
		if n != 1 {
			t.Errorf("user %s got %d jobs, want 1", id, n)
		}
	}
	for id, statuses := range posts {
		switch {
		case len(statuses) == 1:
		case inDoubt[id] && len(statuses) == 2 && statuses[1] != 200 && statuses[1] != 201:
			// The lost submission had created the job; Zoho refused the
			// second, and the run followed the first job.
		default:
			t.Errorf("user %s was submitted %d times (answers %v), want once (in doubt at the kill: %v)", id, len(statuses), statuses, inDoubt[id])
		}
	}
}

// checkAllDeleted checks the results workbook: every row deleted, with
// its job.
func checkAllDeleted(t *testing.T, srv *zohotest.Server, out string) {
	t.Helper()
	rows := readResults(t, out)
	if len(rows) != leavers {
		t.Fatalf("results hold %d rows, want %d", len(rows), leavers)
	}
	jobOf := map[string]string{}
	for _, j := range srv.Jobs() {
		jobOf[j.UserID] = j.ID
	}
	for _, r := range rows {
		if r["Outcome"] != "deleted" || r["Job Status"] != "completed" && r["Code"] != "RECONCILED" {
			t.Errorf("row %s: %s %s %q, want deleted", r["Row"], r["Outcome"], r["Code"], r["Message"])
		}
		if r["Job ID"] != jobOf[r["User ID"]] && r["Code"] != "RECONCILED" {
			t.Errorf("row %s: job %q, but Zoho ran job %q for user %s", r["Row"], r["Job ID"], jobOf[r["User ID"]], r["User ID"])
		}
		if u, ok := srv.User(r["User ID"]); !ok || u["status"] != "deleted" {
			t.Errorf("row %s: user %s is %v in Zoho, want deleted", r["Row"], r["User ID"], u["status"])
		}
	}
}

// TestKillAndResume kills offboard with SIGKILL at several points of a run
// and runs the same command again.
func TestKillAndResume(t *testing.T) {
	points := []struct {
		name string
		at   func([]journal.Record) bool
		// latency slows every answer, so that the kill lands between a
		// submission and its answer.
		latency time.Duration
		// doubt: the kill must leave a submission without an answer.
		doubt bool
	}{
		{"after the first submission was journaled", func(r []journal.Record) bool { return count(r, journal.KindSubmit) >= 1 }, 100 * time.Millisecond, true},
		{"with a submission sent and not answered", func(r []journal.Record) bool { return count(r, journal.KindSubmit) >= 6 && len(unanswered(r)) > 0 }, 150 * time.Millisecond, true},
		{"halfway, jobs running", func(r []journal.Record) bool { return answers(r) >= leavers/2 }, 0, false},
		{"every user submitted, jobs running", func(r []journal.Record) bool { return answers(r) >= leavers }, 0, false},
		{"while writing the last finals", func(r []journal.Record) bool { return count(r, journal.KindFinal) >= leavers-3 }, 0, false},
	}
	for _, pt := range points {
		t.Run(pt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			seed, sheet := crashOrg(t, dir, leavers)
			srv, environ := simEnv(t, zohotest.Config{Seed: seed, JobDuration: 400 * time.Millisecond, ConcurrencyLimit: 5, Latency: pt.latency})
			out := filepath.Join(dir, "results.xlsx")
			jpath := out + ".journal"
			args := []string{"run", "--input", sheet, "--output", out, "--yes", "--log-format", "json", "--rate", "200"}

			first := start(t, environ, args...)
			waitJournal(t, jpath, first, pt.at)
			if err := first.cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			first.wait(t)
			records, err := journal.Read(jpath)
			if err != nil {
				t.Fatal(err)
			}
			inDoubt := unanswered(records)
			if pt.doubt && len(inDoubt) == 0 {
				t.Fatal("the kill left no submission in doubt: this case tests nothing")
			}
			if _, err := os.Stat(jpath + ".lock"); err != nil {
				t.Errorf("the killed run left no lock file (%v); the stale-lock takeover is not exercised", err)
			}

			second := start(t, environ, args...)
			if code := second.wait(t); code != exitOK {
				t.Fatalf("resumed run = %d, want 0; stderr:\n%s", code, second.stderr.String())
			}
			if !strings.Contains(second.stderr.String(), "took over the journal's lock") {
				t.Errorf("resumed run did not say it took over the dead run's lock; stderr:\n%s", second.stderr.String())
			}
			if !strings.Contains(second.stderr.String(), "resuming an interrupted run") {
				t.Errorf("second run did not resume; stderr:\n%s", second.stderr.String())
			}
			checkOnce(t, srv, inDoubt)
			checkAllDeleted(t, srv, out)
			if _, err := os.Stat(jpath + ".lock"); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("lock file after the run: %v, want none", err)
			}

			// A third run of the same command sends nothing new, and names
			// the job that deleted each user where the journal knows it
			// (not for a user reconciled after a lost answer).
			jobs := map[string]string{}
			for _, r := range readResults(t, out) {
				jobs[r["Row"]] = r["Job ID"]
			}
			before := writes(srv)
			third := start(t, environ, args...)
			if code := third.wait(t); code != exitOK {
				t.Fatalf("third run = %d, want 0; stderr:\n%s", code, third.stderr.String())
			}
			if n := writes(srv) - before; n != 0 {
				t.Errorf("the third run sent %d writes, want none", n)
			}
			for _, r := range readResults(t, out) {
				if r["Outcome"] != "skipped" || r["Code"] != "ALREADY_DELETED" || r["Job ID"] != jobs[r["Row"]] {
					t.Errorf("third run, row %s: %s %s job %q, want skipped ALREADY_DELETED with the earlier job %q", r["Row"], r["Outcome"], r["Code"], r["Job ID"], jobs[r["Row"]])
				}
			}
		})
	}
}
