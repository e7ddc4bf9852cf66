// Package zoho is offboard's client for the Zoho CRM v7 API: the OAuth
// token that every caller shares, the user, org and role reads that build
// the org directory, and the transfer-and-delete call and its job status.
//
// Each method makes one API call (two when the access token has to be
// refreshed after a 401 INVALID_TOKEN, and one per page for the user list);
// whether and when to retry is the caller's decision, guided by Classify.
// A Config may carry a rate limiter and a bound on calls in flight, which
// the client applies to every call it makes, so nothing bypasses them.
package zoho

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/oauth2"
	"golang.org/x/time/rate"
)

// APIVersion is the CRM API version offboard speaks.
const APIVersion = "v7"

// maxBody bounds how much of an answer the client reads.
const maxBody = 32 << 20

// Config configures a Client. ClientID, ClientSecret and RefreshToken are
// required; everything else has a default.
type Config struct {
	// ClientID, ClientSecret and RefreshToken are the Self Client
	// credentials. They never appear in errors or logs.
	ClientID, ClientSecret, RefreshToken string
	// DC is the data centre's short name (us, eu, in, au, jp, ca, sa, uk, cn);
	// "" is us. It picks the accounts server.
	DC string
	// AccountsURL overrides the data centre's accounts server.
	AccountsURL string
	// APIDomain overrides the api_domain of the token response.
	APIDomain string
	// HTTPClient sends every request (token requests too). Nil means a
	// client with Go's default transport.
	HTTPClient *http.Client
	// RequestTimeout bounds each HTTP call; 0 means 60 s.
	RequestTimeout time.Duration
	// TokenTimeout bounds each access-token request; 0 means 20 s.
	TokenTimeout time.Duration
	// TokenAttempts is how many token requests that got no answer (no
	// connection, the deadline passed, a 5xx) are made before the accounts
	// server is taken as unreachable, a fatal *AuthError; 0 means 4.
	TokenAttempts int
	// TokenBackoff is the first wait between two such requests, doubled
	// after each; 0 means 1 s.
	TokenBackoff time.Duration
	// Limiter, if set, is waited on before every API call (not token
	// requests), retries and the call after a token refresh included.
	Limiter *rate.Limiter
	// MaxInFlight, if positive, bounds the API calls in flight at once.
	MaxInFlight int
	// UserAgent is sent with every request; "" means "offboard".
	UserAgent string
	// Logger receives one debug line per API call. Nil means no logging.
	Logger *zerolog.Logger
	// Now is the clock used for token expiry; nil means time.Now.
	Now func() time.Time
}

// Client talks to one Zoho CRM org. It is safe for concurrent use; all
// callers share one access token.
type Client struct {
	http      *http.Client
	tokens    *tokenSource
	apiDomain *url.URL // from Config; nil means take it from the token
	accounts  *url.URL
	// accountsDC is the data centre whose API domains a token's api_domain
	// may name: the one of Config.DC, or of the accounts server.
	accountsDC DataCentre
	timeout    time.Duration
	limiter    *rate.Limiter
	slots      chan struct{}
	userAgent  string
	log        zerolog.Logger
	secrets    *secrets
	// credits is the X-API-CREDITS-REMAINING of the latest answer, plus
	// one: 0 when it had none (see CreditsRemaining).
	credits atomic.Int64
}

// CreditsRemaining is what the latest answer gave as the org's API
// credits left for the day (X-API-CREDITS-REMAINING, which Zoho sends on
// every answer once half of them are used); known is false when it gave
// none: more than half are left, or none was answered yet.
func (c *Client) CreditsRemaining() (n int, known bool) {
	v := c.credits.Load()
	return int(v - 1), v > 0
}

// noteCredits records the X-API-CREDITS-REMAINING header of an answer.
func (c *Client) noteCredits(h http.Header) {
	c.credits.Store(int64(creditsHeader(h)) + 1)
}

// creditsHeader is an answer's X-API-CREDITS-REMAINING: -1 if none, or
// not a count.
func creditsHeader(h http.Header) int {
	n, err := strconv.Atoi(strings.TrimSpace(h.Get("X-API-CREDITS-REMAINING")))
	if err != nil || n < 0 || n >= math.MaxInt32 {
		return -1
	}
	return n
}

// New checks cfg and returns a Client. It makes no network call: bad
// credentials show up on the first call.
func New(cfg Config) (*Client, error) {
	var missing []string
	if cfg.ClientID == "" {
		missing = append(missing, "client id")
	}
	if cfg.ClientSecret == "" {
		missing = append(missing, "client secret")
	}
	if cfg.RefreshToken == "" {
		missing = append(missing, "refresh token")
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("zoho: missing %s", strings.Join(missing, ", "))
	}
	accounts := cfg.AccountsURL
	if accounts == "" {
		dc, err := LookupDC(cfg.DC)
		if err != nil {
			return nil, fmt.Errorf("zoho: %w", err)
		}
		accounts = dc.AccountsURL
	}
	accountsURL, err := checkBaseURL("accounts URL", accounts)
	if err != nil {
		return nil, fmt.Errorf("zoho: %w", err)
	}
	c := &Client{
		http:      cfg.HTTPClient,
		accounts:  accountsURL,
		timeout:   cfg.RequestTimeout,
		limiter:   cfg.Limiter,
		userAgent: cfg.UserAgent,
		log:       zerolog.Nop(),
		secrets:   &secrets{},
	}
	if cfg.APIDomain != "" {
		if c.apiDomain, err = checkBaseURL("API domain", cfg.APIDomain); err != nil {
			return nil, fmt.Errorf("zoho: %w", err)
		}
	}
	if c.http == nil {
		// Keep as many idle connections as calls may be in flight, so that
		// a call rarely waits for a new connection (Go keeps 2 by default).
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.MaxIdleConnsPerHost = max(cfg.MaxInFlight, 2)
		c.http = &http.Client{Transport: t}
	} else {
		hc := *cfg.HTTPClient // the caller's client keeps its own policy
		c.http = &hc
	}
	// No redirect is followed, by token requests or API calls: Zoho's
	// servers answer where they are asked, and a redirect would carry the
	// client secret, the refresh token or the access token to another
	// server, perhaps over plain http.
	c.http.CheckRedirect = c.refuseRedirect
	if c.accountsDC, err = accountsDC(cfg.DC, accountsURL); err != nil {
		return nil, fmt.Errorf("zoho: %w", err)
	}
	if c.timeout <= 0 {
		c.timeout = 60 * time.Second
	}
	if cfg.MaxInFlight > 0 {
		c.slots = make(chan struct{}, cfg.MaxInFlight)
	}
	if c.userAgent == "" {
		c.userAgent = "offboard"
	}
	if cfg.Logger != nil {
		c.log = *cfg.Logger
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	c.secrets.add(cfg.ClientSecret)
	c.secrets.add(cfg.RefreshToken)
	c.tokens = &tokenSource{
		conf: &oauth2.Config{
			ClientID:     cfg.ClientID,
			ClientSecret: cfg.ClientSecret,
			Endpoint: oauth2.Endpoint{
				TokenURL:  accountsURL.String() + "/oauth/v2/token",
				AuthStyle: oauth2.AuthStyleInParams,
			},
		},
		refresh:    cfg.RefreshToken,
		httpClient: c.http,
		now:        now,
		secrets:    c.secrets,
		accounts:   accountsURL.String(),
		timeout:    cmp.Or(cfg.TokenTimeout, defaultTokenTimeout),
		attempts:   cmp.Or(cfg.TokenAttempts, defaultTokenAttempts),
		backoff:    cmp.Or(cfg.TokenBackoff, defaultTokenBackoff),
	}
	return c, nil
}

// TokenRequests reports how many access-token requests the client has made.
func (c *Client) TokenRequests() int { return c.tokens.refreshes() }

// APIDomain returns the API base URL the client uses, fetching a token
// first if the domain comes from the token response.
func (c *Client) APIDomain(ctx context.Context) (string, error) {
	tok, err := c.tokens.token(ctx)
	if err != nil {
		return "", err
	}
	u, err := c.base(tok)
	if err != nil {
		return "", err
	}
	return u.String(), nil
}

// base returns the API base URL: the configured override, or the
// api_domain of the token response.
func (c *Client) base(tok *oauth2.Token) (*url.URL, error) {
	if c.apiDomain != nil {
		return c.apiDomain, nil
	}
	domain, _ := tok.Extra("api_domain").(string)
	if domain == "" {
		return nil, ErrNoAPIDomain
	}
	return c.checkTokenAPIDomain(domain)
}

// checkTokenAPIDomain accepts an api_domain the accounts server named only
// if it is one of its data centre's API domains (https, a host under
// zohoapis.<dc>), or, when the accounts server itself is on loopback (the
// sandbox, tests), a loopback URL. Anything else would be sent the access
// token on the accounts server's word alone.
func (c *Client) checkTokenAPIDomain(domain string) (*url.URL, error) {
	u, err := checkBaseURL("api_domain from the accounts server", c.secrets.clean(domain))
	if err != nil {
		return nil, fmt.Errorf("zoho: %w", err)
	}
	if (isLoopback(c.accounts.Hostname()) && isLoopback(u.Hostname())) || c.accountsDC.hasAPIHost(u) {
		return u, nil
	}
	return nil, &APIDomainError{Domain: u.String(), DC: c.accountsDC}
}

// refuseRedirect is the HTTP client's CheckRedirect: every redirect is
// refused, and the request it names is never sent.
func (c *Client) refuseRedirect(req *http.Request, via []*http.Request) error {
	from := via[len(via)-1].URL
	return &RedirectError{From: from.Scheme + "://" + from.Host, To: c.secrets.clean(req.URL.Scheme + "://" + req.URL.Host)}
}

// call describes one API request.
type call struct {
	method string
	path   string // below /crm/v7, e.g. "/users"
	query  url.Values
	body   any  // JSON-encoded when not nil
	write  bool // the request changes something in Zoho
	// beforeSend, for a write, is called after every wait, immediately
	// before the request is sent (see TransferAndDelete).
	beforeSend func(refused error) error
}

// response is a successful (2xx) answer.
type response struct {
	status int
	header http.Header
	body   []byte
}

// do sends c, refreshing the access token once if Zoho says it is invalid,
// and returns the answer or a typed error.
//
// Every wait comes first and ends with ctx: the access token, the rate
// limiter, the bound on calls in flight. A read is then sent on ctx. A
// write calls cl.beforeSend, and is sent on a context that ctx can still
// cancel while the request waits for a connection, and no longer once it
// has one: from then on its bytes may be on the wire, and cutting it off
// would only make its outcome unknown.
func (c *Client) do(ctx context.Context, cl call) (*response, error) {
	var payload []byte
	if cl.body != nil {
		var err error
		if payload, err = json.Marshal(cl.body); err != nil {
			return nil, fmt.Errorf("zoho: encode %s request: %w", cl.path, err)
		}
	}
	path := "/crm/" + APIVersion + cl.path
	var refused error
	notSent := func(err error) error {
		err = c.notSent(cl, path, err)
		var ns *NotSentError
		if errors.As(err, &ns) {
			ns.Answered = refused // the send before this one, if any, reached Zoho
		}
		return err
	}
	for attempt := 1; ; attempt++ {
		tok, err := c.tokens.token(ctx)
		if err != nil {
			return nil, notSent(err)
		}
		release, err := c.wait(ctx)
		if err != nil {
			return nil, notSent(fmt.Errorf("zoho: %s %s: %w", cl.method, path, err))
		}
		if cl.beforeSend != nil {
			if err := cl.beforeSend(refused); err != nil {
				release()
				return nil, &NotSentError{Method: cl.method, Path: path, Err: err}
			}
		}
		resp, err := c.send(ctx, tok, cl, path, payload)
		release()
		var api *APIError
		if attempt == 1 && errors.As(err, &api) && api.HTTPStatus == http.StatusUnauthorized && api.Code == CodeInvalidToken {
			// The token expired early or was evicted (Zoho keeps at most 15
			// per refresh token). A 401 means nothing was done, so the call
			// is safe to repeat, writes included, once.
			c.log.Debug().Str("path", path).Msg("access token refused, refreshing")
			c.tokens.invalidate(tok)
			refused = err
			continue
		}
		return resp, err
	}
}

// notSent marks err, which kept a write from being sent, as such.
func (c *Client) notSent(cl call, path string, err error) error {
	if !cl.write {
		return err
	}
	return &NotSentError{Method: cl.method, Path: path, Err: err}
}

// wait waits for the rate limiter and for room among the calls in flight,
// and returns the function that frees the room taken.
func (c *Client) wait(ctx context.Context) (release func(), err error) {
	if c.limiter != nil {
		if err := c.limiter.Wait(ctx); err != nil {
			if ctx.Err() == nil {
				// The limiter refuses a wait that would outlast the deadline.
				err = fmt.Errorf("rate limit wait would pass the deadline: %w", context.DeadlineExceeded)
			}
			return nil, ctxErr(ctx, err)
		}
	}
	if c.slots == nil {
		return func() {}, nil
	}
	select {
	case c.slots <- struct{}{}:
		return func() { <-c.slots }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// commitGate decides, for one write, whether it may still be cancelled:
// until the transport has a connection for it, the run's stop cancels it
// (nothing was written); from then on it goes.
type commitGate struct {
	mu        sync.Mutex
	committed bool
	cancel    context.CancelFunc
}

// gotConn is the request's httptrace GotConn: the request is committed.
func (g *commitGate) gotConn() {
	g.mu.Lock()
	g.committed = true
	g.mu.Unlock()
}

// stop cancels the request if it is not committed yet.
func (g *commitGate) stop() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.committed {
		g.cancel()
	}
}

func (g *commitGate) isCommitted() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.committed
}

// send makes one HTTP request; the waits are done.
func (c *Client) send(ctx context.Context, tok *oauth2.Token, cl call, path string, payload []byte) (*response, error) {
	base, err := c.base(tok)
	if err != nil {
		return nil, c.notSent(cl, path, err)
	}
	u := *base
	u.Path = strings.TrimRight(u.Path, "/") + path
	u.RawQuery = cl.query.Encode()

	sendCtx := ctx
	var gate *commitGate
	if cl.write {
		if err := ctx.Err(); err != nil {
			return nil, c.notSent(cl, path, err)
		}
		var cancelSend context.CancelFunc
		sendCtx, cancelSend = context.WithCancel(context.WithoutCancel(ctx))
		defer cancelSend()
		gate = &commitGate{cancel: cancelSend}
		defer context.AfterFunc(ctx, gate.stop)()
		sendCtx = httptrace.WithClientTrace(sendCtx, &httptrace.ClientTrace{
			GotConn: func(httptrace.GotConnInfo) { gate.gotConn() },
		})
	}
	rctx, cancel := context.WithTimeout(sendCtx, c.timeout)
	defer cancel()
	var body io.Reader
	if payload != nil {
		body = bytes.NewReader(payload)
	}
	req, err := http.NewRequestWithContext(rctx, cl.method, u.String(), body)
	if err != nil {
		return nil, c.notSent(cl, path, fmt.Errorf("zoho: %s %s: %w", cl.method, path, err))
	}
	req.Header.Set("Authorization", "Zoho-oauthtoken "+tok.AccessToken)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.userAgent)
	if payload != nil {
		req.Header.Set("Content-Type", "application/json")
	}

	start := time.Now()
	resp, err := c.http.Do(req)
	var data []byte
	if err == nil {
		data, err = io.ReadAll(io.LimitReader(resp.Body, maxBody))
		resp.Body.Close()
	}
	elapsed := time.Since(start)
	if err != nil {
		terr := transportError(sendCtx, err)
		if cl.write {
			committed := gate.isCommitted()
			c.log.Debug().Str("method", cl.method).Str("path", path).Dur("elapsed", elapsed).Bool("sent", committed).Msg("api call failed")
			if !committed {
				if ctx.Err() != nil {
					terr = ctx.Err()
				}
				return nil, &NotSentError{Method: cl.method, Path: path, Err: terr}
			}
			// It had a connection: its bytes may have reached Zoho.
			return nil, &OutcomeUnknownError{Method: cl.method, Path: path, Err: terr}
		}
		c.log.Debug().Str("method", cl.method).Str("path", path).Dur("elapsed", elapsed).Msg("api call failed")
		return nil, fmt.Errorf("zoho: %s %s: %w", cl.method, path, transportError(ctx, err))
	}
	c.log.Debug().Str("method", cl.method).Str("path", path).Int("status", resp.StatusCode).Dur("elapsed", elapsed).Msg("api call")
	c.noteCredits(resp.Header)

	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return &response{status: resp.StatusCode, header: resp.Header, body: data}, nil
	}
	apiErr := c.parseError(resp, data, cl.method, path)
	if cl.write && resp.StatusCode >= 500 {
		return nil, &OutcomeUnknownError{Method: cl.method, Path: path, Err: apiErr}
	}
	return nil, apiErr
}

// transportError returns the error to report for a failed round trip,
// keeping the caller's cancellation recognisable.
func transportError(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	var uerr *url.Error
	if errors.As(err, &uerr) {
		// url.Error repeats the method and URL, which the caller's
		// message already names.
		if uerr.Timeout() {
			return fmt.Errorf("no answer within the request timeout: %w", uerr.Err)
		}
		return uerr.Err
	}
	return err
}

func ctxErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

// envelope is Zoho's error object, found at the top level or as the first
// element of a resource array.
type envelope struct {
	Code    string         `json:"code"`
	Message string         `json:"message"`
	Status  string         `json:"status"`
	Details map[string]any `json:"details"`
}

// parseError builds an *APIError from a non-2xx answer, whichever of Zoho's
// two envelopes it uses.
func (c *Client) parseError(resp *http.Response, data []byte, method, path string) *APIError {
	e := &APIError{HTTPStatus: resp.StatusCode, Method: method, Path: path, CreditsRemaining: creditsHeader(resp.Header)}
	if v := resp.Header.Get("Retry-After"); v != "" {
		if secs, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && secs >= 0 {
			e.RetryAfter = time.Duration(secs) * time.Second
		}
	}
	env, ok := findEnvelope(data)
	if !ok {
		e.Code = http.StatusText(resp.StatusCode)
		e.Message = "the answer was not a Zoho error object"
		return e
	}
	// Everything the server wrote may echo what it was sent: code, message,
	// and the details' keys and values alike.
	e.Code = c.secrets.clean(env.Code)
	e.Message = c.secrets.clean(env.Message)
	e.Details = c.cleanDetails(env.Details)
	if secs, ok := e.Details["retry_after"].(float64); ok && secs > 0 && e.RetryAfter == 0 {
		e.RetryAfter = time.Duration(secs * float64(time.Second))
	}
	return e
}

// cleanDetails returns Zoho's details object with its keys and string
// values fit to print (secrets.clean).
func (c *Client) cleanDetails(details map[string]any) map[string]any {
	if details == nil {
		return nil
	}
	out := make(map[string]any, len(details))
	for k, v := range details {
		if s, ok := v.(string); ok {
			v = c.secrets.clean(s)
		}
		out[c.secrets.clean(k)] = v
	}
	return out
}

// findEnvelope finds the error object in data: {"code":...} or
// {"<resource>":[{"code":...}]}.
func findEnvelope(data []byte) (envelope, bool) {
	var top envelope
	if err := json.Unmarshal(data, &top); err == nil && top.Code != "" {
		return top, true
	}
	var wrapped map[string]json.RawMessage
	if err := json.Unmarshal(data, &wrapped); err != nil {
		return envelope{}, false
	}
	for _, raw := range wrapped {
		var items []envelope
		if err := json.Unmarshal(raw, &items); err == nil && len(items) > 0 && items[0].Code != "" {
			return items[0], true
		}
	}
	return envelope{}, false
}
