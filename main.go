// Command offboard deletes Zoho CRM users in bulk from a spreadsheet:
// it reads who leaves and who takes over, checks every row against the
// org's live user list, submits one transfer-and-delete per user within
// Zoho's limits, follows every job to its end and writes a results
// workbook. See README.md.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"syscall"
	"time"

	"offboard/journal"
	"offboard/notify"
	"offboard/offboarding"
	"offboard/runner"
	"offboard/termtext"
	"offboard/zoho"
)

// version is set at build time (-ldflags "-X main.version=..."); see Makefile.
var version = ""

// Exit statuses, as the README's "Exit status" section fixes them.
const (
	exitOK          = 0
	exitFatal       = 1
	exitUsage       = 2
	exitIncomplete  = 3
	exitInterrupted = 130
)

// usageError is wrong usage: an unknown flag or command, a missing value.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

// exitError carries a decided exit status with its message.
type exitError struct {
	code int
	err  error
}

func (e exitError) Error() string { return e.err.Error() }
func (e exitError) Unwrap() error { return e.err }

// env is what a command sees of the process: streams and the environment,
// so tests can run commands in-process.
type env struct {
	stdout, stderr io.Writer
	stdin          io.Reader
	// stdinTTY, stdoutTTY and stderrTTY say that stdin, stdout and stderr
	// are a terminal.
	stdinTTY, stdoutTTY, stderrTTY bool
	getenv                         func(string) string
	// now is the clock that names default results files; nil means
	// time.Now.
	now func() time.Time
	// tuneRun, if set, adjusts the runner's options; tests use it to poll
	// a simulator whose jobs take milliseconds.
	tuneRun func(*runner.Options)
	// tuneClient, if set, adjusts the Zoho client's configuration; tests
	// use it to shorten the token request's deadline and retries.
	tuneClient func(*zoho.Config)
	// sandboxJobs is how long --sandbox's jobs take; 0 means 1 s.
	sandboxJobs time.Duration
	// tuneNotify, if set, adjusts how run --notify posts; tests use it to
	// shorten the timeout and the pause before the retry.
	tuneNotify func(*notify.Options)
}

// streams is the process's streams as offboarding sees them.
func (e env) streams() offboarding.IO {
	return offboarding.IO{In: e.stdin, Out: e.stdout, Err: e.stderr, InTerminal: e.stdinTTY, OutTerminal: e.stdoutTTY, ErrTerminal: e.stderrTTY}
}

// clock returns the time now.
func (e env) clock() time.Time {
	if e.now != nil {
		return e.now()
	}
	return time.Now()
}

type command struct {
	name    string
	summary string
	run     func(ctx context.Context, e env, args []string) error
}

func commands() []command {
	return []command{
		{"auth", "exchange a Self Client grant code for a refresh token (print it, or --save FILE)", runAuth},
		{"plan", "check a sheet against the live org and write the workbook of what would happen; sends nothing", runPlan},
		{"run", "check a sheet, confirm, delete the planned users within Zoho's limits and follow every job", runRun},
		{"report", "rebuild a run's results workbook from its journal (--journal FILE --output FILE)", runReport},
		{"users", "list the org's users (with --sandbox: the built-in demo org)", runUsers},
		{"sandbox", "serve the simulated Zoho org on loopback for manual testing", runSandbox},
		{"template", "write an empty input sheet (.xlsx or .csv)", runTemplate},
		{"version", "print the version", runVersion},
	}
}

func main() {
	os.Exit(runProcess(processEnv(), os.Args[1:]))
}

// processEnv is the env of this process: its streams and environment.
func processEnv() env {
	return env{stdout: os.Stdout, stderr: os.Stderr, stdin: os.Stdin, getenv: os.Getenv,
		stdinTTY: isTerminal(os.Stdin), stdoutTTY: isTerminal(os.Stdout), stderrTTY: isTerminal(os.Stderr)}
}

// runProcess runs a command line as the process's own, with its signals:
// the first Ctrl-C (or SIGTERM) cancels the command's context: a run stops
// submitting, says so in one line, follows the jobs already submitted for
// a while and writes the results. A second one ends the process at once,
// by the signal itself as a shell expects, once a run has said what it
// leaves (the jobs that may still be running, the journal that records
// them); the channel holds both, so a quick double Ctrl-C is never
// swallowed.
func runProcess(e env, args []string) int {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	quit := &offboarding.Quit{}
	ctx = offboarding.WithQuit(ctx, quit)
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-sigs
		cancel()
		sig := <-sigs
		if !quit.Say() {
			fmt.Fprintln(e.stderr, "offboard: interrupted again: quitting now; no user was submitted for deletion")
		}
		signal.Reset(os.Interrupt, syscall.SIGTERM)
		if p, err := os.FindProcess(os.Getpid()); err == nil {
			_ = p.Signal(sig)
		}
		time.Sleep(time.Second)
		os.Exit(exitInterrupted) // where a signal could not end the process
	}()
	return run(ctx, e, args)
}

// run executes one command line and decides the exit status, in one place.
func run(ctx context.Context, e env, args []string) int {
	if len(args) == 0 {
		printUsage(e.stderr)
		return exitUsage
	}
	name := args[0]
	if name == "-h" || name == "--help" || name == "help" {
		printUsage(e.stdout)
		return exitOK
	}
	if name == "--version" || name == "-version" {
		name = "version"
	}
	for _, c := range commands() {
		if c.name != name {
			continue
		}
		err := c.run(ctx, e, args[1:])
		if jsonLogs(name, args[1:]) {
			// Under --log-format json every line is a JSON object, the
			// command's last one too.
			e.stderr = jsonLine{w: e.stderr, command: name}
		}
		return exitStatus(e, name, err)
	}
	fmt.Fprintf(e.stderr, "offboard: unknown command %q; run 'offboard --help' for the list\n", name)
	return exitUsage
}

// jsonLogs reports whether the command was asked, with --log-format json,
// for JSON lines, among the commands that log. (Without the flag, JSON is
// only the default off a terminal, and the last line stays text, as a
// person or a script reading it expects.)
func jsonLogs(name string, args []string) bool {
	if !slices.Contains([]string{"run", "plan", "users"}, name) {
		return false
	}
	for i, a := range args {
		a = "-" + strings.TrimLeft(a, "-")
		if a == "--" {
			break
		}
		if v, ok := strings.CutPrefix(a, "-log-format="); ok {
			return v == "json"
		}
		if a == "-log-format" && i+1 < len(args) {
			return args[i+1] == "json"
		}
	}
	return false
}

// jsonLine writes each line it is given as one JSON log line, level
// error, naming the command: the line exitStatus prints last.
type jsonLine struct {
	w       io.Writer
	command string
}

func (j jsonLine) Write(p []byte) (int, error) {
	msg := strings.TrimSuffix(string(p), "\n")
	msg = strings.TrimPrefix(msg, "offboard "+j.command+": ")
	b, err := json.Marshal(struct {
		Level   string `json:"level"`
		Command string `json:"command"`
		Time    string `json:"time"`
		Message string `json:"message"`
	}{"error", j.command, time.Now().UTC().Format(time.RFC3339), msg})
	if err != nil {
		return 0, err
	}
	if _, err := j.w.Write(append(b, '\n')); err != nil {
		return 0, err
	}
	return len(p), nil
}

func exitStatus(e env, name string, err error) int {
	if err == nil {
		return exitOK
	}
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	var uerr usageError
	if errors.As(err, &uerr) {
		fmt.Fprintf(e.stderr, "offboard %s: %s; run 'offboard %s --help' for usage\n", name, termtext.Lines(uerr.msg), name)
		return exitUsage
	}
	var xerr exitError
	if errors.As(err, &xerr) {
		fmt.Fprintf(e.stderr, "offboard %s: %s\n", name, termtext.Lines(xerr.err.Error()))
		return xerr.code
	}
	var incomplete *offboarding.IncompleteError
	if errors.As(err, &incomplete) {
		fmt.Fprintf(e.stderr, "offboard %s: %s\n", name, termtext.Lines(err.Error()))
		return exitIncomplete
	}
	var stopped *offboarding.InterruptedError
	if errors.As(err, &stopped) {
		fmt.Fprintf(e.stderr, "offboard %s: %s\n", name, termtext.Lines(err.Error()))
		return exitInterrupted
	}
	if errors.Is(err, context.Canceled) {
		fmt.Fprintf(e.stderr, "offboard %s: interrupted\n", name)
		return exitInterrupted
	}
	if msg := unreachable(err); msg != "" {
		fmt.Fprintf(e.stderr, "offboard %s: %s\n", name, termtext.Lines(msg))
		return exitFatal
	}
	fmt.Fprintf(e.stderr, "offboard %s: %s%s\n", name, termtext.Lines(err.Error()), hint(err))
	return exitFatal
}

// hint says what to do about err in the command line's words: the flags
// and environment variables that the packages below it do not know.
func hint(err error) string {
	var (
		auth  *zoho.AuthError
		other *journal.OtherInputError
	)
	switch {
	case errors.As(err, &auth) && auth.RefreshTokenRefused():
		return `; create a new one with offboard auth, pasting a new grant code (see README, "Credentials")`
	case errors.As(err, &auth) && auth.ClientRefused():
		return "; check ZOHO_CLIENT_ID and ZOHO_CLIENT_SECRET (or the --credentials file) and --dc"
	case errors.Is(err, zoho.ErrNoAPIDomain):
		return "; set --api-domain or ZOHO_API_DOMAIN"
	case errors.As(err, &other):
		return ": use --fresh to start a new run on it, or --journal to pick another file"
	}
	return ""
}

// newFlagSet returns a flag set whose errors come back as usage errors
// rather than exiting, and whose --help output (printHelp) goes to stdout.
func newFlagSet(e env, name, synopsis string) *flag.FlagSet {
	fs := flag.NewFlagSet("offboard "+name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() { printHelp(e.stdout, fs, name, synopsis) }
	return fs
}

// parseFlags parses args, turning flag errors into usage errors of one
// line (the help is printed for --help only) and refusing stray
// arguments.
func parseFlags(fs *flag.FlagSet, args []string) error {
	help := fs.Usage
	fs.Usage = func() {} // the flag package calls it on every error too
	err := fs.Parse(args)
	fs.Usage = help
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			help()
			return err
		}
		return usageError{flagMessage(err.Error())}
	}
	if fs.NArg() > 0 {
		return usageError{strayArgument(fs, fs.Arg(0))}
	}
	return nil
}

// flagMessage rewrites the flag package's messages with flags as users
// type them: "-input" becomes "--input".
func flagMessage(msg string) string {
	for _, r := range []struct{ from, to string }{
		{"flag provided but not defined: -", "unknown flag --"},
		{"flag needs an argument: -", "flag needs a value: --"},
		{" for flag -", " for --"},
		{" for -", " for --"},
		{"bad flag syntax: ", "bad flag syntax: "},
	} {
		if strings.Contains(msg, r.from) {
			return strings.Replace(msg, r.from, r.to, 1)
		}
	}
	return msg
}

// strayArgument says what to do with an argument that is not a flag: the
// sheet, the file to write or the journal are named with their flags.
func strayArgument(fs *flag.FlagSet, arg string) string {
	msg := fmt.Sprintf("unexpected argument %q", arg)
	if strings.HasPrefix(arg, "-") {
		return msg + ": flags go before other arguments, and each takes one value"
	}
	ext := strings.ToLower(filepath.Ext(arg))
	switch {
	case ext == ".journal" && fs.Lookup("journal") != nil:
		return fmt.Sprintf("%s: name the journal with --journal %s", msg, arg)
	case fs.Lookup("input") != nil:
		return fmt.Sprintf("%s: name the sheet with --input %s", msg, arg)
	case fs.Lookup("output") != nil:
		return fmt.Sprintf("%s: name the file to write with --output %s", msg, arg)
	}
	return msg
}

func runVersion(_ context.Context, e env, args []string) error {
	fs := newFlagSet(e, "version", "")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "offboard %s\n", buildVersion())
	return nil
}

// buildVersion is the version set at build time, or what the Go build
// recorded, or "dev".
func buildVersion() string {
	if version != "" {
		return version
	}
	if info, ok := debug.ReadBuildInfo(); ok {
		if v := info.Main.Version; v != "" && v != "(devel)" {
			return v
		}
		for _, s := range info.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				return "dev-" + s.Value[:12]
			}
		}
	}
	return "dev"
}
