package sandbox

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// manualClock is a clock the test moves by hand.
type manualClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *manualClock {
	return &manualClock{t: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)}
}

func (c *manualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *manualClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// demoID is the ID of demo user n (411 to 440).
func demoID(n int) string { return fmt.Sprintf("5210498000000%d001", n) }

// start starts a server on a manual clock unless cfg has a clock, and closes it after the test.
func start(t *testing.T, cfg Config) (*Server, *manualClock) {
	t.Helper()
	clk := newClock()
	if cfg.Clock == nil {
		cfg.Clock = clk.Now
	}
	s, err := Start(cfg)
	if err != nil {
		t.Fatalf("Start() = %v, want no error", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close() = %v, want no error", err)
		}
	})
	return s, clk
}

// answer is an HTTP answer with its body decoded as JSON (nil if empty).
type answer struct {
	status int
	header http.Header
	body   any
	raw    []byte
}

// send makes one HTTP request; token "" sends no Authorization header.
func send(t *testing.T, client *http.Client, method, u, token, body string) (answer, error) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, u, rd)
	if err != nil {
		t.Fatalf("NewRequest(%s %s) = %v", method, u, err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Zoho-oauthtoken "+token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return answer{}, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return answer{}, err
	}
	a := answer{status: resp.StatusCode, header: resp.Header, raw: raw}
	if len(raw) > 0 {
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		if err := dec.Decode(&a.body); err != nil {
			t.Fatalf("%s %s: body %q is not JSON: %v", method, u, raw, err)
		}
		if ct := resp.Header.Get("Content-Type"); ct != "application/json;charset=UTF-8" {
			t.Errorf("%s %s: Content-Type = %q, want application/json;charset=UTF-8", method, u, ct)
		}
	}
	return a, nil
}

// api calls the API and fails the test on a transport error.
func api(t *testing.T, s *Server, method, path, token, body string) answer {
	t.Helper()
	a, err := send(t, nil, method, s.URL()+path, token, body)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	return a
}

// tokenCall posts to the token endpoint with params in the query string.
func tokenCall(t *testing.T, s *Server, params url.Values) answer {
	t.Helper()
	a, err := send(t, nil, http.MethodPost, s.URL()+"/oauth/v2/token?"+params.Encode(), "", "")
	if err != nil {
		t.Fatalf("POST /oauth/v2/token: %v", err)
	}
	return a
}

func refreshParams(s *Server) url.Values {
	id, secret, refresh := s.Credentials()
	return url.Values{"grant_type": {"refresh_token"}, "client_id": {id}, "client_secret": {secret}, "refresh_token": {refresh}}
}

// getToken gets a fresh access token with the configured refresh token.
func getToken(t *testing.T, s *Server) string {
	t.Helper()
	a := tokenCall(t, s, refreshParams(s))
	tok, ok := field(a.body, "access_token").(string)
	if !ok {
		t.Fatalf("token request = %s, want an access_token", a.raw)
	}
	return tok
}

// field walks a decoded JSON value by keys and array indexes.
func field(v any, path ...any) any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, ok := v.(map[string]any)
			if !ok {
				return nil
			}
			v = m[k]
		case int:
			l, ok := v.([]any)
			if !ok || k >= len(l) {
				return nil
			}
			v = l[k]
		}
	}
	return v
}

// decode parses JSON the way the answers are decoded, for comparing with cmp.
func decode(t *testing.T, s string) any {
	t.Helper()
	var v any
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("decode(%q) = %v", s, err)
	}
	return v
}

// transferBody builds a body-form request for one user.
func transferBody(id, to, subTo string) string {
	el := map[string]any{}
	if id != "" {
		el["id"] = id
	}
	if to != "" {
		el["transfer"] = map[string]any{"id": to, "records": true, "assignment": true, "criteria": true}
	}
	if subTo != "" {
		el["move_subordinate"] = map[string]any{"id": subTo}
	}
	b, _ := json.Marshal(map[string]any{"transfer_and_delete": []any{el}})
	return string(b)
}

const (
	transferPath = "/crm/v7/users/actions/transfer_and_delete"
)

// submit submits a body-form transfer and returns the job ID, failing the test on an error.
func submit(t *testing.T, s *Server, token, id, to, subTo string) string {
	t.Helper()
	a := api(t, s, http.MethodPost, transferPath, token, transferBody(id, to, subTo))
	job, ok := field(a.body, "transfer_and_delete", 0, "details", "jobId").(string)
	if a.status != http.StatusOK || !ok {
		t.Fatalf("submit(%s, %s, %s) = %d %s, want 200 with a jobId", id, to, subTo, a.status, a.raw)
	}
	return job
}

// jobStatus returns the status call's answer for a job.
func jobStatus(t *testing.T, s *Server, token, jobID string) answer {
	t.Helper()
	return api(t, s, http.MethodGet, transferPath+"?job_id="+jobID, token, "")
}
