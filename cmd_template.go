package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"offboard/input"
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
	if !force {
		if _, err := os.Stat(output); err == nil {
			return fatal(fmt.Errorf("%s already exists; pass --force to overwrite it", output))
		} else if !errors.Is(err, fs.ErrNotExist) {
			return fatal(err)
		}
	}
	if err := input.WriteTemplate(output); err != nil {
		return fatal(err)
	}
	fmt.Fprintf(e.stdout, "wrote %s: fill in one row per leaver (the example row shows the format)\n", output)
	return nil
}
