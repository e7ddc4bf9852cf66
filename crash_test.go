package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"offboard/journal"
	"offboard/pacer"
	"offboard/result"
	"offboard/runner"
	"offboard/sandbox"
	"offboard/sandbox/sandboxtest"
	"offboard/zoho"
)

// These tests run the real binary against a simulator served by the test
// process, kill it at several points of a run, run the same command again,
// and check with the simulator's own records that no user got two jobs,
// that no answered submission was sent again, and that every row ends with
// its true outcome.

// binary builds offboard once for the test binary's lifetime.
// binary is the program the crash tests run: this test binary, as a
// child (TestMain).
func binary(t *testing.T) string {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return exe
}

// childEnv marks a process the crash tests start: the test binary itself,
// which then runs offboard's command line (TestMain) instead of the tests.
const childEnv = "OFFBOARD_TEST_CHILD"

// TestMain runs offboard as a process of its own when the crash tests
// start one: with the process's signals, as main does, and polling tuned
// to a simulator whose jobs take milliseconds, with a request deadline of
// 1 s. The product binary has no such tuning.
func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "1" {
		e := processEnv()
		e.tuneRun, e.tuneClient = childTuning(60 * time.Millisecond)
		os.Exit(runProcess(e, os.Args[1:]))
	}
	os.Exit(m.Run())
}

// childTuning polls jobs that take about d, and gives a request 1 s.
func childTuning(d time.Duration) (func(*runner.Options), func(*zoho.Config)) {
	const requestTimeout = time.Second
	return func(o *runner.Options) {
			o.JobDuration, o.PollMin, o.BackoffBase, o.RequestTimeout = d, d/4, d/4, requestTimeout
			o.Pacer = pacer.New(pacer.Options{Base: d / 4})
		}, func(c *zoho.Config) {
			c.RequestTimeout = requestTimeout
		}
}

// leavers is the number of users the crash tests delete.
const leavers = 24

// crashJobTimeout is the --job-timeout of the crash tests' runs: jobs take
// well under it, and a user left in doubt by a kill (recorded, then killed
// before the request left) is sent again by the next run only once the
// submission in doubt is this old.
const crashJobTimeout = "1500ms"

// crashOrg is the demo org with leavers extra reps, and the sheet that
// deletes them, their records going to Lucas Meyer.
func crashOrg(t *testing.T, dir string, n int) (*sandbox.Seed, string) {
	t.Helper()
	seed := sandbox.DemoSeed()
	var sheet strings.Builder
	sheet.WriteString("user,transfer_to,records,assignment,criteria,move_subordinates_to,effective_date,ticket\n")
	for i := range n {
		seed.Users = append(seed.Users, sandbox.User{
			ID: fmt.Sprintf("52104980000009%05d", i), Email: fmt.Sprintf("rep%03d@northwind-demo.example", i),
			LastName: fmt.Sprintf("Rep %03d", i), Status: "active", Confirm: true, ZUID: fmt.Sprint(990000 + i),
			Role: sandbox.Ref{ID: "5210498000000026005"}, Profile: sandbox.Ref{ID: "5210498000000031002", Name: "Standard"},
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
	stdout, stderr lockedBuffer
	done           chan struct{}
	code           int
}

// lockedBuffer is a bytes.Buffer a test may read while the process writes.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// start runs offboard with args against the simulator environ.
func start(t *testing.T, environ map[string]string, args ...string) *proc {
	t.Helper()
	return startIn(t, "", environ, args...)
}

// startIn runs offboard in the working directory dir.
func startIn(t *testing.T, dir string, environ map[string]string, args ...string) *proc {
	t.Helper()
	environ, args = commandLine(environ, args)
	p := &proc{cmd: exec.Command(binary(t), args...), done: make(chan struct{})}
	p.cmd.Dir = dir
	p.cmd.Env = append(os.Environ(), childEnv+"=1")
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

// checkOnce checks the simulator's records after a resumed run: every
// leaver has exactly one job and was submitted exactly once. A user in
// doubt at the kill (inDoubt) is never sent again while its submission may
// have started a job; it is sent by the next run only if that submission
// never reached Zoho, and is then still submitted once.
//
// Submissions Zoho refused because its 10 job slots were full, or because
// too many calls were in flight (429), are not counted: they created
// nothing, and waiting means sending again.
func checkOnce(t *testing.T, srv *sandbox.Server, journalPath string, inDoubt map[string]bool) {
	t.Helper()
	full := slotRefusals(t, journalPath)
	jobs := map[string]int{}
	for _, j := range srv.Jobs() {
		jobs[j.UserID]++
	}
	posts := sandboxtest.Submissions(t, srv)
	if len(jobs) != leavers {
		t.Errorf("%d users got a job, want all %d", len(jobs), leavers)
	}
	for id, n := range jobs {
		if n != 1 {
			t.Errorf("user %s got %d jobs, want 1", id, n)
		}
	}
	for id, statuses := range posts {
		var kept []int
		skip := full[id]
		if inDoubt[id] {
			// The kill came before the journal had Zoho's answer: if Zoho
			// refused it for its job limit (a user sent ahead of a job
			// due), nothing was done, and the resumed run sends it again
			// once it has read the user.
			skip++
		}
		for _, st := range statuses {
			if st == 400 && skip > 0 {
				skip--
				continue
			}
			if st == 429 { // Zoho did nothing: too many calls in flight
				continue
			}
			kept = append(kept, st)
		}
		if len(kept) != 1 {
			t.Errorf("user %s was submitted %d times (answers %v), want once (in doubt at the kill: %v)", id, len(kept), kept, inDoubt[id])
		}
	}
}

// slotRefusals counts, per user, the submissions the journal records as
// refused for Zoho's job limit.
func slotRefusals(t *testing.T, path string) map[string]int {
	t.Helper()
	records, err := journal.Read(path)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	var steps []result.Row
	for _, r := range records {
		switch {
		case r.Kind == journal.KindStart:
			steps = r.Steps
		case r.Kind == journal.KindAnswer && r.Code == "CONCURRENT_JOB_LIMIT_EXCEEDED" && r.Row < len(steps):
			out[steps[r.Row].UserID]++
		}
	}
	return out
}

// checkAllDeleted checks the results workbook: every row deleted, with
// its job.
func checkAllDeleted(t *testing.T, srv *sandbox.Server, out string) {
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
		if r["Code"] == "" && !strings.HasPrefix(r["Message"], "delete ") {
			// The audit trail: who received the user's records, whichever
			// run saw the job end.
			t.Errorf("row %s: deleted, message %q; want the plan's who-got-what", r["Row"], r["Message"])
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
			srv, environ := simEnv(t, sandbox.Config{Seed: seed, JobDuration: 400 * time.Millisecond, ConcurrencyLimit: 5, Latency: pt.latency})
			out := filepath.Join(dir, "results.xlsx")
			jpath := out + ".journal"
			args := []string{"run", "--input", sheet, "--output", out, "--yes", "--log-format", "json", "--rate", "200", "--job-timeout", crashJobTimeout}

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
			// On a loaded machine the last kill point may come after the run
			// reached its end: then there is nothing to resume, which is just
			// as right, and the run below is a new one that sends nothing.
			if finished := count(records, journal.KindEnd) > 0; !finished {
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
			}
			checkOnce(t, srv, jpath, inDoubt)
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
			before := sandboxtest.Writes(srv)
			third := start(t, environ, args...)
			if code := third.wait(t); code != exitOK {
				t.Fatalf("third run = %d, want 0; stderr:\n%s", code, third.stderr.String())
			}
			if n := sandboxtest.Writes(srv) - before; n != 0 {
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

// crashRun is one test's org, sheet and command line.
type crashRun struct {
	srv     *sandbox.Server
	environ map[string]string
	dir     string
	sheet   string
	out     string
	journal string
	args    []string
}

func newCrashRun(t *testing.T, cfg sandbox.Config) *crashRun {
	t.Helper()
	c := &crashRun{dir: t.TempDir()}
	seed, sheet := crashOrg(t, c.dir, leavers)
	cfg.Seed = seed
	if cfg.JobDuration == 0 {
		cfg.JobDuration = 200 * time.Millisecond
	}
	cfg.ConcurrencyLimit = 5
	c.srv, c.environ = simEnv(t, cfg)
	c.sheet = sheet
	c.out = filepath.Join(c.dir, "results.xlsx")
	c.journal = c.out + ".journal"
	c.args = []string{"run", "--input", sheet, "--output", c.out, "--yes", "--log-format", "json", "--rate", "200", "--job-timeout", crashJobTimeout}
	return c
}

// releaseWhenFollowing lets the jobs srv holds end once run p has begun to
// follow them (so that they still ran when it decided what to send), or
// has ended.
func releaseWhenFollowing(t *testing.T, srv *sandbox.Server, p *proc) {
	t.Helper()
	defer srv.ReleaseJobs()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		select {
		case <-p.done:
			return
		default:
		}
		if strings.Contains(p.stderr.String(), "following the job of an earlier run") {
			return
		}
	}
}

// killAt runs the command and kills it with SIGKILL once the journal's
// records satisfy at.
func (c *crashRun) killAt(t *testing.T, at func([]journal.Record) bool) *proc {
	t.Helper()
	p := start(t, c.environ, c.args...)
	waitJournal(t, c.journal, p, at)
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	p.wait(t)
	settle(c.srv)
	return p
}

// settle waits until the simulator has answered what a killed process
// left on the wire: a request it wrote just before it died may reach the
// simulator's handler after the process is reaped. The dead process sends
// nothing new, so once no request has arrived or been in progress for
// 100 ms, the log is the killed run's whole story.
func settle(srv *sandbox.Server) {
	last, quiet := -1, 0
	for deadline := time.Now().Add(5 * time.Second); quiet < 5 && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
		log := srv.Requests()
		busy := false
		for _, r := range log {
			busy = busy || r.End.IsZero()
		}
		if len(log) == last && !busy {
			quiet++
		} else {
			last, quiet = len(log), 0
		}
	}
}

// TestInterruptAndResume sends SIGINT once (the run winds down) and twice
// (the process ends at once), then runs the same command again.
func TestInterruptAndResume(t *testing.T) {
	for _, sig := range []os.Signal{os.Interrupt, syscall.SIGTERM} {
		t.Run("one "+sig.String(), func(t *testing.T) { interruptOnce(t, sig) })
	}
	t.Run("two Ctrl-Cs", func(t *testing.T) {
		t.Parallel()
		c := newCrashRun(t, sandbox.Config{Latency: 50 * time.Millisecond})
		// From the first Ctrl-C on, Zoho holds the job status polls: the
		// wind-down it began cannot end before the second Ctrl-C.
		hold, release := holdPolls(c.srv)
		first := start(t, c.environ, c.args...)
		waitJournal(t, c.journal, first, func(r []journal.Record) bool { return answers(r) >= 8 })
		hold()
		first.cmd.Process.Signal(os.Interrupt)
		time.Sleep(20 * time.Millisecond)
		first.cmd.Process.Signal(os.Interrupt)
		// -1: the second Ctrl-C ended the process by the signal itself,
		// not after the wind-down (130) that the first one began.
		if code := first.wait(t); code != -1 {
			t.Fatalf("run interrupted twice = %d, want it ended by the signal (-1); stderr:\n%s", code, first.stderr.String())
		}
		if !strings.Contains(first.stderr.String(), "quitting now, without writing the results: ") {
			t.Errorf("the second Ctrl-C did not say what state it leaves; stderr:\n%s", first.stderr.String())
		}
		release() // the dead process's polls, still held at Zoho, end
		records, err := journal.Read(c.journal)
		if err != nil {
			t.Fatalf("journal after two Ctrl-Cs: %v", err)
		}
		second := start(t, c.environ, c.args...)
		if code := second.wait(t); code != exitOK {
			t.Fatalf("resumed run = %d, want 0; stderr:\n%s", code, second.stderr.String())
		}
		checkOnce(t, c.srv, c.journal, unanswered(records))
		checkAllDeleted(t, c.srv, c.out)
	})
}

// interruptOnce sends sig once: the run stops submitting, follows its
// jobs, writes the results and exits 130; the same command finishes it.
func interruptOnce(t *testing.T, sig os.Signal) {
	t.Parallel()
	c := newCrashRun(t, sandbox.Config{JobDuration: 800 * time.Millisecond})
	first := start(t, c.environ, c.args...)
	waitJournal(t, c.journal, first, func(r []journal.Record) bool { return answers(r) >= 5 })
	first.cmd.Process.Signal(sig)
	if code := first.wait(t); code != exitInterrupted {
		t.Fatalf("interrupted run = %d, want 130; stderr:\n%s", code, first.stderr.String())
	}
	if !strings.Contains(first.stderr.String(), "run the same command again to resume") {
		t.Errorf("the interrupted run does not say how to resume; stderr:\n%s", first.stderr.String())
	}
	outcomes := map[string]int{}
	for _, r := range readResults(t, c.out) {
		outcomes[r["Outcome"]]++
	}
	if outcomes["not_run"] == 0 || outcomes["deleted"] == 0 || outcomes["deleted"]+outcomes["not_run"]+outcomes["submitted"] != leavers {
		t.Errorf("interrupted run's results: %v, want some deleted and some not_run, %d rows in all", outcomes, leavers)
	}
	records, _ := journal.Read(c.journal)
	if count(records, journal.KindEnd) != 0 || count(records, journal.KindStop) != 1 {
		t.Errorf("interrupted run's journal: %d end and %d stop records, want 0 and 1", count(records, journal.KindEnd), count(records, journal.KindStop))
	}
	inDoubt := unanswered(records)

	second := start(t, c.environ, c.args...)
	if code := second.wait(t); code != exitOK {
		t.Fatalf("resumed run = %d, want 0; stderr:\n%s", code, second.stderr.String())
	}
	checkOnce(t, c.srv, c.journal, inDoubt)
	checkAllDeleted(t, c.srv, c.out)
}

// TestTornJournalLine resumes from a journal whose last line the kill cut
// short.
func TestTornJournalLine(t *testing.T) {
	t.Parallel()
	c := newCrashRun(t, sandbox.Config{})
	c.killAt(t, func(r []journal.Record) bool { return answers(r) >= 10 })
	records, _ := journal.Read(c.journal)
	f, err := os.OpenFile(c.journal, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(`{"kind":"final","time":"2026-12-02T01:53:15.97Z","row":3,"outc`)
	f.Close()

	second := start(t, c.environ, c.args...)
	if code := second.wait(t); code != exitOK {
		t.Fatalf("run after a torn journal line = %d, want 0; stderr:\n%s", code, second.stderr.String())
	}
	checkOnce(t, c.srv, c.journal, unanswered(records))
	checkAllDeleted(t, c.srv, c.out)
	data, _ := os.ReadFile(c.journal)
	if strings.Contains(string(data), `"outc`+"\n") || !strings.HasSuffix(string(data), "\n") {
		t.Error("the torn line is still in the journal")
	}
}

// TestJournalLocked starts a second run on a journal in use: it stops at
// once, names the holder, and sends nothing.
func TestJournalLocked(t *testing.T) {
	t.Parallel()
	c := newCrashRun(t, sandbox.Config{JobDuration: 3 * time.Second})
	first := start(t, c.environ, c.args...)
	waitJournal(t, c.journal, first, func(r []journal.Record) bool { return count(r, journal.KindStart) == 1 })
	reads := len(c.srv.Requests())
	second := start(t, c.environ, c.args...)
	code := second.wait(t)
	host, _ := os.Hostname()
	want := fmt.Sprintf("is in use by pid %d on host %s", first.cmd.Process.Pid, host)
	if code != exitFatal || !strings.Contains(second.stderr.String(), want) {
		t.Errorf("second run = %d, %q; want 1 and %q", code, second.stderr.String(), want)
	}
	// The second run stops before it connects: it reads the sheet and
	// the lock, nothing else. (The first run's calls go on meanwhile,
	// so the proof is that no token request came from the second.)
	for _, r := range c.srv.Requests()[reads:] {
		if r.Token {
			t.Errorf("the refused run asked for a token")
		}
	}
	first.cmd.Process.Signal(syscall.SIGKILL)
	first.wait(t)
}

// TestJournalOtherInput refuses a journal whose interrupted run was for
// another sheet, and starts afresh with --fresh.
func TestJournalOtherInput(t *testing.T) {
	t.Parallel()
	c := newCrashRun(t, sandbox.Config{})
	c.srv.HoldJobs() // jobs still run when --fresh starts
	c.killAt(t, func(r []journal.Record) bool { return answers(r) >= 5 })

	other := filepath.Join(c.dir, "other.csv")
	data, _ := os.ReadFile(c.sheet)
	os.WriteFile(other, append(data, "aisha.bello@northwind-demo.example,lucas.meyer@northwind-demo.example,TRUE,TRUE,FALSE,,,HR-1\n"...), 0o644)
	args := append([]string{}, c.args...)
	args[2] = other
	posts := sandboxtest.Writes(c.srv)
	refused := start(t, c.environ, args...)
	if code := refused.wait(t); code != exitFatal || !strings.Contains(refused.stderr.String(), "belongs to input "+c.sheet) || strings.Count(refused.stderr.String(), "--fresh") != 1 {
		t.Errorf("run of another sheet on the journal = %d, %q; want 1, naming the journal's input and --fresh", code, refused.stderr.String())
	}
	if n := sandboxtest.Writes(c.srv) - posts; n != 0 {
		t.Errorf("the refused run sent %d writes", n)
	}

	// --fresh starts a new run of the other sheet, and keeps what the
	// journal knows: the jobs the killed run left running are followed,
	// not submitted again, and its submissions in doubt are watched.
	records, _ := journal.Read(c.journal)
	inDoubt := unanswered(records)
	fresh := start(t, c.environ, append(args, "--fresh")...)
	releaseWhenFollowing(t, c.srv, fresh)
	if code := fresh.wait(t); code != exitOK {
		t.Fatalf("--fresh run = %d, want 0; stderr:\n%s", code, fresh.stderr.String())
	}
	records, _ = journal.Read(c.journal)
	if n := count(records, journal.KindStart); n != 2 || records[0].InputSHA256 == "" || !strings.HasSuffix(journal.Replay(records).Start.InputFile, "other.csv") {
		t.Errorf("after --fresh the journal holds %d runs, the latest for %q; want both runs, the latest for other.csv", n, journal.Replay(records).Start.InputFile)
	}
	full := slotRefusals(t, c.journal)
	for id, statuses := range sandboxtest.Submissions(t, c.srv) {
		if n := len(statuses) - full[id]; n != 1 {
			t.Errorf("user %s was submitted %d times (answers %v; in doubt at the kill: %v), want once", id, n, statuses, inDoubt[id])
		}
	}
	jobs := map[string]int{}
	for _, j := range c.srv.Jobs() {
		jobs[j.UserID]++
	}
	if len(jobs) != leavers+1 {
		t.Errorf("%d users got a job, want %d", len(jobs), leavers+1)
	}
	for id, n := range jobs {
		if n != 1 {
			t.Errorf("user %s got %d jobs, want 1", id, n)
		}
	}
	for _, r := range readResults(t, c.out) {
		if r["Outcome"] != "deleted" && r["Outcome"] != "skipped" {
			t.Errorf("--fresh run, row %s: %s %s %q; want deleted or skipped", r["Row"], r["Outcome"], r["Code"], r["Message"])
		}
	}
}

// TestCumulativeSheet is the nightly cron job over a growing leavers
// sheet: rows done by earlier runs come out skipped, naming the job that
// deleted the user, and only the new rows are sent.
func TestCumulativeSheet(t *testing.T) {
	t.Parallel()
	c := newCrashRun(t, sandbox.Config{})
	data, _ := os.ReadFile(c.sheet)
	lines := strings.SplitAfter(string(data), "\n")
	monday := filepath.Join(c.dir, "monday.csv")
	os.WriteFile(monday, []byte(strings.Join(lines[:6], "")), 0o644) // header and 5 leavers
	args := func(sheet string) []string {
		a := append([]string{}, c.args...)
		a[2] = sheet
		return a
	}
	if p := start(t, c.environ, args(monday)...); p.wait(t) != exitOK {
		t.Fatalf("Monday's run failed; stderr:\n%s", p.stderr.String())
	}
	mondayJobs := map[string]string{}
	for _, r := range readResults(t, c.out) {
		mondayJobs[r["User ID"]] = r["Job ID"]
	}

	tuesday := filepath.Join(c.dir, "tuesday.csv")
	os.WriteFile(tuesday, []byte(strings.Join(lines[:9], "")), 0o644) // the same 5 and 3 more
	before := sandboxtest.Writes(c.srv)
	if p := start(t, c.environ, args(tuesday)...); p.wait(t) != exitOK {
		t.Fatalf("Tuesday's run failed; stderr:\n%s", p.stderr.String())
	}
	if n := sandboxtest.Writes(c.srv) - before; n != 3 {
		t.Errorf("Tuesday's run sent %d submissions, want the 3 new rows", n)
	}
	for i, r := range readResults(t, c.out) {
		switch {
		case i < 5:
			if r["Outcome"] != "skipped" || r["Code"] != "ALREADY_DELETED" || r["Job ID"] != mondayJobs[r["User ID"]] || !strings.Contains(r["Message"], "monday.csv row") {
				t.Errorf("Tuesday row %s: %s %s job %q %q; want skipped ALREADY_DELETED, Monday's job %q and its row", r["Row"], r["Outcome"], r["Code"], r["Job ID"], r["Message"], mondayJobs[r["User ID"]])
			}
		default:
			if r["Outcome"] != "deleted" {
				t.Errorf("Tuesday row %s: %s, want deleted", r["Row"], r["Outcome"])
			}
		}
	}
}

// TestReportFromJournal rebuilds the results from the journal of a killed
// run, and of the finished run: the latter matches the run's own results.
func TestReportFromJournal(t *testing.T) {
	t.Parallel()
	c := newCrashRun(t, sandbox.Config{})
	first := c.killAt(t, func(r []journal.Record) bool { return answers(r) >= 12 })

	rebuilt := filepath.Join(c.dir, "rebuilt.xlsx")
	rep := start(t, nil, "report", "--journal", c.journal, "--output", rebuilt)
	if code := rep.wait(t); code != exitOK {
		t.Fatalf("offboard report = %d; stderr:\n%s", code, rep.stderr.String())
	}
	if !strings.Contains(rep.stdout.String(), "did not reach its end") {
		t.Errorf("report of a killed run does not say so; stdout:\n%s", rep.stdout.String())
	}
	rows := readResults(t, rebuilt)
	if len(rows) != leavers {
		t.Fatalf("rebuilt results hold %d rows, want %d", len(rows), leavers)
	}
	for _, r := range rows {
		switch r["Outcome"] {
		case "deleted", "not_run":
		case "submitted":
			if r["Job ID"] == "" {
				t.Errorf("row %s submitted without its job", r["Row"])
			}
		case "failed":
			if r["Code"] != "OUTCOME_UNKNOWN" {
				t.Errorf("row %s failed with %s", r["Row"], r["Code"])
			}
		default:
			t.Errorf("row %s: outcome %s", r["Row"], r["Outcome"])
		}
	}

	if p := start(t, c.environ, c.args...); p.wait(t) != exitOK {
		t.Fatalf("resumed run failed; stderr:\n%s", p.stderr.String())
	}
	rep = start(t, nil, "report", "--journal", c.journal, "--output", rebuilt)
	if code := rep.wait(t); code != exitOK {
		t.Fatalf("offboard report = %d; stderr:\n%s", code, rep.stderr.String())
	}
	if diff := cmp.Diff(readResults(t, c.out), readResults(t, rebuilt)); diff != "" {
		t.Errorf("results rebuilt from the journal differ from the run's (-run +report):\n%s", diff)
	}

	// The journal and the logs hold no secret.
	data, err := os.ReadFile(c.journal)
	if err != nil {
		t.Fatal(err)
	}
	_, secret, refresh := c.srv.Credentials()
	for name, text := range map[string]string{"journal": string(data), "killed run's log": first.stderr.String(), "report's output": rep.stdout.String() + rep.stderr.String()} {
		for _, s := range []string{secret, refresh} {
			if strings.Contains(text, s) {
				t.Errorf("the %s holds a secret", name)
			}
		}
	}
}

// TestResumeWithoutOutput runs the same command, without --output, again
// after a kill: it finds the interrupted run's journal under the default
// name and finishes the same results file.
func TestResumeWithoutOutput(t *testing.T) {
	t.Parallel()
	c := newCrashRun(t, sandbox.Config{})
	sheet, err := filepath.Abs(c.sheet)
	if err != nil {
		t.Fatal(err)
	}
	args := []string{"run", "--input", sheet, "--yes", "--log-format", "json", "--rate", "200", "--job-timeout", crashJobTimeout}
	first := startIn(t, c.dir, c.environ, args...)
	path := defaultJournal(t, c.dir, first)
	waitJournal(t, path, first, func(r []journal.Record) bool { return answers(r) >= 8 })
	first.cmd.Process.Signal(syscall.SIGKILL)
	first.wait(t)
	// A new run in the same second would get another default name
	// (-2): the second run must find the first's journal, not start anew.
	records, _ := journal.Read(path)

	second := startIn(t, c.dir, c.environ, args...)
	if code := second.wait(t); code != exitOK {
		t.Fatalf("second run = %d; stderr:\n%s", code, second.stderr.String())
	}
	results, _ := filepath.Glob(filepath.Join(c.dir, "offboard-results-*"))
	want := []string{strings.TrimSuffix(path, ".journal"), path}
	if diff := cmp.Diff(want, results); diff != "" {
		t.Errorf("files after the second run (-want +got):\n%s", diff)
	}
	checkOnce(t, c.srv, path, unanswered(records))
	checkAllDeleted(t, c.srv, want[0])

	// With --journal named but no --output, the interrupted run is
	// finished, into a results file under the default name: never to the
	// path the journal names, which a file now there (someone's notes, 0600)
	// must survive.
	c2 := newCrashRun(t, sandbox.Config{})
	jpath := filepath.Join(c2.dir, "state.journal")
	named := filepath.Join(c2.dir, "named.xlsx")
	args = []string{"run", "--input", c2.sheet, "--journal", jpath, "--yes", "--log-format", "json", "--rate", "200", "--job-timeout", crashJobTimeout}
	first = startIn(t, c2.dir, c2.environ, append(args, "--output", named)...)
	waitJournal(t, jpath, first, func(r []journal.Record) bool { return answers(r) >= 8 })
	first.cmd.Process.Signal(syscall.SIGKILL)
	first.wait(t)
	records, _ = journal.Read(jpath)
	if records[0].Output != named {
		t.Fatalf("the journal's start names output %q, want %q", records[0].Output, named)
	}
	os.Remove(named)
	if err := os.WriteFile(named, []byte("someone's notes\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	second = startIn(t, c2.dir, c2.environ, args...)
	if code := second.wait(t); code != exitOK {
		t.Fatalf("second run with --journal = %d; stderr:\n%s", code, second.stderr.String())
	}
	if data, _ := os.ReadFile(named); string(data) != "someone's notes\n" {
		t.Errorf("the path the journal names was written over (%d bytes now)", len(data))
	}
	results, _ = filepath.Glob(filepath.Join(c2.dir, "offboard-results-*"))
	if len(results) != 1 {
		t.Fatalf("results files with --journal and no --output: %q, want one under the default name", results)
	}
	checkOnce(t, c2.srv, jpath, unanswered(records))
	checkAllDeleted(t, c2.srv, results[0])
}

// TestNoWaitThenFollow submits with --no-wait, then runs the same command
// again while the last jobs still run: the second run follows them rather
// than submitting anyone again.
func TestNoWaitThenFollow(t *testing.T) {
	t.Parallel()
	c := newCrashRun(t, sandbox.Config{JobDuration: 200 * time.Millisecond, JobLimit: -1})
	c.srv.HoldJobs() // every job still runs when the second run starts
	first := start(t, c.environ, append(c.args, "--no-wait")...)
	if code := first.wait(t); code != exitIncomplete {
		t.Fatalf("--no-wait run = %d, want 3 (rows submitted); stderr:\n%s", code, first.stderr.String())
	}
	jobs := map[string]string{}
	for _, r := range readResults(t, c.out) {
		if r["Outcome"] != "submitted" || r["Job ID"] == "" {
			t.Errorf("--no-wait row %s: %s job %q, want submitted with its job", r["Row"], r["Outcome"], r["Job ID"])
		}
		jobs[r["Row"]] = r["Job ID"]
	}
	polls := c.srv.CountCalls("GET", "/crm/v7/users/actions/transfer_and_delete")
	second := start(t, c.environ, c.args...)
	waitFor(t, "the second run's first poll", func() bool {
		return c.srv.CountCalls("GET", "/crm/v7/users/actions/transfer_and_delete") > polls
	})
	c.srv.ReleaseJobs()
	if code := second.wait(t); code != exitOK {
		t.Fatalf("second run = %d, want 0; stderr:\n%s", code, second.stderr.String())
	}
	// Jobs that finished between the runs come out skipped, naming the
	// job; those still running are followed to their end.
	checkOnce(t, c.srv, c.journal, nil)
	followed := 0
	for _, r := range readResults(t, c.out) {
		switch {
		case r["Outcome"] == "deleted" && r["Job Status"] == "completed":
			followed++
		case r["Outcome"] == "skipped" && r["Code"] == "ALREADY_DELETED":
		default:
			t.Errorf("row %s: %s %s, want deleted or skipped ALREADY_DELETED", r["Row"], r["Outcome"], r["Code"])
		}
		if r["Job ID"] != jobs[r["Row"]] {
			t.Errorf("row %s: job %q, want the first run's %q", r["Row"], r["Job ID"], jobs[r["Row"]])
		}
		if u, ok := c.srv.User(r["User ID"]); !ok || u["status"] != "deleted" {
			t.Errorf("row %s: user %s is %v in Zoho, want deleted", r["Row"], r["User ID"], u["status"])
		}
	}
	if followed == 0 {
		t.Error("no job was still running for the second run to follow: this test tests nothing")
	}
}

// TestKillSampleChain kills the sample sheet's run while its chain
// (Chloe → Zoe → Henrik: each takes over the records of the one before)
// is halfway, and resumes: the chain still runs in order, each user once.
func TestKillSampleChain(t *testing.T) {
	t.Parallel()
	srv, environ := simEnv(t, sandbox.Config{JobDuration: 400 * time.Millisecond, ConcurrencyLimit: 5})
	dir := t.TempDir()
	out := filepath.Join(dir, "results.xlsx")
	jpath := out + ".journal"
	args := []string{"run", "--input", "samples/offboarding.csv", "--output", out, "--as-of", "2026-11-28", "--yes", "--log-format", "json", "--rate", "200", "--job-timeout", crashJobTimeout}
	first := start(t, environ, args...)
	chloe, zoe, henrik := "5210498000000425001", "5210498000000440001", "5210498000000416001"
	waitJournal(t, jpath, first, func(r []journal.Record) bool {
		us := journal.Replay(r).Users
		return us[chloe] != nil && us[chloe].Outcome == "deleted" // Zoe's turn next
	})
	first.cmd.Process.Signal(syscall.SIGKILL)
	first.wait(t)

	second := start(t, environ, args...)
	if code := second.wait(t); code != exitIncomplete {
		t.Fatalf("resumed run = %d, want 3 (the sample's invalid rows and failing job); stderr:\n%s", code, second.stderr.String())
	}
	want := map[string][2]string{}
	for row, oc := range sampleOutcomes {
		want[row] = oc
		if oc[0] == "planned" {
			want[row] = [2]string{"deleted", ""}
		}
	}
	want["7"] = [2]string{"failed", "JOB_FAILED"}
	got := map[string][2]string{}
	for _, r := range readResults(t, out) {
		oc := [2]string{r["Outcome"], r["Code"]}
		if oc == [2]string{"deleted", "RECONCILED"} {
			// The kill came while this row's submission was on the wire:
			// the resumed run found the user deleted by it. Just as right.
			oc = [2]string{"deleted", ""}
		}
		got[r["Row"]] = oc
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("outcomes by row after resuming (-want +got):\n%s", diff)
	}
	jobs := map[string]sandbox.Job{}
	for _, j := range srv.Jobs() {
		if _, dup := jobs[j.UserID]; dup {
			t.Errorf("user %s got a second job", j.UserID)
		}
		jobs[j.UserID] = j
	}
	if len(jobs) != 6 {
		t.Errorf("%d users got a job, want the 6 planned", len(jobs))
	}
	c, z, h := jobs[chloe], jobs[zoe], jobs[henrik]
	if !c.FinishedAt.Before(z.SubmittedAt) || !z.FinishedAt.Before(h.SubmittedAt) {
		t.Errorf("chain order broken: chloe finished %v, zoe submitted %v finished %v, henrik submitted %v",
			c.FinishedAt, z.SubmittedAt, z.FinishedAt, h.SubmittedAt)
	}
}

// TestInterruptWithSubmittersParked sends SIGINT while every submitter
// waits: for room among the calls in flight (the calls in flight are held
// at Zoho), or for a job slot (Zoho holds the status polls, so no job is
// seen to end). Once the run says it stopped, the held calls are let go:
// no submission may reach Zoho after that, the run exits 130, and the
// journal records no submission for a row that was never sent.
func TestInterruptWithSubmittersParked(t *testing.T) {
	cases := []struct {
		name string
		// hold says which calls to hold once answered submissions have
		// reached accepted.
		hold     func(c sandbox.Call) bool
		accepted int
		flags    []string
	}{
		{"waiting for room among the calls in flight", func(c sandbox.Call) bool { return strings.HasPrefix(c.Path, "/crm/") }, 4, []string{"--concurrency", "2"}},
		{"waiting for a job slot", func(c sandbox.Call) bool {
			return c.Method == "GET" && strings.HasSuffix(c.Path, "/transfer_and_delete")
		}, 10, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := newCrashRun(t, sandbox.Config{JobDuration: time.Second})
			var accepted atomic.Int32
			release := make(chan struct{})
			var releaseOnce sync.Once
			open := func() { releaseOnce.Do(func() { close(release) }) }
			t.Cleanup(open)
			c.srv.SetFaults(func(call sandbox.Call) sandbox.Fault {
				if accepted.Load() >= int32(tc.accepted) && tc.hold(call) {
					<-release
				}
				return sandbox.NoFault
			})
			args := append(append([]string{}, c.args...), tc.flags...)
			p := start(t, c.environ, args...)
			waitJournal(t, c.journal, p, func(r []journal.Record) bool {
				accepted.Store(int32(answers(r)))
				return answers(r) >= tc.accepted
			})
			// Every submitter now waits; give the held calls time to reach Zoho.
			time.Sleep(100 * time.Millisecond)
			p.cmd.Process.Signal(os.Interrupt)
			deadline := time.Now().Add(20 * time.Second)
			for !strings.Contains(p.stderr.String(), "stopping: nothing more is submitted") {
				if time.Now().After(deadline) {
					t.Fatalf("the run never said it stopped submitting; stderr:\n%s", p.stderr.String())
				}
				time.Sleep(5 * time.Millisecond)
			}
			released := time.Now()
			open()
			if code := p.wait(t); code != exitInterrupted {
				t.Fatalf("interrupted run = %d, want 130; stderr:\n%s", code, p.stderr.String())
			}
			for _, r := range c.srv.Requests() {
				if r.Method == "POST" && !r.Token && r.Start.After(released) {
					t.Errorf("a submission reached Zoho %v after the run said it stopped submitting", r.Start.Sub(released))
				}
			}
			// The journal: a submit record for every submission that reached
			// Zoho, and none for any other.
			records, err := journal.Read(c.journal)
			if err != nil {
				t.Fatal(err)
			}
			st := journal.Replay(records)
			recorded := 0
			for _, rs := range st.Rows {
				recorded += rs.Attempts
			}
			sent := 0
			for _, answers := range sandboxtest.Submissions(t, c.srv) {
				sent += len(answers)
			}
			if recorded != sent {
				t.Errorf("the journal records %d submissions, Zoho received %d", recorded, sent)
			}
			outcomes := map[string]int{}
			for _, r := range readResults(t, c.out) {
				outcomes[r["Outcome"]]++
			}
			if outcomes["not_run"] == 0 || outcomes["failed"] != 0 {
				t.Errorf("interrupted run's results: %v, want rows not_run and none failed", outcomes)
			}
		})
	}
}

// TestNewJournalKeepsRunningJobs runs without --output, kills the run
// while its jobs run, and runs again into a new results file: once with
// --fresh, once with the sheet edited. The new run writes a new journal,
// but it learns from the interrupted one which users' jobs still run: none
// is sent again, under a Zoho that would start a second job.
func TestNewJournalKeepsRunningJobs(t *testing.T) {
	for _, how := range []string{"--fresh", "edited sheet"} {
		t.Run(how, func(t *testing.T) {
			t.Parallel()
			c := newCrashRun(t, sandbox.Config{SecondSubmission: sandbox.StartSecondJob})
			c.srv.HoldJobs() // jobs still run when the new run starts
			sheet, _ := filepath.Abs(c.sheet)
			args := []string{"run", "--input", sheet, "--yes", "--log-format", "json", "--rate", "200", "--job-timeout", crashJobTimeout}
			first := startIn(t, c.dir, c.environ, args...)
			var path string
			for path == "" {
				if found, _ := filepath.Glob(filepath.Join(c.dir, "offboard-results-*.xlsx.journal")); len(found) == 1 {
					path = found[0]
				}
				time.Sleep(2 * time.Millisecond)
			}
			waitJournal(t, path, first, func(r []journal.Record) bool { return answers(r) >= 5 })
			first.cmd.Process.Signal(syscall.SIGKILL)
			first.wait(t)
			if how == "--fresh" {
				args = append(args, "--fresh")
			} else {
				data, _ := os.ReadFile(sheet)
				os.WriteFile(sheet, append(data, "aisha.bello@northwind-demo.example,lucas.meyer@northwind-demo.example,TRUE,TRUE,FALSE,,,HR-1\n"...), 0o644)
			}
			second := startIn(t, c.dir, c.environ, args...)
			releaseWhenFollowing(t, c.srv, second)
			if code := second.wait(t); code != exitOK {
				t.Fatalf("second run = %d, want 0; stderr:\n%s", code, second.stderr.String())
			}
			if journals, _ := filepath.Glob(filepath.Join(c.dir, "offboard-results-*.journal")); len(journals) != 2 {
				t.Fatalf("journals %v: want the interrupted run's and the new run's", journals)
			}
			jobs := map[string]int{}
			for _, j := range c.srv.Jobs() {
				jobs[j.UserID]++
			}
			for id, n := range jobs {
				if n != 1 {
					t.Errorf("user %s got %d jobs, want 1", id, n)
				}
			}
			// Refusals for Zoho's job limit (the new run sends steps ahead
			// of jobs due to end, and these jobs are held) start nothing.
			full := map[string]int{}
			journals, _ := filepath.Glob(filepath.Join(c.dir, "offboard-results-*.journal"))
			for _, j := range journals {
				for id, n := range slotRefusals(t, j) {
					full[id] += n
				}
			}
			for id, statuses := range sandboxtest.Submissions(t, c.srv) {
				if n := len(statuses) - full[id]; n != 1 {
					t.Errorf("user %s was submitted %d times (answers %v), want once", id, n, statuses)
				}
			}
		})
	}
}

// waitFor waits until ok holds; the bound only keeps a broken run from
// hanging the test run.
func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// TestInterruptedRunOfAnotherOrg: the same sheet, run without --output
// against org A and killed, then against org B: the run does not take A's
// settled rows for B's (they would say deleted of users B still has); it
// refuses and sends nothing until told --fresh.
func TestInterruptedRunOfAnotherOrg(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	seedA, sheet := crashOrg(t, dir, 6)
	seedB, _ := crashOrg(t, t.TempDir(), 6)
	seedB.Org.ID, seedB.Org.CompanyName = "5210498000000000999", "Other Org B"
	_, envA := simEnv(t, sandbox.Config{Seed: seedA, JobDuration: 200 * time.Millisecond})
	srvB, envB := simEnv(t, sandbox.Config{Seed: seedB, JobDuration: 200 * time.Millisecond})
	args := []string{"run", "--input", sheet, "--yes", "--log-format", "json", "--rate", "200", "--max-jobs", "1", "--job-timeout", crashJobTimeout}

	first := startIn(t, dir, envA, args...)
	var path string
	for deadline := time.Now().Add(30 * time.Second); path == "" && time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if found, _ := filepath.Glob(filepath.Join(dir, "offboard-results-*.xlsx.journal")); len(found) == 1 {
			path = found[0]
		}
	}
	waitJournal(t, path, first, func(r []journal.Record) bool { return count(r, journal.KindFinal) >= 3 })
	first.cmd.Process.Signal(syscall.SIGKILL)
	first.wait(t)
	before, _ := os.ReadFile(path)

	second := startIn(t, dir, envB, args...)
	code := second.wait(t)
	if code != exitFatal || !strings.Contains(second.stderr.String(), "org 5210498000000000101") || !strings.Contains(second.stderr.String(), "--fresh") {
		t.Errorf("run against org B on org A's interrupted journal = %d, stderr:\n%s\nwant 1, naming org A and --fresh", code, second.stderr.String())
	}
	if n := sandboxtest.Writes(srvB); n != 0 {
		t.Errorf("org B got %d writes, want none", n)
	}
	if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
		t.Errorf("org A's journal changed when the run against org B was refused")
	}
}

// startDefault runs offboard in dir without --output and returns it with
// the journal it writes under the default name, once it exists.
func startDefault(t *testing.T, dir string, environ map[string]string, args ...string) (*proc, string) {
	t.Helper()
	before, _ := filepath.Glob(filepath.Join(dir, "offboard-results-*.journal"))
	p := startIn(t, dir, environ, args...)
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		now, _ := filepath.Glob(filepath.Join(dir, "offboard-results-*.journal"))
		for _, path := range now {
			if !slices.Contains(before, path) {
				return p, path
			}
		}
	}
	t.Fatalf("offboard wrote no journal in %s; stderr:\n%s", dir, p.stderr.String())
	return nil, ""
}

// TestOwnHistoryAndAnotherJournal: the run's own journal says a user's job
// failed; a later run, under another journal, submitted the user again
// and was killed while that job ran. The own journal's record is the
// older: the job is followed, not doubled.
func TestOwnHistoryAndAnotherJournal(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	seed, sheet := crashOrg(t, dir, 3)
	srv, environ := simEnv(t, sandbox.Config{Seed: seed, JobDuration: 100 * time.Millisecond, SecondSubmission: sandbox.StartSecondJob})
	const x = "5210498000000900000"
	base := []string{"run", "--input", sheet, "--yes", "--log-format", "json", "--rate", "200", "--job-timeout", crashJobTimeout}
	out := filepath.Join(dir, "r.xlsx")

	srv.FailJob(x, "The user owns an active Blueprint transition.")
	if code := startIn(t, dir, environ, append(base, "--output", out)...).wait(t); code != exitIncomplete {
		t.Fatalf("run 1 = %d, want 3 (x's job failed)", code)
	}
	srv.FailJob(x, "")
	srv.HoldJobs()
	second, path := startDefault(t, dir, environ, base...)
	waitJournal(t, path, second, func(r []journal.Record) bool { return answers(r) >= 1 })
	second.cmd.Process.Signal(syscall.SIGKILL)
	second.wait(t)
	settle(srv)

	third := startIn(t, dir, environ, append(base, "--output", out)...)
	// Jobs are held until the third run has either sent x again (its two
	// jobs would then run at once) or begun to follow x's running job.
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if len(sandboxtest.Submissions(t, srv)[x]) > 2 || strings.Contains(third.stderr.String(), "following the job of an earlier run") {
			break
		}
	}
	srv.ReleaseJobs()
	if code := third.wait(t); code != exitOK {
		t.Errorf("run 3 = %d, want 0; stderr:\n%s", code, third.stderr.String())
	}
	sandboxtest.CheckNoOverlap(t, srv)
	if u, _ := srv.User(x); u["status"] != "deleted" {
		t.Errorf("x is %v, want deleted", u["status"])
	}
}

// TestSettledByALaterJournal: a killed run left a user's job running; a
// run under another journal followed it to its failure; once the cause is
// fixed, a third run sends the user again. The killed run's journal, which
// never learnt how the job ended, does not hold the user back for ever.
func TestSettledByALaterJournal(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	seed, sheet := crashOrg(t, dir, 1)
	srv, environ := simEnv(t, sandbox.Config{Seed: seed, JobDuration: 100 * time.Millisecond})
	const x = "5210498000000900000"
	base := []string{"run", "--input", sheet, "--yes", "--log-format", "json", "--rate", "200", "--job-timeout", crashJobTimeout}

	srv.FailJob(x, "The user owns an active Blueprint transition.")
	srv.HoldJobs()
	first, path := startDefault(t, dir, environ, base...)
	waitJournal(t, path, first, func(r []journal.Record) bool { return answers(r) >= 1 })
	first.cmd.Process.Signal(syscall.SIGKILL)
	first.wait(t)
	settle(srv)
	srv.ReleaseJobs()

	second := startIn(t, dir, environ, append(base, "--output", filepath.Join(dir, "b.xlsx"))...)
	if code := second.wait(t); code != exitIncomplete || !strings.Contains(second.stderr.String(), "JOB_FAILED") {
		t.Fatalf("run 2 = %d, want 3 with x's job failed; stderr:\n%s", code, second.stderr.String())
	}
	srv.FailJob(x, "") // the admin fixed the cause
	third := startIn(t, dir, environ, append(base, "--output", filepath.Join(dir, "c.xlsx"))...)
	if code := third.wait(t); code != exitOK {
		t.Errorf("run 3 = %d, want 0 (x sent again, deleted); stderr:\n%s", code, third.stderr.String())
	}
	if n := len(sandboxtest.Submissions(t, srv)[x]); n != 2 {
		t.Errorf("x was submitted %d times, want 2 (the failed job, then again)", n)
	}
	sandboxtest.CheckNoOverlap(t, srv)
}

// TestTwoRunsAtOnceInOneDirectory: while one run against an org goes on,
// another started in the same directory, on a sheet that shares a user,
// refuses to start: it cannot know what the first is about to submit.
func TestTwoRunsAtOnceInOneDirectory(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	seed, sheet := crashOrg(t, dir, 3)
	srv, environ := simEnv(t, sandbox.Config{Seed: seed, JobDuration: 100 * time.Millisecond, SecondSubmission: sandbox.StartSecondJob})
	base := []string{"run", "--yes", "--log-format", "json", "--rate", "200", "--job-timeout", crashJobTimeout}

	srv.HoldJobs()
	first, path := startDefault(t, dir, environ, append(base, "--input", sheet)...)
	waitJournal(t, path, first, func(r []journal.Record) bool { return answers(r) >= 1 })
	late := filepath.Join(dir, "late.csv")
	os.WriteFile(late, []byte("user,transfer_to\nrep002@northwind-demo.example,lucas.meyer@northwind-demo.example\n"), 0o644)
	second := startIn(t, dir, environ, append(base, "--input", late, "--output", filepath.Join(dir, "late.xlsx"))...)
	if code := second.wait(t); code != exitFatal || !strings.Contains(second.stderr.String(), "is using journal "+path) {
		t.Errorf("second run beside a live one = %d, want 1 naming the live run's journal; stderr:\n%s", code, second.stderr.String())
	}
	srv.ReleaseJobs()
	if code := first.wait(t); code != exitOK {
		t.Errorf("first run = %d, want 0; stderr:\n%s", code, first.stderr.String())
	}
	if n := len(sandboxtest.Submissions(t, srv)["5210498000000900002"]); n != 1 {
		t.Errorf("rep002 was submitted %d times, want once, by the first run", n)
	}
	sandboxtest.CheckNoOverlap(t, srv)
	// Once the first run is over, the same command runs: rep002 is gone.
	again := startIn(t, dir, environ, append(base, "--input", late, "--output", filepath.Join(dir, "late.xlsx"))...)
	if code := again.wait(t); code != exitOK {
		t.Errorf("second run after the first ended = %d, want 0; stderr:\n%s", code, again.stderr.String())
	}
}

// TestPlantedDefaultJournal: a journal under the default name that this
// user could not have written alone (anyone may write it, or another user
// owns it: planted in a shared directory, where a cron run without
// --output looks for an interrupted run to finish) is passed over, never
// resumed: what it says the run did does not become the results. The new
// run still follows the jobs it names rather than send their users again.
func TestPlantedDefaultJournal(t *testing.T) {
	t.Parallel()
	plants := map[string]func(string) error{
		"anyone may write it": func(p string) error { return os.Chmod(p, 0o666) },
	}
	if os.Getuid() == 0 {
		plants["another user owns it"] = func(p string) error { return os.Chown(p, 65534, 65534) }
	} else {
		t.Log("not root: the journal of another user is tried in CI, which runs as root")
	}
	for name, plant := range plants {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c := newCrashRun(t, sandbox.Config{})
			sheet, err := filepath.Abs(c.sheet)
			if err != nil {
				t.Fatal(err)
			}
			args := []string{"run", "--input", sheet, "--yes", "--log-format", "json", "--rate", "200", "--job-timeout", crashJobTimeout}
			first := startIn(t, c.dir, c.environ, args...)
			path := defaultJournal(t, c.dir, first)
			waitJournal(t, path, first, func(r []journal.Record) bool { return answers(r) >= 8 })
			first.cmd.Process.Signal(syscall.SIGKILL)
			first.wait(t)
			records, _ := journal.Read(path)
			if err := plant(path); err != nil {
				t.Fatal(err)
			}
			before, _ := os.ReadFile(path)

			second := startIn(t, c.dir, c.environ, args...)
			if code := second.wait(t); code != exitOK {
				t.Fatalf("second run = %d; stderr:\n%s", code, second.stderr.String())
			}
			if !strings.Contains(second.stderr.String(), "passed over: not a journal of this user's to resume") {
				t.Errorf("no word of the journal passed over; stderr:\n%s", second.stderr.String())
			}
			if after, _ := os.ReadFile(path); string(after) != string(before) {
				t.Errorf("the planted journal was written to")
			}
			results, _ := filepath.Glob(filepath.Join(c.dir, "offboard-results-*.xlsx"))
			if len(results) != 1 || results[0] == strings.TrimSuffix(path, ".journal") {
				t.Fatalf("results files %q: want one, of the new run, not under the planted journal's name", results)
			}
			checkOnce(t, c.srv, results[0]+".journal", unanswered(records))
			// Each row is deleted by this run, or, when the killed run's
			// job had already deleted the user, skipped as already
			// deleted: whichever the timing made true.
			rows := readResults(t, results[0])
			if len(rows) != leavers {
				t.Fatalf("results hold %d rows, want %d", len(rows), leavers)
			}
			for _, r := range rows {
				if r["Outcome"] != "deleted" && (r["Outcome"] != "skipped" || r["Code"] != "ALREADY_DELETED") {
					t.Errorf("row %s: %s %s %q, want deleted, or skipped as already deleted", r["Row"], r["Outcome"], r["Code"], r["Message"])
				}
			}
		})
	}
}

// defaultJournal waits for run p, started in dir without --output, to
// create its journal under the default name, and returns its path.
func defaultJournal(t *testing.T, dir string, p *proc) string {
	t.Helper()
	for {
		if found, _ := filepath.Glob(filepath.Join(dir, "offboard-results-*.xlsx.journal")); len(found) == 1 {
			return found[0]
		}
		select {
		case <-p.done:
			t.Fatalf("run ended early; stderr:\n%s", p.stderr.String())
		case <-time.After(2 * time.Millisecond):
		}
	}
}

// holdPolls makes srv hold every job status poll from hold() on, until
// release(): a run's wind-down cannot end while they are held.
func holdPolls(srv *sandbox.Server) (hold, release func()) {
	var holding atomic.Bool
	done := make(chan struct{})
	srv.SetFaults(func(call sandbox.Call) sandbox.Fault {
		if holding.Load() && call.Method == "GET" && strings.HasSuffix(call.Path, "/transfer_and_delete") {
			<-done
		}
		return sandbox.NoFault
	})
	return func() { holding.Store(true) }, func() { holding.Store(false); close(done) }
}
