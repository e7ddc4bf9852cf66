package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"offboard/input"
	"offboard/plan"
	"offboard/report"
	"offboard/runner"
)

// sheetFlags select and read the input sheet and name the results file.
type sheetFlags struct {
	input, sheet, output, asOf string
	includeHidden              bool
}

func (s *sheetFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&s.input, "input", "", "the offboarding sheet: .xlsx or .csv (required)")
	fs.StringVar(&s.sheet, "sheet", "", "the XLSX sheet to read (default: the first visible sheet)")
	fs.BoolVar(&s.includeHidden, "include-hidden", false, "plan the rows the XLSX sheet hides (filtered out or hidden by hand); by default they are skipped as HIDDEN_ROW")
	fs.StringVar(&s.output, "output", "", "results workbook, .xlsx or .csv (default offboard-results-YYYYMMDD-HHMMSS.xlsx)")
	fs.StringVar(&s.asOf, "as-of", "", "check effective dates against this day, YYYY-MM-DD (default: today)")
}

// resolve checks the flags and fills the defaults.
func (s *sheetFlags) resolve(now time.Time) (input.Date, error) {
	if s.input == "" {
		return input.Date{}, usageError{"missing --input FILE (.xlsx or .csv)"}
	}
	if s.output == "" {
		s.output = "offboard-results-" + now.Format("20060102-150405") + ".xlsx"
	}
	if err := checkOutput(s.output); err != nil {
		return input.Date{}, err
	}
	today := input.DateOf(now)
	if s.asOf != "" {
		t, err := time.Parse("2006-01-02", s.asOf)
		if err != nil {
			return input.Date{}, usageError{fmt.Sprintf("--as-of %q: want YYYY-MM-DD", s.asOf)}
		}
		today = input.DateOf(t)
	}
	return today, nil
}

// checkOutput checks that a results file is one offboard can write.
func checkOutput(path string) error {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".xlsx", ".csv":
		return nil
	}
	return usageError{fmt.Sprintf("--output %q: want a .xlsx or .csv file", path)}
}

// sheet is the input as read: its header, rows and checksum.
type sheet struct {
	path   string
	header input.Header
	rows   []input.Row
	sha256 string
	// hidden counts the rows the sheet hides; includeHidden says they are
	// planned rather than skipped.
	hidden        int
	includeHidden bool
}

func readSheet(path, sheetName string, includeHidden bool) (*sheet, error) {
	r, err := input.Open(path, input.Options{Sheet: sheetName, IncludeHidden: includeHidden})
	if err != nil {
		return nil, err
	}
	defer r.Close()
	s := &sheet{path: path, header: r.Header(), includeHidden: includeHidden}
	for {
		row, err := r.Next()
		if errors.Is(err, io.EOF) {
			if s.sha256, err = r.SHA256(); err != nil {
				return nil, err
			}
			s.hidden = r.HiddenRows()
			return s, nil
		}
		if err != nil {
			return nil, err
		}
		s.rows = append(s.rows, row)
	}
}

// needsRoles reports whether any row moves subordinates, the only check
// that needs the org's roles.
func needsRoles(rows []input.Row) bool {
	for _, r := range rows {
		if !r.SubordinatesTo.IsZero() {
			return true
		}
	}
	return false
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
	start := time.Now()
	today, err := sf.resolve(start)
	if err != nil {
		return err
	}
	log, err := logs.logger(e.stderr)
	if err != nil {
		return err
	}
	p, err := preparePlan(ctx, e, log, &sf, &conn, today)
	if err != nil {
		return err
	}
	defer p.conn.Close()
	if err := writePlanResults(p, sf.output, start, true, ""); err != nil {
		return fatal(err)
	}
	printPlanSummary(e.stdout, p, sf.output)
	if p.plan.Counts()[plan.Invalid] > 0 {
		return exitError{code: exitIncomplete, err: fmt.Errorf("%d of %d rows are invalid; see %s", p.plan.Counts()[plan.Invalid], len(p.sheet.rows), sf.output)}
	}
	return nil
}

// prepared is a read sheet, checked against the live org.
type prepared struct {
	sheet *sheet
	conn  *connection
	dir   plan.Directory
	plan  *plan.Plan
}

// preparePlan reads the sheet, fetches the directory and builds the plan.
// Nothing is written to Zoho.
func preparePlan(ctx context.Context, e env, log zerolog.Logger, sf *sheetFlags, cf *connFlags, today input.Date) (*prepared, error) {
	sh, err := loadSheet(log, sf)
	if err != nil {
		return nil, err
	}
	return prepareSheet(ctx, e, log, sh, cf, today)
}

// loadSheet reads the sheet that sf names.
func loadSheet(log zerolog.Logger, sf *sheetFlags) (*sheet, error) {
	sh, err := readSheet(sf.input, sf.sheet, sf.includeHidden)
	if err != nil {
		return nil, fatal(err)
	}
	log.Info().Str("input", sf.input).Int("rows", len(sh.rows)).Int("hidden_rows", sh.hidden).Str("sha256", sh.sha256).Msg("sheet read")
	return sh, nil
}

// prepareSheet checks a read sheet against the live org.
func prepareSheet(ctx context.Context, e env, log zerolog.Logger, sh *sheet, cf *connFlags, today input.Date) (*prepared, error) {
	conn, err := cf.connect(e, log)
	if err != nil {
		return nil, fatal(err)
	}
	dir, err := runner.FetchDirectory(ctx, conn.client, needsRoles(sh.rows), runner.ReadPolicy{Log: log})
	if err != nil {
		conn.Close()
		if ctx.Err() != nil {
			return nil, ctx.Err() // Ctrl-C while the org was read: exit 130, nothing sent
		}
		return nil, fatal(err)
	}
	if err := plan.CheckCaller(dir); err != nil {
		conn.Close()
		return nil, fatal(err)
	}
	log.Info().Int("users", len(dir.Users)).Int("roles", len(dir.Roles)).Str("org", dir.Org.CompanyName).Msg("org directory read")
	return &prepared{sheet: sh, conn: conn, dir: dir, plan: plan.Build(sh.rows, dir, today)}, nil
}

// writePlanResults writes the plan's workbook: every row with its planned
// outcome.
func writePlanResults(p *prepared, output string, start time.Time, dryRun bool, note string) error {
	return writeResults(p, output, p.summary("plan", start, dryRun, note), func(_ int, st plan.Step) report.Result {
		return stepResult(p.sheet.rows[st.Index], st)
	})
}

// writeResults writes one results row per plan step, in input order, as
// row says, then the summary.
func writeResults(p *prepared, output string, s report.Summary, row func(i int, st plan.Step) report.Result) error {
	w, err := report.Create(output, p.sheet.header.Names)
	if err != nil {
		return err
	}
	for i, st := range p.plan.Steps {
		if err := w.Write(row(i, st)); err != nil {
			w.Abort()
			return err
		}
	}
	s.End = time.Now()
	return w.Close(s)
}

// summary is the Summary sheet of a plan or run of p.
func (p *prepared) summary(command string, start time.Time, dryRun bool, note string) report.Summary {
	return report.Summary{
		Command:       command,
		InputFile:     filepath.Base(p.sheet.path),
		InputSHA256:   p.sheet.sha256,
		RowsRead:      len(p.sheet.rows),
		HiddenRows:    p.sheet.hidden,
		IncludeHidden: p.sheet.includeHidden,
		Start:         start,
		APIDomain:     p.conn.where,
		DryRun:        dryRun,
		Sandbox:       p.conn.sandbox != nil,
		Version:       buildVersion(),
		Note:          note,
	}
}

// stepResult is the results row of a planned step.
func stepResult(row input.Row, st plan.Step) report.Result {
	r := report.Result{
		Line:    row.Line,
		Cells:   row.Cells,
		Outcome: string(st.Outcome),
		Code:    st.Code,
		Message: st.Message,
	}
	if st.User != nil {
		r.UserID, r.UserEmail = string(st.User.ID), st.User.Email
	}
	if st.TransferTo != nil {
		r.TransferToID = string(st.TransferTo.ID)
	}
	if st.SubordinatesTo != nil {
		r.SubordinatesToID = string(st.SubordinatesTo.ID)
	}
	return r
}

// maxProblemsShown bounds the problems printed; the workbook has them all.
const maxProblemsShown = 10

func printPlanSummary(w io.Writer, p *prepared, output string) {
	counts := p.plan.Counts()
	where := p.dir.Org.CompanyName
	if p.conn.sandbox != nil {
		where += " (sandbox)"
	}
	fmt.Fprintf(w, "Plan for %s: %d rows checked against %s (%d users).\n\n", filepath.Base(p.sheet.path), len(p.sheet.rows), where, len(p.dir.Users))
	for _, o := range []plan.Outcome{plan.Planned, plan.Invalid, plan.Skipped, plan.Deferred} {
		fmt.Fprintf(w, "  %-9s %5d\n", o, counts[o])
	}
	var problems []string
	for _, st := range p.plan.Steps {
		if st.Outcome == plan.Invalid {
			problems = append(problems, fmt.Sprintf("  row %d: %s: %s", st.Line, st.Code, st.Message))
		}
	}
	if len(problems) > 0 {
		fmt.Fprintf(w, "\nProblems to fix (%d):\n", len(problems))
		for i, line := range problems {
			if i == maxProblemsShown {
				fmt.Fprintf(w, "  ... and %d more in the workbook\n", len(problems)-maxProblemsShown)
				break
			}
			fmt.Fprintln(w, line)
		}
	}
	var chained int
	for _, st := range p.plan.Steps {
		if st.Outcome == plan.Planned && len(st.After) > 0 {
			chained++
		}
	}
	if chained > 0 {
		fmt.Fprintf(w, "\n%d planned rows wait for the job of another row that transfers to them.\n", chained)
	}
	printHidden(w, p.sheet)
	fmt.Fprintf(w, "\nResults: %s\n", output)
}

// printHidden says what became of the rows the sheet hides, if any.
func printHidden(w io.Writer, sh *sheet) {
	switch {
	case sh.hidden == 0:
	case sh.includeHidden:
		fmt.Fprintf(w, "\n%d rows hidden in the sheet were planned like the others (--include-hidden).\n", sh.hidden)
	default:
		fmt.Fprintf(w, "\n%d rows hidden in the sheet (filtered out or hidden by hand) were skipped as HIDDEN_ROW; --include-hidden plans them.\n", sh.hidden)
	}
}
