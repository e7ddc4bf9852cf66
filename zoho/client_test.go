package zoho

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/rs/zerolog"
	"golang.org/x/oauth2"
	"golang.org/x/time/rate"
)

const (
	testClientID     = "1000.TESTCLIENTID"
	testClientSecret = "s3cr3t-client-secret-value"
	testRefresh      = "1000.refresh-token-value-abc123"
)

// stub is a hand-made Zoho: an accounts server and an API on one
// httptest server, whose API answers come from a function.
type stub struct {
	srv           *httptest.Server
	tokenRequests atomic.Int32
	mu            sync.Mutex
	issued        []string // access tokens issued, in order
	tokenAnswer   func(n int) (status int, body string)
	api           func(w http.ResponseWriter, r *http.Request, token string)
}

func newStub(t *testing.T) *stub {
	t.Helper()
	s := &stub{}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *stub) serve(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/oauth/v2/token" {
		n := int(s.tokenRequests.Add(1))
		if err := r.ParseForm(); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		if s.tokenAnswer != nil {
			status, body := s.tokenAnswer(n)
			w.WriteHeader(status)
			io.WriteString(w, body)
			return
		}
		if r.PostForm.Get("client_id") != testClientID || r.PostForm.Get("client_secret") != testClientSecret {
			io.WriteString(w, `{"error":"invalid_client"}`)
			return
		}
		if r.PostForm.Get("grant_type") != "refresh_token" || r.PostForm.Get("refresh_token") != testRefresh {
			io.WriteString(w, `{"error":"invalid_code"}`)
			return
		}
		tok := fmt.Sprintf("1000.access-token-%d", n)
		s.mu.Lock()
		s.issued = append(s.issued, tok)
		s.mu.Unlock()
		fmt.Fprintf(w, `{"access_token":%q,"api_domain":%q,"token_type":"Bearer","expires_in":3600}`, tok, s.srv.URL)
		return
	}
	auth := r.Header.Get("Authorization")
	if !strings.HasPrefix(auth, "Zoho-oauthtoken ") {
		w.WriteHeader(http.StatusUnauthorized)
		io.WriteString(w, `{"code":"AUTHENTICATION_FAILURE","details":{},"message":"Authentication failed","status":"error"}`)
		return
	}
	s.api(w, r, strings.TrimPrefix(auth, "Zoho-oauthtoken "))
}

func (s *stub) client(t *testing.T, mod ...func(*Config)) *Client {
	t.Helper()
	cfg := Config{
		ClientID: testClientID, ClientSecret: testClientSecret, RefreshToken: testRefresh,
		AccountsURL: s.srv.URL,
	}
	for _, m := range mod {
		m(&cfg)
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatalf("New() = %v", err)
	}
	return c
}

func answer(status int, header map[string]string, body string) func(http.ResponseWriter, *http.Request, string) {
	return func(w http.ResponseWriter, r *http.Request, _ string) {
		for k, v := range header {
			w.Header().Set(k, v)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		io.WriteString(w, body)
	}
}

// hangUp closes the connection after reading the request, answering
// nothing: what a client sees when Zoho commits and the network drops.
func hangUp(w http.ResponseWriter, r *http.Request, _ string) {
	io.Copy(io.Discard, r.Body)
	conn, _, err := w.(http.Hijacker).Hijack()
	if err == nil {
		conn.Close()
	}
}

var transferReq = TransferRequest{UserID: "3652397000001464001",
	Transfer: &Transfer{ToID: "3652397000000186017", Records: true, Assignment: true, Criteria: true}}

func TestClassifyAnswers(t *testing.T) {
	type callFn func(ctx context.Context, c *Client) error
	post := func(ctx context.Context, c *Client) error {
		_, err := c.TransferAndDelete(ctx, transferReq, nil)
		return err
	}
	get := func(ctx context.Context, c *Client) error { _, err := c.Org(ctx); return err }
	status := func(ctx context.Context, c *Client) error {
		_, err := c.JobStatus(ctx, "3652397000012622009")
		return err
	}
	tests := []struct {
		name   string
		call   callFn
		api    func(http.ResponseWriter, *http.Request, string)
		want   Class
		is     error  // errors.Is target that must match, if any
		code   string // APIError.Code, if an APIError
		detail [2]string
	}{
		{name: "concurrency 429", call: get, want: ClassRetry, is: ErrRateLimited, code: "TOO_MANY_REQUESTS",
			api: answer(429, nil, `{"code":"TOO_MANY_REQUESTS","details":{},"message":"You have reached the concurrency limit","status":"error"}`)},
		{name: "concurrency 429 with credits left", call: post, want: ClassRetry, is: ErrRateLimited, code: "TOO_MANY_REQUESTS",
			api: answer(429, map[string]string{"X-API-CREDITS-REMAINING": "1200"}, `{"code":"TOO_MANY_REQUESTS","details":{},"message":"limit","status":"error"}`)},
		{name: "credits 429", call: post, want: ClassCreditsExhausted, is: ErrCreditsExhausted, code: "TOO_MANY_REQUESTS",
			api: answer(429, map[string]string{"X-API-CREDITS-REMAINING": "0"}, `{"code":"TOO_MANY_REQUESTS","details":{},"message":"You have exceeded the API limit","status":"error"}`)},
		{name: "job limit", call: post, want: ClassJobLimit, is: ErrJobLimit, code: "CONCURRENT_JOB_LIMIT_EXCEEDED", detail: [2]string{"limit", "10"},
			api: answer(400, nil, `{"status":"error","code":"CONCURRENT_JOB_LIMIT_EXCEEDED","message":"Transfer and delete user scheduler limit reached","details":{"limit":"10"}}`)},
		{name: "wrapped invalid data", call: post, want: ClassRejected, code: "INVALID_DATA", detail: [2]string{"owner_status", "deleted"},
			api: answer(400, nil, `{"transfer_and_delete":[{"code":"INVALID_DATA","details":{"api_name":"id","json_path":"$.transfer_and_delete.transfer.id","owner_status":"deleted"},"message":"The user to whom you are trying to transfer is deleted.","status":"error"}]}`)},
		{name: "top-level not allowed", call: post, want: ClassRejected, code: "NOT_ALLOWED", detail: [2]string{"resource_path_index", "1"},
			api: answer(400, nil, `{"code":"NOT_ALLOWED","details":{"resource_path_index":1},"message":"Super Admin cannot be Deleted.","status":"error"}`)},
		{name: "no permission without details", call: post, want: ClassFatal, code: "NO_PERMISSION",
			api: answer(403, nil, `{"status":"error","code":"NO_PERMISSION","message":"Only super admin has permission to delete users"}`)},
		{name: "scope mismatch", call: get, want: ClassFatal, is: ErrUnauthorized, code: "OAUTH_SCOPE_MISMATCH",
			api: answer(401, nil, `{"code":"OAUTH_SCOPE_MISMATCH","details":{},"message":"invalid oauth scope to access this URL","status":"error"}`)},
		{name: "5xx on a read", call: get, want: ClassRetry, code: "INTERNAL_ERROR",
			api: answer(500, nil, `{"code":"INTERNAL_ERROR","details":{},"message":"Internal Server Error","status":"error"}`)},
		{name: "5xx on a write", call: post, want: ClassOutcomeUnknown,
			api: answer(503, nil, `<html>Service Unavailable</html>`)},
		{name: "200 holding an error", call: post, want: ClassRejected, code: "NOT_ALLOWED",
			api: answer(200, nil, `{"transfer_and_delete":[{"code":"NOT_ALLOWED","details":{},"message":"You cannot move the subordinates to another subordinate user","status":"error"}]}`)},
		{name: "success without a job id", call: post, want: ClassOutcomeUnknown,
			api: answer(200, nil, `{"transfer_and_delete":[{"code":"SUCCESS","details":{"id":"3652397000001464001"},"message":"user is deleted successfully","status":"success"}]}`)},
		{name: "unreadable success", call: post, want: ClassOutcomeUnknown, api: answer(200, nil, `<html>`)},
		{name: "dropped write", call: post, want: ClassOutcomeUnknown, api: hangUp},
		{name: "dropped read", call: get, want: ClassRetry, api: hangUp},
		{name: "unknown job", call: status, want: ClassRejected, is: ErrJobNotFound, api: answer(204, nil, ``)},
		{name: "missing job id param", call: status, want: ClassRejected, code: "REQUIRED_PARAM_MISSING", detail: [2]string{"param_name", "job_id"},
			api: answer(400, nil, `{"status":"error","code":"REQUIRED_PARAM_MISSING","message":"mandatory param missing","details":{"param_name":"job_id"}}`)},
		{name: "not json", call: get, want: ClassRejected, code: "Not Found", api: answer(404, nil, `not found`)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStub(t)
			s.api = tt.api
			err := tt.call(t.Context(), s.client(t))
			if got := Classify(err); got != tt.want {
				t.Fatalf("Classify(%v) = %v, want %v", err, got, tt.want)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("errors.Is(%v, %v) = false, want true", err, tt.is)
			}
			if tt.code != "" {
				var api *APIError
				if !errors.As(err, &api) {
					t.Fatalf("error %v is not an *APIError", err)
				}
				if api.Code != tt.code {
					t.Errorf("APIError.Code = %q, want %q", api.Code, tt.code)
				}
				if tt.detail[0] != "" && api.Detail(tt.detail[0]) != tt.detail[1] {
					t.Errorf("APIError.Detail(%q) = %q, want %q", tt.detail[0], api.Detail(tt.detail[0]), tt.detail[1])
				}
			}
		})
	}
}

func TestClassifyWithoutServer(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name string
		err  error
		want Class
	}{
		{"nil", nil, ClassNone},
		{"canceled", fmt.Errorf("zoho: GET /x: %w", ctx.Err()), ClassCanceled},
		{"unknown beats canceled", &OutcomeUnknownError{Err: context.Canceled}, ClassOutcomeUnknown},
		{"fatal auth", &AuthError{Code: "invalid_code", Fatal: true}, ClassFatal},
		{"throttled auth", &AuthError{Code: "Access Denied", Throttled: true}, ClassRetry},
		{"wrapped api error", fmt.Errorf("row 4: %w", &APIError{HTTPStatus: 400, Code: "INVALID_DATA"}), ClassRejected},
		{"authorization failed", &APIError{HTTPStatus: 400, Code: "AUTHORIZATION_FAILED"}, ClassFatal},
		{"network", errors.New("connection refused"), ClassRetry},
		// The job scheduler's limit in either code Zoho's sources give,
		// and nothing else: a row's refusal with a "limit" detail fails
		// the row, and a 403 or 5xx keeps its own meaning.
		{"job limit, v8", &APIError{HTTPStatus: 400, Code: "CONCURRENT_JOB_LIMIT_EXCEEDED", Details: map[string]any{"limit": "10"}}, ClassJobLimit},
		{"job limit, SDKs' code", &APIError{HTTPStatus: 400, Code: "LIMIT_REACHED"}, ClassJobLimit},
		{"a row refused, naming a limit", &APIError{HTTPStatus: 400, Code: "INVALID_DATA", Details: map[string]any{"api_name": "records", "limit": 50000}}, ClassRejected},
		{"forbidden, naming a limit", &APIError{HTTPStatus: 403, Code: "NO_PERMISSION", Details: map[string]any{"limit": "10"}}, ClassFatal},
		{"5xx, naming a limit", &APIError{HTTPStatus: 500, Code: "LIMIT_REACHED"}, ClassRetry},
	}
	for _, tt := range tests {
		if got := Classify(tt.err); got != tt.want {
			t.Errorf("%s: Classify(%v) = %v, want %v", tt.name, tt.err, got, tt.want)
		}
	}
}

func TestTransferAndDeleteReadsEitherJobKey(t *testing.T) {
	for _, body := range []string{
		`{"transfer_and_delete":[{"code":"SUCCESS","details":{"jobId":"3652397000012622009","id":"3652397000001464001"},"message":"user is deleted successfully","status":"success"}]}`,
		`{"transfer_and_delete":[{"status":"success","code":"SUCCESS","message":"User is deleted successfully","details":{"job_id":"3652397000012622009","id":"3652397000001464001"}}]}`,
		`{"transfer_and_delete":[{"status":"success","code":"SUCCESS","message":"ok","details":{"job_id":3652397000012622009}}]}`,
	} {
		s := newStub(t)
		var got []byte
		s.api = func(w http.ResponseWriter, r *http.Request, tok string) {
			if r.Method != http.MethodPost || r.URL.Path != "/crm/v7/users/actions/transfer_and_delete" {
				t.Errorf("request %s %s, want POST /crm/v7/users/actions/transfer_and_delete", r.Method, r.URL.Path)
			}
			got, _ = io.ReadAll(r.Body)
			answer(200, nil, body)(w, r, tok)
		}
		job, err := s.client(t).TransferAndDelete(t.Context(), TransferRequest{UserID: "3652397000001464001",
			Transfer: &Transfer{ToID: "3652397000000186017", Records: true, Criteria: true}, SubordinatesTo: "3652397000000186018"}, nil)
		if err != nil {
			t.Fatalf("TransferAndDelete() with answer %s = %v", body, err)
		}
		want := Job{ID: "3652397000012622009", UserID: "3652397000001464001"}
		if diff := cmp.Diff(want, job); diff != "" {
			t.Errorf("TransferAndDelete() job mismatch for %s (-want +got):\n%s", body, diff)
		}
		wantBody := `{"transfer_and_delete":[{"id":"3652397000001464001","transfer":{"id":"3652397000000186017","records":true,"assignment":false,"criteria":true},"move_subordinate":{"id":"3652397000000186018"}}]}`
		if string(got) != wantBody {
			t.Errorf("request body = %s, want %s", got, wantBody)
		}
	}
}

func TestTokenSharedAndRefreshedOnce(t *testing.T) {
	s := newStub(t)
	var calls atomic.Int32
	s.api = func(w http.ResponseWriter, r *http.Request, tok string) {
		calls.Add(1)
		s.mu.Lock()
		current := s.issued[len(s.issued)-1]
		s.mu.Unlock()
		if tok != current {
			answer(401, nil, `{"code":"INVALID_TOKEN","details":{},"message":"invalid oauth token","status":"error"}`)(w, r, tok)
			return
		}
		answer(200, nil, `{"org":[{"id":"1","primary_zuid":"2","primary_email":"boss@example.com"}]}`)(w, r, tok)
	}
	c := s.client(t)
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			if _, err := c.Org(t.Context()); err != nil {
				t.Errorf("Org() = %v", err)
			}
		})
	}
	wg.Wait()
	if got := s.tokenRequests.Load(); got != 1 {
		t.Errorf("token requests for 50 concurrent calls = %d, want 1", got)
	}

	// Zoho evicts the token: every worker gets 401 INVALID_TOKEN at once,
	// and the client asks for one new token, not one per worker.
	s.mu.Lock()
	s.issued = append(s.issued, "evicted-everything")
	s.mu.Unlock()
	s.tokenAnswer = nil
	before := s.tokenRequests.Load()
	var failures atomic.Int32
	for range 20 {
		wg.Go(func() {
			if _, err := c.Org(t.Context()); err != nil {
				failures.Add(1)
			}
		})
	}
	wg.Wait()
	// The stub's "current" token is now the newest issued, so after one
	// refresh every retry succeeds.
	if got := s.tokenRequests.Load() - before; got != 1 {
		t.Errorf("token requests after a mass 401 = %d, want 1", got)
	}
	if failures.Load() != 0 {
		t.Errorf("%d calls failed after the refresh, want 0", failures.Load())
	}
}

func TestInvalidTokenRetriedOnlyOnce(t *testing.T) {
	s := newStub(t)
	var calls atomic.Int32
	s.api = func(w http.ResponseWriter, r *http.Request, tok string) {
		calls.Add(1)
		answer(401, nil, `{"code":"INVALID_TOKEN","details":{},"message":"invalid oauth token","status":"error"}`)(w, r, tok)
	}
	_, err := s.client(t).Roles(t.Context())
	if !errors.Is(err, ErrUnauthorized) || Classify(err) != ClassFatal {
		t.Errorf("Roles() with a token always refused = %v (class %v), want ErrUnauthorized, fatal", err, Classify(err))
	}
	if got := calls.Load(); got != 2 {
		t.Errorf("API calls = %d, want 2 (the call, and one retry after refreshing)", got)
	}
	if got := s.tokenRequests.Load(); got != 2 {
		t.Errorf("token requests = %d, want 2", got)
	}
}

func TestRefusedRefreshTokenIsFatalAndSticky(t *testing.T) {
	s := newStub(t)
	s.api = answer(200, nil, `{"org":[{}]}`)
	c := s.client(t, func(cfg *Config) { cfg.RefreshToken = "1000.revoked-refresh-token" })
	_, err := c.Org(t.Context())
	var aerr *AuthError
	if !errors.As(err, &aerr) || !aerr.Fatal || Classify(err) != ClassFatal {
		t.Fatalf("Org() with a revoked refresh token = %v, want a fatal *AuthError", err)
	}
	if !strings.Contains(err.Error(), "refresh token was refused") || !aerr.RefreshTokenRefused() || aerr.ClientRefused() {
		t.Errorf("error %q does not say the refresh token was refused", err)
	}
	if _, _, err := c.UsersPage(t.Context(), AllUsers, 1, MaxPerPage); err == nil {
		t.Errorf("UsersPage() after a fatal auth error succeeded")
	}
	if got := s.tokenRequests.Load(); got != 1 {
		t.Errorf("token requests = %d, want 1: a refused refresh token is not asked about again", got)
	}
}

func TestTokenErrors(t *testing.T) {
	tests := []struct {
		name      string
		status    int
		body      string
		fatal     bool
		throttled bool
		mention   string
	}{
		{"invalid client on 200", 200, `{"error":"invalid_client"}`, true, false, "the client id or client secret was refused (invalid_client)"},
		{"invalid client secret", 200, `{"error":"invalid_client_secret"}`, true, false, "the client id or client secret was refused (invalid_client_secret)"},
		{"throttle", 400, `{"error_description":"Token creation throttle limit reached. Please reuse the valid tokens you currently have.","error":"Access Denied"}`, false, true, "10 per 10 minutes"},
		{"accounts down", 502, `bad gateway`, false, false, "did not answer a token request (2 tries"},
		{"no token in answer", 200, `{"token_type":"Bearer"}`, false, false, "without an access token"},
		// Asked again and again, an error neither fatal nor a throttle
		// becomes fatal: a run must not ask for ever.
		{"unknown error code", 200, `{"error":"general_error","error_description":"try later"}`, true, false, "refused the token request (general_error: try later)"},
		{"an HTML page", 404, `<html>not found</html>`, false, false, "did not answer a token request (2 tries"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStub(t)
			s.tokenAnswer = func(int) (int, string) { return tt.status, tt.body }
			s.api = answer(200, nil, `{"org":[{}]}`)
			_, err := s.client(t, func(c *Config) { c.TokenAttempts, c.TokenBackoff = 2, time.Millisecond }).Org(t.Context())
			var aerr *AuthError
			if !errors.As(err, &aerr) {
				t.Fatalf("Org() = %v, want an *AuthError", err)
			}
			if aerr.Fatal != tt.fatal || aerr.Throttled != tt.throttled {
				t.Errorf("AuthError fatal=%v throttled=%v, want %v %v", aerr.Fatal, aerr.Throttled, tt.fatal, tt.throttled)
			}
			if !strings.Contains(err.Error(), tt.mention) {
				t.Errorf("error %q does not mention %q", err, tt.mention)
			}
		})
	}
}

func TestThrottledTokenRequestCoolsDown(t *testing.T) {
	s := newStub(t)
	s.tokenAnswer = func(int) (int, string) {
		return 400, `{"error_description":"Token creation throttle limit reached.","error":"Access Denied"}`
	}
	s.api = answer(200, nil, `{"org":[{}]}`)
	now := time.Date(2026, 11, 28, 2, 0, 0, 0, time.UTC)
	c := s.client(t, func(cfg *Config) { cfg.Now = func() time.Time { return now } })
	for range 5 {
		if _, err := c.Org(t.Context()); Classify(err) != ClassRetry {
			t.Fatalf("Org() while throttled = %v, want a retryable error", err)
		}
	}
	if got := s.tokenRequests.Load(); got != 1 {
		t.Errorf("token requests while throttled = %d, want 1 (asking again extends the lock-out)", got)
	}
	now = now.Add(throttleCooldown + time.Second)
	s.tokenAnswer = nil
	if _, err := c.Org(t.Context()); err != nil {
		t.Errorf("Org() after the cool-down = %v", err)
	}
}

func TestTokenRefreshedBeforeExpiry(t *testing.T) {
	s := newStub(t)
	s.api = answer(200, nil, `{"org":[{}]}`)
	now := time.Now()
	c := s.client(t, func(cfg *Config) { cfg.Now = func() time.Time { return now } })
	for range 3 {
		if _, err := c.Org(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	if got := s.tokenRequests.Load(); got != 1 {
		t.Fatalf("token requests = %d, want 1", got)
	}
	now = now.Add(time.Hour - expirySkew + time.Second) // about to expire
	if _, err := c.Org(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := s.tokenRequests.Load(); got != 2 {
		t.Errorf("token requests after the token neared expiry = %d, want 2", got)
	}
}

func TestAPIDomain(t *testing.T) {
	s := newStub(t)
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		answer(200, nil, `{"org":[{"company_name":"override"}]}`)(w, r, "")
	}))
	defer other.Close()
	s.api = answer(200, nil, `{"org":[{"company_name":"from token"}]}`)

	org, err := s.client(t).Org(t.Context())
	if err != nil || org.CompanyName != "from token" {
		t.Errorf("Org() = %+v, %v; want the org at the token's api_domain", org, err)
	}
	org, err = s.client(t, func(c *Config) { c.APIDomain = other.URL }).Org(t.Context())
	if err != nil || org.CompanyName != "override" {
		t.Errorf("Org() with APIDomain = %+v, %v; want the org at the override", org, err)
	}

	s.tokenAnswer = func(int) (int, string) {
		return 200, `{"access_token":"1000.abcdefgh","api_domain":"http://www.zohoapis.example","token_type":"Bearer","expires_in":3600}`
	}
	_, err = s.client(t).Org(t.Context())
	if err == nil || !strings.Contains(err.Error(), "plain http") {
		t.Errorf("Org() with a plain-http api_domain = %v, want a refusal", err)
	}
}

func TestNewChecksConfig(t *testing.T) {
	ok := Config{ClientID: "a", ClientSecret: "b", RefreshToken: "c"}
	with := func(f func(*Config)) Config { c := ok; f(&c); return c }
	tests := []struct {
		name string
		cfg  Config
		want string // "" means no error
	}{
		{"defaults to us", ok, ""},
		{"every missing secret named", Config{}, "missing client id, client secret, refresh token"},
		{"unknown dc", with(func(c *Config) { c.DC = "mars" }), `unknown data centre "mars" (want one of au, ca, cn, eu, in, jp, sa, uk, us)`},
		{"plain http accounts", with(func(c *Config) { c.AccountsURL = "http://accounts.zoho.com" }), "plain http is allowed only for loopback"},
		{"plain http loopback", with(func(c *Config) { c.AccountsURL = "http://127.0.0.1:8080" }), ""},
		{"plain http localhost", with(func(c *Config) { c.APIDomain = "http://localhost:9" }), ""},
		{"plain http ipv6 loopback", with(func(c *Config) { c.APIDomain = "http://[::1]:9" }), ""},
		{"ftp", with(func(c *Config) { c.APIDomain = "ftp://www.zohoapis.com" }), "scheme must be https"},
		{"no host", with(func(c *Config) { c.APIDomain = "https://" }), "has no host"},
		{"credentials in url", with(func(c *Config) { c.AccountsURL = "https://u:p@accounts.zoho.com" }), "plain base URL"},
	}
	for _, tt := range tests {
		_, err := New(tt.cfg)
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%s: New() = %v, want no error", tt.name, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("%s: New() = %v, want an error containing %q", tt.name, err, tt.want)
		}
	}
}

func TestDataCentres(t *testing.T) {
	want := map[string][2]string{
		"us": {"https://accounts.zoho.com", "https://www.zohoapis.com"},
		"eu": {"https://accounts.zoho.eu", "https://www.zohoapis.eu"},
		"in": {"https://accounts.zoho.in", "https://www.zohoapis.in"},
		"au": {"https://accounts.zoho.com.au", "https://www.zohoapis.com.au"},
		"jp": {"https://accounts.zoho.jp", "https://www.zohoapis.jp"},
		"ca": {"https://accounts.zohocloud.ca", "https://www.zohoapis.ca"},
		"sa": {"https://accounts.zoho.sa", "https://www.zohoapis.sa"},
		"uk": {"https://accounts.zoho.uk", "https://www.zohoapis.uk"},
		"cn": {"https://accounts.zoho.com.cn", "https://www.zohoapis.com.cn"},
	}
	got := map[string][2]string{}
	for _, n := range DCNames() {
		dc, err := LookupDC(strings.ToUpper(n))
		if err != nil {
			t.Fatalf("LookupDC(%q) = %v", n, err)
		}
		got[n] = [2]string{dc.AccountsURL, dc.APIDomain}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("data centres mismatch (-want +got):\n%s", diff)
	}
}

func TestRequestShape(t *testing.T) {
	s := newStub(t)
	var seen []string
	var mu sync.Mutex
	s.api = func(w http.ResponseWriter, r *http.Request, tok string) {
		mu.Lock()
		seen = append(seen, r.Method+" "+r.URL.Path+"?"+r.URL.RawQuery+" auth="+r.Header.Get("Authorization"))
		mu.Unlock()
		switch r.URL.Path {
		case "/crm/v7/users":
			if r.URL.Query().Get("type") == "CurrentUser" {
				answer(200, nil, `{"users":[{"id":"1","email":"me@example.com","zuid":"77"}]}`)(w, r, tok)
				return
			}
			answer(204, nil, ``)(w, r, tok)
		case "/crm/v7/users/3652397000001464001":
			answer(200, nil, `{"users":[{"id":"3652397000001464001","status":"deleted","Reporting_To":null,"zuid":null}]}`)(w, r, tok)
		case "/crm/v7/users/actions/transfer_and_delete":
			answer(200, nil, `{"transfer_and_delete":[{"status":"failed","reason":"records are locked"}]}`)(w, r, tok)
		case "/crm/v7/settings/roles":
			answer(200, nil, `{"roles":[{"id":"9","name":"CEO","display_label":"CEO","reporting_to":null},{"id":"10","name":"VP","reporting_to":{"id":"9","name":"CEO"}}]}`)(w, r, tok)
		}
	}
	c := s.client(t)
	ctx := t.Context()
	me, err := c.CurrentUser(ctx)
	if err != nil || me.ZUID != "77" {
		t.Errorf("CurrentUser() = %+v, %v", me, err)
	}
	users, more, err := c.UsersPage(ctx, DeletedUsers, 1, MaxPerPage)
	if err != nil || len(users) != 0 || more {
		t.Errorf("UsersPage(DeletedUsers) on a 204 = %v, %v, %v; want none, no more, no error", users, more, err)
	}
	u, err := c.User(ctx, "3652397000001464001")
	if err != nil || !u.Deleted() || u.ZUID != "" || u.ReportingTo != nil {
		t.Errorf("User() = %+v, %v", u, err)
	}
	st, err := c.JobStatus(ctx, "3652397000012622009")
	if diff := cmp.Diff(JobStatus{Status: JobFailed, Reason: "records are locked"}, st); diff != "" || err != nil || !st.Finished() {
		t.Errorf("JobStatus() = %+v, %v (-want +got):\n%s", st, err, diff)
	}
	roles, err := c.Roles(ctx)
	if err != nil || len(roles) != 2 || roles[1].ReportingTo == nil || roles[1].ReportingTo.ID != "9" || roles[0].ReportingTo != nil {
		t.Errorf("Roles() = %+v, %v", roles, err)
	}
	want := []string{
		"GET /crm/v7/users?type=CurrentUser auth=Zoho-oauthtoken 1000.access-token-1",
		"GET /crm/v7/users?page=1&per_page=200&type=DeletedUsers auth=Zoho-oauthtoken 1000.access-token-1",
		"GET /crm/v7/users/3652397000001464001? auth=Zoho-oauthtoken 1000.access-token-1",
		"GET /crm/v7/users/actions/transfer_and_delete?job_id=3652397000012622009 auth=Zoho-oauthtoken 1000.access-token-1",
		"GET /crm/v7/settings/roles? auth=Zoho-oauthtoken 1000.access-token-1",
	}
	if diff := cmp.Diff(want, seen); diff != "" {
		t.Errorf("requests mismatch (-want +got):\n%s", diff)
	}
	for _, bad := range []string{"", "12a", "1;DROP", "../x"} {
		if _, err := c.User(ctx, bad); err == nil {
			t.Errorf("User(%q) = nil error, want a refusal before any request", bad)
		}
	}
}

func TestLimiterAndInFlightBound(t *testing.T) {
	s := newStub(t)
	var inFlight, peak atomic.Int32
	s.api = func(w http.ResponseWriter, r *http.Request, tok string) {
		n := inFlight.Add(1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		time.Sleep(5 * time.Millisecond)
		inFlight.Add(-1)
		answer(200, nil, `{"org":[{}]}`)(w, r, tok)
	}
	lim := rate.NewLimiter(rate.Inf, 1)
	c := s.client(t, func(cfg *Config) { cfg.MaxInFlight = 3; cfg.Limiter = lim })
	var wg sync.WaitGroup
	for range 24 {
		wg.Go(func() {
			if _, err := c.Org(t.Context()); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if got := peak.Load(); got > 3 || got < 1 {
		t.Errorf("peak calls in flight = %d, want between 1 and 3", got)
	}

	// A limiter with no tokens left makes the call wait, and a cancelled
	// context ends the wait without sending anything.
	c = s.client(t, func(cfg *Config) { cfg.Limiter = rate.NewLimiter(rate.Every(time.Hour), 1) })
	if _, err := c.Org(t.Context()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Millisecond)
	defer cancel()
	_, err := c.Org(ctx)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Org() with an empty limiter = %v, want the context's error", err)
	}
}

// TestSecretsNeverInErrorsOrLogs drives every failure path with a server
// that echoes the credentials it received back into its answers, and checks
// that no error string and no log line carries a secret.
func TestSecretsNeverInErrorsOrLogs(t *testing.T) {
	var logs bytes.Buffer
	logger := zerolog.New(&logs).Level(zerolog.DebugLevel)
	secretsList := []string{testClientSecret, testRefresh}
	var errs []error

	s := newStub(t)
	echo := func(w http.ResponseWriter, r *http.Request, tok string) {
		msg := fmt.Sprintf("invalid oauth token %s", tok)
		answer(401, nil, fmt.Sprintf(`{"code":"INVALID_TOKEN","details":{"token":%q},"message":%q,"status":"error"}`, tok, msg))(w, r, tok)
	}
	s.api = echo
	c := s.client(t, func(cfg *Config) { cfg.Logger = &logger })
	_, err := c.Org(t.Context())
	errs = append(errs, err)
	s.mu.Lock()
	secretsList = append(secretsList, s.issued...)
	s.mu.Unlock()

	s.api = func(w http.ResponseWriter, r *http.Request, tok string) {
		answer(400, nil, fmt.Sprintf(`{"transfer_and_delete":[{"code":"INVALID_DATA","details":{"echo":%q},"message":"bad %s","status":"error"}]}`, tok, tok))(w, r, tok)
	}
	_, err = c.TransferAndDelete(t.Context(), transferReq, nil)
	errs = append(errs, err)
	s.api = func(w http.ResponseWriter, r *http.Request, tok string) {
		answer(200, nil, fmt.Sprintf(`{"transfer_and_delete":[{"status":"failed","reason":"token %s expired"}]}`, tok))(w, r, tok)
	}
	st, err := c.JobStatus(t.Context(), "3652397000012622009")
	errs = append(errs, err, errors.New(st.Reason))
	s.api = hangUp
	_, err = c.TransferAndDelete(t.Context(), transferReq, nil)
	errs = append(errs, err)

	// The accounts server echoes what it was sent, in its code and its
	// description, for errors offboard prints whole.
	for _, body := range []string{
		`{"error":"invalid_code","error_description":"` + testRefresh + `"}`,
		`{"error":"invalid_client","error_description":"` + testClientSecret + `"}`,
		`{"error":"invalid_request","error_description":"refresh_token ` + testRefresh + ` is malformed"}`,
		`{"error":"general_error","error_description":"client_secret ` + testClientSecret + `"}`,
		`{"error":"` + testClientSecret + `"}`,
	} {
		s.tokenAnswer = func(int) (int, string) { return 200, body }
		_, err = s.client(t, func(cfg *Config) { cfg.Logger = &logger; cfg.TokenAttempts = 1 }).Org(t.Context())
		errs = append(errs, err)
	}
	s.tokenAnswer = nil
	// An API error whose code and detail keys echo the access token.
	s.api = func(w http.ResponseWriter, r *http.Request, tok string) {
		answer(400, nil, fmt.Sprintf(`{"code":%q,"details":{%q:"x"},"message":"no","status":"error"}`, tok, tok))(w, r, tok)
	}
	c = s.client(t, func(cfg *Config) { cfg.Logger = &logger })
	_, err = c.Org(t.Context())
	errs = append(errs, err)
	s.mu.Lock()
	secretsList = append(secretsList, s.issued...)
	s.mu.Unlock()
	_, err = ExchangeGrantCode(t.Context(), Config{ClientID: testClientID, ClientSecret: testClientSecret, AccountsURL: s.srv.URL}, "1000.grantcode.secret")
	errs = append(errs, err)
	secretsList = append(secretsList, "1000.grantcode.secret")
	// offboard auth prints the accounts server's refusal of a grant code
	// whole: it may echo the code and the client secret it was sent.
	s.tokenAnswer = func(int) (int, string) {
		return 400, `{"error":"invalid_request 1000.grantcode.secret","error_description":"bad request for client_secret=` + testClientSecret + ` code=1000.grantcode.secret"}`
	}
	_, err = ExchangeGrantCode(t.Context(), Config{ClientID: testClientID, ClientSecret: testClientSecret, AccountsURL: s.srv.URL}, " 1000.grantcode.secret ")
	if err == nil || !strings.Contains(err.Error(), "bad request for client_secret=") {
		t.Errorf("ExchangeGrantCode() refused = %v, want the accounts server's words, scrubbed", err)
	}
	errs = append(errs, err)
	s.tokenAnswer = nil

	for _, e := range errs {
		if e == nil {
			continue
		}
		for _, sec := range secretsList {
			if strings.Contains(e.Error(), sec) {
				t.Errorf("error %q contains a secret", e)
			}
			var api *APIError
			if errors.As(e, &api) && strings.Contains(fmt.Sprint(api.Details), sec) {
				t.Errorf("APIError details %v contain a secret", api.Details)
			}
		}
	}
	if len(errs) < 10 {
		t.Fatalf("only %d errors collected", len(errs))
	}
	for _, sec := range secretsList {
		if strings.Contains(logs.String(), sec) {
			t.Errorf("logs contain the secret %q:\n%s", sec, logs.String())
		}
	}
	if !strings.Contains(logs.String(), `"path":"/crm/v7/org"`) {
		t.Errorf("logs have no line for the API call; the check above would prove nothing:\n%s", logs.String())
	}
}

func TestIDDecoding(t *testing.T) {
	s := newStub(t)
	s.api = answer(200, nil, `{"users":[{"id":3652397000001464001,"zuid":null,"role":{"id":"3652397000000026008","name":"CEO"}}],"info":{"more_records":false}}`)
	users, _, err := s.client(t).UsersPage(t.Context(), AllUsers, 1, MaxPerPage)
	if err != nil {
		t.Fatal(err)
	}
	if users[0].ID != "3652397000001464001" {
		t.Errorf("numeric id decoded as %q, want every digit kept", users[0].ID)
	}
}

func TestUsersPage(t *testing.T) {
	s := newStub(t)
	var pages []string
	s.api = func(w http.ResponseWriter, r *http.Request, tok string) {
		q := r.URL.Query()
		pages = append(pages, q.Get("type")+" "+q.Get("page")+"/"+q.Get("per_page"))
		answer(200, nil, `{"users":[{"id":"3000"}],"info":{"per_page":200,"count":1,"page":3,"more_records":true}}`)(w, r, tok)
	}
	users, more, err := s.client(t).UsersPage(t.Context(), ActiveUsers, 3, MaxPerPage)
	if err != nil || len(users) != 1 || !more {
		t.Fatalf("UsersPage() = %d users, more %v, %v; want 1, more", len(users), more, err)
	}
	if diff := cmp.Diff([]string{"ActiveUsers 3/200"}, pages); diff != "" {
		t.Errorf("pages requested (-want +got):\n%s", diff)
	}
}

func TestErrorMessageIsReadable(t *testing.T) {
	e := &APIError{HTTPStatus: 400, Code: "INVALID_DATA", Message: "the user id provided is already deleted.",
		Details: map[string]any{"owner_status": "deleted", "resource_path_index": float64(1), "nested": map[string]any{"x": 1}},
		Method:  "POST", Path: "/crm/v7/users/actions/transfer_and_delete"}
	want := "zoho: POST /crm/v7/users/actions/transfer_and_delete: 400 INVALID_DATA: the user id provided is already deleted. (owner_status=deleted resource_path_index=1)"
	if got := e.Error(); got != want {
		t.Errorf("APIError.Error() = %q, want %q", got, want)
	}
	u := &OutcomeUnknownError{Method: "POST", Path: "/p", Err: &url.Error{Op: "Post", URL: "x", Err: io.EOF}}
	if !strings.Contains(u.Error(), "outcome unknown") {
		t.Errorf("OutcomeUnknownError.Error() = %q", u.Error())
	}
}

// TestSilentAccountsServer: the accounts server accepts connections and
// never answers. Each token request has a deadline and is tried a few
// times; then the server is unreachable, for good (a fatal error that
// names it), and a caller who must stop meanwhile stops waiting at once.
func TestSilentAccountsServer(t *testing.T) {
	release := make(chan struct{})
	s := newStub(t)
	s.tokenAnswer = func(int) (int, string) {
		<-release
		return 200, `{}`
	}
	t.Cleanup(func() { close(release) }) // before the server's Close, which waits for handlers
	s.api = answer(200, nil, `{"org":[{}]}`)
	c := s.client(t, func(cfg *Config) {
		cfg.TokenTimeout, cfg.TokenAttempts, cfg.TokenBackoff = 30*time.Millisecond, 3, time.Millisecond
	})

	// A caller whose context ends stops waiting, though the request goes on.
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { _, err := c.Org(ctx); done <- err }()
	waitUntil(t, func() bool { return s.tokenRequests.Load() >= 1 })
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) || Classify(err) != ClassCanceled {
		t.Errorf("Org() whose context ended while the token was asked for = %v, want context.Canceled", err)
	}

	_, err := c.Org(t.Context())
	var aerr *AuthError
	if !errors.As(err, &aerr) || !aerr.Unreachable || Classify(err) != ClassFatal {
		t.Fatalf("Org() with a silent accounts server = %v (class %v), want an unreachable, fatal *AuthError", err, Classify(err))
	}
	if !strings.Contains(err.Error(), s.srv.URL) || !strings.Contains(err.Error(), "3 tries") {
		t.Errorf("error %q does not name the accounts server and the tries", err)
	}
	before := s.tokenRequests.Load()
	if _, _, err := c.UsersPage(t.Context(), AllUsers, 1, MaxPerPage); !errors.Is(err, aerr) && Classify(err) != ClassFatal {
		t.Errorf("UsersPage() after the accounts server was found unreachable = %v, want the same fatal error", err)
	}
	if got := s.tokenRequests.Load() - before; got != 0 {
		t.Errorf("token requests after the server was found unreachable = %d, want 0", got)
	}
}

func waitUntil(t *testing.T, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatal("timed out")
		}
		time.Sleep(time.Millisecond)
	}
}

// TestWriteNotSent: a write that never left says so (ErrNotSent), whatever
// kept it: the caller's context ended while it waited for room among the
// calls in flight, beforeSend refused it, or the context ended while a
// connection was being opened. Zoho receives nothing, and beforeSend is
// never called for a request that is not about to be sent.
func TestWriteNotSent(t *testing.T) {
	s := newStub(t)
	var posts atomic.Int32
	hold := make(chan struct{})
	s.api = func(w http.ResponseWriter, r *http.Request, tok string) {
		if r.Method == http.MethodPost {
			posts.Add(1)
		}
		if r.URL.Path == "/crm/v7/org" {
			<-hold // holds the one call in flight
		}
		answer(200, nil, `{"org":[{}],"transfer_and_delete":[{"code":"SUCCESS","details":{"jobId":"3652397000012622009"},"message":"ok","status":"success"}]}`)(w, r, tok)
	}

	t.Run("waiting for room", func(t *testing.T) {
		c := s.client(t, func(cfg *Config) { cfg.MaxInFlight = 1 })
		go c.Org(t.Context())
		waitUntil(t, func() bool { return len(c.slots) == 1 })
		ctx, cancel := context.WithCancel(t.Context())
		called := false
		go func() { time.Sleep(20 * time.Millisecond); cancel() }()
		_, err := c.TransferAndDelete(ctx, transferReq, func(error) error { called = true; return nil })
		if !errors.Is(err, ErrNotSent) || Classify(err) != ClassCanceled || called {
			t.Errorf("TransferAndDelete() stopped while waiting for room = %v (class %v, beforeSend called %v), want not sent, canceled, beforeSend not called", err, Classify(err), called)
		}
		close(hold)
	})

	t.Run("refused by beforeSend", func(t *testing.T) {
		c := s.client(t)
		stop := errors.New("the run stopped")
		_, err := c.TransferAndDelete(t.Context(), transferReq, func(error) error { return stop })
		if !errors.Is(err, ErrNotSent) || !errors.Is(err, stop) {
			t.Errorf("TransferAndDelete() refused by beforeSend = %v, want not sent, wrapping the refusal", err)
		}
	})

	t.Run("stopped while connecting", func(t *testing.T) {
		dialing := make(chan struct{})
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
			close(dialing)
			<-ctx.Done() // a slow network: the connection is still being opened
			return nil, ctx.Err()
		}
		c := s.client(t, func(cfg *Config) { cfg.HTTPClient = &http.Client{Transport: tr} })
		// A token already held: the only wait left is the connection.
		c.tokens.tok = &oauth2.Token{AccessToken: "1000.preset", Expiry: time.Now().Add(time.Hour)}
		c.tokens.tok = c.tokens.tok.WithExtra(map[string]any{"api_domain": s.srv.URL})
		ctx, cancel := context.WithCancel(t.Context())
		go func() { <-dialing; cancel() }()
		_, err := c.TransferAndDelete(ctx, transferReq, func(error) error { return nil })
		if !errors.Is(err, ErrNotSent) || Classify(err) != ClassCanceled {
			t.Errorf("TransferAndDelete() stopped while connecting = %v (class %v), want not sent, canceled", err, Classify(err))
		}
	})
	if n := posts.Load(); n != 0 {
		t.Errorf("submissions that reached the server = %d, want 0", n)
	}
}

// TestWriteOnTheWireFinishes: once the request is on the wire, the end of
// the caller's context does not cut it off (its outcome would be
// unknown): it finishes with Zoho's answer.
func TestWriteOnTheWireFinishes(t *testing.T) {
	s := newStub(t)
	arrived, release := make(chan struct{}), make(chan struct{})
	s.api = func(w http.ResponseWriter, r *http.Request, tok string) {
		close(arrived)
		<-release
		answer(200, nil, `{"transfer_and_delete":[{"code":"SUCCESS","details":{"jobId":"3652397000012622009"},"message":"ok","status":"success"}]}`)(w, r, tok)
	}
	c := s.client(t)
	ctx, cancel := context.WithCancel(t.Context())
	go func() { <-arrived; cancel(); time.Sleep(20 * time.Millisecond); close(release) }()
	job, err := c.TransferAndDelete(ctx, transferReq, nil)
	if err != nil || job.ID != "3652397000012622009" {
		t.Errorf("TransferAndDelete() whose context ended on the wire = %+v, %v; want Zoho's job", job, err)
	}
}

// TestWriteResentAfterRefusedToken: a write refused with 401 INVALID_TOKEN
// (nothing was done) is sent once more with a fresh token, and beforeSend
// hears of both sends, the second with the refusal.
func TestWriteResentAfterRefusedToken(t *testing.T) {
	s := newStub(t)
	var posts atomic.Int32
	s.api = func(w http.ResponseWriter, r *http.Request, tok string) {
		if posts.Add(1) == 1 {
			answer(401, nil, `{"code":"INVALID_TOKEN","details":{},"message":"invalid oauth token","status":"error"}`)(w, r, tok)
			return
		}
		answer(200, nil, `{"transfer_and_delete":[{"code":"SUCCESS","details":{"jobId":"3652397000012622009"},"message":"ok","status":"success"}]}`)(w, r, tok)
	}
	var calls []error
	_, err := s.client(t).TransferAndDelete(t.Context(), transferReq, func(refused error) error {
		calls = append(calls, refused)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(calls) != 2 || calls[0] != nil || !errors.Is(calls[1], ErrUnauthorized) {
		t.Errorf("beforeSend calls = %v, want nil, then the 401", calls)
	}
}

func TestUserNotFound(t *testing.T) {
	s := newStub(t)
	s.api = answer(204, nil, ``)
	_, err := s.client(t).User(t.Context(), "3652397000001464001")
	if !errors.Is(err, ErrUserNotFound) || Classify(err) != ClassRejected {
		t.Errorf("User() answered 204 = %v (class %v), want ErrUserNotFound", err, Classify(err))
	}
}

// TestThrottleForeverIsFatal: token requests refused as too many, again and
// again for longer than Zoho's 10-minute window, end in a fatal error
// instead of a run that waits for ever.
func TestThrottleForeverIsFatal(t *testing.T) {
	s := newStub(t)
	s.tokenAnswer = func(int) (int, string) {
		return 400, `{"error_description":"Token creation throttle limit reached.","error":"Access Denied"}`
	}
	s.api = answer(200, nil, `{"org":[{}]}`)
	now := time.Date(2026, 11, 28, 2, 0, 0, 0, time.UTC)
	c := s.client(t, func(cfg *Config) { cfg.Now = func() time.Time { return now } })
	var err error
	for range 13 {
		_, err = c.Org(t.Context())
		if Classify(err) == ClassFatal {
			break
		}
		now = now.Add(throttleCooldown + time.Second)
	}
	if Classify(err) != ClassFatal || !strings.Contains(err.Error(), "over 10 minutes") {
		t.Errorf("Org() throttled for 13 minutes = %v (class %v), want a fatal error saying so", err, Classify(err))
	}
}
