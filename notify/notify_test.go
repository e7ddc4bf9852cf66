package notify

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestCheck(t *testing.T) {
	for _, tt := range []struct {
		raw  string
		ok   bool
		want string // in the error
	}{
		{"https://hooks.slack.com/services/T0/B0/XYZ", true, ""},
		{"HTTPS://example.com/hook", true, ""},
		{"http://127.0.0.1:8080/hook", true, ""},
		{"http://127.1.2.3/hook", true, ""},
		{"http://[::1]:9/hook", true, ""},
		{"http://localhost:9/hook", true, ""},
		{"http://LOCALHOST/hook", true, ""},
		{"http://hooks.example.com/services/SECRET", false, "plain http is refused except to loopback"},
		{"http://10.0.0.1/SECRET", false, "plain http is refused"},
		{"http://localhost.example.com/SECRET", false, "plain http is refused"},
		{"ftp://example.com/SECRET", false, `scheme "ftp"`},
		{"hooks.slack.com/services/SECRET", false, "not an absolute URL"},
		{"https://", false, "not an absolute URL"},
		{"mailto:SECRET@example.com", false, "not an absolute URL"},
		{"https://exa mple.com/%zzSECRET", false, "not an absolute URL"},
	} {
		u, err := Check(tt.raw)
		if (err == nil) != tt.ok || (err != nil && !strings.Contains(err.Error(), tt.want)) {
			t.Errorf("Check(%q) = %v, %v; want ok %v, error with %q", tt.raw, u, err, tt.ok, tt.want)
		}
		if err != nil && strings.Contains(err.Error(), "SECRET") {
			t.Errorf("Check(%q)'s error quotes the URL's secret part: %v", tt.raw, err)
		}
	}
}

func TestTarget(t *testing.T) {
	u, _ := url.Parse("https://user:pass@hooks.slack.com:443/services/T0/B0/XYZ?token=abc#f")
	if got := Target(u); got != "https://hooks.slack.com:443" {
		t.Errorf("Target = %q, want the scheme and host only", got)
	}
}

func TestOutcomeOf(t *testing.T) {
	for status, want := range map[int]string{0: "ok", 1: "failed", 2: "failed", 3: "incomplete", 130: "interrupted"} {
		if got := OutcomeOf(status); got != want {
			t.Errorf("OutcomeOf(%d) = %q, want %q", status, got, want)
		}
	}
}

func TestText(t *testing.T) {
	p := Payload{
		ExitStatus: 3, Outcome: "incomplete", Host: "cron1",
		Counts: map[string]int{"deleted": 5, "failed": 1, "invalid": 6, "not_run": 0},
		Org:    &Org{Name: "Acme & <Co>", ID: "42"}, Input: "leavers.xlsx", Results: "/srv/r.xlsx",
		AttentionTotal: 7,
	}
	p.Attention = append(p.Attention, Row{Row: 7, Outcome: "failed", Code: "JOB_FAILED", Reason: "the job failed"})
	for i := range 6 {
		p.Attention = append(p.Attention, Row{Row: 20 + i, Outcome: "invalid", Code: "BAD_VALUE", Reason: "cell <!channel>\x1b[2J"})
	}
	p.SetText()
	for _, want := range []string{
		"offboard run on cron1: 7 of 12 rows need attention (exit 3)\n",
		"Org: Acme &amp; &lt;Co&gt; (42); input leavers.xlsx\n",
		"deleted 5, failed 1, invalid 6\n",
		"Results: /srv/r.xlsx\n",
		"- row 7 failed JOB_FAILED: the job failed\n",
		"- row 20 invalid BAD_VALUE: cell &lt;!channel&gt;\\x1b[2J\n",
		"... and 2 more in the results",
	} {
		if !strings.Contains(p.Text, want) {
			t.Errorf("text lacks %q:\n%s", want, p.Text)
		}
	}
	if strings.Count(p.Text, "\n- row") != textRows {
		t.Errorf("text lists %d rows, want %d:\n%s", strings.Count(p.Text, "\n- row"), textRows, p.Text)
	}

	failed := Payload{ExitStatus: 1, Outcome: "failed", Message: "zoho: the refresh token was refused", Input: "l.csv"}
	failed.SetText()
	if want := "offboard run: failed (exit 1)\nzoho: the refresh token was refused\ninput l.csv"; failed.Text != want {
		t.Errorf("text of a run that could not start = %q, want %q", failed.Text, want)
	}
}

// hook is a webhook that answers with the statuses given, in turn (the
// last one from then on), and counts the requests.
func hook(t *testing.T, statuses ...int) (*httptest.Server, *atomic.Int32) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i := int(n.Add(1)) - 1
		if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" {
			t.Errorf("request %s with Content-Type %q", r.Method, r.Header.Get("Content-Type"))
		}
		var p Payload
		if err := json.NewDecoder(r.Body).Decode(&p); err != nil {
			t.Errorf("body: %v", err)
		}
		w.WriteHeader(statuses[min(i, len(statuses)-1)])
		io.WriteString(w, "body_says_why")
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

var fast = Options{Timeout: 2 * time.Second, RetryWait: time.Millisecond}

func TestPostRetriesOnce(t *testing.T) {
	for _, tt := range []struct {
		name     string
		statuses []int
		requests int32
		ok       bool
		want     string
	}{
		{"ok", []int{200}, 1, true, ""},
		{"204", []int{204}, 1, true, ""},
		{"500 then ok", []int{500, 200}, 2, true, ""},
		{"429 then ok", []int{429, 200}, 2, true, ""},
		{"500 twice", []int{500}, 2, false, "answered 500 Internal Server Error (body_says_why), twice"},
		{"503 three times", []int{503, 503, 200}, 2, false, "503"},
		{"404 not retried", []int{404}, 1, false, "answered 404 Not Found (body_says_why)"},
		{"400 not retried", []int{400}, 1, false, "400"},
	} {
		srv, n := hook(t, tt.statuses...)
		u, _ := url.Parse(srv.URL + "/services/SECRET")
		err := Post(t.Context(), u, Payload{Text: "hi"}, fast)
		if (err == nil) != tt.ok || n.Load() != tt.requests || (err != nil && !strings.Contains(err.Error(), tt.want)) {
			t.Errorf("%s: Post = %v after %d requests; want ok %v after %d, error with %q", tt.name, err, n.Load(), tt.ok, tt.requests, tt.want)
		}
		if err != nil && strings.Contains(err.Error(), "SECRET") {
			t.Errorf("%s: the error quotes the URL: %v", tt.name, err)
		}
	}
}

func TestPostFollowsNoRedirect(t *testing.T) {
	elsewhere, reached := hook(t, 200)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, elsewhere.URL, http.StatusTemporaryRedirect)
	}))
	defer srv.Close()
	u, _ := url.Parse(srv.URL)
	err := Post(t.Context(), u, Payload{}, fast)
	if err == nil || !strings.Contains(err.Error(), "a redirect, not followed") || reached.Load() != 0 {
		t.Errorf("Post to a redirect = %v, %d requests reached its target; want an error and none", err, reached.Load())
	}
}

func TestPostTimesOut(t *testing.T) {
	release := make(chan struct{})
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	u, _ := url.Parse(srv.URL + "/SECRET")
	err := Post(t.Context(), u, Payload{}, Options{Timeout: 50 * time.Millisecond, RetryWait: time.Millisecond})
	if err == nil || !strings.Contains(err.Error(), "no answer within 50ms, twice") || n.Load() != 2 {
		t.Errorf("Post to a webhook that never answers = %v after %d requests; want no answer, twice", err, n.Load())
	}
	if err != nil && strings.Contains(err.Error(), "SECRET") {
		t.Errorf("the error quotes the URL: %v", err)
	}
}

func TestPostUnreachable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	u, _ := url.Parse(srv.URL + "/SECRET")
	srv.Close()
	err := Post(t.Context(), u, Payload{}, fast)
	if err == nil || !strings.Contains(err.Error(), "cannot connect: ") || !strings.HasSuffix(err.Error(), ", twice") || strings.Contains(err.Error(), "SECRET") || strings.Contains(err.Error(), srv.URL) {
		t.Errorf("Post to a closed port = %v; want cannot connect, without the URL", err)
	}
}

func TestPostCancelledContextStillBounded(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	srv, n := hook(t, 200)
	u, _ := url.Parse(srv.URL)
	if err := Post(ctx, u, Payload{}, fast); err == nil || n.Load() != 0 {
		t.Errorf("Post on a cancelled context = %v after %d requests; want an error and none", err, n.Load())
	}
}

// TestPostErrorPageQuotingThePath: an error page that quotes the request's
// path (Express's "Cannot POST /path") must not carry the webhook's secret
// path into the warning.
func TestPostErrorPageQuotingThePath(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprintf(w, "<pre>Cannot POST %s?%s</pre>", r.URL.Path, r.URL.RawQuery)
	}))
	defer srv.Close()
	u, _ := url.Parse(srv.URL + "/express/T0/B0/XOXB-PATH-SECRET?token=QUERYSECRET")
	err := Post(t.Context(), u, Payload{Text: "hi"}, fast)
	if err == nil || strings.Contains(err.Error(), "PATH-SECRET") || strings.Contains(err.Error(), "QUERYSECRET") || !strings.Contains(err.Error(), "404") {
		t.Errorf("Post = %v; want the 404 without the path or query", err)
	}
}
