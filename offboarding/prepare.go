package offboarding

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/rs/zerolog"
	"github.com/xuri/excelize/v2"

	"offboard/approval"
	"offboard/directory"
	"offboard/input"
	"offboard/plan"
	"offboard/report"
	"offboard/result"
	"offboard/termtext"
	"offboard/zoho"
)

// SheetOptions say which sheet to read and what to do with what it hides.
type SheetOptions struct {
	// Input is the sheet's path: .xlsx or .csv.
	Input string
	// Sheet is the XLSX sheet to read; "" reads the first visible one.
	Sheet string
	// IncludeHidden plans the rows the sheet hides rather than skipping
	// them as HIDDEN_ROW.
	IncludeHidden bool
}

// sheet is the input as read, and how.
type sheet struct {
	path string
	*input.Sheet
	includeHidden bool
	// approved is the approved plan workbook at planPath that the sheet
	// was read from (offboard run --plan), nil for an input sheet.
	approved *approval.Plan
	planPath string
	// journaled are the lines of approved rows that the journal's
	// interrupted run of the same plan, being resumed, already sent or
	// settled: the org shows what that run did to them, not what the
	// plan saw, so they are not compared with the plan (the journal
	// settles them, as on any resume).
	journaled map[int]bool
}

// identity is what identifies the sheet's rows in a journal: each row's
// line and cells, as the start record's steps hold them.
func (s *sheet) identity() []result.Row {
	rows := make([]result.Row, len(s.Rows))
	for i, r := range s.Rows {
		rows[i] = result.Row{Line: r.Line, Cells: r.Cells}
	}
	return rows
}

// readSheet reads the sheet that o names.
func readSheet(log zerolog.Logger, o SheetOptions) (*sheet, error) {
	s, err := input.ReadSheet(o.Input, input.Options{Sheet: o.Sheet, IncludeHidden: o.IncludeHidden})
	if err != nil {
		return nil, err
	}
	if n := len(s.Header.Names); n > report.MaxInputColumns {
		// Refused before anything is sent: the results could not be written.
		last, _ := excelize.ColumnNumberToName(n)
		most, _ := excelize.ColumnNumberToName(report.MaxInputColumns)
		return nil, fmt.Errorf("%s: the header reaches column %s; offboard writes its %d result columns after the sheet's, so a sheet may use columns A to %s (%d): delete the columns it does not need",
			o.Input, last, 16384-report.MaxInputColumns, most, report.MaxInputColumns)
	}
	log.Info().Str("input", o.Input).Str("sheet", s.Name).Int("rows", len(s.Rows)).Int("hidden_rows", s.HiddenRows).
		Str("sha256", s.SHA256).Msg("sheet read")
	return &sheet{path: o.Input, Sheet: s, includeHidden: o.IncludeHidden}, nil
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

// checkDirs checks that the directories of the files a command will write
// exist, before it reads the org or changes anything: results written after
// the users are deleted must have somewhere to go.
func checkDirs(paths ...string) error {
	for _, f := range paths {
		if f == "" {
			continue
		}
		dir := filepath.Dir(f)
		if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
			return fmt.Errorf("%s: the directory %s does not exist; create it or pick another path", f, dir)
		}
		// Files are written through a temporary file in the directory:
		// a directory that takes none is said so before the org is read.
		tmp, err := os.CreateTemp(dir, ".offboard-check-*")
		if err != nil {
			return fmt.Errorf("%s: offboard cannot write in the directory %s (%v); pick another path", f, dir, errors.Unwrap(err))
		}
		tmp.Close()
		os.Remove(tmp.Name())
	}
	return nil
}

// resultsFiles are the files a results file at path makes: itself, and
// for a CSV its Retry rows beside it (report.RetryPath).
func resultsFiles(path string) []string {
	if strings.EqualFold(filepath.Ext(path), ".csv") {
		return []string{path, report.RetryPath(path)}
	}
	return []string{path}
}

// checkNotInput refuses to write any of outputs over input, the file
// the command reads: HR's sheet, or a journal. An output that does not
// exist yet is compared by its path.
func checkNotInput(input string, outputs ...string) error {
	in, err := filepath.Abs(input)
	if err != nil {
		return nil
	}
	fi, statErr := os.Stat(input)
	for _, out := range outputs {
		if out == "" {
			continue
		}
		o, err := filepath.Abs(out)
		if err != nil {
			continue
		}
		fo, err := os.Stat(out)
		if o == in || (statErr == nil && err == nil && os.SameFile(fi, fo)) {
			return fmt.Errorf("%s is the input %s: offboard never writes over the file it reads; pick another path", out, input)
		}
	}
	return nil
}

// checkOverwrite refuses to replace a file at path that is not an
// offboard results file (HR's own workbook, say), unless force.
func checkOverwrite(path string, force bool) error {
	if force {
		return nil
	}
	if _, err := os.Stat(path); err != nil || report.IsResults(path) {
		return nil
	}
	return fmt.Errorf("%s exists and is not an offboard results file: pick another --output, or pass --force to replace it", path)
}

// prepared is a read sheet, checked against the live org.
type prepared struct {
	sheet *sheet
	conn  *connection
	dir   directory.Directory
	plan  *plan.Plan
	// apiDomain is the API base URL the client speaks to, "" in sandbox
	// mode; with the org's ID it says which org a run was against.
	apiDomain string
	// settings are a run's limits and guards, for its Summary and
	// journal; nil for offboard plan.
	settings *report.Settings
}

// orgName is the org's name as a terminal may show it.
func (p *prepared) orgName() string {
	if p.dir.Org.CompanyName == "" {
		return "the org"
	}
	return termtext.Line(p.dir.Org.CompanyName)
}

// orgID is the ID of the org the plan was checked against.
func (p *prepared) orgID() string { return string(p.dir.Org.ID) }

// where names the org for a person.
func (p *prepared) where() string {
	name := p.orgName()
	if p.conn.sandbox != nil {
		return name + " (sandbox)"
	}
	return fmt.Sprintf("%s (%s)", name, p.apiDomain)
}

// prepare connects, reads the org once and checks every row against it.
// Nothing is written to Zoho.
func prepare(ctx context.Context, log zerolog.Logger, sh *sheet, cn Connection, today input.Date) (*prepared, error) {
	conn, err := cn.connect(log)
	if err != nil {
		return nil, err
	}
	dir, err := directory.Fetch(ctx, conn.client, needsRoles(sh.Rows), conn.pacer, log)
	if err != nil {
		conn.Close()
		return nil, interrupted(ctx, err) // Ctrl-C while the org was read: nothing sent
	}
	if err := plan.CheckCaller(dir); err != nil {
		conn.Close()
		return nil, err
	}
	p := &prepared{sheet: sh, conn: conn, dir: dir}
	if conn.sandbox == nil {
		// The domain the token named, or the one configured: a token is
		// held now, so this makes no call.
		if p.apiDomain, err = conn.client.APIDomain(ctx); err != nil {
			conn.Close()
			return nil, err
		}
	}
	log.Info().Int("users", len(dir.Users)).Int("roles", len(dir.Roles)).Str("org", dir.Org.CompanyName).
		Str("org_id", p.orgID()).Str("api_domain", p.apiDomain).Msg("org directory read")
	if sh.approved != nil {
		// What runs is what was approved: the approved steps, checked
		// again against the org as it is now.
		if p.plan, err = approvedPlan(sh, dir, p.apiDomain, conn.sandbox != nil, today); err != nil {
			conn.Close()
			return nil, err
		}
		return p, nil
	}
	p.plan = plan.Build(sh.Rows, dir, today)
	return p, nil
}

// summary is the Summary sheet of a plan or run of p.
func (p *prepared) summary(command, version string, start time.Time, dryRun bool, note string) report.Summary {
	domain := p.apiDomain
	if p.conn.sandbox != nil {
		domain = "sandbox"
	}
	s := report.Summary{
		Command:       command,
		InputFile:     filepath.Base(p.sheet.path),
		InputSHA256:   p.sheet.SHA256,
		Sheet:         p.sheet.Name,
		RowsRead:      len(p.sheet.Rows),
		HiddenRows:    p.sheet.HiddenRows,
		IncludeHidden: p.sheet.includeHidden,
		Start:         start,
		OrgName:       p.dir.Org.CompanyName,
		OrgID:         p.orgID(),
		APIDomain:     domain,
		Host:          thisHost,
		Settings:      p.settings,
		DryRun:        dryRun,
		Sandbox:       p.conn.sandbox != nil,
		Local:         zoho.IsLocal(p.apiDomain),
		Version:       version,
		Note:          note,
	}
	withAdmin(&s, p.admin())
	if a := p.sheet.approved; a != nil {
		s.PlanDigest, s.ApprovedBy = a.Digest, approverText(a.ApprovedBy)
		s.PlanCreated = a.Seal.Created.Format(time.RFC3339)
	}
	return s
}

// approverText is who approved a plan, as its file says.
func approverText(by string) string {
	if by == "" {
		return "not recorded in the file (its last author is blank)"
	}
	return by + " (the file's last author)"
}

// writeResults writes the rows, then the summary.
func writeResults(output string, header []string, rows []result.Row, s report.Summary) error {
	w, err := report.Create(output, header)
	if err != nil {
		return err
	}
	for _, r := range rows {
		if err := w.Write(r); err != nil {
			w.Abort()
			return err
		}
	}
	if s.End.IsZero() {
		s.End = time.Now()
	}
	return w.Close(s)
}

func printPlanSummary(w io.Writer, p *prepared, output string) {
	printOverview(w, p, "the workbook")
	fmt.Fprintf(w, "\nResults: %s\n", output)
}

// printHidden says what became of the rows the sheet hides, if any.
func printHidden(w io.Writer, sh *sheet) {
	switch {
	case sh.HiddenRows == 0:
	case sh.includeHidden:
		fmt.Fprintf(w, "\n%d rows hidden in the sheet were planned like the others (--include-hidden).\n", sh.HiddenRows)
	default:
		fmt.Fprintf(w, "\n%d rows hidden in the sheet (filtered out or hidden by hand) were skipped as HIDDEN_ROW; --include-hidden plans them.\n", sh.HiddenRows)
	}
}
