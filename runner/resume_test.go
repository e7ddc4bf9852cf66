package runner

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"offboard/result"
	"offboard/sandbox"
	"offboard/sandbox/sandboxtest"
	"offboard/zoho"
)

// TestRunResumesAnEarlierRun gives Run what an interrupted run left
// behind: a job still running (followed, not resubmitted), a submission
// whose answer was lost and whose job has since deleted the user
// (reconciled, not resubmitted), and one lost while its job still runs
// (watched until the job deletes the user; never sent again).
func TestRunResumesAnEarlierRun(t *testing.T) {
	// Jobs take 200 ms, the runner's first guess is 30 ms: the lost
	// submission's job still runs when the runner looks again.
	s := newSim(t, sandbox.Config{JobDuration: 200 * time.Millisecond}, 5)
	users := plain(3)
	ctx := t.Context()
	submit := func(u string) zoho.Job {
		t.Helper()
		job, err := s.client.TransferAndDelete(ctx, zoho.TransferRequest{UserID: u, Transfer: &zoho.Transfer{ToID: heir, Records: true}}, nil)
		if err != nil {
			t.Fatal(err)
		}
		return job
	}
	done := submit(users[1])
	for range 200 {
		st, err := s.client.JobStatus(ctx, done.ID)
		if err != nil {
			t.Fatal(err)
		}
		if st.Finished() {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	running := submit(users[0])
	submit(users[2])

	var mu sync.Mutex
	var before []int
	opt := fast()
	opt.BeforeSubmit = func(i, attempt int) error {
		mu.Lock()
		defer mu.Unlock()
		before = append(before, i)
		return nil
	}
	opt.Resume = map[int]Resume{
		0: {JobID: running.ID, Attempts: 1, SubmittedAt: time.Now()},
		1: {InDoubt: true, Attempts: 1},
		2: {InDoubt: true, Attempts: 1},
	}
	res, _ := runSim(t, s, makePlan(toHeir(users...)...), opt)
	want := []outcome{deleted, {result.Deleted, CodeReconciled}, {result.Deleted, CodeReconciled}}
	if diff := cmp.Diff(want, outcomes(res)); diff != "" {
		t.Errorf("resumed outcomes (-want +got):\n%s", diff)
	}
	if res[0].JobID != running.ID || res[0].Attempts != 1 {
		t.Errorf("resumed row 0 = job %s, %d attempts; want the earlier job %s and 1 attempt", res[0].JobID, res[0].Attempts, running.ID)
	}
	sent, _ := posts(t, s.srv)
	if diff := cmp.Diff(map[string]int{users[0]: 1, users[1]: 1, users[2]: 1}, sent); diff != "" {
		t.Errorf("submissions per user, the earlier run's included (-want +got):\n%s", diff)
	}
	if len(before) != 0 {
		t.Errorf("BeforeSubmit calls for rows %v, want none: nothing is sent again", before)
	}
	sandboxtest.CheckOneJobPerUser(t, s.srv)
}

func TestRunStopsWhenTheJournalCannotBeWritten(t *testing.T) {
	s := newSim(t, sandbox.Config{}, 5)
	opt := fast()
	opt.BeforeSubmit = func(int, int) error { return errors.New("disk full") }
	res, stop := runSim(t, s, makePlan(toHeir(plain(3)...)...), opt)
	if stop == nil || !stop.Fatal {
		t.Fatalf("Run() stop = %+v, want a fatal stop", stop)
	}
	for i, r := range res {
		if r.Outcome != result.NotRun || r.Attempts != 0 {
			t.Errorf("row %d = %s with %d attempts, want not_run and 0", i, r.Outcome, r.Attempts)
		}
	}
	if sent, _ := posts(t, s.srv); len(sent) != 0 {
		t.Errorf("submissions sent although the journal failed: %v", sent)
	}
}

// TestRunDoubtDoesNotHoldUpOtherRows resumes with one submission in
// doubt, younger than the job timeout, whose user is still active (the
// lost submission created nothing): the other rows go ahead meanwhile, and
// the user is sent again only once the submission in doubt is older than
// the job timeout, after being read.
func TestRunDoubtDoesNotHoldUpOtherRows(t *testing.T) {
	s := newSim(t, sandbox.Config{JobDuration: 20 * time.Millisecond}, 5)
	users := plain(6)
	opt := fast()
	opt.JobTimeout = 300 * time.Millisecond
	sentEarlier := time.Now()
	opt.Resume = map[int]Resume{5: {InDoubt: true, Attempts: 1, DoubtSince: sentEarlier}}
	res, _ := runSim(t, s, makePlan(toHeir(users...)...), opt)
	for i, r := range res {
		if r.Outcome != result.Deleted || r.Code != "" {
			t.Errorf("row %d = %s %s, want deleted", i, r.Outcome, r.Code)
		}
	}
	if res[5].Attempts != 2 {
		t.Errorf("row 5 attempts = %d, want 2: the earlier run's and one more", res[5].Attempts)
	}
	var firstOther, doubted time.Time
	for _, j := range s.srv.Jobs() {
		switch {
		case j.UserID == users[5]:
			doubted = j.SubmittedAt
		case firstOther.IsZero():
			firstOther = j.SubmittedAt
		}
	}
	if !firstOther.Before(doubted) {
		t.Errorf("the first other row was submitted at %v, after the user in doubt (%v): the doubt held up the run", firstOther, doubted)
	}
	if settled := sentEarlier.Add(opt.RequestTimeout + opt.JobTimeout); doubted.Before(settled) {
		t.Errorf("the user in doubt was sent again at %v, before the earlier submission was older than the request and job timeouts (%v)", doubted, settled)
	}
	if n := s.srv.CountCalls("GET", "/crm/v7/users/"+users[5]); n < 2 {
		t.Errorf("reads of the user in doubt = %d, want it read while in doubt and once more before being sent", n)
	}
}

// TestRunResumedDoubtNeverSentUnread: an earlier run's submission in doubt
// has become old enough to send again, but no read of the user succeeds
// (Zoho answers 503): the user is never sent, and the row says it could
// not be read.
func TestRunResumedDoubtNeverSentUnread(t *testing.T) {
	s := newSim(t, sandbox.Config{JobDuration: 20 * time.Millisecond}, 5)
	users := plain(1)
	s.srv.SetFaults(func(c sandbox.Call) sandbox.Fault {
		if c.Method == "GET" && strings.HasSuffix(c.Path, "/users/"+users[0]) {
			return sandbox.ServiceUnavailable
		}
		return sandbox.NoFault
	})
	opt := fast()
	opt.JobTimeout = 300 * time.Millisecond
	opt.Resume = map[int]Resume{0: {InDoubt: true, Attempts: 1, DoubtSince: time.Now().Add(-200 * time.Millisecond)}}
	res, _ := runSim(t, s, makePlan(toHeir(users...)...), opt)
	if sent, _ := posts(t, s.srv); sent[users[0]] != 0 {
		t.Errorf("the user in doubt was submitted %d times, though no read of the user succeeded", sent[users[0]])
	}
	if res[0].Outcome != result.Failed || res[0].Code != CodeOutcomeUnknown || !strings.Contains(res[0].Message, "could not be read") {
		t.Errorf("row = %s %s %q, want failed OUTCOME_UNKNOWN saying the user could not be read", res[0].Outcome, res[0].Code, res[0].Message)
	}
}

// TestRunResumedDoubtWaitsForTheEarlierRunsTimeout: the run that lost the
// answer let jobs run for longer than this run's --job-timeout. Its
// submission's job is still running when this run's own timeouts have
// passed; the user is watched until it deletes them, never sent again
// (which, where Zoho starts a second job, would run two).
func TestRunResumedDoubtWaitsForTheEarlierRunsTimeout(t *testing.T) {
	s := newSim(t, sandbox.Config{JobDuration: 600 * time.Millisecond, SecondSubmission: sandbox.StartSecondJob}, 5)
	users := plain(1)
	if _, err := s.client.TransferAndDelete(t.Context(), zoho.TransferRequest{UserID: users[0], Transfer: &zoho.Transfer{ToID: heir, Records: true}}, nil); err != nil {
		t.Fatal(err)
	}
	opt := fast()
	opt.JobTimeout, opt.RequestTimeout = 100*time.Millisecond, 50*time.Millisecond
	opt.Resume = map[int]Resume{0: {InDoubt: true, Attempts: 1, DoubtSince: time.Now(), DoubtWindow: 5 * time.Second}}
	res, _ := runSim(t, s, makePlan(toHeir(users...)...), opt)
	if diff := cmp.Diff([]outcome{{result.Deleted, CodeReconciled}}, outcomes(res)); diff != "" {
		t.Errorf("outcomes (-want +got):\n%s", diff)
	}
	sandboxtest.CheckOneJobPerUser(t, s.srv)
}
