package sandbox

import (
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// refreshToken is a refresh token the accounts server knows. A nil scopes follows the
// server's scopes (SetScopes).
type refreshToken struct {
	scopes  []string
	revoked bool
	live    []string // access tokens issued from it, oldest first
}

type accessToken struct {
	refresh string
	expires time.Time
}

type grantCode struct {
	scopes  []string
	expires time.Time
	used    bool
}

// token answers POST /oauth/v2/token. Parameters are read from the query string and from a
// form body alike. Errors come with HTTP 200, as community clients observe, except the
// throttle, whose status Zoho does not document (400 here).
func (s *Server) token(r *http.Request, body []byte) reply {
	params := r.URL.Query()
	if form, err := url.ParseQuery(string(body)); err == nil {
		for k, v := range form {
			params[k] = v
		}
	}
	oauthError := func(code string) reply { return ok(map[string]any{"error": code}) }
	if r.Method != http.MethodPost {
		return reply{status: http.StatusMethodNotAllowed, body: map[string]any{"error": "invalid_request"}}
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if s.cfg.TokenRequestLimit > 0 {
		i := 0
		for i < len(s.tokenRequests) && !now.Before(s.tokenRequests[i].Add(tokenWindow)) {
			i++
		}
		s.tokenRequests = s.tokenRequests[i:]
		if len(s.tokenRequests) >= s.cfg.TokenRequestLimit {
			return reply{status: http.StatusBadRequest, body: map[string]any{
				"error":             "Access Denied",
				"error_description": "Token creation throttle limit reached. Please reuse the valid tokens you currently have.",
			}}
		}
		s.tokenRequests = append(s.tokenRequests, now)
	}

	if params.Get("client_id") != s.cfg.ClientID || params.Get("client_secret") != s.cfg.ClientSecret {
		return oauthError("invalid_client")
	}
	switch params.Get("grant_type") {
	case "refresh_token":
		name := params.Get("refresh_token")
		rt := s.refresh[name]
		if rt == nil || rt.revoked {
			return oauthError("invalid_code")
		}
		return ok(s.issue(now, name, rt))
	case "authorization_code":
		g := s.grants[params.Get("code")]
		if g == nil || g.used || !now.Before(g.expires) {
			return oauthError("invalid_code")
		}
		g.used = true
		name := "1000." + randomHex(16) + "." + randomHex(16)
		rt := &refreshToken{scopes: g.scopes}
		s.refresh[name] = rt
		resp := s.issue(now, name, rt)
		resp["refresh_token"] = name
		return ok(resp)
	default:
		return oauthError("unsupported_grant_type")
	}
}

// issue creates an access token for a refresh token, evicting the oldest live one when the
// refresh token already has the maximum.
func (s *Server) issue(now time.Time, refresh string, rt *refreshToken) map[string]any {
	live := rt.live[:0]
	for _, tok := range rt.live {
		if at := s.access[tok]; at != nil && now.Before(at.expires) {
			live = append(live, tok)
		} else {
			delete(s.access, tok)
		}
	}
	for len(live) >= maxLiveAccessToken {
		delete(s.access, live[0])
		live = live[1:]
	}
	tok := "1000." + randomHex(16) + "." + randomHex(16)
	rt.live = append(slices.Clip(live), tok)
	s.access[tok] = &accessToken{refresh: refresh, expires: now.Add(s.cfg.TokenLifetime)}
	return map[string]any{
		"access_token": tok,
		"scope":        strings.Join(s.scopesOf(refresh), " "),
		"api_domain":   s.url,
		"token_type":   "Bearer",
		"expires_in":   int(s.cfg.TokenLifetime / time.Second),
	}
}

// scopesOf returns the scopes granted to a refresh token.
func (s *Server) scopesOf(refresh string) []string {
	if rt := s.refresh[refresh]; rt != nil && rt.scopes != nil {
		return rt.scopes
	}
	return s.scopes
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return hex.EncodeToString(b)
}

// ExpireAccessTokens makes every access token issued so far invalid: the API answers them with
// 401 INVALID_TOKEN, as for an expired token.
func (s *Server) ExpireAccessTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.access)
	for _, rt := range s.refresh {
		rt.live = nil
	}
}

// RevokeRefreshToken revokes a refresh token and the access tokens issued from it: token
// requests with it get invalid_code, API calls with its access tokens INVALID_TOKEN.
func (s *Server) RevokeRefreshToken(tok string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rt := s.refresh[tok]
	if rt == nil {
		return
	}
	rt.revoked = true
	for _, a := range rt.live {
		delete(s.access, a)
	}
	rt.live = nil
}

// AddGrantCode adds a Self Client grant code for grant_type=authorization_code. It can be
// used once and expires three minutes (clock time) after it was added. The refresh token it
// yields carries the given scopes, or follows SetScopes when none are given.
func (s *Server) AddGrantCode(code string, scopes ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var sc []string
	if len(scopes) > 0 {
		sc = slices.Clone(scopes)
	}
	s.grants[code] = &grantCode{scopes: sc, expires: s.now().Add(grantCodeLifetime)}
}

// SetScopes sets the scopes of the configured refresh token and of every refresh token not
// issued with explicit scopes; it takes effect at once for their access tokens. A call to an
// endpoint none of whose scopes is granted gets 401 OAUTH_SCOPE_MISMATCH.
func (s *Server) SetScopes(scopes ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.scopes = slices.Clone(scopes)
}

// SetCaller sets whose user every access token belongs to (type=CurrentUser); by default the
// seed's scenario caller, else the super admin. Anyone but the super admin gets NO_PERMISSION
// on transfer_and_delete.
func (s *Server) SetCaller(userID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.caller = userID
}
