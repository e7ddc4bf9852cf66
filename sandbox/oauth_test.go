package sandbox

import (
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestTokenRefreshGrant(t *testing.T) {
	s, _ := start(t, Config{})
	a := tokenCall(t, s, refreshParams(s))
	if a.status != http.StatusOK {
		t.Fatalf("refresh grant status = %d, want 200", a.status)
	}
	tok, _ := field(a.body, "access_token").(string)
	if !regexp.MustCompile(`^1000\.[0-9a-f]{32}\.[0-9a-f]{32}$`).MatchString(tok) {
		t.Errorf("access_token = %q, want 1000.<hex>.<hex>", tok)
	}
	got := a.body.(map[string]any)
	delete(got, "access_token")
	want := decode(t, `{"api_domain":"`+s.URL()+`","token_type":"Bearer","expires_in":3600,
		"scope":"ZohoCRM.users.ALL ZohoCRM.org.READ ZohoCRM.settings.roles.READ"}`)
	if diff := cmp.Diff(want, any(got)); diff != "" {
		t.Errorf("refresh grant body mismatch (-want +got):\n%s", diff)
	}
	if _, ok := got["refresh_token"]; ok {
		t.Error("refresh grant returned a refresh_token, want none")
	}
	if a := api(t, s, http.MethodGet, "/crm/v7/org", tok, ""); a.status != http.StatusOK {
		t.Errorf("GET /org with the new token = %d %s, want 200", a.status, a.raw)
	}
}

func TestTokenFormBody(t *testing.T) {
	s, _ := start(t, Config{})
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, s.URL()+"/oauth/v2/token", strings.NewReader(refreshParams(s).Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("form-body refresh = %d, want 200", resp.StatusCode)
	}
	if got := s.Requests(); len(got) != 1 || !got[0].Token || got[0].InFlight != 0 {
		t.Errorf("Requests() = %+v, want one token request", got)
	}
}

func TestTokenErrors(t *testing.T) {
	s, clk := start(t, Config{TokenRequestLimit: -1})
	s.AddGrantCode("1000.used-code")
	used := refreshParams(s)
	used.Set("grant_type", "authorization_code")
	used.Del("refresh_token")
	used.Set("code", "1000.used-code")
	if a := tokenCall(t, s, used); field(a.body, "refresh_token") == nil {
		t.Fatalf("first use of a grant code = %s, want a refresh_token", a.raw)
	}
	s.AddGrantCode("1000.old-code")
	clk.Advance(2 * time.Minute)
	s.AddGrantCode("1000.fresh-code")
	clk.Advance(90 * time.Second) // old code is now 3.5 min old, fresh one 1.5 min
	s.RevokeRefreshToken("1000.revoked")
	tests := []struct {
		name string
		edit func(v url.Values)
		want string
	}{
		{"bad client id", func(v url.Values) { v.Set("client_id", "1000.OTHER") }, "invalid_client"},
		{"bad client secret", func(v url.Values) { v.Set("client_secret", "nope") }, "invalid_client"},
		{"unknown refresh token", func(v url.Values) { v.Set("refresh_token", "1000.nope") }, "invalid_code"},
		{"no grant type", func(v url.Values) { v.Del("grant_type") }, "unsupported_grant_type"},
		{"client credentials", func(v url.Values) { v.Set("grant_type", "client_credentials") }, "unsupported_grant_type"},
		{"used code", func(v url.Values) { v.Set("grant_type", "authorization_code"); v.Set("code", "1000.used-code") }, "invalid_code"},
		{"expired code", func(v url.Values) { v.Set("grant_type", "authorization_code"); v.Set("code", "1000.old-code") }, "invalid_code"},
		{"unknown code", func(v url.Values) { v.Set("grant_type", "authorization_code"); v.Set("code", "1000.nope") }, "invalid_code"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := refreshParams(s)
			tt.edit(v)
			a := tokenCall(t, s, v)
			if diff := cmp.Diff(decode(t, `{"error":"`+tt.want+`"}`), a.body); a.status != http.StatusOK || diff != "" {
				t.Errorf("token(%s) = %d, diff (-want +got):\n%s", tt.name, a.status, diff)
			}
		})
	}
	fresh := refreshParams(s)
	fresh.Set("grant_type", "authorization_code")
	fresh.Set("code", "1000.fresh-code")
	if a := tokenCall(t, s, fresh); field(a.body, "access_token") == nil {
		t.Errorf("token(code 1.5 min old) = %s, want an access_token", a.raw)
	}
}

func TestAuthorizationCodeGrant(t *testing.T) {
	s, _ := start(t, Config{})
	s.AddGrantCode("1000.abc.def", "ZohoCRM.users.READ")
	v := refreshParams(s)
	v.Set("grant_type", "authorization_code")
	v.Set("code", "1000.abc.def")
	v.Del("refresh_token")
	a := tokenCall(t, s, v)
	refresh, _ := field(a.body, "refresh_token").(string)
	access, _ := field(a.body, "access_token").(string)
	if refresh == "" || access == "" || field(a.body, "scope") != "ZohoCRM.users.READ" {
		t.Fatalf("code grant = %s, want refresh_token, access_token and scope ZohoCRM.users.READ", a.raw)
	}
	if a := api(t, s, http.MethodGet, "/crm/v7/users?type=CurrentUser", access, ""); a.status != http.StatusOK {
		t.Errorf("GET /users with the code's token = %d %s, want 200", a.status, a.raw)
	}
	if a := api(t, s, http.MethodGet, "/crm/v7/org", access, ""); field(a.body, "code") != "OAUTH_SCOPE_MISMATCH" || a.status != 401 {
		t.Errorf("GET /org without org scope = %d %s, want 401 OAUTH_SCOPE_MISMATCH", a.status, a.raw)
	}
	v = refreshParams(s)
	v.Set("refresh_token", refresh)
	if a := tokenCall(t, s, v); field(a.body, "access_token") == nil {
		t.Errorf("refresh with the code's refresh token = %s, want an access_token", a.raw)
	}
}

func TestTokenThrottle(t *testing.T) {
	s, clk := start(t, Config{TokenRequestLimit: 3})
	for i := range 3 {
		if a := tokenCall(t, s, refreshParams(s)); field(a.body, "access_token") == nil {
			t.Fatalf("token request %d = %s, want an access_token", i+1, a.raw)
		}
		clk.Advance(time.Minute)
	}
	a := tokenCall(t, s, refreshParams(s))
	want := decode(t, `{"error":"Access Denied","error_description":"Token creation throttle limit reached. Please reuse the valid tokens you currently have."}`)
	if diff := cmp.Diff(want, a.body); a.status != http.StatusBadRequest || diff != "" {
		t.Errorf("4th token request = %d, want 400; diff (-want +got):\n%s", a.status, diff)
	}
	clk.Advance(7 * time.Minute) // the first request is now 10 minutes old
	if a := tokenCall(t, s, refreshParams(s)); field(a.body, "access_token") == nil {
		t.Errorf("token request after the window = %s, want an access_token", a.raw)
	}
}

func TestAccessTokenLifecycle(t *testing.T) {
	invalid := `{"code":"INVALID_TOKEN","details":{},"message":"invalid oauth token","status":"error"}`
	check := func(t *testing.T, s *Server, tok, name string, want int) {
		t.Helper()
		a := api(t, s, http.MethodGet, "/crm/v7/org", tok, "")
		if a.status != want {
			t.Errorf("%s: GET /org = %d %s, want %d", name, a.status, a.raw, want)
		}
		if want == 401 {
			if diff := cmp.Diff(decode(t, invalid), a.body); diff != "" {
				t.Errorf("%s: body mismatch (-want +got):\n%s", name, diff)
			}
		}
	}

	t.Run("expiry", func(t *testing.T) {
		s, clk := start(t, Config{TokenLifetime: 10 * time.Minute})
		a := tokenCall(t, s, refreshParams(s))
		if field(a.body, "expires_in") != decode(t, "600") {
			t.Errorf("expires_in = %v, want 600", field(a.body, "expires_in"))
		}
		tok := field(a.body, "access_token").(string)
		clk.Advance(10*time.Minute - time.Second)
		check(t, s, tok, "just before expiry", 200)
		clk.Advance(time.Second)
		check(t, s, tok, "at expiry", 401)
	})
	t.Run("eviction of the oldest of 16", func(t *testing.T) {
		s, _ := start(t, Config{TokenRequestLimit: -1})
		var toks []string
		for range 16 {
			toks = append(toks, getToken(t, s))
		}
		check(t, s, toks[0], "oldest", 401)
		check(t, s, toks[1], "second", 200)
		check(t, s, toks[15], "newest", 200)
	})
	t.Run("ExpireAccessTokens", func(t *testing.T) {
		s, _ := start(t, Config{})
		tok := getToken(t, s)
		s.ExpireAccessTokens()
		check(t, s, tok, "after ExpireAccessTokens", 401)
		check(t, s, getToken(t, s), "new token", 200)
	})
	t.Run("RevokeRefreshToken", func(t *testing.T) {
		s, _ := start(t, Config{})
		tok := getToken(t, s)
		_, _, refresh := s.Credentials()
		s.RevokeRefreshToken(refresh)
		check(t, s, tok, "token of a revoked refresh token", 401)
		if a := tokenCall(t, s, refreshParams(s)); field(a.body, "error") != "invalid_code" {
			t.Errorf("refresh with a revoked token = %s, want invalid_code", a.raw)
		}
	})
}

func TestAPIAuthentication(t *testing.T) {
	s, _ := start(t, Config{})
	tok := getToken(t, s)
	authFailure := `{"code":"AUTHENTICATION_FAILURE","details":{},"message":"Authentication failed","status":"error"}`
	tests := []struct {
		name   string
		header string
		status int
		want   string
	}{
		{"no header", "", 401, authFailure},
		{"bearer scheme", "Bearer " + tok, 401, authFailure},
		{"empty token", "Zoho-oauthtoken ", 401, authFailure},
		{"unknown token", "Zoho-oauthtoken 1000.nope", 401, `{"code":"INVALID_TOKEN","details":{},"message":"invalid oauth token","status":"error"}`},
		{"good token", "Zoho-oauthtoken " + tok, 200, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, s.URL()+"/crm/v7/users?type=CurrentUser", nil)
			if tt.header != "" {
				req.Header.Set("Authorization", tt.header)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			raw, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.status {
				t.Errorf("GET /users with %s = %d, want %d", tt.name, resp.StatusCode, tt.status)
			}
			if tt.want != "" {
				if diff := cmp.Diff(decode(t, tt.want), decode(t, string(raw))); diff != "" {
					t.Errorf("GET /users with %s, body mismatch (-want +got):\n%s", tt.name, diff)
				}
			}
		})
	}
	// Bodies checked once more through the helper, which decodes them.
	a := api(t, s, http.MethodGet, "/crm/v7/users", "", "")
	if diff := cmp.Diff(decode(t, authFailure), a.body); diff != "" {
		t.Errorf("GET /users without a token, body mismatch (-want +got):\n%s", diff)
	}
}

func TestScopes(t *testing.T) {
	tests := []struct {
		scopes []string
		method string
		path   string
		want   int
	}{
		{[]string{"ZohoCRM.users.READ"}, http.MethodGet, "/crm/v7/users", 200},
		{[]string{"zohocrm.users.all"}, http.MethodGet, "/crm/v7/users", 200},
		{[]string{"ZohoCRM.org.READ"}, http.MethodGet, "/crm/v7/users", 401},
		{[]string{"ZohoCRM.users.READ"}, http.MethodPost, transferPath, 401},
		{[]string{"ZohoCRM.users.DELETE"}, http.MethodPost, transferPath, 400},
		{[]string{"ZohoCRM.users.READ"}, http.MethodGet, transferPath + "?job_id=1", 400},
		{[]string{"ZohoCRM.users.ALL"}, http.MethodGet, "/crm/v7/org", 401},
		{[]string{"ZohoCRM.org.ALL"}, http.MethodGet, "/crm/v7/org", 200},
		{[]string{"ZohoCRM.users.ALL"}, http.MethodGet, "/crm/v7/settings/roles", 401},
		{[]string{"ZohoCRM.settings.ALL"}, http.MethodGet, "/crm/v7/settings/roles", 200},
		{nil, http.MethodGet, "/crm/v7/users", 401},
	}
	s, _ := start(t, Config{})
	tok := getToken(t, s)
	for _, tt := range tests {
		s.SetScopes(tt.scopes...)
		a := api(t, s, tt.method, tt.path, tok, `{}`)
		if a.status != tt.want {
			t.Errorf("%s %s with scopes %v = %d %s, want %d", tt.method, tt.path, tt.scopes, a.status, a.raw, tt.want)
		}
		if tt.want == 401 {
			want := decode(t, `{"code":"OAUTH_SCOPE_MISMATCH","details":{},"message":"invalid oauth scope to access this URL","status":"error"}`)
			if diff := cmp.Diff(want, a.body); diff != "" {
				t.Errorf("%s %s with scopes %v, body mismatch (-want +got):\n%s", tt.method, tt.path, tt.scopes, diff)
			}
		}
	}
}

func TestRoutingErrors(t *testing.T) {
	s, _ := start(t, Config{})
	tok := getToken(t, s)
	urlPattern := `{"code":"INVALID_URL_PATTERN","details":{},"message":"Please check if the URL trying to access is a correct one","status":"error"}`
	badMethod := `{"code":"INVALID_REQUEST_METHOD","details":{},"message":"The http request method type is not a valid one","status":"error"}`
	tests := []struct {
		method, path string
		status       int
		want         string
	}{
		{http.MethodGet, "/crm/v7/nope", 404, urlPattern},
		{http.MethodGet, "/crm/v2/users", 404, urlPattern},
		{http.MethodGet, "/crm/v7/users/", 404, urlPattern},
		{http.MethodGet, "/crm/v7/users/" + demoID(417) + "/actions/transfer", 404, urlPattern},
		{http.MethodDelete, "/crm/v7/users/" + demoID(417), 400, badMethod},
		{http.MethodPost, "/crm/v7/users", 400, badMethod},
		{http.MethodGet, "/crm/v7/users/" + demoID(417) + "/actions/transfer_and_delete", 400, badMethod},
		{http.MethodPut, "/crm/v7/org", 400, badMethod},
	}
	for _, tt := range tests {
		a := api(t, s, tt.method, tt.path, tok, "")
		if diff := cmp.Diff(decode(t, tt.want), a.body); a.status != tt.status || diff != "" {
			t.Errorf("%s %s = %d, want %d; body diff (-want +got):\n%s", tt.method, tt.path, a.status, tt.status, diff)
		}
	}
}
