package offboarding

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"offboard/input"
	"offboard/result"
	"offboard/runner"
)

// PlanOptions are the options of offboard plan.
type PlanOptions struct {
	Sheet SheetOptions
	// Output is the results workbook to write, .xlsx or .csv.
	Output string
	// Force replaces an Output that exists and is not an offboard
	// results file.
	Force bool
	// Today is the day effective dates are checked against.
	Today input.Date
	Conn  Connection
	Log   LogConfig
	// Version is offboard's, for the Summary.
	Version string
}

// Plan reads the sheet, checks every row against the live org and writes
// the workbook of what would happen. Nothing is written to Zoho. Invalid
// rows make it an *IncompleteError.
func Plan(ctx context.Context, ios IO, o PlanOptions) error {
	start := time.Now()
	log := o.Log.Logger(ios.Err, ios.ErrTerminal)
	if err := checkDirs(o.Output); err != nil {
		return err
	}
	if err := checkNotInput(o.Sheet.Input, resultsFiles(o.Output)...); err != nil {
		return err
	}
	if err := checkOverwrite(o.Output, o.Force); err != nil {
		return err
	}
	sh, err := readSheet(log, o.Sheet)
	if err != nil {
		return err
	}
	p, err := prepare(ctx, log, sh, o.Conn, o.Today)
	if err != nil {
		return err
	}
	defer p.conn.Close()
	if strings.EqualFold(filepath.Ext(o.Output), ".xlsx") {
		// A plan workbook seals its plan, so that it can be approved and
		// run as it is (offboard run --plan).
		digest, err := writeSealedPlan(p, o.Output, o.Version, start, o.Today)
		if err != nil {
			return err
		}
		log.Info().Str("output", o.Output).Str("digest", digest).Msg("plan sealed")
	} else if err := writePlan(p, "plan", o.Output, o.Version, start, false, ""); err != nil {
		return err
	}
	// One line per row, as a run logs them: a log pipeline sees what the
	// plan says of each row, with its reason and user.
	for i, r := range p.results() {
		runner.LogRow(log.Info(), r, sh.Rows[i].User.Raw).Msg("row checked")
	}
	printPlanSummary(ios.Out, p, o.Output)
	if n := p.plan.Counts()[result.Invalid]; n > 0 {
		return &IncompleteError{Msg: fmt.Sprintf("%d of %d rows are invalid; see %s", n, len(sh.Rows), o.Output)}
	}
	return nil
}

// writePlan writes the plan's workbook: every row with its planned
// outcome.
func writePlan(p *prepared, command, output, version string, start time.Time, dryRun bool, note string) error {
	return writeResults(output, p.sheet.Header.Names, p.results(),
		p.summary(command, version, start, dryRun, note))
}
