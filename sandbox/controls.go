package sandbox

import (
	"encoding/json"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Call is what a fault hook sees of a request.
type Call struct {
	Method string
	Path   string
	Query  url.Values
	Body   []byte
	// Seq is the 1-based count of calls so far to the same method and endpoint pattern
	// (e.g. "POST /crm/v7/users/{id}/actions/transfer_and_delete"), this one included.
	Seq int
}

// Fault is what a fault hook tells the server to do with a call instead of answering it
// normally.
type Fault int

// Faults a hook can inject.
const (
	// NoFault handles the call normally.
	NoFault Fault = iota
	// ServerError answers 500 INTERNAL_ERROR without doing anything.
	ServerError
	// ServiceUnavailable answers 503 without doing anything.
	ServiceUnavailable
	// TooManyRequests answers 429 TOO_MANY_REQUESTS (concurrency style, no credit header)
	// without doing anything.
	TooManyRequests
	// DropBeforeCommit closes the connection without doing anything or answering.
	DropBeforeCommit
	// DropAfterCommit performs the call's effect (e.g. creates the job), then closes the
	// connection without answering.
	DropAfterCommit
	// Refuse answers 400 INVALID_DATA without doing anything: a request this org does not
	// take (a parameter it does not support, say).
	Refuse
)

// String returns the fault's name.
func (f Fault) String() string {
	switch f {
	case NoFault:
		return "NoFault"
	case ServerError:
		return "ServerError"
	case ServiceUnavailable:
		return "ServiceUnavailable"
	case TooManyRequests:
		return "TooManyRequests"
	case DropBeforeCommit:
		return "DropBeforeCommit"
	case DropAfterCommit:
		return "DropAfterCommit"
	case Refuse:
		return "Refuse"
	}
	return "Fault(" + strconv.Itoa(int(f)) + ")"
}

// SetFaults installs a hook called for every request (token requests included) before it is
// handled; nil removes it. The hook runs while the call counts as in flight and outside the
// server's lock, so it may block to hold a call in flight.
func (s *Server) SetFaults(f func(Call) Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = f
}

// FailJob makes the jobs of this user end "failed" with the reason, leaving the user
// untouched; it applies to an unfinished job too. An empty reason lets the user's jobs
// complete again.
func (s *Server) FailJob(userID, reason string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.settle(s.now()) // jobs already due end as they would have without this call
	if reason == "" {
		delete(s.failing, userID)
		return
	}
	s.failing[userID] = reason
}

// HoldJobs keeps every job unfinished ("in_progress") until ReleaseJobs,
// however long it was due to take: a test can be sure a job still runs.
func (s *Server) HoldJobs() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.settle(s.now()) // jobs already due end as they would have
	s.jobsHeld = true
}

// ReleaseJobs lets the jobs held by HoldJobs end: those already due end
// now (their FinishedAt), as the next request or observation shows.
func (s *Server) ReleaseJobs() {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	for _, j := range s.jobs {
		if !j.settled && j.due.Before(now) {
			j.due = now
		}
	}
	s.jobsHeld = false
}

// HoldJobSlots simulates another admin's n unfinished jobs: they count against the job limit
// for d of clock time.
func (s *Server) HoldJobSlots(n int, d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.held = append(s.held, heldSlots{n: n, until: s.now().Add(d)})
}

// Request is one logged request.
type Request struct {
	Method, Path, RawQuery string
	Body                   []byte
	Start, End             time.Time // clock time
	// Status is the HTTP status answered, 0 if the connection was dropped.
	Status int
	// InFlight is the number of API calls in flight when it arrived, itself included; 0 for
	// token requests, which do not count.
	InFlight int
	Dropped  bool
	// Token is true for a call to the accounts server's token endpoint.
	Token bool
}

// Requests returns a copy of the request log in arrival order: every request, or about the
// latest Config.KeepRequests.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := slices.Clone(s.log)
	for i := range out {
		out[i].Body = slices.Clone(out[i].Body)
	}
	return out
}

// MaxInFlight returns the most API calls that were ever in flight at once.
func (s *Server) MaxInFlight() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.maxInFlight
}

// CountCalls counts logged requests with the method (any if empty) whose path starts with
// pathPrefix.
func (s *Server) CountCalls(method, pathPrefix string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, r := range s.log {
		if (method == "" || r.Method == method) && strings.HasPrefix(r.Path, pathPrefix) {
			n++
		}
	}
	return n
}

// User returns the user as GET /users/{id} would show it now, as decoded JSON.
func (s *Server) User(id string) (map[string]any, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.settle(s.now())
	u := s.byID[id]
	if u == nil {
		return nil, false
	}
	b, err := json.Marshal(u.wire())
	if err != nil {
		return nil, false
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, false
	}
	return m, true
}

// RecordsOwnedBy returns how many open records the user owns now.
func (s *Server) RecordsOwnedBy(userID string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.settle(s.now())
	return s.records[userID]
}

// Job is a transfer-and-delete job as the server sees it. FinishedAt is zero until the job
// has finished.
type Job struct {
	ID, UserID, TransferTo, SubordinatesTo string
	Records, Assignment, Criteria          bool
	Status, Reason                         string
	SubmittedAt, FinishedAt                time.Time
}

// Jobs returns every job submitted so far, in submission order, with its status now.
func (s *Server) Jobs() []Job {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	s.settle(now)
	out := make([]Job, 0, len(s.jobs))
	for _, j := range s.jobs {
		c := j.Job
		c.Status = s.phase(j, now)
		out = append(out, c)
	}
	return out
}

// ChangeUser edits a user as an admin would in Zoho's own screens (status,
// role, reporting line...), between a plan and its run, say. It reports
// whether the user exists.
func (s *Server) ChangeUser(id string, change func(u *User)) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.settle(s.now())
	u := s.byID[id]
	if u == nil {
		return false
	}
	change(u)
	return true
}
