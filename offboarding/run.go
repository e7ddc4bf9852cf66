package offboarding

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

	"github.com/rs/zerolog"

	"offboard/input"
	"offboard/journal"
	"offboard/plan"
	"offboard/result"
	"offboard/runner"
	"offboard/termtext"
)

// RunOptions are the options of offboard run.
type RunOptions struct {
	Sheet SheetOptions
	// Output is the results workbook to write, .xlsx or .csv. "" means
	// the default name in the current directory,
	// offboard-results-YYYYMMDD-HHMMSS.xlsx, unless an interrupted run of
	// the same input is found there (or through Journal) to finish.
	Output string
	// Force replaces an Output that exists and is not an offboard
	// results file.
	Force bool
	// Today is the day effective dates are checked against.
	Today input.Date
	Conn  Connection
	Log   LogConfig
	// MaxJobs, NoWait and JobTimeout go to the runner.
	MaxJobs    int
	NoWait     bool
	JobTimeout time.Duration
	// MaxDeletes refuses to start when more rows would be submitted.
	MaxDeletes int
	// Strict refuses to start when any row is invalid.
	Strict bool
	// Yes runs without asking for confirmation.
	Yes bool
	// DryRun writes the plan only, as offboard plan does.
	DryRun bool
	// Journal is the run's journal; "" means the output path plus
	// .journal.
	Journal string
	// Fresh starts a new run instead of resuming the journal's interrupted
	// one; what the journal knows of jobs and doubts is kept.
	Fresh bool
	// Version is offboard's, for the Summary and the journal.
	Version string
	// Now gives the start time, which names the default results file;
	// nil means time.Now.
	Now func() time.Time
	// Tune, if set, adjusts the runner's options last: tests poll a
	// simulator whose jobs take milliseconds.
	Tune func(*runner.Options)
	// Ended, if set, is called once the results file (or a refused run's
	// plan) is written, before Run returns.
	Ended func(Ended)
	// Plan, if set, is an approved plan workbook to run instead of
	// planning Sheet: its approved rows, and nothing else. PlanMaxAge is
	// how old it may be (0 means DefaultPlanMaxAge).
	Plan       string
	PlanMaxAge time.Duration
}

// DefaultOutput is the results file a command names when given none, in
// the working directory: offboard-results-YYYYMMDD-HHMMSS.xlsx, with -2,
// -3... added when a file of that name (or its journal) is already there,
// so that two runs in one second never share a results file or a journal.
func DefaultOutput(start time.Time) string {
	base := "offboard-results-" + start.Format("20060102-150405")
	name := base + ".xlsx"
	for n := 2; taken(name) && n < 1000; n++ {
		name = fmt.Sprintf("%s-%d.xlsx", base, n)
	}
	return name
}

func taken(name string) bool {
	for _, f := range []string{name, name + ".journal", name + ".journal.lock"} {
		if _, err := os.Lstat(f); err == nil {
			return true
		}
	}
	return false
}

// progressInterval is how often a run without a terminal logs its
// progress.
const progressInterval = 30 * time.Second

// Run reads the sheet, checks it against the live org, guards and
// confirms, deletes the planned users within Zoho's limits, follows every
// job, keeps a journal that lets the same command resume after a crash,
// and writes the results workbook.
func Run(ctx context.Context, ios IO, o RunOptions) error {
	now := o.Now
	if now == nil {
		now = time.Now
	}
	start := now()
	output, outputGiven := o.Output, o.Output != ""
	if !outputGiven {
		output = DefaultOutput(start)
	}
	prog := newProgress(0, time.Now)
	var logOut io.Writer = ios.Err
	if ios.ErrTerminal {
		logOut = around{p: prog, w: ios.Err}
	}
	log := o.Log.Logger(logOut, ios.ErrTerminal)
	if err := checkDirs(output, o.Journal); err != nil {
		return err
	}
	written := append(resultsFiles(output), output+".journal", output+".journal.lock")
	if o.Journal != "" {
		written = append(written, o.Journal, o.Journal+".lock")
	}
	read := o.Sheet.Input
	if o.Plan != "" {
		read = o.Plan
	}
	if err := checkNotInput(read, written...); err != nil {
		return err
	}
	if err := checkOverwrite(output, o.Force); err != nil {
		return err
	}
	var sh *sheet
	var err error
	if o.Plan != "" {
		maxAge := o.PlanMaxAge
		if maxAge == 0 {
			maxAge = DefaultPlanMaxAge
		}
		sh, err = readApproved(log, o.Plan, maxAge, start)
	} else {
		sh, err = readSheet(log, o.Sheet)
	}
	if err != nil {
		return err
	}

	// The journal is locked before anything else, so that an overlapping
	// run stops at once, and checked against the input before connecting.
	var (
		jn      *journal.Journal
		st      journal.State
		runs    int
		created bool
	)
	if !o.DryRun {
		path := o.Journal
		if path == "" && !outputGiven && !o.Conn.Sandbox && !o.Fresh {
			if found := findInterrupted(log, filepath.Dir(output), sh); found != "" {
				path = found
				output = strings.TrimSuffix(found, ".journal")
				log.Info().Str("journal", found).Str("output", output).Msg("resuming the interrupted run of this input")
			}
		}
		if path == "" {
			path = output + ".journal"
		}
		jn, st, runs, created, err = openJournal(log, path, start)
		if err != nil {
			return err
		}
		defer func() {
			if created {
				jn.Discard() // the run sent nothing: leave no empty journal behind
			} else {
				jn.Close()
			}
		}()
		if err := checkJournal(log, path, st, sh, o.Fresh); err != nil {
			return err
		}
		if o.Conn.Sandbox && st.Start != nil && !st.Start.Sandbox {
			// The sandbox's users are not the org's: a sandbox run on a
			// real run's journal would hide that run's history, and
			// replace its results.
			return fmt.Errorf("journal %s holds runs against a real org; a --sandbox run writes neither into it nor over its results: use --output (or --journal) to pick other files", path)
		}
		if !outputGiven && o.Journal != "" && st.Unfinished() && st.Start.Output != "" {
			// --journal without --output: the results go under the default
			// name here, not to the path the journal names. A path read
			// from a file is never written: the file may not be what it
			// seems, and the user named neither.
			log.Info().Str("journal", path).Str("output", output).Str("earlier_output", st.Start.Output).
				Msg("--journal without --output: the results go to the default name in the current directory")
		}
	}
	if sh.approved != nil && jn != nil && !o.Fresh && st.Unfinished() && st.Start.Plan != nil {
		sh.journaled = journaledLines(st) // checkJournal found it is this plan's
	}
	p, err := prepare(ctx, log, sh, o.Conn, o.Today)
	if err != nil {
		return err
	}
	defer p.conn.Close()
	p.settings = o.settings()

	// What the journal holds: an interrupted run of this input to resume,
	// or earlier runs whose deletions the new run should know of.
	// A journal of only a history record (an older offboard's compaction)
	// still says what its runs did to each user.
	resume, history := false, jn != nil && st.Start == nil && len(st.Users) > 0
	if jn != nil && st.Start != nil {
		// History is what the journal's runs did to each user: whatever
		// org its latest run was against, earlier ones may have been
		// against this one, and user IDs are not shared between orgs. A
		// sandbox run keeps none: its org ended with it.
		switch same, known := sameOrg(st.Start, p); {
		case p.conn.sandbox != nil:
			if st.Unfinished() {
				log.Warn().Str("journal", jn.Path()).Msg("the journal's interrupted run was against a sandbox org, which ended with it: starting a new run")
			}
		case st.Start.Sandbox:
			if st.Unfinished() {
				log.Warn().Str("journal", jn.Path()).Msg("the journal's interrupted run was against a sandbox org, which ended with it: starting a new run")
			}
			history = true
		case !same && st.Unfinished() && !o.Fresh:
			return fmt.Errorf("journal %s holds an interrupted run against %s, not %s: use --fresh to start a new run on it or --journal to pick another file", jn.Path(), known, p.where())
		case !same:
			log.Info().Str("journal", jn.Path()).Str("org", known).Msg("the journal's latest run was against another org: a new run starts, and what earlier runs did to this org's users is kept")
			history = true
		case st.Unfinished() && !o.Fresh:
			resume, history = true, true
		default:
			history = true
		}
	}
	// The time now, on this host's clock and on the journals' file
	// system's: the lock was written a moment ago.
	clock := fsClock{now: time.Now()}
	if jn != nil {
		if fi, err := os.Stat(jn.Path() + ".lock"); err == nil {
			clock.fsNow = fi.ModTime()
		}
	}
	var others map[string][]userRecord
	if jn != nil && p.conn.sandbox == nil {
		if others, err = elsewhere(log, filepath.Dir(jn.Path()), jn.Path(), p, clock); err != nil {
			return err
		}
	}
	if known := deletedByUs(st, history, others); len(known) > 0 && sh.approved == nil {
		// Of deleted users sharing an email, rows mean the one a run of
		// ours deleted: plan again knowing them (it reads nothing).
		p.plan = plan.BuildKnowing(sh.Rows, p.dir, o.Today, known)
	}
	rows := p.results()
	var ownMtime time.Time
	if jn != nil {
		if fi, err := os.Stat(jn.Path()); err == nil {
			ownMtime = clock.ours(changed(fi))
		}
	}
	win := runner.Options{JobTimeout: o.JobTimeout}
	if o.Tune != nil {
		o.Tune(&win)
	}
	win = win.Effective()
	rp := applyJournal(log, p.plan, rows, st, ownMtime, win.JobTimeout+win.RequestTimeout, resume, history, others, clock.now)
	if resume {
		log.Info().Str("journal", jn.Path()).Time("began", st.Began).Int("settled", rp.settled).Int("jobs_to_follow", rp.following).
			Msg("resuming an interrupted run: settled rows are not sent again")
	}
	counts := p.plan.Counts()
	planned := rp.toSubmit(p.plan)

	refuse := func(err error) error {
		if werr := writePlan(p, "run", output, o.Version, start, true, err.Error()); werr != nil {
			return werr
		}
		o.ended(p, p.results(), output)
		printPlanSummary(ios.Out, p, output)
		return err
	}
	switch {
	case o.DryRun:
		if err := writePlan(p, "run", output, o.Version, start, true, "dry run"); err != nil {
			return err
		}
		o.ended(p, p.results(), output)
		printPlanSummary(ios.Out, p, output)
		if counts[result.Invalid] > 0 {
			return &IncompleteError{Msg: fmt.Sprintf("dry run: %d of %d rows are invalid; see %s", counts[result.Invalid], len(sh.Rows), output)}
		}
		return nil
	case o.Strict && counts[result.Invalid] > 0:
		return refuse(&IncompleteError{Msg: fmt.Sprintf("--strict: %d rows are invalid, so nothing was sent; fix them and run again", counts[result.Invalid])})
	case planned > o.MaxDeletes:
		return refuse(fmt.Errorf("%d rows would be submitted, more than --max-deletes %d; nothing was sent (raise --max-deletes if this is intended)", planned, o.MaxDeletes))
	}
	if planned > 0 && !o.Yes {
		if !ios.InTerminal {
			return refuse(fmt.Errorf("%d users would be deleted, and there is no terminal to confirm on; nothing was sent (pass --yes to run unattended)", planned))
		}
		if resume {
			fmt.Fprintf(ios.Out, "Resuming the run of %s begun %s: %d rows settled, %d jobs to follow.\n",
				filepath.Base(st.Start.InputFile), st.Began.Local().Format(time.DateTime), rp.settled, rp.following)
		}
		ok, err := confirm(ctx, ios, p, planned)
		if errors.Is(err, context.Canceled) {
			return refuse(&InterruptedError{Msg: "interrupted at the confirmation; nothing was sent"})
		}
		if err != nil {
			return err
		}
		if !ok {
			return refuse(errors.New("not confirmed; nothing was sent"))
		}
	}

	rec := newRecorder(jn, log, p.plan.Steps, rp.resume)
	sandbox := p.conn.sandbox != nil
	interruptNote := "Ctrl-C again to quit now"
	if sandbox {
		interruptNote += "; the sandbox org ends with offboard, so this run cannot be resumed"
	}
	opts := runner.Options{
		MaxJobs:    o.MaxJobs,
		NoWait:     o.NoWait,
		JobTimeout: o.JobTimeout,
		Log:        log,
		OnChange: func(i int, r result.Row, final bool) {
			rec.onChange(i, r, final)
			prog.onChange(i, r, final)
		},
		BeforeSubmit: rec.beforeSubmit,
		AfterSubmit:  rec.afterSubmit,
		Resume:       rp.resume,
		Pacer:        p.conn.pacer,
	}
	opts.InterruptNote = interruptNote
	if d := jobDuration(st); d > 0 && (resume || history) {
		opts.JobDuration = d
		log.Debug().Dur("job_duration", d).Msg("first guess of a job's length, from the journal")
	}
	if o.Tune != nil {
		o.Tune(&opts)
	}
	begin := startRecord(p, rows, output, o.Version, resume, opts.Effective(), jn.Owner())
	if !resume && runs >= journal.CompactAfter && !st.Unfinished() {
		// A journal a cron job appends to every night stays bounded: its
		// earlier runs give way to what they did to each user.
		if err := jn.Compact(st, begin); err != nil {
			return fmt.Errorf("%w; nothing was sent", err)
		}
		log.Info().Str("journal", jn.Path()).Int("runs", runs).Int("users", len(st.Users)).Msg("journal compacted: its earlier runs are kept as what they did to each user")
	} else if err := jn.Append(begin); err != nil {
		return fmt.Errorf("%w; nothing was sent", err)
	}
	created = false // the journal holds this run now
	began := start
	if resume {
		began = st.Began
	}

	// From here on, a process ending at once leaves this run's jobs
	// behind, recorded in its journal.
	quit := quitFrom(ctx)
	quit.set(func() { sayQuitting(log, jn.Path(), sandbox, rec.running()) })
	prog.total = len(p.plan.Order)
	for i, st := range p.plan.Steps {
		if st.Outcome != result.Planned { // the runner logs the rows it runs
			runner.LogRow(log.Info(), rows[i], sh.Rows[st.Index].User.Raw).Msg("row not run")
		}
	}
	if ios.ErrTerminal {
		prog.showBar(ios.Err, 200*time.Millisecond)
	} else {
		prog.logEvery(log, progressInterval)
	}
	results, stop, runErr := runner.Run(ctx, p.conn.client, p.plan, rows, opts)
	prog.stop()
	if results == nil {
		return runErr
	}
	stopped, note := "", ""
	if stop != nil {
		stopped, note = stop.Reason, stop.Reason
	}
	wasInterrupted := errors.Is(runErr, context.Canceled) || ctx.Err() != nil
	jerr := rec.finish(results, stop)
	if resume {
		note = strings.TrimPrefix(note+"; resumed an interrupted run", "; ")
	}
	if err := writeResults(output, sh.Header.Names, results, p.summary("run", o.Version, began, false, note)); err != nil {
		return err
	}
	o.ended(p, results, output)
	quit.set(func() { log.Warn().Str("output", output).Msg("quitting now: the results are written") })
	if jerr == nil && !wasInterrupted {
		// The run reached its end: the next run on this journal is a new
		// one, not a resumption.
		jerr = jn.Append(journal.Record{Kind: journal.KindEnd})
	}
	if jerr != nil {
		log.Error().Err(jerr).Msg("the journal is incomplete; run the same command again to check the rows it does not settle")
	}
	final := result.Counts(results)
	printRunSummary(ios.Out, p, results, output, stopped, resume)
	switch {
	case wasInterrupted && sandbox:
		return &InterruptedError{Msg: fmt.Sprintf("interrupted; results written to %s; the sandbox org ended with this run, so it cannot be resumed: a later --sandbox run starts afresh against a new sandbox", output)}
	case wasInterrupted:
		return &InterruptedError{Msg: fmt.Sprintf("interrupted; results written to %s; run the same command again to resume", output)}
	case runErr != nil:
		return fmt.Errorf("%w; results written to %s", runErr, output)
	case stop != nil && stop.Fatal:
		return fmt.Errorf("%s; results written to %s", stop.Reason, output)
	}
	bad := 0
	for o, n := range final {
		if !o.Done() {
			bad += n
		}
	}
	if bad > 0 {
		return &IncompleteError{Msg: fmt.Sprintf("%d of %d rows did not end deleted, skipped or deferred; see %s", bad, len(results), output)}
	}
	return nil
}

// checkJournal refuses a journal whose interrupted run belongs to another
// input, or planned other rows (--include-hidden): its rows' states must
// not land on another run's rows. With fresh, a new run starts on it.
func checkJournal(log zerolog.Logger, path string, st journal.State, sh *sheet, fresh bool) error {
	switch {
	case fresh && st.Unfinished():
		// A new run, not the interrupted one: the journal keeps what it
		// knows of that run's jobs still running and submissions in
		// doubt, and the new run honours it for the users it shares.
		log.Warn().Str("journal", path).Str("interrupted_input", st.Start.InputFile).
			Msg("--fresh: starting a new run instead of resuming the journal's interrupted one; its jobs still running and submissions in doubt are kept")
		return nil
	case !st.Unfinished():
		return nil
	}
	if err := journal.CheckInput(path, st, sh.path, sh.SHA256, sh.Name, sh.identity()); err != nil {
		return err // main says what to type
	}
	if err := samePlan(path, st.Start.Plan, sh); err != nil {
		return err
	}
	if st.Start.IncludeHidden != sh.includeHidden {
		// The same rows must be planned as in the run being resumed.
		was := "without"
		if st.Start.IncludeHidden {
			was = "with"
		}
		return fmt.Errorf("journal %s holds an interrupted run of this sheet started %s --include-hidden: run the same command %s it to resume, or use --fresh", path, was, was)
	}
	return nil
}

// sameOrg reports whether a journal's run was against the org p was
// checked against, the same org ID through the same API domain, and names
// the journal's org for a person.
func sameOrg(start *journal.Record, p *prepared) (same bool, known string) {
	if start.OrgID == "" {
		// A journal written before runs were keyed on the org's ID: its
		// api_domain may be a description, not the domain. Nothing tells
		// its org apart, so it is taken for another org's.
		return false, "an org this journal does not identify (written by an older offboard)"
	}
	return start.OrgID == p.orgID() && start.APIDomain == p.apiDomain, fmt.Sprintf("org %s (%s)", start.OrgID, start.APIDomain)
}

// confirm shows the plan's counts on the terminal and asks the person to
// type the number of users to delete. A Ctrl-C while it waits ends the
// wait at once (context.Canceled): nothing is sent.
func confirm(ctx context.Context, ios IO, p *prepared, planned int) (bool, error) {
	printOverview(ios.Out, p, "them all with offboard plan, which writes the workbook and sends nothing")
	fmt.Fprintf(ios.Out, "\nAbout to delete %d users from %s. This cannot be undone.\n", planned, p.whereLong())
	fmt.Fprintf(ios.Out, "Type %d to go ahead, anything else to stop: ", planned)
	type answer struct {
		line string
		err  error
	}
	typed := make(chan answer, 1) // the read may outlive a Ctrl-C; it ends with the process
	go func() {
		line, err := bufio.NewReader(ios.In).ReadString('\n')
		typed <- answer{line, err}
	}()
	select {
	case <-ctx.Done():
		fmt.Fprintln(ios.Out)
		return false, ctx.Err()
	case a := <-typed:
		if a.err != nil && !errors.Is(a.err, io.EOF) {
			return false, a.err
		}
		return strings.TrimSpace(a.line) == strconv.Itoa(planned), nil
	}
}

func printRunSummary(w io.Writer, p *prepared, results []result.Row, output, stopped string, resumed bool) {
	final := result.Counts(results)
	run := "Run"
	if resumed {
		run = "Resumed run"
	}
	what := filepath.Base(p.sheet.path)
	if a := p.sheet.approved; a != nil {
		what = fmt.Sprintf("the approved plan %s (of %s, digest %.12s…)", filepath.Base(p.sheet.planPath), what, a.Digest)
	}
	fmt.Fprintf(w, "\n%s of %s against %s: %d rows.\n\n", run, what, p.whereLong(), len(p.sheet.Rows))
	for _, o := range result.Final() {
		fmt.Fprintf(w, "  %-9s %5d\n", o, final[o])
	}
	if stopped != "" {
		fmt.Fprintf(w, "\nStopped early: %s\n", termtext.Line(stopped))
	}
	printRows(w, "Rows that need you", attention(results), output)
	printHidden(w, p.sheet)
	fmt.Fprintf(w, "\nResults: %s\n", output)
}
