package report_test

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"offboard/report"
	"offboard/result"
)

const benchRows = 100_000

// benchResults are n results like a large run's: HR's eight columns, every
// field filled, one row in ten to retry.
func benchResults(n int) ([]string, []result.Row) {
	header := []string{"user", "transfer_to", "records", "assignment", "criteria", "move_subordinates_to", "effective_date", "note"}
	t := time.Date(2025, 3, 31, 9, 0, 0, 0, time.UTC)
	rs := make([]result.Row, n)
	for i := range rs {
		o := result.Deleted
		switch i % 10 {
		case 3:
			o = result.Invalid
		case 7:
			o = result.Skipped
		}
		rs[i] = result.Row{
			Line: i + 2,
			Cells: []string{fmt.Sprintf("leaver%d@example.com", i), fmt.Sprint(3652397000001460000 + i), "TRUE", "yes", "0",
				fmt.Sprintf("manager%d@example.com", i%100), "2025-03-31", fmt.Sprintf("row %d", i)},
			Outcome: o, Code: "", Message: "The user was deleted and their records transferred.",
			UserID: fmt.Sprint(3652397000002460000 + i), UserEmail: fmt.Sprintf("leaver%d@example.com", i),
			TransferToID: fmt.Sprint(3652397000001460000 + i), SubordinatesToID: "3652397000001460999",
			JobID: fmt.Sprint(3652397000003460000 + i), JobStatus: "completed", Attempts: 1,
			SubmittedAt: t.Add(time.Duration(i) * time.Second), FinishedAt: t.Add(time.Duration(i+60) * time.Second),
		}
	}
	return header, rs
}

func benchmarkWrite(b *testing.B, name string) {
	header, rs := benchResults(benchRows)
	dir := b.TempDir()
	path := filepath.Join(dir, name)
	b.ReportAllocs()
	// peak is the most live heap the writer held, above what the test
	// holds, sampled after a collection every 5,000 rows.
	var peak uint64
	for b.Loop() {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		base := ms.HeapAlloc
		sample := func() {
			runtime.GC()
			runtime.ReadMemStats(&ms)
			if ms.HeapAlloc > base {
				peak = max(peak, ms.HeapAlloc-base)
			}
		}
		w, err := report.Create(path, header)
		if err != nil {
			b.Fatal(err)
		}
		for i, r := range rs {
			if err := w.Write(r); err != nil {
				b.Fatal(err)
			}
			if i%5000 == 0 {
				sample()
			}
		}
		sample()
		if err := w.Close(report.Summary{Command: "run", RowsRead: benchRows}); err != nil {
			b.Fatal(err)
		}
		sample()
	}
	b.ReportMetric(float64(peak)/(1<<20), "MiB-live-heap")
	fi, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(fi.Size())/(1<<20), "MiB-file")
}

// BenchmarkWriteXLSX writes 100,000 results to a workbook.
func BenchmarkWriteXLSX(b *testing.B) { benchmarkWrite(b, "results.xlsx") }

// BenchmarkWriteCSV writes 100,000 results to a CSV file and its retry file.
func BenchmarkWriteCSV(b *testing.B) { benchmarkWrite(b, "results.csv") }
