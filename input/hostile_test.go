package input_test

import (
	"archive/zip"
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"offboard/input"
)

// The hostile sheets of a security review: each a few kilobytes on disk,
// each made to cost gigabytes of memory, or of results, to read.

// writeHostileXLSX writes a workbook of one sheet, whose rows and shared
// strings the callbacks write, compressed as far as deflate goes.
func writeHostileXLSX(tb testing.TB, path string, rows, sst func(w *bufio.Writer)) {
	tb.Helper()
	f, err := os.Create(path)
	if err != nil {
		tb.Fatal(err)
	}
	zw := zip.NewWriter(f)
	part := func(name string, body func(w *bufio.Writer)) {
		w, err := zw.Create(name)
		if err != nil {
			tb.Fatal(err)
		}
		bw := bufio.NewWriterSize(w, 64<<10)
		body(bw)
		if err := bw.Flush(); err != nil {
			tb.Fatal(err)
		}
	}
	text := func(s string) func(w *bufio.Writer) {
		return func(w *bufio.Writer) { w.WriteString(s) }
	}
	part("xl/workbook.xml", text(workbookXML))
	part("xl/_rels/workbook.xml.rels", text(relsXML))
	part("xl/worksheets/sheet1.xml", func(w *bufio.Writer) {
		w.WriteString(`<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>`)
		rows(w)
		w.WriteString(`</sheetData></worksheet>`)
	})
	part("xl/sharedStrings.xml", func(w *bufio.Writer) {
		w.WriteString(`<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">`)
		if sst != nil {
			sst(w)
		}
		w.WriteString(`</sst>`)
	})
	if err := zw.Close(); err != nil {
		tb.Fatal(err)
	}
	if err := f.Close(); err != nil {
		tb.Fatal(err)
	}
}

// hostileHeader is a header row of user and transfer_to, as inline strings.
const hostileHeader = `<row r="1"><c r="A1" t="inlineStr"><is><t>user</t></is></c><c r="B1" t="inlineStr"><is><t>transfer_to</t></is></c>`

// writeWideXLSX writes a header with a cell at XFD, the last column, and
// 20,000 rows of one cell: each row, padded to the header, would be 16,384
// cells.
func writeWideXLSX(tb testing.TB, dir string) string {
	path := filepath.Join(dir, "wide.xlsx")
	writeHostileXLSX(tb, path, func(w *bufio.Writer) {
		w.WriteString(hostileHeader + `<c r="XFD1" t="inlineStr"><is><t>note</t></is></c></row>`)
		for range 20_000 {
			w.WriteString(`<row><c t="inlineStr"><is><t>a@example.com</t></is></c></row>`)
		}
	}, nil)
	return path
}

// writeWideCSV writes a 1 MB CSV whose header is a million columns wide,
// the last one named, and a thousand short rows below it.
func writeWideCSV(tb testing.TB, dir string) string {
	tb.Helper()
	path := filepath.Join(dir, "wide.csv")
	var b strings.Builder
	b.WriteString("user,transfer_to")
	b.WriteString(strings.Repeat(",", 1_000_000-3))
	b.WriteString(",note\n")
	for i := range 1000 {
		fmt.Fprintf(&b, "a%d@example.com,b@example.com\n", i)
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		tb.Fatal(err)
	}
	return path
}

// writeEmptyStringsXLSX writes 50 million empty shared strings, 250 MB
// that compress to a few hundred kilobytes.
func writeEmptyStringsXLSX(tb testing.TB, dir string) string {
	path := filepath.Join(dir, "empty-strings.xlsx")
	writeHostileXLSX(tb, path, func(w *bufio.Writer) {
		w.WriteString(hostileHeader + `</row>`)
	}, func(w *bufio.Writer) {
		si := strings.Repeat("<si/>", 1000)
		for range 50_000 {
			w.WriteString(si)
		}
	})
	return path
}

// writeBigStringXLSX writes one shared string of 1 MB that 200 rows
// refer to: 200 MB of cells, and of results, from a file of a few KB.
func writeBigStringXLSX(tb testing.TB, dir string) string {
	path := filepath.Join(dir, "big-string.xlsx")
	writeHostileXLSX(tb, path, func(w *bufio.Writer) {
		w.WriteString(hostileHeader + `<c r="C1" t="inlineStr"><is><t>note</t></is></c></row>`)
		for r := 2; r <= 201; r++ {
			fmt.Fprintf(w, `<row r="%d"><c r="A%d" t="inlineStr"><is><t>a%d@example.com</t></is></c><c r="B%d" t="inlineStr"><is><t>b@example.com</t></is></c><c r="C%d" t="s"><v>0</v></c></row>`, r, r, r, r, r)
		}
	}, func(w *bufio.Writer) {
		w.WriteString("<si><t>")
		w.WriteString(strings.Repeat("a", 1<<20))
		w.WriteString("</t></si>")
	})
	return path
}

// TestHostileSheets reads each hostile sheet, and a CSV with a cell too
// long for a spreadsheet, and wants it refused, with a message that names
// the file, where, and the limit; and nothing read from the file.
func TestHostileSheets(t *testing.T) {
	dir := t.TempDir()
	longCell := filepath.Join(dir, "long-cell.csv")
	if err := os.WriteFile(longCell, []byte("user,transfer_to,note\na@example.com,b@example.com,"+strings.Repeat("é", 1<<20)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	longInline := filepath.Join(dir, "long-inline.xlsx")
	writeHostileXLSX(t, longInline, func(w *bufio.Writer) {
		w.WriteString(hostileHeader + `</row><row r="12"><c r="C12" t="inlineStr"><is><t>` + strings.Repeat("a", 1<<20) + `</t></is></c></row>`)
	}, nil)
	for _, tt := range []struct {
		path string
		want string
	}{
		{writeWideXLSX(t, dir), "wide.xlsx: row 385: the sheet takes more than the limit of 96.0 MiB in memory by this row"},
		{writeWideCSV(t, dir), "wide.csv: row 1: the row has more than 16,384 columns, the most a spreadsheet has (A to XFD)"},
		{writeEmptyStringsXLSX(t, dir), "empty-strings.xlsx: the shared string table holds more than 524,288 strings"},
		{writeBigStringXLSX(t, dir), "big-string.xlsx: shared string 1: the cell holds 1,048,576 characters, more than a spreadsheet cell can (32,767)"},
		{longCell, "long-cell.csv: row 2, column C: the cell holds 1,048,576 characters, more than a spreadsheet cell can (32,767)"},
		{longInline, "long-inline.xlsx: row 12, column C: the cell holds 1,048,576 characters, more than a spreadsheet cell can (32,767)"},
	} {
		name := filepath.Base(tt.path)
		_, rows, err := input.ReadAll(tt.path, input.Options{})
		if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
			t.Errorf("ReadAll(%s) = %d rows, %v; want an error starting %q", name, len(rows), err, tt.want)
		}
	}
}

// TestSheetBytes reads the 20,000 rows below a header that reaches column
// XFD, and a long shared string in every row: each row is counted as wide
// as the header, and the string each time a row holds it, so the sheet is
// refused at the row that passes the limit, with the header's width said.
func TestSheetBytes(t *testing.T) {
	dir := t.TempDir()
	_, _, err := input.ReadAll(writeWideXLSX(t, dir), input.Options{MaxSheetBytes: 1 << 20})
	want := "wide.xlsx: row 5: the sheet takes more than the limit of 1.0 MiB in memory by this row (each cell counted every time a row holds it, each row as wide as the header's 16,384 columns)"
	if err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("ReadAll(wide.xlsx) = %v, want an error starting %q", err, want)
	}

	// 30,000 characters, 200 times: 6 MB of cells from 30 KB of strings.
	path := filepath.Join(dir, "repeated.xlsx")
	writeHostileXLSX(t, path, func(w *bufio.Writer) {
		w.WriteString(hostileHeader + `<c r="C1" t="inlineStr"><is><t>note</t></is></c></row>`)
		for r := 2; r <= 201; r++ {
			fmt.Fprintf(w, `<row r="%d"><c r="A%d" t="inlineStr"><is><t>a%d@example.com</t></is></c><c r="B%d" t="inlineStr"><is><t>b@example.com</t></is></c><c r="C%d" t="s"><v>0</v></c></row>`, r, r, r, r, r)
		}
	}, func(w *bufio.Writer) {
		w.WriteString("<si><t>" + strings.Repeat("a", 30_000) + "</t></si>")
	})
	_, _, err = input.ReadAll(path, input.Options{MaxSheetBytes: 1 << 20})
	want = "repeated.xlsx: row 35: the sheet takes more than the limit of 1.0 MiB"
	if err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("ReadAll(repeated.xlsx) = %v, want an error starting %q", err, want)
	}
	// Under the default limit, it is read, each row keeping its own cells:
	// none padded to the header.
	h, rows, err := input.ReadAll(path, input.Options{})
	if err != nil || len(rows) != 200 || len(rows[0].Cells) != 3 || len(h.Names) != 3 {
		t.Errorf("ReadAll(repeated.xlsx) = %d rows, %v; want 200 rows of 3 cells", len(rows), err)
	}
	r, err := input.Open(writeWideXLSX(t, t.TempDir()), input.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	row, err := r.Next()
	if err != nil || len(row.Cells) != 1 || row.Cell(16383) != "" || len(r.Header().Names) != 16384 {
		t.Errorf("Next() on wide.xlsx = %d cells, %v; want the one cell the row has, of 16,384 columns", len(row.Cells), err)
	}
}
