package zoho

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Zoho API error codes that the client and its callers act on. The full
// list is in Zoho's documentation; these are the ones that change what
// offboard does next.
const (
	CodeTooManyRequests = "TOO_MANY_REQUESTS"
	CodeJobLimit        = "CONCURRENT_JOB_LIMIT_EXCEEDED"
	// CodeLimitReached is the generic limit code of Zoho's SDK error
	// lists, which do not have CodeJobLimit: an org may refuse a
	// submission with it when its job scheduler is full.
	CodeLimitReached       = "LIMIT_REACHED"
	CodeInvalidToken       = "INVALID_TOKEN"
	CodeAuthFailure        = "AUTHENTICATION_FAILURE"
	CodeScopeMismatch      = "OAUTH_SCOPE_MISMATCH"
	CodeNoPermission       = "NO_PERMISSION"
	CodeInvalidData        = "INVALID_DATA"
	CodeNotAllowed         = "NOT_ALLOWED"
	CodeMandatoryNotFound  = "MANDATORY_NOT_FOUND"
	CodeExpectedField      = "EXPECTED_FIELD_MISSING"
	CodeRequiredParam      = "REQUIRED_PARAM_MISSING"
	CodeInternalError      = "INTERNAL_ERROR"
	CodeAuthorizationFails = "AUTHORIZATION_FAILED"
)

// Sentinel errors, matched with errors.Is against the errors the client
// returns.
var (
	// ErrRateLimited matches a 429 TOO_MANY_REQUESTS caused by the per-org
	// concurrency limit: it clears within seconds.
	ErrRateLimited = errors.New("zoho: too many requests")
	// ErrCreditsExhausted matches a 429 caused by the org's daily API
	// credit budget: it does not clear for hours.
	ErrCreditsExhausted = errors.New("zoho: daily api credits exhausted")
	// ErrJobLimit matches CONCURRENT_JOB_LIMIT_EXCEEDED, LIMIT_REACHED, or
	// another code whose details name the limit: the org already runs as
	// many transfer-and-delete jobs as Zoho allows.
	ErrJobLimit = errors.New("zoho: transfer and delete job limit reached")
	// ErrUnauthorized matches an API answer that refuses the credentials
	// themselves (401 INVALID_TOKEN after a refresh, AUTHENTICATION_FAILURE,
	// OAUTH_SCOPE_MISMATCH).
	ErrUnauthorized = errors.New("zoho: unauthorized")
	// ErrJobNotFound is returned by JobStatus when Zoho knows no job with
	// that ID (HTTP 204).
	ErrJobNotFound = errors.New("zoho: no transfer and delete job with that id")
	// ErrUserIDRefused is returned by User when Zoho answers 400
	// INVALID_DATA for the ID: some orgs may answer so for a deleted user,
	// but it proves nothing alone; the caller confirms with a list read.
	ErrUserIDRefused = errors.New("zoho: the user id was refused")
	// ErrUserNotFound is returned by User when Zoho holds no record of the
	// user (HTTP 204): it does not exist, or no longer does.
	ErrUserNotFound = errors.New("zoho: no such user")
	// ErrNoAPIDomain is returned when the token response names no API
	// domain and none was configured (Config.APIDomain).
	ErrNoAPIDomain = errors.New("zoho: the token response has no api_domain, and none was configured")
)

// APIError is an error answer from the CRM API, from either of Zoho's
// envelopes: the top-level object or the element of a resource array.
type APIError struct {
	// HTTPStatus is the HTTP status of the answer.
	HTTPStatus int
	// Code is Zoho's error code, e.g. INVALID_DATA.
	Code string
	// Message is Zoho's message, with any secret the client knows removed.
	Message string
	// Details is Zoho's details object, as decoded JSON.
	Details map[string]any
	// Method and Path name the request that failed.
	Method, Path string
	// CreditsRemaining is the X-API-CREDITS-REMAINING header, or -1 when
	// the answer did not carry it.
	CreditsRemaining int
	// RetryAfter is the wait the answer asked for (a Retry-After header or
	// details.retry_after), or zero.
	RetryAfter time.Duration
}

// Error describes the failure in one line.
func (e *APIError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "zoho: %s %s: %d %s", e.Method, e.Path, e.HTTPStatus, e.Code)
	if e.Message != "" {
		fmt.Fprintf(&b, ": %s", e.Message)
	}
	if d := e.detailString(); d != "" {
		fmt.Fprintf(&b, " (%s)", d)
	}
	return b.String()
}

func (e *APIError) detailString() string {
	keys := make([]string, 0, len(e.Details))
	for k := range e.Details {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		switch v := e.Details[k].(type) {
		case string, float64, bool:
			parts = append(parts, fmt.Sprintf("%s=%v", k, v))
		}
	}
	return strings.Join(parts, " ")
}

// Is lets errors.Is match an APIError against the package's sentinels.
func (e *APIError) Is(target error) bool {
	switch target {
	case ErrRateLimited:
		return e.HTTPStatus == http.StatusTooManyRequests && !e.creditsExhausted()
	case ErrCreditsExhausted:
		return e.HTTPStatus == http.StatusTooManyRequests && e.creditsExhausted()
	case ErrJobLimit:
		return e.jobLimit()
	case ErrUnauthorized:
		return e.HTTPStatus == http.StatusUnauthorized
	}
	return false
}

// jobLimit reports a refusal that says the job scheduler's limit is
// reached: the v8 OpenAPI's code, or the SDKs' generic LIMIT_REACHED
// (which of the two an org sends is not documented), answered 400. It
// means "wait for a slot", never a refusal of the row. Nothing else counts:
// a row's own refusal that happens to carry a "limit" detail must fail the
// row, not stall the run.
func (e *APIError) jobLimit() bool {
	return e.HTTPStatus == http.StatusBadRequest && (e.Code == CodeJobLimit || e.Code == CodeLimitReached)
}

// creditsExhausted tells a daily-budget 429 from a concurrency 429. Zoho
// documents one status and one code for both; the only documented signal is
// the X-API-CREDITS-REMAINING header, which Zoho sends once half the credits
// are used, so a 429 that says none are left is the budget.
func (e *APIError) creditsExhausted() bool {
	return e.CreditsRemaining == 0
}

// Detail returns details[key] as a string ("" when absent).
func (e *APIError) Detail(key string) string {
	switch v := e.Details[key].(type) {
	case string:
		return v
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(v)
	}
	return ""
}

// OutcomeUnknownError is returned for a write that may have reached Zoho
// but whose answer never came back complete: the connection dropped after
// the request was sent, the call timed out, or Zoho answered 5xx. The
// caller must find out what happened (read the user back) before it sends
// the same write again.
type OutcomeUnknownError struct {
	Method, Path string
	Err          error
}

func (e *OutcomeUnknownError) Error() string {
	return fmt.Sprintf("zoho: %s %s: outcome unknown: %v", e.Method, e.Path, e.Err)
}

func (e *OutcomeUnknownError) Unwrap() error { return e.Err }

// ErrNotSent matches the error of a write that never left offboard: a wait
// before it ended, its beforeSend hook refused it, or no connection to
// Zoho could be had before the run stopped or the request's deadline
// passed. Zoho received nothing, so the write may be sent again.
var ErrNotSent = errors.New("zoho: request not sent")

// NotSentError is a write that was not sent (see ErrNotSent); Err says why.
type NotSentError struct {
	Method, Path string
	Err          error
	// Answered is set when an earlier send of the same call did reach Zoho
	// and was answered with it (a 401 INVALID_TOKEN, which means nothing
	// was done), and the send that would have followed with a fresh token
	// is the one that never left.
	Answered error
}

func (e *NotSentError) Error() string {
	return fmt.Sprintf("zoho: %s %s: not sent: %v", e.Method, e.Path, e.Err)
}

// Unwrap returns ErrNotSent and the cause.
func (e *NotSentError) Unwrap() []error { return []error{ErrNotSent, e.Err} }

// RedirectError is a server's answer that redirected a request elsewhere,
// which the client never follows (see Config).
type RedirectError struct {
	// From is the server that answered, To where it pointed (scheme and
	// host only).
	From, To string
}

func (e *RedirectError) Error() string {
	return fmt.Sprintf("%s answered with a redirect to %s, which offboard refuses to follow (Zoho does not redirect; "+
		"it would send the credentials elsewhere): check --dc, --accounts-url and --api-domain", e.From, e.To)
}

// APIDomainError is a token answer whose api_domain is not one of the data
// centre's API domains: the access token is not sent there.
type APIDomainError struct {
	Domain string
	DC     DataCentre
}

func (e *APIDomainError) Error() string {
	return fmt.Sprintf("zoho: the accounts server named api_domain %s, which is not one of data centre %s's API domains (https://*.%s): "+
		"refused, the access token is not sent there; check --dc, or name the API domain with --api-domain if it is right",
		e.Domain, e.DC.Name, e.DC.apiZone())
}

// AuthError is a failure to get an access token from Zoho's accounts
// server.
type AuthError struct {
	// Code is the accounts server's error, e.g. invalid_code.
	Code string
	// Description is its error_description, if any.
	Description string
	// Fatal is true when the credentials themselves were refused: retrying
	// cannot help, a person has to issue new ones.
	Fatal bool
	// Throttled is true when Zoho refused because of its limit of 10
	// token requests per 10 minutes.
	Throttled bool
	// Unreachable is true when the accounts server did not answer a token
	// request (no answer within the deadline, no connection, or a 5xx)
	// Tries times over Took: nothing more can be done without a token.
	Unreachable bool
	// URL is the accounts server's base URL, for an unreachable server.
	URL string
	// Tries and Took are the token requests made, and how long they took,
	// before the server was taken as unreachable.
	Tries int
	Took  time.Duration
	// Err is the underlying transport error, if the server never answered.
	Err error

	grant    bool // the refused credential was a grant code, not a refresh token
	noAnswer bool // the server did not answer (worth asking again)
}

// RefreshTokenRefused reports that the accounts server refused the
// refresh token for good (wrong, revoked, another data centre).
func (e *AuthError) RefreshTokenRefused() bool {
	return e.Fatal && e.Code == "invalid_code" && !e.grant
}

// ClientRefused reports that the accounts server refused the client id or
// secret.
func (e *AuthError) ClientRefused() bool {
	return e.Fatal && strings.HasPrefix(e.Code, "invalid_client")
}

func (e *AuthError) Error() string {
	switch {
	case e.Fatal && e.Code == "invalid_code" && e.grant:
		return "zoho: the grant code was refused (invalid_code): it is wrong, already used, expired (codes last a few minutes), or from another data centre"
	case e.Fatal && e.Throttled:
		return "zoho: Zoho has refused token requests as too many for over 10 minutes (it allows 10 per 10 minutes): is another program using the same credentials? Wait, then run again"
	case e.Fatal && e.Code == "invalid_code":
		return "zoho: the refresh token was refused (invalid_code): it is wrong, revoked, or belongs to another data centre; a new one is needed"
	case e.Fatal && strings.HasPrefix(e.Code, "invalid_client"):
		return fmt.Sprintf("zoho: the client id or client secret was refused (%s): check them, and the data centre", e.Code)
	case e.Fatal && e.Code == "" && e.Err != nil:
		return fmt.Sprintf("zoho: cannot get an access token: %v", e.Err)
	case e.Fatal:
		s := fmt.Sprintf("zoho: the accounts server refused the token request (%s", e.Code)
		if e.Description != "" {
			s += ": " + e.Description
		}
		return s + ")"
	case e.Throttled:
		return "zoho: too many access token requests (Zoho allows 10 per 10 minutes); wait and try again"
	case e.Unreachable:
		last := ""
		var inner *AuthError
		if errors.As(e.Err, &inner) && inner.Err != nil {
			last = ": " + inner.Err.Error()
		}
		return fmt.Sprintf("zoho: the accounts server %s did not answer a token request (%d tries over %s%s); check the network and the data centre", e.URL, e.Tries, e.Took, last)
	case e.Err != nil:
		return fmt.Sprintf("zoho: cannot get an access token: %v", e.Err)
	default:
		s := fmt.Sprintf("zoho: cannot get an access token: %s", e.Code)
		if e.Description != "" {
			s += ": " + e.Description
		}
		return s
	}
}

func (e *AuthError) Unwrap() error { return e.Err }

// Class is what a caller should do about an error from the client.
type Class int

// The classes of Classify, in the order a runner checks them.
const (
	// ClassNone: no error.
	ClassNone Class = iota
	// ClassCanceled: the caller's context ended. Never retried, never a
	// row failure.
	ClassCanceled
	// ClassOutcomeUnknown: a write may or may not have happened; check
	// before sending it again.
	ClassOutcomeUnknown
	// ClassRetry: transient (a concurrency 429, a 5xx or a network error on
	// a read, a throttled token request); wait and retry.
	ClassRetry
	// ClassJobLimit: Zoho's job scheduler is full; wait for a slot.
	ClassJobLimit
	// ClassCreditsExhausted: the daily credit budget is spent; stop.
	ClassCreditsExhausted
	// ClassFatal: the credentials or permissions are wrong; nothing else
	// will succeed either.
	ClassFatal
	// ClassRejected: Zoho refused this one request (INVALID_DATA,
	// NOT_ALLOWED, ...); other requests may succeed.
	ClassRejected
)

var classNames = [...]string{"none", "canceled", "outcome_unknown", "retry", "job_limit", "credits_exhausted", "fatal", "rejected"}

func (c Class) String() string {
	if int(c) < len(classNames) {
		return classNames[c]
	}
	return "Class(" + strconv.Itoa(int(c)) + ")"
}

// Classify says what to do about err, an error returned by this package's
// client. It is a pure function of the error, so the retry policy can be
// tested on hand-made answers.
func Classify(err error) Class {
	if err == nil {
		return ClassNone
	}
	var unknown *OutcomeUnknownError
	if errors.As(err, &unknown) {
		return ClassOutcomeUnknown
	}
	if errors.Is(err, context.Canceled) {
		return ClassCanceled
	}
	var (
		redirect *RedirectError
		domain   *APIDomainError
	)
	if errors.As(err, &redirect) || errors.As(err, &domain) {
		return ClassFatal
	}
	var auth *AuthError
	if errors.As(err, &auth) {
		if auth.Fatal || auth.Unreachable {
			return ClassFatal
		}
		return ClassRetry
	}
	var api *APIError
	if errors.As(err, &api) {
		switch {
		case errors.Is(api, ErrCreditsExhausted):
			return ClassCreditsExhausted
		case errors.Is(api, ErrRateLimited):
			return ClassRetry
		case api.jobLimit():
			return ClassJobLimit
		case api.HTTPStatus >= 500:
			return ClassRetry
		case api.HTTPStatus == http.StatusUnauthorized, api.HTTPStatus == http.StatusForbidden,
			api.Code == CodeAuthorizationFails:
			return ClassFatal
		}
		return ClassRejected
	}
	if errors.Is(err, ErrJobNotFound) || errors.Is(err, ErrUserNotFound) {
		return ClassRejected
	}
	// A transport error on a read, or on a write that never left: the
	// request did not reach Zoho, so sending it again is safe.
	return ClassRetry
}
