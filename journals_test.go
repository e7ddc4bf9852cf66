package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"offboard/journal"
	"offboard/result"
	"offboard/sandbox"
	"offboard/sandbox/sandboxtest"
)

// These tests run the binary beside the journals of other runs in one
// directory: runs starting together, a journal that cannot be read, one
// written on a host whose clock was wrong, and a sandbox run pointed at a
// real run's files. The simulator's request log is the proof of what was
// sent.

// TestRunStartingBesideAnotherThatHasJustStarted: a run that has locked
// its journal but not yet written what it runs against (it is still
// reading the org, or waiting at the confirmation) is a run that may
// submit any user: a second run started then, on a sheet sharing its
// users, must not go on beside it, whatever the journal's earlier runs
// were against. (Of two runs starting together, whichever looks later
// sees the other: both may refuse, never both run.)
func TestRunStartingBesideAnotherThatHasJustStarted(t *testing.T) {
	t.Parallel()
	for _, before := range []string{"nothing", "a sandbox run", "a run against another org"} {
		t.Run("journal holding "+before, func(t *testing.T) {
			t.Parallel()
			dir, sheet, srv, environ := journalOrg(t, 3)
			other := filepath.Join(dir, "other.csv")
			data, _ := os.ReadFile(sheet)
			os.WriteFile(other, data, 0o644)
			base := []string{"run", "--yes", "--log-format", "json", "--rate", "200", "--job-timeout", crashJobTimeout}
			a := filepath.Join(dir, "a.xlsx")
			switch before {
			case "a sandbox run":
				// The sheet's users are not the sandbox's: rows invalid, but
				// the run is in the journal.
				sb := startIn(t, dir, nil, append(base, "--input", sheet, "--output", a, "--sandbox")...)
				sb.wait(t)
				if records, _ := journal.Read(a + ".journal"); len(records) == 0 || !records[0].Sandbox {
					t.Fatalf("the sandbox run left no journal; stderr:\n%s", sb.stderr.String())
				}
			case "a run against another org":
				seedB, _ := crashOrg(t, t.TempDir(), 3)
				seedB.Org.ID, seedB.Org.CompanyName = "5210498000000000999", "Other Org B"
				_, envB := simEnv(t, sandbox.Config{Seed: seedB, JobDuration: 100 * time.Millisecond})
				if code := startIn(t, dir, envB, append(base, "--input", sheet, "--output", a)...).wait(t); code != exitOK {
					t.Fatalf("run against org B = %d", code)
				}
			}
			os.Remove(a)
			// At one call a second, the first run reads the org for seconds
			// after it has taken its journal's lock; the second run reads it
			// at once.
			first := startIn(t, dir, environ, append(base, "--input", sheet, "--output", a, "--rate", "1")...)
			deadline := time.Now().Add(30 * time.Second)
			for {
				if owner, busy, _ := journal.InUse(a + ".journal"); busy && owner.PID == first.cmd.Process.Pid {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("the first run took no lock; stderr:\n%s", first.stderr.String())
				}
				time.Sleep(2 * time.Millisecond)
			}
			second := startIn(t, dir, environ, append(base, "--input", other, "--output", filepath.Join(dir, "b.xlsx"))...)
			if code := second.wait(t); code != exitFatal || !strings.Contains(second.stderr.String(), "is using journal "+a+".journal") {
				t.Errorf("run started beside one still reading the org = %d, want 1 naming its journal; stderr:\n%s", code, second.stderr.String())
			}
			first.cmd.Process.Signal(syscall.SIGKILL)
			first.wait(t)
			sandboxtest.CheckOneJobPerUser(t, srv)
			sandboxtest.CheckNoOverlap(t, srv)
		})
	}
}

// TestJournalsThatCannotBeChecked: a journal, or a lock, that this user
// cannot open (another user's, in a shared directory) may be a run going
// on, or hold a job still running. Nothing is sent beside it. A directory
// named like a journal, and a lock that is a symlink loop, stand for
// them: root opens any file.
func TestJournalsThatCannotBeChecked(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name  string
		plant func(dir string)
		want  string
	}{
		{"journal", func(dir string) { os.Mkdir(filepath.Join(dir, "theirs.xlsx.journal"), 0o700) }, "theirs.xlsx.journal"},
		{"lock", func(dir string) {
			lock := filepath.Join(dir, "theirs.xlsx.journal.lock")
			os.Symlink(lock, lock)
		}, "theirs.xlsx.journal.lock"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			seed, sheet := crashOrg(t, dir, 1)
			srv, environ := simEnv(t, sandbox.Config{Seed: seed, JobDuration: 100 * time.Millisecond})
			tt.plant(dir)
			p := startIn(t, dir, environ, "run", "--input", sheet, "--output", filepath.Join(dir, "r.xlsx"), "--yes", "--log-format", "json")
			if code := p.wait(t); code != exitFatal || !strings.Contains(p.stderr.String(), tt.want) {
				t.Errorf("run beside a %s it cannot open = %d, want 1 naming it; stderr:\n%s", tt.name, code, p.stderr.String())
			}
			if n := sandboxtest.Writes(srv); n != 0 {
				t.Errorf("%d writes were sent, want none", n)
			}
		})
	}
}

// TestAnotherJournalThatCannotBeRead: a journal of the same directory,
// whose run left a job running, has a damaged line in its middle (a hand
// edit, a disk error). What it knows is unknown: the next run refuses,
// naming it, and sends nothing.
func TestAnotherJournalThatCannotBeRead(t *testing.T) {
	t.Parallel()
	for _, damage := range []string{"a line cut in the middle", "its first bytes"} {
		t.Run(damage, func(t *testing.T) {
			t.Parallel()
			testAnotherJournalThatCannotBeRead(t, damage)
		})
	}
}

func testAnotherJournalThatCannotBeRead(t *testing.T, damage string) {
	dir, sheet, srv, environ := journalOrg(t, 3)
	base := []string{"run", "--input", sheet, "--yes", "--log-format", "json", "--rate", "200", "--job-timeout", crashJobTimeout}
	srv.HoldJobs()
	a := filepath.Join(dir, "a.xlsx")
	killAfterAnswers(t, dir, environ, a+".journal", 3, append(base, "--output", a)...)
	data, _ := os.ReadFile(a + ".journal")
	if damage == "its first bytes" {
		data[3] = 0xff // a disk error on the file's first block: the start line is lost
	} else {
		lines := strings.Split(string(data), "\n")
		lines[1] = lines[1][:len(lines[1])/2]
		data = []byte(strings.Join(lines, "\n"))
	}
	os.WriteFile(a+".journal", data, 0o600)
	writes := sandboxtest.Writes(srv)

	second := startIn(t, dir, environ, append(base, "--output", filepath.Join(dir, "b.xlsx"))...)
	if code := second.wait(t); code != exitFatal || !strings.Contains(second.stderr.String(), "a.xlsx.journal") || !strings.Contains(second.stderr.String(), "cannot be read") {
		t.Errorf("run beside a damaged journal = %d, want 1 naming it; stderr:\n%s", code, second.stderr.String())
	}
	if got := sandboxtest.Writes(srv); got != writes {
		t.Errorf("the run beside a damaged journal sent %d requests, want none", got-writes)
	}
	srv.ReleaseJobs()
	sandboxtest.CheckOneJobPerUser(t, srv)
}

// shiftJournal moves every time in a journal by d: the journal of a run on
// a host whose clock was d ahead.
func shiftJournal(t *testing.T, path string, d time.Duration) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var walk func(v any) any
	walk = func(v any) any {
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				x[k] = walk(e)
			}
		case []any:
			for i, e := range x {
				x[i] = walk(e)
			}
		case string:
			if ts, err := time.Parse(time.RFC3339Nano, x); err == nil && ts.Year() > 2000 {
				return ts.Add(d).Format(time.RFC3339Nano)
			}
		}
		return v
	}
	var out bytes.Buffer
	for line := range strings.SplitSeq(strings.TrimSpace(string(data)), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(walk(m))
		out.Write(append(b, '\n'))
	}
	if err := os.WriteFile(path, out.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestAnotherJournalsClockWasAhead: run Y, on a host whose clock was an
// hour ahead, saw x's job fail. Run X then sent x again and was killed
// while that job ran. Y's record of x is "later" by the clocks, yet X's
// job may be running: run Z follows it and never sends x a third time.
func TestAnotherJournalsClockWasAhead(t *testing.T) {
	t.Parallel()
	dir, sheet, srv, environ := journalOrg(t, 1)
	const x = "5210498000000900000"
	base := []string{"run", "--input", sheet, "--yes", "--log-format", "json", "--rate", "200", "--job-timeout", crashJobTimeout}
	y := filepath.Join(dir, "y.xlsx")
	srv.FailJob(x, "The user owns an active Blueprint transition.")
	if code := startIn(t, dir, environ, append(base, "--output", y)...).wait(t); code != exitIncomplete {
		t.Fatalf("run Y = %d, want 3 (x's job failed)", code)
	}
	shiftJournal(t, y+".journal", time.Hour)
	srv.FailJob(x, "")
	srv.HoldJobs()
	xo := filepath.Join(dir, "x.xlsx")
	killAfterAnswers(t, dir, environ, xo+".journal", 1, append(base, "--output", xo)...)

	followsHeldJob(t, srv, startIn(t, dir, environ, append(base, "--output", filepath.Join(dir, "z.xlsx"))...), "run Z") // let Z look at the user while X's job runs
	if n := len(sandboxtest.Submissions(t, srv)[x]); n != 2 {
		t.Errorf("x was submitted %d times, want 2 (Y's failed job, X's job): Z trusted Y's clock", n)
	}
	sandboxtest.CheckNoOverlap(t, srv)
}

// TestSandboxRunOnARealRunsFiles: someone tries the command of an
// interrupted real run with --sandbox, the same --output. It refuses: the
// sandbox run would hide the real run's history and overwrite its results.
// The real command then resumes as if nothing had happened.
func TestSandboxRunOnARealRunsFiles(t *testing.T) {
	t.Parallel()
	dir, sheet, srv, environ := journalOrg(t, 3)
	out := filepath.Join(dir, "r.xlsx")
	args := []string{"run", "--input", sheet, "--output", out, "--yes", "--log-format", "json", "--rate", "200", "--job-timeout", crashJobTimeout}
	srv.HoldJobs()
	killAfterAnswers(t, dir, environ, out+".journal", 3, args...)
	before, _ := os.ReadFile(out + ".journal")

	sb := startIn(t, dir, nil, append(args, "--sandbox")...)
	if code := sb.wait(t); code != exitFatal || !strings.Contains(sb.stderr.String(), "holds runs against a real org") {
		t.Errorf("--sandbox on a real run's journal = %d, want 1 saying why; stderr:\n%s", code, sb.stderr.String())
	}
	if after, _ := os.ReadFile(out + ".journal"); !bytes.Equal(before, after) {
		t.Errorf("the --sandbox run changed the real run's journal")
	}
	srv.ReleaseJobs()
	again := startIn(t, dir, environ, args...)
	if code := again.wait(t); code != exitOK {
		t.Errorf("the real command again = %d, want 0; stderr:\n%s", code, again.stderr.String())
	}
	sandboxtest.CheckOneJobPerUser(t, srv)
}

// TestJournalsReadInAnyOrder: what the journals know of a user does not
// depend on the order they are read in, nor on their clocks.
//
//	a.xlsx.journal: run A (clock an hour ahead) left x's job J1 running
//	c.xlsx.journal: run B followed J1 to its failure
//	b.xlsx.journal: run C sent x again, J2, and was killed while J2 ran
//
// Run D must follow J2, not send x a third time.
func TestJournalsReadInAnyOrder(t *testing.T) {
	t.Parallel()
	dir, sheet, srv, environ := journalOrg(t, 1)
	const x = "5210498000000900000"
	base := []string{"run", "--input", sheet, "--yes", "--log-format", "json", "--rate", "200", "--job-timeout", crashJobTimeout}
	out := func(n string) []string { return append(base, "--output", filepath.Join(dir, n+".xlsx")) }

	srv.FailJob(x, "The user owns an active Blueprint transition.")
	srv.HoldJobs()
	killAfterAnswers(t, dir, environ, filepath.Join(dir, "a.xlsx.journal"), 1, out("a")...)
	settle(srv)
	shiftJournal(t, filepath.Join(dir, "a.xlsx.journal"), time.Hour)
	srv.ReleaseJobs()
	if code := startIn(t, dir, environ, out("c")...).wait(t); code != exitIncomplete {
		t.Fatalf("run B = %d, want 3 (J1 failed)", code)
	}
	srv.FailJob(x, "")
	srv.HoldJobs()
	killAfterAnswers(t, dir, environ, filepath.Join(dir, "b.xlsx.journal"), 1, out("b")...)
	settle(srv)

	followsHeldJob(t, srv, startIn(t, dir, environ, out("d")...), "run D") // D looks at x while J2 runs
	if n := len(sandboxtest.Submissions(t, srv)[x]); n != 2 {
		t.Errorf("x was submitted %d times, want 2 (J1, J2)", n)
	}
	sandboxtest.CheckNoOverlap(t, srv)
}

// TestDoubtOfAnotherHost: run A, on another host whose clock was an hour
// behind, sent x and was killed before the answer; its job runs. Timed on
// A's clock the doubt would look long over: run B times it from now, and
// watches x until the job has deleted it.
func TestDoubtOfAnotherHost(t *testing.T) {
	t.Parallel()
	dir, sheet, srv, environ := journalOrg(t, 1)
	base := []string{"run", "--input", sheet, "--yes", "--log-format", "json", "--rate", "200", "--job-timeout", "3s"}
	out := func(n string) []string { return append(base, "--output", filepath.Join(dir, n+".xlsx")) }
	block := make(chan struct{})
	srv.SetFaults(func(c sandbox.Call) sandbox.Fault {
		if c.Method == "POST" && strings.Contains(c.Path, "transfer_and_delete") {
			<-block
			return sandbox.DropAfterCommit
		}
		return sandbox.NoFault
	})
	srv.HoldJobs()
	a := filepath.Join(dir, "a.xlsx.journal")
	runA := startIn(t, dir, environ, out("a")...)
	waitJournal(t, a, runA, func(r []journal.Record) bool { return len(unanswered(r)) >= 1 })
	runA.cmd.Process.Signal(syscall.SIGKILL)
	runA.wait(t)
	close(block)
	settle(srv)
	srv.SetFaults(nil)
	shiftJournal(t, a, -time.Hour)
	data, _ := os.ReadFile(a)
	os.WriteFile(a, bytes.Replace(data, []byte(`"host":"`), []byte(`"host":"another-`), 1), 0o600)

	followsHeldJob(t, srv, startIn(t, dir, environ, out("b")...), "run B") // B looks at x while A's job runs
	sandboxtest.CheckOneJobPerUser(t, srv)
}

// TestHistoryInAJournalHeldByAnotherOrgsRun: run 1, against org X, ends
// with x's job J1 still running (it outlived --job-timeout). Run 2,
// against org Y, appends to the same journal and is still going. Run 3,
// against X beside it, is not refused (Y's run cannot touch X's users),
// but reads run 1's record of J1 and follows it rather than send x again.
func TestHistoryInAJournalHeldByAnotherOrgsRun(t *testing.T) {
	t.Parallel()
	dir, sheet, srv, environ := journalOrg(t, 1)
	seedY, _ := crashOrg(t, t.TempDir(), 1)
	seedY.Org.ID, seedY.Org.CompanyName = "5210498000000000999", "Other Org Y"
	seedY.Users[len(seedY.Users)-1].ID = "5210498000000977777" // user IDs are not shared between orgs
	srvY, envY := simEnv(t, sandbox.Config{Seed: seedY, JobDuration: 100 * time.Millisecond})
	a := filepath.Join(dir, "a.xlsx")
	base := []string{"run", "--input", sheet, "--yes", "--log-format", "json", "--rate", "200"}

	srv.HoldJobs()
	if code := startIn(t, dir, environ, append(base, "--output", a, "--job-timeout", "1500ms")...).wait(t); code != exitIncomplete {
		t.Fatalf("run 1 = %d, want 3 (the job outlived --job-timeout)", code)
	}
	srvY.HoldJobs()
	run2 := startIn(t, dir, envY, append(base, "--output", a, "--job-timeout", "60s")...)
	waitJournal(t, a+".journal", run2, func(r []journal.Record) bool {
		starts := 0
		for _, rec := range r {
			if rec.Kind == journal.KindStart {
				starts++
			}
		}
		return starts >= 2 && answers(r) >= 2
	})
	followsHeldJob(t, srv, startIn(t, dir, environ, append(base, "--output", filepath.Join(dir, "c.xlsx"), "--job-timeout", "1500ms")...), "run 3") // run 3 looks at x while J1 runs
	srvY.ReleaseJobs()
	run2.wait(t)
	sandboxtest.CheckOneJobPerUser(t, srv)
}

// TestOwnJournalWhoseLatestRunWasAnotherOrgs: run 1, against org X,
// leaves x's job J1 running in a.xlsx.journal; run 2, against org Y, then
// uses the same journal to its end. Run 3, against X on the same journal,
// must still know J1 from run 1, and follow it.
func TestOwnJournalWhoseLatestRunWasAnotherOrgs(t *testing.T) {
	t.Parallel()
	dir, sheet, srv, environ := journalOrg(t, 1)
	seedY, _ := crashOrg(t, t.TempDir(), 1)
	seedY.Org.ID, seedY.Org.CompanyName = "5210498000000000999", "Other Org Y"
	seedY.Users[len(seedY.Users)-1].ID = "5210498000000977777"
	_, envY := simEnv(t, sandbox.Config{Seed: seedY, JobDuration: 100 * time.Millisecond})
	a := filepath.Join(dir, "a.xlsx")
	base := []string{"run", "--input", sheet, "--yes", "--log-format", "json", "--rate", "200", "--job-timeout", "1500ms", "--output", a}

	srv.HoldJobs()
	if code := startIn(t, dir, environ, base...).wait(t); code != exitIncomplete {
		t.Fatalf("run 1 = %d, want 3 (the job outlived --job-timeout)", code)
	}
	if code := startIn(t, dir, envY, base...).wait(t); code != exitOK {
		t.Fatalf("run 2 (org Y) = %d, want 0", code)
	}
	followsHeldJob(t, srv, startIn(t, dir, environ, base...), "run 3") // run 3 looks at x while J1 runs
	sandboxtest.CheckOneJobPerUser(t, srv)
}

// killAfterAnswers runs offboard with args in dir and kills it once its
// journal at path holds n answers with a job: a run killed while its jobs
// run.
func killAfterAnswers(t *testing.T, dir string, environ map[string]string, path string, n int, args ...string) {
	t.Helper()
	p := startIn(t, dir, environ, args...)
	waitJournal(t, path, p, func(r []journal.Record) bool { return answers(r) >= n })
	p.cmd.Process.Signal(syscall.SIGKILL)
	p.wait(t)
}

// followsHeldJob lets run p look at a user whose job the simulator holds,
// then lets the job end: p must follow it to its end, exit 0.
func followsHeldJob(t *testing.T, srv *sandbox.Server, p *proc, name string) {
	t.Helper()
	time.Sleep(300 * time.Millisecond)
	srv.ReleaseJobs()
	if code := p.wait(t); code != exitOK {
		t.Errorf("%s = %d, want 0 (it follows the job left running to its end); stderr:\n%s", name, code, p.stderr.String())
	}
}

// journalOrg is a directory with the sheet of n leavers, and a simulator
// of their org that starts a second job for a user sent twice (so that a
// test sees it) and runs jobs of 100 ms.
func journalOrg(t *testing.T, n int) (dir, sheet string, srv *sandbox.Server, environ map[string]string) {
	t.Helper()
	dir = t.TempDir()
	seed, sheet := crashOrg(t, dir, n)
	srv, environ = simEnv(t, sandbox.Config{Seed: seed, JobDuration: 100 * time.Millisecond, SecondSubmission: sandbox.StartSecondJob})
	return dir, sheet, srv, environ
}

// TestJournalCompactedAtTheTenthRun: a journal that a cron job appends a
// run to every night is compacted when a run starts on it after ten:
// its earlier runs become one history record of what they did to each
// user. A job an old run left running is still known: the user is not
// sent again.
func TestJournalCompactedAtTheTenthRun(t *testing.T) {
	t.Parallel()
	dir, sheet, srv, environ := journalOrg(t, 1)
	path := filepath.Join(dir, "cron.journal")
	j, _, err := journal.Open(path, journal.Owner{PID: 1, Host: "h", Started: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	const x = "5210498000000900000"
	for night := range journal.CompactAfter {
		must := func(r journal.Record) {
			if err := j.Append(r); err != nil {
				t.Fatal(err)
			}
		}
		must(journal.Record{Kind: journal.KindStart, InputFile: "old.csv", InputSHA256: fmt.Sprint(night), OrgID: "5210498000000000111",
			Steps: []result.Row{{Line: 2, UserID: x}}})
		if night == 0 {
			// The first night's job outlived --job-timeout: still running.
			must(journal.Record{Kind: journal.KindSubmit, Row: 0, UserID: x, Attempt: 1})
			must(journal.Record{Kind: journal.KindAnswer, Row: 0, Attempt: 1, JobID: "5210498000099900001"})
			must(journal.Record{Kind: journal.KindFinal, Row: 0, Result: &result.Row{Line: 2, UserID: x, Outcome: result.Submitted, JobID: "5210498000099900001"}})
		}
		must(journal.Record{Kind: journal.KindEnd})
	}
	j.Close()

	p := startIn(t, dir, environ, "run", "--input", sheet, "--journal", path, "--output", filepath.Join(dir, "r.xlsx"),
		"--yes", "--log-format", "json", "--rate", "200", "--job-timeout", crashJobTimeout)
	p.wait(t)
	if !strings.Contains(p.stderr.String(), "journal compacted") {
		t.Errorf("the eleventh run did not compact the journal; stderr:\n%s", p.stderr.String())
	}
	if n := len(sandboxtest.Submissions(t, srv)[x]); n != 0 {
		t.Errorf("x was submitted %d times, want none: the old run's job may still run", n)
	}
	records, err := journal.Read(path)
	if err != nil || len(records) == 0 || records[0].Kind != journal.KindHistory || journal.Runs(records) != 1 {
		t.Errorf("the journal after: %d records, first %q, %d runs (%v); want a history record and this run", len(records), first(records), journal.Runs(records), err)
	}
}

func first(records []journal.Record) string {
	if len(records) == 0 {
		return ""
	}
	return records[0].Kind
}
