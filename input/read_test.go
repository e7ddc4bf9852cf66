package input_test

import (
	"archive/zip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
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
)

func yes() *bool { b := true; return &b }
func no() *bool  { b := false; return &b }
func date(y int, m time.Month, d int) *input.Date {
	return &input.Date{Year: y, Month: m, Day: d}
}
func email(s string) input.Ref { return input.Ref{Raw: s, Email: s} }
func id(s string) input.Ref    { return input.Ref{Raw: s, ID: s} }
func bad(s string) input.Ref   { return input.Ref{Raw: s} }
func problem(col, val, msg string) input.Problem {
	return input.Problem{Code: input.CodeBadValue, Column: col, Value: val, Message: fmt.Sprintf("%s %q %s", col, strings.TrimSpace(val), msg)}
}

const (
	roundedMsg = "is stored as a number, so the spreadsheet has rounded it; format the column as text and type the ID again"
	numberMsg  = "is stored as a number, not text; format the column as text and type the ID again"
	refMsg     = "is not an email nor a Zoho user ID"
	boolMsg    = "is not a yes or no: write TRUE or FALSE (or yes/no, y/n, 1/0)"
	dateMsg    = "is not a date: write it as YYYY-MM-DD, or use a date cell"
	numDateMsg = "is a number, not a date: format the cell as a date, or write YYYY-MM-DD"
)

var richNames = []string{"Employee", "User Email", "New Owner", "Transfer Records", "Transfer-Assignment", "criteria", "Subordinates To", "Last Day", "Note"}

// unpadded returns rows with each row's trailing empty cells dropped, as
// the reader keeps them: the rows below are written one cell per header
// name, as a person reads them across the sheet.
func unpadded(rows []input.Row) []input.Row {
	out := slices.Clone(rows)
	for i := range out {
		c := out[i].Cells
		n := len(c)
		for n > 0 && c[n-1] == "" {
			n--
		}
		if n < len(c) {
			out[i].Cells = c[:n]
		}
	}
	return out
}

func richHeader() input.Header {
	return input.Header{
		Names: richNames,
		Index: map[input.Column]int{
			input.ColUser: 1, input.ColTransferTo: 2, input.ColRecords: 3, input.ColAssignment: 4,
			input.ColCriteria: 5, input.ColSubordinatesTo: 6, input.ColEffectiveDate: 7,
		},
		Line: 3,
	}
}

// richRows is libreoffice-rich.fods as read from the .xlsx LibreOffice saved.
func richRows() []input.Row {
	return []input.Row{
		{
			Line:  4,
			Cells: []string{"Ana Pérez", " ana@example.com ", "3652397000001460123", "TRUE", "FALSE", "yes", "boss@example.com", "2025-03-31", "line one\nline two"},
			User:  email("ana@example.com"), TransferTo: id("3652397000001460123"), SubordinatesTo: email("boss@example.com"),
			Records: yes(), Assignment: no(), Criteria: yes(), EffectiveDate: date(2025, time.March, 31),
		},
		{
			// An ID in a number cell formatted "0"; a formula string; a
			// formula boolean; a d/m/y date cell; a formula number.
			Line:  5,
			Cells: []string{"Bo", "3.65239700000146E+18", "carl@example.com", "TRUE", "0", "", "", "2025-04-01", "3"},
			User:  bad("3.65239700000146E+18"), TransferTo: email("carl@example.com"),
			Records: yes(), Assignment: no(), EffectiveDate: date(2025, time.April, 1),
			Problems: []input.Problem{problem("User Email", "3.65239700000146E+18", roundedMsg)},
		},
		{
			// Row 6 is blank; row 7 is short.
			Line:  7,
			Cells: []string{"Cy", "12345", "not an address", "maybe", "", "", "", "", ""},
			User:  bad("12345"), TransferTo: bad("not an address"),
			Problems: []input.Problem{
				problem("User Email", "12345", numberMsg),
				problem("New Owner", "not an address", refMsg),
				problem("Transfer Records", "maybe", boolMsg),
			},
		},
		{
			Line:  8,
			Cells: []string{"Di", "DI@Example.com", "", "", "", "", "3652397000001460124", "31/03/2025", ""},
			User:  email("DI@Example.com"), SubordinatesTo: id("3652397000001460124"),
			Problems: []input.Problem{problem("Last Day", "31/03/2025", dateMsg)},
		},
		{
			Line:       9,
			Cells:      []string{"Ed", "ed@example.com", "boss@example.com", "", "", "", "", "45747", ""},
			User:       email("ed@example.com"),
			TransferTo: email("boss@example.com"),
			Problems:   []input.Problem{problem("Last Day", "45747", numDateMsg)},
		},
	}
}

// richCSVRows is the same sheet exported to CSV by LibreOffice: every cell is
// text, so the rounded ID reads as digits and date cells as LibreOffice
// shows them.
func richCSVRows() []input.Row {
	rows := richRows()
	rows[1].Cells[1] = "3652397000001460000"
	rows[1].User = id("3652397000001460000")
	rows[1].Cells[7] = "01/04/2025"
	rows[1].EffectiveDate = nil
	rows[1].Problems = []input.Problem{problem("Last Day", "01/04/2025", dateMsg)}
	rows[2].User = id("12345")
	rows[2].Problems = rows[2].Problems[1:]
	rows[4].Problems = []input.Problem{problem("Last Day", "45747", dateMsg)}
	return rows
}

func TestReadAllFixtures(t *testing.T) {
	tests := []struct {
		file       string
		opt        input.Options
		wantHeader input.Header
		wantRows   []input.Row
	}{
		{file: "libreoffice-rich.xlsx", wantHeader: richHeader(), wantRows: richRows()},
		{file: "libreoffice-rich-utf8.csv", wantHeader: richHeader(), wantRows: richCSVRows()},
		{file: "libreoffice-rich-semicolon.csv", wantHeader: richHeader(), wantRows: richCSVRows()},
		{
			file: "libreoffice-rich.xlsx", opt: input.Options{Sheet: "retry"},
			wantHeader: input.Header{Names: []string{"user", "transfer_to"}, Index: map[input.Column]int{input.ColUser: 0, input.ColTransferTo: 1}, Line: 1},
			wantRows: []input.Row{{
				Line: 2, Cells: []string{"fay@example.com", "boss@example.com"},
				User: email("fay@example.com"), TransferTo: email("boss@example.com"),
			}},
		},
		{
			file: "libreoffice-1904.xlsx", opt: input.Options{Sheet: "Leavers"},
			wantHeader: input.Header{Names: []string{"USER_ID", "subordinates-to", "Effective"}, Index: map[input.Column]int{input.ColUser: 0, input.ColSubordinatesTo: 1, input.ColEffectiveDate: 2}, Line: 1},
			wantRows: []input.Row{{
				Line: 2, Cells: []string{"3652397000001460123", "boss@example.com", "2025-03-31"},
				User: id("3652397000001460123"), SubordinatesTo: email("boss@example.com"), EffectiveDate: date(2025, time.March, 31),
			}},
		},
		{
			// A CSV of IDs opened in LibreOffice and saved as .xlsx: the
			// IDs became numbers and lost their last digits.
			file: "libreoffice-from-csv.xlsx",
			wantHeader: input.Header{
				Names: []string{"user", "transfer_to", "records", "assignment", "criteria", "move_subordinates_to", "effective_date", "comment"},
				Index: map[input.Column]int{input.ColUser: 0, input.ColTransferTo: 1, input.ColRecords: 2, input.ColAssignment: 3, input.ColCriteria: 4, input.ColSubordinatesTo: 5, input.ColEffectiveDate: 6},
				Line:  1,
			},
			wantRows: []input.Row{
				{
					Line: 2, Cells: []string{"3.65239700000146E+18", "boss@example.com", "TRUE", "FALSE", "yes", "", "2025-03-31", "id typed into a csv"},
					User: bad("3.65239700000146E+18"), TransferTo: email("boss@example.com"),
					Records: yes(), Assignment: no(), Criteria: yes(), EffectiveDate: date(2025, time.March, 31),
					Problems: []input.Problem{problem("user", "3.65239700000146E+18", roundedMsg)},
				},
				{
					Line: 3, Cells: []string{"ana@example.com", "3.65239700000146E+18", "", "", "", "boss@example.com", "2025-04-01", ""},
					User: email("ana@example.com"), TransferTo: bad("3.65239700000146E+18"), SubordinatesTo: email("boss@example.com"),
					EffectiveDate: date(2025, time.April, 1),
					Problems:      []input.Problem{problem("transfer_to", "3.65239700000146E+18", roundedMsg)},
				},
			},
		},
		{
			// The same CSV read as CSV: 19 digits of text are an ID.
			file: "leavers-plain.csv",
			wantHeader: input.Header{
				Names: []string{"user", "transfer_to", "records", "assignment", "criteria", "move_subordinates_to", "effective_date", "comment"},
				Index: map[input.Column]int{input.ColUser: 0, input.ColTransferTo: 1, input.ColRecords: 2, input.ColAssignment: 3, input.ColCriteria: 4, input.ColSubordinatesTo: 5, input.ColEffectiveDate: 6},
				Line:  1,
			},
			wantRows: []input.Row{
				{
					Line: 2, Cells: []string{"3652397000001460123", "boss@example.com", "TRUE", "FALSE", "yes", "", "2025-03-31", "id typed into a csv"},
					User: id("3652397000001460123"), TransferTo: email("boss@example.com"),
					Records: yes(), Assignment: no(), Criteria: yes(), EffectiveDate: date(2025, time.March, 31),
				},
				{
					Line: 3, Cells: []string{"ana@example.com", "3652397000001460999", "", "", "", "boss@example.com", "2025-04-01", ""},
					User: email("ana@example.com"), TransferTo: id("3652397000001460999"), SubordinatesTo: email("boss@example.com"),
					EffectiveDate: date(2025, time.April, 1),
				},
			},
		},
		{
			// BOM, CRLF, ';', a blank row above the header, a quoted cell
			// with a line break, blank rows between.
			file: "excel-bom-crlf-semicolon.csv",
			wantHeader: input.Header{
				Names: []string{"Email", "New Owner", "Transfer Records", "Note"},
				Index: map[input.Column]int{input.ColUser: 0, input.ColTransferTo: 1, input.ColRecords: 2},
				Line:  2,
			},
			wantRows: []input.Row{
				{
					Line: 3, Cells: []string{"ana@example.com", "boss@example.com", "no", "two\nlines"},
					User: email("ana@example.com"), TransferTo: email("boss@example.com"), Records: no(),
				},
				{
					Line: 6, Cells: []string{"bo@example.com ", "boss@example.com", "Y", ""},
					User: email("bo@example.com"), TransferTo: email("boss@example.com"), Records: yes(),
				},
			},
		},
		{
			file: "tab-separated.tsv",
			wantHeader: input.Header{
				Names: []string{"user", "transfer_to", "criteria"},
				Index: map[input.Column]int{input.ColUser: 0, input.ColTransferTo: 1, input.ColCriteria: 2},
				Line:  1,
			},
			wantRows: []input.Row{{
				Line: 2, Cells: []string{"3652397000001460123", "boss@example.com", "0"},
				User: id("3652397000001460123"), TransferTo: email("boss@example.com"), Criteria: no(),
			}},
		},
		{
			// Excel's "sep=;" line is not a row; a rounded ID typed as text.
			file: "excel-sep-line.csv",
			wantHeader: input.Header{
				Names: []string{"user", "transfer_to"},
				Index: map[input.Column]int{input.ColUser: 0, input.ColTransferTo: 1},
				Line:  1,
			},
			wantRows: []input.Row{{
				Line: 2, Cells: []string{"ana@example.com", "3.65E+18"},
				User: email("ana@example.com"), TransferTo: bad("3.65E+18"),
				Problems: []input.Problem{problem("transfer_to", "3.65E+18", roundedMsg)},
			}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.file+"/"+tt.opt.Sheet, func(t *testing.T) {
			h, rows, err := input.ReadAll(filepath.Join("testdata", tt.file), tt.opt)
			if err != nil {
				t.Fatalf("ReadAll(%s) error: %v", tt.file, err)
			}
			if diff := cmp.Diff(tt.wantHeader, h); diff != "" {
				t.Errorf("ReadAll(%s) header mismatch (-want +got):\n%s", tt.file, diff)
			}
			if diff := cmp.Diff(unpadded(tt.wantRows), rows); diff != "" {
				t.Errorf("ReadAll(%s) rows mismatch (-want +got):\n%s", tt.file, diff)
			}
		})
	}
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	truncated := func() string {
		b, err := os.ReadFile("testdata/libreoffice-rich.xlsx")
		if err != nil {
			t.Fatal(err)
		}
		return write("truncated.xlsx", string(b[:len(b)/2]))
	}
	tests := []struct {
		name string
		path string
		opt  input.Options
		want string
	}{
		{"empty csv", "testdata/empty.csv", input.Options{}, "empty.csv: the file is empty"},
		{"empty xlsx", "testdata/empty.xlsx", input.Options{}, "empty.xlsx: the file is empty"},
		{"csv named xlsx", "testdata/really-csv.xlsx", input.Options{}, "really-csv.xlsx: not an xlsx workbook: it looks like text; if it is CSV, name it .csv"},
		{"xlsx named csv", write("book.csv", "PK\x03\x04rest"), input.Options{}, "book.csv: this is a zip file, probably an .xlsx workbook, not CSV: name it .xlsx"},
		{"binary xlsx", write("bin.xlsx", "\x00\x01\x02garbage"), input.Options{}, "bin.xlsx: not an xlsx workbook (not a zip file)"},
		{"encrypted or xls", write("old.xlsx", "\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"+strings.Repeat("\x00", 100)), input.Options{}, "old.xlsx: not an xlsx workbook: it is a password-protected workbook or an old .xls file; save it as .xlsx without a password"},
		{"truncated xlsx", truncated(), input.Options{}, "truncated.xlsx: the workbook is damaged or incomplete (cut short while copied or downloaded?): open it in Excel or LibreOffice and save it again, or copy it again"},
		{"latin-1 csv", "testdata/libreoffice-rich-latin1.csv", input.Options{}, `libreoffice-rich-latin1.csv: line 4: not UTF-8 text: save the sheet as "CSV UTF-8"`},
		{"utf-16 csv", write("u16.csv", "\xff\xfeu\x00s\x00"), input.Options{}, `u16.csv: the file is UTF-16 text: save the sheet as "CSV UTF-8"`},
		{"nul bytes", write("nul.csv", "user,transfer_to\n\x00\x00"), input.Options{}, "nul.csv: line 2: not a text file (it has NUL bytes): is it a spreadsheet saved with the wrong extension?"},
		{"stray quote", write("quote.csv", "user,transfer_to\n\na@example.com,b\"c@example.com\n"), input.Options{}, `quote.csv: parse error on line 3, column 16: bare " in non-quoted-field`},
		{"too big", write("big.csv", "user,transfer_to\n"+strings.Repeat("a@example.com,b@example.com\n", 100)), input.Options{MaxFileSize: 1000}, "big.csv: the file is 2817 bytes, more than the limit of 1000 bytes"},
		{"xls", write("old.xls", "x"), input.Options{}, "old.xls: old Excel 97-2003 (.xls) workbooks are not read: save it as .xlsx or .csv"},
		{"ods", write("a.ods", "x"), input.Options{}, "a.ods: .ods files are not read: save it as .xlsx or .csv"},
		{"no extension", write("leavers", "x"), input.Options{}, `leavers: unknown file type "": use .xlsx or .csv`},
		{"missing", filepath.Join(dir, "nope.csv"), input.Options{}, "open " + filepath.Join(dir, "nope.csv") + ": no such file or directory"},
		{"blank csv", write("blank.csv", ",,,\n\n , \n"), input.Options{}, "blank.csv: no header row: every row is blank"},
	}
	for _, tt := range tests {
		_, _, err := input.ReadAll(tt.path, tt.opt)
		if err == nil {
			t.Errorf("%s: ReadAll(%s) = nil error, want %q", tt.name, tt.path, tt.want)
			continue
		}
		if got := err.Error(); got != tt.want {
			t.Errorf("%s: ReadAll(%s) = %q, want %q", tt.name, tt.path, got, tt.want)
		}
	}
}

func TestHeaderError(t *testing.T) {
	path := filepath.Join(t.TempDir(), "leavers.csv")
	if err := os.WriteFile(path, []byte("\n,,\nName,Mail,email,Email Address,user_id\nx,y,z,,\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := input.Open(path, input.Options{})
	var he *input.HeaderError
	if !errors.As(err, &he) {
		t.Fatalf("Open(%s) = %v, want a *HeaderError", path, err)
	}
	want := &input.HeaderError{
		File: "leavers.csv",
		Line: 3,
		Problems: []string{
			`columns "email" (C) and "user_id" (E) both mean user`,
			`no action column: name one "transfer_to", "transfer_to_email", "transfer_user" or "new_owner", or "move_subordinates_to" or "subordinates_to"`,
		},
		Found: []string{"Name", "Mail", "email", "Email Address", "user_id"},
	}
	if diff := cmp.Diff(want, he); diff != "" {
		t.Errorf("Open(%s) header error mismatch (-want +got):\n%s", path, diff)
	}
	wantMsg := `leavers.csv: header on row 3: columns "email" (C) and "user_id" (E) both mean user; ` +
		`no action column: name one "transfer_to", "transfer_to_email", "transfer_user" or "new_owner", or "move_subordinates_to" or "subordinates_to"; ` +
		`columns found: "Name", "Mail", "email", "Email Address", "user_id"`
	if got := err.Error(); got != wantMsg {
		t.Errorf("Open(%s) = %q, want %q", path, got, wantMsg)
	}
}

func TestSheets(t *testing.T) {
	names, err := input.SheetNames("testdata/libreoffice-rich.xlsx", input.Options{})
	if err != nil {
		t.Fatalf("SheetNames: %v", err)
	}
	if diff := cmp.Diff([]string{"Leavers", "Retry"}, names); diff != "" {
		t.Errorf("SheetNames(libreoffice-rich.xlsx) mismatch (-want +got):\n%s", diff)
	}
	_, err = input.Open("testdata/libreoffice-rich.xlsx", input.Options{Sheet: "Sheet1"})
	var se *input.SheetError
	if !errors.As(err, &se) {
		t.Fatalf("Open(Sheet1) = %v, want a *SheetError", err)
	}
	want := `libreoffice-rich.xlsx: no sheet named "Sheet1"; the sheets are "Leavers", "Retry"`
	if got := err.Error(); got != want {
		t.Errorf("Open(Sheet1) = %q, want %q", got, want)
	}
}

func TestSHA256(t *testing.T) {
	for _, f := range []string{"testdata/libreoffice-rich.xlsx", "testdata/leavers-plain.csv"} {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(data)
		want := hex.EncodeToString(sum[:])
		r, err := input.Open(f, input.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if got, err := r.SHA256(); got != want || len(got) != 64 || err != nil {
			t.Errorf("Open(%s).SHA256() = %q, %v, want %q", f, got, err, want)
		}
		r.Close()
	}
}

// writeZip writes an xlsx by hand: only the parts this package reads.
func writeZip(t testing.TB, path string, parts map[string]string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	zw := zip.NewWriter(f)
	for name, body := range parts {
		w, err := zw.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(w, body); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

const (
	workbookXML = `<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="S" sheetId="1" r:id="rId1"/></sheets></workbook>`
	relsXML     = `<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/><Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings" Target="/xl/sharedStrings.xml"/></Relationships>`
)

func handMade(sheetData, sst string) map[string]string {
	return map[string]string{
		"xl/workbook.xml":            workbookXML,
		"xl/_rels/workbook.xml.rels": relsXML,
		"xl/worksheets/sheet1.xml":   `<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>` + sheetData + `</sheetData></worksheet>`,
		"xl/sharedStrings.xml":       `<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">` + sst + `</sst>`,
	}
}

func TestHandMadeXLSX(t *testing.T) {
	// Inline strings, rich-text runs with a phonetic guide, rows and cells
	// without references, an error cell, an _xHHHH_ escape, a t="d" cell.
	path := filepath.Join(t.TempDir(), "hand.xlsx")
	writeZip(t, path, handMade(
		`<row><c t="inlineStr"><is><t>user</t></is></c><c t="s"><v>0</v></c><c t="inlineStr"><is><t>Last Day</t></is></c></row>`+
			`<row r="5"><c r="A5" t="s"><v>1</v></c><c r="B5" t="e"><v>#N/A</v></c><c r="C5" t="d"><v>2025-03-31T00:00:00</v></c></row>`+
			`<row><c r="B6" t="inlineStr"><is><r><t>a_x000D_</t></r><r><t>b@example.com</t></r></is></c></row>`,
		`<si><r><t>transfer</t></r><r><t>_to</t></r><rPh><t>ignored</t></rPh></si><si><t xml:space="preserve"> ana@example.com</t></si>`))
	h, rows, err := input.ReadAll(path, input.Options{})
	if err != nil {
		t.Fatalf("ReadAll(hand.xlsx): %v", err)
	}
	want := []input.Row{
		{
			Line: 5, Cells: []string{" ana@example.com", "#N/A", "2025-03-31"},
			User: email("ana@example.com"), TransferTo: bad("#N/A"), EffectiveDate: date(2025, time.March, 31),
			Problems: []input.Problem{problem("transfer_to", "#N/A", refMsg)},
		},
		{
			Line: 6, Cells: []string{"", "a\rb@example.com", ""},
			TransferTo: bad("a\rb@example.com"),
			Problems:   []input.Problem{problem("transfer_to", "a\rb@example.com", refMsg)},
		},
	}
	if diff := cmp.Diff([]string{"user", "transfer_to", "Last Day"}, h.Names); diff != "" {
		t.Errorf("ReadAll(hand.xlsx) header mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(unpadded(want), rows); diff != "" {
		t.Errorf("ReadAll(hand.xlsx) rows mismatch (-want +got):\n%s", diff)
	}
}

func TestBrokenXLSX(t *testing.T) {
	dir := t.TempDir()
	header := `<row r="1"><c t="inlineStr"><is><t>user</t></is></c><c t="inlineStr"><is><t>transfer_to</t></is></c></row>`
	tests := []struct {
		name  string
		parts map[string]string
		want  string
	}{
		{"bad xml", handMade(header+`<row r="2"><c r="A2"><v>1</v></c><</row>`, ""), "row 2: XML syntax error"},
		{"bad shared string", handMade(header+`<row r="2"><c r="A2" t="s"><v>7</v></c></row>`, ""), `row 2, column A: shared string "7" does not exist`},
		{"bad cell ref", handMade(header+`<row r="2"><c r="2A"><v>1</v></c></row>`, ""), `row 2: bad cell reference "2A"`},
		{"cut short", handMade(header+`<row r="2"><c r="A2"><v>1</v>`, ""), "row 2, column A: unexpected EOF"},
		{"rows out of order", handMade(header+`<row r="3"><c r="A3"><v>1</v></c></row><row r="2"><c r="A2"><v>1</v></c></row>`, ""), "rows-out-of-order.xlsx: row 3: the next row claims the number 2: the rows are out of order"},
		{"a row twice", handMade(header+`<row r="2"><c r="A2"><v>1</v></c></row><row r="2"><c r="B2"><v>1</v></c></row>`, ""), "row 2: the next row claims the number 2: the rows are out of order"},
		{"no workbook", map[string]string{"a.txt": "x"}, "part xl/workbook.xml: file does not exist"},
	}
	for _, tt := range tests {
		path := filepath.Join(dir, strings.ReplaceAll(tt.name, " ", "-")+".xlsx")
		writeZip(t, path, tt.parts)
		_, _, err := input.ReadAll(path, input.Options{})
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: ReadAll() = %v, want an error containing %q", tt.name, err, tt.want)
		}
	}
}

func TestZipBomb(t *testing.T) {
	// 8 MiB of shared strings that compress to a few KiB, against a 1 MiB
	// limit; and the same bomb in the sheet itself.
	dir := t.TempDir()
	big := strings.Repeat("<si><t>"+strings.Repeat("a", 1000)+"</t></si>", 8<<10)
	bigRows := strings.Repeat(`<row><c t="inlineStr"><is><t>`+strings.Repeat("a", 1000)+`</t></is></c></row>`, 8<<10)
	for name, parts := range map[string]map[string]string{
		"sst.xlsx":   handMade(`<row><c t="inlineStr"><is><t>user</t></is></c></row>`, big),
		"sheet.xlsx": handMade(bigRows, ""),
	} {
		path := filepath.Join(dir, name)
		writeZip(t, path, parts)
		if fi, _ := os.Stat(path); fi.Size() > 1<<20 {
			t.Fatalf("%s is %d bytes, want a small file that decompresses big", name, fi.Size())
		}
		_, _, err := input.ReadAll(path, input.Options{MaxUnzipSize: 1 << 20})
		want := name + ": the workbook decompresses to more than the limit of 1.0 MiB"
		if err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("ReadAll(%s) = %v, want an error starting %q", name, err, want)
		}
	}
}

func TestRowsStream(t *testing.T) {
	// Next hands out rows one by one, and each row's cells are its own.
	path := filepath.Join(t.TempDir(), "many.csv")
	var b strings.Builder
	b.WriteString("user,transfer_to,extra\n")
	for i := range 1000 {
		fmt.Fprintf(&b, "u%d@example.com,t@example.com,%d\n", i, i)
		if i%100 == 0 {
			b.WriteString(",,\n")
		}
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	r, err := input.Open(path, input.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var rows []input.Row
	for {
		row, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		rows = append(rows, row)
	}
	if got, want := len(rows), 1000; got != want {
		t.Fatalf("Next() returned %d rows, want %d", got, want)
	}
	last := rows[999]
	if got, want := last.Line, 1+1000+10; got != want {
		t.Errorf("last row Line = %d, want %d", got, want)
	}
	if got, want := rows[0].Cells[2], "0"; got != want {
		t.Errorf("first row cell C = %q after reading on, want %q", got, want)
	}
	if _, err := r.Next(); err != io.EOF {
		t.Errorf("Next() after the end = %v, want io.EOF", err)
	}
	if err := r.Close(); err != nil {
		t.Errorf("Close() = %v", err)
	}
	if err := r.Close(); err != nil {
		t.Errorf("second Close() = %v", err)
	}
}

func TestWriteTemplate(t *testing.T) {
	dir := t.TempDir()
	today := time.Date(2026, time.December, 3, 15, 0, 0, 0, time.UTC) // the example is dated the 1st of next month
	wantHeader := input.Header{
		Names: []string{"user", "transfer_to", "records", "assignment", "criteria", "move_subordinates_to", "effective_date"},
		Index: map[input.Column]int{input.ColUser: 0, input.ColTransferTo: 1, input.ColRecords: 2, input.ColAssignment: 3, input.ColCriteria: 4, input.ColSubordinatesTo: 5, input.ColEffectiveDate: 6},
		Line:  1,
	}
	wantRows := []input.Row{{
		Line:  2,
		Cells: []string{"leaver@example.com", "manager@example.com", "TRUE", "TRUE", "TRUE", "manager@example.com", "2027-01-01"},
		User:  email("leaver@example.com"), TransferTo: email("manager@example.com"), SubordinatesTo: email("manager@example.com"),
		Records: yes(), Assignment: yes(), Criteria: yes(), EffectiveDate: date(2027, time.January, 1),
	}}
	for _, name := range []string{"template.xlsx", "template.csv"} {
		path := filepath.Join(dir, name)
		if err := input.WriteTemplate(path, today); err != nil {
			t.Fatalf("WriteTemplate(%s): %v", name, err)
		}
		h, rows, err := input.ReadAll(path, input.Options{})
		if err != nil {
			t.Fatalf("ReadAll(%s): %v", name, err)
		}
		if diff := cmp.Diff(wantHeader, h); diff != "" {
			t.Errorf("ReadAll(%s) header mismatch (-want +got):\n%s", name, diff)
		}
		if diff := cmp.Diff(unpadded(wantRows), rows); diff != "" {
			t.Errorf("ReadAll(%s) rows mismatch (-want +got):\n%s", name, diff)
		}
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 {
		t.Errorf("WriteTemplate left %d files in its directory, want 2", len(entries))
	}

	f, err := excelize.OpenFile(filepath.Join(dir, "template.xlsx"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dvs, err := f.GetDataValidations(input.TemplateSheet)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, dv := range dvs {
		got = append(got, dv.Sqref+" "+dv.Formula1)
	}
	want := []string{
		`C2:C1048576 "TRUE,FALSE"`,
		`D2:D1048576 "TRUE,FALSE"`,
		`E2:E1048576 "TRUE,FALSE"`,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("template data validations mismatch (-want +got):\n%s", diff)
	}
	for _, col := range []string{"A", "B", "F"} {
		style, err := f.GetColStyle(input.TemplateSheet, col)
		if err != nil {
			t.Fatal(err)
		}
		s, err := f.GetStyle(style)
		if err != nil {
			t.Fatal(err)
		}
		if s.NumFmt != 49 {
			t.Errorf("template column %s number format = %d, want 49 (text)", col, s.NumFmt)
		}
	}
	if err := input.WriteTemplate(filepath.Join(dir, "template.ods"), today); err == nil {
		t.Errorf("WriteTemplate(template.ods) = nil, want an error")
	}
}
