package input

import (
	"archive/zip"
	"bytes"
	"io"
	"strings"
	"testing"
)

// FuzzReadCSV reads arbitrary bytes as a CSV sheet: no panic, no hang, and
// every row it hands out keeps the package's promises.
func FuzzReadCSV(f *testing.F) {
	f.Add([]byte("user,transfer_to\nana@example.com,3652397000001460123\n"))
	f.Add([]byte("\xef\xbb\xbf;;\r\nEmail;New Owner;records\r\n\"a\r\nb\";x@y.z;maybe\r\n\r\n"))
	f.Add([]byte("sep=\t\nuser\tsubordinates_to\teffective_date\n1\t3.65E+18\t2025-02-30\n"))
	f.Add([]byte("user,transfer_to,user_id\n"))
	f.Add([]byte("user,transfer_to,note\rana@example.com,boss@example.com,\"a\rb\"\r\rbo@example.com,x,\r"))
	f.Fuzz(func(t *testing.T, data []byte) {
		src, err := newCSVSource("fuzz.csv", bytes.NewReader(data))
		if err != nil {
			return
		}
		r, err := newReader("fuzz.csv", src, nil, Options{})
		if err != nil {
			return
		}
		defer r.Close()
		checkRows(t, r, "fuzz.csv", false)
	})
}

// FuzzReadXLSX reads a workbook built around arbitrary bytes as its sheet
// and shared strings (the parts a file's cells come from), with or without
// <calcPr fullCalcOnLoad="1"/>, and with or without hidden rows included.
// The zip is stored, not compressed, so that the fuzzer's changes reach
// the XML.
func FuzzReadXLSX(f *testing.F) {
	const ns = `<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>`
	f.Add([]byte(ns+`<row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1" t="s"><v>1</v></c></row><row r="2" hidden="1"><c r="A2" t="s"><v>2</v></c><c r="B2"><f>LOWER(C2)</f><v></v></c></row></sheetData></worksheet>`),
		[]byte(`<sst><si><t>user</t></si><si><r><t>transfer</t></r><r><t>_to</t></r></si><si><t>ana@example.com</t></si></sst>`), false, false)
	f.Add([]byte(`<x:worksheet xmlns:x="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><x:sheetData><x:row><x:c t="inlineStr"><x:is><x:t>user</x:t></x:is></x:c><x:c t="inlineStr"><x:is><x:t>subordinates_to</x:t></x:is></x:c></x:row>`+
		`<x:row><x:c t="inlineStr"><x:is><x:t>ana@example.com</x:t></x:is></x:c><x:c t="inlineStr"><x:is><x:t>boss@example.com</x:t></x:is><x:v>1</x:v></x:c></x:row><x:row><x:c t="s"/><x:c/></x:row>`+
		`</x:sheetData><x:mergeCells><x:mergeCell ref="B2:B3"/><x:mergeCell ref="A1:A3"/></x:mergeCells></x:worksheet>`), []byte{}, true, true)
	f.Add([]byte(ns+`<row r="3"><c r="B3" t="inlineStr"><is><t>email</t></is></c><c r="C3" t="inlineStr"><is><t>new owner</t></is></c><c r="D3" t="inlineStr"><is><t>last day</t></is></c></row>`+
		`<row r="4"><c r="B4" t="n"><v>3.65239700000146E+18</v></c><c r="C4" t="e"><v>#N/A</v></c><c r="D4" s="0"><v>45747</v></c></row><row r="9" hidden="true"><c r="B9" t="str"><f t="shared" si="0"/></c></row></sheetData></worksheet>`),
		[]byte{}, true, false)
	f.Fuzz(func(t *testing.T, sheet, sst []byte, recalc, includeHidden bool) {
		book := fuzzBook(t, sheet, sst, recalc)
		src, err := openXLSX("fuzz.xlsx", bytes.NewReader(book), nil, int64(len(book)), Options{MaxUnzipSize: 1 << 20}.withDefaults())
		if err != nil {
			if !strings.HasPrefix(err.Error(), "fuzz.xlsx: ") {
				t.Fatalf("openXLSX() error %q does not name the file", err)
			}
			return
		}
		r, err := newReader("fuzz.xlsx", src, nil, Options{IncludeHidden: includeHidden})
		if err != nil {
			if !strings.HasPrefix(err.Error(), "fuzz.xlsx: ") {
				t.Fatalf("newReader() error %q does not name the file", err)
			}
			return
		}
		defer r.Close()
		checkRows(t, r, "fuzz.xlsx", includeHidden)
	})
}

// fuzzBook is a stored (uncompressed) workbook of one sheet.
func fuzzBook(t *testing.T, sheet, sst []byte, recalc bool) []byte {
	calc := ""
	if recalc {
		calc = `<calcPr fullCalcOnLoad="1"/>`
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, p := range []struct {
		name string
		body []byte
	}{
		{"xl/workbook.xml", []byte(`<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="S" sheetId="1" r:id="rId1"/></sheets>` + calc + `</workbook>`)},
		{"xl/_rels/workbook.xml.rels", []byte(`<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/><Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings" Target="sharedStrings.xml"/></Relationships>`)},
		{"xl/worksheets/sheet1.xml", sheet},
		{"xl/sharedStrings.xml", sst},
	} {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: p.name, Method: zip.Store})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(p.body); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// checkRows reads every row of r and checks what the package promises of
// each: row numbers that only go up, one cell per header name, problems
// with a code and a message, a reference cell read as exactly one of an
// email and an ID unless it has a problem, errors that name the file.
func checkRows(t *testing.T, r *Reader, file string, includeHidden bool) {
	t.Helper()
	h := r.Header()
	checkHeader(t, h)
	prev := h.Line
	for {
		row, err := r.Next()
		if err == io.EOF {
			return
		}
		if err != nil {
			if !strings.HasPrefix(err.Error(), file+": ") {
				t.Fatalf("Next() error %q does not name the file", err)
			}
			return
		}
		if row.Line <= prev {
			t.Fatalf("Next() row line %d after line %d", row.Line, prev)
		}
		prev = row.Line
		if len(row.Cells) > len(h.Names) || len(row.Cells) > 0 && row.Cells[len(row.Cells)-1] == "" {
			t.Fatalf("Next() row has %d cells (last %q), header %d names: want no more than the header, and no empty cell at the end", len(row.Cells), row.Cells, len(h.Names))
		}
		if row.Hidden && includeHidden {
			t.Fatalf("Next() row %d Hidden with IncludeHidden", row.Line)
		}
		for _, n := range row.Notes {
			if n == "" {
				t.Fatalf("Next() row %d has an empty note", row.Line)
			}
		}
		bad := map[string]bool{}
		for _, p := range row.Problems {
			if p.Code != CodeBadValue || p.Message == "" {
				t.Fatalf("Next() problem %+v", p)
			}
			bad[p.Column] = true
		}
		for c, ref := range map[Column]Ref{ColUser: row.User, ColTransferTo: row.TransferTo, ColSubordinatesTo: row.SubordinatesTo} {
			i, ok := h.Index[c]
			if !ok {
				if !ref.IsZero() {
					t.Fatalf("Next() set %s without the column: %+v", c, ref)
				}
				continue
			}
			if ref.Raw != trimValue(row.Cells[i]) {
				t.Fatalf("Next() %s.Raw = %q, cell %q", c, ref.Raw, row.Cells[i])
			}
			set := 0
			if ref.ID != "" {
				set++
			}
			if ref.Email != "" {
				set++
			}
			switch {
			case ref.Raw == "" && set != 0, ref.Raw != "" && !bad[h.Names[i]] && set != 1, bad[h.Names[i]] && set != 0:
				t.Fatalf("Next() %s = %+v, problem %v", c, ref, bad[h.Names[i]])
			}
		}
	}
}

// FuzzMatchHeader matches arbitrary header rows (cells split on ','): the
// header keeps every cell but trailing blanks, every index points at a cell
// that names its column, and problems are reported exactly when the header
// is unusable.
func FuzzMatchHeader(f *testing.F) {
	f.Add("user,transfer_to")
	f.Add("Email,User ID,New Owner,,")
	f.Add(" E-MAIL ,Subordinates_To,Last Day,Note")
	f.Add("\ufeffuser,transfer-to-email,records,transfer_records")
	f.Fuzz(func(t *testing.T, s string) {
		cells := strings.Split(s, ",")
		h, problems := matchHeader(cells, 1)
		if len(h.Names) > len(cells) {
			t.Fatalf("matchHeader(%q) has %d names from %d cells", s, len(h.Names), len(cells))
		}
		for i, n := range h.Names {
			if n != cells[i] {
				t.Fatalf("matchHeader(%q).Names[%d] = %q, want %q", s, i, n, cells[i])
			}
		}
		checkHeader(t, h)
		dups := 0
		seen := map[Column]bool{}
		for _, n := range h.Names {
			if c, ok := MatchColumn(n); ok {
				if seen[c] {
					dups++
				}
				seen[c] = true
			}
		}
		usable := dups == 0 && seen[ColUser] && (seen[ColTransferTo] || seen[ColSubordinatesTo])
		if usable != (len(problems) == 0) {
			t.Fatalf("matchHeader(%q) problems = %q, usable %v", s, problems, usable)
		}
	})
}

func checkHeader(t *testing.T, h Header) {
	t.Helper()
	for c, i := range h.Index {
		if i < 0 || i >= len(h.Names) {
			t.Fatalf("header index %s = %d out of %d names", c, i, len(h.Names))
		}
		if got, ok := MatchColumn(h.Names[i]); !ok || got != c {
			t.Fatalf("header index %s = %d, but %q matches %q", c, i, h.Names[i], got)
		}
	}
}
