package main

import (
	"context"

	"offboard/offboarding"
)

// runReport rebuilds a run's results workbook from its journal alone.
func runReport(_ context.Context, e env, args []string) error {
	fs := newFlagSet(e, "report", "--journal FILE --output FILE")
	var path, output string
	fs.StringVar(&path, "journal", "", "the journal of the run (required)")
	fs.StringVar(&output, "output", "", "the results workbook to write, .xlsx or .csv (required)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if path == "" || output == "" {
		return usageError{"report needs --journal FILE and --output FILE"}
	}
	if err := checkOutput(output); err != nil {
		return err
	}
	return offboarding.Report(e.streams(), offboarding.ReportOptions{Journal: path, Output: output, Version: buildVersion()})
}
