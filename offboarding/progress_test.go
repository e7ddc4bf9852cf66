package offboarding

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"offboard/result"
)

func TestProgressLine(t *testing.T) {
	now := time.Date(2026, 11, 28, 2, 0, 0, 0, time.UTC)
	p := newProgress(8, func() time.Time { return now })
	p.onChange(0, result.Row{Outcome: result.Deleted}, false)
	p.onChange(1, result.Row{Outcome: result.Deleted}, false)
	p.onChange(2, result.Row{Outcome: result.Failed}, false)
	p.onChange(3, result.Row{Outcome: result.Submitted, JobStatus: "in_progress"}, false)
	p.onChange(4, result.Row{Outcome: result.Submitted, JobStatus: "scheduled"}, false)
	p.onChange(0, result.Row{Outcome: result.Deleted}, false) // the same row again counts once
	now = now.Add(30 * time.Second)
	p.mu.Lock()
	got := p.line(true)
	p.mu.Unlock()
	want := "[#########---------------] 3/8 rows done, 2 deleted, 1 failed; 2 jobs running; about 50s left"
	if got != want {
		t.Errorf("progress line = %q, want %q", got, want)
	}
	// A job completed: its row is done, though its user is read back
	// later, with others.
	p.onChange(3, result.Row{Outcome: result.Submitted, JobStatus: "completed"}, false)
	p.mu.Lock()
	got = p.line(true)
	p.mu.Unlock()
	want = "[############------------] 4/8 rows done, 2 deleted, 1 failed, 1 job completed, users read back soon; 1 job running; about 30s left"
	if got != want {
		t.Errorf("progress line after a job completed = %q, want %q", got, want)
	}
	// The run stopped before that user was read back: the row ended
	// submitted.
	p.onChange(3, result.Row{Outcome: result.Submitted, JobStatus: "completed"}, true)
	p.mu.Lock()
	got = p.line(true)
	p.mu.Unlock()
	want = "[############------------] 4/8 rows done, 2 deleted, 1 failed, 1 submitted; 1 job running; about 30s left"
	if got != want {
		t.Errorf("progress line after that row ended submitted = %q, want %q", got, want)
	}
	// A job past --job-timeout: its row ends submitted, and is done.
	p.onChange(4, result.Row{Outcome: result.Submitted, JobStatus: "in_progress"}, true)
	p.mu.Lock()
	got = p.line(true)
	p.mu.Unlock()
	want = "[###############---------] 5/8 rows done, 2 deleted, 1 failed, 2 submitted; 0 jobs running; about 18s left"
	if got != want {
		t.Errorf("progress line after a job timed out = %q, want %q", got, want)
	}
}

func TestProgressBarAroundLogs(t *testing.T) {
	var screen bytes.Buffer
	p := newProgress(2, time.Now)
	p.showBar(&screen, time.Hour) // redrawn by the log line below, not by the clock
	p.onChange(0, result.Row{Outcome: result.Deleted}, false)
	w := around{p: p, w: &screen}
	w.Write([]byte("a log line\n"))
	w.Write([]byte("another\n"))
	p.stop()
	out := screen.String()
	if !strings.Contains(out, "rows done, 1 deleted; 0 jobs running\r\033[Kanother\n") {
		t.Errorf("a log line was not written on a cleared line: %q", out)
	}
	if !strings.HasSuffix(out, "\r\033[K") {
		t.Errorf("the bar was not cleared at the end: %q", out)
	}
	if !strings.Contains(out, "1/2 rows done, 1 deleted") {
		t.Errorf("the bar never showed the progress: %q", out)
	}
}
