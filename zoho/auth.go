package zoho

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"
)

// expirySkew is how long before its stated expiry an access token is
// replaced, so that a token never expires between being read and being
// used. Zoho's own SDK refreshes when fewer than 5 s remain.
const expirySkew = 30 * time.Second

// throttleCooldown is how long the client waits before asking the
// accounts server again after it said "too many token requests"; asking
// sooner only extends the lock-out.
const throttleCooldown = time.Minute

// fatalTokenErrors are accounts-server error codes that mean the
// credentials themselves are wrong: retrying cannot help.
var fatalTokenErrors = map[string]bool{
	"invalid_code":          true,
	"invalid_client":        true,
	"invalid_client_secret": true,
	"invalid_token":         true,
	"unauthorized_client":   true,
	"invalid_grant":         true,
	"access_denied":         false, // see isThrottle
}

// tokenSource holds the one access token that every caller of a Client
// shares. It asks the accounts server for a new token only when the current
// one is about to expire or the API refused it, and never more than once at
// a time: Zoho allows 10 token requests per 10 minutes per client.
type tokenSource struct {
	conf       *oauth2.Config
	refresh    string
	httpClient *http.Client
	now        func() time.Time
	secrets    *secrets

	mu        sync.Mutex
	tok       *oauth2.Token
	fatal     error     // the refresh token was refused: sticky
	coolUntil time.Time // after a throttled request
	lastErr   error
	requests  int
}

// token returns a valid access token, refreshing it first if needed.
func (ts *tokenSource) token(ctx context.Context) (*oauth2.Token, error) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if ts.fatal != nil {
		return nil, ts.fatal
	}
	now := ts.now()
	if ts.tok != nil && (ts.tok.Expiry.IsZero() || now.Add(expirySkew).Before(ts.tok.Expiry)) {
		return ts.tok, nil
	}
	if now.Before(ts.coolUntil) {
		return nil, ts.lastErr
	}
	ts.requests++
	tok, err := ts.conf.TokenSource(context.WithValue(ctx, oauth2.HTTPClient, ts.httpClient),
		&oauth2.Token{RefreshToken: ts.refresh}).Token()
	if err != nil {
		aerr := tokenError(ctx, err)
		if aerr.Fatal {
			ts.fatal = aerr
		} else if aerr.Throttled {
			ts.coolUntil = now.Add(throttleCooldown)
			ts.lastErr = aerr
		}
		return nil, aerr
	}
	ts.secrets.add(tok.AccessToken)
	ts.tok = tok
	return tok, nil
}

// invalidate forgets tok after the API refused it, so that the next call
// refreshes. A token that was already replaced by another caller is left
// alone: many workers hitting 401 with the same stale token cause one
// refresh, not one each.
func (ts *tokenSource) invalidate(tok *oauth2.Token) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if ts.tok != nil && ts.tok.AccessToken == tok.AccessToken {
		ts.tok = nil
	}
}

// refreshes reports how many token requests were made.
func (ts *tokenSource) refreshes() int {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return ts.requests
}

// tokenError turns an oauth2 error into an *AuthError whose message holds
// no secret: only the accounts server's error code and description, or the
// transport error (whose URL carries no credentials, as they travel in the
// request body).
func tokenError(ctx context.Context, err error) *AuthError {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		code := re.ErrorCode
		switch {
		case isThrottle(code, re.ErrorDescription):
			return &AuthError{Code: code, Description: re.ErrorDescription, Throttled: true}
		case fatalTokenErrors[strings.ToLower(code)]:
			return &AuthError{Code: code, Description: re.ErrorDescription, Fatal: true}
		case code != "":
			return &AuthError{Code: code, Description: re.ErrorDescription}
		}
		status := 0
		if re.Response != nil {
			status = re.Response.StatusCode
		}
		return &AuthError{Err: fmt.Errorf("accounts server answered HTTP %d", status)}
	}
	if ctx.Err() != nil {
		return &AuthError{Err: ctx.Err()}
	}
	if strings.Contains(err.Error(), "missing access_token") {
		return &AuthError{Err: errors.New("the accounts server answered without an access token")}
	}
	return &AuthError{Err: err}
}

// isThrottle recognises Zoho's token throttle answer:
// {"error":"Access Denied","error_description":"Token creation throttle limit reached. ..."}
func isThrottle(code, desc string) bool {
	return strings.EqualFold(code, "Access Denied") || strings.Contains(strings.ToLower(desc), "throttle")
}

// secrets is the set of secret strings a Client knows (client secret,
// refresh token, access tokens), used to scrub any text that came from the
// server before it becomes part of an error.
type secrets struct {
	mu   sync.Mutex
	list []string
}

func (s *secrets) add(v string) {
	if len(v) < 6 { // too short to be a credential, and redacting it would mangle text
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, have := range s.list {
		if have == v {
			return
		}
	}
	s.list = append(s.list, v)
}

func (s *secrets) redact(text string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, v := range s.list {
		if strings.Contains(text, v) {
			text = strings.ReplaceAll(text, v, "[redacted]")
		}
	}
	return text
}

// Grant is what the accounts server returns for a Self Client grant code.
type Grant struct {
	// RefreshToken is the long-lived token to keep (a secret).
	RefreshToken string
	// APIDomain is the API base URL for the org the code was made for.
	APIDomain string
	// Scope is the space-separated list of scopes granted, when Zoho says.
	Scope string
}

// ExchangeGrantCode trades a Self Client grant code (from the Zoho API
// console) for a refresh token. cfg needs ClientID, ClientSecret and the
// data centre or accounts URL; its RefreshToken is ignored.
func ExchangeGrantCode(ctx context.Context, cfg Config, code string) (Grant, error) {
	if strings.TrimSpace(code) == "" {
		return Grant{}, errors.New("zoho: empty grant code")
	}
	cfg.RefreshToken = "unused"
	c, err := New(cfg)
	if err != nil {
		return Grant{}, err
	}
	c.secrets.add(code)
	tok, err := c.tokens.conf.Exchange(context.WithValue(ctx, oauth2.HTTPClient, c.http), strings.TrimSpace(code))
	if err != nil {
		aerr := tokenError(ctx, err)
		aerr.grant = true
		return Grant{}, aerr
	}
	if tok.RefreshToken == "" {
		return Grant{}, errors.New("zoho: the accounts server returned no refresh token for that grant code")
	}
	g := Grant{RefreshToken: tok.RefreshToken}
	g.APIDomain, _ = tok.Extra("api_domain").(string)
	g.Scope, _ = tok.Extra("scope").(string)
	if g.APIDomain != "" {
		if _, err := checkBaseURL("api_domain from the accounts server", g.APIDomain); err != nil {
			return Grant{}, fmt.Errorf("zoho: %w", err)
		}
	}
	return g, nil
}
