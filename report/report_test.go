package report_test

import (
	"archive/zip"
	"encoding/csv"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/xuri/excelize/v2"

	"offboard/input"
	"offboard/report"
	"offboard/result"
)

// inputHeader is the header of the input sheet in most tests; its Message
// column has the name of one of report's own.
func inputHeader() []string { return []string{"user", "transfer_to", "Message", "note"} }

// results is one row per outcome, with every field the Results sheet shows.
func results() []result.Row {
	submitted := time.Date(2025, 3, 31, 9, 15, 0, 0, time.UTC)
	finished := time.Date(2025, 3, 31, 11, 15, 30, 0, time.FixedZone("", 2*3600))
	return []result.Row{
		{Line: 2, Cells: []string{"ann@example.com", "3652397000001460001", "hello", "first"}, Outcome: result.Deleted,
			UserID: "3652397000001460123", UserEmail: "ann@example.com", TransferToID: "3652397000001460001",
			SubordinatesToID: "3652397000001460002", JobID: "3652397000001470001", JobStatus: "completed",
			Attempts: 2, SubmittedAt: submitted, FinishedAt: finished,
			TransferToEmail: "tom@example.com", SubordinatesToEmail: "sue@example.com"},
		{Line: 3, Cells: []string{"bob@example.com", "", "", ""}, Outcome: result.Invalid, Code: "MISSING_ACTION",
			Message: "Give the user a transfer_to or a move_subordinates_to."},
		{Line: 5, Cells: []string{"cat@example.com", "dan@example.com", "", "x"}, Outcome: result.Failed, Code: "JOB_FAILED",
			Message: "The job failed.", UserID: "3652397000001460124", JobID: "3652397000001470002", JobStatus: "failed",
			Attempts: 1, SubmittedAt: submitted},
		{Line: 6, Cells: []string{"eve@example.com", "dan@example.com", "", ""}, Outcome: result.NotRun, Code: "NO_PERMISSION",
			Message: "Not sent: the run stopped."},
		{Line: 7, Cells: []string{"fay@example.com", "dan@example.com", "", ""}, Outcome: result.Skipped, Code: "ALREADY_DELETED"},
		{Line: 8, Cells: []string{"gus@example.com", "dan@example.com", "", ""}, Outcome: result.Deferred, Code: "NOT_DUE"},
		{Line: 9, Cells: []string{"hal@example.com", "dan@example.com", "", "Müller 東京"}, Outcome: result.Planned},
		{Line: 10, Cells: []string{"ivy@example.com", "dan@example.com"}, Outcome: result.Submitted,
			JobID: "3652397000001470003", JobStatus: "in_progress", Attempts: 1, SubmittedAt: submitted},
	}
}

// summary is a run's summary with every field set.
func summary() report.Summary {
	return report.Summary{
		Command: "run", InputFile: "leavers.xlsx", InputSHA256: strings.Repeat("ab", 32), RowsRead: 8,
		Start: time.Date(2025, 3, 31, 9, 0, 0, 0, time.UTC), End: time.Date(2025, 3, 31, 9, 42, 5, 0, time.UTC),
		APIDomain: "https://www.zohoapis.eu", Sandbox: true, Version: "v1.2.3", Note: "stopped after 5 rows failed with NO_PERMISSION",
		Sheet: "March", OrgName: "Acme GmbH", OrgID: "20050000001",
		AdminName: "Ada Admin", AdminEmail: "ada@example.com", AdminID: "3652397000001460999", Host: "ops-1",
		Settings: &report.Settings{MaxJobs: 4, Rate: 12.5, Concurrency: 5, Strict: true, MaxDeletes: 50, JobTimeout: 30 * time.Minute},
	}
}

// write writes rs to path and closes it.
func write(t *testing.T, path string, header []string, rs []result.Row) {
	t.Helper()
	w, err := report.Create(path, header)
	if err != nil {
		t.Fatalf("Create(%s) = %v", path, err)
	}
	for _, r := range rs {
		if err := w.Write(r); err != nil {
			t.Fatalf("Write(row %d) = %v", r.Line, err)
		}
	}
	if err := w.Close(summary()); err != nil {
		t.Fatalf("Close() = %v", err)
	}
}

func openXLSX(t *testing.T, path string) *excelize.File {
	t.Helper()
	f, err := excelize.OpenFile(path)
	if err != nil {
		t.Fatalf("OpenFile(%s) = %v", path, err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// sheetRows reads a sheet as text, every row padded to width.
func sheetRows(t *testing.T, f *excelize.File, sheet string, width int) [][]string {
	t.Helper()
	rows, err := f.GetRows(sheet)
	if err != nil {
		t.Fatalf("GetRows(%s) = %v", sheet, err)
	}
	for i, r := range rows {
		if len(r) < width {
			rows[i] = append(r, make([]string, width-len(r))...)
		}
	}
	return rows
}

func readCSV(t *testing.T, path string) [][]string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(b), "\ufeff") {
		t.Errorf("%s does not start with a UTF-8 byte order mark", filepath.Base(path))
	}
	r := csv.NewReader(strings.NewReader(strings.TrimPrefix(string(b), "\ufeff")))
	recs, err := r.ReadAll()
	if err != nil {
		t.Fatalf("read %s: %v", filepath.Base(path), err)
	}
	return recs
}

// wantResults is the Results sheet for results(), header included, as text.
func wantResults() [][]string {
	want := [][]string{append(slices.Clone(inputHeader()), report.Columns()...)}
	want = append(want,
		[]string{"ann@example.com", "3652397000001460001", "hello", "first", "2", "deleted", "", "",
			"3652397000001460123", "ann@example.com", "3652397000001460001", "3652397000001460002",
			"3652397000001470001", "completed", "2", "2025-03-31T09:15:00Z", "2025-03-31T11:15:30+02:00",
			"tom@example.com", "sue@example.com"},
		[]string{"bob@example.com", "", "", "", "3", "invalid", "MISSING_ACTION",
			"Give the user a transfer_to or a move_subordinates_to.", "", "", "", "", "", "", "", "", "", "", ""},
		[]string{"cat@example.com", "dan@example.com", "", "x", "5", "failed", "JOB_FAILED", "The job failed.",
			"3652397000001460124", "", "", "", "3652397000001470002", "failed", "1", "2025-03-31T09:15:00Z", "", "", ""},
		[]string{"eve@example.com", "dan@example.com", "", "", "6", "not_run", "NO_PERMISSION", "Not sent: the run stopped.",
			"", "", "", "", "", "", "", "", "", "", ""},
		[]string{"fay@example.com", "dan@example.com", "", "", "7", "skipped", "ALREADY_DELETED", "", "", "", "", "", "", "", "", "", "", "", ""},
		[]string{"gus@example.com", "dan@example.com", "", "", "8", "deferred", "NOT_DUE", "", "", "", "", "", "", "", "", "", "", "", ""},
		[]string{"hal@example.com", "dan@example.com", "", "Müller 東京", "9", "planned", "", "", "", "", "", "", "", "", "", "", "", "", ""},
		[]string{"ivy@example.com", "dan@example.com", "", "", "10", "submitted", "", "", "", "", "", "", "3652397000001470003",
			"in_progress", "1", "2025-03-31T09:15:00Z", "", "", ""},
	)
	return want
}

// wantRetry is the Retry sheet for results(): the input's columns, then
// each row's original row number and why it is there.
func wantRetry() [][]string {
	return [][]string{
		append(inputHeader(), "Original Row", "Last Outcome", "Last Code", "Last Message"),
		{"bob@example.com", "", "", "", "3", "invalid", "MISSING_ACTION", "Give the user a transfer_to or a move_subordinates_to."},
		{"cat@example.com", "dan@example.com", "", "x", "5", "failed", "JOB_FAILED", "The job failed."},
		{"eve@example.com", "dan@example.com", "", "", "6", "not_run", "NO_PERMISSION", "Not sent: the run stopped."},
	}
}

func TestXLSXSheets(t *testing.T) {
	path := filepath.Join(t.TempDir(), "results.xlsx")
	write(t, path, inputHeader(), results())
	f := openXLSX(t, path)

	if got, want := f.GetSheetList(), []string{"Results", "Retry", "Summary"}; !cmp.Equal(got, want) {
		t.Errorf("GetSheetList() = %q, want %q", got, want)
	}
	if got := f.GetActiveSheetIndex(); got != 0 {
		t.Errorf("GetActiveSheetIndex() = %d, want 0 (Results)", got)
	}
	if diff := cmp.Diff(wantResults(), sheetRows(t, f, "Results", len(inputHeader())+len(report.Columns()))); diff != "" {
		t.Errorf("Results sheet (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(wantRetry(), sheetRows(t, f, "Retry", len(inputHeader())+len(report.RetryColumns()))); diff != "" {
		t.Errorf("Retry sheet (-want +got):\n%s", diff)
	}
}

func TestXLSXCellTypes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "results.xlsx")
	write(t, path, inputHeader(), results())
	f := openXLSX(t, path)

	// Every ID and time is a string cell; Row and Attempts are numbers.
	tests := []struct {
		cell string
		want excelize.CellType
	}{
		{"B2", excelize.CellTypeInlineString}, // transfer_to, an input ID
		{"E2", excelize.CellTypeUnset},        // Row: a number
		{"I2", excelize.CellTypeInlineString}, // User ID
		{"K2", excelize.CellTypeInlineString}, // Transfer To ID
		{"L2", excelize.CellTypeInlineString}, // Subordinates To ID
		{"M2", excelize.CellTypeInlineString}, // Job ID
		{"O2", excelize.CellTypeUnset},        // Attempts: a number
		{"P2", excelize.CellTypeInlineString}, // Submitted At
		{"Q2", excelize.CellTypeInlineString}, // Finished At
	}
	for _, tt := range tests {
		if got, err := f.GetCellType("Results", tt.cell); err != nil || got != tt.want {
			t.Errorf("GetCellType(Results, %s) = %v, %v, want %v", tt.cell, got, err, tt.want)
		}
	}
	// The ID columns are formatted as text, so that an ID typed in stays
	// exact.
	for _, cell := range []string{"I2", "K2", "M2", "I3"} {
		id, err := f.GetCellStyle("Results", cell)
		if err != nil {
			t.Fatal(err)
		}
		st, err := f.GetStyle(id)
		if err != nil {
			t.Fatal(err)
		}
		if st.NumFmt != 49 {
			t.Errorf("GetStyle(style of Results!%s).NumFmt = %d, want 49 (@, text)", cell, st.NumFmt)
		}
	}
	for _, cell := range []string{"P2", "Q2", "P4"} {
		v, _ := f.GetCellValue("Results", cell)
		if _, err := time.Parse(time.RFC3339, v); err != nil {
			t.Errorf("Results!%s = %q, not RFC 3339: %v", cell, v, err)
		}
	}
}

func TestXLSXLayout(t *testing.T) {
	path := filepath.Join(t.TempDir(), "results.xlsx")
	write(t, path, inputHeader(), results())
	f := openXLSX(t, path)

	for _, sheet := range []string{"Results", "Retry"} {
		panes, err := f.GetPanes(sheet)
		if err != nil {
			t.Fatal(err)
		}
		if !panes.Freeze || panes.YSplit != 1 || panes.XSplit != 0 {
			t.Errorf("GetPanes(%s) = %+v, want the header row frozen", sheet, panes)
		}
		for col := range len(inputHeader()) {
			name, _ := excelize.CoordinatesToCellName(col+1, 1)
			id, _ := f.GetCellStyle(sheet, name)
			st, err := f.GetStyle(id)
			if err != nil {
				t.Fatal(err)
			}
			if st.Font == nil || !st.Font.Bold {
				t.Errorf("%s!%s: header font %+v, want bold", sheet, name, st.Font)
			}
		}
	}

	var filters []string
	for _, dn := range f.GetDefinedName() {
		if dn.Name == "_xlnm._FilterDatabase" {
			filters = append(filters, dn.Scope+" "+dn.RefersTo)
		}
	}
	slices.Sort(filters)
	if want := []string{"Results 'Results'!$A$1:$S$9", "Retry 'Retry'!$A$1:$H$4"}; !cmp.Equal(filters, want) {
		t.Errorf("autofilter defined names = %q, want %q", filters, want)
	}
	if got := sheetXML(t, path, "xl/worksheets/sheet1.xml"); !strings.Contains(got, `<autoFilter ref="$A$1:$S$9"`) {
		t.Errorf("Results sheet XML has no autoFilter over A1:S9")
	}

	tests := []struct {
		col      string
		min, max float64
	}{
		{"A", 17, 50}, // user: emails of the first rows
		{"B", 21, 50}, // transfer_to: an ID
		{"F", 10, 20}, // Outcome
		{"H", 40, 80}, // Message
		{"I", 21, 30}, // User ID
		{"P", 27, 35}, // Submitted At
		{"E", 6, 10},  // Row
		{"M", 21, 30}, // Job ID
		{"Q", 27, 35}, // Finished At
		{"D", 6, 50},  // note
		{"C", 6, 50},  // the input's Message
		{"O", 8, 20},  // Attempts
		{"N", 13, 30}, // Job Status
		{"G", 16, 30}, // Code
		{"J", 17, 50}, // User Email
		{"K", 21, 30}, // Transfer To ID
		{"L", 21, 30}, // Subordinates To ID
		{"R", 17, 50}, // Transfer To Email
		{"S", 17, 50}, // Subordinates To Email
		{"Z", 8, 9.2}, // none: the default
	}
	for _, tt := range tests {
		got, err := f.GetColWidth("Results", tt.col)
		if err != nil || got < tt.min || got > tt.max {
			t.Errorf("GetColWidth(Results, %s) = %v, %v, want %v to %v", tt.col, got, err, tt.min, tt.max)
		}
	}
}

// sheetXML returns a part of an xlsx as text.
func sheetXML(t *testing.T, path, part string) string {
	t.Helper()
	z, err := zip.OpenReader(path)
	if err != nil {
		t.Fatal(err)
	}
	defer z.Close()
	r, err := z.Open(part)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestXLSXOutcomeColors(t *testing.T) {
	path := filepath.Join(t.TempDir(), "results.xlsx")
	write(t, path, inputHeader(), results())
	f := openXLSX(t, path)

	fills := make(map[string]result.Outcome)
	for i, r := range results() {
		cell, _ := excelize.CoordinatesToCellName(len(inputHeader())+2, i+2) // Outcome
		id, err := f.GetCellStyle("Results", cell)
		if err != nil {
			t.Fatal(err)
		}
		st, err := f.GetStyle(id)
		if err != nil {
			t.Fatal(err)
		}
		wantFill, wantFont := report.OutcomeColor(r.Outcome)
		if st.Fill.Type != "pattern" || len(st.Fill.Color) != 1 || !strings.EqualFold(st.Fill.Color[0], wantFill) {
			t.Errorf("Results!%s (%s): fill %+v, want solid %s", cell, r.Outcome, st.Fill, wantFill)
		} else if prev, dup := fills[st.Fill.Color[0]]; dup {
			t.Errorf("Results!%s (%s): fill %s, the same as %s's", cell, r.Outcome, st.Fill.Color[0], prev)
		}
		fills[st.Fill.Color[0]] = r.Outcome
		if st.Font == nil || !strings.EqualFold(st.Font.Color, wantFont) {
			t.Errorf("Results!%s (%s): font %+v, want colour %s", cell, r.Outcome, st.Font, wantFont)
		}
	}
	if len(fills) != len(result.Outcomes()) {
		t.Errorf("%d distinct outcome fills, want %d", len(fills), len(result.Outcomes()))
	}
}

func TestXLSXSummary(t *testing.T) {
	path := filepath.Join(t.TempDir(), "results.xlsx")
	write(t, path, inputHeader(), results())
	f := openXLSX(t, path)

	// The audit record: which org, through which domain, whose token,
	// from which host, with which version and settings, on which input.
	want := [][]string{
		{"Command", "run"},
		{"Org", "Acme GmbH"},
		{"Org ID", "20050000001"},
		{"API domain", "https://www.zohoapis.eu"},
		{"Admin (token's user)", "Ada Admin <ada@example.com>"},
		{"Admin user ID", "3652397000001460999"},
		{"Host", "ops-1"},
		{"Version", "v1.2.3"},
		{"Input file", "leavers.xlsx"},
		{"Sheet", "March"},
		{"Input SHA-256", strings.Repeat("ab", 32)},
		{"Rows read", "8"},
		{"Hidden rows", "0"},
		{"Start", "2025-03-31T09:00:00Z"},
		{"End", "2025-03-31T09:42:05Z"},
		{"Duration", "42m5s"},
		{"Dry run", "no"},
		{"Sandbox", "yes"},
		{"Max jobs", "4"},
		{"Rate", "12.5 API calls a second"},
		{"Concurrency", "5 API calls in flight"},
		{"Strict", "yes"},
		{"Max deletes", "50"},
		{"Job timeout", "30m0s"},
		{"No wait", "no"},
		{"Note", "stopped after 5 rows failed with NO_PERMISSION"},
		{"", ""},
		{"Outcome", "Rows"},
		{"deleted", "1"},
		{"submitted", "1"},
		{"failed", "1"},
		{"invalid", "1"},
		{"skipped", "1"},
		{"deferred", "1"},
		{"planned", "1"},
		{"not_run", "1"},
		{"Total", "8"},
	}
	got := sheetRows(t, f, "Summary", 2)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Summary sheet (-want +got):\n%s", diff)
	}
	for _, cell := range []string{"A1", "A8", "A28", "B28", "A37"} {
		id, _ := f.GetCellStyle("Summary", cell)
		if st, err := f.GetStyle(id); err != nil || st.Font == nil || !st.Font.Bold {
			t.Errorf("Summary!%s: not bold", cell)
		}
	}

	// Each value sits beside its label: the label column is as wide as
	// the longest label, no wider, and values, counts too, are against
	// its edge (left-aligned), not at the far end of the wide value
	// column.
	widest := 0
	for _, r := range want {
		widest = max(widest, len(r[0]))
	}
	if w, err := f.GetColWidth("Summary", "A"); err != nil || w < float64(widest) || w > float64(widest)+4 {
		t.Errorf("GetColWidth(Summary, A) = %v, %v, want %d to %d (the longest label)", w, err, widest, widest+4)
	}
	for i, r := range want {
		if r[1] == "" || r[0] == "Outcome" {
			continue
		}
		cell := fmt.Sprintf("B%d", i+1)
		id, _ := f.GetCellStyle("Summary", cell)
		st, err := f.GetStyle(id)
		if err != nil || st.Alignment == nil || st.Alignment.Horizontal != "left" {
			t.Errorf("Summary!%s (%s %s): alignment %+v, want left, beside its label", cell, r[0], r[1], st.Alignment)
		}
	}
}

func TestXLSXSummaryEmpty(t *testing.T) {
	// No rows, no note, no times, no settings (offboard plan, or a journal
	// of an older offboard): every line and every outcome still listed,
	// blank or 0.
	path := filepath.Join(t.TempDir(), "results.xlsx")
	w, err := report.Create(path, inputHeader())
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Close(report.Summary{Command: "plan", DryRun: true}); err != nil {
		t.Fatalf("Close() = %v", err)
	}
	f := openXLSX(t, path)
	want := [][]string{
		{"Command", "plan"}, {"Org", ""}, {"Org ID", ""}, {"API domain", ""}, {"Admin (token's user)", ""},
		{"Admin user ID", ""}, {"Host", ""}, {"Version", ""}, {"Input file", ""}, {"Sheet", ""},
		{"Input SHA-256", ""}, {"Rows read", "0"}, {"Hidden rows", "0"},
		{"Start", ""}, {"End", ""}, {"Duration", ""}, {"Dry run", "yes"}, {"Sandbox", "no"},
		{"Max jobs", ""}, {"Rate", ""}, {"Concurrency", ""}, {"Strict", ""}, {"Max deletes", ""},
		{"Job timeout", ""}, {"No wait", ""},
		{"", ""}, {"Outcome", "Rows"},
		{"deleted", "0"}, {"submitted", "0"}, {"failed", "0"}, {"invalid", "0"}, {"skipped", "0"},
		{"deferred", "0"}, {"planned", "0"}, {"not_run", "0"}, {"Total", "0"},
	}
	if diff := cmp.Diff(want, sheetRows(t, f, "Summary", 2)); diff != "" {
		t.Errorf("Summary sheet (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([][]string{append(slices.Clone(inputHeader()), report.Columns()...)}, sheetRows(t, f, "Results", 0)); diff != "" {
		t.Errorf("Results sheet (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(wantRetry()[:1], sheetRows(t, f, "Retry", 0)); diff != "" {
		t.Errorf("Retry sheet (-want +got):\n%s", diff)
	}
}

// hostile returns cells that a spreadsheet would take for formulas.
func hostile() []string {
	return []string{"=1+1", "+1", "-1", "@SUM(A1:A2)", "\tx", "\rx", "=HYPERLINK(\"http://x\",\"y\")", "-", "=", "@",
		// After white space or invisible characters, and full-width:
		// LibreOffice does not evaluate these, some Excel may.
		" =1+1", "\n=1+1", "\u00a0=1+1", "\u200b=1+1", "\ufeff@SUM(A1)", "  -1", "\uff1d1+1", "\u3000\uff0b1"}
}

// TestCSVTextNotGuarded: text that no spreadsheet takes for a formula
// keeps its value, with no apostrophe added.
func TestCSVTextNotGuarded(t *testing.T) {
	plain := []string{" Anna", "Hello - world", "a=b", "\u00a0x", "O'Brien", "x@example.com", "\u200bname"}
	path := filepath.Join(t.TempDir(), "results.csv")
	var rs []result.Row
	for i, p := range plain {
		rs = append(rs, result.Row{Line: i + 2, Cells: []string{p, p}, Outcome: result.Failed, Message: p})
	}
	write(t, path, []string{"user", "note"}, rs)
	recs := readCSV(t, path)
	for i, p := range plain {
		if got := recs[i+1][:2]; !cmp.Equal(got, []string{p, p}) {
			t.Errorf("row %d = %q, want %q unchanged", i+2, got, p)
		}
	}
}

func hostileResults() []result.Row {
	var rs []result.Row
	for i, h := range hostile() {
		rs = append(rs, result.Row{
			Line: i + 2, Cells: []string{"u" + fmt.Sprint(i) + "@example.com", "t@example.com", h, h},
			Outcome: result.Invalid, Code: h, Message: h, UserEmail: h, JobStatus: h,
		})
	}
	return rs
}

func TestXLSXFormulaInjection(t *testing.T) {
	path := filepath.Join(t.TempDir(), "results.xlsx")
	header := []string{"user", "transfer_to", "=cmd", "note"}
	write(t, path, header, hostileResults())
	f := openXLSX(t, path)

	check := func(sheet, cell, want string) {
		t.Helper()
		if got, err := f.GetCellValue(sheet, cell); err != nil || got != want {
			t.Errorf("GetCellValue(%s, %s) = %q, %v, want %q", sheet, cell, got, err, want)
		}
		if got, err := f.GetCellFormula(sheet, cell); err != nil || got != "" {
			t.Errorf("GetCellFormula(%s, %s) = %q, %v, want none", sheet, cell, got, err)
		}
		if got, err := f.GetCellType(sheet, cell); err != nil || got != excelize.CellTypeInlineString {
			t.Errorf("GetCellType(%s, %s) = %v, %v, want an inline string", sheet, cell, got, err)
		}
	}
	check("Results", "C1", "=cmd")
	check("Retry", "C1", "=cmd")
	for i, h := range hostile() {
		row := i + 2
		// The input's cells, Code, Message, User Email and Job Status.
		for _, col := range []string{"C", "D", "G", "H", "J", "N"} {
			check("Results", col+fmt.Sprint(row), h)
		}
		// The Retry sheet has the values as they were: no apostrophe.
		for _, col := range []string{"C", "D"} {
			check("Retry", col+fmt.Sprint(row), h)
		}
		// And its Last Code and Last Message.
		for _, col := range []string{"G", "H"} {
			check("Retry", col+fmt.Sprint(row), h)
		}
	}
	if strings.Contains(sheetXML(t, path, "xl/worksheets/sheet1.xml"), "<f>") {
		t.Errorf("Results sheet XML has a formula")
	}
}

func TestXLSXText(t *testing.T) {
	// Text stays text, exactly: nothing is taken for a number, a date, a
	// boolean or markup.
	tests := []struct{ in, want string }{
		{"0001234", "0001234"},
		{"3652397000001460123", "3652397000001460123"},
		{"1e5", "1e5"},
		{"TRUE", "TRUE"},
		{"2025-03-31", "2025-03-31"},
		{"<b>&amp;</b>", "<b>&amp;</b>"},
		{"_x0041_", "_x0041_"},
		{"  spaced  ", "  spaced  "},
		{"two\nlines\r\n", "two\nlines\r\n"},
		{"a\x01b", "a\ufffdb"}, // XML cannot hold it
	}
	path := filepath.Join(t.TempDir(), "results.xlsx")
	var rs []result.Row
	for i, tt := range tests {
		rs = append(rs, result.Row{Line: i + 2, Cells: []string{tt.in, tt.in}, Outcome: result.Failed, Message: tt.in})
	}
	write(t, path, []string{"user", "note"}, rs)
	f := openXLSX(t, path)
	for i, tt := range tests {
		for _, cell := range []string{"Results!A", "Results!B", "Results!F", "Retry!A", "Retry!B"} {
			sheet, col, _ := strings.Cut(cell, "!")
			ref := col + fmt.Sprint(i+2)
			if got, err := f.GetCellValue(sheet, ref); err != nil || got != tt.want {
				t.Errorf("GetCellValue(%s, %s) = %q, %v, want %q", sheet, ref, got, err, tt.want)
			}
		}
	}
}

func TestCSVFormulaInjection(t *testing.T) {
	path := filepath.Join(t.TempDir(), "results.csv")
	header := []string{"user", "transfer_to", "=cmd", "note"}
	write(t, path, header, hostileResults())

	recs := readCSV(t, path)
	if got, want := recs[0][2], "'=cmd"; got != want {
		t.Errorf("header cell 3 = %q, want %q", got, want)
	}
	for i, h := range hostile() {
		rec := recs[i+1]
		for _, col := range []int{2, 3, 6, 7, 9, 13} {
			if got, want := rec[col], "'"+h; got != want {
				t.Errorf("row %d, column %d = %q, want %q", i+2, col+1, got, want)
			}
		}
		if got, want := rec[0], fmt.Sprintf("u%d@example.com", i); got != want {
			t.Errorf("row %d, column 1 = %q, want %q", i+2, got, want)
		}
	}
	retry := readCSV(t, report.RetryPath(path))
	for i, h := range hostile() {
		// The input's cells, then Original Row, Last Outcome, Last Code
		// and Last Message.
		if got, want := retry[i+1][2:], []string{"'" + h, "'" + h, fmt.Sprint(i + 2), "invalid", "'" + h, "'" + h}; !cmp.Equal(got, want) {
			t.Errorf("retry row %d = %q, want %q", i+2, got, want)
		}
	}
}

func TestCSV(t *testing.T) {
	path := filepath.Join(t.TempDir(), "results.csv")
	write(t, path, inputHeader(), results())
	if diff := cmp.Diff(wantResults(), readCSV(t, path)); diff != "" {
		t.Errorf("results CSV (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(wantRetry(), readCSV(t, report.RetryPath(path))); diff != "" {
		t.Errorf("retry CSV (-want +got):\n%s", diff)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if want := []string{"results.csv", "results.retry.csv"}; !cmp.Equal(names, want) {
		t.Errorf("files written = %q, want %q", names, want)
	}
}

func TestCSVRetryEmpty(t *testing.T) {
	// The retry file is always written, header only when no row needs it,
	// so that a stale one from an earlier run is never taken for this one's.
	path := filepath.Join(t.TempDir(), "results.csv")
	write(t, path, inputHeader(), []result.Row{{Line: 2, Cells: []string{"a@example.com", "b@example.com", "", ""}, Outcome: result.Deleted}})
	if diff := cmp.Diff(wantRetry()[:1], readCSV(t, report.RetryPath(path))); diff != "" {
		t.Errorf("retry CSV (-want +got):\n%s", diff)
	}
}

func TestRetryPath(t *testing.T) {
	tests := []struct{ in, want string }{
		{"results.csv", "results.retry.csv"},
		{"/out/Run 1.CSV", "/out/Run 1.retry.CSV"},
		{"a.b.csv", "a.b.retry.csv"},
	}
	for _, tt := range tests {
		if got := report.RetryPath(tt.in); got != tt.want {
			t.Errorf("RetryPath(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestRetryReadsAsInput proves the round trip: the Retry sheet (or retry
// file) is an input sheet that offboard/input reads back, rows unchanged.
func TestRetryReadsAsInput(t *testing.T) {
	header := []string{"User", "transfer_to", "records", "effective_date", "Message"}
	rows := []struct {
		cells   []string
		outcome result.Outcome
	}{
		{[]string{"3652397000001460123", "3652397000001460001", "TRUE", "2025-03-31", "from HR"}, result.Failed},
		{[]string{"bob@example.com", "dan@example.com", "", "", ""}, result.Deleted},
		{[]string{"cat@example.com", "", "", "", "Müller, \"quoted\"\nnext line"}, result.Invalid},
		{[]string{"eve@example.com", "dan@example.com", "", "", ""}, result.Skipped},
		{[]string{"dee@example.com", "3652397000001460002", "no", "", ""}, result.NotRun},
	}
	want := [][]string{rows[0].cells, rows[2].cells, rows[4].cells}

	for _, name := range []string{"results.xlsx", "results.csv"} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), name)
			w, err := report.Create(path, header)
			if err != nil {
				t.Fatal(err)
			}
			cells := make([]string, len(header)) // reused, as a caller may
			for i, r := range rows {
				copy(cells, r.cells)
				if err := w.Write(result.Row{Line: i + 2, Cells: cells, Outcome: r.outcome}); err != nil {
					t.Fatal(err)
				}
			}
			if err := w.Close(summary()); err != nil {
				t.Fatal(err)
			}
			in, opt := path, input.Options{Sheet: "Retry"}
			if strings.HasSuffix(name, ".csv") {
				in, opt = report.RetryPath(path), input.Options{}
			}
			h, got, err := input.ReadAll(in, opt)
			if err != nil {
				t.Fatalf("input.ReadAll(%s) = %v", filepath.Base(in), err)
			}
			if diff := cmp.Diff(append(slices.Clone(header), report.RetryColumns()...), h.Names); diff != "" {
				t.Errorf("input.ReadAll(%s) header (-want +got):\n%s", filepath.Base(in), diff)
			}
			var gotCells [][]string
			for _, r := range got {
				// A row keeps its cells up to its last non-empty one:
				// what a person sees is read through Cell.
				seen := make([]string, len(header))
				for i := range seen {
					seen[i] = r.Cell(i)
				}
				gotCells = append(gotCells, seen)
				if len(r.Problems) > 0 {
					t.Errorf("input.ReadAll(%s) row %d: problems %+v", filepath.Base(in), r.Line, r.Problems)
				}
			}
			if diff := cmp.Diff(want, gotCells); diff != "" {
				t.Errorf("input.ReadAll(%s) rows (-want +got):\n%s", filepath.Base(in), diff)
			}
			if len(got) > 0 && got[0].User.ID != "3652397000001460123" {
				t.Errorf("input.ReadAll(%s) row 1 user = %+v, want ID 3652397000001460123", filepath.Base(in), got[0].User)
			}
		})
	}
}

// TestManyRows writes more rows than the width sample, alternating
// outcomes, so that the Results and Retry stream writers interleave.
func TestManyRows(t *testing.T) {
	const n = 1000
	header := []string{"user", "transfer_to"}
	var rs []result.Row
	var wantResults, wantRetry [][]string
	for i := range n {
		o := result.Outcomes()[i%len(result.Outcomes())]
		r := result.Row{Line: i + 2, Cells: []string{fmt.Sprintf("u%d@example.com", i), fmt.Sprint(3652397000001460000 + i)}, Outcome: o}
		rs = append(rs, r)
		wantResults = append(wantResults, []string{r.Cells[0], r.Cells[1], fmt.Sprint(i + 2), string(o)})
		if o.NeedsRetry() {
			wantRetry = append(wantRetry, r.Cells)
		}
	}
	for _, name := range []string{"results.xlsx", "results.csv"} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), name)
			w, err := report.Create(path, header)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range rs {
				if err := w.Write(r); err != nil {
					t.Fatal(err)
				}
			}
			wantCounts := make(map[result.Outcome]int)
			for _, o := range result.Outcomes() {
				wantCounts[o] = n / len(result.Outcomes())
			}
			if diff := cmp.Diff(wantCounts, w.Counts()); diff != "" {
				t.Errorf("Counts() (-want +got):\n%s", diff)
			}
			if err := w.Close(summary()); err != nil {
				t.Fatal(err)
			}
			var gotResults, gotRetry [][]string
			if strings.HasSuffix(name, ".csv") {
				gotResults, gotRetry = readCSV(t, path), readCSV(t, report.RetryPath(path))
			} else {
				f := openXLSX(t, path)
				gotResults, gotRetry = sheetRows(t, f, "Results", 4), sheetRows(t, f, "Retry", 2)
			}
			for i, r := range gotResults[1:] {
				gotResults[i+1] = r[:4]
			}
			for i, r := range gotRetry[1:] {
				gotRetry[i+1] = r[:2]
			}
			if diff := cmp.Diff(wantResults, gotResults[1:]); diff != "" {
				t.Errorf("Results rows (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(wantRetry, gotRetry[1:]); diff != "" {
				t.Errorf("Retry rows (-want +got):\n%s", diff)
			}
		})
	}
}

func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func TestAtomic(t *testing.T) {
	for _, name := range []string{"results.xlsx", "results.csv"} {
		t.Run(name+"/close", func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, name)
			w, err := report.Create(path, inputHeader())
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range results() {
				if err := w.Write(r); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := os.Stat(path); !os.IsNotExist(err) {
				t.Errorf("before Close: Stat(%s) = %v, want not exist", name, err)
			}
			for _, n := range dirNames(t, dir) {
				if !strings.HasPrefix(n, ".") || !strings.HasSuffix(n, ".tmp") {
					t.Errorf("before Close: %s in the directory, want only hidden .tmp files", n)
				}
			}
			if err := w.Close(summary()); err != nil {
				t.Fatal(err)
			}
			for _, n := range dirNames(t, dir) {
				if strings.HasSuffix(n, ".tmp") {
					t.Errorf("after Close: %s left behind", n)
				}
			}
			if _, err := os.Stat(path); err != nil {
				t.Errorf("after Close: Stat(%s) = %v", name, err)
			}
			w.Abort() // after Close: nothing happens
			if _, err := os.Stat(path); err != nil {
				t.Errorf("Abort after Close: Stat(%s) = %v", name, err)
			}
			if err := w.Close(summary()); err == nil {
				t.Errorf("Close after Close = nil, want an error")
			}
			if err := w.Write(results()[0]); err == nil {
				t.Errorf("Write after Close = nil, want an error")
			}
		})
		t.Run(name+"/abort", func(t *testing.T) {
			dir := t.TempDir()
			w, err := report.Create(filepath.Join(dir, name), inputHeader())
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range results() {
				if err := w.Write(r); err != nil {
					t.Fatal(err)
				}
			}
			w.Abort()
			w.Abort()
			if got := dirNames(t, dir); len(got) != 0 {
				t.Errorf("after Abort: %q in the directory, want nothing", got)
			}
		})
		t.Run(name+"/close error", func(t *testing.T) {
			// A directory in the way: the rename fails, and nothing is left
			// but what was there.
			dir := t.TempDir()
			path := filepath.Join(dir, name)
			if err := os.MkdirAll(filepath.Join(path, "keep"), 0o755); err != nil {
				t.Fatal(err)
			}
			w, err := report.Create(path, inputHeader())
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range results() {
				if err := w.Write(r); err != nil {
					t.Fatal(err)
				}
			}
			if err := w.Close(summary()); err == nil {
				t.Fatalf("Close() = nil, want an error")
			} else if !strings.Contains(err.Error(), name) {
				t.Errorf("Close() = %q, want the file named", err)
			}
			if got, want := dirNames(t, dir), []string{name}; !cmp.Equal(got, want) {
				t.Errorf("after a failed Close: %q in the directory, want %q", got, want)
			}
			if fi, err := os.Stat(path); err != nil || !fi.IsDir() {
				t.Errorf("after a failed Close: Stat(%s) = %v, %v, want the directory untouched", name, fi, err)
			}
		})
	}
}

func TestCreateErrors(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		path string
		want string // in the error
	}{
		{filepath.Join(dir, "results.xls"), `unknown file type ".xls"`},
		{filepath.Join(dir, "results"), `unknown file type ""`},
		{filepath.Join(dir, "results.ods"), `unknown file type ".ods"`},
		{filepath.Join(dir, "missing", "results.xlsx"), "results.xlsx"},
		{filepath.Join(dir, "missing", "results.csv"), "results.csv"},
	}
	for _, tt := range tests {
		w, err := report.Create(tt.path, inputHeader())
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Create(%s) = %v, want an error with %q", tt.path, err, tt.want)
		}
		if w != nil {
			t.Errorf("Create(%s) returned a Writer with its error", tt.path)
		}
	}
	if got := dirNames(t, dir); len(got) != 0 {
		t.Errorf("after failed Creates: %q in the directory, want nothing", got)
	}
	// Any case of the extension will do.
	w, err := report.Create(filepath.Join(dir, "Results.XLSX"), inputHeader())
	if err != nil {
		t.Fatalf("Create(Results.XLSX) = %v", err)
	}
	w.Abort()
}

func TestWriteErrors(t *testing.T) {
	tests := []struct {
		name string
		r    result.Row
		want string
	}{
		{"unknown outcome", result.Row{Line: 4, Outcome: "done"}, `row 4: unknown outcome "done"`},
		{"no outcome", result.Row{Line: 5}, `row 5: unknown outcome ""`},
		{"too many cells", result.Row{Line: 6, Outcome: result.Deleted, Cells: make([]string, 5)}, "row 6: 5 cells for a header of 4 columns"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, err := report.Create(filepath.Join(t.TempDir(), "results.xlsx"), inputHeader())
			if err != nil {
				t.Fatal(err)
			}
			defer w.Abort()
			if err := w.Write(tt.r); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Write(%+v) = %v, want an error with %q", tt.r, err, tt.want)
			}
			if got := w.Counts(); len(got) != 0 {
				t.Errorf("Counts() = %v after a refused row, want none", got)
			}
			// A refused row does not break the Writer.
			if err := w.Write(result.Row{Line: 7, Outcome: result.Planned}); err != nil {
				t.Errorf("Write(a good row) = %v", err)
			}
		})
	}
}

func TestCounts(t *testing.T) {
	w, err := report.Create(filepath.Join(t.TempDir(), "results.csv"), inputHeader())
	if err != nil {
		t.Fatal(err)
	}
	defer w.Abort()
	for _, o := range []result.Outcome{result.Deleted, result.Failed, result.Deleted, result.NotRun} {
		if err := w.Write(result.Row{Line: 2, Outcome: o}); err != nil {
			t.Fatal(err)
		}
	}
	got := w.Counts()
	want := map[result.Outcome]int{result.Deleted: 2, result.Failed: 1, result.NotRun: 1}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Counts() (-want +got):\n%s", diff)
	}
	got["deleted"] = 100 // the caller's copy
	if diff := cmp.Diff(want, w.Counts()); diff != "" {
		t.Errorf("Counts() after changing its result (-want +got):\n%s", diff)
	}
}

// TestWideInput: an input header as wide as a workbook allows (its last
// column leaves room for offboard's) is written, its far column and ours
// where they belong; one column more is refused, never written past XFD.
func TestWideInput(t *testing.T) {
	header := make([]string, report.MaxInputColumns)
	header[0], header[1], header[len(header)-1] = "user", "transfer_to", "note"
	var rs []result.Row
	for i := range 50 {
		cells := make([]string, len(header))
		cells[0], cells[len(cells)-1] = fmt.Sprintf("u%d@example.com", i), "far"
		rs = append(rs, result.Row{Line: i + 2, Cells: cells, Outcome: result.Failed, Message: "m"})
	}
	path := filepath.Join(t.TempDir(), "wide.xlsx")
	write(t, path, header, rs)
	f := openXLSX(t, path)
	last, _ := excelize.ColumnNumberToName(report.MaxInputColumns)
	if v, _ := f.GetCellValue("Results", last+"2"); v != "far" {
		t.Errorf("Results!%s2 = %q, want far", last, v)
	}
	if v, _ := f.GetCellValue("Results", "XFD1"); v != "Subordinates To Email" {
		t.Errorf("Results!XFD1 = %q, want the last of offboard's columns", v)
	}
	if v, _ := f.GetCellValue("Retry", last+"2"); v != "far" {
		t.Errorf("Retry!%s2 = %q, want far", last, v)
	}

	_, err := report.Create(filepath.Join(t.TempDir(), "wider.xlsx"), append(header, "one more"))
	if err == nil || !strings.Contains(err.Error(), fmt.Sprint(len(header)+1)) {
		t.Errorf("Create(a header of %d columns) = %v, want a refusal", len(header)+1, err)
	}
}
