package main

import (
	"context"
	"flag"
	"fmt"
	"time"

	"offboard/input"
	"offboard/offboarding"
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

func (r *runFlags) register(fs *flag.FlagSet) {
	fs.IntVar(&r.maxJobs, "max-jobs", 10, "transfer-and-delete jobs of this run unfinished at once (Zoho runs at most 10 per org)")
	fs.IntVar(&r.maxDeletes, "max-deletes", 50, "refuse to start (sending nothing) if more rows than this would be submitted")
	fs.BoolVar(&r.strict, "strict", false, "send nothing if any row is invalid (exit 3)")
	fs.BoolVar(&r.yes, "yes", false, "do not ask for confirmation; required when not on a terminal")
	fs.BoolVar(&r.dryRun, "dry-run", false, "check and write the plan workbook only, as offboard plan does; sends nothing")
	fs.BoolVar(&r.noWait, "no-wait", false, "stop following jobs once they are submitted (outcome submitted)")
	fs.DurationVar(&r.jobTimeout, "job-timeout", 30*time.Minute, "how long to follow one job before giving up on it (outcome submitted); also the longest a job is taken to run")
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
		err   error
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
	cn, err := conn.connection(e)
	if err != nil {
		return err
	}
	return offboarding.Run(ctx, e.streams(), offboarding.RunOptions{
		Sheet: sheet, Output: sf.output, Force: sf.force, Today: today, Conn: cn, Log: lc,
		MaxJobs: rf.maxJobs, NoWait: rf.noWait, JobTimeout: rf.jobTimeout,
		MaxDeletes: rf.maxDeletes, Strict: rf.strict, Yes: rf.yes, DryRun: rf.dryRun,
		Journal: rf.journal, Fresh: rf.fresh, Version: buildVersion(),
		Now: e.now, Tune: e.tuneRun,
		Plan: pf.plan, PlanMaxAge: pf.maxAge,
	})
}
