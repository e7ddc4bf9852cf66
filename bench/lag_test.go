package bench

import (
	"net/url"
	"slices"
	"time"

	"offboard/sandbox"
)

// lags says where a run's slot time went between one job's end and the next
// job's start: detect is from a job's end to the end of the status call
// that told the runner (the runner frees the slot then), refill from there
// to the next job Zoho accepted. Both are means over the jobs followed by
// another submission; first is the share of jobs whose first status call
// already found them finished.
type lags struct {
	detect, refill time.Duration
	first          float64
	handoffs       int
}

func slotLags(srv *sandbox.Server) lags {
	jobs := srv.Jobs()
	type polls struct {
		count int
		last  time.Time
	}
	seen := map[string]*polls{}
	for _, r := range srv.Requests() {
		if r.Method != "GET" || r.Path != "/crm/v7/users/actions/transfer_and_delete" || r.Status != 200 {
			continue
		}
		q, err := url.ParseQuery(r.RawQuery)
		if err != nil {
			continue
		}
		id := q.Get("job_id")
		p := seen[id]
		if p == nil {
			p = &polls{}
			seen[id] = p
		}
		p.count++
		if r.End.After(p.last) {
			p.last = r.End
		}
	}
	starts := make([]time.Time, len(jobs))
	for i, j := range jobs {
		starts[i] = j.SubmittedAt
	}
	slices.SortFunc(starts, func(a, b time.Time) int { return a.Compare(b) })
	var l lags
	var detect, refill time.Duration
	firsts := 0
	for _, j := range jobs {
		p := seen[j.ID]
		if p == nil || j.FinishedAt.IsZero() {
			continue
		}
		if p.count == 1 {
			firsts++
		}
		// The next job accepted after the runner learnt this one ended.
		i, _ := slices.BinarySearchFunc(starts, p.last, func(a, b time.Time) int { return a.Compare(b) })
		if i == len(starts) {
			continue
		}
		detect += p.last.Sub(j.FinishedAt)
		refill += starts[i].Sub(p.last)
		l.handoffs++
	}
	if l.handoffs > 0 {
		l.detect = detect / time.Duration(l.handoffs)
		l.refill = refill / time.Duration(l.handoffs)
	}
	if len(seen) > 0 {
		l.first = float64(firsts) / float64(len(seen))
	}
	return l
}
