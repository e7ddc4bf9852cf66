package input_test

import (
	"archive/zip"
	"bufio"
	"encoding/csv"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"offboard/input"
)

const benchRows = 100_000

// reportRows reports the rows read per second over the benchmark's loop,
// to compare offboard's reader with the bare library's.
func reportRows(b *testing.B, perOp int) {
	b.ReportMetric(float64(perOp)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}

// writeBenchCSV writes a sheet of n rows in every column, like HR's.
func writeBenchCSV(tb testing.TB, n int) string {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "bench.csv")
	f, err := os.Create(path)
	if err != nil {
		tb.Fatal(err)
	}
	w := bufio.NewWriter(f)
	w.WriteString("user,transfer_to,records,assignment,criteria,move_subordinates_to,effective_date,note\n")
	for i := range n {
		fmt.Fprintf(w, "leaver%d@example.com,%d,TRUE,yes,0,manager%d@example.com,2025-03-31,row %d\n",
			i, 3652397000001460000+i, i%100, i)
	}
	if err := w.Flush(); err != nil {
		tb.Fatal(err)
	}
	if err := f.Close(); err != nil {
		tb.Fatal(err)
	}
	return path
}

// writeBenchXLSX writes the same sheet as Excel would: shared strings, a
// boolean cell, a date cell with a date style.
func writeBenchXLSX(tb testing.TB, n int) string {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "bench.xlsx")
	f, err := os.Create(path)
	if err != nil {
		tb.Fatal(err)
	}
	zw := zip.NewWriter(f)
	part := func(name, body string) {
		w, err := zw.Create(name)
		if err != nil {
			tb.Fatal(err)
		}
		io.WriteString(w, body)
	}
	part("[Content_Types].xml", `<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/><Override PartName="/xl/styles.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/><Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/></Types>`)
	part("_rels/.rels", `<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>`)
	part("xl/workbook.xml", `<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>`)
	part("xl/_rels/workbook.xml.rels", `<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/><Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles" Target="styles.xml"/><Relationship Id="rId3" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings" Target="sharedStrings.xml"/></Relationships>`)
	part("xl/styles.xml", `<?xml version="1.0" encoding="UTF-8"?><styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><fonts count="1"><font><sz val="11"/></font></fonts><fills count="1"><fill><patternFill patternType="none"/></fill></fills><borders count="1"><border/></borders><cellStyleXfs count="1"><xf numFmtId="0"/></cellStyleXfs><cellXfs count="3"><xf numFmtId="0"/><xf numFmtId="49"/><xf numFmtId="14" applyNumberFormat="1"/></cellXfs></styleSheet>`)

	// Shared strings: the header, then per row user, id, manager, note;
	// "yes" and "TRUE"-like text once.
	var sst strings.Builder
	count := 0
	si := func(s string) int {
		sst.WriteString("<si><t>" + s + "</t></si>")
		count++
		return count - 1
	}
	hdr := []int{}
	for _, h := range []string{"user", "transfer_to", "records", "assignment", "criteria", "move_subordinates_to", "effective_date", "note"} {
		hdr = append(hdr, si(h))
	}
	yes := si("yes")
	managers := make([]int, 100)
	for i := range managers {
		managers[i] = si(fmt.Sprintf("manager%d@example.com", i))
	}
	w, err := zw.Create("xl/worksheets/sheet1.xml")
	if err != nil {
		tb.Fatal(err)
	}
	bw := bufio.NewWriter(w)
	bw.WriteString(`<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData><row r="1">`)
	for i, h := range hdr {
		fmt.Fprintf(bw, `<c r="%s1" t="s"><v>%d</v></c>`, string(rune('A'+i)), h)
	}
	bw.WriteString(`</row>`)
	for i := range n {
		r := i + 2
		user := si(fmt.Sprintf("leaver%d@example.com", i))
		id := si(fmt.Sprint(3652397000001460000 + i))
		note := si(fmt.Sprintf("row %d", i))
		fmt.Fprintf(bw, `<row r="%d"><c r="A%d" t="s"><v>%d</v></c><c r="B%d" s="1" t="s"><v>%d</v></c><c r="C%d" t="b"><v>1</v></c><c r="D%d" t="s"><v>%d</v></c><c r="E%d"><v>0</v></c><c r="F%d" t="s"><v>%d</v></c><c r="G%d" s="2"><v>45747</v></c><c r="H%d" t="s"><v>%d</v></c></row>`,
			r, r, user, r, id, r, r, yes, r, r, managers[i%100], r, r, note)
	}
	bw.WriteString(`</sheetData></worksheet>`)
	if err := bw.Flush(); err != nil {
		tb.Fatal(err)
	}
	part("xl/sharedStrings.xml", fmt.Sprintf(`<?xml version="1.0" encoding="UTF-8"?><sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="%d" uniqueCount="%d">%s</sst>`, count, count, sst.String()))
	if err := zw.Close(); err != nil {
		tb.Fatal(err)
	}
	if err := f.Close(); err != nil {
		tb.Fatal(err)
	}
	return path
}

func readAllRows(tb testing.TB, path string) int {
	r, err := input.Open(path, input.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	defer r.Close()
	n := 0
	for {
		row, err := r.Next()
		if err == io.EOF {
			return n
		}
		if err != nil {
			tb.Fatal(err)
		}
		if len(row.Problems) > 0 {
			tb.Fatalf("row %d: %+v", row.Line, row.Problems)
		}
		n++
	}
}

func TestBenchFilesRead(t *testing.T) {
	// The benchmark files are valid input: every row reads clean.
	for _, path := range []string{writeBenchCSV(t, 1000), writeBenchXLSX(t, 1000)} {
		if got := readAllRows(t, path); got != 1000 {
			t.Errorf("read %s: %d rows, want 1000", filepath.Base(path), got)
		}
	}
}

func BenchmarkReadCSV(b *testing.B) {
	path := writeBenchCSV(b, benchRows)
	b.ReportAllocs()
	for b.Loop() {
		if n := readAllRows(b, path); n != benchRows {
			b.Fatalf("read %d rows, want %d", n, benchRows)
		}
	}
	reportRows(b, benchRows)
}

// BenchmarkBareCSV is the baseline: encoding/csv reading the same file.
func BenchmarkBareCSV(b *testing.B) {
	path := writeBenchCSV(b, benchRows)
	b.ReportAllocs()
	for b.Loop() {
		f, err := os.Open(path)
		if err != nil {
			b.Fatal(err)
		}
		r := csv.NewReader(bufio.NewReader(f))
		n := 0
		for {
			_, err := r.Read()
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			n++
		}
		f.Close()
		if n != benchRows+1 {
			b.Fatalf("read %d records", n)
		}
	}
	reportRows(b, benchRows)
}

func BenchmarkReadXLSX(b *testing.B) {
	path := writeBenchXLSX(b, benchRows)
	b.ReportAllocs()
	for b.Loop() {
		if n := readAllRows(b, path); n != benchRows {
			b.Fatalf("read %d rows, want %d", n, benchRows)
		}
	}
	reportRows(b, benchRows)
}

// BenchmarkBareExcelizeRows is the baseline: excelize's streaming Rows
// iterator reading the same file.
func BenchmarkBareExcelizeRows(b *testing.B) {
	path := writeBenchXLSX(b, benchRows)
	b.ReportAllocs()
	for b.Loop() {
		f, err := excelize.OpenFile(path)
		if err != nil {
			b.Fatal(err)
		}
		rows, err := f.Rows(f.GetSheetName(0))
		if err != nil {
			b.Fatal(err)
		}
		n := 0
		for rows.Next() {
			if _, err := rows.Columns(); err != nil {
				b.Fatal(err)
			}
			n++
		}
		rows.Close()
		f.Close()
		if n != benchRows+1 {
			b.Fatalf("read %d rows", n)
		}
	}
	reportRows(b, benchRows)
}

// BenchmarkReadVsBare reads the same 100,000-row file with offboard's
// reader and with the bare library, in turns within each iteration, and
// reports offboard's speed as a share of the library's. Taking turns keeps
// the ratio steady on a machine whose speed drifts, where the separate
// benchmarks above, minutes apart, may not.
func BenchmarkReadVsBare(b *testing.B) {
	for _, c := range []struct {
		name  string
		write func(testing.TB, int) string
		bare  string
	}{
		{"csv", writeBenchCSV, "encoding-csv"},
		{"xlsx", writeBenchXLSX, "excelize-rows"},
	} {
		b.Run(c.name, func(b *testing.B) {
			path := c.write(b, benchRows)
			var own, bare time.Duration
			for b.Loop() {
				start := time.Now()
				if n := readAllRows(b, path); n != benchRows {
					b.Fatalf("offboard read %d rows, want %d", n, benchRows)
				}
				own += time.Since(start)
				start = time.Now()
				if n, err := readWith(c.bare, path); err != nil || n != benchRows {
					b.Fatalf("%s read %d rows, %v; want %d", c.bare, n, err, benchRows)
				}
				bare += time.Since(start)
			}
			b.ReportMetric(100*float64(bare)/float64(own), "%-of-bare-speed")
			b.ReportMetric(float64(benchRows)*float64(b.N)/own.Seconds(), "rows/s")
			b.ReportMetric(float64(benchRows)*float64(b.N)/bare.Seconds(), "bare-rows/s")
		})
	}
}
