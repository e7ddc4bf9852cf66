package sandbox

import (
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func TestConcurrencyLimit(t *testing.T) {
	s, _ := start(t, Config{ConcurrencyLimit: 2})
	tok := getToken(t, s)
	arrived := make(chan struct{}, 2)
	release := make(chan struct{})
	var once sync.Once
	unblock := func() { once.Do(func() { close(release) }) }
	defer unblock()
	// The hook runs while a call is in flight, so blocking it holds two calls in flight.
	s.SetFaults(func(c Call) Fault {
		if c.Path == "/crm/v7/org" {
			arrived <- struct{}{}
			<-release
		}
		return NoFault
	})
	var wg sync.WaitGroup
	statuses := make([]int, 2)
	for i := range 2 {
		wg.Go(func() {
			a, err := send(t, nil, http.MethodGet, s.URL()+"/crm/v7/org", tok, "")
			if err != nil {
				t.Errorf("GET /org: %v", err)
				return
			}
			statuses[i] = a.status
		})
	}
	<-arrived
	<-arrived
	a := api(t, s, http.MethodGet, "/crm/v7/users?type=CurrentUser", tok, "")
	want := `{"code":"TOO_MANY_REQUESTS","details":{},"message":"You have reached the concurrency limit","status":"error"}`
	if diff := cmp.Diff(decode(t, want), a.body); a.status != http.StatusTooManyRequests || diff != "" {
		t.Errorf("third call in flight = %d, want 429; diff (-want +got):\n%s", a.status, diff)
	}
	if a.header.Get("X-API-CREDITS-REMAINING") != "" {
		t.Errorf("concurrency 429 carries X-API-CREDITS-REMAINING %q, want none", a.header.Get("X-API-CREDITS-REMAINING"))
	}
	unblock()
	wg.Wait()
	if diff := cmp.Diff([]int{200, 200}, statuses); diff != "" {
		t.Errorf("held calls statuses mismatch (-want +got):\n%s", diff)
	}
	if got := s.MaxInFlight(); got != 3 {
		t.Errorf("MaxInFlight() = %d, want 3", got)
	}
	if a := api(t, s, http.MethodGet, "/crm/v7/users?type=CurrentUser", tok, ""); a.status != 200 {
		t.Errorf("call after the others finished = %d, want 200", a.status)
	}
	var rejected []Request
	for _, r := range s.Requests() {
		if r.Status == http.StatusTooManyRequests {
			rejected = append(rejected, r)
		}
	}
	if len(rejected) != 1 || rejected[0].InFlight != 3 || rejected[0].Path != "/crm/v7/users" {
		t.Errorf("logged 429s = %+v, want one /crm/v7/users call with InFlight 3", rejected)
	}
}

func TestDailyCredits(t *testing.T) {
	s, clk := start(t, Config{DailyCredits: 4})
	tok := getToken(t, s)
	for i, want := range []string{"", "2", "1", "0"} {
		a := api(t, s, http.MethodGet, "/crm/v7/org", tok, "")
		if a.status != 200 || a.header.Get("X-API-CREDITS-REMAINING") != want {
			t.Errorf("call %d = %d with X-API-CREDITS-REMAINING %q, want 200 with %q", i+1, a.status, a.header.Get("X-API-CREDITS-REMAINING"), want)
		}
		if _, present := a.header["X-Api-Credits-Remaining"]; present != (want != "") {
			t.Errorf("call %d: header present = %t, want %t", i+1, present, want != "")
		}
		clk.Advance(time.Minute)
	}
	a := api(t, s, http.MethodGet, "/crm/v7/org", tok, "")
	want := `{"code":"TOO_MANY_REQUESTS","details":{},"message":"You have exceeded the API limit for the day","status":"error"}`
	if diff := cmp.Diff(decode(t, want), a.body); a.status != 429 || a.header.Get("X-API-CREDITS-REMAINING") != "0" || diff != "" {
		t.Errorf("call over the budget = %d with header %q, want 429 with 0; diff (-want +got):\n%s", a.status, a.header.Get("X-API-CREDITS-REMAINING"), diff)
	}
	// The first credit is freed 24 hours after it was spent; token requests are free.
	clk.Advance(24*time.Hour - 4*time.Minute)
	tok = getToken(t, s)
	a = api(t, s, http.MethodGet, "/crm/v7/org", tok, "")
	if a.status != 200 || a.header.Get("X-API-CREDITS-REMAINING") != "0" {
		t.Errorf("call after one credit was freed = %d with header %q, want 200 with 0", a.status, a.header.Get("X-API-CREDITS-REMAINING"))
	}
	clk.Advance(24 * time.Hour)
	if a := api(t, s, http.MethodGet, "/crm/v7/org", getToken(t, s), ""); a.status != 200 || a.header.Get("X-API-CREDITS-REMAINING") != "" {
		t.Errorf("call a day later = %d with header %q, want 200 without the header", a.status, a.header.Get("X-API-CREDITS-REMAINING"))
	}
}

func TestLatency(t *testing.T) {
	s, _ := start(t, Config{Latency: 5 * time.Millisecond})
	tok := getToken(t, s)
	begin := time.Now()
	if a := api(t, s, http.MethodGet, "/crm/v7/org", tok, ""); a.status != 200 {
		t.Fatalf("GET /org = %d", a.status)
	}
	if d := time.Since(begin); d < 5*time.Millisecond {
		t.Errorf("GET /org took %v, want at least the 5ms latency", d)
	}
}

// TestLatencyJitter: with a jitter, answers take Latency plus a draw from
// [0, LatencyJitter], not one fixed time.
func TestLatencyJitter(t *testing.T) {
	const lat, jit = 5 * time.Millisecond, 20 * time.Millisecond
	s, _ := start(t, Config{Latency: lat, LatencyJitter: jit})
	seen := map[time.Duration]bool{}
	for range 200 {
		d := s.latency()
		if d < lat || d > lat+jit {
			t.Fatalf("latency() = %v, want within [%v, %v]", d, lat, lat+jit)
		}
		seen[d] = true
	}
	if len(seen) < 100 {
		t.Errorf("200 answers' latencies took %d values, want them spread over [%v, %v]", len(seen), lat, lat+jit)
	}
	tok := getToken(t, s)
	begin := time.Now()
	if a := api(t, s, http.MethodGet, "/crm/v7/org", tok, ""); a.status != 200 {
		t.Fatalf("GET /org = %d", a.status)
	}
	if d := time.Since(begin); d < lat {
		t.Errorf("GET /org took %v, want at least the 5ms latency", d)
	}
	if _, err := Start(Config{LatencyJitter: -time.Millisecond}); err == nil {
		t.Error("Start with a negative jitter: no error")
	}
}

func TestCloseEndsWaitingCalls(t *testing.T) {
	s, err := Start(Config{Latency: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := send(t, nil, http.MethodGet, s.URL()+"/crm/v7/org", "", "")
		done <- err
	}()
	for len(s.Requests()) == 0 {
		time.Sleep(time.Millisecond)
	}
	if err := s.Close(); err != nil {
		t.Errorf("Close() = %v, want no error", err)
	}
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("a call waiting out its latency outlived Close")
	}
}

func TestFaults(t *testing.T) {
	tests := []struct {
		fault   Fault
		status  int
		want    string
		dropped bool
		job     bool
	}{
		{ServerError, 500, `{"code":"INTERNAL_ERROR","details":{},"message":"Internal Server Error","status":"error"}`, false, false},
		{ServiceUnavailable, 503, `{"code":"SERVICE_UNAVAILABLE","details":{},"message":"Service is temporarily unavailable","status":"error"}`, false, false},
		{TooManyRequests, 429, `{"code":"TOO_MANY_REQUESTS","details":{},"message":"You have reached the concurrency limit","status":"error"}`, false, false},
		{DropBeforeCommit, 0, "", true, false},
		{DropAfterCommit, 0, "", true, true},
	}
	for _, tt := range tests {
		t.Run(tt.fault.String(), func(t *testing.T) {
			s, clk := start(t, Config{})
			tok := getToken(t, s)
			var calls []Call
			var mu sync.Mutex
			s.SetFaults(func(c Call) Fault {
				mu.Lock()
				defer mu.Unlock()
				calls = append(calls, c)
				if c.Method == http.MethodPost && c.Seq == 1 {
					return tt.fault
				}
				return NoFault
			})
			body := transferBody(demoID(417), demoID(418), "")
			a, err := send(t, nil, http.MethodPost, s.URL()+pathTransfer(demoID(417)), tok, body)
			if tt.dropped {
				if err == nil {
					t.Fatalf("POST with %v = %d %s, want a transport error", tt.fault, a.status, a.raw)
				}
			} else if diff := cmp.Diff(decode(t, tt.want), a.body); err != nil || a.status != tt.status || diff != "" {
				t.Fatalf("POST with %v = %d, %v, want %d; diff (-want +got):\n%s", tt.fault, a.status, err, tt.status, diff)
			}
			if got := len(s.Jobs()); got != map[bool]int{false: 0, true: 1}[tt.job] {
				t.Errorf("after %v len(Jobs()) = %d, want job created %t", tt.fault, got, tt.job)
			}
			log := s.Requests()
			last := log[len(log)-1]
			if last.Dropped != tt.dropped || last.Status != tt.status || last.Token {
				t.Errorf("logged request = %+v, want Dropped %t Status %d", last, tt.dropped, tt.status)
			}
			// The hook saw the call; a second one (Seq 2) is handled normally.
			second := api(t, s, http.MethodPost, pathTransfer(demoID(417)), tok, body)
			if tt.job {
				if field(second.body, "code") != "NOT_ALLOWED" {
					t.Errorf("resend after DropAfterCommit = %s, want NOT_ALLOWED (job already running)", second.raw)
				}
				clk.Advance(DefaultJobDuration)
				if u, _ := s.User(demoID(417)); u["status"] != "deleted" {
					t.Errorf("user after the dropped job ran = %v, want deleted", u["status"])
				}
			} else if second.status != 200 {
				t.Errorf("resend after %v = %d %s, want 200", tt.fault, second.status, second.raw)
			}
			mu.Lock()
			defer mu.Unlock()
			want := []Call{
				{Method: "POST", Path: pathTransfer(demoID(417)), Query: url.Values{}, Body: []byte(body), Seq: 1},
				{Method: "POST", Path: pathTransfer(demoID(417)), Query: url.Values{}, Body: []byte(body), Seq: 2},
			}
			if diff := cmp.Diff(want, calls); diff != "" {
				t.Errorf("calls seen by the hook mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestFaultOnTokenEndpoint(t *testing.T) {
	s, _ := start(t, Config{})
	s.SetFaults(func(c Call) Fault {
		if c.Path == "/oauth/v2/token" && c.Seq == 1 {
			return ServerError
		}
		return NoFault
	})
	if a := tokenCall(t, s, refreshParams(s)); a.status != 500 {
		t.Errorf("token request with ServerError = %d, want 500", a.status)
	}
	getToken(t, s)
	s.SetFaults(nil)
	if got := s.CountCalls(http.MethodPost, "/oauth/"); got != 2 {
		t.Errorf("CountCalls(POST, /oauth/) = %d, want 2", got)
	}
}

func TestRequestLog(t *testing.T) {
	s, clk := start(t, Config{})
	tok := getToken(t, s)
	clk.Advance(time.Second)
	api(t, s, http.MethodGet, "/crm/v7/users?type=ActiveUsers&page=1", tok, "")
	api(t, s, http.MethodPost, transferPath, tok, transferBody(demoID(417), demoID(418), ""))
	t0 := newClock().Now()
	want := []Request{
		{Method: "POST", Path: "/oauth/v2/token", RawQuery: refreshParams(s).Encode(), Start: t0, End: t0, Status: 200, Token: true},
		{Method: "GET", Path: "/crm/v7/users", RawQuery: "type=ActiveUsers&page=1", Start: t0.Add(time.Second), End: t0.Add(time.Second), Status: 200, InFlight: 1},
		{Method: "POST", Path: transferPath, Body: []byte(transferBody(demoID(417), demoID(418), "")), Start: t0.Add(time.Second), End: t0.Add(time.Second), Status: 200, InFlight: 1},
	}
	if diff := cmp.Diff(want, s.Requests(), cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("Requests() mismatch (-want +got):\n%s", diff)
	}
	for _, tt := range []struct {
		method, prefix string
		want           int
	}{{"", "/crm/v7/users", 2}, {"GET", "/crm/", 1}, {"POST", "", 2}, {"DELETE", "", 0}} {
		if got := s.CountCalls(tt.method, tt.prefix); got != tt.want {
			t.Errorf("CountCalls(%q, %q) = %d, want %d", tt.method, tt.prefix, got, tt.want)
		}
	}
}

// TestKeepRequests: a sandbox left running keeps only the latest requests
// in its log, and still answers every one.
func TestKeepRequests(t *testing.T) {
	s, _ := start(t, Config{KeepRequests: 5})
	tok := getToken(t, s)
	for i := range 23 {
		a := api(t, s, http.MethodGet, "/crm/v7/users/"+demoID(411+i%20), tok, "")
		if a.status != 200 {
			t.Fatalf("GET /users/%s = %d", demoID(411+i%20), a.status)
		}
	}
	log := s.Requests()
	if len(log) < 5 || len(log) >= 10 {
		t.Fatalf("request log holds %d requests, want between 5 and 9 (KeepRequests 5)", len(log))
	}
	last := log[len(log)-1]
	if last.Path != "/crm/v7/users/"+demoID(411+22%20) || last.Status != 200 || last.End.IsZero() {
		t.Errorf("latest request logged = %s %d, want the 23rd call, answered", last.Path, last.Status)
	}
	if n := s.CountCalls(http.MethodGet, "/crm/v7/users/"); n != len(log) {
		t.Errorf("CountCalls() = %d, want the %d requests kept", n, len(log))
	}

	all, _ := start(t, Config{})
	tok = getToken(t, all)
	for range 30 {
		api(t, all, http.MethodGet, "/crm/v7/org", tok, "")
	}
	if n := len(all.Requests()); n != 31 {
		t.Errorf("an unbounded log holds %d requests, want all 31", n)
	}
}
