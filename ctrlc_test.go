package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"offboard/journal"
	"offboard/sandbox"
)

// These tests interrupt the real binary (see crash_test.go) and read what
// the person who pressed Ctrl-C reads. Whatever the moment of the signal,
// each line must be true of that moment: jobs may have ended already.

// stoppingLine matches the one line the first Ctrl-C prints.
var stoppingLine = regexp.MustCompile(`^stopping: nothing more is submitted; (following (\d+) jobs? for up to 30s( and reading back the users? of (\d+) completed jobs?)?|reading back the users? of (\d+) completed jobs?, then writing the results|no job to follow; writing the results); Ctrl-C again to quit now`)

// waitStderr waits until p's stderr holds s, or p ends; it reports
// whether s came.
func waitStderr(t *testing.T, p *proc, s string) bool {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if strings.Contains(p.stderr.String(), s) {
			return true
		}
		select {
		case <-p.done:
			return strings.Contains(p.stderr.String(), s)
		default:
		}
	}
	t.Fatalf("offboard never wrote %q; stderr:\n%s", s, p.stderr.String())
	return false
}

// checkStopping checks the first Ctrl-C's line among lines: exactly one,
// which says what happens next, with the count of jobs it follows.
func checkStopping(t *testing.T, lines []map[string]any) map[string]any {
	t.Helper()
	var found []map[string]any
	for _, l := range lines {
		if strings.Contains(fmt.Sprint(l["message"]), "Ctrl-C again") {
			found = append(found, l)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d lines say what the first Ctrl-C does, want 1: %v", len(found), found)
	}
	l := found[0]
	m := stoppingLine.FindStringSubmatch(fmt.Sprint(l["message"]))
	if m == nil || l["level"] != "warn" {
		t.Fatalf("the first Ctrl-C's line = %v, want a warning matching %s", l, stoppingLine)
	}
	jobs, backs := fmt.Sprint(l["jobs_following"]), fmt.Sprint(l["users_to_read_back"])
	if (m[2] == "" && jobs != "0") || (m[2] != "" && m[2] != jobs) {
		t.Errorf("the first Ctrl-C's line says %q, with jobs_following %s", m[1], jobs)
	}
	if said := m[4] + m[5]; (said == "" && backs != "0") || (said != "" && said != backs) {
		t.Errorf("the first Ctrl-C's line says %q, with users_to_read_back %s", m[1], backs)
	}
	return l
}

// TestCtrlCOnceSaysWhatHappens: the first Ctrl-C prints one line saying
// what happens next (nothing more submitted, the jobs followed for up to
// 30 s, Ctrl-C again to quit now); the rows it leaves unsent are counted
// in one line, not one line each, and are still in the workbook.
func TestCtrlCOnceSaysWhatHappens(t *testing.T) {
	t.Parallel()
	c := newCrashRun(t, sandbox.Config{JobDuration: 800 * time.Millisecond})
	p := start(t, c.environ, c.args...)
	waitJournal(t, c.journal, p, func(r []journal.Record) bool { return answers(r) >= 5 })
	p.cmd.Process.Signal(os.Interrupt)
	if code := p.wait(t); code != exitInterrupted {
		t.Fatalf("interrupted run = %d, want 130; stderr:\n%s", code, p.stderr.String())
	}
	stderr := p.stderr.String()
	lines := logLines(t, stderr)
	checkStopping(t, lines)

	notRun := 0
	for _, r := range readResults(t, c.out) {
		if r["Outcome"] == "not_run" {
			notRun++
		}
	}
	if notRun == 0 {
		t.Fatalf("no row ended not_run; stderr:\n%s", stderr)
	}
	counted := -1
	for _, l := range lines {
		if l["outcome"] == "not_run" {
			t.Errorf("a line per row never sent: %v", l)
		}
		if n, ok := l["rows_not_run"]; ok {
			counted, _ = strconv.Atoi(fmt.Sprint(n))
			if msg := fmt.Sprint(l["message"]); msg != fmt.Sprintf("%d rows not run: the run stopped before they were submitted", notRun) {
				t.Errorf("the rows never sent are counted as %q, want %d", msg, notRun)
			}
		}
	}
	if counted != notRun {
		t.Errorf("one line counts %d rows not run, the workbook has %d; stderr:\n%s", counted, notRun, stderr)
	}
	if !strings.Contains(stderr, "run the same command again to resume") {
		t.Errorf("the interrupted run does not say how to resume; stderr:\n%s", stderr)
	}
}

// TestCtrlCTwiceSaysWhatIsLeft: the second Ctrl-C ends offboard at once,
// after one line that says how many jobs may still be running at Zoho and
// which journal records them; running the same command finishes the run.
func TestCtrlCTwiceSaysWhatIsLeft(t *testing.T) {
	t.Parallel()
	c := newCrashRun(t, sandbox.Config{Latency: 20 * time.Millisecond})
	// From the first Ctrl-C on, Zoho holds the job status polls: the
	// wind-down cannot end before the second Ctrl-C.
	hold, release := holdPolls(c.srv)
	p := start(t, c.environ, c.args...)
	waitJournal(t, c.journal, p, func(r []journal.Record) bool { return answers(r) >= 8 })
	hold()
	p.cmd.Process.Signal(os.Interrupt)
	waitStderr(t, p, "Ctrl-C again to quit now")
	p.cmd.Process.Signal(os.Interrupt)
	code := p.wait(t)
	release()
	if code != -1 {
		t.Fatalf("run interrupted twice = %d, want it ended by the signal (-1); stderr:\n%s", code, p.stderr.String())
	}
	lines := logLines(t, p.stderr.String())
	checkStopping(t, lines)
	var quit map[string]any
	for _, l := range lines {
		if strings.HasPrefix(fmt.Sprint(l["message"]), "quitting now") {
			quit = l
		}
	}
	if quit == nil {
		t.Fatalf("the second Ctrl-C did not say what it leaves; stderr:\n%s", p.stderr.String())
	}
	records, err := journal.Read(c.journal)
	if err != nil {
		t.Fatal(err)
	}
	// The jobs the journal leaves to follow: none of them may be left
	// out of the count (a job may have ended after it was said).
	left := 0
	for _, rs := range journal.Replay(records).Rows {
		if rs.Final == nil && (rs.JobID != "" || rs.InDoubt) {
			left++
		}
	}
	jobs, _ := strconv.Atoi(fmt.Sprint(quit["jobs_running"]))
	var want string
	switch jobs {
	case 0:
		want = "quitting now, without writing the results: no job of this run is running at Zoho; the journal " + c.journal + " records the run: run the same command again to finish it"
	case 1:
		want = "quitting now, without writing the results: 1 job may still be running at Zoho; the journal " + c.journal + " records it: run the same command again to follow it and finish"
	default:
		want = fmt.Sprintf("quitting now, without writing the results: %d jobs may still be running at Zoho; the journal %s records them: run the same command again to follow them and finish", jobs, c.journal)
	}
	if quit["message"] != want || quit["journal"] != c.journal || jobs < left {
		t.Errorf("the second Ctrl-C's line = %v;\nwant %q, with the journal, and at least the %d jobs the journal leaves", quit, want, left)
	}
	second := start(t, c.environ, c.args...)
	if code := second.wait(t); code != exitOK {
		t.Fatalf("the same command again = %d, want 0; stderr:\n%s", code, second.stderr.String())
	}
	checkAllDeleted(t, c.srv, c.out)
}

// TestCtrlCSandboxCannotResume: a --sandbox run's org ends with the
// process, so an interrupted sandbox run says it cannot be resumed, on
// the first Ctrl-C, at its end, and on the second Ctrl-C.
func TestCtrlCSandboxCannotResume(t *testing.T) {
	const cannot = "the sandbox org ends with offboard, so this run cannot be resumed"
	for _, twice := range []bool{false, true} {
		t.Run(fmt.Sprintf("twice=%v", twice), func(t *testing.T) {
			t.Parallel()
			out := filepath.Join(t.TempDir(), "r.xlsx")
			p := start(t, nil, "run", "--sandbox", "--yes", "--input", "samples/offboarding.csv", "--output", out,
				"--as-of", "2026-11-28", "--log-format", "json")
			waitJournal(t, out+".journal", p, func(r []journal.Record) bool { return answers(r) >= 1 })
			p.cmd.Process.Signal(os.Interrupt)
			if twice && waitStderr(t, p, "Ctrl-C again to quit now") {
				p.cmd.Process.Signal(os.Interrupt)
			}
			code := p.wait(t)
			stderr := p.stderr.String()
			lines := logLines(t, stderr)
			if l := checkStopping(t, lines); !strings.HasSuffix(fmt.Sprint(l["message"]), "; "+cannot) {
				t.Errorf("the first Ctrl-C's line = %q, want it to say %q", l["message"], cannot)
			}
			if strings.Contains(stderr, "run the same command again") {
				t.Errorf("an interrupted sandbox run says to run the same command again; stderr:\n%s", stderr)
			}
			switch {
			case code == -1 && twice:
				if !strings.Contains(stderr, `"message":"quitting now, without writing the results: `+cannot+`; a later --sandbox run starts afresh against a new sandbox"`) {
					t.Errorf("the second Ctrl-C does not say the sandbox run cannot be resumed; stderr:\n%s", stderr)
				}
			case code == exitInterrupted:
				// The wind-down ended before a second Ctrl-C could come.
				if !strings.Contains(stderr, "the sandbox org ended with this run, so it cannot be resumed: a later --sandbox run starts afresh against a new sandbox") {
					t.Errorf("the interrupted sandbox run does not say it cannot be resumed; stderr:\n%s", stderr)
				}
			default:
				t.Fatalf("sandbox run interrupted (twice: %v) = %d; stderr:\n%s", twice, code, stderr)
			}
		})
	}
}
