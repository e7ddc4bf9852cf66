package main

import (
	"context"
	"flag"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"offboard/input"
	"offboard/offboarding"
)

// sheetFlags select and read the input sheet and name the results file.
type sheetFlags struct {
	input, sheet, output, asOf string
	includeHidden, force       bool
}

func (s *sheetFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&s.input, "input", "", "the offboarding sheet: .xlsx or .csv (required)")
	fs.StringVar(&s.sheet, "sheet", "", "the XLSX sheet to read (default: the first visible sheet)")
	fs.BoolVar(&s.includeHidden, "include-hidden", false, "plan the rows the XLSX sheet hides (filtered out or hidden by hand); by default they are skipped as HIDDEN_ROW")
	fs.StringVar(&s.output, "output", "", "results workbook, .xlsx or .csv (default offboard-results-YYYYMMDD-HHMMSS.xlsx)")
	fs.StringVar(&s.asOf, "as-of", "", "check effective dates against this day, YYYY-MM-DD (default: today)")
	fs.BoolVar(&s.force, "force", false, "replace an existing --output that is not an offboard results file")
}

// options checks the flags and turns them into the sheet's options and
// the day effective dates are checked against.
func (s *sheetFlags) options(now time.Time) (offboarding.SheetOptions, input.Date, error) {
	o := offboarding.SheetOptions{Input: s.input, Sheet: s.sheet, IncludeHidden: s.includeHidden}
	if s.input == "" {
		return o, input.Date{}, usageError{"missing --input FILE (.xlsx or .csv)"}
	}
	if s.output != "" {
		if err := checkOutput(s.output); err != nil {
			return o, input.Date{}, err
		}
	}
	today := input.DateOf(now)
	if s.asOf != "" {
		t, err := time.Parse("2006-01-02", s.asOf)
		if err != nil {
			return o, input.Date{}, usageError{fmt.Sprintf("--as-of %q: want YYYY-MM-DD", s.asOf)}
		}
		today = input.DateOf(t)
	}
	return o, today, nil
}

// checkOutput checks that a results file is one offboard can write.
func checkOutput(path string) error {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".xlsx", ".csv":
		return nil
	}
	return usageError{fmt.Sprintf("--output %q: want a .xlsx or .csv file", path)}
}

func runPlan(ctx context.Context, e env, args []string) error {
	fs := newFlagSet(e, "plan", "--input FILE [--sheet NAME] [--output FILE] [--sandbox] [flags]")
	var (
		sf   sheetFlags
		conn connFlags
		logs logFlags
	)
	sf.register(fs)
	conn.register(fs)
	logs.register(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	now := e.clock()
	sheet, today, err := sf.options(now)
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
	output := sf.output
	if output == "" {
		output = offboarding.DefaultOutput(now)
	}
	return offboarding.Plan(ctx, e.streams(), offboarding.PlanOptions{
		Sheet: sheet, Output: output, Force: sf.force, Today: today, Conn: cn, Log: lc, Version: buildVersion(),
	})
}
