package report_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/xuri/excelize/v2"

	"offboard/report"
	"offboard/result"
)

// TestXLSXPrintSetup: a printed or PDF'd sheet is one page wide (as many
// tall as it takes), Results and Retry landscape, with the header row on
// every page, and a Message that wraps in a row tall enough for it rather
// than running under the next column.
func TestXLSXPrintSetup(t *testing.T) {
	path := filepath.Join(t.TempDir(), "results.xlsx")
	rs := results()
	rs[1].Message = strings.Repeat("a long message that a reviewer must read in full ", 6)
	write(t, path, inputHeader(), rs)
	f := openXLSX(t, path)

	for _, sheet := range []string{"Results", "Retry", "Summary"} {
		pl, err := f.GetPageLayout(sheet)
		if err != nil {
			t.Fatal(err)
		}
		want := "landscape"
		if sheet == "Summary" {
			want = "portrait"
		}
		if got := deref(pl.Orientation); got != want {
			t.Errorf("%s: orientation %q, want %s", sheet, got, want)
		}
		if pl.FitToWidth == nil || *pl.FitToWidth != 1 || pl.FitToHeight == nil || *pl.FitToHeight != 0 {
			t.Errorf("%s: fit to %d wide, %d tall; want 1 page wide, any number tall (0)", sheet, deref(pl.FitToWidth), deref(pl.FitToHeight))
		}
		props, err := f.GetSheetProps(sheet)
		if err != nil {
			t.Fatal(err)
		}
		if props.FitToPage == nil || !*props.FitToPage {
			t.Errorf("%s: fitToPage not set: Excel ignores the fit without it", sheet)
		}
		m, err := f.GetPageMargins(sheet)
		if err != nil || deref(m.Left) > 0.25 || deref(m.Right) > 0.25 {
			t.Errorf("%s: margins left %v, right %v, %v; want narrow (0.25 in)", sheet, deref(m.Left), deref(m.Right), err)
		}
		hf, err := f.GetHeaderFooter(sheet)
		if err != nil || hf == nil || !strings.Contains(hf.OddFooter, "&P of &N") {
			t.Errorf("%s: footer %+v, %v; want page numbers", sheet, hf, err)
		}
	}
	titles := map[string]string{}
	for _, dn := range f.GetDefinedName() {
		if dn.Name == "_xlnm.Print_Titles" {
			titles[dn.Scope] = dn.RefersTo
		}
	}
	if want := map[string]string{"Results": "'Results'!$1:$1", "Retry": "'Retry'!$1:$1"}; !cmp.Equal(titles, want) {
		t.Errorf("print titles = %q, want %q (the header row on every page)", titles, want)
	}

	// Message (H) wraps, and the row of the long message is tall enough
	// for its lines; a row of a short one keeps the default height.
	id, _ := f.GetCellStyle("Results", "H3")
	if st, err := f.GetStyle(id); err != nil || st.Alignment == nil || !st.Alignment.WrapText {
		t.Errorf("Results!H3 (Message): alignment %+v, want wrapped text", st.Alignment)
	}
	width, _ := f.GetColWidth("Results", "H")
	lines := float64(len(rs[1].Message)) / width
	if h, _ := f.GetRowHeight("Results", 3); h < 15*lines {
		t.Errorf("Results row 3 height = %v, want room for %.1f lines of the message (%v)", h, lines, 15*lines)
	}
	if h, _ := f.GetRowHeight("Results", 4); h > 15 {
		t.Errorf("Results row 4 height = %v, want the default for a one-line message", h)
	}
	// And in the Retry sheet, Last Message (H) too.
	if h, _ := f.GetRowHeight("Retry", 2); h < 15*lines {
		t.Errorf("Retry row 2 height = %v, want room for %.1f lines of the message", h, lines)
	}
}

// deref is *p, or the zero value for nil.
func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

// TestRetryOfRetry: an input that is itself a Retry sheet has the Retry
// columns already: they are not added again, the next Retry sheet keeps
// each row's original row number (a row added to it by hand gets its own
// line), and says why the row is there now, not the time before.
func TestRetryOfRetry(t *testing.T) {
	header := append(inputHeader(), report.RetryColumns()...)
	rs := []result.Row{
		{Line: 2, Cells: []string{"bob@example.com", "", "", "", "3", "invalid", "MISSING_ACTION", "old reason"},
			Outcome: result.Failed, Code: "JOB_FAILED", Message: "The job failed."},
		{Line: 3, Cells: []string{"cat@example.com", "dan@example.com", "", "", "11", "failed", "JOB_FAILED", "old reason"},
			Outcome: result.Deleted},
		{Line: 4, Cells: []string{"eve@example.com", "dan@example.com", "", "", "14", "not_run"},
			Outcome: result.NotRun, Message: "Not sent: the run stopped."},
		{Line: 5, Cells: []string{"new@example.com", "dan@example.com"}, Outcome: result.Invalid, Code: "USER_NOT_FOUND", Message: "no such user"},
	}
	want := [][]string{
		header,
		{"bob@example.com", "", "", "", "3", "failed", "JOB_FAILED", "The job failed."},
		{"eve@example.com", "dan@example.com", "", "", "14", "not_run", "", "Not sent: the run stopped."},
		{"new@example.com", "dan@example.com", "", "", "5", "invalid", "USER_NOT_FOUND", "no such user"},
	}
	for _, name := range []string{"results.xlsx", "results.csv"} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), name)
			write(t, path, header, rs)
			var got [][]string
			if strings.HasSuffix(name, ".csv") {
				got = readCSV(t, report.RetryPath(path))
			} else {
				got = sheetRows(t, openXLSX(t, path), "Retry", len(header))
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("Retry (-want +got):\n%s", diff)
			}
		})
	}
	// Original Row is a number in the workbook, as Row is in Results.
	path := filepath.Join(t.TempDir(), "results.xlsx")
	write(t, path, header, rs)
	if ct, err := openXLSX(t, path).GetCellType("Retry", "E2"); err != nil || ct != excelize.CellTypeUnset {
		t.Errorf("Retry!E2 (Original Row) type %v, %v; want a number", ct, err)
	}
}
