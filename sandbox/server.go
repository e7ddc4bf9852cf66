package sandbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Defaults for the zero values of Config.
const (
	DefaultClientID          = "1000.SANDBOXCLIENT"
	DefaultClientSecret      = "sandbox-client-secret"
	DefaultRefreshToken      = "1000.sandbox.refresh-token"
	DefaultTokenLifetime     = time.Hour
	DefaultTokenRequestLimit = 10
	DefaultJobDuration       = 2 * time.Second
	DefaultJobLimit          = 10
)

// Zoho's own limits the simulator enforces regardless of Config.
const (
	tokenWindow        = 10 * time.Minute
	creditWindow       = 24 * time.Hour
	maxLiveAccessToken = 15
	grantCodeLifetime  = 3 * time.Minute
	maxPerPage         = 200
	maxIDs             = 100
	maxBody            = 1 << 20
)

// Config configures a simulated org. The zero value is a usable demo org.
type Config struct {
	// Seed is the org's starting state; nil means DemoSeed(). The server works on its own copy.
	Seed *Seed
	// Clock gives the time for every time-dependent rule (job phases, token expiry, token
	// throttle window, credit window, grant code expiry, held job slots); nil means time.Now.
	Clock func() time.Time
	// ClientID and ClientSecret identify the Self Client; defaults DefaultClientID and
	// DefaultClientSecret.
	ClientID, ClientSecret string
	// RefreshToken is a valid refresh token from the start; default DefaultRefreshToken.
	RefreshToken string
	// TokenLifetime is an access token's lifetime; default one hour.
	TokenLifetime time.Duration
	// TokenRequestLimit is how many token requests are allowed in a rolling 10 minutes;
	// 0 means 10, a negative value means unlimited.
	TokenRequestLimit int
	// JobDuration is the time from submission to the job's end; default 2s. A job is
	// "scheduled" for its first fifth, then "in_progress", then "completed" or "failed".
	JobDuration time.Duration
	// JobLimit is how many unfinished transfer-and-delete jobs the org may have; 0 means 10,
	// a negative value means unlimited.
	JobLimit int
	// ConcurrencyLimit is how many API calls may be in flight at once (Zoho: 5 to 25 by
	// edition); 0 means unlimited.
	ConcurrencyLimit int
	// DailyCredits is how many API calls are allowed in a rolling 24 hours; 0 means unlimited.
	// Each API call costs one credit; the token endpoint is free.
	DailyCredits int
	// Latency is real time added to every API answer while the call counts as in flight.
	Latency time.Duration
	// LatencyJitter widens Latency into a range: each API answer takes Latency plus a
	// uniform draw from [0, LatencyJitter]. Zoho's answers take some tens of milliseconds,
	// not always the same.
	LatencyJitter time.Duration
	// JobDurations, if set, gives each user's job its own duration (JobDuration where it
	// returns 0 or less): real orgs mix leavers with no records and leavers with thousands.
	JobDurations func(userID string) time.Duration
	// SecondSubmission is what the org answers to a submission for a user whose job is still
	// running. Zoho does not document it; offboard must be right whatever the answer is.
	SecondSubmission SecondSubmission
	// IgnoreIDs makes GET /users ignore its ids parameter, answering every user of the type,
	// a page at a time. Zoho documents ids (up to 100); an org that ignored it would still
	// answer users, only not those asked for: offboard must be right either way.
	IgnoreIDs bool
	// Listing is when GET /users (and its count) lists the user of a transfer-and-delete job
	// as deleted. Zoho documents none: the user is deleted by the job, and the listing may
	// follow the job's end, lead it, or lag it. offboard must be right under each.
	Listing Listing
	// ListingLag is how long after its job completed a user is first listed deleted under
	// ListedLate (default one second).
	ListingLag time.Duration
	// JobLimitAnswer is how the org refuses a submission while its job slots are full. The v8
	// OpenAPI documents CONCURRENT_JOB_LIMIT_EXCEEDED; Zoho's SDKs list only LIMIT_REACHED.
	// offboard must wait for a slot under each.
	JobLimitAnswer JobLimitAnswer
	// UserRead is how GET /users/{id} answers for a deleted user, and for an ID the org does
	// not know. The v8 OpenAPI documents 204 for "no user record"; whether a deleted user is
	// one is not documented. offboard must be right under each.
	UserRead UserRead
	// RequireTransfer refuses a submission without "transfer" (400 MANDATORY_NOT_FOUND,
	// api_name transfer): the v8 OpenAPI marks it required, where the v7 page lets
	// "move_subordinate" stand alone. Which an org does is not documented.
	RequireTransfer bool
	// JobIDKey is the key of the job ID in a submission's success details: "jobId" (the v7
	// documentation, default) or "job_id" (the v8 examples).
	JobIDKey string
	// Logf, if set, receives one line per request. It never receives tokens or bodies.
	Logf func(format string, args ...any)
	// KeepRequests bounds the request log (Requests, CountCalls) to about the latest n
	// requests, so that a sandbox left running does not grow without end; 0 keeps every
	// request, as tests that count calls need.
	KeepRequests int
}

// SecondSubmission is an answer to a submission for a user whose transfer-and-delete job is
// still running. Zoho's documentation is silent, so each plausible answer is a mode.
type SecondSubmission int

const (
	// RefuseNamingJob answers 400 NOT_ALLOWED "a transfer and delete job is already running
	// for this user" with details.job_id (the default).
	RefuseNamingJob SecondSubmission = iota
	// RefuseBare answers 400 INVALID_DATA "the user is already being deleted" with no job ID:
	// a client that took it as a refusal of the row would report a failure while the first job
	// deletes the user.
	RefuseBare
	// StartSecondJob accepts it and starts a second job for the same user: whichever job ends
	// second finds the user deleted and fails.
	StartSecondJob
)

// String names the mode.
func (m SecondSubmission) String() string {
	switch m {
	case RefuseNamingJob:
		return "RefuseNamingJob"
	case RefuseBare:
		return "RefuseBare"
	case StartSecondJob:
		return "StartSecondJob"
	}
	return "SecondSubmission(" + strconv.Itoa(int(m)) + ")"
}

// JobLimitAnswer is a refusal of a submission while the org's job slots are full.
type JobLimitAnswer int

const (
	// ConcurrentJobLimit answers 400 CONCURRENT_JOB_LIMIT_EXCEEDED with details.limit (the v8
	// OpenAPI; the default).
	ConcurrentJobLimit JobLimitAnswer = iota
	// LimitReached answers 400 LIMIT_REACHED with details.limit (the SDKs' code; invented
	// details).
	LimitReached
	// LimitReachedBare answers 400 LIMIT_REACHED with no details (invented).
	LimitReachedBare
	// LimitInvalidData answers 400 INVALID_DATA with details.limit, as a refusal of the row
	// (invented): an org whose refusal offboard cannot tell from a row's.
	LimitInvalidData
	// QueueBeyondLimit takes the submission and starts its job when a slot frees (invented:
	// the call only schedules a job, and an org might queue it).
	QueueBeyondLimit
)

// String names the mode.
func (m JobLimitAnswer) String() string {
	switch m {
	case ConcurrentJobLimit:
		return "ConcurrentJobLimit"
	case LimitReached:
		return "LimitReached"
	case LimitReachedBare:
		return "LimitReachedBare"
	case LimitInvalidData:
		return "LimitInvalidData"
	case QueueBeyondLimit:
		return "QueueBeyondLimit"
	}
	return "JobLimitAnswer(" + strconv.Itoa(int(m)) + ")"
}

// UserRead is how GET /users/{id} answers for a deleted user and for an unknown ID.
type UserRead int

const (
	// ShowDeleted answers a deleted user with its record, status "deleted", and an unknown
	// ID with 400 INVALID_DATA (invented; the default).
	ShowDeleted UserRead = iota
	// NoContentForGone answers both with 204 No Content (the v8 OpenAPI's "no user record
	// exists for the specified user ID").
	NoContentForGone
	// InvalidIDForGone answers both with 400 INVALID_DATA "the id given seems to be invalid"
	// (invented: as some Zoho APIs answer for a record that no longer exists).
	InvalidIDForGone
)

// String names the mode.
func (m UserRead) String() string {
	switch m {
	case ShowDeleted:
		return "ShowDeleted"
	case NoContentForGone:
		return "NoContentForGone"
	case InvalidIDForGone:
		return "InvalidIDForGone"
	}
	return "UserRead(" + strconv.Itoa(int(m)) + ")"
}

// Listing is when GET /users lists the user of a transfer-and-delete job as deleted.
type Listing int

const (
	// ListedAtEnd lists the user deleted from the moment the job completed, as GET
	// /users/{id} shows it (invented; the default).
	ListedAtEnd Listing = iota
	// ListedAtStart lists the user deleted from the moment the job is in progress, while its
	// records are still being transferred (invented: a job that deletes the user first). A
	// job that then fails leaves the user listed as before.
	ListedAtStart
	// ListedLate lists the user deleted only Config.ListingLag after its job completed
	// (invented: a listing served from a copy that catches up).
	ListedLate
)

// String names the mode.
func (m Listing) String() string {
	switch m {
	case ListedAtEnd:
		return "ListedAtEnd"
	case ListedAtStart:
		return "ListedAtStart"
	case ListedLate:
		return "ListedLate"
	}
	return "Listing(" + strconv.Itoa(int(m)) + ")"
}

// Server is a simulated Zoho CRM org served over HTTP on loopback. Its URL is both the
// accounts server and the API domain. All methods are safe for concurrent use.
type Server struct {
	cfg    Config
	url    string
	ln     net.Listener
	srv    *http.Server
	cancel context.CancelFunc
	done   chan struct{}

	mu           sync.Mutex
	org          Org
	roles        []Role
	users        []*User // sorted by ID
	byID         map[string]*User
	superAdminID string
	records      map[string]int
	caller       string
	scopes       []string
	failing      map[string]string
	faults       func(Call) Fault

	refresh       map[string]*refreshToken
	access        map[string]*accessToken
	grants        map[string]*grantCode
	tokenRequests []time.Time

	jobs     []*job
	jobByID  map[string]*job
	jobSeq   int
	jobsHeld bool // HoldJobs
	held     []heldSlots

	inFlight    int
	maxInFlight int
	credits     []time.Time
	seq         map[string]int
	log         []Request
	logBase     int // requests dropped from the front of log (Config.KeepRequests)
}

// DefaultScopes are the scopes a refresh token carries unless SetScopes says otherwise.
func DefaultScopes() []string {
	return []string{"ZohoCRM.users.ALL", "ZohoCRM.org.READ", "ZohoCRM.settings.roles.READ"}
}

// Start validates the configuration, builds the org from the seed and serves it on
// 127.0.0.1 on a free port until Close.
func Start(cfg Config) (*Server, error) {
	if cfg.Seed == nil {
		cfg.Seed = DemoSeed()
	}
	seed := cfg.Seed.clone()
	if err := seed.Validate(); err != nil {
		return nil, fmt.Errorf("start simulator: %w", err)
	}
	cfg.Seed = nil
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	cfg.ClientID = cmpOr(cfg.ClientID, DefaultClientID)
	cfg.ClientSecret = cmpOr(cfg.ClientSecret, DefaultClientSecret)
	cfg.RefreshToken = cmpOr(cfg.RefreshToken, DefaultRefreshToken)
	cfg.TokenLifetime = cmpOr(cfg.TokenLifetime, DefaultTokenLifetime)
	cfg.TokenRequestLimit = cmpOr(cfg.TokenRequestLimit, DefaultTokenRequestLimit)
	cfg.JobDuration = cmpOr(cfg.JobDuration, DefaultJobDuration)
	cfg.JobLimit = cmpOr(cfg.JobLimit, DefaultJobLimit)
	cfg.JobIDKey = cmpOr(cfg.JobIDKey, "jobId")
	cfg.ListingLag = cmpOr(cfg.ListingLag, time.Second)
	if cfg.Listing < ListedAtEnd || cfg.Listing > ListedLate {
		return nil, fmt.Errorf("start simulator: unknown listing mode %d", cfg.Listing)
	}
	if cfg.JobIDKey != "jobId" && cfg.JobIDKey != "job_id" {
		return nil, fmt.Errorf("start simulator: job id key %q is neither jobId nor job_id", cfg.JobIDKey)
	}
	if cfg.SecondSubmission < RefuseNamingJob || cfg.SecondSubmission > StartSecondJob {
		return nil, fmt.Errorf("start simulator: unknown second-submission mode %d", cfg.SecondSubmission)
	}
	if cfg.TokenLifetime < 0 || cfg.JobDuration < 0 || cfg.Latency < 0 || cfg.LatencyJitter < 0 || cfg.ConcurrencyLimit < 0 || cfg.DailyCredits < 0 {
		return nil, errors.New("start simulator: durations and limits must not be negative")
	}

	s := &Server{
		cfg:     cfg,
		org:     seed.Org,
		roles:   seed.Roles,
		byID:    map[string]*User{},
		records: map[string]int{},
		failing: map[string]string{},
		scopes:  DefaultScopes(),
		refresh: map[string]*refreshToken{cfg.RefreshToken: {}},
		access:  map[string]*accessToken{},
		grants:  map[string]*grantCode{},
		jobByID: map[string]*job{},
		seq:     map[string]int{},
		done:    make(chan struct{}),
	}
	for i := range seed.Users {
		u := &seed.Users[i]
		s.users = append(s.users, u)
		s.byID[u.ID] = u
	}
	slices.SortFunc(s.users, func(a, b *User) int { return strings.Compare(a.ID, b.ID) })
	admin, _ := seed.superAdmin() // validated above
	s.superAdminID = admin.ID
	s.caller = cmpOr(seed.Scenario.Caller, admin.ID)
	for id, n := range seed.Scenario.Records {
		s.records[id] = n
	}
	for id, reason := range seed.Scenario.FailingJobs {
		s.failing[id] = reason
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("start simulator: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.ln = ln
	s.cancel = cancel
	s.url = "http://" + ln.Addr().String()
	s.srv = &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 10 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}
	go func() {
		defer close(s.done)
		_ = s.srv.Serve(ln)
	}()
	return s, nil
}

func cmpOr[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// URL returns the server's base URL, e.g. http://127.0.0.1:40123. It serves both the
// accounts endpoint (/oauth/v2/token) and the CRM API (/crm/v7/...).
func (s *Server) URL() string { return s.url }

// Close stops the server, ends calls still waiting out their latency and closes every
// connection.
func (s *Server) Close() error {
	s.cancel()
	err := s.srv.Close()
	<-s.done
	if err != nil {
		return fmt.Errorf("close simulator: %w", err)
	}
	return nil
}

// Credentials returns the Self Client credentials the server accepts.
func (s *Server) Credentials() (clientID, clientSecret, refreshToken string) {
	return s.cfg.ClientID, s.cfg.ClientSecret, s.cfg.RefreshToken
}

func (s *Server) now() time.Time { return s.cfg.Clock() }

func (s *Server) logf(format string, args ...any) {
	if s.cfg.Logf != nil {
		s.cfg.Logf(format, args...)
	}
}

// endpoint is one route of the API: its pattern and, per method, the scopes that allow it
// (any one of them) and the handler.
type endpoint struct {
	pattern string
	id      string // the {id} in the path, if any
	methods map[string]method
}

type method struct {
	scopes []string
	handle func(s *Server, e endpoint, q url.Values, body []byte) reply
}

const tokenPath = "/oauth/v2/token"

// route finds the endpoint for a path; ok is false for an unknown path.
func route(path string) (endpoint, bool) {
	usersRead := []string{"ZohoCRM.users.ALL", "ZohoCRM.users.READ"}
	usersDelete := []string{"ZohoCRM.users.ALL", "ZohoCRM.users.DELETE"}
	orgRead := []string{"ZohoCRM.org.ALL", "ZohoCRM.org.READ"}
	rolesRead := []string{"ZohoCRM.settings.ALL", "ZohoCRM.settings.roles.ALL", "ZohoCRM.settings.roles.READ"}

	rest, found := strings.CutPrefix(path, "/crm/v7/")
	if !found {
		return endpoint{}, false
	}
	seg := strings.Split(rest, "/")
	switch {
	case len(seg) == 1 && seg[0] == "users":
		return endpoint{pattern: "/crm/v7/users", methods: map[string]method{
			http.MethodGet: {usersRead, (*Server).getUsers},
		}}, true
	case len(seg) == 3 && seg[0] == "users" && seg[1] == "actions" && seg[2] == "count":
		return endpoint{pattern: "/crm/v7/users/actions/count", methods: map[string]method{
			http.MethodGet: {usersRead, (*Server).countUsers},
		}}, true
	case len(seg) == 3 && seg[0] == "users" && seg[1] == "actions" && seg[2] == "transfer_and_delete":
		return endpoint{pattern: "/crm/v7/users/actions/transfer_and_delete", methods: map[string]method{
			http.MethodGet:  {usersRead, (*Server).jobStatus},
			http.MethodPost: {usersDelete, (*Server).transferAndDelete},
		}}, true
	case len(seg) == 2 && seg[0] == "users" && seg[1] != "" && seg[1] != "actions":
		return endpoint{pattern: "/crm/v7/users/{id}", id: seg[1], methods: map[string]method{
			http.MethodGet: {usersRead, (*Server).getUser},
		}}, true
	case len(seg) == 4 && seg[0] == "users" && seg[1] != "" && seg[1] != "actions" && seg[2] == "actions" && seg[3] == "transfer_and_delete":
		return endpoint{pattern: "/crm/v7/users/{id}/actions/transfer_and_delete", id: seg[1], methods: map[string]method{
			http.MethodPost: {usersDelete, (*Server).transferAndDelete},
		}}, true
	case len(seg) == 1 && seg[0] == "org":
		return endpoint{pattern: "/crm/v7/org", methods: map[string]method{
			http.MethodGet: {orgRead, (*Server).getOrg},
		}}, true
	case len(seg) == 2 && seg[0] == "settings" && seg[1] == "roles":
		return endpoint{pattern: "/crm/v7/settings/roles", methods: map[string]method{
			http.MethodGet: {rolesRead, (*Server).getRoles},
		}}, true
	case len(seg) == 3 && seg[0] == "settings" && seg[1] == "roles" && seg[2] != "":
		return endpoint{pattern: "/crm/v7/settings/roles/{id}", id: seg[2], methods: map[string]method{
			http.MethodGet: {rolesRead, (*Server).getRole},
		}}, true
	}
	return endpoint{}, false
}

// ServeHTTP answers one request: it logs it, applies the fault hook, the concurrency and
// credit limits and the latency, authenticates it and hands it to its endpoint.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody))
	if err != nil {
		s.logf("sandbox: read request body: %v", err)
	}
	isToken := r.URL.Path == tokenPath
	e, known := route(r.URL.Path)
	pattern := r.URL.Path
	switch {
	case isToken:
		pattern = tokenPath
	case known:
		pattern = e.pattern
	}

	s.mu.Lock()
	key := r.Method + " " + pattern
	s.seq[key]++
	call := Call{Method: r.Method, Path: r.URL.Path, Query: r.URL.Query(), Body: body, Seq: s.seq[key]}
	idx := s.logRequest(Request{
		Method: r.Method, Path: r.URL.Path, RawQuery: r.URL.RawQuery, Body: body,
		Start: s.now(), Token: isToken,
	})
	inFlight := 0
	if !isToken {
		s.inFlight++
		s.maxInFlight = max(s.maxInFlight, s.inFlight)
		inFlight = s.inFlight
		if e := s.logEntry(idx); e != nil {
			e.InFlight = inFlight
		}
	}
	faults := s.faults
	s.mu.Unlock()
	if !isToken {
		defer func() {
			s.mu.Lock()
			s.inFlight--
			s.mu.Unlock()
		}()
	}

	fault := NoFault
	if faults != nil {
		fault = faults(call)
	}
	var rep reply
	switch fault {
	case ServerError:
		rep = errInternal()
	case ServiceUnavailable:
		rep = errUnavailable()
	case TooManyRequests:
		rep = errConcurrency()
	case Refuse:
		rep = apiError(http.StatusBadRequest, "INVALID_DATA", "the request is not supported here", map[string]any{})
	case DropBeforeCommit:
		s.drop(w, r, idx)
		return
	default:
		if isToken {
			rep = s.token(r, body)
		} else {
			rep = s.api(r, e, known, body, inFlight)
		}
	}
	if fault == DropAfterCommit {
		s.drop(w, r, idx)
		return
	}
	s.write(w, r, idx, rep)
}

// api handles a CRM API call after the fault hook.
func (s *Server) api(r *http.Request, e endpoint, known bool, body []byte, inFlight int) reply {
	s.mu.Lock()
	now := s.now()
	var limited *reply
	if s.cfg.ConcurrencyLimit > 0 && inFlight > s.cfg.ConcurrencyLimit {
		rep := errConcurrency()
		limited = &rep
	} else if s.cfg.DailyCredits > 0 {
		s.pruneCredits(now)
		if len(s.credits) >= s.cfg.DailyCredits {
			rep := errCredits()
			limited = &rep
		} else {
			s.credits = append(s.credits, now)
		}
	}
	creditHeader := s.creditHeader()
	s.mu.Unlock()

	if d := s.latency(); d > 0 {
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
		}
	}

	var rep reply
	switch {
	case limited != nil:
		rep = *limited
	case !known:
		rep = errURLPattern()
	default:
		rep = s.dispatch(r, e, body)
	}
	if creditHeader != "" {
		if rep.header == nil {
			rep.header = http.Header{}
		}
		rep.header.Set("X-API-CREDITS-REMAINING", creditHeader)
	}
	return rep
}

// latency is how long one API answer waits: Config.Latency, plus a draw from
// [0, Config.LatencyJitter].
func (s *Server) latency() time.Duration {
	d := s.cfg.Latency
	if j := s.cfg.LatencyJitter; j > 0 {
		d += rand.N(j + 1)
	}
	return d
}

func (s *Server) dispatch(r *http.Request, e endpoint, body []byte) reply {
	m, ok := e.methods[r.Method]
	if !ok {
		return errMethod()
	}
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Zoho-oauthtoken ")
	tok = strings.TrimSpace(tok)
	if !ok || tok == "" {
		return errAuthentication()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	at := s.access[tok]
	if at == nil || !now.Before(at.expires) {
		return errInvalidToken()
	}
	if !hasScope(s.scopesOf(at.refresh), m.scopes) {
		return errScope()
	}
	s.settle(now)
	return m.handle(s, e, r.URL.Query(), body)
}

// hasScope reports whether granted holds any of the accepted scopes; Zoho compares scope names
// case-insensitively.
func hasScope(granted, accepted []string) bool {
	for _, g := range granted {
		for _, a := range accepted {
			if strings.EqualFold(g, a) {
				return true
			}
		}
	}
	return false
}

// pruneCredits forgets credits spent more than 24 hours ago.
func (s *Server) pruneCredits(now time.Time) {
	i := 0
	for i < len(s.credits) && !now.Before(s.credits[i].Add(creditWindow)) {
		i++
	}
	s.credits = s.credits[i:]
}

// creditHeader is the X-API-CREDITS-REMAINING value, or "" while less than half the daily
// credits are used.
func (s *Server) creditHeader() string {
	if s.cfg.DailyCredits <= 0 || 2*len(s.credits) < s.cfg.DailyCredits {
		return ""
	}
	return strconv.Itoa(s.cfg.DailyCredits - len(s.credits))
}

func (s *Server) write(w http.ResponseWriter, r *http.Request, idx int, rep reply) {
	for k, v := range rep.header {
		w.Header()[k] = v
	}
	var b []byte
	if rep.body != nil {
		var err error
		if b, err = json.Marshal(rep.body); err != nil {
			rep = errInternal()
			b, _ = json.Marshal(rep.body)
		}
		w.Header().Set("Content-Type", "application/json;charset=UTF-8")
		w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	}
	w.WriteHeader(rep.status)
	if len(b) > 0 {
		_, _ = w.Write(b)
	}
	s.mu.Lock()
	if e := s.logEntry(idx); e != nil {
		e.Status = rep.status
		e.End = s.now()
	}
	s.mu.Unlock()
	s.logf("sandbox: %s %s -> %d", r.Method, r.URL.Path, rep.status)
}

// drop closes the connection without answering.
func (s *Server) drop(w http.ResponseWriter, r *http.Request, idx int) {
	s.mu.Lock()
	if e := s.logEntry(idx); e != nil {
		e.Dropped = true
		e.End = s.now()
	}
	s.mu.Unlock()
	s.logf("sandbox: %s %s -> connection dropped", r.Method, r.URL.Path)
	if hj, ok := w.(http.Hijacker); ok {
		if conn, _, err := hj.Hijack(); err == nil {
			_ = conn.Close()
			return
		}
	}
	// Without a hijackable connection, abort the handler: net/http then closes it unanswered.
	panic(http.ErrAbortHandler)
}

// logRequest appends r to the request log and returns its number; s.mu is held. A bounded
// log drops its older half once it holds twice Config.KeepRequests.
func (s *Server) logRequest(r Request) int {
	idx := s.logBase + len(s.log)
	s.log = append(s.log, r)
	if keep := s.cfg.KeepRequests; keep > 0 && len(s.log) >= 2*keep {
		drop := len(s.log) - keep
		s.log = slices.Clone(s.log[drop:])
		s.logBase += drop
	}
	return idx
}

// logEntry returns request number idx of the log, or nil once it was dropped; s.mu is held.
func (s *Server) logEntry(idx int) *Request {
	if i := idx - s.logBase; i >= 0 && i < len(s.log) {
		return &s.log[i]
	}
	return nil
}
