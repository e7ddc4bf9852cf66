package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"offboard/input"
	"offboard/journal"
	"offboard/runner"
	"offboard/sandbox"
	"offboard/zoho"
)

// runCmd runs one command line in-process and returns its exit status and
// output.
func runCmd(t *testing.T, environ map[string]string, args ...string) (int, string, string) {
	t.Helper()
	return runCmdIn(t, "", environ, args...)
}

// runCmdIn is runCmd with stdin as the standard input.
func runCmdIn(t *testing.T, stdin string, environ map[string]string, args ...string) (int, string, string) {
	t.Helper()
	environ, args = commandLine(environ, args)
	var out, errOut bytes.Buffer
	e := env{stdout: &out, stderr: &errOut, stdin: strings.NewReader(stdin),
		getenv:  func(k string) string { return environ[k] },
		tuneRun: fastRun, sandboxJobs: 100 * time.Millisecond}
	code := run(t.Context(), e, args)
	return code, out.String(), errOut.String()
}

// commandLine moves the flags that simEnv keeps among the environment
// (keys starting with "--": the simulator's plain-http accounts URL,
// which offboard takes only from the command line) onto the command line
// of the commands that take them.
func commandLine(environ map[string]string, args []string) (map[string]string, []string) {
	if len(args) == 0 || !slices.Contains([]string{"users", "plan", "run", "auth"}, args[0]) {
		return environ, args
	}
	env := make(map[string]string, len(environ))
	cmd := []string{args[0]}
	for k, v := range environ {
		if strings.HasPrefix(k, "--") {
			cmd = append(cmd, k, v)
		} else {
			env[k] = v
		}
	}
	return env, append(cmd, args[1:]...)
}

// fastRun polls a simulator whose jobs take milliseconds.
func fastRun(o *runner.Options) {
	o.JobDuration, o.PollMin = 40*time.Millisecond, 10*time.Millisecond
}

func TestUsage(t *testing.T) {
	tests := []struct {
		args     []string
		code     int
		inStdout string
		inStderr string
	}{
		{nil, exitUsage, "", "Usage: offboard COMMAND"},
		{[]string{"--help"}, exitOK, "Commands:", ""},
		{[]string{"frobnicate"}, exitUsage, "", `unknown command "frobnicate"`},
		{[]string{"version"}, exitOK, "offboard ", ""},
		{[]string{"--version"}, exitOK, "offboard ", ""},
		{[]string{"version", "extra"}, exitUsage, "", `unexpected argument "extra"`},
		{[]string{"users", "--no-such-flag"}, exitUsage, "", "unknown flag --no-such-flag; run 'offboard users --help'"},
		{[]string{"users", "--help"}, exitOK, "--sandbox", ""},
		{[]string{"run", "--help"}, exitOK, "--max-deletes", ""},
		{[]string{"plan", "-h"}, exitOK, "--as-of", ""},
		{[]string{"auth", "--help"}, exitOK, "--save", ""},
		{[]string{"users", "--sandbox", "--type", "Everyone"}, exitUsage, "", `--type "Everyone"`},
		{[]string{"users", "--sandbox", "--log-level", "loud"}, exitUsage, "", `--log-level "loud"`},
	}
	for _, tt := range tests {
		code, out, errOut := runCmd(t, nil, tt.args...)
		if strings.Count(out, "Usage:") > 1 {
			t.Errorf("offboard %v printed its usage %d times", tt.args, strings.Count(out, "Usage:"))
		}
		if code != tt.code || !strings.Contains(out, tt.inStdout) || !strings.Contains(errOut, tt.inStderr) {
			t.Errorf("offboard %v = %d, stdout %q, stderr %q; want %d, stdout with %q, stderr with %q",
				tt.args, code, out, errOut, tt.code, tt.inStdout, tt.inStderr)
		}
	}
}

func TestUsersSandbox(t *testing.T) {
	code, out, errOut := runCmd(t, nil, "users", "--sandbox", "--log-format", "json")
	if code != exitOK {
		t.Fatalf("offboard users --sandbox = %d, stderr %s", code, errOut)
	}
	seed := sandbox.DemoSeed()
	for _, u := range seed.Users {
		if !strings.Contains(out, u.ID) {
			t.Errorf("users --sandbox output lacks user %s (%s)", u.ID, u.Email)
		}
	}
	if strings.Count(out, "super admin") != 1 {
		t.Errorf("users --sandbox marks %d super admins, want 1:\n%s", strings.Count(out, "super admin"), out)
	}

	code, out, _ = runCmd(t, nil, "users", "--sandbox", "--type", "DeletedUsers", "--format", "csv")
	if code != exitOK {
		t.Fatalf("offboard users --type DeletedUsers --format csv = %d", code)
	}
	rows, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil {
		t.Fatalf("users --format csv output is not CSV: %v", err)
	}
	deleted := 0
	for _, u := range seed.Users {
		if u.Status == "deleted" {
			deleted++
		}
	}
	if len(rows) != deleted+1 {
		t.Errorf("users --type DeletedUsers --format csv = %d rows, want a header and %d users", len(rows), deleted)
	}
	for _, r := range rows[1:] {
		if r[3] != "deleted" {
			t.Errorf("row %v has status %q, want deleted", r, r[3])
		}
	}
}

// TestUsersAgainstServer points offboard at a running simulator through
// the environment, as a person would with a real org, and checks that a
// refused refresh token stops it with exit 1 and a message that names the
// problem but not the secret.
func TestUsersAgainstServer(t *testing.T) {
	srv, environ := simEnv(t, sandbox.Config{})
	id, secret, refresh := srv.Credentials()
	code, out, errOut := runCmd(t, environ, "users", "--log-level", "debug", "--log-format", "json")
	if code != exitOK || !strings.Contains(out, "super admin") {
		t.Fatalf("offboard users = %d, stdout %q, stderr %q", code, out, errOut)
	}
	if !strings.Contains(errOut, `"path":"/crm/v7/users"`) {
		t.Errorf("debug log has no API call line:\n%s", errOut)
	}
	for _, s := range []string{secret, refresh} {
		if strings.Contains(out+errOut, s) {
			t.Errorf("output contains the secret %q", s)
		}
	}

	// A page Zoho answers "later" is read again, as the plan's reads are.
	var failed atomic.Bool
	srv.SetFaults(func(call sandbox.Call) sandbox.Fault {
		if call.Path == "/crm/v7/users" && call.Query.Get("page") == "1" && !failed.Swap(true) {
			return sandbox.ServiceUnavailable
		}
		return sandbox.NoFault
	})
	code, out, errOut = runCmd(t, environ, "users", "--log-format", "json")
	if code != exitOK || !strings.Contains(out, "super admin") || !strings.Contains(errOut, "list the org's users (page 1)") {
		t.Errorf("offboard users with a 503 on the first page = %d, stdout %q, stderr %q; want the list after a logged retry", code, out, errOut)
	}
	srv.SetFaults(nil)

	srv.RevokeRefreshToken(refresh)
	code, out, errOut = runCmd(t, environ, "users", "--log-level", "debug")
	if code != exitFatal || !strings.Contains(errOut, "refresh token was refused") || !strings.Contains(errOut, "offboard auth, pasting a new grant code") {
		t.Errorf("offboard users with a revoked refresh token = %d, stderr %q; want 1 and the reason", code, errOut)
	}
	for _, s := range []string{secret, refresh} {
		if strings.Contains(out+errOut, s) {
			t.Errorf("output contains the secret %q", s)
		}
	}

	code, _, errOut = runCmd(t, map[string]string{"ZOHO_CLIENT_ID": id}, "users")
	if code != exitFatal || !strings.Contains(errOut, "ZOHO_CLIENT_SECRET") || !strings.Contains(errOut, "--sandbox") {
		t.Errorf("offboard users without secrets = %d, stderr %q; want 1 naming what is missing", code, errOut)
	}

	code, _, errOut = runCmd(t, map[string]string{"ZOHO_CLIENT_ID": id, "ZOHO_CLIENT_SECRET": secret, "ZOHO_REFRESH_TOKEN": refresh},
		"users", "--accounts-url", "http://accounts.example.com")
	if code != exitFatal || !strings.Contains(errOut, "plain http") {
		t.Errorf("offboard users with a plain-http accounts URL = %d, stderr %q; want 1", code, errOut)
	}
}

func TestSandboxServesUntilInterrupted(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	var out, errOut bytes.Buffer
	done := make(chan int)
	w := &syncWriter{ch: make(chan struct{}, 1), buf: &out}
	go func() {
		done <- run(ctx, env{stdout: w, stderr: &errOut, getenv: func(string) string { return "" }}, []string{"sandbox", "--latency", "0s"})
	}()
	<-w.ch // the banner was written
	cancel()
	if code := <-done; code != exitOK {
		t.Errorf("offboard sandbox stopped with %d, want 0; stderr %s", code, errOut.String())
	}
	if !strings.Contains(out.String(), "offboard users --accounts-url http://127.0.0.1:") || strings.Contains(out.String(), "export") {
		t.Errorf("offboard sandbox printed %q, want a command line that uses it, and no export line", out.String())
	}
}

// syncWriter signals its first write that mentions Ctrl-C (the end of the
// sandbox banner).
type syncWriter struct {
	ch  chan struct{}
	buf *bytes.Buffer
}

func (w *syncWriter) Write(p []byte) (int, error) {
	n, err := w.buf.Write(p)
	if bytes.Contains(p, []byte("Ctrl-C")) {
		w.ch <- struct{}{}
	}
	return n, err
}

func TestTemplate(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"leavers.xlsx", "leavers.csv"} {
		path := dir + "/" + name
		code, out, errOut := runCmd(t, nil, "template", "--output", path)
		if code != exitOK || !strings.Contains(out, "wrote "+path) {
			t.Fatalf("offboard template --output %s = %d, %q, %q", name, code, out, errOut)
		}
		header, rows, err := input.ReadAll(path, input.Options{})
		if err != nil {
			t.Fatalf("reading the template %s back: %v", name, err)
		}
		for _, c := range input.Columns() {
			if !header.Has(c) {
				t.Errorf("template %s lacks column %s", name, c)
			}
		}
		if len(rows) != 1 || len(rows[0].Problems) != 0 || rows[0].User.Email == "" {
			t.Errorf("template %s example rows = %+v, want one valid row", name, rows)
		}
		code, _, errOut = runCmd(t, nil, "template", "--output", path)
		if code != exitFatal || !strings.Contains(errOut, "--force") {
			t.Errorf("offboard template over an existing file = %d, %q; want 1 and a hint about --force", code, errOut)
		}
		if code, _, _ = runCmd(t, nil, "template", "--output", path, "--force"); code != exitOK {
			t.Errorf("offboard template --force = %d, want 0", code)
		}
	}
	if code, _, errOut := runCmd(t, nil, "template"); code != exitUsage || !strings.Contains(errOut, "missing --output") {
		t.Errorf("offboard template without --output = %d, %q; want 2", code, errOut)
	}
	if code, _, errOut := runCmd(t, nil, "template", "--output", dir+"/x.ods"); code != exitFatal || !strings.Contains(errOut, ".xlsx or .csv") {
		t.Errorf("offboard template --output x.ods = %d, %q; want 1", code, errOut)
	}
}

// TestSamplesOrgIsTheSandbox checks that the org file in samples/ is the
// one --sandbox serves.
func TestSamplesOrgIsTheSandbox(t *testing.T) {
	seed, err := sandbox.LoadSeedFile("samples/sandbox-org.json")
	if err != nil {
		t.Fatalf("LoadSeedFile(samples/sandbox-org.json) = %v", err)
	}
	if diff := cmp.Diff(sandbox.DemoSeed(), seed); diff != "" {
		t.Errorf("samples/sandbox-org.json differs from the sandbox org (-sandbox +file):\n%s", diff)
	}
}

// TestHints: the packages below main say what went wrong; main adds what
// to do in its own words, the flags and variables a user types.
func TestHints(t *testing.T) {
	other := &journal.OtherInputError{Journal: "r.journal", File: "a.csv", GotFile: "b.csv"}
	tests := []struct {
		err  error
		want string
	}{
		{fmt.Errorf("read the org: %w", zoho.ErrNoAPIDomain), "--api-domain"},
		{fmt.Errorf("open: %w", other), "--fresh"},
		{errors.New("something else"), ""},
	}
	for _, tt := range tests {
		if got := hint(tt.err); !strings.Contains(got, tt.want) || (tt.want == "") != (got == "") {
			t.Errorf("hint(%v) = %q, want it to mention %q", tt.err, got, tt.want)
		}
	}
}

// TestUsersEscapesControls: a user's name (which any admin can set in
// Zoho) holding terminal escape sequences is printed as escapes, seen,
// never obeyed by the terminal; the company name likewise.
func TestUsersEscapesControls(t *testing.T) {
	seed := sandbox.DemoSeed()
	seed.Users[1].FullName = "Eve\x1b]0;pwned\x07\x1b[2J"
	seed.Users[2].FullName = "Mallory\u202eexe.txt"
	seed.Org.CompanyName = "Northwind\x1b[31m"
	_, environ := simEnv(t, sandbox.Config{Seed: seed})
	code, out, errOut := runCmd(t, environ, "users")
	if code != exitOK {
		t.Fatalf("offboard users = %d, stderr %s", code, errOut)
	}
	if strings.ContainsAny(out, "\x1b\x07\u202e") {
		t.Errorf("users printed a control character raw:\n%q", out)
	}
	for _, want := range []string{`Eve\x1b]0;pwned\x07\x1b[2J`, `Mallory\u202eexe.txt`, `Northwind\x1b[31m`} {
		if !strings.Contains(out, want) {
			t.Errorf("users output lacks %q:\n%s", want, out)
		}
	}
}
