package runner

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"offboard/result"
	"offboard/sandbox"
)

// TestStopLogsOneLine: once the run must stop, one warning says so, why,
// and what it still follows; the rows it never sends are logged at debug
// level only, and counted in one warning.
func TestStopLogsOneLine(t *testing.T) {
	s := simWith(t, sandbox.Config{JobDuration: time.Hour}, nil)
	_, _, refresh := s.srv.Credentials()
	s.srv.SetFaults(func(c sandbox.Call) sandbox.Fault {
		if c.Method == "POST" && c.Seq == 2 && !strings.HasPrefix(c.Path, "/oauth") {
			s.srv.RevokeRefreshToken(refresh) // this submission is refused 401
		}
		return sandbox.NoFault
	})
	var buf bytes.Buffer
	opt := fast()
	opt.MaxJobs, opt.Grace, opt.NoWait = 1, 50*time.Millisecond, true
	opt.Log = zerolog.New(zerolog.SyncWriter(&buf)).Level(zerolog.DebugLevel)
	opt.InterruptNote = "Ctrl-C again to quit now"
	res, stop, _ := runPlan(t.Context(), s.client, makePlan(toHeir(plain(4)...)...), opt)
	if stop == nil || !stop.Fatal {
		t.Fatalf("Run() stop = %+v, want a fatal stop", stop)
	}
	var stopping, counted []map[string]any
	notRun := 0
	for line := range strings.Lines(buf.String()) {
		var l map[string]any
		if err := json.Unmarshal([]byte(line), &l); err != nil {
			t.Fatalf("%v: %s", err, line)
		}
		msg, _ := l["message"].(string)
		switch {
		case strings.HasPrefix(msg, "stopping: "):
			stopping = append(stopping, l)
		case l["rows_not_run"] != nil:
			counted = append(counted, l)
		case l["outcome"] == string(result.NotRun):
			notRun++
			if l["level"] != "debug" || l["code"] != "NOT_RUN" || !strings.Contains(l["reason"].(string), "credentials were refused") {
				t.Errorf("a row never sent: %v, want it at debug level, with its code and reason", l)
			}
		}
	}
	if len(stopping) != 1 || stopping[0]["message"] != "stopping: nothing more is submitted; no job to follow; writing the results" ||
		stopping[0]["level"] != "warn" || stopping[0]["reason"] != stop.Reason || stopping[0]["fatal"] != true {
		t.Errorf("stop lines = %v, want one warning with the reason, and no Ctrl-C note: the run was not interrupted", stopping)
	}
	if want := 3; notRun != want || len(counted) != 1 || counted[0]["rows_not_run"] != float64(want) ||
		counted[0]["message"] != "3 rows not run: the run stopped before they were submitted" {
		t.Errorf("%d rows never sent logged, counted as %v; want 3, in one line; results %+v", notRun, counted, res)
	}
}
