package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"
	"unicode/utf8"

	"offboard/input"
	"offboard/notify"
	"offboard/offboarding"
	"offboard/result"
	"offboard/zoho"
)

// runFlags are the flags of offboard run beyond those of plan.
type runFlags struct {
	maxJobs    int
	maxDeletes int
	strict     bool
	yes        bool
	dryRun     bool
	noWait     bool
	jobTimeout time.Duration
	journal    string
	fresh      bool
	notify     string
}

func (r *runFlags) register(fs *flag.FlagSet) {
	fs.IntVar(&r.maxJobs, "max-jobs", 10, "transfer-and-delete jobs of this run unfinished at once (Zoho runs at most 10 per org; at 10 a user may be sent as a job is due to end, and Zoho's refusal means wait; below 10 offboard counts itself)")
	fs.IntVar(&r.maxDeletes, "max-deletes", 50, "refuse to start (sending nothing) if more rows than this would be submitted")
	fs.BoolVar(&r.strict, "strict", false, "send nothing if any row is invalid (exit 3)")
	fs.BoolVar(&r.yes, "yes", false, "do not ask for confirmation; required when not on a terminal")
	fs.BoolVar(&r.dryRun, "dry-run", false, "check and write the plan workbook only, as offboard plan does; sends nothing")
	fs.BoolVar(&r.noWait, "no-wait", false, "stop following jobs once they are submitted (outcome submitted)")
	fs.DurationVar(&r.jobTimeout, "job-timeout", 30*time.Minute, "how long to follow one job before giving up on it (outcome submitted); also the longest a job is taken to run")
	fs.StringVar(&r.journal, "journal", "", "the run's journal, for resuming after a crash (default: the output path plus .journal)")
	fs.StringVar(&r.notify, "notify", "", "when the run ends, for any reason but wrong usage, post a JSON summary to this webhook (Slack, Teams or your own): https, or http to loopback only (env OFFBOARD_NOTIFY_URL)")
	fs.BoolVar(&r.fresh, "fresh", false, "start a new run instead of resuming the journal's interrupted one (what the journal knows of jobs still running and submissions in doubt is kept)")
}

func runRun(ctx context.Context, e env, args []string) (err error) {
	fs := newFlagSet(e, "run", "--input FILE [--sheet NAME] [--output FILE] [--sandbox] [--yes] [flags]")
	var (
		sf   sheetFlags
		conn connFlags
		logs logFlags
		rf   runFlags
		pf   planFlags
	)
	sf.register(fs)
	conn.register(fs)
	conn.registerLimits(fs)
	rf.register(fs)
	pf.register(fs)
	logs.register(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := conn.checkLimits(); err != nil {
		return err
	}
	if rf.maxJobs < 1 || rf.maxJobs > 10 {
		return usageError{fmt.Sprintf("--max-jobs %d: want 1 to 10 (Zoho runs at most 10 jobs per org)", rf.maxJobs)}
	}
	if rf.maxDeletes < 0 {
		return usageError{"--max-deletes must not be negative"}
	}
	var (
		sheet offboarding.SheetOptions
		today input.Date
	)
	if pf.plan != "" {
		sheet, today, err = pf.options(&sf, e.clock())
	} else {
		sheet, today, err = sf.options(e.clock())
	}
	if err != nil {
		return err
	}
	lc, err := logs.config()
	if err != nil {
		return err
	}
	hook, err := rf.webhook(fs, e)
	if err != nil {
		return err
	}
	var (
		cn    offboarding.Connection
		ended *offboarding.Ended
	)
	if hook != nil {
		// Posted last, whatever the end: the results are written by then,
		// the journal released, and the exit status is what it will be.
		ran := sf.input
		if pf.plan != "" {
			ran = pf.plan // the approved plan is what ran
		}
		defer func() { hook.post(ctx, e, lc, err, ended, ran, cn.Client) }()
	}
	if cn, err = conn.connection(e); err != nil {
		return err
	}
	return offboarding.Run(ctx, e.streams(), offboarding.RunOptions{
		Sheet: sheet, Output: sf.output, Force: sf.force, Today: today, Conn: cn, Log: lc,
		MaxJobs: rf.maxJobs, NoWait: rf.noWait, JobTimeout: rf.jobTimeout,
		MaxDeletes: rf.maxDeletes, Strict: rf.strict, Yes: rf.yes, DryRun: rf.dryRun,
		Journal: rf.journal, Fresh: rf.fresh, Version: buildVersion(),
		Now: e.now, Tune: e.tuneRun,
		Ended: func(x offboarding.Ended) { ended = &x },
		Plan:  pf.plan, PlanMaxAge: pf.maxAge,
	})
}

// webhook is where --notify (or OFFBOARD_NOTIFY_URL) says to post the
// run's summary; nil when nowhere. The flag wins, even empty. A URL that
// is not https (or http to loopback) is wrong usage: refused before
// anything is read or sent.
func (r *runFlags) webhook(fs *flag.FlagSet, e env) (*webhook, error) {
	raw, from := e.getenv("OFFBOARD_NOTIFY_URL"), "OFFBOARD_NOTIFY_URL"
	fs.Visit(func(f *flag.Flag) {
		if f.Name == "notify" {
			raw, from = r.notify, "--notify"
		}
	})
	if strings.TrimSpace(raw) == "" {
		return nil, nil
	}
	u, err := notify.Check(raw)
	if err != nil {
		return nil, usageError{fmt.Sprintf("%s: %v", from, err)}
	}
	o := notify.Options{UserAgent: "offboard/" + buildVersion()}
	if e.tuneNotify != nil {
		e.tuneNotify(&o)
	}
	return &webhook{url: u, opts: o}, nil
}

// webhook posts a run's summary when it ends.
type webhook struct {
	url  *url.URL
	opts notify.Options
}

// post sends the summary of the run that ended with err: the exit status
// main will return, the last line it will print, and what the run left
// (ended, nil when it stopped before writing results). It never changes
// the exit status: a failure to post is a warning on the log. A Ctrl-C
// that interrupted the run does not stop the post; a second one ends the
// process, as ever.
func (w *webhook) post(ctx context.Context, e env, lc offboarding.LogConfig, err error, ended *offboarding.Ended, input string, client zoho.Config) {
	var last bytes.Buffer
	status := exitStatus(env{stderr: &last}, "run", err)
	p := notify.Payload{
		ExitStatus: status,
		Outcome:    notify.OutcomeOf(status),
		Message:    boundedMessage(strings.TrimPrefix(strings.TrimSpace(last.String()), "offboard run: ")),
		Counts:     map[string]int{},
		Input:      filepath.Base(input),
		Attention:  []notify.Row{},
		Version:    buildVersion(),
		EndedAt:    time.Now().UTC().Truncate(time.Second),
	}
	p.Host, _ = os.Hostname()
	if ended != nil {
		p.Org = &notify.Org{Name: ended.OrgName, ID: ended.OrgID}
		p.Sandbox = ended.Sandbox
		if abs, err := filepath.Abs(ended.Output); err == nil {
			p.Results = abs
		}
		for o, n := range result.Counts(ended.Rows) {
			p.Counts[string(o)] = n
		}
		for _, o := range result.Final() {
			p.Counts[string(o)] += 0
		}
		// The rows that need a person, the jobs that failed or may still
		// run first, then those never sent, then the sheet's mistakes.
		for _, o := range []result.Outcome{result.Failed, result.Submitted, result.NotRun, result.Invalid} {
			for _, r := range ended.Rows {
				if r.Outcome != o {
					continue
				}
				p.AttentionTotal++
				if len(p.Attention) < notify.MaxAttention {
					p.Attention = append(p.Attention, notify.Row{Row: r.Line, Outcome: string(r.Outcome), Code: r.Code, Reason: r.Message, UserEmail: r.UserEmail})
				}
			}
		}
	}
	// The payload is built from no secret; an error's words are checked
	// all the same.
	for _, s := range []string{client.ClientSecret, client.RefreshToken} {
		if len(s) >= 8 {
			p.Message = strings.ReplaceAll(p.Message, s, "[redacted]")
		}
	}
	p.SetText()
	log := lc.Logger(e.stderr, e.stderrTTY)
	target := notify.Target(w.url)
	// A post that hangs takes its whole timeout: say what offboard waits
	// for, so that a person at the terminal is not left guessing.
	log.Info().Str("webhook", target).
		Msg("--notify: posting the run's summary (the results are written; Ctrl-C twice quits without posting)")
	if err := notify.Post(context.WithoutCancel(ctx), w.url, p, w.opts); err != nil {
		log.Warn().Str("webhook", target).Str("reason", err.Error()).Int("exit_status", status).
			Msg("--notify: the run's summary was not posted; the run's exit status and results are unchanged")
		return
	}
	log.Info().Str("webhook", target).Int("exit_status", status).Msg("--notify: the run's summary was posted")
}

// boundedMessage keeps a webhook's message short enough for any channel:
// its first lines (a refusal lists every difference, one a line), then
// how many more there are, and at most 2,000 bytes.
func boundedMessage(m string) string {
	const maxLines, maxBytes = 6, 2000
	lines := strings.Split(m, "\n")
	if len(lines) > maxLines {
		lines = append(lines[:maxLines], fmt.Sprintf("  ... and %d more lines: see the log", len(lines)-maxLines))
	}
	m = strings.Join(lines, "\n")
	if len(m) > maxBytes {
		cut := maxBytes
		for cut > 0 && !utf8.RuneStart(m[cut]) {
			cut--
		}
		m = m[:cut] + "..."
	}
	return m
}
