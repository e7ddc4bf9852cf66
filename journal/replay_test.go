package journal

import (
	"encoding/json"
	"errors"
	"offboard/result"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func at(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }

func TestReplay(t *testing.T) {
	start1 := Record{Kind: KindStart, Time: at(0), InputSHA256: "aaa"}
	start2 := Record{Kind: KindStart, Time: at(50), InputSHA256: "bbb"}
	// A final record as journals before Result wrote it; Replay reads it as
	// the row result it describes.
	final := Record{Kind: KindFinal, Time: at(9), Row: 2, Outcome: "deleted", JobID: "j2", JobStatus: "completed", Attempts: 1, SubmittedAt: at(8), FinishedAt: at(9)}
	finalRow := result.Row{Outcome: "deleted", JobID: "j2", JobStatus: "completed", Attempts: 1, SubmittedAt: at(8), FinishedAt: at(9)}
	resumed1 := Record{Kind: KindStart, Time: at(40), InputSHA256: "aaa", Resumed: true}
	resumed2 := Record{Kind: KindStart, Time: at(60), InputSHA256: "bbb", Resumed: true}
	tests := []struct {
		name string
		in   []Record
		want State
	}{
		{
			name: "empty",
			want: State{Rows: map[int]*RowState{}, Users: map[string]*UserState{}},
		},
		{
			name: "submit without answer is in doubt",
			in:   []Record{start1, {Kind: KindSubmit, Time: at(1), Row: 0, UserID: "1", Attempt: 1}},
			want: State{Start: &start1, Began: at(0), Rows: map[int]*RowState{0: {InDoubt: true, DoubtSince: at(1), Attempts: 1}}},
		},
		{
			name: "a withdrawn submission leaves no trace",
			in: []Record{start1,
				{Kind: KindSubmit, Time: at(1), Row: 0, UserID: "1", Attempt: 1},
				{Kind: KindAnswer, Time: at(2), Row: 0, Code: "TOO_MANY_REQUESTS", Class: "retry"},
				{Kind: KindSubmit, Time: at(3), Row: 0, UserID: "1", Attempt: 2},
				{Kind: KindAnswer, Time: at(4), Row: 0, Attempt: 2, Class: ClassUnsent}},
			want: State{Start: &start1, Began: at(0), Rows: map[int]*RowState{0: {DoubtSince: at(1), Attempts: 1}}},
		},
		{
			name: "answer with a job",
			in: []Record{start1,
				{Kind: KindSubmit, Time: at(1), Row: 3, Attempt: 1},
				{Kind: KindAnswer, Time: at(2), Row: 3, JobID: "j3"},
				{Kind: KindStatus, Time: at(3), Row: 3, JobID: "j3", JobStatus: "in_progress"}},
			want: State{Start: &start1, Began: at(0), Rows: map[int]*RowState{3: {JobID: "j3", JobStatus: "in_progress", DoubtSince: at(1), Attempts: 1, SubmittedAt: at(2)}}},
		},
		{
			name: "answer of unknown outcome stays in doubt; a transient error then a retry",
			in: []Record{
				{Kind: KindSubmit, Row: 1, Attempt: 1},
				{Kind: KindAnswer, Row: 1, Code: "TOO_MANY_REQUESTS", Class: "transient"},
				{Kind: KindSubmit, Row: 1, Attempt: 2},
				{Kind: KindAnswer, Row: 1, Code: "TIMEOUT", Class: ClassUnknown},
				{Kind: KindSubmit, Row: 4, Attempt: 1},
				{Kind: KindAnswer, Row: 4, Code: "INVALID_DATA", Class: "row"}},
			want: State{Rows: map[int]*RowState{1: {InDoubt: true, Attempts: 2}, 4: {Attempts: 1}}},
		},
		{
			name: "final",
			in: []Record{
				{Kind: KindSubmit, Time: at(7), Row: 2, Attempt: 1},
				{Kind: KindAnswer, Time: at(8), Row: 2, JobID: "j2"},
				final},
			want: State{Rows: map[int]*RowState{2: {Final: &finalRow, JobID: "j2", JobStatus: "completed", DoubtSince: at(7), Attempts: 1, SubmittedAt: at(8)}}},
		},
		{
			name: "final with its result",
			in: []Record{
				{Kind: KindSubmit, Time: at(7), Row: 2, Attempt: 1},
				{Kind: KindAnswer, Time: at(8), Row: 2, JobID: "j2"},
				{Kind: KindFinal, Time: at(9), Row: 2, Result: &finalRow}},
			want: State{Rows: map[int]*RowState{2: {Final: &finalRow, JobID: "j2", JobStatus: "completed", DoubtSince: at(7), Attempts: 1, SubmittedAt: at(8)}}},
		},
		{
			name: "a new run's start forgets the rows and the stop before it",
			in:   []Record{start1, {Kind: KindSubmit, Row: 0, Attempt: 1}, {Kind: KindStop, Reason: "interrupted"}, start2},
			want: State{Start: &start2, Began: at(50), Rows: map[int]*RowState{}},
		},
		{
			name: "a resumed run keeps the rows and when the work began",
			in:   []Record{start1, {Kind: KindSubmit, Row: 0, Attempt: 1}, {Kind: KindStop, Reason: "interrupted"}, resumed1},
			want: State{Start: &resumed1, Began: at(0), Rows: map[int]*RowState{0: {InDoubt: true, Attempts: 1}}},
		},
		{
			name: "a resumed start for another input begins a new run",
			in:   []Record{start1, {Kind: KindSubmit, Row: 0, Attempt: 1}, resumed2},
			want: State{Start: &resumed2, Began: at(60), Rows: map[int]*RowState{}},
		},
		{
			name: "end after the latest start",
			in:   []Record{start1, {Kind: KindEnd}},
			want: State{Start: &start1, Began: at(0), Rows: map[int]*RowState{}, Finished: true},
		},
		{
			name: "a start after an end is unfinished",
			in:   []Record{start1, {Kind: KindEnd}, start2},
			want: State{Start: &start2, Began: at(50), Rows: map[int]*RowState{}},
		},
		{
			name: "stop after the latest start",
			in:   []Record{start1, {Kind: KindStop, Reason: "credits spent"}, {Kind: "future", Row: 9}},
			want: State{Start: &start1, Began: at(0), Rows: map[int]*RowState{}, Stopped: "credits spent"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Replay(tt.in)
			if diff := cmp.Diff(tt.want, got, cmpopts.IgnoreFields(State{}, "Users")); diff != "" {
				t.Errorf("Replay(%s) (-want +got):\n%s", tt.name, diff)
			}
		})
	}
}

// TestReplayUsers follows users across the runs of one journal: the
// history a cumulative cron sheet's next run reads.
func TestReplayUsers(t *testing.T) {
	steps := func(ids ...string) []result.Row {
		var s []result.Row
		for i, id := range ids {
			s = append(s, result.Row{Line: i + 2, UserID: id, Outcome: "planned"})
		}
		return s
	}
	records := []Record{
		{Kind: KindStart, Time: at(0), InputFile: "monday.csv", InputSHA256: "aaa", Steps: steps("u1", "u2", "u3", "u4"), JobTimeout: "30m0s", RequestTimeout: "1m0s"},
		{Kind: KindSubmit, Time: at(1), Row: 0, UserID: "u1", Attempt: 1},
		{Kind: KindAnswer, Time: at(2), Row: 0, JobID: "j1"},
		{Kind: KindStatus, Time: at(3), Row: 0, JobID: "j1", JobStatus: "completed"},
		{Kind: KindFinal, Time: at(4), Row: 0, Outcome: "deleted", JobID: "j1", JobStatus: "completed", Attempts: 1, SubmittedAt: at(2), FinishedAt: at(4)},
		{Kind: KindSubmit, Time: at(5), Row: 1, UserID: "u2", Attempt: 1},
		{Kind: KindAnswer, Time: at(6), Row: 1, JobID: "j2"},
		{Kind: KindFinal, Time: at(7), Row: 1, Outcome: "submitted", JobID: "j2", Attempts: 1, SubmittedAt: at(6), FinishedAt: at(7)},
		{Kind: KindSubmit, Time: at(8), Row: 2, UserID: "u3", Attempt: 1},
		// u4 was skipped: its final record says nothing of the user.
		{Kind: KindFinal, Time: at(9), Row: 3, Outcome: "skipped", Code: "ALREADY_DELETED"},
		{Kind: KindEnd, Time: at(10)},
		// Tuesday's sheet lists u1 again (skipped now) in another row.
		{Kind: KindStart, Time: at(20), InputFile: "tuesday.csv", InputSHA256: "bbb", Steps: steps("u9", "u1")},
		{Kind: KindFinal, Time: at(21), Row: 1, Outcome: "skipped", Code: "ALREADY_DELETED"},
		// Wednesday's run follows u5's job, which another journal's run
		// submitted: it knows the user from the job's end on. A row it
		// copies from before (u6, found deleted at 15) says nothing newer
		// than that.
		{Kind: KindStart, Time: at(30), InputFile: "wednesday.csv", InputSHA256: "ccc", Steps: steps("u5", "u6")},
		{Kind: KindStatus, Time: at(31), Row: 0, JobID: "j5", JobStatus: "in_progress"},
		{Kind: KindFinal, Time: at(33), Row: 0, Outcome: "failed", Code: "JOB_FAILED", JobID: "j5", JobStatus: "failed", SubmittedAt: at(25), FinishedAt: at(32)},
		{Kind: KindFinal, Time: at(34), Row: 1, Outcome: "deleted", JobID: "j6", JobStatus: "completed", Attempts: 1, SubmittedAt: at(12), FinishedAt: at(15)},
	}
	got := Replay(records).Users
	const window = 31 * time.Minute
	want := map[string]*UserState{
		"u1": {InputFile: "monday.csv", Line: 2, JobID: "j1", JobStatus: "completed", Outcome: "deleted", DoubtSince: at(1), DoubtWindow: window, SubmittedAt: at(2), FinishedAt: at(4), Updated: at(4), Jobs: map[string]bool{"j1": true}},
		"u2": {InputFile: "monday.csv", Line: 3, JobID: "j2", Outcome: "submitted", DoubtSince: at(5), DoubtWindow: window, SubmittedAt: at(6), FinishedAt: at(7), Updated: at(7), Jobs: map[string]bool{"j2": false}},
		"u3": {InputFile: "monday.csv", Line: 4, InDoubt: true, DoubtSince: at(8), DoubtWindow: window, Updated: at(8), Doubts: []Doubt{{Since: at(8), Window: window}}},
		"u5": {InputFile: "wednesday.csv", Line: 2, JobID: "j5", JobStatus: "failed", Outcome: "failed", Code: "JOB_FAILED", SubmittedAt: at(25), FinishedAt: at(32), Updated: at(32), Jobs: map[string]bool{"j5": true}},
		"u6": {InputFile: "wednesday.csv", Line: 3, JobID: "j6", JobStatus: "completed", Outcome: "deleted", SubmittedAt: at(12), FinishedAt: at(15), Updated: at(15), Jobs: map[string]bool{"j6": true}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Replay().Users (-want +got):\n%s", diff)
	}
}

func TestCheckInput(t *testing.T) {
	rows := []result.Row{{Line: 2, Cells: []string{"ana@example.com"}}, {Line: 3, Cells: []string{"bo@example.com"}}}
	start := func(sheet string, steps []result.Row) Record {
		return Record{Kind: KindStart, InputFile: "march.xlsx", InputSHA256: "0123456789abcdef0123", Sheet: sheet, Steps: steps}
	}
	st := Replay([]Record{start("December", rows)})
	// An older offboard kept every row as wide as the header.
	padded := []result.Row{{Line: 2, Cells: []string{"ana@example.com", "", ""}}, {Line: 3, Cells: []string{"bo@example.com", "", ""}}}
	other := slices.Clone(rows)
	other[1] = result.Row{Line: 3, Cells: []string{"cy@example.com"}}
	tests := []struct {
		name             string
		st               State
		file, sha, sheet string
		rows             []result.Row
		want             string // "" for no error
	}{
		{"same input", st, "march.xlsx", "0123456789abcdef0123", "December", rows, ""},
		{"renamed input", st, "copy.xlsx", "0123456789abcdef0123", "December", rows, ""},
		{"empty journal", Replay(nil), "april.xlsx", "ffff", "", nil, ""},
		{"finished run, other input", Replay([]Record{start("December", rows), {Kind: KindEnd}}), "april.xlsx", "ffff", "", nil, ""},
		{"other input", st, "april.xlsx", "fedcba9876543210", "December", rows,
			`journal out.journal belongs to input march.xlsx (sheet "December") (sha256 0123456789ab…), not april.xlsx (sheet "December") (sha256 fedcba987654…)`},
		{"another sheet of the workbook", st, "march.xlsx", "0123456789abcdef0123", "January", rows,
			`journal out.journal belongs to input march.xlsx (sheet "December"), not march.xlsx (sheet "January"): another sheet of the same workbook`},
		{"a journal that names no sheet, other rows", Replay([]Record{start("", rows)}), "march.xlsx", "0123456789abcdef0123", "January", other,
			`journal out.journal belongs to other rows than march.xlsx (sheet "January") holds now: row 3 differs`},
		{"a journal that names no sheet, the same rows", Replay([]Record{start("", rows)}), "march.xlsx", "0123456789abcdef0123", "December", rows, ""},
		{"an older offboard's rows, as wide as the header", Replay([]Record{start("December", padded)}), "march.xlsx", "0123456789abcdef0123", "December", rows, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckInput("out.journal", tt.st, tt.file, tt.sha, tt.sheet, tt.rows)
			got := ""
			if err != nil {
				got = err.Error()
				var oe *OtherInputError
				if !errors.As(err, &oe) {
					t.Errorf("CheckInput() = %T, want *OtherInputError", err)
				}
			}
			if got != tt.want {
				t.Errorf("CheckInput(%s, %s, %s) = %q, want %q", tt.file, tt.sha, tt.sheet, got, tt.want)
			}
		})
	}
}

// TestNoSecrets guards the journal against ever holding a credential:
// no field of a record may be named for one, and no record of any kind,
// every field set, may mention one.
func TestNoSecrets(t *testing.T) {
	banned := []string{"token", "secret", "password", "authorization", "bearer", "client_id", "refresh", "credential", "cookie"}
	var names []string
	var walk func(reflect.Type)
	walk = func(ty reflect.Type) {
		for f := range ty.Fields() {
			names = append(names, f.Name, f.Tag.Get("json"))
			elem := f.Type
			for elem.Kind() == reflect.Slice || elem.Kind() == reflect.Pointer {
				elem = elem.Elem()
			}
			if elem.Kind() == reflect.Struct && elem.PkgPath() == ty.PkgPath() {
				walk(elem)
			}
		}
	}
	walk(reflect.TypeFor[Record]())
	walk(reflect.TypeFor[Owner]())
	for _, n := range names {
		for _, b := range banned {
			if strings.Contains(strings.ToLower(n), b) {
				t.Errorf("field or tag %q mentions %q", n, b)
			}
		}
	}
	for _, r := range sampleRecords() {
		b, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range banned {
			if strings.Contains(strings.ToLower(string(b)), w) {
				t.Errorf("json.Marshal(%s record) = %s, mentions %q", r.Kind, b, w)
			}
		}
	}
}

// TestReplayHost: a submission in doubt is timed on the clock of the host
// whose run recorded it, which its start record names.
func TestReplayHost(t *testing.T) {
	at := time.Date(2026, 12, 1, 2, 0, 0, 0, time.UTC)
	records := []Record{
		{Kind: KindStart, Time: at, Owner: &Owner{PID: 7, Host: "cron-1", Started: at}, Steps: []result.Row{{Line: 2, UserID: "u1"}}},
		{Kind: KindSubmit, Time: at.Add(time.Second), Row: 0, UserID: "u1", Attempt: 1},
	}
	st := Replay(records)
	if rs := st.Rows[0]; rs == nil || rs.Host != "cron-1" || !rs.InDoubt {
		t.Errorf("row 0 = %+v, want in doubt on cron-1's clock", rs)
	}
	if us := st.Users["u1"]; us == nil || us.Host != "cron-1" {
		t.Errorf("user u1 = %+v, want on cron-1's clock", us)
	}
	records[0].Owner = nil // an older offboard's journal says nothing
	if rs := Replay(records).Rows[0]; rs.Host != "" {
		t.Errorf("row 0 of a journal without owner: host %q, want none", rs.Host)
	}
}

// TestReplayKeepsWhatALaterRecordWouldHide: a run that follows an older
// job of a user, and records its end, does not make the journal forget a
// later submission in doubt, nor another job still running.
func TestReplayKeepsWhatALaterRecordWouldHide(t *testing.T) {
	at := func(s int) time.Time { return time.Date(2026, 12, 1, 2, 0, s, 0, time.UTC) }
	steps := func(ids ...string) []result.Row {
		var r []result.Row
		for i, id := range ids {
			r = append(r, result.Row{Line: i + 2, UserID: id})
		}
		return r
	}
	records := []Record{
		{Kind: KindStart, Time: at(0), InputFile: "a.csv", Steps: steps("x")},
		{Kind: KindSubmit, Time: at(1), Row: 0, UserID: "x", Attempt: 1},
		{Kind: KindAnswer, Time: at(2), Row: 0, Attempt: 1, JobID: "j2"}, // j2 runs
		// --fresh: a new run follows j1, an older job another journal left,
		// and records that it failed.
		{Kind: KindStart, Time: at(10), InputFile: "a.csv", Steps: steps("x")},
		{Kind: KindFinal, Time: at(11), Row: 0, Result: &result.Row{Line: 2, UserID: "x", Outcome: result.Failed, Code: "JOB_FAILED", JobID: "j1", JobStatus: "failed"}},
	}
	us := Replay(records).Users["x"]
	if diff := cmp.Diff([]string{"j2"}, us.Running()); diff != "" {
		t.Errorf("running jobs (-want +got):\n%s", diff)
	}
	if !us.Jobs["j1"] {
		t.Errorf("jobs = %v, want j1 seen to end", us.Jobs)
	}
	// The same with a submission in doubt instead of j2.
	records[2] = Record{Kind: KindAnswer, Time: at(2), Row: 0, Attempt: 1, Class: ClassUnknown}
	us = Replay(records).Users["x"]
	if len(us.Doubts) != 1 || !us.Doubts[0].Since.Equal(at(1)) {
		t.Errorf("doubts = %+v, want the submission at %v", us.Doubts, at(1))
	}
}

// TestReplayResumesAnOlderJournal: a run that resumed a journal of an
// older offboard, whose start record names no sheet, continues it: the
// rows the first part settled are kept, also after a second crash.
func TestReplayResumesAnOlderJournal(t *testing.T) {
	at := func(s int) time.Time { return time.Date(2026, 12, 1, 2, 0, s, 0, time.UTC) }
	rows := []result.Row{{Line: 2, UserID: "u1"}}
	st := Replay([]Record{
		{Kind: KindStart, Time: at(0), InputFile: "leavers.xlsx", InputSHA256: "aaa", Steps: rows},
		{Kind: KindSubmit, Time: at(1), Row: 0, UserID: "u1", Attempt: 1},
		{Kind: KindAnswer, Time: at(2), Row: 0, Attempt: 1, JobID: "j1"},
		{Kind: KindFinal, Time: at(3), Row: 0, Result: &result.Row{Line: 2, UserID: "u1", Outcome: result.Deleted, JobID: "j1"}},
		{Kind: KindStart, Time: at(10), InputFile: "leavers.xlsx", InputSHA256: "aaa", Sheet: "December", Resumed: true, Steps: rows},
	})
	if rs := st.Rows[0]; rs == nil || rs.Final == nil || rs.Final.Outcome != result.Deleted || rs.JobID != "j1" {
		t.Errorf("row 0 after the resumed start = %+v, want the first part's deletion by j1", rs)
	}
	if !st.Began.Equal(at(0)) {
		t.Errorf("began %v, want the first part's start %v", st.Began, at(0))
	}
}
