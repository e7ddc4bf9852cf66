package input_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"offboard/input"
)

// The tests of this file read sheets as the person who filled them in
// sees them (issue #17): formulas, merged cells, filtered rows, line
// endings. Most fixtures were saved by the programs themselves; see
// testdata/README.md.

func cellProblem(col, val, msg string) input.Problem {
	return input.Problem{Code: input.CodeBadValue, Column: col, Value: val, Message: msg}
}

// formulaProblem is the problem of a formula cell whose value the file
// does not hold.
func formulaProblem(col, cell, formula string) input.Problem {
	return cellProblem(col, formula, col+" ("+cell+"): the cell holds a formula with no calculated value, "+formula+
		": open the file in Excel or LibreOffice and save it (in LibreOffice, Data > Calculate > Recalculate Hard first)")
}

func readFixture(t *testing.T, file string, opt input.Options) (input.Header, []input.Row) {
	t.Helper()
	h, rows, err := input.ReadAll(filepath.Join("testdata", file), opt)
	if err != nil {
		t.Fatalf("ReadAll(%s): %v", file, err)
	}
	return h, rows
}

func TestFormulasWithoutValue(t *testing.T) {
	tests := []struct {
		file string
		want []input.Row
	}{
		{
			// openpyxl writes <f>LOWER(E2)</f><v></v> and asks the reader
			// to recalculate: no value at all.
			file: "openpyxl-formulas.xlsx",
			want: []input.Row{
				{
					Line: 2, Cells: []string{"ana@example.com", "=LOWER(E2)", "TRUE", "", "BOSS@EXAMPLE.COM"},
					User: email("ana@example.com"), TransferTo: bad("=LOWER(E2)"), Records: yes(),
					Problems: []input.Problem{formulaProblem("transfer_to", "B2", "=LOWER(E2)")},
				},
				{
					// Not a blank user cell: a user nobody can see.
					Line: 3, Cells: []string{"=LOWER(E3)", "boss@example.com", "", "", "BO@EXAMPLE.COM"},
					User: bad("=LOWER(E3)"), TransferTo: email("boss@example.com"),
					Problems: []input.Problem{formulaProblem("user", "A3", "=LOWER(E3)")},
				},
				{
					Line: 4, Cells: []string{"cy@example.com", "boss@example.com", "=TRUE()", "", ""},
					User: email("cy@example.com"), TransferTo: email("boss@example.com"),
					Problems: []input.Problem{formulaProblem("records", "C4", "=TRUE()")},
				},
				{
					// A formula in a column offboard does not read is no
					// problem.
					Line: 5, Cells: []string{"di@example.com", "boss@example.com", "FALSE", "", "=1+1"},
					User: email("di@example.com"), TransferTo: email("boss@example.com"), Records: no(),
				},
			},
		},
		{
			// XlsxWriter writes the placeholder <v>0</v>: TRUE() must not
			// read as FALSE, nor LOWER(...) as the number 0.
			file: "xlsxwriter-formulas.xlsx",
			want: []input.Row{
				{
					Line: 2, Cells: []string{"ana@example.com", "boss@example.com", "=TRUE()", ""},
					User: email("ana@example.com"), TransferTo: email("boss@example.com"),
					Problems: []input.Problem{formulaProblem("records", "C2", "=TRUE()")},
				},
				{
					Line: 3, Cells: []string{"bo@example.com", `=LOWER("BOSS@EXAMPLE.COM")`, "", ""},
					User: email("bo@example.com"), TransferTo: bad(`=LOWER("BOSS@EXAMPLE.COM")`),
					Problems: []input.Problem{formulaProblem("transfer_to", "B3", `=LOWER("BOSS@EXAMPLE.COM")`)},
				},
				{
					Line: 4, Cells: []string{"cy@example.com", "boss@example.com", "FALSE", "=1+1"},
					User: email("cy@example.com"), TransferTo: email("boss@example.com"), Records: no(),
				},
			},
		},
		{
			// The openpyxl file opened and saved by LibreOffice: the
			// formulas now hold their values.
			file: "libreoffice-formulas.xlsx",
			want: []input.Row{
				{
					Line: 2, Cells: []string{"ana@example.com", "boss@example.com", "TRUE", "", "BOSS@EXAMPLE.COM"},
					User: email("ana@example.com"), TransferTo: email("boss@example.com"), Records: yes(),
				},
				{
					Line: 3, Cells: []string{"bo@example.com", "boss@example.com", "", "", "BO@EXAMPLE.COM"},
					User: email("bo@example.com"), TransferTo: email("boss@example.com"),
				},
				{
					Line: 4, Cells: []string{"cy@example.com", "boss@example.com", "TRUE", "", ""},
					User: email("cy@example.com"), TransferTo: email("boss@example.com"), Records: yes(),
				},
				{
					Line: 5, Cells: []string{"di@example.com", "boss@example.com", "FALSE", "", "2"},
					User: email("di@example.com"), TransferTo: email("boss@example.com"), Records: no(),
				},
			},
		},
		{
			// The XlsxWriter file recalculated and saved by LibreOffice.
			file: "libreoffice-recalculated.xlsx",
			want: []input.Row{
				{
					Line: 2, Cells: []string{"ana@example.com", "boss@example.com", "TRUE", ""},
					User: email("ana@example.com"), TransferTo: email("boss@example.com"), Records: yes(),
				},
				{
					Line: 3, Cells: []string{"bo@example.com", "boss@example.com", "", ""},
					User: email("bo@example.com"), TransferTo: email("boss@example.com"),
				},
				{
					Line: 4, Cells: []string{"cy@example.com", "boss@example.com", "FALSE", "2"},
					User: email("cy@example.com"), TransferTo: email("boss@example.com"), Records: no(),
				},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			_, rows := readFixture(t, tt.file, input.Options{})
			if diff := cmp.Diff(unpadded(tt.want), rows); diff != "" {
				t.Errorf("ReadAll(%s) rows mismatch (-want +got):\n%s", tt.file, diff)
			}
		})
	}
}

func TestMergedCells(t *testing.T) {
	note := func(col, cell, rng, v string) string {
		return col + " (" + cell + ") is part of the merged cells " + rng + ` and was read as "` + v + `", the value shown there`
	}
	tests := []struct {
		file string
		want []input.Row
	}{
		{
			// openpyxl: transfer_to merged over B2:B3, Note over E2:E3,
			// records and assignment together over C4:D4.
			file: "openpyxl-merged.xlsx",
			want: []input.Row{
				{
					Line: 2, Cells: []string{"ana@example.com", "boss@example.com", "TRUE", "TRUE", "team A"},
					User: email("ana@example.com"), TransferTo: email("boss@example.com"), Records: yes(), Assignment: yes(),
				},
				{
					// The name a person sees beside row 3; the Note column
					// is not offboard's, and is left as the file has it.
					Line: 3, Cells: []string{"bo@example.com", "boss@example.com", "TRUE", "TRUE", ""},
					User: email("bo@example.com"), TransferTo: email("boss@example.com"), Records: yes(), Assignment: yes(),
					Notes: []string{note("transfer_to", "B3", "B2:B3", "boss@example.com")},
				},
				{
					// One value over two columns: whose is it?
					Line: 4, Cells: []string{"cy@example.com", "carl@example.com", "FALSE", "FALSE", ""},
					User: email("cy@example.com"), TransferTo: email("carl@example.com"), Records: no(),
					Problems: []input.Problem{cellProblem("assignment", "FALSE",
						`assignment (D4) is covered by the merged cells C4:D4, which show "FALSE" across more than one column: unmerge them and write each column's value`)},
				},
				{
					Line: 5, Cells: []string{"di@example.com", "carl@example.com", "", "", ""},
					User: email("di@example.com"), TransferTo: email("carl@example.com"),
				},
			},
		},
		{
			// LibreOffice: transfer_to merged over B2:B4, with a value of
			// B3's own kept hidden under the merge; a name merged over
			// both target columns, B5:C5.
			file: "libreoffice-merged.xlsx",
			want: []input.Row{
				{
					Line: 2, Cells: []string{"ana@example.com", "boss@example.com", ""},
					User: email("ana@example.com"), TransferTo: email("boss@example.com"),
				},
				{
					Line: 3, Cells: []string{"bo@example.com", "old@example.com", ""},
					User: email("bo@example.com"), TransferTo: bad("old@example.com"),
					Problems: []input.Problem{cellProblem("transfer_to", "old@example.com",
						`transfer_to (B3) holds "old@example.com" hidden under the merged cells B2:B4, which show "boss@example.com": unmerge the cells and write on each row the value meant`)},
				},
				{
					Line: 4, Cells: []string{"cy@example.com", "boss@example.com", ""},
					User: email("cy@example.com"), TransferTo: email("boss@example.com"),
					Notes: []string{note("transfer_to", "B4", "B2:B4", "boss@example.com")},
				},
				{
					Line: 5, Cells: []string{"di@example.com", "mgr@example.com", "mgr@example.com"},
					User: email("di@example.com"), TransferTo: email("mgr@example.com"), SubordinatesTo: bad("mgr@example.com"),
					Problems: []input.Problem{cellProblem("move_subordinates_to", "mgr@example.com",
						`move_subordinates_to (C5) is covered by the merged cells B5:C5, which show "mgr@example.com" across more than one column: unmerge them and write each column's value`)},
				},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			_, rows := readFixture(t, tt.file, input.Options{})
			if diff := cmp.Diff(unpadded(tt.want), rows); diff != "" {
				t.Errorf("ReadAll(%s) rows mismatch (-want +got):\n%s", tt.file, diff)
			}
		})
	}
}

func TestHiddenRows(t *testing.T) {
	// A reviewer filtered approved = yes: rows 3 and 5 are hidden, and so
	// is column D (hidden columns are read as any other).
	for _, file := range []string{"openpyxl-filtered.xlsx", "xlsxwriter-filtered.xlsx", "libreoffice-filtered.xlsx"} {
		for _, include := range []bool{false, true} {
			r, err := input.Open(filepath.Join("testdata", file), input.Options{IncludeHidden: include})
			if err != nil {
				t.Fatalf("Open(%s): %v", file, err)
			}
			type seen struct {
				Line   int
				User   string
				Hidden bool
			}
			var got []seen
			for {
				row, err := r.Next()
				if err != nil {
					break
				}
				got = append(got, seen{row.Line, row.User.Raw, row.Hidden})
			}
			want := []seen{
				{2, "ana@example.com", false},
				{3, "bo@example.com", !include},
				{4, "cy@example.com", false},
				{5, "di@example.com", !include},
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("%s, IncludeHidden %v: rows mismatch (-want +got):\n%s", file, include, diff)
			}
			if n := r.HiddenRows(); n != 2 {
				t.Errorf("%s, IncludeHidden %v: HiddenRows() = %d, want 2", file, include, n)
			}
			if err := r.Close(); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func TestLineEndings(t *testing.T) {
	// Excel for Mac's "CSV (Macintosh)" ends lines with CR alone; a
	// quoted cell's line break is a CR too; row 4 is blank.
	_, rows := readFixture(t, "excel-mac-cr.csv", input.Options{})
	want := []input.Row{
		{Line: 2, Cells: []string{"ana@example.com", "boss@example.com", "first"}, User: email("ana@example.com"), TransferTo: email("boss@example.com")},
		{Line: 3, Cells: []string{"bo@example.com", "boss@example.com", "two\nlines"}, User: email("bo@example.com"), TransferTo: email("boss@example.com")},
		{Line: 5, Cells: []string{"cy@example.com", "boss@example.com", "last"}, User: email("cy@example.com"), TransferTo: email("boss@example.com")},
	}
	if diff := cmp.Diff(unpadded(want), rows); diff != "" {
		t.Errorf("ReadAll(excel-mac-cr.csv) rows mismatch (-want +got):\n%s", diff)
	}

	// "CSV (Macintosh)" is Mac Roman: a name with an accent is refused,
	// with its line, counted with CR as the line break.
	macRoman := filepath.Join(t.TempDir(), "mac.csv")
	if err := os.WriteFile(macRoman, []byte("user,transfer_to\rana@example.com,boss@example.com\rRen\x8e@example.com,boss@example.com\r"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := input.ReadAll(macRoman, input.Options{}); err == nil || err.Error() != `mac.csv: line 3: not UTF-8 text: save the sheet as "CSV UTF-8"` {
		t.Errorf("ReadAll(mac.csv) = %v, want the line 3 not UTF-8 error", err)
	}

	// Every line ending reads as the LF file does: CR, CRLF, a mix.
	lf := "sep=;\n\nuser;transfer_to;note\nana@example.com;boss@example.com;\"a\nb\"\n\nbo@example.com;boss@example.com;" + strings.Repeat("x", 30_000) + ";" + strings.Repeat("x", 30_000) + ";" + strings.Repeat("x", 30_000) + "\ncy@example.com;boss@example.com;z\n"
	dir := t.TempDir()
	read := func(name, content string) (input.Header, []input.Row) {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		h, rows, err := input.ReadAll(path, input.Options{})
		if err != nil {
			t.Fatalf("ReadAll(%s): %v", name, err)
		}
		return h, rows
	}
	wantH, wantRows := read("lf.csv", lf)
	if len(wantRows) != 3 || wantRows[2].Line != 6 {
		t.Fatalf("ReadAll(lf.csv) = %d rows, last on row %d; want 3, the last on row 6", len(wantRows), wantRows[len(wantRows)-1].Line)
	}
	for name, content := range map[string]string{
		"cr.csv":    strings.ReplaceAll(lf, "\n", "\r"),
		"crlf.csv":  strings.ReplaceAll(lf, "\n", "\r\n"),
		"mixed.csv": strings.Replace(strings.ReplaceAll(lf, "\n", "\r\n"), "\r\n", "\r", 3),
	} {
		h, rows := read(name, content)
		if diff := cmp.Diff(wantH, h); diff != "" {
			t.Errorf("ReadAll(%s) header mismatch (-lf +%s):\n%s", name, name, diff)
		}
		if diff := cmp.Diff(unpadded(wantRows), rows); diff != "" {
			t.Errorf("ReadAll(%s) rows mismatch (-lf +%s):\n%s", name, name, diff)
		}
	}
}

func TestMisreadHeader(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name, content, want string
	}{
		{
			// What a CR-only file read as one line would have given: a
			// header cell holding the rows below it.
			name:    "line break.csv",
			content: "user,transfer_to,\"note\nana@example.com\"\n",
			want: `line break.csv: header on row 1: header cell C1 "note\nana@example.com" holds a line break, so rows may have been read run together: ` +
				`write each header on one line, and save the file again as CSV UTF-8; columns found: "user", "transfer_to", "note\nana@example.com"`,
		},
		{
			name:    "no header.csv",
			content: "ana@example.com,boss@example.com,user,transfer_to\nbo@example.com,boss@example.com\n",
			want: `no header.csv: header on row 1: header cell A1 "ana@example.com" holds an @, as an email does: the row read as the header looks like data; ` +
				`header cell B1 "boss@example.com" holds an @, as an email does: the row read as the header looks like data; ` +
				`columns found: "ana@example.com", "boss@example.com", "user", "transfer_to"`,
		},
		{
			name:    "long.csv",
			content: "user,\"transfer_to\n" + strings.Repeat("ana@example.com,boss@example.com\n", 10) + "\"\n",
			want: `long.csv: header on row 1: header cell B1 "transfer_to\nana@example.com,boss@example.com\nana@example.com"... (342 bytes) holds a line break, ` +
				`so rows may have been read run together: write each header on one line, and save the file again as CSV UTF-8; ` +
				`no action column: name one "transfer_to", "transfer_to_email", "transfer_user" or "new_owner", or "move_subordinates_to" or "subordinates_to"; ` +
				`columns found: "user", "transfer_to\nana@example.com,boss@example.com\nana@example.com"... (342 bytes)`,
		},
	}
	for _, tt := range tests {
		path := filepath.Join(dir, tt.name)
		if err := os.WriteFile(path, []byte(tt.content), 0o600); err != nil {
			t.Fatal(err)
		}
		_, _, err := input.ReadAll(path, input.Options{})
		var he *input.HeaderError
		if !errors.As(err, &he) || err.Error() != tt.want {
			t.Errorf("ReadAll(%s) = %v,\nwant the header error %q", tt.name, err, tt.want)
		}
	}

	// In a workbook, a header wrapped on two lines is only formatting.
	path := filepath.Join(dir, "wrapped.xlsx")
	writeZip(t, path, handMade(`<row><c t="inlineStr"><is><t>user</t></is></c><c t="inlineStr"><is><t>Transfer
to</t></is></c></row><row><c t="inlineStr"><is><t>ana@example.com</t></is></c><c t="inlineStr"><is><t>boss@example.com</t></is></c></row>`, ""))
	if _, rows, err := input.ReadAll(path, input.Options{}); err != nil || len(rows) != 1 || rows[0].TransferTo.Email != "boss@example.com" {
		t.Errorf("ReadAll(wrapped.xlsx) = %+v, %v; want one row transferring to boss@example.com", rows, err)
	}
}

func TestChartSheet(t *testing.T) {
	file := filepath.Join("testdata", "openpyxl-chartsheet-first.xlsx")
	want := `openpyxl-chartsheet-first.xlsx: sheet "Chart" is a chart sheet, with no cells to read; the worksheets are "Leavers", "Retry": pick one with --sheet NAME`
	for _, sheet := range []string{"", "chart"} {
		_, _, err := input.ReadAll(file, input.Options{Sheet: sheet})
		var se *input.SheetError
		if !errors.As(err, &se) || err.Error() != want {
			t.Errorf("ReadAll(--sheet %q) = %v,\nwant %q", sheet, err, want)
		}
	}
	_, rows := readFixture(t, "openpyxl-chartsheet-first.xlsx", input.Options{Sheet: "Leavers"})
	want2 := []input.Row{{Line: 2, Cells: []string{"ana@example.com", "boss@example.com", "3"}, User: email("ana@example.com"), TransferTo: email("boss@example.com")}}
	if diff := cmp.Diff(want2, rows); diff != "" {
		t.Errorf("ReadAll(--sheet Leavers) rows mismatch (-want +got):\n%s", diff)
	}
	names, err := input.SheetNames(file, input.Options{})
	if diff := cmp.Diff([]string{"Chart", "Leavers", "Retry"}, names); err != nil || diff != "" {
		t.Errorf("SheetNames() = %v (-want +got):\n%s", err, diff)
	}
}

func TestHeaderErrorNamesSheets(t *testing.T) {
	const (
		noUser   = `no user column: name one "user", "user_email", "email", "user_id" or "delete_user"`
		noAction = `no action column: name one "transfer_to", "transfer_to_email", "transfer_user" or "new_owner", or "move_subordinates_to" or "subordinates_to"`
	)
	tests := []struct {
		file string
		want *input.HeaderError
		msg  string
	}{
		{
			// The first sheet is a note; the list is on the second.
			file: "libreoffice-1904.xlsx",
			want: &input.HeaderError{File: "libreoffice-1904.xlsx", Line: 1, Problems: []string{noUser, noAction}, Found: []string{"not this one"},
				Sheet: "Notes", Sheets: []string{"Leavers"}},
			msg: `libreoffice-1904.xlsx: sheet "Notes": header on row 1: ` + noUser + "; " + noAction + `; columns found: "not this one"; ` +
				`the workbook's other worksheets are "Leavers": to read one, use --sheet NAME`,
		},
		{
			// A title (merged over A1:C1) above the header on row 3.
			file: "openpyxl-title-rows.xlsx",
			want: &input.HeaderError{File: "openpyxl-title-rows.xlsx", Line: 1, Problems: []string{noUser, noAction}, Found: []string{"Leavers, December"},
				Sheet: "December", Sheets: []string{"Notes"}, Candidate: 3},
			msg: `openpyxl-title-rows.xlsx: sheet "December": header on row 1: ` + noUser + "; " + noAction + `; columns found: "Leavers, December"; ` +
				`row 3 looks like the header: delete the title rows above it, so that the header is the first non-blank row; ` +
				`the workbook's other worksheets are "Notes": to read one, use --sheet NAME`,
		},
	}
	for _, tt := range tests {
		_, _, err := input.ReadAll(filepath.Join("testdata", tt.file), input.Options{})
		var he *input.HeaderError
		if !errors.As(err, &he) {
			t.Fatalf("ReadAll(%s) = %v, want a *HeaderError", tt.file, err)
		}
		if diff := cmp.Diff(tt.want, he); diff != "" {
			t.Errorf("ReadAll(%s) header error mismatch (-want +got):\n%s", tt.file, diff)
		}
		if got := err.Error(); got != tt.msg {
			t.Errorf("ReadAll(%s) = %q,\nwant %q", tt.file, got, tt.msg)
		}
	}

	// A one-cell title above a CSV's header.
	dir := t.TempDir()
	csvPath := filepath.Join(dir, "title.csv")
	if err := os.WriteFile(csvPath, []byte("Leavers\n\nuser,transfer_to\nana@example.com,boss@example.com\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	wantCSV := `title.csv: header on row 1: ` + noUser + "; " + noAction + `; columns found: "Leavers"; ` +
		`row 3 looks like the header: delete the title rows above it, so that the header is the first non-blank row`
	if _, _, err := input.ReadAll(csvPath, input.Options{}); err == nil || err.Error() != wantCSV {
		t.Errorf("ReadAll(title.csv) = %v,\nwant %q", err, wantCSV)
	}

	// A blank first sheet.
	path := filepath.Join(dir, "blank.xlsx")
	writeZip(t, path, handMade(`<row r="3"><c r="A3" t="s"/></row>`, ""))
	want := `blank.xlsx: sheet "S": no header row: every row is blank; the workbook has no other worksheet`
	if _, _, err := input.ReadAll(path, input.Options{}); err == nil || err.Error() != want {
		t.Errorf("ReadAll(blank.xlsx) = %v, want %q", err, want)
	}
}

// handMadeSheet is handMade with the whole worksheet part given, and
// <calcPr> attributes for the workbook.
func handMadeSheet(worksheet, calcPr string) map[string]string {
	parts := handMade("", "")
	parts["xl/worksheets/sheet1.xml"] = worksheet
	if calcPr != "" {
		parts["xl/workbook.xml"] = strings.Replace(workbookXML, "</sheets>", "</sheets><calcPr "+calcPr+"/>", 1)
	}
	return parts
}

func TestHandMadeCells(t *testing.T) {
	const (
		ns     = `xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"`
		header = `<row r="1"><c r="A1" t="inlineStr"><is><t>user</t></is></c><c r="B1" t="inlineStr"><is><t>transfer_to</t></is></c><c r="C1" t="inlineStr"><is><t>Note</t></is></c></row>`
	)
	str := func(ref, s string) string { return `<c r="` + ref + `" t="inlineStr"><is><t>` + s + `</t></is></c>` }
	tests := []struct {
		name, worksheet, calcPr string
		want                    []input.Row
	}{
		{
			// Tencent Docs writes <c t="s"/> for a blank cell; an inline
			// string that also carries a <v> shows its <is> alone.
			name: "empty shared string, inline string with a value",
			worksheet: `<worksheet ` + ns + `><sheetData>` + header +
				`<row r="2"><c r="A2" t="inlineStr"><v>x@example.com</v><is><t>ana@example.com</t></is></c><c r="B2" t="s"/><c r="C2" t="inlineStr"><is><t>1.</t></is><v>1.01</v></c></row>` +
				`<row r="3">` + str("A3", "bo@example.com") + `<c r="B3" t="s"><v></v></c><c r="C3" t="s"><v> </v></c></row>` +
				`</sheetData></worksheet>`,
			want: []input.Row{
				{Line: 2, Cells: []string{"ana@example.com", "", "1."}, User: email("ana@example.com")},
				{Line: 3, Cells: []string{"bo@example.com", "", ""}, User: email("bo@example.com")},
			},
		},
		{
			// Without fullCalcOnLoad, a cached value is the value; a
			// formula without one (excelize writes no <v>) is not blank;
			// Excel writes a formula's empty text result as t="str" and
			// an empty <v>; a shared formula's other cells carry no text.
			name: "formulas, cached or not",
			worksheet: `<worksheet ` + ns + `><sheetData>` + header +
				`<row r="2">` + str("A2", "ana@example.com") + `<c r="B2" t="str"><f>LOWER(C2)</f><v>boss@example.com</v></c>` + str("C2", "BOSS@EXAMPLE.COM") + `</row>` +
				`<row r="3">` + str("A3", "bo@example.com") + `<c r="B3"><f>LOWER(C3)</f></c>` + str("C3", "BOSS@EXAMPLE.COM") + `</row>` +
				`<row r="4">` + str("A4", "cy@example.com") + `<c r="B4" t="str"><f>IF(C4="","",C4)</f><v></v></c></row>` +
				`<row r="5">` + str("A5", "di@example.com") + `<c r="B5" t="str"><f t="shared" ref="B5:B6" si="0">LOWER(C5)</f><v>boss@example.com</v></c>` + str("C5", "BOSS@EXAMPLE.COM") + `</row>` +
				`<row r="6">` + str("A6", "ed@example.com") + `<c r="B6" t="str"><f t="shared" si="0"/></c>` + str("C6", "BOSS@EXAMPLE.COM") + `</row>` +
				`</sheetData></worksheet>`,
			want: []input.Row{
				{Line: 2, Cells: []string{"ana@example.com", "boss@example.com", "BOSS@EXAMPLE.COM"}, User: email("ana@example.com"), TransferTo: email("boss@example.com")},
				{
					Line: 3, Cells: []string{"bo@example.com", "=LOWER(C3)", "BOSS@EXAMPLE.COM"}, User: email("bo@example.com"), TransferTo: bad("=LOWER(C3)"),
					Problems: []input.Problem{formulaProblem("transfer_to", "B3", "=LOWER(C3)")},
				},
				{Line: 4, Cells: []string{"cy@example.com", "", ""}, User: email("cy@example.com")},
				{Line: 5, Cells: []string{"di@example.com", "boss@example.com", "BOSS@EXAMPLE.COM"}, User: email("di@example.com"), TransferTo: email("boss@example.com")},
				{
					Line: 6, Cells: []string{"ed@example.com", "=", "BOSS@EXAMPLE.COM"}, User: email("ed@example.com"), TransferTo: bad("="),
					Problems: []input.Problem{cellProblem("transfer_to", "=", "transfer_to (B6): the cell holds a formula with no calculated value: open the file in Excel or LibreOffice and save it (in LibreOffice, Data > Calculate > Recalculate Hard first)")},
				},
			},
		},
		{
			// A workbook that asks to be recalculated holds placeholders,
			// whatever they look like.
			name:   "fullCalcOnLoad",
			calcPr: `calcId="124519" fullCalcOnLoad="true"`,
			worksheet: `<worksheet ` + ns + `><sheetData>` + header +
				`<row r="2">` + str("A2", "ana@example.com") + `<c r="B2" t="str"><f>LOWER(C2)</f><v>boss@example.com</v></c>` + str("C2", "BOSS@EXAMPLE.COM") + `</row>` +
				`</sheetData></worksheet>`,
			want: []input.Row{{
				Line: 2, Cells: []string{"ana@example.com", "=LOWER(C2)", "BOSS@EXAMPLE.COM"}, User: email("ana@example.com"), TransferTo: bad("=LOWER(C2)"),
				Problems: []input.Problem{formulaProblem("transfer_to", "B2", "=LOWER(C2)")},
			}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "hand.xlsx")
			writeZip(t, path, handMadeSheet(tt.worksheet, tt.calcPr))
			_, rows, err := input.ReadAll(path, input.Options{})
			if err != nil {
				t.Fatalf("ReadAll: %v", err)
			}
			if diff := cmp.Diff(unpadded(tt.want), rows); diff != "" {
				t.Errorf("ReadAll rows mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestHandMadeMerges(t *testing.T) {
	// Namespace prefixes, a row hidden with "true", a merged range over a
	// row otherwise blank (still a blank row), and a merge that begins on
	// the header.
	worksheet := `<x:worksheet xmlns:x="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><x:sheetData>` +
		`<x:row r="1"><x:c r="A1" t="inlineStr"><x:is><x:t>user</x:t></x:is></x:c><x:c r="B1" t="inlineStr"><x:is><x:t>transfer_to</x:t></x:is></x:c><x:c r="C1" t="inlineStr"><x:is><x:t>subordinates_to</x:t></x:is></x:c></x:row>` +
		`<x:row r="2"><x:c r="A2" t="inlineStr"><x:is><x:t>ana@example.com</x:t></x:is></x:c><x:c r="B2" t="inlineStr"><x:is><x:t>boss@example.com</x:t></x:is></x:c></x:row>` +
		`<x:row r="3" hidden="true"><x:c r="A3" t="inlineStr"><x:is><x:t>bo@example.com</x:t></x:is></x:c><x:c r="B3"/></x:row>` +
		`<x:row r="4"><x:c r="B4"/></x:row>` +
		`<x:row r="5"><x:c r="A5" t="inlineStr"><x:is><x:t>cy@example.com</x:t></x:is></x:c></x:row>` +
		`</x:sheetData ><x:mergeCells count="2"><x:mergeCell ref="B2:B4"/><x:mergeCell ref="C1:C2"/></x:mergeCells></x:worksheet>`
	want := []input.Row{
		{
			Line: 2, Cells: []string{"ana@example.com", "boss@example.com", "subordinates_to"},
			User: email("ana@example.com"), TransferTo: email("boss@example.com"), SubordinatesTo: bad("subordinates_to"),
			Problems: []input.Problem{cellProblem("subordinates_to", "subordinates_to", "subordinates_to (C2) is covered by the merged cells C1:C2, which begin at or above the header: unmerge them and write the value on each row")},
		},
		{
			Line: 3, Cells: []string{"bo@example.com", "boss@example.com", ""}, Hidden: true,
			User: email("bo@example.com"), TransferTo: email("boss@example.com"),
			Notes: []string{`transfer_to (B3) is part of the merged cells B2:B4 and was read as "boss@example.com", the value shown there`},
		},
		{Line: 5, Cells: []string{"cy@example.com", "", ""}, User: email("cy@example.com")},
	}
	path := filepath.Join(t.TempDir(), "hand.xlsx")
	writeZip(t, path, handMadeSheet(worksheet, ""))
	_, rows, err := input.ReadAll(path, input.Options{})
	if err != nil {
		t.Fatalf("ReadAll: %v", err)
	}
	if diff := cmp.Diff(unpadded(want), rows); diff != "" {
		t.Errorf("ReadAll rows mismatch (-want +got):\n%s", diff)
	}
}

// TestArrayFormulas: an array formula's result fills a range, and only its
// top-left cell says there is a formula. A cell of the range whose value
// the file does not hold (none at all from openpyxl, XlsxWriter's
// placeholder 0) is never read as blank or as the placeholder.
func TestArrayFormulas(t *testing.T) {
	arrayProblem := func(col, cell, formula, ref string) input.Problem {
		return cellProblem(col, formula, col+" ("+cell+") is part of the array formula "+formula+" in "+ref+
			", whose value the file does not hold: open the file in Excel or LibreOffice and save it (in LibreOffice, Data > Calculate > Recalculate Hard first)")
	}
	const lower, yes = "=LOWER(D2:D4)", `=E2:E4="yes"`
	flagged := []input.Row{
		{
			Line: 2, Cells: []string{"ana@example.com", lower, yes, "BOSS@EXAMPLE.COM", "yes"},
			User: email("ana@example.com"), TransferTo: bad(lower),
			Problems: []input.Problem{formulaProblem("transfer_to", "B2", lower), formulaProblem("records", "C2", yes)},
		},
		{
			Line: 3, Cells: []string{"bo@example.com", lower, yes, "CARL@EXAMPLE.COM", "yes"},
			User: email("bo@example.com"), TransferTo: bad(lower),
			Problems: []input.Problem{arrayProblem("transfer_to", "B3", lower, "B2:B4"), arrayProblem("records", "C3", yes, "C2:C4")},
		},
		{
			Line: 4, Cells: []string{"cy@example.com", lower, yes, "DORA@EXAMPLE.COM", "yes"},
			User: email("cy@example.com"), TransferTo: bad(lower),
			Problems: []input.Problem{arrayProblem("transfer_to", "B4", lower, "B2:B4"), arrayProblem("records", "C4", yes, "C2:C4")},
		},
	}
	for _, file := range []string{"openpyxl-array-formula.xlsx", "xlsxwriter-array-formula.xlsx"} {
		t.Run(file, func(t *testing.T) {
			_, rows := readFixture(t, file, input.Options{})
			if diff := cmp.Diff(unpadded(flagged), rows); diff != "" {
				t.Errorf("ReadAll(%s) rows mismatch (-want +got):\n%s", file, diff)
			}
		})
	}
	// openpyxl leaves out the rows that only the array's result fills: a
	// spreadsheet shows them, so they are rows, flagged.
	t.Run("rows the file leaves out", func(t *testing.T) {
		const staff = "=Staff!A1:B3"
		want := []input.Row{
			{Line: 2, Cells: []string{staff, staff, ""}, User: bad(staff), TransferTo: bad(staff),
				Problems: []input.Problem{formulaProblem("user", "A2", staff), arrayProblem("transfer_to", "B2", staff, "A2:B4")}},
			{Line: 3, Cells: []string{staff, staff, ""}, User: bad(staff), TransferTo: bad(staff),
				Problems: []input.Problem{arrayProblem("user", "A3", staff, "A2:B4"), arrayProblem("transfer_to", "B3", staff, "A2:B4")}},
			{Line: 4, Cells: []string{staff, staff, ""}, User: bad(staff), TransferTo: bad(staff),
				Problems: []input.Problem{arrayProblem("user", "A4", staff, "A2:B4"), arrayProblem("transfer_to", "B4", staff, "A2:B4")}},
			{Line: 5, Cells: []string{"zoe@example.com", "boss@example.com", "T5"}, User: email("zoe@example.com"), TransferTo: email("boss@example.com")},
		}
		_, rows := readFixture(t, "openpyxl-array-rows.xlsx", input.Options{})
		if diff := cmp.Diff(unpadded(want), rows); diff != "" {
			t.Errorf("ReadAll(openpyxl-array-rows.xlsx) rows mismatch (-want +got):\n%s", diff)
		}
		_, rows = readFixture(t, "libreoffice-array-rows.xlsx", input.Options{})
		var users []string
		for _, r := range rows {
			if len(r.Problems) > 0 || r.TransferTo.Raw != "boss@example.com" {
				t.Errorf("LibreOffice's row %d = %+v, want its values read", r.Line, r)
			}
			users = append(users, r.User.Raw)
		}
		if diff := cmp.Diff([]string{"ana@example.com", "bo@example.com", "cy@example.com", "zoe@example.com"}, users); diff != "" {
			t.Errorf("users of LibreOffice's save (-want +got):\n%s", diff)
		}
	})
	// An array whose result is "" below the leavers: LibreOffice saves
	// those cells with empty values, blank rows as a person sees them;
	// openpyxl leaves them out, so that nothing tells them blank.
	t.Run("blank results", func(t *testing.T) {
		_, rows := readFixture(t, "libreoffice-array-blanks.xlsx", input.Options{})
		var got []string
		for _, r := range rows {
			got = append(got, fmt.Sprintf("%d %s → %s %d problems", r.Line, r.User.Raw, r.TransferTo.Raw, len(r.Problems)))
		}
		want := []string{"2 ana@example.com → boss@example.com 0 problems", "3 bo@example.com → boss@example.com 0 problems", "4 cy@example.com → boss@example.com 0 problems"}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("ReadAll(libreoffice-array-blanks.xlsx) (-want +got):\n%s", diff)
		}
		_, rows = readFixture(t, "openpyxl-array-blanks.xlsx", input.Options{})
		if len(rows) != 40 {
			t.Fatalf("ReadAll(openpyxl-array-blanks.xlsx) = %d rows, want 40: rows 2 to 41, which the array fills with values the file does not hold", len(rows))
		}
		for _, r := range rows[1:] {
			if len(r.Problems) != 1 || r.Problems[0].Column != "transfer_to" {
				t.Errorf("openpyxl's row %d problems = %v, want transfer_to flagged", r.Line, r.Problems)
			}
		}
	})
	t.Run("recalculated by LibreOffice", func(t *testing.T) {
		_, rows := readFixture(t, "libreoffice-array-formula.xlsx", input.Options{})
		for i, who := range []string{"boss", "carl", "dora"} {
			r := rows[i]
			if r.TransferTo.Raw != who+"@example.com" || r.Records == nil || !*r.Records || len(r.Problems) > 0 {
				t.Errorf("row %d = transfer_to %q, records %v, problems %v; want %s@example.com, TRUE, none", r.Line, r.TransferTo.Raw, r.Records, r.Problems, who)
			}
		}
	})
}

// TestHiddenRowsAsASpreadsheetHides: rows a spreadsheet hides whatever
// the file spells: any true-ish hidden value, a height of zero, the rows
// of a collapsed outline group that are not marked hidden themselves; and
// a hidden row above the header is not taken for the header.
func TestHiddenRowsAsASpreadsheetHides(t *testing.T) {
	const ns = `xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"`
	str := func(ref, s string) string { return `<c r="` + ref + `" t="inlineStr"><is><t>` + s + `</t></is></c>` }
	row := func(n int, attrs, user string) string {
		r := fmt.Sprint(n)
		return `<row r="` + r + `" ` + attrs + `>` + str("A"+r, user) + str("B"+r, "boss@example.com") + `</row>`
	}
	header := `<row r="1">` + str("A1", "user") + str("B1", "transfer_to") + `</row>`
	tests := []struct {
		name, sheetPr, rows string
		hidden              []int // the rows read as hidden
	}{
		{"hidden spelt otherwise", "", header +
			row(2, `hidden="on"`, "a@example.com") + row(3, `hidden="t"`, "b@example.com") + row(4, `hidden=" 1"`, "c@example.com") +
			row(5, `hidden="false"`, "d@example.com") + row(6, `hidden="0"`, "e@example.com") + row(7, `hidden="True"`, "f@example.com"),
			[]int{2, 3, 4, 7}},
		{"zero height", "", header + row(2, `ht="0" customHeight="1"`, "a@example.com") + row(3, `ht="15"`, "b@example.com"), []int{2}},
		{"collapsed group, summary below", "", header +
			row(2, `outlineLevel="1"`, "a@example.com") + row(3, `outlineLevel="1"`, "b@example.com") +
			row(4, `collapsed="1"`, "c@example.com") + row(5, `outlineLevel="1"`, "d@example.com") + row(6, "", "e@example.com"),
			[]int{2, 3}},
		{"collapsed group, summary above", `<sheetPr><outlinePr summaryBelow="0"/></sheetPr>`, header +
			row(2, `collapsed="1"`, "a@example.com") + row(3, `outlineLevel="1"`, "b@example.com") +
			row(4, `outlineLevel="2"`, "c@example.com") + row(5, "", "d@example.com"),
			[]int{3, 4}},
		{"expanded group", "", header + row(2, `outlineLevel="1"`, "a@example.com") + row(3, "", "b@example.com"), nil},
		{"hidden row above the header", "", `<row r="1" hidden="1">` + str("A1", "user") + str("B1", "subordinates_to") + `</row>` +
			`<row r="2">` + str("A2", "user") + str("B2", "transfer_to") + `</row>` + row(3, "", "a@example.com"), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "hand.xlsx")
			writeZip(t, path, handMadeSheet(`<worksheet `+ns+`>`+tt.sheetPr+`<sheetData>`+tt.rows+`</sheetData></worksheet>`, ""))
			h, rows, err := input.ReadAll(path, input.Options{})
			if err != nil {
				t.Fatalf("ReadAll: %v", err)
			}
			var hidden []int
			for _, r := range rows {
				if r.Hidden {
					hidden = append(hidden, r.Line)
				}
				if r.TransferTo.Raw != "boss@example.com" {
					t.Errorf("row %d: transfer_to %q, want the header's transfer_to column read", r.Line, r.TransferTo.Raw)
				}
			}
			if diff := cmp.Diff(tt.hidden, hidden); diff != "" {
				t.Errorf("hidden rows (-want +got):\n%s", diff)
			}
			if tt.name == "hidden row above the header" && h.Line != 2 {
				t.Errorf("header on row %d, want 2: the first row a person sees", h.Line)
			}
		})
	}
}

// TestMergedRangesAsTheFileSays: the merged ranges are found wherever the
// file lists them (after the rows, as the format says, or before them, as
// LibreOffice also reads), whatever lies between, and never in a comment
// or a CDATA section; ranges that overlap leave their cells flagged, not
// guessed.
func TestMergedRangesAsTheFileSays(t *testing.T) {
	const ns = `xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"`
	str := func(ref, s string) string { return `<c r="` + ref + `" t="inlineStr"><is><t>` + s + `</t></is></c>` }
	rows := `<row r="1">` + str("A1", "user") + str("B1", "transfer_to") + str("C1", "move_subordinates_to") + `</row>` +
		`<row r="2">` + str("A2", "ana@example.com") + str("B2", "boss@example.com") + str("C2", "carl@example.com") + `</row>` +
		`<row r="3">` + str("A3", "bo@example.com") + str("C3", "carl@example.com") + `</row>`
	tests := []struct {
		name, worksheet string
		transferTo      string // row 3's transfer_to
		problem         string // in row 3's problems, if any
	}{
		{"white space in the end tag", `<worksheet ` + ns + `><sheetData>` + rows + `</sheetData` + strings.Repeat(" \n", 40000) + `><mergeCells><mergeCell ref="B2:B3"/></mergeCells></worksheet>`,
			"boss@example.com", ""},
		{"merges listed before the rows", `<worksheet ` + ns + `><mergeCells count="1"><mergeCell ref="B2:B3"/></mergeCells><sheetData>` + rows + `</sheetData></worksheet>`,
			"boss@example.com", ""},
		{"a comment is not the end", `<worksheet ` + ns + `><sheetData>` + rows + `<!-- </sheetData><mergeCells><mergeCell ref="B2:B3"/></mergeCells> --></sheetData></worksheet>`,
			"", ""},
		{"CDATA is not the end", `<worksheet ` + ns + `><sheetData>` + rows + `<![CDATA[ </sheetData><mergeCell ref="B2:B3"/> ]]></sheetData></worksheet>`,
			"", ""},
		{"overlapping ranges", `<worksheet ` + ns + `><sheetData>` + rows + `</sheetData><mergeCells><mergeCell ref="B1:B5"/><mergeCell ref="B2:B3"/></mergeCells></worksheet>`,
			"", "the value shown there cannot be told"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "hand.xlsx")
			writeZip(t, path, handMadeSheet(tt.worksheet, ""))
			_, got, err := input.ReadAll(path, input.Options{})
			if err != nil {
				t.Fatalf("ReadAll: %v", err)
			}
			r := got[1]
			if tt.problem == "" && (r.TransferTo.Raw != tt.transferTo || len(r.Problems) > 0) {
				t.Errorf("row 3: transfer_to %q, problems %v; want %q and none", r.TransferTo.Raw, r.Problems, tt.transferTo)
			}
			if tt.problem != "" && (len(r.Problems) != 1 || !strings.Contains(r.Problems[0].Message, tt.problem)) {
				t.Errorf("row 3: problems %v, want one saying %q", r.Problems, tt.problem)
			}
		})
	}
	// A document type declaration is refused: its entities could make the
	// scan and the XML parser read the sheet differently.
	path := filepath.Join(t.TempDir(), "doctype.xlsx")
	writeZip(t, path, handMadeSheet(`<!DOCTYPE worksheet [<!ENTITY e "x">]><worksheet `+ns+`><sheetData>`+rows+`</sheetData></worksheet>`, ""))
	if _, _, err := input.ReadAll(path, input.Options{}); err == nil || !strings.Contains(err.Error(), "document type declaration") {
		t.Errorf("ReadAll(a sheet with a DOCTYPE) = %v, want a refusal naming it", err)
	}
}

// TestArrayRowsBounded: an array formula may claim rows the file leaves
// out, and each becomes a row of the results; a claim of more than a
// sheet of leavers can hold is refused, not read as a million rows.
func TestArrayRowsBounded(t *testing.T) {
	const ns = `xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"`
	sheet := func(ref string) string {
		return `<worksheet ` + ns + `><sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>user</t></is></c>` +
			`<c r="B1" t="inlineStr"><is><t>transfer_to</t></is></c></row>` +
			`<row r="2"><c r="A2"><f t="array" ref="` + ref + `">Staff!A1:A9</f><v></v></c></row></sheetData></worksheet>`
	}
	path := filepath.Join(t.TempDir(), "hand.xlsx")
	writeZip(t, path, handMadeSheet(sheet("A2:A6"), ""))
	_, rows, err := input.ReadAll(path, input.Options{})
	if err != nil || len(rows) != 5 || rows[4].Line != 6 {
		t.Fatalf("ReadAll(array over A2:A6, the last row in the file row 2) = %d rows, %v; want rows 2 to 6", len(rows), err)
	}
	writeZip(t, path, handMadeSheet(sheet("A2:A1048576"), ""))
	if _, _, err := input.ReadAll(path, input.Options{}); err == nil || !strings.Contains(err.Error(), "array formulas fill more than") {
		t.Errorf("ReadAll(array over a million rows) = %v, want it refused", err)
	}
}
