package runner

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"offboard/result"
	"offboard/sandbox"
)

// userReads counts the simulator's user reads: alone (GET /users/{id})
// and together (GET /users?ids=…).
func userReads(srv *sandbox.Server) (alone, together int) {
	for _, r := range srv.Requests() {
		switch {
		case r.Method != "GET" || r.Token:
		case strings.HasPrefix(r.Path, "/crm/v7/users/") && !strings.Contains(r.Path, "/actions/"):
			alone++
		case r.Path == "/crm/v7/users" && strings.Contains(r.RawQuery, "ids="):
			together++
		}
	}
	return alone, together
}

// TestReadBackTogether: the users whose jobs completed are read back
// together, and every row ends deleted whatever the org answers to the
// ids parameter (Zoho documents it; an org that ignored it, or a read
// that fails, leaves each user to be read alone). Nothing but a user
// shown deleted, by ID, is taken as deleted.
func TestReadBackTogether(t *testing.T) {
	for _, tt := range []struct {
		name      string
		cfg       sandbox.Config
		fail      bool
		wantAlone int
	}{
		{name: "ids honoured", wantAlone: 0},
		{name: "ids ignored", cfg: sandbox.Config{IgnoreIDs: true}, wantAlone: 0},
		{name: "the read fails", fail: true, wantAlone: 12},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := newSim(t, tt.cfg, 5)
			if tt.fail {
				s.srv.SetFaults(func(c sandbox.Call) sandbox.Fault {
					if c.Method == "GET" && c.Path == "/crm/v7/users" && c.Query.Has("ids") {
						return sandbox.ServerError
					}
					return sandbox.NoFault
				})
			}
			opt := fast()
			opt.JobDuration = 0 // nothing known: the probe, then the others
			res, stop := runSim(t, s, makePlan(toHeir(plain(12)...)...), opt)
			if diff := cmp.Diff(repeat(deleted, 12), outcomes(res)); diff != "" || stop != nil {
				t.Errorf("Run() outcomes (-want +got):\n%s\nstop %+v", diff, stop)
			}
			alone, together := userReads(s.srv)
			if alone != tt.wantAlone || together == 0 {
				t.Errorf("user reads: %d alone, %d together; want %d alone and at least one together", alone, together, tt.wantAlone)
			}
			if !tt.fail && together >= 12 {
				t.Errorf("%d reads together for 12 users: nothing shared a call", together)
			}
		})
	}
}

// TestProbeThatOutlivesTheJobTimeout: while nothing is known of the jobs'
// lengths, one job at a time is polled and the others wait. One job here
// never ends (past --job-timeout): whichever job is the probe when, the
// others must all be followed to their end, and it end submitted.
func TestProbeThatOutlivesTheJobTimeout(t *testing.T) {
	users := plain(6)
	long := users[0]
	s := newSim(t, sandbox.Config{JobDuration: 20 * time.Millisecond, JobDurations: func(id string) time.Duration {
		if id == long {
			return time.Minute
		}
		return 0
	}}, 5)
	opt := fast()
	opt.JobDuration, opt.JobTimeout = 0, 400*time.Millisecond
	res, _ := runSim(t, s, makePlan(toHeir(users...)...), opt)
	want := append([]outcome{{result.Submitted, ""}}, repeat(deleted, 5)...)
	if diff := cmp.Diff(want, outcomes(res)); diff != "" {
		t.Errorf("Run() outcomes (-want +got):\n%s", diff)
	}
}

// TestJobsThatAllOutliveTheJobTimeout: no job ends, so nothing is ever
// learnt of their lengths; every job is still followed to --job-timeout,
// each in turn the probe, and the run ends.
func TestJobsThatAllOutliveTheJobTimeout(t *testing.T) {
	s := newSim(t, sandbox.Config{JobDuration: time.Minute}, 5)
	opt := fast()
	opt.JobDuration, opt.JobTimeout = 0, 300*time.Millisecond
	res, _ := runSim(t, s, makePlan(toHeir(plain(4)...)...), opt)
	if diff := cmp.Diff(repeat(outcome{result.Submitted, ""}, 4), outcomes(res)); diff != "" {
		t.Errorf("Run() outcomes (-want +got):\n%s", diff)
	}
	for _, r := range res {
		if !strings.Contains(r.Message, "--job-timeout") {
			t.Errorf("row %d: %q, want it to name --job-timeout", r.Line, r.Message)
		}
	}
}
