package main

import (
	"flag"
	"time"

	"offboard/input"
	"offboard/offboarding"
)

// planFlags are offboard run's flags for running an approved plan.
type planFlags struct {
	plan   string
	maxAge time.Duration
}

func (p *planFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&p.plan, "plan", "", "run the rows approved in this plan workbook (written by offboard plan), exactly as planned, instead of planning --input again")
	fs.DurationVar(&p.maxAge, "plan-max-age", offboarding.DefaultPlanMaxAge, "with --plan: refuse a plan made longer ago than this")
}

// options checks the flags of a run of an approved plan: the plan stands
// for the input, so the flags that read an input have no place.
func (p *planFlags) options(sf *sheetFlags, now time.Time) (offboarding.SheetOptions, input.Date, error) {
	switch {
	case p.maxAge <= 0:
		return offboarding.SheetOptions{}, input.Date{}, usageError{"--plan-max-age must be positive"}
	case sf.input != "":
		return offboarding.SheetOptions{}, input.Date{}, usageError{"--plan and --input: give one; with --plan, the input is the one the plan read, as its seal keeps it"}
	case sf.sheet != "" || sf.includeHidden || sf.asOf != "":
		return offboarding.SheetOptions{}, input.Date{}, usageError{"--sheet, --include-hidden and --as-of choose how an input is planned; with --plan the plan is already made"}
	}
	if sf.output != "" {
		if err := checkOutput(sf.output); err != nil {
			return offboarding.SheetOptions{}, input.Date{}, err
		}
	}
	return offboarding.SheetOptions{}, input.DateOf(now), nil
}
