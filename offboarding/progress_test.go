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
	for _, st := range []struct {
		what  string
		row   int
		res   result.Row
		final bool
		want  string
	}{
		{"so far", -1, result.Row{}, false,
			"[#########---------------] 3/8 rows done, 2 deleted, 1 failed; 2 jobs running; about 50s left"},
		// A job completed: its row is done, though its user is read back
		// later, with others.
		{"a job completed", 3, result.Row{Outcome: result.Submitted, JobStatus: "completed"}, false,
			"[############------------] 4/8 rows done, 2 deleted, 1 failed, 1 job completed, users read back soon; 1 job running; about 30s left"},
		{"the run stopped before its user was read back", 3, result.Row{Outcome: result.Submitted, JobStatus: "completed"}, true,
			"[############------------] 4/8 rows done, 2 deleted, 1 failed, 1 submitted; 1 job running; about 30s left"},
		{"a job past --job-timeout", 4, result.Row{Outcome: result.Submitted, JobStatus: "in_progress"}, true,
			"[###############---------] 5/8 rows done, 2 deleted, 1 failed, 2 submitted; 0 jobs running; about 18s left"},
	} {
		if st.row >= 0 {
			p.onChange(st.row, st.res, st.final)
		}
		p.mu.Lock()
		got := p.line(true)
		p.mu.Unlock()
		if got != st.want {
			t.Errorf("%s: progress line = %q, want %q", st.what, got, st.want)
		}
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
