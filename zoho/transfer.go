package zoho

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// Job statuses of a transfer-and-delete job. v7 documents in_progress,
// completed and failed; v8 adds scheduled.
const (
	JobScheduled  = "scheduled"
	JobInProgress = "in_progress"
	JobCompleted  = "completed"
	JobFailed     = "failed"
)

// Transfer says who receives a deleted user's records, and which kinds.
type Transfer struct {
	// ToID is the user who receives them.
	ToID string
	// Records moves the open records.
	Records bool
	// Assignment replaces the user in assignment rules, escalation rules,
	// field updates, automation actions and the like.
	Assignment bool
	// Criteria replaces the user in criteria of custom views, automation,
	// reports and the like.
	Criteria bool
}

// TransferRequest is one transfer-and-delete: Zoho takes one user per call.
type TransferRequest struct {
	// UserID is the user to delete.
	UserID string
	// Transfer, if set, moves the user's records.
	Transfer *Transfer
	// SubordinatesTo, if set, is the user who receives the subordinates.
	SubordinatesTo string
}

// Job is a scheduled transfer-and-delete job.
type Job struct {
	ID     string
	UserID string
}

type transferBody struct {
	TransferAndDelete []transferItem `json:"transfer_and_delete"`
}

type transferItem struct {
	ID              string        `json:"id"`
	Transfer        *transferJSON `json:"transfer,omitempty"`
	MoveSubordinate *idJSON       `json:"move_subordinate,omitempty"`
}

type transferJSON struct {
	ID         string `json:"id"`
	Records    bool   `json:"records"`
	Assignment bool   `json:"assignment"`
	Criteria   bool   `json:"criteria"`
}

type idJSON struct {
	ID string `json:"id"`
}

type transferResult struct {
	Code    string         `json:"code"`
	Status  string         `json:"status"`
	Message string         `json:"message"`
	Details map[string]any `json:"details"`
}

// TransferAndDelete asks Zoho to transfer a user's records and
// subordinates and delete the user. Zoho only schedules a job: follow it
// with JobStatus.
//
// ctx governs everything before the request leaves: the access token, the
// rate limiter, room among the calls in flight, and the wait for a
// connection. Once the request has a connection it is no longer cancelled
// by ctx; it ends with its answer or the request timeout.
//
// beforeSend, if not nil, is called after every wait, immediately before
// the request is sent: the caller's last chance to keep it from leaving,
// and the place to record that it is about to. It is called again, with
// Zoho's answer to the first, when Zoho refused the access token (a 401,
// which means nothing was done) and the request is sent once more with a
// fresh one. If it returns an error the request is not sent.
//
// A request that never left is a *NotSentError (ErrNotSent): it may be
// sent again. One whose answer may have been lost (the connection dropped
// or the timeout passed once it was sent, or Zoho answered 5xx) is an
// *OutcomeUnknownError: Zoho may have scheduled the job, so the same
// request must not be sent again before the user has been checked.
func (c *Client) TransferAndDelete(ctx context.Context, req TransferRequest, beforeSend func(refused error) error) (Job, error) {
	if !IsUserID(req.UserID) {
		return Job{}, fmt.Errorf("zoho: transfer and delete: %q is not a user id", req.UserID)
	}
	if req.Transfer == nil && req.SubordinatesTo == "" {
		return Job{}, errors.New("zoho: transfer and delete: neither a transfer nor a subordinates target")
	}
	item := transferItem{ID: req.UserID}
	if t := req.Transfer; t != nil {
		if !IsUserID(t.ToID) {
			return Job{}, fmt.Errorf("zoho: transfer and delete: transfer target %q is not a user id", t.ToID)
		}
		item.Transfer = &transferJSON{ID: t.ToID, Records: t.Records, Assignment: t.Assignment, Criteria: t.Criteria}
	}
	if req.SubordinatesTo != "" {
		if !IsUserID(req.SubordinatesTo) {
			return Job{}, fmt.Errorf("zoho: transfer and delete: subordinates target %q is not a user id", req.SubordinatesTo)
		}
		item.MoveSubordinate = &idJSON{ID: req.SubordinatesTo}
	}
	const path = "/users/actions/transfer_and_delete"
	cl := call{method: http.MethodPost, path: path, body: transferBody{[]transferItem{item}}, write: true, beforeSend: beforeSend}
	resp, err := c.do(ctx, cl)
	if err != nil {
		return Job{}, err
	}
	var body struct {
		TransferAndDelete []transferResult `json:"transfer_and_delete"`
	}
	full := "/crm/" + APIVersion + path
	dec := json.NewDecoder(bytes.NewReader(resp.body))
	dec.UseNumber() // a job ID sent as a bare number must keep its 19 digits
	if err := dec.Decode(&body); err != nil || len(body.TransferAndDelete) == 0 {
		// Zoho said 2xx but we cannot read what it did: the job may exist.
		return Job{}, &OutcomeUnknownError{Method: http.MethodPost, Path: full,
			Err: fmt.Errorf("unreadable success answer (HTTP %d)", resp.status)}
	}
	r := body.TransferAndDelete[0]
	if !strings.EqualFold(r.Status, "success") {
		return Job{}, &APIError{HTTPStatus: resp.status, Code: c.secrets.clean(r.Code), Message: c.secrets.clean(r.Message),
			Details: c.cleanDetails(r.Details), Method: http.MethodPost, Path: full, CreditsRemaining: -1}
	}
	job := Job{ID: detailID(r.Details, "jobId", "job_id"), UserID: detailID(r.Details, "id")}
	if job.UserID == "" {
		job.UserID = req.UserID
	}
	if job.ID == "" {
		return Job{}, &OutcomeUnknownError{Method: http.MethodPost, Path: full,
			Err: errors.New("zoho answered success without a job id")}
	}
	return job, nil
}

// detailID returns the first of keys present in details, as an ID string.
// details must have been decoded with UseNumber.
func detailID(details map[string]any, keys ...string) string {
	for _, k := range keys {
		switch v := details[k].(type) {
		case string:
			if v != "" {
				return v
			}
		case json.Number:
			return v.String()
		}
	}
	return ""
}

// JobStatus is the state of a transfer-and-delete job.
type JobStatus struct {
	// Status is scheduled, in_progress, completed or failed.
	Status string
	// Reason is Zoho's failure reason, when the job failed and Zoho said.
	Reason string
}

// Finished reports whether the job reached completed or failed.
func (s JobStatus) Finished() bool { return s.Status == JobCompleted || s.Status == JobFailed }

// JobStatus fetches the status of a transfer-and-delete job. A job Zoho
// does not know is ErrJobNotFound.
func (c *Client) JobStatus(ctx context.Context, jobID string) (JobStatus, error) {
	if !IsUserID(jobID) {
		return JobStatus{}, fmt.Errorf("zoho: %q is not a job id", jobID)
	}
	q := url.Values{"job_id": {jobID}}
	resp, err := c.do(ctx, call{method: http.MethodGet, path: "/users/actions/transfer_and_delete", query: q})
	if err != nil {
		return JobStatus{}, err
	}
	if resp.status == http.StatusNoContent {
		return JobStatus{}, fmt.Errorf("job %s: %w", jobID, ErrJobNotFound)
	}
	var body struct {
		TransferAndDelete []struct {
			Status string `json:"status"`
			Reason string `json:"reason"`
		} `json:"transfer_and_delete"`
	}
	if err := json.Unmarshal(resp.body, &body); err != nil {
		return JobStatus{}, fmt.Errorf("zoho: decode status of job %s: %w", jobID, err)
	}
	if len(body.TransferAndDelete) == 0 || body.TransferAndDelete[0].Status == "" {
		return JobStatus{}, fmt.Errorf("zoho: the status answer for job %s holds no status", jobID)
	}
	st := body.TransferAndDelete[0]
	return JobStatus{Status: strings.ToLower(st.Status), Reason: c.secrets.clean(st.Reason)}, nil
}
