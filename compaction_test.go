package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"offboard/journal"
	"offboard/sandbox"
	"offboard/sandbox/sandboxtest"
)

const xUser = "5210498000000900000" // rep000, the sheet's only leaver

// heldRunAndMore: run 1 against the simulator's org X leaves x's job running
// (held past --job-timeout) in a.xlsx.journal; then `more` finished runs
// (copies of run 1's start record, without rows) are appended, as a
// nightly cron would. Returns dir, sheet, srv, environ, a.
func heldRunAndMore(t *testing.T, more int) (string, string, *sandbox.Server, map[string]string, string) {
	t.Helper()
	dir, sheet, srv, environ := journalOrg(t, 1)
	a := filepath.Join(dir, "a.xlsx")
	srv.HoldJobs()
	p := startIn(t, dir, environ, "run", "--input", sheet, "--yes", "--log-format", "json", "--rate", "200", "--job-timeout", "1500ms", "--output", a)
	if code := p.wait(t); code != exitIncomplete {
		t.Fatalf("run 1 = %d, want 3; stderr:\n%s", code, p.stderr.String())
	}
	records, err := journal.Read(a + ".journal")
	if err != nil {
		t.Fatal(err)
	}
	first := records[0]
	j, _, err := journal.Open(a+".journal", journal.Owner{PID: 1, Host: "h", Started: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	for range more {
		s := first
		s.Steps, s.Time, s.Owner = nil, time.Time{}, nil
		if err := j.Append(s); err != nil {
			t.Fatal(err)
		}
		if err := j.Append(journal.Record{Kind: journal.KindEnd}); err != nil {
			t.Fatal(err)
		}
	}
	j.Close()
	return dir, sheet, srv, environ, a
}

func subsOfX(t *testing.T, srv *sandbox.Server) int {
	return len(sandboxtest.Submissions(t, srv)[xUser])
}

// compactOnly does what a run does up to the rename, and is then killed:
// the journal is the history record alone.
func historyAlone(t *testing.T, path string) {
	t.Helper()
	j, records, err := journal.Open(path, journal.Owner{PID: 1, Host: "h", Started: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	if err := j.Compact(journal.Replay(records), journal.Record{Kind: journal.KindStart}); err != nil {
		t.Fatal(err)
	}
	j.Close()
	data, _ := os.ReadFile(path)
	lines := strings.SplitN(string(data), "\n", 2)
	os.WriteFile(path, []byte(lines[0]+"\n"), 0o600) // the history alone
	records, _ = journal.Read(path)
	if len(records) != 1 || records[0].Kind != journal.KindHistory || len(records[0].Users[xUser].Running()) != 1 {
		t.Fatalf("compacted journal = %+v", records)
	}
}

// TestJournalOfAHistoryAlone: a journal that holds only a history record
// (no run's start after it) still says what its runs did to each user: a
// job left running is followed, the user not sent again. Compact writes
// the compacting run's start with the history, so offboard never leaves
// one so; the run must still read it right.
func TestJournalOfAHistoryAlone(t *testing.T) {
	t.Parallel()
	dir, sheet, srv, environ, a := heldRunAndMore(t, 9)
	historyAlone(t, a+".journal")
	p := startIn(t, dir, environ, "run", "--input", sheet, "--yes", "--log-format", "json", "--rate", "200", "--job-timeout", "1500ms", "--output", a)
	time.Sleep(300 * time.Millisecond)
	srv.ReleaseJobs()
	p.wait(t)
	if n := subsOfX(t, srv); n != 1 {
		t.Errorf("x submitted %d times, want 1: the history-only journal's running job was ignored (history=false when st.Start==nil)", n)
	}
	sandboxtest.CheckOneJobPerUser(t, srv)
}

// TestJournalCompactedByAnotherOrgsRun: the run that compacts a journal is
// against another org Y; its history still holds org X's job left running,
// and a later run against X, with another journal, follows it (with and
// without the compaction).
func TestJournalCompactedByAnotherOrgsRun(t *testing.T) {
	t.Parallel()
	for _, more := range []int{8, 9} {
		t.Run(map[int]string{8: "control-no-compaction", 9: "compacted"}[more], func(t *testing.T) {
			t.Parallel()
			dir, sheet, srv, environ, a := heldRunAndMore(t, more)
			seedY, _ := crashOrg(t, t.TempDir(), 1)
			seedY.Org.ID, seedY.Org.CompanyName = "5210498000000000999", "Other Org Y"
			seedY.Users[len(seedY.Users)-1].ID = "5210498000000977777"
			_, envY := simEnv(t, sandbox.Config{Seed: seedY, JobDuration: 100 * time.Millisecond})
			p2 := startIn(t, dir, envY, "run", "--input", sheet, "--yes", "--log-format", "json", "--rate", "200", "--job-timeout", "60s", "--output", a)
			if code := p2.wait(t); code != exitOK {
				t.Fatalf("run 2 (org Y) = %d; stderr:\n%s", code, p2.stderr.String())
			}
			t.Logf("run 2 compacted: %v", strings.Contains(p2.stderr.String(), "journal compacted"))
			p3 := startIn(t, dir, environ, "run", "--input", sheet, "--yes", "--log-format", "json", "--rate", "200", "--job-timeout", "1500ms", "--output", filepath.Join(dir, "c.xlsx"))
			time.Sleep(300 * time.Millisecond)
			srv.ReleaseJobs()
			p3.wait(t)
			if n := subsOfX(t, srv); n != 1 {
				t.Errorf("x submitted %d times, want 1", n)
			}
			sandboxtest.CheckOneJobPerUser(t, srv)
		})
	}
}

// TestFreshOnAnUnfinishedJournalOfTenRuns: a journal of ten runs whose
// latest is unfinished is not compacted (that run's rows are needed);
// --fresh on it starts a new run, it is not refused.
func TestFreshOnAnUnfinishedJournalOfTenRuns(t *testing.T) {
	t.Parallel()
	dir, sheet, srv, environ, a := heldRunAndMore(t, 9)
	records, _ := journal.Read(a + ".journal")
	j, _, _ := journal.Open(a+".journal", journal.Owner{PID: 1, Host: "h", Started: time.Now()})
	s := records[0]
	s.Steps, s.Time, s.Owner, s.InputSHA256 = nil, time.Time{}, nil, "other"
	j.Append(s) // an interrupted run of another input
	j.Close()
	srv.ReleaseJobs()
	p := startIn(t, dir, environ, "run", "--input", sheet, "--yes", "--log-format", "json", "--rate", "200", "--job-timeout", "1500ms", "--output", a, "--fresh")
	code := p.wait(t)
	if strings.Contains(p.stderr.String(), "its latest run is unfinished") {
		t.Errorf("--fresh refused by compaction: %d\n%s", code, p.stderr.String())
	}
}

// TestCompactingRunKilledThenResumed: the run that compacts a journal is
// killed with its jobs running; the same command resumes it (its start
// record was written with the history) and sends nobody again, nor
// compacts again.
func TestCompactingRunKilledThenResumed(t *testing.T) {
	t.Parallel()
	dir, sheet, srv, environ := journalOrg(t, 2)
	path := filepath.Join(dir, "cron.journal")
	j, _, err := journal.Open(path, journal.Owner{PID: 1, Host: "h", Started: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	for night := range journal.CompactAfter {
		j.Append(journal.Record{Kind: journal.KindStart, InputFile: "old.csv", InputSHA256: fmt.Sprint(night), OrgID: "5210498000000000111"})
		j.Append(journal.Record{Kind: journal.KindEnd})
	}
	j.Close()
	srv.HoldJobs()
	args := []string{"run", "--input", sheet, "--journal", path, "--output", filepath.Join(dir, "r.xlsx"), "--yes", "--log-format", "json", "--rate", "200", "--job-timeout", "60s"}
	p := startIn(t, dir, environ, args...)
	// Killed once both jobs are running: a kill between a submission's
	// record and its answer would leave it in doubt, watched for the
	// request timeout plus --job-timeout (two minutes here) before it is
	// sent again, which is right, and not what this test is about.
	waitJournal(t, path, p, func(r []journal.Record) bool {
		return len(r) > 0 && r[0].Kind == journal.KindHistory && answers(r) >= 2
	})
	p.cmd.Process.Signal(syscall.SIGKILL)
	p.wait(t)

	again := startIn(t, dir, environ, args...)
	time.Sleep(300 * time.Millisecond)
	srv.ReleaseJobs()
	if code := again.wait(t); code != exitOK || !strings.Contains(again.stderr.String(), "resuming an interrupted run") || strings.Contains(again.stderr.String(), "journal compacted") {
		t.Errorf("the same command again = %d, want 0, resuming, not compacting again; stderr:\n%s", code, again.stderr.String())
	}
	sandboxtest.CheckOneJobPerUser(t, srv)
}
