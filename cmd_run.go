package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"offboard/journal"
	"offboard/plan"
	"offboard/report"
	"offboard/runner"
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
}

func (r *runFlags) register(fs interface {
	IntVar(*int, string, int, string)
	BoolVar(*bool, string, bool, string)
	DurationVar(*time.Duration, string, time.Duration, string)
	StringVar(*string, string, string, string)
}) {
	fs.IntVar(&r.maxJobs, "max-jobs", 10, "transfer-and-delete jobs of this run unfinished at once (Zoho runs at most 10 per org)")
	fs.IntVar(&r.maxDeletes, "max-deletes", 50, "refuse to start (sending nothing) if more rows than this would be submitted")
	fs.BoolVar(&r.strict, "strict", false, "send nothing if any row is invalid (exit 3)")
	fs.BoolVar(&r.yes, "yes", false, "do not ask for confirmation; required when not on a terminal")
	fs.BoolVar(&r.dryRun, "dry-run", false, "check and write the plan workbook only, as offboard plan does; sends nothing")
	fs.BoolVar(&r.noWait, "no-wait", false, "stop following jobs once they are submitted (outcome submitted)")
	fs.DurationVar(&r.jobTimeout, "job-timeout", 30*time.Minute, "how long to follow one job before giving up on it (outcome submitted)")
	fs.StringVar(&r.journal, "journal", "", "the run's journal, for resuming after a crash (default: the output path plus .journal)")
	fs.BoolVar(&r.fresh, "fresh", false, "start a new run instead of resuming the journal's interrupted one (what the journal knows of jobs still running and submissions in doubt is kept)")
}

func runRun(ctx context.Context, e env, args []string) error {
	fs := newFlagSet(e, "run", "--input FILE [--sheet NAME] [--output FILE] [--sandbox] [--yes] [flags]")
	var (
		sf   sheetFlags
		conn connFlags
		logs logFlags
		rf   runFlags
	)
	sf.register(fs)
	conn.register(fs)
	conn.registerLimits(fs)
	rf.register(fs)
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
	start := time.Now()
	outputGiven := sf.output != ""
	today, err := sf.resolve(start)
	if err != nil {
		return err
	}
	terminal := isTerminal(e.stderr)
	prog := newProgress(0, time.Now)
	logOut := io.Writer(e.stderr)
	if terminal {
		logOut = around{p: prog, w: e.stderr}
	}
	log, err := logs.loggerOn(logOut, terminal)
	if err != nil {
		return err
	}
	// The results are written after the users are deleted: a directory
	// that is not there must stop the run before, not after.
	for _, f := range []string{sf.output, rf.journal} {
		if f == "" {
			continue
		}
		if fi, err := os.Stat(filepath.Dir(f)); err != nil || !fi.IsDir() {
			return fatal(fmt.Errorf("%s: the directory %s does not exist; create it or pick another path", f, filepath.Dir(f)))
		}
	}
	sh, err := loadSheet(log, &sf)
	if err != nil {
		return err
	}

	// The journal is locked before anything else, so that an overlapping
	// run stops at once, and checked against the input before connecting.
	var (
		jn      *journal.Journal
		st      journal.State
		created bool
	)
	if !rf.dryRun {
		path := rf.journal
		if path == "" && !outputGiven && !conn.sandbox && !rf.fresh {
			if found := findInterrupted(log, filepath.Dir(sf.output), sh.sha256); found != "" {
				path = found
				sf.output = strings.TrimSuffix(found, ".journal")
				log.Info().Str("journal", found).Str("output", sf.output).Msg("resuming the interrupted run of this input")
			}
		}
		if path == "" {
			path = sf.output + ".journal"
		}
		jn, st, created, err = openJournal(log, path, start)
		if err != nil {
			return err
		}
		defer func() {
			jn.Close()
			if created {
				os.Remove(path) // the run sent nothing: leave no empty journal behind
			}
		}()
		if rf.fresh && st.Unfinished() {
			// A new run, not the interrupted one: the journal keeps what it
			// knows of that run's jobs still running and submissions in
			// doubt, and the new run honours it for the users it shares.
			log.Warn().Str("journal", path).Str("interrupted_input", st.Start.InputFile).
				Msg("--fresh: starting a new run instead of resuming the journal's interrupted one; its jobs still running and submissions in doubt are kept")
		} else if err := journal.CheckInput(path, st, sh.path, sh.sha256); err != nil {
			return fatal(err)
		} else if st.Unfinished() && st.Start.IncludeHidden != sh.includeHidden {
			// The same rows must be planned as in the run being resumed.
			was := "without"
			if st.Start.IncludeHidden {
				was = "with"
			}
			return fatal(fmt.Errorf("journal %s holds an interrupted run of this sheet started %s --include-hidden: run the same command %s it to resume, or use --fresh", path, was, was))
		}
		if !outputGiven && !rf.fresh && st.Unfinished() && st.Start.Output != "" && !st.Start.Sandbox {
			// --journal without --output: finish the interrupted run's
			// results file, not a new one under today's default name.
			sf.output = st.Start.Output
		}
	}
	p, err := prepareSheet(ctx, e, log, sh, &conn, today)
	if err != nil {
		return err
	}
	defer p.conn.Close()

	// What the journal holds: an interrupted run of this input to resume,
	// or earlier runs whose deletions the new run should know of.
	resume, history := false, false
	if jn != nil && st.Start != nil {
		sandbox := p.conn.sandbox != nil || st.Start.Sandbox
		switch {
		case sandbox && st.Unfinished():
			log.Warn().Str("journal", jn.Path()).Msg("the journal's interrupted run was against a sandbox org, which ended with it: starting a new run")
		case sandbox:
		case st.Start.APIDomain != p.conn.where && st.Unfinished() && !rf.fresh:
			return fatal(fmt.Errorf("journal %s holds an interrupted run against %s, not %s: use --fresh to start a new run on it or --journal to pick another file", jn.Path(), st.Start.APIDomain, p.conn.where))
		case st.Start.APIDomain != p.conn.where:
			log.Warn().Str("journal", jn.Path()).Str("api_domain", st.Start.APIDomain).Msg("the journal's earlier runs were against another org: their history is not used")
		case st.Unfinished() && !rf.fresh:
			resume, history = true, true
		default:
			history = true
		}
	}
	var others map[string]*journal.UserState
	if jn != nil && p.conn.sandbox == nil {
		others = unsettledElsewhere(log, filepath.Dir(jn.Path()), jn.Path(), p.conn.where)
	}
	rp := applyJournal(p.plan, st, resume, history, others, time.Now())
	if resume {
		log.Info().Str("journal", jn.Path()).Time("began", st.Began).Int("settled", rp.settled).Int("jobs_to_follow", rp.following).
			Msg("resuming an interrupted run: settled rows are not sent again")
	}
	counts := p.plan.Counts()
	planned := rp.toSubmit(p.plan)

	refuse := func(code int, why string) error {
		if err := writePlanResults(p, sf.output, start, true, why); err != nil {
			return fatal(err)
		}
		printPlanSummary(e.stdout, p, sf.output)
		return exitError{code: code, err: errors.New(why)}
	}
	switch {
	case rf.dryRun:
		if err := writePlanResults(p, sf.output, start, true, "dry run"); err != nil {
			return fatal(err)
		}
		printPlanSummary(e.stdout, p, sf.output)
		if counts[plan.Invalid] > 0 {
			return exitError{code: exitIncomplete, err: fmt.Errorf("dry run: %d of %d rows are invalid; see %s", counts[plan.Invalid], len(p.sheet.rows), sf.output)}
		}
		return nil
	case rf.strict && counts[plan.Invalid] > 0:
		return refuse(exitIncomplete, fmt.Sprintf("--strict: %d rows are invalid, so nothing was sent; fix them and run again", counts[plan.Invalid]))
	case planned > rf.maxDeletes:
		return refuse(exitFatal, fmt.Sprintf("%d rows would be submitted, more than --max-deletes %d; nothing was sent (raise --max-deletes if this is intended)", planned, rf.maxDeletes))
	}
	if planned > 0 && !rf.yes {
		if !isTerminal(e.stdin) {
			return refuse(exitFatal, fmt.Sprintf("%d users would be deleted, and there is no terminal to confirm on; nothing was sent (pass --yes to run unattended)", planned))
		}
		if resume {
			fmt.Fprintf(e.stdout, "Resuming the run of %s begun %s: %d rows settled, %d jobs to follow.\n",
				filepath.Base(st.Start.InputFile), st.Began.Local().Format(time.DateTime), rp.settled, rp.following)
		}
		ok, err := confirm(ctx, e, p, planned)
		if errors.Is(err, context.Canceled) {
			return refuse(exitInterrupted, "interrupted at the confirmation; nothing was sent")
		}
		if err != nil {
			return fatal(err)
		}
		if !ok {
			return refuse(exitFatal, "not confirmed; nothing was sent")
		}
	}

	rec := newRecorder(jn, log, p.plan.Steps)
	if err := jn.Append(startRecord(p, sf.output, resume)); err != nil {
		return fatal(fmt.Errorf("%w; nothing was sent", err))
	}
	created = false // the journal holds this run now
	began := start
	if resume {
		began = st.Began
	}

	prog.total = len(p.plan.Order)
	opts := runner.Options{
		MaxJobs:    rf.maxJobs,
		NoWait:     rf.noWait,
		JobTimeout: rf.jobTimeout,
		Log:        log,
		OnChange: func(r runner.Result) {
			rec.onChange(r)
			prog.onChange(r)
		},
		BeforeSubmit: rec.beforeSubmit,
		AfterSubmit:  rec.afterSubmit,
		Resume:       rp.resume,
	}
	if e.tuneRun != nil {
		e.tuneRun(&opts)
	}
	if d := jobDuration(st); d > 0 && (resume || history) {
		opts.JobDuration = d
		log.Debug().Dur("job_duration", d).Msg("first guess of a job's length, from the journal")
	}
	for i, st := range p.plan.Steps {
		if st.Outcome != plan.Planned { // the runner logs the rows it runs
			ev := log.Info().Int("row", st.Line).Str("outcome", string(st.Outcome)).Str("code", st.Code).Str("message", st.Message)
			if c, ok := rp.carried[i]; ok && c.JobID != "" {
				ev = ev.Str("job_id", c.JobID)
			}
			ev.Msg("row not run")
		}
	}
	if terminal {
		prog.showBar(e.stderr, 200*time.Millisecond)
	} else {
		prog.logEvery(log, progressInterval)
	}
	results, stop, runErr := runner.Run(ctx, p.conn.client, p.plan, opts)
	prog.stop()
	for i, c := range rp.carried {
		results[i] = c
	}
	note := ""
	if stop != nil {
		note = stop.Reason
	}
	interrupted := errors.Is(runErr, context.Canceled) || ctx.Err() != nil
	jerr := rec.finish(results, stop)
	if err := writeRunResults(p, sf.output, began, results, note, resume); err != nil {
		return fatal(err)
	}
	if jerr == nil && !interrupted {
		// The run reached its end: the next run on this journal is a new
		// one, not a resumption.
		jerr = jn.Append(journal.Record{Kind: journal.KindEnd})
	}
	if jerr != nil {
		log.Error().Err(jerr).Msg("the journal is incomplete; run the same command again to check the rows it does not settle")
	}
	final := tally(results)
	printRunSummary(e.stdout, p, final, sf.output, note)
	switch {
	case interrupted:
		return exitError{code: exitInterrupted, err: fmt.Errorf("interrupted; results written to %s; run the same command again to resume", sf.output)}
	case runErr != nil:
		return fatal(fmt.Errorf("%w; results written to %s", runErr, sf.output))
	case stop != nil && stop.Fatal:
		return fatal(fmt.Errorf("%s; results written to %s", stop.Reason, sf.output))
	}
	if bad := final[plan.Invalid] + final[plan.Failed] + final[plan.Submitted] + final[plan.NotRun]; bad > 0 {
		return exitError{code: exitIncomplete, err: fmt.Errorf("%d of %d rows did not end deleted, skipped or deferred; see %s", bad, len(results), sf.output)}
	}
	return nil
}

// progressInterval is how often a run without a terminal logs its
// progress.
const progressInterval = 30 * time.Second

// confirm shows the plan's counts on the terminal and asks the person to
// type the number of users to delete. A Ctrl-C while it waits ends the
// wait at once (context.Canceled): nothing is sent.
func confirm(ctx context.Context, e env, p *prepared, planned int) (bool, error) {
	counts := p.plan.Counts()
	fmt.Fprintf(e.stdout, "About to delete %d users from %s (%s).\n", planned, p.dir.Org.CompanyName, p.conn.where)
	fmt.Fprintf(e.stdout, "Rows: %d planned, %d invalid, %d skipped, %d deferred.\n", counts[plan.Planned], counts[plan.Invalid], counts[plan.Skipped], counts[plan.Deferred])
	if p.sheet != nil {
		printHidden(e.stdout, p.sheet)
	}
	fmt.Fprintf(e.stdout, "Type %d to go ahead, anything else to stop: ", planned)
	type answer struct {
		line string
		err  error
	}
	typed := make(chan answer, 1) // the read may outlive a Ctrl-C; it ends with the process
	go func() {
		line, err := bufio.NewReader(e.stdin).ReadString('\n')
		typed <- answer{line, err}
	}()
	select {
	case <-ctx.Done():
		fmt.Fprintln(e.stdout)
		return false, ctx.Err()
	case a := <-typed:
		if a.err != nil && !errors.Is(a.err, io.EOF) {
			return false, a.err
		}
		return strings.TrimSpace(a.line) == strconv.Itoa(planned), nil
	}
}

// tally counts final outcomes.
func tally(results []runner.Result) map[plan.Outcome]int {
	m := map[plan.Outcome]int{}
	for _, r := range results {
		m[r.Outcome]++
	}
	return m
}

func writeRunResults(p *prepared, output string, start time.Time, results []runner.Result, note string, resumed bool) error {
	if resumed {
		note = strings.TrimPrefix(note+"; resumed an interrupted run", "; ")
	}
	return writeResults(p, output, p.summary("run", start, false, note), func(i int, st plan.Step) report.Result {
		r := stepResult(p.sheet.rows[st.Index], st)
		res := results[i]
		r.Outcome, r.Code, r.Message = string(res.Outcome), res.Code, res.Message
		r.JobID, r.JobStatus, r.Attempts = res.JobID, res.JobStatus, res.Attempts
		r.SubmittedAt, r.FinishedAt = res.SubmittedAt, res.FinishedAt
		return r
	})
}

func printRunSummary(w io.Writer, p *prepared, final map[plan.Outcome]int, output, note string) {
	where := p.dir.Org.CompanyName
	if p.conn.sandbox != nil {
		where += " (sandbox)"
	}
	fmt.Fprintf(w, "\nRun of %s against %s: %d rows.\n\n", filepath.Base(p.sheet.path), where, len(p.sheet.rows))
	for _, o := range []plan.Outcome{plan.Deleted, plan.Submitted, plan.Failed, plan.Invalid, plan.Skipped, plan.Deferred, plan.NotRun} {
		fmt.Fprintf(w, "  %-9s %5d\n", o, final[o])
	}
	if note != "" {
		fmt.Fprintf(w, "\nStopped early: %s\n", note)
	}
	printHidden(w, p.sheet)
	fmt.Fprintf(w, "\nResults: %s\n", output)
}
