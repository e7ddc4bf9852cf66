package zoho

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
	"unicode"

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

// maxThrottled is how long token requests may keep being refused as too
// many before the refusal is fatal: Zoho counts 10 per 10 minutes.
const maxThrottled = 11 * time.Minute

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

// Defaults for the token request's deadline and retries.
const (
	// defaultTokenTimeout bounds one token request: an accounts server that
	// does not answer must not hold every caller for ever.
	defaultTokenTimeout = 20 * time.Second
	// defaultTokenAttempts is how many token requests that got no answer
	// (or a 5xx) are made before the accounts server is taken as
	// unreachable.
	defaultTokenAttempts = 4
	// defaultTokenBackoff is the first wait between two such requests,
	// doubled after each.
	defaultTokenBackoff = time.Second
)

// tokenSource holds the one access token that every caller of a Client
// shares. It asks the accounts server for a new token only when the current
// one is about to expire or the API refused it, and never more than once at
// a time: Zoho allows 10 token requests per 10 minutes per client.
//
// The request runs on its own goroutine, with its own deadline and
// retries, while callers wait for it on their own contexts: a caller that
// must stop (the run was interrupted) stops waiting at once, and no lock is
// held while the accounts server is asked.
type tokenSource struct {
	conf       *oauth2.Config
	refresh    string
	httpClient *http.Client
	now        func() time.Time
	secrets    *secrets
	accounts   string // the accounts server's base URL, for messages
	timeout    time.Duration
	attempts   int
	backoff    time.Duration

	mu        sync.Mutex
	tok       *oauth2.Token
	fatal     error     // the refresh token was refused, or the server never answered: sticky
	coolUntil time.Time // after a throttled request
	// throttledSince is when token requests began to be refused as too
	// many, zero while they are not.
	throttledSince time.Time
	lastErr        error
	requests       int
	fetching       *tokenFetch // the request under way, nil if none
}

// tokenFetch is one token request (with its retries) that callers wait
// for.
type tokenFetch struct {
	done chan struct{} // closed when tok or err is set
	tok  *oauth2.Token
	err  error
}

// token returns a valid access token, refreshing it first if needed. It
// waits for a refresh until ctx ends.
func (ts *tokenSource) token(ctx context.Context) (*oauth2.Token, error) {
	ts.mu.Lock()
	if ts.fatal != nil {
		ts.mu.Unlock()
		return nil, ts.fatal
	}
	now := ts.now()
	if ts.tok != nil && (ts.tok.Expiry.IsZero() || now.Add(expirySkew).Before(ts.tok.Expiry)) {
		tok := ts.tok
		ts.mu.Unlock()
		return tok, nil
	}
	if now.Before(ts.coolUntil) {
		err := ts.lastErr
		ts.mu.Unlock()
		return nil, err
	}
	f := ts.fetching
	if f == nil {
		f = &tokenFetch{done: make(chan struct{})}
		ts.fetching = f
		go ts.fetch(f)
	}
	ts.mu.Unlock()
	select {
	case <-f.done:
		return f.tok, f.err
	case <-ctx.Done():
		return nil, fmt.Errorf("zoho: waiting for an access token: %w", ctx.Err())
	}
}

// fetch asks the accounts server for a token, retrying requests that got
// no answer (or a 5xx) with backoff, and hands the result to every caller
// waiting on f.
func (ts *tokenSource) fetch(f *tokenFetch) {
	var (
		tok   *oauth2.Token
		aerr  *AuthError
		tries int
	)
	wait := ts.backoff
	began := time.Now()
	for {
		tries++
		ts.mu.Lock()
		ts.requests++
		ts.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.WithValue(context.Background(), oauth2.HTTPClient, ts.httpClient), ts.timeout)
		t, err := ts.conf.TokenSource(ctx, &oauth2.Token{RefreshToken: ts.refresh}).Token()
		timedOut := ctx.Err() != nil
		cancel()
		if err == nil {
			tok, aerr = t, nil
			break
		}
		aerr = tokenError(err, timedOut, ts.timeout, ts.secrets)
		if aerr.Fatal || aerr.Throttled || tries >= ts.attempts {
			break
		}
		d := wait/2 + rand.N(wait/2+1)
		time.Sleep(d)
		wait *= 2
	}
	if aerr != nil && !aerr.Fatal && !aerr.Throttled {
		// Asked ts.attempts times without a token: asking on cannot help.
		if aerr.Code != "" {
			aerr.Fatal = true
		} else {
			aerr = &AuthError{Unreachable: true, URL: ts.accounts, Tries: tries, Took: time.Since(began).Round(time.Second), Err: aerr}
		}
	}

	ts.mu.Lock()
	defer ts.mu.Unlock()
	ts.fetching = nil
	now := ts.now()
	switch {
	case aerr == nil:
		ts.secrets.add(tok.AccessToken)
		ts.tok = tok
		ts.throttledSince = time.Time{}
		f.tok = tok
	case aerr.Fatal || aerr.Unreachable:
		ts.fatal = aerr
		f.err = aerr
	case aerr.Throttled:
		if ts.throttledSince.IsZero() {
			ts.throttledSince = now
		}
		if now.Sub(ts.throttledSince) > maxThrottled {
			// Zoho's window is 10 minutes: still refused after it, another
			// client of the same credentials keeps asking.
			aerr.Fatal = true
			ts.fatal = aerr
		} else {
			ts.coolUntil = now.Add(throttleCooldown)
			ts.lastErr = aerr
		}
		f.err = aerr
	}
	close(f.done)
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
// request body). timedOut says the request's deadline of timeout passed.
//
// The accounts server's own words may echo what it was sent (the client
// secret, the refresh token, a grant code): they are scrubbed of every
// secret s knows.
func tokenError(err error, timedOut bool, timeout time.Duration, s *secrets) *AuthError {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		code, desc := s.clean(re.ErrorCode), s.clean(re.ErrorDescription)
		switch {
		case isThrottle(code, desc):
			return &AuthError{Code: code, Description: desc, Throttled: true}
		case fatalTokenErrors[strings.ToLower(re.ErrorCode)]:
			return &AuthError{Code: code, Description: desc, Fatal: true}
		case code != "":
			return &AuthError{Code: code, Description: desc}
		}
		status := 0
		if re.Response != nil {
			status = re.Response.StatusCode
		}
		return &AuthError{Err: fmt.Errorf("accounts server answered HTTP %d", status), noAnswer: status >= 500}
	}
	var redirect *RedirectError
	if errors.As(err, &redirect) {
		return &AuthError{Err: redirect, Fatal: true}
	}
	if timedOut {
		return &AuthError{Err: fmt.Errorf("no answer within %s", timeout), noAnswer: true}
	}
	if strings.Contains(err.Error(), "missing access_token") {
		return &AuthError{Err: errors.New("the accounts server answered without an access token")}
	}
	var uerr *url.Error
	if errors.As(err, &uerr) {
		return &AuthError{Err: uerr.Err, noAnswer: true}
	}
	return &AuthError{Err: err, noAnswer: true}
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

// maxServerText bounds how much of one string the server wrote goes into
// an error.
const maxServerText = 300

// clean makes text the server wrote fit to print: every secret s knows
// replaced by [redacted], control and formatting characters (a terminal's
// escape sequences, a line break that forges a log line, a direction
// override) escaped, and at most maxServerText bytes kept.
func (s *secrets) clean(text string) string {
	text = strings.ToValidUTF8(s.redact(text), "\uFFFD")
	var b strings.Builder
	for _, r := range text {
		if b.Len() >= maxServerText {
			b.WriteString("...")
			break
		}
		switch {
		case r < 0x80 && (r < 0x20 || r == 0x7f):
			fmt.Fprintf(&b, "\\x%02x", r)
		case unicode.IsControl(r) || unicode.Is(unicode.Cf, r):
			fmt.Fprintf(&b, "\\u%04x", r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
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
	c.secrets.add(strings.TrimSpace(code))
	ctx, cancel := context.WithTimeout(ctx, c.tokens.timeout)
	defer cancel()
	tok, err := c.tokens.conf.Exchange(context.WithValue(ctx, oauth2.HTTPClient, c.http), strings.TrimSpace(code))
	if err != nil {
		aerr := tokenError(err, ctx.Err() == context.DeadlineExceeded, c.tokens.timeout, c.secrets)
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
		if _, err := c.checkTokenAPIDomain(g.APIDomain); err != nil {
			return Grant{}, err
		}
	}
	return g, nil
}
