package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	"offboard/journal"
	"offboard/notify"
	"offboard/sandbox"
	"offboard/sandbox/sandboxtest"
)

// webhookServer is a local webhook: it answers each post with the status
// reply gives (200 when nil), keeps the bodies, and notes whether the
// results file existed when each post arrived ("": none is).
type webhookServer struct {
	*httptest.Server
	results string // the results file the posts must come after
	reply   func(i int, w http.ResponseWriter, r *http.Request)

	mu      sync.Mutex
	bodies  [][]byte
	written []bool
}

func newWebhook(t *testing.T, results string, reply func(int, http.ResponseWriter, *http.Request)) *webhookServer {
	t.Helper()
	h := &webhookServer{results: results, reply: reply}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		_, err := os.Stat(h.results)
		h.mu.Lock()
		i := len(h.bodies)
		h.bodies = append(h.bodies, body)
		h.written = append(h.written, h.results == "" || err == nil)
		h.mu.Unlock()
		if h.reply != nil {
			h.reply(i, w, r)
		}
	}))
	t.Cleanup(h.Close)
	return h
}

// hook is the webhook's URL, with a path that stands for the secret a
// Slack webhook's path is.
func (h *webhookServer) hook() string { return h.URL + "/services/T0/B0/HOOKSECRET" }

// posts returns the payloads received, decoded.
func (h *webhookServer) posts(t *testing.T) []map[string]any {
	t.Helper()
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []map[string]any
	for i, b := range h.bodies {
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("post %d is not JSON: %v\n%s", i, err, b)
		}
		if !h.written[i] {
			t.Errorf("post %d arrived before the results file %s was written", i, h.results)
		}
		out = append(out, m)
	}
	return out
}

// runNotify is runCmd with the webhook's timeout and pause before the
// retry tuned short.
func runNotify(t *testing.T, timeout time.Duration, environ map[string]string, args ...string) (int, string, string) {
	t.Helper()
	environ, args = commandLine(environ, args)
	var out, errOut bytes.Buffer
	e := env{stdout: &out, stderr: &errOut, stdin: strings.NewReader(""),
		getenv:  func(k string) string { return environ[k] },
		tuneRun: fastRun, sandboxJobs: 100 * time.Millisecond,
		tuneNotify: func(o *notify.Options) { o.Timeout, o.RetryWait = timeout, 10*time.Millisecond }}
	code := run(t.Context(), e, args)
	return code, out.String(), errOut.String()
}

// checkNoSecret fails the test if a payload holds one of the org's secrets
// or anything named a token.
func checkNoSecret(t *testing.T, srv *sandbox.Server, h *webhookServer, also ...string) {
	t.Helper()
	_, secret, refresh := srv.Credentials()
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, b := range h.bodies {
		for _, s := range append([]string{secret, refresh, "HOOKSECRET", "oauthtoken", "access_token", "refresh_token"}, also...) {
			if bytes.Contains(b, []byte(s)) {
				t.Errorf("the payload holds %q:\n%s", s, b)
			}
		}
	}
}

// TestNotifyIncompleteRun: the sample's run ends with rows that need
// attention (exit 3) and posts one summary, after the results are
// written, with the counts, the org, the results file and the rows.
func TestNotifyIncompleteRun(t *testing.T) {
	srv, environ := simEnv(t, sandbox.Config{JobDuration: 40 * time.Millisecond})
	out := filepath.Join(t.TempDir(), "run.xlsx")
	h := newWebhook(t, out, nil)
	code, _, stderr := runNotify(t, 0, environ, "run", "--input", "samples/offboarding.csv", "--output", out,
		"--as-of", "2026-11-28", "--yes", "--log-format", "json", "--notify", h.hook())
	if code != exitIncomplete {
		t.Fatalf("offboard run = %d, want 3; stderr:\n%s", code, stderr)
	}
	posts := h.posts(t)
	if len(posts) != 1 {
		t.Fatalf("%d posts, want 1", len(posts))
	}
	p := posts[0]
	want := map[string]any{
		"exit_status": 3.0, "outcome": "incomplete",
		"counts":  map[string]any{"deleted": 5.0, "submitted": 0.0, "failed": 1.0, "invalid": 9.0, "skipped": 1.0, "deferred": 1.0, "not_run": 0.0},
		"org":     map[string]any{"name": "Northwind Demo Traders", "id": "5210498000000000101"},
		"results": out, "input": "offboarding.csv", "attention_total": 10.0,
	}
	for k, v := range want {
		if diff := cmp.Diff(v, p[k]); diff != "" {
			t.Errorf("payload %s (-want +got):\n%s", k, diff)
		}
	}
	attention, _ := p["attention"].([]any)
	if len(attention) != 10 {
		t.Fatalf("attention lists %d rows, want 10: %v", len(attention), p["attention"])
	}
	// The failed job comes first, with its reason and its user.
	first := attention[0].(map[string]any)
	if first["row"] != 7.0 || first["outcome"] != "failed" || first["code"] != "JOB_FAILED" ||
		first["user_email"] != "ravi.patel@northwind-demo.example" || !strings.Contains(first["reason"].(string), "the job failed") {
		t.Errorf("first row that needs attention: %v", first)
	}
	text, _ := p["text"].(string)
	for _, w := range []string{"10 of 17 rows need attention (exit 3)", "Northwind Demo Traders", "deleted 5, failed 1, invalid 9", "Results: " + out, "- row 7 failed JOB_FAILED"} {
		if !strings.Contains(text, w) {
			t.Errorf("text lacks %q:\n%s", w, text)
		}
	}
	if p["version"] == "" || p["host"] == nil {
		t.Errorf("payload without version or host: %v", p)
	}
	checkNoSecret(t, srv, h)
	if !strings.Contains(stderr, `"message":"--notify: the run's summary was posted"`) || strings.Contains(stderr, "HOOKSECRET") {
		t.Errorf("stderr does not say the summary was posted, or names the webhook's path:\n%s", stderr)
	}
}

// TestNotifyOKRunFromTheEnvironment: OFFBOARD_NOTIFY_URL is used when no
// flag is given; a run that deletes everyone posts exit 0 and no row.
// The flag wins over the variable, even empty.
func TestNotifyOKRunFromTheEnvironment(t *testing.T) {
	dir := t.TempDir()
	seed, sheet := crashOrg(t, dir, 3)
	for _, tt := range []struct {
		name  string
		flag  []string
		posts int
	}{
		{"variable", nil, 1},
		{"flag wins", []string{"--notify", "FLAG"}, 1},
		{"empty flag wins", []string{"--notify", ""}, 0},
	} {
		_, environ := simEnv(t, sandbox.Config{Seed: seed, JobDuration: 40 * time.Millisecond})
		out := filepath.Join(t.TempDir(), "r.xlsx")
		h := newWebhook(t, out, nil)
		environ["OFFBOARD_NOTIFY_URL"] = h.hook()
		args := []string{"run", "--input", sheet, "--output", out, "--yes"}
		for _, a := range tt.flag {
			if a == "FLAG" {
				// The variable would be refused: the flag's URL is used.
				environ["OFFBOARD_NOTIFY_URL"] = "http://hooks.example.com/services/T0/B0/HOOKSECRET"
				a = h.hook()
			}
			args = append(args, a)
		}
		code, _, stderr := runNotify(t, 0, environ, args...)
		if code != exitOK {
			t.Fatalf("%s: offboard run = %d, want 0; stderr:\n%s", tt.name, code, stderr)
		}
		posts := h.posts(t)
		if len(posts) != tt.posts {
			t.Fatalf("%s: %d posts, want %d", tt.name, len(posts), tt.posts)
		}
		if tt.posts == 0 {
			continue
		}
		p := posts[0]
		if p["exit_status"] != 0.0 || p["outcome"] != "ok" || p["attention_total"] != 0.0 || p["message"] != nil ||
			!cmp.Equal(p["attention"], []any{}) || p["counts"].(map[string]any)["deleted"] != 3.0 {
			t.Errorf("%s: payload %v", tt.name, p)
		}
		if text := p["text"].(string); !strings.Contains(text, "done, every row deleted, skipped or deferred (exit 0)") || !strings.Contains(text, "deleted 3") {
			t.Errorf("%s: text %q", tt.name, text)
		}
	}
}

// TestNotifyFailingWebhook: a webhook that answers 500 is tried twice;
// the run's exit status and results are unchanged, and a warning says
// why, naming the webhook by its scheme and host only.
func TestNotifyFailingWebhook(t *testing.T) {
	srv, environ := simEnv(t, sandbox.Config{JobDuration: 40 * time.Millisecond})
	out := filepath.Join(t.TempDir(), "run.xlsx")
	h := newWebhook(t, out, func(_ int, w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "no_service", http.StatusInternalServerError)
	})
	code, _, stderr := runNotify(t, 0, environ, "run", "--input", "samples/offboarding.csv", "--output", out,
		"--as-of", "2026-11-28", "--yes", "--log-format", "json", "--notify", h.hook())
	if code != exitIncomplete {
		t.Fatalf("offboard run = %d, want 3 as without --notify; stderr:\n%s", code, stderr)
	}
	if n := len(h.posts(t)); n != 2 {
		t.Errorf("%d posts, want 2 (one retry)", n)
	}
	warned := false
	for _, l := range logLines(t, stderr) {
		if l["level"] == "warn" && strings.HasPrefix(fmt.Sprint(l["message"]), "--notify: the run's summary was not posted") {
			warned = true
			if l["webhook"] != h.URL || !strings.Contains(fmt.Sprint(l["reason"]), "answered 500 Internal Server Error (no_service), twice") || fmt.Sprint(l["exit_status"]) != "3" {
				t.Errorf("warning: %v", l)
			}
		}
	}
	if !warned || strings.Contains(stderr, "HOOKSECRET") {
		t.Errorf("no warning, or the webhook's path in the log:\n%s", stderr)
	}
	if len(readResults(t, out)) != 17 {
		t.Errorf("the results are not all written")
	}
	checkNoSecret(t, srv, h)
}

// TestNotifyHangingWebhook: a webhook that never answers holds the end of
// the run only for the timeout, twice; the exit status is the run's.
func TestNotifyHangingWebhook(t *testing.T) {
	_, environ := simEnv(t, sandbox.Config{JobDuration: 40 * time.Millisecond})
	out := filepath.Join(t.TempDir(), "run.xlsx")
	release := make(chan struct{})
	h := newWebhook(t, out, func(_ int, _ http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	defer close(release)
	code, _, stderr := runNotify(t, 100*time.Millisecond, environ, "run", "--input", "samples/offboarding.csv", "--output", out,
		"--as-of", "2026-11-28", "--yes", "--log-format", "json", "--notify", h.hook())
	if code != exitIncomplete {
		t.Fatalf("offboard run = %d, want 3; stderr:\n%s", code, stderr)
	}
	if n := len(h.posts(t)); n != 2 {
		t.Errorf("%d posts, want 2", n)
	}
	if !strings.Contains(stderr, "no answer within 100ms, twice") {
		t.Errorf("stderr does not say the webhook did not answer:\n%s", stderr)
	}
}

// TestNotifyRefusesPlainHTTP: a webhook over plain http, except to
// loopback, or not a URL, is wrong usage: refused before anything is
// read or sent, without quoting the URL.
func TestNotifyRefusesPlainHTTP(t *testing.T) {
	srv, environ := simEnv(t, sandbox.Config{})
	for _, tt := range []struct {
		flag, variable, want string
	}{
		{"http://hooks.example.com/services/HOOKSECRET", "", "--notify: plain http is refused except to loopback"},
		{"", "http://10.1.2.3/services/HOOKSECRET", "OFFBOARD_NOTIFY_URL: plain http is refused except to loopback"},
		{"hooks.example.com/HOOKSECRET", "", "--notify: not an absolute URL"},
		{"ftp://example.com/HOOKSECRET", "", `--notify: scheme "ftp"`},
	} {
		out := filepath.Join(t.TempDir(), "r.xlsx")
		environ["OFFBOARD_NOTIFY_URL"] = tt.variable
		args := []string{"run", "--input", "samples/offboarding.csv", "--output", out, "--yes"}
		if tt.flag != "" {
			args = append(args, "--notify", tt.flag)
		}
		code, _, stderr := runNotify(t, 0, environ, args...)
		if code != exitUsage || !strings.Contains(stderr, tt.want) || strings.Contains(stderr, "HOOKSECRET") {
			t.Errorf("--notify %q, OFFBOARD_NOTIFY_URL %q: offboard run = %d, %q; want 2 and %q, without the URL's path", tt.flag, tt.variable, code, stderr, tt.want)
		}
		if _, err := os.Stat(out); err == nil {
			t.Errorf("%q: a results file was written", tt.want)
		}
	}
	if n := len(srv.Requests()); n != 0 {
		t.Errorf("%d requests reached Zoho, want none", n)
	}
}

// TestNotifyRunThatStops: a run that could not start (the refresh token
// refused) or that a guard stopped (--max-deletes) posts exit 1 with its
// reason; the guard's plan workbook is the results; no secret is sent.
func TestNotifyRunThatStops(t *testing.T) {
	t.Run("credentials refused", func(t *testing.T) {
		srv, environ := simEnv(t, sandbox.Config{})
		environ["ZOHO_REFRESH_TOKEN"] = "1000.notthetokenatall0123456789"
		out := filepath.Join(t.TempDir(), "r.xlsx")
		h := newWebhook(t, "", nil)
		code, _, stderr := runNotify(t, 0, environ, "run", "--input", "samples/offboarding.csv", "--output", out, "--yes", "--notify", h.hook())
		if code != exitFatal {
			t.Fatalf("offboard run = %d, want 1; stderr:\n%s", code, stderr)
		}
		posts := h.posts(t)
		if len(posts) != 1 {
			t.Fatalf("%d posts, want 1", len(posts))
		}
		p := posts[0]
		if p["exit_status"] != 1.0 || p["outcome"] != "failed" || !strings.Contains(fmt.Sprint(p["message"]), "the refresh token was refused") ||
			p["org"] != nil || p["results"] != nil || p["input"] != "offboarding.csv" || !cmp.Equal(p["counts"], map[string]any{}) {
			t.Errorf("payload %v", p)
		}
		if text := p["text"].(string); !strings.Contains(text, "failed (exit 1)\nread the org: zoho: the refresh token was refused") {
			t.Errorf("text %q", text)
		}
		checkNoSecret(t, srv, h, environ["ZOHO_REFRESH_TOKEN"])
	})
	t.Run("max deletes", func(t *testing.T) {
		srv, environ := simEnv(t, sandbox.Config{})
		out := filepath.Join(t.TempDir(), "r.xlsx")
		h := newWebhook(t, out, nil)
		code, _, stderr := runNotify(t, 0, environ, "run", "--input", "samples/offboarding.csv", "--output", out,
			"--as-of", "2026-11-28", "--yes", "--max-deletes", "2", "--notify", h.hook())
		if code != exitFatal {
			t.Fatalf("offboard run = %d, want 1; stderr:\n%s", code, stderr)
		}
		posts := h.posts(t)
		if len(posts) != 1 {
			t.Fatalf("%d posts, want 1", len(posts))
		}
		p := posts[0]
		counts, _ := p["counts"].(map[string]any)
		if p["exit_status"] != 1.0 || !strings.Contains(fmt.Sprint(p["message"]), "more than --max-deletes 2; nothing was sent") ||
			p["results"] != out || counts["planned"] != 6.0 || counts["invalid"] != 9.0 || p["attention_total"] != 9.0 {
			t.Errorf("payload %v", p)
		}
		if n := sandboxtest.Writes(srv); n != 0 {
			t.Errorf("%d writes reached Zoho", n)
		}
		checkNoSecret(t, srv, h)
	})
}

// TestNotifyInterruptedRun: Ctrl-C once, in a process of its own: the run
// winds down, writes its results, posts exit 130, and exits 130.
func TestNotifyInterruptedRun(t *testing.T) {
	t.Parallel()
	c := newCrashRun(t, sandbox.Config{JobDuration: 800 * time.Millisecond})
	h := newWebhook(t, c.out, nil)
	p := start(t, c.environ, append(c.args, "--notify", h.hook())...)
	waitJournal(t, c.journal, p, func(r []journal.Record) bool { return answers(r) >= 5 })
	p.cmd.Process.Signal(os.Interrupt)
	if code := p.wait(t); code != exitInterrupted {
		t.Fatalf("interrupted run = %d, want 130; stderr:\n%s", code, p.stderr.String())
	}
	posts := h.posts(t)
	if len(posts) != 1 {
		t.Fatalf("%d posts, want 1; stderr:\n%s", len(posts), p.stderr.String())
	}
	got := posts[0]
	counts, _ := got["counts"].(map[string]any)
	if got["exit_status"] != 130.0 || got["outcome"] != "interrupted" || got["results"] != c.out ||
		counts["not_run"] == 0.0 || counts["deleted"] == 0.0 || !strings.Contains(fmt.Sprint(got["message"]), "run the same command again to resume") {
		t.Errorf("payload %v", got)
	}
	if text := got["text"].(string); !strings.Contains(text, "interrupted (exit 130)") {
		t.Errorf("text %q", text)
	}
}

func TestBoundedMessage(t *testing.T) {
	long := "refused:\n" + strings.Repeat("  - row 3: a difference\n", 300)
	got := boundedMessage(long)
	if n := strings.Count(got, "\n"); n > 7 || !strings.Contains(got, "more lines: see the log") || len(got) > 2003 {
		t.Errorf("boundedMessage kept %d lines, %d bytes:\n%s", n, len(got), got)
	}
	if got := boundedMessage(strings.Repeat("é", 3000)); len(got) > 2003 || !utf8.ValidString(got) {
		t.Errorf("boundedMessage of one long line = %d bytes, valid UTF-8 %v", len(got), utf8.ValidString(got))
	}
}
