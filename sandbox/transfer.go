package sandbox

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"time"
)

// Job statuses as the status call returns them.
const (
	JobScheduled  = "scheduled"
	JobInProgress = "in_progress"
	JobCompleted  = "completed"
	JobFailed     = "failed"
)

// job is a transfer-and-delete job; its phase before it is settled follows from the clock.
type job struct {
	Job
	due     time.Time
	settled bool
	// listedBefore is the user's status before the job deleted it, as Listing ListedLate
	// shows it for a while.
	listedBefore string
}

type heldSlots struct {
	n     int
	until time.Time
}

// phase is the job's status at now.
func (s *Server) phase(j *job, now time.Time) string {
	if j.settled {
		return j.Status
	}
	if now.Sub(j.SubmittedAt) < j.due.Sub(j.SubmittedAt)/5 && !s.jobsHeld {
		return JobScheduled
	}
	return JobInProgress
}

// jobDuration is how long a job for the user takes.
func (s *Server) jobDuration(userID string) time.Duration {
	if s.cfg.JobDurations != nil {
		if d := s.cfg.JobDurations(userID); d > 0 {
			return d
		}
	}
	return s.cfg.JobDuration
}

// settle finishes, in submission order, every job whose time has come and applies its effects
// exactly once.
func (s *Server) settle(now time.Time) {
	if s.jobsHeld {
		return
	}
	for _, j := range s.jobs {
		if !j.settled && !now.Before(j.due) {
			s.finish(j)
		}
	}
}

func (s *Server) finish(j *job) {
	j.settled = true
	j.FinishedAt = j.due
	if reason, ok := s.failing[j.UserID]; ok {
		j.Status, j.Reason = JobFailed, reason
		return
	}
	if s.byID[j.UserID].Status == StatusDeleted {
		// A second job for the same user (StartSecondJob) ends after the first deleted them.
		j.Status, j.Reason = JobFailed, "The user is already deleted."
		return
	}
	// The world may have changed since submission: a target deleted by an earlier job
	// cannot receive anything.
	for _, t := range []struct{ id, what string }{{j.TransferTo, "records"}, {j.SubordinatesTo, "subordinates"}} {
		if t.id == "" {
			continue
		}
		if u := s.byID[t.id]; u == nil || u.Status != StatusActive {
			j.Status = JobFailed
			j.Reason = fmt.Sprintf("The user %s who was to receive the %s is no longer active.", t.id, t.what)
			return
		}
	}
	j.Status = JobCompleted
	u := s.byID[j.UserID]
	j.listedBefore = u.Status
	u.Status = StatusDeleted
	if j.TransferTo != "" && j.Records {
		s.records[j.TransferTo] += s.records[j.UserID]
		delete(s.records, j.UserID)
	}
	var newBoss *Ref
	if j.SubordinatesTo != "" {
		newBoss = &Ref{ID: j.SubordinatesTo, Name: s.byID[j.SubordinatesTo].FullName}
	} else if u.ReportingTo != nil {
		newBoss = &Ref{ID: u.ReportingTo.ID, Name: u.ReportingTo.Name}
	}
	for _, sub := range s.users {
		if sub.Status != StatusDeleted && sub.ReportingTo != nil && sub.ReportingTo.ID == u.ID {
			if newBoss == nil {
				sub.ReportingTo = nil
			} else {
				b := *newBoss
				sub.ReportingTo = &b
			}
		}
	}
}

// unfinished counts the org's jobs not yet finished plus slots held by other admins.
func (s *Server) unfinished(now time.Time) int {
	n := 0
	for _, j := range s.jobs {
		if !j.settled {
			n++
		}
	}
	for _, h := range s.held {
		if now.Before(h.until) {
			n += h.n
		}
	}
	return n
}

// slotFrees is when a job submitted now, beyond the job limit, starts (QueueBeyondLimit): once
// as many of the jobs and held slots ahead of it have ended as it is beyond the limit.
func (s *Server) slotFrees(now time.Time) time.Time {
	var ends []time.Time
	for _, j := range s.jobs {
		if !j.settled {
			ends = append(ends, j.due)
		}
	}
	for _, h := range s.held {
		for range h.n {
			if now.Before(h.until) {
				ends = append(ends, h.until)
			}
		}
	}
	slices.SortFunc(ends, func(a, b time.Time) int { return a.Compare(b) })
	return ends[len(ends)-s.cfg.JobLimit]
}

// pendingJob returns the user's unfinished job, if any.
func (s *Server) pendingJob(userID string) *job {
	for _, j := range s.jobs {
		if !j.settled && j.UserID == userID {
			return j
		}
	}
	return nil
}

// isSubordinate reports whether candidate is a subordinate of boss under the org's hierarchy.
func (s *Server) isSubordinate(candidate, boss *User) bool {
	if s.org.HierarchyPreferences.Type == ReportingToHierarchy {
		seen := map[string]bool{}
		for u := candidate; u != nil && u.ReportingTo != nil && !seen[u.ID]; u = s.byID[u.ReportingTo.ID] {
			seen[u.ID] = true
			if u.ReportingTo.ID == boss.ID {
				return true
			}
		}
		return false
	}
	parent := map[string]string{}
	for _, r := range s.roles {
		if r.ReportingTo != nil {
			parent[r.ID] = r.ReportingTo.ID
		}
	}
	seen := map[string]bool{}
	for role := parent[candidate.Role.ID]; role != "" && !seen[role]; role = parent[role] {
		seen[role] = true
		if role == boss.Role.ID {
			return true
		}
	}
	return false
}

// jobStatus answers GET /crm/v7/users/actions/transfer_and_delete?job_id=.
func (s *Server) jobStatus(_ endpoint, q url.Values, _ []byte) reply {
	id := q.Get("job_id")
	if id == "" {
		return reply{status: http.StatusBadRequest, body: map[string]any{
			"status":  "error",
			"code":    "REQUIRED_PARAM_MISSING",
			"message": "mandatory param missing",
			"details": map[string]any{"param_name": "job_id"},
		}}
	}
	if !isZohoID(id) {
		return invalidParam("job_id", "the job_id given seems to be invalid")
	}
	j := s.jobByID[id]
	if j == nil {
		return noContent()
	}
	st := map[string]any{"status": s.phase(j, s.now())}
	if st["status"] == JobFailed && j.Reason != "" {
		st["reason"] = j.Reason
	}
	return ok(map[string]any{"transfer_and_delete": []any{st}})
}

// target says where a user ID sits in the request, for error details.
type target struct {
	path    bool   // the ID is in the URL
	apiName string // "id"
	json    string // JSON path
}

func (t target) details(extra map[string]any) map[string]any {
	d := map[string]any{}
	if t.path {
		d["resource_path_index"] = 1
	} else {
		d["api_name"] = t.apiName
		d["json_path"] = t.json
	}
	maps.Copy(d, extra)
	return d
}

func (t target) fail(code, message string, extra map[string]any) reply {
	if t.path {
		return apiError(http.StatusBadRequest, code, message, t.details(extra))
	}
	return wrappedError(code, message, t.details(extra))
}

// transferAndDelete answers both forms of POST .../transfer_and_delete.
func (s *Server) transferAndDelete(e endpoint, _ url.Values, body []byte) reply {
	if s.caller != s.superAdminID {
		return reply{status: http.StatusForbidden, body: map[string]any{
			"status":  "error",
			"code":    "NO_PERMISSION",
			"message": "Only super admin has permission to delete users",
		}}
	}
	inPath := e.id != ""
	now := s.now()

	// The user in the URL is checked before the body, as Zoho resolves paths first.
	var victim *User
	victimAt := target{path: inPath, apiName: "id", json: "$.transfer_and_delete.id"}
	if inPath {
		var rep *reply
		if victim, rep = s.checkVictim(e.id, victimAt); rep != nil {
			return *rep
		}
	}

	el, rep := s.parseBody(body, inPath)
	if rep != nil {
		return *rep
	}
	if inPath {
		if id, ok := el.id(); ok && id != e.id {
			return wrappedError("INVALID_DATA", "the id in the body does not match the id in the URL",
				map[string]any{"api_name": "id", "json_path": "$.transfer_and_delete.id"})
		}
	} else {
		id, _ := el.id()
		if victim, rep = s.checkVictim(id, victimAt); rep != nil {
			return *rep
		}
	}

	var transferTo, subordinatesTo *User
	if el.transfer != nil {
		at := target{apiName: "id", json: "$.transfer_and_delete.transfer.id"}
		if transferTo, rep = s.checkTarget(el.transfer.id, victim, at, "transfer"); rep != nil {
			return *rep
		}
	}
	if el.move != nil {
		at := target{apiName: "id", json: "$.transfer_and_delete.move_subordinate.id"}
		if subordinatesTo, rep = s.checkTarget(el.move.id, victim, at, "move the subordinates"); rep != nil {
			return *rep
		}
		if s.isSubordinate(subordinatesTo, victim) {
			return at.fail("NOT_ALLOWED", "You cannot move the subordinates to another subordinate user", nil)
		}
	}

	start := now
	if s.cfg.JobLimit > 0 && s.unfinished(now) >= s.cfg.JobLimit && s.cfg.JobLimitAnswer == QueueBeyondLimit {
		start = s.slotFrees(now)
	} else if s.cfg.JobLimit > 0 && s.unfinished(now) >= s.cfg.JobLimit {
		body := map[string]any{
			"status":  "error",
			"code":    "CONCURRENT_JOB_LIMIT_EXCEEDED",
			"message": "Transfer and delete user scheduler limit reached",
			"details": map[string]any{"limit": fmt.Sprint(s.cfg.JobLimit)},
		}
		switch s.cfg.JobLimitAnswer {
		case LimitReached:
			body["code"] = "LIMIT_REACHED"
		case LimitReachedBare:
			body["code"], body["message"], body["details"] = "LIMIT_REACHED", "limit reached", map[string]any{}
		case LimitInvalidData:
			body["code"], body["message"] = "INVALID_DATA", "the limit of jobs is reached"
		}
		return reply{status: http.StatusBadRequest, body: body}
	}

	s.jobSeq++
	j := &job{
		Job: Job{
			ID:          fmt.Sprintf("%s%09d", s.org.ID[:10], 12600000+s.jobSeq),
			UserID:      victim.ID,
			SubmittedAt: now,
		},
		due: start.Add(s.jobDuration(victim.ID)),
	}
	if transferTo != nil {
		j.TransferTo = transferTo.ID
		j.Records, j.Assignment, j.Criteria = el.transfer.records, el.transfer.assignment, el.transfer.criteria
	}
	if subordinatesTo != nil {
		j.SubordinatesTo = subordinatesTo.ID
	}
	s.jobs = append(s.jobs, j)
	s.jobByID[j.ID] = j
	return ok(map[string]any{"transfer_and_delete": []any{map[string]any{
		"code":    "SUCCESS",
		"details": map[string]any{s.cfg.JobIDKey: j.ID, "id": victim.ID},
		"message": "user is deleted successfully",
		"status":  "success",
	}}})
}

// checkVictim checks the user to delete.
func (s *Server) checkVictim(id string, at target) (*User, *reply) {
	fail := func(code, message string, extra map[string]any) (*User, *reply) {
		rep := at.fail(code, message, extra)
		return nil, &rep
	}
	if !isZohoID(id) {
		return fail("INVALID_DATA", "the id given seems to be invalid", nil)
	}
	u := s.byID[id]
	switch {
	case u == nil:
		return fail("INVALID_DATA", "the user id provided is not a crm user.", map[string]any{"owner_status": "no_crm_user"})
	case u.Status == StatusDeleted:
		return fail("INVALID_DATA", "the user id provided is already deleted.", map[string]any{"owner_status": "deleted"})
	case u.ID == s.superAdminID:
		return fail("NOT_ALLOWED", "Super Admin cannot be Deleted.", nil)
	}
	if j := s.pendingJob(u.ID); j != nil {
		switch s.cfg.SecondSubmission {
		case RefuseBare:
			return fail("INVALID_DATA", "the user is already being deleted", nil)
		case StartSecondJob:
		default:
			return fail("NOT_ALLOWED", "a transfer and delete job is already running for this user", map[string]any{"job_id": j.ID})
		}
	}
	return u, nil
}

// checkTarget checks a user who receives records (what = "transfer") or subordinates.
func (s *Server) checkTarget(id string, victim *User, at target, what string) (*User, *reply) {
	fail := func(code, message string, extra map[string]any) (*User, *reply) {
		rep := at.fail(code, message, extra)
		return nil, &rep
	}
	if !isZohoID(id) {
		return fail("INVALID_DATA", "the id given seems to be invalid", nil)
	}
	u := s.byID[id]
	who := "The user to whom you are trying to " + what
	switch {
	case u == nil:
		return fail("INVALID_DATA", who+" is not a CRM user.", map[string]any{"owner_status": "no_crm_user"})
	case u.ID == victim.ID:
		return fail("INVALID_DATA", who+" is the user being deleted.", nil)
	case u.Status == StatusDeleted:
		return fail("INVALID_DATA", who+" is deleted.", map[string]any{"owner_status": "deleted"})
	case !u.Confirm:
		return fail("INVALID_DATA", who+" is not a CRM user.", map[string]any{"owner_status": "not_crm_user"})
	case u.Status != StatusActive:
		return fail("INVALID_DATA", who+" is inactive.", map[string]any{"owner_status": "inactive"})
	}
	return u, nil
}

// element is the one object of a transfer_and_delete body, checked for shape.
type element struct {
	raw      map[string]any
	transfer *transferSpec
	move     *transferSpec
}

type transferSpec struct {
	id                            string
	records, assignment, criteria bool
}

func (el element) id() (string, bool) {
	id, ok := el.raw["id"].(string)
	return id, ok
}

// parseBody checks the shape of the body: one element with the documented keys and types.
func (s *Server) parseBody(body []byte, inPath bool) (element, *reply) {
	fail := func(r reply) (element, *reply) { return element{}, &r }
	invalid := func(api, path string, extra map[string]any) (element, *reply) {
		d := map[string]any{"api_name": api, "json_path": path}
		maps.Copy(d, extra)
		return fail(wrappedError("INVALID_DATA", "invalid data", d))
	}

	var doc any
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&doc); err != nil || dec.More() {
		return fail(apiError(http.StatusBadRequest, "INVALID_DATA", "the input JSON is not valid", nil))
	}
	top, isObject := doc.(map[string]any)
	if !isObject {
		return fail(apiError(http.StatusBadRequest, "INVALID_DATA", "the input JSON is not valid",
			map[string]any{"expected_data_type": "jsonobject"}))
	}
	for _, k := range slices.Sorted(maps.Keys(top)) {
		if k != "transfer_and_delete" {
			return fail(apiError(http.StatusBadRequest, "INVALID_DATA", "invalid data",
				map[string]any{"api_name": k, "json_path": "$." + k}))
		}
	}
	list, isList := top["transfer_and_delete"].([]any)
	switch {
	case top["transfer_and_delete"] == nil || isList && len(list) == 0:
		return fail(apiError(http.StatusBadRequest, "MANDATORY_NOT_FOUND", "required field not found",
			map[string]any{"api_name": "transfer_and_delete", "json_path": "$.transfer_and_delete"}))
	case !isList:
		return fail(apiError(http.StatusBadRequest, "INVALID_DATA", "invalid data",
			map[string]any{"api_name": "transfer_and_delete", "json_path": "$.transfer_and_delete", "expected_data_type": "jsonarray"}))
	case len(list) > 1:
		msg := "invalid data"
		if inPath {
			msg = "only one user can be given when the user id is in the URL"
		}
		return fail(apiError(http.StatusBadRequest, "INVALID_DATA", msg,
			map[string]any{"maximum_length": 1, "api_name": "transfer_and_delete", "json_path": "$.transfer_and_delete"}))
	}
	raw, isObject := list[0].(map[string]any)
	if !isObject {
		return invalid("transfer_and_delete", "$.transfer_and_delete", map[string]any{"expected_data_type": "jsonobject"})
	}
	for _, k := range slices.Sorted(maps.Keys(raw)) {
		if k != "id" && k != "transfer" && k != "move_subordinate" {
			return invalid(k, "$.transfer_and_delete."+k, nil)
		}
	}
	el := element{raw: raw}
	switch id, has := raw["id"]; {
	case !has || id == nil:
		if !inPath {
			return fail(wrappedError("MANDATORY_NOT_FOUND", "required field not found",
				map[string]any{"api_name": "id", "json_path": "$.transfer_and_delete.id"}))
		}
	default:
		if _, isString := id.(string); !isString {
			return invalid("id", "$.transfer_and_delete.id", map[string]any{"expected_data_type": "string"})
		}
	}
	if raw["transfer"] == nil && raw["move_subordinate"] == nil {
		return fail(wrappedError("EXPECTED_FIELD_MISSING", "Specify atleast one field", map[string]any{
			"expected_data": []any{
				map[string]any{"api_name": "transfer", "json_path": "$.transfer_and_delete.transfer"},
				map[string]any{"api_name": "move_subordinate", "json_path": "$.transfer_and_delete.move_subordinate"},
			},
		}))
	}
	if raw["transfer"] == nil && s.cfg.RequireTransfer {
		return fail(wrappedError("MANDATORY_NOT_FOUND", "required field not found",
			map[string]any{"api_name": "transfer", "json_path": "$.transfer_and_delete.transfer"}))
	}
	for _, name := range []string{"transfer", "move_subordinate"} {
		v := raw[name]
		if v == nil {
			continue
		}
		path := "$.transfer_and_delete." + name
		obj, isObject := v.(map[string]any)
		if !isObject {
			return invalid(name, path, map[string]any{"expected_data_type": "jsonobject"})
		}
		allowed := []string{"id"}
		if name == "transfer" {
			allowed = append(allowed, "records", "assignment", "criteria")
		}
		for _, k := range slices.Sorted(maps.Keys(obj)) {
			if !slices.Contains(allowed, k) {
				return invalid(k, path+"."+k, nil)
			}
		}
		spec := &transferSpec{}
		switch id := obj["id"].(type) {
		case nil:
			return fail(wrappedError("MANDATORY_NOT_FOUND", "required field not found",
				map[string]any{"api_name": "id", "json_path": path + ".id", "parent_api_name": name}))
		case string:
			spec.id = id
		default:
			return invalid("id", path+".id", map[string]any{"expected_data_type": "string"})
		}
		for _, f := range []struct {
			key string
			dst *bool
		}{{"records", &spec.records}, {"assignment", &spec.assignment}, {"criteria", &spec.criteria}} {
			switch b := obj[f.key].(type) {
			case nil:
			case bool:
				*f.dst = b
			default:
				return invalid(f.key, path+"."+f.key, map[string]any{"expected_data_type": "boolean"})
			}
		}
		if name == "transfer" {
			el.transfer = spec
		} else {
			el.move = spec
		}
	}
	return el, nil
}
