package main

import (
	"flag"
	"fmt"
	"io"
	"strings"
)

// cmdHelp is what offboard COMMAND --help prints beyond the synopsis: the
// flags in groups, as a user types them (--input FILE), examples and the
// exit statuses. Every flag a command defines belongs to one group
// (TestHelpListsEveryFlag).
type cmdHelp struct {
	about    string
	groups   []flagGroup
	env      []string // environment variables, "NAME  what"
	examples []string // "command  # what it does"
	exits    []string // "status  meaning"
}

// flagGroup is a titled list of flags, each "name" or "name VALUE".
type flagGroup struct {
	title string
	flags []string
}

// The groups several commands share.
var (
	inputGroup = flagGroup{"Input", []string{"input FILE", "sheet NAME", "include-hidden", "as-of YYYY-MM-DD"}}
	connGroup  = flagGroup{"Connection", []string{"sandbox", "credentials FILE", "dc DC", "accounts-url URL", "api-domain URL"}}
	logGroup   = []string{"log-format FORMAT", "log-level LEVEL"}
	connEnv    = []string{
		"ZOHO_CLIENT_ID, ZOHO_CLIENT_SECRET, ZOHO_REFRESH_TOKEN  the Self Client's secrets (or --credentials FILE)",
		"ZOHO_CREDENTIALS  a file written by offboard auth --save",
		"ZOHO_DC, ZOHO_ACCOUNTS_URL, ZOHO_API_DOMAIN  where the org lives, when no flag says",
	}
	exitUsageLine = "2  wrong usage: an unknown flag, a missing --input"
	exitFatalLine = "1  could not start or had to stop: configuration, credentials, an unreadable sheet, Zoho unreachable"
	// For the commands that read no sheet.
	exitUsageNoSheet = "2  wrong usage: an unknown flag or value"
	exitFatalNoSheet = "1  could not start or had to stop: configuration, credentials, Zoho unreachable"
)

var helps = map[string]cmdHelp{
	"run": {
		about: "Checks the sheet against the live org, shows the plan and asks to confirm, then deletes the\nplanned users within Zoho's limits and follows every job to its end. Interrupted or crashed,\nthe same command resumes from the journal.",
		groups: []flagGroup{
			inputGroup,
			{"Run and safety", []string{"yes", "dry-run", "strict", "max-deletes N", "max-jobs N", "no-wait", "job-timeout DURATION", "journal FILE", "fresh"}},
			{"Approved plan (instead of --input)", []string{"plan FILE", "plan-max-age DURATION"}},
			{"Connection", append(append([]string{}, connGroup.flags...), "rate N", "concurrency N")},
			{"Output and logging", append([]string{"output FILE", "force"}, logGroup...)},
			{"When the run ends", []string{"notify URL"}},
		},
		env: append(append([]string{}, connEnv...), "OFFBOARD_NOTIFY_URL  the webhook --notify posts to, when the flag is not given"),
		examples: []string{
			"offboard run --sandbox --input samples/offboarding.xlsx  # try it on the built-in demo org",
			"offboard plan --input leavers.xlsx --output plan.xlsx  # review first: sends nothing",
			"offboard run --input leavers.xlsx --output results.xlsx --dc eu",
			"offboard run --input leavers.xlsx --yes --max-deletes 20  # unattended (cron): no question asked",
			"offboard run --input leavers.xlsx --yes --notify https://hooks.slack.com/services/...  # cron: post the outcome to a channel",
			"offboard run --plan plan.xlsx --output results.xlsx  # only the rows a reviewer approved in plan.xlsx",
		},
		exits: []string{
			"0  every row ended deleted, skipped or deferred",
			exitFatalLine + ", a guard refused (--max-deletes, no terminal to confirm on), the journal is locked",
			exitUsageLine + ", a --notify URL that is not https (nor http to loopback)",
			"3  the run finished, but some rows are invalid, failed, submitted or not_run (see the results)",
			"130  interrupted (Ctrl-C): results written (not after a second Ctrl-C); run the same command again to resume",
		},
	},
	"plan": {
		about: "Checks every row of the sheet against the live org and writes the workbook of what run would\ndo. Sends nothing: only reads the org.",
		groups: []flagGroup{
			inputGroup,
			connGroup,
			{"Output and logging", append([]string{"output FILE", "force"}, logGroup...)},
		},
		env: connEnv,
		examples: []string{
			"offboard plan --sandbox --input samples/offboarding.xlsx --output plan.xlsx",
			"offboard plan --input leavers.xlsx --sheet December --dc eu",
			"offboard plan --input leavers.csv --as-of 2026-12-01  # next week's leavers, checked today",
		},
		exits: []string{
			"0  every row is valid (planned, skipped or deferred)",
			exitFatalLine + ", the token's user is not the super admin",
			exitUsageLine,
			"3  some rows are invalid (see the workbook's Code and Message columns)",
			"130  interrupted (Ctrl-C)",
		},
	},
	"users": {
		about: "Lists the org's users: the IDs and emails a sheet refers to, and who the super admin is.",
		groups: []flagGroup{
			{"Selection", []string{"type TYPE", "format FORMAT"}},
			connGroup,
			{"Logging", logGroup},
		},
		env: connEnv,
		examples: []string{
			"offboard users --sandbox",
			"offboard users --dc eu --type active --format csv > users.csv  # a sheet to start from",
		},
		exits: []string{"0  listed", exitFatalNoSheet, exitUsageNoSheet, "130  interrupted (Ctrl-C)"},
	},
	"auth": {
		about: "Exchanges a Self Client grant code (Zoho API console, Self Client, Generate Code, scopes\nZohoCRM.users.ALL,ZohoCRM.org.READ,ZohoCRM.settings.roles.READ) for a refresh token. The code is\nread from standard input: paste it when asked.",
		groups: []flagGroup{
			{"Output", []string{"save FILE", "force", "code -"}},
			{"Connection", []string{"dc DC", "accounts-url URL"}},
		},
		env: []string{
			"ZOHO_CLIENT_ID, ZOHO_CLIENT_SECRET  the Self Client's client id and secret (required)",
			"ZOHO_DC, ZOHO_ACCOUNTS_URL  where the Self Client lives, when no flag says",
		},
		examples: []string{
			"offboard auth --dc eu  # prints ZOHO_REFRESH_TOKEN=...",
			"offboard auth --dc eu --save ~/.offboard.json  # then: offboard run --credentials ~/.offboard.json ...",
		},
		exits: []string{"0  the token was printed or saved", exitFatalNoSheet + ", the grant code was refused", "2  wrong usage, or no grant code on standard input"},
	},
	"report": {
		about: "Rebuilds a run's results workbook from its journal alone, without calling Zoho.",
		groups: []flagGroup{
			{"Files", []string{"journal FILE", "output FILE"}},
		},
		examples: []string{"offboard report --journal results.xlsx.journal --output results-again.xlsx"},
		exits:    []string{"0  written", "1  the journal could not be read or the workbook written", "2  wrong usage: --journal or --output missing"},
	},
	"template": {
		about: "Writes an empty input sheet to fill in: the canonical header, an example row and, in an\n.xlsx, an Instructions sheet, ID columns formatted as text and TRUE/FALSE drop-downs.",
		groups: []flagGroup{
			{"Output", []string{"output FILE", "force"}},
		},
		examples: []string{"offboard template --output leavers.xlsx", "offboard template --output leavers.csv"},
		exits:    []string{"0  written", "1  the file exists (see --force), or could not be written", "2  wrong usage: --output missing"},
	},
	"sandbox": {
		about: "Serves the simulated Zoho org on loopback until Ctrl-C, and prints the command line that\npoints offboard at it. Nothing leaves the machine.",
		groups: []flagGroup{
			{"Simulated org", []string{"seed ORG.json", "job-duration DURATION", "concurrency-limit N", "daily-credits N", "latency DURATION"}},
		},
		examples: []string{"offboard sandbox --job-duration 2s", "offboard sandbox --seed samples/sandbox-org.json --concurrency-limit 5"},
		exits:    []string{"0  stopped with Ctrl-C", "1  the org file could not be read, or no port to listen on", "2  wrong usage"},
	},
	"version": {
		exits: []string{"0  printed"},
	},
}

// printHelp writes a command's help: its synopsis, what it does, its flags
// by group, the environment it reads, examples and exit statuses.
func printHelp(w io.Writer, fs *flag.FlagSet, name, synopsis string) {
	h := helps[name]
	fmt.Fprintf(w, "Usage: offboard %s %s\n", name, synopsis)
	if h.about != "" {
		fmt.Fprintf(w, "\n%s\n", h.about)
	}
	listed := map[string]bool{}
	for _, g := range h.groups {
		fmt.Fprintf(w, "\n%s:\n", g.title)
		for _, spec := range g.flags {
			flagName, _, _ := strings.Cut(spec, " ")
			listed[flagName] = true
			if f := fs.Lookup(flagName); f != nil {
				printFlag(w, spec, f)
			}
		}
	}
	first := true
	fs.VisitAll(func(f *flag.Flag) {
		if listed[f.Name] {
			return
		}
		if first {
			fmt.Fprintf(w, "\nOther flags:\n")
			first = false
		}
		printFlag(w, f.Name, f)
	})
	section(w, "Environment", h.env)
	if len(h.examples) > 0 {
		fmt.Fprintf(w, "\nExamples:\n")
		for _, ex := range h.examples {
			cmd, what, ok := strings.Cut(ex, "  # ")
			if ok {
				fmt.Fprintf(w, "  # %s\n", what)
			}
			fmt.Fprintf(w, "  %s\n", cmd)
		}
	}
	section(w, "Exit status", h.exits)
}

// section writes lines of "KEY  text" as a two-column table.
func section(w io.Writer, title string, lines []string) {
	if len(lines) == 0 {
		return
	}
	fmt.Fprintf(w, "\n%s:\n", title)
	width := 0
	for _, l := range lines {
		k, _, _ := strings.Cut(l, "  ")
		if len(k) < 12 {
			width = max(width, len(k))
		}
	}
	for _, l := range lines {
		k, v, _ := strings.Cut(l, "  ")
		if len(k) > width {
			fmt.Fprintf(w, "  %s\n", k)
			k = ""
		}
		indent := 2 + width + 2
		fmt.Fprintf(w, "  %-*s  %s\n", width, k, wrap(v, indent, 100-indent))
	}
}

// printFlag writes one flag as it is typed, "--input FILE", and its
// description below it, wrapped.
func printFlag(w io.Writer, spec string, f *flag.Flag) {
	usage := f.Usage
	if d := f.DefValue; d != "" && d != "false" && d != "0" && !strings.Contains(usage, "default") {
		usage += " (default " + d + ")"
	}
	fmt.Fprintf(w, "  --%s\n        %s\n", spec, wrap(usage, 8, 92))
}

// wrap breaks s into lines of at most width columns, each after the first
// indented by indent spaces.
func wrap(s string, indent, width int) string {
	var b strings.Builder
	col := 0
	for i, word := range strings.Fields(s) {
		if i > 0 && col+1+len(word) > width {
			b.WriteString("\n" + strings.Repeat(" ", indent))
			col = 0
		} else if i > 0 {
			b.WriteByte(' ')
			col++
		}
		b.WriteString(word)
		col += len(word)
	}
	return b.String()
}

// printUsage writes offboard --help: the commands, examples and exit
// statuses.
func printUsage(w io.Writer) {
	fmt.Fprintln(w, "offboard: delete Zoho CRM users in bulk from a spreadsheet")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Usage: offboard COMMAND [flags]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Commands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-9s %s\n", c.name, wrap(c.summary, 12, 88))
	}
	fmt.Fprintln(w, `
Examples:
  # write a sheet to fill in, then check it against the org: sends nothing
  offboard template --output leavers.xlsx
  offboard plan --input leavers.xlsx --output plan.xlsx
  # delete the users it plans, after a confirmation
  offboard run --input leavers.xlsx --output results.xlsx
  # the same on the built-in demo org: no account, no credentials
  offboard run --sandbox --input samples/offboarding.xlsx

Exit status:
  0    success (run: every row deleted, skipped or deferred; plan: every row valid)
  1    could not start or had to stop (configuration, credentials, input, Zoho unreachable)
  2    wrong usage
  3    some rows are invalid, failed, submitted or not_run
  130  interrupted (Ctrl-C); run the same command again to resume

Run 'offboard COMMAND --help' for a command's flags and examples.`)
}
