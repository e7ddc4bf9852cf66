package main

import (
	"context"

	"offboard/offboarding"
)

// runTemplate writes an empty input sheet for a person to fill in.
func runTemplate(_ context.Context, e env, args []string) error {
	flags := newFlagSet(e, "template", "--output FILE.xlsx|FILE.csv [--force]")
	var (
		output string
		force  bool
	)
	flags.StringVar(&output, "output", "", "the sheet to write: .xlsx (text-formatted ID columns, TRUE/FALSE drop-downs) or .csv")
	flags.BoolVar(&force, "force", false, "overwrite FILE if it exists")
	if err := parseFlags(flags, args); err != nil {
		return err
	}
	if output == "" {
		return usageError{"missing --output FILE.xlsx or FILE.csv"}
	}
	return offboarding.Template(e.streams(), output, force, e.clock())
}
