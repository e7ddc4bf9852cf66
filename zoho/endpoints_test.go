package zoho

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

// elsewhere is a second server that a hostile or broken one redirects to:
// it counts what reached it.
type elsewhere struct {
	srv      *httptest.Server
	requests atomic.Int32
	secrets  atomic.Int32 // requests that carried a credential
}

func newElsewhere(t *testing.T) *elsewhere {
	t.Helper()
	e := &elsewhere{}
	e.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.requests.Add(1)
		body, _ := io.ReadAll(r.Body)
		if strings.Contains(string(body), testClientSecret) || strings.Contains(string(body), testRefresh) ||
			r.Header.Get("Authorization") != "" {
			e.secrets.Add(1)
		}
		io.WriteString(w, `{"access_token":"1000.stolen","api_domain":"`+e.srv.URL+`","expires_in":3600}`)
	}))
	t.Cleanup(e.srv.Close)
	return e
}

// TestTokenRequestRedirectNotFollowed: an accounts server that answers a
// token request with a 307 (which keeps the POST and its body: the client
// secret and the refresh token) to a plain-http host gets the request
// refused, for good, and the other host hears nothing.
func TestTokenRequestRedirectNotFollowed(t *testing.T) {
	other := newElsewhere(t)
	accounts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.srv.URL+r.URL.Path, http.StatusTemporaryRedirect)
	}))
	defer accounts.Close()

	c, err := New(Config{ClientID: testClientID, ClientSecret: testClientSecret, RefreshToken: testRefresh,
		AccountsURL: accounts.URL, TokenAttempts: 3})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Org(t.Context())
	var aerr *AuthError
	if !errors.As(err, &aerr) || !aerr.Fatal || !strings.Contains(err.Error(), "redirect to "+other.srv.URL) ||
		!strings.Contains(err.Error(), "refuses to follow") {
		t.Errorf("Org() = %v; want a fatal refusal naming the redirect", err)
	}
	if Classify(err) != ClassFatal {
		t.Errorf("Classify(%v) = %v, want fatal", err, Classify(err))
	}
	if c.TokenRequests() != 1 {
		t.Errorf("token requests = %d, want 1: a redirect is not worth asking again", c.TokenRequests())
	}

	_, err = ExchangeGrantCode(t.Context(), Config{ClientID: testClientID, ClientSecret: testClientSecret, AccountsURL: accounts.URL},
		"1000.grant-code-value")
	if err == nil || !strings.Contains(err.Error(), "redirect") {
		t.Errorf("ExchangeGrantCode() = %v; want a refused redirect", err)
	}
	if n := other.requests.Load(); n != 0 {
		t.Errorf("the server redirected to got %d requests (%d with a credential), want none", n, other.secrets.Load())
	}
}

// TestAPIRedirectNotFollowed: an API server that answers 302 to another
// host does not get the access token sent there.
func TestAPIRedirectNotFollowed(t *testing.T) {
	other := newElsewhere(t)
	s := newStub(t)
	s.api = func(w http.ResponseWriter, r *http.Request, _ string) {
		http.Redirect(w, r, other.srv.URL+r.URL.Path, http.StatusFound)
	}
	c := s.client(t)
	_, err := c.Org(t.Context())
	if err == nil || !strings.Contains(err.Error(), "redirect to "+other.srv.URL) {
		t.Errorf("Org() = %v; want a refused redirect", err)
	}
	if Classify(err) != ClassFatal {
		t.Errorf("Classify(%v) = %v, want fatal: asking again gets the same redirect", err, Classify(err))
	}
	// A caller's own HTTP client gets the same policy.
	c = s.client(t, func(cfg *Config) { cfg.HTTPClient = &http.Client{} })
	if _, err := c.Org(t.Context()); err == nil || !strings.Contains(err.Error(), "redirect") {
		t.Errorf("Org() with Config.HTTPClient = %v; want a refused redirect", err)
	}
	if n := other.requests.Load(); n != 0 {
		t.Errorf("the server redirected to got %d requests (%d with the access token), want none", n, other.secrets.Load())
	}
}

// TestTokenAPIDomainWithinDataCentre: the API domain a token answer names
// gets the access token only if it is one of the data centre's API
// domains; a loopback one only when the accounts server is on loopback
// too. Config.APIDomain, a person's own choice, is taken as it is.
func TestTokenAPIDomainWithinDataCentre(t *testing.T) {
	tests := []struct {
		dc, accounts, domain string
		ok                   bool
	}{
		{"", "https://accounts.zoho.com", "https://www.zohoapis.com", true},
		{"", "https://accounts.zoho.com", "https://crm.zohoapis.com", true},
		{"", "https://accounts.zoho.com", "https://www.zohoapis.com:443", true},
		{"", "https://accounts.zoho.eu", "https://www.zohoapis.eu", true},
		{"eu", "", "https://www.zohoapis.eu", true},
		{"au", "", "https://www.zohoapis.com.au", true},
		{"", "https://accounts.zoho.com", "https://www.zohoapis.eu", false},
		{"", "https://accounts.zoho.com", "https://www.zohoapis.com.au", false},
		{"au", "", "https://www.zohoapis.com", false},
		{"", "https://accounts.zoho.com", "https://www.zohoapis.com.evil.example", false},
		{"", "https://accounts.zoho.com", "https://evilzohoapis.com", false},
		{"", "https://accounts.zoho.com", "https://www.zohoapis.com:8443", false},
		{"", "https://accounts.zoho.com", "https://127.0.0.1:8443", false},
		{"", "https://accounts.zoho.com", "http://127.0.0.1:8080", false},
		{"", "https://accounts.zoho.com", "http://www.zohoapis.com", false},
		{"", "http://127.0.0.1:9", "http://127.0.0.1:8080", true},
		{"", "http://127.0.0.1:9", "https://www.zohoapis.com", true},
		{"", "http://127.0.0.1:9", "https://api.example", false},
	}
	for _, tt := range tests {
		c, err := New(Config{ClientID: "a", ClientSecret: "b", RefreshToken: "c", DC: tt.dc, AccountsURL: tt.accounts})
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.checkTokenAPIDomain(tt.domain)
		var derr *APIDomainError
		switch {
		case tt.ok && err != nil:
			t.Errorf("dc %q, accounts %s: api_domain %s refused: %v", tt.dc, tt.accounts, tt.domain, err)
		case !tt.ok && err == nil:
			t.Errorf("dc %q, accounts %s: api_domain %s accepted, want it refused", tt.dc, tt.accounts, tt.domain)
		case !tt.ok && errors.As(err, &derr) && !strings.Contains(err.Error(), "--api-domain"):
			t.Errorf("refusal %q does not say what to do", err)
		}
	}

	// Over the wire: a token answer naming another host is refused, and
	// the host gets nothing; named in the configuration, it is used.
	other := newElsewhere(t)
	s := newStub(t)
	s.tokenAnswer = func(int) (int, string) {
		return 200, `{"access_token":"1000.access-token-x","api_domain":"https://www.zohoapis.com.evil.example","expires_in":3600}`
	}
	_, err := s.client(t).Org(t.Context())
	if err == nil || !strings.Contains(err.Error(), "api_domain https://www.zohoapis.com.evil.example, which is not one of data centre us's API domains") {
		t.Errorf("Org() with an api_domain outside the data centre = %v; want it refused", err)
	}
	if Classify(err) != ClassFatal {
		t.Errorf("Classify(%v) = %v, want fatal", err, Classify(err))
	}
	s.tokenAnswer = func(int) (int, string) {
		return 200, `{"access_token":"1000.access-token-y","api_domain":"https://www.zohoapis.com.evil.example","expires_in":3600}`
	}
	s.api = answer(200, nil, `{"org":[{"company_name":"configured"}]}`)
	org, err := s.client(t, func(c *Config) { c.APIDomain = s.srv.URL }).Org(t.Context())
	if err != nil || org.CompanyName != "configured" {
		t.Errorf("Org() with Config.APIDomain = %+v, %v; want the configured domain used", org, err)
	}
	if other.requests.Load() != 0 {
		t.Errorf("another host got a request")
	}
}

// TestGrantAPIDomainWithinDataCentre: auth does not save an api_domain
// outside the data centre.
func TestGrantAPIDomainWithinDataCentre(t *testing.T) {
	s := newStub(t)
	s.tokenAnswer = func(int) (int, string) {
		return 200, `{"access_token":"1000.access-token-z","refresh_token":"1000.new-refresh","api_domain":"https://api.evil.example","expires_in":3600}`
	}
	_, err := ExchangeGrantCode(t.Context(), Config{ClientID: testClientID, ClientSecret: testClientSecret, AccountsURL: s.srv.URL}, "1000.grant-code")
	var derr *APIDomainError
	if !errors.As(err, &derr) {
		t.Errorf("ExchangeGrantCode() = %v; want the api_domain refused", err)
	}
}

// TestServerTextCleaned: what the server writes in a token error, an API
// error's code, message and details (keys too) is printed without the
// secrets it echoes, without control characters, and cut short.
func TestServerTextCleaned(t *testing.T) {
	const code = "1000.grant-code-echoed"
	hostile := func(secret string) string {
		return "bad " + secret + "\x1b[2J\r\nlevel=info msg=forged \u202e" + strings.Repeat("x", 2000)
	}
	check := func(what, got string, secrets ...string) {
		t.Helper()
		for _, s := range secrets {
			if strings.Contains(got, s) {
				t.Errorf("%s holds a secret: %q", what, got)
			}
		}
		if strings.ContainsAny(got, "\x1b\r\n\u202e") {
			t.Errorf("%s holds control characters: %q", what, got)
		}
		if !strings.Contains(got, "[redacted]") || !strings.Contains(got, `\x1b`) {
			t.Errorf("%s = %q; want the secret redacted and the escape shown", what, got)
		}
		if len(got) > 1500 {
			t.Errorf("%s is %d bytes long; want the server's text cut short", what, len(got))
		}
	}

	s := newStub(t)
	s.tokenAnswer = func(int) (int, string) {
		desc := hostile(testClientSecret) + " " + testRefresh
		return 400, fmt.Sprintf(`{"error":%s,"error_description":%s}`, js("unknown_error "+testClientSecret), js(desc))
	}
	_, err := s.client(t, func(c *Config) { c.TokenAttempts = 1 }).Org(t.Context())
	check("token error", fmt.Sprint(err), testClientSecret, testRefresh)

	s.tokenAnswer = func(int) (int, string) {
		return 400, fmt.Sprintf(`{"error":"invalid_request","error_description":%s}`, js(hostile(code)+testClientSecret))
	}
	_, err = ExchangeGrantCode(t.Context(), Config{ClientID: testClientID, ClientSecret: testClientSecret, AccountsURL: s.srv.URL}, code)
	check("grant error", fmt.Sprint(err), code, testClientSecret)

	s.tokenAnswer = nil
	var token string
	s.api = func(w http.ResponseWriter, r *http.Request, tok string) {
		token = tok
		body := fmt.Sprintf(`{"code":%s,"details":{%s:%s},"message":%s,"status":"error"}`,
			js("INVALID_DATA\x1b[0m"+tok), js(hostile(tok)), js(hostile(tok)), js(hostile(tok)))
		answer(400, nil, body)(w, r, tok)
	}
	_, err = s.client(t).Org(t.Context())
	check("API error", fmt.Sprint(err), token)
	var api *APIError
	if errors.As(err, &api) {
		for k := range api.Details {
			check("details key", k, token)
		}
	}
}

// js is s as a JSON string.
func js(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
