package journal

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"offboard/result"
)

// year writes a journal of n nightly runs of rows rows each, every user
// deleted by a job, and the last run's first user left with a job still
// running; it returns the journal, open.
func year(tb testing.TB, path string, n, rows int) *Journal {
	tb.Helper()
	j, _, err := Open(path, Owner{PID: os.Getpid(), Host: "h", Started: time.Now()})
	if err != nil {
		tb.Fatal(err)
	}
	at := time.Date(2026, 1, 1, 2, 0, 0, 0, time.UTC)
	for night := range n {
		steps := make([]result.Row, rows)
		for r := range steps {
			steps[r] = result.Row{Line: r + 2, UserID: fmt.Sprintf("52104980%011d", night*rows+r), Cells: []string{fmt.Sprintf("u%d@example.com", night*rows+r), "boss@example.com"}}
		}
		t := at.AddDate(0, 0, night)
		must := func(r Record) {
			if err := j.Append(r); err != nil {
				tb.Fatal(err)
			}
		}
		must(Record{Kind: KindStart, Time: t, InputFile: "leavers.csv", InputSHA256: fmt.Sprint(night), Steps: steps, JobTimeout: "30m0s", RequestTimeout: "1m0s"})
		for r := range steps {
			job := fmt.Sprintf("j%d", night*rows+r)
			must(Record{Kind: KindSubmit, Time: t, Row: r, UserID: steps[r].UserID, Attempt: 1})
			must(Record{Kind: KindAnswer, Time: t, Row: r, Attempt: 1, JobID: job})
			if night == n-1 && r == 0 {
				continue // still running
			}
			f := steps[r]
			f.Outcome, f.JobID, f.JobStatus, f.SubmittedAt, f.FinishedAt = result.Deleted, job, "completed", t, t.Add(time.Minute)
			must(Record{Kind: KindFinal, Time: t.Add(time.Minute), Row: r, Result: &f})
		}
		must(Record{Kind: KindEnd, Time: t.Add(time.Hour)})
	}
	return j
}

// TestCompact: a compacted journal is one history record that says of
// every user what the whole journal said: the jobs each saw start and
// end, the doubts, the latest outcome. Runs go on being appended after
// it; an unfinished run is never compacted away.
func TestCompact(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cron.journal")
	j := year(t, path, 12, 5)
	defer j.Close()
	records, err := Read(path)
	if err != nil {
		t.Fatal(err)
	}
	before := Replay(records)
	if Runs(records) != 12 {
		t.Fatalf("Runs = %d, want 12", Runs(records))
	}
	if err := j.Compact(before, Record{Kind: KindStart, InputFile: "leavers.csv"}); err != nil {
		t.Fatalf("Compact = %v", err)
	}
	records, err = Read(path)
	if err != nil || len(records) != 2 || records[0].Kind != KindHistory || records[1].Kind != KindStart {
		t.Fatalf("compacted journal = %d records (%v), want a history record and the compacting run's start", len(records), err)
	}
	after := Replay(records)
	if diff := cmp.Diff(before.Users, after.Users); diff != "" {
		t.Errorf("users after compaction (-before +after):\n%s", diff)
	}
	if running := after.Users["5210498000000000055"].Running(); len(running) != 1 {
		t.Errorf("the last run's job still running: %v after compaction, want it kept", running)
	}
	if err := j.Append(Record{Kind: KindEnd}); err != nil {
		t.Fatal(err)
	}
	records, _ = Read(path)
	if len(records) != 3 || Runs(records) != 1 {
		t.Errorf("after the run's end: %d records, %d runs; want 3 and 1", len(records), Runs(records))
	}
	if err := j.Append(Record{Kind: KindStart, InputFile: "leavers.csv"}); err != nil {
		t.Fatal(err)
	}
	records, _ = Read(path)
	if err := j.Compact(Replay(records), Record{Kind: KindStart}); err == nil {
		t.Errorf("Compact of a journal whose latest run is unfinished = no error")
	}
}

// BenchmarkJournalYear reads a journal of a year of nightly runs (365
// runs of 50 rows), as every run's start does, before and after it is
// compacted: its size and the time to read and replay it.
func BenchmarkJournalYear(b *testing.B) {
	path := filepath.Join(b.TempDir(), "cron.journal")
	j := year(b, path, 365, 50)
	defer j.Close()
	for _, stage := range []string{"full", "compacted"} {
		if stage == "compacted" {
			records, _ := Read(path)
			if err := j.Compact(Replay(records), Record{Kind: KindStart}); err != nil {
				b.Fatal(err)
			}
		}
		fi, _ := os.Stat(path)
		b.Run(stage, func(b *testing.B) {
			for b.Loop() {
				records, err := Read(path)
				if err != nil {
					b.Fatal(err)
				}
				Replay(records)
			}
			b.ReportMetric(float64(fi.Size())/1e6, "MB")
		})
	}
}
