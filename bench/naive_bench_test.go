package bench

import (
	"strconv"
	"sync"
	"testing"
	"time"

	"offboard/zoho"
)

// heirID is the demo org's super admin, who receives every leaver's records.
const heirID = "5210498000000411001"

func request(i int) zoho.TransferRequest {
	return zoho.TransferRequest{UserID: leaverID(i),
		Transfer: &zoho.Transfer{ToID: heirID, Records: true, Assignment: true, Criteria: true}}
}

// seqUsers is how many users the sequential loop offboards; its makespan is
// exactly linear in the users (one job at a time, each alike), so larger N
// are extrapolated from the time per user.
const seqUsers = 20

// BenchmarkSequential is the naive script: for each user, submit, then poll
// every second (scaled) until the job ends, then the next user. It uses the
// same client, rate limit and latency as BenchmarkMakespan (R=5s), and
// reports its makespan per user and the ratio to the ideal that
// ceil(N/10)·D gives for N=100 and N=500, extrapolated linearly from
// seqUsers users.
func BenchmarkSequential(b *testing.B) {
	s := benchScale(b, 5*time.Second)
	poll := s.of(time.Second)
	var total time.Duration
	var calls int
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		o := startOrg(b, s, seqUsers)
		b.StartTimer()
		start := time.Now()
		for u := range seqUsers {
			job, err := o.client.TransferAndDelete(b.Context(), request(u), nil)
			if err != nil {
				b.Fatal(err)
			}
			for {
				time.Sleep(poll)
				st, err := o.client.JobStatus(b.Context(), job.ID)
				if err != nil {
					b.Fatal(err)
				}
				if st.Finished() {
					if st.Status != zoho.JobCompleted {
						b.Fatalf("job %s ended %s", job.ID, st.Status)
					}
					break
				}
			}
		}
		total += time.Since(start)
		b.StopTimer()
		calls += countCalls(o.srv).total
		o.close()
		b.StartTimer()
	}
	perUser := float64(total) / float64(b.N) / seqUsers
	b.ReportMetric(perUser/float64(s.job), "D/user")
	for _, n := range []int{100, 500} {
		b.ReportMetric(perUser*float64(n)/float64(ideal(n, 10, s.job)), "x-ideal@N="+strconv.Itoa(n))
	}
	b.ReportMetric(float64(calls)/float64(b.N)/seqUsers, "calls/user")
}

// BenchmarkNaiveBurst is the other naive script: submit every user at once
// (within the same rate limit and calls in flight as offboard) and take
// Zoho's answer as the row's outcome. It reports the share of rows that
// fail with CONCURRENT_JOB_LIMIT_EXCEEDED, which offboard turns into a wait.
func BenchmarkNaiveBurst(b *testing.B) {
	s := benchScale(b, 5*time.Second)
	const n = 100
	var failed int
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		o := startOrg(b, s, n)
		b.StartTimer()
		var wg sync.WaitGroup
		var mu sync.Mutex
		for u := range n {
			wg.Go(func() {
				_, err := o.client.TransferAndDelete(b.Context(), request(u), nil)
				if err != nil {
					if zoho.Classify(err) != zoho.ClassJobLimit {
						b.Errorf("submit user %d: %v", u, err)
					}
					mu.Lock()
					failed++
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		b.StopTimer()
		o.close()
		b.StartTimer()
	}
	b.ReportMetric(100*float64(failed)/float64(b.N)/n, "%-rows-failed")
}
