package main

// What the operator sees (issue #19): help, usage errors and the messages
// of things that go wrong before any row is checked.

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"offboard/input"
	"offboard/zoho"
)

// TestHelpShowsFlagsAsTyped: each command's --help lists its flags as a
// user types them, in groups, with examples and the exit statuses.
func TestHelpShowsFlagsAsTyped(t *testing.T) {
	tests := []struct {
		cmd  string
		want []string
	}{
		{"run", []string{"Input:\n  --input FILE\n", "Run and safety:\n  --yes\n", "  --max-deletes N\n", "Connection:\n  --sandbox\n",
			"Output and logging:\n  --output FILE\n", "(default 50)", "Examples:\n", "offboard run --sandbox --input samples/offboarding.xlsx",
			"Exit status:\n", "  3    the run finished", "  130  interrupted", "ZOHO_REFRESH_TOKEN"}},
		{"plan", []string{"Input:\n  --input FILE\n", "  --as-of YYYY-MM-DD\n", "Connection:\n", "Examples:\n", "Exit status:\n", "3    some rows are invalid"}},
		{"users", []string{"  --type TYPE\n", "  --format FORMAT\n", "Examples:\n", "Exit status:\n"}},
		{"auth", []string{"  --save FILE\n", "  --dc DC\n", "ZOHO_CLIENT_SECRET", "Examples:\n", "Exit status:\n"}},
		{"report", []string{"  --journal FILE\n", "  --output FILE\n", "Examples:\n", "Exit status:\n"}},
		{"template", []string{"  --output FILE\n", "Examples:\n", "Exit status:\n"}},
		{"sandbox", []string{"  --seed ORG.json\n", "  --job-duration DURATION\n", "Examples:\n", "Exit status:\n"}},
	}
	for _, tt := range tests {
		code, out, errOut := runCmd(t, nil, tt.cmd, "--help")
		if code != exitOK || errOut != "" {
			t.Errorf("offboard %s --help = %d, stderr %q; want 0 and nothing on stderr", tt.cmd, code, errOut)
		}
		for _, w := range tt.want {
			if !strings.Contains(out, w) {
				t.Errorf("offboard %s --help lacks %q:\n%s", tt.cmd, w, out)
			}
		}
		for _, line := range strings.Split(out, "\n") {
			if strings.HasPrefix(strings.TrimSpace(line), "-") && !strings.HasPrefix(strings.TrimSpace(line), "--") {
				t.Errorf("offboard %s --help shows a flag with one dash: %q", tt.cmd, line)
			}
		}
		if strings.Contains(out, "Other flags:") {
			t.Errorf("offboard %s --help has flags in no group:\n%s", tt.cmd, out)
		}
	}
	code, out, _ := runCmd(t, nil, "--help")
	for _, w := range []string{"Commands:", "Examples:", "Exit status:", "130"} {
		if code != exitOK || !strings.Contains(out, w) {
			t.Errorf("offboard --help = %d, lacks %q:\n%s", code, w, out)
		}
	}
}

// TestHelpListsEveryFlag: every flag each command defines is in one of its
// help's groups, and every flag a group names exists.
func TestHelpListsEveryFlag(t *testing.T) {
	for _, c := range commands() {
		var out bytes.Buffer
		e := env{stdout: &out, stderr: &out, getenv: func(string) string { return "" }}
		// Capture the flag set: --help makes the command print it and stop.
		if err := c.run(t.Context(), e, []string{"--help"}); err != flag.ErrHelp {
			t.Fatalf("offboard %s --help = %v, want flag.ErrHelp", c.name, err)
		}
		if strings.Contains(out.String(), "Other flags:") {
			t.Errorf("offboard %s: flags in no group:\n%s", c.name, out.String())
		}
		for _, g := range helps[c.name].groups {
			for _, spec := range g.flags {
				name, _, _ := strings.Cut(spec, " ")
				if !strings.Contains(out.String(), "  --"+spec+"\n") {
					t.Errorf("offboard %s --help: group %s names --%s, which the command does not define", c.name, g.title, name)
				}
			}
		}
	}
}

// TestUsageErrorIsOneLine: a usage error prints the one line that matters
// and where to look, never the whole help.
func TestUsageErrorIsOneLine(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"plan", "--bogus"}, "offboard plan: unknown flag --bogus; run 'offboard plan --help' for usage\n"},
		{[]string{"run", "--input"}, "offboard run: flag needs a value: --input; run 'offboard run --help' for usage\n"},
		{[]string{"run", "--max-jobs", "many"}, `offboard run: invalid value "many" for --max-jobs: parse error; run 'offboard run --help' for usage` + "\n"},
		{[]string{"plan", "leavers.xlsx"}, `offboard plan: unexpected argument "leavers.xlsx": name the sheet with --input leavers.xlsx; run 'offboard plan --help' for usage` + "\n"},
		{[]string{"run", "--sandbox", "leavers.csv"}, `offboard run: unexpected argument "leavers.csv": name the sheet with --input leavers.csv; run 'offboard run --help' for usage` + "\n"},
		{[]string{"template", "leavers.xlsx"}, `offboard template: unexpected argument "leavers.xlsx": name the file to write with --output leavers.xlsx; run 'offboard template --help' for usage` + "\n"},
		{[]string{"report", "r.xlsx.journal"}, `offboard report: unexpected argument "r.xlsx.journal": name the journal with --journal r.xlsx.journal; run 'offboard report --help' for usage` + "\n"},
	}
	for _, tt := range tests {
		code, out, errOut := runCmd(t, nil, tt.args...)
		if code != exitUsage || out != "" || errOut != tt.want {
			t.Errorf("offboard %v = %d, stdout %q, stderr %q; want 2, nothing on stdout, stderr %q", tt.args, code, out, errOut, tt.want)
		}
	}
}

// TestEndpointErrorsNameTheirSource: a wrong data centre or a URL without
// its scheme is said with where it came from.
func TestEndpointErrorsNameTheirSource(t *testing.T) {
	creds := map[string]string{"ZOHO_CLIENT_ID": "id", "ZOHO_CLIENT_SECRET": "secret", "ZOHO_REFRESH_TOKEN": "refresh"}
	with := func(k, v string) map[string]string {
		m := map[string]string{k: v}
		for k, v := range creds {
			m[k] = v
		}
		return m
	}
	tests := []struct {
		name    string
		environ map[string]string
		args    []string
		want    string
	}{
		{"ZOHO_DC", with("ZOHO_DC", "europe"), []string{"users"},
			"offboard users: ZOHO_DC=europe in the environment: not a Zoho data centre; want one of au, ca, cn, eu, in, jp, sa, uk, us"},
		{"--dc", creds, []string{"users", "--dc", "xx"}, "offboard users: --dc xx: not a Zoho data centre"},
		{"--accounts-url without scheme", creds, []string{"users", "--accounts-url", "accounts.zoho.eu"},
			"offboard users: --accounts-url accounts.zoho.eu: want a URL with its scheme, https://accounts.zoho.eu\n"},
		{"a loopback --accounts-url without scheme", creds, []string{"users", "--accounts-url", "127.0.0.1:41761"},
			"offboard users: --accounts-url 127.0.0.1:41761: want a URL with its scheme: http://127.0.0.1:41761 for a simulator on this machine (offboard sandbox), https://127.0.0.1:41761 otherwise\n"},
		{"ZOHO_API_DOMAIN without scheme", with("ZOHO_API_DOMAIN", "www.zohoapis.eu"), []string{"plan", "--input", "samples/offboarding.csv"},
			"offboard plan: ZOHO_API_DOMAIN=www.zohoapis.eu in the environment: want a URL with its scheme, https://www.zohoapis.eu\n"},
		{"auth ZOHO_DC", map[string]string{"ZOHO_CLIENT_ID": "id", "ZOHO_CLIENT_SECRET": "s", "ZOHO_DC": "EUR"}, []string{"auth"},
			"offboard auth: ZOHO_DC=EUR in the environment: not a Zoho data centre"},
	}
	for _, tt := range tests {
		code, _, errOut := runCmd(t, tt.environ, tt.args...)
		if code != exitFatal || !strings.Contains(errOut, tt.want) {
			t.Errorf("%s: offboard %v = %d, %q; want 1 and %q", tt.name, tt.args, code, errOut, tt.want)
		}
	}
}

// TestUnreachableSaysWhatToCheck: a server offboard cannot reach is named,
// with the reason in words and what to check, not Go's dial error.
func TestUnreachableSaysWhatToCheck(t *testing.T) {
	refused := httptest.NewServer(http.NotFoundHandler())
	refusedURL := "https://" + refused.Listener.Addr().String()
	refused.Close() // nothing listens there any more
	untrusted := httptest.NewUnstartedServer(http.NotFoundHandler())
	untrusted.Config.ErrorLog = log.New(io.Discard, "", 0) // its handshake errors are expected
	untrusted.StartTLS()
	defer untrusted.Close()

	tests := []struct {
		name, url string
		want      []string
	}{
		{"connection refused", refusedURL, []string{"could not reach the Zoho accounts server at " + strings.TrimPrefix(refusedURL, "https://") + " (2 tries over",
			"the connection was refused", "check the data centre (--dc or ZOHO_DC) or --accounts-url"}},
		{"untrusted certificate", untrusted.URL, []string{"could not reach the Zoho accounts server at " + strings.TrimPrefix(untrusted.URL, "https://"),
			"TLS (https) certificate is not trusted", "proxy (HTTPS_PROXY)"}},
		{"no such host", "https://accounts.zoho.invalid", []string{"could not reach the Zoho accounts server at accounts.zoho.invalid", "check the data centre"}},
	}
	for _, tt := range tests {
		var out, errOut bytes.Buffer
		environ := map[string]string{"ZOHO_CLIENT_ID": "id", "ZOHO_CLIENT_SECRET": "secret", "ZOHO_REFRESH_TOKEN": "refresh"}
		e := env{stdout: &out, stderr: &errOut, stdin: strings.NewReader(""), getenv: func(k string) string { return environ[k] },
			tuneClient: func(c *zoho.Config) {
				c.TokenTimeout, c.TokenAttempts, c.TokenBackoff = 2*time.Second, 2, 10*time.Millisecond
			}}
		code := run(t.Context(), e, []string{"users", "--accounts-url", tt.url, "--log-format", "json"})
		stderr := errOut.String()
		last := stderr[strings.LastIndex(strings.TrimSuffix(stderr, "\n"), "\n")+1:]
		if code != exitFatal {
			t.Errorf("%s: offboard users = %d, want 1; stderr %s", tt.name, code, stderr)
		}
		for _, w := range tt.want {
			if !strings.Contains(last, w) {
				t.Errorf("%s: last line %q lacks %q", tt.name, last, w)
			}
		}
		for _, raw := range []string{"dial tcp", "x509:", "tls:"} {
			if strings.Contains(last, raw) {
				t.Errorf("%s: last line %q shows Go's %q", tt.name, last, raw)
			}
		}
	}
}

// TestPartialCredentialsFileNamesTheField: a credentials file without one
// of its secrets says which.
func TestPartialCredentialsFileNamesTheField(t *testing.T) {
	path := filepath.Join(t.TempDir(), "creds.json")
	if err := os.WriteFile(path, []byte(`{"client_id": "1000.X", "client_secret": "s", "dc": "eu"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, errOut := runCmd(t, nil, "users", "--credentials", path)
	want := "credentials file " + path + " has no refresh_token (or it is empty); write it again with offboard auth --save"
	if code != exitFatal || !strings.Contains(errOut, want) {
		t.Errorf("offboard users --credentials (no refresh_token) = %d, %q; want 1 and %q", code, errOut, want)
	}
	if err := os.WriteFile(path, []byte(`{"refresh_token": "r"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	_, _, errOut = runCmd(t, nil, "users", "--credentials", path)
	if !strings.Contains(errOut, "has no client_id, no client_secret (or it is empty)") {
		t.Errorf("offboard users --credentials (no client) = %q; want both fields named", errOut)
	}
}

// TestUsersTypeIgnoresCase: --type deleted is DeletedUsers.
func TestUsersTypeIgnoresCase(t *testing.T) {
	for _, typ := range []string{"deleted", "DELETED", "deletedusers", "Deleted-Users"} {
		code, out, errOut := runCmd(t, nil, "users", "--sandbox", "--type", typ)
		if code != exitOK || !strings.Contains(out, "users (DeletedUsers)") {
			t.Errorf("offboard users --type %s = %d, %q, %q; want the deleted users", typ, code, out, errOut)
		}
	}
}

// TestInputErrors: the sheet named is a directory, or a workbook cut
// short.
func TestInputErrors(t *testing.T) {
	data, err := os.ReadFile("samples/offboarding.xlsx")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cut := filepath.Join(dir, "leavers.xlsx")
	if err := os.WriteFile(cut, data[:len(data)*2/3], 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		input, want string
	}{
		{".", "offboard plan: . is a directory, not a sheet: name the .xlsx or .csv file in it\n"},
		{dir, "offboard plan: " + dir + " is a directory, not a sheet"},
		{cut, "offboard plan: leavers.xlsx: the workbook is damaged or incomplete (cut short while copied or downloaded?): open it in Excel or LibreOffice and save it again, or copy it again\n"},
	}
	for _, tt := range tests {
		code, _, errOut := runCmd(t, nil, "plan", "--sandbox", "--input", tt.input, "--output", filepath.Join(dir, "plan.xlsx"))
		if code != exitFatal || !strings.Contains(errOut, tt.want) || strings.Contains(errOut, "zip:") {
			t.Errorf("offboard plan --input %s = %d, %q; want 1 and %q", tt.input, code, errOut, tt.want)
		}
	}
}

// TestTemplateForHR: the template is readable as any new file is (it is
// meant for HR and holds no personal data), its example row is dated next
// month, and its Instructions sheet explains each column.
func TestTemplateForHR(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "leavers.xlsx")
	var out, errOut bytes.Buffer
	e := env{stdout: &out, stderr: &errOut, getenv: func(string) string { return "" },
		now: func() time.Time { return time.Date(2031, time.March, 14, 9, 0, 0, 0, time.Local) }}
	if code := run(t.Context(), e, []string{"template", "--output", path}); code != exitOK {
		t.Fatalf("offboard template = %d, %s", code, errOut.String())
	}
	if !strings.Contains(out.String(), "the Instructions sheet explains each column") || !strings.Contains(out.String(), "offboard plan --input "+path) {
		t.Errorf("offboard template printed %q; want it to point at the Instructions sheet and offboard plan", out.String())
	}
	if runtime.GOOS != "windows" {
		ref, err := os.OpenFile(filepath.Join(dir, "ref"), os.O_CREATE|os.O_WRONLY, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		ref.Close()
		want, _ := os.Stat(filepath.Join(dir, "ref"))
		got, err := os.Stat(path)
		if err != nil || got.Mode().Perm() != want.Mode().Perm() || got.Mode().Perm()&0o044 == 0 && want.Mode().Perm()&0o044 != 0 {
			t.Errorf("template mode = %v, want %v (0644 less the umask), as any new file", got.Mode().Perm(), want.Mode().Perm())
		}
	}
	_, rows, err := input.ReadAll(path, input.Options{})
	if err != nil || len(rows) != 1 || rows[0].EffectiveDate == nil || rows[0].EffectiveDate.String() != "2031-04-01" {
		t.Errorf("template rows = %+v, %v; want one example row dated 2031-04-01", rows, err)
	}
	f, err := excelize.OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if got := f.GetSheetList(); !slices.Equal(got, []string{input.TemplateSheet, input.InstructionsSheet}) {
		t.Errorf("template sheets = %v, want %s then %s", got, input.TemplateSheet, input.InstructionsSheet)
	}
	ins, err := f.GetRows(input.InstructionsSheet)
	if err != nil {
		t.Fatal(err)
	}
	text := fmt.Sprint(ins)
	for _, c := range input.Columns() {
		if !strings.Contains(text, "["+string(c)+" ") {
			t.Errorf("Instructions sheet does not explain column %s:\n%s", c, text)
		}
	}
	for _, w := range []string{"TRUE or FALSE; blank means TRUE", "18 or 19 digits", "text-formatted", "YYYY-MM-DD"} {
		if !strings.Contains(text, w) {
			t.Errorf("Instructions sheet lacks %q", w)
		}
	}
	// A missing directory is said before anything is written.
	code := run(t.Context(), e, []string{"template", "--output", filepath.Join(dir, "no-such-dir", "t.xlsx")})
	if code != exitFatal || !strings.Contains(errOut.String(), "the directory "+filepath.Join(dir, "no-such-dir")+" does not exist; create it or pick another path") {
		t.Errorf("offboard template into a missing directory = %d, %q", code, errOut.String())
	}
	for _, args := range [][]string{{"plan"}, {"run", "--yes"}} {
		cmd := args[0]
		args = append(args, "--sandbox", "--input", "samples/offboarding.csv", "--output", filepath.Join(dir, "no-such-dir", "r.xlsx"))
		code, _, stderr := runCmd(t, nil, args...)
		if code != exitFatal || !strings.Contains(stderr, "does not exist; create it or pick another path") || strings.Contains(stderr, ".tmp") {
			t.Errorf("offboard %s into a missing directory = %d, %q; want 1 naming the directory, no temporary file", cmd, code, stderr)
		}
	}
}
