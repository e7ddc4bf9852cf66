package main

// What the operator sees (issue #19): help, usage errors and the messages
// of things that go wrong before any row is checked.

import (
	"bytes"
	"flag"
	"strings"
	"testing"
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
