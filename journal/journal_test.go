package journal

import (
	"encoding/json"
	"errors"
	"fmt"
	"offboard/result"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var t0 = time.Date(2025, 3, 4, 10, 0, 0, 0, time.UTC)

func owner(pid int) Owner {
	return Owner{PID: pid, Host: "host-a", Started: t0}
}

func sampleRecords() []Record {
	return []Record{
		{Kind: KindStart, Time: t0, Version: "v1.2.3", InputFile: "offboarding.xlsx", InputSHA256: "abc123",
			Header: []string{"user", "transfer_to"}, RowsRead: 2, APIDomain: "https://www.zohoapis.eu", Sandbox: true,
			Steps: []result.Row{
				{Line: 2, Cells: []string{"a@example.com", "b@example.com"}, Outcome: "planned",
					UserID: "111", UserEmail: "a@example.com", TransferToID: "222", SubordinatesToID: "222"},
				{Line: 3, Cells: []string{"", ""}, Outcome: "invalid", Code: "MISSING_USER", Message: "the user cell is blank"},
			}},
		{Kind: KindSubmit, Time: t0.Add(time.Second), Row: 0, UserID: "111", Attempt: 1},
		{Kind: KindAnswer, Time: t0.Add(2 * time.Second), Row: 0, JobID: "job-1"},
		{Kind: KindStatus, Time: t0.Add(3 * time.Second), Row: 0, JobID: "job-1", JobStatus: "completed"},
		{Kind: KindFinal, Time: t0.Add(4 * time.Second), Row: 0, Result: &result.Row{Line: 2, Cells: []string{"a@example.com", "b@example.com"},
			Outcome: "deleted", UserID: "111", UserEmail: "a@example.com", TransferToID: "222", SubordinatesToID: "222",
			JobID: "job-1", JobStatus: "completed", Attempts: 1, SubmittedAt: t0.Add(2 * time.Second), FinishedAt: t0.Add(4 * time.Second)}},
		{Kind: KindStop, Time: t0.Add(5 * time.Second), Reason: "interrupted"},
	}
}

func mustOpen(t *testing.T, path string, o Owner) (*Journal, []Record) {
	t.Helper()
	j, recs, err := Open(path, o)
	if err != nil {
		t.Fatalf("Open(%s) = %v, want no error", path, err)
	}
	return j, recs
}

func TestRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out.xlsx.journal")
	j, recs := mustOpen(t, path, owner(os.Getpid()))
	if len(recs) != 0 {
		t.Fatalf("Open(new journal) records = %v, want none", recs)
	}
	want := sampleRecords()
	for _, r := range want {
		if err := j.Append(r); err != nil {
			t.Fatalf("Append(%v) = %v", r.Kind, err)
		}
	}
	if err := j.Close(); err != nil {
		t.Fatalf("Close() = %v", err)
	}
	if _, err := os.Stat(path + ".lock"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("after Close, stat lock = %v, want not exist", err)
	}
	j, got := mustOpen(t, path, owner(os.Getpid()))
	defer j.Close()
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Open after Close: records (-want +got):\n%s", diff)
	}
	if j.StaleLock() != nil {
		t.Errorf("StaleLock() = %v, want nil", j.StaleLock())
	}
}

func TestAppendSetsTime(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j")
	j, _ := mustOpen(t, path, owner(os.Getpid()))
	if err := j.Append(Record{Kind: KindStop, Reason: "x"}); err != nil {
		t.Fatal(err)
	}
	j.Close()
	j, recs := mustOpen(t, path, owner(os.Getpid()))
	defer j.Close()
	if len(recs) != 1 || recs[0].Time.IsZero() {
		t.Errorf("Open records = %v, want one record with its time", recs)
	}
}

// deadPID returns the pid of a process that has ended: this test binary,
// run to do nothing.
func deadPID(t *testing.T) int {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	if err := cmd.Run(); err != nil {
		t.Fatalf("cannot run %s: %v", os.Args[0], err)
	}
	return cmd.Process.Pid
}

func TestCrashedRunLinesSurvive(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j")
	j, _ := mustOpen(t, path, owner(deadPID(t)))
	want := sampleRecords()[:3]
	for _, r := range want {
		if err := j.Append(r); err != nil {
			t.Fatal(err)
		}
	}
	// The process dies: its flock goes with it, its lock file stays.
	j.f.Close()
	j.lock.f.Close()
	j2, got, err := Open(path, owner(os.Getpid()))
	if err != nil {
		t.Fatalf("Open() after a crash = %v, want the stale lock taken over", err)
	}
	defer j2.Close()
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Open() after a crash: records (-want +got):\n%s", diff)
	}
	if j2.StaleLock() == nil {
		t.Errorf("StaleLock() = nil, want the dead run's owner")
	}
}

func TestTornLastLine(t *testing.T) {
	recs := sampleRecords()
	var whole []byte
	for _, r := range recs[:2] {
		b, _ := json.Marshal(r)
		whole = append(append(whole, b...), '\n')
	}
	third, _ := json.Marshal(recs[2])
	tests := []struct {
		name string
		tail string
	}{
		{"half a line", string(third[:len(third)/2])},
		{"a whole line without its newline", string(third)},
		{"garbage line", "{not json\n"},
		{"zero bytes after a crash", "\x00\x00\x00\x00"},
		{"garbage then zero bytes", "xx\n\x00\x00\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "j")
			if err := os.WriteFile(path, append(append([]byte{}, whole...), tt.tail...), 0o600); err != nil {
				t.Fatal(err)
			}
			j, got := mustOpen(t, path, owner(os.Getpid()))
			if diff := cmp.Diff(recs[:2], got); diff != "" {
				t.Errorf("Open() records (-want +got):\n%s", diff)
			}
			if err := j.Append(recs[3]); err != nil {
				t.Fatal(err)
			}
			j.Close()
			j, got = mustOpen(t, path, owner(os.Getpid()))
			defer j.Close()
			want := []Record{recs[0], recs[1], recs[3]}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("Open() after appending to a torn journal (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCorruptMiddleLine(t *testing.T) {
	tests := []struct {
		name     string
		content  string
		wantLine int
	}{
		{"garbage", `{"kind":"stop","reason":"a"}` + "\n" + "garbage\n" + `{"kind":"stop","reason":"b"}` + "\n", 2},
		{"no kind", `{"reason":"a"}` + "\n" + `{"kind":"stop"}` + "\n", 1},
		{"blank line", `{"kind":"stop"}` + "\n\n\n" + `{"kind":"stop"}` + "\n", 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "j")
			if err := os.WriteFile(path, []byte(tt.content), 0o600); err != nil {
				t.Fatal(err)
			}
			_, _, err := Open(path, owner(os.Getpid()))
			var ce *CorruptError
			if !errors.As(err, &ce) || ce.Line != tt.wantLine {
				t.Fatalf("Open() = %v, want a *CorruptError at line %d", err, tt.wantLine)
			}
			if want := fmt.Sprintf("line %d", tt.wantLine); !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), path) {
				t.Errorf("Open() = %q, want it to name %s and %q", err, path, want)
			}
			if _, err := os.Stat(path + ".lock"); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("after a failed Open, stat lock = %v, want not exist", err)
			}
			b, _ := os.ReadFile(path)
			if string(b) != tt.content {
				t.Errorf("a failed Open changed the journal to %q", b)
			}
		})
	}
}

func TestConcurrentAppend(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j")
	j, _ := mustOpen(t, path, owner(os.Getpid()))
	const n, each = 20, 25
	var wg sync.WaitGroup
	for g := range n {
		wg.Go(func() {
			for a := range each {
				msg := strings.Repeat(fmt.Sprint(g), 500)
				if err := j.Append(Record{Kind: KindAnswer, Time: t0, Row: g, Attempt: a + 1, Message: msg}); err != nil {
					t.Errorf("Append() = %v", err)
				}
			}
		})
	}
	wg.Wait()
	j.Close()
	j, got := mustOpen(t, path, owner(os.Getpid()))
	defer j.Close()
	if len(got) != n*each {
		t.Fatalf("Open() = %d records, want %d", len(got), n*each)
	}
	seen := make(map[[2]int]bool)
	for _, r := range got {
		if r.Message != strings.Repeat(fmt.Sprint(r.Row), 500) {
			t.Errorf("record of row %d has a mangled message", r.Row)
		}
		seen[[2]int{r.Row, r.Attempt}] = true
	}
	if len(seen) != n*each {
		t.Errorf("Open() = %d distinct records, want %d", len(seen), n*each)
	}
}

func TestAppendAfterClose(t *testing.T) {
	j, _ := mustOpen(t, filepath.Join(t.TempDir(), "j"), owner(os.Getpid()))
	j.Close()
	if err := j.Append(Record{Kind: KindStop}); err == nil {
		t.Errorf("Append() after Close = nil, want an error")
	}
	if err := j.Close(); err != nil {
		t.Errorf("second Close() = %v, want nil", err)
	}
}

func TestReadLeavesTheFileAlone(t *testing.T) {
	path := filepath.Join(t.TempDir(), "run.journal")
	j, _ := mustOpen(t, path, owner(os.Getpid()))
	for _, r := range sampleRecords() {
		if err := j.Append(r); err != nil {
			t.Fatal(err)
		}
	}
	// A run still holds the lock, and its last write was cut short.
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(`{"kind":"sub`)
	f.Close()
	before, _ := os.ReadFile(path)

	got, err := Read(path)
	if err != nil {
		t.Fatalf("Read() = %v", err)
	}
	if len(got) != len(sampleRecords()) {
		t.Errorf("Read() gave %d records, want %d", len(got), len(sampleRecords()))
	}
	after, _ := os.ReadFile(path)
	if string(after) != string(before) {
		t.Error("Read changed the file")
	}
	if _, err := Read(filepath.Join(t.TempDir(), "none.journal")); err == nil {
		t.Error("Read(missing file) = nil error")
	}
	j.Close()
}

// TestDiscard: a journal nothing was written to is removed before its
// lock is released: a run that takes the lock next finds no file of the
// run that discarded it, and writes its own.
func TestDiscard(t *testing.T) {
	path := filepath.Join(t.TempDir(), "run.journal")
	j, _, err := Open(path, Owner{PID: os.Getpid(), Host: "h", Started: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	if err := j.Discard(); err != nil {
		t.Fatalf("Discard() = %v", err)
	}
	for _, p := range []string{path, path + ".lock"} {
		if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("after Discard, %s: %v; want it removed", filepath.Base(p), err)
		}
	}
	j2, _, err := Open(path, Owner{PID: os.Getpid(), Host: "h", Started: time.Now()})
	if err != nil {
		t.Fatalf("Open after Discard = %v", err)
	}
	defer j2.Close()
	if err := j2.Append(Record{Kind: KindStart}); err != nil {
		t.Fatal(err)
	}
	if records, err := Read(path); err != nil || len(records) != 1 {
		t.Errorf("the next run's journal = %d records, %v; want its own one", len(records), err)
	}
}
