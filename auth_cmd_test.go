package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"offboard/offboarding"
	"offboard/sandbox"
)

func TestAuthAndCredentialsFile(t *testing.T) {
	srv, environ := simEnv(t, sandbox.Config{})
	id, secret, _ := srv.Credentials()
	authEnv := map[string]string{"ZOHO_CLIENT_ID": id, "ZOHO_CLIENT_SECRET": secret, "--accounts-url": environ["--accounts-url"]}

	srv.AddGrantCode("1000.code.print", "ZohoCRM.users.ALL", "ZohoCRM.org.READ", "ZohoCRM.settings.roles.READ")
	code, stdout, stderr := runCmdIn(t, "1000.code.print\n", authEnv, "auth")
	if code != exitOK || !strings.HasPrefix(stdout, "ZOHO_REFRESH_TOKEN=") {
		t.Fatalf("offboard auth, the code on stdin = %d, %q, %q; want the refresh token printed", code, stdout, stderr)
	}
	if strings.Contains(stdout, "ZOHO_API_DOMAIN=http:") {
		t.Errorf("offboard auth printed a plain-http ZOHO_API_DOMAIN, which offboard refuses from the environment: %q", stdout)
	}

	srv.AddGrantCode("1000.code.save", "ZohoCRM.users.ALL", "ZohoCRM.org.READ", "ZohoCRM.settings.roles.READ")
	path := filepath.Join(t.TempDir(), "zoho.json")
	code, stdout, stderr = runCmdIn(t, "1000.code.save", authEnv, "auth", "--code", "-", "--save", path)
	if code != exitOK || !strings.Contains(stdout, "saved the credentials to "+path) {
		t.Fatalf("offboard auth --save = %d, %q, %q", code, stdout, stderr)
	}
	info, err := os.Stat(path)
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("credentials file mode = %v, %v; want 0600", info.Mode(), err)
	}
	var saved offboarding.Credentials
	data, _ := os.ReadFile(path)
	if err := json.Unmarshal(data, &saved); err != nil || saved.RefreshToken == "" || saved.ClientSecret != secret {
		t.Fatalf("credentials file = %s, %v", data, err)
	}
	if saved.AccountsURL != "" || saved.APIDomain != "" {
		t.Errorf("credentials file = %s; want no plain-http endpoint saved (offboard takes those only from the command line)", data)
	}
	if strings.Contains(stdout+stderr, saved.RefreshToken) {
		t.Errorf("auth --save printed the refresh token")
	}

	// The saved file replaces the three variables.
	sim := map[string]string{"--accounts-url": environ["--accounts-url"]}
	code, stdout, stderr = runCmd(t, sim, "users", "--credentials", path)
	if code != exitOK || !strings.Contains(stdout, "super admin") {
		t.Errorf("offboard users --credentials = %d, %q, %q", code, stdout, stderr)
	}
	code, _, _ = runCmd(t, map[string]string{"ZOHO_CREDENTIALS": path, "--accounts-url": environ["--accounts-url"]}, "users")
	if code != exitOK {
		t.Errorf("offboard users with ZOHO_CREDENTIALS = %d, want 0", code)
	}

	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, stderr = runCmd(t, sim, "users", "--credentials", path)
	if code != exitFatal || !strings.Contains(stderr, "chmod 600") || strings.Contains(stderr, saved.RefreshToken) {
		t.Errorf("offboard users with a world-readable credentials file = %d, %q; want 1 and a chmod hint", code, stderr)
	}

	code, _, stderr = runCmdIn(t, "1000.code.save\n", authEnv, "auth")
	if code != exitFatal || !strings.Contains(stderr, "grant code was refused") {
		t.Errorf("offboard auth with a used code = %d, %q; want 1", code, stderr)
	}
	if code, _, stderr = runCmd(t, authEnv, "auth"); code != exitUsage || !strings.Contains(stderr, "no grant code on standard input") {
		t.Errorf("offboard auth with nothing on stdin = %d, %q; want 2", code, stderr)
	}
	if code, _, stderr = runCmd(t, nil, "auth"); code != exitFatal || !strings.Contains(stderr, "ZOHO_CLIENT_ID") {
		t.Errorf("offboard auth without client credentials = %d, %q; want 1", code, stderr)
	}
}

// TestAuthCodeNotOnTheCommandLine: a grant code given as --code CODE would
// show in ps, so it is refused before anything is sent; the code is read
// from stdin, after a prompt on a terminal.
func TestAuthCodeNotOnTheCommandLine(t *testing.T) {
	srv, environ := simEnv(t, sandbox.Config{})
	id, secret, _ := srv.Credentials()
	var tokens atomic.Int32
	countTokens(srv, &tokens)
	authEnv := map[string]string{"ZOHO_CLIENT_ID": id, "ZOHO_CLIENT_SECRET": secret, "--accounts-url": environ["--accounts-url"]}
	srv.AddGrantCode("1000.code.ps", "ZohoCRM.users.ALL")
	code, _, stderr := runCmd(t, authEnv, "auth", "--code", "1000.code.ps")
	if code != exitUsage || !strings.Contains(stderr, "(ps)") || tokens.Load() != 0 {
		t.Errorf("offboard auth --code CODE = %d, %q, %d token requests; want 2, the reason, nothing sent", code, stderr, tokens.Load())
	}

	var out, errOut bytes.Buffer
	e := env{stdout: &out, stderr: &errOut, stdin: strings.NewReader("  1000.code.ps  \r\n"), stdinTTY: true,
		getenv: func(k string) string { return authEnv[k] }}
	if code := run(t.Context(), e, []string{"auth", "--accounts-url", srv.URL()}); code != exitOK ||
		!strings.HasPrefix(errOut.String(), "Paste the grant code: ") || !strings.Contains(out.String(), "ZOHO_REFRESH_TOKEN=") {
		t.Errorf("offboard auth on a terminal = %d, stdout %q, stderr %q; want a prompt, then the token", code, out.String(), errOut.String())
	}
}

// TestAuthSaveKeepsAnExistingFile: --save does not replace a file without
// --force, and says so before the grant code is spent.
func TestAuthSaveKeepsAnExistingFile(t *testing.T) {
	srv, environ := simEnv(t, sandbox.Config{})
	id, secret, _ := srv.Credentials()
	authEnv := map[string]string{"ZOHO_CLIENT_ID": id, "ZOHO_CLIENT_SECRET": secret, "--accounts-url": environ["--accounts-url"]}
	path := filepath.Join(t.TempDir(), "zoho.json")
	if err := os.WriteFile(path, []byte("precious"), 0o600); err != nil {
		t.Fatal(err)
	}
	srv.AddGrantCode("1000.code.once", "ZohoCRM.users.ALL")
	code, _, stderr := runCmdIn(t, "1000.code.once\n", authEnv, "auth", "--save", path)
	if data, _ := os.ReadFile(path); code != exitFatal || !strings.Contains(stderr, "already exists; pass --force") || string(data) != "precious" {
		t.Errorf("offboard auth --save over a file = %d, %q, file %q; want 1, the file kept", code, stderr, data)
	}
	// The code was not spent: with --force it still works.
	code, _, stderr = runCmdIn(t, "1000.code.once\n", authEnv, "auth", "--save", path, "--force")
	if code != exitOK {
		t.Fatalf("offboard auth --save --force = %d, %q", code, stderr)
	}
	if _, err := offboarding.LoadCredentials(path); err != nil {
		t.Errorf("after --force: %v", err)
	}
}

// countTokens counts the token requests that reach srv.
func countTokens(srv *sandbox.Server, n *atomic.Int32) {
	srv.SetFaults(func(c sandbox.Call) sandbox.Fault {
		if c.Path == "/oauth/v2/token" {
			n.Add(1)
		}
		return sandbox.NoFault
	})
}

// TestEndpointFromEnvironment: a variable never sends a credentials file's
// secrets elsewhere, and plain http (a sandbox's port, which something
// else may hold later) is taken only from the command line. The server
// the variable names hears nothing.
func TestEndpointFromEnvironment(t *testing.T) {
	srv, environ := simEnv(t, sandbox.Config{})
	id, secret, refresh := srv.Credentials()
	var tokens atomic.Int32
	countTokens(srv, &tokens)
	dir := t.TempDir()
	save := func(name string, c offboarding.Credentials) string {
		c.ClientID, c.ClientSecret, c.RefreshToken = id, secret, refresh
		path := filepath.Join(dir, name)
		if err := offboarding.SaveCredentials(path, c); err != nil {
			t.Fatal(err)
		}
		return path
	}
	eu := save("eu.json", offboarding.Credentials{DC: "eu"})
	loop := save("loopback.json", offboarding.Credentials{AccountsURL: srv.URL()})
	padded := save("padded.json", offboarding.Credentials{AccountsURL: " " + srv.URL()})
	tabbed := save("tabbed.json", offboarding.Credentials{APIDomain: "\tHTTP://" + strings.TrimPrefix(srv.URL(), "http://")})

	tests := []struct {
		name    string
		environ map[string]string
		args    []string
		want    []string
	}{
		{"stale sandbox variable and a credentials file",
			map[string]string{"ZOHO_ACCOUNTS_URL": srv.URL()}, []string{"--credentials", eu},
			[]string{"ZOHO_ACCOUNTS_URL=" + srv.URL() + " in the environment differs from the credentials file " + eu, "no accounts_url", "unset ZOHO_ACCOUNTS_URL"}},
		{"https variable and a credentials file",
			map[string]string{"ZOHO_CREDENTIALS": eu, "ZOHO_ACCOUNTS_URL": "https://accounts.zoho.com"}, nil,
			[]string{"ZOHO_ACCOUNTS_URL=https://accounts.zoho.com in the environment differs from the credentials file " + eu, "--accounts-url"}},
		{"data centre variable and a credentials file",
			map[string]string{"ZOHO_DC": "us"}, []string{"--credentials", eu},
			[]string{"ZOHO_DC=us in the environment differs from the credentials file " + eu + ", which has dc eu"}},
		{"api domain variable and a credentials file",
			map[string]string{"ZOHO_API_DOMAIN": srv.URL()}, []string{"--credentials", eu},
			[]string{"ZOHO_API_DOMAIN=" + srv.URL() + " in the environment differs"}},
		{"plain http variable",
			map[string]string{"ZOHO_CLIENT_ID": id, "ZOHO_CLIENT_SECRET": secret, "ZOHO_REFRESH_TOKEN": refresh, "ZOHO_ACCOUNTS_URL": srv.URL()}, nil,
			[]string{"ZOHO_ACCOUNTS_URL=" + srv.URL() + " in the environment: plain http is used only when named on the command line (--accounts-url " + srv.URL()}},
		{"plain http api domain variable",
			map[string]string{"ZOHO_CLIENT_ID": id, "ZOHO_CLIENT_SECRET": secret, "ZOHO_REFRESH_TOKEN": refresh, "ZOHO_API_DOMAIN": srv.URL()}, nil,
			[]string{"plain http is used only when named on the command line (--api-domain"}},
		{"plain http in a credentials file",
			nil, []string{"--credentials", loop},
			[]string{"the credentials file " + loop + "'s accounts_url " + srv.URL() + ": plain http is used only when named on the command line"}},
		{"plain http in a credentials file, after a space",
			nil, []string{"--credentials", padded},
			[]string{"plain http is used only when named on the command line"}},
		{"plain http in a credentials file, after a tab, in capitals",
			nil, []string{"--credentials", tabbed},
			[]string{"plain http is used only when named on the command line"}},
	}
	for _, tt := range tests {
		code, _, stderr := runCmd(t, tt.environ, append([]string{"users"}, tt.args...)...)
		if code != exitFatal {
			t.Errorf("%s: offboard users = %d, want 1; stderr %q", tt.name, code, stderr)
		}
		for _, w := range tt.want {
			if !strings.Contains(stderr, w) {
				t.Errorf("%s: stderr %q lacks %q", tt.name, stderr, w)
			}
		}
		if strings.Contains(stderr, secret) || strings.Contains(stderr, refresh) {
			t.Errorf("%s: stderr holds a secret", tt.name)
		}
	}
	if n := tokens.Load(); n != 0 {
		t.Errorf("the server the variables named got %d token requests, want none", n)
	}

	// Named on the command line, the same endpoints are used; a variable
	// that agrees with the file is no conflict.
	flag := map[string]string{"ZOHO_ACCOUNTS_URL": srv.URL(), "--accounts-url": environ["--accounts-url"]}
	if code, _, stderr := runCmd(t, flag, "users", "--credentials", loop); code != exitOK {
		t.Errorf("offboard users --credentials --accounts-url = %d, %q; want 0", code, stderr)
	}
	ends := endpoints{e: env{getenv: func(k string) string { return map[string]string{"ZOHO_DC": "EU"}[k] }}, file: eu}
	if dc, err := ends.pick("--dc", "", "ZOHO_DC", "dc", "eu"); dc != "eu" || err != nil {
		t.Errorf("ZOHO_DC=EU with a file of dc eu = %q, %v; want eu", dc, err)
	}
}
