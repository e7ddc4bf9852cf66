// Package notify posts one JSON summary of a finished run to a webhook
// (offboard run --notify URL): its exit status, its counts per outcome, the
// org, the results file and the rows that need a person, with a text field
// that Slack's and Teams' incoming webhooks display as it is.
//
// A webhook's URL is a secret in itself (whoever holds a Slack webhook's
// URL can post to the channel): nothing here prints more of it than its
// scheme and host (Target), and no error returned quotes it.
package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"offboard/termtext"
)

// MaxAttention is how many rows that need attention a payload lists.
const MaxAttention = 20

// textRows is how many of them its text lists.
const textRows = 5

// Payload is the JSON posted: one summary of a run.
type Payload struct {
	// Text is a few lines for a person; Slack and Teams show it as it is.
	Text string `json:"text"`
	// ExitStatus is offboard's exit status; Outcome says it in a word:
	// ok (0), failed (1), incomplete (3) or interrupted (130).
	ExitStatus int    `json:"exit_status"`
	Outcome    string `json:"outcome"`
	// Message is the last line offboard printed, when it ended on an
	// error.
	Message string `json:"message,omitempty"`
	// Counts are the rows per outcome; empty when the run stopped before
	// it had checked its rows.
	Counts map[string]int `json:"counts"`
	Org    *Org           `json:"org,omitempty"`
	// Sandbox says the run was against the built-in demo org.
	Sandbox bool `json:"sandbox,omitempty"`
	// Results is the absolute path of the results file on Host; "" when
	// none was written.
	Results string `json:"results,omitempty"`
	// Input is the sheet's file name.
	Input string `json:"input,omitempty"`
	Host  string `json:"host,omitempty"`
	// Attention are the first MaxAttention rows that need a person (failed,
	// invalid, submitted, not_run), of AttentionTotal.
	Attention      []Row     `json:"attention"`
	AttentionTotal int       `json:"attention_total"`
	Version        string    `json:"version"`
	EndedAt        time.Time `json:"ended_at"`
}

// Org is the org a run was against.
type Org struct {
	Name string `json:"name,omitempty"`
	ID   string `json:"id,omitempty"`
}

// Row is one row that needs attention.
type Row struct {
	Row       int    `json:"row"`
	Outcome   string `json:"outcome"`
	Code      string `json:"code,omitempty"`
	Reason    string `json:"reason,omitempty"`
	UserEmail string `json:"user_email,omitempty"`
}

// OutcomeOf names an exit status.
func OutcomeOf(status int) string {
	switch status {
	case 0:
		return "ok"
	case 3:
		return "incomplete"
	case 130:
		return "interrupted"
	}
	return "failed"
}

// SetText writes p.Text from the rest of p: a headline, the org and the
// sheet, the counts, the results file and the first rows that need
// attention. Text from outside (an org's name, a reason quoting a cell) has
// its control characters escaped, and &, < and > written as Slack asks, so
// that a cell reading <!channel> notifies no one.
func (p *Payload) SetText() {
	var b strings.Builder
	who := "offboard run"
	if p.Host != "" {
		who += " on " + p.Host
	}
	total := 0
	for _, n := range p.Counts {
		total += n
	}
	switch p.Outcome {
	case "ok":
		fmt.Fprintf(&b, "%s: done, every row deleted, skipped or deferred (exit 0)", who)
	case "incomplete":
		fmt.Fprintf(&b, "%s: %d of %d rows need attention (exit 3)", who, p.AttentionTotal, total)
	case "interrupted":
		fmt.Fprintf(&b, "%s: interrupted (exit 130); run the same command again to resume", who)
	default:
		fmt.Fprintf(&b, "%s: failed (exit %d)", who, p.ExitStatus)
	}
	if p.Message != "" && (p.Outcome == "failed" || p.Outcome == "interrupted") {
		fmt.Fprintf(&b, "\n%s", p.Message)
	}
	var where []string
	if p.Org != nil {
		org := p.Org.Name
		if org == "" {
			org = "org"
		}
		if p.Org.ID != "" {
			org += " (" + p.Org.ID + ")"
		}
		if p.Sandbox {
			org += ", the built-in sandbox"
		}
		where = append(where, "Org: "+org)
	}
	if p.Input != "" {
		where = append(where, "input "+p.Input)
	}
	if len(where) > 0 {
		fmt.Fprintf(&b, "\n%s", strings.Join(where, "; "))
	}
	var counts []string
	for _, o := range countOrder {
		if n := p.Counts[o]; n > 0 {
			counts = append(counts, fmt.Sprintf("%s %d", o, n))
		}
	}
	if len(counts) > 0 {
		fmt.Fprintf(&b, "\n%s", strings.Join(counts, ", "))
	}
	if p.Results != "" {
		fmt.Fprintf(&b, "\nResults: %s", p.Results)
	}
	for i, r := range p.Attention {
		if i == textRows {
			break
		}
		fmt.Fprintf(&b, "\n- row %d %s", r.Row, r.Outcome)
		if r.Code != "" {
			fmt.Fprintf(&b, " %s", r.Code)
		}
		if r.Reason != "" {
			fmt.Fprintf(&b, ": %s", shorten(r.Reason, 120))
		}
	}
	if more := p.AttentionTotal - min(len(p.Attention), textRows); more > 0 {
		fmt.Fprintf(&b, "\n... and %d more in the results", more)
	}
	p.Text = escape(b.String())
}

// countOrder is the order the text lists counts in, as the run's summary
// does.
var countOrder = []string{"deleted", "submitted", "failed", "invalid", "skipped", "deferred", "planned", "not_run"}

// escape makes text safe to show: control characters escaped line by line,
// and &, < and > as Slack's formatting asks.
func escape(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = termtext.Line(l)
	}
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(strings.Join(lines, "\n"))
}

// Check parses a webhook URL and refuses what must not be posted to:
// anything but https, except plain http to loopback (a local relay, a
// test). The error never quotes the URL: it may hold a token.
func Check(raw string) (*url.URL, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || u.Host == "" || u.Opaque != "" {
		return nil, errors.New("not an absolute URL (want https://host/path)")
	}
	switch strings.ToLower(u.Scheme) {
	case "https":
		return u, nil
	case "http":
		if Loopback(u.Hostname()) {
			return u, nil
		}
		return nil, fmt.Errorf("plain http is refused except to loopback (127.0.0.1, ::1, localhost): the summary would cross the network unencrypted; use https://%s", u.Host)
	}
	return nil, fmt.Errorf("scheme %q: want https (or http to loopback)", termtext.Line(u.Scheme))
}

// Loopback reports whether host is localhost or a loopback address.
func Loopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Target is what may be shown of a webhook's URL: its scheme and host.
func Target(u *url.URL) string {
	return strings.ToLower(u.Scheme) + "://" + u.Host
}

// Options tune a Post.
type Options struct {
	// Timeout bounds each attempt; 0 means 10 s.
	Timeout time.Duration
	// RetryWait is the pause before the one retry; 0 means 2 s. A 429's
	// Retry-After may lengthen it, up to MaxRetryWait.
	RetryWait time.Duration
	// UserAgent is sent as the User-Agent header.
	UserAgent string
}

// MaxRetryWait bounds the pause a 429's Retry-After asks for.
const MaxRetryWait = 10 * time.Second

// Post sends p to u as JSON: at most two attempts (the second after a
// network error, a timeout, a 5xx or a 429), each bounded by Timeout.
// Redirects are not followed. Any 2xx is success. The error says why the
// last attempt failed, in words that do not quote the URL.
func Post(ctx context.Context, u *url.URL, p Payload, o Options) error {
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	if o.RetryWait <= 0 {
		o.RetryWait = 2 * time.Second
	}
	body, err := json.Marshal(p)
	if err != nil {
		return err
	}
	client := &http.Client{
		Transport: http.DefaultTransport.(*http.Transport).Clone(),
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
	defer client.CloseIdleConnections()
	var lastErr error
	for attempt := 1; attempt <= 2; attempt++ {
		wait, retry, err := postOnce(ctx, client, u, body, o)
		if err == nil {
			return nil
		}
		lastErr = err
		if !retry || attempt == 2 {
			break
		}
		t := time.NewTimer(max(o.RetryWait, min(wait, MaxRetryWait)))
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%w (not retried: %v)", lastErr, ctx.Err())
		case <-t.C:
		}
	}
	if retriable(lastErr) {
		return fmt.Errorf("%w, twice", lastErr)
	}
	return lastErr
}

// attemptError is a failed attempt that a retry may mend.
type attemptError struct{ msg string }

func (e attemptError) Error() string { return e.msg }

func retriable(err error) bool {
	var a attemptError
	return errors.As(err, &a)
}

// postOnce makes one attempt. It returns how long a 429 asked to wait,
// whether another attempt may succeed, and why this one failed.
func postOnce(ctx context.Context, client *http.Client, u *url.URL, body []byte, o Options) (time.Duration, bool, error) {
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), bytes.NewReader(body))
	if err != nil {
		return 0, false, errors.New("cannot build the request")
	}
	req.Header.Set("Content-Type", "application/json")
	if o.UserAgent != "" {
		req.Header.Set("User-Agent", o.UserAgent)
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, true, attemptError{netReason(ctx, err, o.Timeout)}
	}
	defer resp.Body.Close()
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	code := resp.StatusCode
	if code >= 200 && code < 300 {
		return 0, false, nil
	}
	msg := fmt.Sprintf("answered %s", resp.Status)
	if s := strings.TrimSpace(string(snippet)); s != "" {
		// An error page may quote the request's path, which is the
		// webhook's secret: everything past the host is cut out of it.
		for _, secret := range []string{u.EscapedPath(), u.Path, u.RawQuery, u.User.String()} {
			if len(secret) > 1 {
				s = strings.ReplaceAll(s, secret, "[redacted]")
			}
		}
		msg += fmt.Sprintf(" (%s)", shorten(termtext.Line(s), 200))
	}
	switch {
	case code >= 300 && code < 400:
		return 0, false, errors.New(msg + ": a redirect, not followed")
	case code == http.StatusTooManyRequests:
		wait := time.Duration(0)
		if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s > 0 {
			wait = time.Duration(s) * time.Second
		}
		return wait, true, attemptError{msg}
	case code >= 500:
		return 0, true, attemptError{msg}
	}
	return 0, false, errors.New(msg)
}

// netReason says why a request got no answer, without the URL that
// *url.Error quotes.
func netReason(ctx context.Context, err error, timeout time.Duration) string {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded) {
		return fmt.Sprintf("no answer within %s", timeout)
	}
	var uerr *url.Error
	if errors.As(err, &uerr) {
		err = uerr.Err
	}
	var dns *net.DNSError
	if errors.As(err, &dns) {
		return fmt.Sprintf("cannot resolve %s", dns.Name)
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Err != nil {
		cause := op.Err
		var sys *os.SyscallError
		if errors.As(cause, &sys) {
			cause = sys.Err
		}
		return fmt.Sprintf("cannot connect: %v", cause)
	}
	return fmt.Sprintf("no answer: %v", err)
}

func shorten(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n]) + "..."
}
